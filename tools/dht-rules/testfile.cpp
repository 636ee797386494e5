#include "testfile.hpp"

#include "engine.hpp"

#include "dht/diag.hpp"
#include "dht/files.hpp"
#include "dht/json.hpp"
#include "dht/scan.hpp"
#include "dht/time.hpp"

#include <algorithm>
#include <deque>

namespace dht::rules {

bool alert_matches(const json::object &want, const json::object &got)
{
    for (const auto &[key, value] : want) {
        const auto *g = got.if_contains(key);
        if (g == nullptr)
            return false;
        if (value.is_number() && g->is_number()) {
            if (value.to_number<double>() != g->to_number<double>())
                return false;
            continue;
        }
        if (value.is_string() && g->is_string()) {
            const auto a = parse_rfc3339(value.get_string());
            const auto b = parse_rfc3339(g->get_string());
            if (a && b) {
                if (*a != *b)
                    return false;
                continue;
            }
        }
        if (value != *g)
            return false;
    }
    return true;
}

namespace {

struct Produced {
    json::object record;
    std::string text;
    std::size_t line;  // the input line that produced it
};

}  // namespace

TestResult run_test_file(const std::string &path, RuleSet rules, Duration repeat, std::size_t max_depth,
                         const Readings *readings)
{
    std::string text;
    if (const auto error = read_file(path, text); !error.empty())
        fail(exit_noinput, cat(path, ": cannot open the test file: ", error));
    TestResult result;
    std::deque<Produced> produced;
    std::size_t line_no = 0;
    JsonParser parser(max_depth);
    Engine engine(std::move(rules), repeat, [&](std::string_view record) {
        json::value v;
        std::string error;
        parser.parse(record, v, error);
        produced.push_back({v.is_object() ? v.get_object() : json::object(), std::string(record), line_no});
    });
    if (readings != nullptr)
        engine.set_calibration(&readings->calibration());
    RecordScanner scanner(engine.rules().fields, max_depth, false, readings);
    const auto failure = [&](std::string_view what) {
        ++result.failures;
        warn(cat(path, ":", line_no, ": ", what));
    };
    const auto unexpected = [&] {
        for (const auto &p : produced)
            failure(cat("unexpected alert (from line ", p.line, "): ", p.text));
        produced.clear();
    };
    TimePoint clock = *parse_rfc3339("2000-01-01T00:00:00Z");
    std::string line, error;
    json::value value;
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = std::min(text.find('\n', at), text.size());
        line.assign(text, at, end - at);
        at = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#')
            continue;
        if (!parser.parse(line, value, error) || !value.is_object()) {
            failure(error.empty() ? "not a JSON object" : error);
            error.clear();
            continue;
        }
        const auto &obj = value.get_object();
        const auto *kind = obj.if_contains("kind");
        const std::string_view k = kind != nullptr && kind->is_string() ? std::string_view(kind->get_string()) : "";
        if (k == "alert") {
            ++result.expected;
            if (produced.empty()) {
                failure(cat("expected ", line.substr(first), ", but no alert came"));
            } else {
                if (!alert_matches(obj, produced.front().record))
                    failure(cat("expected ", line.substr(first), "\n    got      ", produced.front().text));
                produced.pop_front();
            }
            continue;
        }
        unexpected();
        if (k == "tick") {
            const auto *ts = obj.if_contains("timestamp");
            const auto t = ts != nullptr && ts->is_string() ? parse_rfc3339(ts->get_string()) : std::nullopt;
            if (!t) {
                failure("a tick needs an RFC 3339 \"timestamp\"");
                continue;
            }
            clock = *t;
            engine.advance(clock);
            continue;
        }
        if (kind != nullptr && k != "message") {
            failure(cat("unknown kind in a test file: ", json::serialize(*kind)));
            continue;
        }
        ++result.inputs;
        RecordScanner::Origin from;
        if (scanner.scan_message(line, "test", from, error) == RecordScanner::Kind::invalid) {
            failure(error);
            continue;
        }
        clock = from.time ? *from.time : clock + std::chrono::seconds(1);
        feed(engine, scanner, from.topic, clock);
    }
    unexpected();
    return result;
}

}  // namespace dht::rules
