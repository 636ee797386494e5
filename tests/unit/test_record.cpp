#include "dht/record.hpp"

#include <catch2/catch.hpp>

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
