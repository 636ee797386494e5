#include "report.hpp"

#include "dht/diag.hpp"
#include "dht/text.hpp"

#include <vector>

namespace dht::rules {

void Report::alert(std::string_view record)
{
    json::value v;
    std::string error;
    if (!parser_.parse(record, v, error) || !v.is_object())
        return;
    const auto &o = v.get_object();
    const auto text = [&o](std::string_view key) {
        const auto *x = o.if_contains(key);
        return x != nullptr && x->is_string() ? std::string(x->get_string()) : std::string();
    };
    const auto t = parse_rfc3339(text("timestamp"));
    if (!t)
        return;
    clock(*t);
    auto &tally = tallies_[{text("rule"), text("sensor")}];
    if (text("state") == "firing") {
        if (!tally.since) {
            ++tally.fired;
            tally.since = *t;
        }
    } else if (tally.since) {
        const auto spell = *t - *tally.since;
        tally.firing += spell;
        tally.longest = std::max(tally.longest, spell);
        tally.since.reset();
    }
}

std::string Report::table() const
{
    if (tallies_.empty())
        return "no rule fired\n";
    std::vector<std::vector<std::string>> rows{{"RULE", "SENSOR", "FIRED", "FIRING", "LONGEST", "NOW"}};
    for (const auto &[key, tally] : tallies_) {
        auto firing = tally.firing;
        auto longest = tally.longest;
        if (tally.since && last_) {
            const auto spell = *last_ - *tally.since;
            firing += spell;
            longest = std::max(longest, spell);
        }
        rows.push_back({printable(key.first), printable(key.second), std::to_string(tally.fired),
                        format_duration(firing), format_duration(longest), tally.since ? "firing" : "-"});
    }
    return render_columns(rows);
}

}  // namespace dht::rules
