// A stand-in for ESP-IDF's esp_sleep.h (see Arduino.h). As on a board,
// esp_deep_sleep_start() does not return: it records the request and calls
// the test's arduino_stub::world().on_deep_sleep (which ends the program with
// its verdict, the board's restart), else aborts.
#pragma once

#include <cstdint>

typedef int esp_err_t;
esp_err_t esp_sleep_enable_timer_wakeup(std::uint64_t time_in_us);
[[noreturn]] void esp_deep_sleep_start();
