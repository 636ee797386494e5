#include "policy.hpp"

#include "dht/diag.hpp"
#include "dht/files.hpp"
#include "dht/json.hpp"
#include "dht/time.hpp"

#include <charconv>

namespace dht::escalate {

// wordexp(3) would do this but also expands $VARS, ~ and globs: a command in a
// policy file means exactly what it says, so only quoting is understood here.
std::optional<Command> split_command(std::string_view text, std::string &error)
{
    Command words;
    std::string word;
    bool in_word = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '#' && !in_word)
            break;  // a comment, as in sh
        if (c == ' ' || c == '\t') {
            if (in_word)
                words.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else if (c == '\'') {
            const auto close = text.find('\'', i + 1);
            if (close == std::string_view::npos) {
                error = "unterminated ' quote";
                return std::nullopt;
            }
            word.append(text.substr(i + 1, close - i - 1));
            i = close;
            in_word = true;
        } else if (c == '"') {
            std::size_t j = i + 1;
            for (; j < text.size() && text[j] != '"'; ++j) {
                // In double quotes a backslash escapes only $ ` " \ (sh).
                if (text[j] == '\\' && j + 1 < text.size() && std::string_view("$`\"\\").find(text[j + 1]) != std::string_view::npos)
                    ++j;
                word += text[j];
            }
            if (j >= text.size()) {
                error = "unterminated \" quote";
                return std::nullopt;
            }
            i = j;
            in_word = true;
        } else if (c == '\\') {
            if (i + 1 < text.size())
                word += text[++i];
            in_word = true;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word)
        words.push_back(std::move(word));
    return words;
}

std::string join_command(const Command &argv)
{
    std::string out;
    for (const auto &word : argv) {
        if (!out.empty())
            out += ' ';
        const bool plain = !word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                   "0123456789-_./=:,@%+") == std::string::npos;
        if (plain) {
            out += word;
            continue;
        }
        out += '\'';
        for (const char c : word) {
            if (c == '\'')
                out += "'\\''";
            else
                out += c;
        }
        out += '\'';
    }
    return out;
}

bool QuietHours::contains(int minute) const noexcept
{
    if (begin == end)
        return true;  // all day
    if (begin < end)
        return minute >= begin && minute < end;
    return minute >= begin || minute < end;
}

int QuietHours::minutes_left(int minute) const noexcept
{
    if (!contains(minute))
        return 0;
    const int left = end - minute;
    return left > 0 ? left : left + 24 * 60;
}

std::string_view event_name(Event e) noexcept
{
    switch (e) {
    case Event::opened: return "opened";
    case Event::escalation: return "escalation";
    case Event::acknowledged: return "acknowledged";
    case Event::resolved: return "resolved";
    case Event::reminder: return "reminder";
    case Event::notify_failed: return "notify-failed";
    case Event::silenced: return "silenced";
    case Event::unsilenced: return "unsilenced";
    }
    return "?";
}

std::optional<Event> parse_event(std::string_view name) noexcept
{
    for (const Event e : {Event::opened, Event::escalation, Event::acknowledged, Event::resolved, Event::reminder,
                          Event::silenced, Event::unsilenced})
        if (event_name(e) == name)
            return e;
    return std::nullopt;
}

Duration EscalationPolicy::wait_at(int level) const
{
    // The wait at `level` is the `after` of the level above it.
    const auto above = static_cast<std::size_t>(level);  // index of level + 1
    if (above < levels.size() && levels[above].after)
        return *levels[above].after;
    return escalate_after;
}

std::vector<Command> EscalationPolicy::commands(Event event, int level) const
{
    std::vector<Command> out;
    if (event == Event::opened || event == Event::escalation || event == Event::reminder) {
        out = every_level;
        if (level >= 1 && static_cast<std::size_t>(level) <= levels.size())
            for (const auto &c : levels[static_cast<std::size_t>(level) - 1].notify)
                out.push_back(c);
    }
    for (const auto &[e, c] : on_event)
        if (e == event)
            out.push_back(c);
    return out;
}

int EscalationPolicy::held_minutes(std::string_view severity, int minute) const noexcept
{
    int held = 0;
    for (const auto &q : quiet)
        if (q.all || severity != "critical")
            held = std::max(held, q.minutes_left(minute));
    return held;
}

namespace {

json::value commands_json(const std::vector<Command> &commands)
{
    json::array out;
    for (const auto &c : commands) {
        json::array argv;
        for (const auto &w : c)
            argv.emplace_back(json::string(w));
        out.emplace_back(std::move(argv));
    }
    return out;
}

json::value duration_json(const std::optional<Duration> &d)
{
    return d ? json::value(d->count()) : json::value(nullptr);
}

std::optional<Duration> duration_from(const json::value &v)
{
    if (v.is_null())
        return std::nullopt;
    const auto n = v.as_int64();
    if (n <= 0 || Duration(n) > kMaxDuration)
        throw std::invalid_argument("duration out of range");
    return Duration(n);
}

std::vector<Command> commands_from(const json::value &v)
{
    std::vector<Command> out;
    for (const auto &c : v.as_array()) {
        Command argv;
        for (const auto &w : c.as_array())
            argv.emplace_back(w.as_string());
        if (argv.empty())
            throw std::invalid_argument("empty command");
        out.push_back(std::move(argv));
    }
    return out;
}

}  // namespace

std::string policy_to_json(const EscalationPolicy &p)
{
    json::object o;
    o["escalate_after"] = duration_json(p.escalate_after);
    o["max_level"] = p.max_level;
    o["repeat"] = duration_json(p.repeat);
    o["ack_timeout"] = duration_json(p.ack_timeout);
    o["notify_timeout"] = duration_json(p.notify_timeout);
    o["notify_retries"] = p.notify_retries;
    o["notify_retry_delay"] = duration_json(p.notify_retry_delay);
    json::array quiet;
    for (const auto &q : p.quiet)
        quiet.emplace_back(json::object{{"begin", q.begin}, {"end", q.end}, {"all", q.all}});
    o["quiet"] = std::move(quiet);
    json::array levels;
    for (const auto &l : p.levels)
        levels.emplace_back(json::object{{"after", duration_json(l.after)}, {"notify", commands_json(l.notify)}});
    o["levels"] = std::move(levels);
    o["every_level"] = commands_json(p.every_level);
    json::array on;
    for (const auto &[e, c] : p.on_event)
        on.emplace_back(json::object{{"event", event_name(e)}, {"notify", commands_json({c})}});
    o["on_event"] = std::move(on);
    return to_json(o);
}

std::optional<EscalationPolicy> policy_from_json(std::string_view text)
{
    try {
        const auto v = json::parse(text);
        const auto &o = v.as_object();
        EscalationPolicy p;
        p.escalate_after = duration_from(o.at("escalate_after")).value_or(p.escalate_after);
        p.max_level = static_cast<int>(o.at("max_level").as_int64());
        if (p.max_level < 1 || p.max_level > 100)
            return std::nullopt;
        p.repeat = duration_from(o.at("repeat"));
        p.ack_timeout = duration_from(o.at("ack_timeout"));
        p.notify_timeout = duration_from(o.at("notify_timeout")).value_or(p.notify_timeout);
        p.notify_retries = static_cast<int>(o.at("notify_retries").as_int64());
        p.notify_retry_delay = duration_from(o.at("notify_retry_delay")).value_or(p.notify_retry_delay);
        for (const auto &q : o.at("quiet").as_array()) {
            const auto &qo = q.as_object();
            p.quiet.push_back({static_cast<int>(qo.at("begin").as_int64()), static_cast<int>(qo.at("end").as_int64()),
                               qo.at("all").as_bool()});
        }
        for (const auto &l : o.at("levels").as_array()) {
            const auto &lo = l.as_object();
            p.levels.push_back({duration_from(lo.at("after")), commands_from(lo.at("notify"))});
        }
        p.every_level = commands_from(o.at("every_level"));
        for (const auto &x : o.at("on_event").as_array()) {
            const auto &xo = x.as_object();
            const auto e = parse_event(xo.at("event").as_string());
            auto commands = commands_from(xo.at("notify"));
            if (!e || commands.size() != 1)
                return std::nullopt;
            p.on_event.emplace_back(*e, std::move(commands.front()));
        }
        return p;
    } catch (const std::exception &) {
        return std::nullopt;  // written by another version: the caller's own policy stands
    }
}

namespace {

// One line of a policy file, cut into words (comments gone).
class Line {
public:
    Line(std::string_view text) : text_(text) {}

    // The next word, or empty at the end.
    std::string_view word()
    {
        skip_space();
        const auto start = pos_;
        while (pos_ < text_.size() && text_[pos_] != ' ' && text_[pos_] != '\t')
            ++pos_;
        return text_.substr(start, pos_ - start);
    }
    std::string_view rest()
    {
        skip_space();
        return text_.substr(pos_);
    }
    bool done()
    {
        skip_space();
        return pos_ >= text_.size();
    }

private:
    void skip_space()
    {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t'))
            ++pos_;
    }
    std::string_view text_;
    std::size_t pos_ = 0;
};

std::optional<int> parse_int(std::string_view s)
{
    int v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size())
        return std::nullopt;
    return v;
}

// HH:MM as minutes since midnight.
std::optional<int> parse_clock(std::string_view s)
{
    const auto colon = s.find(':');
    if (colon == std::string_view::npos || s.size() - colon != 3)
        return std::nullopt;
    const auto h = parse_int(s.substr(0, colon));
    const auto m = parse_int(s.substr(colon + 1));
    if (!h || !m || *h < 0 || *h > 24 || *m < 0 || *m > 59 || (*h == 24 && *m != 0))
        return std::nullopt;
    return *h * 60 + *m;
}

constexpr int kMaxLevels = 100;

}  // namespace

void parse_policy(std::string_view text, const std::string &file, EscalationPolicy &policy,
                  std::vector<PolicyError> &errors)
{
    std::size_t number = 0;
    if (text.substr(0, 3) == "\xEF\xBB\xBF")
        text.remove_prefix(3);  // a byte-order mark, as some editors write
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view raw = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        ++number;
        if (!raw.empty() && raw.back() == '\r')
            raw.remove_suffix(1);
        const auto error = [&](std::string message) { errors.push_back({file, number, std::move(message)}); };
        Line line(raw);
        const auto key = line.word();
        if (key.empty() || key.front() == '#')
            continue;
        const auto duration = [&](std::string_view what, bool zero_ok) -> std::optional<Duration> {
            const auto w = line.word();
            const auto d = parse_duration(w);
            if (!d || d->count() < 0 || (!zero_ok && d->count() == 0)) {
                error(cat(what, ": '", w, "' is not a duration such as 15m"));
                return std::nullopt;
            }
            if (*d > kMaxDuration) {
                error(cat(what, ": '", w, "' is longer than ten years"));
                return std::nullopt;
            }
            return d;
        };
        const auto command = [&](std::string_view words) -> std::optional<Command> {
            std::string why;
            auto argv = split_command(words, why);
            if (!argv) {
                error(cat("notify: ", why));
                return std::nullopt;
            }
            if (argv->empty()) {
                error("notify: no command given");
                return std::nullopt;
            }
            if (!valid_utf8(words)) {
                error("notify: the command is not valid UTF-8");
                return std::nullopt;
            }
            policy.origins.push_back({file, number, *argv});
            return argv;
        };
        const auto end_of_line = [&] {
            if (const auto extra = line.rest(); !extra.empty() && extra.front() != '#')
                error(cat("unexpected '", extra, "' after ", key));
        };

        if (key == "escalate-after") {
            if (const auto d = duration(key, false))
                policy.escalate_after = *d;
            end_of_line();
        } else if (key == "max-level") {
            const auto w = line.word();
            const auto n = parse_int(w);
            if (!n || *n < 1 || *n > kMaxLevels)
                error(cat("max-level: '", w, "' is not a level from 1 to ", kMaxLevels));
            else
                policy.max_level = *n;
            end_of_line();
        } else if (key == "repeat" || key == "ack-timeout" || key == "notify-timeout" || key == "notify-retry-delay") {
            if (const auto d = duration(key, false)) {
                if (key == "repeat")
                    policy.repeat = *d;
                else if (key == "ack-timeout")
                    policy.ack_timeout = *d;
                else if (key == "notify-timeout")
                    policy.notify_timeout = *d;
                else
                    policy.notify_retry_delay = *d;
            }
            end_of_line();
        } else if (key == "notify-retries") {
            const auto w = line.word();
            const auto n = parse_int(w);
            if (!n || *n < 0 || *n > 100)
                error(cat("notify-retries: '", w, "' is not a count from 0 to 100"));
            else
                policy.notify_retries = *n;
            end_of_line();
        } else if (key == "quiet") {
            const auto w = line.word();
            const auto dash = w.find('-');
            const auto begin = dash == std::string_view::npos ? std::nullopt : parse_clock(w.substr(0, dash));
            const auto end = dash == std::string_view::npos ? std::nullopt : parse_clock(w.substr(dash + 1));
            if (!begin || !end) {
                error(cat("quiet: '", w, "' is not a time window such as 22:00-07:00"));
                continue;
            }
            QuietHours q{*begin % (24 * 60), *end % (24 * 60), false};
            if (const auto what = line.word(); what == "all")
                q.all = true;
            else if (!what.empty() && what.front() != '#')
                error(cat("quiet: '", what, "' should be 'all' (hold critical notifications too) or nothing"));
            policy.quiet.push_back(q);
            end_of_line();
        } else if (key == "level") {
            const auto w = line.word();
            const auto n = parse_int(w);
            if (!n || *n < 1 || *n > kMaxLevels) {
                error(cat("level: '", w, "' is not a level from 1 to ", kMaxLevels));
                continue;
            }
            if (policy.levels.size() < static_cast<std::size_t>(*n))
                policy.levels.resize(static_cast<std::size_t>(*n));
            auto &level = policy.levels[static_cast<std::size_t>(*n) - 1];
            auto next = line.word();
            if (next == "after") {
                if (*n == 1) {
                    error("level 1: incidents open at level 1; 'after' belongs to the levels above it");
                    line.word();
                } else if (const auto d = duration("level after", false)) {
                    level.after = *d;
                }
                next = line.word();
            }
            if (next == "notify") {
                if (auto c = command(line.rest()))
                    level.notify.push_back(std::move(*c));
            } else if (!next.empty() && next.front() != '#') {
                error(cat("level ", *n, ": expected 'after DURATION' or 'notify COMMAND', not '", next, "'"));
            }
        } else if (key == "on") {
            const auto w = line.word();
            const auto e = parse_event(w);
            if (!e) {
                error(cat("on: '", w, "' is not an event (opened, escalation, acknowledged, resolved, reminder)"));
                continue;
            }
            if (const auto n = line.word(); n != "notify") {
                error(cat("on ", w, ": expected 'notify COMMAND'"));
                continue;
            }
            if (auto c = command(line.rest()))
                policy.on_event.emplace_back(*e, std::move(*c));
        } else {
            error(cat("unknown setting '", key,
                      "' (escalate-after, max-level, repeat, ack-timeout, quiet, level, on, notify-timeout, "
                      "notify-retries, notify-retry-delay)"));
        }
    }
}

bool PolicyFlags::given() const noexcept
{
    return escalate_after || repeat || ack_timeout || notify_timeout || notify_retry_delay || max_level > 0 ||
           notify_retries >= 0 || !notify.empty();
}

std::optional<EscalationPolicy> load_policy(const std::string &file, const PolicyFlags &flags)
{
    EscalationPolicy p;
    if (!file.empty()) {
        std::string text;
        if (const auto error = read_file(file, text); !error.empty())
            fail(exit_noinput, cat(file, ": ", error));
        std::vector<PolicyError> errors;
        parse_policy(text, file, p, errors);
        for (const auto &e : errors)
            warn(cat(e.file, ":", e.line, ": ", e.message));
        if (!errors.empty()) {
            warn(cat(errors.size(), errors.size() == 1 ? " error" : " errors", " in the policy"));
            return std::nullopt;
        }
    }
    p.escalate_after = flags.escalate_after.value_or(p.escalate_after);
    if (flags.max_level > 0)
        p.max_level = flags.max_level;
    if (flags.repeat)
        p.repeat = flags.repeat;
    if (flags.ack_timeout)
        p.ack_timeout = flags.ack_timeout;
    p.notify_timeout = flags.notify_timeout.value_or(p.notify_timeout);
    p.notify_retry_delay = flags.notify_retry_delay.value_or(p.notify_retry_delay);
    if (flags.notify_retries >= 0)
        p.notify_retries = flags.notify_retries;
    p.every_level.insert(p.every_level.end(), flags.notify.begin(), flags.notify.end());
    for (const auto &c : flags.notify)
        p.origins.push_back({"--notify", 0, c});
    return p;
}

}  // namespace dht::escalate
