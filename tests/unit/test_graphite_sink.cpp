// CarbonSink's replay window against a carbon stand-in: a listening socket on
// 127.0.0.1 whose connections the test reads and closes.
#include "sink.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace dht;
using namespace dht::graphite;

namespace {

struct Carbon {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int port = 0;
    Carbon()
    {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 4) == 0);
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0);
        port = ntohs(a.sin_port);
    }
    ~Carbon() { ::close(fd); }
    SinkConfig config() const
    {
        SinkConfig c;
        c.address = Endpoint{"127.0.0.1", port};
        return c;
    }
    // The next connection, once the sink has made it.
    int accept_one(CarbonSink &sink) const
    {
        pollfd p{fd, POLLIN, 0};
        for (int i = 0; i < 200 && ::poll(&p, 1, 10) == 0; ++i)
            sink.pump();
        return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    }
};

// Reads from a connection until what came ends with `tail` (up to 2 s).
std::string read_until(int conn, std::string_view tail)
{
    std::string out;
    char buf[4096];
    pollfd p{conn, POLLIN, 0};
    while (!out.ends_with(tail) && ::poll(&p, 1, 2000) > 0) {
        const auto n = ::read(conn, buf, sizeof buf);
        if (n <= 0)
            break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

// Pumps until `done()` or 2 s pass: acknowledgements come in their own time.
template <class Done>
bool pump_until(CarbonSink &sink, Done done)
{
    for (int i = 0; i < 200 && !done(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        sink.pump();
    }
    return done();
}

// The lines of the files in `dir`, sorted.
std::string spooled_lines(const char *dir)
{
    std::vector<std::string> lines;
    for (const auto &file : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(file.path());
        for (std::string line; std::getline(in, line);)
            lines.push_back(line + '\n');
    }
    std::sort(lines.begin(), lines.end());
    std::string text;
    for (const auto &line : lines)
        text += line;
    return text;
}

// A run in which carbon reads `before`, is seen keeping `kept` lines for
// replay, then dies (it read them, its host acknowledged them, yet a carbon
// killed now never writes them) and comes back; then `after` is sent.
// Returns what the new connection receives.
std::string break_between(CarbonSink &sink, Carbon &carbon, const std::string &before, std::size_t kept,
                          const std::string &after)
{
    sink.add(before);
    const int first = carbon.accept_one(sink);
    REQUIRE(first >= 0);
    CHECK(read_until(first, before) == before);
    CHECK(pump_until(sink, [&] { return sink.replayable() == kept; }));
    ::close(first);
    sink.add(after);
    const int second = carbon.accept_one(sink);
    REQUIRE(second >= 0);
    std::string got = read_until(second, after);
    ::close(second);
    return got;
}

}  // namespace

TEST_CASE("after a broken connection the replay window is sent again before new lines")
{
    Carbon carbon;
    auto config = carbon.config();
    SECTION("lines acknowledged within --replay-window")
    {
        config.replay_window = std::chrono::hours(1);
        CarbonSink sink(config);
        CHECK(break_between(sink, carbon, "a 1 10\nb 2 10\n", 2, "c 3 10\n") == "a 1 10\nb 2 10\nc 3 10\n");
        CHECK(sink.resent() == 2);
        CHECK(sink.sent() == 5);
    }
    SECTION("lines acknowledged longer than --replay-window ago are not")
    {
        config.replay_window = std::chrono::nanoseconds(0);
        CarbonSink sink(config);
        CHECK(break_between(sink, carbon, "a 1 10\n", 0, "c 3 10\n") == "c 3 10\n");
        CHECK(sink.resent() == 0);
    }
}

TEST_CASE("a replay window over --buffer lines spills its oldest lines to the spool until carbon confirms")
{
    char dir[] = "/tmp/dht-graphite-sink-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    Carbon carbon;
    auto config = carbon.config();
    config.max_lines = 2;
    config.spool_dir = dir;
    CarbonSink sink(config);
    sink.add("a 1 10\n");
    const int conn = carbon.accept_one(sink);
    REQUIRE(conn >= 0);
    for (const char *line : {"b 2 10\n", "c 3 10\n", "d 4 10\n"}) {
        sink.add(line);
        sink.pump();  // one write, one piece of the window, each
    }
    CHECK(read_until(conn, "d 4 10\n") == "a 1 10\nb 2 10\nc 3 10\nd 4 10\n");
    CHECK(pump_until(sink, [&] { return sink.replayable() == 2; }));
    CHECK(sink.spooled() == 2);
    CHECK(spooled_lines(dir) == "a 1 10\nb 2 10\n");
    // carbon reads to the end and closes in turn: it has read every line.
    std::thread reader([conn] {
        for (char c; ::read(conn, &c, 1) > 0;) {
        }
        ::close(conn);
    });
    CHECK(sink.finish(std::chrono::milliseconds(500)) == 0);
    reader.join();
    CHECK(sink.spooled() == 0);
    CHECK(spooled_lines(dir).empty());
    std::filesystem::remove_all(dir);
}
