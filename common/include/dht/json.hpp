// JSON in and out. Parsing is Boost.JSON with limits; writing is ours because
// Boost.JSON prints 24.5 as 2.45E1 and records must read as people write them.
#pragma once

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dht {

namespace json = boost::json;

// Shortest text that reads back as the same double: 24.5, 0.1, 1e+21.
void append_number(std::string &out, double value);
void append_json_string(std::string &out, std::string_view text);
// What append_json_string() writes between the quotes. Escaping goes byte by
// byte, so the text of a string written in parts is the parts' texts.
void append_json_chars(std::string &out, std::string_view text);
// `text` as append_json_chars() writes it: `text` itself when nothing in it
// needs an escape, else `scratch` holding it escaped.
std::string_view json_chars(std::string_view text, std::string &scratch);
// With `numbers` set, every number (integers too) is written by it as a double:
// how a writer that knows only doubles (cJSON) prints them.
using NumberWriter = void (*)(std::string &out, double value);
void append_json(std::string &out, const json::value &value, NumberWriter numbers = nullptr);
std::string to_json(const json::value &value);

// The hand-written readers of the common line (RecordScanner's, the compact
// message reader's) share these two, so that what they take is what Boost.JSON
// would give:
//
// The first byte from `p` on that a JSON string cannot hold as it is: '"',
// '\\', a control byte, and with `ascii` any byte past ASCII; `end` when
// none is. Sixteen or eight bytes at a time.
const char *plain_string_run(const char *p, const char *end, bool ascii) noexcept;

// A JSON number without exponent whose value Boost.JSON (1.81) computes by
// the same arithmetic: an integer of up to 18 digits (an int64; "-0" is 0),
// or a decimal whose digits make an integer m up to 2^53 with k of at most 22
// after the point, m / 10^k with both exact, so one correctly rounded
// division. `p` at its first byte, and past the number when it is one; false
// for anything else (an exponent, a leading zero, more digits, not a number),
// `p` then anywhere in it.
struct PlainNumber {
    bool integer = false;
    std::int64_t int_value = 0;
    double value = 0;  // as a double, integers too
};
bool read_plain_number(const char *&p, const char *end, PlainNumber &out) noexcept;

// A member that must be a string when present: its text, or nullopt when it is
// absent or null. Another type gives nullopt, sets `ok` false and `error` to
// "\"NAME\" is not a string"; `ok` is never set true, so one flag serves a
// run of members.
std::optional<std::string_view> string_member(const json::object &o, std::string_view name, std::string &error,
                                              bool &ok);

// Writes one JSON object at the end of `out`, every key escaped as a string
// value is: ObjectWriter(out).string("kind", "stats").number("n", 3).close()
// gives {"kind":"stats","n":3}. With `open` false it continues an object
// whose '{' and first members are already in `out`.
class ObjectWriter {
public:
    explicit ObjectWriter(std::string &out, bool open = true) : out_(out), first_(open)
    {
        if (open)
            out_.push_back('{');
    }
    // The key and its ':'; the caller appends the value.
    ObjectWriter &key(std::string_view name)
    {
        if (!first_)
            out_.push_back(',');
        first_ = false;
        append_json_string(out_, name);
        out_.push_back(':');
        return *this;
    }
    ObjectWriter &string(std::string_view name, std::string_view value)
    {
        append_json_string(key(name).out_, value);
        return *this;
    }
    ObjectWriter &number(std::string_view name, double value)
    {
        append_number(key(name).out_, value);
        return *this;
    }
    ObjectWriter &integer(std::string_view name, long long value)
    {
        key(name).out_ += std::to_string(value);
        return *this;
    }
    ObjectWriter &boolean(std::string_view name, bool value)
    {
        key(name).out_ += value ? "true" : "false";
        return *this;
    }
    // A value that is JSON already.
    ObjectWriter &raw(std::string_view name, std::string_view json_text)
    {
        key(name).out_ += json_text;
        return *this;
    }
    ObjectWriter &null(std::string_view name) { return raw(name, "null"); }
    std::string &out() noexcept { return out_; }
    void close() { out_.push_back('}'); }

private:
    std::string &out_;
    bool first_;
};

// True when `text` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool valid_utf8(std::string_view text) noexcept;

// Standard base64 (RFC 4648) with padding, for payloads that are not text.
std::string base64_encode(std::string_view bytes);

// Boost.JSON's options with a nesting limit: the same for every parser here.
json::parse_options parse_options(std::size_t max_depth);

// Why `text` failed to parse with `ec`, as one short phrase: "nested too
// deep", "empty line", "invalid UTF-8" or "invalid JSON: <Boost's message>".
std::string parse_error_text(std::string_view text, const boost::system::error_code &ec);

// One reusable parser with a nesting limit; errors come back as short phrases
// fit for "stdin:42: invalid JSON: <phrase>".
class JsonParser {
public:
    explicit JsonParser(std::size_t max_depth = 32);
    // On success returns true and sets `out`; otherwise sets `error`.
    bool parse(std::string_view text, json::value &out, std::string &error);

private:
    json::parser parser_;
    std::size_t max_depth_;
};

}  // namespace dht
