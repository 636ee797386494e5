// dht-status: "is everything fine?" in one command. Reads the database that
// dht-record and dht-escalate share and prints, in 80 columns, each sensor
// with its last reading and status, the alerts firing, the incidents not
// resolved, the silences in force and when history was last written; exits
// 0, 1 or 2 (ok, warning, critical) as a Nagios-style check.
#include "overview.hpp"

#include "dht/cli.hpp"
#include "dht/main.hpp"
#include "dht/output.hpp"
#include "dht/signals.hpp"

#include <mosquitto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace {

using namespace dht;
using namespace dht::status;

struct Options {
    CommonOptions common;
    std::string db = "dht.db";
    OverviewOptions overview;
    bool json = false;
    std::optional<Duration> watch;
};

void setup(CLI::App &app, Options &o)
{
    app.description(
        "Is everything fine? Each sensor's last reading and status (ok, silent, offline,\n"
        "sensor-error, stuck), the alerts firing, the incidents not resolved, the silences\n"
        "in force and when history was last written, from the database dht-record and\n"
        "dht-escalate share. Exit 0 ok, 1 warning, 2 critical. See dht-status(1).");
    add_common_options(app, o.common, false);
    app.add_option("--db", o.db, "SQLite database of dht-record and dht-escalate (default: dht.db)")
        ->envname("DHT_DB")
        ->type_name("FILE");
    app.add_option("--topic", o.overview.topic_filter, "The sensors' data topics (default: dht11/+/data)")
        ->type_name("FILTER");
    app.add_option("--alert-topic", o.overview.alert_topic, "Where alerts are recorded (default: dht11/alerts)")
        ->type_name("TOPIC");
    add_duration_option(app, "--silent-after", o.overview.silent_after,
                        "No reading (or no history written) for DURATION is critical (default: 10m)");
    add_duration_option(app, "--stuck-after", o.overview.stuck_after,
                        "The same reading for DURATION is a stuck sensor, a warning (default: 1h)");
    app.add_option("--max-rows", o.overview.max_rows, "Rows per table at most, the rest counted (default: 50)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    app.add_flag("--json", o.json, "One JSON object instead of the tables");
    add_duration_option(app, "--watch", o.watch, "Print again every DURATION until interrupted (as watch(1))")
        ->expected(0, 1)
        ->default_str("2s");
}

int run(Options &o)
{
    set_verbosity(o.common.verbose);
    install_signal_handlers();
    if (mosquitto_sub_topic_check(o.overview.topic_filter.c_str()) != MOSQ_ERR_SUCCESS)
        usage_error(cat("invalid --topic '", o.overview.topic_filter, "'"));
    if (mosquitto_pub_topic_check(o.overview.alert_topic.c_str()) != MOSQ_ERR_SUCCESS)
        usage_error(cat("invalid --alert-topic '", o.overview.alert_topic, "' (no wildcards)"));
    if (::access(o.db.c_str(), F_OK) != 0)
        fail(exit_noinput, cat(o.db, ": ", std::strerror(errno)));
    Database db(o.db, false);
    Output out;
    const bool terminal = ::isatty(STDOUT_FILENO) == 1;
    for (;;) {
        const auto now = dht::now();
        const auto view = gather(db, o.overview, now);
        std::string text = o.json ? render_json(view, now) + "\n" : render_text(view, o.overview, now);
        if (o.watch && terminal && !o.json)
            text = "\x1b[H\x1b[2J" + text;  // the screen cleared, as watch(1)
        out.write(text);
        out.flush();
        if (!o.watch)
            return static_cast<int>(view.verdict);
        for (auto until = std::chrono::steady_clock::now() + *o.watch; std::chrono::steady_clock::now() < until;) {
            if (stop_requested())
                return static_cast<int>(view.verdict);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::main_guard("dht-status", [&] {
        CLI::App app{"", "dht-status"};
        Options options;
        setup(app, options);
        dht::parse_command_line(app, argc, argv);
        try {
            return run(options);
        } catch (const dht::SqliteError &e) {
            dht::fail(e.busy() ? dht::exit_unavailable : dht::exit_ioerr, dht::cat(options.db, ": ", e.what()));
        }
    });
}
