// A stand-in for Adafruit's "DHT sensor library" 1.4.6 (see Arduino.h): the
// same declarations, the sensor types as the library's constants (not
// macros); reads return what the test puts in arduino_stub::world().
#pragma once

#include "Arduino.h"

// The real header prints through Serial from inside each read when DHT_DEBUG
// is defined, to any value: the sketch must never define it.
#if defined(DHT_DEBUG)
#error "DHT_DEBUG is the DHT library's own switch (Serial prints with interrupts off)"
#endif

static const std::uint8_t DHT11{11};
static const std::uint8_t DHT12{12};
static const std::uint8_t DHT21{21};
static const std::uint8_t DHT22{22};
static const std::uint8_t AM2301{21};

class DHT {
public:
    DHT(std::uint8_t pin, std::uint8_t type, std::uint8_t count = 6);
    void begin(std::uint8_t usec = 55);
    float readTemperature(bool S = false, bool force = false);
    float convertCtoF(float);
    float convertFtoC(float);
    float computeHeatIndex(bool isFahrenheit = true);
    float computeHeatIndex(float temperature, float percentHumidity, bool isFahrenheit = true);
    float readHumidity(bool force = false);
    bool read(bool force = false);

private:
    std::uint8_t pin_, type_;
    float temperature_ = NAN, humidity_ = NAN;
};
