// Line-delimited input: a reader that frames a file descriptor by '\n' with a size
// cap and line numbers, and the bookkeeping for bad lines (report, count, --strict).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dht {

class LineReader {
public:
    enum class Status { line, too_long, eof, timeout, interrupted };

    // `name` is used in diagnostics ("stdin", a file name).
    LineReader(int fd, std::string name, std::size_t max_line);

    // Next line without its '\n' (a final line without '\n' counts too). A line
    // longer than max_line is skipped up to its '\n' and reported once as
    // too_long. timeout_ms < 0 waits forever; interrupted means a signal arrived.
    // Throws Exit(74) on a read error. The view lives until the next call.
    Status next(std::string_view &line, int timeout_ms = -1);

    // True when a whole line is already buffered (next() will not wait).
    bool has_line() const noexcept;
    std::uint64_t line_number() const noexcept { return line_no_; }
    const std::string &name() const noexcept { return name_; }

private:
    enum class Fill { data, eof, timeout, interrupted };
    Fill fill(int timeout_ms);

    int fd_;
    std::string name_;
    std::size_t max_line_;
    std::vector<char> buf_;
    std::size_t begin_ = 0;  // start of unread data
    std::size_t end_ = 0;    // end of unread data
    std::size_t scanned_ = 0;  // bytes after begin_ known to hold no '\n'
    static constexpr std::size_t no_newline = SIZE_MAX;
    mutable std::size_t newline_ = no_newline;  // the next '\n', when has_line() found it
    bool discarding_ = false;
    bool eof_ = false;
    std::uint64_t line_no_ = 0;
};

// Counts bad input lines and reports each one on stderr:
//   dht-rules: stdin:42: invalid JSON: syntax error (skipped)
// With strict set, the first one ends the program with status 65.
class InputErrors {
public:
    explicit InputErrors(bool strict) : strict_(strict) {}
    void report(std::string_view source, std::uint64_t line, std::string_view what);
    std::uint64_t count() const noexcept { return count_; }
    // "N bad input lines skipped" when there were any; said once however
    // often it is called.
    void summary();

private:
    bool strict_;
    bool summarized_ = false;
    std::uint64_t count_ = 0;
};

}  // namespace dht
