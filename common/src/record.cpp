#include "dht/record.hpp"

#include "dht/diag.hpp"
#include "dht/text.hpp"

#include <mosquitto.h>

#include <atomic>
#include <bit>
#include <cstring>
#include <utility>

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

namespace {

void append_record_head(std::string &out, TimePoint timestamp, std::string_view topic)
{
    out += R"({"kind":"message","timestamp":")";
    append_rfc3339(out, timestamp);
    out += R"(","topic":)";
    append_json_string(out, topic);
    out += R"(,"payload":)";
}

void append_record_tail(std::string &out, bool base64, int qos, bool retain)
{
    if (base64)
        out += R"(,"encoding":"base64")";
    out += R"(,"qos":)";
    out.push_back(static_cast<char>('0' + qos));
    out += retain ? R"(,"retain":true})" : R"(,"retain":false})";
}

}  // namespace

void append_message_record(std::string &out, const Message &message)
{
    append_record_head(out, message.timestamp, message.topic);
    append_json(out, message.payload);
    append_record_tail(out, message.payload_base64, message.qos, message.retain);
}

void append_message_record(std::string &out, const MessageText &message)
{
    append_record_head(out, message.timestamp, message.topic);
    out += message.payload;
    append_record_tail(out, message.payload_base64, message.qos, message.retain);
}

namespace {

// Reads JSON text that is what append_json() writes of the value Boost.JSON
// parses from it, but for numbers, which it notes with the text append_json()
// writes of them; no value is built. Anything it is not sure of is a no.
class CompactReader {
public:
    // Starts on `text`; the reader is reused line after line, keeping its buffers.
    void reset(std::string_view text, std::size_t max_depth)
    {
        p_ = text.data();
        end_ = text.data() + text.size();
        max_depth_ = max_depth;
        depth_ = 0;
        keys_.clear();
        patches_.clear();
        patch_text_.clear();
    }

    // The text append_json() writes of the value read from `json`, a part of
    // the text: `json` itself, or `buffer` with the numbers rewritten.
    std::string_view canonical(std::string_view json, std::string &buffer) const
    {
        const char *from = json.data();
        const char *to = from + json.size();
        bool any = false;
        for (const auto &patch : patches_) {
            if (patch.from < json.data() || patch.to > to)
                continue;
            if (!any)
                buffer.clear();
            any = true;
            buffer.append(from, patch.from);
            buffer.append(patch_text_, patch.at, patch.size);
            from = patch.to;
        }
        if (!any)
            return json;
        buffer.append(from, to);
        return buffer;
    }

    bool at_end() const noexcept { return p_ == end_; }

    bool value()
    {
        if (p_ == end_)
            return false;
        switch (*p_) {
        case '{': return object(nullptr);
        case '[': return array();
        case '"': return string();
        case 't': return literal("true");
        case 'f': return literal("false");
        case 'n': return literal("null");
        default: return number();
        }
    }

    // One member of an object, for the caller to look at.
    struct Member {
        std::string_view key;    // as written, without its quotes
        std::string_view value;  // as written
    };
    // `members`, when given, gets the object's members.
    bool object(std::vector<Member> *members)
    {
        bool closed = false;
        if (!enter('}', closed))
            return false;
        const std::size_t keys_from = keys_.size();
        while (!closed) {
            const char *key = p_ + 1;
            if (p_ == end_ || *p_ != '"' || !string())
                return false;
            const std::string_view name(key, static_cast<std::size_t>(p_ - 1 - key));
            // Boost.JSON keeps one member of a key given twice: no longer the same text.
            if (keys_.size() - keys_from >= 32)
                return false;
            for (std::size_t i = keys_from; i < keys_.size(); ++i)
                if (keys_[i] == name)
                    return false;
            keys_.push_back(name);
            if (p_ == end_ || *p_ != ':')
                return false;
            const char *v = ++p_;
            if (!value())
                return false;
            if (members != nullptr)
                members->push_back({name, std::string_view(v, static_cast<std::size_t>(p_ - v))});
            if (!separator('}', closed))
                return false;
        }
        keys_.resize(keys_from);
        return true;
    }

private:
    bool array()
    {
        bool closed = false;
        if (!enter(']', closed))
            return false;
        while (!closed)
            if (!value() || !separator(']', closed))
                return false;
        return true;
    }

    // At '{' or '[': false when that is nested too deep; `closed` when the
    // container is empty (and read).
    bool enter(char close, bool &closed)
    {
        if (++depth_ >= max_depth_)
            return false;
        ++p_;
        closed = p_ != end_ && *p_ == close;
        if (closed) {
            ++p_;
            --depth_;
        }
        return true;
    }

    // After a member or an element: ',' before the next, or `close`, which
    // sets `closed`.
    bool separator(char close, bool &closed)
    {
        if (p_ == end_ || (*p_ != ',' && *p_ != close))
            return false;
        closed = *p_++ == close;
        if (closed)
            --depth_;
        return true;
    }

    bool literal(std::string_view word)
    {
        if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word)
            return false;
        p_ += word.size();
        return true;
    }

    // The escapes append_json_string() writes: \" \\ \n \r \t \b \f and
    // \u00xx (lower-case hex) for the other bytes below 0x20.
    bool escape()
    {
        if (end_ - p_ < 2)
            return false;
        switch (p_[1]) {
        case '"':
        case '\\':
        case 'n':
        case 'r':
        case 't':
        case 'b':
        case 'f': p_ += 2; return true;
        case 'u': break;
        default: return false;
        }
        if (end_ - p_ < 6 || p_[2] != '0' || p_[3] != '0' || (p_[4] != '0' && p_[4] != '1'))
            return false;
        const char x = p_[5];
        int low;
        if (x >= '0' && x <= '9')
            low = x - '0';
        else if (x >= 'a' && x <= 'f')
            low = x - 'a' + 10;
        else
            return false;
        const int c = (p_[4] - '0') * 16 + low;
        if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
            return false;
        p_ += 6;
        return true;
    }

    bool string()
    {
        const char *start = ++p_;  // after '"'
        bool ascii = true;
        for (;;) {
            p_ = plain_string_run(p_, end_, true);
            if (p_ == end_)
                return false;
            const auto c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                if (!ascii && !valid_utf8(std::string_view(start, static_cast<std::size_t>(p_ - start))))
                    return false;
                ++p_;
                return true;
            }
            if (c < 0x20)
                return false;
            if (c == '\\') {
                if (!escape())
                    return false;
                continue;
            }
            ascii = ascii && c < 0x80;
            ++p_;
        }
    }


    // A number read_plain_number() takes, which Boost.JSON parses to the same
    // value: an integer is written back as it came ("-0" excepted, written
    // "0": left out); a decimal is written by append_number(), and where that
    // differs from the text ("20.0" as "20") the difference is noted.
    bool number()
    {
        const char *start = p_;
        PlainNumber n;
        if (!read_plain_number(p_, end_, n))
            return false;
        if (n.integer)
            return n.int_value != 0 || *start != '-';
        const std::size_t at = patch_text_.size();
        append_number(patch_text_, n.value);
        const std::string_view written(patch_text_.data() + at, patch_text_.size() - at);
        if (written == std::string_view(start, static_cast<std::size_t>(p_ - start)))
            patch_text_.resize(at);
        else
            patches_.push_back({start, p_, at, written.size()});
        return true;
    }

    const char *p_ = nullptr;
    const char *end_ = nullptr;
    std::size_t max_depth_ = 0;
    std::size_t depth_ = 0;
    std::vector<std::string_view> keys_;  // of the objects being read, outer first
    // Numbers that append_json() writes otherwise: [from, to) is written as
    // patch_text_.substr(at, size).
    struct Patch {
        const char *from, *to;
        std::size_t at, size;
    };
    std::vector<Patch> patches_;
    std::string patch_text_;
};

bool string_value(std::string_view json, std::string_view &text)
{
    if (json.size() < 2 || json.front() != '"' || json.find('\\') != std::string_view::npos)
        return false;
    text = json.substr(1, json.size() - 2);
    return true;
}

}  // namespace

bool read_message_text(std::string_view line, std::string_view bare_topic, std::size_t max_depth, TimePoint received,
                       MessageText &out)
{
    thread_local CompactReader reader;
    thread_local std::vector<CompactReader::Member> members;
    thread_local std::string rewritten;
    members.clear();
    if (line.empty() || line.front() != '{')
        return false;
    reader.reset(line, max_depth);
    if (!reader.object(&members) || !reader.at_end())
        return false;
    std::string_view kind, topic, timestamp, payload = "null", encoding, qos, retain;
    const std::pair<std::string_view, std::string_view *> keys[] = {
        {"kind", &kind},         {"topic", &topic}, {"timestamp", &timestamp}, {"payload", &payload},
        {"encoding", &encoding}, {"qos", &qos},     {"retain", &retain}};
    for (const auto &m : members)
        for (const auto &[name, value] : keys)
            if (m.key == name) {
                *value = m.value;
                break;
            }
    out = MessageText{};
    if (kind.empty()) {  // a bare payload
        out.topic = bare_topic;
        out.payload = reader.canonical(line, rewritten);
        out.timestamp = received;
        return true;
    }
    if (kind != R"("message")" || !string_value(topic, out.topic))
        return false;
    out.payload = reader.canonical(payload, rewritten);
    out.payload_base64 = encoding == R"("base64")";
    if (timestamp.empty()) {
        out.timestamp = received;
    } else {
        std::string_view text;
        if (!string_value(timestamp, text))
            return false;
        const auto t = parse_rfc3339(text);
        if (!t)
            return false;
        out.timestamp = *t;
    }
    if (!qos.empty()) {
        if (qos.size() != 1 || qos[0] < '0' || qos[0] > '2')
            return false;
        out.qos = qos[0] - '0';
    }
    if (retain == "true")
        out.retain = true;
    else if (!retain.empty() && retain != "false")
        return false;
    return true;
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
    if (payload_sensor.empty())
        return topic;  // the common case, without a comparison
    const std::string_view name = sensor_name(topic, payload_sensor);
    if (name != topic || payload_sensor == topic)
        return name;  // the same, or one the topic may speak for
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
