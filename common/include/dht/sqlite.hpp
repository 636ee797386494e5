// SQLite, RAII: a Database (WAL, busy timeout) and prepared Statements. Errors
// are thrown as SqliteError carrying SQLite's own message and code.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

struct sqlite3;
struct sqlite3_stmt;

namespace dht {

class SqliteError : public std::runtime_error {
public:
    SqliteError(const std::string &what, int code) : std::runtime_error(what), code_(code) {}
    int code() const noexcept { return code_; }  // primary result code (SQLITE_BUSY, …)
    bool busy() const noexcept;
    bool full() const noexcept;  // the disk or the database is full

private:
    int code_;
};

class Statement {
public:
    Statement(sqlite3 *db, std::string_view sql);
    ~Statement();
    Statement(Statement &&other) noexcept;
    Statement &operator=(Statement &&) = delete;
    Statement(const Statement &) = delete;
    Statement &operator=(const Statement &) = delete;

    // Parameters are 1-based, as in SQLite.
    Statement &bind(int index, std::string_view text);
    // Without a copy: `text` must stay as it is while steps may read it,
    // until the parameter is bound again.
    Statement &bind_static(int index, std::string_view text);
    Statement &bind(int index, std::int64_t value);
    Statement &bind_real(int index, double value);
    Statement &bind_null(int index);
    // True while a row is available; false when done. Throws on error.
    bool step();
    // Runs to completion and resets (for INSERT/UPDATE/DELETE).
    void run();
    void reset();

    std::string_view text(int column) const;  // 0-based, as in SQLite
    std::int64_t integer(int column) const;
    double real(int column) const;
    bool is_null(int column) const;

private:
    sqlite3 *db_;
    sqlite3_stmt *stmt_ = nullptr;
};

class Database;

// Runs `step` again while SQLite says the database is busy, up to `limit`:
// for what the busy timeout does not cover, such as two processes creating
// one file and switching it to WAL at the same moment.
template <class Step>
auto retry_while_busy(Step step, std::chrono::milliseconds limit = std::chrono::seconds(10))
{
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
        try {
            return step();
        } catch (const SqliteError &e) {
            if (!e.busy() || std::chrono::steady_clock::now() >= until)
                throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// BEGIN IMMEDIATE (the write lock taken at once, waiting out the busy
// timeout) … commit(); a transaction not committed is rolled back.
class Transaction {
public:
    explicit Transaction(Database &db);
    ~Transaction();
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;
    void commit();

private:
    Database &db_;
    bool open_ = true;
};

class Database {
public:
    // Opens (creating with `create`) a database file. The busy timeout makes a
    // locked database wait before it fails.
    Database(const std::string &path, bool create, int busy_timeout_ms = 5000);
    ~Database();
    Database(Database &&other) noexcept : path_(std::move(other.path_)), db_(other.db_) { other.db_ = nullptr; }
    Database &operator=(Database &&) = delete;
    Database(const Database &) = delete;
    Database &operator=(const Database &) = delete;

    void exec(std::string_view sql);
    Statement prepare(std::string_view sql);
    std::int64_t changes() const;
    std::int64_t last_insert_id() const;
    const std::string &path() const noexcept { return path_; }
    sqlite3 *handle() noexcept { return db_; }

private:
    std::string path_;
    sqlite3 *db_ = nullptr;
};

// The application_id of the toolkit's databases ('DHT1'), as file(1) and
// `sqlite3 FILE 'PRAGMA application_id'` show it.
inline constexpr std::int64_t toolkit_application_id = 0x44485431;

// The database holds a table of that name.
bool has_table(Database &db, std::string_view name);

// Opens one of the toolkit's databases (dht-record's and dht-escalate's may be
// one file): WAL with NORMAL sync, `schema` written when `marker_table` is
// missing, retried while another process creates the same file, and the file
// marked as the toolkit's (PRAGMA application_id). A database of another
// application (another application_id, or tables of its own and none of the
// toolkit's) is refused with a SqliteError that says so, untouched.
Database open_toolkit_database(const std::string &path, bool create, std::string_view schema,
                               std::string_view marker_table);

}  // namespace dht
