// Hostile payloads and many sensors: each input line is "TOPIC PAYLOAD", a
// message from MQTT as dht-stats takes it: the payload scanned for numeric
// fields, the sensor named by record_sensor() (one topic shared, so payloads
// may name sensors), into a run-wide aggregate under small caps; then the
// three renderings and expiry. The caps must hold whatever arrives.
#include "stats.hpp"

#include "dht/record.hpp"
#include "dht/scan.hpp"
#include "dht/time.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    static const bool once = [] {
        dht::set_shared_topics({"dht11/sensor/data"});
        return true;
    }();
    (void)once;
    std::string_view text(reinterpret_cast<const char *>(data), size);
    constexpr std::size_t max_sensors = 8, max_fields = 4;
    dht::stats::Aggregate run({max_sensors, max_fields});
    dht::RecordScanner scanner({}, 32, true);
    auto t = *dht::parse_rfc3339("2026-11-24T10:00:00Z");
    while (!text.empty()) {
        const auto end = std::min(text.find('\n'), text.size());
        const auto line = text.substr(0, end);
        text.remove_prefix(std::min(end + 1, text.size()));
        const auto space = line.find(' ');
        const auto topic = line.substr(0, space);
        const auto payload = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
        scanner.scan_payload(payload);
        const auto sensor = dht::record_sensor(topic, scanner.sensor());
        const auto &numbers = scanner.numbers();
        if (scanner.payload_is_object() && numbers.size() <= 64)
            run.message(sensor, t, numbers.data(), numbers.size());
        t += std::chrono::seconds(1);
    }
    if (run.sensors() > max_sensors)
        std::abort();  // the cap did not hold
    for (const auto *s : run.sorted())
        if (s->fields.size() > max_fields)
            std::abort();
    dht::stats::Report report{"summary", t, run.first(), run.last(), 1.0};
    std::string out;
    dht::stats::render_json(out, run, report);
    dht::stats::render_table(out, run, report, false);
    dht::stats::render_table(out, run, report, true);
    dht::stats::render_prometheus(out, run, report);
    run.expire(t);
    if (run.sensors() != 0)
        std::abort();  // everything was older than t
    return 0;
}
