// dht-stats: the seed's statistics over records (stdin, or MQTT with -t):
// records per window and a summary, an aligned table, Prometheus metrics (a
// textfile for node_exporter, or served on /metrics), and a plot.
#include "runner.hpp"

#include "dht/bounds.hpp"
#include "dht/cli.hpp"
#include "dht/main.hpp"
#include "dht/signals.hpp"

namespace {

using namespace dht;
using namespace dht::stats;

void setup(CLI::App &app, Options &o)
{
    app.description("Statistics over message records (stdin, or MQTT with -t): totals, and per sensor and\n"
                    "field count, min, max, mean, standard deviation, last value and percentiles;\n"
                    "as records, a table or Prometheus metrics, and a plot.");
    add_mqtt_options(app, o.mqtt, mqtt_subscribe | mqtt_publish);
    add_common_options(app, o.common, true);
    add_reading_options(app, o.common, true);
    add_duration_option(app, "--every", o.every,
                        "Write the statistics of each window of DURATION (record time), then a summary");
    app.add_option("--format", o.format,
                   "json (stats records), table, or prometheus (default: table on a terminal, else json)")
        ->check(CLI::IsMember({"auto", "json", "table", "prometheus"}));
    app.add_flag("--wide", o.wide, "The table with every column: STDDEV, P50, P99 and LAST SEEN too");
    app.add_option("--prom-file", o.prom_file,
                   "Also write Prometheus metrics to FILE, replaced atomically (node_exporter's textfile collector)")
        ->type_name("FILE");
    app.add_option("--listen", o.listen, "Serve Prometheus metrics on http://ADDR:PORT/metrics while running")
        ->type_name("ADDR:PORT");
    app.add_option("--www", o.www,
                   "Serve the operator's page from DIR at / with --listen (default: the installed one)")
        ->type_name("DIR");
    add_sensor_bounds_options(app, o.bounds, ",--expire");
    app.add_option("--plot", o.plot, "At the end, draw the readings over time in FILE.svg")->type_name("FILE");
    app.add_option("--plot-field", o.plot_fields, "A field to plot (repeatable; default: temperature and humidity)")
        ->type_name("FIELD");
    app.add_option("--max-fields", o.max_fields, "Numeric fields kept per sensor (default: 16)")
        ->type_name("N")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24));
    app.add_option("--bare-topic", o.bare_topic, "Topic given to bare payloads (lines without \"kind\")")
        ->type_name("TOPIC");
    add_max_skew_option(app, o.max_skew);
}

int run(Options &o)
{
    set_verbosity(o.common.verbose);
    finish_mqtt_options(o.mqtt, "dht-stats");
    if (o.format == "prometheus" && o.every)
        usage_error("--every writes a report per window, Prometheus text is one exposition: "
                    "use --prom-file or --listen for the metrics");
    if (!o.www.empty() && o.listen.empty())
        usage_error("--www serves the page with --listen: give --listen ADDR:PORT too");
    if (o.wide && o.format != "auto" && o.format != "table")
        usage_error(cat("--wide is for the table; --format ", o.format, " has every value"));
    install_signal_handlers();
    Runner runner(o);
    return runner.run();
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::tool_main<Options>("dht-stats", argc, argv, setup, run);
}
