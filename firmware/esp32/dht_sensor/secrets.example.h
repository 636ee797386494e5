// Copy this file to secrets.h (kept out of version control by .gitignore) and
// fill it in. The sketch does not build without secrets.h.
#pragma once

#define WIFI_SSID "your-network"
#define WIFI_PASSWORD "your-wifi-password"

#define MQTT_HOST "192.168.1.100"  // the broker's address or name
#define MQTT_PORT 1883             // 8883 for TLS, usually

// A login, if the broker asks for one ("" for none).
#define MQTT_USERNAME ""
#define MQTT_PASSWORD ""

// TLS: define MQTT_CA_CERT as the PEM of the CA that signed the broker's
// certificate (the contents of ca.crt); the connection is then encrypted and
// the broker checked. Add a client certificate and key if the broker wants one.
// #define MQTT_CA_CERT R"PEM(-----BEGIN CERTIFICATE-----
// ...
// -----END CERTIFICATE-----
// )PEM"
// #define MQTT_CLIENT_CERT R"PEM(...)PEM"
// #define MQTT_CLIENT_KEY R"PEM(...)PEM"
