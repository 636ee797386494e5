// What the long-running dht-escalate and its `tick` do: alerts and answers
// in (stdin, MQTT), incidents changed in the database, then the outbox
// printed and published, timers run, notification commands started and reaped.
#pragma once

#include "incidents.hpp"
#include "notify.hpp"

#include "dht/cli.hpp"
#include "dht/files.hpp"
#include "dht/input.hpp"
#include "dht/mqtt.hpp"
#include "dht/output.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dht::escalate {

struct Topics {
    std::string escalation = "dht11/alerts/escalation";
    std::string incidents = "dht11/incidents";
    std::string response = "dht11/incidents/response";
};

struct DaemonOptions {
    CommonOptions common;
    Topics topics;
    int publish_qos = 1;
    bool auto_resolve = true;
    int min_severity = 0;
    bool alerts_from_mqtt = false;  // -t given: alerts come from MQTT, not stdin
    // How long `tick` waits for the broker before leaving the outbox to a later run.
    std::chrono::nanoseconds connect_wait = std::chrono::seconds(10);
    // Reads the policy again (SIGHUP); nullopt keeps the one in force.
    std::function<std::optional<EscalationPolicy>()> reload;
};

// Waits until `session` is connected (true), has failed or `limit` passed.
bool wait_connected(Session &session, std::chrono::nanoseconds limit);

// The events going out of one process: those written since it started are
// printed (its own and those of `ack` run beside it); with a connected
// broker, every unpublished one is claimed and published, and marked
// published once the broker acknowledged it.
class Outbox {
public:
    // `out` may be null: nothing printed.
    Outbox(IncidentStore &store, Session *session, const Topics &topics, int qos, Output *out);
    void flush();
    // After the session stopped: the last acknowledgements marked, and the
    // events never acknowledged (or refused) left to wait for the next process.
    void settle();
    // Unpublished events remain (nothing reached a broker).
    bool waiting();

private:
    void acknowledgements();
    void print();

    IncidentStore &store_;
    Session *session_;
    Topics topics_;
    int qos_;
    Output *out_;
    std::int64_t started_at_;    // the last event written before this process began
    std::int64_t printed_up_to_;
    // Claimed and sent, not acknowledged yet: the record of an event older
    // than this process, printed once it is published ("" for the others).
    std::map<std::int64_t, std::string> in_flight_;
    std::vector<std::int64_t> acknowledged_;  // to be marked published
    std::vector<std::int64_t> refused_;       // kept claimed: not sent again by this process
    std::map<std::int64_t, std::string> to_print_;
    std::uint64_t connects_ = 0;
};

class Daemon {
public:
    Daemon(DaemonOptions options, IncidentStore &store, Session *session);

    // Until the end of stdin (or, with alerts from MQTT, a stop signal).
    int run();
    Outbox &outbox() noexcept { return outbox_; }
    // `tick`: what is due now, then wait for the notifications it started.
    int tick();

private:
    struct Work {
        std::variant<Alert, Response, SilenceRequest, ExpireRequest> what;
        std::string source;  // "stdin:12", a topic: where an answer that fails came from
    };

    void line(const json::object &record);
    // An operator's message (an answer, a silence added or expired) into
    // pending_; false with `error` set when it is not a good one.
    bool operator_message(const json::object &record, const std::string &source, std::string &error);
    void mqtt_message(const MqttMessage &m);
    void housekeeping();
    void apply_pending();
    void apply(const Work &work, TimePoint now);
    void notifications(TimePoint now);
    void finished(const std::vector<Notifier::Finished> &done, TimePoint now);
    void finish();

    DaemonOptions o_;
    IncidentStore &store_;
    Session *session_;
    Output out_;
    Outbox outbox_;
    Notifier notifier_;
    JsonParser parser_;
    std::unique_ptr<RecordInput> input_;
    std::vector<Work> pending_;
    std::vector<Notifier::Finished> unrecorded_;  // results a busy database did not take yet
    std::uint64_t bad_messages_ = 0;
    std::uint64_t given_up_ = 0;  // notifications given up on in this run
    bool finishing_ = false;    // no new notification commands
    bool waited_ = false;       // the broker was given its time already
    bool undelivered_ = false;  // the broker never came: events left in the outbox
};

// One daemon per database (a second would count every alert twice): a lock
// beside the database file, DB.daemon-lock, held for the daemon's life.
// Exits 69, saying who holds it, when another daemon does.
FileLock lock_daemon(const std::string &db);

}  // namespace dht::escalate
