// dht-rules --test FILE: rules checked against a file of input records and
// the alerts they must produce, without a broker (as `promtool test rules`).
//
// The file holds one JSON object a line (blank lines and # comments allowed):
//   message records and bare payloads   input, in order
//   {"kind":"tick","timestamp":T}       the clock moves to T (for `no data`)
//   {"kind":"alert", …keys…}           the next alert must carry these keys
// An expected alert follows the input line that produces it; an alert that
// nothing expects is a failure too. A bare payload is stamped one second
// after the line before it.
#pragma once

#include "rules.hpp"

#include "dht/json.hpp"
#include "dht/readings.hpp"

#include <string>

namespace dht::rules {

struct TestResult {
    std::size_t inputs = 0;
    std::size_t expected = 0;
    std::size_t failures = 0;
};

// Runs the test file at `path` against `rules`; prints each failure on stderr
// as "FILE:LINE: …". Throws Exit(66) when the file cannot be read.
// `readings`: the calibration the inputs go through (--calibration).
TestResult run_test_file(const std::string &path, RuleSet rules, Duration repeat, std::size_t max_depth,
                         const Readings *readings = nullptr);

// Whether `got` carries every key of `want` with an equal value (numbers by
// value, times by instant).
bool alert_matches(const json::object &want, const json::object &got);

}  // namespace dht::rules
