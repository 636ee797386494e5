// dht-record's intake: records from stdin or MQTT into the store, committed by
// size and by time, echoed with --tee.
#pragma once

#include "store.hpp"

#include "dht/cli.hpp"
#include "dht/diag.hpp"
#include "dht/output.hpp"
#include "dht/signals.hpp"
#include "dht/source.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

namespace dht::record {

struct RecordOptions {
    MqttOptions mqtt;
    CommonOptions common;
    std::string db = "dht.db";
    bool tee = false;
    std::size_t batch = 10000;
    Duration commit_interval = std::chrono::seconds(1);
    std::string default_topic;
};

using steady = std::chrono::steady_clock;

// Reads stdin or MQTT into the store, committing by size and by time.
class Recorder {
public:
    Recorder(const RecordOptions &o, Store &store, Output &out)
        : o_(o), store_(store), out_(out), source_(o.mqtt, o.common, o.default_topic),
          interval_(std::chrono::duration_cast<steady::duration>(o.commit_interval)), last_commit_(steady::now())
    {
    }

    // Until the end of input or a stop; a session that failed ends in Exit.
    void run()
    {
        MessageSource::Hooks h;
        h.message = [this](const Message &m) { take(m); };
        h.message_text = [this](const MessageText &m) { take(m); };
        h.record = [this](const json::object &record, std::string_view line) {
            take_other(record, line);
            maybe_commit();
        };
        h.idle = [this] {
            out_.flush();  // about to wait for input: what is stored is visible now
            maybe_commit();
        };
        h.wait_ms = [this] {
            if (store_.pending() == 0)
                return -1;
            const auto left = last_commit_ + interval_ - steady::now();
            return static_cast<int>(
                std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count()));
        };
        if (const int status = source_.run(h); status != exit_ok)
            throw Exit(status);
    }

    void finish()
    {
        for (int tries = 0; !store_.commit(); ++tries) {
            if (tries >= 12)
                fail(store_.full() ? exit_ioerr : exit_unavailable,
                     cat(o_.db, ": ", store_.full() ? "still full" : "still locked", "; ", store_.pending(),
                         " records not stored"));
            if (store_.full())
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
        out_.flush();
    }

    std::uint64_t stored() const noexcept { return stored_; }

private:
    // An alert, incident, stats… record: stored whole, with its kind and time.
    void take_other(const json::object &record, std::string_view line)
    {
        const auto *k = record.at("kind").if_string();
        if (k == nullptr || k->empty())
            return source_.report("\"kind\" is not a non-empty string");
        std::optional<TimePoint> t = now();
        if (const auto *ts = record.if_contains("timestamp")) {
            t = ts->is_string() ? parse_rfc3339(ts->get_string()) : std::nullopt;
            if (!t)
                return source_.report("\"timestamp\" is not an RFC 3339 time");
        }
        store_.add(OtherRow{std::string(*k), format_rfc3339(*t), std::string(line)});
        tee(line);
        ++stored_;
    }

    template <class M>
    void take(const M &m)
    {
        store_.add(m);
        tee(m);  // as stored: a bare payload gains its envelope
        ++stored_;
        maybe_commit();
    }

    template <class M>
    void tee(const M &m)
    {
        if (!o_.tee)
            return;
        append_message_record(out_.buffer(), m);
        out_.buffer().push_back('\n');
        out_.maybe_flush();
    }

    void tee(std::string_view line)
    {
        if (!o_.tee)
            return;
        out_.buffer().append(line);
        out_.buffer().push_back('\n');
        out_.maybe_flush();
    }

    void maybe_commit()
    {
        if (store_.pending() == 0)
            return;
        auto t = steady::now();
        if ((store_.pending() >= o_.batch || t - last_commit_ >= interval_) && t >= retry_at_)
            attempt(t);
        // Ten batches held back (a full disk, a long lock): stop reading until
        // they are written; a pipe or the broker holds the rest meanwhile.
        while (store_.pending() >= 10 * o_.batch && !stop_requested()) {
            std::this_thread::sleep_until(retry_at_);
            attempt(t = steady::now());
        }
    }

    void attempt(steady::time_point t)
    {
        last_commit_ = t;
        if (store_.commit()) {
            retry_delay_ = std::chrono::milliseconds(250);
            retry_at_ = t;
            return;
        }
        // Locked or full: the batch waits, tried again after a growing pause.
        retry_at_ = t + retry_delay_;
        retry_delay_ = std::min<steady::duration>(retry_delay_ * 2, std::chrono::seconds(5));
    }

    const RecordOptions &o_;
    Store &store_;
    Output &out_;
    MessageSource source_;
    steady::duration interval_;
    steady::time_point last_commit_;
    steady::time_point retry_at_{};
    steady::duration retry_delay_ = std::chrono::milliseconds(250);
    std::uint64_t stored_ = 0;
};

}  // namespace dht::record
