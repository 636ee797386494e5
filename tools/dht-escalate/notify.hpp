// Notification commands: started with posix_spawnp() from an argv (never a
// shell), the incident record written on their stdin, their stdout sent to our
// stderr (stdout carries records only), DHT_* variables describing the event,
// each in its own process group and killed past a timeout.
#pragma once

#include "policy.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

namespace dht::escalate {

// Why `argv` would not start as posix_spawnp() runs it ("" when it would): a
// name with a slash must be an executable file; a bare name is looked up in
// PATH (the system's default path when PATH is unset).
std::string unrunnable(const Command &argv);
// Each command of `policy` that would not start, said with the FILE:LINE
// that gave it; returns how many.
std::size_t report_unrunnable(const EscalationPolicy &policy);

class Notifier {
public:
    // Ignores SIGPIPE (as every tool does): a command that exits without
    // reading its stdin must not end us.
    explicit Notifier(std::chrono::nanoseconds timeout);
    ~Notifier();
    Notifier(const Notifier &) = delete;
    Notifier &operator=(const Notifier &) = delete;

    void set_timeout(std::chrono::nanoseconds timeout) { timeout_ = timeout; }

    // Starts `argv` for notification `id` with `record` on its stdin. False,
    // with `error` set, when it cannot be started.
    bool start(std::int64_t id, const Command &argv, const std::string &record, std::string &error);

    struct Finished {
        std::int64_t id = 0;
        bool ok = false;
        std::string error;  // "exit status 3", "killed by signal 9", "timed out after 30s"
    };
    // Children that ended (or were killed for taking too long), without waiting.
    std::vector<Finished> poll();
    // Waits up to `limit` for every child, then kills those left; returns them all.
    std::vector<Finished> wait_all(std::chrono::nanoseconds limit);
    std::size_t running() const noexcept { return children_.size(); }

    // The environment a command gets: ours without secrets (DHT_MQTT_PASSWORD)
    // and without earlier DHT_ event variables, plus the event's.
    static std::vector<std::string> environment(const std::string &record);

private:
    struct Child {
        std::int64_t id;
        pid_t pid;
        int input;          // write end of the stdin pipe, -1 once closed
        std::string pending;  // what is still to be written
        std::string name;
        std::chrono::steady_clock::time_point started;
        bool killed = false;
        std::chrono::steady_clock::time_point killed_at{};
    };
    void feed(Child &c);

    std::chrono::nanoseconds timeout_;
    std::vector<Child> children_;
};

}  // namespace dht::escalate
