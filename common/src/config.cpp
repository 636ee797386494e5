#include "config.hpp"

#include "dht/diag.hpp"
#include "dht/text.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <ostream>

namespace dht::config {
namespace {

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

bool settable(const CLI::Option *opt)
{
    static const std::set<std::string> not_in_files = {"help", "version", "config", "print-config"};
    return opt != nullptr && !opt->get_lnames().empty() && not_in_files.count(opt->get_lnames().front()) == 0;
}

const CLI::Option *find(const CLI::App &app, std::string_view key)
{
    const std::string name = key.size() == 1 ? cat("-", key) : cat("--", key);
    const auto *opt = app.get_option_no_throw(name);
    return settable(opt) ? opt : nullptr;
}

const CLI::App *subcommand(const CLI::App &app, std::string_view name)
{
    for (const auto *sub : app.get_subcommands([](const CLI::App *) { return true; }))
        if (sub->get_name() == name)
            return sub;
    return nullptr;
}

// "did you mean 'host'?" for the closest long option name, when one is close.
std::string suggestion(const CLI::App &app, std::string_view key)
{
    Nearest nearest(key, 3);
    for (const auto *opt : app.get_options({}))
        if (settable(opt))
            for (const auto &name : opt->get_lnames())
                nearest.offer(name);
    return nearest.best().empty() ? std::string() : cat(" (did you mean '", nearest.best(), "'?)");
}

[[noreturn]] void bad_line(const std::string &file, std::size_t line, std::string_view why)
{
    fail(exit_config, cat(file, ':', line, ": ", why));
}

void check_file(const CLI::App &top, const std::string &file, std::vector<Setting> &settings)
{
    std::ifstream in(file);
    if (!in)
        return;  // CLI11 says why, with the status of an unreadable file
    const CLI::App *section = &top;
    std::string text;
    for (std::size_t n = 1; std::getline(in, text); ++n) {
        const auto line = trim(text);
        if (line.empty() || line.front() == '#' || line.front() == ';')
            continue;
        if (line.front() == '[' && line.back() == ']') {
            const auto name = trim(line.substr(1, line.size() - 2));
            section = name == "default" ? &top : subcommand(top, name);
            if (section == nullptr)
                bad_line(file, n,
                         cat("[", printable(name), "]: no such section (", program(),
                             " reads KEY = VALUE lines; sections name subcommands only)"));
            continue;
        }
        const auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            const bool yaml = line.find(':') != std::string_view::npos;
            bad_line(file, n,
                     cat("'", printable(line.substr(0, 80)), "' is not KEY = VALUE", yaml ? " (a ':' is not an '=')" : ""));
        }
        auto key = trim(line.substr(0, eq));
        const CLI::App *app = section;
        if (const auto dot = key.find('.'); dot != std::string_view::npos && app == &top) {
            app = subcommand(top, key.substr(0, dot));
            if (app != nullptr)
                key = key.substr(dot + 1);
            else
                app = &top;
        }
        if (key.empty())
            bad_line(file, n, "a value without a key");
        const auto *opt = find(*app, key);
        if (opt == nullptr)
            bad_line(file, n, cat("unknown key '", printable(key), "'", suggestion(*app, key)));
        settings.push_back({opt, file, n});
    }
}

// A value as a config file takes it: numbers and booleans bare, else quoted.
std::string toml_string(std::string_view value)
{
    const bool bare = value == "true" || value == "false" ||
                      (!value.empty() && value.find_first_not_of("0123456789.-+") == std::string_view::npos &&
                       value.find_first_of("0123456789") != std::string_view::npos &&
                       std::count(value.begin(), value.end(), '.') <= 1);
    if (bare)
        return std::string(value);
    std::string out = "\"";
    for (const char c : value) {
        if (c == '"' || c == '\\')
            out += '\\';
        out += c;
    }
    return out + '"';
}

// What --print-config shows of a value: secrets masked.
std::string shown(const CLI::Option *opt, std::string value)
{
    const auto &name = opt->get_lnames().front();
    if (name.find("password") != std::string::npos && name.find("file") == std::string::npos)
        return "********";
    if (name == "url")
        if (const auto at = value.find('@'); at != std::string::npos)
            if (const auto colon = value.find(':', value.find("//") + 2); colon < at)
                value.replace(colon + 1, at - colon - 1, "********");
    return value;
}

}  // namespace

std::vector<Setting> check_files(const CLI::App &app, const std::vector<std::string> &files)
{
    std::vector<Setting> settings;
    for (const auto &file : files)
        check_file(app, file, settings);
    return settings;
}

std::vector<std::string> named_files(int argc, char **argv)
{
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--")
            break;
        if (arg == "--config" && i + 1 < argc)
            files.emplace_back(argv[++i]);
        else if (arg.starts_with("--config="))
            files.emplace_back(arg.substr(9));
    }
    return files;
}

std::set<const CLI::Option *> given_as_flags(const CLI::App &top, int argc, char **argv)
{
    std::set<const CLI::Option *> given;
    const CLI::App *app = &top;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--")
            break;
        if (arg.starts_with("--")) {
            const auto eq = arg.find('=');
            const auto *opt = app->get_option_no_throw(std::string(arg.substr(0, eq)));
            if (opt == nullptr)
                continue;
            given.insert(opt);
            if (eq == std::string_view::npos && opt->get_expected_max() > 0)
                ++i;  // its value
        } else if (arg.size() > 1 && arg.front() == '-') {
            for (std::size_t k = 1; k < arg.size(); ++k) {
                const auto *opt = app->get_option_no_throw(cat("-", arg[k]));
                if (opt == nullptr)
                    break;
                given.insert(opt);
                if (opt->get_expected_max() > 0) {
                    if (k + 1 == arg.size())
                        ++i;  // its value is the next argument
                    break;
                }
            }
        } else if (const auto *sub = subcommand(top, arg); sub != nullptr && app == &top) {
            app = sub;
        }
    }
    return given;
}

void print(const CLI::App &app, const std::vector<Setting> &settings, const std::set<const CLI::Option *> &flags,
           const std::vector<const CLI::Option *> &from_environment, std::ostream &out)
{
    // The file that set each option: the last one read wins.
    std::map<const CLI::Option *, const Setting *> in_file;
    for (const auto &s : settings)
        if (const auto it = in_file.find(s.option); it == in_file.end() || it->second->file != s.file)
            in_file[s.option] = &s;
    for (const auto *opt : app.get_options({})) {
        if (!settable(opt))
            continue;
        std::string origin;
        if (std::find(from_environment.begin(), from_environment.end(), opt) != from_environment.end())
            origin = cat("environment ", opt->get_envname());
        else if (flags.count(opt) != 0)
            origin = "flag";
        else if (const auto it = in_file.find(opt); it != in_file.end() && opt->count() > 0)
            origin = cat(it->second->file, ':', it->second->line);
        else if (opt->count() > 0)
            origin = "flag";
        std::string value;
        if (origin.empty()) {
            if (opt->get_default_str().empty())
                continue;
            origin = "default";
            value = toml_string(shown(opt, opt->get_default_str()));
        } else if (opt->get_expected_max() == 0) {
            value = opt->count() > 1 ? std::to_string(opt->count()) : opt->results().front();
        } else if (opt->results().size() == 1) {
            value = toml_string(shown(opt, opt->results().front()));
        } else {
            for (const auto &r : opt->results())
                value += (value.empty() ? "[" : ", ") + toml_string(shown(opt, r));
            value += "]";
        }
        std::string line = cat(opt->get_lnames().front(), " = ", value);
        line.resize(std::max<std::size_t>(line.size() + 1, 40), ' ');
        out << line << "# " << origin << '\n';
    }
}

}  // namespace dht::config
