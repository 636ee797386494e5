// The device: a state machine that a platform (the ESP32 sketch, the PC
// simulator, a unit test) drives with the time, tick(now_ms), and that drives
// the platform back through a small interface: join WiFi, connect to MQTT
// with a last will, publish, read the sensor, sleep. It never blocks and never
// allocates: everything it writes lives in the object.
#pragma once

#include "dht_backoff.hpp"
#include "dht_calibration.hpp"
#include "dht_format.hpp"
#include "dht_ota.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace dht::firmware {

// A DHT11 must rest 1 s between two reads, a DHT22 2 s; both need as long
// after power-up before the first.
std::uint32_t min_interval_ms(Model model) noexcept;

// What a sensor can measure; outside of it a read is garbage (a bit error
// that passed the checksum) and is rejected. The DHT11 is the ASAIR v1.3 one,
// which reads below 0 degrees.
struct Range {
    float temperature_min, temperature_max, humidity_min, humidity_max;
};
Range measuring_range(Model model) noexcept;
bool in_range(const Reading &reading, Model model) noexcept;

// The retained text on <prefix>/<id>/status.
enum class Status : std::uint8_t { online, sensor_error, offline };
const char *status_text(Status status) noexcept;

struct Config {
    // The device's name in its topics, client id and discovery messages:
    // 1 to 32 of A-Z a-z 0-9 _ -.
    const char *sensor_id = "sensor";
    Model model = Model::dht11;

    // A reading every interval, the first one a minimum interval after boot.
    // Raised to the model's minimum; 0: only when request_sample() asks.
    std::uint32_t interval_ms = 10000;
    // The rest between two reads; default: the model's. A simulated sensor needs none.
    std::optional<std::uint32_t> min_interval_ms;
    // Reads per reading: a failed one is tried again after a minimum interval,
    // as long as the next reading is not due first.
    std::uint8_t read_attempts = 3;
    // Readings failed in a row after which the status says "sensor-error".
    std::uint8_t failures_for_error = 3;
    // Stop after this many readings (0: never): the simulator's --count.
    std::uint32_t sample_limit = 0;

    // <prefix>/<id>/data and <prefix>/<id>/status.
    const char *topic_prefix = "dht11";
    // Every reading on this one topic instead, with its "sensor" key: the
    // seed's "dht11/sensor/data". Null: <prefix>/<id>/data.
    const char *shared_data_topic = nullptr;
    std::uint8_t data_qos = 0;
    bool data_retain = false;

    // Calibration offsets from the retained <prefix>/<id>/config (see
    // dht_calibration.hpp): subscribed to on each connection, applied to
    // every reading, reported in the payload when not 0.
    bool remote_calibration = false;

    // The version running. Set: update commands on <prefix>/<id>/command are
    // acted on (see dht_ota.hpp); not with deep sleep, as an update blocks.
    const char *firmware_version = nullptr;

    // Keys after the seed's two.
    bool payload_sensor = false;
    bool payload_time = false;  // when the platform's clock is set (NTP)
    bool payload_rssi = false;  // when the platform knows it

    const char *client_id = nullptr;  // null: "dht-<id>"

    // Home Assistant MQTT discovery: the entities' configs, retained, sent on
    // each connection and again when Home Assistant says it is back online.
    bool discovery = false;
    const char *discovery_prefix = "homeassistant";
    std::uint32_t discovery_jitter_ms = 2000;  // a fleet does not answer all at once
    std::uint32_t expire_after_s = 0;          // 0: three intervals

    // Reconnecting: an attempt that has not succeeded within its timeout is
    // abandoned, and the next one waits a delay of exponential backoff.
    std::uint32_t wifi_timeout_ms = 15000;
    std::uint32_t mqtt_timeout_ms = 10000;
    std::uint32_t backoff_first_ms = 1000;
    std::uint32_t backoff_max_ms = 60000;

    // Battery operation: one reading a wake-up, then deep sleep until the
    // next interval; with no broker within awake_timeout_ms, sleep anyway.
    bool deep_sleep = false;
    std::uint32_t awake_timeout_ms = 30000;
    // The longest the platform's mqtt_connect() (or mqtt_connected() while a
    // connection is under way) blocks. In deep sleep no attempt starts that
    // could end after awake_timeout_ms: the device is never awake longer.
    std::uint32_t connect_block_ms = 0;
};

// Whether `id` is a sensor id Config::sensor_id takes.
bool valid_sensor_id(const char *id) noexcept;

// Null when `config` is usable, else what is wrong with it.
const char *check_config(const Config &config) noexcept;

// What the device asks of MQTT when it connects.
struct MqttConnect {
    const char *client_id;
    const char *will_topic;    // <prefix>/<id>/status
    const char *will_payload;  // "offline"
    std::uint8_t will_qos;     // 1
    bool will_retain;          // true
};

enum class LogLevel : std::uint8_t { error, info, debug };

// What a platform provides. Every call returns at once, but for one: a
// platform whose MQTT client connects synchronously, as PubSubClient does,
// blocks in mqtt_connect() (or in mqtt_connected() while a connection it
// started goes on) for at most Config::connect_block_ms. None throws: the
// core is built without exceptions.
class Platform {
public:
    virtual ~Platform() = default;

    // Starts joining the network, or starts again.
    virtual void wifi_begin() noexcept = 0;
    virtual bool wifi_connected() noexcept = 0;

    // Starts connecting with this last will; false when the attempt failed
    // already, true when it succeeded or goes on (mqtt_connected() tells).
    virtual bool mqtt_connect(const MqttConnect &request) noexcept = 0;
    virtual bool mqtt_connected() noexcept = 0;
    // False when the client could not take the message.
    virtual bool mqtt_publish(const char *topic, const char *payload, std::uint8_t qos, bool retain) noexcept = 0;
    virtual bool mqtt_subscribe(const char *topic) noexcept = 0;

    // One read of the sensor; false when it did not answer or the checksum failed.
    virtual bool read_sensor(Reading &out) noexcept = 0;

    // The time of day, once set (NTP): milliseconds since 1970 in UTC.
    virtual bool unix_time_ms(std::uint64_t &out) noexcept = 0;
    // The signal strength of the network link, in dBm.
    virtual bool rssi(int &dbm) noexcept = 0;
    // A uniformly distributed 32-bit number, for the jitter of delays.
    virtual std::uint32_t random() noexcept = 0;

    // Deep sleep for `ms`: on a board it does not return (the board restarts).
    virtual void deep_sleep(std::uint32_t ms) noexcept = 0;

    virtual void log(LogLevel level, const char *line) noexcept = 0;

    // Downloads, checks and installs the image, then restarts: returns only
    // when that failed, saying why.
    virtual const char *ota_update(const OtaRequest &) noexcept { return "updates are not supported here"; }
    // This image works (it reached the broker): no rollback at the next boot.
    virtual void firmware_confirm() noexcept {}
};

struct Stats {
    std::uint32_t samples = 0;         // readings attempted (each up to read_attempts reads)
    std::uint32_t failed_samples = 0;  // readings where every read failed
    std::uint32_t failed_reads = 0;    // reads that failed, out of range ones included
    std::uint32_t range_errors = 0;    // reads out of the measuring range
    std::uint32_t published = 0;       // readings handed to the MQTT client
    std::uint32_t dropped = 0;         // readings never published: replaced by a newer one, refused
    std::uint32_t wifi_attempts = 0;
    std::uint32_t mqtt_attempts = 0;
    std::uint32_t mqtt_connects = 0;
    std::uint32_t calibrations_refused = 0;  // config messages that were not a calibration
};

// What survives deep sleep (RTC memory on the ESP32, zeroed at power-on).
struct Memory {
    std::uint32_t magic = 0;
    std::uint32_t wakes = 0;
    std::uint16_t failures_in_row = 0;
    std::uint8_t sensor_error = 0;
    Calibration calibration;  // a wake-up reads before the retained config arrives
};

class Device {
public:
    // Sized from the limits of a configuration (dht_format.hpp): whatever
    // check_config accepts fits.
    static constexpr std::size_t kTopicSize = 128;
    static constexpr std::size_t kPayloadSize = 192;
    static constexpr std::size_t kDiscoverySize = discovery_length_max() + 1;

    // `memory`, when given, carries state across deep sleep.
    Device(const Config &config, Platform &platform, Memory *memory = nullptr) noexcept;
    Device(const Device &) = delete;
    Device &operator=(const Device &) = delete;

    // Null when the configuration is usable; otherwise the device does nothing.
    const char *error() const noexcept { return error_; }

    // Does what is due at `now_ms` (a clock that may wrap, such as millis()).
    void tick(std::uint32_t now_ms) noexcept;
    // A message on a subscribed topic (homeassistant/status, the config topic).
    void on_message(const char *topic, const std::uint8_t *payload, std::size_t length,
                    std::uint32_t now_ms) noexcept;
    // Take a reading at the next tick, scheduled or not (the rest between
    // reads still applies).
    void request_sample() noexcept { requested_ = true; }
    // A deliberate power-off: says "offline" (retained) while still connected
    // and stops. True when that was published; then disconnect cleanly.
    bool shutdown() noexcept;

    const Stats &stats() const noexcept { return stats_; }
    Status status() const noexcept { return status_; }
    bool mqtt_up() const noexcept { return mqtt_ == Phase::up; }
    // A reading waits to be published (taken while not connected).
    bool unsent() const noexcept { return pending_; }
    // No reading under way (reading, or resting between retries) and none unsent.
    bool idle() const noexcept { return attempt_ == 0 && !pending_; }
    bool sleeping() const noexcept { return sleeping_; }
    std::uint32_t interval_ms() const noexcept { return interval_; }

    const char *data_topic() const noexcept { return data_topic_; }
    const char *status_topic() const noexcept { return status_topic_; }
    // <prefix>/<id>/config: the calibration.
    const char *config_topic() const noexcept { return config_topic_; }
    // <prefix>/<id>/command: updates; their results on <prefix>/<id>/ota.
    const char *command_topic() const noexcept { return command_topic_; }
    const char *ota_topic() const noexcept { return ota_topic_; }
    const Calibration &calibration() const noexcept { return calibration_; }
    const char *client_id() const noexcept { return client_id_; }
    // Where Home Assistant announces itself: <discovery prefix>/status.
    const char *discovery_status_topic() const noexcept { return ha_status_topic_; }

private:
    enum class Phase : std::uint8_t { waiting, trying, up };

    void start(std::uint32_t now) noexcept;
    void keep_wifi(std::uint32_t now) noexcept;
    void keep_mqtt(std::uint32_t now) noexcept;
    void mqtt_connected(std::uint32_t now) noexcept;
    void mqtt_lost(std::uint32_t now) noexcept;
    void mqtt_retry_later(std::uint32_t now, const char *why) noexcept;
    void sample(std::uint32_t now) noexcept;
    void read_once(std::uint32_t now) noexcept;
    void reading_done(const Reading &reading) noexcept;
    void reading_failed() noexcept;
    void deliver(std::uint32_t now) noexcept;
    bool send_discovery() noexcept;
    void hold_control(std::uint32_t now) noexcept;
    void set_calibration(const char *payload, std::size_t length) noexcept;
    void take_command(const char *payload, std::size_t length) noexcept;
    void update() noexcept;
    void report_ota(const char *what, const char *detail) noexcept;
    void maybe_sleep(std::uint32_t now) noexcept;
    void set_status(Status status) noexcept;
    void logf(LogLevel level, const char *format, ...) noexcept __attribute__((format(printf, 3, 4)));

    Config config_;
    Platform &platform_;
    Memory *memory_;
    const char *error_ = nullptr;
    std::uint32_t interval_ = 0;
    std::uint32_t min_interval_ = 0;
    std::uint32_t expire_after_s_ = 0;

    char data_topic_[kTopicSize] = {};
    char status_topic_[kTopicSize] = {};
    char ha_status_topic_[kTopicSize] = {};
    char config_topic_[kTopicSize] = {};
    char command_topic_[kTopicSize] = {};
    char ota_topic_[kTopicSize] = {};
    OtaRequest ota_;
    bool ota_due_ = false;
    bool confirmed_ = false;
    Calibration calibration_;
    char client_id_[48] = {};
    char payload_[kPayloadSize] = {};
    char scratch_[kDiscoverySize] = {};

    bool started_ = false;
    bool cold_boot_ = true;
    bool sleeping_ = false;
    bool stopped_ = false;
    std::uint32_t boot_ = 0;

    Phase wifi_ = Phase::waiting;
    std::uint32_t wifi_at_ = 0;  // waiting: the next try; trying: its start
    Backoff wifi_backoff_;
    Phase mqtt_ = Phase::waiting;
    std::uint32_t mqtt_at_ = 0;
    Backoff mqtt_backoff_;

    std::uint32_t next_sample_at_ = 0;
    std::uint32_t next_read_at_ = 0;
    std::uint32_t last_read_at_ = 0;
    std::uint8_t attempt_ = 0;  // 0: no reading under way
    bool requested_ = false;
    bool pending_ = false;  // payload_ holds a reading not yet published
    std::uint16_t failures_in_row_ = 0;

    Status status_ = Status::online;
    bool status_due_ = false;
    bool discovery_due_ = false;
    // Waits are kept as a start and a length, and dropped once over: a wait
    // of at most a day is right on the wrapping clock at any uptime, where a
    // deadline left standing would look 24.8 days in the future once 2^31 ms
    // old.
    std::uint32_t discovery_from_ = 0;
    std::uint32_t discovery_wait_ = 0;  // Home Assistant's jitter
    std::uint32_t control_from_ = 0;
    bool control_held_ = false;  // status and discovery retried kControlRetryMs after a refusal

    Stats stats_;
};

}  // namespace dht::firmware
