// Record input on stdin, the same for every tool: one line loop (lines framed
// and capped by --max-line, every bad line reported by number and counted,
// --strict honoured, hooks for idle moments and pauses, a stop on SIGINT or
// SIGTERM, the count of bad lines at the end) under both parsers: LineInput
// hands each line to a tool that scans it (RecordScanner, dht/scan.hpp),
// RecordInput parses it into a JSON object first.
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

// An MQTT message whose payload is longer than --max-payload is bad input:
// reported ("TOPIC: payload of N bytes is over --max-payload (M bytes)
// (skipped)") and true, for the caller to skip it.
bool payload_too_long(const CommonOptions &options, std::string_view topic, std::size_t size);

class LineInput {
public:
    struct Hooks {
        // Each line, without its line end. The only hook called per line.
        std::function<void(std::string_view line)> line;
        // Called when no whole line is buffered, before waiting for more, and
        // once at the end.
        std::function<void()> idle;
        // The longest wait for input in ms (-1: until input comes); polled before each wait.
        std::function<int()> wait_ms = {};
        // The wait ran out: the input has paused.
        std::function<void()> timeout = {};
        // Polled before each wait, before `idle`: true ends the loop (as at
        // the end of input).
        std::function<bool()> stop = {};
        // Each bad line, to count it: called by report() before the report
        // (which, with --strict, ends the program).
        std::function<void()> bad = {};
    };

    // `work`: LineReader's LookAhead, for a regular file.
    explicit LineInput(const CommonOptions &options, int fd = 0, std::string name = "stdin",
                       LineReader::LookAhead *work = nullptr);

    // Reads to the end of input, a stop signal (SIGINT/SIGTERM) or `stop`, then
    // says how many bad lines were skipped (InputErrors::summary()).
    void run(const Hooks &hooks);

    // Where the current line is: "stdin:42".
    std::string position() const;
    // When the current line had come in whole (LineReader::read_at()): a
    // bare payload's time, and the clock a record's own time is checked against.
    TimePoint received() const noexcept { return reader_.read_at(); }
    // Reports the current line as bad ("stdin:42: WHAT (skipped)"); with
    // --strict it ends the program (status 65).
    void report(std::string_view what);
    InputErrors &errors() noexcept { return errors_; }
    // LineReader::looked() of the current line.
    bool looked(std::size_t &slot, std::size_t &index) const noexcept { return reader_.looked(slot, index); }

private:
    LineReader reader_;
    InputErrors errors_;
    std::string_view current_;  // the line being handled, for reports
    std::size_t max_line_;
    const Hooks *hooks_ = nullptr;  // while run() runs
};

class RecordInput {
public:
    struct Handlers {
        // Each line that is a JSON object whose "kind", if any, is a string; with its text.
        std::function<void(const json::object &record, std::string_view line)> record;
        // Called when no whole line is buffered, before waiting for more, and once at the end.
        std::function<void()> idle;
        // The longest wait for input in ms (-1: until input comes); polled before each wait.
        std::function<int()> wait_ms;
        // As in LineInput::Hooks.
        std::function<void()> timeout = {};
        std::function<bool()> stop = {};
        // Sees each line first: true when it took the line, which is then
        // neither parsed nor given to `record`.
        std::function<bool(std::string_view line)> line = {};
    };

    explicit RecordInput(const CommonOptions &options, int fd = 0, std::string name = "stdin");

    // Reads to the end of input or a stop signal (SIGINT/SIGTERM). A line that
    // is not JSON, not an object, or whose "kind" is not a string is reported
    // and skipped.
    void run(const Handlers &handlers);

    // The current line as a message (a message record, or a bare payload given
    // `bare_topic` and the time it was read); a wrong type is reported and
    // gives nullopt. Records of other kinds give nullopt silently.
    std::optional<Message> message(const json::object &record, std::string_view bare_topic);
    // Where the current line is: "stdin:42".
    std::string position() const { return lines_.position(); }
    // When the current line had come in whole (LineInput::received()).
    TimePoint received() const noexcept { return lines_.received(); }
    // Reports the current line as bad ("stdin:42: WHAT (skipped)").
    void report(std::string_view what) { lines_.report(what); }
    InputErrors &errors() noexcept { return lines_.errors(); }

private:
    LineInput lines_;
    JsonParser parser_;
};

}  // namespace dht
