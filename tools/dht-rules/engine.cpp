#include "engine.hpp"

#include "dht/diag.hpp"
#include "dht/hash.hpp"
#include "dht/record.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <utility>

namespace dht::rules {

using namespace std::string_view_literals;

namespace {

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
    : rules_(std::move(rules)), repeat_(repeat), emit_(std::move(emit)), states_(rules_.rules.size()),
      applies_(rules_.rules.size()), cap_(bounds.max_sensors),
      forget_after_(bounds.forget_after)
{
    has_timers_ = repeat_.count() > 0 || forget_after_ ||
                  std::any_of(rules_.rules.begin(), rules_.rules.end(), [](const Rule &r) { return r.no_data; });
    set_texts();
}

Engine::~Engine() = default;

void Engine::note_deadline(TimePoint t) noexcept
{
    if (t < next_deadline_)
        next_deadline_ = t;
}

void Engine::touch(Id id)
{
    dirty_ = true;
    auto &s = table_[id];
    if (tracking_ && !s.changed) {
        s.changed = true;
        changed_.emplace_back(table_.name(id));
    }
}

Engine::Id Engine::sensor(std::string_view name, TimePoint time)
{
    // Here as well as in add(): a sensor whose topic keeps changing leaves
    // text unused behind it without any sensor being added.
    if (table_.wants_compaction())
        compact();
    if (last_ != SensorTable::none && same_text(table_.name(last_), name))
        return last_;
    if (const Id id = table_.find(name); id != SensorTable::none)
        return last_ = id;
    if (!cap_.admit(table_.size(), name))
        return SensorTable::none;
    return last_ = add(name, time);
}

Engine::Id Engine::add(std::string_view name, TimePoint time)
{
    if (table_.wants_compaction())
        compact();
    const Id id = table_.add(name);
    table_[id].last_seen = time;
    states_.resize(table_.end());
    applies_.resize(table_.end());
    for (const auto &r : rules_.rules)
        if (r.no_data)
            note_deadline(saturating_add(time, r.silence));
    if (forget_after_)
        note_deadline(saturating_add(time, *forget_after_));
    touch(id);
    return id;
}

void Engine::erase(Id id)
{
    if (table_[id].placeholder)
        --placeholders_;
    if (last_ == id)
        last_ = SensorTable::none;
    dirty_ = true;
    if (tracking_)
        changed_.emplace_back(table_.name(id));
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        state(id, i) = RuleState{};
    table_.remove(id);
}

void Engine::compact()
{
    const std::size_t n = rules_.rules.size();
    table_.compact([&](Id from, Id to) {
        for (std::size_t i = 0; i < n; ++i) {
            state(to, i) = std::move(state(from, i));
            applies_.row(to)[i] = applies_.row(from)[i];
        }
    });
    states_.resize(table_.end());
    applies_.resize(table_.end());
    last_ = SensorTable::none;
}

void Engine::match_rules(Id id)
{
    const std::string_view topic = table_.topic(id);
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        applies_.row(id)[i] = matches(rules_.rules[i], topic) ? 1 : 0;
}

void Engine::match_topic(Id id, std::string_view topic)
{
    auto &s = table_[id];
    if (s.matched && same_text(table_.topic(id), topic))
        return;
    s.matched = true;
    table_.set_topic(id, topic);
    match_rules(id);
    if (!s.indexed)
        table_.index(id);  // under the prefix of its topic
    if (s.placeholder || placeholders_ == 0)
        return;
    // A sensor first known from its status topic now sends readings under its
    // own name: the stand-in (named for the data topic, status()) goes, and
    // what it had fired resolves.
    const Id p = table_.find(std::string(prefix_of(topic)) + "/data");
    if (p == SensorTable::none || !table_[p].placeholder || p == id)
        return;
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        if (state(p, i).firing)
            resolve(rules_.rules[i], p, state(p, i), s.last_seen, nullptr);
    erase(p);
}

void Engine::reading(const Reading &r)
{
    advance(r.time);
    const Id id = sensor(r.sensor, r.time);
    if (id == SensorTable::none)
        return;  // beyond --max-sensors
    auto &s = table_[id];
    if (s.placeholder) {
        s.placeholder = false;
        --placeholders_;
    }
    match_topic(id, r.topic);
    if (r.time > s.last_seen)
        s.last_seen = r.time;
    s.offline = false;
    touch(id);
    // The rules `unless unhealthy` after the others, which say whether the
    // sensor is healthy with this reading.
    const std::uint8_t *applying = applies_.row(id);
    RuleState *states = states_.row(id);
    bool later = false;
    for (std::size_t i = 0; i < rules_.rules.size(); ++i) {
        if (applying[i] == 0)
            continue;
        if (rules_.rules[i].unless_unhealthy)
            later = true;
        else
            judge(rules_.rules[i], id, states[i], r);
    }
    // An unhealthy sensor's readings are unknown to them: they neither fire,
    // count nor resolve (a broken sensor is no sign that all is well).
    if (!later || unhealthy(id))
        return;
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        if (applying[i] != 0 && rules_.rules[i].unless_unhealthy)
            judge(rules_.rules[i], id, states[i], r);
}

bool Engine::unhealthy(Id id) const noexcept
{
    if (table_[id].offline || table_[id].sensor_error)
        return true;
    const RuleState *states = states_.row(id);
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        if (states[i].firing && !rules_.rules[i].threshold())
            return true;
    return false;
}

void Engine::judge(const Rule &rule, Id id, RuleState &st, const Reading &r)
{
    if (rule.no_data) {
        if (st.firing)
            resolve(rule, id, st, r.time, nullptr);
        note_deadline(saturating_add(table_[id].last_seen, rule.silence));
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
            resolve(rule, id, st, r.time, &r.values[rule.field]);
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
            fire(rule, id, st, r.time, &r.values[rule.field], false, {});
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
    Id first = table_.first_under(prefix);
    if (first == SensorTable::none) {
        // Not heard of yet: its readings would come on PREFIX/data (SPEC section 3).
        const std::string data_topic = std::string(prefix) + "/data";
        const Id id = sensor(data_topic, time);
        if (id == SensorTable::none)
            return;  // beyond --max-sensors
        if (!table_[id].placeholder)
            ++placeholders_;
        table_[id].placeholder = true;
        match_topic(id, data_topic);
        first = table_.first_under(prefix);
    }
    for (Id id = first; id != SensorTable::none; id = table_[id].next_under) {
        auto &s = table_[id];
        s.offline = offline;
        s.sensor_error = error;
        touch(id);
        if (error)
            continue;  // connected, but not measuring: its silence goes on
        if (!offline) {
            // Online again: it has the rule's delay to send a reading.
            if (time > s.last_seen)
                s.last_seen = time;
            for (const auto &r : rules_.rules)
                if (r.no_data)
                    note_deadline(saturating_add(s.last_seen, r.silence));
            continue;
        }
        for (std::size_t i = 0; i < rules_.rules.size(); ++i)
            if (rules_.rules[i].no_data && applies(id, i) && !this->state(id, i).firing)
                fire(rules_.rules[i], id, this->state(id, i), time, nullptr, false, "offline");
    }
}

void Engine::each_topic(const std::function<void(std::string_view)> &f) const
{
    for (Id id = 0; id < table_.end(); ++id)
        if (table_.present(id))
            f(table_.topic(id));
}

void Engine::advance(TimePoint now)
{
    if (now > clock_)
        clock_ = now;
    if (has_timers_ && clock_ >= next_deadline_)
        scan_timers();
}

bool Engine::forget_due(Id id)
{
    if (!forget_after_)
        return false;
    const TimePoint deadline = saturating_add(table_[id].last_seen, *forget_after_);
    if (clock_ < deadline) {
        note_deadline(deadline);
        return false;
    }
    // Silent that long, it is taken for gone: what fires for it resolves,
    // saying why, rather than stay open for good.
    for (std::size_t i = 0; i < rules_.rules.size(); ++i)
        if (state(id, i).firing)
            resolve(rules_.rules[i], id, state(id, i), deadline, nullptr, "forgotten");
    ++forgotten_;
    return true;
}

void Engine::scan_timers()
{
    next_deadline_ = TimePoint::max();
    for (Id id = 0; id < table_.end(); ++id) {
        if (!table_.present(id))
            continue;
        for (std::size_t i = 0; i < rules_.rules.size(); ++i) {
            if (!applies(id, i))
                continue;
            const Rule &rule = rules_.rules[i];
            RuleState &st = state(id, i);
            if (rule.no_data && !st.firing) {
                const TimePoint deadline = saturating_add(table_[id].last_seen, rule.silence);
                if (clock_ >= deadline)
                    fire(rule, id, st, deadline, nullptr, false, "silent");
                else
                    note_deadline(deadline);
            }
            if (st.firing && repeat_.count() > 0) {
                const TimePoint due = saturating_add(st.last_sent, repeat_);
                if (clock_ >= due) {
                    st.last_sent = clock_;
                    touch(id);
                    write(rule, about(id), st, true, clock_, true, st.reason());
                    note_deadline(saturating_add(clock_, repeat_));
                } else {
                    note_deadline(due);
                }
            }
        }
        // After its timers: a clock that jumps past both says it silent, then forgets it.
        if (forget_due(id))
            erase(id);
    }
}

void Engine::fire(const Rule &rule, Id id, RuleState &st, TimePoint time, const FieldValue *values, bool repeat,
                  std::string_view reason)
{
    st.firing = true;
    st.pending = false;
    st.fired_at = st.last_sent = time;
    st.keep(values);
    st.set_reason(reason);
    ++fired_;
    touch(id);
    alerted_ = true;
    if (repeat_.count() > 0)
        note_deadline(saturating_add(time, repeat_));
    write(rule, about(id), st, true, time, repeat, reason);
}

void Engine::resolve(const Rule &rule, Id id, RuleState &st, TimePoint time, const FieldValue *value,
                     std::string_view reason)
{
    RuleState before = st;
    st = RuleState{};
    if (const auto *history = before.history())
        st.remember() = *history;  // what a health rule remembers of the readings goes on
    ++resolved_;
    touch(id);
    alerted_ = true;
    before.keep(value);
    // A late record cannot resolve an alert before it fired.
    write(rule, about(id), before, false, std::max(time, before.fired_at), false,
          !reason.empty() ? reason : rule.no_data ? "data" : "");
}

Engine::RuleText Engine::rule_text(const Rule &rule)
{
    RuleText t;
    append_json_chars(t.name, rule.name);
    append_json_chars(t.field_name, rule.field_name);
    append_json_chars(t.condition, rule.condition);
    for (const bool firing : {false, true}) {
        auto &o = t.opening[firing];
        o = R"(","rule":")";
        o += t.name;
        o += firing ? R"(","state":"firing","action":")"sv : R"(","state":"resolved","action":")"sv;
        o += name_of(rule.action);
        o += R"(","severity":")"sv;
        o += name_of(rule.severity);
        o += R"(","sensor":")"sv;
        t.says[firing] = R"(,"message":")" + t.name + (firing ? ": " : " resolved: ");
    }
    t.field = R"(","field":")" + t.field_name + R"(","value":)";
    t.is = t.field_name + " is ";
    t.closing[0] = R"(","since":")";
    t.closing[1] = " (" + t.condition + ")" + t.closing[0];
    for (const auto &part : rule.message) {
        t.parts.emplace_back();
        if (part.kind == TemplatePart::Kind::text)
            append_json_chars(t.parts.back(), part.text);
    }
    return t;
}

void Engine::set_texts()
{
    texts_.clear();
    for (const auto &rule : rules_.rules)
        texts_.push_back(rule_text(rule));
}

// Written by hand, not with ObjectWriter: alerts can be half the output (a
// noisy sensor near its threshold). What comes from the rule is copied from
// its RuleText; the message is written escaped in place, part by part.
void Engine::write(const Rule &rule, const About &s, const RuleState &st, bool firing, TimePoint time, bool repeat,
                   std::string_view reason)
{
    // `rule` is one of rules_.rules but when a rule of a state file, gone
    // since, resolves its alert.
    const Rule *first = rules_.rules.data(), *last = first + rules_.rules.size();
    const bool ours = !std::less<>()(&rule, first) && std::less<>()(&rule, last);
    if (!ours)
        other_text_ = rule_text(rule);
    const RuleText &t = ours ? texts_[static_cast<std::size_t>(&rule - first)] : other_text_;
    const FieldValue value = st.value();
    const bool has_value = value.type != FieldValue::Type::missing && value.type != FieldValue::Type::other;
    // The value's text in the message (a number, or a string's escaped text), written once.
    std::string &value_chars = value_json_;
    value_chars.clear();
    if (value.type == FieldValue::Type::number)
        append_number(value_chars, value.number);
    else if (value.type == FieldValue::Type::string)
        append_json_chars(value_chars, value.text);
    const std::string_view name = json_chars(s.name, name_json_);
    const std::string_view topic = same_text(s.topic, s.name) ? name : json_chars(s.topic, topic_json_);
    std::string &r = record_;
    r.clear();
    r += R"({"kind":"alert","timestamp":")"sv;
    append_rfc3339(r, time);
    r += t.opening[firing];
    r += name;
    r += R"(","topic":")"sv;
    r += topic;
    if (rule.no_data) {
        r += '"';
    } else {
        r += t.field;
        if (value.type == FieldValue::Type::string) {
            r += '"';
            r += value_chars;
            r += '"';
        } else {
            r += has_value ? std::string_view(value_chars) : "null"sv;
        }
        if (calibration_ != nullptr && calibration_->calibrates(rule.field_name) &&
            calibration_->offset(s.name, rule.field_name))
            r += R"(,"calibrated":true)"sv;
    }
    bool because = false;  // the default message of a rule on values, firing: ends with the condition
    if (rule.message.empty()) {
        r += t.says[firing];
        if (!firing && reason == "rule changed") {
            r += "the rule was changed or removed"sv;
        } else if (!firing && reason == "forgotten") {
            r += "no longer watching "sv;
            r += name;
            r += ", silent since "sv;
            append_rfc3339(r, s.last_seen);
        } else if (rule.no_data) {
            if (!firing) {
                r += "data from "sv;
                r += name;
                r += " again"sv;
            } else if (reason == "offline") {
                r += name;
                r += " is offline"sv;
            } else {
                r += "no data from "sv;
                r += name;
                r += " since "sv;
                append_rfc3339(r, s.last_seen);
            }
        } else {
            if (has_value) {
                r += t.is;
                r += value_chars;
                r += " on "sv;
            }
            r += name;
            because = firing;
        }
    } else {
        r += R"(,"message":")"sv;
        for (std::size_t i = 0; i < rule.message.size(); ++i) {
            switch (rule.message[i].kind) {
            case TemplatePart::Kind::text: r += t.parts[i]; break;
            case TemplatePart::Kind::rule: r += t.name; break;
            case TemplatePart::Kind::sensor: r += name; break;
            case TemplatePart::Kind::topic: r += topic; break;
            case TemplatePart::Kind::field: r += t.field_name; break;
            case TemplatePart::Kind::value: r += value_chars; break;
            case TemplatePart::Kind::severity: r += name_of(rule.severity); break;
            case TemplatePart::Kind::action: r += name_of(rule.action); break;
            case TemplatePart::Kind::state: r += firing ? "firing"sv : "resolved"sv; break;
            case TemplatePart::Kind::condition: r += t.condition; break;
            }
        }
    }
    r += t.closing[because];
    append_rfc3339(r, st.fired_at);
    if (!repeat && !rule.no_data && reason.empty()) {
        r += R"("})"sv;
        return emit_(r);
    }
    r += '"';
    if (repeat)
        r += R"(,"repeat":true)"sv;
    if (rule.no_data) {
        r += R"(,"reason":)"sv;
        append_json_string(r, reason);
        r += R"(,"last_seen":")"sv;
        append_rfc3339(r, s.last_seen);
        r += '"';
    } else if (!reason.empty()) {
        r += R"(,"reason":)"sv;
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
    for (Id id = 0; id < table_.end(); ++id)
        for (std::size_t j = 0; j < rules_.rules.size() && table_.present(id); ++j)
            if (kept[j] == 0 && state(id, j).firing)
                resolve(rules_.rules[j], id, state(id, j), clock_, nullptr, "rule changed");
    const std::size_t n = rules.rules.size();
    PerSensor<RuleState> states(n);
    states.resize(table_.end());
    for (Id id = 0; id < table_.end(); ++id)
        for (std::size_t i = 0; i < n; ++i)
            if (from[i] != SIZE_MAX && table_.present(id))
                states.row(id)[i] = std::move(state(id, from[i]));
    states_ = std::move(states);
    applies_ = PerSensor<std::uint8_t>(n);
    applies_.resize(table_.end());
    rules_ = std::move(rules);
    set_texts();
    for (Id id = 0; id < table_.end(); ++id)
        if (table_.present(id))
            match_rules(id);
    has_timers_ = repeat_.count() > 0 || forget_after_ ||
                  std::any_of(rules_.rules.begin(), rules_.rules.end(), [](const Rule &r) { return r.no_data; });
    next_deadline_ = TimePoint::min();  // look at every timer again
    dirty_ = true;
}

void Engine::saved() noexcept
{
    for (const auto &name : changed_)
        if (const Id id = table_.find(name); id != SensorTable::none)
            table_[id].changed = false;
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
