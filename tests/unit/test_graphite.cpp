#include "graphite.hpp"

#include <catch2/catch.hpp>

using namespace dht;
using namespace dht::graphite;

namespace {
Message message(std::string topic, const char *payload)
{
    Message m;
    m.topic = std::move(topic);
    m.payload = json::parse(payload);
    m.timestamp = TimePoint{std::chrono::milliseconds(1795515330123)};
    return m;
}

std::string lines(const Message &m, const char *tmpl = "dht11.{sensor}.{field}", Settings s = {})
{
    std::string out;
    append_lines(out, m, PathTemplate(tmpl), s);
    return out;
}
}  // namespace

TEST_CASE("path components are sanitised into one component each")
{
    CHECK(sanitize_component("server room.1") == "server_room_1");
    CHECK(sanitize_component("dht11/sensor/data") == "dht11_sensor_data");
    CHECK(sanitize_component("ok-Name_9") == "ok-Name_9");
    CHECK(sanitize_component("") == "_");
    CHECK(sanitize_component("é") == "__");
    CHECK(sanitize_tag("a b;c~d=e") == "a_b_c_d_e");
    CHECK(sanitize_tag("lab/1") == "lab/1");
}

TEST_CASE("the seed's lines and the default template")
{
    const auto m = message("dht11/sensor/data", R"({"temperature":24.50,"humidity":65.30,"status":"ok","on":true})");
    CHECK(lines(m, "dht11.{field}") == "dht11.temperature 24.5 1795515330\ndht11.humidity 65.3 1795515330\n");
    CHECK(lines(m) == "dht11.dht11_sensor_data.temperature 24.5 1795515330\n"
                      "dht11.dht11_sensor_data.humidity 65.3 1795515330\n");
}

TEST_CASE("sensor, nested fields, topic levels, prefix and tags")
{
    set_shared_topics({"dht11/+/data"});  // payloads here name their sensors
    const auto m = message("dht11/lab/data", R"({"sensor":"server room.1","env":{"t":21,"a b":2}})");
    CHECK(lines(m) == "dht11.server_room_1.env.t 21 1795515330\ndht11.server_room_1.env.a_b 2 1795515330\n");
    CHECK(lines(message("dht11/lab/data", R"({"t":1})"), "{topic[1]}.{topic[0]}.{topic[9]}.{topic}.{field}") ==
          "lab.dht11._.dht11.lab.data.t 1 1795515330\n");
    Settings s;
    s.prefix = "home";
    s.tags = true;
    s.extra_tags = {{"location", "server_room"}};
    CHECK(lines(message("dht11/c/data", R"({"sensor":"cellar 2","t":3.5})"), "dht11.{field}", s) ==
          "home.dht11.t;sensor=cellar_2;location=server_room 3.5 1795515330\n");
    set_shared_topics({});
}

TEST_CASE("a bare number is the field named by the last topic level; text is skipped")
{
    CHECK(lines(message("home/kitchen/temperature", "19.5"), "x.{field}") == "x.temperature 19.5 1795515330\n");
    CHECK(lines(message("home/kitchen/status", R"("online")")).empty());
}

TEST_CASE("templates are checked when they are read")
{
    CHECK_THROWS_WITH(PathTemplate("a.{nope}"), Catch::Contains("unknown placeholder {nope}"));
    CHECK_THROWS_WITH(PathTemplate("a.{field"), Catch::Contains("unclosed"));
    CHECK_THROWS(PathTemplate("{topic[x]}"));
    CHECK_NOTHROW(PathTemplate("plain.path"));
}
