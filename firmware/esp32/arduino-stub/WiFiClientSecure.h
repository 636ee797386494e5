// A stand-in for arduino-esp32's WiFiClientSecure.h (see Arduino.h).
#pragma once

#include "WiFi.h"

class WiFiClientSecure : public WiFiClient {
public:
    void setCACert(const char *rootCA);
    void setCertificate(const char *client_ca);
    void setPrivateKey(const char *private_key);
    void setInsecure();
};
