// Line-delimited input: a reader that frames a file descriptor by '\n' with a size
// cap and line numbers, and the bookkeeping for bad lines (report, count, --strict).
#pragma once

#include "dht/time.hpp"

#include <cstddef>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dht {

class LineReader {
public:
    enum class Status { line, too_long, eof, timeout, interrupted };

    // Work on the lines of a regular file done on the reading thread, as each
    // chunk is read, ahead of the caller (a tool's scan of each record, say).
    // look() keeps what it finds for a line in its slot `slot` (one of
    // `slots`) at `index`: the chunk holds that slot, and the caller reads it
    // there (looked()) until the chunk is framed and read into again.
    class LookAhead {
    public:
        static constexpr std::size_t slots = 4;
        virtual ~LookAhead() = default;
        // A chunk read into `slot` holds lines 1 to `lines` - 1 whole (line
        // 0 began in the chunk before).
        virtual void chunk(std::size_t slot, std::size_t lines) = 0;
        // Line `index` of it, as buffered() will give it, in order (a line
        // over max_line is not looked at); false leaves the chunk's lines
        // from this one on to the caller, as are those still to look at
        // when the caller waits for the chunk. An exception is the chunk's
        // alone: it is then framed as if not looked at.
        virtual bool look(std::size_t slot, std::size_t index, std::string_view line) = 0;
    };

    // `name` is used in diagnostics ("stdin", a file name). A regular file is
    // read ahead on a thread of its own (a chunk at a time, a few chunks
    // ahead), so that the time read(2) takes to copy it is not the caller's;
    // `work`, when given, looks at its lines there, and must outlive the
    // reader. A pipe, a terminal or a socket is read on the caller's thread,
    // when it has input, and nothing looks at its lines.
    LineReader(int fd, std::string name, std::size_t max_line, LookAhead *work = nullptr);
    ~LineReader();
    LineReader(const LineReader &) = delete;
    LineReader &operator=(const LineReader &) = delete;

    // Where the LookAhead saw the line buffered() gave last: false when it
    // did not (no LookAhead, input not read ahead, a line across two chunks
    // or left to the caller, a line next() gave).
    bool looked(std::size_t &slot, std::size_t &index) const noexcept
    {
        if (looked_ == 0 || looked_ >= looked_end_)  // not_looked too
            return false;
        slot = slot_;
        index = looked_;
        return true;
    }

    // Next line without its '\n' (a final line without '\n' counts too). A line
    // longer than max_line is skipped up to its '\n' and reported once as
    // too_long. timeout_ms < 0 waits forever; interrupted means a signal arrived.
    // Throws Exit(74) on a read error. The view lives until the next call.
    Status next(std::string_view &line, int timeout_ms = -1);

    // The next line, as next() gives it, when it is already whole in the
    // buffer and next() would do nothing more than frame it; else a view with
    // a null data(), and next() is to be called (no whole line is buffered,
    // or it is one next() reports or skips). It never reads, so it never
    // waits: the loop over a stream of input that costs least.
    std::string_view buffered() noexcept
    {
        if (newline_ != no_newline || discarding_)
            return {};
        const char *base = buf_.data();
        std::size_t at;
        if (known_ != known_end_) {
            looked_ = static_cast<std::size_t>(known_ - known_first_);
            at = known_base_ + *known_++;  // found as the file was read ahead
        } else {
            looked_ = not_looked;
            const std::size_t from = begin_ + scanned_;
            const void *nl = std::memchr(base + from, '\n', end_ - from);
            if (nl == nullptr) {
                scanned_ = end_ - begin_;
                return {};
            }
            at = static_cast<std::size_t>(static_cast<const char *>(nl) - base);
        }
        std::size_t len = at - begin_;
        if (len > max_line_) {
            newline_ = at;  // next() reports it
            return {};
        }
        const char *start = base + begin_;
        begin_ = at + 1;
        scanned_ = 0;
        ++line_no_;
        if (len > 0 && start[len - 1] == '\r')
            --len;  // tolerate CRLF
        return {start, len};
    }
    // True when a whole line is already buffered (next() will not wait).
    bool has_line() const noexcept;
    std::uint64_t line_number() const noexcept { return line_no_; }
    // When the current line had come in whole: the time of the latest read
    // (the clock is read once a read, not once a line).
    TimePoint read_at() const noexcept { return read_at_; }
    const std::string &name() const noexcept { return name_; }

private:
    enum class Fill { data, eof, timeout, interrupted };
    Fill fill(int timeout_ms);
    class ReadAhead;
    Fill fill_ahead();

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
    TimePoint read_at_{};
    std::unique_ptr<ReadAhead> ahead_;  // a regular file's reader
    // Read ahead: where each '\n' of the latest chunk is (ends_, from
    // known_base_ in buf_); known_ is the next one not framed yet.
    std::vector<std::uint32_t> ends_;
    const std::uint32_t *known_ = nullptr, *known_end_ = nullptr;
    std::size_t known_base_ = 0;
    // The line buffered() gave last: its index in the latest chunk when it
    // came from ends_ (known_first_); the lines of that chunk a LookAhead
    // looked at (those before looked_end_), and the slot the chunk holds.
    static constexpr std::size_t not_looked = SIZE_MAX;
    std::size_t looked_ = not_looked;
    const std::uint32_t *known_first_ = nullptr;
    std::size_t looked_end_ = 0;
    std::size_t slot_ = SIZE_MAX;  // none
};

// Counts bad input lines and reports them on stderr:
//   dht-rules: stdin:42: invalid JSON: syntax error (skipped)
// The first ten one by one; then, so that a stream of bad input does not
// bury everything else, a count every ten seconds with the latest of them,
// and the total at the end. Lines that look like `topic payload` (the -v
// output of dht-sub or mosquitto_sub) get a hint, once.
// With strict set, the first one ends the program with status 65.
class InputErrors {
public:
    explicit InputErrors(bool strict) : strict_(strict) {}
    // `text`: the bad line (or its start), for the hint.
    void report(std::string_view source, std::uint64_t line, std::string_view what, std::string_view text = {});
    std::uint64_t count() const noexcept { return count_; }
    // "N bad input lines skipped" when there were any; said once however
    // often it is called.
    void summary();

    static constexpr std::uint64_t shown = 10;                     // reported one by one
    static constexpr std::chrono::seconds every{10};               // then a count this often

private:
    void tell_held(std::chrono::steady_clock::time_point now);

    bool strict_;
    bool summarized_ = false, hinted_ = false;
    std::uint64_t count_ = 0;
    std::uint64_t held_ = 0;  // bad lines not reported one by one and not counted aloud yet
    std::string latest_;      // the latest of them
    std::chrono::steady_clock::time_point told_{};
};

}  // namespace dht
