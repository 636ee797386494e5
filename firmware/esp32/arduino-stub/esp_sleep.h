// A stand-in for ESP-IDF's esp_sleep.h (see Arduino.h). On a board
// esp_deep_sleep_start() does not return; here it records the request and
// returns, so that the test can look.
#pragma once

#include <cstdint>

typedef int esp_err_t;
esp_err_t esp_sleep_enable_timer_wakeup(std::uint64_t time_in_us);
void esp_deep_sleep_start();
