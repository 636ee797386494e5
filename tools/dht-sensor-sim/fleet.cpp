#include "fleet.hpp"

#include "dht/diag.hpp"
#include "dht/mqtt.hpp"
#include "dht/signals.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <system_error>
#include <thread>

namespace dht::sim {

namespace {

using steady = std::chrono::steady_clock;

// --rate: publishes not yet acknowledged, over the whole fleet, past which a
// sensor is skipped: the simulator slows down to what the broker takes
// instead of queueing without bound (about 10 MB).
constexpr std::size_t kMaxPendingFleet = 100000;
// At the end: how long the broker has to acknowledge what was published.
constexpr auto kDrain = std::chrono::seconds(10);
// How long the loop sleeps between two looks at the devices.
constexpr auto kTick = std::chrono::milliseconds(5);

enum Purpose : std::uint64_t { values = 1, jitter = 2 };

}  // namespace

firmware::Config device_config(const FleetOptions &o, std::size_t index)
{
    firmware::Config c;
    c.sensor_id = o.ids[index].c_str();
    c.model = o.model;
    c.topic_prefix = o.prefix.c_str();
    if (!o.shared_topic.empty())
        c.shared_data_topic = o.shared_topic.c_str();
    c.data_qos = o.qos;
    c.payload_sensor = o.with_sensor;
    c.payload_time = o.with_time;
    c.payload_rssi = o.with_rssi;
    c.discovery = o.discovery;
    c.discovery_prefix = o.discovery_prefix.c_str();
    c.sample_limit = o.count;
    if (index < o.client_ids.size())
        c.client_id = o.client_ids[index].c_str();
    if (o.rate > 0) {
        // Readings on demand, as fast as asked: a simulated sensor needs no rest.
        c.interval_ms = 0;
        c.min_interval_ms = 0;
    } else {
        c.interval_ms = o.interval_ms;
    }
    return c;
}

// One simulated device: the core, its sensor, and its own MQTT session.
class SimDevice final : public firmware::Platform {
public:
    SimDevice(const FleetOptions &o, std::size_t index, std::uint32_t boot_ms)
        : id_(o.ids[index]), boot_(boot_ms),
          environment_(o.profiles[index % o.profiles.size()], o.model, derive_seed(o.seed, index, values), o.count),
          jitter_(derive_seed(o.seed, index, jitter)), core_(device_config(o, index), *this)
    {
        MqttOptions m = o.mqtt;
        m.client_id = core_.client_id();
        m.will_topic = core_.status_topic();
        m.will_payload = firmware::status_text(firmware::Status::offline);
        m.will_qos = 1;
        m.will_retain = true;
        m.topics.clear();
        if (o.discovery)
            m.topics.emplace_back(core_.discovery_status_topic());
        subscribes_ = !m.topics.empty();
        // Session publishes from this thread while its own runs the network:
        // it needs libmosquitto's threaded mode, which a publish topic selects.
        m.publish_topic = core_.data_topic();
        session_.emplace(m);
    }

    const std::string &id() const { return id_; }
    firmware::Device &core() { return core_; }
    const firmware::Device &core() const { return core_; }
    Session &session() { return *session_; }
    const Environment &environment() const { return environment_; }
    std::uint32_t boot() const { return boot_; }
    // Started: its boot time has come (on the fleet's 64-bit clock).
    bool booted(std::uint64_t fleet_ms)
    {
        booted_ = booted_ || fleet_ms >= boot_;
        return booted_;
    }
    bool dead() const { return dead_; }
    bool done() const { return done_; }
    void set_done() { done_ = true; }

    // Drops the connection as a crash would; the broker publishes the last will.
    void die()
    {
        session_->abort();
        dead_ = true;
        const auto n = core_.stats().published;
        debug(cat(id_, ": dies after ", n, n == 1 ? " reading" : " readings", "; the broker sends its last will"));
    }

    // The device's own clock: it booted at boot_ on the fleet's.
    void tick(std::uint32_t fleet_now)
    {
        const std::uint32_t now = fleet_now - boot_;
        core_.tick(now);
        if (!subscribes_)
            return;
        inbox_.clear();
        if (session_->receive(inbox_, std::chrono::milliseconds(0)))
            for (const auto &m : inbox_)
                core_.on_message(m.topic.c_str(), reinterpret_cast<const std::uint8_t *>(m.payload.data()),
                                 m.payload.size(), now);
    }

    void wifi_begin() noexcept override {}
    bool wifi_connected() noexcept override { return true; }
    // The session connects, and reconnects with backoff, by itself once started.
    bool mqtt_connect(const firmware::MqttConnect &) noexcept override
    {
        session_->start();
        return true;
    }
    bool mqtt_connected() noexcept override { return session_->connected(); }
    bool mqtt_publish(const char *topic, const char *payload, std::uint8_t qos, bool retain) noexcept override
    {
        session_->publish(topic, payload, qos, retain);
        return true;
    }
    // Subscribed on every connection by the session itself (its topics).
    bool mqtt_subscribe(const char *) noexcept override { return true; }
    bool read_sensor(firmware::Reading &out) noexcept override { return environment_.read(out); }
    bool unix_time_ms(std::uint64_t &out) noexcept override
    {
        out = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count());
        return true;
    }
    bool rssi(int &dbm) noexcept override
    {
        dbm = environment_.rssi();
        return true;
    }
    std::uint32_t random() noexcept override { return jitter_.next32(); }
    void deep_sleep(std::uint32_t) noexcept override {}
    void log(firmware::LogLevel level, const char *line) noexcept override
    {
        if (level != firmware::LogLevel::debug || verbosity() >= 2)
            debug(cat(id_, ": ", line));
    }

private:
    std::string id_;
    std::uint32_t boot_;
    Environment environment_;
    Random jitter_;
    firmware::Device core_;
    std::optional<Session> session_;
    std::vector<MqttMessage> inbox_;
    bool subscribes_ = false;
    bool booted_ = false;
    bool dead_ = false;
    bool done_ = false;
};

Fleet::Fleet(const FleetOptions &options) : options_(options)
{
    const std::size_t n = options_.ids.size();
    devices_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        // Devices on an interval boot spread over it, as a real fleet's would
        // be: the broker sees a steady stream, not a burst every interval.
        const auto boot = options_.rate > 0 ? 0U : static_cast<std::uint32_t>(options_.interval_ms * i / n);
        devices_.push_back(std::make_unique<SimDevice>(options_, i, boot));
    }
}

Fleet::~Fleet() = default;

void Fleet::tick_all(std::uint64_t elapsed_ms)
{
    // The devices' clocks wrap, as millis() does on a board.
    const auto now = static_cast<std::uint32_t>(elapsed_ms);
    for (auto &d : devices_) {
        if (d->dead() || d->done() || !d->booted(elapsed_ms))
            continue;
        d->tick(now);
        const auto &stats = d->core().stats();
        const std::uint32_t death = d->environment().death_after();
        if (death != 0 && stats.published >= death && !d->core().unsent() && d->session().pending_publishes() == 0) {
            d->die();
            continue;
        }
        if (options_.count != 0 && stats.samples >= options_.count && d->core().idle())
            d->set_done();
    }
}

// --rate: asks the sensors for readings in turn, as many as the rate allows
// since every sensor was connected.
void Fleet::pace(std::uint64_t elapsed_ms)
{
    if (!rate_start_) {
        const bool all_up = std::all_of(devices_.begin(), devices_.end(),
                                        [](const auto &d) { return d->dead() || d->core().mqtt_up(); });
        if (!all_up)
            return;
        rate_start_ = elapsed_ms;
    }
    const auto now = static_cast<std::uint32_t>(elapsed_ms);
    const double seconds = static_cast<double>(elapsed_ms - *rate_start_) / 1000.0;
    auto due = static_cast<std::uint64_t>(seconds * options_.rate) + 1;
    // Behind by more than a second (a broker that could not keep up): no burst to catch up.
    const auto slack = static_cast<std::uint64_t>(std::max(1.0, options_.rate));
    if (due > issued_ + slack)
        issued_ = due - slack;
    const std::size_t n = devices_.size();
    const std::size_t max_pending = std::max<std::size_t>(100, kMaxPendingFleet / n);
    const std::uint64_t limit = options_.count != 0 ? options_.count : UINT64_MAX;
    std::size_t idle_turns = 0;
    while (issued_ < due && idle_turns < n) {
        SimDevice &d = *devices_[next_];
        next_ = (next_ + 1) % n;
        if (d.dead() || d.done() || d.core().stats().samples >= limit || !d.core().mqtt_up() ||
            !d.core().idle() || d.session().pending_publishes() >= max_pending) {
            ++idle_turns;
            continue;
        }
        idle_turns = 0;
        d.core().request_sample();
        d.tick(now);
        ++issued_;
    }
}

// Every sensor has taken its --count readings or died; without --count,
// every sensor has died.
bool Fleet::finished() const
{
    return std::all_of(devices_.begin(), devices_.end(), [this](const auto &d) {
        return d->dead() || (options_.count != 0 && d->done());
    });
}

int Fleet::run()
{
    const auto start = steady::now();
    int status = exit_ok;
    while (!stop_requested() && !finished()) {
        const auto elapsed = static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count());
        tick_all(elapsed);
        if (options_.rate > 0)
            pace(elapsed);
        for (auto &d : devices_) {
            if (const auto f = d->session().failure()) {
                status = *f;
                break;
            }
        }
        if (status != exit_ok)
            break;
        std::this_thread::sleep_for(options_.rate > 0 ? std::chrono::milliseconds(1) : kTick);
    }
    // Gone on purpose: each live device says so itself.
    for (auto &d : devices_)
        if (!d->dead())
            d->core().shutdown();
    // Up to the last acknowledgement: the rate reported is the rate delivered.
    const auto drained = [this] {
        return std::all_of(devices_.begin(), devices_.end(),
                           [](const auto &d) { return d->dead() || d->session().pending_publishes() == 0; });
    };
    const auto deadline = steady::now() + kDrain;
    while (!drained() && steady::now() < deadline && status == exit_ok)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    seconds_ = std::chrono::duration<double>(steady::now() - start).count();
    const int stopped = stop();
    return status != exit_ok ? status : stopped;
}

// Disconnects every live device at once: a session takes up to a tenth of a
// second to stop, a hundred of them one after the other ten seconds.
int Fleet::stop()
{
    std::vector<std::thread> stoppers;
    for (auto &d : devices_) {
        if (d->dead())
            continue;
        Session &session = d->session();
        try {
            stoppers.emplace_back([&session] { session.stop(std::chrono::milliseconds(0)); });
        } catch (const std::system_error &) {
            session.stop(std::chrono::milliseconds(0));  // no thread to spare: one after the other
        }
    }
    for (auto &t : stoppers)
        t.join();
    std::size_t unacknowledged = 0;
    for (const auto &d : devices_)
        if (!d->dead())
            unacknowledged += d->session().pending_publishes() + d->session().refused_publishes();
    return unacknowledged == 0 ? exit_ok : exit_unavailable;
}

Totals Fleet::totals() const
{
    Totals t;
    for (const auto &d : devices_) {
        const auto &s = d->core().stats();
        t.samples += s.samples;
        t.failed_samples += s.failed_samples;
        t.published += s.published;
        t.dropped += s.dropped;
        t.died += d->dead() ? 1U : 0U;
    }
    t.seconds = seconds_;
    return t;
}

}  // namespace dht::sim
