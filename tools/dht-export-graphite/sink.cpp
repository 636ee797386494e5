#include "sink.hpp"

#include "dht/diag.hpp"

#include <linux/sockios.h>
#include <netdb.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace dht::graphite {
namespace {
constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kDatagram = 1400;
}  // namespace

CarbonSink::CarbonSink(SinkConfig config) : config_(std::move(config)), backoff_(config_.reconnect_max)
{
    if (config_.spool_dir.empty())
        return;
    spool_.emplace(config_.spool_dir, "graphite", config_.address.label(), ".spool");
    // What an earlier run could not send goes first.
    spool_->load([this](const std::string &path, std::string &text, std::size_t) {
        for (std::size_t start = 0; start < text.size();) {
            const auto nl = std::min(text.find('\n', start), text.size());
            if (nl > start) {
                std::string line = text.substr(start, nl - start);
                line.push_back('\n');
                lines_.push_back(std::move(line));
            }
            start = nl + 1;
        }
        loaded_spools_.push_back(path);
    });
}

CarbonSink::~CarbonSink()
{
    if (fd_ >= 0)
        ::close(fd_);
}

void CarbonSink::spill(std::size_t count, bool overflow)
{
    // The oldest lines go to disk (or, without a spool, are dropped).
    count = std::min(count, lines_.size());
    if (spool_) {
        std::string text;
        for (std::size_t i = 0; i < count; ++i)
            text += lines_[i];
        if (!spool_->write(text).empty()) {
            spooled_ += count;
            lines_.erase(lines_.begin(), lines_.begin() + static_cast<std::ptrdiff_t>(count));
            return;
        }
    }
    if (overflow && !warned_full_) {
        warn(cat("buffer full (", config_.max_lines, " lines): dropping the oldest",
                 config_.spool_dir.empty() ? " (--spool DIR would keep them)" : ""));
        warned_full_ = true;
    }
    dropped_ += count;
    lines_.erase(lines_.begin(), lines_.begin() + static_cast<std::ptrdiff_t>(count));
}

void CarbonSink::add(std::string_view text)
{
    std::size_t start = 0;
    while (start < text.size()) {
        const auto nl = text.find('\n', start);
        const auto end = nl == std::string_view::npos ? text.size() : nl + 1;
        lines_.emplace_back(text.substr(start, end - start));
        start = end;
    }
    if (lines_.size() > config_.max_lines)
        spill(lines_.size() - config_.max_lines + config_.max_lines / 10, true);
}

bool CarbonSink::connect()
{
    if (Clock::now() < next_try_)
        return false;
    std::string error;
    if (config_.udp) {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_DGRAM;
        addrinfo *list = nullptr;
        if (const int rc = ::getaddrinfo(config_.address.host.c_str(), std::to_string(config_.address.port).c_str(),
                                         &hints, &list);
            rc != 0) {
            error = ::gai_strerror(rc);
        } else {
            fd_ = ::socket(list->ai_family, list->ai_socktype | SOCK_CLOEXEC, list->ai_protocol);
            if (fd_ >= 0 && ::connect(fd_, list->ai_addr, list->ai_addrlen) != 0) {
                error = std::strerror(errno);
                ::close(fd_);
                fd_ = -1;
            }
            ::freeaddrinfo(list);
        }
    } else {
        fd_ = tcp_connect(config_.address, std::chrono::seconds(3), error);
        if (fd_ >= 0) {
            timeval tv{5, 0};  // a carbon that stops reading must not hang us
            ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
    }
    if (fd_ < 0) {
        const auto delay = backoff_.next();
        next_try_ = Clock::now() + delay;
        warn(cat(config_.address.label(), ": ", error, "; next try in ", seconds_text(delay), " (", lines_.size(),
                 lines_.size() == 1 ? " line waiting)" : " lines waiting)"));
        return false;
    }
    if (sent_ > 0 || resent_ > 0)
        warn(cat("connected to ", config_.address.label()));
    backoff_.reset();
    return true;
}

bool CarbonSink::peer_closed()
{
    // carbon never writes to us: a readable socket means it closed or reset.
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0)
        return false;
    char c;
    return ::recv(fd_, &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0;
}

void CarbonSink::unsend()
{
    // The window goes back in front of what waits, oldest first, line by line.
    std::deque<std::string> lines;
    for (const auto &sent : window_)
        for (std::size_t start = 0; start < sent.text.size();) {
            const auto nl = sent.text.find('\n', start);
            const auto end = nl == std::string::npos ? sent.text.size() : nl + 1;
            lines.emplace_back(sent.text, start, end - start);
            start = end;
        }
    lines_.insert(lines_.begin(), std::make_move_iterator(lines.begin()), std::make_move_iterator(lines.end()));
    clear_window();
}

void CarbonSink::clear_window()
{
    window_.clear();
    window_lines_ = acked_chunks_ = 0;
}

void CarbonSink::disconnect()
{
    ::close(fd_);
    fd_ = -1;
    written_ = 0;
}

void CarbonSink::lost(const std::string &why)
{
    warn(cat(config_.address.label(), ": ", why, "; reconnecting, ", window_lines_, " recent lines to resend"));
    disconnect();
    window_spools_.clear();  // those lines were not resent: their files wait for the next start
    resent_ += window_lines_;
    unsend();
    next_try_ = Clock::now();
}

void CarbonSink::trim_window()
{
    // Over --buffer lines: the oldest acknowledged text, a tenth of the
    // buffer more than needed, goes to the spool (sent again at the next
    // start, unless carbon confirms at the end, on this connection, that it
    // read it) or is let go before its time.
    const std::size_t target = config_.max_lines - config_.max_lines / 10;
    std::size_t chunks = 0, lines = 0;
    std::string text;
    for (; chunks < acked_chunks_ && window_lines_ - lines > target; ++chunks) {
        lines += window_[chunks].lines;
        if (spool_)
            text += window_[chunks].text;
    }
    if (auto path = spool_ ? spool_->write(text) : std::string(); !path.empty()) {
        spooled_ += lines;
        window_spools_.emplace_back(std::move(path), lines);
    } else if (!warned_window_) {
        warn(cat("replay window over ", config_.max_lines, " lines: the oldest lines sent, acknowledged ",
                 seconds_text(Clock::now() - window_.front().acked), " ago, can no longer be resent",
                 config_.spool_dir.empty() ? " (--spool DIR would keep them)" : ""));
        warned_window_ = true;
    }
    window_.erase(window_.begin(), window_.begin() + static_cast<std::ptrdiff_t>(chunks));
    window_lines_ -= lines;
    acked_chunks_ -= chunks;
}

void CarbonSink::settle()
{
    // Stamp what carbon's host has acknowledged (all but the bytes still in
    // the socket's send queue), then let go of what was acknowledged more
    // than replay_window ago, but only while the queue is empty: bytes left
    // unacknowledged mean a carbon that stopped reading, whose receive buffer
    // holds lines it may never read. Unacknowledged text always stays: the
    // kernel bounds it by the socket's send buffer.
    int queued = 0;
    if (fd_ < 0 || config_.udp || ::ioctl(fd_, SIOCOUTQ, &queued) != 0 || queued < 0)
        return;
    const std::uint64_t acked = written_ - static_cast<std::uint64_t>(queued);
    const auto now = Clock::now();
    for (; acked_chunks_ < window_.size() && window_[acked_chunks_].end <= acked; ++acked_chunks_)
        window_[acked_chunks_].acked = now;
    while (queued == 0 && acked_chunks_ > 0 && now - window_.front().acked >= config_.replay_window) {
        window_lines_ -= window_.front().lines;
        window_.pop_front();
        --acked_chunks_;
    }
    if (acked_chunks_ > 0 && window_lines_ > config_.max_lines)
        trim_window();
}

void CarbonSink::pump()
{
    settle();  // before writing: what was written at the last pump has had time to be acknowledged
    while (!lines_.empty()) {
        if (fd_ < 0 && !connect())
            return;
        if (!config_.udp && peer_closed()) {
            lost("connection closed by carbon");
            continue;
        }
        std::string chunk;
        std::size_t n = 0;
        const std::size_t limit = config_.udp ? kDatagram : kChunk;
        while (n < lines_.size() && (n == 0 || chunk.size() + lines_[n].size() <= limit))
            chunk += lines_[n++];
        lines_.erase(lines_.begin(), lines_.begin() + static_cast<std::ptrdiff_t>(n));
        std::size_t done = 0;
        while (done < chunk.size()) {
            const ssize_t w = ::send(fd_, chunk.data() + done, chunk.size() - done, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0 && config_.udp)
                break;  // a datagram lost is lost; carry on
            if (w < 0) {
                const int error = errno;
                window_.push_back(Sent{std::move(chunk), n, written_, {}});
                window_lines_ += n;
                lost(std::strerror(error));
                return;
            }
            done += static_cast<std::size_t>(w);
        }
        sent_ += n;
        written_ += chunk.size();
        if (!config_.udp) {
            window_.push_back(Sent{std::move(chunk), n, written_, {}});
            window_lines_ += n;
        }
    }
}

std::size_t CarbonSink::finish(std::chrono::milliseconds timeout)
{
    const auto until = Clock::now() + timeout;
    pump();
    while (!lines_.empty() && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        pump();
    }
    if (fd_ >= 0 && !config_.udp) {
        // Half-close and wait for carbon to close in turn: then it has read
        // everything. Without that answer, the recent lines count as unsent.
        ::shutdown(fd_, SHUT_WR);
        pollfd p{fd_, POLLIN, 0};
        char c;
        const bool confirmed = ::poll(&p, 1, 2000) > 0 && ::recv(fd_, &c, 1, MSG_DONTWAIT) == 0;
        if (!confirmed && window_lines_ > 0)
            warn(cat(config_.address.label(), ": no confirmation that carbon read the last ", window_lines_,
                     " lines; keeping them"));
        if (confirmed) {
            clear_window();
            for (const auto &[path, lines] : window_spools_) {
                spool_->remove(path);
                spooled_ -= lines;
            }
        } else
            unsend();
        disconnect();
    }
    const std::size_t left = lines_.size();
    const auto dropped_before = dropped_;
    if (left > 0 && config_.spool_dir.empty()) {
        dropped_ += left;
        lines_.clear();
    } else if (left > 0) {
        spill(left, false);
    }
    // Spool files read at start are now sent, or written again just above.
    if (spool_ && dropped_ == dropped_before)
        for (const auto &file : loaded_spools_)
            spool_->remove(file);
    return dropped_ - dropped_before;
}

}  // namespace dht::graphite
