// dht-rules' engine at work: records from stdin or MQTT into the rules,
// alert records out (stdout, --publish), timers moved by the clock chosen,
// the rules read again on SIGHUP, and the state kept in --state.
#pragma once

#include "ahead.hpp"
#include "engine.hpp"
#include "fieldcheck.hpp"
#include "report.hpp"
#include "state.hpp"

#include "dht/cli.hpp"
#include "dht/input.hpp"
#include "dht/mqtt.hpp"
#include "dht/output.hpp"
#include "dht/scan.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace dht::rules {

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    std::vector<std::string> rule_files;
    std::vector<std::string> inline_rules;
    bool check = false;
    std::string test_file;
    std::string state_file;
    Duration repeat{};  // none
    bool pass = false;
    bool report = false;  // a table of what fired instead of the alerts
    std::string clock = "auto";
    std::string bare_topic;
    Duration max_skew = std::chrono::hours(1);  // 0: no limit
    SensorBounds bounds;
};

enum class ClockMode { automatic, records, wall };

class Runner {
public:
    Runner(const Options &o, RuleSet rules);
    // Reads to the end of input (or a stop); the exit status.
    int run();

private:
    void emit(std::string_view record);
    void finish();
    void idle();
    void reload();
    // A message `scanner_` has read; `rescan(RecordScanner &)` reads it again
    // into the scanner given (made a std::function only while FieldCheck
    // wants it, not for every message).
    template <class Rescan>
    void message(std::string_view topic, TimePoint time, const Rescan &rescan);
    // scanner_ for the rules' fields with the calibration in force (a
    // scanner learns at its making whether it calibrates), and ahead_ for
    // the same fields unless a calibration applies.
    void make_scanners();
    void line(LineInput &input, std::string_view text);
    void pass(std::string_view text);
    int run_stdin();
    int run_mqtt();
    void watch_status(std::string_view data_topic);

    const Options &o_;
    StateFile state_;
    Output out_;
    std::optional<Session> session_;
    Engine engine_;
    Readings readings_;  // --calibration, read again on SIGHUP
    std::unique_ptr<RecordScanner> scanner_;
    std::unique_ptr<ScanAhead> ahead_;  // while stdin is read
    std::uint64_t scanned_ahead_ = 0;  // readings ahead_ had scanned
    FieldCheck fields_;
    std::optional<Report> report_;
    ClockMode clock_;
    std::string error_;
    std::chrono::steady_clock::time_point last_save_ = std::chrono::steady_clock::now();
    bool finished_ = false;
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    // Sensors (their topic's prefix) whose status topic is subscribed to by name.
    std::unordered_set<std::string, Hash, std::equal_to<>> watched_;
};

}  // namespace dht::rules
