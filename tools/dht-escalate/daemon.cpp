#include "daemon.hpp"

#include "dht/diag.hpp"
#include "dht/signals.hpp"

#include <thread>

namespace dht::escalate {
namespace {

// Incidents changed together in one transaction at most.
constexpr std::size_t kBatch = 1000;
// Commands running at once.
constexpr std::size_t kMaxChildren = 8;

// {"incident_id":7,"action":"ack"}, {"action":"silence",…} or {"action":"expire","silence_id":3}.
bool is_operator_message(const json::object &o)
{
    const auto *action = o.if_contains("action");
    return action != nullptr && (o.contains("incident_id") || o.contains("silence_id") ||
                                 (action->is_string() && action->get_string() == "silence"));
}

}  // namespace

bool wait_connected(Session &session, std::chrono::nanoseconds limit)
{
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!session.connected() && !session.failure() && !stop_requested() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return session.connected();
}

Outbox::Outbox(IncidentStore &store, Session *session, const Topics &topics, int qos, Output *out)
    : store_(store), session_(session), topics_(topics), qos_(qos), out_(out), started_at_(store.last_event_id()),
      printed_up_to_(started_at_)
{
}

void Outbox::acknowledgements()
{
    for (const auto &o : session_->take_outcomes()) {
        const auto id = static_cast<std::int64_t>(o.token);
        const auto e = in_flight_.find(id);
        if (e == in_flight_.end())
            continue;
        if (o.acknowledged) {
            acknowledged_.push_back(id);
            if (id <= started_at_)  // older than this process: printed as it is published
                to_print_.emplace(id, std::move(e->second));
        } else {
            refused_.push_back(id);  // said already; it waits for the next process
        }
        in_flight_.erase(e);
    }
    if (!acknowledged_.empty()) {
        store_.mark_published(acknowledged_);  // a busy database: kept for the next turn
        acknowledged_.clear();
    }
}

void Outbox::flush()
{
    if (session_ != nullptr) {
        acknowledgements();
        if (session_->connected()) {
            // A QoS 0 event not yet written when a connection ended is lost
            // with it (libmosquitto sends QoS 1 and 2 again itself): sent again.
            if (const auto connects = session_->connects(); connects != connects_) {
                if (qos_ == 0 && !in_flight_.empty()) {
                    std::vector<std::int64_t> lost;
                    for (const auto &[id, record] : in_flight_)
                        lost.push_back(id);
                    store_.release(lost);
                    in_flight_.clear();
                }
                connects_ = connects;
            }
            for (auto rows = store_.claim_unpublished(256); !rows.empty(); rows = store_.claim_unpublished(256)) {
                for (auto &row : rows) {
                    session_->publish(row.event == "escalation" ? topics_.escalation : topics_.incidents, row.record,
                                      qos_, false, static_cast<std::uint64_t>(row.id));
                    in_flight_.emplace(row.id, row.id <= started_at_ ? std::move(row.record) : std::string());
                }
            }
        }
    }
    print();
}

void Outbox::print()
{
    if (out_ == nullptr)
        return;
    // Newer events are printed as they are written (events_after).
    for (auto rows = store_.events_after(printed_up_to_, 256); !rows.empty();
         rows = store_.events_after(printed_up_to_, 256)) {
        for (auto &row : rows)
            to_print_.emplace(row.id, std::move(row.record));
        printed_up_to_ = rows.back().id;
    }
    try {
        for (const auto &[id, record] : to_print_) {
            auto &buf = out_->buffer();
            buf += record;
            buf += '\n';
        }
        to_print_.clear();
        out_->flush();
    } catch (const ClosedOutput &) {
        // Nobody reads stdout any more: a quiet end, the broker still served.
        out_ = nullptr;
        request_stop();
    }
}

void Outbox::settle()
{
    if (session_ == nullptr)
        return;
    acknowledgements();
    std::vector<std::int64_t> left = refused_;
    for (const auto &[id, record] : in_flight_)
        left.push_back(id);
    if (!left.empty())
        store_.release(left);
    if (const auto n = in_flight_.size(); n > 0)
        warn(cat(n, n == 1 ? " event waits" : " events wait", " in the database for the next run"));
    in_flight_.clear();
    refused_.clear();
    print();
}

bool Outbox::waiting() { return store_.has_unpublished(); }

Daemon::Daemon(DaemonOptions options, IncidentStore &store, Session *session)
    : o_(std::move(options)), store_(store), session_(session),
      outbox_(store, session, o_.topics, o_.publish_qos, &out_), notifier_(store.policy().notify_timeout),
      parser_(o_.common.max_depth)
{
}

void Daemon::line(const json::object &record)
{
    std::string error;
    const auto *kind = record.if_contains("kind");
    const json::object *alert = nullptr;
    const json::object *answer = nullptr;
    if (kind == nullptr) {
        if (is_operator_message(record))
            answer = &record;  // a bare answer: echo '{"incident_id":7,"action":"ack"}' | dht-escalate
    } else if (!kind->is_string()) {
        input_->report("\"kind\" is not a string");
        return;
    } else if (alert = carried_alert(record); alert == nullptr && kind->get_string() == "message") {
        // dht-sub's records: answers carried as payloads (alerts too, above).
        const auto *payload = record.if_contains("payload");
        const auto *topic = record.if_contains("topic");
        const auto *p = payload != nullptr ? payload->if_object() : nullptr;
        if (p != nullptr && ((topic != nullptr && topic->is_string() && !o_.topics.response.empty() &&
                              topic->get_string() == o_.topics.response) ||
                             (!p->contains("kind") && is_operator_message(*p))))
            answer = p;
    }
    if (alert != nullptr) {
        auto a = alert_from_record(*alert, error);
        if (!a)
            return input_->report(error);
        if (!a->firing || severity_rank(a->severity) >= o_.min_severity)
            pending_.push_back({std::move(*a), {}});
    } else if (answer != nullptr) {
        if (!operator_message(*answer, input_->position(), error))
            return input_->report(error);
    }
    if (pending_.size() >= kBatch)
        apply_pending();
}

void Daemon::mqtt_message(const MqttMessage &m)
{
    json::value v;
    std::string error;
    const bool is_answer = m.topic == o_.topics.response;
    const auto bad = [&](const std::string &what) {
        ++bad_messages_;
        warn(cat(m.topic, ": ", what, " (skipped)"));
    };
    if (payload_too_long(o_.common, m.topic, m.payload.size())) {
        ++bad_messages_;
        return;
    }
    if (!parser_.parse(m.payload, v, error))
        return is_answer ? bad(error) : debug(cat(m.topic, ": not an alert (", error, ")"));
    const auto *o = v.if_object();
    if (o == nullptr)
        return is_answer ? bad("not a JSON object") : debug(cat(m.topic, ": not an alert"));
    if (is_answer) {
        if (!operator_message(*o, m.topic, error))
            bad(error);
        return;
    }
    const auto *kind = o->if_contains("kind");
    if (kind == nullptr || !kind->is_string() || kind->get_string() != "alert")
        return;  // our own incidents, readings: not for us
    auto a = alert_from_record(*o, error);
    if (!a)
        return bad(error);
    if (!a->firing || severity_rank(a->severity) >= o_.min_severity)
        pending_.push_back({std::move(*a), {}});
}

bool Daemon::operator_message(const json::object &o, const std::string &source, std::string &error)
{
    const auto *action = o.if_contains("action");
    const auto *name = action != nullptr ? action->if_string() : nullptr;
    std::string why;
    if (name != nullptr && *name == "silence") {
        if (auto r = silence_request_from_record(o, why)) {
            pending_.push_back({std::move(*r), source});
            return true;
        }
    } else if (name != nullptr && *name == "expire") {
        if (auto r = expire_request_from_record(o, why)) {
            pending_.push_back({std::move(*r), source});
            return true;
        }
    } else if (auto r = response_from_record(o, why)) {
        pending_.push_back({std::move(*r), source});
        return true;
    }
    error = cat(name != nullptr && (*name == "silence" || *name == "expire") ? std::string_view(*name) : "answer",
                ": ", why);
    return false;
}

void Daemon::apply(const Work &work, TimePoint now)
{
    if (const auto *a = std::get_if<Alert>(&work.what)) {
        store_.alert(*a, now, o_.auto_resolve);
        return;
    }
    Silence silence;
    if (const auto *r = std::get_if<SilenceRequest>(&work.what)) {
        if (store_.add_silence(*r, now, silence) == Answer::too_many)
            warn(cat(work.source, ": silence not added: ", kMaxActiveSilences, " silences are in force already"));
        else
            out_.write(silence_record(silence) + "\n");
        return;
    }
    if (const auto *r = std::get_if<ExpireRequest>(&work.what)) {
        const auto answer = store_.expire_silence(r->id, r->by, now, silence);
        if (answer == Answer::unknown)
            warn(cat(work.source, ": silence ", r->id, ": no such silence"));
        else if (answer == Answer::already)
            debug(cat(work.source, ": silence ", r->id, " has ended already"));
        else
            out_.write(silence_record(silence) + "\n");
        return;
    }
    const auto &r = std::get<Response>(work.what);
    const auto answer = r.resolve ? store_.resolve(r.incident_id, r.by, "by hand", now)
                                  : store_.acknowledge(r.incident_id, r.by, now);
    if (answer == Answer::unknown)
        warn(cat(work.source, ": incident ", r.incident_id, ": no such incident"));
    else if (answer == Answer::resolved_already && !r.resolve)
        debug(cat(work.source, ": incident ", r.incident_id, " is resolved already"));
}

void Daemon::apply_pending()
{
    if (pending_.empty())
        return;
    const auto now = dht::now();
    try {
        Transaction t(store_.db());
        for (const auto &w : pending_)
            apply(w, now);
        t.commit();
        pending_.clear();
    } catch (const SqliteError &e) {
        if (!e.busy())
            throw;
        // Another writer holds the database past the busy timeout: kept, tried again.
        warn(cat(store_.db().path(), ": ", e.what(), "; ", pending_.size(), " changes kept for the next try"));
    }
}

void Daemon::finished(const std::vector<Notifier::Finished> &done, TimePoint now)
{
    unrecorded_.insert(unrecorded_.end(), done.begin(), done.end());
    // Written one by one: a busy database keeps the rest for the next turn.
    while (!unrecorded_.empty()) {
        const auto &f = unrecorded_.front();
        if (f.ok) {
            store_.notification_done(f.id);
        } else {
            // Attempts are counted when claimed; the row holds the count.
            auto s = store_.db().prepare("SELECT attempts FROM incident_notifications WHERE id = ?");
            s.bind(1, f.id);
            const int attempts = s.step() ? static_cast<int>(s.integer(0)) : 1;
            if (store_.notification_failed(f.id, attempts, f.error, now)) {
                warn(cat("notification ", f.id, ": ", f.error, "; trying again later"));
            } else {
                warn(cat("notification ", f.id, ": ", f.error, "; giving up after ", attempts,
                         attempts == 1 ? " try" : " tries"));
                ++given_up_;
            }
        }
        unrecorded_.erase(unrecorded_.begin());
    }
}

void Daemon::notifications(TimePoint now)
{
    finished(notifier_.poll(), now);
    if (finishing_ || notifier_.running() >= kMaxChildren)
        return;
    // A claim lasts past the command's timeout: a crash lets it run again later.
    const auto lease = store_.policy().notify_timeout + std::chrono::seconds(10);
    for (const auto &n : store_.claim_notifications(now, lease, kMaxChildren - notifier_.running())) {
        std::string error;
        debug(cat("notification ", n.id, ": ", join_command(n.argv)));
        if (!notifier_.start(n.id, n.argv, n.record, error))
            finished({{n.id, false, error}}, now);
    }
}

void Daemon::housekeeping()
{
    if (take_reload() && o_.reload) {
        if (auto policy = o_.reload()) {
            store_.set_policy(*policy);
            notifier_.set_timeout(policy->notify_timeout);
            store_.store_policy(*policy, dht::now());
        }
    }
    apply_pending();
    const auto now = dht::now();
    try {
        store_.run_due(now);
        outbox_.flush();
        notifications(now);
    } catch (const SqliteError &e) {
        if (!e.busy())
            throw;
        debug(cat(store_.db().path(), ": ", e.what(), " (trying again)"));
    }
}

void Daemon::finish()
{
    // The events of this run go out before exit: the broker gets the time a
    // tick would give it.
    if (session_ != nullptr && !waited_ && !session_->connected() && !session_->failure())
        wait_connected(*session_, o_.connect_wait);
    housekeeping();
    finishing_ = true;
    // (A broker that refused us: its own status, 78, says so.)
    if (session_ != nullptr && !session_->connected() && !session_->failure() && outbox_.waiting()) {
        warn("no broker: the events wait in the database for the next run");
        undelivered_ = true;
    }
    if (notifier_.running() > 0) {
        const auto limit = std::min<std::chrono::nanoseconds>(store_.policy().notify_timeout, std::chrono::seconds(10));
        finished(notifier_.wait_all(limit), dht::now());
        try {
            outbox_.flush();  // the notify-failed events of the last commands
        } catch (const SqliteError &e) {
            if (!e.busy())
                throw;
        }
    }
    if (bad_messages_ > 0)
        warn(cat(bad_messages_, bad_messages_ == 1 ? " bad message" : " bad messages", " skipped"));
    if (given_up_ > 0)
        warn(cat(given_up_, given_up_ == 1 ? " notification" : " notifications", " given up (notify-failed events)"));
}

int Daemon::tick()
{
    if (session_ != nullptr) {
        wait_connected(*session_, o_.connect_wait);
        waited_ = true;
    }
    housekeeping();
    // Wait for the commands this run started, and run what they leave due now.
    const auto until = std::chrono::steady_clock::now() + store_.policy().notify_timeout + std::chrono::seconds(3);
    while (notifier_.running() > 0 && std::chrono::steady_clock::now() < until && !stop_requested()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        finished(notifier_.poll(), dht::now());
    }
    finish();
    return undelivered_ || given_up_ > 0 ? exit_unavailable : exit_ok;
}

int Daemon::run()
{
    int status = exit_ok;
    if (o_.alerts_from_mqtt) {
        status = consume(
            *session_, [&](const MqttMessage &m) { mqtt_message(m); return true; }, [&] { housekeeping(); },
            [&]() -> std::optional<int> {
                housekeeping();
                return std::nullopt;
            },
            [&] { finish(); });
        // What came in as the session stopped (acknowledged already) is kept;
        // its events wait in the outbox for the next run.
        apply_pending();
        return status;
    }
    input_ = std::make_unique<RecordInput>(o_.common);
    // --strict ends the run at a bad line: what came before it is kept.
    struct FinishOnExit {
        Daemon &d;
        bool armed = true;
        ~FinishOnExit()
        {
            if (armed) {
                try {
                    d.finish();
                } catch (...) {
                }
            }
        }
    } guard{*this};
    if (session_ != nullptr)
        session_->start();
    std::vector<MqttMessage> batch;
    RecordInput::Handlers h;
    h.record = [&](const json::object &record, std::string_view) { line(record); };
    h.idle = [&] {
        if (session_ != nullptr) {
            batch.clear();
            session_->receive(batch, std::chrono::milliseconds(0));
            for (const auto &m : batch)
                mqtt_message(m);
            if (const auto f = session_->failure())
                request_stop();  // said already; the status comes from the session
        }
        housekeeping();
    };
    h.wait_ms = [] { return 100; };
    input_->run(h);
    guard.armed = false;
    finish();
    return undelivered_ ? exit_unavailable : status;
}

FileLock lock_daemon(const std::string &db)
{
    std::string error;
    auto lock = FileLock::acquire(db + ".daemon-lock", error);
    if (!lock)
        fail(exit_unavailable, cat(db, ".daemon-lock: ", error,
                                   ": another dht-escalate daemon runs on this database (one only: two would "
                                   "count every alert twice); tick, ack, list and show may run beside it"));
    return std::move(*lock);
}

}  // namespace dht::escalate
