// Timestamps (RFC 3339, UTC, milliseconds), durations ("100ms", "15m", "30d")
// and times given as RFC 3339, a local date and time, a day's name or an age
// ("24h" = 24 hours ago).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace dht {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::nanoseconds>;

TimePoint now();

// t + d and t - d, held at TimePoint::min() or max() where the sum would leave
// 64-bit nanoseconds (1677..2262): a deadline past the end is "never".
TimePoint saturating_add(TimePoint t, std::chrono::nanoseconds d) noexcept;
TimePoint saturating_sub(TimePoint t, std::chrono::nanoseconds d) noexcept;

// A record's own time checked against the clock: "" when `t` is at most
// `max_skew` ahead of `clock` (or max_skew is 0: no limit), else what is wrong
// ("timestamp 2099-01-01T00:00:00.000Z is more than 1h ahead of the clock").
// Times long past are history and always pass.
std::string check_skew(TimePoint t, std::chrono::nanoseconds max_skew, TimePoint clock);

// 2026-11-24T10:15:30.123Z
void append_rfc3339(std::string &out, TimePoint t);
std::string format_rfc3339(TimePoint t);

// Accepts "2026-11-24T10:15:30Z", fractional seconds of any length, "z", a space
// instead of "T", and numeric offsets (+01:00, -0530).
std::optional<TimePoint> parse_rfc3339(std::string_view text);

// A number (decimals allowed) and a unit: ns us ms s m h d w. With
// bare_unit set, a bare number is taken in that unit (mosquitto's "-W 5").
std::optional<std::chrono::nanoseconds> parse_duration(
    std::string_view text, std::optional<std::chrono::nanoseconds> bare_unit = std::nullopt);

// A duration in the largest unit that holds it whole: "1ns", "250ms", "90s", "3650d".
std::string format_duration(std::chrono::nanoseconds d);

// A time as an operator types it: RFC 3339; a date, with or without a time
// of day and no zone, in the local time zone (TZ): "2026-12-04" is its
// midnight, "2026-12-04 10:00" (or "T", or ":30" seconds); "today" and
// "yesterday" (their local midnights), "now"; or an age counted back from
// `reference` ("24h").
std::optional<TimePoint> parse_time_or_age(std::string_view text, TimePoint reference);

}  // namespace dht
