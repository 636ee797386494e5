// The escalation policy: how long an incident waits at each level, who is
// told (a command per level or per event, run without a shell), reminders at
// the top level, the acknowledgement timeout and quiet hours. Read from a
// policy file (dht-escalate(5)); flags given on the command line win.
#pragma once

#include "dht/cli.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dht::escalate {

// A command as argv: split by the tool (quotes and backslashes as in sh, no
// expansion of any kind), run with execvp().
using Command = std::vector<std::string>;

// Words of `text` as a POSIX shell splits them (single and double quotes,
// backslash escapes), without expansions; nullopt with `error` set on an
// unterminated quote.
std::optional<Command> split_command(std::string_view text, std::string &error);
// The argv again as a string a shell would split the same way (for messages).
std::string join_command(const Command &argv);

// A daily window of local time [begin, end) in minutes since midnight; it
// wraps past midnight when end <= begin (22:00-07:00).
struct QuietHours {
    int begin = 0;
    int end = 0;
    bool all = false;  // hold every notification, critical ones too
    // Whether `minute` (since local midnight) falls in the window.
    bool contains(int minute) const noexcept;
    // Minutes from `minute` to the end of the window (0 when outside it).
    int minutes_left(int minute) const noexcept;
};

// notify-failed: a notification given up on. It runs no command (a policy's
// `on EVENT` cannot name it): a failing one would feed itself.
enum class Event : std::uint8_t { opened, escalation, acknowledged, resolved, reminder, notify_failed, silenced, unsilenced };
std::string_view event_name(Event e) noexcept;
// The events a policy's `on EVENT` may name.
std::optional<Event> parse_event(std::string_view name) noexcept;

struct Level {
    std::optional<Duration> after;  // the wait at the level below before climbing here
    std::vector<Command> notify;    // run for opened/escalation/reminder at this level
};

// Where a policy's command was given: FILE:LINE, or "--notify" (line 0).
struct CommandOrigin {
    std::string file;
    std::size_t line = 0;
    Command argv;
};

struct EscalationPolicy {
    Duration escalate_after = std::chrono::minutes(15);
    int max_level = 3;
    std::optional<Duration> repeat;       // reminders at the top level
    std::optional<Duration> ack_timeout;  // an acknowledged incident climbs again
    Duration notify_timeout = std::chrono::seconds(30);
    int notify_retries = 3;
    Duration notify_retry_delay = std::chrono::seconds(10);
    std::vector<QuietHours> quiet;
    std::vector<Level> levels;  // index 0 is level 1; may be shorter than max_level
    std::vector<Command> every_level;  // --notify: each level's opened/escalation/reminder
    std::vector<std::pair<Event, Command>> on_event;  // `on EVENT notify …`
    std::vector<CommandOrigin> origins;  // every command, for --check; not kept in the database

    // How long an incident waits at `level` before it climbs to level + 1.
    Duration wait_at(int level) const;
    // The commands an event at `level` runs.
    std::vector<Command> commands(Event event, int level) const;
    // Whether a notification of `severity` is held at local minute `minute`,
    // and for how many minutes.
    int held_minutes(std::string_view severity, int minute) const noexcept;
};

// The policy as JSON, kept in the database for processes run without one.
std::string policy_to_json(const EscalationPolicy &policy);
std::optional<EscalationPolicy> policy_from_json(std::string_view text);

// The longest duration a policy takes, that of every duration flag (ten
// years): time arithmetic never overflows.
constexpr Duration kMaxDuration = DurationRange{}.max;

struct PolicyError {
    std::string file;
    std::size_t line = 0;
    std::string message;
};

// Reads a policy file's text over `policy` (whose values are the defaults).
// Every error is appended to `errors`.
void parse_policy(std::string_view text, const std::string &file, EscalationPolicy &policy,
                  std::vector<PolicyError> &errors);

// What the command line sets over the policy file; what is not given leaves
// the file's (or the default).
struct PolicyFlags {
    std::optional<Duration> escalate_after, repeat, ack_timeout, notify_timeout, notify_retry_delay;
    int max_level = 0;        // 0: not given
    int notify_retries = -1;  // -1: not given
    std::vector<Command> notify;  // --notify: each level's opened/escalation/reminder
    bool given() const noexcept;
};

// The policy FILE ("": none, the defaults) under `flags`; nullopt when the
// file is wrong, each error printed with FILE:LINE. An unreadable file
// throws Exit(66).
std::optional<EscalationPolicy> load_policy(const std::string &file, const PolicyFlags &flags);

}  // namespace dht::escalate
