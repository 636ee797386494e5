// A stand-in for Adafruit's "DHT sensor library" 1.4 (see Arduino.h); reads
// return what the test puts in arduino_stub::sensor.
#pragma once

#include "Arduino.h"

#define DHT11 11
#define DHT12 12
#define DHT21 21
#define DHT22 22
#define AM2301 21

class DHT {
public:
    DHT(std::uint8_t pin, std::uint8_t type, std::uint8_t count = 6);
    void begin(std::uint8_t usec = 55);
    float readTemperature(bool S = false, bool force = false);
    float readHumidity(bool force = false);
    bool read(bool force = false);

private:
    std::uint8_t pin_, type_;
    float temperature_ = NAN, humidity_ = NAN;
};
