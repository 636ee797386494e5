// Config files read strictly, and --print-config (parse_command_line's helpers).
#pragma once

#include <CLI/CLI.hpp>

#include <set>
#include <string>
#include <vector>

namespace dht::config {

// Where a key of a config file was set.
struct Setting {
    const CLI::Option *option = nullptr;
    std::string file;
    std::size_t line = 0;
};

// Every line of each of `files` checked against the options of `app`: blank,
// a comment (# or ;), or KEY = VALUE with KEY a long option name (or a
// subcommand's, under [SUBCOMMAND] or as SUBCOMMAND.KEY). Anything else ends
// the program with FILE:LINE and exit 78. Returns, for each option set in a
// file, where it was set; `files` in the order read, the last one winning
// (as CLI11 applies them). An unreadable file is left for CLI11 to report.
std::vector<Setting> check_files(const CLI::App &app, const std::vector<std::string> &files);

// The options named on the command line itself.
std::set<const CLI::Option *> given_as_flags(const CLI::App &app, int argc, char **argv);

// The config files named by --config on the command line, in order.
std::vector<std::string> named_files(int argc, char **argv);

// --print-config: each option that has a value, as a config file line, with
// where it came from: a flag, the environment, FILE:LINE or the default.
void print(const CLI::App &app, const std::vector<Setting> &settings, const std::set<const CLI::Option *> &flags,
           const std::vector<const CLI::Option *> &from_environment, std::ostream &out);

}  // namespace dht::config
