#include "dht/calibration.hpp"

#include "dht/derived.hpp"
#include "dht/diag.hpp"
#include "dht/files.hpp"
#include "dht/text.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <charconv>

namespace dht {

namespace {

// The next whitespace-separated word of `line` from `at`, or "".
std::string_view word(std::string_view line, std::size_t &at)
{
    while (at < line.size() && (line[at] == ' ' || line[at] == '\t'))
        ++at;
    const std::size_t begin = at;
    while (at < line.size() && line[at] != ' ' && line[at] != '\t')
        ++at;
    return line.substr(begin, at - begin);
}

bool field_name_ok(std::string_view f)
{
    if (f.empty() || f.size() > 256 || f.front() == '.' || f.back() == '.' || f.find("..") != std::string_view::npos)
        return false;
    return std::all_of(f.begin(), f.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
}

// A decimal number with an optional sign: "+0.4", "-3", "1.25"; no exponent, no "inf".
std::optional<double> parse_offset(std::string_view s)
{
    std::string_view digits = s;
    if (!digits.empty() && (digits.front() == '+' || digits.front() == '-'))
        digits.remove_prefix(1);
    if (digits.empty() || digits.front() == '.' || digits.back() == '.' ||
        std::count(digits.begin(), digits.end(), '.') > 1 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }))
        return std::nullopt;
    double v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size())
        return std::nullopt;
    return s.front() == '-' ? -v : v;
}

}  // namespace

std::optional<Calibration> Calibration::parse(std::string_view text, std::string_view name, std::string &error)
{
    Calibration c;
    std::vector<std::size_t> line_of;  // each entry's line, for duplicates
    std::size_t number = 0;
    const auto bad = [&](std::string_view what) {
        error = cat(name, ":", number, ": ", what);
        return std::nullopt;
    };
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t nl = std::min(text.find('\n', at), text.size());
        std::string_view line = text.substr(at, nl - at);
        at = nl + 1;
        if (++number > max_lines)
            return bad(cat("more than ", max_lines, " lines"));
        if (line.ends_with('\r'))
            line.remove_suffix(1);
        if (std::any_of(line.begin(), line.end(), [](char ch) { return ch != '\t' && static_cast<unsigned char>(ch) < 0x20; }))
            return bad("a control character");
        std::size_t pos = 0;
        const std::string_view filter = word(line, pos);
        if (filter.empty() || filter.front() == '#')
            continue;  // blank or a comment
        const std::string_view field = word(line, pos);
        const std::string_view offset_text = word(line, pos);
        const std::string_view rest = word(line, pos);
        if (offset_text.empty())
            return bad("expected TOPIC-FILTER FIELD OFFSET (e.g. dht11/cellar/data temperature +0.4)");
        if (!rest.empty() && rest.front() != '#')
            return bad(cat("unexpected '", printable(rest), "' after the offset (a comment starts with #)"));
        const std::string filter_text(filter);
        if (filter.size() > 1024 || mosquitto_sub_topic_check(filter_text.c_str()) != MOSQ_ERR_SUCCESS)
            return bad(cat("'", printable(filter), "' is not a topic filter"));
        if (!field_name_ok(field))
            return bad(cat("'", printable(field), "' is not a field name (letters, digits, _ - and . between names)"));
        if (derived_field(field))
            return bad(cat("'", field, "' is derived from the calibrated temperature and humidity: calibrate those"));
        const auto offset = parse_offset(offset_text);
        if (!offset)
            return bad(cat("'", printable(offset_text), "' is not an offset (a decimal number such as +0.4 or -1.5)"));
        if (*offset > max_offset || *offset < -max_offset)
            return bad(cat("offset ", offset_text, " is beyond +-", max_offset));
        for (std::size_t i = 0; i < c.entries_.size(); ++i)
            if (c.entries_[i].filter == filter && c.entries_[i].field == field)
                return bad(cat(printable(filter), " ", field, " is calibrated already on line ", line_of[i]));
        const bool exact = filter.find_first_of("+#") == std::string_view::npos;
        c.entries_.push_back({filter_text, std::string(field), *offset, exact});
        line_of.push_back(number);
        if (std::find(c.fields_.begin(), c.fields_.end(), field) == c.fields_.end())
            c.fields_.emplace_back(field);
    }
    return c;
}

Calibration Calibration::load(const std::string &path)
{
    std::string text;
    if (const auto error = read_file(path, text); !error.empty())
        fail(exit_noinput, cat(path, ": ", error));
    std::string error;
    auto c = parse(text, path, error);
    if (!c)
        fail(exit_config, error);
    return std::move(*c);
}

bool Calibration::calibrates(std::string_view field) const noexcept
{
    return std::find(fields_.begin(), fields_.end(), field) != fields_.end();
}

std::optional<double> Calibration::offset(std::string_view sensor, std::string_view field) const
{
    thread_local std::string text;  // libmosquitto wants a C string
    bool have_text = false;
    for (const auto &e : entries_) {
        if (e.field != field)
            continue;
        if (e.exact) {
            if (e.filter == sensor)
                return e.offset;
            continue;
        }
        if (!have_text) {
            text.assign(sensor);
            have_text = true;
        }
        bool match = false;
        if (mosquitto_topic_matches_sub(e.filter.c_str(), text.c_str(), &match) == MOSQ_ERR_SUCCESS && match)
            return e.offset;
    }
    return std::nullopt;
}

}  // namespace dht
