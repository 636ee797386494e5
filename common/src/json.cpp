#include "dht/json.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace dht {

void append_number(std::string &out, double value)
{
    if (!std::isfinite(value)) {
        out += "null";  // JSON has no NaN or infinity
        return;
    }
    std::array<char, 32> buf;
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    out.append(buf.data(), res.ptr);
}

void append_json_string(std::string &out, std::string_view text)
{
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run = 0;  // start of the pending run of bytes that need no escape
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out.append(text.data() + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            out += "\\u00";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xF]);
        }
    }
    out.append(text.data() + run, text.size() - run);
    out.push_back('"');
}

void append_json(std::string &out, const json::value &value, NumberWriter numbers)
{
    if (numbers != nullptr) {
        if (value.is_int64()) {
            numbers(out, static_cast<double>(value.get_int64()));
            return;
        }
        if (value.is_uint64()) {
            numbers(out, static_cast<double>(value.get_uint64()));
            return;
        }
        if (value.is_double()) {
            numbers(out, value.get_double());
            return;
        }
    }
    switch (value.kind()) {
    case json::kind::null: out += "null"; break;
    case json::kind::bool_: out += value.get_bool() ? "true" : "false"; break;
    case json::kind::int64: {
        std::array<char, 24> buf;
        const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value.get_int64());
        out.append(buf.data(), res.ptr);
        break;
    }
    case json::kind::uint64: {
        std::array<char, 24> buf;
        const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value.get_uint64());
        out.append(buf.data(), res.ptr);
        break;
    }
    case json::kind::double_: append_number(out, value.get_double()); break;
    case json::kind::string: append_json_string(out, value.get_string()); break;
    case json::kind::array: {
        out.push_back('[');
        bool first = true;
        for (const auto &element : value.get_array()) {
            if (!first)
                out.push_back(',');
            first = false;
            append_json(out, element, numbers);
        }
        out.push_back(']');
        break;
    }
    case json::kind::object: {
        out.push_back('{');
        bool first = true;
        for (const auto &member : value.get_object()) {
            if (!first)
                out.push_back(',');
            first = false;
            append_json_string(out, member.key());
            out.push_back(':');
            append_json(out, member.value(), numbers);
        }
        out.push_back('}');
        break;
    }
    }
}

std::string to_json(const json::value &value)
{
    std::string out;
    append_json(out, value);
    return out;
}

bool valid_utf8(std::string_view text) noexcept
{
    const auto *s = reinterpret_cast<const unsigned char *>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len;
        unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0;  // no overlongs
            if (c == 0xED)
                hi = 0x9F;  // no surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;  // nothing past U+10FFFF
        } else {
            return false;
        }
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (std::size_t k = 2; k < len; ++k)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += len;
    }
    return true;
}

std::string base64_encode(std::string_view bytes)
{
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    const auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        out.push_back(alphabet[v >> 18 & 63]);
        out.push_back(alphabet[v >> 12 & 63]);
        out.push_back(alphabet[v >> 6 & 63]);
        out.push_back(alphabet[v & 63]);
    }
    if (i < bytes.size()) {
        unsigned v = byte(i) << 16;
        if (i + 1 < bytes.size())
            v |= byte(i + 1) << 8;
        out.push_back(alphabet[v >> 18 & 63]);
        out.push_back(alphabet[v >> 12 & 63]);
        out.push_back(i + 1 < bytes.size() ? alphabet[v >> 6 & 63] : '=');
        out.push_back('=');
    }
    return out;
}

json::parse_options parse_options(std::size_t max_depth)
{
    json::parse_options options;
    options.max_depth = max_depth;
    return options;
}

std::string parse_error_text(std::string_view text, const boost::system::error_code &ec)
{
    if (ec == json::error::too_deep)
        return "nested too deep";
    if (text.find_first_not_of(" \t\r") == std::string_view::npos)
        return "empty line";
    if (!valid_utf8(text))
        return "invalid UTF-8";
    if (ec == json::error::exponent_overflow)
        return "number out of range";
    return "invalid JSON: " + ec.message();
}

namespace {
// Boost.JSON reads 1e400 as infinity, which no record, line protocol or
// Graphite line can carry.
bool finite_numbers(const json::value &v)
{
    switch (v.kind()) {
    case json::kind::double_: return std::isfinite(v.get_double());
    case json::kind::array:
        for (const auto &x : v.get_array())
            if (!finite_numbers(x))
                return false;
        return true;
    case json::kind::object:
        for (const auto &kv : v.get_object())
            if (!finite_numbers(kv.value()))
                return false;
        return true;
    default: return true;
    }
}
}  // namespace

JsonParser::JsonParser(std::size_t max_depth) : parser_(json::storage_ptr(), parse_options(max_depth)) {}

bool JsonParser::parse(std::string_view text, json::value &out, std::string &error)
{
    parser_.reset();
    boost::system::error_code ec;
    parser_.write(text.data(), text.size(), ec);
    if (!ec) {
        out = parser_.release();
        if (finite_numbers(out))
            return true;
        error = "number out of range";
        return false;
    }
    error = parse_error_text(text, ec);
    parser_.reset();
    return false;
}

}  // namespace dht
