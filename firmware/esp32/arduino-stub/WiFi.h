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
    String SSID() const;  // the network joined, "" when none
    std::int8_t RSSI();
    bool setAutoReconnect(bool autoReconnect);
    bool setHostname(const char *hostname);
};
extern WiFiClass WiFi;

// Without real_network: connects when the fake broker is up. With it: a real
// TCP socket to 127.0.0.1:real_port (whatever the name), connect() bounded
// by its timeout as arduino-esp32's select() bounds it.
class WiFiClient : public Client {
public:
    ~WiFiClient() override;
    int connect(const char *host, std::uint16_t port) override;
    virtual int connect(const char *host, std::uint16_t port, std::int32_t timeout_ms);
    std::size_t write(const std::uint8_t *buf, std::size_t size) override;
    int available() override;
    int read() override;
    void stop() override;
    std::uint8_t connected() override;
    int setTimeout(std::uint32_t seconds);

protected:
    int fd_ = -1;
    bool fake_connected_ = false;
    std::int32_t timeout_ms_ = 3000;  // WIFI_CLIENT_DEF_CONN_TIMEOUT_MS
};
