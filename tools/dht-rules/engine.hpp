// The rule engine: state per rule and per sensor, alert records when a rule
// starts firing and when it resolves, timers for silent sensors and repeats,
// and the state saved and restored across runs (--state).
#pragma once

#include "rules.hpp"
#include "sensors.hpp"

#include "dht/bounds.hpp"
#include "dht/calibration.hpp"
#include "dht/json.hpp"
#include "dht/scan.hpp"
#include "dht/time.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dht::rules {

struct Reading {
    std::string_view sensor;
    std::string_view topic;
    TimePoint time{};
    const FieldValue *values = nullptr;  // one per RuleSet::fields
};

class Engine {
public:
    // Receives each alert record (one JSON object, no newline).
    using Emit = std::function<void(std::string_view record)>;

    // At most bounds.max_sensors sensors (placeholders too): a record that
    // would add one more is skipped and counted (cap()). Sensors silent for
    // bounds.forget_after are forgotten, their firing alerts resolved with
    // reason "forgotten".
    Engine(RuleSet rules, Duration repeat, Emit emit, SensorBounds bounds = {});
    ~Engine();
    Engine(const Engine &) = delete;
    Engine &operator=(const Engine &) = delete;

    // The offsets the readings went through (--calibration): an alert on a
    // field one of them changed for its sensor says "calibrated":true. It
    // must outlive the engine; nullptr (the default): none.
    void set_calibration(const Calibration *c) noexcept { calibration_ = c; }

    // A reading (a message whose payload is an object).
    void reading(const Reading &r);
    // A status message: `state` "offline" fires the `no data` rules for the
    // sensors under the status topic's prefix; "online" restarts their timers;
    // "sensor-error" makes them unhealthy until their status says otherwise.
    void status(std::string_view topic, std::string_view state, TimePoint time);
    // Moves the clock to `now` if it is later, firing what is due: `no data`
    // rules for silent sensors, and --repeat for firing rules.
    void advance(TimePoint now);

    // New rules (SIGHUP): a rule whose name and text are unchanged keeps its
    // state; the others start afresh.
    void replace(RuleSet rules);
    const RuleSet &rules() const noexcept { return rules_; }

    // The state as JSON text (for --state), and back (state.cpp, with the
    // state file). restore() skips the state of rules that changed; it throws
    // std::runtime_error on a file that is not a state file. `journal`, when
    // not 0, names the journal that may follow this state (state.cpp).
    std::string save(std::uint64_t journal = 0) const;
    void restore(const json::value &state);
    // With track_changes(), what changed since the last saved(): one line
    // {"clock":T}, then {"sensor":{...}} for each sensor changed, as save()
    // writes it, and {"forget":NAME} for each sensor gone.
    void track_changes() noexcept { tracking_ = true; }
    std::string save_changes() const;
    // Whether the state changed since the last save, and whether by an alert.
    bool dirty() const noexcept { return dirty_; }
    bool alerted() const noexcept { return alerted_; }
    void saved() noexcept;

    TimePoint clock() const noexcept { return clock_; }
    std::size_t sensors() const noexcept { return table_.size(); }
    // The topic of each sensor's latest reading (known only from its status: PREFIX/data).
    void each_topic(const std::function<void(std::string_view)> &f) const;
    std::uint64_t fired() const noexcept { return fired_; }
    std::uint64_t resolved() const noexcept { return resolved_; }
    std::uint64_t forgotten() const noexcept { return forgotten_; }
    const SensorCap &cap() const noexcept { return cap_; }

    // The state of one rule for one sensor. Compact: a sensor holds one per
    // rule, and a watcher may hold 100,000 sensors.
    struct RuleState {
        std::uint32_t count = 0;  // readings in a row that met the condition
        bool pending = false;     // the condition holds, not yet for long enough
        bool firing = false;
        FieldValue::Type type = FieldValue::Type::missing;  // of the value below
        TimePoint since{};      // when the condition started to hold
        TimePoint fired_at{};
        TimePoint last_sent{};  // the last alert record sent for this firing
        double number = 0;      // the value that fired it, or the latest while firing

        RuleState() = default;
        RuleState(const RuleState &o) : RuleState() { *this = o; }
        RuleState(RuleState &&) noexcept = default;
        RuleState &operator=(const RuleState &o);
        RuleState &operator=(RuleState &&) noexcept = default;
        ~RuleState() = default;

        // A health rule's memory of the sensor's readings (engine.cpp says how
        // each rule uses it): a few numbers and at most window_steps + 1 steps.
        struct History {
            struct Step {
                std::int64_t index;  // the step of record time, counted from the epoch
                double extreme;      // its lowest value (rises) or highest (falls)
            };
            TimePoint last{};            // the latest reading judged
            TimePoint since{};           // unchanged: the first reading of `value` in a row
            double value = 0;            // unchanged: that value; jumps: the reading before
            std::uint32_t readings = 0;  // 0: none judged yet; unchanged: readings of `value` in a row
            std::vector<Step> steps;     // rises, falls: oldest first
        };

        bool idle() const noexcept { return count == 0 && !pending && !firing && history() == nullptr; }
        FieldValue value() const noexcept { return {type, number, value_text()}; }
        // The value's text when it is a string.
        std::string_view value_text() const noexcept { return rare_ ? std::string_view(rare_->value) : std::string_view(); }
        // `no data` rules: silent or offline.
        std::string_view reason() const noexcept { return rare_ ? std::string_view(rare_->reason) : std::string_view(); }
        void set_reason(std::string_view reason) { set_text(&Rare::reason, reason); }
        void set_value_text(std::string_view text) { set_text(&Rare::value, text); }
        // Health rules only: null until the first reading judged.
        const History *history() const noexcept { return rare_ && rare_->history ? &*rare_->history : nullptr; }
        History &remember();  // the history, made if none
        // Keeps `v` (nullptr: none) as the value.
        void keep(const FieldValue *v);

    private:
        // Rare (a string value, a reason, a health rule's history): kept
        // apart, null while all are empty.
        struct Rare {
            std::string value, reason;
            std::optional<History> history;
        };
        std::unique_ptr<Rare> rare_;
        void set_text(std::string Rare::*member, std::string_view text);
    };

private:
    using Id = SensorTable::Id;
    const Calibration *calibration_ = nullptr;
    // What an alert record says of its sensor.
    struct About {
        std::string_view name, topic;
        TimePoint last_seen;
    };
    About about(Id id) const noexcept { return {table_.name(id), table_.topic(id), table_[id].last_seen}; }
    // The state of rule `i` for sensor `id`, and whether its topic filter matches the sensor's topic.
    RuleState &state(Id id, std::size_t i) noexcept { return states_.row(id)[i]; }
    const RuleState &state(Id id, std::size_t i) const noexcept { return states_.row(id)[i]; }
    bool applies(Id id, std::size_t i) const noexcept { return applies_.row(id)[i] != 0; }

    // The sensor `name`, added if new and the cap allows (else none). Adding
    // may first compact the table: the numbers of the sensors change then,
    // so none is held across a call that may add a sensor.
    Id sensor(std::string_view name, TimePoint time);
    Id add(std::string_view name, TimePoint time);
    void erase(Id id);
    void compact();
    void touch(Id id);
    void match_topic(Id id, std::string_view topic);
    void match_rules(Id id);
    bool forget_due(Id id);
    void append_sensor(std::string &out, Id id) const;
    void judge(const Rule &rule, Id id, RuleState &st, const Reading &r);
    bool unhealthy(Id id) const noexcept;
    void fire(const Rule &rule, Id id, RuleState &st, TimePoint time, const FieldValue *values, bool repeat,
              std::string_view reason);
    void resolve(const Rule &rule, Id id, RuleState &st, TimePoint time, const FieldValue *value,
                 std::string_view reason = {});
    void write(const Rule &rule, const About &s, const RuleState &st, bool firing, TimePoint time, bool repeat,
               std::string_view reason);
    void scan_timers();
    void note_deadline(TimePoint t) noexcept;

    RuleSet rules_;
    Duration repeat_;
    Emit emit_;
    // The sensors in the order first heard of: timers, the state file and
    // each_topic() go through them in that order.
    SensorTable table_;
    // By sensor number, one per rule: its state, and whether the rule's topic
    // filter matches the sensor's topic.
    PerSensor<RuleState> states_;
    PerSensor<std::uint8_t> applies_;
    Id last_ = SensorTable::none;  // the sensor of the previous reading
    SensorCap cap_;
    std::optional<Duration> forget_after_;
    bool tracking_ = false;
    std::vector<std::string> changed_;  // names of sensors changed or gone, for save_changes()
    std::ptrdiff_t placeholders_ = 0;  // sensors known only from a status topic
    TimePoint clock_{};
    TimePoint next_deadline_ = TimePoint::max();
    bool has_timers_ = false;
    bool dirty_ = false, alerted_ = false;
    std::uint64_t fired_ = 0, resolved_ = 0, forgotten_ = 0;
    // Per rule (as rules_), what its alerts take from the rule, as JSON
    // text made once: an alert copies it (write()).
    struct RuleText {
        // Each with the JSON around it that always comes with it (fewer copies):
        std::string opening[2];  // resolved, firing: `","rule":"NAME",...,"sensor":"`
        std::string field;       // `","field":"FIELD","value":` (ends the topic)
        std::string says[2];     // `,"message":"NAME resolved: `, `,"message":"NAME: `
        std::string is;          // `FIELD is `
        std::string closing[2];  // `","since":"`, ` (CONDITION)","since":"`
        std::string name, field_name, condition;
        std::vector<std::string> parts;  // the message template's, the text parts' text
    };
    static RuleText rule_text(const Rule &rule);
    void set_texts();
    std::vector<RuleText> texts_;
    RuleText other_text_;  // of a rule no longer in force (see write())
    std::string record_, name_json_, topic_json_, value_json_;
};

// Why `rules` cannot run under `bounds` ("" when they can): a sensor forgotten
// before a `no data` rule's delay would never be said silent.
std::string check_bounds(const RuleSet &rules, const SensorBounds &bounds);

// A field's value as JSON: a number, a string (`text`), else null.
void append_value(std::string &out, const FieldValue &v, std::string_view text);

// The message `scan` holds, at `time`: a reading when its payload is an
// object, a status when it is text on a .../status topic. The toolkit's own
// records carried by MQTT (alerts read back) are no readings: like any other
// payload they only move the clock.
void feed(Engine &engine, const RecordScanner &scan, std::string_view topic, TimePoint time);

}  // namespace dht::rules
