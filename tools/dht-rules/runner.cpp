#include "runner.hpp"

#include "dht/diag.hpp"
#include "dht/record.hpp"
#include "dht/signals.hpp"

#include <mosquitto.h>

namespace dht::rules {

Runner::Runner(const Options &o, RuleSet rules)
    : o_(o), state_(o.state_file),
      engine_(std::move(rules), o.repeat, [this](std::string_view r) { emit(r); }, o.bounds),
      readings_(o.common.readings),
      fields_(o.common.max_depth),
      clock_(o.clock == "records" ? ClockMode::records : o.clock == "wall" ? ClockMode::wall : ClockMode::automatic)
{
    engine_.set_calibration(&readings_.calibration());
    make_scanners();
    if (o.mqtt.wants_broker())
        session_.emplace(o.mqtt);
    if (o.report)
        report_.emplace();
    if (state_.enabled())
        engine_.track_changes();
    state_.load(engine_);
    fields_.reset(engine_.rules());
}

template <class Rescan>
void Runner::message(std::string_view topic, TimePoint time, const Rescan &rescan)
{
    feed(engine_, *scanner_, topic, time);
    if (report_)
        report_->clock(time);
    if (!fields_.done())
        fields_.message(engine_.rules(), *scanner_, rescan);
}

int Runner::run()
{
    int status = exit_ok;
    try {
        if (session_) {
            session_->start();
            if (o_.mqtt.topics.empty())
                status = run_stdin();
            else
                status = run_mqtt();
        } else {
            status = run_stdin();
        }
    } catch (const Exit &) {
        finish();
        throw;
    } catch (const ClosedOutput &) {
        finish();
        throw;
    }
    finish();
    if (session_) {
        if (const auto f = session_->failure(); f && status == exit_ok)
            status = *f;
        if ((session_->pending_publishes() > 0 || session_->refused_publishes() > 0) && status == exit_ok)
            status = exit_unavailable;  // alerts that reached neither the broker nor a retry
    }
    return status;
}

void Runner::emit(std::string_view record)
{
    if (report_) {
        report_->alert(record);
        return;
    }
    auto &buf = out_.buffer();
    buf += record;
    buf += '\n';
    if (session_ && !o_.mqtt.publish_topic.empty())
        session_->publish(o_.mqtt.publish_topic, record, o_.mqtt.publish_qos, false);
}

void Runner::finish()
{
    if (finished_)
        return;
    finished_ = true;
    if (clock_ == ClockMode::wall)
        engine_.advance(now());
    state_.save(engine_);
    if (report_)
        out_.write(report_->table());
    try {
        out_.flush();
    } catch (const ClosedOutput &) {
    }
    if (session_)
        session_->stop();
    engine_.cap().summary();
    debug(cat(engine_.fired(), " alerts fired, ", engine_.resolved(), " resolved, ", engine_.sensors(), " sensors, ",
              engine_.forgotten(), " forgotten; ", state_.written(), " bytes of state written; ", scanned_ahead_,
              " readings scanned as the input was read ahead"));
}

void Runner::idle()
{
    out_.flush();
    if (state_.enabled() && engine_.dirty()) {
        const auto t = std::chrono::steady_clock::now();
        if (engine_.alerted() || t - last_save_ >= std::chrono::seconds(5)) {
            state_.save_changes(engine_);
            last_save_ = t;
        }
    }
}

void Runner::reload()
{
    warn("SIGHUP: reading the rules again");
    readings_.reload_calibration();
    make_scanners();  // with the calibration now in force, whether or not the rules change
    std::optional<RuleSet> rules;
    try {
        rules = load_rules(o_.rule_files, o_.inline_rules);
    } catch (const Exit &) {
        // A rule file that cannot be read (said already): the rules in force stay.
    }
    if (rules)
        if (const auto why = check_bounds(*rules, o_.bounds); !why.empty()) {
            warn(why);
            rules.reset();
        }
    if (!rules) {
        warn("keeping the rules in force");
        return;
    }
    engine_.replace(std::move(*rules));
    make_scanners();
    fields_.reset(engine_.rules());
    const std::size_t n = engine_.rules().rules.size();
    warn(cat(n, n == 1 ? " rule" : " rules", " in force"));
    state_.save(engine_);
}

void Runner::make_scanners()
{
    scanner_ = std::make_unique<RecordScanner>(engine_.rules().fields, o_.common.max_depth, false, &readings_);
    if (ahead_)
        ahead_->configure(engine_.rules().fields, !readings_.calibrates());
}

void Runner::line(LineInput &input, std::string_view text)
{
    // A reading scanned as the file was read ahead (after FieldCheck's first
    // readings, which it scans again), or else the line is scanned here.
    ScanAhead::Seen seen;
    const bool scanned = ahead_ && fields_.done() && ahead_->seen(input, seen);
    RecordScanner::Origin &from = seen.from;
    const auto kind = scanned ? RecordScanner::Kind::bare : scanner_->scan_message(text, o_.bare_topic, from, error_);
    if (kind == RecordScanner::Kind::invalid)
        return input.report(error_);
    // A record from the future would hold the timers' clock there.
    if (kind != RecordScanner::Kind::other && from.time)
        if (auto ahead = check_skew(*from.time, o_.max_skew, input.received()); !ahead.empty())
            return input.report(ahead);
    if (o_.pass)
        pass(text);
    const TimePoint time = from.time ? *from.time : input.received();
    if (scanned) {
        ++scanned_ahead_;
        engine_.reading({record_sensor(from.topic, seen.sensor), from.topic, time, seen.values});  // as feed() would
        if (report_)
            report_->clock(time);
    } else if (kind != RecordScanner::Kind::other) {
        message(from.topic, time, [&](RecordScanner &again) {
            RecordScanner::Origin unused;
            again.scan_message(text, o_.bare_topic, unused, error_);
        });
    }
    out_.maybe_flush();
}

void Runner::pass(std::string_view text)
{
    auto &buf = out_.buffer();
    buf += text;
    buf += '\n';
}

int Runner::run_stdin()
{
    ahead_ = std::make_unique<ScanAhead>(o_.bare_topic, o_.common.max_depth);
    make_scanners();
    LineInput input(o_.common, 0, "stdin", ahead_.get());
    input.run({.line = [&](std::string_view text) { line(input, text); },
               .idle = [&] { idle(); },
               // A wait that times out is a pause in the input: timers follow the wall clock.
               .wait_ms = [&] { return clock_ == ClockMode::records && !state_.enabled() ? -1 : 500; },
               .timeout =
                   [&] {
                       if (clock_ != ClockMode::records)
                           engine_.advance(now());
                   },
               .stop =
                   [&] {
                       if (take_reload())
                           reload();
                       // The broker is out of reach past --connect-timeout.
                       return session_ && session_->failure();
                   }});
    return exit_ok;
}

int Runner::run_mqtt()
{
    engine_.each_topic([this](std::string_view topic) { watch_status(topic); });  // known from --state
    JsonParser parser(o_.common.max_depth);
    std::string record;
    return consume(
        *session_,
        [&](const MqttMessage &m) {
            if (payload_too_long(o_.common, m.topic, m.payload.size()))
                return true;
            if (o_.pass) {
                record.clear();
                append_message_record(record, make_message(parser, m.topic, m.payload, m.qos, m.retain, m.received));
                pass(record);
            }
            scanner_->scan_payload(m.payload, m.topic);
            if (scanner_->payload_is_object() && !scanner_->payload_is_record())
                watch_status(m.topic);
            message(m.topic, m.received, [&](RecordScanner &again) { again.scan_payload(m.payload); });
            return true;
        },
        [&] { idle(); },
        [&]() -> std::optional<int> {
            if (take_reload())
                reload();
            if (clock_ != ClockMode::records)
                engine_.advance(now());
            idle();
            return std::nullopt;
        });
}

// A retained status reaches a subscription to its exact topic on every
// broker, a wildcard subscription only on some (not RabbitMQ's). So once a
// sensor is known (a reading, or --state), its status topic (SPEC section 3: the reading's
// topic with "status" for the last level) is subscribed to by name as well,
// when a wildcard among -t covers it: a sensor already offline when dht-rules
// started is then heard of. At most --max-sensors such topics.
void Runner::watch_status(std::string_view data_topic)
{
    const auto slash = data_topic.rfind('/');
    if (slash == std::string_view::npos)
        return;
    const std::string_view prefix = data_topic.substr(0, slash);
    if (watched_.size() >= o_.bounds.max_sensors || watched_.contains(prefix))
        return;
    watched_.emplace(prefix);
    if (watched_.size() == o_.bounds.max_sensors)
        warn(cat("the status topics of ", watched_.size(), " sensors looked at (--max-sensors): no more"));
    const std::string status = cat(prefix, "/status");
    bool covered = false;
    for (const auto &filter : o_.mqtt.topics) {
        if (filter == status)
            return;  // subscribed to by name already
        bool match = false;
        covered = covered ||
                  (mosquitto_topic_matches_sub(filter.c_str(), status.c_str(), &match) == MOSQ_ERR_SUCCESS && match);
    }
    if (!covered)
        return;
    session_->subscribe(status);
    debug(cat("subscribing to ", status, " by name"));
}

}  // namespace dht::rules
