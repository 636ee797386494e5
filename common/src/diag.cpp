#include "dht/diag.hpp"

#include <unistd.h>

#include <cerrno>

namespace dht {
namespace {
std::string g_program = "dht";
int g_verbosity = 0;
}  // namespace

void set_program(std::string_view name) { g_program = std::string(name); }
const std::string &program() { return g_program; }
void set_verbosity(int level) { g_verbosity = level; }
int verbosity() { return g_verbosity; }

void warn(std::string_view message)
{
    std::string line;
    line.reserve(g_program.size() + message.size() + 3);
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

void debug(std::string_view message)
{
    if (g_verbosity > 0)
        warn(message);
}

void fail(int code, std::string_view message)
{
    warn(message);
    throw Exit(code);
}

}  // namespace dht
