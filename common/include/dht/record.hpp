// The records of SPEC section 2: message records in and out, the sensor of a
// message and field lookup by dotted path.
#pragma once

#include "dht/json.hpp"
#include "dht/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dht {

struct Message {
    std::string topic;
    json::value payload;        // parsed JSON, or a string
    bool payload_base64 = false;  // payload is base64 of bytes that were not UTF-8
    TimePoint timestamp{};
    int qos = 0;
    bool retain = false;
};

// An MQTT payload as a record's payload: its JSON if it is JSON, else the text
// as a string, else (not UTF-8) base64 with `base64` set. Nothing is dropped.
json::value payload_from_bytes(JsonParser &parser, std::string_view bytes, bool &base64);

// A message as received from MQTT.
Message make_message(JsonParser &parser, std::string topic, std::string_view payload, int qos, bool retain,
                     TimePoint received);

// {"kind":"message","timestamp":…,"topic":…,"payload":…,"qos":0,"retain":false}
void append_message_record(std::string &out, const Message &message);

// A message whose payload is JSON text already, as append_json() writes it.
struct MessageText {
    std::string_view topic;
    std::string_view payload;
    bool payload_base64 = false;
    TimePoint timestamp{};
    int qos = 0;
    bool retain = false;
};

// The same record as append_message_record() of the parsed message writes.
void append_message_record(std::string &out, const MessageText &message);

// A line that is a message record or a bare payload (as message_from_record()
// takes them), written as append_json() writes what it holds but perhaps for
// its numbers: no spaces, no escapes but the ones it writes, no key twice, no
// exponents, nested less than `max_depth` deep. Then `out` views the line (a
// bare payload gets `bare_topic` and `received`, as does a record
// without a timestamp), and its payload is byte for byte
// what append_json() would write of it: a view of the line, or of a buffer
// kept until the next call on this thread when a number is written otherwise
// ("20.0" as "20"). False for any other line, good or bad, which is left to
// the parser: reading a line here never gives a different message, nor takes
// a line the parser would refuse.
bool read_message_text(std::string_view line, std::string_view bare_topic, std::size_t max_depth, TimePoint received,
                       MessageText &out);

// A time member of a record, RFC 3339 in quotes: "since":"2026-11-24T10:00:00.000Z".
ObjectWriter &time_member(ObjectWriter &w, std::string_view name, TimePoint t);

// What a parsed input line is: `bare` has no "kind"; `invalid` has one that
// is not a string, a bad line for every tool (kind_not_a_string says why).
enum class RecordKind { message, alert, incident, stats, other, bare, invalid };
RecordKind record_kind(const json::object &record);
inline constexpr std::string_view kind_not_a_string = "\"kind\" is not a string";

// A message from a "message" record or a bare payload (an object without
// "kind"): a bare payload gets `default_topic` and `received`. Returns nullopt
// and sets `error` when a key has the wrong type.
std::optional<Message> message_from_record(const json::object &record, std::string_view default_topic,
                                           TimePoint received, std::string &error);

// The name of the sensor a message comes from, for every tool. Its topic,
// which the broker's ACL vouches for (an account writes only its own topic):
// a payload's "sensor" (`payload_sensor`: empty when it has none, or not as a
// string) names the sensor only on a topic matching a filter given to
// set_shared_topics() (--shared-topic: one account publishing for several
// sensors, as the seed's dht11/sensor/data), or when there is no topic (a
// bare payload on stdin without --bare-topic). Elsewhere a "sensor" other than
// the topic is ignored, counted, and said once on stderr. What names a sensor
// is decided here alone.
std::string_view record_sensor(std::string_view topic, std::string_view payload_sensor);
// The sensor record_sensor() names, without counting or saying anything (for
// a second look at the same record).
std::string_view sensor_name(std::string_view topic, std::string_view payload_sensor);
// The topic filters on which a payload names its sensor (none by default).
void set_shared_topics(std::vector<std::string> filters);
// How many records had a "sensor" that was ignored; said once at the end
// ("N records named a sensor their topic may not speak for") by say_ignored_sensors().
std::uint64_t ignored_sensors() noexcept;
void say_ignored_sensors();
// record_sensor() of a parsed message.
std::string_view sensor_of(const Message &message);

// payload["a"]["b"] for "a.b"; nullptr when absent.
const json::value *find_field(const json::value &payload, std::string_view dotted_path);
// The field as a number when it is one (int, uint or double).
std::optional<double> numeric_field(const json::value &payload, std::string_view dotted_path);

}  // namespace dht
