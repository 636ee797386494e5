#include "silences.hpp"

#include "dht/diag.hpp"

#include <fnmatch.h>

namespace dht::escalate {
namespace {

constexpr const char *kSilenceSchema = R"sql(
CREATE TABLE IF NOT EXISTS silences (
  id INTEGER PRIMARY KEY,
  sensor TEXT NOT NULL,            -- shell patterns (fnmatch): '*' any
  rule TEXT NOT NULL,
  starts_at TEXT NOT NULL,         -- RFC 3339, UTC, milliseconds
  ends_at TEXT NOT NULL,           -- the time it was expired, when expired by hand
  created_by TEXT NOT NULL DEFAULT '',
  comment TEXT NOT NULL DEFAULT '',
  expired_at TEXT,
  expired_by TEXT
);
CREATE INDEX IF NOT EXISTS silences_ends_at ON silences (ends_at);
)sql";

constexpr std::size_t kMaxPattern = 256;
constexpr std::size_t kMaxComment = 1024;

Silence read_silence(const Statement &s)
{
    Silence x;
    x.id = s.integer(0);
    x.sensor = s.text(1);
    x.rule = s.text(2);
    x.starts_at = s.text(3);
    x.ends_at = s.text(4);
    x.by = s.text(5);
    x.comment = s.text(6);
    x.expired_at = s.text(7);
    x.expired_by = s.text(8);
    return x;
}

constexpr const char *kColumns = "id, sensor, rule, starts_at, ends_at, created_by, comment, expired_at, expired_by";

}  // namespace

std::string check_pattern(std::string_view what, std::string_view pattern)
{
    if (pattern.empty())
        return cat(what, " is empty (give '*' for any)");
    if (pattern.size() > kMaxPattern)
        return cat(what, " is longer than ", kMaxPattern, " bytes");
    for (const char c : pattern)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return cat(what, " holds a control character");
    return {};
}

bool silence_matches(const Silence &s, std::string_view rule, std::string_view sensor)
{
    // Without FNM_PATHNAME a '*' crosses '/': "dht11/*" is every sensor under dht11.
    return ::fnmatch(s.rule.c_str(), std::string(rule).c_str(), 0) == 0 &&
           ::fnmatch(s.sensor.c_str(), std::string(sensor).c_str(), 0) == 0;
}

std::optional<SilenceRequest> silence_request_from_record(const json::object &o, std::string &error)
{
    SilenceRequest r;
    if (!o.contains("sensor") && !o.contains("rule")) {
        error = "a silence names a \"sensor\" or a \"rule\" (or both; '*' for any)";
        return std::nullopt;
    }
    bool ok = true;
    for (const auto &[name, target] : {std::pair{"sensor", &r.sensor}, std::pair{"rule", &r.rule},
                                       std::pair{"by", &r.by}, std::pair{"comment", &r.comment}})
        if (const auto text = string_member(o, name, error, ok))
            *target = *text;
        else if (!ok)
            break;
    if (!ok)
        return std::nullopt;
    for (const auto &[what, pattern] : {std::pair{"\"sensor\"", &r.sensor}, std::pair{"\"rule\"", &r.rule}})
        if (error = check_pattern(what, *pattern); !error.empty())
            return std::nullopt;
    if (r.comment.size() > kMaxComment) {
        error = cat("\"comment\" is longer than ", kMaxComment, " bytes");
        return std::nullopt;
    }
    const auto *length = o.if_contains("for");
    std::string text;
    if (length != nullptr && length->is_string())
        text = length->get_string();
    else if (length != nullptr && length->is_number())
        text = json::serialize(*length);
    else {
        error = "\"for\" (how long, e.g. \"2h\") is missing or not a duration";
        return std::nullopt;
    }
    const auto d = parse_duration_arg(text, kSilenceRange, error);
    if (!d) {
        error = cat("\"for\": ", error);
        return std::nullopt;
    }
    r.length = *d;
    return r;
}

std::optional<ExpireRequest> expire_request_from_record(const json::object &o, std::string &error)
{
    ExpireRequest r;
    const auto *id = o.if_contains("silence_id");
    if (id == nullptr || !id->is_int64() || id->get_int64() <= 0) {
        error = "\"silence_id\" is missing or not a positive integer";
        return std::nullopt;
    }
    r.id = id->get_int64();
    bool ok = true;
    if (const auto by = string_member(o, "by", error, ok))
        r.by = *by;
    if (!ok)
        return std::nullopt;
    return r;
}

std::string silence_record(const Silence &s)
{
    std::string out;
    ObjectWriter w(out);
    w.string("kind", "silence").integer("silence_id", s.id).string("sensor", s.sensor).string("rule", s.rule);
    w.string("starts_at", s.starts_at).string("ends_at", s.ends_at);
    if (!s.by.empty())
        w.string("by", s.by);
    if (!s.comment.empty())
        w.string("comment", s.comment);
    if (!s.expired_at.empty())
        w.string("expired_at", s.expired_at);
    if (!s.expired_by.empty())
        w.string("expired_by", s.expired_by);
    w.close();
    return out;
}

void ensure_silence_table(Database &db)
{
    if (!has_table(db, "silences"))
        db.exec(kSilenceSchema);
}

std::vector<Silence> read_silences(Database &db, TimePoint now, bool all)
{
    std::vector<Silence> out;
    if (!has_table(db, "silences"))
        return out;
    const std::string when = format_rfc3339(now);
    auto s = db.prepare(cat("SELECT ", kColumns, " FROM silences ",
                            all ? "" : "WHERE starts_at <= ?1 AND ends_at > ?1 ", "ORDER BY id"));
    if (!all)
        s.bind(1, when);
    while (s.step())
        out.push_back(read_silence(s));
    return out;
}

std::optional<Silence> find_silence(Database &db, std::int64_t id)
{
    if (!has_table(db, "silences"))
        return std::nullopt;
    auto s = db.prepare(cat("SELECT ", kColumns, " FROM silences WHERE id = ?"));
    s.bind(1, id);
    if (!s.step())
        return std::nullopt;
    return read_silence(s);
}

}  // namespace dht::escalate
