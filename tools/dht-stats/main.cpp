// dht-stats: the seed's statistics over records (stdin, or MQTT with -t):
// records per window and a summary, an aligned table, Prometheus metrics (a
// textfile for node_exporter, or served on /metrics), and a plot.
#include "plot.hpp"
#include "server.hpp"
#include "stats.hpp"

#include "dht/cli.hpp"
#include "dht/files.hpp"
#include "dht/lines.hpp"
#include "dht/main.hpp"
#include "dht/mqtt.hpp"
#include "dht/output.hpp"
#include "dht/scan.hpp"
#include "dht/signals.hpp"

#include <unistd.h>

#include <cstdlib>
#include <optional>

namespace {

using namespace dht;
using namespace dht::stats;
using Duration = std::chrono::nanoseconds;

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    std::string every;
    std::string format = "auto";
    std::string prom_file;
    std::string listen;
    std::string expire;
    std::string plot;
    std::vector<std::string> plot_fields;
    std::string bare_topic;
};

void setup(CLI::App &app, Options &o)
{
    app.description("Statistics over message records (stdin, or MQTT with -t): totals, and per sensor and\n"
                    "field count, min, max, mean, standard deviation, last value and percentiles;\n"
                    "as records, a table or Prometheus metrics, and a plot.");
    add_mqtt_options(app, o.mqtt, mqtt_subscribe | mqtt_publish);
    add_common_options(app, o.common, true);
    app.add_option("--every", o.every, "Write the statistics of each window of DURATION (record time), then a summary")
        ->type_name("DURATION");
    app.add_option("--format", o.format,
                   "json (stats records), table, or prometheus (default: table on a terminal, else json)")
        ->check(CLI::IsMember({"auto", "json", "table", "prometheus"}));
    app.add_option("--prom-file", o.prom_file,
                   "Also write Prometheus metrics to FILE, replaced atomically (node_exporter's textfile collector)")
        ->type_name("FILE");
    app.add_option("--listen", o.listen, "Serve Prometheus metrics on http://ADDR:PORT/metrics while running")
        ->type_name("ADDR:PORT");
    app.add_option("--expire", o.expire, "Forget sensors silent for DURATION (they leave the metrics)")
        ->type_name("DURATION");
    app.add_option("--plot", o.plot, "At the end, draw the readings over time in FILE.svg")->type_name("FILE");
    app.add_option("--plot-field", o.plot_fields, "A field to plot (repeatable; default: temperature and humidity)")
        ->type_name("FIELD");
    app.add_option("--bare-topic", o.bare_topic, "Topic given to bare payloads (lines without \"kind\")")
        ->type_name("TOPIC");
}

std::optional<Duration> duration_option(const std::string &text, const char *flag)
{
    if (text.empty())
        return std::nullopt;
    const auto d = parse_duration(text);
    if (!d || d->count() <= 0)
        fail(exit_usage, cat(flag, ": '", text, "' is not a duration such as 10m"));
    return *d;
}

class Runner {
public:
    explicit Runner(const Options &o)
        : o_(o), started_wall_(now()), started_(std::chrono::steady_clock::now()),
          scanner_({}, o.common.max_depth, true), every_(duration_option(o.every, "--every")),
          expire_(duration_option(o.expire, "--expire"))
    {
        format_ = o.format;
        if (format_ == "auto")
            format_ = ::isatty(1) ? "table" : "json";
        if (format_ == "prometheus" && every_)
            fail(exit_usage, "--every writes a report per window, Prometheus text is one exposition: "
                             "use --prom-file or --listen for the metrics");
        if (!o.plot.empty())
            plot_.emplace(o.plot_fields.empty() ? std::vector<std::string>{"temperature", "humidity"} : o.plot_fields);
        if (!o.listen.empty()) {
            // ":9464" listens on every address.
            const Endpoint b = parse_endpoint("--listen", o.listen, 0, true);
            server_.emplace(b.host, b.port);
            server_->update(prometheus());
        }
        if (o.mqtt.wants_broker())
            session_.emplace(o.mqtt);
    }

    int run()
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
            if (session_->pending_publishes() > 0 && status == exit_ok)
                status = exit_unavailable;
        }
        return status;
    }

private:
    double uptime() const
    {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    }

    TimePoint clock() const { return run_.received() > 0 ? run_.last() : started_wall_; }

    void expire()
    {
        if (!expire_)
            return;
        // History is judged by its own times; live MQTT input by the wall clock.
        const TimePoint edge = (live_ ? now() : clock()) - *expire_;
        run_.expire(edge);
    }

    std::string prometheus()
    {
        std::string text;
        render_prometheus(text, run_, {"summary", now(), run_.first(), run_.last(), uptime()});
        return text;
    }

    // Everything derived from the run so far: the metrics file and the server's text.
    void refresh(bool force)
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

    void report(const Aggregate &a, const std::string &scope, TimePoint from, TimePoint until)
    {
        const Report r{scope, now(), from, until, uptime()};
        auto &buf = out_.buffer();
        if (format_ == "table")
            render_table(buf, a, r);
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

    void close_window()
    {
        if (!window_ || window_->empty())
            return;
        report(*window_, "window", window_start_, window_start_ + *every_);
        window_->clear();
        refresh(true);
    }

    // Moves time to `t`: closes the window that ends before it.
    void advance(TimePoint t)
    {
        if (!every_)
            return;
        if (!window_) {
            window_.emplace();
            window_start_ = floor_to(t);
            return;
        }
        if (t >= window_start_ + *every_) {
            close_window();
            window_start_ = floor_to(t);
        }
    }

    TimePoint floor_to(TimePoint t) const
    {
        const auto n = t.time_since_epoch().count(), d = every_->count();
        return TimePoint(std::chrono::nanoseconds((n / d - (n % d < 0 ? 1 : 0)) * d));
    }

    void message(std::string_view topic, TimePoint time)
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
        const std::string_view sensor = scanner_.sensor().empty() ? topic : scanner_.sensor();
        static const std::vector<Number> none;
        const auto &numbers = scanner_.payload_is_object() ? scanner_.numbers() : none;
        // A record older than the open window counts in the summary only.
        const bool in_window = window_ && time >= window_start_;
        run_.message(sensor, time, numbers.data(), numbers.size());
        if (in_window)
            window_->message(sensor, time, numbers.data(), numbers.size());
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

    void bad_line(InputErrors &errors, const LineReader &reader, std::string_view what)
    {
        run_.error();
        if (window_)
            window_->error();
        errors.report(reader.name(), reader.line_number(), what);
    }

    void line(LineReader &reader, InputErrors &errors, std::string_view text)
    {
        const auto kind = scanner_.scan_record(text, error_);
        if (kind == RecordScanner::Kind::invalid)
            return bad_line(errors, reader, error_);
        if (kind == RecordScanner::Kind::other) {
            if (scanner_.kind() == "alert" || scanner_.kind() == "incident") {
                run_.published();
                if (window_)
                    window_->published();
            }
            return;
        }
        RecordScanner::Origin from;
        if (!scanner_.origin(o_.bare_topic, from, error_))
            return bad_line(errors, reader, error_);
        message(from.topic, from.time ? *from.time : now());
    }

    // `live`: input from MQTT, stamped as it arrives, so the wall clock may close
    // a window. Records on stdin may be history: only a later record closes one.
    void idle(bool live)
    {
        if (live && window_ && now() >= window_start_ + *every_ + std::chrono::seconds(1))
            close_window();
        refresh(false);
        out_.flush();
    }

    int run_stdin()
    {
        if (session_)
            session_->start();
        LineReader reader(0, "stdin", o_.common.max_line);
        InputErrors errors(o_.common.strict);
        std::string_view text;
        std::uint32_t since_check = 0;
        while (!stop_requested()) {
            if (!reader.has_line())
                idle(false);
            const int wait = every_ || server_ || !o_.prom_file.empty() ? 500 : -1;
            switch (reader.next(text, wait)) {
            case LineReader::Status::eof: errors.summary(); return exit_ok;
            case LineReader::Status::timeout: idle(false); break;
            case LineReader::Status::interrupted: break;
            case LineReader::Status::too_long:
                bad_line(errors, reader, cat("line longer than --max-line (", o_.common.max_line, " bytes)"));
                break;
            case LineReader::Status::line:
                line(reader, errors, text);
                // Batch input never idles: keep the metrics fresh now and then.
                if (++since_check == 65536) {
                    since_check = 0;
                    refresh(false);
                }
                break;
            }
        }
        errors.summary();
        return exit_ok;
    }

    int run_mqtt()
    {
        return consume(
            *session_,
            [&](const MqttMessage &m) {
                scanner_.scan_payload(m.payload);
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
    bool finish()
    {
        if (finished_)
            return !io_failed_;
        finished_ = true;
        try {
            close_window();
            expire();
            if (!run_.empty() || !every_)
                report(run_, "summary", run_.received() > 0 ? run_.first() : started_wall_,
                       run_.received() > 0 ? run_.last() : now());
        } catch (const ClosedOutput &) {
        }
        refresh(true);
        if (plot_) {
            if (const auto error = write_file_atomically(o_.plot, plot_->svg(), 0644); !error.empty()) {
                warn(cat("cannot write ", o_.plot, ": ", error));
                io_failed_ = true;
            }
        }
        if (session_)
            session_->stop();
        return !io_failed_;
    }

    const Options &o_;
    TimePoint started_wall_;
    std::chrono::steady_clock::time_point started_;
    RecordScanner scanner_;
    std::optional<Duration> every_, expire_;
    std::string format_;
    Output out_;
    Aggregate run_;
    std::optional<Aggregate> window_;
    TimePoint window_start_{};
    std::optional<Plot> plot_;
    std::optional<MetricsServer> server_;
    std::optional<Session> session_;
    std::string error_;
    std::chrono::steady_clock::time_point last_refresh_{}, last_prom_write_{};
    bool finished_ = false, io_failed_ = false, live_ = false;
};

int run(Options &o)
{
    set_verbosity(o.common.verbose);
    finish_mqtt_options(o.mqtt, "dht-stats");
    install_signal_handlers();
    Runner runner(o);
    return runner.run();
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::main_guard("dht-stats", [&] {
        CLI::App app{"", "dht-stats"};
        Options options;
        setup(app, options);
        dht::parse_command_line(app, argc, argv);
        return run(options);
    });
}
