// Where Graphite lines go when there is a carbon server: TCP with reconnect and
// backoff (or UDP), a bounded buffer, the last lines sent replayed after a
// broken connection (carbon keeps one value per path and time, so a repeat is
// harmless and a line lost in a dying socket is not), and a spool directory for
// what cannot be sent before exit or does not fit in memory.
#pragma once

#include "dht/cli.hpp"
#include "dht/net.hpp"
#include "dht/spool.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace dht::graphite {

struct SinkConfig {
    Endpoint address;
    bool udp = false;
    std::size_t max_lines = 100000;
    std::string spool_dir;
    std::chrono::nanoseconds reconnect_max = std::chrono::seconds(30);
};

class CarbonSink {
public:
    explicit CarbonSink(SinkConfig config);
    ~CarbonSink();
    CarbonSink(const CarbonSink &) = delete;
    CarbonSink &operator=(const CarbonSink &) = delete;

    // `text` holds whole lines, each ending in '\n'.
    void add(std::string_view text);
    // Connects when due and sends what is buffered; returns quickly when carbon is away.
    void pump();
    // Pumps until the buffer is empty or `timeout` passes, then spools what is
    // left. Returns the number of lines neither sent nor spooled (also counted
    // in dropped()).
    std::size_t finish(std::chrono::milliseconds timeout);

    std::size_t buffered() const noexcept { return lines_.size(); }
    std::string label() const { return config_.address.label(); }
    std::uint64_t sent() const noexcept { return sent_; }
    std::uint64_t spooled() const noexcept { return spooled_; }
    std::uint64_t dropped() const noexcept { return dropped_; }
    std::uint64_t resent() const noexcept { return resent_; }

private:
    bool connect();
    void lost(const std::string &why);
    bool peer_closed();
    void spill(std::size_t count, bool overflow);

    SinkConfig config_;
    int fd_ = -1;
    Backoff backoff_;
    std::chrono::steady_clock::time_point next_try_{};
    std::deque<std::string> lines_;   // waiting to be sent
    std::deque<std::string> recent_;  // sent lately: replayed after a broken connection
    std::optional<Spool> spool_;
    std::vector<std::string> loaded_spools_;  // sent, or spooled again, by finish()
    bool warned_full_ = false;
    std::uint64_t sent_ = 0, spooled_ = 0, dropped_ = 0, resent_ = 0;
};

}  // namespace dht::graphite
