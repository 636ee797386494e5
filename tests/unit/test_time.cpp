#include "dht/time.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

using namespace dht;
using namespace std::chrono;

TEST_CASE("RFC 3339 timestamps are written in UTC with milliseconds")
{
    const TimePoint t{seconds(1795559398) + milliseconds(7) + microseconds(900)};
    CHECK(format_rfc3339(t) == "2026-11-24T22:29:58.007Z");
    CHECK(format_rfc3339(TimePoint{}) == "1970-01-01T00:00:00.000Z");
    CHECK(format_rfc3339(TimePoint{milliseconds(-1)}) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("RFC 3339 parsing reads what we write and common variants")
{
    const TimePoint t{seconds(1795559398) + milliseconds(123)};
    CHECK(parse_rfc3339(format_rfc3339(t)) == t);
    CHECK(parse_rfc3339("2026-11-24T22:29:58.123Z") == t);
    CHECK(parse_rfc3339("2026-11-24 23:29:58.123+01:00") == t);
    CHECK(parse_rfc3339("2026-11-24T17:59:58.123-0430") == t);
    CHECK(parse_rfc3339("2026-11-24T22:29:58.123456789z") == t + nanoseconds(456789));
    CHECK(parse_rfc3339("2024-02-29T00:00:00Z").has_value());
    CHECK_FALSE(parse_rfc3339("2023-02-29T00:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-13-01T00:00:00Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-24T18:29:58"));  // no zone
    CHECK_FALSE(parse_rfc3339("2026-11-24T18:29:58.Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-24T18:29:58Zjunk"));
    CHECK_FALSE(parse_rfc3339(""));
}

namespace {
// `text` read as by the general reader: a lower-case 't' between date and
// time means the same and keeps a time off the quick way for the common
// form "YYYY-MM-DDTHH:MM:SS.mmmZ".
std::optional<TimePoint> parse_general(std::string text)
{
    if (text.size() > 10 && text[10] == 'T')
        text[10] = 't';
    return parse_rfc3339(text);
}
}  // namespace

TEST_CASE("RFC 3339 times in the common form read as the general reader reads them")
{
    char text[] = "2026-11-24T10:00:00.000Z";
    const auto same = [&] {
        const auto quick = parse_rfc3339(text), general = parse_general(text);
        if (quick != general)
            FAIL_CHECK(text);
    };
    // Every date from before 1678 to after 2261, months 00-13, days 00-32.
    for (int year = 1670; year <= 2270; ++year)
        for (int month = 0; month <= 13; ++month)
            for (int day = 0; day <= 32; ++day) {
                std::snprintf(text, sizeof text, "%04d-%02d-%02dT23:59:59.999Z", year, month, day);
                same();
            }
    for (const char *edge : {"0000", "9999", "1677", "1678", "2261", "2262", "1900", "2000", "2100"})
        for (int month = 1; month <= 12; ++month)
            for (int day = 27; day <= 31; ++day) {
                std::snprintf(text, sizeof text, "%s-%02d-%02dT00:00:00.000Z", edge, month, day);
                same();
            }
    // Every clock from 00:00:00 to 25:61:61, leap seconds and all milliseconds.
    for (int hour = 0; hour <= 25; ++hour)
        for (int minute = 0; minute <= 61; ++minute)
            for (int second = 0; second <= 61; ++second) {
                std::snprintf(text, sizeof text, "2016-12-31T%02d:%02d:%02d.%03dZ", hour, minute, second,
                              (hour * 3600 + minute * 60 + second) % 1000);
                same();
            }
    // Each byte in turn, every other value: not a digit, not the separator.
    for (std::size_t at = 0; at < sizeof text - 1; ++at) {
        if (at == 10)
            continue;
        for (int byte = 1; byte < 256; ++byte) {
            std::snprintf(text, sizeof text, "2024-02-29T12:34:56.789Z");
            text[at] = static_cast<char>(byte);
            same();
        }
    }
    CHECK(parse_rfc3339("2024-02-29T12:34:56.789Z") == parse_rfc3339("2024-02-29 12:34:56.789+00:00"));
    CHECK(parse_rfc3339("2016-12-31T23:59:60.500Z") == parse_rfc3339("2016-12-31T23:59:59.500Z"));
    CHECK(parse_rfc3339("1678-01-01T00:00:00.000Z").has_value());
    CHECK(parse_rfc3339("2261-12-31T23:59:59.999Z").has_value());
    CHECK_FALSE(parse_rfc3339("1677-12-31T23:59:59.999Z"));
    CHECK_FALSE(parse_rfc3339("2262-01-01T00:00:00.000Z"));
    CHECK_FALSE(parse_rfc3339("2023-02-29T00:00:00.000Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-24T24:00:00.000Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-24T10:00:0:.000Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-24T10:00:00.00?Z"));
    CHECK_FALSE(parse_rfc3339(std::string_view("2026-11-24T10:00:00.000Z", 23)));
}

TEST_CASE("durations are a number and a unit")
{
    CHECK(parse_duration("100ms") == milliseconds(100));
    CHECK(parse_duration("2s") == seconds(2));
    CHECK(parse_duration("15m") == minutes(15));
    CHECK(parse_duration("24h") == hours(24));
    CHECK(parse_duration("30d") == hours(24 * 30));
    CHECK(parse_duration("1.5s") == milliseconds(1500));
    CHECK_FALSE(parse_duration("5"));
    CHECK(parse_duration("5", seconds(1)) == seconds(5));
    CHECK_FALSE(parse_duration("5x"));
    CHECK_FALSE(parse_duration("-5s"));
    CHECK_FALSE(parse_duration("s"));
    CHECK_FALSE(parse_duration("99999999999999d"));
}

namespace {
// TZ set for one test, then put back. POSIX TZ strings need no tz database.
class LocalZone {
public:
    explicit LocalZone(const char *tz)
    {
        if (const char *old = std::getenv("TZ"))
            old_ = old;
        ::setenv("TZ", tz, 1);
        ::tzset();
    }
    ~LocalZone()
    {
        if (old_)
            ::setenv("TZ", old_->c_str(), 1);
        else
            ::unsetenv("TZ");
        ::tzset();
    }
    LocalZone(const LocalZone &) = delete;
    LocalZone &operator=(const LocalZone &) = delete;

private:
    std::optional<std::string> old_;
};
}  // namespace

TEST_CASE("a time is RFC 3339, an age or now, and no other word")
{
    const TimePoint ref{hours(1000)};
    CHECK(parse_time_or_age("24h", ref) == ref - hours(24));
    CHECK(parse_time_or_age("1970-01-01T00:00:01Z", ref) == TimePoint{seconds(1)});
    CHECK(parse_time_or_age("now", ref) == ref);
    CHECK_FALSE(parse_time_or_age("tomorrow", ref));
    CHECK_FALSE(parse_time_or_age("", ref));
}

TEST_CASE("a date, or a date and time without a zone, is local time (TZ)")
{
    const LocalZone zone("UTC-2");  // two hours ahead of UTC
    const TimePoint ref = *parse_rfc3339("2026-12-05T01:30:00Z");  // 03:30 local
    CHECK(parse_time_or_age("2026-12-04", ref) == parse_rfc3339("2026-12-04T00:00:00+02:00"));
    CHECK(parse_time_or_age("2026-12-04 10:00", ref) == parse_rfc3339("2026-12-04T08:00:00Z"));
    CHECK(parse_time_or_age("2026-12-04T10:00:30", ref) == parse_rfc3339("2026-12-04T08:00:30Z"));
    CHECK(parse_time_or_age("today", ref) == parse_rfc3339("2026-12-04T22:00:00Z"));
    CHECK(parse_time_or_age("yesterday", ref) == parse_rfc3339("2026-12-03T22:00:00Z"));
    CHECK_FALSE(parse_time_or_age("2026-12-04 10:00Z", ref));  // a zone needs the seconds (RFC 3339)
    CHECK_FALSE(parse_time_or_age("2026-02-30", ref));
    CHECK_FALSE(parse_time_or_age("2026-12-04 25:00", ref));
    CHECK_FALSE(parse_time_or_age("2026-12-04 10", ref));
    CHECK_FALSE(parse_time_or_age("2026-12-04 10:00 junk", ref));
    CHECK_FALSE(parse_time_or_age("2026-12-4", ref));
}

TEST_CASE("today and yesterday follow the local calendar across a clock change")
{
    const LocalZone zone("CET-1CEST,M3.5.0,M10.5.0/3");
    // 2026-03-29 is the day central Europe moves to summer time: 23 hours long.
    const TimePoint ref = *parse_rfc3339("2026-03-30T12:00:00Z");
    CHECK(parse_time_or_age("today", ref) == parse_rfc3339("2026-03-30T00:00:00+02:00"));
    CHECK(parse_time_or_age("yesterday", ref) == parse_rfc3339("2026-03-29T00:00:00+01:00"));
    CHECK(parse_time_or_age("2026-03-29 12:00", ref) == parse_rfc3339("2026-03-29T12:00:00+02:00"));
    CHECK(parse_time_or_age("2026-01-10 12:00", ref) == parse_rfc3339("2026-01-10T12:00:00+01:00"));
}

TEST_CASE("times outside what 64-bit nanoseconds hold are refused", "[time]")
{
    CHECK_FALSE(dht::parse_rfc3339("1013-11-24T10:15:30.123Z"));
    CHECK_FALSE(dht::parse_rfc3339("9999-12-31T23:59:59Z"));
    CHECK_FALSE(dht::parse_rfc3339("0000-01-01T00:00:00Z"));
    CHECK(dht::parse_rfc3339("1970-01-01T00:00:00Z"));
    CHECK(dht::parse_rfc3339("2261-12-31T23:59:59Z"));
}

TEST_CASE("Time arithmetic saturates at the ends of 64-bit nanoseconds")
{
    const TimePoint late = *parse_rfc3339("2261-12-01T00:00:00Z");
    const TimePoint early = *parse_rfc3339("1678-01-01T00:00:00Z");
    CHECK(saturating_add(late, hours(24 * 200)) == TimePoint::max());
    CHECK(saturating_add(late, hours(24)) == late + hours(24));
    CHECK(saturating_add(early, -hours(24 * 200)) == TimePoint::min());
    CHECK(saturating_sub(early, hours(24 * 200)) == TimePoint::min());
    CHECK(saturating_sub(late, -hours(24 * 200)) == TimePoint::max());
    CHECK(saturating_sub(late, hours(24)) == late - hours(24));
    CHECK(saturating_add(TimePoint::max(), nanoseconds(1)) == TimePoint::max());
    CHECK(saturating_sub(TimePoint::min(), nanoseconds(1)) == TimePoint::min());
    // An age longer than the time since 1677 is the earliest time there is.
    CHECK(parse_time_or_age("3650d", early) == TimePoint::min());
}

TEST_CASE("A record's time may be ahead of the clock by at most the skew")
{
    const TimePoint clock = *parse_rfc3339("2026-11-24T10:00:00Z");
    CHECK(check_skew(clock + minutes(60), hours(1), clock).empty());
    CHECK(check_skew(clock + minutes(61), hours(1), clock) ==
          "timestamp 2026-11-24T11:01:00.000Z is more than 1h ahead of the clock");
    CHECK(check_skew(*parse_rfc3339("2099-01-01T00:00:00Z"), seconds(90), clock) ==
          "timestamp 2099-01-01T00:00:00.000Z is more than 90s ahead of the clock");
    CHECK(check_skew(*parse_rfc3339("1969-07-20T20:17:40Z"), hours(1), clock).empty());  // history passes
    CHECK(check_skew(*parse_rfc3339("2261-01-01T00:00:00Z"), nanoseconds(0), clock).empty());  // 0: no limit
    CHECK_FALSE(check_skew(*parse_rfc3339("2261-01-01T00:00:00Z"), hours(24 * 3650), clock).empty());
}
