// A stand-in for arduino-esp32 2.0.14's Update.h (see Arduino.h).
#pragma once

#include "Arduino.h"

#define UPDATE_SIZE_UNKNOWN 0xFFFFFFFF
#define U_FLASH 0

class UpdateClass {
public:
    bool begin(std::size_t size = UPDATE_SIZE_UNKNOWN, int command = U_FLASH, int ledPin = -1,
               std::uint8_t ledOn = LOW, const char *label = nullptr);
    std::size_t writeStream(Stream &data);
    bool end(bool evenIfRemaining = false);
    void abort();
    bool setMD5(const char *expected_md5);
    const char *errorString();
};
extern UpdateClass Update;
