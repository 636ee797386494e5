// Silences, as amtool's: for a while, alerts of the sensors and rules a
// silence names open and climb no incident and page no one. They are kept in
// the incident database, so expiry is by time and survives restarts; they
// are added and expired by the `silence` subcommands or by operators over
// MQTT (dht-escalate(1), SILENCES).
#pragma once

#include "dht/cli.hpp"
#include "dht/json.hpp"
#include "dht/sqlite.hpp"
#include "dht/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dht::escalate {

// At most this many silences in force at once: each alert is checked against them.
inline constexpr std::size_t kMaxActiveSilences = 1000;
// The longest a silence may last.
inline constexpr DurationRange kSilenceRange{std::chrono::seconds(1), std::chrono::hours(24 * 366)};

struct Silence {
    std::int64_t id = 0;
    std::string sensor = "*", rule = "*";  // shell patterns (fnmatch): '*' any
    std::string starts_at, ends_at, by, comment, expired_at, expired_by;
};

// What an operator asks for: `silence add` or {"action":"silence",…}.
struct SilenceRequest {
    std::string sensor = "*", rule = "*";
    Duration length{};
    std::string by, comment;
};

// `silence expire ID` or {"action":"expire","silence_id":ID}.
struct ExpireRequest {
    std::int64_t id = 0;
    std::string by;
};

// A pattern an operator may give: not empty, at most 256 bytes, no control
// characters; "" when it is fine, else why not.
std::string check_pattern(std::string_view what, std::string_view pattern);
bool silence_matches(const Silence &s, std::string_view rule, std::string_view sensor);

// {"action":"silence","sensor":"dht11/cellar","rule":"cellar-hot","for":"2h","by":"ana","comment":"…"};
// nullopt with `error` set when a key is missing or wrong.
std::optional<SilenceRequest> silence_request_from_record(const json::object &record, std::string &error);
// {"action":"expire","silence_id":3,"by":"ana"}
std::optional<ExpireRequest> expire_request_from_record(const json::object &record, std::string &error);

// {"kind":"silence","silence_id":…,"sensor":…,"rule":…,"starts_at":…,"ends_at":…,"by":…,…}
std::string silence_record(const Silence &s);
// The silences as an 80-column table: ID, SENSOR, RULE, ENDS, BY, COMMENT.
std::string render_silences(const std::vector<Silence> &silences, TimePoint now);

// The table, made by the first writer that needs it (a database of an
// older version has none yet).
void ensure_silence_table(Database &db);

// Silences in force at `now` (or, with `all`, every one, newest last).
std::vector<Silence> read_silences(Database &db, TimePoint now, bool all);
std::optional<Silence> find_silence(Database &db, std::int64_t id);

}  // namespace dht::escalate
