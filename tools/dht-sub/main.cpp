// dht-sub: MQTT to records. mosquitto_sub's flags and -F format; by default one
// message record (JSON) per line.
#include "format.hpp"

#include "dht/cli.hpp"
#include "dht/main.hpp"
#include "dht/mqtt.hpp"
#include "dht/output.hpp"
#include "dht/record.hpp"
#include "dht/signals.hpp"

#include <mosquitto.h>

#include <optional>
#include <random>

namespace {

using namespace dht;

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    long long count = 0;
    std::optional<Duration> timeout;
    std::vector<std::string> filter_out;
    bool no_retained = false;
    bool retained_only = false;
    bool verbose_output = false;
    bool no_eol = false;
    std::string format;
    bool format_given = false;
    bool exit_subscribed = false;
    bool pretty = false;
    bool quiet = false;
    bool remove_retained = false;
    double random_filter = 100;
};

void setup(CLI::App &app, Options &o)
{
    app.description("Subscribe to MQTT topics and print each message as a JSON record, or in\n"
                    "mosquitto_sub's -F format. Flags are mosquitto_sub's.");
    add_mqtt_options(app, o.mqtt, mqtt_subscribe);
    add_common_options(app, o.common, false, "-d,--debug");
    app.add_option("-C,--count", o.count, "Exit after COUNT messages")->check(CLI::PositiveNumber);
    add_duration_option(app, "-W,--timeout", o.timeout, "Exit with status 75 after DURATION (bare number: seconds)");
    app.add_option("-T,--filter-out", o.filter_out, "Skip messages whose topic matches FILTER (repeatable)")
        ->type_name("FILTER");
    app.add_flag("-R,--no-retained", o.no_retained, "Skip retained (stale) messages");
    app.add_flag("--retained-only", o.retained_only,
                 "Print only retained messages; exit at the first that is not");
    app.add_flag("-v,--verbose", o.verbose_output, "mosquitto_sub's output: \"TOPIC PAYLOAD\" (without -F)");
    app.add_flag("-N,--no-eol", o.no_eol, "No newline after each message (with -F or -v)");
    app.add_option("-F,--format", o.format, "mosquitto_sub's output format (see dht-sub(1))")->type_name("FORMAT");
    app.add_flag("--pretty", o.pretty, "Indent the JSON of -F %j and %J");
    app.add_flag("-E", o.exit_subscribed, "Exit once the broker has acknowledged the subscriptions");
    app.add_flag("--quiet", o.quiet, "No diagnostics on stderr once running (the exit status tells)");
    app.add_flag("--remove-retained", o.remove_retained, "Clear each retained message printed (not those -T skips)");
    app.add_option("--random-filter", o.random_filter, "Print only PERCENT of the messages, at random (0.1-100)")
        ->type_name("PERCENT")
        ->check(CLI::Range(0.1, 100.0));
}

class Printer {
public:
    Printer(const Options &o, Output &out) : o_(o), out_(out), parser_(o.common.max_depth)
    {
        if (!o.format.empty()) {
            try {
                format_.emplace(o.format, o.pretty);
            } catch (const std::invalid_argument &e) {
                usage_error(cat("-F: ", e.what()));
            }
        }
    }

    // False once the tool should stop (-C reached, --retained-only ended).
    bool handle(const MqttMessage &m)
    {
        if (o_.retained_only && !m.retain)
            return false;
        if (o_.no_retained && m.retain)
            return true;
        for (const auto &filter : o_.filter_out) {
            bool match = false;
            if (mosquitto_topic_matches_sub(filter.c_str(), m.topic.c_str(), &match) == MOSQ_ERR_SUCCESS && match)
                return true;
        }
        if (o_.remove_retained && m.retain)
            session_->publish(m.topic, {}, 1, true);
        // As mosquitto_sub, -C counts what --random-filter drops.
        if (o_.random_filter < 100 && std::uniform_real_distribution<double>(0, 100)(random_) >= o_.random_filter)
            return o_.count == 0 || ++printed_ < static_cast<unsigned long long>(o_.count);
        std::string &buf = out_.buffer();
        if (format_) {
            if (!format_->render(buf, m))
                warn(cat(m.topic, ": payload is not valid JSON (%J left empty)"));
            if (!o_.no_eol)
                buf.push_back('\n');
        } else if (o_.verbose_output) {
            sub::render_plain(buf, m, true, !o_.no_eol);
        } else {
            append_message_record(buf, make_message(parser_, m.topic, m.payload, m.qos, m.retain, m.received));
            buf.push_back('\n');
        }
        out_.maybe_flush();
        ++printed_;
        return o_.count == 0 || printed_ < static_cast<unsigned long long>(o_.count);
    }

private:
    const Options &o_;
    Output &out_;
    JsonParser parser_;
    std::optional<sub::Format> format_;
    unsigned long long printed_ = 0;
    std::minstd_rand random_{std::random_device{}()};

public:
    Session *session_ = nullptr;  // --remove-retained publishes through it
};

int run(Options &o)
{
    set_verbosity(o.common.verbose);
    finish_mqtt_options(o.mqtt, "dht-sub");
    if (o.mqtt.topics.empty())
        usage_error("give a topic to subscribe to: -t TOPIC (or -L URL)");
    for (const auto &filter : o.filter_out)
        if (mosquitto_sub_topic_check(filter.c_str()) != MOSQ_ERR_SUCCESS)
            usage_error(cat("-T: invalid topic filter '", filter, "'"));
    if (o.no_retained && o.retained_only)
        usage_error("-R and --retained-only exclude each other");
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (o.timeout)
        deadline = std::chrono::steady_clock::now() + *o.timeout;

    Output out;
    Printer printer(o, out);
    install_signal_handlers();
    o.mqtt.publishes = o.remove_retained;
    Session session(o.mqtt);
    printer.session_ = &session;
    if (o.quiet)
        set_verbosity(-1);
    const int status = consume(
        session,
        [&printer, &o](const MqttMessage &m) { return !o.exit_subscribed && printer.handle(m); },
        [&out] { out.flush(); },
        [&deadline, &session, &o, &out, next_look = std::chrono::steady_clock::time_point{}]() mutable
            -> std::optional<int> {
            if (o.exit_subscribed && session.subscriptions_acknowledged() > 0)
                return exit_ok;
            const auto now = std::chrono::steady_clock::now();
            if (deadline && now >= *deadline)
                return exit_tempfail;
            // `dht-sub | head -n 1` ends when head does, even if no message comes after.
            if (now >= next_look) {
                next_look = now + std::chrono::milliseconds(100);
                if (out.reader_gone())
                    return exit_ok;
            }
            return std::nullopt;
        });
    out.flush();
    return status;
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::tool_main<Options>("dht-sub", argc, argv, setup, run);
}
