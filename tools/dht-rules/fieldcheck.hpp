// Rules that cannot fire: a field the rules compare that no reading has
// (`temprature < 5`). After the first readings, one warning per such field,
// with the fields the readings do have and the nearest of them.
#pragma once

#include "rules.hpp"

#include "dht/scan.hpp"

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace dht::rules {

class FieldCheck {
public:
    static constexpr std::size_t readings = 20;  // how many readings before judging

    explicit FieldCheck(std::size_t max_depth) : probe_({}, max_depth, true) {}

    // Starts again for `rules` (at start, and when SIGHUP brings new ones).
    void reset(const RuleSet &rules);
    bool done() const noexcept { return left_ == 0; }
    // A message `scan` has read with the rules' fields; `rescan` scans the
    // same message again with the scanner it is given (every numeric field).
    void message(const RuleSet &rules, const RecordScanner &scan, const std::function<void(RecordScanner &)> &rescan);

private:
    void judge(const RuleSet &rules) const;

    std::size_t left_ = 0;
    std::vector<bool> seen_;      // per RuleSet::fields
    std::set<std::string> paths_;  // the numeric fields readings had
    RecordScanner probe_;
};

}  // namespace dht::rules
