#include "state.hpp"

#include "dht/diag.hpp"
#include "dht/files.hpp"
#include "dht/json.hpp"
#include "dht/record.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace dht::rules {

void StateFile::load(Engine &engine) const
{
    if (!enabled())
        return;
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec))
        return;  // the first run
    std::string text;
    if (const auto error = read_file(path_, text); !error.empty())
        fail(exit_noinput, cat(path_, ": cannot read the state file: ", error));
    JsonParser parser(64);
    json::value v;
    std::string error;
    try {
        if (!parser.parse(text, v, error))
            throw std::runtime_error(error);
        engine.restore(v);
        debug(cat("state from ", path_, ": ", engine.sensors(), " sensors"));
    } catch (const std::runtime_error &e) {
        const std::string bad = path_ + ".bad";
        std::rename(path_.c_str(), bad.c_str());
        warn(cat(path_, ": not a usable state file (", e.what(), "); starting afresh, the file is kept as ", bad));
    }
}

void StateFile::save(Engine &engine) const
{
    if (!enabled())
        return;
    if (const auto error = write_file_atomically(path_, engine.save()); !error.empty())
        warn(cat("cannot write the state to ", path_, ": ", error));
    else
        engine.saved();
}

// {"version":1,"clock":T,"rules":{NAME:TEXT,...},"sensors":[
// {"name":…,"topic":…,"last_seen":T,"rules":{NAME:{"count":N,…}}},
// ...
// ]}
std::string Engine::save() const
{
    std::string out;
    ObjectWriter root(out);
    root.integer("version", 1);
    time_member(root, "clock", clock_);
    ObjectWriter rules(root.key("rules").out());
    for (const auto &rule : rules_.rules)
        rules.string(rule.name, rule.source);
    rules.close();
    root.key("sensors").out() += '[';
    bool first = true;
    for (const auto &[name, s] : sensors_) {
        out += first ? "\n" : ",\n";
        first = false;
        ObjectWriter sensor(out);
        sensor.string("name", s->name).string("topic", s->topic);
        time_member(sensor, "last_seen", s->last_seen);
        if (s->offline)
            sensor.boolean("offline", true);
        if (s->placeholder)
            sensor.boolean("placeholder", true);
        ObjectWriter states(sensor.key("rules").out());
        for (std::size_t i = 0; i < rules_.rules.size(); ++i) {
            const RuleState &st = s->states[i];
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
                append_value(state.key("value").out(), st.value, st.value_text);
                if (!st.reason.empty())
                    state.string("reason", st.reason);
            }
            state.close();
        }
        states.close();
        sensor.close();
    }
    out += "\n]";
    root.close();
    out += '\n';
    return out;
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
        bool offline, placeholder;
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
                            st.value.type = FieldValue::Type::number;
                            st.value.number = val->to_number<double>();
                        } else if (val->is_string()) {
                            st.value.type = FieldValue::Type::string;
                            st.value_text = std::string(val->get_string());
                        }
                    }
                    if (const auto *reason = so.if_contains("reason"); reason != nullptr && reason->is_string())
                        st.reason = std::string(reason->get_string());
                }
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
    for (auto &sv : saved) {
        Sensor &s = sensor(sv.name, sv.last_seen);
        s.last_seen = sv.last_seen;
        if (sv.placeholder != s.placeholder)
            placeholders_ += sv.placeholder ? 1 : -1;
        s.placeholder = sv.placeholder;
        s.matched = false;
        match_topic(s, sv.topic);
        s.offline = sv.offline;
        for (auto &[name, st] : sv.states) {
            if (const auto index = same_rule(name)) {
                s.states[*index] = std::move(st);
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
            write(old.rules.front(), s, st, false, std::max(clock_, st.fired_at), &st.value, false, "rule changed");
        }
    }
    last_ = nullptr;
    next_deadline_ = TimePoint::min();
    dirty_ = alerted_;
}

}  // namespace dht::rules
