// dht-export-influx: message records to InfluxDB line protocol, printed, or
// written to InfluxDB 1.x (/write) or 2.x (/api/v2/write) without losing any.
#include "lineproto.hpp"
#include "sink.hpp"

#include "dht/cli.hpp"
#include "dht/input.hpp"
#include "dht/main.hpp"
#include "dht/mqtt.hpp"
#include "dht/output.hpp"
#include "dht/signals.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

namespace {

using namespace dht;
using namespace dht::influx;

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    std::string measurement = "dht11";
    std::vector<std::string> tag;
    std::string topic_tags;
    bool int_fields = false;
    std::vector<std::string> int_field;
    bool string_fields = false;
    std::string precision = "ns";
    std::string url;
    std::string database, retention_policy, influx_username, influx_password_file;
    std::string org, bucket, token_file;
    bool gzip = false;
    std::size_t batch = 5000;
    std::string flush_interval = "1s";
    std::size_t buffer = 100000;
    std::string spool;
    std::string flush_timeout = "10s";
    std::string http_timeout = "10s";
    std::string retry_max = "30s";
    std::string influx_cafile;
    bool influx_insecure = false;
    std::string bare_topic;
};

void setup(CLI::App &app, Options &o)
{
    app.description("Write message records as InfluxDB line protocol: printed, or to InfluxDB 1.x\n"
                    "(--url --database) or 2.x (--url --org --bucket --token-file), batched, retried and\n"
                    "spooled so that an outage of the database loses nothing.");
    add_mqtt_options(app, o.mqtt, mqtt_subscribe | mqtt_short_url);
    add_common_options(app, o.common, true);
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
    app.add_option("--flush-interval", o.flush_interval, "Send a partial batch after DURATION (default: 1s)")
        ->type_name("DURATION")
        ->group(db);
    app.add_option("--buffer", o.buffer, "Lines held in memory while InfluxDB is away (default: 100000)")
        ->check(CLI::Range(std::size_t{100}, std::size_t{100000000}))
        ->group(db);
    app.add_option("--spool", o.spool, "Directory for lines that cannot be sent yet; resent at the next start")
        ->type_name("DIR")
        ->group(db);
    app.add_option("--flush-timeout", o.flush_timeout,
                   "At the end, how long to keep trying before spooling (default: 10s)")
        ->type_name("DURATION")
        ->group(db);
    app.add_option("--http-timeout", o.http_timeout, "Longest wait for one request (default: 10s)")
        ->type_name("DURATION")
        ->group(db);
    app.add_option("--retry-max", o.retry_max, "Longest wait between retries (default: 30s)")
        ->type_name("DURATION")
        ->group(db);
    app.add_option("--influx-cafile", o.influx_cafile, "CA certificates for an https URL")
        ->type_name("FILE")
        ->group(db);
    app.add_flag("--influx-insecure", o.influx_insecure, "Do not verify the server's certificate")->group(db);
    app.add_option("--bare-topic", o.bare_topic, "Topic given to bare payloads read from stdin")->type_name("TOPIC");
}

std::chrono::nanoseconds duration(const std::string &text, const char *flag)
{
    const auto d = parse_duration(text);
    if (!d || d->count() <= 0)
        fail(exit_usage, cat(flag, ": '", text, "' is not a duration"));
    return *d;
}

// A secret from FILE (first line), else from the environment variable.
std::string secret(const std::string &file, const char *env, const char *flag)
{
    if (!file.empty()) {
        std::ifstream in(file);
        if (!in)
            fail(exit_noinput, cat(flag, ": ", file, ": ", std::strerror(errno)));
        std::string line;
        std::getline(in, line);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
            line.pop_back();
        return line;
    }
    const char *v = std::getenv(env);
    return v != nullptr ? v : "";
}

Settings settings_from(const Options &o)
{
    Settings s;
    s.measurement = o.measurement;
    if (s.measurement.empty())
        fail(exit_usage, "--measurement: empty");
    for (const auto &kv : o.tag) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == kv.size())
            fail(exit_usage, cat("--tag: '", kv, "' is not KEY=VALUE"));
        if (kv.substr(0, eq) == "sensor")
            fail(exit_usage, "--tag: the sensor tag comes from each record");
        s.tags.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    if (!o.topic_tags.empty()) {
        std::size_t begin = 0;
        while (begin <= o.topic_tags.size()) {
            const std::size_t slash = std::min(o.topic_tags.find('/', begin), o.topic_tags.size());
            s.topic_tags.push_back(o.topic_tags.substr(begin, slash - begin));
            if (s.topic_tags.back() == "sensor")
                fail(exit_usage, "--topic-tags: the sensor tag comes from each record");
            begin = slash + 1;
        }
    }
    s.int_fields = o.int_fields;
    s.int_field_names = o.int_field;
    s.string_fields = o.string_fields;
    s.precision = o.precision == "s" ? Precision::s : o.precision == "ms" ? Precision::ms
                  : o.precision == "us" ? Precision::us : Precision::ns;
    return s;
}

std::optional<InfluxSink> make_sink(const Options &o)
{
    if (o.url.empty()) {
        if (!o.spool.empty() || !o.database.empty() || !o.bucket.empty())
            fail(exit_usage, "--spool, --database and --bucket go with --url");
        return std::nullopt;
    }
    if (o.url.rfind("http://", 0) != 0 && o.url.rfind("https://", 0) != 0)
        fail(exit_usage, cat("--url: '", o.url, "' is not an http:// or https:// URL"));
    SinkConfig c;
    c.url = o.url;
    c.v2 = !o.bucket.empty() || !o.org.empty();
    if (c.v2) {
        if (o.bucket.empty() || o.org.empty())
            fail(exit_usage, "InfluxDB 2.x needs --org and --bucket");
        if (!o.database.empty())
            fail(exit_usage, "--database is for 1.x, --org/--bucket for 2.x: not both");
        c.org = o.org;
        c.bucket = o.bucket;
        c.token = secret(o.token_file, "DHT_INFLUX_TOKEN", "--token-file");
    } else {
        if (o.database.empty())
            fail(exit_usage, "--url needs --database (1.x) or --org and --bucket (2.x)");
        c.database = o.database;
        c.retention_policy = o.retention_policy;
        c.username = o.influx_username;
        c.password = secret(o.influx_password_file, "DHT_INFLUX_PASSWORD", "--influx-password-file");
    }
    c.precision = o.precision;
    c.gzip = o.gzip;
    c.batch_lines = o.batch;
    c.flush_interval = std::chrono::duration_cast<std::chrono::milliseconds>(duration(o.flush_interval, "--flush-interval"));
    if (o.buffer < o.batch)
        fail(exit_usage, cat("--buffer (", o.buffer, ") must hold at least one --batch (", o.batch, ")"));
    c.max_lines = o.buffer;
    c.spool_dir = o.spool;
    c.retry_max = duration(o.retry_max, "--retry-max");
    c.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(duration(o.http_timeout, "--http-timeout"));
    c.cafile = o.influx_cafile;
    c.insecure = o.influx_insecure;
    return std::optional<InfluxSink>(std::in_place, std::move(c));
}

int run(Options &o)
{
    set_verbosity(o.common.verbose);
    finish_mqtt_options(o.mqtt, "dht-export-influx");
    const auto flush_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(duration(o.flush_timeout, "--flush-timeout"));
    Encoder encoder(settings_from(o));
    auto sink = make_sink(o);
    install_signal_handlers();

    Output out;
    std::string scratch;
    std::uint64_t points = 0, skipped = 0;
    const auto message = [&](const Message &m) {
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
    const auto tick = [&] {
        if (sink)
            sink->tick();
        else
            out.flush();
    };

    int status = exit_ok;
    const auto finish = [&] {
        out.flush();
        if (!sink)
            return;
        const auto lost = sink->finish(flush_timeout);
        warn(cat(sink->written(), " points written to ", sink->label(), ", ", sink->retries(), " retries, ",
                 sink->rejected(), " rejected, ", sink->spooled(), " spooled, ", lost, " lost"));
        if (const auto f = sink->failure(); f && status == exit_ok)
            status = *f;
        if (lost > 0 && status == exit_ok)
            status = exit_unavailable;
    };
    try {
        if (o.mqtt.wants_broker()) {
            MqttLibrary library;
            Session session(o.mqtt);
            JsonParser parser(o.common.max_depth);
            status = consume(
                session,
                [&](const MqttMessage &m) {
                    message(make_message(parser, m.topic, m.payload, m.qos, m.retain, m.received));
                    return true;
                },
                tick,
                [&]() -> std::optional<int> {
                    tick();
                    if (sink)
                        return sink->failure();
                    return std::nullopt;
                });
        } else {
            RecordInput input(o.common);
            input.run({[&](const json::object &record, std::string_view) {
                           if (const auto m = input.message(record, o.bare_topic))
                               message(*m);
                           if (sink && sink->failure())
                               request_stop();  // refused for good: stop reading, keep what was read
                       },
                       tick,
                       [&] { return sink ? 200 : -1; }});
            input.errors().summary();
        }
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
    return dht::main_guard("dht-export-influx", [&] {
        CLI::App app{"", "dht-export-influx"};
        Options options;
        setup(app, options);
        dht::parse_command_line(app, argc, argv);
        return run(options);
    });
}
