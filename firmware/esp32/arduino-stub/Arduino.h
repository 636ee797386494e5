// A stand-in for the parts of the Arduino-ESP32 core the sketch uses, so that
// the sketch compiles and runs on a PC (the drift guard: see README.md). The
// declarations follow arduino-esp32's; the behaviour is a fake world that
// the test drives (arduino_stub.hpp).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>

using byte = std::uint8_t;
using boolean = bool;

#define LOW 0x0
#define HIGH 0x1

// WString.h: what the sketch hands to String parameters.
class String {
public:
    String(const char *text = "") : text_(text == nullptr ? "" : text) {}
    const char *c_str() const { return text_.c_str(); }

private:
    std::string text_;
};

// Stream.h: what Update.writeStream() reads.
class Stream {
public:
    virtual ~Stream() = default;
};

// Esp.h
class EspClass {
public:
    void restart();
};
extern EspClass ESP;

unsigned long millis();
void delay(unsigned long ms);
void yield();

// esp_system.h / esp_random.h
std::uint32_t esp_random();

// esp_attr.h: variables kept in RTC memory across deep sleep.
#define RTC_DATA_ATTR

// esp32-hal-time.c: starts SNTP; the time of day comes from gettimeofday().
void configTime(long gmtOffset_sec, int daylightOffset_sec, const char *server1, const char *server2 = nullptr,
                const char *server3 = nullptr);

class HardwareSerial {
public:
    void begin(unsigned long baud);
    std::size_t print(const char *text);
    std::size_t println(const char *text);
    std::size_t printf(const char *format, ...) __attribute__((format(printf, 2, 3)));
    int available();
    int read();
    std::size_t write(const std::uint8_t *buffer, std::size_t size);
};
extern HardwareSerial Serial;
