// The records of SPEC section 2: message records in and out, the sensor of a
// message and field lookup by dotted path.
#pragma once

#include "dht/json.hpp"
#include "dht/time.hpp"

#include <optional>
#include <string>
#include <string_view>

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

// What a parsed input line is.
enum class RecordKind { message, alert, incident, stats, other, bare };
RecordKind record_kind(const json::object &record);

// A message from a "message" record or a bare payload (an object without
// "kind"): a bare payload gets `default_topic` and `received`. Returns nullopt
// and sets `error` when a key has the wrong type.
std::optional<Message> message_from_record(const json::object &record, std::string_view default_topic,
                                           TimePoint received, std::string &error);

// payload.sensor when it is a string, else the topic.
std::string_view sensor_of(const Message &message);

// payload["a"]["b"] for "a.b"; nullptr when absent.
const json::value *find_field(const json::value &payload, std::string_view dotted_path);
// The field as a number when it is one (int, uint or double).
std::optional<double> numeric_field(const json::value &payload, std::string_view dotted_path);

}  // namespace dht
