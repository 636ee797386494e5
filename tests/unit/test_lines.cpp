#include "dht/diag.hpp"
#include "dht/input.hpp"
#include "dht/lines.hpp"
#include "dht/scan.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

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

// What the program writes on stderr while it lives.
struct Stderr {
    int saved = ::dup(2);
    std::FILE *file = std::tmpfile();
    Stderr() { ::dup2(::fileno(file), 2); }
    ~Stderr()
    {
        ::dup2(saved, 2);
        ::close(saved);
        std::fclose(file);
    }
    std::string text() const
    {
        std::string out(4096, '\0');
        const ssize_t n = ::pread(::fileno(file), out.data(), out.size(), 0);
        out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        return out;
    }
};

CommonOptions options(std::size_t max_line = 1024)
{
    CommonOptions o;
    o.max_line = max_line;
    return o;
}

std::size_t occurrences(const std::string &text, const std::string &what)
{
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
        ++n;
    return n;
}
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

TEST_CASE("buffered() gives the lines next() would, and leaves to next() those it reports")
{
    // Lines framed by buffered() where it can, by next() where it cannot,
    // against next() alone: the same lines, numbers and reports.
    const std::string text = "one\r\n\n" + std::string(40, 'x') + "\nafter\n" + std::string(200000, 'y') +
                             "\ntail\r\n" + std::string(17, 'z') + "\nlast";
    const auto frame = [&](bool fast) {
        Input p(text);
        LineReader r(p.fds[0], "stdin", 16);
        std::vector<std::string> got;
        std::string_view line;
        for (;;) {
            if (fast)
                if (const auto whole = r.buffered(); whole.data() != nullptr) {
                    got.push_back(std::to_string(r.line_number()) + " " + std::string(whole));
                    continue;
                }
            const auto status = r.next(line);
            if (status == Status::eof)
                break;
            got.push_back(std::to_string(r.line_number()) +
                          (status == Status::line ? " " + std::string(line) : std::string(" too long")));
        }
        return got;
    };
    const std::vector<std::string> want{"1 one", "2 ", "3 too long", "4 after", "5 too long",
                                        "6 tail", "7 too long", "8 last"};
    CHECK(frame(false) == want);
    CHECK(frame(true) == want);
}

TEST_CASE("a file is read ahead: every line comes whole, across reads and past a read's size")
{
    // Lines of every length up to 300 bytes, and two longer than a read
    // ahead (256 KiB) and its headroom (64 KiB), in a file of several reads;
    // from a file (read ahead) and from a pipe (read in place), the same.
    std::vector<std::string> want;
    std::string text;
    for (std::size_t i = 0; text.size() < 3 * 1024 * 1024; ++i) {
        std::string line = std::to_string(i) + ":" + std::string((i * 7919) % 300, static_cast<char>('a' + i % 26));
        if (i == 1000)
            line = std::string(100 * 1024, 'L');
        if (i == 5000)
            line = std::string(700 * 1024, 'M');
        text += line + "\n";
        want.push_back(std::move(line));
    }
    const auto frame = [&](int fd) {
        LineReader r(fd, "stdin", 1024 * 1024);
        std::vector<std::string> got;
        std::string_view line;
        for (;;) {
            if (const auto whole = r.buffered(); whole.data() != nullptr) {
                got.emplace_back(whole);
                continue;
            }
            const auto status = r.next(line);
            if (status == Status::eof)
                break;
            REQUIRE(status == Status::line);
            got.emplace_back(line);
        }
        CHECK(r.line_number() == want.size());
        return got;
    };
    Input file(text);
    CHECK(frame(file.fds[0]) == want);
    {
        // Left after one line (--strict, a signal): the read ahead stops with it.
        ::lseek(file.fds[0], 0, SEEK_SET);
        LineReader r(file.fds[0], "stdin", 1024 * 1024);
        std::string_view line;
        REQUIRE(r.next(line) == Status::line);
        CHECK(line == want[0]);
    }

    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::thread writer([&] {
        for (std::size_t at = 0; at < text.size();) {
            const ssize_t n = ::write(fds[1], text.data() + at, std::min<std::size_t>(text.size() - at, 100000));
            if (n <= 0)
                break;
            at += static_cast<std::size_t>(n);
        }
        ::close(fds[1]);
    });
    CHECK(frame(fds[0]) == want);
    writer.join();
    ::close(fds[0]);
}

namespace {
// A LookAhead that keeps each line it looks at, by slot and index: slow
// (`delay` a line) or stopping (refusing lines from index `stop_at` on)
// when asked.
struct Recorder final : LineReader::LookAhead {
    std::array<std::vector<std::string>, slots> lines;
    std::chrono::microseconds delay{0};
    std::size_t stop_at = SIZE_MAX;
    std::size_t calls = 0;
    void chunk(std::size_t slot, std::size_t n) override { lines[slot].assign(n, "(not looked at)"); }
    bool look(std::size_t slot, std::size_t index, std::string_view line) override
    {
        ++calls;
        if (index >= stop_at)
            return false;
        const auto until = std::chrono::steady_clock::now() + delay;
        while (std::chrono::steady_clock::now() < until) {
        }
        lines[slot][index] = line;
        return true;
    }
};

// Every line of `r` as LineInput takes them (buffered(), else next(); "too
// long" for a line next() reports), each that `seen` looked at checked
// against what it saw, and none next() gave said to be looked at.
struct Framed {
    std::vector<std::string> lines;
    std::size_t looked = 0;
};
Framed frame_looked(LineReader &r, const Recorder &seen)
{
    Framed out;
    std::size_t slot = 0, index = 0;
    std::string_view line;
    for (;;) {
        if (const auto whole = r.buffered(); whole.data() != nullptr) {
            out.lines.emplace_back(whole);
            if (r.looked(slot, index)) {
                REQUIRE(slot < seen.lines.size());
                REQUIRE(index < seen.lines[slot].size());
                CHECK(seen.lines[slot][index] == whole);
                ++out.looked;
            }
            continue;
        }
        const auto status = r.next(line);
        if (status == Status::eof)
            break;
        out.lines.emplace_back(status == Status::line ? std::string(line) : "too long");
        CHECK_FALSE(r.looked(slot, index));  // next() framed it
    }
    return out;
}
}  // namespace

TEST_CASE("a LookAhead sees each line of a file read ahead as buffered() gives it, in the slot the line's chunk holds")
{
    // What look() saw, by slot and index, against what buffered() gives:
    // lines of every length up to 300 bytes, CRLF ends, lines over max_line
    // (next() reports them: not looked at), and one longer than a read
    // (the chunks after it are appended to it, their slots handed back).
    Recorder seen;
    std::vector<std::string> lines;
    std::string text;
    for (std::size_t i = 0; text.size() < 6 * 1024 * 1024; ++i) {
        std::string line = std::to_string(i) + ":" + std::string((i * 7919) % 300, static_cast<char>('a' + i % 26));
        if (i == 0 || i == 20000)
            line = std::string(700 * 1024, 'X');
        if (i == 7000)
            line = std::string(400 * 1024, 'L');
        text += line + (i % 5 == 0 ? "\r\n" : "\n");
        lines.push_back(std::move(line));
    }
    Input file(text);
    for (const std::size_t max_line : {std::size_t(600 * 1024), std::size_t(200)}) {
        INFO("max_line " << max_line);
        std::vector<std::string> want;
        for (std::size_t i = 0; i < lines.size(); ++i)  // a '\r' counts
            want.push_back(lines[i].size() + (i % 5 == 0 ? 1 : 0) > max_line ? "too long" : lines[i]);
        ::lseek(file.fds[0], 0, SEEK_SET);
        LineReader r(file.fds[0], "stdin", max_line, &seen);
        const auto got = frame_looked(r, seen);
        CHECK(got.lines == want);
        // How many depends on which thread waits for the other (see below).
        CHECK(got.looked > 0);
    }

    // A pipe is not read ahead: nothing is looked at.
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::write(fds[1], "a\nb\n", 4) == 4);
    ::close(fds[1]);
    LineReader p(fds[0], "stdin", 2048, &seen);
    const auto got = frame_looked(p, seen);
    CHECK(got.lines == std::vector<std::string>{"a", "b"});
    CHECK(got.looked == 0);
    ::close(fds[0]);
}

TEST_CASE("a LookAhead slower than the caller leaves the rest of a chunk to it once it waits")
{
    // A look that takes 20 µs a line: the caller, which only frames, waits
    // for each chunk, and takes it with the lines not looked at yet.
    Recorder slow;
    slow.delay = std::chrono::microseconds(20);
    std::vector<std::string> want;
    std::string text;
    while (text.size() < 2 * 1024 * 1024) {
        want.push_back(std::to_string(want.size()) + std::string(want.size() % 200, '.'));
        text += want.back() + "\n";
    }
    Input file(text);
    LineReader r(file.fds[0], "stdin", 1024, &slow);
    const auto got = frame_looked(r, slow);
    CHECK(got.lines == want);
    CHECK(got.looked > 0);  // some lines before the caller waited
    CHECK(got.looked < want.size() / 2);  // 20 µs a line would take 400 ms: the caller did not wait for that
}

TEST_CASE("a LookAhead that stops at a line leaves it and the rest of its chunk to the caller")
{
    // Lines from index 50 on are left "(not looked at)": frame_looked()
    // fails on any of them said to be looked at.
    Recorder stopper;
    stopper.stop_at = 50;
    std::vector<std::string> want;
    std::string text;
    while (text.size() < 2 * 1024 * 1024) {
        want.push_back(std::to_string(want.size()));
        text += want.back() + "\n";
    }
    Input file(text);
    LineReader r(file.fds[0], "stdin", 1024, &stopper);
    const auto got = frame_looked(r, stopper);
    CHECK(got.lines == want);
    CHECK(got.looked > 0);
    CHECK(got.looked <= 49 * (text.size() / (256 * 1024) + 1));
    CHECK(stopper.calls <= 50 * (text.size() / (256 * 1024) + 1));  // none past the first refusal
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

TEST_CASE("a line's time is that of the read that completed it, one clock reading a read")
{
    Input p("first\nsecond\npartial", true);
    LineReader r(p.fds[0], "stdin", 100);
    std::string_view line;
    const auto before = now();
    REQUIRE(r.next(line, 50) == Status::line);
    const auto first = r.read_at();
    CHECK(first >= before);
    REQUIRE(r.next(line, 50) == Status::line);
    CHECK(line == "second");
    CHECK(r.read_at() == first);  // in the same read
    CHECK(r.next(line, 0) == Status::timeout);
    const auto written = now();
    REQUIRE(::write(p.fds[1], "-done\n", 6) == 6);
    REQUIRE(r.next(line, 1000) == Status::line);
    CHECK(line == "partial-done");
    CHECK(r.read_at() >= written);  // not the time its first part came
    CHECK(r.read_at() <= now());
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

TEST_CASE("the line loop hands on each line, reports a long one at its number, counts and sums up once")
{
    Input p("one\n" + std::string(50, 'x') + "\ntwo\n");
    LineInput input(options(20), p.fds[0]);
    std::vector<std::string> lines;
    int bad = 0, idle = 0;
    Stderr err;
    input.run({.line = [&](std::string_view l) { lines.emplace_back(l); },
               .idle = [&] { ++idle; },
               .bad = [&] { ++bad; }});
    CHECK(lines == std::vector<std::string>{"one", "two"});
    CHECK(bad == 1);
    CHECK(idle >= 1);  // at the end at least
    CHECK(input.errors().count() == 1);
    CHECK(input.position() == "stdin:3");
    input.errors().summary();  // as a tool may say it again: said once
    const std::string text = err.text();
    CHECK(text.find("stdin:2: line longer than --max-line (20 bytes) (skipped)") != std::string::npos);
    CHECK(occurrences(text, "1 bad input line skipped") == 1);
}

TEST_CASE("the line loop: a pause calls the timeout hook, the stop hook ends it")
{
    Input p("first\n", true);  // the write end stays open: input pauses
    LineInput input(options(), p.fds[0]);
    std::vector<std::string> lines;
    int timeouts = 0;
    input.run({.line = [&](std::string_view l) { lines.emplace_back(l); },
               .idle = {},
               .wait_ms = [] { return 10; },
               .timeout = [&] { ++timeouts; },
               .stop = [&] { return timeouts > 0; }});
    CHECK(lines == std::vector<std::string>{"first"});
    CHECK(timeouts == 1);
}

TEST_CASE("a \"kind\" that is not a string is a bad line for the DOM reader as for the scanner")
{
    const std::string bad = R"({"kind":7,"topic":"t","payload":{"temperature":1}})";
    Input p(bad + "\n" + R"({"kind":"message","topic":"t","payload":{}})" + "\n[1]\n" + R"({"kind":"alert"})" + "\n");
    RecordInput input(options(), p.fds[0]);
    std::vector<std::uint64_t> records;
    Stderr err;
    input.run({[&](const json::object &, std::string_view) { records.push_back(records.size()); }, {}, {}});
    CHECK(records.size() == 2);  // the message and the alert
    CHECK(input.errors().count() == 2);
    const std::string text = err.text();
    CHECK(text.find("stdin:1: \"kind\" is not a string (skipped)") != std::string::npos);
    CHECK(text.find("stdin:3: not a JSON object (skipped)") != std::string::npos);

    RecordScanner scanner({}, 32);
    std::string error;
    CHECK(scanner.scan_record(bad, error) == RecordScanner::Kind::invalid);
    CHECK(error == kind_not_a_string);
}
