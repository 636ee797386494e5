// mosquitto_sub's -F format language, compiled once so that printing cannot
// fail later: %t %p %j %J %I %U %q %r %l %m %x %X, the MQTT 5 fields %A %C %D %E
// %F %P %R %S, widths/alignment/zero padding/precision, @-strftime fields and
// backslash escapes. Output matches mosquitto_sub 2.0 byte for byte, quirks
// included (a "%-p" pads with as many spaces as the payload is long).
#pragma once

#include "dht/mqtt.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace dht::sub {

class Format {
public:
    // Throws std::invalid_argument with a message naming the problem. With
    // `pretty`, %j and %J are indented as mosquitto_sub --pretty does (cJSON's
    // formatted print: tabs, one member a line).
    explicit Format(std::string_view spec, bool pretty = false);

    // False when a %J field was left empty because the payload is not JSON
    // (mosquitto_sub prints the rest of the line and complains on stderr).
    bool render(std::string &out, const MqttMessage &message) const;

private:
    struct Token {
        enum class Kind { literal, field, time } kind;
        std::string text;  // literal bytes, or the strftime conversion ("%Y")
        char conversion = 0;
        char align = 0;
        char pad = ' ';
        int width = 0;
        int precision = -1;
    };
    std::vector<Token> tokens_;
    bool pretty_ = false;
};

// mosquitto_sub's output without -F: with -v "topic payload" ("topic (null)"
// for an empty payload), without it the payload alone (nothing if empty).
void render_plain(std::string &out, const MqttMessage &message, bool verbose, bool eol);

// The "%j"/"%J" JSON object (escaped = %j: the payload as a string).
// Returns false for %J with a payload that is not JSON.
bool render_json(std::string &out, const MqttMessage &message, bool escaped);

// Re-indents the compact JSON that starts at out[from] as cJSON_Print does.
void prettify_json(std::string &out, std::size_t from);

}  // namespace dht::sub
