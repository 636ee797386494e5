// What the device writes: the reading's payload, Home Assistant discovery
// messages and RFC 3339 times, into fixed buffers (no heap, no locale, no
// printf of floats: the ESP32's and the PC's would round differently).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dht::firmware {

enum class Model : std::uint8_t { dht11, dht22 };

// The longest names a configuration may have (check_config enforces them);
// every buffer of the device is sized from these.
namespace limits {
inline constexpr std::size_t kIdMax = 32;            // the sensor id
inline constexpr std::size_t kPrefixMax = 64;        // the topic prefix, the discovery prefix
inline constexpr std::size_t kSharedTopicMax = 100;  // the shared data topic
inline constexpr std::size_t kClientIdMax = 40;
}  // namespace limits

// <prefix>/<id> and then one of these.
inline constexpr char kDataSuffix[] = "/data";
inline constexpr char kStatusSuffix[] = "/status";
inline constexpr char kConfigSuffix[] = "/config";
inline constexpr char kCommandSuffix[] = "/command";
inline constexpr char kOtaSuffix[] = "/ota";

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
    // A number of hundredths with two decimals: -50 is -0.50.
    TextBuffer &hundredths(long long value) noexcept;
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
    // The calibration applied (hundredths), reported when either is not 0.
    std::int16_t temperature_offset = 0;
    std::int16_t humidity_offset = 0;
};

// {"temperature":24.50,"humidity":65.30} then "sensor", "time", "rssi",
// "temperature_offset" and "humidity_offset" when given.
bool format_reading(TextBuffer &out, const Reading &reading, const PayloadExtras &extras) noexcept;

// The entities a device announces to Home Assistant.
enum class Field : std::uint8_t { temperature, humidity, rssi };
const char *field_name(Field field) noexcept;

struct FieldTraits {
    const char *key;           // in the payload
    const char *name;          // the entity's name, after the device's
    const char *device_class;  // Home Assistant's sensor device classes
    const char *unit;
    bool diagnostic;
};
inline constexpr FieldTraits kFieldTraits[] = {
    {"temperature", "Temperature", "temperature", "\xc2\xb0" "C", false},
    {"humidity", "Humidity", "humidity", "%", false},
    {"rssi", "Signal strength", "signal_strength", "dBm", true},
};
constexpr const FieldTraits &traits(Field field) { return kFieldTraits[static_cast<std::size_t>(field)]; }

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

// The text of a discovery message around its variable parts: format_discovery
// writes these, discovery_length_max counts them.
namespace discovery_text {
inline constexpr char kName[] = "{\"name\":";
inline constexpr char kUniqueId[] = ",\"unique_id\":\"";
inline constexpr char kStateTopic[] = ",\"state_topic\":";
inline constexpr char kTemplate[] = ",\"value_template\":\"";
inline constexpr char kSharedIf[] = "{% if value_json.sensor == '";
inline constexpr char kSharedThen[] = "' %}{{ value_json.";
inline constexpr char kSharedElse[] = " }}{% else %}{{ states(entity_id) }}{% endif %}\"";
inline constexpr char kPlainValue[] = "{{ value_json.";
inline constexpr char kPlainEnd[] = " }}\"";
inline constexpr char kDeviceClass[] = ",\"device_class\":";
inline constexpr char kStateClass[] = ",\"state_class\":\"measurement\"";
inline constexpr char kUnit[] = ",\"unit_of_measurement\":";
inline constexpr char kDiagnostic[] = ",\"entity_category\":\"diagnostic\"";
inline constexpr char kAvailabilityTopic[] = ",\"availability_topic\":";
// "sensor-error" (a sensor that no longer answers) is unavailable too.
inline constexpr char kAvailability[] =
    ",\"payload_available\":\"online\",\"payload_not_available\":\"offline\""
    ",\"availability_template\":\"{{ 'online' if value == 'online' else 'offline' }}\"";
inline constexpr char kExpireAfter[] = ",\"expire_after\":";
inline constexpr char kDevice[] = ",\"device\":{\"identifiers\":[\"dht_";
inline constexpr char kDeviceName[] = "\"],\"name\":";
inline constexpr char kModel[] = ",\"model\":";
inline constexpr char kEnd[] = ",\"manufacturer\":\"dht-tools\"}}";
}  // namespace discovery_text

constexpr std::size_t text_length(const char *s)
{
    std::size_t n = 0;
    while (s[n] != '\0')
        ++n;
    return n;
}

// The longest discovery message of `field` any valid configuration makes:
// the longest names, each topic character escaped (a " or a \ takes two; a
// topic with control characters is refused), the longest expire_after.
constexpr std::size_t discovery_length_max(Field field)
{
    using namespace discovery_text;
    using limits::kIdMax;
    using limits::kPrefixMax;
    const FieldTraits &t = traits(field);
    const std::size_t key = text_length(t.key);
    const auto quoted = [](std::size_t escaped_chars, std::size_t plain_chars) {
        return 2 + 2 * escaped_chars + plain_chars;
    };
    const std::size_t shared = quoted(limits::kSharedTopicMax, 0) + text_length(kSharedIf) + kIdMax +
                               text_length(kSharedThen) + key + text_length(kSharedElse);
    const std::size_t own = quoted(kPrefixMax, 1 + kIdMax + text_length(kDataSuffix)) + text_length(kPlainValue) +
                            key + text_length(kPlainEnd);
    const std::size_t state = shared > own ? shared : own;  // state topic and value template
    return text_length(kName) + quoted(0, text_length(t.name)) + text_length(kUniqueId) + kIdMax + 1 + key + 1 +
           text_length(kStateTopic) + text_length(kTemplate) + state + text_length(kDeviceClass) +
           quoted(0, text_length(t.device_class)) + text_length(kStateClass) + text_length(kUnit) +
           quoted(0, text_length(t.unit)) + (t.diagnostic ? text_length(kDiagnostic) : 0) +
           text_length(kAvailabilityTopic) + quoted(kPrefixMax, 1 + kIdMax + text_length(kStatusSuffix)) +
           text_length(kAvailability) + text_length(kExpireAfter) + 10 /* 4294967295 */ + text_length(kDevice) +
           kIdMax + text_length(kDeviceName) + quoted(0, kIdMax) + text_length(kModel) + quoted(0, 5) +
           text_length(kEnd);
}

constexpr std::size_t discovery_length_max()
{
    std::size_t longest = 0;
    for (std::size_t f = 0; f < sizeof kFieldTraits / sizeof kFieldTraits[0]; ++f) {
        const std::size_t n = discovery_length_max(static_cast<Field>(f));
        longest = n > longest ? n : longest;
    }
    return longest;
}

}  // namespace dht::firmware
