#include "state.hpp"

#include "dht/diag.hpp"
#include "dht/files.hpp"
#include "dht/json.hpp"
#include "dht/record.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace dht::rules {

namespace {

// The journal's lines over the state in `root`: {"clock":T} sets the clock,
// {"sensor":{...}} replaces or adds a sensor, {"forget":NAME} drops one. The
// journal applies only to the state it follows (its first line names it); a
// last line without its newline was cut short by a crash and is left out.
// Whether there was a journal to apply; throws std::runtime_error, `root`
// unchanged, on a journal that is wrong.
bool apply_journal(json::object &root, std::string_view journal)
{
    const auto *generation = root.if_contains("journal");
    if (generation == nullptr || !generation->is_int64())
        return false;
    const std::string header = cat("{\"snapshot\":", generation->get_int64(), "}\n");
    if (!journal.starts_with(header))
        return false;  // from before the latest FILE: FILE has all of it
    journal.remove_prefix(header.size());
    std::vector<json::object> lines;
    JsonParser parser(64);
    json::value line;
    std::string error;
    for (std::size_t end; (end = journal.find('\n')) != std::string_view::npos; journal.remove_prefix(end + 1)) {
        const std::string where = cat("line ", lines.size() + 2, ": ");
        if (!parser.parse(journal.substr(0, end), line, error) || !line.is_object())
            throw std::runtime_error(where + (error.empty() ? "not an object" : error));
        auto &o = line.as_object();
        const auto *sensor = o.if_contains("sensor");
        const auto *name = sensor != nullptr && sensor->is_object() ? sensor->as_object().if_contains("name") : nullptr;
        const auto *forget = o.if_contains("forget");
        if (!o.contains("clock") && (name == nullptr || !name->is_string()) &&
            (forget == nullptr || !forget->is_string()))
            throw std::runtime_error(where + "neither a clock, a named sensor nor a sensor to forget");
        lines.push_back(std::move(o));
    }
    auto &sensors = root["sensors"].as_array();
    std::unordered_map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < sensors.size(); ++i)
        if (const auto *o = sensors[i].if_object(); o != nullptr)
            if (const auto *name = o->if_contains("name"); name != nullptr && name->is_string())
                index.emplace(std::string(name->get_string()), i);
    for (auto &o : lines) {
        if (auto *clock = o.if_contains("clock")) {
            root["clock"] = std::move(*clock);
        } else if (auto *sensor = o.if_contains("sensor")) {
            const auto [at, added] =
                index.emplace(std::string(sensor->as_object().at("name").get_string()), sensors.size());
            if (added)
                sensors.emplace_back(std::move(*sensor));
            else
                sensors[at->second] = std::move(*sensor);
        } else if (const auto at = index.find(std::string(o.at("forget").get_string())); at != index.end()) {
            sensors[at->second] = nullptr;
        }
    }
    sensors.erase(std::remove_if(sensors.begin(), sensors.end(), [](const json::value &v) { return v.is_null(); }),
                  sensors.end());
    return true;
}

// Whether the rules saved in a state file are `rules`, the same names with
// the same text: the states a journal would add are then read as written.
bool same_rules(const json::object &root, const RuleSet &rules)
{
    const auto *saved = root.if_contains("rules");
    if (saved == nullptr || !saved->is_object() || saved->get_object().size() != rules.rules.size())
        return false;
    return std::all_of(rules.rules.begin(), rules.rules.end(), [&](const Rule &r) {
        const auto *text = saved->get_object().if_contains(r.name);
        return text != nullptr && text->is_string() && text->get_string() == r.source;
    });
}

// Appends `text` to the file at `path`, which must exist, and syncs it.
std::string append_file(const std::string &path, std::string_view text)
{
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return std::strerror(errno);
    std::string error;
    while (!text.empty() && error.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno != EINTR)
            error = std::strerror(errno);
        else if (n > 0)
            text.remove_prefix(static_cast<std::size_t>(n));
    }
    if (error.empty() && ::fdatasync(fd) != 0)
        error = std::strerror(errno);
    ::close(fd);
    return error;
}

}  // namespace

void StateFile::load(Engine &engine)
{
    if (!enabled())
        return;
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec))
        return;  // the first run
    std::string text, journal;
    if (const auto error = read_file(path_, text); !error.empty())
        fail(exit_noinput, cat(path_, ": cannot read the state file: ", error));
    if (std::filesystem::exists(journal_path_, ec))
        if (const auto error = read_file(journal_path_, journal); !error.empty())
            fail(exit_noinput, cat(journal_path_, ": cannot read the state journal: ", error));
    JsonParser parser(64);
    json::value v;
    std::string error;
    try {
        if (!parser.parse(text, v, error))
            throw std::runtime_error(error);
        bool applied = false;
        auto *root = v.if_object();
        if (root != nullptr && root->contains("sensors") && root->at("sensors").is_array())
            try {
                applied = apply_journal(*root, journal);
            } catch (const std::runtime_error &e) {
                const std::string bad = journal_path_ + ".bad";
                std::rename(journal_path_.c_str(), bad.c_str());
                warn(cat(journal_path_, ": not a usable journal (", e.what(), "); the state of ", path_,
                         " alone is used, the journal is kept as ", bad));
            }
        engine.restore(v);
        debug(cat("state from ", path_, applied ? " and its journal: " : ": ", engine.sensors(), " sensors"));
        // FILE as it is holds the state read: a journal can follow it at once,
        // without writing it whole again. After a journal (and maybe a line
        // cut short), FILE is written whole first.
        if (const auto *g = root->if_contains("journal");
            g != nullptr && g->is_int64() && g->get_int64() > 0 && !applied && !engine.dirty() &&
            same_rules(*root, engine.rules())) {
            generation_ = static_cast<std::uint64_t>(g->get_int64());
            snapshot_size_ = text.size();
            engine.saved();
        }
    } catch (const std::runtime_error &e) {
        const std::string bad = path_ + ".bad";
        std::rename(path_.c_str(), bad.c_str());
        warn(cat(path_, ": not a usable state file (", e.what(), "); starting afresh, the file is kept as ", bad));
    }
}

void StateFile::save_changes(Engine &engine)
{
    if (!enabled())
        return;
    if (generation_ == 0 || journal_size_ > std::max<std::size_t>(snapshot_size_, 64 * 1024))
        return save(engine);
    std::string text = engine.save_changes();
    std::string error;
    if (journal_size_ > 0) {
        error = append_file(journal_path_, text);
    } else {
        // The first lines after FILE: a new journal, written whole.
        text.insert(0, cat("{\"snapshot\":", generation_, "}\n"));
        error = write_file_atomically(journal_path_, text);
    }
    if (!error.empty()) {
        warn(cat("cannot write the state to ", journal_path_, ": ", error));
        generation_ = 0;  // the whole state next time
        return;
    }
    written_ += text.size();
    journal_size_ += text.size();
    engine.saved();
}

void StateFile::save(Engine &engine)
{
    if (!enabled())
        return;
    // A number of its own for each FILE, which the journal that follows it
    // names: one left from an earlier FILE is not read over a later one.
    const auto now_ns = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    const std::uint64_t generation = std::max(now_ns & INT64_MAX, generation_ + 1);
    const std::string text = engine.save(generation);
    generation_ = 0;
    if (const auto error = write_file_atomically(path_, text); !error.empty()) {
        warn(cat("cannot write the state to ", path_, ": ", error));
        return;
    }
    written_ += text.size();
    snapshot_size_ = text.size();
    engine.saved();
    generation_ = generation;
    journal_size_ = 0;
    // The journal of the FILE before goes; the next changes start a new one.
    std::remove(journal_path_.c_str());
}

// {"version":1,"clock":T,"rules":{NAME:TEXT,...},["journal":G,]"sensors":[
// {"name":…,"topic":…,"last_seen":T,"rules":{NAME:{"count":N,…}}},
// with a health rule's "history":{"last":T,"since":T,"value":V,"readings":N,
// "steps":[[INDEX,V],…]},
// ...
// ]}
std::string Engine::save(std::uint64_t journal) const
{
    std::string out;
    ObjectWriter root(out);
    root.integer("version", 1);
    time_member(root, "clock", clock_);
    ObjectWriter rules(root.key("rules").out());
    for (const auto &rule : rules_.rules)
        rules.string(rule.name, rule.source);
    rules.close();
    if (journal != 0)
        root.integer("journal", static_cast<long long>(journal));
    root.key("sensors").out() += '[';
    bool first = true;
    for (Id id = 0; id < table_.end(); ++id) {
        if (!table_.present(id))
            continue;
        out += first ? "\n" : ",\n";
        first = false;
        append_sensor(out, id);
    }
    out += "\n]";
    root.close();
    out += '\n';
    return out;
}

std::string Engine::save_changes() const
{
    std::string out;
    ObjectWriter clock(out);
    time_member(clock, "clock", clock_);
    clock.close();
    out += '\n';
    for (const auto &name : changed_) {
        if (const Id id = table_.find(name); id == SensorTable::none) {
            ObjectWriter(out).string("forget", name).close();
        } else {
            out += R"({"sensor":)";
            append_sensor(out, id);
            out += '}';
        }
        out += '\n';
    }
    return out;
}

void Engine::append_sensor(std::string &out, Id id) const
{
    const auto &s = table_[id];
    ObjectWriter sensor(out);
    sensor.string("name", table_.name(id)).string("topic", table_.topic(id));
    time_member(sensor, "last_seen", s.last_seen);
    if (s.offline)
        sensor.boolean("offline", true);
    if (s.sensor_error)
        sensor.boolean("sensor_error", true);
    if (s.placeholder)
        sensor.boolean("placeholder", true);
    ObjectWriter states(sensor.key("rules").out());
    for (std::size_t i = 0; i < rules_.rules.size(); ++i) {
        const RuleState &st = state(id, i);
        if (st.idle())
            continue;
        ObjectWriter state(states.key(rules_.rules[i].name).out());
        state.integer("count", st.count);
        if (st.pending)
            time_member(state, "pending_since", st.since);
        if (st.firing) {
            state.boolean("firing", true);
            time_member(state, "fired_at", st.fired_at);
            time_member(state, "last_sent", st.last_sent);
            append_value(state.key("value").out(), st.value(), st.value_text());
            if (!st.reason().empty())
                state.string("reason", st.reason());
        }
        if (const auto *h = st.history()) {
            ObjectWriter history(state.key("history").out());
            time_member(history, "last", h->last);
            time_member(history, "since", h->since);
            history.number("value", h->value).integer("readings", h->readings);
            if (!h->steps.empty()) {
                std::string &steps = history.key("steps").out();
                steps += '[';
                for (const auto &step : h->steps) {
                    steps += steps.back() == '[' ? "[" : ",[";
                    steps += std::to_string(step.index);
                    steps += ',';
                    append_number(steps, step.extreme);
                    steps += ']';
                }
                steps += ']';
            }
            history.close();
        }
        state.close();
    }
    states.close();
    sensor.close();
}

namespace {

[[noreturn]] void bad_state(std::string_view what) { throw std::runtime_error(std::string(what)); }

TimePoint time_of(const json::object &o, std::string_view key)
{
    const auto *v = o.if_contains(key);
    const auto *s = v != nullptr ? v->if_string() : nullptr;
    const auto t = s != nullptr ? parse_rfc3339(*s) : std::nullopt;
    if (!t)
        bad_state(cat("\"", key, "\" is not an RFC 3339 time"));
    return *t;
}

double number_of(const json::object &o, std::string_view key)
{
    const auto *v = o.if_contains(key);
    if (v == nullptr || !v->is_number() || !std::isfinite(v->to_number<double>()))
        bad_state(cat("\"", key, "\" is not a number"));
    return v->to_number<double>();
}

// A health rule's history, as append_sensor() writes it: steps in order, at
// most window_steps + 1 of them.
Engine::RuleState::History history_of(const json::value &v)
{
    const auto *o = v.if_object();
    if (o == nullptr)
        bad_state("a history that is not an object");
    Engine::RuleState::History h;
    h.last = time_of(*o, "last");
    h.since = time_of(*o, "since");
    h.value = number_of(*o, "value");
    const double readings = number_of(*o, "readings");
    h.readings = readings < 0 ? 0 : static_cast<std::uint32_t>(std::min<double>(readings, UINT32_MAX));
    if (const auto *steps = o->if_contains("steps")) {
        const auto *a = steps->if_array();
        if (a == nullptr || a->size() > std::size_t{window_steps} + 1)
            bad_state("\"steps\" is not a list of at most 17 steps");
        for (const auto &step : *a) {
            const auto *pair = step.if_array();
            if (pair == nullptr || pair->size() != 2 || !(*pair)[0].is_int64() || !(*pair)[1].is_number() ||
                !std::isfinite((*pair)[1].to_number<double>()) ||
                (!h.steps.empty() && (*pair)[0].get_int64() <= h.steps.back().index))
                bad_state("a step that is not [INDEX,VALUE] after the one before");
            h.steps.push_back({(*pair)[0].get_int64(), (*pair)[1].to_number<double>()});
        }
    }
    return h;
}

}  // namespace

void Engine::restore(const json::value &state)
{
    const auto *root = state.if_object();
    if (root == nullptr || !root->contains("version") || !root->at("version").is_int64() ||
        root->at("version").get_int64() != 1)
        bad_state("not a dht-rules state file (version 1)");
    const auto *rules = root->if_contains("rules");
    const auto *sensors = root->if_contains("sensors");
    if (rules == nullptr || !rules->is_object() || sensors == nullptr || !sensors->is_array())
        bad_state("\"rules\" or \"sensors\" missing");
    const TimePoint clock = time_of(*root, "clock");

    // Read everything first: a file that is wrong anywhere changes nothing.
    struct Saved {
        std::string name, topic;
        TimePoint last_seen;
        bool offline, sensor_error, placeholder;
        std::vector<std::pair<std::string, RuleState>> states;
    };
    std::vector<Saved> saved;
    for (const auto &item : sensors->get_array()) {
        const auto *o = item.if_object();
        if (o == nullptr || !o->contains("name") || !o->at("name").is_string() || !o->contains("topic") ||
            !o->at("topic").is_string())
            bad_state("a sensor without a name or topic");
        Saved sv{std::string(o->at("name").get_string()), std::string(o->at("topic").get_string()),
                 time_of(*o, "last_seen"), o->contains("offline") && o->at("offline") == true,
                 o->contains("sensor_error") && o->at("sensor_error") == true,
                 o->contains("placeholder") && o->at("placeholder") == true, {}};
        if (const auto *states = o->if_contains("rules"); states != nullptr && states->is_object()) {
            for (const auto &[name, v] : states->get_object()) {
                if (!v.is_object())
                    bad_state(cat("the state of rule '", std::string_view(name), "' is not an object"));
                const auto &so = v.get_object();
                RuleState st;
                if (const auto *c = so.if_contains("count"); c != nullptr && c->is_int64() && c->get_int64() >= 0)
                    st.count = static_cast<std::uint32_t>(std::min<std::int64_t>(c->get_int64(), UINT32_MAX));
                if (so.contains("pending_since")) {
                    st.pending = true;
                    st.since = time_of(so, "pending_since");
                }
                if (so.contains("firing") && so.at("firing") == true) {
                    st.firing = true;
                    st.fired_at = time_of(so, "fired_at");
                    st.last_sent = time_of(so, "last_sent");
                    if (const auto *val = so.if_contains("value")) {
                        if (val->is_number()) {
                            st.type = FieldValue::Type::number;
                            st.number = val->to_number<double>();
                        } else if (val->is_string()) {
                            st.type = FieldValue::Type::string;
                            st.set_value_text(val->get_string());
                        }
                    }
                    if (const auto *reason = so.if_contains("reason"); reason != nullptr && reason->is_string())
                        st.set_reason(reason->get_string());
                }
                if (const auto *history = so.if_contains("history"))
                    st.remember() = history_of(*history);
                sv.states.emplace_back(std::string(name), std::move(st));
            }
        }
        saved.push_back(std::move(sv));
    }

    // Rules whose text is the same as when the state was saved continue; the
    // alerts of the others, changed or gone, resolve.
    const auto same_rule = [&](std::string_view name) -> std::optional<std::size_t> {
        for (std::size_t i = 0; i < rules_.rules.size(); ++i)
            if (rules_.rules[i].name == name) {
                const auto *src = rules->as_object().if_contains(name);
                if (src != nullptr && src->is_string() && src->get_string() == rules_.rules[i].source)
                    return i;
                return std::nullopt;
            }
        return std::nullopt;
    };
    if (clock > clock_)
        clock_ = clock;
    // Under --max-sensors, those with a firing alert first, then the latest
    // heard of; the others are forgotten, their alerts resolved.
    const std::size_t room = cap_.max() > table_.size() ? cap_.max() - table_.size() : 0;
    if (saved.size() > room) {
        const auto firing = [](const Saved &sv) {
            return std::any_of(sv.states.begin(), sv.states.end(), [](const auto &p) { return p.second.firing; });
        };
        std::stable_sort(saved.begin(), saved.end(), [&](const Saved &a, const Saved &b) {
            const bool fa = firing(a), fb = firing(b);
            return fa != fb ? fa : a.last_seen > b.last_seen;
        });
        const std::size_t n = saved.size() - room;
        warn(cat(n, n == 1 ? " sensor" : " sensors", " of the saved state beyond --max-sensors ", cap_.max(),
                 " forgotten"));
    }
    for (std::size_t k = 0; k < saved.size(); ++k) {
        auto &sv = saved[k];
        const bool kept = k < room;
        Id id = SensorTable::none;
        if (kept) {
            id = table_.find(sv.name);
            if (id == SensorTable::none)
                id = add(sv.name, sv.last_seen);
            auto &s = table_[id];
            s.last_seen = sv.last_seen;
            if (sv.placeholder != s.placeholder)
                placeholders_ += sv.placeholder ? 1 : -1;
            s.placeholder = sv.placeholder;
            s.matched = false;
            match_topic(id, sv.topic);
            table_[id].offline = sv.offline;
            table_[id].sensor_error = sv.sensor_error;
        }
        const About gone{sv.name, sv.topic, sv.last_seen};
        for (auto &[name, st] : sv.states) {
            if (const auto index = same_rule(name)) {
                if (kept) {
                    this->state(id, *index) = std::move(st);
                } else if (st.firing) {
                    ++resolved_;
                    alerted_ = true;
                    write(rules_.rules[*index], gone, st, false, std::max(clock_, st.fired_at), false, "forgotten");
                }
                continue;
            }
            if (!st.firing)
                continue;
            const auto *src = rules->as_object().if_contains(name);
            if (src == nullptr || !src->is_string())
                continue;
            RuleSet old;
            std::vector<ParseError> errors;
            parse_rules(src->get_string(), "state", old, errors);
            if (old.rules.size() != 1)
                continue;
            ++resolved_;
            alerted_ = true;
            write(old.rules.front(), kept ? about(id) : gone, st, false, std::max(clock_, st.fired_at), false,
                  "rule changed");
        }
    }
    last_ = SensorTable::none;
    next_deadline_ = TimePoint::min();
    dirty_ = alerted_ || saved.size() > room;
}

}  // namespace dht::rules
