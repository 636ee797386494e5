#include "dht/record.hpp"

#include "dht/diag.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

using namespace dht;
using namespace std::chrono;

TEST_CASE("MQTT payloads become record payloads without loss")
{
    JsonParser parser;
    bool b64 = true;
    auto v = payload_from_bytes(parser, R"({"temperature":24.50,"humidity":65.30})", b64);
    CHECK_FALSE(b64);
    CHECK(to_json(v) == R"({"temperature":24.5,"humidity":65.3})");
    v = payload_from_bytes(parser, "21.5", b64);
    CHECK(v.is_double());
    v = payload_from_bytes(parser, "online", b64);
    CHECK(v.as_string() == "online");
    v = payload_from_bytes(parser, "", b64);
    CHECK(v.as_string().empty());
    v = payload_from_bytes(parser, std::string_view("\xff\x00\x01", 3), b64);
    CHECK(b64);
    CHECK(v.as_string() == "/wAB");
}

TEST_CASE("message records have the shape of SPEC section 2")
{
    Message m;
    m.topic = "dht11/sensor/data";
    m.payload = json::parse(R"({"temperature":24.5,"humidity":65.3})");
    m.timestamp = TimePoint{seconds(1795559398) + milliseconds(123)};
    m.qos = 1;
    std::string out;
    append_message_record(out, m);
    CHECK(out == R"({"kind":"message","timestamp":"2026-11-24T22:29:58.123Z","topic":"dht11/sensor/data",)"
                 R"("payload":{"temperature":24.5,"humidity":65.3},"qos":1,"retain":false})");
    // It reads back as the same message.
    std::string error;
    const auto back = message_from_record(json::parse(out).as_object(), "", TimePoint{}, error);
    REQUIRE(back);
    CHECK(back->topic == m.topic);
    CHECK(back->timestamp == m.timestamp);
    CHECK(back->qos == 1);
    CHECK(back->payload == m.payload);
}

TEST_CASE("a bare payload is a message with the default topic, read now")
{
    const auto obj = json::parse(R"({"temperature":3.5})").as_object();
    CHECK(record_kind(obj) == RecordKind::bare);
    std::string error;
    const TimePoint received{seconds(42)};
    const auto m = message_from_record(obj, "dht11/lab/data", received, error);
    REQUIRE(m);
    CHECK(m->topic == "dht11/lab/data");
    CHECK(m->timestamp == received);
    CHECK(numeric_field(m->payload, "temperature") == 3.5);
}

TEST_CASE("wrong types in a message record are errors, unknown keys are not")
{
    std::string error;
    const auto parse = [&](const char *text) {
        return message_from_record(json::parse(text).as_object(), "", TimePoint{}, error);
    };
    CHECK(parse(R"({"kind":"message","topic":"t","payload":1,"extra":[1]})"));
    CHECK_FALSE(parse(R"({"kind":"message","topic":5})"));
    CHECK(error.find("topic") != std::string::npos);
    CHECK_FALSE(parse(R"({"kind":"message","topic":"t","timestamp":"yesterday"})"));
    CHECK_FALSE(parse(R"({"kind":"message","topic":"t","qos":"1"})"));
    CHECK_FALSE(parse(R"({"kind":"message","topic":"t","retain":1})"));
    CHECK(record_kind(json::parse(R"({"kind":"alert"})").as_object()) == RecordKind::alert);
    CHECK(record_kind(json::parse(R"({"kind":7})").as_object()) == RecordKind::invalid);
    CHECK(record_kind(json::parse(R"({"kind":null})").as_object()) == RecordKind::invalid);
    CHECK(record_kind(json::parse(R"({"kind":"tick"})").as_object()) == RecordKind::other);
}

TEST_CASE("sensor and fields")
{
    Message m;
    m.topic = "dht11/kitchen/data";
    m.payload = json::parse(R"({"sensor":"k1","env":{"temperature":21,"deep":{"x":1.5}},"a.b":2,"s":"no"})");
    // The topic names the sensor: the ACL vouches for it, not for the payload.
    const auto ignored = ignored_sensors();
    CHECK(sensor_of(m) == "dht11/kitchen/data");
    CHECK(ignored_sensors() == ignored + 1);
    set_shared_topics({"dht11/+/data"});  // one account publishing for several sensors
    CHECK(sensor_of(m) == "k1");
    CHECK(ignored_sensors() == ignored + 1);
    CHECK(numeric_field(m.payload, "env.temperature") == 21.0);
    CHECK(numeric_field(m.payload, "env.deep.x") == 1.5);
    CHECK(numeric_field(m.payload, "a.b") == 2.0);
    CHECK_FALSE(numeric_field(m.payload, "s"));
    CHECK_FALSE(numeric_field(m.payload, "env.missing"));
    CHECK(find_field(m.payload, "env") != nullptr);
    m.payload = json::parse(R"({"sensor":12})");
    CHECK(sensor_of(m) == "dht11/kitchen/data");
    // An empty name names nothing: the topic, as the scanning tools always had it.
    m.payload = json::parse(R"({"sensor":""})");
    CHECK(sensor_of(m) == "dht11/kitchen/data");
    CHECK(record_sensor("dht11/kitchen/data", "k1") == "k1");
    CHECK(record_sensor("dht11/kitchen/data", "") == "dht11/kitchen/data");
    CHECK(record_sensor("dht11/kitchen/status", "k1") == "dht11/kitchen/status");  // not a shared topic
    set_shared_topics({});
    CHECK(record_sensor("dht11/kitchen/data", "k1") == "dht11/kitchen/data");
    CHECK(record_sensor("dht11/kitchen/data", "dht11/kitchen/data") == "dht11/kitchen/data");
    CHECK(record_sensor("", "k1") == "k1");  // a bare payload without a topic names itself
}

namespace {

// What the parser makes of a line read_message_text() took: the same message,
// its payload written by append_json() byte for byte.
void check_same_as_parsed(std::string_view line, const MessageText &text)
{
    INFO(line);
    JsonParser parser;
    json::value value;
    std::string error;
    REQUIRE(parser.parse(line, value, error));
    REQUIRE(value.is_object());
    const auto m = message_from_record(value.as_object(), "bare/topic", text.timestamp, error);
    REQUIRE(m);
    CHECK(text.topic == m->topic);
    CHECK(text.payload == to_json(m->payload));
    CHECK(text.timestamp == m->timestamp);
    CHECK(text.qos == m->qos);
    CHECK(text.retain == m->retain);
    CHECK(text.payload_base64 == m->payload_base64);
    std::string a, b;
    append_message_record(a, text);
    append_message_record(b, *m);
    CHECK(a == b);
}

std::string record_with(std::string_view payload)
{
    return cat(R"({"kind":"message","timestamp":"2026-11-24T10:00:00.123Z","topic":"dht11/lab/data","payload":)",
               payload, R"(,"qos":1,"retain":true})");
}

}  // namespace

TEST_CASE("compact message lines are read without the parser, as the parser reads them")
{
    MessageText m;
    for (const char *payload :
         {R"({"temperature":20.1,"humidity":40.5})", R"({"temperature":20.0,"humidity":40.50})", R"({"t":-20.10})",
          R"({"t":0.00001})", R"({"t":123456789.5})", R"({"t":1234567890123.25})", R"({"t":123456789012345678})",
          R"({"t":-7,"u":0,"v":0.0,"w":1.000000})", R"({"s":"café °C 😀"})", R"({"s":"a\"b\\c\n\r\t\b\f"})",
          R"({"s":"\u001f\u0000\u0007"})", R"({"a":{"b":{"c":[1,2.50,{"d":null}],"e":true},"f":false},"g":[]})",
          R"({})", R"([])", R"("text")", R"(42)", R"(null)", R"("aGVsbG8=")"}) {
        const auto line = record_with(payload);
        INFO(line);
        REQUIRE(read_message_text(line, "bare/topic", 32, now(), m));
        check_same_as_parsed(line, m);
    }
    // A rewritten number is in the payload, not elsewhere in the line.
    REQUIRE(read_message_text(record_with(R"({"temperature":20.0})"), "", 32, now(), m));
    CHECK(m.payload == R"({"temperature":20})");

    const std::string others[] = {
        R"({"kind":"message","topic":"t","payload":{"a":1.50},"encoding":"base64","extra":[1.0,"\n"]})",
        R"({"kind":"message","topic":"t"})",  // no payload: null
        R"({"kind":"message","timestamp":"2026-11-24T10:00:00+01:00","topic":"t","payload":1})",
        R"({"temperature":21.50,"humidity":40})",  // bare
    };
    for (const auto &line : others) {
        INFO(line);
        REQUIRE(read_message_text(line, "bare/topic", 32, now(), m));
        check_same_as_parsed(line, m);
    }
    CHECK(m.topic == "bare/topic");
    CHECK(m.payload == R"({"temperature":21.5,"humidity":40})");
}

TEST_CASE("lines not in compact form are left to the parser")
{
    MessageText m;
    // Spaces, escapes the writer spells otherwise, exponents, "-0", a key
    // given twice, nesting at the limit, digits past 2^53 or 18 of them.
    for (const char *payload :
         {R"({ "a":1})", R"({"a": 1})", R"({"s":"a\/b"})", R"({"s":"caf\u00e9"})", R"({"s":"\u001F"})",
          R"({"s":"\u000a"})", R"({"s":"\ud83d\ude00"})", R"({"t":1e2})", R"({"t":1E2})", R"({"t":-0})",
          R"({"a":1,"a":2})", R"({"a":{"x":1,"x":1}})", R"({"t":0.12345678901234567})", R"({"t":1234567890123456789})"}) {
        const auto line = record_with(payload);
        INFO(line);
        CHECK_FALSE(read_message_text(line, "", 32, now(), m));
    }
    CHECK_FALSE(read_message_text(record_with(std::string(31, '[') + std::string(31, ']')), "", 32, now(), m));
    const auto deep = record_with(std::string(30, '[') + std::string(30, ']'));
    REQUIRE(read_message_text(deep, "", 32, now(), m));
    check_same_as_parsed(deep, m);
    const auto sixteen = record_with(R"({"t":0.1234567890123456})");  // digits under 2^53
    REQUIRE(read_message_text(sixteen, "", 32, now(), m));
    check_same_as_parsed(sixteen, m);
    // Invalid JSON, and records the parser refuses or another hook takes.
    for (const char *line :
         {"", "{", "[1]", R"({"a":01})", R"({"a":.5})", R"({"a":1.})", R"({"a":+1})", R"({"a":"\x"})", R"({"a":tru})",
          R"({"a":[1,]})", "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\xed\xa0\x80\"}", R"({"a":1} )",
          R"({"kind":"alert","x":1})", R"({"kind":5})", R"({"kind":"message","topic":5})",
          R"({"kind":"message","topic":"t\/x"})", R"({"kind":"message","timestamp":"yesterday","topic":"t"})",
          R"({"kind":"message","topic":"t","qos":3})", R"({"kind":"message","topic":"t","qos":1.0})",
          R"({"kind":"message","topic":"t","retain":1})", R"({"kind":"message","kind":"message","topic":"t"})"}) {
        INFO(line);
        CHECK_FALSE(read_message_text(line, "", 32, now(), m));
    }
}

TEST_CASE("decimals read without the parser are the doubles Boost.JSON reads")
{
    // Numbers are the one thing read_message_text() converts itself: every
    // decimal of up to 17 significant digits must come out as the parser's
    // value would be written, and only those whose digits pass 2^53 be left
    // to the parser.
    std::mt19937_64 random(24);
    MessageText m;
    for (int i = 0; i < 200000; ++i) {
        const int digits = 1 + static_cast<int>(random() % 17);
        const int fraction = 1 + static_cast<int>(random() % static_cast<std::uint64_t>(std::min(digits + 3, 10)));
        std::string number = random() % 2 == 0 ? "-" : "";
        std::string all;
        for (int d = 0; d < digits; ++d)
            all.push_back(static_cast<char>('0' + random() % 10));
        if (fraction >= digits) {
            number += "0." + std::string(static_cast<std::size_t>(fraction - digits), '0') + all;
        } else {
            const auto whole = all.substr(0, static_cast<std::size_t>(digits - fraction));
            const auto first = whole.find_first_not_of('0');
            number += (first == std::string::npos ? "0" : whole.substr(first)) + "." +
                      all.substr(static_cast<std::size_t>(digits - fraction));
        }
        const auto line = cat(R"({"v":)", number, "}");
        if (!read_message_text(line, "", 32, now(), m)) {
            if (std::stoull(all) <= (std::uint64_t{1} << 53))
                FAIL_CHECK(line);
            continue;
        }
        json::value parsed = json::parse(line);
        if (m.payload != to_json(parsed))
            FAIL_CHECK(line << " gave " << m.payload << ", the parser " << to_json(parsed));
    }
}
