// The rule language of dht-rules (SPEC section 5, man page dht-rules(5)):
//   NAME [on FILTER]: CONDITION [for N readings | for DURATION] [clear CONDITION]
//       -> ACTION [SEVERITY] ["MESSAGE TEMPLATE"]
//   NAME [on FILTER]: no data for DURATION -> ACTION [SEVERITY] ["TEMPLATE"]
//   NAME [on FILTER]: FIELD unchanged for DURATION -> ...     (health rules:
//   NAME [on FILTER]: FIELD jumps by NUMBER -> ...             a whole condition
//   NAME [on FILTER]: FIELD rises|falls by NUMBER within DURATION -> ...  each)
// and `unless unhealthy` after the severity of a threshold rule.
// parsed into rules whose conditions refer to fields by index, so that a
// reading is a flat array of field values.
#pragma once

#include "dht/scan.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dht::rules {

using Duration = std::chrono::nanoseconds;

using dht::FieldValue;

// Kleene's three values: a reading that lacks a field (or holds a string where
// a number is compared) makes the comparison unknown, and unknown readings
// count neither for nor against a rule.
enum class Truth : std::uint8_t { no, yes, unknown };

enum class Op : std::uint8_t { lt, le, gt, ge, eq, ne };

struct Expr {
    enum class Kind : std::uint8_t { compare, all, any, negate };
    Kind kind = Kind::compare;
    Op op = Op::lt;
    bool text_operand = false;  // compares with a string ("==", "!=" only)
    std::size_t field = 0;      // index into RuleSet::fields
    double number = 0;
    std::string text;
    std::unique_ptr<Expr> left, right;  // all/any: both; negate: left
};

// A comparison, on the value of its field.
inline Truth compare(const Expr &e, const FieldValue &v) noexcept
{
    if (e.text_operand) {
        if (v.type != FieldValue::Type::string)
            return Truth::unknown;
        const bool equal = v.text == e.text;
        return (e.op == Op::eq) == equal ? Truth::yes : Truth::no;
    }
    if (v.type != FieldValue::Type::number)
        return Truth::unknown;
    bool r = false;
    switch (e.op) {
    case Op::lt: r = v.number < e.number; break;
    case Op::le: r = v.number <= e.number; break;
    case Op::gt: r = v.number > e.number; break;
    case Op::ge: r = v.number >= e.number; break;
    case Op::eq: r = v.number == e.number; break;
    case Op::ne: r = v.number != e.number; break;
    }
    return r ? Truth::yes : Truth::no;
}

Truth evaluate_tree(const Expr &e, const FieldValue *values) noexcept;

// A condition on a reading's values. A single comparison, the usual rule, is
// judged inline; and, or and not walk the tree.
inline Truth evaluate(const Expr &e, const FieldValue *values) noexcept
{
    return e.kind == Expr::Kind::compare ? compare(e, values[e.field]) : evaluate_tree(e, values);
}

enum class Action : std::uint8_t { alert, notify, escalate };
enum class Severity : std::uint8_t { info, warning, critical };
const char *name_of(Action a) noexcept;
const char *name_of(Severity s) noexcept;

// A message template: literal text and {placeholders}.
struct TemplatePart {
    enum class Kind : std::uint8_t { text, rule, sensor, topic, field, value, severity, action, state, condition };
    Kind kind = Kind::text;
    std::string text;
};

// The health rules: a whole condition each, on one numeric field, judged on
// the sensor's readings in their order (engine.cpp says how exactly).
enum class Health : std::uint8_t { none, unchanged, jumps, rises, falls };
const char *name_of(Health h) noexcept;

// rises/falls by X within W: record time is cut into steps of W / window_steps
// (from the epoch); the window is the step of the reading and the
// window_steps steps before it: every reading at most W old counts, and one
// up to W + W/16 old may. A rule keeps one value a step for each sensor.
inline constexpr int window_steps = 16;

struct Rule {
    std::string name;
    std::string source;     // the rule's text as written: with its name, its identity in --state
    std::string origin;     // FILE:LINE, for messages
    std::string filter;     // topic filter ("": every topic)
    bool no_data = false;   // no data for `silence`
    Duration silence{};
    std::unique_ptr<Expr> when;
    std::string condition;  // the condition's text, for default messages
    std::size_t field = 0;  // the first field the condition names: an alert's "field" and "value"
    std::string field_name;  // its path
    std::unique_ptr<Expr> clear;
    unsigned readings = 0;  // for N readings (0: not given)
    Duration hold{};        // for DURATION (0: not given)
    Health health = Health::none;
    double delta = 0;       // jumps/rises/falls by
    Duration span{};        // unchanged for, within
    bool unless_unhealthy = false;  // threshold rules: quiet while the sensor is unhealthy
    Action action = Action::alert;
    Severity severity = Severity::warning;
    std::vector<TemplatePart> message;  // empty: the default message

    // A rule on the readings' values that `unless unhealthy` may quiet.
    bool threshold() const noexcept { return !no_data && health == Health::none; }
};

struct RuleSet {
    std::vector<Rule> rules;
    std::vector<std::string> fields;  // distinct dotted paths, indexed by Expr::field
};

struct ParseError {
    std::string where;  // FILE:LINE:COL
    std::string message;
    std::string line;    // the source line
    std::size_t column = 0;  // 1-based
    std::string hint;
};

// Parses `text` (a rule file, or one -e rule) named `source` in messages, adding
// its rules to `set` and its errors to `errors`.
void parse_rules(std::string_view text, const std::string &source, RuleSet &set, std::vector<ParseError> &errors);

// "FILE:LINE:COL: message", then the line, a caret and the hint, each on its own line.
std::string format_error(const ParseError &e);

// The rules of every file in `files` (-r) and every text in `inline_rules`
// (-e, named "-e#1", ...); nullopt, every error said on stderr, when one is
// wrong. A file that cannot be read ends the program (Exit 66).
std::optional<RuleSet> load_rules(const std::vector<std::string> &files, const std::vector<std::string> &inline_rules);

}  // namespace dht::rules
