// Where line protocol goes when there is a server: batches POSTed by libcurl
// from a sender thread (intake waits only while a full buffer is being sent
// to a server that answers), gzip on request,
// retries with exponential backoff on network errors, 429 and 5xx (Retry-After
// honoured), a bounded memory buffer and a spool directory on disk, so an
// outage of the database loses nothing and a restart resends what was
// spooled. A 400 is reported with InfluxDB's reason (it names the line) and
// the batch moves on.
#pragma once

#include "dht/net.hpp"
#include "dht/spool.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace dht::influx {

struct SinkConfig {
    std::string url;  // the server: http(s)://host:port
    bool v2 = false;
    std::string database, retention_policy, username, password;  // 1.x
    std::string org, bucket, token;                                // 2.x
    std::string precision = "ns";  // ns us ms s
    bool gzip = false;
    std::size_t batch_lines = 5000;
    std::chrono::milliseconds flush_interval{1000};
    std::size_t max_lines = 100000;  // held in memory; the rest goes to the spool
    std::string spool_dir;
    std::chrono::nanoseconds retry_max{std::chrono::seconds(30)};
    std::chrono::milliseconds timeout{10000};
    std::string cafile;
    bool insecure = false;
};

class InfluxSink {
public:
    explicit InfluxSink(SinkConfig config);
    ~InfluxSink();
    InfluxSink(const InfluxSink &) = delete;
    InfluxSink &operator=(const InfluxSink &) = delete;

    // `text` holds `lines` whole lines, each ending in '\n'.
    void add(std::string_view text, std::size_t lines);
    // Hands a batch to the sender once --flush-interval has passed.
    void tick();
    // Sends what is left for up to `timeout`, then spools the rest. Returns
    // the lines neither written nor spooled.
    std::uint64_t finish(std::chrono::milliseconds timeout);

    // 78 once the server refused us for good (401, 403, 404): the rest waits in the spool.
    std::optional<int> failure() const;
    std::string label() const;
    std::uint64_t written() const;
    std::uint64_t retries() const;
    std::uint64_t rejected() const;
    std::uint64_t spooled() const;
    std::uint64_t dropped() const;

private:
    struct Batch {
        std::string text;   // empty while it waits on disk
        std::size_t lines = 0;
        std::string file;   // its spool file, if it has one
    };
    enum class Outcome { written, rejected, retry, fatal, unreadable };

    void sender();
    // Sends the front batch once; false when the sender should stop.
    bool send_one(void *handle, Backoff &backoff, std::unique_lock<std::mutex> &lk);
    Outcome post(void *handle, const std::string &body, std::string &error, std::chrono::milliseconds &retry_after);
    void close_batch();                      // with mu_ held
    void enforce_memory();                   // with mu_ held
    bool spill(Batch &b);                    // with mu_ held: to disk

    SinkConfig config_;
    std::string write_url_;
    std::optional<Spool> spool_;  // with --spool
    mutable std::mutex mu_;
    std::condition_variable wake_;
    std::condition_variable room_;  // intake: the buffer has room again
    bool healthy_ = true;           // the last request was answered (no retry pending)
    std::deque<Batch> queue_;
    Batch current_;
    std::chrono::steady_clock::time_point current_started_{};
    std::size_t in_memory_ = 0;  // lines in batches held in memory
    bool in_flight_ = false;     // the sender holds queue_.front()
    bool stopping_ = false;
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
    std::optional<int> failure_;
    bool warned_full_ = false;
    std::uint64_t written_ = 0, retries_ = 0, rejected_ = 0, spooled_ = 0, dropped_ = 0;
    std::thread thread_;
};

}  // namespace dht::influx
