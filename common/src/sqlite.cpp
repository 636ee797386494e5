#include "dht/sqlite.hpp"

#include "dht/diag.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>


namespace dht {
namespace {
[[noreturn]] void throw_error(sqlite3 *db, int rc, std::string_view context)
{
    std::string what(context);
    if (!what.empty())
        what += ": ";
    what += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    throw SqliteError(what, rc & 0xFF);
}
}  // namespace

bool SqliteError::busy() const noexcept { return code_ == SQLITE_BUSY || code_ == SQLITE_LOCKED; }
bool SqliteError::full() const noexcept { return code_ == SQLITE_FULL; }

Statement::Statement(sqlite3 *db, std::string_view sql) : db_(db)
{
    const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
    if (rc != SQLITE_OK)
        throw_error(db, rc, "");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement &&other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }

Statement &Statement::bind(int index, std::string_view text)
{
    const int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK)
        throw_error(db_, rc, "bind");
    return *this;
}

Statement &Statement::bind_static(int index, std::string_view text)
{
    const int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    if (rc != SQLITE_OK)
        throw_error(db_, rc, "bind");
    return *this;
}

Statement &Statement::bind(int index, std::int64_t value)
{
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK)
        throw_error(db_, rc, "bind");
    return *this;
}

Statement &Statement::bind_real(int index, double value)
{
    const int rc = sqlite3_bind_double(stmt_, index, value);
    if (rc != SQLITE_OK)
        throw_error(db_, rc, "bind");
    return *this;
}

Statement &Statement::bind_null(int index)
{
    const int rc = sqlite3_bind_null(stmt_, index);
    if (rc != SQLITE_OK)
        throw_error(db_, rc, "bind");
    return *this;
}

bool Statement::step()
{
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW)
        return true;
    if (rc == SQLITE_DONE)
        return false;
    sqlite3_reset(stmt_);
    throw_error(db_, rc, "");
}

void Statement::run()
{
    while (step()) {
    }
    reset();
}

void Statement::reset()
{
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::string_view Statement::text(int column) const
{
    const auto *p = sqlite3_column_text(stmt_, column);
    if (p == nullptr)
        return {};
    return {reinterpret_cast<const char *>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }
bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

Database::Database(const std::string &path, bool create, int busy_timeout_ms) : path_(path)
{
    // A new database is readable by its owner only (SQLite gives its -wal and
    // -shm files the same mode): it may hold notification commands and
    // history nobody else should read. chmod widens it on purpose.
    if (create && !path.empty() && path != ":memory:") {
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            ::close(fd);
    }
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string what = path + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
        sqlite3_close(db_);
        db_ = nullptr;
        throw SqliteError(what, rc & 0xFF);
    }
    sqlite3_extended_result_codes(db_, 0);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
}

Database::~Database() { sqlite3_close(db_); }

void Database::exec(std::string_view sql)
{
    const std::string text(sql);
    char *error = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
    if (rc != SQLITE_OK) {
        std::string what = error != nullptr ? error : sqlite3_errstr(rc);
        sqlite3_free(error);
        throw SqliteError(what, rc & 0xFF);
    }
}

Statement Database::prepare(std::string_view sql) { return Statement(db_, sql); }
std::int64_t Database::changes() const { return sqlite3_changes64(db_); }
std::int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }

Transaction::Transaction(Database &db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction()
{
    if (open_) {
        try {
            db_.exec("ROLLBACK");
        } catch (const SqliteError &) {
            // Already rolled back by SQLite (a full disk, an I/O error).
        }
    }
}

void Transaction::commit()
{
    db_.exec("COMMIT");
    open_ = false;
}

namespace {

// Tables of the toolkit's own: a database holding any of them is ours.
constexpr const char *kToolkitTables =
    "'messages', 'records', 'incidents', 'incident_events', 'incident_notifications', 'escalation_policy'";

std::int64_t single_integer(Database &db, std::string_view sql)
{
    auto s = db.prepare(sql);
    return s.step() ? s.integer(0) : 0;
}

}  // namespace

bool has_table(Database &db, std::string_view name)
{
    auto s = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
    s.bind(1, name);
    return s.step();
}

Database open_toolkit_database(const std::string &path, bool create, std::string_view schema,
                               std::string_view marker_table)
{
    Database db(path, create);
    retry_while_busy([&] {
        const std::int64_t id = single_integer(db, "PRAGMA application_id");
        if (id != 0 && id != toolkit_application_id)
            throw SqliteError(cat(path, ": the database of another application (application_id ", id,
                                  "), not a dht-tools one: give another file"),
                              SQLITE_MISMATCH);
        if (id == 0) {
            const std::int64_t tables = single_integer(
                db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
            const std::int64_t ours = single_integer(
                db, cat("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (", kToolkitTables, ")"));
            if (tables > 0 && ours == 0)
                throw SqliteError(cat(path, ": holds ", tables, tables == 1 ? " table" : " tables",
                                      " of another application and none of dht-tools: give another file"),
                                  SQLITE_MISMATCH);
        }
        // WAL: readers (dht-record query, sqlite3) never block the writer; NORMAL
        // sync keeps every committed transaction across a crash of the process.
        db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
        // The schema is written once; later opens only read, so that a database
        // another writer holds locked can still be opened (and waited for).
        const bool fresh = !has_table(db, marker_table);
        if (fresh || id == 0) {
            Transaction t(db);
            if (fresh)
                db.exec(schema);
            db.exec(cat("PRAGMA application_id = ", toolkit_application_id));
            t.commit();
        }
    });
    return db;
}

}  // namespace dht
