// dht-export-influx: message records to InfluxDB line protocol, printed, or
// written to InfluxDB 1.x (/write) or 2.x (/api/v2/write) without losing any.
#include "options.hpp"

#include "dht/main.hpp"
#include "dht/output.hpp"
#include "dht/signals.hpp"
#include "dht/source.hpp"

#include <optional>

namespace {

using namespace dht;
using namespace dht::influx;

void setup(CLI::App &app, Options &o)
{
    app.description("Write message records as InfluxDB line protocol: printed, or to InfluxDB 1.x\n"
                    "(--url --database) or 2.x (--url --org --bucket --token-file), batched, retried and\n"
                    "spooled so that an outage of the database loses nothing.");
    add_mqtt_options(app, o.mqtt, mqtt_subscribe | mqtt_short_url);
    add_common_options(app, o.common, true);
    add_reading_options(app, o.common, true);
    auto *lp = "Line protocol";
    app.add_option("--measurement", o.measurement, "Measurement name (default: dht11)")->group(lp);
    app.add_option("--tag", o.tag, "Add the tag K=V to every point (repeatable)")->type_name("K=V")->group(lp);
    app.add_option("--topic-tags", o.topic_tags,
                   "Tags from topic levels: a template such as _/location/_ makes level 2 the tag location")
        ->type_name("TEMPLATE")
        ->group(lp);
    app.add_flag("--int-fields", o.int_fields, "Write JSON integers as integer fields (123i); decimals stay floats")->group(lp);
    app.add_option("--int-field", o.int_field, "Always write this field as an integer, rounded (repeatable)")
        ->type_name("FIELD")
        ->group(lp);
    app.add_flag("--string-fields", o.string_fields, "Also write string and boolean payload fields")->group(lp);
    app.add_option("--precision", o.precision, "Timestamp precision: ns, us, ms or s (default: ns)")
        ->check(CLI::IsMember({"ns", "us", "ms", "s"}))
        ->group(lp);
    auto *db = "InfluxDB";
    app.add_option("--url", o.url, "Write to the InfluxDB server at URL (http://127.0.0.1:8086); else print")
        ->group(db);
    app.add_option("--database", o.database, "1.x: the database")->group(db);
    app.add_option("--retention-policy", o.retention_policy, "1.x: the retention policy")->group(db);
    app.add_option("--influx-username", o.influx_username, "1.x: user name")
        ->envname("DHT_INFLUX_USERNAME")
        ->group(db);
    app.add_option("--influx-password-file", o.influx_password_file,
                   "1.x: read the password from FILE (or DHT_INFLUX_PASSWORD)")
        ->type_name("FILE")
        ->group(db);
    app.add_option("--org", o.org, "2.x: the organisation")->group(db);
    app.add_option("--bucket", o.bucket, "2.x: the bucket")->group(db);
    app.add_option("--token-file", o.token_file, "2.x: read the API token from FILE (or DHT_INFLUX_TOKEN)")
        ->type_name("FILE")
        ->group(db);
    app.add_flag("--gzip", o.gzip, "Compress each batch (Content-Encoding: gzip)")->group(db);
    app.add_option("--batch", o.batch, "Lines per request (default: 5000)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}))
        ->group(db);
    add_duration_option(app, "--flush-interval", o.flush_interval, "Send a partial batch after DURATION (default: 1s)",
                        {Duration{0}})
        ->group(db);
    app.add_option("--buffer", o.buffer, "Lines held in memory while InfluxDB is away (default: 100000)")
        ->check(CLI::Range(std::size_t{100}, std::size_t{100000000}))
        ->group(db);
    app.add_option("--spool", o.spool, "Directory for lines that cannot be sent yet; resent at the next start")
        ->type_name("DIR")
        ->group(db);
    add_duration_option(app, "--flush-timeout", o.flush_timeout,
                        "At the end, how long to keep trying before spooling (default: 10s)", {Duration{0}})
        ->group(db);
    add_duration_option(app, "--http-timeout", o.http_timeout, "Longest wait for one request (default: 10s)",
                        {std::chrono::milliseconds(1)})
        ->group(db);
    add_duration_option(app, "--retry-max", o.retry_max, "Longest wait between retries (default: 30s)",
                        {std::chrono::milliseconds(1)})
        ->group(db);
    app.add_option("--influx-cafile", o.influx_cafile, "CA certificates for an https URL")
        ->type_name("FILE")
        ->group(db);
    app.add_flag("--influx-insecure", o.influx_insecure, "Do not verify the server's certificate")->group(db);
    app.add_option("--bare-topic", o.bare_topic, "Topic given to bare payloads read from stdin")->type_name("TOPIC");
}

int run(Options &o)
{
    set_verbosity(o.common.verbose);
    finish_mqtt_options(o.mqtt, "dht-export-influx");
    Encoder encoder(settings_from(o));
    std::optional<InfluxSink> sink;
    if (auto config = sink_config(o))
        sink.emplace(std::move(*config));
    install_signal_handlers();

    Output out;
    std::string scratch;
    std::uint64_t points = 0, skipped = 0;
    MessageSource::Hooks hooks;
    hooks.message = [&](const Message &m) {
        if (sink) {
            scratch.clear();
            if (encoder.append(scratch, m)) {
                sink->add(scratch, 1);
                ++points;
            } else {
                ++skipped;
            }
        } else if (encoder.append(out.buffer(), m)) {
            ++points;
            out.maybe_flush();
        } else {
            ++skipped;
        }
    };
    hooks.idle = [&] {
        if (sink)
            sink->tick();
        else
            out.flush();
    };
    if (sink) {
        hooks.wait_ms = [] { return 200; };
        hooks.stop = [&] { return sink->failure(); };  // refused for good: stop reading, keep what was read
    }

    int status = exit_ok;
    const auto finish = [&] {
        out.flush();
        if (!sink)
            return;
        const auto lost = sink->finish(std::chrono::duration_cast<std::chrono::milliseconds>(o.flush_timeout));
        warn(cat(sink->written(), " points written to ", sink->label(), ", ", sink->retries(), " retries, ",
                 sink->rejected(), " rejected, ", sink->spooled(), " spooled, ", lost, " lost"));
        if (const auto f = sink->failure(); f && status == exit_ok)
            status = *f;
        if (lost > 0 && status == exit_ok)
            status = exit_unavailable;
    };
    try {
        MessageSource source(o.mqtt, o.common, o.bare_topic);
        status = source.run(hooks);
    } catch (...) {
        finish();
        throw;
    }
    finish();
    debug(cat(points, " points, ", skipped, " messages without a field to write"));
    return status;
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::tool_main<Options>("dht-export-influx", argc, argv, setup, run);
}
