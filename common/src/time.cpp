#include "dht/time.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
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

struct Civil {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

// Whether the date of `c` is a real day in the years a time can be held.
bool real_date(const Civil &c)
{
    static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    // Nanoseconds since 1970 in 64 bits reach from 1677 to 2262: beyond, a
    // time cannot be held (an offset may still push an edge year over).
    if (c.year < 1678 || c.year > 2261 || c.month < 1 || c.month > 12)
        return false;
    return c.day >= 1 && c.day <= month_days[c.month - 1] + (c.month == 2 && leap(c.year) ? 1 : 0);
}

bool real_clock(const Civil &c) { return c.hour <= 23 && c.minute <= 59 && c.second <= 60; }

// The seconds since 1970 of `c` in UTC; a leap second counts as the second before.
long long epoch_seconds(const Civil &c)
{
    const long long days = days_from_civil(c.year, static_cast<unsigned>(c.month), static_cast<unsigned>(c.day));
    return days * 86400 + c.hour * 3600LL + c.minute * 60LL + (c.second == 60 ? 59 : c.second);
}

// "YYYY-MM-DD" at the start of `s`: a real day.
bool read_date(std::string_view s, Civil &c)
{
    return digits(s, 0, 4, c.year) && s.size() >= 10 && s[4] == '-' && digits(s, 5, 2, c.month) && s[7] == '-' &&
           digits(s, 8, 2, c.day) && real_date(c);
}

bool date_time_separator(char c) { return c == 'T' || c == 't' || c == ' '; }

// "HH:MM:SS" at `pos` (":SS" may be left out unless `need_seconds`): the
// position after it, or 0 when there is none.
std::size_t read_clock(std::string_view s, std::size_t pos, Civil &c, bool need_seconds)
{
    if (!digits(s, pos, 2, c.hour) || pos + 2 >= s.size() || s[pos + 2] != ':' || !digits(s, pos + 3, 2, c.minute))
        return 0;
    pos += 5;
    c.second = 0;
    if (pos < s.size() && s[pos] == ':') {
        if (!digits(s, pos + 1, 2, c.second))
            return 0;
        pos += 3;
    } else if (need_seconds) {
        return 0;
    }
    return real_clock(c) ? pos : 0;
}

// Eight bytes from `s`, the first in the lowest byte.
std::uint64_t load8(const char *s) noexcept
{
    std::uint64_t w;
    std::memcpy(&w, s, sizeof w);
    if constexpr (std::endian::native == std::endian::big)
        w = __builtin_bswap64(w);
    return w;
}

// The form of 8 bytes as two masks: 0xff for each '#' of `pattern` (a
// digit), and its other bytes as they are; the first byte is the lowest.
struct Shape {
    std::uint64_t digits = 0, rest = 0;
    constexpr explicit Shape(const char (&pattern)[9])
    {
        for (int i = 0; i < 8; ++i) {
            const auto byte = static_cast<std::uint64_t>(static_cast<unsigned char>(pattern[i]));
            (pattern[i] == '#' ? digits : rest) |= (pattern[i] == '#' ? 0xff : byte) << (8 * i);
        }
    }
    // Whether `w` has this form.
    constexpr bool fits(std::uint64_t w) const noexcept
    {
        constexpr std::uint64_t high = 0xf0f0f0f0f0f0f0f0, zeros = 0x3030303030303030, sixes = 0x0606060606060606;
        // A byte 0x30-0x39 plus 6 stays below 0x40, 0x3a-0x3f reach it; no
        // byte of 0x30-0x3f carries into the next.
        return (w & ~digits) == rest && (w & digits & high) == (zeros & digits) &&
               ((w + (sixes & digits)) & digits & high) == (zeros & digits);
    }
};

int two_digits(const char *p) noexcept { return (p[0] - '0') * 10 + (p[1] - '0'); }

// "YYYY-MM-DDTHH:MM:SS.mmmZ", the form records are written in: the time,
// or none when `s` has another form or is no time (the general reader then
// decides).
std::optional<TimePoint> parse_common_form(std::string_view s)
{
    static constexpr Shape date("####-##-"), clock("##T##:##"), fraction(":##.###Z");
    if (s.size() != 24)
        return std::nullopt;
    const char *p = s.data();
    const std::uint64_t w0 = load8(p), w1 = load8(p + 8), w2 = load8(p + 16);
    if (!fraction.fits(w2))
        return std::nullopt;
    // Records come in bursts within one second: the second read last is kept,
    // by its text up to the '.'.
    thread_local struct {
        std::uint64_t w0 = 0, w1 = 0, w2 = 0;  // w2: its first 3 bytes, never 0 (':' first)
        long long seconds = 0;
    } last;
    constexpr std::uint64_t three = 0xffffff;
    if (w0 != last.w0 || w1 != last.w1 || (w2 & three) != last.w2) {
        if (!date.fits(w0) || !clock.fits(w1))
            return std::nullopt;
        Civil c;
        c.year = two_digits(p) * 100 + two_digits(p + 2);
        c.month = two_digits(p + 5);
        c.day = two_digits(p + 8);
        c.hour = two_digits(p + 11);
        c.minute = two_digits(p + 14);
        c.second = two_digits(p + 17);
        if (!real_date(c) || !real_clock(c))
            return std::nullopt;
        last = {w0, w1, w2 & three, epoch_seconds(c)};
    }
    const int millis = two_digits(p + 20) * 10 + (p[22] - '0');
    return TimePoint(std::chrono::seconds(last.seconds) + std::chrono::milliseconds(millis));
}

// A wall-clock time in the local time zone (TZ), as mktime(3) reads it: a
// time skipped when the clocks go forward counts from before the change.
std::optional<TimePoint> local_time(std::tm tm)
{
    tm.tm_isdst = -1;
    tm.tm_wday = -1;  // mktime sets it when it succeeds: -1 is also a valid time_t
    const std::time_t t = std::mktime(&tm);
    if ((t == -1 && tm.tm_wday == -1) || t < -9'223'372'036 || t > 9'223'372'036)  // 64-bit nanoseconds
        return std::nullopt;
    return TimePoint(std::chrono::seconds(t));
}

std::optional<TimePoint> parse_local_time(std::string_view s)
{
    Civil c;
    if (!read_date(s, c))
        return std::nullopt;
    if (s.size() > 10 && (!date_time_separator(s[10]) || read_clock(s, 11, c, false) != s.size()))
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = c.year - 1900;
    tm.tm_mon = c.month - 1;
    tm.tm_mday = c.day;
    tm.tm_hour = c.hour;
    tm.tm_min = c.minute;
    tm.tm_sec = c.second == 60 ? 59 : c.second;
    return local_time(tm);
}

// The local midnight that starts the day `days_back` days before `reference`'s.
std::optional<TimePoint> local_midnight(TimePoint reference, int days_back)
{
    const std::time_t t = std::chrono::floor<std::chrono::seconds>(reference).time_since_epoch().count();
    std::tm tm{};
    if (localtime_r(&t, &tm) == nullptr)
        return std::nullopt;
    tm.tm_mday -= days_back;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return local_time(tm);
}

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
    // The milliseconds and "Z" made in a register and stored at once: stored
    // byte by byte, then copied, they would wait for each other.
    std::uint32_t tail = ('0' + frac / 100) | ('0' + frac / 10 % 10) << 8 | ('0' + frac % 10) << 16 | 'Z' << 24;
    if constexpr (std::endian::native == std::endian::big)
        tail = __builtin_bswap32(tail);
    char text[4];
    std::memcpy(text, &tail, sizeof text);
    out.append(cached, sizeof cached);
    out.append(text, sizeof text);
}

std::string format_rfc3339(TimePoint t)
{
    std::string s;
    append_rfc3339(s, t);
    return s;
}

std::optional<TimePoint> parse_rfc3339(std::string_view s)
{
    if (const auto t = parse_common_form(s))
        return t;
    Civil c;
    if (!read_date(s, c) || s.size() < 11 || !date_time_separator(s[10]))
        return std::nullopt;
    std::size_t pos = read_clock(s, 11, c, true);
    if (pos == 0)
        return std::nullopt;
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
    return TimePoint(std::chrono::seconds(epoch_seconds(c) - offset) + std::chrono::nanoseconds(nanos));
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
    if (auto t = parse_local_time(text))
        return t;
    if (text == "now")
        return reference;
    if (text == "today")
        return local_midnight(reference, 0);
    if (text == "yesterday")
        return local_midnight(reference, 1);
    if (auto age = parse_duration(text))
        return saturating_sub(reference, *age);
    return std::nullopt;
}

}  // namespace dht
