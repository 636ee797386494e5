#include "ahead.hpp"
#include "engine.hpp"
#include "rules.hpp"
#include "sensors.hpp"
#include "state.hpp"
#include "testfile.hpp"

#include "temp_dir.hpp"

#include "dht/files.hpp"
#include "dht/input.hpp"
#include "dht/json.hpp"
#include "dht/scan.hpp"
#include "dht/time.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

using namespace dht;
using namespace dht::rules;
using namespace std::chrono_literals;

namespace {

RuleSet parse_ok(std::string_view text)
{
    RuleSet set;
    std::vector<ParseError> errors;
    parse_rules(text, "t.rules", set, errors);
    for (const auto &e : errors)
        FAIL(format_error(e));
    return set;
}

ParseError parse_bad(std::string_view text)
{
    RuleSet set;
    std::vector<ParseError> errors;
    parse_rules(text, "t.rules", set, errors);
    REQUIRE(errors.size() == 1);
    return errors.front();
}

FieldValue num(double v)
{
    FieldValue f;
    f.type = FieldValue::Type::number;
    f.number = v;
    return f;
}

FieldValue text(std::string_view s)
{
    FieldValue f;
    f.type = FieldValue::Type::string;
    f.text = s;
    return f;
}

const TimePoint t0 = *parse_rfc3339("2026-11-24T10:00:00Z");

// An engine over `rules` whose alerts are collected as parsed objects.
struct Harness {
    std::vector<json::object> alerts;
    Engine engine;

    explicit Harness(std::string_view rules, Duration repeat = {}, SensorBounds bounds = {})
        : engine(
              parse_ok(rules), repeat, [this](std::string_view r) { alerts.push_back(json::parse(r).as_object()); },
              bounds)
    {
    }

    // A reading with the given fields (in the rule set's field order).
    void read(std::string_view sensor, TimePoint t, std::vector<FieldValue> values, std::string_view topic = "")
    {
        values.resize(engine.rules().fields.size());
        engine.reading({sensor, topic.empty() ? sensor : topic, t, values.data()});
    }

    std::string last(std::string_view key) const
    {
        REQUIRE(!alerts.empty());
        return json::serialize(alerts.back().at(key));
    }
};

}  // namespace

TEST_CASE("rules: the SPEC's four rules parse", "[rules]")
{
    const auto set = parse_ok("# NAME: CONDITION -> ACTION\n"
                              "cold:   temperature < 5 for 5 readings -> alert warning\n"
                              "freeze: temperature < 0 -> escalate critical\n"
                              "humid:  humidity > 90 -> notify info\n"
                              "silent: no data for 10m -> alert warning\n");
    REQUIRE(set.rules.size() == 4);
    CHECK(set.fields == std::vector<std::string>{"temperature", "humidity"});
    CHECK(set.rules[0].readings == 5);
    CHECK(set.rules[0].condition == "temperature < 5 for 5 readings");
    CHECK(set.rules[1].action == Action::escalate);
    CHECK(set.rules[1].severity == Severity::critical);
    CHECK(set.rules[2].field == 1);
    CHECK(set.rules[3].no_data);
    CHECK(set.rules[3].silence == 10min);
    CHECK(set.rules[0].source == "cold:   temperature < 5 for 5 readings -> alert warning");
    // A trailing comment is not part of the rule: editing it keeps the rule's state.
    CHECK(parse_ok("a: t < 5 -> alert   # note").rules[0].source == "a: t < 5 -> alert");
    CHECK(parse_ok("a: t < 5 -> alert \"# not a comment\"").rules[0].source == "a: t < 5 -> alert \"# not a comment\"");
}

TEST_CASE("rules: extensions: durations, clear, filters, strings, templates, default severities", "[rules]")
{
    const auto set = parse_ok(
        "warm on dht11/+/data: (temperature > 30 or env.heat >= 1e1) and not state == \"off\" for 90s "
        "clear temperature < 28 -> notify \"{sensor}: {value}{{C}}\"\n"
        "esc: temperature<0->escalate\n");
    const Rule &r = set.rules[0];
    CHECK(r.filter == "dht11/+/data");
    CHECK(r.hold == 90s);
    REQUIRE(r.clear);
    CHECK(r.severity == Severity::info);  // notify's default
    CHECK(set.rules[1].severity == Severity::critical);
    CHECK(set.fields == std::vector<std::string>{"temperature", "env.heat", "state"});
    REQUIRE(r.message.size() == 4);
    CHECK(r.message[0].kind == TemplatePart::Kind::sensor);
    CHECK(r.message[3].text == "{C}");
}

TEST_CASE("rules: errors name the line and column, with a hint", "[rules]")
{
    auto e = parse_bad("\n\ncold: temperature < five -> alert\n");
    CHECK(e.where == "t.rules:3:21");
    CHECK(e.message == "expected a number after '<', found 'five'");
    CHECK_THAT(e.hint, Catch::Contains("FIELD OP NUMBER"));
    CHECK_THAT(format_error(e), Catch::Contains("\n                        ^"));

    CHECK(parse_bad("a: t = 5 -> alert").hint == "equality is written ==");
    CHECK(parse_bad("a: t < 5 -> page").message == "unknown action 'page'");
    CHECK(parse_bad("a: t < 5 -> alert loud").message == "unknown severity 'loud'");
    CHECK(parse_bad("a: t < 5 for 5 -> alert").message == "expected 'readings' after 'for 5'");
    CHECK(parse_bad("a: t < 5 for 5x -> alert").message == "'5x' is not a duration");
    CHECK(parse_bad("a: t < 5").hint == "a rule ends with -> ACTION [SEVERITY], e.g. -> alert warning");
    CHECK(parse_bad("a t < 5 -> alert").message == "expected ':' after the rule name, found 't'");
    CHECK(parse_bad("a: (t < 5 -> alert").hint == "the '(' at column 4 is not closed");
    CHECK(parse_bad("a: t < 5 && h > 3 -> alert").hint == "combine conditions with and, or, not");
    CHECK(parse_bad("a: t < \"x\" -> alert").message == "a string compares with == or != only");
    CHECK(parse_bad("a: t < 5 -> alert \"{nope}\"").message == "unknown placeholder '{nope}'");
    CHECK(parse_bad("a on dht11/#/x: t < 5 -> alert").message == "bad topic filter 'dht11/#/x'");
    CHECK(parse_bad("a: t < 5 -> alert\na: t > 5 -> alert").hint == "rule names are unique; the first one is at t.rules:1");
    CHECK(parse_bad("a: no data for soon -> alert").hint.starts_with("a duration is"));
}

TEST_CASE("rules: three-valued logic: a missing field counts neither way", "[rules]")
{
    const auto set = parse_ok("a: t < 5 or h > 90 -> alert\nb: t < 5 and h > 90 -> alert\nc: not t < 5 -> alert\n"
                              "d: s == \"on\" -> alert\n");
    const FieldValue missing{};
    const auto eval = [&](std::size_t rule, std::vector<FieldValue> v) {
        v.resize(set.fields.size());
        return evaluate(*set.rules[rule].when, v.data());
    };
    CHECK(eval(0, {num(3), missing}) == Truth::yes);
    CHECK(eval(0, {num(6), missing}) == Truth::unknown);
    CHECK(eval(0, {num(6), num(50)}) == Truth::no);
    CHECK(eval(1, {num(6), missing}) == Truth::no);
    CHECK(eval(1, {num(3), missing}) == Truth::unknown);
    CHECK(eval(2, {missing}) == Truth::unknown);
    CHECK(eval(2, {num(7)}) == Truth::yes);
    CHECK(eval(2, {text("7")}) == Truth::unknown);  // a string is not a number
    CHECK(eval(3, {missing, missing, text("on")}) == Truth::yes);
    CHECK(eval(3, {missing, missing, num(1)}) == Truth::unknown);
}

TEST_CASE("engine: for N readings fires once, and resolves once", "[engine]")
{
    Harness h("cold: temperature < 5 for 3 readings -> alert warning");
    h.read("s1", t0, {num(4)});
    h.read("s1", t0 + 1s, {num(4)});
    h.read("s2", t0 + 2s, {num(1)});  // another sensor: its own count
    h.read("s1", t0 + 3s, {});        // no temperature: does not break the run
    CHECK(h.alerts.empty());
    h.read("s1", t0 + 4s, {num(3.5)});
    REQUIRE(h.alerts.size() == 1);
    CHECK(h.last("state") == "\"firing\"");
    CHECK(h.last("sensor") == "\"s1\"");
    CHECK(h.alerts.back().at("value").to_number<double>() == 3.5);
    CHECK(h.last("timestamp") == "\"2026-11-24T10:00:04.000Z\"");
    h.read("s1", t0 + 5s, {num(2)});
    CHECK(h.alerts.size() == 1);  // still firing: nothing new
    h.read("s1", t0 + 6s, {num(5)});
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.last("state") == "\"resolved\"");
    CHECK(h.last("since") == "\"2026-11-24T10:00:04.000Z\"");
    // The count starts again: a false reading in between resets it.
    h.read("s1", t0 + 7s, {num(4)});
    h.read("s1", t0 + 8s, {num(6)});
    h.read("s1", t0 + 9s, {num(4)});
    h.read("s1", t0 + 10s, {num(4)});
    CHECK(h.alerts.size() == 2);
}

TEST_CASE("engine: for DURATION needs the condition to hold that long", "[engine]")
{
    Harness h("hot: temperature > 30 for 1m -> alert");
    h.read("s", t0, {num(31)});
    h.read("s", t0 + 30s, {num(32)});
    CHECK(h.alerts.empty());
    h.read("s", t0 + 60s, {num(31)});
    REQUIRE(h.alerts.size() == 1);
    h.read("s", t0 + 70s, {num(20)});
    h.read("s", t0 + 80s, {num(31)});
    h.read("s", t0 + 130s, {num(31)});
    CHECK(h.alerts.size() == 2);  // 50 s is not a minute
}

TEST_CASE("engine: clear gives hysteresis", "[engine]")
{
    Harness h("cold: temperature < 5 clear temperature > 7 -> alert");
    h.read("s", t0, {num(4)});
    h.read("s", t0 + 1s, {num(6)});
    h.read("s", t0 + 2s, {num(7)});
    CHECK(h.alerts.size() == 1);
    h.read("s", t0 + 3s, {num(7.1)});
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.last("state") == "\"resolved\"");
    CHECK(h.alerts.back().at("value").to_number<double>() == 7.1);
}

TEST_CASE("engine: topic filters and message templates", "[engine]")
{
    Harness h("cellar on dht11/cellar/#: temperature < 5 -> notify \"{rule}/{sensor}/{field}={value} {severity} "
              "{action} {state}\"");
    h.read("a", t0, {num(1)}, "dht11/kitchen/data");
    CHECK(h.alerts.empty());
    h.read("b", t0, {num(1)}, "dht11/cellar/data");
    REQUIRE(h.alerts.size() == 1);
    CHECK(h.last("message") == "\"cellar/b/temperature=1 info notify firing\"");
    CHECK(h.last("topic") == "\"dht11/cellar/data\"");
}

TEST_CASE("engine: no data fires for a silent sensor, without new input, and resolves on data", "[engine]")
{
    Harness h("silent: no data for 10m -> alert");
    h.read("a", t0, {});
    h.read("b", t0 + 5min, {});
    h.engine.advance(t0 + 9min);
    CHECK(h.alerts.empty());
    h.engine.advance(t0 + 10min);  // a timer: no reading needed
    REQUIRE(h.alerts.size() == 1);
    CHECK(h.last("sensor") == "\"a\"");
    CHECK(h.last("reason") == "\"silent\"");
    CHECK(h.last("timestamp") == "\"2026-11-24T10:10:00.000Z\"");
    h.engine.advance(t0 + 11min);
    CHECK(h.alerts.size() == 1);  // fires once
    h.read("a", t0 + 12min, {});
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.last("state") == "\"resolved\"");
    h.engine.advance(t0 + 16min);
    REQUIRE(h.alerts.size() == 3);
    CHECK(h.last("sensor") == "\"b\"");
}

TEST_CASE("engine: an offline status fires no data at once; the stand-in gives way to the real sensor", "[engine]")
{
    Harness h("silent: no data for 10m -> alert critical");
    h.read("kitchen", t0, {}, "dht11/kitchen/data");
    h.engine.status("dht11/kitchen/status", "offline", t0 + 1min);
    REQUIRE(h.alerts.size() == 1);
    CHECK(h.last("sensor") == "\"kitchen\"");
    CHECK(h.last("reason") == "\"offline\"");
    // A device never heard of: its data topic names it until it speaks.
    h.engine.status("dht11/attic/status", "offline", t0 + 2min);
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.last("sensor") == "\"dht11/attic/data\"");
    h.read("attic", t0 + 3min, {}, "dht11/attic/data");
    REQUIRE(h.alerts.size() == 3);
    CHECK(h.last("sensor") == "\"dht11/attic/data\"");
    CHECK(h.last("state") == "\"resolved\"");
    CHECK(h.engine.sensors() == 2);
    h.engine.status("dht11/kitchen/status", "online", t0 + 4min);
    CHECK(h.alerts.size() == 3);  // online is not data: still firing
    h.engine.status("dht11/kitchen/status", "rebooting", t0 + 4min);
    CHECK(h.alerts.size() == 3);
}

TEST_CASE("engine: --repeat re-sends while firing", "[engine]")
{
    Harness h("cold: temperature < 5 -> alert", 10min);
    h.read("s", t0, {num(1)});
    h.engine.advance(t0 + 9min);
    CHECK(h.alerts.size() == 1);
    h.engine.advance(t0 + 10min);
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.last("repeat") == "true");
    CHECK(h.last("since") == "\"2026-11-24T10:00:00.000Z\"");
    h.read("s", t0 + 11min, {num(9)});
    h.engine.advance(t0 + 40min);
    CHECK(h.alerts.size() == 3);  // resolved; no more repeats
}

TEST_CASE("engine: timers past the end of 64-bit time never come due, and do not overflow", "[engine]")
{
    const TimePoint late = *parse_rfc3339("2261-12-31T00:00:00Z");
    Harness h("silent: no data for 200d -> alert", 200 * 24h);
    h.read("s", late, {});
    h.engine.advance(late + 1h);
    CHECK(h.alerts.empty());  // 200 days after 2261 cannot be said: never
    h.read("t", late - 300 * 24h, {});
    h.engine.advance(late + 2h);
    REQUIRE(h.alerts.size() == 1);  // the other sensor's deadline passed
    CHECK(h.last("sensor") == "\"t\"");
    CHECK(h.last("timestamp") == "\"2261-09-22T00:00:00.000Z\"");
}

TEST_CASE("engine: for DURATION across the whole range of time", "[engine]")
{
    Harness h("hot: temperature > 30 for 200d -> alert");
    h.read("s", *parse_rfc3339("1678-01-01T00:00:00Z"), {num(31)});
    h.read("s", *parse_rfc3339("2261-12-31T00:00:00Z"), {num(31)});
    REQUIRE(h.alerts.size() == 1);
    CHECK(h.last("timestamp") == "\"2261-12-31T00:00:00.000Z\"");
}

TEST_CASE("engine: state saved and restored; changed rules start afresh", "[engine]")
{
    std::string saved;
    {
        Harness h("cold: temperature < 5 for 3 readings -> alert\nhumid: humidity > 90 -> notify");
        h.read("s", t0, {num(4), num(95)});
        h.read("s", t0 + 1s, {num(4), num(95)});
        CHECK(h.alerts.size() == 1);  // humid
        saved = h.engine.save();
    }
    Harness again("cold: temperature < 5 for 3 readings -> alert\nhumid: humidity > 90 -> notify");
    again.engine.restore(json::parse(saved));
    again.read("s", t0 + 2s, {num(4), num(95)});
    REQUIRE(again.alerts.size() == 1);  // cold's third reading; humid does not fire again
    CHECK(again.last("rule") == "\"cold\"");
    again.read("s", t0 + 3s, {num(6), num(50)});
    CHECK(again.alerts.size() == 3);  // both resolve

    Harness changed("cold: temperature < 4 for 3 readings -> alert");
    changed.engine.restore(json::parse(saved));
    REQUIRE(changed.alerts.size() == 1);  // humid is gone: its alert resolves
    CHECK(changed.last("rule") == "\"humid\"");
    changed.read("s", t0 + 2s, {num(3)});
    CHECK(changed.alerts.size() == 1);  // the count of the old cold is not the new one's

    // A rule changed while it fired: its alert resolves when the state is read.
    {
        Harness fired("humid: humidity > 90 -> notify");
        fired.read("s", t0, {num(95)});
        const std::string firing = fired.engine.save();
        Harness edited("humid: humidity > 95 -> notify");
        edited.engine.restore(json::parse(firing));
        REQUIRE(edited.alerts.size() == 1);
        CHECK(edited.last("state") == "\"resolved\"");
        CHECK(edited.last("reason") == "\"rule changed\"");
        CHECK(edited.last("field") == "\"humidity\"");
        edited.read("s", t0 + 1s, {num(96)});
        CHECK(edited.alerts.size() == 2);  // and the new rule fires on its own
    }

    Harness h("cold: temperature < 5 -> alert");
    // Wrong anywhere, the file changes nothing.
    const std::string half = R"({"version":1,"clock":"2026-11-24T10:00:00Z","rules":{},"sensors":[)"
                             R"({"name":"a","topic":"a","last_seen":"2026-11-24T10:00:00Z"},)"
                             R"({"name":"b","topic":"b","last_seen":"yesterday"}]})";
    CHECK_THROWS_AS(h.engine.restore(json::parse(half)), std::runtime_error);
    CHECK(h.engine.sensors() == 0);
    CHECK_THROWS_AS(h.engine.restore(json::parse("{\"version\":2}")), std::runtime_error);
    CHECK_THROWS_AS(h.engine.restore(json::parse("[1]")), std::runtime_error);
}

TEST_CASE("engine: an alert escapes what needs it, wherever it comes from", "[engine]")
{
    // The rule's own parts are escaped once, the sensor's, topic's and
    // value's at each alert: the template, the condition, the sensor, the topic
    // and the value each hold a quote, a backslash or a control byte.
    Harness h("qt: mode == \"a\\\"b\" -> alert \"{rule}\\t{sensor} {topic} {value} {condition} \\\\ \\\"\"\n"
              "plain: mode == \"a\\\"b\" -> notify");
    h.read("s\"1\n", t0, {text("a\"b")}, "dht11/\\x/data");
    REQUIRE(h.alerts.size() == 2);
    const auto &custom = h.alerts[0];
    CHECK(custom.at("rule") == "qt");
    CHECK(custom.at("sensor") == "s\"1\n");
    CHECK(custom.at("topic") == "dht11/\\x/data");
    CHECK(custom.at("value") == "a\"b");
    CHECK(custom.at("message") == "qt\ts\"1\n dht11/\\x/data a\"b mode == \"a\\\"b\" \\ \"");
    const auto &plain = h.alerts[1];
    CHECK(plain.at("message") == "plain: mode is a\"b on s\"1\n (mode == \"a\\\"b\")");
    h.read("s\"1\n", t0 + 1s, {text("c")}, "dht11/\\x/data");
    REQUIRE(h.alerts.size() == 4);
    CHECK(h.alerts[3].at("message") == "plain resolved: mode is c on s\"1\n");
    CHECK(h.alerts[3].at("value") == "c");
}

TEST_CASE("engine: a string value, a reason and a topic other than the name survive saving and restoring", "[engine]")
{
    const std::string rules = "mode: mode == \"fault\" -> alert\nsilent: no data for 10m -> alert";
    const FieldValue fault = text("fault");
    std::string saved;
    {
        Harness h(rules);
        h.read("gw-1", t0, {fault}, "dht11/gateway/data");
        h.read("gw-2", t0, {}, "dht11/gateway/data");
        h.read("gw-3", t0, {}, "dht11/gateway/data");
        h.read("gw-2", t0 + 1s, {}, "dht11/moved/data");  // leaves the gateway: gw-3 takes its place
        REQUIRE(h.alerts.size() == 1);
        CHECK(h.last("value") == "\"fault\"");
        CHECK(h.last("topic") == "\"dht11/gateway/data\"");
        h.engine.status("dht11/gateway/status", "offline", t0 + 2s);
        REQUIRE(h.alerts.size() == 3);  // in the order they came under the prefix
        CHECK(h.alerts[1].at("sensor") == "gw-1");
        CHECK(h.alerts[2].at("sensor") == "gw-3");
        CHECK(h.last("reason") == "\"offline\"");
        saved = h.engine.save();
    }
    Harness again(rules);
    again.engine.restore(json::parse(saved));
    const auto by_name = [](const std::string &state) {
        std::map<std::string, std::string> sensors;  // the order of the sensors is not kept
        const json::value parsed = json::parse(state);
        for (const auto &sensor : parsed.at("sensors").as_array())
            sensors[std::string(sensor.at("name").as_string())] = json::serialize(sensor);
        return sensors;
    };
    CHECK(by_name(again.engine.save()) == by_name(saved));
    CHECK(by_name(saved).size() == 3);
    again.read("gw-1", t0 + 3s, {text("ok")}, "dht11/gateway/data");
    REQUIRE(again.alerts.size() == 2);
    CHECK(again.alerts[0].at("rule") == "mode");
    CHECK(again.alerts[0].at("value") == "ok");
    CHECK(again.alerts[0].at("since") == "2026-11-24T10:00:00.000Z");
    CHECK(again.alerts[1].at("rule") == "silent");
    CHECK(again.alerts[1].at("reason") == "data");
    CHECK(again.alerts[1].at("topic") == "dht11/gateway/data");
}

TEST_CASE("engine: replacing the rules keeps the state of unchanged ones and resolves the rest", "[engine]")
{
    Harness h("cold: temperature < 5 for 2 readings -> alert\nfreeze: temperature < 0 -> escalate");
    h.read("s", t0, {num(-1)});
    CHECK(h.alerts.size() == 1);  // freeze
    h.engine.replace(parse_ok("new: humidity > 90 -> notify\ncold: temperature < 5 for 2 readings -> alert"));
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.last("rule") == "\"freeze\"");
    CHECK(h.last("state") == "\"resolved\"");
    h.read("s", t0 + 1s, {num(95), num(3)});  // fields in the new order: humidity, temperature
    REQUIRE(h.alerts.size() == 4);
    CHECK(json::serialize(h.alerts[2].at("rule")) == "\"new\"");
    CHECK(h.last("rule") == "\"cold\"");  // its first reading was counted before the reload
}

TEST_CASE("test files: expected alerts match by subset, numbers by value, times by instant", "[rules]")
{
    const auto want = json::parse(R"({"rule":"cold","value":3.0,"timestamp":"2026-11-24T11:00:00+01:00"})").as_object();
    CHECK(alert_matches(want, json::parse(R"({"rule":"cold","value":3,"timestamp":"2026-11-24T10:00:00.000Z","x":1})")
                                  .as_object()));
    CHECK_FALSE(alert_matches(want, json::parse(R"({"rule":"cold","value":3.5,"timestamp":"2026-11-24T10:00:00.000Z"})")
                                        .as_object()));
    CHECK_FALSE(alert_matches(want, json::parse(R"({"rule":"cold","value":3})").as_object()));
}

namespace {

SensorBounds bounds(std::size_t max, std::optional<Duration> forget = std::nullopt)
{
    SensorBounds b;
    b.max_sensors = max;
    b.forget_after = forget;
    return b;
}

// The sensors of a saved state by name, and its clock: what two states must
// share to be the same, whatever the order of the sensors.
std::map<std::string, std::string> sensors_of(const std::string &saved)
{
    std::map<std::string, std::string> out;
    const auto root = json::parse(saved).as_object();
    out["clock"] = json::serialize(root.at("clock"));
    for (const auto &s : root.at("sensors").as_array())
        out[std::string(s.at("name").as_string())] = json::serialize(s);
    return out;
}

std::uintmax_t size_of(const std::string &path) { return std::filesystem::file_size(path); }

std::string contents(const std::string &path)
{
    std::string text;
    REQUIRE(read_file(path, text).empty());
    return text;
}

}  // namespace

TEST_CASE("engine: --max-sensors: readings and statuses from sensors beyond it are skipped and counted", "[engine]")
{
    Harness h("cold: temperature < 5 -> alert\nsilent: no data for 10m -> alert", {}, bounds(2));
    h.read("a", t0, {num(20)}, "dht11/a/data");
    h.read("b", t0, {num(20)}, "dht11/b/data");
    h.read("c", t0, {num(1)}, "dht11/c/data");
    CHECK(h.alerts.empty());  // c is not tracked: no alert
    CHECK(h.engine.sensors() == 2);
    CHECK(h.engine.cap().refused() == 1);
    h.engine.status("dht11/d/status", "offline", t0 + 1s);  // its placeholder would be a third
    CHECK(h.alerts.empty());
    CHECK(h.engine.cap().refused() == 2);
    h.read("a", t0 + 2s, {num(1)}, "dht11/a/data");  // the known ones are served
    REQUIRE(h.alerts.size() == 1);
    CHECK(h.last("sensor") == "\"a\"");
    h.engine.status("dht11/b/status", "offline", t0 + 3s);
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.last("reason") == "\"offline\"");
    CHECK(h.engine.cap().refused() == 2);

    // Placeholders count: two statuses fill a cap of two.
    Harness p("silent: no data for 10m -> alert", {}, bounds(2));
    p.engine.status("dht11/x/status", "offline", t0);
    p.engine.status("dht11/y/status", "offline", t0);
    p.read("z", t0 + 1s, {}, "dht11/z/data");
    CHECK(p.engine.sensors() == 2);
    CHECK(p.engine.cap().refused() == 1);
    p.read("dht11/x/data", t0 + 2s, {}, "dht11/x/data");  // the placeholder's own sensor
    CHECK(p.last("state") == "\"resolved\"");
}

TEST_CASE("engine: --forget-after forgets silent sensors, and resolves their alerts with a reason", "[engine]")
{
    Harness h("silent: no data for 10m -> alert\ncold: temperature < 5 -> alert", {}, bounds(2, 1h));
    h.read("a", t0, {num(1)}, "dht11/a/data");
    REQUIRE(h.alerts.size() == 1);  // cold
    h.read("b", t0, {num(20)}, "dht11/b/data");
    h.read("c", t0, {num(20)}, "dht11/c/data");
    CHECK(h.engine.cap().refused() == 1);
    h.engine.advance(t0 + 10min);
    REQUIRE(h.alerts.size() == 3);  // silent, for a and b
    h.read("b", t0 + 55min, {num(20)}, "dht11/b/data");
    REQUIRE(h.alerts.size() == 4);  // b's silent resolves
    h.engine.advance(t0 + 59min);
    CHECK(h.engine.sensors() == 2);
    h.engine.advance(t0 + 61min);
    // a was silent for an hour: both its alerts resolve, saying why.
    REQUIRE(h.alerts.size() == 6);
    CHECK(h.engine.sensors() == 1);
    CHECK(h.engine.forgotten() == 1);
    for (std::size_t i = 4; i < 6; ++i) {
        CHECK(json::serialize(h.alerts[i].at("sensor")) == "\"a\"");
        CHECK(json::serialize(h.alerts[i].at("state")) == "\"resolved\"");
        CHECK(json::serialize(h.alerts[i].at("reason")) == "\"forgotten\"");
        CHECK(json::serialize(h.alerts[i].at("timestamp")) == "\"2026-11-24T11:00:00.000Z\"");
    }
    CHECK(json::serialize(h.alerts[4].at("message")).find("no longer watching a") != std::string::npos);
    CHECK(h.engine.save().find("\"a\"") == std::string::npos);  // it leaves the saved state
    // It made room: c is tracked now, and a starts afresh when it speaks again.
    h.read("c", t0 + 62min, {num(1)}, "dht11/c/data");
    REQUIRE(h.alerts.size() == 7);
    CHECK(h.last("sensor") == "\"c\"");
    CHECK(h.engine.cap().refused() == 1);
    h.read("a", t0 + 63min, {num(20)}, "dht11/a/data");
    CHECK(h.engine.cap().refused() == 2);  // full again: b and c

    // A sensor that is forgotten before a `no data` rule could fire is refused at the start.
    CHECK(check_bounds(parse_ok("silent: no data for 1h -> alert"), bounds(10, 1h)) ==
          "--forget-after 1h is not longer than rule 'silent' (no data for 1h): "
          "a silent sensor would be forgotten before it is said silent");
    CHECK(check_bounds(parse_ok("silent: no data for 1h -> alert"), bounds(10, 61min)).empty());
    CHECK(check_bounds(parse_ok("silent: no data for 1h -> alert"), bounds(10)).empty());
}

TEST_CASE("engine: the sensor table finds sensors by name and by prefix as they come, go and move", "[engine]")
{
    SensorTable t;
    std::vector<std::string> names;
    for (int i = 0; i < 3000; ++i)
        names.push_back("p" + std::to_string(i % 7) + "/s" + std::to_string(i));
    for (const auto &name : names)
        t.index(t.add(name));
    std::vector<SensorTable::Id> id(names.size());
    for (std::size_t i = 0; i < names.size(); ++i)
        id[i] = static_cast<SensorTable::Id>(i);
    std::vector<bool> present(names.size(), true);
    // The names under each prefix, in no particular order.
    const auto under = [&](std::string_view prefix) {
        std::multiset<std::string> got;
        for (auto s = t.first_under(prefix); s != SensorTable::none; s = t[s].next_under)
            got.emplace(t.name(s));
        return got;
    };
    const auto check = [&] {
        std::map<std::string, std::multiset<std::string>> want;
        for (std::size_t i = 0; i < names.size(); ++i) {
            CHECK(t.find(names[i]) == (present[i] ? id[i] : SensorTable::none));
            if (present[i])
                want[std::string(prefix_of(t.topic(id[i])))].insert(names[i]);
        }
        for (const auto &[prefix, want_names] : want)
            CHECK(under(prefix) == want_names);
        CHECK(t.size() == static_cast<std::size_t>(std::count(present.begin(), present.end(), true)));
    };
    for (std::size_t i = 0; i < names.size(); i += 3) {
        t.remove(id[i]);
        present[i] = false;
    }
    // Some move to a prefix of their own, and back.
    for (std::size_t i = 1; i < names.size(); i += 5) {
        if (!present[i])
            continue;
        t.set_topic(id[i], "moved/" + names[i]);
        t.index(id[i]);
    }
    t.set_topic(id[1], names[1]);
    t.index(id[1]);
    check();
    REQUIRE(t.wants_compaction() == false);
    for (std::size_t i = 1; i < names.size(); i += 3) {
        t.remove(id[i]);
        present[i] = false;
    }
    REQUIRE(t.wants_compaction());
    std::vector<SensorTable::Id> moved(names.size(), SensorTable::none);
    t.compact([&](SensorTable::Id from, SensorTable::Id to) { moved[from] = to; });
    SensorTable::Id next = 0;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (!present[i])
            continue;
        CHECK(moved[i] == (i == next ? SensorTable::none : next));  // in order, only those that move
        id[i] = next++;
    }
    CHECK(t.end() == next);
    check();

    // A topic that keeps changing leaves text unused: enough of it is worth a compaction.
    std::string topic;
    for (int i = 0; i < 1000 && !t.wants_compaction(); ++i) {
        topic = "a/longer/topic/than/the/name/" + std::to_string(i % 2);
        t.set_topic(id[2], topic);
        t.index(id[2]);
    }
    CHECK(t.wants_compaction());
    t.compact([](SensorTable::Id, SensorTable::Id) {});
    CHECK_FALSE(t.wants_compaction());
    CHECK(t.topic(id[2]) == topic);
    check();
}

TEST_CASE("engine: timers and the state file go through the sensors in the order first heard of", "[engine]")
{
    Harness h("silent: no data for 10m -> alert", {}, bounds(1000, 1h));
    // Names in an order that is neither sorted nor a hash table's.
    std::vector<std::string> names;
    for (int i = 0; i < 100; ++i)
        names.push_back("dht11/s" + std::to_string((i * 37) % 100) + "/data");
    for (const auto &name : names)
        h.read(name, t0, {});
    h.engine.advance(t0 + 11min);
    REQUIRE(h.alerts.size() == 100);
    for (std::size_t i = 0; i < names.size(); ++i)
        CHECK(h.alerts[i].at("sensor").as_string() == std::string_view(names[i]));

    // Every tenth sensor stays, the others are forgotten; two new ones come
    // after those that stayed, whose order is kept.
    std::vector<std::string> want;
    for (std::size_t i = 0; i < names.size(); i += 10) {
        h.read(names[i], t0 + 50min, {});
        want.push_back(names[i]);
    }
    h.engine.advance(t0 + 61min);
    CHECK(h.engine.sensors() == 10);
    h.read("dht11/new-b/data", t0 + 62min, {});
    h.read("dht11/new-a/data", t0 + 62min, {});
    want.insert(want.end(), {"dht11/new-b/data", "dht11/new-a/data"});
    std::vector<std::string> saved;
    const json::value state = json::parse(h.engine.save());
    for (const auto &sensor : state.at("sensors").as_array())
        saved.emplace_back(sensor.at("name").as_string());
    CHECK(saved == want);

    // Each is still found by its name, and by the prefix of its topic.
    const std::string &kept = names[50];
    h.read(kept, t0 + 63min, {});
    CHECK(h.engine.sensors() == 12);
    CHECK(h.last("sensor") == json::serialize(json::value(kept)));
    CHECK(h.last("state") == "\"resolved\"");
    h.engine.status(std::string(prefix_of(kept)) + "/status", "offline", t0 + 64min);
    CHECK(h.engine.sensors() == 12);
    CHECK(h.last("sensor") == json::serialize(json::value(kept)));
    CHECK(h.last("reason") == "\"offline\"");
}

TEST_CASE("engine: a status topic finds its sensors by their prefix, among many", "[engine]")
{
    Harness h("silent: no data for 10m -> alert critical", {}, bounds(100000));
    for (int i = 0; i < 20000; ++i) {
        const std::string topic = "dht11/s" + std::to_string(i) + "/data";
        h.read(topic, t0, {}, topic);
    }
    // Statuses for 20000 devices never heard of: each its placeholder, each an alert.
    for (int i = 0; i < 20000; ++i)
        h.engine.status("dht11/new" + std::to_string(i) + "/status", "offline", t0 + 1s);
    CHECK(h.alerts.size() == 20000);
    CHECK(h.engine.sensors() == 40000);
    h.engine.status("dht11/s123/status", "offline", t0 + 2s);
    REQUIRE(h.alerts.size() == 20001);
    CHECK(h.last("sensor") == "\"dht11/s123/data\"");

    // Several sensors under one prefix (a shared topic), and one that moves away.
    h.read("k1", t0 + 3s, {}, "dht11/shared/data");
    h.read("k2", t0 + 3s, {}, "dht11/shared/data");
    h.read("k3", t0 + 3s, {}, "dht11/shared/data");
    h.read("k2", t0 + 4s, {}, "dht11/moved/data");
    h.engine.status("dht11/shared/status", "offline", t0 + 5s);
    REQUIRE(h.alerts.size() == 20003);
    CHECK(json::serialize(h.alerts[20001].at("sensor")) != "\"k2\"");
    CHECK(h.last("sensor") != "\"k2\"");
    h.engine.status("dht11/moved/status", "offline", t0 + 6s);
    REQUIRE(h.alerts.size() == 20004);
    CHECK(h.last("sensor") == "\"k2\"");
}

TEST_CASE("state: an alert appends its sensor to the journal; file and journal restore the state", "[engine]")
{
    test::TempDir dir("dht-rules-test");
    const std::string path = dir.path + "/rules.state";
    const char *rules = "cold: temperature < 5 -> alert\nsilent: no data for 10m -> alert";
    Harness h(rules, {}, bounds(10000, 1h));
    h.engine.track_changes();
    for (int i = 0; i < 2000; ++i)
        h.read("s" + std::to_string(i), t0, {num(20)});
    StateFile state(path);
    state.save_changes(h.engine);  // no file yet: the whole state
    const auto whole = state.written();
    CHECK(whole == size_of(path));
    CHECK(!std::filesystem::exists(path + ".journal"));
    CHECK(whole > 2000 * 50);
    const std::string snapshot = contents(path);
    for (int i = 0; i < 100; ++i) {
        h.read("s" + std::to_string(i), t0 + 1s, {num(i % 2 == 0 ? 1 : 20)});
        h.read("s" + std::to_string(i + 1000), t0 + 1s, {num(i % 2 == 0 ? 20 : 1)});
        CHECK(h.engine.alerted());
        state.save_changes(h.engine);
    }
    CHECK(h.alerts.size() == 100);
    // A few hundred bytes an alert, not the whole state each time.
    CHECK(state.written() - whole < 100 * 1000);
    CHECK(contents(path) == snapshot);
    // Sensors change without alerts; a crash cuts the last line.
    h.read("s1999", t0 + 2s, {num(20)});
    h.read("s5", t0 + 3s, {num(20)});
    state.save_changes(h.engine);
    {
        Harness crashed(rules, {}, bounds(10000));
        std::ofstream(path + ".journal", std::ios::app) << R"({"sensor":{"name":"s7","topic":)";
        StateFile(path).load(crashed.engine);
        CHECK(sensors_of(crashed.engine.save()) == sensors_of(h.engine.save()));
        crashed.read("s0", t0 + 4s, {num(1)});
        CHECK(crashed.alerts.empty());  // s0's cold fires already
        crashed.read("s0", t0 + 5s, {num(20)});
        CHECK(crashed.alerts.size() == 1);
    }
    // A journal that follows another state is not read over this one.
    {
        std::string old = contents(path + ".journal");
        char &digit = old.at(old.find(':') + 1);
        digit = digit == '9' ? '8' : '9';
        std::ofstream(path + ".journal") << old;
        Harness stale(rules, {}, bounds(10000));
        StateFile(path).load(stale.engine);
        CHECK(sensors_of(stale.engine.save()) == sensors_of(snapshot));
    }
    // A journal wrong in its middle: FILE alone is used, the journal is kept aside.
    {
        const auto generation = json::parse(snapshot).as_object().at("journal").as_int64();
        std::ofstream(path + ".journal") << "{\"snapshot\":" << generation << "}\n{\"clock\":1}\nnot json\n";
        Harness bad(rules, {}, bounds(10000));
        StateFile(path).load(bad.engine);
        CHECK(sensors_of(bad.engine.save()) == sensors_of(snapshot));
        CHECK(std::filesystem::exists(path + ".journal.bad"));
    }
    // At the end: the whole state, no journal.
    state.save(h.engine);
    CHECK(!std::filesystem::exists(path + ".journal"));
    Harness again(rules, {}, bounds(10000));
    StateFile(path).load(again.engine);
    CHECK(sensors_of(again.engine.save()) == sensors_of(h.engine.save()));
    // A file of the first format, without "journal", is read as before, a journal beside it ignored.
    std::ofstream(path) << h.engine.save();
    std::ofstream(path + ".journal") << "{\"snapshot\":0}\n{\"forget\":\"s0\"}\n";
    Harness first(rules, {}, bounds(10000));
    StateFile(path).load(first.engine);
    CHECK(sensors_of(first.engine.save()) == sensors_of(h.engine.save()));
}

TEST_CASE("state: the next run goes on with a journal after the file, unless the rules changed", "[engine]")
{
    test::TempDir dir("dht-rules-test");
    const std::string path = dir.path + "/rules.state";
    const char *rules = "cold: temperature < 5 -> alert";
    {
        Harness h(rules);
        h.engine.track_changes();
        for (int i = 0; i < 1000; ++i)
            h.read("s" + std::to_string(i), t0, {num(20)});
        StateFile state(path);
        state.save(h.engine);
    }
    const std::string whole = contents(path);
    {
        Harness h(rules);
        h.engine.track_changes();
        StateFile state(path);
        state.load(h.engine);
        h.read("s1", t0 + 1s, {num(1)});
        state.save_changes(h.engine);  // the file holds the rest: a journal of one sensor
        CHECK(state.written() < 1000);
        CHECK(contents(path) == whole);
        h.read("s2", t0 + 2s, {num(1)});
        state.save_changes(h.engine);
        CHECK(state.written() < 2000);
    }
    {
        Harness crashed(rules);
        StateFile(path).load(crashed.engine);
        crashed.read("s1", t0 + 3s, {num(2)});
        crashed.read("s2", t0 + 3s, {num(2)});
        CHECK(crashed.alerts.empty());  // both fire already
        crashed.read("s3", t0 + 3s, {num(2)});
        CHECK(crashed.alerts.size() == 1);
    }
    // After a journal was read, or with other rules, the first save writes the file whole.
    for (const char *next : {rules, "cold: temperature < 4 -> alert"}) {
        Harness h(next);
        h.engine.track_changes();
        StateFile state(path);
        state.load(h.engine);
        h.read("s1", t0 + 4s, {num(9)});
        state.save_changes(h.engine);
        CHECK(state.written() == size_of(path));
        CHECK(!std::filesystem::exists(path + ".journal"));
        h.read("s1", t0 + 5s, {num(9)});
        state.save(h.engine);
    }
}

TEST_CASE("state: the journal is folded into the file once it outgrows it", "[engine]")
{
    test::TempDir dir("dht-rules-test");
    const std::string path = dir.path + "/rules.state";
    Harness h("cold: temperature < 5 -> alert");
    h.engine.track_changes();
    StateFile state(path);
    for (int i = 0; i < 600; ++i) {  // some 100 KiB of journal without folding
        h.read("s", t0 + std::chrono::seconds(i), {num(i % 2 == 0 ? 1 : 20)});
        state.save_changes(h.engine);
        CHECK((!std::filesystem::exists(path + ".journal") || size_of(path + ".journal") < 70 * 1024));
    }
    Harness again("cold: temperature < 5 -> alert");
    StateFile(path).load(again.engine);
    CHECK(sensors_of(again.engine.save()) == sensors_of(h.engine.save()));
}

TEST_CASE("state: forgotten sensors leave the journal too", "[engine]")
{
    test::TempDir dir("dht-rules-test");
    const std::string path = dir.path + "/rules.state";
    Harness h("cold: temperature < 5 -> alert", {}, bounds(10, 1h));
    h.engine.track_changes();
    StateFile state(path);
    h.read("x", t0, {num(20)});
    h.read("y", t0, {num(20)});
    state.save_changes(h.engine);
    h.read("y", t0 + 50min, {num(20)});
    h.engine.advance(t0 + 61min);
    CHECK(h.engine.sensors() == 1);
    state.save_changes(h.engine);
    CHECK(contents(path + ".journal").find(R"({"forget":"x"})") != std::string::npos);
    Harness again("cold: temperature < 5 -> alert");
    StateFile(path).load(again.engine);
    CHECK(again.engine.sensors() == 1);
    CHECK(sensors_of(again.engine.save()) == sensors_of(h.engine.save()));
}

TEST_CASE("state: a saved state beyond --max-sensors keeps firing sensors first, resolves the rest", "[engine]")
{
    Harness h("cold: temperature < 5 -> alert");
    h.read("old", t0, {num(20)});
    h.read("firing", t0, {num(1)});
    h.read("new", t0 + 1s, {num(20)});
    h.read("gone", t0, {num(1)});
    const std::string saved = h.engine.save();
    Harness three("cold: temperature < 5 -> alert", {}, bounds(3));
    three.engine.restore(json::parse(saved));
    CHECK(three.alerts.empty());
    const auto kept = sensors_of(three.engine.save());
    CHECK(kept.size() == 4);  // the clock and three sensors
    CHECK(kept.count("old") == 0);
    CHECK(kept.count("new") == 1);
    Harness one("cold: temperature < 5 -> alert", {}, bounds(1));
    one.engine.restore(json::parse(saved));
    CHECK(one.engine.sensors() == 1);
    REQUIRE(one.alerts.size() == 1);  // one of the two firing ones had no room
    CHECK(one.last("reason") == "\"forgotten\"");
    CHECK(one.last("state") == "\"resolved\"");
}

TEST_CASE("rules: health conditions parse, stand alone, and say what is wrong", "[rules]")
{
    const auto set = parse_ok("stuck on dht11/#: temperature unchanged for 1h -> alert warning\n"
                              "jump: humidity jumps by 10 -> alert\n"
                              "warming: temperature rises by 5 within 10m -> notify\n"
                              "cooling: env.t falls by 2.5 within 90s -> alert \"{sensor} cools\"\n"
                              "hot: temperature > 30 for 3 readings -> alert critical unless unhealthy \"{value}\"\n");
    REQUIRE(set.rules.size() == 5);
    CHECK(set.rules[0].health == Health::unchanged);
    CHECK(set.rules[0].span == 1h);
    CHECK(set.rules[0].filter == "dht11/#");
    CHECK(set.rules[0].condition == "temperature unchanged for 1h");
    CHECK(set.rules[1].health == Health::jumps);
    CHECK(set.rules[1].delta == 10);
    CHECK(set.rules[1].field_name == "humidity");
    CHECK(set.rules[2].health == Health::rises);
    CHECK(set.rules[2].span == 10min);
    CHECK(set.rules[3].health == Health::falls);
    CHECK(set.rules[3].delta == 2.5);
    CHECK(set.rules[3].field_name == "env.t");
    CHECK(set.rules[4].unless_unhealthy);
    CHECK(set.rules[4].severity == Severity::critical);
    CHECK(set.rules[4].message.size() == 1);
    CHECK(set.rules[4].source == "hot: temperature > 30 for 3 readings -> alert critical unless unhealthy \"{value}\"");
    CHECK(!set.rules[0].unless_unhealthy);
    CHECK(set.fields == std::vector<std::string>{"temperature", "humidity", "env.t"});

    const auto alone = "a health condition is the whole condition: no and, or, not, for or clear with it";
    CHECK(parse_bad("a: t unchanged for 1h and h > 3 -> alert").hint == alone);
    CHECK(parse_bad("a: h > 3 or t jumps by 3 -> alert").hint == alone);
    CHECK(parse_bad("a: not t jumps by 3 -> alert").hint == alone);
    CHECK(parse_bad("a: t jumps by 3 for 2 readings -> alert").message == "'for' after a health condition");
    CHECK(parse_bad("a: t jumps by 3 clear t < 1 -> alert").where == "t.rules:1:17");
    CHECK(parse_bad("a: t unchanged 1h -> alert").message == "expected 'for' after 'unchanged', found '1h'");
    CHECK(parse_bad("a: t unchanged for 10 -> alert").message == "'10' is not a duration");
    CHECK(parse_bad("a: t jumps 10 -> alert").message == "expected 'by' after 'jumps', found '10'");
    CHECK(parse_bad("a: t jumps by -1 -> alert").message == "'-1' is not an amount above 0");
    CHECK(parse_bad("a: t jumps by 0 -> alert").message == "'0' is not an amount above 0");
    CHECK(parse_bad("a: t jumps by lots -> alert").message == "expected a number after 'jumps by', found 'lots'");
    CHECK(parse_bad("a: t rises by 5 -> alert").message == "expected 'within' after 'rises by 5', found '->'");
    CHECK(parse_bad("a: t falls by 5 within 5ns -> alert").message == "'5ns' is too short a window");
    CHECK(parse_bad("a: t < 5 -> alert unless").message == "expected 'unhealthy' after 'unless', found the end of the line");
    CHECK(parse_bad("a: t jumps by 3 -> alert unless unhealthy").message ==
          "'unless unhealthy' is for rules that compare values, not no data or health rules");
    CHECK(parse_bad("a: no data for 1m -> alert unless unhealthy").where == "t.rules:1:4");
    CHECK(parse_bad("a: t < 5 -> alert \"m\" unless unhealthy").message == "unexpected 'unless' at the end of the rule");
}

TEST_CASE("engine: unchanged for D fires on a value repeated that long, and resolves at another", "[engine]")
{
    Harness h("stuck: temperature unchanged for 10m -> alert");
    h.read("s", t0, {num(21.5)});  // the first reading: nothing to compare with
    h.read("s", t0 + 5min, {num(21.5)});
    h.read("s", t0 + 6min, {});            // no temperature: skipped, the run goes on
    h.read("s", t0 + 7min, {text("21.5")});  // a string: skipped too
    h.read("s", t0 + 9min, {num(21.5)});
    CHECK(h.alerts.empty());
    h.read("s", t0 + 8min, {num(22)});  // older than the latest: skipped, does not break the run
    h.read("s", t0 + 10min, {num(21.5)});
    REQUIRE(h.alerts.size() == 1);
    CHECK(h.last("state") == "\"firing\"");
    CHECK(h.alerts.back().at("value").to_number<double>() == 21.5);
    CHECK(h.last("field") == "\"temperature\"");
    CHECK(h.last("timestamp") == "\"2026-11-24T10:10:00.000Z\"");
    CHECK_THAT(h.alerts.back().at("message").as_string().c_str(), Catch::Contains("temperature unchanged for 10m"));
    h.read("s", t0 + 20min, {num(21.5)});
    CHECK(h.alerts.size() == 1);
    h.read("s", t0 + 21min, {num(21.6)});
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.last("state") == "\"resolved\"");
    CHECK(h.alerts.back().at("value").to_number<double>() == 21.6);
    // The run starts over at the new value, from its first reading.
    h.read("s", t0 + 30min, {num(21.6)});
    CHECK(h.alerts.size() == 2);
    h.read("s", t0 + 31min, {num(21.6)});
    CHECK(h.alerts.size() == 3);
    // One reading alone is no run: a sensor heard of once is not stuck.
    Harness once("stuck: temperature unchanged for 1m -> alert");
    once.read("s", t0, {num(1)});
    once.read("s", t0 + 1h, {num(2)});
    CHECK(once.alerts.empty());
}

TEST_CASE("engine: jumps by X compares a reading with the one before", "[engine]")
{
    Harness h("glitch: temperature jumps by 10 -> alert");
    h.read("s", t0, {num(20)});
    h.read("t", t0 + 1s, {num(45)});  // another sensor: its own first reading
    h.read("s", t0 + 2s, {num(29.9)});
    CHECK(h.alerts.empty());
    h.read("s", t0 + 3s, {});  // the next reading with a number is compared with 29.9
    h.read("s", t0 + 4s, {num(19.9)});
    REQUIRE(h.alerts.size() == 1);
    CHECK(h.alerts.back().at("value").to_number<double>() == 19.9);
    h.read("s", t0 + 5s, {num(20)});
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.last("state") == "\"resolved\"");
    h.read("s", t0 + 1s, {num(90)});  // late: skipped
    CHECK(h.alerts.size() == 2);
    h.read("s", t0 + 6s, {num(-10)});
    CHECK(h.alerts.size() == 3);
}

TEST_CASE("engine: rises and falls by X within W: the window's bounds, in steps of W/16", "[engine]")
{
    // Within 160 s: steps of 10 s; t0 is a whole number of them from the epoch.
    Harness h("warming: temperature rises by 5 within 160s -> alert\ncooling: temperature falls by 5 within 160s -> alert");
    h.read("s", t0, {num(20)});
    h.read("s", t0 + 100s, {num(22)});
    CHECK(h.alerts.empty());
    h.read("s", t0 + 169s, {num(25)});  // step 16 after t0's: 20 is still in the window
    REQUIRE(h.alerts.size() == 1);
    CHECK(h.last("rule") == "\"warming\"");
    CHECK(h.alerts.back().at("value").to_number<double>() == 25);
    h.read("s", t0 + 170s, {num(25)});  // step 17: from 22 only
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.last("state") == "\"resolved\"");
    h.read("s", t0 + 180s, {num(19.5)});  // 25 - 19.5
    REQUIRE(h.alerts.size() == 3);
    CHECK(h.last("rule") == "\"cooling\"");
    h.read("s", t0 + 150s, {num(100)});  // late: skipped, not in the window
    h.read("s", t0 + 190s, {num(24.5)});
    REQUIRE(h.alerts.size() == 5);  // warming from 19.5, cooling resolves (25 - 24.5)
    CHECK(h.alerts[3].at("rule") == "warming");
    CHECK(h.alerts[4].at("rule") == "cooling");
    CHECK(h.alerts[4].at("state") == "resolved");
    // A window with no earlier reading is unknown: a firing rule stays as it was.
    h.read("s", t0 + 1h, {num(0)});
    CHECK(h.alerts.size() == 5);
    h.read("s", t0 + 1h + 1s, {num(0)});
    REQUIRE(h.alerts.size() == 6);
    CHECK(h.last("state") == "\"resolved\"");
    CHECK(h.last("rule") == "\"warming\"");
    // Many readings: the memory stays at 17 steps.
    for (int i = 0; i < 1000; ++i)
        h.read("s", t0 + 2h + i * 1s, {num(i * 0.001)});
    const auto saved = json::parse(h.engine.save());
    const auto &history = saved.at("sensors").as_array().at(0).at("rules").at("warming").at("history");
    CHECK(history.at("steps").as_array().size() == 17);
}

TEST_CASE("engine: unless unhealthy quiets a threshold rule while the sensor is unhealthy", "[engine]")
{
    Harness h("hot: temperature > 40 -> alert critical unless unhealthy\n"
              "glitch: temperature jumps by 20 -> alert\n"
              "plain: temperature > 40 -> alert\n"
              "silent: no data for 10m -> alert");
    const auto read = [&](int second, double v) { h.read("s", t0 + second * 1s, {num(v)}, "dht11/s/data"); };
    read(0, 20);
    read(1, 85);  // a glitch: hot is quiet, plain is not
    REQUIRE(h.alerts.size() == 2);
    CHECK(h.alerts[0].at("rule") == "glitch");
    CHECK(h.alerts[1].at("rule") == "plain");
    read(2, 20);  // the jump back: glitch goes on firing, plain resolves
    read(3, 21);
    REQUIRE(h.alerts.size() == 4);  // glitch resolves; hot never fired
    read(4, 42);  // a jump of 21: glitch again, hot quiet
    read(5, 43);  // healthy again: hot fires
    REQUIRE(h.alerts.size() == 8);
    CHECK(h.alerts[6].at("rule") == "glitch");
    CHECK(h.alerts[6].at("state") == "resolved");
    CHECK(h.alerts[7].at("rule") == "hot");
    CHECK(h.alerts[7].at("state") == "firing");
    // Firing when the sensor turns unhealthy: it stays firing; its readings
    // neither resolve it nor count until the sensor is well again.
    h.engine.status("dht11/s/status", "sensor-error", t0 + 6s);
    read(7, 25);
    REQUIRE(h.alerts.size() == 9);  // plain resolves; hot does not
    CHECK(h.last("rule") == "\"plain\"");
    h.engine.status("dht11/s/status", "online", t0 + 8s);
    read(9, 25);
    REQUIRE(h.alerts.size() == 10);
    CHECK(h.last("rule") == "\"hot\"");
    CHECK(h.last("state") == "\"resolved\"");
    // Offline: its no data alert resolves at the next reading, which the rule then judges.
    h.engine.status("dht11/s/status", "offline", t0 + 10s);
    REQUIRE(h.alerts.size() == 11);
    read(11, 44);
    REQUIRE(h.alerts.size() == 14);  // plain fires, silent resolves, then hot fires
    CHECK(h.alerts[12].at("rule") == "silent");
    CHECK(h.alerts[13].at("rule") == "hot");
}

TEST_CASE("engine: a health rule's history and a sensor-error status survive saving and restoring", "[engine]")
{
    const char *rules = "stuck: temperature unchanged for 1h -> alert\n"
                        "warming: temperature rises by 50 within 16m -> alert\n"
                        "hot: temperature > 40 -> alert unless unhealthy";
    std::string saved;
    {
        Harness h(rules);
        h.read("s", t0, {num(21.5)}, "dht11/s/data");
        h.read("s", t0 + 30min, {num(21.5)}, "dht11/s/data");
        h.read("u", t0, {num(10)}, "dht11/u/data");
        h.read("u", t0 + 1min, {num(12)}, "dht11/u/data");
        h.engine.status("dht11/u/status", "sensor-error", t0 + 2min);
        CHECK(h.alerts.empty());
        saved = h.engine.save();
    }
    Harness again(rules);
    again.engine.restore(json::parse(saved));
    CHECK(sensors_of(again.engine.save()) == sensors_of(saved));
    again.read("s", t0 + 1h, {num(21.5)}, "dht11/s/data");  // the run began before the restart
    REQUIRE(again.alerts.size() == 1);
    CHECK(again.last("rule") == "\"stuck\"");
    again.read("u", t0 + 3min, {num(59)}, "dht11/u/data");  // 49 above 10, in the window: no
    CHECK(again.alerts.size() == 1);  // and hot is quiet: the sensor-error status was kept
    again.read("u", t0 + 4min, {num(60)}, "dht11/u/data");  // 50 above 10
    REQUIRE(again.alerts.size() == 2);
    CHECK(again.last("rule") == "\"warming\"");
    again.engine.status("dht11/u/status", "online", t0 + 5min);
    again.read("u", t0 + 20min, {num(61)}, "dht11/u/data");  // warming resolves, hot fires
    REQUIRE(again.alerts.size() == 4);
    CHECK(again.last("rule") == "\"hot\"");
    // A history that is not one: the state file is refused whole.
    std::string bad = saved;
    bad.replace(bad.find("\"readings\""), 10, "\"readings\":\"x\",\"r\"");
    Harness refused(rules);
    CHECK_THROWS_AS(refused.engine.restore(json::parse(bad)), std::runtime_error);
    CHECK(refused.engine.sensors() == 0);
}

TEST_CASE("scanned ahead: a reading is what the main thread's scan gives, under the fields configured last")
{
    // Lines of every kind, scanned ahead on the reading thread and again
    // here: each line ScanAhead vouches for is a reading with the same
    // origin, sensor and values. The fields change twice on the way (as
    // SIGHUP changes them): no line scanned under the old ones is vouched for.
    test::TempDir dir("dht-rules-test");
    const std::string path = dir.path + "/in.jsonl";
    std::size_t lines = 0;
    {
        std::ofstream out(path, std::ios::binary);
        for (std::size_t i = 0; i < 60000; ++i, ++lines) {
            const std::string n = std::to_string(i % 400) + "." + std::to_string(i % 10);
            switch (i % 9) {
            case 0: out << "{\"temperature\":" << n << ",\"humidity\":" << i % 100 << "}\n"; break;
            case 1:
                out << "{\"kind\":\"message\",\"topic\":\"dht11/r" << i % 50
                    << "/data\",\"timestamp\":\"2026-12-05T10:00:00.5Z\",\"payload\":{\"humidity\":" << n
                    << ",\"temperature\":-" << n << "}}\n";
                break;
            case 2: out << "{\"temperature\":\"caf\\u00e9 " << n << "\",\"humidity\":" << n << "}\n"; break;  // an escape
            case 3: out << "{\"kind\":\"message\",\"topic\":\"dht11/r1/status\",\"payload\":\"offline\"}\n"; break;
            case 4: out << "{\"kind\":\"alert\",\"rule\":\"cold\"}\n"; break;
            case 5: out << "{\"temperature\":" << n << ",\"humidity\":\n"; break;  // not JSON
            case 6: out << "{\"temperature\":" << n << ",\"sensor\":\"s" << i % 7 << "\",\"humidity\":null}\r\n"; break;
            case 7:
                out << "{\"kind\":\"message\",\"topic\":\"a/b/data\",\"payload\":{\"kind\":\"alert\",\"temperature\":1}}\n";
                break;
            default: out << "{\"humidity\":\"" << n << "\",\"temperature\":[" << n << "]}\n"; break;
            }
        }
    }
    const int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    const std::vector<std::string> both{"temperature", "humidity"}, one{"humidity"};
    ScanAhead ahead("dht11/bare/data", 32);
    ahead.configure(both, true);
    CommonOptions options;
    LineInput input(options, fd, "in.jsonl", &ahead);
    auto scanner = std::make_unique<RecordScanner>(both, 32);
    const std::vector<std::string> *fields = &both;
    std::size_t n = 0, seen_count = 0, readings = 0, seen_after_off = 0;
    std::string error;
    input.run({.line =
                   [&](std::string_view text) {
                       if (++n == 20000) {
                           ahead.configure(one, true);
                           fields = &one;
                           scanner = std::make_unique<RecordScanner>(one, 32);
                       } else if (n == 40000) {
                           ahead.configure(one, false);
                       }
                       RecordScanner::Origin from;
                       const auto kind = scanner->scan_message(text, "dht11/bare/data", from, error);
                       const bool reading = (kind == RecordScanner::Kind::bare || kind == RecordScanner::Kind::message) &&
                                            scanner->payload_is_object() && !scanner->payload_is_record();
                       readings += reading ? 1 : 0;
                       ScanAhead::Seen seen;
                       if (!ahead.seen(input, seen))
                           return;
                       ++seen_count;
                       seen_after_off += n >= 40000 ? 1 : 0;
                       INFO("line " << n << ": " << text);
                       REQUIRE(reading);
                       CHECK(seen.from.topic == from.topic);
                       CHECK(seen.from.time == from.time);
                       CHECK(seen.sensor == scanner->sensor());
                       for (std::size_t f = 0; f < fields->size(); ++f) {
                           CHECK(seen.values[f].type == scanner->values()[f].type);
                           CHECK(seen.values[f].number == scanner->values()[f].number);
                           CHECK(seen.values[f].text == scanner->values()[f].text);
                       }
                   },
               .idle = [] {}});
    ::close(fd);
    CHECK(n == lines);
    CHECK(seen_after_off == 0);
    // Some of the readings before the fields were turned off: not those with
    // an escape (scanned again here), nor the first of a chunk, nor those
    // of the chunks read ahead when the fields changed, nor those the
    // reading thread had not got to when this one waited for a chunk.
    CHECK(seen_count > 0);
    CHECK(seen_count < readings);

    // A chunk of many short lines: no more than max_lines of them are
    // scanned ahead (what a slot holds is bounded); the rest are left to the
    // main thread.
    ScanAhead bounded("dht11/bare/data", 32);
    bounded.configure(both, true);
    bounded.chunk(0, 100000);
    CHECK(bounded.look(0, 1, "{}"));
    CHECK(bounded.look(0, ScanAhead::max_lines - 1, "{}"));
    CHECK_FALSE(bounded.look(0, ScanAhead::max_lines, "{}"));
    CHECK_FALSE(bounded.look(0, 99999, "{}"));
}
