#include "dht/scan.hpp"

#include <catch2/catch.hpp>

using namespace dht;

TEST_CASE("scanner: message records, bare payloads and other kinds", "[scanner]")
{
    RecordScanner s({"temperature", "env.co2", "state"}, 32);
    std::string error;
    REQUIRE(s.scan_record(R"({"kind":"message","timestamp":"2026-11-24T10:00:00Z","topic":"dht11/a/data",)"
                          R"("payload":{"temperature":-2.5,"sensor":"cellar","env":{"co2":412,"x":[1,{"co2":1}]},)"
                          R"("state":"o\u006e"},"qos":0})",
                          error) == RecordScanner::Kind::message);
    CHECK(s.topic() == "dht11/a/data");
    CHECK(s.timestamp() == "2026-11-24T10:00:00Z");
    CHECK(s.sensor() == "cellar");
    REQUIRE(s.payload_is_object());
    const FieldValue *v = s.values();
    CHECK(v[0].number == -2.5);
    CHECK(v[1].type == FieldValue::Type::number);
    CHECK(v[1].number == 412);
    CHECK(v[2].type == FieldValue::Type::string);
    CHECK(v[2].text == "on");

    REQUIRE(s.scan_record(R"({"temperature":3,"state":null})", error) == RecordScanner::Kind::bare);
    v = s.values();
    CHECK(v[0].number == 3);
    CHECK(v[1].type == FieldValue::Type::missing);
    CHECK(v[2].type == FieldValue::Type::other);
    CHECK(s.sensor().empty());

    REQUIRE(s.scan_record(R"({"kind":"message","topic":"dht11/a/status","payload":"offline"})", error) ==
            RecordScanner::Kind::message);
    CHECK_FALSE(s.payload_is_object());
    CHECK(s.payload_is_text());
    CHECK(s.payload_text() == "offline");
    CHECK_FALSE(s.has_timestamp());

    CHECK(s.scan_record(R"({"kind":"alert","rule":"x"})", error) == RecordScanner::Kind::other);
    CHECK(s.scan_record(R"({"kind":"message","topic":5,"payload":{}})", error) == RecordScanner::Kind::message);
    CHECK_FALSE(s.has_topic());
    CHECK(s.scan_record(R"({"kind":"message","topic":"t","timestamp":5,"payload":{}})", error) ==
          RecordScanner::Kind::message);
    CHECK_FALSE(s.timestamp_is_string());
}

TEST_CASE("scanner: bad lines are reported as the other tools report them", "[scanner]")
{
    RecordScanner s({"temperature"}, 4);
    std::string error;
    CHECK(s.scan_record("{\"temperature\":", error) == RecordScanner::Kind::invalid);
    CHECK(error.starts_with("invalid JSON: "));
    CHECK(s.scan_record("[1,2]", error) == RecordScanner::Kind::invalid);
    CHECK(error == "not a JSON object");
    CHECK(s.scan_record("42", error) == RecordScanner::Kind::invalid);
    CHECK(s.scan_record("{\"a\":1} x", error) == RecordScanner::Kind::invalid);
    CHECK(s.scan_record("{\"a\":\"\xff\"}", error) == RecordScanner::Kind::invalid);
    CHECK(error == "invalid UTF-8");
    CHECK(s.scan_record("{\"a\":[[[[[1]]]]]}", error) == RecordScanner::Kind::invalid);
    CHECK(error == "nested too deep");
    // 1e400 reads as infinity, which no output can carry.
    CHECK(s.scan_record("{\"temperature\":1e400}", error) == RecordScanner::Kind::invalid);
    CHECK(error == "number out of range");
    CHECK(s.scan_record("{\"temperature\":-1e400}", error) == RecordScanner::Kind::invalid);
    CHECK(s.scan_record("{\"temperature\":1e308}", error) == RecordScanner::Kind::bare);
    // A good line after bad ones is read as if they had not been there.
    REQUIRE(s.scan_record("{\"temperature\":7}", error) == RecordScanner::Kind::bare);
    CHECK(s.values()[0].number == 7);
}

TEST_CASE("scanner: MQTT payloads", "[scanner]")
{
    RecordScanner s({"temperature"}, 32);
    s.scan_payload(R"({"temperature":24.50,"humidity":65.30})");
    REQUIRE(s.payload_is_object());
    CHECK(s.values()[0].number == 24.5);
    s.scan_payload("offline");
    CHECK_FALSE(s.payload_is_object());
    CHECK(s.payload_text() == "offline");
    s.scan_payload("\"online\"");
    CHECK(s.payload_text() == "online");
}

TEST_CASE("scanner: every numeric field of the payload, and the kind", "[scanner]")
{
    RecordScanner s({}, 32, true);
    std::string error;
    REQUIRE(s.scan_record(R"({"kind":"message","topic":"t","qos":1,"payload":{"temperature":24.5,"env":{"co2":412,)"
                          R"("list":[1,2]},"name":"x","ok":true,"n":-3}})",
                          error) == RecordScanner::Kind::message);
    const auto &n = s.numbers();
    REQUIRE(n.size() == 3);  // not qos (outside the payload), not the array
    CHECK(n[0].path == "temperature");
    CHECK(n[0].value == 24.5);
    CHECK(n[1].path == "env.co2");
    CHECK(n[2].path == "n");
    CHECK(s.kind() == "message");
    REQUIRE(s.scan_record(R"({"temperature":3,"humidity":40})", error) == RecordScanner::Kind::bare);
    REQUIRE(s.numbers().size() == 2);
    CHECK(s.numbers()[1].path == "humidity");
    CHECK(s.kind().empty());
    CHECK(s.scan_record(R"({"kind":"alert","rule":"cold","value":3})", error) == RecordScanner::Kind::other);
    CHECK(s.kind() == "alert");
    s.scan_payload(R"({"kind":"incident","incident_id":7})");
    CHECK(s.kind() == "incident");
    CHECK(s.payload_kind() == "incident");
    REQUIRE(s.scan_record(R"({"kind":"message","topic":"dht11/alerts","payload":{"kind":"alert","value":3}})", error) ==
            RecordScanner::Kind::message);
    CHECK(s.kind() == "message");
    CHECK(s.payload_kind() == "alert");
    CHECK(s.payload_is_record());
    s.scan_payload("offline");
    CHECK(s.numbers().empty());
    CHECK(s.payload_is_text());
    s.scan_payload("21.5");  // JSON, but neither text nor fields
    CHECK_FALSE(s.payload_is_text());
    CHECK_FALSE(s.payload_is_object());
    s.scan_payload(R"({"kind":"dht22","temperature":3})");  // a device's own "kind" is not a record's
    CHECK_FALSE(s.payload_is_record());
    CHECK(s.scan_record(R"({"kind":5,"topic":"t"})", error) == RecordScanner::Kind::invalid);
    CHECK(error == "\"kind\" is not a string");
}

TEST_CASE("scanner: a line as a message, its origin checked with it", "[scanner]")
{
    RecordScanner s({}, 32);
    std::string error;
    RecordScanner::Origin from;
    CHECK(s.scan_message(R"({"temperature":1})", "bare/t", from, error) == RecordScanner::Kind::bare);
    CHECK(from.topic == "bare/t");
    CHECK_FALSE(from.time);
    CHECK(s.scan_message(R"({"kind":"message","topic":"a/b","timestamp":"2026-01-02T03:04:05Z","payload":{}})",
                         "bare/t", from, error) == RecordScanner::Kind::message);
    CHECK(from.topic == "a/b");
    CHECK(from.time);
    CHECK(s.scan_message(R"({"kind":"message","topic":5})", "bare/t", from, error) == RecordScanner::Kind::invalid);
    CHECK(error == "message record without a string \"topic\"");
    CHECK(s.scan_message(R"({"kind":"message","topic":"t","timestamp":1})", "", from, error) ==
          RecordScanner::Kind::invalid);
    CHECK(error == "\"timestamp\" is not an RFC 3339 time");
    CHECK(s.scan_message(R"({"kind":"alert"})", "", from, error) == RecordScanner::Kind::other);
    CHECK(s.scan_message(R"({"kind":[]})", "", from, error) == RecordScanner::Kind::invalid);
    // A key given twice: the last one counts, as for the DOM reader.
    CHECK(s.scan_record(R"({"kind":7,"kind":"message","topic":"t"})", error) == RecordScanner::Kind::message);
    CHECK(s.scan_record(R"({"kind":"message","kind":7})", error) == RecordScanner::Kind::invalid);
}
