// Small network pieces shared by the tools: a host and port, a TCP connect
// with a deadline and the reconnect schedule (exponential backoff with jitter).
#pragma once

#include <chrono>
#include <random>
#include <string>
#include <string_view>

namespace dht {

// A host and a port: a broker, carbon, an address to listen on.
struct Endpoint {
    std::string host;  // empty: every address (only where listening)
    int port = 0;
    std::string label() const;  // host:port, [v6]:port, *:port
};

// HOST, HOST:PORT, [V6]:PORT or a bare V6 address; with `any_host`, :PORT too
// (every address). A port missing from the text is `default_port`; 0 there
// means one is required. A bad one is a usage error naming `flag` (Exit 64).
Endpoint parse_endpoint(std::string_view flag, const std::string &text, int default_port, bool any_host = false);

// A connected TCP socket (blocking, close-on-exec) to the first address of
// `to` that answers within `timeout`, or -1 with `error` set.
int tcp_connect(const Endpoint &to, std::chrono::milliseconds timeout, std::string &error);

// The numeric address (no port) a connected socket reached, or "" on error.
std::string peer_address(int fd);

// Delays of 1 s, 2 s, 4 s … up to `max`, each one drawn between half and all of
// its value, so that a fleet of clients restarted together does not retry in
// lockstep.
class Backoff {
public:
    explicit Backoff(std::chrono::nanoseconds max);
    std::chrono::nanoseconds next();
    void reset() noexcept { attempt_ = 0; }

private:
    std::chrono::nanoseconds max_;
    unsigned attempt_ = 0;
    std::mt19937_64 rng_;
};

// "1.5s"
std::string seconds_text(std::chrono::nanoseconds d);

}  // namespace dht
