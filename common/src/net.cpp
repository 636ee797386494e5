#include "dht/net.hpp"

#include "dht/cli.hpp"
#include "dht/diag.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>

namespace dht {

std::string Endpoint::label() const
{
    if (host.empty())
        return cat("*:", port);
    if (port == 0)
        return host;  // a unix socket's path
    if (host.find(':') != std::string::npos)
        return cat('[', host, "]:", port);
    return cat(host, ':', port);
}

Endpoint parse_endpoint(std::string_view flag, const std::string &text, int default_port, bool any_host)
{
    const auto bad = [&](std::string_view why) {
        usage_error(cat(flag, ": '", text, "' ", why, any_host ? " (give ADDR:PORT or :PORT)" : ""));
    };
    Endpoint e;
    std::string port;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos)
            bad("lacks its ']'");
        e.host = text.substr(1, close - 1);
        if (close + 1 < text.size()) {
            if (text[close + 1] != ':')
                bad("is not [ADDRESS]:PORT");
            port = text.substr(close + 2);
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        const auto colon = text.find(':');
        e.host = text.substr(0, colon);
        port = text.substr(colon + 1);
    } else {
        e.host = text;  // a name, an IPv4 address or a bare IPv6 address
    }
    if (e.host.empty() && !(any_host && !port.empty()))
        bad("has no host name");
    e.port = default_port;
    if (!port.empty()) {
        char *end = nullptr;
        errno = 0;
        const long p = std::strtol(port.c_str(), &end, 10);
        if (errno != 0 || *end != '\0' || p < 1 || p > 65535)
            bad("has a bad port (1-65535)");
        e.port = static_cast<int>(p);
    }
    if (e.port <= 0)
        bad("has no port");
    return e;
}

std::string seconds_text(std::chrono::nanoseconds d)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
    return buf;
}

int tcp_connect(const Endpoint &to, std::chrono::milliseconds timeout, std::string &error)
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo *list = nullptr;
    const std::string port = std::to_string(to.port);
    if (const int rc = ::getaddrinfo(to.host.c_str(), port.c_str(), &hints, &list); rc != 0) {
        error = ::gai_strerror(rc);
        return -1;
    }
    error = "no address";
    int connected = -1;
    for (addrinfo *ai = list; ai != nullptr && connected < 0; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            error = std::strerror(errno);
            continue;
        }
        bool ok = false;
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            ok = true;
        } else if (errno == EINPROGRESS) {
            pollfd p{fd, POLLOUT, 0};
            const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
            if (r == 0) {
                error = cat("no answer within ", seconds_text(timeout));
            } else if (r > 0) {
                int so_error = 0;
                socklen_t len = sizeof so_error;
                ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
                ok = so_error == 0;
                if (!ok)
                    error = std::strerror(so_error);
            } else {
                error = std::strerror(errno);
            }
        } else {
            error = std::strerror(errno);
        }
        if (ok) {
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
            connected = fd;
        } else {
            ::close(fd);
        }
    }
    ::freeaddrinfo(list);
    return connected;
}

std::string peer_address(int fd)
{
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    char host[NI_MAXHOST];
    if (::getpeername(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0 ||
        ::getnameinfo(reinterpret_cast<sockaddr *>(&addr), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0)
        return {};
    return host;
}

Backoff::Backoff(std::chrono::nanoseconds max) : max_(max), rng_(std::random_device{}()) {}

std::chrono::nanoseconds Backoff::next()
{
    std::chrono::nanoseconds d = std::chrono::seconds(1);
    for (unsigned i = 0; i < attempt_ && d < max_; ++i)
        d *= 2;
    d = std::min(d, max_);
    ++attempt_;
    std::uniform_int_distribution<long long> dist(d.count() / 2, d.count());
    return std::chrono::nanoseconds(dist(rng_));
}

}  // namespace dht
