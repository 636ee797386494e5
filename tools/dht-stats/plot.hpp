// --plot: readings over time as an SVG picture, one panel per field
// (temperature, humidity), one line per sensor, time and unit on the axes, a
// legend. Each series keeps at most `max_points` time buckets (min, mean,
// max): when it would hold more, the buckets double in width and merge, so a
// year of readings takes the same memory and draws as fast as an hour.
#pragma once

#include "dht/time.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dht::stats {

class Plot {
public:
    explicit Plot(std::vector<std::string> fields, std::size_t max_points = 800);

    // The index of `field` among the plotted fields, or -1.
    int field_index(std::string_view field) const noexcept;
    void add(std::string_view sensor, int field, TimePoint t, double value);
    // The whole SVG document.
    std::string svg() const;
    // The fields given to draw that no sensor gave a value for: empty panels.
    std::vector<std::string> empty_fields() const;
    std::size_t points() const noexcept;

    struct Bucket {
        std::int64_t start_ms;
        double min, max, sum;
        std::uint32_t count;
    };
    struct Series {
        std::string sensor;
        int field = 0;
        std::int64_t width_ms = 1000;
        std::vector<Bucket> buckets;
    };

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    void add_to(Series &s, std::int64_t t_ms, double value) const;

    std::vector<std::string> fields_;
    std::size_t max_points_;
    // Per sensor, its series for each field (null until it has a value).
    std::unordered_map<std::string, std::vector<std::unique_ptr<Series>>, Hash, std::equal_to<>> series_;
    std::vector<std::string> order_;  // sensors in order of first appearance
};

// What to say of a field to draw that no reading had: the fields `seen`
// (numeric, any order) and the one nearest to it, when one is near.
std::string empty_field_warning(std::string_view field, std::vector<std::string> seen);

}  // namespace dht::stats
