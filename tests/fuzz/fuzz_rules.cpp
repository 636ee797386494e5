// The rule parser and evaluator: any text as a rule file; the rules that parse
// are run over a few readings, 64 sensors against a cap of 8, a clock jump
// and a state save and restore.
#include "engine.hpp"
#include "rules.hpp"

#include "dht/json.hpp"
#include "dht/scan.hpp"
#include "dht/time.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    dht::rules::RuleSet set;
    std::vector<dht::rules::ParseError> errors;
    dht::rules::parse_rules(text, "fuzz.rules", set, errors);
    for (const auto &e : errors)
        (void)dht::rules::format_error(e);
    if (!errors.empty() || set.rules.empty())
        return 0;
    std::string out;
    dht::rules::RuleSet copy;  // rule sets move, they do not copy
    dht::rules::parse_rules(text, "fuzz.rules", copy, errors);
    // A small cap, so that the many sensors below overflow it.
    constexpr std::size_t max_sensors = 8;
    dht::rules::Engine engine(std::move(set), std::chrono::minutes(1), [&](std::string_view r) { out.assign(r); },
                              dht::SensorBounds{max_sensors, std::nullopt});
    dht::RecordScanner scanner(engine.rules().fields, 32);
    const auto t0 = *dht::parse_rfc3339("2026-11-24T10:00:00Z");
    const char *payloads[] = {R"({"temperature":-1.5,"humidity":95,"state":"x"})", R"({"temperature":4})",
                              R"({"humidity":"high"})", R"({"temperature":1e308,"a":{"b":2}})", "offline", "online"};
    int i = 0;
    for (const char *p : payloads) {
        scanner.scan_payload(p);
        dht::rules::feed(engine, scanner, i % 2 == 0 ? "dht11/a/data" : "dht11/a/status", t0 + std::chrono::seconds(i));
        ++i;
    }
    // Many sensors, and their status topics: the cap holds.
    for (int k = 0; k < 64; ++k) {
        const std::string prefix = "dht11/s" + std::to_string(k);
        scanner.scan_payload(k % 3 == 0 ? "offline" : payloads[k % 4]);
        dht::rules::feed(engine, scanner, prefix + (k % 3 == 0 ? "/status" : "/data"), t0 + std::chrono::seconds(10 + k));
    }
    if (engine.sensors() > max_sensors)
        std::abort();
    engine.advance(t0 + std::chrono::hours(2));
    const auto state = engine.save();
    dht::rules::Engine again(std::move(copy), std::chrono::minutes(1), [](std::string_view) {});
    dht::JsonParser parser(64);
    dht::json::value v;
    std::string error;
    if (parser.parse(state, v, error))
        again.restore(v);
    return 0;
}
