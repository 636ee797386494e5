// dht-rules: conditional rules on a stream of records (stdin, or MQTT with -t);
// alert records when a rule starts firing and when it resolves, on stdout and
// with --publish on MQTT.
#include "runner.hpp"
#include "testfile.hpp"

#include "dht/cli.hpp"
#include "dht/diag.hpp"
#include "dht/main.hpp"
#include "dht/signals.hpp"

namespace {

using namespace dht;
using namespace dht::rules;

void setup(CLI::App &app, Options &o)
{
    app.description("Apply conditional rules to message records (stdin, or MQTT with -t) and write an\n"
                    "alert record when a rule starts firing and when it resolves.\n"
                    "Rule syntax: NAME: CONDITION [for N readings | for DURATION] [clear CONDITION]\n"
                    "             -> alert|notify|escalate [info|warning|critical] [\"MESSAGE\"]\n"
                    "  e.g. dht-rules -e 'cold: temperature < 5 for 5 readings -> alert warning'\n"
                    "See dht-rules(5) for the grammar.");
    add_mqtt_options(app, o.mqtt, mqtt_subscribe | mqtt_publish);
    add_common_options(app, o.common, true);
    add_reading_options(app, o.common, false);
    app.add_option("-r,--rules", o.rule_files, "Read rules from FILE (repeatable)")->type_name("FILE");
    app.add_option("-e,--rule", o.inline_rules, "A rule given inline (repeatable)")->type_name("RULE");
    app.add_flag("--check", o.check, "Check the rules, report every error (FILE:LINE:COL) and exit: 0 or 78");
    app.add_option("--test", o.test_file,
                   "Run the rules over a test file of input records and expected alerts, then exit: 0 or 1")
        ->type_name("FILE");
    app.add_option("--state", o.state_file,
                   "Keep counters and firing alerts in FILE across restarts (written atomically)")
        ->type_name("FILE");
    add_duration_option(app, "--repeat", o.repeat, "Send a firing alert again every DURATION while it fires");
    app.add_flag("--report", o.report,
                 "Instead of the alerts, a table at the end: per rule and sensor how often it fired, for how long "
                 "in all, its longest spell (backtesting on history)");
    app.add_flag("--pass", o.pass, "Also copy every input record to stdout, each before the alerts it causes");
    app.add_option("--clock", o.clock,
                   "What time timers follow: auto (record times; the wall clock once input pauses), "
                   "records (record times only: replays), wall (the wall clock too, also at the end of input: cron)")
        ->check(CLI::IsMember({"auto", "records", "wall"}));
    app.add_option("--bare-topic", o.bare_topic, "Topic given to bare payloads (lines without \"kind\")")
        ->type_name("TOPIC");
    add_max_skew_option(app, o.max_skew);
    add_sensor_bounds_options(app, o.bounds);
}

int run(Options &o)
{
    set_verbosity(o.common.verbose);
    finish_mqtt_options(o.mqtt, "dht-rules");
    if (o.rule_files.empty() && o.inline_rules.empty())
        usage_error("no rules: give -r FILE or -e RULE (see dht-rules(5))");
    if (o.check && !o.test_file.empty())
        usage_error("--check and --test go separately");
    if (o.report && (o.pass || !o.mqtt.publish_topic.empty()))
        usage_error("--report prints a table instead of the alerts: no --pass, no --publish");
    auto rules = load_rules(o.rule_files, o.inline_rules);
    if (!rules)
        return exit_config;
    if (const auto why = check_bounds(*rules, o.bounds); !why.empty())
        usage_error(why);
    if (o.check) {
        std::size_t n = rules->rules.size();
        warn(cat(n, n == 1 ? " rule" : " rules", ", no errors"));
        return exit_ok;
    }
    if (!o.test_file.empty()) {
        const auto r = run_test_file(o.test_file, std::move(*rules), o.repeat, o.common.max_depth, &o.common.readings);
        warn(cat(o.test_file, ": ", r.inputs, " inputs, ", r.expected, " expected alerts, ",
                 r.failures == 0 ? std::string("all met") : cat(r.failures, r.failures == 1 ? " failure" : " failures")));
        return r.failures == 0 ? exit_ok : 1;
    }
    install_signal_handlers();
    Runner runner(o, std::move(*rules));
    return runner.run();
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::tool_main<Options>("dht-rules", argc, argv, setup, run);
}
