#include "help.hpp"

#include "dht/diag.hpp"
#include "dht/text.hpp"

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace dht {
namespace {

constexpr std::size_t kWidth = 80;   // the whole help, every line
constexpr std::size_t kColumn = 30;  // where descriptions start

// The groups of options every tool shares come after the tool's own, in this order.
const std::vector<std::string> kSharedGroups = {"Input", "MQTT", "TLS", "Last will"};

// `text` wrapped at word boundaries to `width` columns, every line after the
// first indented by `indent` spaces; its own line breaks kept.
std::string wrap(std::string_view text, std::size_t first_column, std::size_t indent)
{
    std::string out;
    std::size_t column = first_column;
    bool line_start = true;
    while (!text.empty()) {
        if (text.front() == '\n') {
            out += '\n';
            out.append(indent, ' ');
            column = indent;
            line_start = true;
            text.remove_prefix(1);
            continue;
        }
        if (text.front() == ' ') {
            text.remove_prefix(1);
            if (!line_start && !text.empty() && text.front() != ' ' && text.front() != '\n') {
                const auto end = text.find_first_of(" \n");
                const auto word = std::min(end, text.size());
                if (column + 1 + word > kWidth && column > indent) {
                    out += '\n';
                    out.append(indent, ' ');
                    column = indent;
                } else {
                    out += ' ';
                    ++column;
                }
            } else if (line_start) {
                out += ' ';  // leading spaces: the text's own alignment
                ++column;
            }
            continue;
        }
        const auto word = std::min(text.find_first_of(" \n"), text.size());
        out.append(text.substr(0, word));
        column += word;
        line_start = false;
        text.remove_prefix(word);
    }
    return out;
}

// What a value is called: N, NUMBER, TEXT, or its few choices, without CLI11's
// "INT:INT in [1 - 65535]".
std::string plain_type(const CLI::Option *opt)
{
    std::string type = opt->get_type_name();
    const auto colon = type.find(':');
    if (colon == std::string::npos)
        return type;
    const std::string base = type.substr(0, colon), rest = type.substr(colon + 1);
    if (base != "INT" && base != "UINT" && base != "FLOAT" && base != "TEXT")
        return base + ":" + rest == type && rest.find_first_of("{[") == std::string::npos ? type : base;
    if (rest.size() > 2 && rest.front() == '{' && rest.back() == '}') {
        std::string choices = rest.substr(1, rest.size() - 2);
        std::replace(choices.begin(), choices.end(), ',', '|');
        if (choices.size() <= 24)
            return choices;
    }
    if (base == "INT" || base == "UINT")
        return "N";
    if (base == "FLOAT")
        return "NUMBER";
    return base;
}

class Help : public CLI::Formatter {
public:
    std::string make_help(const CLI::App *app, std::string name, CLI::AppFormatMode mode) const override
    {
        if (mode == CLI::AppFormatMode::Sub)
            return make_expanded(app);
        std::ostringstream out;
        out << make_description(app) << make_usage(app, name) << make_positionals(app);
        std::vector<std::string> groups = app->get_groups();
        std::stable_partition(groups.begin(), groups.end(), [](const std::string &g) {
            return std::find(kSharedGroups.begin(), kSharedGroups.end(), g) == kSharedGroups.end();
        });
        std::stable_sort(std::find_first_of(groups.begin(), groups.end(), kSharedGroups.begin(), kSharedGroups.end()),
                         groups.end(), [](const std::string &a, const std::string &b) {
                             return std::find(kSharedGroups.begin(), kSharedGroups.end(), a) <
                                    std::find(kSharedGroups.begin(), kSharedGroups.end(), b);
                         });
        for (const auto &group : groups) {
            const auto opts = app->get_options([&group](const CLI::Option *opt) {
                return opt->get_group() == group && opt->nonpositional();
            });
            if (!group.empty() && !opts.empty())
                out << make_group(group, false, opts);
        }
        out << make_subcommands(app, mode) << make_footer(app);
        return out.str();
    }

    std::string make_description(const CLI::App *app) const override
    {
        // A line break inside a sentence is a space: the paragraph is
        // wrapped again; a break after '.' or ':', or before an indented
        // line, stays.
        auto text = app->get_description();
        for (std::size_t i = 1, line = 0; i + 1 < text.size(); ++i)
            if (text[i] == '\n') {
                if (text[line] != ' ' && text[i + 1] != ' ' && text[i - 1] != '.' && text[i - 1] != ':')
                    text[i] = ' ';
                else
                    line = i + 1;
            }
        return text.empty() ? std::string() : wrap(text, 0, 0) + "\n";
    }

    std::string make_option(const CLI::Option *opt, bool positional) const override
    {
        std::string head = "  " + make_option_name(opt, positional) + make_option_opts(opt);
        std::string desc = make_option_desc(opt);
        if (head.size() + 2 > kColumn) {
            head += '\n';
            head.append(kColumn, ' ');
        } else {
            head.resize(kColumn, ' ');
        }
        return head + wrap(desc, kColumn, kColumn) + "\n";
    }

    std::string make_option_opts(const CLI::Option *opt) const override
    {
        std::string out;
        if (opt->get_type_size() != 0) {
            if (const auto type = plain_type(opt); !type.empty())
                out += " " + type;
            if (opt->get_expected_max() == CLI::detail::expected_max_vector_size)
                out += " ...";
        }
        return out;
    }

    std::string make_option_desc(const CLI::Option *opt) const override
    {
        std::string desc = opt->get_description();
        if (!opt->get_envname().empty())
            desc += " [$" + opt->get_envname() + "]";
        return desc;
    }

    std::string make_subcommand(const CLI::App *sub) const override
    {
        std::string head = "  " + sub->get_display_name();
        if (head.size() + 2 > kColumn) {
            head += '\n';
            head.append(kColumn, ' ');
        } else {
            head.resize(kColumn, ' ');
        }
        return head + wrap(sub->get_description(), kColumn, kColumn) + "\n";
    }
};

// The long option name of `app` (or of its subcommands) nearest to `arg`, as
// " (did you mean '--host'?)", or "" (none is near; single letters are all
// near each other, so they get no suggestion).
std::string nearest_option(const CLI::App &app, std::string_view arg)
{
    Nearest nearest(arg, arg.starts_with("--") ? 3 : 0);
    const auto all = [](const CLI::Option *) { return true; };
    std::vector<const CLI::App *> apps = {&app};
    for (const auto *sub : app.get_subcommands([](const CLI::App *) { return true; }))
        apps.push_back(sub);
    for (const auto *a : apps)
        for (const auto *opt : a->get_options(all))
            for (const auto &name : opt->get_lnames())
                nearest.offer("--" + name);
    return nearest.best().empty() ? std::string() : cat(" (did you mean '", nearest.best(), "'?)");
}

bool huge(std::string_view number) { return number.size() > 15; }

std::string trimmed_number(std::string number)
{
    if (number.find('.') != std::string::npos) {
        while (number.back() == '0')
            number.pop_back();
        if (number.back() == '.')
            number.pop_back();
    }
    return number;
}

}  // namespace

std::string plain_error(const CLI::App &app, const std::string &what)
{
    // "The following arguments were not expected: x --hots" (reversed: CLI11
    // was given the arguments backwards).
    if (const auto colon = what.find(" not expected: "); colon != std::string::npos) {
        std::istringstream words(what.substr(colon + 15));
        std::vector<std::string> extras;
        for (std::string w; words >> w;)
            extras.push_back(w);
        std::reverse(extras.begin(), extras.end());
        for (const auto &arg : extras)
            if (arg.size() > 1 && arg.front() == '-')
                return cat("unknown option '", printable(arg), "'",
                           nearest_option(app, arg.substr(0, arg.find('='))));
        if (!extras.empty())
            return cat("unexpected argument '", printable(extras.front()), "'");
    }
    // "--count: Value 0 not in range 0.000000 to 1797…": no 309-digit bound.
    if (const auto v = what.find(": Value "); v != std::string::npos) {
        const auto range = what.find(" not in range ", v);
        const auto to = what.find(" to ", range == std::string::npos ? v : range + 14);
        if (range != std::string::npos && to != std::string::npos && huge(what.substr(to + 4))) {
            const std::string name = what.substr(0, v), value = what.substr(v + 8, range - v - 8);
            const std::string low = trimmed_number(what.substr(range + 14, to - range - 14));
            char *end = nullptr;
            const double x = std::strtod(value.c_str(), &end);
            if (end == value.c_str() || *end != '\0')
                return cat(name, ": '", printable(value), "' is not a number");
            const double least = std::strtod(low.c_str(), nullptr);
            if (x > least)
                return cat(name, ": ", value, " is too large");
            return cat(name, ": ", value, x < least ? " is less than " : " must be more than ", low);
        }
    }
    return what;
}

void use_plain_help(CLI::App &app)
{
    const auto help = std::make_shared<Help>();
    app.formatter(help);
    for (auto *sub : app.get_subcommands([](const CLI::App *) { return true; }))
        sub->formatter(help);
}

}  // namespace dht
