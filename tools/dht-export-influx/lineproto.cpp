#include "lineproto.hpp"

#include "dht/json.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace dht::influx {

namespace {

// `specials` need a backslash before them. A backslash stays as it is: before
// an escaped character it reads back as itself (on the wire, \\, is a backslash and a
// comma), and InfluxDB 1.x has no escape for a backslash anyway.
void append_escaped(std::string &out, std::string_view s, std::string_view specials)
{
    while (!s.empty() && s.back() == '\\')
        s.remove_suffix(1);
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (specials.find(c) != std::string_view::npos) {
            out += '\\';
            out += c;
        } else {
            out += c;
        }
    }
}

}  // namespace

void append_measurement(std::string &out, std::string_view name) { append_escaped(out, name, ", "); }
void append_key(std::string &out, std::string_view key) { append_escaped(out, key, ",= "); }

void append_string_field(std::string &out, std::string_view value)
{
    out += '"';
    for (const char c : value) {
        if (c == '"' || c == '\\')
            out += '\\';
        if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    out += '"';
}

Encoder::Encoder(Settings settings) : settings_(std::move(settings))
{
    append_measurement(measurement_, settings_.measurement);
}

bool Encoder::named_integer(std::string_view path) const
{
    return std::find(settings_.int_field_names.begin(), settings_.int_field_names.end(), path) !=
           settings_.int_field_names.end();
}

void Encoder::fields(std::string &out, const json::object &object, std::string &path, bool &first, bool top)
{
    const std::size_t base = path.size();
    for (const auto &[key, value] : object) {
        path.resize(base);
        if (base > 0)
            path += '.';
        path.append(key.data(), key.size());
        if (top && key == "sensor" && value.is_string())
            continue;  // it is the sensor tag
        if (path.find_first_not_of('\\') == std::string::npos && !value.is_object())
            continue;  // an empty key (or one of backslashes only) would make InfluxDB refuse the point
        const std::size_t mark = out.size();
        out += first ? ' ' : ',';
        append_key(out, path);
        out += '=';
        bool written = true;
        switch (value.kind()) {
        case json::kind::double_:
            if (!std::isfinite(value.get_double())) {
                written = false;
            } else if (named_integer(path) && std::abs(value.get_double()) < 9.2e18) {
                // --int-field: always an integer, so that the field keeps one type.
                out += std::to_string(std::llround(value.get_double()));
                out += 'i';
            } else {
                append_number(out, value.get_double());  // --int-fields leaves decimals alone
            }
            break;
        case json::kind::int64:
            if (settings_.int_fields || named_integer(path)) {
                out += std::to_string(value.get_int64());
                out += 'i';
            } else {
                append_number(out, static_cast<double>(value.get_int64()));
            }
            break;
        case json::kind::uint64:
            if ((settings_.int_fields || named_integer(path)) &&
                value.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
                out += std::to_string(value.get_uint64());
                out += 'i';
            } else {
                append_number(out, static_cast<double>(value.get_uint64()));
            }
            break;
        case json::kind::bool_:
            if (settings_.string_fields)
                out += value.get_bool() ? "true" : "false";
            else
                written = false;
            break;
        case json::kind::string:
            if (settings_.string_fields)
                append_string_field(out, value.get_string());
            else
                written = false;
            break;
        case json::kind::object:
            out.resize(mark);
            fields(out, value.get_object(), path, first, false);
            continue;
        default: written = false; break;  // null, arrays
        }
        if (written)
            first = false;
        else
            out.resize(mark);
    }
    path.resize(base);
}

bool Encoder::append(std::string &out, const Message &m)
{
    const auto *payload = m.payload.if_object();
    if (payload == nullptr || m.payload_base64)
        return false;
    const std::size_t start = out.size();
    out += measurement_;

    // Tags, sorted by key as InfluxDB prefers; --tag wins over a topic level.
    auto &tags = scratch_tags_;
    tags.clear();
    tags.emplace_back("sensor", std::string(sensor_of(m)));
    if (!settings_.topic_tags.empty()) {
        std::size_t level = 0, begin = 0;
        const std::string_view topic = m.topic;
        while (begin <= topic.size() && level < settings_.topic_tags.size()) {
            const std::size_t slash = std::min(topic.find('/', begin), topic.size());
            const std::string &name = settings_.topic_tags[level];
            if (!name.empty() && name != "_")
                tags.emplace_back(name, std::string(topic.substr(begin, slash - begin)));
            begin = slash + 1;
            ++level;
        }
    }
    for (const auto &kv : settings_.tags) {
        const auto it = std::find_if(tags.begin(), tags.end(), [&](const auto &t) { return t.first == kv.first; });
        if (it != tags.end())
            it->second = kv.second;
        else
            tags.push_back(kv);
    }
    std::sort(tags.begin(), tags.end());
    for (const auto &[k, v] : tags) {
        // An empty value (or one line protocol cannot hold) makes no tag.
        std::string_view value = v;
        while (!value.empty() && value.back() == '\\')
            value.remove_suffix(1);
        if (value.empty())
            continue;
        out += ',';
        append_key(out, k);
        out += '=';
        append_key(out, value);
    }

    bool first = true;
    path_.clear();
    fields(out, *payload, path_, first, true);
    if (first) {  // no field: no point
        out.resize(start);
        return false;
    }
    out += ' ';
    const auto ns = m.timestamp.time_since_epoch().count();
    switch (settings_.precision) {
    case Precision::ns: out += std::to_string(ns); break;
    case Precision::us: out += std::to_string(ns / 1000); break;
    case Precision::ms: out += std::to_string(ns / 1000000); break;
    case Precision::s: out += std::to_string(ns / 1000000000); break;
    }
    out += '\n';
    return true;
}

}  // namespace dht::influx
