#include "server.hpp"

#include "dht/cli.hpp"
#include "dht/diag.hpp"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

namespace dht::stats {

namespace {

MHD_Result reply(MHD_Connection *connection, unsigned status, const std::string &body, const char *type)
{
    MHD_Response *response =
        MHD_create_response_from_buffer(body.size(), const_cast<char *>(body.data()), MHD_RESPMEM_MUST_COPY);
    if (response == nullptr)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    const MHD_Result r = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return r;
}

MHD_Result handle(void *cls, MHD_Connection *connection, const char *url, const char *method, const char *,
                  const char *, std::size_t *, void **)
{
    auto *server = static_cast<MetricsServer *>(cls);
    if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0)
        return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "GET /metrics\n", "text/plain; charset=utf-8");
    if (std::strcmp(url, "/metrics") == 0) {
        server->count_scrape();
        return reply(connection, MHD_HTTP_OK, server->text(), "text/plain; version=0.0.4; charset=utf-8");
    }
    if (std::strcmp(url, "/") == 0)
        return reply(connection, MHD_HTTP_OK,
                     "<html><body><a href=\"/metrics\">dht-stats metrics</a></body></html>\n",
                     "text/html; charset=utf-8");
    return reply(connection, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n", "text/plain; charset=utf-8");
}

}  // namespace

MetricsServer::MetricsServer(const std::string &host, int port)
{
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo *found = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found); rc != 0)
        usage_error(cat("--listen ", host, ":", port, ": ", gai_strerror(rc)));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    if (found->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    daemon_ = MHD_start_daemon(flags, static_cast<std::uint16_t>(port), nullptr, nullptr, &handle, this,
                               MHD_OPTION_SOCK_ADDR, found->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, 10U,
                               MHD_OPTION_END);
    const int err = errno;
    freeaddrinfo(found);
    if (daemon_ == nullptr)
        fail(exit_unavailable, cat("cannot listen on ", host, ":", port, ": ", std::strerror(err)));
}

MetricsServer::~MetricsServer()
{
    if (daemon_ != nullptr)
        MHD_stop_daemon(daemon_);
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

}  // namespace dht::stats
