// Calibration at the sensor: offsets added to each reading on the device,
// set over MQTT with a retained message on <prefix>/<id>/config:
//
//     {"temperature_offset":-0.5,"humidity_offset":2}
//
// Both keys optional (absent: 0); an empty payload (the retained message
// deleted) clears them. Anything else is refused whole, and the offsets in
// force stay.
#pragma once

#include "dht_format.hpp"

#include <cstddef>
#include <cstdint>

namespace dht::firmware {

struct Calibration {
    std::int16_t temperature = 0;  // hundredths of a degree Celsius
    std::int16_t humidity = 0;     // hundredths of a percent
};

// The largest offsets accepted: a sensor further off is broken, not uncalibrated.
inline constexpr std::int16_t kTemperatureOffsetMax = 1000;  // 10 degrees
inline constexpr std::int16_t kHumidityOffsetMax = 2000;     // 20 %

// Null when `payload` is a calibration (then in `out`), else what is wrong with it.
const char *parse_calibration(const char *payload, std::size_t length, Calibration &out) noexcept;

// The reading with the offsets added; humidity kept within 0 to 100 %.
Reading calibrated(const Reading &reading, const Calibration &calibration) noexcept;

}  // namespace dht::firmware
