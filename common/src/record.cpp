#include "dht/record.hpp"

#include "dht/diag.hpp"
#include "dht/text.hpp"

#include <mosquitto.h>

#include <atomic>

namespace dht {

json::value payload_from_bytes(JsonParser &parser, std::string_view bytes, bool &base64)
{
    base64 = false;
    json::value value;
    std::string error;
    if (!bytes.empty() && parser.parse(bytes, value, error))
        return value;
    if (valid_utf8(bytes))
        return json::string(bytes);
    base64 = true;
    return json::string(base64_encode(bytes));
}

Message make_message(JsonParser &parser, std::string topic, std::string_view payload, int qos, bool retain,
                     TimePoint received)
{
    Message m;
    m.topic = std::move(topic);
    m.payload = payload_from_bytes(parser, payload, m.payload_base64);
    m.timestamp = received;
    m.qos = qos;
    m.retain = retain;
    return m;
}

void append_message_record(std::string &out, const Message &message)
{
    out += R"({"kind":"message","timestamp":")";
    append_rfc3339(out, message.timestamp);
    out += R"(","topic":)";
    append_json_string(out, message.topic);
    out += R"(,"payload":)";
    append_json(out, message.payload);
    if (message.payload_base64)
        out += R"(,"encoding":"base64")";
    out += R"(,"qos":)";
    out.push_back(static_cast<char>('0' + message.qos));
    out += message.retain ? R"(,"retain":true})" : R"(,"retain":false})";
}

ObjectWriter &time_member(ObjectWriter &w, std::string_view name, TimePoint t)
{
    auto &out = w.key(name).out();
    out += '"';
    append_rfc3339(out, t);
    out += '"';
    return w;
}

RecordKind record_kind(const json::object &record)
{
    const auto *kind = record.if_contains("kind");
    if (kind == nullptr)
        return RecordKind::bare;
    const auto *s = kind->if_string();
    if (s == nullptr)
        return RecordKind::invalid;
    if (*s == "message")
        return RecordKind::message;
    if (*s == "alert")
        return RecordKind::alert;
    if (*s == "incident")
        return RecordKind::incident;
    if (*s == "stats")
        return RecordKind::stats;
    return RecordKind::other;
}

std::optional<Message> message_from_record(const json::object &record, std::string_view default_topic,
                                           TimePoint received, std::string &error)
{
    Message m;
    if (record_kind(record) == RecordKind::bare) {
        m.topic = std::string(default_topic);
        m.payload = record;
        m.timestamp = received;
        return m;
    }
    const auto *topic = record.if_contains("topic");
    if (topic == nullptr || !topic->is_string()) {
        error = "message record without a string \"topic\"";
        return std::nullopt;
    }
    m.topic = std::string(topic->get_string());
    const auto *ts = record.if_contains("timestamp");
    if (ts == nullptr) {
        m.timestamp = received;
    } else {
        const auto *s = ts->if_string();
        std::optional<TimePoint> t;
        if (s != nullptr)
            t = parse_rfc3339(*s);
        if (!t) {
            error = "\"timestamp\" is not an RFC 3339 time";
            return std::nullopt;
        }
        m.timestamp = *t;
    }
    if (const auto *payload = record.if_contains("payload"))
        m.payload = *payload;
    if (const auto *enc = record.if_contains("encoding"); enc != nullptr && enc->is_string() &&
                                                          enc->get_string() == "base64")
        m.payload_base64 = true;
    if (const auto *qos = record.if_contains("qos")) {
        const auto *q = qos->if_int64();
        if (q == nullptr || *q < 0 || *q > 2) {
            error = "\"qos\" is not 0, 1 or 2";
            return std::nullopt;
        }
        m.qos = static_cast<int>(*q);
    }
    if (const auto *retain = record.if_contains("retain")) {
        if (!retain->is_bool()) {
            error = "\"retain\" is not true or false";
            return std::nullopt;
        }
        m.retain = retain->get_bool();
    }
    return m;
}

namespace {

std::vector<std::string> g_shared_topics;
std::atomic<std::uint64_t> g_ignored_sensors{0};

bool shared_topic(std::string_view topic)
{
    thread_local std::string text;  // libmosquitto wants a C string
    text.assign(topic);
    for (const auto &filter : g_shared_topics) {
        bool match = false;
        if (mosquitto_topic_matches_sub(filter.c_str(), text.c_str(), &match) == MOSQ_ERR_SUCCESS && match)
            return true;
    }
    return false;
}

}  // namespace

void set_shared_topics(std::vector<std::string> filters) { g_shared_topics = std::move(filters); }

std::string_view sensor_name(std::string_view topic, std::string_view payload_sensor)
{
    if (payload_sensor.empty() || payload_sensor == topic)
        return topic;
    if (topic.empty())
        return payload_sensor;  // a bare payload without --bare-topic: no topic, no account to speak for
    if (!g_shared_topics.empty() && shared_topic(topic))
        return payload_sensor;
    return topic;
}

std::string_view record_sensor(std::string_view topic, std::string_view payload_sensor)
{
    const std::string_view name = sensor_name(topic, payload_sensor);
    if (name != topic || payload_sensor.empty() || payload_sensor == topic)
        return name;  // no "sensor", the same, or one the topic may speak for
    if (g_ignored_sensors.fetch_add(1) == 0) {
        warn(cat(printable(topic), ": the payload names the sensor ", quoted_name(payload_sensor),
                 ", which this topic may not speak for: the topic names it (--shared-topic lets a topic's "
                 "payloads name their sensors); said once"));
    }
    return topic;
}

std::uint64_t ignored_sensors() noexcept { return g_ignored_sensors.load(); }

void say_ignored_sensors()
{
    if (const auto n = g_ignored_sensors.load(); n > 0)
        warn(cat(n, n == 1 ? " record" : " records", " named a sensor its topic may not speak for: the topic was used"));
}

std::string_view sensor_of(const Message &message)
{
    std::string_view sensor;
    if (const auto *obj = message.payload.if_object())
        if (const auto *value = obj->if_contains("sensor"))
            if (const auto *s = value->if_string())
                sensor = *s;
    return record_sensor(message.topic, sensor);
}

const json::value *find_field(const json::value &payload, std::string_view path)
{
    const json::value *v = &payload;
    // A key that itself holds a dot ("a.b") wins over the nested path.
    if (const auto *obj = v->if_object())
        if (const auto *direct = obj->if_contains(path))
            return direct;
    while (!path.empty()) {
        const auto *obj = v->if_object();
        if (obj == nullptr)
            return nullptr;
        const std::size_t dot = path.find('.');
        const std::string_view key = path.substr(0, dot);
        v = obj->if_contains(key);
        if (v == nullptr)
            return nullptr;
        path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    }
    return v;
}

std::optional<double> numeric_field(const json::value &payload, std::string_view path)
{
    const json::value *v = find_field(payload, path);
    if (v == nullptr)
        return std::nullopt;
    switch (v->kind()) {
    case json::kind::double_: return v->get_double();
    case json::kind::int64: return static_cast<double>(v->get_int64());
    case json::kind::uint64: return static_cast<double>(v->get_uint64());
    default: return std::nullopt;
    }
}

}  // namespace dht
