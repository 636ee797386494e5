// Arduino's Client: the stream PubSubClient talks MQTT over (the members
// PubSubClient 2.8 calls, with Arduino's signatures).
#pragma once

#include "Arduino.h"

class Client : public Stream {
public:
    virtual int connect(const char *host, std::uint16_t port) = 0;
    virtual std::size_t write(const std::uint8_t *buf, std::size_t size) = 0;
    virtual int available() = 0;
    virtual int read() = 0;
    virtual void stop() = 0;
    virtual std::uint8_t connected() = 0;
};
