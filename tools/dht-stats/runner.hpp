// dht-stats' engine: records from stdin or MQTT into the aggregates of the
// whole run and of the current --every window; reports, the Prometheus
// metrics (file and server) and the plot.
#pragma once

#include "plot.hpp"
#include "server.hpp"
#include "stats.hpp"

#include "dht/bounds.hpp"
#include "dht/cli.hpp"
#include "dht/input.hpp"
#include "dht/mqtt.hpp"
#include "dht/output.hpp"
#include "dht/scan.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace dht::stats {

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    std::optional<Duration> every;
    std::string format = "auto";
    bool wide = false;  // --wide: every column of the table
    std::string prom_file;
    std::string listen;
    std::string www;  // the operator's page served by --listen
    SensorBounds bounds;  // --max-sensors, --forget-after (or --expire)
    std::string plot;
    std::vector<std::string> plot_fields;
    std::string bare_topic;
    std::size_t max_fields = 16;  // numeric fields per sensor, and so in one message
    Duration max_skew = std::chrono::hours(1);  // 0: no limit
};

class Runner {
public:
    explicit Runner(const Options &o);
    // Reads to the end of input (or a stop), writes what is due; the exit status.
    int run();

private:
    double uptime() const;
    TimePoint clock() const { return run_.received() > 0 ? run_.last() : started_wall_; }
    void expire();
    std::string prometheus();
    void refresh(bool force);
    void report(const Aggregate &a, const std::string &scope, TimePoint from, TimePoint until);
    void close_window();
    void advance(TimePoint t);
    TimePoint floor_to(TimePoint t) const;
    void message(std::string_view topic, TimePoint time);
    std::string too_many_fields() const;
    void bad_line();
    void line(LineInput &input, std::string_view text);
    void idle(bool live);
    int run_stdin();
    int run_mqtt();
    bool finish();

    const Options &o_;
    TimePoint started_wall_;
    std::chrono::steady_clock::time_point started_;
    RecordScanner scanner_;
    std::optional<Duration> every_, expire_;
    std::vector<Number> kept_;  // a message's numbers that the run's fields took
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

}  // namespace dht::stats
