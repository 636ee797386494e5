#include "dht/sqlite.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>

using namespace dht;
namespace fs = std::filesystem;

namespace {

std::int64_t integer(Database &db, const char *sql)
{
    auto s = db.prepare(sql);
    REQUIRE(s.step());
    return s.integer(0);
}

constexpr const char *kSchema = "CREATE TABLE messages (id INTEGER PRIMARY KEY, topic TEXT);";

}  // namespace

TEST_CASE("the toolkit's databases are marked, and another application's are refused untouched")
{
    char tmpl[] = "/tmp/dht-sqlite-XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);

    SECTION("a new file is created, marked and given the schema")
    {
        auto db = open_toolkit_database(dir / "new.db", true, kSchema, "messages");
        CHECK(integer(db, "PRAGMA application_id") == toolkit_application_id);
        CHECK(integer(db, "SELECT count(*) FROM messages") == 0);
        // Opened again: the same, no error.
        auto again = open_toolkit_database(dir / "new.db", false, kSchema, "messages");
        CHECK(integer(again, "PRAGMA application_id") == toolkit_application_id);
    }
    SECTION("an unmarked file with the toolkit's tables (an older release) is adopted")
    {
        {
            Database old(dir / "old.db", true);
            old.exec("CREATE TABLE incidents (id INTEGER PRIMARY KEY); INSERT INTO incidents DEFAULT VALUES;");
        }
        auto db = open_toolkit_database(dir / "old.db", false, kSchema, "messages");
        CHECK(integer(db, "PRAGMA application_id") == toolkit_application_id);
        CHECK(integer(db, "SELECT count(*) FROM incidents") == 1);
        CHECK(integer(db, "SELECT count(*) FROM messages") == 0);  // dht-record's schema added
    }
    SECTION("another application's file is refused and left as it was")
    {
        {
            Database other(dir / "app.db", true);
            other.exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);");
        }
        std::string what;
        try {
            open_toolkit_database(dir / "app.db", true, kSchema, "messages");
        } catch (const SqliteError &e) {
            what = e.what();
        }
        CHECK(what.find("another application") != std::string::npos);
        Database check(dir / "app.db", false);
        CHECK(integer(check, "PRAGMA application_id") == 0);
        CHECK(integer(check, "SELECT count(*) FROM sqlite_master WHERE name = 'messages'") == 0);
        auto mode = check.prepare("PRAGMA journal_mode");
        REQUIRE(mode.step());
        CHECK(mode.text(0) == "delete");
    }
    SECTION("a file marked by another application is refused")
    {
        {
            Database other(dir / "marked.db", true);
            other.exec("PRAGMA application_id = 1234;");
        }
        CHECK_THROWS_AS(open_toolkit_database(dir / "marked.db", true, kSchema, "messages"), SqliteError);
    }
    fs::remove_all(dir);
}
