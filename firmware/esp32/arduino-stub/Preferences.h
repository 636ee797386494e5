// A stand-in for arduino-esp32 2.0.14's libraries/Preferences/src/Preferences.h
// (see Arduino.h): the members the sketch uses, with the real signatures. The
// store is the fake world's `nvs`.
#pragma once

#include "Arduino.h"

class Preferences {
public:
    Preferences();
    ~Preferences();

    bool begin(const char *name, bool readOnly = false, const char *partition_label = nullptr);
    void end();

    bool clear();
    bool isKey(const char *key);

    std::size_t putUShort(const char *key, std::uint16_t value);
    std::size_t putString(const char *key, const char *value);

    std::uint16_t getUShort(const char *key, std::uint16_t defaultValue = 0);
    std::size_t getString(const char *key, char *value, std::size_t maxLen);

private:
    bool started_ = false;
    bool read_only_ = false;
    char namespace_[16] = "";
};
