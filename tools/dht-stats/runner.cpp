#include "runner.hpp"

#include "dht/diag.hpp"
#include "dht/files.hpp"
#include "dht/net.hpp"
#include "dht/signals.hpp"

#include <unistd.h>

namespace dht::stats {

Runner::Runner(const Options &o)
    : o_(o), started_wall_(now()), started_(std::chrono::steady_clock::now()),
      scanner_({}, o.common.max_depth, true, &o.common.readings), every_(o.every), expire_(o.bounds.forget_after),
      run_(Limits{o.bounds.max_sensors, o.max_fields})
{
    format_ = o.format;
    if (format_ == "auto")
        format_ = ::isatty(1) ? "table" : "json";
    if (!o.plot.empty())
        plot_.emplace(o.plot_fields.empty() ? std::vector<std::string>{"temperature", "humidity"} : o.plot_fields);
    if (!o.listen.empty()) {
        // ":9464" listens on every address.
        const Endpoint b = parse_endpoint("--listen", o.listen, 0, true);
        server_.emplace(b.host, b.port, page_directory(o.www));
        server_->update(prometheus());
    }
    if (o.mqtt.wants_broker())
        session_.emplace(o.mqtt);
}

int Runner::run()
{
    int status = exit_ok;
    try {
        live_ = session_ && !o_.mqtt.topics.empty();
        status = live_ ? run_mqtt() : run_stdin();
    } catch (const Exit &) {
        finish();
        throw;
    } catch (const ClosedOutput &) {
        finish();  // the plot and the metrics file still get written
        throw;
    }
    if (!finish() && status == exit_ok)
        status = exit_ioerr;
    if (session_) {
        if (const auto f = session_->failure(); f && status == exit_ok)
            status = *f;
        if ((session_->pending_publishes() > 0 || session_->refused_publishes() > 0) && status == exit_ok)
            status = exit_unavailable;
    }
    return status;
}

double Runner::uptime() const
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void Runner::expire()
{
    if (!expire_)
        return;
    // History is judged by its own times; live MQTT input by the wall clock.
    const TimePoint edge = saturating_sub(live_ ? now() : clock(), *expire_);
    run_.expire(edge);
}

std::string Runner::prometheus()
{
    std::string text;
    render_prometheus(text, run_, {"summary", now(), run_.first(), run_.last(), uptime()});
    return text;
}

// Everything derived from the run so far: the metrics file and the server's text.
void Runner::refresh(bool force)
{
    const auto t = std::chrono::steady_clock::now();
    if (!force && t - last_refresh_ < std::chrono::seconds(1))
        return;
    last_refresh_ = t;
    if (!server_ && o_.prom_file.empty())
        return;
    expire();
    const std::string text = prometheus();
    if (server_)
        server_->update(text);
    // Not before the first record (a scrape would see zeros), unless at the end.
    if (!o_.prom_file.empty() && (!run_.empty() || finished_) &&
        (force || t - last_prom_write_ >= std::chrono::seconds(10))) {
        last_prom_write_ = t;
        if (const auto error = write_file_atomically(o_.prom_file, text, 0644); !error.empty()) {
            warn(cat("cannot write ", o_.prom_file, ": ", error));
            io_failed_ = true;
        }
    }
}

void Runner::report(const Aggregate &a, const std::string &scope, TimePoint from, TimePoint until)
{
    const Report r{scope, now(), from, until, uptime(), o_.common.readings.calibrates()};
    auto &buf = out_.buffer();
    if (format_ == "table")
        render_table(buf, a, r, o_.wide);
    else if (format_ == "prometheus")
        render_prometheus(buf, a, r);
    else
        render_json(buf, a, r);
    if (session_ && !o_.mqtt.publish_topic.empty()) {
        std::string record;
        render_json(record, a, r);
        record.pop_back();  // the newline
        session_->publish(o_.mqtt.publish_topic, record, o_.mqtt.publish_qos, false);
    }
    out_.flush();
}

void Runner::close_window()
{
    if (!window_ || window_->empty())
        return;
    report(*window_, "window", window_start_, saturating_add(window_start_, *every_));
    window_->clear();
    refresh(true);
}

// Moves time to `t`: closes the window that ends before it.
void Runner::advance(TimePoint t)
{
    if (!every_)
        return;
    if (!window_) {
        window_.emplace();
        window_start_ = floor_to(t);
        return;
    }
    if (t >= saturating_add(window_start_, *every_)) {
        close_window();
        window_start_ = floor_to(t);
    }
}

TimePoint Runner::floor_to(TimePoint t) const
{
    const auto n = t.time_since_epoch().count(), d = every_->count();
    std::chrono::nanoseconds::rep start;
    // The window holding a time near 1677 may begin before nanoseconds can say.
    if (__builtin_mul_overflow(n / d - (n % d < 0 ? 1 : 0), d, &start))
        return TimePoint::min();
    return TimePoint(std::chrono::nanoseconds(start));
}

void Runner::message(std::string_view topic, TimePoint time)
{
    if (scanner_.payload_is_record()) {
        // The toolkit's own records carried by MQTT: alerts and incidents were
        // published; stats (ours, read back) are not counted at all.
        if (scanner_.payload_kind() != "stats") {
            advance(time);
            run_.published();
            if (window_ && time >= window_start_)
                window_->published();
        }
        return;
    }
    advance(time);
    const std::string_view sensor = record_sensor(topic, scanner_.sensor());
    static const std::vector<Number> none;
    const auto &numbers = scanner_.payload_is_object() ? scanner_.numbers() : none;
    // A record older than the open window counts in the summary only.
    const bool in_window = window_ && time >= window_start_;
    const auto taken = run_.message(sensor, time, numbers.data(), numbers.size());
    if (taken == Aggregate::Taken::none)
        return;  // a sensor beyond --max-sensors
    if (in_window && taken == Aggregate::Taken::all) {
        window_->message(sensor, time, numbers.data(), numbers.size());
    } else if (in_window) {
        // The window keeps the fields the run keeps, no others.
        const SensorStats *s = run_.find(sensor);
        kept_.clear();
        for (const auto &n : numbers)
            if (s->has(n.path))
                kept_.push_back(n);
        window_->message(sensor, time, kept_.data(), kept_.size());
    }
    if (scanner_.payload_is_text() && !topic.ends_with("/status")) {
        run_.error();  // a payload that is not JSON, off a status topic
        if (in_window)
            window_->error();
    }
    if (plot_)
        for (const auto &n : numbers)
            if (const int f = plot_->field_index(n.path); f >= 0)
                plot_->add(sensor, f, time, n.value);
}

// What is wrong with a payload that has more numeric fields than --max-fields,
// or empty: no sensor keeps that many.
std::string Runner::too_many_fields() const
{
    const std::size_t n = scanner_.payload_is_object() ? scanner_.numbers().size() : 0;
    if (n <= o_.max_fields)
        return {};
    return cat(n, " numeric fields, over --max-fields (", o_.max_fields, ")");
}

// A bad input line counts as an error of the run and of the window.
void Runner::bad_line()
{
    run_.error();
    if (window_)
        window_->error();
}

void Runner::line(LineInput &input, std::string_view text)
{
    RecordScanner::Origin from;
    const auto kind = scanner_.scan_message(text, o_.bare_topic, from, error_);
    if (kind == RecordScanner::Kind::invalid)
        return input.report(error_);
    if (kind == RecordScanner::Kind::other) {
        if (scanner_.kind() == "alert" || scanner_.kind() == "incident") {
            run_.published();
            if (window_)
                window_->published();
        }
        return;
    }
    // A record from the future would close every window up to its time.
    if (from.time)
        if (auto ahead = check_skew(*from.time, o_.max_skew, now()); !ahead.empty())
            return input.report(ahead);
    if (const auto error = too_many_fields(); !error.empty())
        return input.report(error);
    message(from.topic, from.time ? *from.time : now());
}

// `live`: input from MQTT, stamped as it arrives, so the wall clock may close
// a window. Records on stdin may be history: only a later record closes one.
void Runner::idle(bool live)
{
    if (live && window_ && now() >= saturating_add(window_start_, *every_ + std::chrono::seconds(1)))
        close_window();
    refresh(false);
    out_.flush();
}

int Runner::run_stdin()
{
    if (session_)
        session_->start();
    LineInput input(o_.common);
    std::uint32_t since_check = 0;
    input.run({.line =
                   [&](std::string_view text) {
                       line(input, text);
                       // Batch input never idles: keep the metrics fresh now and then.
                       if (++since_check == 65536) {
                           since_check = 0;
                           refresh(false);
                       }
                   },
               .idle = [&] { idle(false); },
               .wait_ms = [&] { return every_ || server_ || !o_.prom_file.empty() ? 500 : -1; },
               .bad = [&] { bad_line(); }});
    return exit_ok;
}

int Runner::run_mqtt()
{
    return consume(
        *session_,
        [&](const MqttMessage &m) {
            if (payload_too_long(o_.common, m.topic, m.payload.size())) {
                bad_line();
                return true;
            }
            scanner_.scan_payload(m.payload, m.topic);
            if (const auto error = too_many_fields(); !error.empty()) {
                warn(cat(m.topic, ": ", error, " (skipped)"));
                bad_line();
                return true;
            }
            message(m.topic, m.received);
            return true;
        },
        [&] { refresh(false); },
        [&]() -> std::optional<int> {
            idle(true);
            return std::nullopt;
        },
        [&] { finish(); });
}

// The summary, the plot, the metrics file; false when a file could not be written.
bool Runner::finish()
{
    if (finished_)
        return !io_failed_;
    finished_ = true;
    try {
        close_window();
        expire();
        run_.summary();
        if (!run_.empty() || !every_)
            report(run_, "summary", run_.received() > 0 ? run_.first() : started_wall_,
                   run_.received() > 0 ? run_.last() : now());
    } catch (const ClosedOutput &) {
    }
    refresh(true);
    if (plot_) {
        for (const auto &field : plot_->empty_fields()) {
            std::vector<std::string> seen;
            for (const SensorStats *s : run_.sorted())
                for (const auto &f : s->fields)
                    seen.push_back(f.path);
            warn(empty_field_warning(field, std::move(seen)));
        }
        if (const auto error = write_file_atomically(o_.plot, plot_->svg(), 0644); !error.empty()) {
            warn(cat("cannot write ", o_.plot, ": ", error));
            io_failed_ = true;
        }
    }
    if (session_)
        session_->stop();
    return !io_failed_;
}

}  // namespace dht::stats
