#include "dht/diag.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace dht {
namespace {
std::string g_program = "dht";
int g_verbosity = 0;
}  // namespace

void set_program(std::string_view name) { g_program = std::string(name); }
const std::string &program() { return g_program; }
void set_verbosity(int level) { g_verbosity = level; }
int verbosity() { return g_verbosity; }

namespace {

std::atomic<bool> g_log_time{false};

// Whether stderr is the stream journald gave this process ("DEV:INODE").
bool stderr_is_journal()
{
    static const bool journal = [] {
        const char *stream = std::getenv("JOURNAL_STREAM");
        struct stat st {};
        if (stream == nullptr || ::fstat(STDERR_FILENO, &st) != 0)
            return false;
        unsigned long long dev = 0, ino = 0;
        return std::sscanf(stream, "%llu:%llu", &dev, &ino) == 2 && dev == st.st_dev && ino == st.st_ino;
    }();
    return journal;
}

void say(char priority, std::string_view message)
{
    if (g_verbosity < 0)
        return;  // quiet
    std::string line;
    line.reserve(g_program.size() + message.size() + 32);
    if (stderr_is_journal()) {
        line.append("<").push_back(priority);
        line.push_back('>');
    } else if (g_log_time.load(std::memory_order_relaxed)) {
        char stamp[32];
        const std::time_t now = std::time(nullptr);
        std::tm tm {};
        ::gmtime_r(&now, &tm);
        line.append(stamp, std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ ", &tm));
    }
    line.append(g_program).append(": ").append(message).push_back('\n');
    const char *p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;  // nowhere left to complain to
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

}  // namespace

void set_log_time(bool on) { g_log_time.store(on, std::memory_order_relaxed); }

void warn(std::string_view message) { say('4', message); }

void debug(std::string_view message)
{
    if (g_verbosity > 0)
        say('7', message);
}

void fail(int code, std::string_view message)
{
    say('3', message);
    throw Exit(code);
}

}  // namespace dht
