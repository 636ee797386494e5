// --listen: GET /metrics answered by libmicrohttpd on a thread of its own, with
// the exposition text the main loop last published, and the operator's page
// (--www: a directory's files, read-only, at / and /NAME). Slow or greedy clients
// cannot starve the scrapes: connections over a limit (in all, per client
// address) are refused at once, and one that has not sent a whole request
// within a deadline is closed, however slowly it trickles.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

struct MHD_Daemon;

namespace dht::stats {

struct ListenLimits {
    unsigned connections = 64;  // open at once, in all
    unsigned per_address = 8;   // open at once from one client address
    // From accepting a connection (or answering its previous request) to
    // having its whole next request: bytes trickled in do not extend it.
    std::chrono::seconds request_time{10};
};

class MetricsServer {
public:
    // Listens on HOST:PORT (a name, an IPv4 or a bracketed IPv6 address),
    // serving the files of WWW too unless it is empty. Throws Exit(69) when it
    // cannot listen.
    MetricsServer(const std::string &host, int port, std::string www = {}, ListenLimits limits = {});
    ~MetricsServer();
    MetricsServer(const MetricsServer &) = delete;
    MetricsServer &operator=(const MetricsServer &) = delete;

    void update(std::string text);
    std::string text() const;
    std::uint64_t scrapes() const;
    void count_scrape();
    const std::string &www() const { return www_; }

    // Connections refused over a limit, and closed without a whole request
    // within ListenLimits::request_time (both also in the served metrics).
    std::uint64_t refused() const { return refused_; }
    std::uint64_t timed_out() const { return timed_out_; }

    // The book-keeping of open connections, on the server's thread only.
    struct Guard;

private:
    void serve();

    std::string www_;
    MHD_Daemon *daemon_ = nullptr;
    std::unique_ptr<Guard> guard_;
    int wake_[2] = {-1, -1};  // a pipe: a byte in it stops serve()
    std::thread thread_;
    mutable std::mutex mu_;
    std::string text_;
    std::uint64_t scrapes_ = 0;
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<std::uint64_t> timed_out_{0};
};

// The directory --www names, checked (it must hold index.html: Exit(66)
// otherwise); without --www, the page installed beside the program
// (BINDIR/../share/dht-tools/www) when there is one, else "" (no page).
std::string page_directory(const std::string &given);

}  // namespace dht::stats
