#include "dht/diag.hpp"
#include "dht/source.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <string>
#include <vector>

using namespace dht;

namespace {
// Runs a MessageSource (no broker) over `text` given as its stdin.
struct StdinRun {
    std::vector<Message> messages;
    std::vector<std::string> others;
    int idle = 0;
    int status = -1;

    explicit StdinRun(const std::string &text, const std::string &bare_topic = "bare/topic")
    {
        char name[] = "/tmp/dht-source-XXXXXX";
        const int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        ::unlink(name);
        REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
        ::lseek(fd, 0, SEEK_SET);
        const int saved = ::dup(0);
        ::dup2(fd, 0);
        ::close(fd);
        MqttOptions mqtt;
        CommonOptions common;
        MessageSource source(mqtt, common, bare_topic);
        MessageSource::Hooks h;
        h.message = [&](const Message &m) { messages.push_back(m); };
        h.record = [&](const json::object &, std::string_view line) { others.emplace_back(line); };
        h.idle = [&] { ++idle; };
        status = source.run(h);
        ::dup2(saved, 0);
        ::close(saved);
    }
};
}  // namespace

TEST_CASE("message source: stdin gives messages, bare payloads with their topic, and other records", "[source]")
{
    const StdinRun run(R"({"kind":"message","timestamp":"2026-11-24T10:00:00.000Z","topic":"dht11/a/data","payload":{"t":1},"qos":1,"retain":false})"
                       "\n"
                       R"({"t":2})"
                       "\n"
                       R"({"kind":"alert","rule":"hot"})"
                       "\n"
                       "not json\n"
                       R"({"kind":"message","payload":{}})"
                       "\n"
                       R"({"kind":"stats","n":3})"
                       "\n");
    CHECK(run.status == exit_ok);
    REQUIRE(run.messages.size() == 2);
    CHECK(run.messages[0].topic == "dht11/a/data");
    CHECK(run.messages[0].qos == 1);
    CHECK(run.messages[1].topic == "bare/topic");
    CHECK(to_json(run.messages[1].payload) == R"({"t":2})");
    REQUIRE(run.others.size() == 2);  // a bad message record is reported, not passed on
    CHECK(run.others[0] == R"({"kind":"alert","rule":"hot"})");
    CHECK(run.others[1] == R"({"kind":"stats","n":3})");
    CHECK(run.idle >= 1);  // at least at the end
}
