// The scanner's own tokenizer reads the common line; whatever else it meets
// goes to Boost.JSON. Each case is scanned both ways (set_fast_path) and both
// must give what Boost.JSON gives, to the bit.
#include "dht/scan.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

using namespace dht;

namespace {

struct Seen {
    RecordScanner::Kind kind;
    std::string error;
    std::string topic, timestamp, sensor, text;
    std::vector<FieldValue::Type> types;
    std::vector<double> values;
    std::vector<std::string> texts;
    std::vector<std::string> paths;
    std::vector<double> numbers;
};

bool same_bits(const std::vector<double> &a, const std::vector<double> &b)
{
    // An empty vector's data() may be null, which memcmp may not be given.
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

const std::vector<std::string> fields = {"temperature", "humidity", "state", "env.co2"};

// What scanner `s` makes of `line`.
Seen read(RecordScanner &s, std::string_view line)
{
    Seen out;
    out.kind = s.scan_record(line, out.error);
    if (out.kind == RecordScanner::Kind::invalid)
        return out;
    if (s.has_topic())
        out.topic = s.topic();
    if (s.has_timestamp() && s.timestamp_is_string())
        out.timestamp = s.timestamp();
    out.sensor = s.sensor();
    if (s.payload_is_text())
        out.text = s.payload_text();
    const FieldValue *v = s.values();
    for (std::size_t i = 0; i < fields.size(); ++i) {
        out.types.push_back(v[i].type);
        out.values.push_back(v[i].type == FieldValue::Type::number ? v[i].number : 0.0);
        out.texts.emplace_back(v[i].type == FieldValue::Type::string ? v[i].text : "");
    }
    for (const auto &n : s.numbers()) {
        out.paths.emplace_back(n.path);
        out.numbers.push_back(n.value);
    }
    return out;
}

Seen scan(std::string_view line, bool fast, std::size_t depth = 32)
{
    RecordScanner s(fields, depth, true);
    s.set_fast_path(fast);
    return read(s, line);
}

void same_seen(const Seen &a, const Seen &b)
{
    CHECK(a.kind == b.kind);
    CHECK(a.error == b.error);
    CHECK(a.topic == b.topic);
    CHECK(a.timestamp == b.timestamp);
    CHECK(a.sensor == b.sensor);
    CHECK(a.text == b.text);
    CHECK(a.types == b.types);
    CHECK(same_bits(a.values, b.values));
    CHECK(a.texts == b.texts);
    CHECK(a.paths == b.paths);
    CHECK(same_bits(a.numbers, b.numbers));
}

// Scanned both ways, the same; what Boost.JSON saw.
Seen both(std::string_view line, std::size_t depth = 32)
{
    const Seen a = scan(line, true, depth), b = scan(line, false, depth);
    same_seen(a, b);
    return a;
}

double temperature(std::string_view number)
{
    const Seen s = both(std::string(R"({"temperature":)").append(number).append("}"));
    REQUIRE(s.kind == RecordScanner::Kind::bare);
    REQUIRE(s.types[0] == FieldValue::Type::number);
    return s.values[0];
}

}  // namespace

TEST_CASE("fast scan: numbers are the doubles Boost.JSON reads", "[scanner]")
{
    const std::pair<const char *, double> cases[] = {
        {"21.5", 21.5},
        {"-3.25", -3.25},
        {"0.1", 0.1},
        {"1e2", 100},
        {"1E-2", 0.01},
        {"2.5e+1", 25},
        {"1.0000000000000002", 1.0000000000000002},
        {"9007199254740993", 9007199254740992.0},
        {"123456789012345678", 123456789012345678.0},
        {"1234567890123456789", 1234567890123456789.0},
        {"-9223372036854775808", -9223372036854775808.0},
        {"18446744073709551615", 18446744073709551615.0},
        {"0.0000000000000000000001", 1e-22},
        {"3.14159265358979", 3.14159265358979},
    };
    for (const auto &[text, value] : cases) {
        INFO(text);
        CHECK(temperature(text) == value);
    }
    // Boost.JSON reads -0 as the integer 0 and -0.0 as a double with its sign.
    CHECK_FALSE(std::signbit(temperature("-0")));
    CHECK(std::signbit(temperature("-0.0")));
}

TEST_CASE("fast scan: strings, escapes and text past ASCII", "[scanner]")
{
    Seen s = both(R"({"state":"caf\u00e9","temperature":1})");
    CHECK(s.texts[2] == "caf\xc3\xa9");
    s = both("{\"state\":\"caf\xc3\xa9\"}");
    CHECK(s.texts[2] == "caf\xc3\xa9");
    s = both(R"({"state":"a\"b\\c\/d\n"})");
    CHECK(s.texts[2] == "a\"b\\c/d\n");
    // A key with an escape after keys the tokenizer had read: all read again.
    s = both(R"({"temperature":1,"hum\u0069dity":2,"state":"on"})");
    CHECK(s.values[0] == 1);
    CHECK(s.values[1] == 2);
    CHECK(s.texts[2] == "on");
    CHECK(s.paths == std::vector<std::string>{"temperature", "humidity"});
    s = both(R"({"kind":"message","topic":"t/a","payload":{"temperature":1},"note":"\t"})");
    CHECK(s.kind == RecordScanner::Kind::message);
    CHECK(s.topic == "t/a");
    CHECK(s.paths == std::vector<std::string>{"temperature"});
}

TEST_CASE("fast scan: duplicate keys, nesting and arrays", "[scanner]")
{
    Seen s = both(R"({"temperature":1,"temperature":"x","humidity":2,"humidity":3})");
    CHECK(s.types[0] == FieldValue::Type::string);
    CHECK(s.values[1] == 3);
    CHECK(s.paths == std::vector<std::string>{"temperature", "humidity", "humidity"});
    s = both(R"({"kind":"message","topic":"a","topic":5,"payload":{}})");
    CHECK(s.kind == RecordScanner::Kind::message);
    CHECK(s.topic.empty());
    s = both(R"({"env":{"co2":412,"x":[1,{"co2":2}],"y":{"z":true}},"temperature":[1],"humidity":{"a":1}})");
    CHECK(s.values[3] == 412);
    CHECK(s.types[0] == FieldValue::Type::other);
    CHECK(s.types[1] == FieldValue::Type::other);
    CHECK(s.paths == std::vector<std::string>{"env.co2", "humidity.a"});
    // An object under the root's empty key reads as the root does.
    s = both(R"({"":{"temperature":4}})");
    CHECK(s.values[0] == 4);
    s = both(R"({"env.co2":5})");
    CHECK(s.values[3] == 5);
    // At the nesting limit and past it.
    s = both(R"({"a":[[[1]]]})", 4);
    CHECK(s.kind == RecordScanner::Kind::bare);
    s = both(R"({"a":[[[[1]]]]})", 4);
    CHECK(s.kind == RecordScanner::Kind::invalid);
    CHECK(s.error == "nested too deep");
}

TEST_CASE("fast scan: bad lines keep Boost.JSON's errors", "[scanner]")
{
    for (const char *line : {"", " ", "{", "{\"a\"", "{\"a\":", "{\"a\":1", "{\"a\":1,}", "{\"a\":01}", "{\"a\":1.}",
                             "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":1} x",
                             "{\"a\":1}}", "{\"a\":\"x\ty\"}", "{\"a\":\"\xff\"}", "{'a':1}", "[1]", "\"x\"", "7",
                             "{\"temperature\":1e400}", "{\"a\":[1,]}", "{\"a\" 1}", "{\"a\":1 \"b\":2}"}) {
        INFO(line);
        const Seen s = both(line);
        CHECK(s.kind == RecordScanner::Kind::invalid);
        CHECK_FALSE(s.error.empty());
    }
    CHECK(both("{\"a\":1} x").error == "invalid JSON: extra data");
    CHECK(both(" \t{\"temperature\" : 1 , \"humidity\":[ ] }\r\n").kind == RecordScanner::Kind::bare);
}

TEST_CASE("fast scan: a line like the one before, with the same keys placed otherwise", "[scanner]")
{
    // The tokenizer remembers the keys of the line before; each line here
    // shares keys with the one before it, in other objects or at other depths.
    std::string wide = "{";
    for (int i = 0; i < 70; ++i)
        wide += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    wide += "\"temperature\":7}";
    const std::string lines[] = {
        R"({"a":{"x":1},"b":{"c":2}})",
        R"({"a":{"x":1},"b":{"c":2}})",
        R"({"a":{"x":{"b":{"c":3}}}})",
        R"({"a":{"x":1,"b":{"c":2}}})",
        R"({"a":{"x":1},"b":{"c":2}})",
        R"({"a":[{"x":1}],"b":{"c":2}})",
        R"({"a":{"x":1},"b":{"c":2}})",
        R"({"a":{"x":1},"b":{"c":"2"}})",
        R"({"a":{"x":1},"b":{"c":2},"d":1e400})",
        R"({"a":{"x":1},"b":{"\u0063":2}})",
        R"({"a":{"x":1},"b":{"c":2}})",
        R"({"a" : {"x":1}, "b":{"c":2}})",
        R"({"a":{"x":1},"b":[1],"b":{"c":2}})",
        R"({"p":{"z":0,"q":{"r":1}}})",
        R"({"p":{"z":0,"q":[],"r":2}})",
        R"({"a":{"x":1},"b":{"c":2}})",
        R"({"kind":"message","topic":"t/a","payload":{"temperature":1,"humidity":2}})",
        R"({"kind":"message","topic":"t/a","payload":{"temperature":1,"humidity":2}})",
        R"({"kind":"message","topic":"t/a","payload":{"temperature":{"humidity":2}}})",
        R"({"kind":"message","topic":"t/a","payload":"temperature","humidity":2})",
        R"({"kind":"message","topic":"t/a","payload":{"temperature":1,"humidity":2}})",
        R"({"kind":"message","topic":"t/b","payload":{"temperature":3,"env":{"co2":4}}})",
        R"({"kind":"message","topic":"t/b","payload":{"temperature":3,"env":{"co2":4}}})",
        R"({"kind":"message","topic":"t/b","payload":{"temperature":3},"env":{"co2":4}})",
        R"({"temperature":1,"humidity":2})",
        R"({"temperature":1,"humidity":2})",
        wide,
        wide,
        R"({"temperature":1,"humidity":2})",
    };
    RecordScanner fast(fields, 32, true), slow(fields, 32, true);
    slow.set_fast_path(false);
    for (const auto &line : lines) {
        INFO(line);
        same_seen(read(fast, line), read(slow, line));
    }
    const Seen nested = read(fast, lines[2]);
    CHECK(nested.paths == std::vector<std::string>{"a.x.b.c"});
    const Seen moved = read(fast, lines[3]);
    CHECK(moved.paths == (std::vector<std::string>{"a.x", "a.b.c"}));
}
