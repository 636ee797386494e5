// The seed's statistics over a stream of records: totals (received,
// published, errors, last message, uptime) and, per sensor and numeric field,
// count, min, max, mean, standard deviation, last value and percentiles, in
// memory that does not grow with the number of messages and is bounded by
// the sensors and fields kept (--max-sensors, --max-fields); written as stats
// records, an aligned table, or Prometheus exposition text.
#pragma once

#include "sketch.hpp"

#include "dht/bounds.hpp"
#include "dht/scan.hpp"
#include "dht/time.hpp"

#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dht::stats {

struct FieldStats {
    std::string path;
    Sketch sketch;
    double last = 0;
    TimePoint last_time = TimePoint::min();  // any record, also before 1970, is later
};

// Names and paths are short: read 8 bytes at a time (the last 8 may overlap
// the ones before), each mixed in by a multiply.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept
    {
        constexpr std::uint64_t k = 0x9e3779b97f4a7c15;
        const auto mix = [](std::uint64_t h, std::uint64_t w) {
            h = (h ^ w) * k;
            return h ^ (h >> 32);
        };
        const auto load = [](const char *p) {
            std::uint64_t w;
            std::memcpy(&w, p, sizeof w);
            return w;
        };
        std::uint64_t h = s.size() * k;
        if (s.size() < 8) {
            std::uint64_t w = 0;
            for (const char c : s)
                w = w << 8 | static_cast<unsigned char>(c);
            return mix(h, w);
        }
        for (std::size_t i = 0; i + 8 < s.size(); i += 8)
            h = mix(h, load(s.data() + i));
        return mix(h, load(s.data() + s.size() - 8));
    }
};

struct SensorStats {
    std::string name;
    std::uint64_t messages = 0;
    TimePoint last_seen = TimePoint::min();
    std::vector<FieldStats> fields;  // in the order first seen

    // The field at `path`, added when new: one hash lookup, however many fields.
    FieldStats &field(std::string_view path);
    bool has(std::string_view path) const { return index_.contains(path); }

private:
    std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>> index_;  // path -> fields[i]
};

using Number = RecordScanner::Number;

// What an aggregate keeps at most (none: no bound).
struct Limits {
    std::size_t max_sensors = std::numeric_limits<std::size_t>::max();
    std::size_t max_fields = std::numeric_limits<std::size_t>::max();  // per sensor
};

class Aggregate {
public:
    explicit Aggregate(Limits limits = {}) : max_fields_(limits.max_fields), cap_(limits.max_sensors) {}

    enum class Taken { all, some, none };
    // A message from `sensor` at `time` with its numeric payload fields. A
    // sensor beyond max_sensors is refused (none), and a field beyond a
    // sensor's max_fields skipped (some): the first time each is said on
    // stderr, every time counted.
    Taken message(std::string_view sensor, TimePoint time, const Number *numbers, std::size_t n);
    // A record the toolkit published (an alert, an incident), read or carried by MQTT.
    void published() noexcept { ++published_; }
    void error() noexcept { ++errors_; }
    void merge(const Aggregate &other);
    void clear();
    // Drops the sensors last seen before `before`.
    std::size_t expire(TimePoint before);
    const SensorStats *find(std::string_view sensor) const;

    // Sensors sorted by name.
    std::vector<const SensorStats *> sorted() const;
    std::size_t sensors() const noexcept { return sensors_.size(); }
    std::uint64_t received() const noexcept { return received_; }
    std::uint64_t published_count() const noexcept { return published_; }
    std::uint64_t errors() const noexcept { return errors_; }
    bool empty() const noexcept { return received_ == 0 && published_ == 0 && errors_ == 0; }
    TimePoint first() const noexcept { return first_; }
    TimePoint last() const noexcept { return last_; }
    const SensorCap &cap() const noexcept { return cap_; }
    std::size_t max_fields() const noexcept { return max_fields_; }
    // Values of fields beyond max_fields, skipped.
    std::uint64_t skipped_values() const noexcept { return skipped_values_; }
    std::uint64_t forgotten() const noexcept { return forgotten_; }
    // Says on stderr what the caps skipped, when they did.
    void summary() const;

private:
    // The sensor `name`, added when new; null when the cap refuses it.
    SensorStats *sensor(std::string_view name);

    std::unordered_map<std::string, std::unique_ptr<SensorStats>, StringHash, std::equal_to<>> sensors_;
    SensorStats *last_sensor_ = nullptr;
    std::uint64_t received_ = 0, published_ = 0, errors_ = 0;
    std::size_t max_fields_;
    SensorCap cap_;
    std::uint64_t skipped_values_ = 0, forgotten_ = 0;
    TimePoint first_ = TimePoint::max(), last_ = TimePoint::min();
};

// What a report says besides the aggregate.
struct Report {
    std::string scope;  // "window" or "summary"
    TimePoint timestamp{};
    TimePoint from{}, until{};
    double uptime_seconds = 0;
    bool calibrated = false;  // --calibration: the values are calibrated ones
};

void render_json(std::string &out, const Aggregate &a, const Report &r);
// A title of two lines, then a row for each sensor and field, in 80 columns
// for the usual names; `wide` adds STDDEV, P50, P99 and LAST SEEN.
void render_table(std::string &out, const Aggregate &a, const Report &r, bool wide);
// The seed's metric names (mqtt_messages_total, mqtt_temperature_celsius,
// mqtt_humidity_percent with label sensor) and more beside them.
void render_prometheus(std::string &out, const Aggregate &a, const Report &r);

}  // namespace dht::stats
