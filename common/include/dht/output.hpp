// Buffered stdout with every write checked: a closed pipe ends the tool quietly
// (ClosedOutput, exit 0), any other error is an I/O error (exit 74).
#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace dht {

class ClosedOutput : public std::exception {
public:
    const char *what() const noexcept override { return "output closed"; }
};

class Output {
public:
    explicit Output(int fd = 1, std::size_t flush_at = 64 * 1024);
    Output(const Output &) = delete;
    Output &operator=(const Output &) = delete;

    // Append to this buffer directly, then call maybe_flush().
    std::string &buffer() noexcept { return buf_; }
    void write(std::string_view text);
    // Flushes once the buffer is past its threshold.
    void maybe_flush();
    void flush();
    // True once a pipe or socket's reader has gone, before any write fails:
    // a tool that waits for input ends at once under `| head -n 1`.
    bool reader_gone() const;

private:
    int fd_;
    std::size_t flush_at_;
    std::string buf_;
};

}  // namespace dht
