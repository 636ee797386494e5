// dht-export-graphite: message records to Graphite's plaintext protocol,
// printed, or sent to carbon over TCP (or UDP) without losing lines.
#include "graphite.hpp"
#include "sink.hpp"

#include "dht/cli.hpp"
#include "dht/main.hpp"
#include "dht/output.hpp"
#include "dht/signals.hpp"
#include "dht/source.hpp"

#include <unistd.h>

#include <optional>

namespace {

using namespace dht;
using namespace dht::graphite;

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    std::string path_template;
    std::string prefix;
    bool tags = false;
    std::vector<std::string> tag;
    std::string carbon;
    bool udp = false;
    std::size_t buffer = 100000;
    std::string spool;
    Duration flush_timeout = std::chrono::seconds(10);
    Duration replay_window = std::chrono::seconds(60);
    std::string bare_topic;
};

void setup(CLI::App &app, Options &o)
{
    app.description("Write the numeric fields of message records as Graphite plaintext lines\n"
                    "(PATH VALUE EPOCH): printed, or sent to carbon with --carbon.");
    add_mqtt_options(app, o.mqtt, mqtt_subscribe);
    add_common_options(app, o.common, true);
    add_reading_options(app, o.common, true);
    app.add_option("--template", o.path_template,
                   "Metric path; {sensor} {field} {topic} {topic[N]} (default: dht11.{sensor}.{field}, "
                   "with --tags dht11.{field})");
    app.add_option("--prefix", o.prefix, "Put PREFIX. before every path");
    app.add_flag("--tags", o.tags, "Graphite 1.1 tagged series: PATH;sensor=S[;K=V…]");
    app.add_option("--tag", o.tag, "Add a tag K=V to every series (repeatable; implies --tags)")->type_name("K=V");
    app.add_option("--carbon", o.carbon, "Send to carbon at HOST[:PORT] (default port 2003)")
        ->type_name("HOST[:PORT]");
    app.add_flag("--udp", o.udp, "Send over UDP instead of TCP (no delivery guarantee)");
    app.add_option("--buffer", o.buffer,
                   "Lines held in memory while carbon is away, and lines kept for replay (default: 100000)")
        ->check(CLI::Range(std::size_t{100}, std::size_t{100000000}));
    app.add_option("--spool", o.spool, "Directory for lines that cannot be sent yet; resent at the next start")
        ->type_name("DIR");
    add_duration_option(app, "--replay-window", o.replay_window,
                        "Keep lines sent for this long after carbon's host acknowledged them, to send them "
                        "again after a broken connection (default: 60s)",
                        {Duration{0}});
    add_duration_option(app, "--flush-timeout", o.flush_timeout,
                        "At the end, how long to keep trying to send before spooling (default: 10s)",
                        {Duration{0}});
    app.add_option("--bare-topic", o.bare_topic, "Topic given to bare payloads read from stdin")
        ->type_name("TOPIC");
}

class Exporter {
public:
    Exporter(const Options &o, Output &out, std::optional<CarbonSink> &sink)
        : out_(out), sink_(sink), settings_(settings_from(o)),
          path_(o.path_template.empty() ? (settings_.tags ? "dht11.{field}" : "dht11.{sensor}.{field}")
                                        : o.path_template)
    {
    }

    void message(const Message &m)
    {
        if (sink_) {
            scratch_.clear();
            lines_ += append_lines(scratch_, m, path_, settings_);
            sink_->add(scratch_);
        } else {
            lines_ += append_lines(out_.buffer(), m, path_, settings_);
            out_.maybe_flush();
        }
    }

    void tick()
    {
        if (sink_)
            sink_->pump();
        else
            out_.flush();
    }

    std::uint64_t lines() const noexcept { return lines_; }

private:
    static Settings settings_from(const Options &o)
    {
        Settings s;
        s.prefix = o.prefix;
        s.tags = o.tags || !o.tag.empty();
        for (const auto &kv : o.tag) {
            const auto [key, value] = parse_tag_flag(kv);
            s.extra_tags.emplace_back(sanitize_tag(key), sanitize_tag(value));
        }
        return s;
    }

    Output &out_;
    std::optional<CarbonSink> &sink_;
    Settings settings_;  // before path_, whose default depends on it
    PathTemplate path_;
    std::string scratch_;
    std::uint64_t lines_ = 0;
};

int run(Options &o)
{
    set_verbosity(o.common.verbose);
    finish_mqtt_options(o.mqtt, "dht-export-graphite");
    const auto flush_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.flush_timeout);
    if (o.carbon.empty() && (o.udp || !o.spool.empty()))
        usage_error("--udp and --spool go with --carbon HOST[:PORT]");
    std::optional<CarbonSink> sink;
    Output out;
    std::optional<Exporter> exporter;
    try {
        exporter.emplace(o, out, sink);
    } catch (const std::invalid_argument &e) {
        usage_error(cat("--template: ", e.what()));
    }
    if (!o.carbon.empty()) {
        sink.emplace(SinkConfig{parse_endpoint("--carbon", o.carbon, 2003), o.udp, o.buffer, o.spool,
                                std::chrono::seconds(30), o.replay_window});
    }
    install_signal_handlers();

    int status = exit_ok;
    try {
        MessageSource source(o.mqtt, o.common, o.bare_topic);
        MessageSource::Hooks hooks;
        hooks.message = [&](const Message &m) { exporter->message(m); };
        hooks.idle = [&] { exporter->tick(); };
        // With carbon away, wake up now and then to retry.
        hooks.wait_ms = [&] { return sink && sink->buffered() > 0 ? 200 : -1; };
        status = source.run(hooks);
    } catch (...) {
        if (sink)
            sink->finish(flush_timeout);
        throw;
    }
    out.flush();
    if (sink) {
        sink->finish(flush_timeout);
        warn(cat(sink->sent(), sink->sent() == 1 ? " line" : " lines", " sent to ", sink->label(), ", ",
                 sink->resent(), " resent after a reconnect, ", sink->spooled(), " spooled, ", sink->dropped(),
                 " lost"));
        if (sink->dropped() > 0 && status == exit_ok)
            status = exit_unavailable;  // some lines reached neither carbon nor the spool
    }
    return status;
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::tool_main<Options>("dht-export-graphite", argc, argv, setup, run);
}
