#include "format.hpp"

#include <catch2/catch.hpp>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <cstdlib>
#include <ctime>

using namespace dht;
using dht::sub::Format;

namespace {
MqttMessage message(std::string topic, std::string payload, int qos = 0, bool retain = false)
{
    setenv("TZ", "UTC", 1);
    tzset();
    MqttMessage m;
    m.topic = std::move(topic);
    m.payload = std::move(payload);
    m.qos = qos;
    m.retain = retain;
    m.mid = 7;
    m.received = TimePoint{std::chrono::seconds(1795559398) + std::chrono::nanoseconds(7060711)};
    return m;
}

std::string render(const std::string &spec, const MqttMessage &m)
{
    std::string out;
    Format(spec).render(out, m);
    return out;
}
}  // namespace

TEST_CASE("the seed's format")
{
    const auto m = message("dht11/alerts/escalation", R"({"incident_id":7})");
    CHECK(render("@Y-@m-@d @H:@M:@S | %p", m) == R"(2026-11-24 22:29:58 | {"incident_id":7})");
}

TEST_CASE("fields, widths and escapes as mosquitto_sub prints them")
{
    const auto m = message("x", R"({"temperature":24.50})", 1, true);
    CHECK(render("%t %q %r %l %m", m) == "x 1 1 21 7");
    CHECK(render("%5.2t|", m) == "    x|");
    CHECK(render("%-5t|", m) == "x    |");
    CHECK(render("%05l|%-5l|%5l", m) == "00021|21   |   21");
    CHECK(render("%-5p|", m) == "{\"tem|");  // cut to the width
    CHECK(render("%x", message("x", "ab")) == "6162");
    CHECK(render("%X", message("x", "\xff")) == "FF");
    CHECK(render("%8X", message("x", std::string("ab\x01" "c\xff" "d", 6))) == "  616201");
    // mosquitto_sub's quirk: "-" without a width pads with the payload's length.
    CHECK(render("%-p|", message("x", "abc")) == "abc   |");
    CHECK(render("a\\tb\\nc\\\\d\\0e", m) == std::string("a\tb\nc\\d\0e", 9));
    CHECK(render("100%%@@", m) == "100%@");
    CHECK(render("@N", m) == "007060711");
    CHECK(render("%U", m) == "1795559398.007060711");
    CHECK(render("%I", m) == "2026-11-24T22:29:58+0000");
}

TEST_CASE("%j and %J write mosquitto_sub's JSON object")
{
    auto m = message("x", R"({"t":24.50,"big":12345678901234567890,"n":-0.0,"e":1e300})");
    CHECK(render("%J", m) == R"({"tst":"2026-11-24T22:29:58.007060Z+0000","topic":"x","qos":0,"retain":0,)"
                             R"("payloadlen":57,"payload":{"t":24.5,"big":1.2345678901234567e+19,"n":-0,)"
                             R"("e":1e+300}})");
    m = message("x", std::string("ab\0cd", 5), 1);
    CHECK(render("%j", m) == R"({"tst":"2026-11-24T22:29:58.007060Z+0000","topic":"x","qos":1,"retain":0,)"
                             R"("payloadlen":5,"mid":7,"payload":"ab"})");
    std::string out;
    CHECK_FALSE(Format("[%J]").render(out, message("x", "not json")));
    CHECK(out == "[]");
    CHECK(render("%J", message("x", "")).find(R"("payload":null)") != std::string::npos);
}

TEST_CASE("MQTT 5 properties")
{
    auto m = message("x", "p");
    mosquitto_property *props = nullptr;
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "application/json");
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "site", "lab");
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "rack", "4");
    mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 60);
    m.properties.reset(props);
    CHECK(render("%C|%P|%E|%5F|%R|", m) == "application/json|site:lab rack:4|60|     ||");
    CHECK(render("%j", m).find(R"("properties":{"content-type":"application/json",)"
                               R"("user-properties":{"site":"lab","rack":"4"},"message-expiry-interval":60})") !=
          std::string::npos);
}

TEST_CASE("bad formats are refused when they are compiled")
{
    CHECK_THROWS_WITH(Format("%"), Catch::Contains("incomplete"));
    CHECK_THROWS_WITH(Format("%5"), Catch::Contains("incomplete"));
    CHECK_THROWS_WITH(Format("%z"), Catch::Contains("'%z'"));
    CHECK_THROWS_WITH(Format("time @"), Catch::Contains("'@'"));
    CHECK_THROWS(Format("%99999p"));
    CHECK_THROWS_WITH(Format("a\\q"), Catch::Contains("invalid escape '\\q'"));
    CHECK_THROWS_WITH(Format("a\\"), Catch::Contains("incomplete escape"));
    CHECK_NOTHROW(Format("%-08.3t %A %S %D"));
}

TEST_CASE("plain output as mosquitto_sub without -F")
{
    std::string out;
    sub::render_plain(out, message("a/b", "23"), true, true);
    sub::render_plain(out, message("a/b", ""), true, true);
    sub::render_plain(out, message("a/b", "x"), false, true);
    sub::render_plain(out, message("a/b", ""), false, true);
    sub::render_plain(out, message("a/b", ""), true, false);
    CHECK(out == "a/b 23\na/b (null)\nx\n");
}

TEST_CASE("pretty JSON: %j and %J indented as cJSON_Print does")
{
    std::string out = "<";
    sub::prettify_json(out, 1);
    CHECK(out == "<");
    out = R"(>{"a":[1,{}],"b":{"c":[]},"d":"x:, {\"}"})";
    sub::prettify_json(out, 1);
    CHECK(out == ">{\n\t\"a\":\t[1, {\n\t\t}],\n\t\"b\":\t{\n\t\t\"c\":\t[]\n\t},\n\t\"d\":\t\"x:, {\\\"}\"\n}");
    std::string line;
    REQUIRE(Format("%J", true).render(line, message("t", R"({"k":2})")));
    CHECK(line.find("\"payload\":\t{\n\t\t\"k\":\t2\n\t}\n}") != std::string::npos);
}
