#include "dht/signals.hpp"

#include <csignal>

namespace dht {
namespace {
volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reload = 0;

extern "C" void on_stop(int) { g_stop = 1; }
extern "C" void on_reload(int) { g_reload = 1; }

void set_handler(int sig, void (*handler)(int))
{
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: blocking reads return EINTR
    sigaction(sig, &sa, nullptr);
}
}  // namespace

void install_signal_handlers()
{
    set_handler(SIGINT, on_stop);
    set_handler(SIGTERM, on_stop);
    set_handler(SIGHUP, on_reload);
    set_handler(SIGPIPE, SIG_IGN);
}

bool stop_requested() noexcept { return g_stop != 0; }
void request_stop() noexcept { g_stop = 1; }

bool take_reload() noexcept
{
    if (g_reload == 0)
        return false;
    g_reload = 0;
    return true;
}

}  // namespace dht
