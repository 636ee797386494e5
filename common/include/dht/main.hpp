// The body of every tool's main(): names the program, runs it, and turns what
// escapes into an exit status (never 0 for an error).
#pragma once

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

}  // namespace dht
