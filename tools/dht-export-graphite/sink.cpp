#include "sink.hpp"

#include "dht/diag.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace dht::graphite {
namespace {
constexpr std::size_t kReplayLines = 20000;
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
    if (std::chrono::steady_clock::now() < next_try_)
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
        next_try_ = std::chrono::steady_clock::now() + delay;
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

void CarbonSink::lost(const std::string &why)
{
    warn(cat(config_.address.label(), ": ", why, "; reconnecting, ", recent_.size(), " recent lines to resend"));
    ::close(fd_);
    fd_ = -1;
    resent_ += recent_.size();
    lines_.insert(lines_.begin(), std::make_move_iterator(recent_.begin()), std::make_move_iterator(recent_.end()));
    recent_.clear();
    next_try_ = std::chrono::steady_clock::now();
}

void CarbonSink::pump()
{
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
        std::size_t done = 0;
        while (done < chunk.size()) {
            const ssize_t w = ::send(fd_, chunk.data() + done, chunk.size() - done, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (config_.udp) {
                    done = chunk.size();  // a datagram lost is lost; carry on
                    break;
                }
                recent_.insert(recent_.end(), lines_.begin(), lines_.begin() + static_cast<std::ptrdiff_t>(n));
                lines_.erase(lines_.begin(), lines_.begin() + static_cast<std::ptrdiff_t>(n));
                lost(std::strerror(errno));
                return;
            }
            done += static_cast<std::size_t>(w);
        }
        sent_ += n;
        for (std::size_t i = 0; i < n; ++i) {
            recent_.push_back(std::move(lines_.front()));
            lines_.pop_front();
        }
        while (recent_.size() > kReplayLines)
            recent_.pop_front();
    }
}

std::size_t CarbonSink::finish(std::chrono::milliseconds timeout)
{
    const auto until = std::chrono::steady_clock::now() + timeout;
    pump();
    while (!lines_.empty() && std::chrono::steady_clock::now() < until) {
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
        if (!confirmed && !recent_.empty()) {
            warn(cat(config_.address.label(), ": no confirmation that carbon read the last ", recent_.size(),
                     " lines; keeping them"));
            lines_.insert(lines_.begin(), std::make_move_iterator(recent_.begin()),
                          std::make_move_iterator(recent_.end()));
        }
        recent_.clear();
        ::close(fd_);
        fd_ = -1;
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
