// Bounds on the state a tool keeps per sensor, since whoever may publish may
// make up sensors: at most --max-sensors of them, the ones silent longer than
// --forget-after dropped. The same flags, defaults and messages in every tool
// that keeps per-sensor state (dht-stats, dht-rules).
#pragma once

#include "dht/cli.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dht {

struct SensorBounds {
    std::size_t max_sensors = 10000;
    std::optional<Duration> forget_after;  // none: kept while the cap allows
};

// --max-sensors N (1 or more) and --forget-after DURATION; `older` adds an
// older name the tool accepts for --forget-after (",--expire").
void add_sensor_bounds_options(CLI::App &app, SensorBounds &bounds, const std::string &older = {});

// Admission of new sensors under --max-sensors. A record from a sensor that
// would be one too many is refused: the first refusal is said on stderr
// (naming the sensor and the flag), every one is counted, and summary() says
// the count at the end. Sensors already known keep being served.
class SensorCap {
public:
    explicit SensorCap(std::size_t max) noexcept : max_(max) {}

    // Whether a new sensor `name` may join the `known` ones.
    bool admit(std::size_t known, std::string_view name);
    std::uint64_t refused() const noexcept { return refused_; }
    std::size_t max() const noexcept { return max_; }
    // "N records from sensors beyond --max-sensors 10000 were ignored", when any.
    void summary() const;

private:
    std::size_t max_;
    std::uint64_t refused_ = 0;
};

}  // namespace dht
