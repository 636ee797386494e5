// Record input on stdin, the same for every tool: lines framed and capped,
// parsed as JSON objects, every bad line reported by number and counted,
// --strict honoured, and hooks for idle moments (flush, commit, retry).
#pragma once

#include "dht/cli.hpp"
#include "dht/json.hpp"
#include "dht/lines.hpp"
#include "dht/record.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace dht {

class RecordInput {
public:
    struct Handlers {
        // Each line that is a JSON object, with its text.
        std::function<void(const json::object &record, std::string_view line)> record;
        // Called when no whole line is buffered, before waiting for more.
        std::function<void()> idle;
        // The longest wait for input in ms (-1: until input comes); polled before each wait.
        std::function<int()> wait_ms;
    };

    explicit RecordInput(const CommonOptions &options, int fd = 0, std::string name = "stdin");

    // Reads to the end of input or a stop signal (SIGINT/SIGTERM).
    void run(const Handlers &handlers);

    // The current line as a message (a message record, or a bare payload given
    // `bare_topic` and the time it was read); a wrong type is reported and
    // gives nullopt. Records of other kinds give nullopt silently.
    std::optional<Message> message(const json::object &record, std::string_view bare_topic);
    // Where the current line is: "stdin:42".
    std::string position() const;
    // Reports the current line as bad ("stdin:42: WHAT (skipped)").
    void report(std::string_view what);
    InputErrors &errors() noexcept { return errors_; }

private:
    LineReader reader_;
    JsonParser parser_;
    InputErrors errors_;
    std::size_t max_line_;
};

}  // namespace dht
