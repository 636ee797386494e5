#include "engine.hpp"

#include "dht/diag.hpp"
#include "dht/record.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace dht::rules {

namespace {

std::string_view prefix_of(std::string_view topic)
{
    const auto slash = topic.rfind('/');
    return slash == std::string_view::npos ? std::string_view() : topic.substr(0, slash);
}

void append_value_text(std::string &out, const FieldValue &v, std::string_view text)
{
    if (v.type == FieldValue::Type::number)
        append_number(out, v.number);
    else if (v.type == FieldValue::Type::string)
        out += text;
}

using History = Engine::RuleState::History;

// A health rule on one reading, updating what it remembers of the sensor. A
// reading without a finite number in the field, or older than the latest
// judged, is unknown and changes nothing.
//   unchanged for D: true once the value has been exactly the same at least
//     two readings in a row, the first at least D before; false at another
//     value, which starts the run over; unknown at the first reading.
//   jumps by X: true when the value is at least X away from the one before
//     (the latest reading with a number); unknown at the first reading.
//   rises (falls) by X within W: true when the value is at least X above the
//     lowest (below the highest) value of the earlier readings in the window
//     (see window_steps); unknown when the window holds none.
Truth judge_health(const Rule &rule, History &h, TimePoint time, const FieldValue &v)
{
    if (v.type != FieldValue::Type::number || !std::isfinite(v.number) || (h.readings > 0 && time < h.last))
        return Truth::unknown;
    const double x = v.number;
    const bool first = h.readings == 0;
    h.last = time;
    switch (rule.health) {
    case Health::none: break;
    case Health::unchanged:
        if (first || x != h.value) {
            h.value = x;
            h.since = time;
            h.readings = 1;
            return first ? Truth::unknown : Truth::no;
        }
        if (h.readings < UINT32_MAX)
            ++h.readings;
        return time >= saturating_add(h.since, rule.span) ? Truth::yes : Truth::no;
    case Health::jumps: {
        const double before = h.value;
        h.value = x;
        h.readings = 1;
        return first ? Truth::unknown : std::fabs(x - before) >= rule.delta ? Truth::yes : Truth::no;
    }
    case Health::rises:
    case Health::falls: {
        h.readings = 1;
        const bool rises = rule.health == Health::rises;
        const std::int64_t width = std::max<std::int64_t>(1, (rule.span / window_steps).count());
        const std::int64_t ns = time.time_since_epoch().count();
        const std::int64_t index = ns / width - (ns % width < 0 ? 1 : 0);
        auto &steps = h.steps;
        // Steps are in order (readings are), so the difference fits unsigned.
        const auto old = [&](const History::Step &s) {
            return static_cast<std::uint64_t>(index) - static_cast<std::uint64_t>(s.index) > window_steps;
        };
        steps.erase(steps.begin(), std::find_if_not(steps.begin(), steps.end(), old));
        Truth t = Truth::unknown;
        if (!steps.empty()) {
            double extreme = steps.front().extreme;
            for (const auto &s : steps)
                extreme = rises ? std::min(extreme, s.extreme) : std::max(extreme, s.extreme);
            t = (rises ? x - extreme : extreme - x) >= rule.delta ? Truth::yes : Truth::no;
        }
        if (!steps.empty() && steps.back().index == index)
            steps.back().extreme = rises ? std::min(steps.back().extreme, x) : std::max(steps.back().extreme, x);
        else
            steps.push_back({index, x});
        return t;
    }
    }
    return Truth::unknown;
}

bool matches(const Rule &rule, std::string_view topic)
{
    if (rule.filter.empty())
        return true;
    bool result = false;
    const std::string t(topic);
    return mosquitto_topic_matches_sub(rule.filter.c_str(), t.c_str(), &result) == MOSQ_ERR_SUCCESS && result;
}

}  // namespace

std::string check_bounds(const RuleSet &rules, const SensorBounds &bounds)
{
    if (!bounds.forget_after)
        return {};
    for (const auto &r : rules.rules)
        if (r.no_data && r.silence >= *bounds.forget_after)
            return cat("--forget-after ", format_duration(*bounds.forget_after), " is not longer than rule '", r.name,
                       "' (no data for ", format_duration(r.silence),
                       "): a silent sensor would be forgotten before it is said silent");
    return {};
}

void append_value(std::string &out, const FieldValue &v, std::string_view text)
{
    switch (v.type) {
    case FieldValue::Type::number: append_number(out, v.number); break;
    case FieldValue::Type::string: append_json_string(out, text); break;
    default: out += "null"; break;
    }
}

Engine::RuleState &Engine::RuleState::operator=(const RuleState &o)
{
    if (this == &o)
        return *this;
    count = o.count;
    pending = o.pending;
    firing = o.firing;
    type = o.type;
    since = o.since;
    fired_at = o.fired_at;
    last_sent = o.last_sent;
    number = o.number;
    rare_ = o.rare_ ? std::make_unique<Rare>(*o.rare_) : nullptr;
    return *this;
}

void Engine::RuleState::set_text(std::string Rare::*member, std::string_view text)
{
    if (text.empty() && !rare_)
        return;
    if (!rare_)
        rare_ = std::make_unique<Rare>();
    ((*rare_).*member).assign(text);
    if (rare_->value.empty() && rare_->reason.empty() && !rare_->history)
        rare_.reset();
}

Engine::RuleState::History &Engine::RuleState::remember()
{
    if (!rare_)
        rare_ = std::make_unique<Rare>();
    if (!rare_->history)
        rare_->history.emplace(History{});
    return *rare_->history;
}

void Engine::RuleState::keep(const FieldValue *v)
{
    const FieldValue kept = v != nullptr ? *v : FieldValue{};
    type = kept.type;
    number = kept.number;
    if (type == FieldValue::Type::string)
        set_value_text(kept.text);
}

Engine::Engine(RuleSet rules, Duration repeat, Emit emit, SensorBounds bounds)
    : rules_(std::move(rules)), repeat_(repeat), emit_(std::move(emit)), cap_(bounds.max_sensors),
      forget_after_(bounds.forget_after)
{
    has_timers_ = repeat_.count() > 0 || forget_after_ ||
                  std::any_of(rules_.rules.begin(), rules_.rules.end(), [](const Rule &r) { return r.no_data; });
}

Engine::~Engine() = default;

void Engine::note_deadline(TimePoint t) noexcept
{
    if (t < next_deadline_)
        next_deadline_ = t;
}

void Engine::touch(Sensor &s)
{
    dirty_ = true;
    if (tracking_ && !s.changed) {
        s.changed = true;
        changed_.push_back(s.name);
    }
}

Engine::Sensor *Engine::sensor(std::string_view name, TimePoint time)
{
    if (last_ != nullptr && last_->name == name)
        return last_;
    if (auto it = sensors_.find(name); it != sensors_.end())
        return last_ = it->second.get();
    if (!cap_.admit(sensors_.size(), name))
        return nullptr;
    return last_ = &add(name, time);
}

Engine::Sensor &Engine::add(std::string_view name, TimePoint time)
{
    auto s = std::make_unique<Sensor>();
    s->name = std::string(name);
    s->last_seen = time;
    s->states.resize(rules_.rules.size());
    s->applies.assign(rules_.rules.size(), 0);
    Sensor &added = *s;
    sensors_.emplace(std::string_view(s->name), std::move(s));
    for (const auto &r : rules_.rules)
        if (r.no_data)
            note_deadline(saturating_add(time, r.silence));
    if (forget_after_)
        note_deadline(saturating_add(time, *forget_after_));
    touch(added);
    return added;
}

Engine::Sensors::iterator Engine::erase(Sensors::iterator it)
{
    Sensor &s = *it->second;
    unindex(s);
    if (s.placeholder)
        --placeholders_;
    if (last_ == &s)
        last_ = nullptr;
    dirty_ = true;
    if (tracking_)
        changed_.push_back(s.name);
    return sensors_.erase(it);
}

void Engine::unindex(Sensor &s)
{
    if (!std::exchange(s.indexed, false))
        return;
    const auto it = by_prefix_.find(prefix_of(s.topic()));
    if (it == by_prefix_.end())
        return;
    // The last sensor of the list takes the place of `s`.
    Sensor **at = &it->second;
    while (*at != &s)
        at = &(*at)->next_under;
    Sensor **last = at;
    while ((*last)->next_under != nullptr)
        last = &(*last)->next_under;
    Sensor *moved = *last;
    *last = nullptr;
    if (moved != &s) {
        moved->next_under = s.next_under;
        *at = moved;
    }
    s.next_under = nullptr;
    if (it->second == nullptr)
        by_prefix_.erase(it);
}

void Engine::match_topic(Sensor &s, std::string_view topic)
{
    if (s.matched && s.topic() == topic)
        return;
    s.matched = true;
    const std::string_view prefix = prefix_of(topic);
    const bool moved = !s.indexed || prefix_of(s.topic()) != prefix;
    if (moved)
        unindex(s);  // under the prefix of the topic it had
    s.set_topic(topic);
    s.applies.assign(rules_.rules.size(), 0);
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        s.applies[i] = matches(rules_.rules[i], topic) ? 1 : 0;
    if (moved) {
        Sensor **end = &by_prefix_[std::string(prefix)];
        while (*end != nullptr)
            end = &(*end)->next_under;
        *end = &s;
        s.indexed = true;
    }
    if (s.placeholder || placeholders_ == 0)
        return;
    // A sensor first known from its status topic now sends readings under its
    // own name: the stand-in (named for the data topic, status()) goes, and
    // what it had fired resolves.
    const auto it = sensors_.find(std::string(prefix) + "/data");
    if (it == sensors_.end() || !it->second->placeholder || it->second.get() == &s)
        return;
    Sensor &p = *it->second;
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        if (p.states[i].firing)
            resolve(rules_.rules[i], p, p.states[i], s.last_seen, nullptr);
    erase(it);
}

void Engine::reading(const Reading &r)
{
    advance(r.time);
    Sensor *found = sensor(r.sensor, r.time);
    if (found == nullptr)
        return;  // beyond --max-sensors
    Sensor &s = *found;
    if (s.placeholder) {
        s.placeholder = false;
        --placeholders_;
    }
    match_topic(s, r.topic);
    if (r.time > s.last_seen)
        s.last_seen = r.time;
    s.offline = false;
    touch(s);
    // The rules `unless unhealthy` after the others, which say whether the
    // sensor is healthy with this reading.
    bool later = false;
    for (std::size_t i = 0; i < rules_.rules.size(); ++i) {
        if (s.applies[i] == 0)
            continue;
        if (rules_.rules[i].unless_unhealthy)
            later = true;
        else
            judge(rules_.rules[i], s, s.states[i], r);
    }
    // An unhealthy sensor's readings are unknown to them: they neither fire,
    // count nor resolve (a broken sensor is no sign that all is well).
    if (!later || unhealthy(s))
        return;
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        if (s.applies[i] != 0 && rules_.rules[i].unless_unhealthy)
            judge(rules_.rules[i], s, s.states[i], r);
}

bool Engine::unhealthy(const Sensor &s) const noexcept
{
    if (s.offline || s.sensor_error)
        return true;
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        if (s.states[i].firing && !rules_.rules[i].threshold())
            return true;
    return false;
}

void Engine::judge(const Rule &rule, Sensor &s, RuleState &st, const Reading &r)
{
    if (rule.no_data) {
        if (st.firing)
            resolve(rule, s, st, r.time, nullptr);
        note_deadline(saturating_add(s.last_seen, rule.silence));
        return;
    }
    const Truth t = rule.health != Health::none ? judge_health(rule, st.remember(), r.time, r.values[rule.field])
                                                : evaluate(*rule.when, r.values);
    if (st.firing) {
        const Truth end = rule.clear ? evaluate(*rule.clear, r.values)
                          : t == Truth::unknown ? Truth::unknown
                          : t == Truth::yes     ? Truth::no
                                                : Truth::yes;
        if (end == Truth::yes)
            resolve(rule, s, st, r.time, &r.values[rule.field]);
        else if (t == Truth::yes)
            st.keep(&r.values[rule.field]);
        return;
    }
    if (t == Truth::yes) {
        if (st.count < UINT32_MAX)
            ++st.count;
        if (!st.pending) {
            st.pending = true;
            st.since = r.time;
        }
        const bool due = rule.readings > 0 ? st.count >= rule.readings
                         : rule.hold.count() > 0 ? r.time >= saturating_add(st.since, rule.hold)
                                                 : true;
        if (due)
            fire(rule, s, st, r.time, &r.values[rule.field], false, {});
    } else if (t == Truth::no) {
        st.count = 0;
        st.pending = false;
    }
}

void Engine::status(std::string_view topic, std::string_view state, TimePoint time)
{
    const bool offline = state == "offline";
    const bool error = state == "sensor-error";
    if (!offline && !error && state != "online")
        return;
    advance(time);
    const std::string_view prefix = prefix_of(topic);
    auto it = by_prefix_.find(prefix);
    if (it == by_prefix_.end()) {
        // Not heard of yet: its readings would come on PREFIX/data (SPEC section 3).
        const std::string data_topic = std::string(prefix) + "/data";
        Sensor *s = sensor(data_topic, time);
        if (s == nullptr)
            return;  // beyond --max-sensors
        if (!s->placeholder)
            ++placeholders_;
        s->placeholder = true;
        match_topic(*s, data_topic);
        it = by_prefix_.find(prefix);
    }
    for (Sensor *s = it->second; s != nullptr; s = s->next_under) {
        s->offline = offline;
        s->sensor_error = error;
        touch(*s);
        if (error)
            continue;  // connected, but not measuring: its silence goes on
        if (!offline) {
            // Online again: it has the rule's delay to send a reading.
            if (time > s->last_seen)
                s->last_seen = time;
            for (const auto &r : rules_.rules)
                if (r.no_data)
                    note_deadline(saturating_add(s->last_seen, r.silence));
            continue;
        }
        for (std::size_t i = 0; i < rules_.rules.size(); ++i)
            if (rules_.rules[i].no_data && s->applies[i] != 0 && !s->states[i].firing)
                fire(rules_.rules[i], *s, s->states[i], time, nullptr, false, "offline");
    }
}

void Engine::each_topic(const std::function<void(std::string_view)> &f) const
{
    for (const auto &entry : sensors_)
        f(entry.second->topic());
}

void Engine::advance(TimePoint now)
{
    if (now > clock_)
        clock_ = now;
    if (has_timers_ && clock_ >= next_deadline_)
        scan_timers();
}

bool Engine::forget_due(Sensor &s)
{
    if (!forget_after_)
        return false;
    const TimePoint deadline = saturating_add(s.last_seen, *forget_after_);
    if (clock_ < deadline) {
        note_deadline(deadline);
        return false;
    }
    // Silent that long, it is taken for gone: what fires for it resolves,
    // saying why, rather than stay open for good.
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        if (s.states[i].firing)
            resolve(rules_.rules[i], s, s.states[i], deadline, nullptr, "forgotten");
    ++forgotten_;
    return true;
}

void Engine::scan_timers()
{
    next_deadline_ = TimePoint::max();
    for (auto it = sensors_.begin(); it != sensors_.end();) {
        Sensor &s = *it->second;
        for (std::size_t i = 0; i < rules_.rules.size(); ++i) {
            if (s.applies[i] == 0)
                continue;
            const Rule &rule = rules_.rules[i];
            RuleState &st = s.states[i];
            if (rule.no_data && !st.firing) {
                const TimePoint deadline = saturating_add(s.last_seen, rule.silence);
                if (clock_ >= deadline)
                    fire(rule, s, st, deadline, nullptr, false, "silent");
                else
                    note_deadline(deadline);
            }
            if (st.firing && repeat_.count() > 0) {
                const TimePoint due = saturating_add(st.last_sent, repeat_);
                if (clock_ >= due) {
                    st.last_sent = clock_;
                    touch(s);
                    write(rule, s, st, true, clock_, true, st.reason());
                    note_deadline(saturating_add(clock_, repeat_));
                } else {
                    note_deadline(due);
                }
            }
        }
        // After its timers: a clock that jumps past both says it silent, then forgets it.
        it = forget_due(s) ? erase(it) : std::next(it);
    }
}

void Engine::fire(const Rule &rule, Sensor &s, RuleState &st, TimePoint time, const FieldValue *values,
                  bool repeat, std::string_view reason)
{
    st.firing = true;
    st.pending = false;
    st.fired_at = st.last_sent = time;
    st.keep(values);
    st.set_reason(reason);
    ++fired_;
    touch(s);
    alerted_ = true;
    if (repeat_.count() > 0)
        note_deadline(saturating_add(time, repeat_));
    write(rule, s, st, true, time, repeat, reason);
}

void Engine::resolve(const Rule &rule, Sensor &s, RuleState &st, TimePoint time, const FieldValue *value,
                     std::string_view reason)
{
    RuleState before = st;
    st = RuleState{};
    if (const auto *history = before.history())
        st.remember() = *history;  // what a health rule remembers of the readings goes on
    ++resolved_;
    touch(s);
    alerted_ = true;
    before.keep(value);
    // A late record cannot resolve an alert before it fired.
    write(rule, s, before, false, std::max(time, before.fired_at), false,
          !reason.empty() ? reason : rule.no_data ? "data" : "");
}

void Engine::write(const Rule &rule, const Sensor &s, const RuleState &st, bool firing, TimePoint time, bool repeat,
                   std::string_view reason)
{
    const FieldValue kept = st.value();
    const FieldValue *value = &kept;
    const std::string_view value_text = kept.text;
    // Written by hand, not with ObjectWriter: the keys are literals with
    // nothing to escape, and alerts can be a third of the output (a noisy
    // sensor near its threshold), where ObjectWriter cost dht-rules 15%.
    std::string &r = record_;
    r.clear();
    r += R"({"kind":"alert","timestamp":")";
    append_rfc3339(r, time);
    r += R"(","rule":)";
    append_json_string(r, rule.name);
    r += firing ? R"(,"state":"firing","action":")" : R"(,"state":"resolved","action":")";
    r += name_of(rule.action);
    r += R"(","severity":")";
    r += name_of(rule.severity);
    r += R"(","sensor":)";
    append_json_string(r, s.name);
    r += R"(,"topic":)";
    append_json_string(r, s.topic());
    if (!rule.no_data) {
        r += R"(,"field":)";
        append_json_string(r, rule.field_name);
        r += R"(,"value":)";
        append_value(r, *value, value_text);
    }
    r += R"(,"message":)";
    std::string &message = message_;
    message.clear();
    const std::string_view field = rule.field_name;
    if (rule.message.empty()) {
        message += rule.name;
        message += firing ? ": " : " resolved: ";
        if (!firing && reason == "rule changed") {
            message += "the rule was changed or removed";
        } else if (!firing && reason == "forgotten") {
            message += "no longer watching ";
            message += s.name;
            message += ", silent since ";
            append_rfc3339(message, s.last_seen);
        } else if (rule.no_data) {
            if (!firing) {
                message += "data from ";
                message += s.name;
                message += " again";
            } else if (reason == "offline") {
                message += s.name;
                message += " is offline";
            } else {
                message += "no data from ";
                message += s.name;
                message += " since ";
                append_rfc3339(message, s.last_seen);
            }
        } else {
            if (value->type != FieldValue::Type::missing && value->type != FieldValue::Type::other) {
                message += field;
                message += " is ";
                append_value_text(message, *value, value_text);
                message += " on ";
            }
            message += s.name;
            if (firing) {
                message += " (";
                message += rule.condition;
                message += ')';
            }
        }
    } else {
        for (const auto &part : rule.message) {
            switch (part.kind) {
            case TemplatePart::Kind::text: message += part.text; break;
            case TemplatePart::Kind::rule: message += rule.name; break;
            case TemplatePart::Kind::sensor: message += s.name; break;
            case TemplatePart::Kind::topic: message += s.topic(); break;
            case TemplatePart::Kind::field: message += field; break;
            case TemplatePart::Kind::value: append_value_text(message, *value, value_text); break;
            case TemplatePart::Kind::severity: message += name_of(rule.severity); break;
            case TemplatePart::Kind::action: message += name_of(rule.action); break;
            case TemplatePart::Kind::state: message += firing ? "firing" : "resolved"; break;
            case TemplatePart::Kind::condition: message += rule.condition; break;
            }
        }
    }
    append_json_string(r, message);
    r += R"(,"since":")";
    append_rfc3339(r, st.fired_at);
    r += '"';
    if (repeat)
        r += R"(,"repeat":true)";
    if (rule.no_data) {
        r += R"(,"reason":)";
        append_json_string(r, reason);
        r += R"(,"last_seen":")";
        append_rfc3339(r, s.last_seen);
        r += '"';
    } else if (!reason.empty()) {
        r += R"(,"reason":)";
        append_json_string(r, reason);
    }
    r += '}';
    emit_(r);
}

void Engine::replace(RuleSet rules)
{
    // For each new rule, the old one it continues (same name and text), if any.
    std::vector<std::size_t> from(rules.rules.size(), SIZE_MAX);
    std::vector<std::uint8_t> kept(rules_.rules.size(), 0);
    for (std::size_t i = 0; i < rules.rules.size(); ++i)
        for (std::size_t j = 0; j < rules_.rules.size(); ++j)
            if (rules.rules[i].name == rules_.rules[j].name && rules.rules[i].source == rules_.rules[j].source) {
                from[i] = j;
                kept[j] = 1;
            }
    // Alerts of rules that are gone or changed resolve: nothing stays open downstream.
    for (auto &[name, s] : sensors_)
        for (std::size_t j = 0; j < rules_.rules.size(); ++j)
            if (kept[j] == 0 && s->states[j].firing)
                resolve(rules_.rules[j], *s, s->states[j], clock_, nullptr, "rule changed");
    for (auto &[name, s] : sensors_) {
        std::vector<RuleState> states(rules.rules.size());
        for (std::size_t i = 0; i < states.size(); ++i)
            if (from[i] != SIZE_MAX)
                states[i] = std::move(s->states[from[i]]);
        s->states = std::move(states);
        s->applies.assign(rules.rules.size(), 0);
        for (std::size_t i = 0; i < rules.rules.size(); ++i)
            s->applies[i] = matches(rules.rules[i], s->topic()) ? 1 : 0;
    }
    rules_ = std::move(rules);
    has_timers_ = repeat_.count() > 0 || forget_after_ ||
                  std::any_of(rules_.rules.begin(), rules_.rules.end(), [](const Rule &r) { return r.no_data; });
    next_deadline_ = TimePoint::min();  // look at every timer again
    dirty_ = true;
}

void Engine::saved() noexcept
{
    for (const auto &name : changed_)
        if (const auto it = sensors_.find(name); it != sensors_.end())
            it->second->changed = false;
    changed_.clear();
    dirty_ = alerted_ = false;
}


void feed(Engine &engine, const RecordScanner &scan, std::string_view topic, TimePoint time)
{
    if (scan.payload_is_object() && !scan.payload_is_record()) {
        engine.reading({record_sensor(topic, scan.sensor()), topic, time, scan.values()});
    } else if (scan.payload_is_text() && topic.ends_with("/status")) {
        engine.status(topic, scan.payload_text(), time);
    } else {
        engine.advance(time);
    }
}

}  // namespace dht::rules
