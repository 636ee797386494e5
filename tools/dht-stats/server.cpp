#include "server.hpp"

#include "dht/cli.hpp"
#include "dht/diag.hpp"
#include "dht/dynlib.hpp"
#include "dht/time.hpp"

#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <unordered_map>

namespace dht::stats {

namespace {

using Steady = std::chrono::steady_clock;

// A spell of refused or closed connections is said when it starts, and its
// totals when this long has passed without another (or at exit).
constexpr std::chrono::seconds spell_quiet{60};

std::string numeric_host(const sockaddr *addr, socklen_t len)
{
    char host[NI_MAXHOST];
    if (getnameinfo(addr, len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0)
        return "?";
    return host;
}

}  // namespace

struct MetricsServer::Guard {
    // One open connection: where from, since when it has been owed its next
    // whole request, and whether it has sent any.
    struct Peer {
        std::string address;
        Steady::time_point owed_since;
        bool owed = true;
        bool cut = false;
        unsigned requests = 0;
    };
    struct Spell {
        Steady::time_point started, last;
        std::uint64_t refused = 0, timed_out = 0;
    };

    Guard(MetricsServer &s, ListenLimits l) : server(s), limits(l) {}  // clang 14 lacks (aggregate) init

    MetricsServer &server;
    ListenLimits limits;
    std::unordered_map<MHD_Connection *, Peer> open;
    std::unordered_map<std::string, unsigned> per_address;
    std::optional<Spell> spell;

    // The accept policy: over a limit, the connection is closed at once.
    bool admit(const sockaddr *addr, socklen_t len)
    {
        const std::string from = numeric_host(addr, len);
        const bool full = open.size() >= limits.connections;
        if (!full && count(from) < limits.per_address)
            return true;
        ++server.refused_;
        event(full ? cat("--listen: ", from, ": ", limits.connections, " connections open, the limit: refusing more")
                   : cat("--listen: ", from, ": ", limits.per_address,
                         " connections open from this address, the limit: refusing more"))
            .refused++;
        return false;
    }

    unsigned count(const std::string &from) const
    {
        const auto it = per_address.find(from);
        return it == per_address.end() ? 0 : it->second;
    }

    void opened(MHD_Connection *c)
    {
        const MHD_ConnectionInfo *info = microhttpd().get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const sockaddr *addr = info == nullptr ? nullptr : info->client_addr;
        const socklen_t len = addr == nullptr ? 0
                              : addr->sa_family == AF_INET6 ? socklen_t{sizeof(sockaddr_in6)}
                                                            : socklen_t{sizeof(sockaddr_in)};
        Peer p{addr == nullptr ? "?" : numeric_host(addr, len), Steady::now()};
        ++per_address[p.address];
        open.emplace(c, std::move(p));
    }

    void closed(MHD_Connection *c)
    {
        const auto it = open.find(c);
        if (it == open.end())
            return;
        const Peer &p = it->second;
        // Never a whole request, and held to the end of its time: a slow or
        // silent client, closed here or by the idle timeout.
        if (p.requests == 0 && (p.cut || Steady::now() - p.owed_since >= limits.request_time)) {
            ++server.timed_out_;
            event(cat("--listen: ", p.address, ": no whole request within ", format_duration(limits.request_time),
                      ": closing such connections"))
                .timed_out++;
        }
        if (auto n = per_address.find(p.address); n != per_address.end() && --n->second == 0)
            per_address.erase(n);
        open.erase(it);
    }

    void requested(MHD_Connection *c)
    {
        if (const auto it = open.find(c); it != open.end() && it->second.owed) {
            it->second.owed = false;
            ++it->second.requests;
        }
    }

    // Answered: the clock starts again for the next request on the connection.
    void answered(MHD_Connection *c)
    {
        if (const auto it = open.find(c); it != open.end()) {
            it->second.owed = true;
            it->second.owed_since = Steady::now();
        }
    }

    // A connection refused or closed: says FIRST if it starts a spell.
    Spell &event(const std::string &first)
    {
        const auto now = Steady::now();
        if (!spell) {
            warn(first);
            spell = Spell{now, now};
        }
        spell->last = now;
        return *spell;
    }

    // Shuts down the sockets of the connections past their time; libmicrohttpd
    // then sees the end of the stream and closes them as usual.
    void cut_overdue()
    {
        const auto now = Steady::now();
        for (auto &[c, p] : open) {
            if (!p.owed || p.cut || now - p.owed_since < limits.request_time)
                continue;
            if (const MHD_ConnectionInfo *info = microhttpd().get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD))
                ::shutdown(info->connect_fd, SHUT_RDWR);
            p.cut = true;
        }
    }

    void end_spell(bool at_exit)
    {
        if (!spell || (!at_exit && Steady::now() - spell->last < spell_quiet))
            return;
        const auto span = std::max(std::chrono::ceil<std::chrono::seconds>(spell->last - spell->started),
                                   std::chrono::seconds{1});
        warn(cat("--listen: ", spell->refused, " connections refused over the limits and ", spell->timed_out,
                 " closed without a whole request within ", format_duration(limits.request_time), ", in ",
                 format_duration(span)));
        spell.reset();
    }

    // How long serve() may sleep: until libmicrohttpd has work, the next
    // connection is due or the spell may end; an hour at most.
    int wait_ms(MHD_Daemon *daemon) const
    {
        const auto now = Steady::now();
        auto due = now + std::chrono::hours(1);
        for (const auto &[c, p] : open)
            if (p.owed && !p.cut)
                due = std::min(due, p.owed_since + limits.request_time);
        if (spell)
            due = std::min(due, spell->last + spell_quiet);
        long long ms = std::max<long long>(std::chrono::ceil<std::chrono::milliseconds>(due - now).count(), 0);
        if (MHD_UNSIGNED_LONG_LONG mhd = 0; microhttpd().get_timeout(daemon, &mhd) == MHD_YES)
            ms = std::min<long long>(ms, static_cast<long long>(std::min<MHD_UNSIGNED_LONG_LONG>(mhd, 3'600'000)));
        return static_cast<int>(ms);
    }
};

namespace {

MetricsServer::Guard &guard(void *cls) { return *static_cast<MetricsServer::Guard *>(cls); }

MHD_Result admit(void *cls, const sockaddr *addr, socklen_t len)
{
    return guard(cls).admit(addr, len) ? MHD_YES : MHD_NO;
}

void notify_connection(void *cls, MHD_Connection *c, void **, MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        guard(cls).opened(c);
    else
        guard(cls).closed(c);
}

void notify_completed(void *cls, MHD_Connection *c, void **, MHD_RequestTerminationCode)
{
    guard(cls).answered(c);
}

// The page's own files only: no inline script or style, no framing, and the
// broker over ws:// or wss:// wherever the operator says it is. MQTT.js keeps
// its keepalive timer in a worker of its own making (a blob: URL), which
// background tabs do not slow down.
constexpr const char *page_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; "
    "worker-src 'self' blob:; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

MHD_Result reply(MHD_Connection *connection, unsigned status, const std::string &body, const char *type,
                 bool page = false)
{
    MHD_Response *response =
        microhttpd().create_response_from_buffer(body.size(), const_cast<char *>(body.data()), MHD_RESPMEM_MUST_COPY);
    if (response == nullptr)
        return MHD_NO;
    microhttpd().add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    microhttpd().add_response_header(response, "X-Content-Type-Options", "nosniff");
    if (page) {
        microhttpd().add_response_header(response, "Content-Security-Policy", page_policy);
        microhttpd().add_response_header(response, "Referrer-Policy", "no-referrer");
        microhttpd().add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    }
    const MHD_Result r = microhttpd().queue_response(connection, status, response);
    microhttpd().destroy_response(response);
    return r;
}

// The Content-Type of a page file by its name's ending; nullptr: not served.
const char *page_type(std::string_view name)
{
    static constexpr std::pair<std::string_view, const char *> types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
        {".png", "image/png"},                 {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
    };
    for (const auto &[ending, type] : types)
        if (name.size() > ending.size() && name.ends_with(ending))
            return type;
    return nullptr;
}

// A file the page is made of: a plain name in the directory ("/" is
// index.html), no subdirectory, no dot file, a regular file of at most 16 MiB.
std::optional<std::string> page_file(const std::string &dir, std::string_view url)
{
    std::string_view name = url == "/" ? "index.html" : url.substr(1);
    if (name.empty() || name.front() == '.' || name.find_first_of("/\\") != std::string_view::npos)
        return std::nullopt;
    const std::string path = cat(dir, "/", name);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return std::nullopt;
    std::optional<std::string> body;
    if (struct stat st{}; ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= (16 << 20)) {
        std::string text(static_cast<std::size_t>(st.st_size), '\0');
        std::size_t got = 0;
        while (got < text.size()) {
            const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += static_cast<std::size_t>(n);
        }
        if (got == text.size())
            body = std::move(text);
    }
    ::close(fd);
    return body;
}

// The server's own counters, after the statistics.
void append_rejected(std::string &out, std::uint64_t refused, std::uint64_t timed_out)
{
    out += "# HELP dht_http_rejected_total Connections to --listen refused over a connection limit (reason "
           "\"limit\") or closed without a whole request in time (reason \"timeout\").\n"
           "# TYPE dht_http_rejected_total counter\n";
    out += cat("dht_http_rejected_total{reason=\"limit\"} ", refused, "\n");
    out += cat("dht_http_rejected_total{reason=\"timeout\"} ", timed_out, "\n");
}

MHD_Result handle(void *cls, MHD_Connection *connection, const char *url, const char *method, const char *,
                  const char *, std::size_t *, void **)
{
    auto &g = guard(cls);
    g.requested(connection);
    MetricsServer &server = g.server;
    if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0)
        return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /metrics\n", "text/plain; charset=utf-8");
    if (std::strcmp(url, "/metrics") == 0) {
        server.count_scrape();
        std::string text = server.text();
        append_rejected(text, server.refused(), server.timed_out());
        return reply(connection, MHD_HTTP_OK, text, "text/plain; version=0.0.4; charset=utf-8");
    }
    if (!server.www().empty()) {
        const std::string_view path = url;
        if (const char *type = page_type(path == "/" ? "index.html" : path))
            if (auto body = page_file(server.www(), path))
                return reply(connection, MHD_HTTP_OK, *body, type, true);
    } else if (std::strcmp(url, "/") == 0) {
        return reply(connection, MHD_HTTP_OK,
                     "<html><body><a href=\"/metrics\">dht-stats metrics</a></body></html>\n",
                     "text/html; charset=utf-8", true);
    }
    return reply(connection, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", "text/plain; charset=utf-8");
}

}  // namespace

MetricsServer::MetricsServer(const std::string &host, int port, std::string www, ListenLimits limits)
    : www_(std::move(www)), guard_(std::make_unique<Guard>(*this, limits))
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo *found = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found); rc != 0)
        usage_error(cat("--listen ", host, ":", port, ": ", gai_strerror(rc)));
    // epoll, run from serve(): no FD_SETSIZE ceiling, and a loop of our own
    // to close the connections past their time.
    unsigned flags = MHD_USE_EPOLL;
    if (found->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    Guard *g = guard_.get();
    daemon_ = microhttpd().start_daemon(
        flags, static_cast<std::uint16_t>(port), &admit, g, &handle, g, MHD_OPTION_SOCK_ADDR, found->ai_addr,
        MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(limits.request_time.count()),
        MHD_OPTION_NOTIFY_CONNECTION, &notify_connection, g, MHD_OPTION_NOTIFY_COMPLETED, &notify_completed, g,
        MHD_OPTION_END);
    int err = errno;
    freeaddrinfo(found);
    if (daemon_ == nullptr)
        fail(exit_unavailable, cat("cannot listen on ", host, ":", port, ": ", std::strerror(err)));
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
        err = errno;
        microhttpd().stop_daemon(daemon_);
        fail(exit_unavailable, cat("--listen: ", std::strerror(err)));
    }
    thread_ = std::thread([this] { serve(); });
}

MetricsServer::~MetricsServer()
{
    const char stop = 1;
    if (::write(wake_[1], &stop, 1) != 1)
        warn("--listen: cannot stop the server thread");
    thread_.join();
    microhttpd().stop_daemon(daemon_);
    guard_->end_spell(true);
    ::close(wake_[0]);
    ::close(wake_[1]);
}

void MetricsServer::serve()
{
    const MHD_DaemonInfo *info = microhttpd().get_daemon_info(daemon_, MHD_DAEMON_INFO_EPOLL_FD);
    pollfd fds[2] = {{info->epoll_fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    for (;;) {
        if (::poll(fds, 2, guard_->wait_ms(daemon_)) < 0)
            continue;  // EINTR; the others cannot happen with these arguments
        if (fds[1].revents != 0)
            return;
        microhttpd().run(daemon_);
        guard_->cut_overdue();
        guard_->end_spell(false);
    }
}

void MetricsServer::update(std::string text)
{
    std::lock_guard lk(mu_);
    text_ = std::move(text);
}

std::string MetricsServer::text() const
{
    std::lock_guard lk(mu_);
    return text_;
}

std::uint64_t MetricsServer::scrapes() const
{
    std::lock_guard lk(mu_);
    return scrapes_;
}

void MetricsServer::count_scrape()
{
    std::lock_guard lk(mu_);
    ++scrapes_;
}

std::string page_directory(const std::string &given)
{
    const auto has_page = [](const std::string &dir) { return ::access(cat(dir, "/index.html").c_str(), R_OK) == 0; };
    if (!given.empty()) {
        if (!has_page(given))
            fail(exit_noinput, cat("--www ", given, ": no readable index.html there"));
        return given;
    }
    char exe[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return {};
    std::string dir(exe, static_cast<std::size_t>(n));
    dir = dir.substr(0, dir.rfind('/'));  // BINDIR
    dir = cat(dir.substr(0, dir.rfind('/')), "/share/dht-tools/www");
    return has_page(dir) ? dir : std::string{};
}

}  // namespace dht::stats
