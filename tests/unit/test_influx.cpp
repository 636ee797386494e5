#include "lineproto.hpp"

#include "dht/json.hpp"
#include "dht/time.hpp"

#include <catch2/catch.hpp>

using namespace dht;
using namespace dht::influx;

namespace {

Message message(std::string_view topic, std::string_view payload)
{
    Message m;
    m.topic = std::string(topic);
    m.payload = json::parse(payload);
    m.timestamp = *parse_rfc3339("2026-11-24T10:00:00.123456789Z");
    return m;
}

std::string line(const Settings &s, std::string_view topic, std::string_view payload)
{
    Encoder e(s);
    std::string out;
    e.append(out, message(topic, payload));
    return out;
}

std::string key(std::string_view k)
{
    std::string out;
    append_key(out, k);
    return out;
}

}  // namespace

TEST_CASE("influx: the seed's point", "[influx]")
{
    CHECK(line({}, "dht11/sensor/data", R"({"temperature":24.50,"humidity":65.30})") ==
          "dht11,sensor=dht11/sensor/data temperature=24.5,humidity=65.3 1795514400123456789\n");
    Settings s;
    s.precision = Precision::s;
    s.tags = {{"location", "server_room"}};
    CHECK(line(s, "dht11/sensor/data", R"({"temperature":24.5})") ==
          "dht11,location=server_room,sensor=dht11/sensor/data temperature=24.5 1795514400\n");
}

TEST_CASE("influx: escaping in every position", "[influx]")
{
    CHECK(key("a b,c=d") == "a\\ b\\,c\\=d");
    CHECK(key("C:\\temp") == "C:\\temp");          // a backslash stays literal
    CHECK(key("back\\,slash") == "back\\\\,slash");  // \ then \, : reads back as "back\,slash"
    CHECK(key("ends\\") == "ends");                 // nothing can carry a trailing backslash
    CHECK(key("two\nlines") == "two\\nlines");
    std::string m;
    append_measurement(m, "dht 11,x=y");
    CHECK(m == "dht\\ 11\\,x=y");  // '=' needs no escape in a measurement
    std::string f;
    append_string_field(f, "say \"hi\" C:\\");
    CHECK(f == "\"say \\\"hi\\\" C:\\\\\"");
    Settings s;
    s.string_fields = true;
    set_shared_topics({"t"});  // the payload names the sensor on this topic
    CHECK(line(s, "t", R"({"sensor":"a b","note":"x,y=z","on":true,"n":null})") ==
          "dht11,sensor=a\\ b note=\"x,y=z\",on=true 1795514400123456789\n");
    set_shared_topics({});
}

TEST_CASE("influx: fields: numbers, integers by rule, nested paths, nothing to write", "[influx]")
{
    Settings s;
    CHECK(line(s, "t", R"({"a":3,"b":2.5,"env":{"co2":412},"list":[1,2],"s":"x"})") ==
          "dht11,sensor=t a=3,b=2.5,env.co2=412 1795514400123456789\n");
    s.int_field_names = {"env.co2"};
    CHECK(line(s, "t", R"({"a":3,"env":{"co2":412}})") == "dht11,sensor=t a=3,env.co2=412i 1795514400123456789\n");
    CHECK(line(s, "t", R"({"env":{"co2":411.6}})") == "dht11,sensor=t env.co2=412i 1795514400123456789\n");
    s.int_fields = true;
    CHECK(line(s, "t", R"({"a":3,"b":2.5,"c":24.00})") == "dht11,sensor=t a=3i,b=2.5,c=24 1795514400123456789\n");
    CHECK(line({}, "t", R"({"":1,"\\":2,"ok":3})") == "dht11,sensor=t ok=3 1795514400123456789\n");
    Encoder e{Settings{}};
    std::string out;
    CHECK_FALSE(e.append(out, message("t", R"({"state":"online"})")));
    CHECK_FALSE(e.append(out, message("t", R"("offline")")));
    CHECK(out.empty());
}

TEST_CASE("influx: tags from topic levels, sorted; empty values make no tag", "[influx]")
{
    Settings s;
    s.topic_tags = {"_", "room", "_"};
    s.tags = {{"a", "1"}};
    CHECK(line(s, "dht11/kitchen/data", R"({"t":1})") == "dht11,a=1,room=kitchen,sensor=dht11/kitchen/data t=1 1795514400123456789\n");
    CHECK(line(s, "dht11//data", R"({"t":1})") == "dht11,a=1,sensor=dht11//data t=1 1795514400123456789\n");
}
