// Diagnostics and exit status: one line on stderr per event, prefixed with the
// program name (err(3) style), and sysexits codes thrown as dht::Exit.
#pragma once

#include <exception>
#include <sstream>
#include <string>
#include <string_view>

namespace dht {

// sysexits(3) values used by every tool.
enum ExitCode : int {
    exit_ok = 0,
    exit_usage = 64,
    exit_dataerr = 65,
    exit_noinput = 66,
    exit_unavailable = 69,
    exit_software = 70,
    exit_ioerr = 74,
    exit_tempfail = 75,
    exit_config = 78,
};

// Thrown to end the program with a status; main() catches it. The message,
// if any, has already been printed.
class Exit : public std::exception {
public:
    explicit Exit(int code) noexcept : code_(code) {}
    int code() const noexcept { return code_; }
    const char *what() const noexcept override { return "exit"; }

private:
    int code_;
};

void set_program(std::string_view name);
const std::string &program();
void set_verbosity(int level);  // below 0: nothing on stderr at all
int verbosity();

// "PROGRAM: message\n" on stderr in a single write, so lines from threads never
// interleave. Under systemd, when stderr is the journal's stream
// ($JOURNAL_STREAM), with a priority prefix ("<4>", "<3>" for fail(), "<7>"
// for debug()) that journald reads; otherwise, once set_log_time(true) (a
// tool that runs as a daemon), preceded by the UTC time.
void warn(std::string_view message);
void set_log_time(bool on);
// Printed only with -v/-d.
void debug(std::string_view message);
// warn() then throw Exit(code).
[[noreturn]] void fail(int code, std::string_view message);

// cat("a", 1, 'b') == "a1b": glue for diagnostic messages.
template <class... Args>
std::string cat(const Args &...args)
{
    std::ostringstream out;
    (out << ... << args);
    return out.str();
}

}  // namespace dht
