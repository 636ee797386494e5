// Message records to Graphite's plaintext protocol: one line per numeric
// payload field, "PATH VALUE EPOCH\n", the path built from a template whose
// substituted parts are sanitised so that each stays one path component.
#pragma once

#include "dht/record.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dht::graphite {

// A character Graphite keeps in a path component: [A-Za-z0-9_-]; anything
// else (dots, spaces, slashes) becomes '_'. Never empty.
std::string sanitize_component(std::string_view text);
// A tag value: everything but ';', '~', '!', '^', '=' and blanks.
std::string sanitize_tag(std::string_view text);

class PathTemplate {
public:
    // Placeholders: {sensor} {field} {topic} (levels joined by '.') {topic[N]}
    // (level N from 0). Throws std::invalid_argument on an unknown one.
    explicit PathTemplate(std::string_view text);
    // Appends the path for this sensor, field and topic to `out`.
    void expand(std::string &out, std::string_view sensor, std::string_view field, std::string_view topic) const;

private:
    struct Part {
        enum class Kind { literal, sensor, field, topic, level } kind;
        std::string text;
        std::size_t level = 0;
    };
    std::vector<Part> parts_;
};

struct Settings {
    std::string prefix;
    bool tags = false;
    std::vector<std::pair<std::string, std::string>> extra_tags;  // --tag k=v
};

// Appends one line per numeric field of `message` to `out`; returns how many.
// A payload that is a bare number is the field named by the topic's last level.
std::size_t append_lines(std::string &out, const Message &message, const PathTemplate &path,
                         const Settings &settings);

}  // namespace dht::graphite
