// --help as every tool prints it: the tool's own options first, then the
// groups all tools share (input, MQTT, TLS, last will); 80 columns; plain
// value names (N, FILE, DURATION, a few choices); the environment variable
// of an option in its description.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace dht {

// Sets the formatter of `app` and of its subcommands.
void use_plain_help(CLI::App &app);

// CLI11's error message `what` said plainly: an unknown option with the
// nearest one ("unknown option '--hots' (did you mean '--host'?)"), a
// number out of range without a 300-digit bound.
std::string plain_error(const CLI::App &app, const std::string &what);

}  // namespace dht
