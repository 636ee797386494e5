#include "incidents.hpp"

#include "dht/diag.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <csignal>
#include <ctime>
#include <random>
#include <unistd.h>

namespace dht::escalate {
namespace {

constexpr const char *kSchema = R"sql(
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY,
  rule TEXT NOT NULL,
  sensor TEXT NOT NULL,
  field TEXT NOT NULL DEFAULT '',
  severity TEXT NOT NULL,          -- info, warning, critical
  action TEXT NOT NULL DEFAULT 'alert',  -- the alert's: alert, notify (never climbs), escalate
  state TEXT NOT NULL,             -- open, acknowledged, resolved
  level INTEGER NOT NULL,
  value REAL,                      -- the last alert's value
  message TEXT NOT NULL DEFAULT '',
  alerts INTEGER NOT NULL DEFAULT 1,  -- firing alerts folded in
  opened_at TEXT NOT NULL,         -- RFC 3339, UTC, milliseconds
  updated_at TEXT NOT NULL,
  acknowledged_at TEXT,
  acknowledged_by TEXT,
  resolved_at TEXT,
  resolved_by TEXT,
  cleared_at TEXT,                 -- the resolved alert, with --no-auto-resolve
  next_at TEXT                     -- next climb, reminder or acknowledgement timeout
);
CREATE UNIQUE INDEX IF NOT EXISTS incidents_open_key ON incidents (rule, sensor) WHERE state <> 'resolved';
CREATE INDEX IF NOT EXISTS incidents_next_at ON incidents (next_at) WHERE next_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS incident_events (
  id INTEGER PRIMARY KEY,
  incident_id INTEGER NOT NULL REFERENCES incidents (id),
  event TEXT NOT NULL,             -- opened, escalation, acknowledged, resolved, reminder, notify-failed
  timestamp TEXT NOT NULL,
  record TEXT NOT NULL,            -- the incident record, JSON
  published INTEGER NOT NULL DEFAULT 0  -- sent to the broker (0: waiting for one)
);
CREATE INDEX IF NOT EXISTS incident_events_incident ON incident_events (incident_id, id);
CREATE INDEX IF NOT EXISTS incident_events_unpublished ON incident_events (id) WHERE published = 0;
CREATE TABLE IF NOT EXISTS incident_notifications (
  id INTEGER PRIMARY KEY,
  event_id INTEGER NOT NULL REFERENCES incident_events (id),
  argv TEXT NOT NULL,              -- JSON array of strings
  due_at TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'pending',  -- pending, done, failed, skipped
  held INTEGER NOT NULL DEFAULT 0,  -- held by quiet hours
  error TEXT
);
CREATE INDEX IF NOT EXISTS incident_notifications_due ON incident_notifications (due_at) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS escalation_policy (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  policy TEXT NOT NULL,            -- JSON: the policy the daemon runs, for ack, resolve and tick
  updated_at TEXT NOT NULL
);
)sql";

// Events sent and waiting for the broker's acknowledgement, by the process
// that sent them. Made by the first process that publishes (a database of an
// older version has none yet).
constexpr const char *kClaimsSchema = R"sql(
CREATE TABLE IF NOT EXISTS incident_event_claims (
  event_id INTEGER PRIMARY KEY REFERENCES incident_events (id),
  pid INTEGER NOT NULL,            -- the process that sent it
  token INTEGER NOT NULL,          -- that process's random number (process ids are reused)
  claimed_at TEXT NOT NULL
);
)sql";

// A claim older than this is taken over even from a live process.
constexpr auto kClaimLease = std::chrono::minutes(10);

constexpr const char *kColumns =
    "id, rule, sensor, field, severity, state, level, value, message, alerts, opened_at, updated_at, "
    "acknowledged_at, acknowledged_by, resolved_at, resolved_by, cleared_at, next_at, action, "
    "(SELECT count(*) FROM incident_events e WHERE e.incident_id = incidents.id AND e.event = 'notify-failed')";

Database open(const std::string &path, bool create)
{
    return open_toolkit_database(path, create, kSchema, "escalation_policy");
}

std::string ts(TimePoint t) { return format_rfc3339(t); }

Incident read_incident(const Statement &s)
{
    Incident i;
    i.id = s.integer(0);
    i.rule = s.text(1);
    i.sensor = s.text(2);
    i.field = s.text(3);
    i.severity = s.text(4);
    i.state = s.text(5);
    i.level = static_cast<int>(s.integer(6));
    if (!s.is_null(7))
        i.value = s.real(7);
    i.message = s.text(8);
    i.alerts = s.integer(9);
    i.opened_at = s.text(10);
    i.updated_at = s.text(11);
    i.acknowledged_at = s.text(12);
    i.acknowledged_by = s.text(13);
    i.resolved_at = s.text(14);
    i.resolved_by = s.text(15);
    i.cleared_at = s.text(16);
    i.next_at = s.text(17);
    i.action = s.text(18);
    i.notify_failed = s.integer(19);
    return i;
}

// rule, sensor, severity, state, level, field, value, message: what every
// incident record carries after its first keys.
void append_incident(ObjectWriter &w, const Incident &i)
{
    w.string("rule", i.rule).string("sensor", i.sensor).string("severity", i.severity).string("state", i.state);
    w.integer("level", i.level);
    if (!i.field.empty())
        w.string("field", i.field);
    if (i.value)
        w.number("value", *i.value);
    if (!i.message.empty())
        w.string("message", i.message);
}

int local_minute(TimePoint t, int &second)
{
    const std::time_t tt = Clock::to_time_t(std::chrono::time_point_cast<Clock::duration>(t));
    std::tm tm{};
    localtime_r(&tt, &tm);
    second = tm.tm_sec;
    return tm.tm_hour * 60 + tm.tm_min;
}

}  // namespace

int severity_rank(std::string_view severity) noexcept
{
    if (severity == "info")
        return 0;
    if (severity == "warning")
        return 1;
    if (severity == "critical")
        return 2;
    return -1;
}

const json::object *carried_alert(const json::object &record)
{
    const auto is_alert = [](const json::object &o) {
        const auto *kind = o.if_contains("kind");
        return kind != nullptr && kind->is_string() && kind->get_string() == "alert";
    };
    if (is_alert(record))
        return &record;
    const auto *kind = record.if_contains("kind");
    const auto *payload = record.if_contains("payload");
    const auto *p = payload != nullptr ? payload->if_object() : nullptr;
    if (kind != nullptr && kind->is_string() && kind->get_string() == "message" && p != nullptr && is_alert(*p))
        return p;
    return nullptr;
}

std::optional<Alert> alert_from_record(const json::object &o, std::string &error)
{
    Alert a;
    bool ok = true;
    const auto rule = string_member(o, "rule", error, ok);
    const auto state = string_member(o, "state", error, ok);
    const auto sensor = string_member(o, "sensor", error, ok);
    const auto action = string_member(o, "action", error, ok);
    const auto severity = string_member(o, "severity", error, ok);
    const auto field = string_member(o, "field", error, ok);
    const auto message = string_member(o, "message", error, ok);
    if (!ok)
        return std::nullopt;
    if (!rule || rule->empty()) {
        error = "alert without a \"rule\"";
        return std::nullopt;
    }
    if (!state || (*state != "firing" && *state != "resolved")) {
        error = "alert \"state\" is not \"firing\" or \"resolved\"";
        return std::nullopt;
    }
    a.rule = *rule;
    a.firing = *state == "firing";
    a.sensor = sensor.value_or("");
    a.action = action.value_or("alert");
    if (a.action != "alert" && a.action != "notify" && a.action != "escalate") {
        error = cat("alert \"action\" '", a.action, "' is not alert, notify or escalate");
        return std::nullopt;
    }
    a.severity = severity.value_or(a.action == "escalate" ? "critical" : a.action == "notify" ? "info" : "warning");
    if (severity_rank(a.severity) < 0) {
        error = cat("alert \"severity\" '", a.severity, "' is not info, warning or critical");
        return std::nullopt;
    }
    a.field = field.value_or("");
    a.message = message.value_or("");
    if (const auto *v = o.if_contains("value"); v != nullptr && !v->is_null()) {
        if (v->is_number())
            a.value = v->to_number<double>();
        else if (!v->is_string()) {  // a string value (== rules) is not kept
            error = "alert \"value\" is not a number";
            return std::nullopt;
        }
    }
    return a;
}

std::optional<Response> response_from_record(const json::object &o, std::string &error)
{
    Response r;
    const auto *id = o.if_contains("incident_id");
    if (id == nullptr) {
        error = "no \"incident_id\"";
        return std::nullopt;
    }
    if (id->is_int64() && id->get_int64() > 0)
        r.incident_id = id->get_int64();
    else if (id->is_uint64() && id->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        r.incident_id = static_cast<std::int64_t>(id->get_uint64());
    else {
        error = "\"incident_id\" is not a positive integer";
        return std::nullopt;
    }
    bool ok = true;
    const auto action = string_member(o, "action", error, ok);
    const auto by = string_member(o, "by", error, ok);
    if (!ok)
        return std::nullopt;
    if (action == "ack" || action == "acknowledge")
        r.resolve = false;
    else if (action == "resolve")
        r.resolve = true;
    else {
        error = "\"action\" is not \"ack\" or \"resolve\"";
        return std::nullopt;
    }
    r.by = by.value_or("");
    return r;
}

std::string incident_state_record(const Incident &i)
{
    std::string out;
    ObjectWriter w(out);
    w.string("kind", "incident").string("timestamp", i.updated_at).integer("incident_id", i.id);
    append_incident(w, i);
    w.string("action", i.action).integer("alerts", i.alerts).string("opened_at", i.opened_at);
    if (i.notify_failed > 0)
        w.integer("notify_failed", i.notify_failed);
    for (const auto &[name, value] : {std::pair<const char *, const std::string *>{"acknowledged_at", &i.acknowledged_at},
                                      {"acknowledged_by", &i.acknowledged_by},
                                      {"resolved_at", &i.resolved_at},
                                      {"resolved_by", &i.resolved_by},
                                      {"cleared_at", &i.cleared_at},
                                      {"next_at", &i.next_at}})
        if (!value->empty())
            w.string(name, *value);
    w.close();
    return out;
}

IncidentStore::IncidentStore(const std::string &path, bool create)
    : db_(open(path, create)),
      claim_token_(static_cast<std::int64_t>((std::uint64_t{std::random_device{}()} << 31U) ^ std::random_device{}()))
{
}

std::optional<Incident> IncidentStore::find(std::int64_t id)
{
    auto s = db_.prepare(cat("SELECT ", kColumns, " FROM incidents WHERE id = ?"));
    s.bind(1, id);
    if (!s.step())
        return std::nullopt;
    return read_incident(s);
}

std::optional<Incident> IncidentStore::open_incident(const std::string &rule, const std::string &sensor)
{
    auto s = db_.prepare(cat("SELECT ", kColumns, " FROM incidents WHERE rule = ? AND sensor = ? AND state <> 'resolved'"));
    s.bind(1, rule).bind(2, sensor);
    if (!s.step())
        return std::nullopt;
    return read_incident(s);
}

std::string IncidentStore::schedule_after(const Incident &i, int level, TimePoint from, bool acknowledged) const
{
    if (i.action == "notify")
        return {};  // a notice: told once at level 1, it never climbs
    if (acknowledged)
        return policy_.ack_timeout ? ts(from + *policy_.ack_timeout) : std::string();
    if (level < policy_.max_level)
        return ts(from + policy_.wait_at(level));
    return policy_.repeat ? ts(from + *policy_.repeat) : std::string();
}

namespace {
void bind_optional(Statement &s, int index, const std::string &text)
{
    if (text.empty())
        s.bind_null(index);
    else
        s.bind(index, text);
}
}  // namespace

void IncidentStore::add_event(const Incident &i, Event event, TimePoint now,
                              const std::function<void(ObjectWriter &)> &extra, bool page)
{
    const std::string when = ts(now);
    std::string record;
    ObjectWriter w(record);
    w.string("kind", "incident").string("timestamp", when).integer("incident_id", i.id);
    w.string("event", event_name(event));
    if (extra)
        extra(w);  // from_level, to_level first for an escalation: the seed's keys
    append_incident(w, i);
    w.close();

    auto insert = db_.prepare("INSERT INTO incident_events (incident_id, event, timestamp, record) VALUES (?, ?, ?, ?)");
    insert.bind(1, i.id).bind(2, event_name(event)).bind(3, when).bind(4, record);
    insert.run();
    const auto event_id = db_.last_insert_id();

    const auto commands = page ? policy_.commands(event, i.level) : std::vector<Command>{};
    if (commands.empty())
        return;
    int second = 0;
    const int minute = local_minute(now, second);
    TimePoint due = now;
    const int held = policy_.held_minutes(i.severity, minute);
    if (held > 0)
        due = now + std::chrono::minutes(held) - std::chrono::seconds(second);
    auto queue = db_.prepare("INSERT INTO incident_notifications (event_id, argv, due_at, held) VALUES (?, ?, ?, ?)");
    for (const auto &argv : commands) {
        json::array a;
        for (const auto &word : argv)
            a.emplace_back(json::string(word));
        queue.bind(1, event_id).bind(2, to_json(a)).bind(3, ts(due)).bind(4, std::int64_t{held > 0 ? 1 : 0});
        queue.run();
    }
}

void IncidentStore::climb(const Incident &incident, TimePoint now, std::optional<TimePoint> scheduled,
                          const std::string &reason)
{
    Incident i = incident;
    const int from = i.level;
    i.level = from + 1;
    i.state = "open";
    i.next_at = schedule_after(i, i.level, scheduled.value_or(now), false);
    i.updated_at = ts(now);
    auto s = db_.prepare("UPDATE incidents SET level = ?, state = 'open', next_at = ?, updated_at = ? WHERE id = ?");
    s.bind(1, std::int64_t{i.level});
    bind_optional(s, 2, i.next_at);
    s.bind(3, i.updated_at).bind(4, i.id);
    s.run();
    add_event(i, Event::escalation, now, [&](ObjectWriter &w) {
        w.integer("from_level", from).integer("to_level", i.level);
        if (!reason.empty())
            w.string("reason", reason);
    });
}

void IncidentStore::alert(const Alert &a, TimePoint now, bool auto_resolve)
{
    auto current = open_incident(a.rule, a.sensor);
    const std::string when = ts(now);
    if (a.firing) {
        if (current) {
            // A repeat folds into the open incident: one page per problem.
            auto s = db_.prepare(
                "UPDATE incidents SET alerts = alerts + 1, value = coalesce(?, value), message = ?, field = ?, "
                "severity = ?, updated_at = ?, cleared_at = NULL WHERE id = ?");
            if (a.value)
                s.bind_real(1, *a.value);
            else
                s.bind_null(1);
            s.bind(2, a.message).bind(3, a.field);
            s.bind(4, severity_rank(a.severity) > severity_rank(current->severity) ? a.severity : current->severity);
            s.bind(5, when).bind(6, current->id);
            s.run();
            return;
        }
        Incident i;
        i.rule = a.rule;
        i.sensor = a.sensor;
        i.field = a.field;
        i.severity = a.severity;
        i.action = a.action;
        i.level = 1;
        i.value = a.value;
        i.message = a.message;
        i.alerts = 1;
        i.opened_at = i.updated_at = when;
        // Silenced: kept and shown, but it pages no one until the silence ends.
        const auto silence = silencing(a.rule, a.sensor, now);
        i.state = silence ? "silenced" : "open";
        i.next_at = silence ? silence->ends_at : schedule_after(i, 1, now, false);
        auto s = db_.prepare(
            "INSERT INTO incidents (rule, sensor, field, severity, state, level, value, message, alerts, opened_at, "
            "updated_at, next_at, action) VALUES (?, ?, ?, ?, ?, 1, ?, ?, 1, ?, ?, ?, ?)");
        s.bind(1, i.rule).bind(2, i.sensor).bind(3, i.field).bind(4, i.severity).bind(5, i.state);
        if (i.value)
            s.bind_real(6, *i.value);
        else
            s.bind_null(6);
        s.bind(7, i.message).bind(8, when).bind(9, when);
        bind_optional(s, 10, i.next_at);
        s.bind(11, i.action);
        s.run();
        i.id = db_.last_insert_id();
        if (silence) {
            add_event(i, Event::silenced, now, [&](ObjectWriter &w) {
                w.integer("silence_id", silence->id).string("until", silence->ends_at);
            });
            return;
        }
        add_event(i, Event::opened, now);
        // The seed's "escalade d'office": this alert climbs at once.
        if (a.action == "escalate" && policy_.max_level > 1)
            climb(i, now, std::nullopt, "escalate action");
        return;
    }
    if (!current) {
        debug(cat("resolved alert ", a.rule, " for '", a.sensor, "' has no open incident"));
        return;
    }
    if (auto_resolve) {
        resolve(current->id, "", "alert resolved", now);
        return;
    }
    auto s = db_.prepare("UPDATE incidents SET cleared_at = ?, updated_at = ? WHERE id = ?");
    s.bind(1, when).bind(2, when).bind(3, current->id);
    s.run();
}

Answer IncidentStore::acknowledge(std::int64_t id, const std::string &by, TimePoint now)
{
    auto i = find(id);
    if (!i)
        return Answer::unknown;
    if (i->state == "resolved")
        return Answer::resolved_already;
    if (i->state == "acknowledged")
        return Answer::already;
    if (i->state == "silenced") {
        if (last_answer_event(id) == "acknowledged")
            return Answer::already;
        // Noted, and kept silenced: acknowledged once the silence ends.
        i->acknowledged_at = i->updated_at = ts(now);
        i->acknowledged_by = by;
        auto s = db_.prepare("UPDATE incidents SET acknowledged_at = ?, acknowledged_by = ?, updated_at = ? WHERE id = ?");
        s.bind(1, i->acknowledged_at);
        bind_optional(s, 2, by);
        s.bind(3, i->updated_at).bind(4, id);
        s.run();
        add_event(*i, Event::acknowledged, now, [&by](ObjectWriter &w) {
            if (!by.empty())
                w.string("by", by);
        }, false);
        return Answer::done;
    }
    i->state = "acknowledged";
    i->acknowledged_at = i->updated_at = ts(now);
    i->acknowledged_by = by;
    i->next_at = schedule_after(*i, i->level, now, true);
    auto s = db_.prepare(
        "UPDATE incidents SET state = 'acknowledged', acknowledged_at = ?, acknowledged_by = ?, next_at = ?, "
        "updated_at = ? WHERE id = ?");
    s.bind(1, i->acknowledged_at);
    bind_optional(s, 2, by);
    bind_optional(s, 3, i->next_at);
    s.bind(4, i->updated_at).bind(5, id);
    s.run();
    add_event(*i, Event::acknowledged, now, [&by](ObjectWriter &w) {
        if (!by.empty())
            w.string("by", by);
    });
    return Answer::done;
}

Answer IncidentStore::resolve(std::int64_t id, const std::string &by, const std::string &reason, TimePoint now)
{
    auto i = find(id);
    if (!i)
        return Answer::unknown;
    if (i->state == "resolved")
        return Answer::already;
    const bool page = i->state != "silenced";  // no one was told it began
    i->state = "resolved";
    i->resolved_at = i->updated_at = ts(now);
    i->resolved_by = by;
    i->next_at.clear();
    auto s = db_.prepare(
        "UPDATE incidents SET state = 'resolved', resolved_at = ?, resolved_by = ?, next_at = NULL, updated_at = ? "
        "WHERE id = ?");
    s.bind(1, i->resolved_at);
    bind_optional(s, 2, by);
    s.bind(3, i->updated_at).bind(4, id);
    s.run();
    add_event(*i, Event::resolved, now, [&by, &reason](ObjectWriter &w) {
        if (!by.empty())
            w.string("by", by);
        if (!reason.empty())
            w.string("reason", reason);
    }, page);
    return Answer::done;
}

std::optional<Silence> IncidentStore::silencing(const std::string &rule, const std::string &sensor, TimePoint now)
{
    std::optional<Silence> found;
    for (auto &s : read_silences(db_, now, false))
        if (silence_matches(s, rule, sensor) && (!found || s.ends_at > found->ends_at))
            found = std::move(s);
    return found;
}

void IncidentStore::silence_incident(const Incident &incident, const Silence &silence, TimePoint now)
{
    Incident i = incident;
    i.state = "silenced";
    i.next_at = silence.ends_at;
    i.updated_at = ts(now);
    auto s = db_.prepare("UPDATE incidents SET state = 'silenced', next_at = ?, updated_at = ? WHERE id = ?");
    s.bind(1, i.next_at).bind(2, i.updated_at).bind(3, i.id);
    s.run();
    add_event(i, Event::silenced, now,
              [&](ObjectWriter &w) { w.integer("silence_id", silence.id).string("until", silence.ends_at); });
}

void IncidentStore::unsilence(const Incident &incident, TimePoint now)
{
    Incident i = incident;
    const auto before = last_answer_event(i.id);  // what it was when silenced
    const bool acknowledged = before == "acknowledged";
    i.state = acknowledged ? "acknowledged" : "open";
    i.next_at = schedule_after(i, i.level, now, acknowledged);
    i.updated_at = ts(now);
    auto s = db_.prepare("UPDATE incidents SET state = ?, next_at = ?, updated_at = ? WHERE id = ?");
    s.bind(1, i.state);
    bind_optional(s, 2, i.next_at);
    s.bind(3, i.updated_at).bind(4, i.id);
    s.run();
    if (!before.empty()) {
        add_event(i, Event::unsilenced, now);
        return;
    }
    // Silenced from its first alert: it opens now, as it would have then.
    add_event(i, Event::opened, now, [](ObjectWriter &w) { w.string("reason", "silence ended"); });
    if (i.action == "escalate" && policy_.max_level > 1 && !acknowledged)
        climb(i, now, std::nullopt, "escalate action");
}

std::string IncidentStore::last_answer_event(std::int64_t id)
{
    auto s = db_.prepare(
        "SELECT event FROM incident_events WHERE incident_id = ? AND event IN ('opened', 'escalation', 'reminder', "
        "'acknowledged') ORDER BY id DESC LIMIT 1");
    s.bind(1, id);
    return s.step() ? std::string(s.text(0)) : std::string();
}

Answer IncidentStore::add_silence(const SilenceRequest &r, TimePoint now, Silence &added)
{
    ensure_silence_table(db_);
    if (read_silences(db_, now, false).size() >= kMaxActiveSilences)
        return Answer::too_many;
    added = Silence{};
    added.sensor = r.sensor;
    added.rule = r.rule;
    added.starts_at = ts(now);
    added.ends_at = ts(saturating_add(now, r.length));
    added.by = r.by;
    added.comment = r.comment;
    auto s = db_.prepare(
        "INSERT INTO silences (sensor, rule, starts_at, ends_at, created_by, comment) VALUES (?, ?, ?, ?, ?, ?)");
    s.bind(1, added.sensor).bind(2, added.rule).bind(3, added.starts_at).bind(4, added.ends_at);
    s.bind(5, added.by).bind(6, added.comment);
    s.run();
    added.id = db_.last_insert_id();
    for (const auto &i : list(true, 0)) {
        if (!silence_matches(added, i.rule, i.sensor))
            continue;
        if (i.state != "silenced") {
            silence_incident(i, added, now);
        } else if (i.next_at < added.ends_at) {
            auto u = db_.prepare("UPDATE incidents SET next_at = ? WHERE id = ?");
            u.bind(1, added.ends_at).bind(2, i.id);
            u.run();
        }
    }
    return Answer::done;
}

Answer IncidentStore::expire_silence(std::int64_t id, const std::string &by, TimePoint now, Silence &expired)
{
    auto found = find_silence(db_, id);
    if (!found)
        return Answer::unknown;
    const std::string when = ts(now);
    if (found->ends_at <= when)
        return Answer::already;
    auto s = db_.prepare("UPDATE silences SET ends_at = ?, expired_at = ?, expired_by = ? WHERE id = ?");
    s.bind(1, when).bind(2, when).bind(3, by).bind(4, id);
    s.run();
    // Whatever it held is looked at again now (another silence may hold it still).
    auto due = db_.prepare("UPDATE incidents SET next_at = ? WHERE state = 'silenced'");
    due.bind(1, when);
    due.run();
    expired = *found;
    expired.ends_at = expired.expired_at = when;
    expired.expired_by = by;
    return Answer::done;
}

std::optional<std::string> IncidentStore::next_due()
{
    auto s = db_.prepare("SELECT min(next_at) FROM incidents WHERE next_at IS NOT NULL");
    if (!s.step() || s.is_null(0))
        return std::nullopt;
    return std::string(s.text(0));
}

std::size_t IncidentStore::run_due(TimePoint now)
{
    const std::string when = ts(now);
    if (const auto next = next_due(); !next || *next > when)
        return 0;  // nothing due: no write lock taken
    std::size_t events = 0;
    Transaction t(db_);
    auto select = db_.prepare(cat("SELECT ", kColumns,
                                  " FROM incidents WHERE next_at IS NOT NULL AND next_at <= ? AND state <> 'resolved' "
                                  "ORDER BY next_at, id LIMIT 256"));
    // Missed climbs are caught up (their schedule kept); each pass handles one step.
    for (int pass = 0; pass <= policy_.max_level + 1; ++pass) {
        std::vector<Incident> due;
        select.bind(1, when);
        while (select.step())
            due.push_back(read_incident(select));
        select.reset();
        if (due.empty())
            break;
        for (const auto &i : due) {
            const auto scheduled = parse_rfc3339(i.next_at);
            if (const auto silence = silencing(i.rule, i.sensor, now)) {
                if (i.state == "silenced") {  // held on by another silence, or one made longer
                    auto s = db_.prepare("UPDATE incidents SET next_at = ? WHERE id = ?");
                    s.bind(1, silence->ends_at).bind(2, i.id);
                    s.run();
                    continue;
                }
                silence_incident(i, *silence, now);
            } else if (i.state == "silenced") {
                unsilence(i, now);
            } else if (i.state == "acknowledged") {
                // Acknowledged but not resolved in time: it climbs again.
                if (i.level < policy_.max_level) {
                    climb(i, now, scheduled, "acknowledgement timed out");
                } else {
                    Incident r = i;
                    r.state = "open";
                    r.next_at = schedule_after(r, r.level, now, false);
                    r.updated_at = when;
                    auto s = db_.prepare("UPDATE incidents SET state = 'open', next_at = ?, updated_at = ? WHERE id = ?");
                    bind_optional(s, 1, r.next_at);
                    s.bind(2, when).bind(3, r.id);
                    s.run();
                    add_event(r, Event::reminder, now,
                              [](ObjectWriter &w) { w.string("reason", "acknowledgement timed out"); });
                }
            } else if (i.level < policy_.max_level) {
                climb(i, now, scheduled, "not acknowledged");
            } else {
                // At the top: a reminder; missed ones are not made up.
                Incident r = i;
                r.next_at = policy_.repeat ? ts(now + *policy_.repeat) : std::string();
                r.updated_at = when;
                auto s = db_.prepare("UPDATE incidents SET next_at = ?, updated_at = ? WHERE id = ?");
                bind_optional(s, 1, r.next_at);
                s.bind(2, when).bind(3, r.id);
                s.run();
                add_event(r, Event::reminder, now);
            }
            ++events;
        }
    }
    t.commit();
    return events;
}

std::int64_t IncidentStore::last_event_id()
{
    auto s = db_.prepare("SELECT coalesce(max(id), 0) FROM incident_events");
    return s.step() ? s.integer(0) : 0;
}

std::vector<EventRow> IncidentStore::events_after(std::int64_t id, std::size_t limit)
{
    std::vector<EventRow> out;
    auto s = db_.prepare("SELECT id, incident_id, event, record FROM incident_events WHERE id > ? ORDER BY id LIMIT ?");
    s.bind(1, id).bind(2, static_cast<std::int64_t>(limit));
    while (s.step())
        out.push_back({s.integer(0), s.integer(1), std::string(s.text(2)), std::string(s.text(3))});
    return out;
}

std::vector<EventRow> IncidentStore::claim_unpublished(std::size_t limit)
{
    std::vector<EventRow> out;
    {
        auto peek = db_.prepare("SELECT 1 FROM incident_events WHERE published = 0 LIMIT 1");
        if (!peek.step())
            return out;  // nothing waits: no write lock taken
    }
    const auto now = dht::now();
    const std::string expired = ts(now - kClaimLease);
    const auto me = static_cast<std::int64_t>(::getpid());
    // Another process's claim stands while it lives and the claim is fresh;
    // one under our own process id but not our token is an earlier process's.
    const auto stands = [&](const Statement &s) {
        if (s.is_null(4))
            return false;  // not claimed
        const auto pid = s.integer(4);
        if (pid == me || pid <= 0 || pid > INT32_MAX || s.text(6) < expired)
            return false;
        return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
    };
    Transaction t(db_);
    db_.exec(kClaimsSchema);
    auto s = db_.prepare(
        "SELECT e.id, e.incident_id, e.event, e.record, c.pid, c.token, c.claimed_at FROM incident_events e LEFT JOIN "
        "incident_event_claims c ON c.event_id = e.id WHERE e.published = 0 AND e.id > ? AND (c.token IS NULL OR "
        "c.token <> ?) ORDER BY e.id LIMIT 256");  // ours are in flight, or refused by the broker
    std::int64_t after = 0;
    for (bool more = true; more && out.size() < limit;) {
        s.bind(1, after).bind(2, claim_token_);
        more = false;
        while (s.step() && out.size() < limit) {
            more = true;
            after = s.integer(0);
            if (!stands(s))
                out.push_back({s.integer(0), s.integer(1), std::string(s.text(2)), std::string(s.text(3))});
        }
        s.reset();
    }
    auto claim = db_.prepare(
        "INSERT INTO incident_event_claims (event_id, pid, token, claimed_at) VALUES (?, ?, ?, ?) ON CONFLICT "
        "(event_id) DO UPDATE SET pid = excluded.pid, token = excluded.token, claimed_at = excluded.claimed_at");
    for (const auto &e : out) {
        claim.bind(1, e.id).bind(2, me).bind(3, claim_token_).bind(4, ts(now));
        claim.run();
    }
    t.commit();
    return out;
}

void IncidentStore::mark_published(const std::vector<std::int64_t> &ids)
{
    Transaction t(db_);
    auto mark = db_.prepare("UPDATE incident_events SET published = 1 WHERE id = ?");
    auto drop = db_.prepare("DELETE FROM incident_event_claims WHERE event_id = ?");
    for (const auto id : ids) {
        mark.bind(1, id);
        mark.run();
        drop.bind(1, id);
        drop.run();
    }
    t.commit();
}

void IncidentStore::release(const std::vector<std::int64_t> &ids)
{
    Transaction t(db_);
    auto drop = db_.prepare("DELETE FROM incident_event_claims WHERE event_id = ? AND token = ?");
    for (const auto id : ids) {
        drop.bind(1, id).bind(2, claim_token_);
        drop.run();
    }
    t.commit();
}

bool IncidentStore::has_unpublished()
{
    auto s = db_.prepare("SELECT 1 FROM incident_events WHERE published = 0 LIMIT 1");
    return s.step();
}

std::optional<EscalationPolicy> IncidentStore::stored_policy()
{
    auto s = db_.prepare("SELECT policy FROM escalation_policy WHERE id = 1");
    if (!s.step())
        return std::nullopt;
    return policy_from_json(s.text(0));
}

void IncidentStore::store_policy(const EscalationPolicy &policy, TimePoint now)
{
    auto s = db_.prepare(
        "INSERT INTO escalation_policy (id, policy, updated_at) VALUES (1, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at");
    s.bind(1, policy_to_json(policy)).bind(2, ts(now));
    s.run();
}

std::vector<PendingNotification> IncidentStore::claim_notifications(TimePoint now, std::chrono::nanoseconds lease,
                                                                    std::size_t limit)
{
    std::vector<PendingNotification> out;
    const std::string when = ts(now);
    {
        auto peek = db_.prepare("SELECT 1 FROM incident_notifications WHERE state = 'pending' AND due_at <= ? LIMIT 1");
        peek.bind(1, when);
        if (!peek.step())
            return out;
    }
    Transaction t(db_);
    // A page held through quiet hours for an incident resolved meanwhile is not sent.
    auto skip = db_.prepare(
        "UPDATE incident_notifications SET state = 'skipped', error = 'resolved during quiet hours' WHERE state = "
        "'pending' AND held = 1 AND due_at <= ? AND event_id IN (SELECT e.id FROM incident_events e JOIN incidents i "
        "ON i.id = e.incident_id WHERE i.state = 'resolved' AND e.event <> 'resolved')");
    skip.bind(1, when);
    skip.run();
    auto s = db_.prepare(
        "SELECT n.id, n.argv, n.attempts, e.record FROM incident_notifications n JOIN incident_events e ON e.id = "
        "n.event_id WHERE n.state = 'pending' AND n.due_at <= ? ORDER BY n.id LIMIT ?");
    s.bind(1, when).bind(2, static_cast<std::int64_t>(limit));
    JsonParser parser(4);
    json::value v;
    std::string error;
    while (s.step()) {
        PendingNotification n;
        n.id = s.integer(0);
        n.attempts = static_cast<int>(s.integer(2));
        n.record = s.text(3);
        if (parser.parse(s.text(1), v, error) && v.is_array())
            for (const auto &word : v.get_array())
                if (word.is_string())
                    n.argv.emplace_back(word.get_string());
        out.push_back(std::move(n));
    }
    auto claim = db_.prepare("UPDATE incident_notifications SET due_at = ?, attempts = attempts + 1 WHERE id = ?");
    for (const auto &n : out) {
        claim.bind(1, ts(now + lease)).bind(2, n.id);
        claim.run();
    }
    t.commit();
    return out;
}

void IncidentStore::notification_done(std::int64_t id)
{
    auto s = db_.prepare("UPDATE incident_notifications SET state = 'done', error = NULL WHERE id = ?");
    s.bind(1, id);
    s.run();
}

bool IncidentStore::notification_failed(std::int64_t id, int attempts, const std::string &error, TimePoint now)
{
    const bool again = attempts <= policy_.notify_retries;
    auto s = db_.prepare("UPDATE incident_notifications SET state = ?, error = ?, due_at = ? WHERE id = ?");
    // Retries wait the delay, doubled each time, a week at most.
    const double seconds = std::chrono::duration<double>(policy_.notify_retry_delay).count() *
                           std::pow(2.0, std::clamp(attempts - 1, 0, 30));
    const auto delay = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(std::min(seconds, 7 * 86400.0)));
    if (again) {
        s.bind(1, "pending").bind(2, error).bind(3, ts(now + delay)).bind(4, id);
        s.run();
        return true;
    }
    Transaction t(db_);
    s.bind(1, "failed").bind(2, error).bind(3, ts(now)).bind(4, id);
    s.run();
    auto q = db_.prepare(
        "SELECT e.incident_id, n.argv FROM incident_notifications n JOIN incident_events e ON e.id = n.event_id "
        "WHERE n.id = ?");
    q.bind(1, id);
    if (q.step()) {
        const auto incident = find(q.integer(0));
        std::string command;
        JsonParser parser(4);
        json::value v;
        std::string why;
        if (parser.parse(q.text(1), v, why) && v.is_array() && !v.get_array().empty() && v.get_array()[0].is_string())
            command = v.get_array()[0].get_string();
        // The error names the command first ("notify-slack: exit status 69"): said once.
        std::string_view reason = error;
        if (reason.starts_with(command + ": "))
            reason.remove_prefix(command.size() + 2);
        if (incident)
            add_event(*incident, Event::notify_failed, now, [&](ObjectWriter &w) {
                w.string("command", command).string("reason", reason).integer("attempts", attempts);
            });
    }
    t.commit();
    return false;
}

std::vector<Incident> read_incidents(Database &db, bool open_only, std::size_t limit)
{
    std::vector<Incident> out;
    if (!has_table(db, "incidents"))
        return out;  // dht-record's database, no dht-escalate yet
    auto s = db.prepare(cat("SELECT ", kColumns, " FROM incidents ", open_only ? "WHERE state <> 'resolved' " : "",
                            "ORDER BY id DESC LIMIT ?"));
    s.bind(1, limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(limit));
    while (s.step())
        out.push_back(read_incident(s));
    std::reverse(out.begin(), out.end());
    return out;
}

std::vector<Incident> IncidentStore::list(bool open_only, std::size_t limit)
{
    return read_incidents(db_, open_only, limit);
}

std::vector<std::string> IncidentStore::history(std::int64_t id)
{
    std::vector<std::string> out;
    auto s = db_.prepare("SELECT record FROM incident_events WHERE incident_id = ? ORDER BY id");
    s.bind(1, id);
    while (s.step())
        out.emplace_back(s.text(0));
    return out;
}

}  // namespace dht::escalate
