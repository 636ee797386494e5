#include "overview.hpp"

#include "table.hpp"

#include "dht/diag.hpp"
#include "dht/json.hpp"
#include "dht/text.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <cstdio>
#include <map>

namespace dht::status {
namespace {

// Distinct topics looked at, at most: a history of more is summed up.
constexpr std::size_t kMaxTopics = 100000;
// (rule, sensor) pairs of alerts followed, at most.
constexpr std::size_t kMaxAlertKeys = 10000;

std::optional<double> number_at(const json::object &o, std::string_view key)
{
    const auto *v = o.if_contains(key);
    if (v == nullptr || !v->is_number())
        return std::nullopt;
    return v->to_number<double>();
}

std::string string_at(const json::object &o, std::string_view key)
{
    const auto *v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The sensor's status topic beside its data topic (dht11/x/data -> dht11/x/status).
std::string status_topic(const std::string &data_topic)
{
    constexpr std::string_view data = "/data";
    if (data_topic.size() <= data.size() || !data_topic.ends_with(data))
        return {};
    return data_topic.substr(0, data_topic.size() - data.size()) + "/status";
}

void worsen(Overview &v, Verdict to, std::string problem)
{
    v.verdict = std::max(v.verdict, to);
    v.problems.push_back(std::move(problem));
}

std::string plural(std::size_t n, std::string_view one, std::string_view many)
{
    return cat(n, " ", n == 1 ? one : many);
}

void read_sensors(Database &db, const OverviewOptions &o, TimePoint now, Overview &v)
{
    JsonParser parser;
    json::value value;
    std::string error;
    auto next = db.prepare("SELECT topic FROM messages WHERE topic > ? ORDER BY topic LIMIT 1");
    auto last = db.prepare("SELECT received_at, payload FROM messages WHERE topic = ? ORDER BY received_at DESC LIMIT 1");
    auto first = db.prepare("SELECT min(received_at) FROM messages WHERE topic = ?");
    auto window = db.prepare(
        "SELECT count(*), count(DISTINCT json_extract(payload, '$.temperature')), "
        "count(DISTINCT json_extract(payload, '$.humidity')) FROM messages WHERE topic = ? AND received_at >= ? "
        "AND json_valid(payload)");
    const std::string silent_since = format_rfc3339(saturating_sub(now, o.silent_after));
    const std::string stuck_since = format_rfc3339(saturating_sub(now, o.stuck_after));
    std::string topic;
    // One step of the index per topic: the history's size does not matter.
    for (std::size_t seen = 0; seen < kMaxTopics; ++seen) {
        next.bind(1, topic);
        if (!next.step())
            break;
        topic = next.text(0);
        next.reset();
        bool match = false;
        if (mosquitto_topic_matches_sub(o.topic_filter.c_str(), topic.c_str(), &match) != MOSQ_ERR_SUCCESS || !match)
            continue;
        SensorView s;
        s.topic = topic;
        last.bind(1, topic);
        if (last.step()) {
            s.last_at = last.text(0);
            if (parser.parse(last.text(1), value, error) && value.is_object()) {
                s.temperature = number_at(value.get_object(), "temperature");
                s.humidity = number_at(value.get_object(), "humidity");
            }
        }
        last.reset();
        s.status = s.last_at < silent_since ? "silent" : "ok";
        // A status newer than the last reading says more: offline, sensor-error.
        if (const auto st = status_topic(topic); !st.empty()) {
            last.bind(1, st);
            if (last.step() && last.text(0) >= s.last_at && parser.parse(last.text(1), value, error) &&
                value.is_string() && (value.get_string() == "offline" || value.get_string() == "sensor-error"))
                s.status = value.get_string();
            last.reset();
        }
        if (s.status == "ok") {
            first.bind(1, topic);
            const bool old_enough = first.step() && !first.is_null(0) && first.text(0) <= stuck_since;
            first.reset();
            window.bind(1, topic).bind(2, stuck_since);
            if (old_enough && window.step() && window.integer(0) >= 3 && window.integer(1) <= 1 &&
                window.integer(2) <= 1 && window.integer(1) + window.integer(2) > 0)
                s.status = "stuck";
            window.reset();
        }
        v.sensors.push_back(std::move(s));
    }
}

void read_alerts(Database &db, const OverviewOptions &o, Overview &v)
{
    // The state of each rule and sensor after its last alert, from MQTT
    // (messages) and from pipes (records), in time order.
    struct Followed {
        AlertView view;
        bool firing = false;
    };
    std::map<std::pair<std::string, std::string>, Followed> alerts;
    JsonParser parser;
    json::value value;
    std::string error;
    auto s = db.prepare(cat("SELECT payload, received_at FROM messages WHERE topic = ?",
                            has_table(db, "records")
                                ? " UNION ALL SELECT record, timestamp FROM records WHERE kind = 'alert'"
                                : "",
                            " ORDER BY 2"));
    s.bind(1, o.alert_topic);
    while (s.step()) {
        if (!parser.parse(s.text(0), value, error) || !value.is_object())
            continue;
        const auto &record = value.get_object();
        if (string_at(record, "kind") != "alert")
            continue;
        const auto a = escalate::alert_from_record(record, error);
        if (!a)
            continue;
        std::pair key{a->rule, a->sensor};
        if (!alerts.contains(key) && alerts.size() >= kMaxAlertKeys)
            continue;
        auto &f = alerts[key];
        if (a->firing && !f.firing)
            f.view = AlertView{a->rule, a->sensor, a->severity, std::string(s.text(1))};
        f.firing = a->firing;
    }
    for (const auto &[key, f] : alerts)
        if (f.firing)
            v.alerts.push_back(f.view);
}

std::string newest(Database &db, std::string_view table, std::string_view column)
{
    auto s = db.prepare(cat("SELECT ", column, " FROM ", table, " ORDER BY id DESC LIMIT 1"));
    return s.step() ? std::string(s.text(0)) : std::string();
}

std::string one_decimal(const std::optional<double> &x)
{
    if (!x)
        return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", *x);
    return buf;
}

std::string age_of(const std::string &at, TimePoint now)
{
    const auto t = parse_rfc3339(at);
    return t ? escalate::age_text(now - *t) : std::string("-");
}

// The first `max` rows, and a line for the rest.
void limit_rows(std::vector<std::vector<std::string>> &rows, std::size_t max, std::string &after)
{
    if (rows.size() > max + 1) {
        after = cat("... and ", rows.size() - max - 1, " more (--json lists them all)\n");
        rows.resize(max + 1);
    }
}

}  // namespace

std::string_view verdict_name(Verdict v) noexcept
{
    switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::warning: return "warning";
    case Verdict::critical: return "critical";
    }
    return "?";
}

Overview gather(Database &db, const OverviewOptions &o, TimePoint now)
{
    Overview v;
    v.history = has_table(db, "messages");
    if (v.history) {
        read_sensors(db, o, now, v);
        read_alerts(db, o, v);
        v.last_written = std::max(newest(db, "messages", "received_at"),
                                  has_table(db, "records") ? newest(db, "records", "timestamp") : std::string());
    }
    v.incidents = escalate::read_incidents(db, true, 0);
    v.silences = escalate::read_silences(db, now, false);

    // The verdict, worst first. A sensor silenced for every rule (being
    // repaired, say) is shown, and counts for nothing.
    std::map<std::string, std::size_t> by_status;
    for (auto &s : v.sensors) {
        s.silenced = std::any_of(v.silences.begin(), v.silences.end(), [&](const auto &x) {
            return x.rule == "*" && escalate::silence_matches(x, "*", s.topic);
        });
        if (!s.silenced)
            ++by_status[s.status];
    }
    for (const char *bad : {"offline", "sensor-error", "silent"})
        if (const auto n = by_status[bad]; n > 0)
            worsen(v, Verdict::critical, plural(n, cat("sensor ", bad), cat("sensors ", bad)));
    const auto open = static_cast<std::size_t>(std::count_if(
        v.incidents.begin(), v.incidents.end(), [](const auto &i) { return i.state == "open"; }));
    if (open > 0)
        worsen(v, Verdict::critical, plural(open, "incident open", "incidents open"));
    std::size_t critical = 0, warning = 0;
    for (const auto &a : v.alerts) {
        const bool silenced = std::any_of(v.silences.begin(), v.silences.end(),
                                          [&](const auto &s) { return escalate::silence_matches(s, a.rule, a.sensor); });
        if (!silenced)
            ++(a.severity == "critical" ? critical : warning);
    }
    if (critical > 0)
        worsen(v, Verdict::critical, plural(critical, "critical alert firing", "critical alerts firing"));
    if (!v.history) {
        worsen(v, Verdict::critical, "no history (no dht-record table in the database)");
    } else if (const auto t = parse_rfc3339(v.last_written); !t || now - *t > o.silent_after) {
        worsen(v, Verdict::critical,
               t ? cat("history last written ", escalate::age_text(now - *t), " ago") : std::string("history is empty"));
    }
    if (const auto n = by_status["stuck"]; n > 0)
        worsen(v, Verdict::warning, plural(n, "sensor stuck", "sensors stuck"));
    if (warning > 0)
        worsen(v, Verdict::warning, plural(warning, "alert firing", "alerts firing"));
    const auto acked = static_cast<std::size_t>(std::count_if(
        v.incidents.begin(), v.incidents.end(), [](const auto &i) { return i.state == "acknowledged"; }));
    if (acked > 0)
        worsen(v, Verdict::warning, plural(acked, "incident acknowledged", "incidents acknowledged"));
    if (v.history && v.sensors.empty())
        worsen(v, Verdict::warning, cat("no sensor seen on ", o.topic_filter));
    return v;
}

std::string render_text(const Overview &v, const OverviewOptions &o, TimePoint now)
{
    std::string out;
    std::string verdict(verdict_name(v.verdict));
    std::transform(verdict.begin(), verdict.end(), verdict.begin(), [](unsigned char c) { return std::toupper(c); });
    std::string line = verdict + ":";
    const std::string indent(line.size() + 1, ' ');
    std::vector<std::string> words = v.problems;
    if (words.empty())
        words.push_back(cat(plural(v.sensors.size(), "sensor", "sensors"), " ok, history written ",
                            age_of(v.last_written, now), " ago"));
    // The problems in 80 columns, each whole.
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string word = printable(words[i]) + (i + 1 < words.size() ? "," : "");
        if (line.size() > indent.size() && line.size() + 1 + display_width(word) > 80) {
            out += line + "\n";
            line = indent.substr(1);
        }
        line += " " + word;
    }
    out += line + "\n";
    std::string after;
    if (!v.sensors.empty()) {
        std::vector<std::vector<std::string>> rows{{"SENSOR", "STATUS", "TEMP", "HUM", "AGE"}};
        for (const auto &s : v.sensors)
            rows.push_back({printable(s.topic), s.silenced ? cat(s.status, " (silenced)") : s.status,
                            one_decimal(s.temperature), one_decimal(s.humidity), age_of(s.last_at, now)});
        limit_rows(rows, o.max_rows, after);
        out += "\n" + render_columns(rows) + after;
    }
    if (!v.alerts.empty()) {
        std::vector<std::vector<std::string>> rows{{"ALERT", "SENSOR", "SEVERITY", "FIRING"}};
        for (const auto &a : v.alerts)
            rows.push_back({printable(a.rule), printable(a.sensor), printable(a.severity), age_of(a.since, now)});
        after.clear();
        limit_rows(rows, o.max_rows, after);
        out += "\n" + render_columns(rows) + after;
    }
    if (!v.incidents.empty())
        out += "\n" + escalate::render_table(v.incidents, now);
    if (!v.silences.empty())
        out += "\n" + escalate::render_silences(v.silences, now);
    return out;
}

namespace {

// A JSON array of `items`, each written by `one` (appending a JSON value to a string).
template <class Items, class One>
std::string json_array(const Items &items, One one)
{
    std::string out = "[";
    for (const auto &item : items) {
        if (out.size() > 1)
            out += ',';
        one(out, item);
    }
    return out + "]";
}

}  // namespace

std::string render_json(const Overview &v, TimePoint now)
{
    std::string out;
    ObjectWriter w(out);
    w.string("kind", "status").string("timestamp", format_rfc3339(now)).string("status", verdict_name(v.verdict));
    w.raw("problems", json_array(v.problems, [](std::string &o, const std::string &p) { append_json_string(o, p); }));
    w.raw("sensors", json_array(v.sensors, [](std::string &to, const SensorView &s) {
              ObjectWriter o(to);
              o.string("sensor", s.topic).string("status", s.status);
              if (s.temperature)
                  o.number("temperature", *s.temperature);
              if (s.humidity)
                  o.number("humidity", *s.humidity);
              o.string("last_reading", s.last_at);
              if (s.silenced)
                  o.boolean("silenced", true);
              o.close();
          }));
    w.raw("alerts", json_array(v.alerts, [](std::string &to, const AlertView &a) {
              ObjectWriter o(to);
              o.string("rule", a.rule).string("sensor", a.sensor).string("severity", a.severity).string("since", a.since);
              o.close();
          }));
    w.raw("incidents", json_array(v.incidents, [](std::string &to, const escalate::Incident &i) {
              to += escalate::incident_state_record(i);
          }));
    w.raw("silences", json_array(v.silences, [](std::string &to, const escalate::Silence &s) {
              to += escalate::silence_record(s);
          }));
    if (!v.last_written.empty())
        w.string("history_written", v.last_written);
    w.close();
    return out;
}

}  // namespace dht::status
