// dht-record's history: the public schema (the seed's `messages` table, plus
// `records` for alerts, incidents and stats), batched writes that are kept in
// memory until a commit succeeds, and the queries behind `dht-record query`.
#pragma once

#include "dht/record.hpp"
#include "dht/sqlite.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dht::record {

struct OtherRow {
    std::string kind;
    std::string timestamp;
    std::string record;  // the whole record, JSON text
};

struct Query {
    std::string topic_filter;  // MQTT filter, wildcards allowed
    std::string sensor;
    std::optional<std::string> since, until;  // RFC 3339 bounds [since, until)
    std::uint64_t limit = 0;                  // 0: no limit
    bool unprocessed = false;
    bool mark_processed = false;
    std::string kind = "message";
};

class Store {
public:
    // Opens or creates the database, in WAL mode, with the schema in place.
    Store(const std::string &path, bool create);

    // A message: its payload is stored as append_json() writes it (as the
    // text of a MessageText is already).
    void add(const Message &message);
    void add(const MessageText &message);
    void add(OtherRow row) { others_.push_back(std::move(row)); }
    std::size_t pending() const noexcept { return rows_.size() + others_.size(); }
    // Writes what is pending in one transaction. On a locked database (after
    // the busy timeout) it keeps the batch, warns, and returns false.
    bool commit();
    // The last commit failed because the disk or the database is full.
    bool full() const noexcept { return full_; }

    // Calls `emit` with each matching record line (without '\n'), oldest first.
    std::uint64_t query(const Query &q, const std::function<void(std::string_view)> &emit);
    // Deletes messages and records older than `cutoff`; returns how many.
    std::int64_t prune(const std::string &cutoff);
    void vacuum();

    Database &db() noexcept { return db_; }

private:
    void failed(const SqliteError &e);

    // A part of text_.
    struct Span {
        std::size_t at = 0, size = 0;
    };
    Span put(std::string_view text);
    std::string_view text(Span s) const noexcept { return std::string_view(text_).substr(s.at, s.size); }
    // A message waiting for the commit; its text is in text_, one buffer for
    // the batch rather than three strings a row.
    struct Row {
        Span topic, payload, received_at;  // received_at: RFC 3339, UTC, milliseconds
        int qos = 0;
        bool retain = false;
        bool base64 = false;
    };
    void add_row(Row r, std::string_view topic, TimePoint received, int qos, bool retain, bool base64);

    Database db_;
    Statement insert_message_;
    Statement insert_other_;
    std::vector<Row> rows_;
    std::string text_;
    std::vector<OtherRow> others_;
    bool failing_ = false;  // said once per spell of failures
    bool full_ = false;
};

}  // namespace dht::record
