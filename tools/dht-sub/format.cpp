#include "format.hpp"

#include "dht/json.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <cmath>
#include <cstdint>
#include <cstdarg>
#include <cstring>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <stdexcept>

namespace dht::sub {
namespace {

constexpr std::string_view kConversions = "%ACDEFIjJlmpPqRrStUxX";

// printf into `out`.
__attribute__((format(printf, 2, 3))) void appendf(std::string &out, const char *fmt, ...)
{
    char small[128];
    va_list args;
    va_start(args, fmt);
    const int n = std::vsnprintf(small, sizeof small, fmt, args);
    va_end(args);
    if (n < 0)
        return;
    if (static_cast<std::size_t>(n) < sizeof small) {
        out.append(small, static_cast<std::size_t>(n));
        return;
    }
    std::string big(static_cast<std::size_t>(n) + 1, '\0');
    va_start(args, fmt);
    std::vsnprintf(big.data(), big.size(), fmt, args);
    va_end(args);
    out.append(big.data(), static_cast<std::size_t>(n));
}

struct LocalTime {
    std::tm tm{};
    long ns = 0;
    long long seconds = 0;
};

LocalTime local_time(TimePoint t)
{
    LocalTime lt;
    const auto since = t.time_since_epoch();
    lt.seconds = std::chrono::floor<std::chrono::seconds>(since).count();
    lt.ns = (since - std::chrono::seconds(lt.seconds)).count();
    const auto tt = static_cast<std::time_t>(lt.seconds);
    localtime_r(&tt, &lt.tm);
    return lt;
}

// The conversion comes from the user's -F format (@X), so it cannot be a literal.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
std::string strftime_text(const char *spec, const std::tm &tm)
{
    char buf[128];
    const std::size_t n = std::strftime(buf, sizeof buf, spec, &tm);
    return std::string(buf, n);
}
#pragma GCC diagnostic pop

// mosquitto_sub's payload writer, including its treatment of width: the payload
// is cut to the width, and "-" pads on the right with |padlen| spaces.
void write_payload(std::string &out, std::string_view payload, int hex, char align, char pad, int width)
{
    auto len = static_cast<int>(payload.size());
    int padlen;
    if (width > 0) {
        if (len > width)
            len = width;
        if (hex > 0) {
            len /= 2;
            padlen = width - len * 2;
        } else {
            padlen = width - len;
        }
    } else {
        padlen = width - len;
    }
    if (align != '-')
        for (int i = 0; i < padlen; ++i)
            out.push_back(pad);
    static constexpr char lower[] = "0123456789abcdef";
    static constexpr char upper[] = "0123456789ABCDEF";
    const auto n = static_cast<std::size_t>(len);
    if (hex == 0) {
        out.append(payload.data(), n);
    } else {
        const char *digits = hex == 1 ? lower : upper;
        for (std::size_t i = 0; i < n; ++i) {
            const auto c = static_cast<unsigned char>(payload[i]);
            out.push_back(digits[c >> 4]);
            out.push_back(digits[c & 0xF]);
        }
    }
    if (align == '-')
        out.append(static_cast<std::size_t>(std::abs(padlen)), ' ');
}

void print_int(std::string &out, int value, char align, char pad, int width)
{
    if (width == 0)
        appendf(out, "%d", value);
    else if (align == '-')
        appendf(out, "%-*d", width, value);
    else if (pad == '0')
        appendf(out, "%0*d", width, value);
    else
        appendf(out, "%*d", width, value);
}

void print_str(std::string &out, const std::string &value, char align, int width, int precision)
{
    if (width == 0 && precision == -1)
        out += value;
    else if (precision == -1)
        appendf(out, align == '-' ? "%-*s" : "%*s", width, value.c_str());
    else
        appendf(out, align == '-' ? "%-*.*s" : "%*.*s", width, precision, value.c_str());
}

void print_blank(std::string &out, char pad, int width) { out.append(static_cast<std::size_t>(width), pad); }

// cJSON's number printing, which mosquitto_sub's %j/%J output goes through.
void append_cjson_number(std::string &out, double d)
{
    if (!std::isfinite(d)) {
        out += "null";
        return;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%1.15g", d);
    if (std::strtod(buf, nullptr) != d)
        std::snprintf(buf, sizeof buf, "%1.17g", d);
    out += buf;
}

template <class T, class Reader>
bool read_prop(const MqttMessage &m, int id, T &value, Reader reader)
{
    return m.properties && reader(m.properties.get(), id, &value, false) != nullptr;
}

bool read_string_prop(const MqttMessage &m, int id, std::string &value)
{
    char *s = nullptr;
    if (!m.properties || mosquitto_property_read_string(m.properties.get(), id, &s, false) == nullptr)
        return false;
    value = s;
    std::free(s);
    return true;
}

void append_properties(std::string &out, const MqttMessage &m)
{
    // Members in the order of the properties; cJSON puts "user-properties" where
    // the first user property stood.
    std::vector<std::pair<std::string, std::string>> members;
    std::size_t users_at = SIZE_MAX;
    std::string users;
    for (const mosquitto_property *p = m.properties.get(); p != nullptr; p = mosquitto_property_next(p)) {
        const int id = mosquitto_property_identifier(p);
        std::string value;
        switch (id) {
        case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR: {
            std::uint8_t v = 0;
            mosquitto_property_read_byte(p, id, &v, false);
            appendf(value, "%d", v);
            break;
        }
        case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL: {
            std::uint32_t v = 0;
            mosquitto_property_read_int32(p, id, &v, false);
            appendf(value, "%u", v);
            break;
        }
        case MQTT_PROP_SUBSCRIPTION_IDENTIFIER: {
            std::uint32_t v = 0;
            mosquitto_property_read_varint(p, id, &v, false);
            appendf(value, "%u", v);
            break;
        }
        case MQTT_PROP_TOPIC_ALIAS: {
            std::uint16_t v = 0;
            mosquitto_property_read_int16(p, id, &v, false);
            appendf(value, "%u", static_cast<unsigned>(v));
            break;
        }
        case MQTT_PROP_CONTENT_TYPE:
        case MQTT_PROP_RESPONSE_TOPIC: {
            char *text = nullptr;
            mosquitto_property_read_string(p, id, &text, false);
            append_json_string(value, text != nullptr ? text : "");
            std::free(text);
            break;
        }
        case MQTT_PROP_CORRELATION_DATA: {
            void *data = nullptr;
            std::uint16_t len = 0;
            mosquitto_property_read_binary(p, id, &data, &len, false);
            append_json_string(value, data != nullptr ? static_cast<const char *>(data) : "");
            std::free(data);
            break;
        }
        case MQTT_PROP_USER_PROPERTY: {
            char *k = nullptr, *v = nullptr;
            mosquitto_property_read_string_pair(p, id, &k, &v, false);
            if (users_at == SIZE_MAX) {
                users_at = members.size();
                members.emplace_back("user-properties", std::string());
            } else {
                users.push_back(',');
            }
            append_json_string(users, k != nullptr ? k : "");
            users.push_back(':');
            append_json_string(users, v != nullptr ? v : "");
            std::free(k);
            std::free(v);
            continue;
        }
        default: continue;
        }
        members.emplace_back(mosquitto_property_identifier_to_string(id), std::move(value));
    }
    if (users_at != SIZE_MAX)
        members[users_at].second = "{" + users + "}";
    out += R"(,"properties":{)";
    bool first = true;
    for (const auto &[name, value] : members) {
        if (!first)
            out.push_back(',');
        first = false;
        append_json_string(out, name);
        out.push_back(':');
        out += value;
    }
    out.push_back('}');
}

}  // namespace

void prettify_json(std::string &out, std::size_t from)
{
    const std::string compact = out.substr(from);
    out.resize(from);
    std::vector<char> open;  // '{' or '[' of each enclosing value
    const auto indent = [&out](std::size_t depth) { out.append(depth, '\t'); };
    for (std::size_t i = 0; i < compact.size(); ++i) {
        const char c = compact[i];
        switch (c) {
        case '"':
            for (out.push_back(c); ++i < compact.size() && compact[i] != '"';) {
                out.push_back(compact[i]);
                if (compact[i] == '\\' && i + 1 < compact.size())
                    out.push_back(compact[++i]);
            }
            out.push_back('"');
            break;
        case '{':
            open.push_back(c);
            out += "{\n";
            if (i + 1 < compact.size() && compact[i + 1] != '}')
                indent(open.size());
            break;
        case '}':
            if (compact[i - 1] != '{')
                out.push_back('\n');
            indent(open.size() - 1);
            out.push_back('}');
            open.pop_back();
            break;
        case '[':
            open.push_back(c);
            out.push_back(c);
            break;
        case ']':
            open.pop_back();
            out.push_back(c);
            break;
        case ',':
            out.push_back(',');
            if (!open.empty() && open.back() == '{') {
                out.push_back('\n');
                indent(open.size());
            } else {
                out.push_back(' ');
            }
            break;
        case ':': out += ":\t"; break;
        default: out.push_back(c);
        }
    }
}

bool render_json(std::string &out, const MqttMessage &m, bool escaped)
{
    json::value parsed;
    if (!escaped && !m.payload.empty()) {
        // mosquitto_sub parses the payload as a C string: a NUL byte ends it.
        JsonParser parser(1000);
        std::string error;
        if (m.payload.find('\0') != std::string::npos || !parser.parse(m.payload, parsed, error))
            return false;
    }
    const LocalTime lt = local_time(m.received);
    std::string tst = strftime_text("%Y-%m-%dT%H:%M:%S", lt.tm);
    appendf(tst, ".%06ldZ", lt.ns / 1000);
    tst += strftime_text("%z", lt.tm);
    out += R"({"tst":")";
    out += tst;
    out += R"(","topic":)";
    append_json_string(out, m.topic);
    appendf(out, R"(,"qos":%d,"retain":%d,"payloadlen":%zu)", m.qos, m.retain ? 1 : 0, m.payload.size());
    if (m.qos > 0)
        appendf(out, R"(,"mid":%d)", m.mid);
    if (m.properties)
        append_properties(out, m);
    out += R"(,"payload":)";
    if (m.payload.empty())
        out += "null";
    else if (escaped)
        append_json_string(out, std::string_view(m.payload.c_str()));  // up to the first NUL, as cJSON
    else
        append_json(out, parsed, append_cjson_number);
    out.push_back('}');
    return true;
}

Format::Format(std::string_view spec, bool pretty) : pretty_(pretty)
{
    std::string literal;
    const auto flush_literal = [&] {
        if (!literal.empty()) {
            tokens_.push_back(Token{Token::Kind::literal, std::move(literal)});
            literal.clear();
        }
    };
    const std::size_t len = spec.size();
    for (std::size_t i = 0; i < len; ++i) {
        const char c = spec[i];
        if (c == '%') {
            Token t{Token::Kind::field, {}};
            ++i;
            if (i < len && spec[i] == '-') {
                t.align = '-';
                ++i;
            }
            if (i < len && spec[i] == '0') {
                t.pad = '0';
                ++i;
            }
            while (i < len && spec[i] >= '0' && spec[i] <= '9') {
                t.width = t.width * 10 + (spec[i] - '0');
                if (t.width > 4096)
                    throw std::invalid_argument("field width over 4096 in the format");
                ++i;
            }
            if (i < len && spec[i] == '.') {
                ++i;
                t.precision = 0;
                while (i < len && spec[i] >= '0' && spec[i] <= '9') {
                    t.precision = t.precision * 10 + (spec[i] - '0');
                    if (t.precision > 4096)
                        throw std::invalid_argument("precision over 4096 in the format");
                    ++i;
                }
            }
            if (i >= len)
                throw std::invalid_argument("incomplete format specifier at the end of the format");
            if (kConversions.find(spec[i]) == std::string_view::npos)
                throw std::invalid_argument(std::string("invalid format specifier '%") + spec[i] + "'");
            t.conversion = spec[i];
            if (t.conversion == '%') {
                literal.push_back('%');
                continue;
            }
            flush_literal();
            tokens_.push_back(std::move(t));
        } else if (c == '@') {
            if (i + 1 >= len)
                throw std::invalid_argument("incomplete '@' time field at the end of the format");
            const char f = spec[++i];
            if (f == '@') {
                literal.push_back('@');
                continue;
            }
            flush_literal();
            Token t{Token::Kind::time, std::string{'%', f}};
            t.conversion = f;
            tokens_.push_back(std::move(t));
        } else if (c == '\\') {
            if (i + 1 >= len)
                throw std::invalid_argument("incomplete escape at the end of the format");
            switch (spec[++i]) {
            case '\\': literal.push_back('\\'); break;
            case '0': literal.push_back('\0'); break;
            case 'a': literal.push_back('\a'); break;
            case 'e': literal.push_back('\033'); break;
            case 'n': literal.push_back('\n'); break;
            case 'r': literal.push_back('\r'); break;
            case 't': literal.push_back('\t'); break;
            case 'v': literal.push_back('\v'); break;
            default: throw std::invalid_argument(std::string("invalid escape '\\") + spec[i] + "'");
            }
        } else {
            literal.push_back(c);
        }
    }
    flush_literal();
}

bool Format::render(std::string &out, const MqttMessage &m) const
{
    bool ok = true;
    std::optional<LocalTime> lt;
    const auto time = [&]() -> const LocalTime & {
        if (!lt)
            lt = local_time(m.received);
        return *lt;
    };
    for (const auto &t : tokens_) {
        if (t.kind == Token::Kind::literal) {
            out += t.text;
            continue;
        }
        if (t.kind == Token::Kind::time) {
            if (t.conversion == 'N')
                appendf(out, "%09ld", time().ns);
            else
                out += strftime_text(t.text.c_str(), time().tm);
            continue;
        }
        std::uint8_t u8 = 0;
        std::uint16_t u16 = 0;
        std::uint32_t u32 = 0;
        std::string s;
        switch (t.conversion) {
        case 'A':
            if (read_prop(m, MQTT_PROP_TOPIC_ALIAS, u16, mosquitto_property_read_int16))
                print_int(out, u16, t.align, t.pad, t.width);
            else
                print_blank(out, t.pad, t.width);
            break;
        case 'C':
            if (read_string_prop(m, MQTT_PROP_CONTENT_TYPE, s))
                print_str(out, s, t.align, t.width, t.precision);
            else
                print_blank(out, ' ', t.width);
            break;
        case 'D':
            if (m.properties) {
                void *data = nullptr;
                if (mosquitto_property_read_binary(m.properties.get(), MQTT_PROP_CORRELATION_DATA, &data, &u16,
                                                   false) != nullptr) {
                    out.append(static_cast<const char *>(data), u16);
                    std::free(data);
                }
            }
            break;
        case 'E':
            if (read_prop(m, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, u32, mosquitto_property_read_int32))
                print_int(out, static_cast<int>(u32), t.align, t.pad, t.width);
            else
                print_blank(out, t.pad, t.width);
            break;
        case 'F':
            if (read_prop(m, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, u8, mosquitto_property_read_byte))
                print_int(out, u8, t.align, t.pad, t.width);
            else
                print_blank(out, t.pad, t.width);
            break;
        case 'I': print_str(out, strftime_text("%FT%T%z", time().tm), t.align, t.width, t.precision); break;
        case 'j':
        case 'J': {
            const std::size_t start = out.size();
            if (!render_json(out, m, t.conversion == 'j'))
                ok = false;
            else if (pretty_)
                prettify_json(out, start);
            break;
        }
        case 'l': print_int(out, static_cast<int>(m.payload.size()), t.align, t.pad, t.width); break;
        case 'm': print_int(out, m.mid, t.align, t.pad, t.width); break;
        case 'P':
            if (m.properties) {
                bool first = true;
                for (const mosquitto_property *p = m.properties.get(); p != nullptr;
                     p = mosquitto_property_next(p)) {
                    if (mosquitto_property_identifier(p) != MQTT_PROP_USER_PROPERTY)
                        continue;
                    char *k = nullptr, *v = nullptr;
                    mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &k, &v, false);
                    if (!first)
                        out.push_back(' ');
                    first = false;
                    out += k != nullptr ? k : "";
                    out.push_back(':');
                    out += v != nullptr ? v : "";
                    std::free(k);
                    std::free(v);
                }
            }
            break;
        case 'p': write_payload(out, m.payload, 0, t.align, t.pad, t.width); break;
        case 'q': out.push_back(static_cast<char>('0' + m.qos)); break;
        case 'R':
            if (read_string_prop(m, MQTT_PROP_RESPONSE_TOPIC, s))
                print_str(out, s, t.align, t.width, t.precision);
            break;
        case 'r': out.push_back(m.retain ? '1' : '0'); break;
        case 'S':
            if (read_prop(m, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, u32, mosquitto_property_read_varint))
                print_int(out, static_cast<int>(u32), t.align, t.pad, t.width);
            else
                print_blank(out, t.pad, t.width);
            break;
        case 't': print_str(out, m.topic, t.align, t.width, t.precision); break;
        case 'U': appendf(out, "%lld.%09ld", time().seconds, time().ns); break;
        case 'x': write_payload(out, m.payload, 1, t.align, t.pad, t.width); break;
        case 'X': write_payload(out, m.payload, 2, t.align, t.pad, t.width); break;
        default: break;
        }
    }
    return ok;
}

void render_plain(std::string &out, const MqttMessage &m, bool verbose, bool eol)
{
    if (verbose) {
        out += m.topic;
        out += m.payload.empty() ? " (null)" : " ";
        out += m.payload;
        if (eol)
            out.push_back('\n');
        else if (m.payload.empty())
            out.resize(out.size() - m.topic.size() - 7);  // mosquitto_sub -v -N prints nothing then
        return;
    }
    if (m.payload.empty())
        return;
    out += m.payload;
    if (eol)
        out.push_back('\n');
}

}  // namespace dht::sub
