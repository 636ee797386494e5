#include "dht/calibration.hpp"
#include "dht/derived.hpp"
#include "dht/readings.hpp"
#include "dht/scan.hpp"

#include <catch2/catch.hpp>

using namespace dht;

// Reference values: dew points from the psychrometric tables (as given by
// NOAA's and Vaisala's calculators, to 0.1 °C), saturation vapour densities
// from the CRC Handbook (g/m³: 4.85 at 0 °C, 17.3 at 20 °C, 30.4 at 30 °C).
TEST_CASE("derived: dew point against published values", "[derived]")
{
    CHECK(*dew_point(20, 50) == Approx(9.3).margin(0.1));
    CHECK(*dew_point(25, 60) == Approx(16.7).margin(0.1));
    CHECK(*dew_point(30, 80) == Approx(26.2).margin(0.1));
    CHECK(*dew_point(10, 100) == Approx(10).margin(1e-9));  // saturated: the dew point is the temperature
    CHECK(*dew_point(-10, 70) == Approx(-14.4).margin(0.1));
}

TEST_CASE("derived: absolute humidity against published values", "[derived]")
{
    CHECK(*absolute_humidity(0, 100) == Approx(4.85).epsilon(0.01));
    CHECK(*absolute_humidity(20, 100) == Approx(17.3).epsilon(0.01));
    CHECK(*absolute_humidity(30, 100) == Approx(30.4).epsilon(0.01));
    CHECK(*absolute_humidity(20, 50) == Approx(17.3 / 2).epsilon(0.01));
}

TEST_CASE("derived: no value outside the formula's range", "[derived]")
{
    CHECK(dew_point(-45, 50));
    CHECK(dew_point(60, 50));
    CHECK_FALSE(dew_point(-45.1, 50));
    CHECK_FALSE(dew_point(60.1, 50));
    CHECK_FALSE(dew_point(20, 0));
    CHECK_FALSE(dew_point(20, -3));
    CHECK_FALSE(dew_point(20, 100.5));
    CHECK_FALSE(absolute_humidity(61, 50));
    CHECK_FALSE(absolute_humidity(20, 0));
    CHECK_FALSE(dew_point(std::numeric_limits<double>::quiet_NaN(), 50));
    CHECK(derived_field("dew_point") == Derived::dew_point);
    CHECK(derived_field("absolute_humidity") == Derived::absolute_humidity);
    CHECK_FALSE(derived_field("temperature"));
}

namespace {

std::string parse_error(std::string_view text)
{
    std::string error;
    CHECK_FALSE(Calibration::parse(text, "cal", error));
    return error;
}

}  // namespace

TEST_CASE("calibration: a file of offsets", "[calibration]")
{
    std::string error;
    const auto c = Calibration::parse("# offsets measured against a reference, 2026-11\n"
                                      "dht11/cellar/data  temperature +0.4\n"
                                      "\n"
                                      "  dht11/+/data\thumidity -3   # the whole batch reads high\n"
                                      "dht11/#  temperature -1.5\r\n"
                                      "cellar env.co2 12\n",
                                      "cal", error);
    REQUIRE(c);
    CHECK(error.empty());
    CHECK(c->entries().size() == 4);
    CHECK(c->offset("dht11/cellar/data", "temperature") == 0.4);  // the first matching line
    CHECK(c->offset("dht11/attic/data", "temperature") == -1.5);
    CHECK(c->offset("dht11/attic/data", "humidity") == -3);
    CHECK_FALSE(c->offset("dht11/attic/status/x", "humidity"));
    CHECK_FALSE(c->offset("other/attic", "temperature"));
    CHECK(c->offset("cellar", "env.co2") == 12);
    CHECK(c->calibrates("env.co2"));
    CHECK_FALSE(c->calibrates("pressure"));
}

TEST_CASE("calibration: strict parsing, FILE:LINE", "[calibration]")
{
    CHECK(parse_error("a temperature\n") == "cal:1: expected TOPIC-FILTER FIELD OFFSET (e.g. dht11/cellar/data temperature +0.4)");
    CHECK(parse_error("\n\na/# /x 1\n").starts_with("cal:3: '/x' is not a field name"));
    CHECK(parse_error("a/#/b temperature 1\n") == "cal:1: 'a/#/b' is not a topic filter");
    CHECK(parse_error("a temperature 1 2\n").starts_with("cal:1: unexpected '2'"));
    CHECK(parse_error("a temperature 0x10\n").starts_with("cal:1: '0x10' is not an offset"));
    CHECK(parse_error("a temperature 1e2\n").starts_with("cal:1: '1e2' is not an offset"));
    CHECK(parse_error("a temperature inf\n").starts_with("cal:1: 'inf' is not an offset"));
    CHECK(parse_error("a temperature +.5\n").starts_with("cal:1: '+.5' is not an offset"));
    CHECK(parse_error("a temperature 100.5\n") == "cal:1: offset 100.5 is beyond +-100");
    CHECK(parse_error("a dew_point 1\n").starts_with("cal:1: 'dew_point' is derived"));
    CHECK(parse_error("a t 1\nb t 1\na t 2\n") == "cal:3: a t is calibrated already on line 1");
    CHECK(parse_error(std::string("a t\0 1\n", 7)) == "cal:1: a control character");
    std::string many;
    for (std::size_t i = 0; i <= Calibration::max_lines; ++i)
        many += "#\n";
    CHECK(parse_error(many) == "cal:10001: more than 10000 lines");
    std::string error;
    CHECK(Calibration::parse("a temperature -100\n", "cal", error));
}

namespace {

Readings readings_of(std::string_view text, std::vector<Derived> derive = {})
{
    std::string error;
    auto c = Calibration::parse(text, "cal", error);
    REQUIRE(c);
    Readings r;
    for (const auto d : derive)
        r.derive(d);
    r.set_calibration(std::move(*c));
    return r;
}

}  // namespace

TEST_CASE("readings: calibration and derived fields in the scanner", "[calibration][derived]")
{
    const auto r = readings_of("dht11/cellar/data temperature +0.4\ndht11/+/data humidity -10\n");
    RecordScanner s({"temperature", "dew_point", "humidity"}, 32, false, &r);
    std::string error;
    REQUIRE(s.scan_record(R"({"kind":"message","topic":"dht11/cellar/data","payload":{"temperature":19.6,"humidity":60}})",
                          error) == RecordScanner::Kind::message);
    const FieldValue *v = s.values();
    CHECK(v[0].number == Approx(20));
    CHECK(v[2].number == Approx(50));
    REQUIRE(v[1].type == FieldValue::Type::number);
    CHECK(v[1].number == 9.26);  // from the calibrated values

    // Another sensor: only the humidity line matches. An MQTT payload: its topic names the sensor.
    s.scan_payload(R"({"temperature":20,"humidity":60})", "dht11/attic/data");
    v = s.values();
    CHECK(v[0].number == 20);
    CHECK(v[2].number == 50);
    // A payload's own dew_point stays; out of range: none.
    s.scan_payload(R"({"temperature":20,"humidity":60,"dew_point":3})", "x");
    CHECK(s.values()[1].number == 3);
    s.scan_payload(R"({"temperature":70,"humidity":60})", "x");
    CHECK(s.values()[1].type == FieldValue::Type::missing);
    // A bare line takes the bare topic.
    RecordScanner::Origin from;
    REQUIRE(s.scan_message(R"({"temperature":19.6,"humidity":60})", "dht11/cellar/data", from, error) ==
            RecordScanner::Kind::bare);
    CHECK(s.values()[0].number == Approx(20));

    // Without readings a derived field asked for by name still comes, uncalibrated.
    RecordScanner plain({"dew_point"}, 32);
    plain.scan_payload(R"({"temperature":20,"humidity":50})");
    CHECK(plain.values()[0].number == 9.26);
}

TEST_CASE("readings: numbers() calibrated, derived fields added on request", "[calibration][derived]")
{
    const auto r = readings_of("s temperature -1\n", {Derived::absolute_humidity});
    RecordScanner s({}, 32, true, &r);
    s.scan_payload(R"({"sensor":"s","temperature":21,"humidity":50,"co2":400})", "");
    const auto &n = s.numbers();
    REQUIRE(n.size() == 4);
    CHECK(n[0].path == "temperature");
    CHECK(n[0].value == 20);
    CHECK(n[3].path == "absolute_humidity");
    CHECK(n[3].value == 8.62);
    s.scan_payload(R"({"temperature":21})", "");
    CHECK(s.numbers().size() == 1);
}

TEST_CASE("readings: a message's payload calibrated, derived fields added", "[calibration][derived]")
{
    const auto r = readings_of("dht11/+/data temperature +2\ndht11/+/data humidity -0.5\n", {Derived::dew_point});
    JsonParser parser(32);
    auto m = make_message(parser, "dht11/a/data", R"({"temperature":18,"humidity":50.5,"x":1})", 0, false, {});
    CHECK(r.apply(m));
    const auto &p = m.payload.as_object();
    CHECK(p.at("temperature").is_int64());  // a whole offset keeps an integer one
    CHECK(p.at("temperature").as_int64() == 20);
    CHECK(p.at("humidity").as_double() == 50);
    CHECK(p.at("dew_point").as_double() == 9.26);
    auto other = make_message(parser, "elsewhere", R"({"temperature":18,"humidity":50,"dew_point":"n/a"})", 0, false, {});
    CHECK_FALSE(r.apply(other));
    CHECK(other.payload.as_object().at("dew_point").as_string() == "n/a");
    CHECK(other.payload.as_object().at("temperature").as_int64() == 18);
    Readings none;
    auto raw = make_message(parser, "dht11/a/data", R"({"temperature":18,"humidity":50})", 0, false, {});
    CHECK_FALSE(none.apply(raw));
    CHECK(raw.payload.as_object().size() == 2);
}
