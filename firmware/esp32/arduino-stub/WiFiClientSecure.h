// A stand-in for arduino-esp32 2.0.14's WiFiClientSecure.h (see Arduino.h).
// Without real_network it connects when the fake broker is up; with it, over
// a real TCP socket, and its "handshake" waits for the server's first bytes
// for the handshake timeout, as mbedTLS waits for the ServerHello.
#pragma once

#include "WiFi.h"

class WiFiClientSecure : public WiFiClient {
public:
    int connect(const char *host, std::uint16_t port) override;
    int connect(const char *host, std::uint16_t port, std::int32_t timeout) override;
    void setCACert(const char *rootCA);
    void setCertificate(const char *client_ca);
    void setPrivateKey(const char *private_key);
    void setInsecure();
    void setHandshakeTimeout(unsigned long handshake_timeout);  // seconds

private:
    std::int32_t ssl_timeout_ms_ = 30000;         // the connect timeout of ssl_client
    unsigned long handshake_timeout_ms_ = 120000;  // ssl_client's default
};
