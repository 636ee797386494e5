// --listen: GET /metrics answered by libmicrohttpd on its own thread, with the
// exposition text the main loop last published.
#pragma once

#include <mutex>
#include <string>

struct MHD_Daemon;

namespace dht::stats {

class MetricsServer {
public:
    // Listens on HOST:PORT (a name, an IPv4 or a bracketed IPv6 address).
    // Throws Exit(69) when it cannot.
    MetricsServer(const std::string &host, int port);
    ~MetricsServer();
    MetricsServer(const MetricsServer &) = delete;
    MetricsServer &operator=(const MetricsServer &) = delete;

    void update(std::string text);
    std::string text() const;
    std::uint64_t scrapes() const;
    void count_scrape();

private:
    MHD_Daemon *daemon_ = nullptr;
    mutable std::mutex mu_;
    std::string text_;
    std::uint64_t scrapes_ = 0;
};

}  // namespace dht::stats
