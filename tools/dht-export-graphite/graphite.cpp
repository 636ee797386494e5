#include "graphite.hpp"

#include <charconv>
#include <stdexcept>

namespace dht::graphite {
namespace {

std::vector<std::string_view> levels(std::string_view topic)
{
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const auto slash = topic.find('/', start);
        out.push_back(topic.substr(start, slash == std::string_view::npos ? slash : slash - start));
        if (slash == std::string_view::npos)
            return out;
        start = slash + 1;
    }
}

void append_epoch(std::string &out, TimePoint t)
{
    const auto secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
    char buf[24];
    const auto res = std::to_chars(buf, buf + sizeof buf, secs);
    out.append(buf, res.ptr);
}

void walk(const json::value &v, std::string &field, std::vector<std::pair<std::string, double>> &found)
{
    if (const auto *obj = v.if_object()) {
        for (const auto &member : *obj) {
            const std::size_t mark = field.size();
            if (!field.empty())
                field.push_back('.');
            field += sanitize_component(member.key());
            walk(member.value(), field, found);
            field.resize(mark);
        }
        return;
    }
    if (v.is_double())
        found.emplace_back(field, v.get_double());
    else if (v.is_int64())
        found.emplace_back(field, static_cast<double>(v.get_int64()));
    else if (v.is_uint64())
        found.emplace_back(field, static_cast<double>(v.get_uint64()));
}

}  // namespace

std::string sanitize_component(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                          c == '-';
        out.push_back(keep ? c : '_');
    }
    if (out.empty())
        out = "_";
    return out;
}

std::string sanitize_tag(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        const bool bad = u <= ' ' || u == 0x7f || c == ';' || c == '~' || c == '!' || c == '^' || c == '=';
        out.push_back(bad ? '_' : c);
    }
    if (out.empty())
        out = "_";
    return out;
}

PathTemplate::PathTemplate(std::string_view text)
{
    std::size_t i = 0;
    std::string literal;
    while (i < text.size()) {
        if (text[i] != '{') {
            literal.push_back(text[i++]);
            continue;
        }
        const auto close = text.find('}', i);
        if (close == std::string_view::npos)
            throw std::invalid_argument("unclosed '{' in the template");
        const std::string_view name = text.substr(i + 1, close - i - 1);
        if (!literal.empty())
            parts_.push_back(Part{Part::Kind::literal, std::move(literal)});
        literal.clear();
        if (name == "sensor") {
            parts_.push_back(Part{Part::Kind::sensor, {}});
        } else if (name == "field") {
            parts_.push_back(Part{Part::Kind::field, {}});
        } else if (name == "topic") {
            parts_.push_back(Part{Part::Kind::topic, {}});
        } else if (name.rfind("topic[", 0) == 0 && name.size() > 7 && name.back() == ']') {
            std::size_t n = 0;
            const auto digits = name.substr(6, name.size() - 7);
            const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), n);
            if (res.ec != std::errc() || res.ptr != digits.data() + digits.size() || n > 1000)
                throw std::invalid_argument("bad topic level in {" + std::string(name) + "}");
            parts_.push_back(Part{Part::Kind::level, {}, n});
        } else {
            throw std::invalid_argument("unknown placeholder {" + std::string(name) +
                                        "} (known: {sensor} {field} {topic} {topic[N]})");
        }
        i = close + 1;
    }
    if (!literal.empty())
        parts_.push_back(Part{Part::Kind::literal, std::move(literal)});
}

void PathTemplate::expand(std::string &out, std::string_view sensor, std::string_view field,
                          std::string_view topic) const
{
    std::vector<std::string_view> lv;
    for (const auto &p : parts_) {
        switch (p.kind) {
        case Part::Kind::literal: out += p.text; break;
        case Part::Kind::sensor: out += sanitize_component(sensor); break;
        case Part::Kind::field: out += field; break;  // already sanitised, key by key
        case Part::Kind::topic: {
            bool first = true;
            for (const auto level : levels(topic)) {
                if (!first)
                    out.push_back('.');
                first = false;
                out += sanitize_component(level);
            }
            break;
        }
        case Part::Kind::level:
            if (lv.empty())
                lv = levels(topic);
            out += p.level < lv.size() ? sanitize_component(lv[p.level]) : std::string("_");
            break;
        }
    }
}

std::size_t append_lines(std::string &out, const Message &m, const PathTemplate &path, const Settings &settings)
{
    std::vector<std::pair<std::string, double>> found;
    found.reserve(4);  // a reading has two or three fields: one allocation
    std::string field;
    if (m.payload.is_object()) {
        walk(m.payload, field, found);
    } else if (!m.payload_base64) {
        const auto lv = levels(m.topic);
        field = sanitize_component(lv.back());
        walk(m.payload, field, found);
    }
    const std::string_view sensor = sensor_of(m);
    for (const auto &[name, value] : found) {
        if (!settings.prefix.empty()) {
            out += settings.prefix;
            out.push_back('.');
        }
        path.expand(out, sensor, name, m.topic);
        if (settings.tags) {
            out += ";sensor=";
            out += sanitize_tag(sensor);
            for (const auto &[k, v] : settings.extra_tags) {
                out.push_back(';');
                out += k;
                out.push_back('=');
                out += v;
            }
        }
        out.push_back(' ');
        append_number(out, value);
        out.push_back(' ');
        append_epoch(out, m.timestamp);
        out.push_back('\n');
    }
    return found.size();
}

}  // namespace dht::graphite
