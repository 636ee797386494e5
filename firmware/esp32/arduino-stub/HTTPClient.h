// A stand-in for arduino-esp32 2.0.14's HTTPClient.h (see Arduino.h): the
// declarations the sketch's update uses. Nothing is downloaded here: GET()
// fails as with no server.
#pragma once

#include "WiFiClientSecure.h"

#define HTTP_CODE_OK 200
#define HTTPC_ERROR_CONNECTION_REFUSED (-1)

class HTTPClient {
public:
    bool begin(WiFiClient &client, String url);
    int GET();
    int getSize(void);
    WiFiClient *getStreamPtr(void);
    void end(void);
    void setTimeout(std::uint16_t timeout);
    void setConnectTimeout(std::int32_t connectTimeout);

private:
    WiFiClient *client_ = nullptr;
};
