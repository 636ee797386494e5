#include "dht/lines.hpp"

#include "dht/diag.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dht {

LineReader::LineReader(int fd, std::string name, std::size_t max_line)
    : fd_(fd), name_(std::move(name)), max_line_(max_line), buf_(64 * 1024)
{
}

LineReader::Fill LineReader::fill(int timeout_ms)
{
    if (begin_ > 0 && begin_ == end_) {
        begin_ = end_ = 0;
    } else if (begin_ > 0 && end_ == buf_.size()) {
        std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (end_ == buf_.size())
        buf_.resize(buf_.size() * 2);
    if (timeout_ms >= 0) {
        pollfd p{fd_, POLLIN, 0};
        const int r = ::poll(&p, 1, timeout_ms);
        if (r == 0)
            return Fill::timeout;
        if (r < 0) {
            if (errno == EINTR)
                return Fill::interrupted;
            fail(exit_ioerr, cat(name_, ": ", std::strerror(errno)));
        }
    }
    const ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n < 0) {
        if (errno == EINTR)
            return Fill::interrupted;
        if (errno == EAGAIN)
            return Fill::timeout;
        fail(exit_ioerr, cat(name_, ": read error: ", std::strerror(errno)));
    }
    if (n == 0)
        return Fill::eof;
    end_ += static_cast<std::size_t>(n);
    read_at_ = now();
    return Fill::data;
}

bool LineReader::has_line() const noexcept
{
    if (eof_ || newline_ != no_newline)
        return true;
    const std::size_t from = begin_ + scanned_;
    const void *nl = from < end_ ? std::memchr(buf_.data() + from, '\n', end_ - from) : nullptr;
    if (nl == nullptr)
        return false;
    newline_ = static_cast<std::size_t>(static_cast<const char *>(nl) - buf_.data());  // for next()
    return true;
}

LineReader::Status LineReader::next(std::string_view &line, int timeout_ms)
{
    for (;;) {
        const std::size_t from = begin_ + scanned_;
        const void *nl = newline_ != no_newline ? buf_.data() + newline_
                         : from < end_          ? std::memchr(buf_.data() + from, '\n', end_ - from)
                                                : nullptr;
        newline_ = no_newline;
        if (nl != nullptr) {
            const auto at = static_cast<std::size_t>(static_cast<const char *>(nl) - buf_.data());
            const std::size_t start = begin_;
            begin_ = at + 1;
            scanned_ = 0;
            if (discarding_) {
                discarding_ = false;
                continue;  // the tail of a line already reported (and counted) as too long
            }
            ++line_no_;
            std::size_t len = at - start;
            if (len > max_line_)
                return Status::too_long;
            if (len > 0 && buf_[start + len - 1] == '\r')
                --len;  // tolerate CRLF
            line = std::string_view(buf_.data() + start, len);
            return Status::line;
        }
        scanned_ = end_ - begin_;
        if (!discarding_ && scanned_ > max_line_) {
            // Report now and drop what we hold, so a huge line never sits in memory.
            discarding_ = true;
            begin_ = end_;
            scanned_ = 0;
            ++line_no_;
            return Status::too_long;
        }
        if (discarding_) {
            begin_ = end_;
            scanned_ = 0;
        }
        if (eof_) {
            if (begin_ == end_) {
                discarding_ = false;
                return Status::eof;
            }
            // A last line without '\n'.
            const std::size_t start = begin_;
            const std::size_t len = end_ - begin_;
            begin_ = end_;
            scanned_ = 0;
            ++line_no_;
            line = std::string_view(buf_.data() + start, len);
            return Status::line;
        }
        switch (fill(timeout_ms)) {
        case Fill::data: break;
        case Fill::eof: eof_ = true; break;
        case Fill::timeout: return Status::timeout;
        case Fill::interrupted: return Status::interrupted;
        }
    }
}

namespace {

// "dht11/x/data {...}": a topic, a space, a payload, as `dht-sub -v` prints.
bool looks_like_topic_and_payload(std::string_view text)
{
    const auto space = text.find(' ');
    if (space == std::string_view::npos || space == 0)
        return false;
    const auto topic = text.substr(0, space);
    return topic.find('/') != std::string_view::npos && topic.find_first_of("{\"") == std::string_view::npos &&
           space + 1 < text.size();
}

}  // namespace

void InputErrors::report(std::string_view source, std::uint64_t line, std::string_view what, std::string_view text)
{
    ++count_;
    if (strict_)
        fail(exit_dataerr, cat(source, ":", line, ": ", what));
    if (!hinted_ && looks_like_topic_and_payload(text)) {
        hinted_ = true;
        warn(cat(source, ":", line, ": ", what,
                 " (skipped; this is 'topic payload', as dht-sub -v or mosquitto_sub -v print: drop -v, dht-sub "
                 "prints records)"));
        told_ = std::chrono::steady_clock::now();
        return;
    }
    if (count_ <= shown) {
        warn(cat(source, ":", line, ": ", what, " (skipped)"));
        if (count_ == shown)
            warn(cat("more bad input lines are counted every ", every.count(), " s and in the total at the end"));
        told_ = std::chrono::steady_clock::now();
        return;
    }
    ++held_;
    latest_ = cat(source, ":", line, ": ", what);
    if (const auto now = std::chrono::steady_clock::now(); now - told_ >= every)
        tell_held(now);
}

void InputErrors::tell_held(std::chrono::steady_clock::time_point now)
{
    if (held_ > 0)
        warn(cat(held_, held_ == 1 ? " more bad input line" : " more bad input lines", " skipped (the latest: ", latest_,
                 ")"));
    held_ = 0;
    told_ = now;
}

void InputErrors::summary()
{
    if (summarized_)
        return;
    summarized_ = true;
    if (count_ > 0 && !strict_) {  // with --strict the one bad line has been named already
        tell_held(std::chrono::steady_clock::now());
        warn(cat(count_, count_ == 1 ? " bad input line" : " bad input lines", " skipped"));
    }
}

}  // namespace dht
