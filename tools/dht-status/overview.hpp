// "Is everything fine?": one look at the database dht-record and
// dht-escalate share. Each sensor with its last reading and what is wrong
// with it, the alerts firing, the incidents not resolved, the silences in
// force and when history was last written, judged ok, warning or critical
// as a Nagios-style check would be.
#pragma once

#include "incidents.hpp"
#include "silences.hpp"

#include "dht/cli.hpp"
#include "dht/sqlite.hpp"
#include "dht/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dht::status {

// Nagios's: the exit status of a check.
enum class Verdict : int { ok = 0, warning = 1, critical = 2 };
std::string_view verdict_name(Verdict v) noexcept;  // "ok", "warning", "critical"

struct OverviewOptions {
    std::string topic_filter = "dht11/+/data";  // the sensors' data topics
    std::string alert_topic = "dht11/alerts";
    Duration silent_after = std::chrono::minutes(10);  // no reading for this long: silent
    Duration stuck_after = std::chrono::hours(1);      // the same reading all this time: stuck
    std::size_t max_rows = 50;                         // per table; the rest counted
};

struct SensorView {
    std::string topic;
    std::string status;  // ok, silent, offline, sensor-error, stuck
    std::optional<double> temperature, humidity;
    std::string last_at;  // the last reading, RFC 3339
    bool silenced = false;  // a silence in force for all its rules: it counts for nothing
};

struct AlertView {
    std::string rule, sensor, severity, since;
};

struct Overview {
    std::vector<SensorView> sensors;
    std::vector<AlertView> alerts;   // firing
    std::vector<escalate::Incident> incidents;  // not resolved
    std::vector<escalate::Silence> silences;    // in force
    bool history = false;            // the database has dht-record's tables
    std::string last_written;        // the newest message or record, "" if none
    Verdict verdict = Verdict::ok;
    std::vector<std::string> problems;  // what makes the verdict, in words
};

// Reads only: `db` is opened without creating or changing anything.
Overview gather(Database &db, const OverviewOptions &o, TimePoint now);
// 80 columns: the verdict line, then a table per part that has rows.
std::string render_text(const Overview &v, const OverviewOptions &o, TimePoint now);
// One JSON object, one line.
std::string render_json(const Overview &v, TimePoint now);

}  // namespace dht::status
