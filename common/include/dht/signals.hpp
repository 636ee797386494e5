// Signals: the handlers only set flags; loops poll them. SIGPIPE is ignored so a
// closed stdout shows up as EPIPE on write.
#pragma once

namespace dht {

// SIGINT/SIGTERM request a stop, SIGHUP a reload. Installed without SA_RESTART so
// that a blocking read returns EINTR and the loop can look at the flags.
void install_signal_handlers();
bool stop_requested() noexcept;
void request_stop() noexcept;
// True once per SIGHUP received.
bool take_reload() noexcept;

}  // namespace dht
