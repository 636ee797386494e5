// Incidents in SQLite: opened by firing alerts (one per rule and sensor,
// repeats folded in), climbing levels on a schedule kept in the database,
// acknowledged and resolved by people or by the alert's end. Every state change
// is an event row, the incident record it publishes, waiting in an outbox
// until a process prints and publishes it, and the notifications it causes
// wait in their own queue; so a crash or a restart loses nothing, and the
// daemon, `tick` from cron and `ack` from a shell can share one file.
#pragma once

#include "policy.hpp"
#include "silences.hpp"

#include "dht/json.hpp"
#include "dht/sqlite.hpp"
#include "dht/time.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dht::escalate {

struct Alert {
    std::string rule;
    std::string sensor;
    bool firing = true;
    std::string action = "alert";      // alert, notify, escalate
    std::string severity = "warning";  // info, warning, critical
    std::string field;
    std::optional<double> value;
    std::string message;
};

// The alert a record is or carries: itself when its "kind" is "alert", the
// payload of a message record (dht-sub's, dht-record's) that is one; else null.
const json::object *carried_alert(const json::object &record);

// An alert record (or an alert carried as a message payload); nullopt with
// `error` set when a key has the wrong type or value.
std::optional<Alert> alert_from_record(const json::object &record, std::string &error);

struct Response {
    std::int64_t incident_id = 0;
    bool resolve = false;  // else acknowledge
    std::string by;
};

// {"incident_id":7,"action":"ack"|"acknowledge"|"resolve","by":"ana"}
std::optional<Response> response_from_record(const json::object &record, std::string &error);

int severity_rank(std::string_view severity) noexcept;  // info 0, warning 1, critical 2; -1 if unknown

struct Incident {
    std::int64_t id = 0;
    std::string rule, sensor, field, severity, state, message;
    std::string action = "alert";  // the opening alert's; a notify never climbs
    int level = 1;
    std::optional<double> value;
    std::int64_t alerts = 0;
    std::int64_t notify_failed = 0;  // notifications given up on
    std::string opened_at, updated_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, cleared_at,
        next_at;
};

// The incidents of a database, oldest first (not resolved only with
// `open_only`; the newest `limit`, 0: all); none when it has no incident
// table. Reads only.
std::vector<Incident> read_incidents(Database &db, bool open_only, std::size_t limit);

// The listing record of an incident: its state, no "event".
std::string incident_state_record(const Incident &incident);

struct EventRow {
    std::int64_t id = 0;
    std::int64_t incident_id = 0;
    std::string event;
    std::string record;  // JSON, one line
};

struct PendingNotification {
    std::int64_t id = 0;
    Command argv;
    std::string record;
    int attempts = 0;  // before this one
};

enum class Answer { done, unknown, already, resolved_already, too_many };

class IncidentStore {
public:
    // Opens (creating with `create`) the database in WAL mode and puts the
    // incident tables in it beside whatever is there (dht-record's tables).
    IncidentStore(const std::string &path, bool create);

    void set_policy(const EscalationPolicy &policy) { policy_ = policy; }
    const EscalationPolicy &policy() const noexcept { return policy_; }

    // alert(), acknowledge() and resolve() run in the caller's transaction
    // (dht::Transaction on db()).
    // A firing alert opens an incident or folds into the open one; a resolved
    // alert resolves it (or, without auto_resolve, only notes it cleared).
    void alert(const Alert &alert, TimePoint now, bool auto_resolve);
    Answer acknowledge(std::int64_t id, const std::string &by, TimePoint now);
    Answer resolve(std::int64_t id, const std::string &by, const std::string &reason, TimePoint now);
    // Climbs, reminders and acknowledgement timeouts due at `now`; returns how
    // many events were written. Runs its own transaction when work is due.
    std::size_t run_due(TimePoint now);
    // When run_due() next has something to do.
    std::optional<std::string> next_due();

    // The outbox. Every event is written here first; a process prints the
    // events written since it started (events_after) and, with a broker,
    // claims the unpublished ones and publishes them. An event is marked
    // published only once the broker acknowledged it (mark_published); until
    // then it is claimed by the process sending it, so that two processes do
    // not send it twice. A claim is this store's alone (a process id and a
    // random number); the claim of a process that is gone, or older than ten
    // minutes, is taken over, so an event a crash left unacknowledged is sent
    // again. release() gives up this store's claims on `ids`.
    std::int64_t last_event_id();
    std::vector<EventRow> events_after(std::int64_t id, std::size_t limit);
    std::vector<EventRow> claim_unpublished(std::size_t limit);
    void mark_published(const std::vector<std::int64_t> &ids);
    void release(const std::vector<std::int64_t> &ids);
    bool has_unpublished();

    // The policy the daemon runs, kept for ack, resolve and tick run without one.
    std::optional<EscalationPolicy> stored_policy();
    void store_policy(const EscalationPolicy &policy, TimePoint now);

    // Notifications due at `now`, each claimed for `lease` (a crash lets
    // them run again after it); finished ones are reported back.
    std::vector<PendingNotification> claim_notifications(TimePoint now, std::chrono::nanoseconds lease,
                                                         std::size_t limit);
    void notification_done(std::int64_t id);
    // A failed try: again after `delay`, or given up (false) past the retries,
    // which writes a notify-failed event for the incident.
    bool notification_failed(std::int64_t id, int attempts, const std::string &error, TimePoint now);

    // Silences (silences.hpp), in the caller's transaction. A new silence
    // silences the incidents it matches at once (a "silenced" event each):
    // they climb and page no more until it ends. Answer::too_many past
    // kMaxActiveSilences in force.
    Answer add_silence(const SilenceRequest &request, TimePoint now, Silence &added);
    // Ends silence `id` now: the incidents it held are looked at again by
    // the next run_due (the daemon's, or a tick's).
    Answer expire_silence(std::int64_t id, const std::string &by, TimePoint now, Silence &expired);

    std::optional<Incident> find(std::int64_t id);
    std::vector<Incident> list(bool open_only, std::size_t limit);
    std::vector<std::string> history(std::int64_t id);

    Database &db() noexcept { return db_; }

private:
    std::optional<Incident> open_incident(const std::string &rule, const std::string &sensor);
    void climb(const Incident &incident, TimePoint now, std::optional<TimePoint> scheduled, const std::string &reason);
    std::string schedule_after(const Incident &incident, int level, TimePoint from, bool acknowledged) const;
    // The silence in force at `now` that holds this rule and sensor longest.
    std::optional<Silence> silencing(const std::string &rule, const std::string &sensor, TimePoint now);
    void silence_incident(const Incident &incident, const Silence &silence, TimePoint now);
    // The last of its opened, escalation, reminder and acknowledged events
    // ("" when none): where a silenced incident stood.
    std::string last_answer_event(std::int64_t id);
    // A silenced incident whose silences have all ended: paged now if it never was.
    void unsilence(const Incident &incident, TimePoint now);
    // Writes the event's record; `extra` adds its own keys after "event".
    // Without `page`, none of the policy's commands run for it.
    void add_event(const Incident &incident, Event event, TimePoint now,
                   const std::function<void(ObjectWriter &)> &extra = nullptr, bool page = true);

    Database db_;
    EscalationPolicy policy_;
    std::int64_t claim_token_;  // random: tells this store's claims from those of a process gone
};

}  // namespace dht::escalate
