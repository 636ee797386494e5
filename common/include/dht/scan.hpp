// Reads only what a tool needs from a record line or an MQTT payload: one
// validating pass of Boost.JSON's SAX parser (the same checks as the DOM
// parser: syntax, UTF-8, nesting depth), no document built. A common line
// (ASCII strings without escapes, plain numbers, shallow nesting) is read by
// a tokenizer of its own that hands the parser's handler the same events and
// gives up on anything else, which Boost.JSON then reads: every value and
// every error is the parser's. It picks out the record's kind, timestamp and
// topic, the payload's sensor, the fields asked for by dotted path, and on
// request every numeric field of the payload. The strings it gives (topic,
// timestamp, sensor, kinds, payload text, string fields) may be views of the
// text scanned: keep that text unchanged while they are used.
#pragma once

#include "dht/time.hpp"

#include <cstdint>
#include <optional>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dht {

// One field of a payload: a number, a string, another JSON type, or absent.
struct FieldValue {
    enum class Type : std::uint8_t { missing, number, string, other };
    Type type = Type::missing;
    double number = 0;
    std::string_view text;
};

class Readings;

class RecordScanner {
public:
    // `fields`: dotted paths whose values values() gives; a derived field
    // (dew_point, absolute_humidity: dht/derived.hpp) among them is computed
    // from the temperature and humidity when the payload has no field of that
    // name. `numbers`: also collect every numeric field of the payload
    // (numbers()). `readings`: the calibration that values() and numbers()
    // apply, and the derived fields numbers() adds (--calibration, --derive);
    // it must outlive the scanner. Without calibration and derived fields the
    // scan costs what it did without them.
    RecordScanner(const std::vector<std::string> &fields, std::size_t max_depth, bool numbers = false,
                  const Readings *readings = nullptr);
    ~RecordScanner();
    // Off: every scan goes to Boost.JSON alone. Both ways must give the same
    // results on every input (tests/fuzz/fuzz_scan.cpp checks it).
    void set_fast_path(bool on) noexcept;
    RecordScanner(const RecordScanner &) = delete;
    RecordScanner &operator=(const RecordScanner &) = delete;

    enum class Kind { message, bare, other, invalid };

    // A line of input. `invalid` sets `error` ("invalid JSON: …", "not a JSON
    // object", "invalid UTF-8", "nested too deep").
    Kind scan_record(std::string_view line, std::string &error);
    // An MQTT payload: a JSON object's fields, or else its text (payload_text()).
    // `topic` names the sensor for calibration.
    void scan_payload(std::string_view bytes, std::string_view topic = {});

    // Where the line scan_record() read as `message` or `bare` comes from: a
    // message record's "topic" and its "timestamp" if it has one; a bare
    // payload's is `bare_topic` and no time. False, with `error` set, when the
    // topic or the timestamp has the wrong type.
    struct Origin {
        std::string_view topic;
        std::optional<TimePoint> time;
    };
    bool origin(std::string_view bare_topic, Origin &out, std::string &error) const;
    // A line of input as a tool that reads messages takes it: scan_record(),
    // then origin() of a `message` or a `bare` line. `invalid`, with `error`
    // set, when either finds the line bad.
    Kind scan_message(std::string_view line, std::string_view bare_topic, Origin &out, std::string &error);

    // After scan_record() gave `message`, or after scan_payload():
    bool has_topic() const noexcept;  // a string "topic"
    std::string_view topic() const noexcept;
    bool has_timestamp() const noexcept;
    bool timestamp_is_string() const noexcept;
    std::string_view timestamp() const noexcept;
    // The payload is an object: values() and sensor() hold its fields.
    bool payload_is_object() const noexcept;
    // The payload is a string (a message record), or an MQTT payload that is not
    // JSON or is a JSON string. A number or an array is neither text nor an object.
    bool payload_is_text() const noexcept;
    // Whether the payload is a record of the toolkit's own (an alert, an
    // incident or stats carried over MQTT), not a reading.
    bool payload_is_record() const noexcept
    {
        const auto k = payload_kind();
        return k == "alert" || k == "incident" || k == "stats";
    }
    std::string_view payload_text() const noexcept;
    // payload.sensor when it is a string, else empty.
    std::string_view sensor() const noexcept;
    // The value of each field, in the order given to the constructor:
    // calibrated, and derived where asked.
    const FieldValue *values() const noexcept;
    // True when every string given since the scan (topic, timestamp, sensor,
    // payload text, string fields) is a view of the text scanned, none a
    // copy the scanner keeps: they then live as long as that text.
    bool views_text() const noexcept;
    // The record's "kind" (scan_record), or the payload's (scan_payload); empty if none.
    std::string_view kind() const noexcept;
    // The payload's "kind" (an alert or an incident carried by a message); empty if none.
    std::string_view payload_kind() const noexcept;
    // Every numeric field of the payload, by dotted path, in document order
    // (numbers outside arrays; with `numbers` set at construction): calibrated,
    // then the derived fields of `readings` the payload lacks.
    struct Number {
        std::string_view path;
        double value;
    };
    const std::vector<Number> &numbers() const noexcept;

    struct Impl;

private:
    std::string_view calibrated_sensor() const;

    std::unique_ptr<Impl> impl_;
};

}  // namespace dht
