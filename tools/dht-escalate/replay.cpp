#include "replay.hpp"

#include "incidents.hpp"

#include "dht/diag.hpp"
#include "dht/input.hpp"
#include "dht/output.hpp"

#include <map>
#include <set>

namespace dht::escalate {
namespace {

// Steps of the clock between two alerts at most (a reminder every second for a year).
constexpr std::uint64_t kMaxSteps = 366ULL * 86400;

std::string count(std::uint64_t n, std::string_view one, std::string_view many)
{
    return cat(n, " ", n == 1 ? one : many);
}

}  // namespace

int replay(const EscalationPolicy &policy, const ReplayOptions &o)
{
    IncidentStore store(":memory:", true);
    store.set_policy(policy);
    RecordInput input(o.common);
    Output out;
    std::int64_t printed = 0;
    std::optional<TimePoint> clock;
    std::uint64_t alerts = 0, late = 0;
    const auto print = [&] {
        for (const auto &e : store.events_after(printed, 1U << 20U)) {
            out.write(e.record + "\n");
            printed = e.id;
        }
    };
    // The clock moves to `t` (never back): what falls due on the way, on time.
    const auto advance = [&](TimePoint t) {
        if (clock && t < *clock) {
            ++late;
            t = *clock;
        }
        clock = t;
        // Each climb and reminder at its own time, as the daemon would have done it.
        const std::string until = format_rfc3339(t);
        for (std::uint64_t steps = 0; steps < kMaxSteps; ++steps) {
            const auto next = store.next_due();
            const auto due = next && *next <= until ? parse_rfc3339(*next) : std::nullopt;
            if (!due || store.run_due(*due) == 0)
                break;
            print();
        }
    };
    RecordInput::Handlers h;
    h.record = [&](const json::object &record, std::string_view) {
        const json::object *alert = carried_alert(record);  // an alert, or one recorded from MQTT
        if (alert == nullptr)
            return;
        std::string error;
        auto a = alert_from_record(*alert, error);
        if (!a)
            return input.report(error);
        // The time it happened: the record's (a message record's is when it was received).
        const auto *ts = record.if_contains("timestamp");
        const auto t = ts != nullptr && ts->is_string() ? parse_rfc3339(ts->get_string()) : std::nullopt;
        if (!t)
            return input.report("no \"timestamp\" in RFC 3339 form: a replay needs the time of each alert");
        if (a->firing && severity_rank(a->severity) < o.min_severity)
            return;
        advance(*t);
        ++alerts;
        Transaction tx(store.db());
        store.alert(*a, *clock, o.auto_resolve);
        tx.commit();
        print();
    };
    h.idle = [] {};
    h.wait_ms = [] { return -1; };
    input.run(h);
    print();
    out.flush();

    // What it would have paged, and what is left open at the end of the input.
    std::map<std::string, std::uint64_t> pages;
    std::uint64_t held = 0;
    {
        auto s = store.db().prepare("SELECT json_extract(argv, '$[0]'), held FROM incident_notifications");
        while (s.step()) {
            ++pages[std::string(s.text(0))];
            held += s.integer(1) != 0 ? 1U : 0U;
        }
    }
    std::map<std::string, std::uint64_t> events;
    {
        auto s = store.db().prepare("SELECT event, count(*) FROM incident_events GROUP BY event");
        while (s.step())
            events[std::string(s.text(0))] = static_cast<std::uint64_t>(s.integer(1));
    }
    const auto incidents = store.list(false, 0);
    std::size_t open = 0;
    int top = 0;
    for (const auto &i : incidents) {
        open += i.state != "resolved" ? 1U : 0U;
        top = std::max(top, i.level);
    }
    warn(cat("replay: ", count(alerts, "alert", "alerts"), ", ", count(incidents.size(), "incident", "incidents"), " (",
             open, " still open at the end), ", count(events["escalation"], "escalation", "escalations"),
             " up to level ", top, ", ", count(events["reminder"], "reminder", "reminders")));
    std::uint64_t total = 0;
    std::string by;
    for (const auto &[command, n] : pages) {
        total += n;
        by += cat(by.empty() ? "" : ", ", n, " ", command);
    }
    warn(cat("replay: ", count(total, "page", "pages"), by.empty() ? "" : cat(" (", by, ")"),
             held > 0 ? cat(", ", held, " held by quiet hours") : std::string()));
    if (late > 0)
        warn(cat("replay: ", count(late, "alert", "alerts"), " out of time order, taken at the time before"));
    return exit_ok;  // (--strict ended the run at the first bad line)
}

}  // namespace dht::escalate
