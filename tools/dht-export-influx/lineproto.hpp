// Message records to InfluxDB line protocol: measurement, tags (the sensor,
// topic levels by template, fixed tags), the payload's fields (numbers as
// floats, integers on request, strings and booleans on request) and the
// record's time, every name and value escaped exactly.
#pragma once

#include "dht/record.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dht::influx {

enum class Precision { ns, us, ms, s };

struct Settings {
    std::string measurement = "dht11";
    std::vector<std::pair<std::string, std::string>> tags;  // --tag K=V
    // --topic-tags: one entry per topic level, the tag it becomes ("" or "_": none).
    std::vector<std::string> topic_tags;
    bool int_fields = false;                  // JSON integers as integer fields (decimals stay floats)
    std::vector<std::string> int_field_names;  // these fields always as integers (rounded)
    bool string_fields = false;               // strings and booleans too
    Precision precision = Precision::ns;
};

// Escapes for each position of a line. Line protocol has no escape for a
// backslash: it is literal, also before an escaped character, but a trailing
// one would escape the separator after it, so it is dropped. A newline, which
// no position can hold, is written as the two characters \n.
void append_measurement(std::string &out, std::string_view name);
void append_key(std::string &out, std::string_view key);  // tag keys, tag values, field keys
void append_string_field(std::string &out, std::string_view value);

class Encoder {
public:
    explicit Encoder(Settings settings);
    // Appends the message's line, '\n' included; false (nothing appended) when
    // the payload has no field to write.
    bool append(std::string &out, const Message &m);

private:
    void fields(std::string &out, const json::object &object, std::string &path, bool &first, bool top);
    bool named_integer(std::string_view path) const;

    Settings settings_;
    std::string measurement_;  // escaped
    std::vector<std::pair<std::string, std::string>> scratch_tags_;
    std::string path_;
};

}  // namespace dht::influx
