#include "options.hpp"

#include "dht/diag.hpp"

#include <algorithm>

namespace dht::influx {

Settings settings_from(const Options &o)
{
    Settings s;
    s.measurement = o.measurement;
    if (s.measurement.empty())
        usage_error("--measurement: empty");
    for (const auto &kv : o.tag)
        s.tags.push_back(parse_tag_flag(kv));
    if (!o.topic_tags.empty()) {
        std::size_t begin = 0;
        while (begin <= o.topic_tags.size()) {
            const std::size_t slash = std::min(o.topic_tags.find('/', begin), o.topic_tags.size());
            s.topic_tags.push_back(o.topic_tags.substr(begin, slash - begin));
            if (s.topic_tags.back() == "sensor")
                usage_error("--topic-tags: the sensor tag comes from each record");
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

std::optional<SinkConfig> sink_config(const Options &o)
{
    if (o.url.empty()) {
        if (!o.spool.empty() || !o.database.empty() || !o.bucket.empty())
            usage_error("--spool, --database and --bucket go with --url");
        return std::nullopt;
    }
    if (o.url.rfind("http://", 0) != 0 && o.url.rfind("https://", 0) != 0)
        usage_error(cat("--url: '", o.url, "' is not an http:// or https:// URL"));
    SinkConfig c;
    c.url = o.url;
    c.v2 = !o.bucket.empty() || !o.org.empty();
    if (c.v2) {
        if (o.bucket.empty() || o.org.empty())
            usage_error("InfluxDB 2.x needs --org and --bucket");
        if (!o.database.empty())
            usage_error("--database is for 1.x, --org/--bucket for 2.x: not both");
        c.org = o.org;
        c.bucket = o.bucket;
        c.token = read_secret({}, o.token_file, "DHT_INFLUX_TOKEN", "--token-file");
    } else {
        if (o.database.empty())
            usage_error("--url needs --database (1.x) or --org and --bucket (2.x)");
        c.database = o.database;
        c.retention_policy = o.retention_policy;
        c.username = o.influx_username;
        c.password = read_secret({}, o.influx_password_file, "DHT_INFLUX_PASSWORD", "--influx-password-file");
    }
    if (o.buffer < o.batch)
        usage_error(cat("--buffer (", o.buffer, ") must hold at least one --batch (", o.batch, ")"));
    c.precision = o.precision;
    c.gzip = o.gzip;
    c.batch_lines = o.batch;
    c.flush_interval = std::chrono::duration_cast<std::chrono::milliseconds>(o.flush_interval);
    c.max_lines = o.buffer;
    c.spool_dir = o.spool;
    c.retry_max = o.retry_max;
    c.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.http_timeout);
    c.cafile = o.influx_cafile;
    c.insecure = o.influx_insecure;
    return c;
}

}  // namespace dht::influx
