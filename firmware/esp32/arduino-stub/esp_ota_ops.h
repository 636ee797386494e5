// A stand-in for ESP-IDF's esp_ota_ops.h (see Arduino.h).
#pragma once

#include "esp_sleep.h"

esp_err_t esp_ota_mark_app_valid_cancel_rollback(void);
