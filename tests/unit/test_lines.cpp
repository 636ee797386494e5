#include "dht/diag.hpp"
#include "dht/lines.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <string>

using namespace dht;
using Status = LineReader::Status;

namespace {
// A readable descriptor holding `text`: a file for whole inputs, or a pipe whose
// write end stays open (keep_open) for input that is still live.
struct Input {
    int fds[2] = {-1, -1};
    explicit Input(const std::string &text, bool keep_open = false)
    {
        if (keep_open) {
            REQUIRE(::pipe(fds) == 0);
        } else {
            char name[] = "/tmp/dht-lines-XXXXXX";
            fds[0] = ::mkstemp(name);
            REQUIRE(fds[0] >= 0);
            ::unlink(name);
            fds[1] = ::dup(fds[0]);
        }
        REQUIRE(::write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size()));
        if (!keep_open) {
            ::close(fds[1]);
            fds[1] = -1;
            ::lseek(fds[0], 0, SEEK_SET);
        }
    }
    ~Input()
    {
        ::close(fds[0]);
        if (fds[1] >= 0)
            ::close(fds[1]);
    }
};
}  // namespace

TEST_CASE("lines are framed by newlines and numbered")
{
    Input p("one\ntwo\r\n\nlast");
    LineReader r(p.fds[0], "stdin", 100);
    std::string_view line;
    REQUIRE(r.next(line) == Status::line);
    CHECK(line == "one");
    CHECK(r.line_number() == 1);
    REQUIRE(r.next(line) == Status::line);
    CHECK(line == "two");
    REQUIRE(r.next(line) == Status::line);
    CHECK(line.empty());
    REQUIRE(r.next(line) == Status::line);
    CHECK(line == "last");
    CHECK(r.line_number() == 4);
    CHECK(r.next(line) == Status::eof);
}

TEST_CASE("a line over the limit is skipped and reported once, at its number")
{
    const std::string huge(300000, 'x');
    Input p("ok\n" + huge + "\nafter\n" + std::string(20, 'y') + "\nend\n");
    LineReader r(p.fds[0], "stdin", 16);
    std::string_view line;
    REQUIRE(r.next(line) == Status::line);
    CHECK(line == "ok");
    REQUIRE(r.next(line) == Status::too_long);
    CHECK(r.line_number() == 2);
    REQUIRE(r.next(line) == Status::line);
    CHECK(line == "after");
    CHECK(r.line_number() == 3);
    REQUIRE(r.next(line) == Status::too_long);  // found whole in the buffer
    CHECK(r.line_number() == 4);
    REQUIRE(r.next(line) == Status::line);
    CHECK(line == "end");
    CHECK(r.line_number() == 5);
    CHECK(r.next(line) == Status::eof);
}

TEST_CASE("a reader with a timeout returns while input is idle")
{
    Input p("first\npartial", true);
    LineReader r(p.fds[0], "stdin", 100);
    std::string_view line;
    REQUIRE(r.next(line, 50) == Status::line);
    CHECK(line == "first");
    CHECK(r.next(line, 50) == Status::timeout);
    REQUIRE(::write(p.fds[1], "-done\n", 6) == 6);
    REQUIRE(r.next(line, 1000) == Status::line);
    CHECK(line == "partial-done");
}

TEST_CASE("bad lines are counted; strict mode stops with 65")
{
    InputErrors lenient(false);
    lenient.report("stdin", 3, "invalid JSON: syntax error");
    lenient.report("stdin", 9, "not an object");
    CHECK(lenient.count() == 2);

    InputErrors strict(true);
    try {
        strict.report("stdin", 1, "invalid JSON: syntax error");
        FAIL("strict mode did not stop");
    } catch (const Exit &e) {
        CHECK(e.code() == 65);
    }
}
