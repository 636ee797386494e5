#include "dht_device.hpp"

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace dht::firmware {

namespace {

constexpr std::uint32_t kMemoryMagic = 0x44485432;  // "DHT2": the layout with the calibration
constexpr std::uint32_t kControlRetryMs = 1000;
using limits::kIdMax;
using limits::kPrefixMax;

// The longest topic the device writes: <prefix>/<id>/status, the discovery
// topic <discovery prefix>/sensor/<id>_<key>/config, the shared topic.
constexpr std::size_t longest_key()
{
    std::size_t n = 0;
    for (const FieldTraits &t : kFieldTraits)
        n = text_length(t.key) > n ? text_length(t.key) : n;
    return n;
}
static_assert(Device::kTopicSize > kPrefixMax + 1 + kIdMax + text_length(kStatusSuffix), "status topic");
static_assert(Device::kTopicSize > kPrefixMax + 1 + kIdMax + text_length(kConfigSuffix), "config topic");
static_assert(Device::kTopicSize > kPrefixMax + 1 + kIdMax + text_length(kCommandSuffix), "command topic");
static_assert(Device::kTopicSize > kPrefixMax + 1 + kIdMax + text_length(kDataSuffix), "data topic");
static_assert(Device::kTopicSize > limits::kSharedTopicMax, "shared topic");
static_assert(Device::kTopicSize > kPrefixMax + text_length("/sensor/") + kIdMax + 1 + longest_key() +
                                       text_length("/config"),
              "discovery topic");
static_assert(Device::kDiscoverySize > discovery_length_max(), "discovery message");

bool valid_id(const char *id)
{
    if (id == nullptr || *id == '\0' || std::strlen(id) > kIdMax)
        return false;
    for (const char *c = id; *c != '\0'; ++c) {
        const bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                        *c == '_' || *c == '-';
        if (!ok)
            return false;
    }
    return true;
}

// A topic name to publish to: 1 to `max` bytes, no wildcard, no control
// character (MQTT says a topic should not have one; JSON would escape each in
// six bytes).
bool valid_topic(const char *topic, std::size_t max)
{
    if (topic == nullptr || *topic == '\0' || std::strlen(topic) > max || std::strpbrk(topic, "+#") != nullptr)
        return false;
    for (const char *c = topic; *c != '\0'; ++c)
        if (static_cast<unsigned char>(*c) < 0x20 || *c == 0x7f)
            return false;
    return true;
}

std::uint32_t effective_min_interval(const Config &c)
{
    return c.min_interval_ms ? *c.min_interval_ms : min_interval_ms(c.model);
}

}  // namespace

bool valid_sensor_id(const char *id) noexcept { return valid_id(id); }

std::uint32_t min_interval_ms(Model model) noexcept { return model == Model::dht22 ? 2000 : 1000; }

Range measuring_range(Model model) noexcept
{
    if (model == Model::dht22)
        return {-40.0F, 80.0F, 0.0F, 100.0F};
    return {-20.0F, 60.0F, 0.0F, 100.0F};
}

bool in_range(const Reading &r, Model model) noexcept
{
    const Range range = measuring_range(model);
    // NaN fails every comparison: it is out of range too.
    return r.temperature >= range.temperature_min && r.temperature <= range.temperature_max &&
           r.humidity >= range.humidity_min && r.humidity <= range.humidity_max;
}

const char *status_text(Status status) noexcept
{
    switch (status) {
    case Status::online: return "online";
    case Status::sensor_error: return "sensor-error";
    case Status::offline: return "offline";
    }
    return "offline";
}

const char *check_config(const Config &c) noexcept
{
    if (!valid_id(c.sensor_id))
        return "the sensor id must be 1 to 32 of A-Z a-z 0-9 _ -";
    if (!valid_topic(c.topic_prefix, kPrefixMax))
        return "the topic prefix must be 1 to 64 characters without + # or control characters";
    if (c.shared_data_topic != nullptr && !valid_topic(c.shared_data_topic, limits::kSharedTopicMax))
        return "the shared data topic must be 1 to 100 characters without + # or control characters";
    if (c.client_id != nullptr && (*c.client_id == '\0' || std::strlen(c.client_id) > limits::kClientIdMax))
        return "the client id must be 1 to 40 characters";
    if (c.discovery && !valid_topic(c.discovery_prefix, kPrefixMax))
        return "the discovery prefix must be 1 to 64 characters without + # or control characters";
    if (c.read_attempts < 1 || c.read_attempts > 10)
        return "read attempts must be 1 to 10";
    if (c.failures_for_error < 1)
        return "failures for the error status must be at least 1";
    if (c.data_qos > 2)
        return "the QoS of readings must be 0, 1 or 2";
    if (c.backoff_first_ms == 0 || c.backoff_max_ms < c.backoff_first_ms)
        return "the backoff needs 0 < first delay <= longest delay";
    if (c.deep_sleep && c.interval_ms == 0)
        return "deep sleep needs an interval";
    if (c.firmware_version != nullptr &&
        (*c.firmware_version == '\0' || std::strlen(c.firmware_version) > OtaRequest::kVersionMax))
        return "the firmware version must be 1 to 32 characters";
    if (c.firmware_version != nullptr && c.deep_sleep)
        return "updates need the device awake: not with deep sleep";
    if (c.deep_sleep && c.connect_block_ms >= c.awake_timeout_ms)
        return "a connection attempt must block for less than the awake limit";
    const std::uint32_t day = 24U * 3600U * 1000U;  // the wrapping clock compares times less than 24.8 days apart
    if (c.interval_ms > day || c.backoff_max_ms > day || effective_min_interval(c) > day ||
        c.discovery_jitter_ms > day || c.wifi_timeout_ms > day || c.mqtt_timeout_ms > day ||
        c.awake_timeout_ms > day)
        return "intervals and delays must be at most a day";
    return nullptr;
}

Device::Device(const Config &config, Platform &platform, Memory *memory) noexcept
    : config_(config), platform_(platform), memory_(memory),
      wifi_backoff_(config.backoff_first_ms, config.backoff_max_ms),
      mqtt_backoff_(config.backoff_first_ms, config.backoff_max_ms)
{
    error_ = check_config(config_);
    if (error_ != nullptr)
        return;
    min_interval_ = effective_min_interval(config_);
    interval_ = config_.interval_ms;
    if (interval_ != 0 && interval_ < min_interval_)
        interval_ = min_interval_;
    expire_after_s_ = config_.expire_after_s != 0 ? config_.expire_after_s
                                                  : (interval_ == 0 ? 0 : (3 * interval_ + 999) / 1000);

    TextBuffer data(data_topic_, sizeof data_topic_);
    if (config_.shared_data_topic != nullptr)
        data.text(config_.shared_data_topic);
    else
        data.text(config_.topic_prefix).character('/').text(config_.sensor_id).text(kDataSuffix);
    TextBuffer status(status_topic_, sizeof status_topic_);
    status.text(config_.topic_prefix).character('/').text(config_.sensor_id).text(kStatusSuffix);
    TextBuffer config_topic(config_topic_, sizeof config_topic_);
    config_topic.text(config_.topic_prefix).character('/').text(config_.sensor_id).text(kConfigSuffix);
    TextBuffer command(command_topic_, sizeof command_topic_);
    command.text(config_.topic_prefix).character('/').text(config_.sensor_id).text(kCommandSuffix);
    TextBuffer ota(ota_topic_, sizeof ota_topic_);
    ota.text(config_.topic_prefix).character('/').text(config_.sensor_id).text(kOtaSuffix);
    TextBuffer ha(ha_status_topic_, sizeof ha_status_topic_);
    ha.text(config_.discovery_prefix).text(kStatusSuffix);
    TextBuffer id(client_id_, sizeof client_id_);
    if (config_.client_id != nullptr)
        id.text(config_.client_id);
    else
        id.text("dht-").text(config_.sensor_id);
    if (!data.ok() || !status.ok() || !config_topic.ok() || !command.ok() || !ota.ok() || !ha.ok() || !id.ok())
        error_ = "a topic or the client id is too long";

    if (memory_ != nullptr && memory_->magic == kMemoryMagic) {
        cold_boot_ = false;
        failures_in_row_ = memory_->failures_in_row;
        calibration_ = memory_->calibration;
        if (memory_->sensor_error != 0)
            status_ = Status::sensor_error;
    }
}

void Device::logf(LogLevel level, const char *format, ...) noexcept
{
    char line[160];
    std::va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    platform_.log(level, line);
}

void Device::start(std::uint32_t now) noexcept
{
    started_ = true;
    boot_ = now;
    // Power-up counts as a read: the first real one waits a minimum interval.
    last_read_at_ = now;
    next_sample_at_ = now;
    wifi_at_ = now;
    mqtt_at_ = now;
    logf(LogLevel::info, "%s %s on %s, a reading every %lu ms", model_name(config_.model), config_.sensor_id,
         data_topic_, static_cast<unsigned long>(interval_));
    if (config_.interval_ms != 0 && config_.interval_ms < min_interval_)
        logf(LogLevel::error, "interval raised to %lu ms: a %s cannot be read more often",
             static_cast<unsigned long>(min_interval_), model_name(config_.model));
}

void Device::tick(std::uint32_t now) noexcept
{
    if (error_ != nullptr || sleeping_ || stopped_)
        return;
    if (!started_)
        start(now);
    keep_wifi(now);
    keep_mqtt(now);
    sample(now);
    deliver(now);
    if (ota_due_)
        update();
    if (config_.deep_sleep)
        maybe_sleep(now);
}

void Device::keep_wifi(std::uint32_t now) noexcept
{
    if (platform_.wifi_connected()) {
        if (wifi_ != Phase::up) {
            wifi_ = Phase::up;
            wifi_backoff_.reset();
            logf(LogLevel::info, "wifi: connected");
        }
        return;
    }
    switch (wifi_) {
    case Phase::up: {
        const std::uint32_t delay = wifi_backoff_.next(platform_.random());
        logf(LogLevel::info, "wifi: lost; joining again in %lu ms", static_cast<unsigned long>(delay));
        wifi_ = Phase::waiting;
        wifi_at_ = now + delay;
        break;
    }
    case Phase::waiting:
        if (reached(now, wifi_at_)) {
            ++stats_.wifi_attempts;
            logf(LogLevel::debug, "wifi: joining (attempt %lu)", static_cast<unsigned long>(stats_.wifi_attempts));
            platform_.wifi_begin();
            wifi_ = Phase::trying;
            wifi_at_ = now;
            if (platform_.wifi_connected()) {  // a platform without a radio to wait for
                wifi_ = Phase::up;
                wifi_backoff_.reset();
                logf(LogLevel::info, "wifi: connected");
            }
        }
        break;
    case Phase::trying:
        if (elapsed(now, wifi_at_) >= config_.wifi_timeout_ms) {
            const std::uint32_t delay = wifi_backoff_.next(platform_.random());
            logf(LogLevel::info, "wifi: not joined after %lu ms; next try in %lu ms",
                 static_cast<unsigned long>(config_.wifi_timeout_ms), static_cast<unsigned long>(delay));
            wifi_ = Phase::waiting;
            wifi_at_ = now + delay;
        }
        break;
    }
}

void Device::keep_mqtt(std::uint32_t now) noexcept
{
    if (wifi_ != Phase::up) {
        if (mqtt_ == Phase::up)
            mqtt_lost(now);
        if (mqtt_ == Phase::trying) {
            mqtt_ = Phase::waiting;
            mqtt_at_ = now;  // the network went away, not the broker: try as soon as it is back
        }
        return;
    }
    if (mqtt_ == Phase::up) {
        if (!platform_.mqtt_connected())
            mqtt_lost(now);
        return;
    }
    if (mqtt_ == Phase::waiting) {
        if (!reached(now, mqtt_at_))
            return;
        if (config_.deep_sleep && elapsed(now, boot_) + config_.connect_block_ms > config_.awake_timeout_ms) {
            mqtt_at_ = now + config_.awake_timeout_ms;  // past the timeout: the device sleeps first
            logf(LogLevel::info, "mqtt: no attempt that could end after the awake limit of %lu ms",
                 static_cast<unsigned long>(config_.awake_timeout_ms));
            return;
        }
        ++stats_.mqtt_attempts;
        logf(LogLevel::debug, "mqtt: connecting as %s (attempt %lu)", client_id_,
             static_cast<unsigned long>(stats_.mqtt_attempts));
        const MqttConnect request{client_id_, status_topic_, status_text(Status::offline), 1, true};
        mqtt_ = Phase::trying;
        mqtt_at_ = now;
        if (!platform_.mqtt_connect(request)) {
            mqtt_retry_later(now, "refused or unreachable");
            return;
        }
    }
    if (platform_.mqtt_connected())
        mqtt_connected(now);
    else if (elapsed(now, mqtt_at_) >= config_.mqtt_timeout_ms)
        mqtt_retry_later(now, "no connection in time");
}

void Device::mqtt_retry_later(std::uint32_t now, const char *why) noexcept
{
    const std::uint32_t delay = mqtt_backoff_.next(platform_.random());
    logf(LogLevel::info, "mqtt: %s; next try in %lu ms", why, static_cast<unsigned long>(delay));
    mqtt_ = Phase::waiting;
    mqtt_at_ = now + delay;
}

void Device::mqtt_connected(std::uint32_t now) noexcept
{
    mqtt_ = Phase::up;
    mqtt_backoff_.reset();
    ++stats_.mqtt_connects;
    logf(LogLevel::info, "mqtt: connected as %s", client_id_);
    // The birth message: the broker may have published our last will since
    // the previous connection.
    status_due_ = true;
    control_held_ = false;
    if (config_.remote_calibration && !platform_.mqtt_subscribe(config_topic_))
        logf(LogLevel::error, "mqtt: cannot subscribe to %s", config_topic_);
    if (config_.firmware_version != nullptr && !platform_.mqtt_subscribe(command_topic_))
        logf(LogLevel::error, "mqtt: cannot subscribe to %s", command_topic_);
    if (!confirmed_) {
        confirmed_ = true;  // the image reached the broker: it is a good one
        platform_.firmware_confirm();
    }
    if (config_.discovery) {
        if (!platform_.mqtt_subscribe(ha_status_topic_))
            logf(LogLevel::error, "mqtt: cannot subscribe to %s", ha_status_topic_);
        // Retained: on battery, a cold boot is enough.
        if (!config_.deep_sleep || cold_boot_) {
            discovery_due_ = true;
            discovery_from_ = now;
            discovery_wait_ = 0;
        }
    }
}

void Device::mqtt_lost(std::uint32_t now) noexcept { mqtt_retry_later(now, "connection lost"); }

void Device::sample(std::uint32_t now) noexcept
{
    if (attempt_ == 0) {
        const bool limited = (config_.sample_limit != 0 && stats_.samples >= config_.sample_limit) ||
                             (config_.deep_sleep && stats_.samples >= 1);
        const bool scheduled = interval_ != 0 && reached(now, next_sample_at_);
        if (scheduled) {
            // The schedule keeps its phase; after a stall it skips what was
            // missed instead of reading in a burst.
            next_sample_at_ += interval_;
            if (reached(now, next_sample_at_))
                next_sample_at_ = now + interval_;
        }
        if (limited || (!scheduled && !requested_))
            return;
        requested_ = false;
        attempt_ = 1;
        // The last read may be days old (readings on request only): measured, not compared.
        next_read_at_ = elapsed(now, last_read_at_) >= min_interval_ ? now : last_read_at_ + min_interval_;
    }
    // With no rest needed between reads (a simulated sensor), retries happen in this tick.
    while (attempt_ != 0 && reached(now, next_read_at_))
        read_once(now);
}

void Device::read_once(std::uint32_t now) noexcept
{
    Reading r;
    const bool answered = platform_.read_sensor(r);
    last_read_at_ = now;
    const char *why = nullptr;
    if (!answered || std::isnan(r.temperature) || std::isnan(r.humidity)) {
        why = "no answer";
    } else if (!in_range(r, config_.model)) {
        why = "out of range";
        ++stats_.range_errors;
    }
    if (why == nullptr) {
        attempt_ = 0;
        reading_done(r);
        return;
    }
    ++stats_.failed_reads;
    if (why[0] == 'o') {
        char t[24], h[24];
        TextBuffer(t, sizeof t).fixed2(r.temperature);
        TextBuffer(h, sizeof h).fixed2(r.humidity);
        logf(LogLevel::debug, "sensor: read %u/%u out of range (%s C, %s %%)", attempt_, config_.read_attempts, t, h);
    } else {
        logf(LogLevel::debug, "sensor: read %u/%u failed (no answer)", attempt_, config_.read_attempts);
    }
    const std::uint32_t retry_at = now + min_interval_;
    // A retry must come before the next reading is due; otherwise that one is the retry.
    const bool fits = interval_ == 0 || !reached(retry_at, next_sample_at_);
    if (attempt_ < config_.read_attempts && fits) {
        ++attempt_;
        next_read_at_ = retry_at;
        return;
    }
    attempt_ = 0;
    reading_failed();
}

void Device::reading_done(const Reading &raw) noexcept
{
    ++stats_.samples;
    failures_in_row_ = 0;
    if (status_ == Status::sensor_error) {
        logf(LogLevel::info, "sensor: answering again");
        set_status(Status::online);
    }
    const Reading reading = calibrated(raw, calibration_);
    PayloadExtras extras;
    extras.temperature_offset = calibration_.temperature;
    extras.humidity_offset = calibration_.humidity;
    if (config_.payload_sensor || config_.shared_data_topic != nullptr)
        extras.sensor = config_.sensor_id;
    std::uint64_t unix_ms = 0;
    if (config_.payload_time && platform_.unix_time_ms(unix_ms)) {
        extras.has_time = true;
        extras.unix_ms = unix_ms;
    }
    int dbm = 0;
    if (config_.payload_rssi && platform_.rssi(dbm)) {
        extras.has_rssi = true;
        extras.rssi = dbm;
    }
    if (pending_) {
        ++stats_.dropped;  // never connected since: the newer reading replaces it
        logf(LogLevel::debug, "mqtt: not connected; an unsent reading replaced");
    }
    TextBuffer out(payload_, sizeof payload_);
    pending_ = format_reading(out, reading, extras);
}

void Device::reading_failed() noexcept
{
    ++stats_.samples;
    ++stats_.failed_samples;
    if (failures_in_row_ < UINT16_MAX)
        ++failures_in_row_;
    logf(LogLevel::info, "sensor: reading failed (%u in a row)", static_cast<unsigned>(failures_in_row_));
    if (failures_in_row_ >= config_.failures_for_error && status_ == Status::online) {
        logf(LogLevel::error, "sensor: %u readings failed in a row; status %s", static_cast<unsigned>(failures_in_row_),
             status_text(Status::sensor_error));
        set_status(Status::sensor_error);
    }
}

void Device::set_status(Status status) noexcept
{
    status_ = status;
    status_due_ = true;
}

bool Device::send_discovery() noexcept
{
    DiscoveryInfo info;
    info.prefix = config_.discovery_prefix;
    info.sensor_id = config_.sensor_id;
    info.model = config_.model;
    info.state_topic = data_topic_;
    info.status_topic = status_topic_;
    info.shared_state_topic = config_.shared_data_topic != nullptr;
    info.expire_after_s = expire_after_s_;
    const Field fields[] = {Field::temperature, Field::humidity, Field::rssi};
    for (const Field f : fields) {
        if (f == Field::rssi && !config_.payload_rssi)
            continue;
        char topic[kTopicSize];
        TextBuffer t(topic, sizeof topic);
        TextBuffer body(scratch_, sizeof scratch_);
        if (!format_discovery_topic(t, info, f) || !format_discovery(body, info, f)) {
            logf(LogLevel::error, "discovery: the %s message does not fit", field_name(f));
            continue;  // cannot get better by retrying
        }
        if (!platform_.mqtt_publish(topic, scratch_, 1, true))
            return false;
    }
    logf(LogLevel::debug, "discovery: sent to %s", config_.discovery_prefix);
    return true;
}

void Device::deliver(std::uint32_t now) noexcept
{
    if (discovery_wait_ != 0 && elapsed(now, discovery_from_) >= discovery_wait_)
        discovery_wait_ = 0;
    if (control_held_ && elapsed(now, control_from_) >= kControlRetryMs)
        control_held_ = false;
    if (mqtt_ != Phase::up)
        return;
    if (!control_held_) {
        if (status_due_) {
            if (platform_.mqtt_publish(status_topic_, status_text(status_), 1, true)) {
                status_due_ = false;
            } else {
                hold_control(now);
                return;
            }
        }
        if (discovery_due_ && discovery_wait_ == 0) {
            if (send_discovery()) {
                discovery_due_ = false;
            } else {
                hold_control(now);
                return;
            }
        }
    }
    if (!pending_)
        return;
    pending_ = false;
    if (platform_.mqtt_publish(data_topic_, payload_, config_.data_qos, config_.data_retain)) {
        ++stats_.published;
    } else {
        // The client refused it (its connection just broke): the next reading comes soon enough.
        ++stats_.dropped;
        logf(LogLevel::info, "mqtt: a reading could not be published");
    }
}

void Device::set_calibration(const char *payload, std::size_t length) noexcept
{
    Calibration c;
    if (const char *why = parse_calibration(payload, length, c)) {
        ++stats_.calibrations_refused;
        logf(LogLevel::error, "calibration: %s refused (%s); the offsets stay", config_topic_, why);
        return;
    }
    calibration_ = c;
    char t[16], h[16];
    TextBuffer(t, sizeof t).hundredths(c.temperature);
    TextBuffer(h, sizeof h).hundredths(c.humidity);
    logf(LogLevel::info, "calibration: temperature offset %s C, humidity offset %s %%", t, h);
}

void Device::report_ota(const char *what, const char *detail) noexcept
{
    char text[OtaRequest::kUrlMax + 64];
    TextBuffer(text, sizeof text).text(what).text(detail);
    logf(LogLevel::info, "ota: %s", text);
    if (mqtt_ == Phase::up)
        platform_.mqtt_publish(ota_topic_, text, 1, false);
}

void Device::take_command(const char *payload, std::size_t length) noexcept
{
    OtaRequest request;
    if (const char *why = parse_ota_command(payload, length, request)) {
        report_ota("refused: ", why);
        return;
    }
    if (std::strcmp(request.version, config_.firmware_version) == 0) {
        report_ota("already running ", request.version);
        return;
    }
    ota_ = request;
    ota_due_ = true;
}

void Device::update() noexcept
{
    // Between readings, with the status out: the download blocks.
    if (mqtt_ != Phase::up || attempt_ != 0 || pending_ || status_due_)
        return;
    ota_due_ = false;
    report_ota("updating to ", ota_.version);
    report_ota("failed: ", platform_.ota_update(ota_));
}

void Device::hold_control(std::uint32_t now) noexcept
{
    control_held_ = true;
    control_from_ = now;
}

void Device::on_message(const char *topic, const std::uint8_t *payload, std::size_t length,
                        std::uint32_t now) noexcept
{
    if (config_.remote_calibration && std::strcmp(topic, config_topic_) == 0) {
        set_calibration(reinterpret_cast<const char *>(payload), length);
        return;
    }
    if (config_.firmware_version != nullptr && std::strcmp(topic, command_topic_) == 0) {
        take_command(reinterpret_cast<const char *>(payload), length);
        return;
    }
    if (!config_.discovery || std::strcmp(topic, ha_status_topic_) != 0)
        return;
    static const char online[] = "online";
    if (length != sizeof online - 1 || std::memcmp(payload, online, length) != 0)
        return;
    // Home Assistant restarted: it has forgotten what is not retained, and
    // asks every device at once; each answers after its own short delay.
    const std::uint32_t jitter = config_.discovery_jitter_ms == 0
                                     ? 0
                                     : static_cast<std::uint32_t>(
                                           (static_cast<std::uint64_t>(platform_.random()) *
                                            (static_cast<std::uint64_t>(config_.discovery_jitter_ms) + 1)) >>
                                           32);
    discovery_due_ = true;
    discovery_from_ = now;
    discovery_wait_ = jitter;
    logf(LogLevel::debug, "discovery: Home Assistant is online; sending again in %lu ms",
         static_cast<unsigned long>(jitter));
}

void Device::maybe_sleep(std::uint32_t now) noexcept
{
    const bool done = stats_.samples >= 1 && attempt_ == 0 && !pending_ && !status_due_ && !discovery_due_;
    const std::uint32_t awake = elapsed(now, boot_);
    const bool late = awake >= config_.awake_timeout_ms;
    if (!done && !late)
        return;
    if (pending_) {
        pending_ = false;
        ++stats_.dropped;
        logf(LogLevel::info, "mqtt: no broker within %lu ms; the reading is dropped",
             static_cast<unsigned long>(config_.awake_timeout_ms));
    }
    if (memory_ != nullptr) {
        if (memory_->magic != kMemoryMagic)
            *memory_ = Memory{};
        memory_->magic = kMemoryMagic;
        ++memory_->wakes;
        memory_->failures_in_row = failures_in_row_;
        memory_->sensor_error = status_ == Status::sensor_error ? 1 : 0;
        memory_->calibration = calibration_;
    }
    // The next wake-up keeps to the interval, counted from this one.
    const std::uint32_t sleep = awake + min_interval_ < interval_ ? interval_ - awake : min_interval_;
    logf(LogLevel::info, "sleeping %lu ms (awake %lu ms)", static_cast<unsigned long>(sleep),
         static_cast<unsigned long>(awake));
    sleeping_ = true;
    platform_.deep_sleep(sleep);
}

bool Device::shutdown() noexcept
{
    if (stopped_)
        return false;
    stopped_ = true;
    if (mqtt_ != Phase::up)
        return false;
    status_ = Status::offline;
    return platform_.mqtt_publish(status_topic_, status_text(Status::offline), 1, true);
}

}  // namespace dht::firmware
