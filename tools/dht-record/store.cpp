#include "store.hpp"

#include "dht/diag.hpp"

#include <mosquitto.h>

namespace dht::record {
namespace {

constexpr const char *kSchema = R"sql(
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,          -- JSON
  received_at TEXT NOT NULL,      -- RFC 3339, UTC, milliseconds
  processed INTEGER NOT NULL DEFAULT 0,
  qos INTEGER NOT NULL DEFAULT 0,
  retain INTEGER NOT NULL DEFAULT 0,
  encoding TEXT                   -- 'base64' when payload holds bytes that were not UTF-8
);
CREATE INDEX IF NOT EXISTS messages_received_at ON messages (received_at);
CREATE INDEX IF NOT EXISTS messages_topic_received_at ON messages (topic, received_at);
CREATE INDEX IF NOT EXISTS messages_unprocessed ON messages (received_at) WHERE processed = 0;
CREATE TABLE IF NOT EXISTS records (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,             -- alert, incident, stats, …
  timestamp TEXT NOT NULL,        -- RFC 3339, UTC, milliseconds
  record TEXT NOT NULL            -- the whole record, JSON
);
CREATE INDEX IF NOT EXISTS records_kind_timestamp ON records (kind, timestamp);
PRAGMA user_version = 1;
)sql";

Database open(const std::string &path, bool create) { return open_toolkit_database(path, create, kSchema, "messages"); }

// The part of a topic filter before its first wildcard, without a trailing
// '/' ("a/#" matches "a" too): rows outside it are skipped by the index, the
// rest checked with mosquitto_topic_matches_sub().
std::string literal_prefix(const std::string &filter)
{
    std::string prefix = filter.substr(0, filter.find_first_of("+#"));
    if (prefix.size() < filter.size() && !prefix.empty() && prefix.back() == '/')
        prefix.pop_back();
    return prefix;
}

}  // namespace

Store::Span Store::put(std::string_view text)
{
    const Span s{text_.size(), text.size()};
    text_ += text;
    return s;
}

void Store::add_row(Row r, std::string_view topic, TimePoint received, int qos, bool retain, bool base64)
{
    r.topic = put(topic);
    r.received_at.at = text_.size();
    append_rfc3339(text_, received);
    r.received_at.size = text_.size() - r.received_at.at;
    r.qos = qos;
    r.retain = retain;
    r.base64 = base64;
    rows_.push_back(r);
}

void Store::add(const Message &m)
{
    Row r;
    r.payload.at = text_.size();
    append_json(text_, m.payload);
    r.payload.size = text_.size() - r.payload.at;
    add_row(r, m.topic, m.timestamp, m.qos, m.retain, m.payload_base64);
}

void Store::add(const MessageText &m)
{
    Row r;
    r.payload = put(m.payload);
    add_row(r, m.topic, m.timestamp, m.qos, m.retain, m.payload_base64);
}

Store::Store(const std::string &path, bool create)
    : db_(open(path, create)),
      insert_message_(db_.prepare(
          "INSERT INTO messages (topic, payload, received_at, qos, retain, encoding) VALUES (?, ?, ?, ?, ?, ?)")),
      insert_other_(db_.prepare("INSERT INTO records (kind, timestamp, record) VALUES (?, ?, ?)"))
{
}

void Store::failed(const SqliteError &e)
{
    full_ = e.full();
    // Said once per spell (it is retried every few seconds), then when it heals.
    if (!failing_)
        warn(cat(db_.path(), ": ", e.what(), "; ", pending(),
                 " records kept in memory, retrying (input waits past ten batches)"));
    failing_ = true;
}

bool Store::commit()
{
    if (pending() == 0)
        return true;
    try {
        db_.exec("BEGIN IMMEDIATE");
    } catch (const SqliteError &e) {
        if (!e.busy())
            throw;
        failed(e);
        return false;
    }
    try {
        for (const auto &r : rows_) {
            insert_message_.bind_static(1, text(r.topic)).bind_static(2, text(r.payload));
            insert_message_.bind_static(3, text(r.received_at));
            insert_message_.bind(4, std::int64_t{r.qos}).bind(5, std::int64_t{r.retain ? 1 : 0});
            if (r.base64)
                insert_message_.bind(6, "base64");
            else
                insert_message_.bind_null(6);
            insert_message_.run();
        }
        for (const auto &r : others_) {
            insert_other_.bind(1, r.kind).bind(2, r.timestamp).bind(3, r.record);
            insert_other_.run();
        }
        db_.exec("COMMIT");
    } catch (const SqliteError &e) {
        insert_message_.reset();
        insert_other_.reset();
        try {
            db_.exec("ROLLBACK");
        } catch (const SqliteError &) {
        }
        if (!e.busy() && !e.full())
            throw;
        failed(e);
        return false;
    }
    if (failing_)
        warn(cat(db_.path(), ": writing again; ", pending(), " records held back are stored"));
    failing_ = full_ = false;
    rows_.clear();
    text_.clear();
    others_.clear();
    return true;
}

std::uint64_t Store::query(const Query &q, const std::function<void(std::string_view)> &emit)
{
    std::string sql;
    int n = 0;
    const bool messages = q.kind == "message";
    if (messages) {
        sql = "SELECT id, topic, payload, received_at, qos, retain, encoding FROM messages WHERE 1";
    } else {
        sql = "SELECT id, record FROM records WHERE kind = ?1";
        n = 1;
    }
    const char *time_col = messages ? "received_at" : "timestamp";
    const int since_at = q.since ? ++n : 0;
    if (q.since)
        sql += cat(" AND ", time_col, " >= ?", since_at);
    const int until_at = q.until ? ++n : 0;
    if (q.until)
        sql += cat(" AND ", time_col, " < ?", until_at);
    const std::string prefix = literal_prefix(q.topic_filter);
    const bool exact = !q.topic_filter.empty() && prefix == q.topic_filter;
    int topic_at = 0;
    if (messages && !prefix.empty()) {
        topic_at = ++n;
        if (exact) {
            sql += cat(" AND topic = ?", topic_at);
        } else {
            // A byte range, so the (topic, received_at) index serves it: topics
            // are UTF-8, which never holds a 0xFF byte.
            sql += cat(" AND topic >= ?", topic_at, " AND topic < ?", topic_at + 1);
            ++n;
        }
    }
    int sensor_at = 0;
    if (messages && !q.sensor.empty()) {
        sensor_at = ++n;
        sql += cat(" AND (CASE WHEN json_type(payload, '$.sensor') = 'text' THEN json_extract(payload, '$.sensor')",
                   " ELSE topic END) = ?", sensor_at);
    }
    if (messages && q.unprocessed)
        sql += " AND processed = 0";
    sql += cat(" ORDER BY ", time_col, ", id");

    Statement select = db_.prepare(sql);
    if (!messages)
        select.bind(1, q.kind);
    if (since_at != 0)
        select.bind(since_at, *q.since);
    if (until_at != 0)
        select.bind(until_at, *q.until);
    if (topic_at != 0) {
        select.bind(topic_at, exact ? q.topic_filter : prefix);
        if (!exact)
            select.bind(topic_at + 1, prefix + '\xff');
    }
    if (sensor_at != 0)
        select.bind(sensor_at, q.sensor);

    std::vector<std::int64_t> printed;  // marked after the scan, which may use the unprocessed index
    std::uint64_t count = 0;
    std::string line;
    {
        while ((q.limit == 0 || count < q.limit) && select.step()) {
            line.clear();
            if (messages) {
                const std::string topic(select.text(1));
                if (!exact && !q.topic_filter.empty()) {
                    bool match = false;
                    mosquitto_topic_matches_sub(q.topic_filter.c_str(), topic.c_str(), &match);
                    if (!match)
                        continue;
                }
                line += R"({"kind":"message","timestamp":)";
                append_json_string(line, select.text(3));
                line += R"(,"topic":)";
                append_json_string(line, topic);
                line += R"(,"payload":)";
                line += select.text(2);
                if (!select.is_null(6)) {
                    line += R"(,"encoding":)";
                    append_json_string(line, select.text(6));
                }
                line += cat(R"(,"qos":)", select.integer(4), R"(,"retain":)",
                            select.integer(5) != 0 ? "true" : "false", "}");
                if (q.mark_processed)
                    printed.push_back(select.integer(0));
            } else {
                line = select.text(1);
            }
            emit(line);
            ++count;
        }
    }
    select.reset();  // end its read snapshot, or BEGIN IMMEDIATE fails once a writer has committed
    if (!printed.empty()) {
        db_.exec("BEGIN IMMEDIATE");
        auto mark = db_.prepare("UPDATE messages SET processed = 1 WHERE id = ?");
        for (const auto id : printed)
            mark.bind(1, id).run();
        db_.exec("COMMIT");
    }
    return count;
}

std::int64_t Store::prune(const std::string &cutoff)
{
    db_.exec("BEGIN IMMEDIATE");
    auto del = db_.prepare("DELETE FROM messages WHERE received_at < ?");
    del.bind(1, cutoff).run();
    std::int64_t n = db_.changes();
    auto del_other = db_.prepare("DELETE FROM records WHERE timestamp < ?");
    del_other.bind(1, cutoff).run();
    n += db_.changes();
    db_.exec("COMMIT");
    return n;
}

void Store::vacuum() { db_.exec("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);"); }

}  // namespace dht::record
