// What the device writes: the reading's payload, Home Assistant discovery
// messages and RFC 3339 times, into fixed buffers (no heap, no locale, no
// printf of floats: the ESP32's and the PC's would round differently).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dht::firmware {

enum class Model : std::uint8_t { dht11, dht22 };

// "DHT11", "DHT22".
const char *model_name(Model model) noexcept;

struct Reading {
    float temperature = 0;  // degrees Celsius
    float humidity = 0;     // percent relative humidity
};

// Text appended to a caller's buffer, always NUL-terminated. What does not fit
// is cut off and remembered: ok() is false from then on.
class TextBuffer {
public:
    TextBuffer(char *buffer, std::size_t size) noexcept;

    TextBuffer &text(const char *s) noexcept;
    TextBuffer &text(const char *s, std::size_t n) noexcept;
    TextBuffer &character(char c) noexcept;
    // A JSON string: quoted, with " \ and control characters escaped.
    TextBuffer &json_string(const char *s) noexcept;
    TextBuffer &integer(long long value) noexcept;
    // Two decimals, rounded half away from zero: 24.50, -0.50, never -0.00.
    TextBuffer &fixed2(float value) noexcept;
    // 2026-11-24T10:15:30.123Z
    TextBuffer &rfc3339(std::uint64_t unix_ms) noexcept;

    void clear() noexcept;
    bool ok() const noexcept { return ok_; }
    std::size_t size() const noexcept { return length_; }
    const char *c_str() const noexcept { return buffer_; }

private:
    char *buffer_;
    std::size_t capacity_;  // without the NUL
    std::size_t length_ = 0;
    bool storage_;  // room for the NUL at least
    bool ok_;
};

// The optional keys after the seed's two. `sensor` null: no "sensor" key.
struct PayloadExtras {
    const char *sensor = nullptr;
    bool has_time = false;
    std::uint64_t unix_ms = 0;
    bool has_rssi = false;
    int rssi = 0;
};

// {"temperature":24.50,"humidity":65.30} then "sensor", "time", "rssi" when given.
bool format_reading(TextBuffer &out, const Reading &reading, const PayloadExtras &extras) noexcept;

// The entities a device announces to Home Assistant.
enum class Field : std::uint8_t { temperature, humidity, rssi };
const char *field_name(Field field) noexcept;

struct DiscoveryInfo {
    const char *prefix = "homeassistant";
    const char *sensor_id = "";
    Model model = Model::dht11;
    const char *state_topic = "";
    const char *status_topic = "";
    // Several devices share state_topic: the value is taken from the
    // readings whose "sensor" is this device's.
    bool shared_state_topic = false;
    std::uint32_t expire_after_s = 0;  // 0: not set
};

// homeassistant/sensor/<id>_<field>/config
bool format_discovery_topic(TextBuffer &out, const DiscoveryInfo &info, Field field) noexcept;
// The retained config message of one entity.
bool format_discovery(TextBuffer &out, const DiscoveryInfo &info, Field field) noexcept;

}  // namespace dht::firmware
