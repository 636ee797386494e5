#include "dht/lines.hpp"

#include "dht/diag.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

namespace dht {

// Reads a regular file on a thread of its own, into a few chunks handed to
// the reader in turn and handed back once framed, finds where each line
// ends in them, and has the LookAhead, if any, look at their lines (each
// buffer has a slot of its own for what it finds, which goes where the
// buffer goes). A chunk's data starts past a headroom, where the
// unframed end of the chunk before goes, so that a line across two reads is
// whole without copying either.
class LineReader::ReadAhead {
public:
    static constexpr std::size_t headroom = 64 * 1024, size = 256 * 1024, chunks = 4;

    struct Chunk {
        std::vector<char> buf;
        std::vector<std::uint32_t> ends;  // where each '\n' is, from `headroom`
        std::size_t size = 0;  // read, at `headroom`; 0: the end of the file
        int error = 0;  // errno of a read that failed
        TimePoint at{};  // when the read returned
        std::size_t slot = no_slot;  // a LookAhead's, for this buffer's lines
        std::size_t looked = 0;  // the LookAhead looked at its lines before this one (0: none)
    };
    static constexpr std::size_t no_slot = SIZE_MAX;
    static_assert(chunks <= LookAhead::slots);

    ReadAhead(int fd, std::size_t max_line, LookAhead *work) : fd_(fd), max_line_(max_line), work_(work)
    {
        for (std::size_t i = 0; i < chunks; ++i)
            free_.push_back({std::vector<char>(headroom + size), {}, 0, 0, {}, i});
        // Signals are the caller's thread's to take (stop_requested()).
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        struct Restore {
            const sigset_t &mask;
            ~Restore() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
        } restore{old};
        thread_ = std::thread([this] { loop(); });
    }

    ~ReadAhead()
    {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        changed_.notify_all();
        thread_.join();
    }

    ReadAhead(const ReadAhead &) = delete;
    ReadAhead &operator=(const ReadAhead &) = delete;

    // The next chunk read, once it is.
    Chunk take()
    {
        std::unique_lock lock(mutex_);
        if (ready_.empty()) {
            waiting_.store(true, std::memory_order_relaxed);
            changed_.wait(lock, [this] { return !ready_.empty(); });
            waiting_.store(false, std::memory_order_relaxed);
        }
        Chunk c = std::move(ready_.front());
        ready_.pop_front();
        return c;
    }

    // A chunk's buffers to read into again. The reader's first buffer, which
    // has no slot (and may be too small for a chunk), is dropped: the
    // chunks made here, each with its slot, are the ones that go round.
    void give_back(Chunk &&c)
    {
        if (c.slot == no_slot)
            return;
        {
            std::lock_guard lock(mutex_);
            free_.push_back(std::move(c));
        }
        changed_.notify_all();
    }

private:
    void loop()
    {
        for (;;) {
            Chunk c;
            {
                std::unique_lock lock(mutex_);
                changed_.wait(lock, [this] { return stop_ || !free_.empty(); });
                if (stop_)
                    return;
                c = std::move(free_.back());
                free_.pop_back();
            }
            ssize_t n;
            do
                n = ::read(fd_, c.buf.data() + headroom, c.buf.size() - headroom);
            while (n < 0 && errno == EINTR);
            c.at = now();
            c.size = n > 0 ? static_cast<std::size_t>(n) : 0;
            c.error = n < 0 ? errno : 0;
            c.ends.clear();
            const char *data = c.buf.data() + headroom;
            for (const char *p = data, *end = data + c.size;
                 (p = static_cast<const char *>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)))) != nullptr;
                 ++p)
                c.ends.push_back(static_cast<std::uint32_t>(p - data));
            look(c);
            {
                std::lock_guard lock(mutex_);
                ready_.push_back(std::move(c));
            }
            changed_.notify_all();
            if (n <= 0)
                return;  // the end, or an error: the reader says it
        }
    }

    // Has the LookAhead, if any, look at the whole lines of `c`, until the
    // caller waits for a chunk: it then takes this one as it is, and frames
    // the lines not looked at itself (the work goes to the thread that has
    // time for it).
    void look(Chunk &c) const
    {
        c.looked = 0;
        if (work_ == nullptr || c.slot == no_slot)
            return;
        const char *data = c.buf.data() + headroom;
        try {
            work_->chunk(c.slot, c.ends.size());
            std::size_t i = 1;
            for (; i < c.ends.size(); ++i) {
                if (i % 32 == 0 && waiting_.load(std::memory_order_relaxed))
                    break;
                const std::size_t start = c.ends[i - 1] + 1;
                std::size_t len = c.ends[i] - start;
                if (len > max_line_)
                    continue;  // buffered() does not give it
                if (len > 0 && data[start + len - 1] == '\r')
                    --len;
                if (!work_->look(c.slot, i, {data + start, len}))
                    break;
            }
            c.looked = i;
        } catch (...) {
            // Framed as if not looked at.
        }
    }

    int fd_;
    std::size_t max_line_;
    LookAhead *const work_;
    std::atomic<bool> waiting_{false};  // the caller waits in take()
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Chunk> ready_;
    std::vector<Chunk> free_;  // buffers to read into
    bool stop_ = false;
    std::thread thread_;  // last: it starts once the rest is there
};

LineReader::LineReader(int fd, std::string name, std::size_t max_line, LookAhead *work)
    : fd_(fd), name_(std::move(name)), max_line_(max_line), buf_(64 * 1024)
{
    struct stat st{};
    if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
        try {
            ahead_ = std::make_unique<ReadAhead>(fd_, max_line_, work);
        } catch (const std::system_error &) {
            // No thread to be had (a process limit): the file is read here, as a pipe is.
        }
    }
}

LineReader::~LineReader() = default;

LineReader::Fill LineReader::fill_ahead()
{
    auto c = ahead_->take();
    if (c.error != 0)
        fail(exit_ioerr, cat(name_, ": read error: ", std::strerror(c.error)));
    if (c.size == 0)
        return Fill::eof;
    const std::size_t rest = end_ - begin_;  // the start of a line, not framed yet
    if (rest <= ReadAhead::headroom) {
        std::memcpy(c.buf.data() + ReadAhead::headroom - rest, buf_.data() + begin_, rest);
        begin_ = ReadAhead::headroom - rest;
        end_ = ReadAhead::headroom + c.size;
        known_base_ = ReadAhead::headroom;
        std::swap(buf_, c.buf);
        std::swap(slot_, c.slot);
        looked_end_ = c.looked;
    } else {
        // A line longer than the headroom: it stays in buf_, the chunk is
        // appended to it.
        std::memmove(buf_.data(), buf_.data() + begin_, rest);
        begin_ = 0;
        end_ = rest + c.size;
        if (buf_.size() < end_)
            buf_.resize(std::max(end_, 2 * buf_.size()));
        std::memcpy(buf_.data() + rest, c.buf.data() + ReadAhead::headroom, c.size);
        known_base_ = rest;
        looked_end_ = 0;  // its slot goes back with it
    }
    std::swap(ends_, c.ends);
    known_ = known_first_ = ends_.data();
    looked_ = not_looked;
    known_end_ = known_ + ends_.size();
    read_at_ = c.at;
    ahead_->give_back(std::move(c));
    return Fill::data;
}

LineReader::Fill LineReader::fill(int timeout_ms)
{
    if (ahead_)
        return fill_ahead();  // a file has no pauses: the chunk comes when read
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
    looked_ = not_looked;  // its line is not the one buffered() gave
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
            while (known_ != known_end_ && known_base_ + *known_ <= at)
                ++known_;  // framed here, not by buffered()
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
