// Calibration offsets per sensor, from a file of lines
//     dht11/cellar/data  temperature  +0.4
//     dht11/+/data       humidity     -3     # the whole batch reads high
// (a topic filter with MQTT's wildcards matched against the sensor's name, a
// field by dotted path, an offset added to the field's value). Read strictly:
// any bad line is an error naming FILE:LINE. The first line that matches a
// sensor and a field gives its offset.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dht {

class Calibration {
public:
    static constexpr std::size_t max_lines = 10000;
    static constexpr double max_offset = 100;  // |offset|: °C and %RH never need more

    struct Entry {
        std::string filter;  // a topic filter
        std::string field;   // a dotted path
        double offset = 0;
        bool exact = false;  // `filter` has no wildcard
    };

    // The entries of `text`; nullopt with `error` set ("NAME:LINE: message") on a bad line.
    static std::optional<Calibration> parse(std::string_view text, std::string_view name, std::string &error);
    // The file at `path`: Exit 66 when it cannot be read, 78 when a line is bad (said on stderr).
    static Calibration load(const std::string &path);

    bool empty() const noexcept { return entries_.empty(); }
    const std::vector<Entry> &entries() const noexcept { return entries_; }
    // Whether some line names `field`: a cheap test before offset().
    bool calibrates(std::string_view field) const noexcept;
    // The offset of `sensor`'s `field`, when a line matches both.
    std::optional<double> offset(std::string_view sensor, std::string_view field) const;

private:
    std::vector<Entry> entries_;
    std::vector<std::string> fields_;  // the distinct fields named
};

}  // namespace dht
