// The body of every tool's main(): names the program, runs it, and turns what
// escapes into an exit status (never 0 for an error).
#pragma once

#include "dht/cli.hpp"
#include "dht/diag.hpp"
#include "dht/output.hpp"
#include "dht/record.hpp"

#include <exception>
#include <new>

namespace dht {

template <class Fn>
int main_guard(const char *name, Fn &&body) noexcept
{
    set_program(name);
    try {
        const int status = body();
        say_ignored_sensors();
        return status;
    } catch (const Exit &e) {
        say_ignored_sensors();
        return e.code();
    } catch (const ClosedOutput &) {
        return exit_ok;  // the reader went away: a quiet, normal end
    } catch (const std::bad_alloc &) {
        warn("out of memory");
        return exit_software;
    } catch (const std::exception &e) {
        warn(cat("internal error: ", e.what()));
        return exit_software;
    } catch (...) {
        warn("internal error");
        return exit_software;
    }
}

// The whole main() of a tool: its flags set up by setup(app, options), the
// command line, environment and config files parsed, then run(options).
template <class Options, class Setup, class Run>
int tool_main(const char *name, int argc, char **argv, Setup setup, Run run) noexcept
{
    return main_guard(name, [&] {
        CLI::App app{"", name};
        Options options;
        setup(app, options);
        parse_command_line(app, argc, argv);
        return run(options);
    });
}

}  // namespace dht
