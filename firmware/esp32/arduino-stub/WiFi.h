// A stand-in for arduino-esp32's WiFi.h (see Arduino.h).
#pragma once

#include "Arduino.h"
#include "Client.h"

typedef enum {
    WL_NO_SHIELD = 255,
    WL_IDLE_STATUS = 0,
    WL_NO_SSID_AVAIL = 1,
    WL_SCAN_COMPLETED = 2,
    WL_CONNECTED = 3,
    WL_CONNECT_FAILED = 4,
    WL_CONNECTION_LOST = 5,
    WL_DISCONNECTED = 6
} wl_status_t;

typedef enum { WIFI_OFF = 0, WIFI_STA = 1, WIFI_AP = 2, WIFI_AP_STA = 3 } wifi_mode_t;

class WiFiClass {
public:
    bool mode(wifi_mode_t mode);
    wl_status_t begin(const char *ssid, const char *passphrase = nullptr, std::int32_t channel = 0,
                      const std::uint8_t *bssid = nullptr, bool connect = true);
    bool disconnect(bool wifioff = false, bool eraseap = false);
    wl_status_t status();
    std::int8_t RSSI();
    bool setAutoReconnect(bool autoReconnect);
    bool setHostname(const char *hostname);
};
extern WiFiClass WiFi;

class WiFiClient : public Client {
};
