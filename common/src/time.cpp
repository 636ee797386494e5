#include "dht/time.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace dht {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
constexpr long long days_from_civil(long long y, unsigned m, unsigned d) noexcept
{
    y -= m <= 2 ? 1 : 0;
    const long long era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3U : 9U)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<long long>(doe) - 719468;
}

bool digits(std::string_view s, std::size_t pos, std::size_t n, int &value)
{
    if (pos + n > s.size())
        return false;
    value = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        value = value * 10 + (s[i] - '0');
    }
    return true;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

TimePoint now() { return TimePoint(Clock::now().time_since_epoch()); }

TimePoint saturating_add(TimePoint t, std::chrono::nanoseconds d) noexcept
{
    std::chrono::nanoseconds::rep sum;
    if (__builtin_add_overflow(t.time_since_epoch().count(), d.count(), &sum))
        return d.count() > 0 ? TimePoint::max() : TimePoint::min();
    return TimePoint(std::chrono::nanoseconds(sum));
}

TimePoint saturating_sub(TimePoint t, std::chrono::nanoseconds d) noexcept
{
    std::chrono::nanoseconds::rep difference;
    if (__builtin_sub_overflow(t.time_since_epoch().count(), d.count(), &difference))
        return d.count() > 0 ? TimePoint::min() : TimePoint::max();
    return TimePoint(std::chrono::nanoseconds(difference));
}

std::string check_skew(TimePoint t, std::chrono::nanoseconds max_skew, TimePoint clock)
{
    if (max_skew.count() <= 0 || t <= saturating_add(clock, max_skew))
        return {};
    return "timestamp " + format_rfc3339(t) + " is more than " + format_duration(max_skew) + " ahead of the clock";
}

void append_rfc3339(std::string &out, TimePoint t)
{
    using namespace std::chrono;
    const auto ms = floor<milliseconds>(t.time_since_epoch());
    const auto secs = floor<seconds>(ms);
    // Records come in bursts within one second: the calendar part is kept.
    thread_local seconds cached_secs = seconds::min();
    thread_local char cached[20];
    if (secs != cached_secs) {
        const auto day = floor<days>(secs);
        const year_month_day ymd{sys_days(day)};
        const hh_mm_ss<seconds> hms{secs - day};
        const int y = static_cast<int>(ymd.year());
        if (y < 0 || y > 9999) {  // outside RFC 3339's four digits: clamp to its ends
            out += y < 0 ? "0000-01-01T00:00:00.000Z" : "9999-12-31T23:59:59.999Z";
            return;
        }
        const auto two = [&](std::size_t at, unsigned v) {
            cached[at] = static_cast<char>('0' + v / 10);
            cached[at + 1] = static_cast<char>('0' + v % 10);
        };
        const auto year = static_cast<unsigned>(y);
        two(0, year / 100);
        two(2, year % 100);
        cached[4] = '-';
        two(5, static_cast<unsigned>(ymd.month()));
        cached[7] = '-';
        two(8, static_cast<unsigned>(ymd.day()));
        cached[10] = 'T';
        two(11, static_cast<unsigned>(hms.hours().count()));
        cached[13] = ':';
        two(14, static_cast<unsigned>(hms.minutes().count()));
        cached[16] = ':';
        two(17, static_cast<unsigned>(hms.seconds().count()));
        cached[19] = '.';
        cached_secs = secs;
    }
    const auto frac = static_cast<unsigned>((ms - secs).count());
    char tail[4] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                    static_cast<char>('0' + frac % 10), 'Z'};
    out.append(cached, sizeof cached);
    out.append(tail, sizeof tail);
}

std::string format_rfc3339(TimePoint t)
{
    std::string s;
    append_rfc3339(s, t);
    return s;
}

std::optional<TimePoint> parse_rfc3339(std::string_view s)
{
    int year, month, day, hour, minute, second;
    if (!digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
        !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, hour) ||
        s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second))
        return std::nullopt;
    static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    // Nanoseconds since 1970 in 64 bits reach from 1677 to 2262: beyond, a
    // time cannot be held (an offset may still push an edge year over).
    if (year < 1678 || year > 2261)
        return std::nullopt;
    if (month < 1 || month > 12 || day < 1 ||
        day > month_days[month - 1] + (month == 2 && leap(year) ? 1 : 0) || hour > 23 || minute > 59 ||
        second > 60)
        return std::nullopt;
    std::size_t pos = 19;
    long long nanos = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        const std::size_t start = pos;
        long long scale = 100000000;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            nanos += (s[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start)
            return std::nullopt;
    }
    if (pos >= s.size())
        return std::nullopt;
    long long offset = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        const int sign = s[pos] == '-' ? -1 : 1;
        int oh, om;
        if (!digits(s, pos + 1, 2, oh))
            return std::nullopt;
        std::size_t mpos = pos + 3;
        if (mpos < s.size() && s[mpos] == ':')
            ++mpos;
        if (!digits(s, mpos, 2, om) || oh > 23 || om > 59)
            return std::nullopt;
        offset = sign * (oh * 3600LL + om * 60LL);
        pos = mpos + 2;
    } else {
        return std::nullopt;
    }
    if (pos != s.size())
        return std::nullopt;
    const long long days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const long long secs = days * 86400 + hour * 3600LL + minute * 60LL + (second == 60 ? 59 : second) - offset;
    return TimePoint(std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos));
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s,
                                                       std::optional<std::chrono::nanoseconds> bare_unit)
{
    std::size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
        ++i;
    if (i == 0)
        return std::nullopt;
    double value = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + i, value);
    if (ec != std::errc() || ptr != s.data() + i || !std::isfinite(value) || value < 0)
        return std::nullopt;
    const std::string_view unit = s.substr(i);
    double ns_per_unit;
    if (unit.empty()) {
        if (!bare_unit)
            return std::nullopt;
        ns_per_unit = static_cast<double>(bare_unit->count());
    } else if (unit == "ns") {
        ns_per_unit = 1;
    } else if (unit == "us") {
        ns_per_unit = 1e3;
    } else if (unit == "ms") {
        ns_per_unit = 1e6;
    } else if (unit == "s") {
        ns_per_unit = 1e9;
    } else if (unit == "m") {
        ns_per_unit = 60e9;
    } else if (unit == "h") {
        ns_per_unit = 3600e9;
    } else if (unit == "d") {
        ns_per_unit = 86400e9;
    } else if (unit == "w") {
        ns_per_unit = 7 * 86400e9;
    } else {
        return std::nullopt;
    }
    const double ns = value * ns_per_unit;
    if (ns > 9.2e18)
        return std::nullopt;
    return std::chrono::nanoseconds(std::llround(ns));
}

std::string format_duration(std::chrono::nanoseconds d)
{
    static constexpr struct {
        long long ns;
        const char *unit;
    } units[] = {{86400'000'000'000LL, "d"}, {3600'000'000'000LL, "h"}, {60'000'000'000LL, "m"},
                 {1'000'000'000LL, "s"},     {1'000'000LL, "ms"},       {1'000LL, "us"}};
    const long long n = d.count();
    for (const auto &u : units)
        if (n != 0 && n % u.ns == 0)
            return std::to_string(n / u.ns) + u.unit;
    return std::to_string(n) + "ns";
}

std::optional<TimePoint> parse_time_or_age(std::string_view text, TimePoint reference)
{
    if (auto t = parse_rfc3339(text))
        return t;
    if (auto age = parse_duration(text))
        return saturating_sub(reference, *age);
    return std::nullopt;
}

}  // namespace dht
