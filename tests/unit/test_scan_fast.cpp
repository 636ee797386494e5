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

TEST_CASE("fast scan: a line shaped like the one before, its values changed", "[scanner]")
{
    // A line whose structure (brackets, keys, colons, commas, space) is the
    // byte-for-byte same as the line before is replayed, its values read in
    // place; any other change sends it back to the whole tokenizer, or to
    // Boost.JSON. Each line here follows one of that shape.
    const std::string base =
        R"({"kind":"message","timestamp":"2026-11-24T10:00:00.001Z","topic":"dht11/s1/data",)"
        R"("payload":{"temperature":21.5,"humidity":40},"qos":0,"retain":false})";
    const auto with = [&](std::string_view from, std::string_view to) {
        std::string s = base;
        s.replace(s.find(from), from.size(), to);
        return s;
    };
    const std::string shaped[] = {
        with("21.5", "9.5"),
        with("21.5", "-12.25"),
        with("21.5", "100"),
        with("21.5", R"("21.5")"),
        with("21.5", "null"),
        with("21.5", "true"),
        with("21.5", R"({"x":1})"),
        with("21.5", "[21.5]"),
        with("21.5", "1e3"),
        with("21.5", "2.5E1"),
        with("21.5", "012"),
        with("21.5", "-"),
        with("21.5", "21.5x"),
        with("21.5", ""),
        with("dht11/s1/data", R"(dht11\/s1\/data)"),
        with("dht11/s1/data", "dht11/s100/data"),
        with("dht11/s1/data", "d\xc3\xa9j\xc3\xa0"),
        with("dht11/s1/data", ""),
        with("\"message\"", "3"),
        with("false", "true"),
        with("false", "nul"),
        with("false", "falsey"),
        with("temperature", "temperaturf"),
        with("\"qos\":0", "\"qos\" : 0"),
        base.substr(0, base.size() - 1),
        base.substr(0, base.size() - 2),
        base.substr(0, 40),
        base + " ",
        base + "x",
        base + "}",
        " " + base,
    };
    const std::string other[] = {
        R"({"a":[{"x":1},{"temperature":"s"}],"temperature":2})",
        R"({"a":[{"x":7},{"temperature":"t"}],"temperature":-3.5})",
        R"({"a":[{"x":7},{"temperature":[1,2]}],"temperature":-3.5})",
        R"({"a":[{"x":7},{"temperature":"t"}],"temperature":{"humidity":1}})",
        R"({"a":{},"b":[],"env":{"co2":400},"humidity":1})",
        R"({"a":{},"b":[],"env":{"co2":401.5},"humidity":"1"})",
        R"({"a":{},"b":[ ],"env":{"co2":401.5},"humidity":1})",
        R"(  {"temperature":1}  )",
        R"(  {"temperature":22}  )",
        R"(  {"temperature":22}  ,)",
        R"({"temperature":1,"temperature":2})",
        R"({"temperature":3,"temperature":"4"})",
    };
    RecordScanner fast(fields, 32, true), slow(fields, 32, true);
    slow.set_fast_path(false);
    for (const auto &line : shaped) {
        INFO(line);
        same_seen(read(fast, base), read(slow, base));  // the shape: the base line
        same_seen(read(fast, line), read(slow, line));
        same_seen(read(fast, line), read(slow, line));  // the shape: this line's, if it has one
    }
    for (const auto &line : other) {
        INFO(line);
        same_seen(read(fast, line), read(slow, line));
    }
    // Replayed lines keep their own values, not the shape's.
    const Seen a = read(fast, with("21.5", "-12.25")), b = read(fast, base);
    CHECK(a.values[0] == -12.25);
    CHECK(b.values[0] == 21.5);
    CHECK(a.paths == b.paths);
    CHECK(read(fast, with("dht11/s1/data", "dht11/s100/data")).topic == "dht11/s100/data");
}
