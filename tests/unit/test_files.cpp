#include "dht/files.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace dht;
namespace fs = std::filesystem;

TEST_CASE("write_file_atomically never writes through a link planted at a temporary name")
{
    char tmpl[] = "/tmp/dht-files-XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);
    const fs::path victim = dir / "victim", target = dir / "dht.prom";
    std::ofstream(victim) << "precious";
    ::chmod(victim.c_str(), 0600);
    fs::create_symlink(victim, dir / "dht.prom.tmp");  // the old, predictable name

    REQUIRE(write_file_atomically(target, "metrics\n", 0644).empty());
    std::string text;
    REQUIRE(read_file(victim, text).empty());
    CHECK(text == "precious");
    CHECK((fs::status(victim).permissions() & fs::perms::all) == fs::perms(0600));
    REQUIRE(read_file(target, text).empty());
    CHECK(text == "metrics\n");
    CHECK((fs::status(target).permissions() & fs::perms::all) == fs::perms(0644));
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto &e : fs::directory_iterator(dir))
        ++entries;
    CHECK(entries == 3);  // victim, the link, the file: no temporary left behind

    CHECK(!write_file_atomically(dir / "no-such-dir" / "f", "x").empty());
    CHECK(read_file(dir / "missing", text) == "No such file or directory");
    CHECK(text.empty());
    fs::remove_all(dir);
}
