#include "dht/diag.hpp"
#include "dht/files.hpp"
#include "dht/spool.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

using namespace dht;
namespace fs = std::filesystem;

namespace {

struct TempDir : dht::test::TempDir {
    TempDir() : dht::test::TempDir("dht-spool") {}
    std::vector<std::string> names() const
    {
        std::vector<std::string> out;
        for (const auto &e : fs::directory_iterator(path))
            out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
};

struct Loaded {
    std::vector<std::string> paths, texts;
    std::vector<std::size_t> lines;
};

Loaded load(const Spool &spool)
{
    Loaded l;
    spool.load([&](const std::string &path, std::string &text, std::size_t lines) {
        l.paths.push_back(path);
        l.texts.push_back(text);
        l.lines.push_back(lines);
    });
    return l;
}

}  // namespace

TEST_CASE("spool: files are named for their destination and written whole, owner only", "[spool]")
{
    TempDir dir;
    Spool spool(dir.path + "/sub", "influx", "http://db:8086/write?db=a&precision=n", ".lp");
    const auto path = spool.write("a 1\nb 2\n");
    REQUIRE(!path.empty());
    const auto name = fs::path(path).filename().string();
    // FORMAT-DEST-TIME-PID-SEQ.EXT, fixed widths so that names sort by time.
    CHECK(name.size() == std::string("influx-0123456789abcdef-00000001765432101234-00001234-000000.lp").size());
    CHECK(name.starts_with("influx-"));
    CHECK(name.ends_with("-000000.lp"));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::string text;
    CHECK(read_file(path, text).empty());
    CHECK(text == "a 1\nb 2\n");
    CHECK(spool.file_name(5, 7, 3) != Spool(dir.path, "influx", "http://db:8086/write?db=b", ".lp").file_name(5, 7, 3));
}

TEST_CASE("spool: a run loads its own destination's files, oldest first, and leaves the others", "[spool]")
{
    TempDir dir;
    {
        Spool mine(dir.path, "graphite", "carbon:2003", ".spool");
        for (int i = 0; i < 12; ++i)  // a sequence number past 9 still sorts after 9
            REQUIRE(!mine.write(cat("line.", i, " 1 2\n")).empty());
        Spool other(dir.path, "graphite", "elsewhere:2003", ".spool");
        REQUIRE(!other.write("other 1 2\n").empty());
        Spool influx(dir.path, "influx", "carbon:2003", ".lp");  // another format: not counted
        REQUIRE(!influx.write("m v=1\n").empty());
    }
    // A file of the previous release (no destination in its name) is taken as this run's, by its time.
    REQUIRE(write_file_atomically(dir.path + "/graphite-1000-77-0.spool", "old 1 2\nolder 1 2", 0600).empty());

    Spool spool(dir.path, "graphite", "carbon:2003", ".spool");
    const auto l = load(spool);
    REQUIRE(l.texts.size() == 13);
    CHECK(l.texts[0] == "old 1 2\nolder 1 2");
    CHECK(l.lines[0] == 2);
    for (int i = 0; i < 12; ++i) {
        CHECK(l.texts[static_cast<std::size_t>(i) + 1] == cat("line.", i, " 1 2\n"));
        CHECK(l.lines[static_cast<std::size_t>(i) + 1] == 1);
    }
    CHECK(dir.names().size() == 15);  // loading deletes nothing

    for (const auto &p : l.paths)
        spool.remove(p);
    spool.remove(l.paths[0]);  // gone already: no harm
    const auto left = dir.names();
    REQUIRE(left.size() == 2);
    CHECK(left[0].starts_with("graphite-"));
    CHECK(left[1].starts_with("influx-"));
    std::string text;
    CHECK(read_file(dir.path + "/" + left[0], text).empty());
    CHECK(text == "other 1 2\n");
}

TEST_CASE("spool: a file that cannot be read is left where it is; a directory that cannot be made is exit 74",
          "[spool]")
{
    TempDir dir;
    Spool spool(dir.path, "influx", "u", ".lp");
    const std::string bad = dir.path + "/" + spool.file_name(1, 1, 0);
    REQUIRE(fs::create_directory(bad));  // a name like a spool file, but not a file
    REQUIRE(!spool.write("m v=1\n").empty());
    const auto l = load(spool);
    REQUIRE(l.texts.size() == 1);
    CHECK(l.texts[0] == "m v=1\n");
    CHECK(fs::exists(bad));

    REQUIRE(write_file_atomically(dir.path + "/file", "x", 0600).empty());
    try {
        Spool nowhere(dir.path + "/file/spool", "influx", "u", ".lp");
        FAIL("no exit");
    } catch (const Exit &e) {
        CHECK(e.code() == exit_ioerr);
    }
}
