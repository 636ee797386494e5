#include "table.hpp"

#include "dht/diag.hpp"
#include "dht/json.hpp"

#include <algorithm>

namespace dht::escalate {

std::string age_text(std::chrono::nanoseconds age)
{
    using namespace std::chrono;
    const auto s = duration_cast<seconds>(age).count();
    if (s < 0)
        return "-";
    if (s < 120)
        return cat(s, "s");
    if (s < 120 * 60)
        return cat(s / 60, "m");
    if (s < 48 * 3600)
        return cat(s / 3600, "h");
    return cat(s / 86400, "d");
}

std::string duration_text(std::chrono::nanoseconds d)
{
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(d).count();
    if (ms % 1000 != 0)
        return cat(ms, "ms");
    const auto s = ms / 1000;
    if (s != 0 && s % 86400 == 0)
        return cat(s / 86400, "d");
    if (s != 0 && s % 3600 == 0)
        return cat(s / 3600, "h");
    if (s != 0 && s % 60 == 0)
        return cat(s / 60, "m");
    return cat(s, "s");
}

std::string render_table(const std::vector<Incident> &incidents, TimePoint now, bool wide)
{
    if (incidents.empty())
        return "no incidents\n";
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"ID", "STATE", "LEVEL", "SEVERITY", "RULE", "SENSOR", "OPENED", "AGE", "ALERTS", "BY", "FAILED"});
    for (const auto &i : incidents) {
        const auto opened = parse_rfc3339(i.opened_at);
        std::string opened_text = i.opened_at.substr(0, std::min<std::size_t>(i.opened_at.size(), 19));
        std::replace(opened_text.begin(), opened_text.end(), 'T', ' ');
        const std::string &by = i.state == "resolved" ? i.resolved_by : i.acknowledged_by;
        rows.push_back({std::to_string(i.id), i.state, std::to_string(i.level), i.severity, printable(i.rule),
                        printable(i.sensor), opened_text, opened ? age_text(now - *opened) : "-",
                        std::to_string(i.alerts), by.empty() ? "-" : printable(by),
                        i.notify_failed > 0 ? std::to_string(i.notify_failed) : "-"});
    }
    if (!wide) {
        // 80 columns for the usual names: no OPENED, no ALERTS, and FAILED
        // only when a notification was given up on.
        constexpr std::size_t opened_column = 6, alerts_column = 8, failed_column = 10;
        const bool failures = std::any_of(incidents.begin(), incidents.end(),
                                          [](const Incident &i) { return i.notify_failed > 0; });
        for (auto &r : rows) {
            if (!failures)
                r.erase(r.begin() + failed_column);
            r.erase(r.begin() + alerts_column);
            r.erase(r.begin() + opened_column);
        }
    }
    return render_columns(rows);
}

std::string render_silences(const std::vector<Silence> &silences, TimePoint now)
{
    if (silences.empty())
        return "no silences\n";
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"ID", "SENSOR", "RULE", "ENDS", "BY", "COMMENT"});
    for (const auto &s : silences) {
        const auto ends = parse_rfc3339(s.ends_at);
        std::string when = "-";
        if (ends && *ends > now)
            when = cat("in ", age_text(*ends - now));
        else if (ends)
            when = cat(age_text(now - *ends), " ago");
        std::string comment = printable(s.comment);
        if (display_width(comment) > 30) {
            std::size_t cut = 0;
            for (std::size_t shown = 0; cut < comment.size(); ++cut)
                if ((static_cast<unsigned char>(comment[cut]) & 0xC0U) != 0x80U && ++shown > 29)
                    break;
            comment = cat(comment.substr(0, cut), "…");
        }
        rows.push_back({std::to_string(s.id), printable(s.sensor), printable(s.rule), when,
                        s.by.empty() ? "-" : printable(s.by), comment.empty() ? "-" : comment});
    }
    return render_columns(rows);
}

std::string describe_policy(const EscalationPolicy &p)
{
    std::string out = cat("policy: ", p.max_level, p.max_level == 1 ? " level" : " levels");
    for (int level = 1; level < p.max_level; ++level)
        out += cat("; ", level, "->", level + 1, " after ", duration_text(p.wait_at(level)));
    out += p.repeat ? cat("; reminders every ", duration_text(*p.repeat)) : std::string("; no reminders");
    out += p.ack_timeout ? cat("; acknowledgements time out after ", duration_text(*p.ack_timeout))
                         : std::string("; acknowledgements do not time out");
    std::size_t commands = p.every_level.size() + p.on_event.size();
    for (const auto &l : p.levels)
        commands += l.notify.size();
    out += cat("; ", commands, commands == 1 ? " notification command" : " notification commands");
    if (!p.quiet.empty())
        out += cat("; ", p.quiet.size(), " quiet ", p.quiet.size() == 1 ? "window" : "windows");
    return out;
}

}  // namespace dht::escalate
