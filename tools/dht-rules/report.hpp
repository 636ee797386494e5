// `--report`: what the rules did over a stretch of history, instead of the
// alerts themselves. Per rule and sensor, how many times it fired, how long
// it fired in all, its longest spell, and whether it fires at the end, for
// tuning a threshold on last month before it pages anyone.
#pragma once

#include "dht/json.hpp"
#include "dht/time.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dht::rules {

class Report {
public:
    // An alert record the engine wrote.
    void alert(std::string_view record);
    // The time of the input so far (each record's); spells still firing end here.
    void clock(TimePoint t) { last_ = std::max(last_.value_or(t), t); }
    // The table, 80 columns for the usual names: RULE SENSOR FIRED FIRING LONGEST NOW.
    std::string table() const;

private:
    struct Tally {
        std::uint64_t fired = 0;
        std::chrono::nanoseconds firing{}, longest{};
        std::optional<TimePoint> since;  // firing since
    };
    std::map<std::pair<std::string, std::string>, Tally> tallies_;
    std::optional<TimePoint> last_;
    JsonParser parser_;
};

}  // namespace dht::rules
