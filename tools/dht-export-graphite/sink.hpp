// Where Graphite lines go when there is a carbon server: TCP with reconnect and
// backoff (or UDP), a bounded buffer, a replay window and a spool directory for
// what cannot be sent before exit or does not fit in memory.
//
// carbon never answers, and a kernel's acknowledgement is no proof: what sits
// in a hung carbon's receive buffer, or in its cache not yet written to
// whisper, dies with it. So every line sent stays in the replay window until
// carbon's host has acknowledged it and `replay_window` has passed since, and
// the whole window is sent again after a broken connection (carbon keeps one
// value per path and time: a repeat is harmless, a line lost is not).
#pragma once

#include "dht/cli.hpp"
#include "dht/net.hpp"
#include "dht/spool.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dht::graphite {

struct SinkConfig {
    Endpoint address;
    bool udp = false;
    std::size_t max_lines = 100000;
    std::string spool_dir;
    std::chrono::nanoseconds reconnect_max = std::chrono::seconds(30);
    std::chrono::nanoseconds replay_window = std::chrono::seconds(60);
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
    // Lines sent and kept in the replay window.
    std::size_t replayable() const noexcept { return window_lines_; }
    std::string label() const { return config_.address.label(); }
    std::uint64_t sent() const noexcept { return sent_; }
    std::uint64_t spooled() const noexcept { return spooled_; }
    std::uint64_t dropped() const noexcept { return dropped_; }
    std::uint64_t resent() const noexcept { return resent_; }

private:
    using Clock = std::chrono::steady_clock;
    // Text written to carbon and kept for replay.
    struct Sent {
        std::string text;           // whole lines
        std::size_t lines;
        std::uint64_t end;          // bytes written on this connection up to its end
        Clock::time_point acked{};  // when carbon's host had acknowledged it all (zero: not yet)
    };

    bool connect();
    void settle();
    void trim_window();
    void unsend();
    void clear_window();
    void disconnect();
    void lost(const std::string &why);
    bool peer_closed();
    void spill(std::size_t count, bool overflow);

    SinkConfig config_;
    int fd_ = -1;
    Backoff backoff_;
    Clock::time_point next_try_{};
    std::deque<std::string> lines_;  // waiting to be sent
    std::deque<Sent> window_;        // sent: replayed after a broken connection
    std::size_t window_lines_ = 0;
    std::size_t acked_chunks_ = 0;   // at the front of window_, stamped `acked`
    std::uint64_t written_ = 0;      // bytes written on this connection
    std::optional<Spool> spool_;
    std::vector<std::string> loaded_spools_;  // sent, or spooled again, by finish()
    // Spooled from the window of this connection, with their lines: carbon's
    // confirmation at the end makes them needless.
    std::vector<std::pair<std::string, std::size_t>> window_spools_;
    bool warned_full_ = false, warned_window_ = false;
    std::uint64_t sent_ = 0, spooled_ = 0, dropped_ = 0, resent_ = 0;
};

}  // namespace dht::graphite
