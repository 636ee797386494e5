// The firmware's portable core (firmware/core) on the host, with a fake
// platform and a fake clock: schedule, retries, range checks, payload bytes,
// reconnect backoff, last will and birth, Home Assistant discovery, deep sleep.
#include "dht_core.hpp"

#include "dht/json.hpp"
#include "dht/time.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace dht::firmware;

namespace {

struct Published {
    std::string topic, payload;
    int qos;
    bool retain;
    std::uint32_t at;
};

// A board whose network, broker and sensor the test controls.
class FakePlatform : public Platform {
public:
    std::uint32_t now = 0;  // the time of the tick in progress

    bool network = true;  // WiFi joins as soon as begun
    bool wifi = false;
    int wifi_begins = 0;

    bool broker = true;          // connect() succeeds
    bool connect_pending = false;  // connect() neither succeeds nor fails: an asynchronous client
    bool mqtt = false;
    std::vector<MqttConnect> connects;
    std::vector<std::uint32_t> connect_times;
    std::vector<Published> published;
    std::vector<std::string> subscribed;

    Reading value{24.5F, 65.3F};
    bool answers = true;
    std::deque<std::optional<Reading>> script;  // taken first: nullopt is a read that fails
    std::vector<std::uint32_t> read_times;

    std::optional<std::uint64_t> unix_ms;
    std::optional<int> dbm;
    std::uint32_t random_value = 0x80000000U;
    std::optional<std::uint32_t> slept;
    std::vector<std::string> logs;

    void wifi_begin() noexcept override
    {
        ++wifi_begins;
        wifi = network;
    }
    bool wifi_connected() noexcept override
    {
        if (!network)
            wifi = false;
        return wifi;
    }
    bool mqtt_connect(const MqttConnect &r) noexcept override
    {
        connects.push_back(r);
        connect_times.push_back(now);
        if (connect_pending)
            return true;
        mqtt = broker && wifi;
        return mqtt;
    }
    bool mqtt_connected() noexcept override
    {
        if (!broker || !wifi)
            mqtt = false;
        return mqtt;
    }
    bool mqtt_publish(const char *topic, const char *payload, std::uint8_t qos, bool retain) noexcept override
    {
        if (!mqtt_connected())
            return false;
        published.push_back({topic, payload, qos, retain, now});
        return true;
    }
    bool mqtt_subscribe(const char *topic) noexcept override
    {
        subscribed.emplace_back(topic);
        return true;
    }
    bool read_sensor(Reading &out) noexcept override
    {
        read_times.push_back(now);
        if (!script.empty()) {
            const auto next = script.front();
            script.pop_front();
            if (!next)
                return false;
            out = *next;
            return true;
        }
        out = value;
        return answers;
    }
    bool unix_time_ms(std::uint64_t &out) noexcept override
    {
        if (!unix_ms)
            return false;
        out = *unix_ms;
        return true;
    }
    bool rssi(int &out) noexcept override
    {
        if (!dbm)
            return false;
        out = *dbm;
        return true;
    }
    std::uint32_t random() noexcept override { return random_value; }
    void deep_sleep(std::uint32_t ms) noexcept override { slept = ms; }
    void log(LogLevel, const char *line) noexcept override { logs.emplace_back(line); }

    std::vector<OtaRequest> updates;  // a board restarts when one works; this one says it failed
    std::vector<std::uint32_t> update_times;
    int confirms = 0;
    const char *ota_update(const OtaRequest &r) noexcept override
    {
        updates.push_back(r);
        update_times.push_back(now);
        return "the server said 404";
    }
    void firmware_confirm() noexcept override { ++confirms; }

    std::vector<Published> on(const std::string &topic) const
    {
        std::vector<Published> found;
        for (const auto &p : published)
            if (p.topic == topic)
                found.push_back(p);
        return found;
    }
    std::vector<std::string> payloads(const std::string &topic) const
    {
        std::vector<std::string> found;
        for (const auto &p : on(topic))
            found.push_back(p.payload);
        return found;
    }
};

// Ticks every `step` ms from `from` up to and including `to`.
void run(Device &d, FakePlatform &p, std::uint32_t from, std::uint32_t to, std::uint32_t step = 10)
{
    for (std::uint32_t t = from;; t += step) {
        p.now = t;
        d.tick(t);
        if (t >= to || to - t < step)
            break;
    }
}

Config kitchen()
{
    Config c;
    c.sensor_id = "kitchen";
    return c;
}

std::string reading_text(const Reading &r, const PayloadExtras &extras = {})
{
    char buffer[256];
    TextBuffer out(buffer, sizeof buffer);
    REQUIRE(format_reading(out, r, extras));
    return out.c_str();
}

dht::json::object parse_object(const std::string &text)
{
    const auto v = dht::json::parse(text);
    REQUIRE(v.is_object());
    return v.as_object();
}

}  // namespace

TEST_CASE("firmware: the seed's payload, byte for byte", "[firmware]")
{
    CHECK(reading_text({24.5F, 65.3F}) == R"({"temperature":24.50,"humidity":65.30})");
    CHECK(reading_text({-0.5F, 100.0F}) == R"({"temperature":-0.50,"humidity":100.00})");
    CHECK(reading_text({-0.004F, 0.0F}) == R"({"temperature":0.00,"humidity":0.00})");  // never -0.00
    CHECK(reading_text({21.125F, 40.0F}) == R"({"temperature":21.13,"humidity":40.00})");  // half away from zero
    CHECK(reading_text({-21.125F, 9.99F}) == R"({"temperature":-21.13,"humidity":9.99})");
    CHECK(reading_text({-39.9F, 5.1F}) == R"({"temperature":-39.90,"humidity":5.10})");

    PayloadExtras extras;
    extras.sensor = "kitchen";
    extras.has_time = true;
    extras.unix_ms = 1795515330123ULL;
    extras.has_rssi = true;
    extras.rssi = -67;
    const std::string full = reading_text({24.5F, 65.3F}, extras);
    CHECK(full ==
          R"({"temperature":24.50,"humidity":65.30,"sensor":"kitchen","time":"2026-11-24T10:15:30.123Z","rssi":-67})");
    const auto o = parse_object(full);
    CHECK(o.at("temperature").as_double() == 24.5);
    CHECK(o.at("time").as_string() == "2026-11-24T10:15:30.123Z");

    extras = {};
    extras.sensor = "a\"b\\c\n";
    CHECK(parse_object(reading_text({1, 2}, extras)).at("sensor").as_string() == "a\"b\\c\n");
}

TEST_CASE("firmware: RFC 3339 times agree with the toolkit's", "[firmware]")
{
    const auto text = [](std::uint64_t ms) {
        char buffer[40];
        TextBuffer out(buffer, sizeof buffer);
        out.rfc3339(ms);
        return std::string(out.c_str());
    };
    CHECK(text(0) == "1970-01-01T00:00:00.000Z");
    CHECK(text(951868799999ULL) == "2000-02-29T23:59:59.999Z");
    CHECK(text(4107542400000ULL) == "2100-03-01T00:00:00.000Z");
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::uint64_t> any(0, 4102444800000ULL);  // to 2100
    for (int i = 0; i < 2000; ++i) {
        const std::uint64_t ms = any(rng);
        const dht::TimePoint t{std::chrono::milliseconds(ms)};
        REQUIRE(text(ms) == dht::format_rfc3339(t));
    }
}

TEST_CASE("firmware: a text buffer cuts what does not fit and says so", "[firmware]")
{
    char small[8];
    TextBuffer out(small, sizeof small);
    out.text("dht11/").text("kitchen");
    CHECK_FALSE(out.ok());
    CHECK(std::string(small) == "dht11/k");
    out.clear();
    CHECK(out.ok());
    out.integer(std::numeric_limits<long long>::min());
    CHECK_FALSE(out.ok());
    char big[32];
    TextBuffer b(big, sizeof big);
    b.integer(std::numeric_limits<long long>::min());
    CHECK(std::string(big) == "-9223372036854775808");
    b.clear();
    b.fixed2(std::nanf(""));
    CHECK(std::string(big) == "null");
}

TEST_CASE("firmware: configurations are checked", "[firmware]")
{
    CHECK(check_config(Config{}) == nullptr);
    Config c;
    c.sensor_id = "";
    CHECK(check_config(c) != nullptr);
    c.sensor_id = "kitchen/2";
    CHECK(check_config(c) != nullptr);
    c.sensor_id = "abcdefghijabcdefghijabcdefghijabc";  // 33
    CHECK(check_config(c) != nullptr);
    c = Config{};
    c.topic_prefix = "dht11/#";
    CHECK(check_config(c) != nullptr);
    c = Config{};
    c.shared_data_topic = "dht11/+/data";
    CHECK(check_config(c) != nullptr);
    c = Config{};
    c.read_attempts = 0;
    CHECK(check_config(c) != nullptr);
    c = Config{};
    c.backoff_max_ms = 10;
    CHECK(check_config(c) != nullptr);
    c = Config{};
    c.deep_sleep = true;
    c.interval_ms = 0;
    CHECK(check_config(c) != nullptr);
    // Every wait at most a day: the wrapping clock compares times under 24.8 days apart.
    const std::uint32_t day = 86400000U;
    for (std::uint32_t Config::*wait : {&Config::discovery_jitter_ms, &Config::wifi_timeout_ms,
                                        &Config::mqtt_timeout_ms, &Config::awake_timeout_ms}) {
        c = Config{};
        c.*wait = day;
        CHECK(check_config(c) == nullptr);
        c.*wait = day + 1;
        CHECK(check_config(c) != nullptr);
    }

    FakePlatform p;
    c = Config{};
    c.sensor_id = "bad id";
    Device d(c, p);
    REQUIRE(d.error() != nullptr);
    run(d, p, 0, 5000);
    CHECK(p.wifi_begins == 0);
    CHECK(p.read_times.empty());
}

TEST_CASE("firmware: topics and client id", "[firmware]")
{
    FakePlatform p;
    Device seed(Config{}, p);
    CHECK(std::string(seed.data_topic()) == "dht11/sensor/data");  // the seed's topic, out of the box
    CHECK(std::string(seed.status_topic()) == "dht11/sensor/status");
    CHECK(std::string(seed.client_id()) == "dht-sensor");

    Config c = kitchen();
    Device d(c, p);
    CHECK(std::string(d.data_topic()) == "dht11/kitchen/data");
    CHECK(std::string(d.status_topic()) == "dht11/kitchen/status");
    CHECK(std::string(d.client_id()) == "dht-kitchen");
    CHECK(std::string(d.discovery_status_topic()) == "homeassistant/status");

    c.shared_data_topic = "dht11/sensor/data";
    c.topic_prefix = "home/dht";
    c.client_id = "esp32_dht11_sensor";
    Device shared(c, p);
    CHECK(std::string(shared.data_topic()) == "dht11/sensor/data");
    CHECK(std::string(shared.status_topic()) == "home/dht/kitchen/status");
    CHECK(std::string(shared.client_id()) == "esp32_dht11_sensor");

    // On a shared topic a reading says whose it is.
    run(shared, p, 0, 1000);
    REQUIRE(p.on("dht11/sensor/data").size() == 1);
    CHECK(p.on("dht11/sensor/data")[0].payload == R"({"temperature":24.50,"humidity":65.30,"sensor":"kitchen"})");
}

TEST_CASE("firmware: the schedule keeps its phase and never catches up in a burst", "[firmware]")
{
    FakePlatform p;
    Config c = kitchen();
    c.model = Model::dht22;
    c.interval_ms = 10000;
    Device d(c, p);
    run(d, p, 0, 30000);
    // The first read waits for the sensor's power-up (2 s for a DHT22).
    CHECK(p.read_times == std::vector<std::uint32_t>{2000, 10000, 20000, 30000});
    CHECK(p.payloads("dht11/kitchen/data").size() == 4);

    // The loop stalls for 25 s: one reading when it resumes, then on schedule again.
    p.now = 55000;
    d.tick(55000);
    run(d, p, 55010, 70000);
    CHECK(p.read_times == std::vector<std::uint32_t>{2000, 10000, 20000, 30000, 55000, 65000});
    CHECK(d.stats().samples == 6);
}

TEST_CASE("firmware: minimum intervals per model", "[firmware]")
{
    CHECK(min_interval_ms(Model::dht11) == 1000);
    CHECK(min_interval_ms(Model::dht22) == 2000);
    for (const auto model : {Model::dht11, Model::dht22}) {
        FakePlatform p;
        Config c = kitchen();
        c.model = model;
        c.interval_ms = 200;  // too fast for either
        Device d(c, p);
        const std::uint32_t min = min_interval_ms(model);
        CHECK(d.interval_ms() == min);
        run(d, p, 0, 10 * min);
        REQUIRE(p.read_times.size() >= 2);
        for (std::size_t i = 1; i < p.read_times.size(); ++i)
            CHECK(p.read_times[i] - p.read_times[i - 1] >= min);
        CHECK(p.read_times.size() == 10);
        bool warned = false;
        for (const auto &line : p.logs)
            warned = warned || line.find("interval raised") != std::string::npos;
        CHECK(warned);
    }
}

TEST_CASE("firmware: a failed read is retried after the sensor's rest", "[firmware]")
{
    FakePlatform p;
    Config c = kitchen();
    c.interval_ms = 10000;
    p.script = {std::nullopt, std::nullopt, Reading{21.0F, 50.0F}};
    Device d(c, p);
    run(d, p, 0, 5000);
    CHECK(p.read_times == std::vector<std::uint32_t>{1000, 2000, 3000});
    CHECK(p.payloads("dht11/kitchen/data") == std::vector<std::string>{R"({"temperature":21.00,"humidity":50.00})"});
    CHECK(d.stats().samples == 1);
    CHECK(d.stats().failed_reads == 2);
    CHECK(d.stats().failed_samples == 0);
    CHECK(d.status() == Status::online);
}

TEST_CASE("firmware: retries never push back the next reading", "[firmware]")
{
    SECTION("an interval as short as the rest leaves no room for a retry")
    {
        FakePlatform p;
        Config c = kitchen();
        c.model = Model::dht22;
        c.interval_ms = 2000;
        p.script = {std::nullopt, Reading{20, 50}};
        Device d(c, p);
        run(d, p, 0, 4000);
        CHECK(p.read_times == std::vector<std::uint32_t>{2000, 4000});
        CHECK(d.stats().failed_samples == 1);
        CHECK(d.stats().published == 1);
    }
    SECTION("retries stop before the next reading is due")
    {
        FakePlatform p;
        Config c = kitchen();
        c.model = Model::dht22;
        c.interval_ms = 5000;
        c.read_attempts = 5;
        p.answers = false;
        Device d(c, p);
        run(d, p, 0, 9000);
        // 2 s and 4 s fail; a retry at 6 s would come after the reading due
        // at 5 s, which takes its place at 6 s (the sensor's rest after 4 s).
        CHECK(p.read_times == std::vector<std::uint32_t>{2000, 4000, 6000, 8000});
        CHECK(d.stats().failed_samples == 2);
    }
}

TEST_CASE("firmware: after readings failed in a row the status says so", "[firmware]")
{
    FakePlatform p;
    Config c = kitchen();
    c.interval_ms = 10000;
    c.failures_for_error = 3;
    p.answers = false;
    Device d(c, p);
    run(d, p, 0, 25000);
    CHECK(d.stats().failed_samples == 3);
    CHECK(d.stats().failed_reads == 9);  // three reads each
    CHECK(d.status() == Status::sensor_error);
    const auto status = p.on("dht11/kitchen/status");
    REQUIRE(status.size() == 2);
    CHECK(status[0].payload == "online");
    CHECK(status[1].payload == "sensor-error");
    CHECK(status[1].retain);
    CHECK(status[1].qos == 1);
    CHECK(p.on("dht11/kitchen/data").empty());  // a failed reading publishes nothing

    p.answers = true;
    run(d, p, 25010, 31000);
    CHECK(d.status() == Status::online);
    CHECK(p.payloads("dht11/kitchen/status") == std::vector<std::string>{"online", "sensor-error", "online"});
    CHECK(p.payloads("dht11/kitchen/data").size() == 1);
}

TEST_CASE("firmware: readings outside the sensor's range are rejected", "[firmware]")
{
    CHECK(in_range({-20.0F, 0.0F}, Model::dht11));
    CHECK(in_range({60.0F, 100.0F}, Model::dht11));
    CHECK_FALSE(in_range({-20.1F, 50.0F}, Model::dht11));
    CHECK_FALSE(in_range({60.1F, 50.0F}, Model::dht11));
    CHECK(in_range({-40.0F, 50.0F}, Model::dht22));
    CHECK(in_range({80.0F, 50.0F}, Model::dht22));
    CHECK_FALSE(in_range({-40.1F, 50.0F}, Model::dht22));
    CHECK_FALSE(in_range({20.0F, 100.1F}, Model::dht22));
    CHECK_FALSE(in_range({20.0F, -0.1F}, Model::dht22));
    CHECK_FALSE(in_range({std::nanf(""), 50.0F}, Model::dht22));

    FakePlatform p;
    Config c = kitchen();
    c.model = Model::dht22;
    // Bit errors that passed the checksum: 6553.5 degrees, 255 percent.
    p.script = {Reading{6553.5F, 40.0F}, Reading{20.0F, 255.0F}, Reading{-12.5F, 40.0F}};
    Device d(c, p);
    run(d, p, 0, 7000);
    CHECK(d.stats().range_errors == 2);
    CHECK(d.stats().failed_reads == 2);
    CHECK(p.payloads("dht11/kitchen/data") == std::vector<std::string>{R"({"temperature":-12.50,"humidity":40.00})"});
}

TEST_CASE("firmware: backoff doubles up to its cap, with jitter within bounds", "[firmware]")
{
    Backoff b(1000, 60000);
    const std::vector<std::uint32_t> ceilings{1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
    for (const auto want : ceilings) {
        CHECK(b.ceiling() == want);
        Backoff low = b;
        Backoff high = b;
        CHECK(low.next(0) == want / 2);               // the least jitter: half
        CHECK(high.next(0xFFFFFFFFU) == want);        // the most: all of it
        b.next(0x80000000U);
    }
    b.reset();
    CHECK(b.ceiling() == 1000);

    std::mt19937 rng(1);
    Backoff r(500, 7000);
    for (int i = 0; i < 1000; ++i) {
        const std::uint32_t ceiling = r.ceiling();
        const std::uint32_t d = r.next(static_cast<std::uint32_t>(rng()));
        REQUIRE(d >= ceiling / 2);
        REQUIRE(d <= ceiling);
        REQUIRE(ceiling <= 7000);
    }
}

TEST_CASE("firmware: reconnecting to the broker backs off without blocking", "[firmware]")
{
    FakePlatform p;
    p.broker = false;
    p.random_value = 0xFFFFFFFFU;  // jitter at its most: delays of exactly 1, 2, 4 ... s
    Config c = kitchen();
    c.backoff_max_ms = 8000;
    Device d(c, p);
    run(d, p, 0, 40000);
    // A refused attempt is followed at once by a wait; each tick makes one call at most.
    CHECK(p.connect_times == std::vector<std::uint32_t>{0, 1000, 3000, 7000, 15000, 23000, 31000, 39000});
    CHECK(d.stats().mqtt_attempts == 8);
    CHECK(p.published.empty());

    p.broker = true;
    run(d, p, 40010, 48000);
    CHECK(d.mqtt_up());
    CHECK(p.connect_times.back() == 47000);
    // Connected: the backoff starts over after the next loss.
    p.broker = false;
    run(d, p, 48010, 48500);
    p.broker = true;
    run(d, p, 48510, 52000);
    CHECK(p.connect_times.back() == 49010);  // the first delay again: 1 s after the loss at 48.01 s
}

TEST_CASE("firmware: an attempt that does not finish in time is given up", "[firmware]")
{
    FakePlatform p;
    p.connect_pending = true;  // an asynchronous client that never gets a CONNACK
    p.random_value = 0;        // jitter at its least: half of each delay
    Config c = kitchen();
    c.mqtt_timeout_ms = 5000;
    Device d(c, p);
    run(d, p, 0, 18000);
    CHECK(p.connect_times == std::vector<std::uint32_t>{0, 5500, 11500});
}

TEST_CASE("firmware: WiFi is joined without blocking and rejoined with backoff", "[firmware]")
{
    FakePlatform p;
    p.network = false;
    p.random_value = 0xFFFFFFFFU;
    Config c = kitchen();
    c.wifi_timeout_ms = 10000;
    Device d(c, p);
    run(d, p, 0, 9990);
    CHECK(p.wifi_begins == 1);  // a join takes time: no second begin while it may still succeed
    run(d, p, 10000, 20000);
    CHECK(p.wifi_begins == 2);  // timed out at 10 s, tried again 1 s later
    CHECK(p.connects.empty());  // no MQTT without a network
    CHECK(p.read_times == std::vector<std::uint32_t>{1000, 10000, 20000});  // the sensor is read all the same
    p.network = true;
    run(d, p, 20010, 40000);
    CHECK(p.wifi_begins == 3);  // at 23 s: 2 s after the second timed out
    CHECK(d.mqtt_up());
    // The latest reading taken offline (20 s) is published once connected
    // (23 s); the older ones were replaced. Then 30 s and 40 s.
    CHECK(d.stats().dropped == 2);
    CHECK(p.on("dht11/kitchen/data").size() == 3);
    CHECK(p.on("dht11/kitchen/data")[0].at == 23000);
}

TEST_CASE("firmware: last will and birth", "[firmware]")
{
    FakePlatform p;
    Device d(kitchen(), p);
    run(d, p, 0, 100);
    REQUIRE(p.connects.size() == 1);
    const MqttConnect &r = p.connects[0];
    CHECK(std::string(r.client_id) == "dht-kitchen");
    CHECK(std::string(r.will_topic) == "dht11/kitchen/status");
    CHECK(std::string(r.will_payload) == "offline");
    CHECK(r.will_qos == 1);
    CHECK(r.will_retain);
    REQUIRE(!p.published.empty());
    CHECK(p.published[0].topic == "dht11/kitchen/status");
    CHECK(p.published[0].payload == "online");
    CHECK(p.published[0].retain);
    CHECK(p.published[0].qos == 1);

    // The broker drops the connection (it then publishes the will): birth again on reconnect.
    p.mqtt = false;
    run(d, p, 110, 3000);
    CHECK(p.payloads("dht11/kitchen/status") == std::vector<std::string>{"online", "online"});

    // A deliberate power-off says offline itself, then the device stops.
    CHECK(d.shutdown());
    CHECK(p.payloads("dht11/kitchen/status").back() == "offline");
    const auto before = p.published.size();
    run(d, p, 3010, 30000);
    CHECK(p.published.size() == before);
}

TEST_CASE("firmware: a reading taken offline waits for the connection", "[firmware]")
{
    FakePlatform p;
    p.broker = false;
    p.unix_ms = 1795515330123ULL;
    p.dbm = -70;
    Config c = kitchen();
    c.payload_time = true;
    c.payload_rssi = true;
    Device d(c, p);
    run(d, p, 0, 1500);
    CHECK(!d.idle());
    p.unix_ms = 1795515340000ULL;  // sending later does not change the reading's time
    p.broker = true;
    run(d, p, 1510, 6000);
    REQUIRE(p.on("dht11/kitchen/data").size() == 1);
    CHECK(p.on("dht11/kitchen/data")[0].payload ==
          R"({"temperature":24.50,"humidity":65.30,"time":"2026-11-24T10:15:30.123Z","rssi":-70})");
    // After the birth message.
    CHECK(p.published.front().topic == "dht11/kitchen/status");
    CHECK(d.idle());

    // No time until NTP has answered: the key is left out.
    FakePlatform q;
    Device e(c, q);
    run(e, q, 0, 1000);
    REQUIRE(q.on("dht11/kitchen/data").size() == 1);
    CHECK(q.on("dht11/kitchen/data")[0].payload == R"({"temperature":24.50,"humidity":65.30})");
}

TEST_CASE("firmware: Home Assistant discovery", "[firmware]")
{
    FakePlatform p;
    Config c = kitchen();
    c.discovery = true;
    c.interval_ms = 10000;
    Device d(c, p);
    run(d, p, 0, 100);
    CHECK(p.subscribed == std::vector<std::string>{"homeassistant/status"});
    const auto t = p.on("homeassistant/sensor/kitchen_temperature/config");
    const auto h = p.on("homeassistant/sensor/kitchen_humidity/config");
    REQUIRE(t.size() == 1);
    REQUIRE(h.size() == 1);
    CHECK(t[0].retain);
    CHECK(t[0].qos == 1);
    CHECK(p.on("homeassistant/sensor/kitchen_rssi/config").empty());

    const auto o = parse_object(t[0].payload);
    CHECK(o.at("name").as_string() == "Temperature");
    CHECK(o.at("unique_id").as_string() == "kitchen_temperature");
    CHECK(o.at("state_topic").as_string() == "dht11/kitchen/data");
    CHECK(o.at("value_template").as_string() == "{{ value_json.temperature }}");
    CHECK(o.at("device_class").as_string() == "temperature");
    CHECK(o.at("state_class").as_string() == "measurement");
    CHECK(o.at("unit_of_measurement").as_string() == "\u00b0C");
    CHECK(o.at("availability_topic").as_string() == "dht11/kitchen/status");
    CHECK(o.at("payload_available").as_string() == "online");
    CHECK(o.at("payload_not_available").as_string() == "offline");
    CHECK(o.contains("availability_template"));
    CHECK(o.at("expire_after").as_int64() == 30);  // three intervals
    const auto &device = o.at("device").as_object();
    CHECK(device.at("identifiers").as_array().at(0).as_string() == "dht_kitchen");
    CHECK(device.at("model").as_string() == "DHT11");

    const auto oh = parse_object(h[0].payload);
    CHECK(oh.at("device_class").as_string() == "humidity");
    CHECK(oh.at("unit_of_measurement").as_string() == "%");
    CHECK(oh.at("value_template").as_string() == "{{ value_json.humidity }}");

    SECTION("with the signal strength, a diagnostic entity")
    {
        FakePlatform q;
        c.payload_rssi = true;
        c.model = Model::dht22;
        Device e(c, q);
        run(e, q, 0, 100);
        const auto r = q.on("homeassistant/sensor/kitchen_rssi/config");
        REQUIRE(r.size() == 1);
        const auto orr = parse_object(r[0].payload);
        CHECK(orr.at("device_class").as_string() == "signal_strength");
        CHECK(orr.at("unit_of_measurement").as_string() == "dBm");
        CHECK(orr.at("entity_category").as_string() == "diagnostic");
        CHECK(orr.at("device").as_object().at("model").as_string() == "DHT22");
    }
    SECTION("on a shared topic, each entity takes its own device's readings")
    {
        FakePlatform q;
        c.shared_data_topic = "dht11/sensor/data";
        Device e(c, q);
        run(e, q, 0, 100);
        const auto s = parse_object(q.on("homeassistant/sensor/kitchen_temperature/config").at(0).payload);
        CHECK(s.at("state_topic").as_string() == "dht11/sensor/data");
        const std::string tpl(s.at("value_template").as_string());
        CHECK(tpl.find("value_json.sensor == 'kitchen'") != std::string::npos);
    }
    SECTION("sent again on every connection")
    {
        p.mqtt = false;
        run(d, p, 110, 3000);
        CHECK(p.on("homeassistant/sensor/kitchen_temperature/config").size() == 2);
    }
}

TEST_CASE("firmware: discovery is sent again when Home Assistant comes back", "[firmware]")
{
    FakePlatform p;
    p.random_value = 0xFFFFFFFFU;  // the longest jitter
    Config c = kitchen();
    c.discovery = true;
    c.discovery_jitter_ms = 2000;
    Device d(c, p);
    run(d, p, 0, 500);
    const std::string topic = "homeassistant/sensor/kitchen_temperature/config";
    REQUIRE(p.on(topic).size() == 1);

    const auto say = [&](const char *t, const char *text, std::uint32_t now) {
        d.on_message(t, reinterpret_cast<const std::uint8_t *>(text), std::strlen(text), now);
    };
    say("homeassistant/status", "offline", 500);
    say("homeassistant/other", "online", 500);
    run(d, p, 510, 5000);
    CHECK(p.on(topic).size() == 1);

    say("homeassistant/status", "online", 5000);
    run(d, p, 5000, 6990);
    CHECK(p.on(topic).size() == 1);  // not before its jitter
    run(d, p, 7000, 7100);
    REQUIRE(p.on(topic).size() == 2);
    CHECK(p.on(topic)[1].at == 7000);
    CHECK(p.on("homeassistant/sensor/kitchen_humidity/config").size() == 2);

    FakePlatform q;
    Device plain(kitchen(), q);  // discovery off: the message is ignored
    run(plain, q, 0, 500);
    plain.on_message("homeassistant/status", reinterpret_cast<const std::uint8_t *>("online"), 6, 500);
    run(plain, q, 510, 5000);
    CHECK(q.on(topic).empty());
}

TEST_CASE("firmware: deep sleep after the reading is out, or when no broker comes", "[firmware]")
{
    Config c = kitchen();
    c.model = Model::dht22;
    c.interval_ms = 60000;
    c.deep_sleep = true;
    c.awake_timeout_ms = 20000;
    c.discovery = true;

    SECTION("published: sleep for the rest of the interval")
    {
        FakePlatform p;
        Memory memory;
        Device d(c, p, &memory);
        run(d, p, 0, 1990);
        CHECK_FALSE(p.slept);
        run(d, p, 2000, 3000);
        CHECK(p.payloads("dht11/kitchen/data").size() == 1);
        REQUIRE(p.slept);
        CHECK(*p.slept == 58000);
        CHECK(d.sleeping());
        CHECK(memory.wakes == 1);
        CHECK(p.on("homeassistant/sensor/kitchen_temperature/config").size() == 1);

        // The next wake-up: a fresh device with the same memory; discovery
        // is retained already and not sent again.
        FakePlatform q;
        Device again(c, q, &memory);
        run(again, q, 0, 3000);
        CHECK(q.payloads("dht11/kitchen/data").size() == 1);
        CHECK(q.on("homeassistant/sensor/kitchen_temperature/config").empty());
        CHECK(memory.wakes == 2);
    }
    SECTION("no broker: sleep at the awake timeout, the reading dropped")
    {
        FakePlatform p;
        p.broker = false;
        Device d(c, p);
        run(d, p, 0, 19990);
        CHECK_FALSE(p.slept);
        run(d, p, 20000, 20000);
        REQUIRE(p.slept);
        CHECK(*p.slept == 40000);
        CHECK(d.stats().dropped == 1);
    }
    SECTION("failures are counted across wake-ups")
    {
        Memory memory;
        std::vector<std::string> statuses;
        for (int wake = 0; wake < 4; ++wake) {
            FakePlatform p;
            p.answers = false;
            Device d(c, p, &memory);
            run(d, p, 0, 20000);
            REQUIRE(p.slept);
            for (const auto &s : p.payloads("dht11/kitchen/status"))
                statuses.push_back(s);
        }
        // Three wake-ups, three failed readings: the third says sensor-error,
        // and the fourth announces itself so.
        CHECK(statuses == std::vector<std::string>{"online", "online", "online", "sensor-error", "sensor-error"});
        CHECK(memory.failures_in_row == 4);
    }
}

TEST_CASE("firmware: the clock may wrap", "[firmware]")
{
    FakePlatform p;
    Config c = kitchen();
    c.interval_ms = 10000;
    Device d(c, p);
    const std::uint32_t start = 0xFFFFFFFFU - 25000U;
    std::uint32_t t = start;
    for (int i = 0; i < 6000; ++i, t += 10) {  // 60 s, across the wrap
        p.now = t;
        d.tick(t);
    }
    CHECK(d.stats().samples == 6);
    REQUIRE(p.read_times.size() == 6);
    for (std::size_t i = 1; i < p.read_times.size(); ++i)
        CHECK(p.read_times[i] - p.read_times[i - 1] == (i == 1 ? 9000U : 10000U));
}

TEST_CASE("firmware: readings on request, and a limit", "[firmware]")
{
    FakePlatform p;
    Config c = kitchen();
    c.interval_ms = 0;     // no schedule
    c.min_interval_ms = 0;  // a simulated sensor needs no rest
    c.sample_limit = 5;
    Device d(c, p);
    run(d, p, 0, 5000);
    CHECK(p.read_times.empty());
    for (int i = 0; i < 8; ++i) {
        d.request_sample();
        d.tick(5000);  // several in the same millisecond
    }
    CHECK(d.stats().samples == 5);
    CHECK(p.payloads("dht11/kitchen/data").size() == 5);

    FakePlatform q;
    Config l = kitchen();
    l.sample_limit = 3;
    Device e(l, q);
    run(e, q, 0, 60000);
    CHECK(q.read_times == std::vector<std::uint32_t>{1000, 10000, 20000});
}

namespace {

// What one episode of the long run saw: the sensor dies for a minute, Home
// Assistant restarts, the sensor comes back.
struct Episode {
    std::size_t status = 0, discovery = 0, data = 0;
    std::vector<std::string> statuses;
};

// Runs a device connected once at uptime 0 for `days`, ticking every second
// on the wrapping 32-bit clock, and plays an episode at each of `points` (ms
// of uptime, 64 bits).
std::vector<Episode> long_run(const std::vector<std::uint64_t> &points)
{
    FakePlatform p;
    Config c = kitchen();
    c.discovery = true;
    c.discovery_jitter_ms = 0;
    c.interval_ms = 10000;
    Device d(c, p);
    std::vector<Episode> seen;
    std::uint64_t t = 0;
    const auto until = [&](std::uint64_t end) {
        for (; t < end; t += 1000) {
            p.now = static_cast<std::uint32_t>(t);
            d.tick(p.now);
        }
        p.logs.clear();
    };
    for (const std::uint64_t at : points) {
        until(at);
        p.published.clear();
        p.answers = false;  // dead for 60 s: six readings fail
        until(at + 60000);
        const char *online = "online";
        d.on_message("homeassistant/status", reinterpret_cast<const std::uint8_t *>(online), 6,
                     static_cast<std::uint32_t>(t));
        p.answers = true;
        until(at + 90000);
        Episode e;
        e.statuses = p.payloads("dht11/kitchen/status");
        e.status = e.statuses.size();
        e.discovery = p.on("homeassistant/sensor/kitchen_temperature/config").size() +
                      p.on("homeassistant/sensor/kitchen_humidity/config").size();
        e.data = p.on("dht11/kitchen/data").size();
        seen.push_back(e);
    }
    CHECK(d.stats().mqtt_connects == 1);  // one connection all along
    return seen;
}

}  // namespace

TEST_CASE("firmware: one connection for 55 days, across 2^31 and 2^32 ms of uptime", "[firmware][uptime]")
{
    const std::uint64_t day = 86400000ULL;
    const std::uint64_t two31 = 1ULL << 31, two32 = 1ULL << 32;
    const std::vector<std::uint64_t> points{20 * day, two31 - 30000, two31 + 3600000, 26 * day,
                                            two32 - 30000, two32 + 3600000, 55 * day};
    const auto seen = long_run(points);
    REQUIRE(seen.size() == points.size());
    for (std::size_t i = 0; i < seen.size(); ++i) {
        INFO("episode at " << points[i] << " ms of uptime");
        std::printf("uptime %llu ms: %zu status (%s%s%s), %zu discovery, %zu data\n",
                    static_cast<unsigned long long>(points[i]), seen[i].status,
                    seen[i].statuses.empty() ? "" : seen[i].statuses.front().c_str(),
                    seen[i].statuses.size() > 1 ? " then " : "",
                    seen[i].statuses.size() > 1 ? seen[i].statuses.back().c_str() : "", seen[i].discovery,
                    seen[i].data);
        CHECK(seen[i].statuses == std::vector<std::string>{"sensor-error", "online"});
        CHECK(seen[i].discovery == 2);
        CHECK(seen[i].data == 3);  // the readings of the 30 s after the sensor came back
    }
}

TEST_CASE("firmware: a reading on request after weeks of none is taken at once", "[firmware][uptime]")
{
    FakePlatform p;
    Config c = kitchen();
    c.interval_ms = 0;  // on request only
    Device d(c, p);
    run(d, p, 0, 5000, 1000);
    // 30 days later the last read is more than 2^31 ms old: it is long rested.
    const std::uint32_t later = 30U * 86400000U;
    d.request_sample();
    p.now = later;
    d.tick(later);
    REQUIRE(p.read_times.size() == 1);
    CHECK(p.read_times[0] == later);
}

TEST_CASE("firmware: the largest configuration's discovery messages fit, sized from the limits", "[firmware]")
{
    // Every name at its longest, every topic character one that JSON escapes.
    const std::string id(limits::kIdMax, 'i');
    const std::string prefix(limits::kPrefixMax, '"');
    const std::string shared(limits::kSharedTopicMax, '\\');
    const std::string discovery_prefix(limits::kPrefixMax, 'h');
    Config c;
    c.sensor_id = id.c_str();
    c.topic_prefix = prefix.c_str();
    c.discovery = true;
    c.discovery_prefix = discovery_prefix.c_str();
    c.payload_rssi = true;
    c.expire_after_s = std::numeric_limits<std::uint32_t>::max();
    c.model = Model::dht22;
    for (const bool with_shared : {true, false}) {
        INFO((with_shared ? "a shared topic" : "the device's own topic"));
        c.shared_data_topic = with_shared ? shared.c_str() : nullptr;
        FakePlatform p;
        Device d(c, p);
        REQUIRE(d.error() == nullptr);
        run(d, p, 0, 100);
        const Field fields[] = {Field::temperature, Field::humidity, Field::rssi};
        for (const Field f : fields) {
            const std::string topic = discovery_prefix + "/sensor/" + id + "_" + field_name(f) + "/config";
            const auto sent = p.on(topic);
            REQUIRE(sent.size() == 1);
            CHECK(topic.size() < Device::kTopicSize);
            const auto o = parse_object(sent[0].payload);
            CHECK(o.at("availability_topic").as_string() == prefix + "/" + id + "/status");
            if (with_shared) {
                // The longest there is: the bound is exact, not a guess.
                CHECK(sent[0].payload.size() == discovery_length_max(f));
                CHECK(o.at("state_topic").as_string() == shared);
            } else {
                CHECK(sent[0].payload.size() < discovery_length_max(f));
            }
        }
        CHECK(p.logs.end() == std::find_if(p.logs.begin(), p.logs.end(), [](const std::string &l) {
                  return l.find("does not fit") != std::string::npos;
              }));
    }
    CHECK(discovery_length_max() > 900);  // what a fixed 900-byte buffer cut off
    CHECK(Device::kDiscoverySize == discovery_length_max() + 1);

    // Control characters would take six bytes each in JSON: refused.
    Config bad = kitchen();
    bad.topic_prefix = "dht\x01";
    CHECK(check_config(bad) != nullptr);
    bad = kitchen();
    bad.shared_data_topic = "a\tb";
    CHECK(check_config(bad) != nullptr);
}

TEST_CASE("firmware: in deep sleep no connection attempt can end past the awake limit", "[firmware]")
{
    Config c = kitchen();
    c.interval_ms = 60000;
    c.deep_sleep = true;
    c.awake_timeout_ms = 20000;
    c.connect_block_ms = 8000;  // the platform's bound on one blocking connect
    FakePlatform p;
    p.broker = false;
    Device d(c, p);
    run(d, p, 0, 20000);
    REQUIRE(p.slept);
    REQUIRE(p.connect_times.size() >= 3);
    for (const std::uint32_t at : p.connect_times)
        CHECK(at + c.connect_block_ms <= c.awake_timeout_ms);

    c.connect_block_ms = 20000;
    CHECK(check_config(c) != nullptr);
}

TEST_CASE("firmware: calibration messages are read strictly", "[firmware][calibration]")
{
    const auto parse = [](const std::string &text, Calibration &c) {
        return parse_calibration(text.data(), text.size(), c);
    };
    Calibration c;
    CHECK(parse(R"({"temperature_offset":-0.5,"humidity_offset":2})", c) == nullptr);
    CHECK(c.temperature == -50);
    CHECK(c.humidity == 200);
    CHECK(parse(R"( { "humidity_offset" : 1.255 } )", c) == nullptr);
    CHECK(c.temperature == 0);  // absent: 0
    CHECK(c.humidity == 126);   // rounded half away from zero
    CHECK(parse(R"({"temperature_offset":-10})", c) == nullptr);
    CHECK(c.temperature == -1000);
    CHECK(parse("", c) == nullptr);  // the retained message deleted
    CHECK(c.temperature == 0);
    CHECK(c.humidity == 0);
    CHECK(parse("{}", c) == nullptr);

    Calibration kept{123, -45};
    for (const char *bad : {R"({"temperature_offset":10.01})", R"({"humidity_offset":-20.5})",
                            R"({"temperature_offset":1e1})", R"({"temperature_offset":"1"})",
                            R"({"temperature_offset":1,"temperature_offset":2})", R"({"offset":1})",
                            R"({"temperature_offset":1} x)", R"({"temperature_offset":1,})", R"([1])", "null",
                            R"({"temperature_offset":.5})", R"({"temperature_offset":1.})", R"({"temperature_offset":-})",
                            R"({"temperature_offset":1)"}) {
        INFO(bad);
        CHECK(parse(bad, kept) != nullptr);
        CHECK(kept.temperature == 123);  // refused whole: nothing changed
        CHECK(kept.humidity == -45);
    }
}

TEST_CASE("firmware: calibration over a retained config topic, applied and reported", "[firmware][calibration]")
{
    FakePlatform p;
    Config c = kitchen();
    c.remote_calibration = true;
    c.interval_ms = 10000;
    Memory memory;
    Device d(c, p, &memory);
    CHECK(std::string(d.config_topic()) == "dht11/kitchen/config");
    run(d, p, 0, 1000);
    CHECK(p.subscribed == std::vector<std::string>{"dht11/kitchen/config"});
    CHECK(p.payloads("dht11/kitchen/data") == std::vector<std::string>{R"({"temperature":24.50,"humidity":65.30})"});

    const auto say = [&](const std::string &text) {
        d.on_message("dht11/kitchen/config", reinterpret_cast<const std::uint8_t *>(text.data()), text.size(), p.now);
    };
    say(R"({"temperature_offset":-0.5,"humidity_offset":2})");
    run(d, p, 1010, 11000);
    CHECK(p.payloads("dht11/kitchen/data").back() ==
          R"({"temperature":24.00,"humidity":67.30,"temperature_offset":-0.50,"humidity_offset":2.00})");

    say(R"({"humidity_offset":"a lot"})");  // refused: the offsets stay
    CHECK(d.stats().calibrations_refused == 1);
    p.value = {24.5F, 99.0F};
    say(R"({"humidity_offset":5})");  // humidity stays within 100 %
    run(d, p, 11010, 21000);
    CHECK(p.payloads("dht11/kitchen/data").back() ==
          R"({"temperature":24.50,"humidity":100.00,"temperature_offset":0.00,"humidity_offset":5.00})");

    say("");  // deleted: the seed's payload again
    run(d, p, 21010, 31000);
    CHECK(p.payloads("dht11/kitchen/data").back() == R"({"temperature":24.50,"humidity":99.00})");

    FakePlatform q;
    Device off(kitchen(), q);  // not asked for: not subscribed, ignored
    run(off, q, 0, 100);
    CHECK(q.subscribed.empty());
    const std::string text = R"({"temperature_offset":3})";
    off.on_message("dht11/kitchen/config", reinterpret_cast<const std::uint8_t *>(text.data()), text.size(), 100);
    CHECK(off.calibration().temperature == 0);
}

TEST_CASE("firmware: the calibration survives deep sleep, and the longest payload fits", "[firmware][calibration]")
{
    const std::string id(limits::kIdMax, 'i');
    Config c;
    c.sensor_id = id.c_str();
    c.model = Model::dht22;
    c.interval_ms = 60000;
    c.deep_sleep = true;
    c.remote_calibration = true;
    c.payload_sensor = c.payload_time = c.payload_rssi = true;
    Memory memory;
    {
        FakePlatform p;
        Device d(c, p, &memory);
        run(d, p, 0, 100);
        const std::string text = R"({"temperature_offset":-10,"humidity_offset":-20})";
        d.on_message(d.config_topic(), reinterpret_cast<const std::uint8_t *>(text.data()), text.size(), 100);
        run(d, p, 110, 5000);
        REQUIRE(p.slept);
    }
    FakePlatform p;
    p.value = {-40.0F, 100.0F};
    p.unix_ms = 253402300799999ULL;  // 9999-12-31T23:59:59.999Z
    p.dbm = -2147483647 - 1;
    Device d(c, p, &memory);  // the next wake-up reads before any message comes
    run(d, p, 0, 5000);
    const auto data = p.payloads("dht11/" + id + "/data");
    REQUIRE(data.size() == 1);
    CHECK(data[0] == R"({"temperature":-50.00,"humidity":80.00,"sensor":")" + id +
                         R"(","time":"9999-12-31T23:59:59.999Z","rssi":-2147483648,"temperature_offset":-10.00,)"
                         R"("humidity_offset":-20.00})");
    CHECK(data[0].size() < Device::kPayloadSize);
}

TEST_CASE("firmware: update commands are read strictly", "[firmware][ota]")
{
    const std::string md5 = "0123456789ABCDEF0123456789abcdef";
    const auto parse = [](const std::string &text, OtaRequest &r) {
        return parse_ota_command(text.data(), text.size(), r);
    };
    OtaRequest r;
    REQUIRE(parse(R"({"ota":"https://files.example/dht-1.3.0.bin","version":"1.3.0","md5":")" + md5 + R"("})", r) ==
            nullptr);
    CHECK(std::string(r.url) == "https://files.example/dht-1.3.0.bin");
    CHECK(std::string(r.version) == "1.3.0");
    CHECK(std::string(r.md5) == "0123456789abcdef0123456789abcdef");  // lower case

    const std::string long_url = "https://h/" + std::string(191, 'a');  // 201 characters
    for (const std::string &bad : std::vector<std::string>{
             R"({"ota":"http://files.example/a.bin","version":"1.3.0","md5":")" + md5 + R"("})",
          R"({"ota":"https:///a.bin","version":"1.3.0","md5":")" + md5 + R"("})",
          R"({"ota":"https://files.example/a b.bin","version":"1.3.0","md5":")" + md5 + R"("})",
          R"({"ota":")" + long_url + R"(","version":"1.3.0","md5":")" + md5 + R"("})",
          R"({"ota":"https://files.example/a.bin","version":"1.3.0","md5":")" + md5 + R"(0"})",
          R"({"ota":"https://files.example/a.bin","version":"1.3.0","md5":"xyz"})",
          R"({"ota":"https://files.example/a.bin","version":"1 3","md5":")" + md5 + R"("})",
          R"({"ota":"https://files.example/a.bin","version":"1.3.0"})",
          R"({"ota":"https://files.example/a.bin","version":"1.3.0","md5":")" + md5 + R"(","x":"y"})",
          R"({"ota":"https://files.example/a.bin","version":"1.3.0","md5":")" + md5 + R"("} x)", std::string("reboot"),
          std::string()}) {
        INFO(bad);
        OtaRequest kept;
        CHECK(parse(bad, kept) != nullptr);
        CHECK(kept.url[0] == '\0');
    }
}

TEST_CASE("firmware: an update command is carried out between readings, and reported", "[firmware][ota]")
{
    FakePlatform p;
    Config c = kitchen();
    c.firmware_version = "1.2.0";
    c.interval_ms = 10000;
    Device d(c, p);
    run(d, p, 0, 500);
    CHECK(p.subscribed == std::vector<std::string>{"dht11/kitchen/command"});
    CHECK(p.confirms == 1);  // this image reached the broker
    const auto say = [&](const std::string &text) {
        d.on_message("dht11/kitchen/command", reinterpret_cast<const std::uint8_t *>(text.data()), text.size(),
                     p.now);
    };
    const std::string md5 = "0123456789abcdef0123456789abcdef";
    say(R"({"ota":"https://files.example/dht.bin","version":"1.2.0","md5":")" + md5 + R"("})");
    say(R"({"ota":"ftp://files.example/dht.bin","version":"1.3.0","md5":")" + md5 + R"("})");
    run(d, p, 510, 600);
    CHECK(p.updates.empty());
    CHECK(p.payloads("dht11/kitchen/ota") ==
          std::vector<std::string>{"already running 1.2.0",
                                   "refused: ota must be an https:// URL of at most 200 characters"});

    p.answers = false;  // a reading under way (reads at 1, 2 and 3 s) holds the update back
    run(d, p, 610, 990);
    p.now = 1000;
    say(R"({"ota":"https://files.example/dht.bin","version":"1.3.0","md5":")" + md5 + R"("})");
    run(d, p, 1000, 2990);
    CHECK(p.updates.empty());
    run(d, p, 3000, 4000);
    REQUIRE(p.updates.size() == 1);
    CHECK(p.update_times[0] == 3000);  // once the third read was done
    CHECK(std::string(p.updates[0].url) == "https://files.example/dht.bin");
    CHECK(p.payloads("dht11/kitchen/ota").back() == "failed: the server said 404");
    run(d, p, 4010, 30000);
    CHECK(p.updates.size() == 1);  // not again by itself

    p.mqtt = false;  // a reconnection is no new image: confirmed once
    run(d, p, 30010, 40000);
    CHECK(p.confirms == 1);

    Config sleepy = c;
    sleepy.deep_sleep = true;
    CHECK(check_config(sleepy) != nullptr);
    FakePlatform q;
    Device off(kitchen(), q);  // no version: no updates, no subscription
    run(off, q, 0, 100);
    CHECK(q.subscribed.empty());
}

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(const std::string &text) { return Bytes(text.begin(), text.end()); }

// "IMPROV", version 1, type, length, data, and the sum of all before as the checksum.
Bytes improv_packet(std::uint8_t type, const Bytes &data)
{
    Bytes p = bytes_of("IMPROV");
    p.push_back(1);
    p.push_back(type);
    p.push_back(static_cast<std::uint8_t>(data.size()));
    p.insert(p.end(), data.begin(), data.end());
    unsigned sum = 0;
    for (const std::uint8_t b : p)
        sum += b;
    p.push_back(static_cast<std::uint8_t>(sum & 0xff));
    return p;
}

Bytes wifi_rpc(const std::string &ssid, const std::string &password)
{
    Bytes d{1, static_cast<std::uint8_t>(2 + ssid.size() + password.size()), static_cast<std::uint8_t>(ssid.size())};
    d.insert(d.end(), ssid.begin(), ssid.end());
    d.push_back(static_cast<std::uint8_t>(password.size()));
    d.insert(d.end(), password.begin(), password.end());
    return d;
}

// Feeds `in` to the parser a byte a millisecond from `start`; the packets found and the other results.
struct Fed {
    std::vector<Bytes> packets;
    std::vector<improv::Parser::Result> failures;
};
Fed feed(improv::Parser &parser, const Bytes &in, std::uint32_t start = 0)
{
    Fed out;
    std::uint32_t now = start;
    for (const std::uint8_t b : in) {
        const auto r = parser.feed(b, now++);
        if (r == improv::Parser::Result::packet) {
            const improv::Packet p = parser.packet();
            Bytes got{static_cast<std::uint8_t>(p.type)};
            got.insert(got.end(), p.data, p.data + p.length);
            out.packets.push_back(got);
        } else if (r != improv::Parser::Result::none) {
            out.failures.push_back(r);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("firmware: Improv packets, byte for byte", "[firmware][improv]")
{
    // The specification's example: SSID MyWirelessAP, password mysecurepassword.
    const Bytes rpc = wifi_rpc("MyWirelessAP", "mysecurepassword");
    REQUIRE(rpc.size() == 32);
    CHECK(rpc[1] == 0x1E);
    const Bytes packet = improv_packet(3, rpc);
    CHECK(packet.size() == 42);
    CHECK(packet.back() == 0xC1);  // worked out by hand
    CHECK(improv::checksum(packet.data(), packet.size() - 1) == 0xC1);

    improv::Parser parser;
    const Fed fed = feed(parser, packet);
    REQUIRE(fed.packets.size() == 1);
    CHECK(fed.failures.empty());
    improv::Rpc decoded{};
    const improv::Packet p = parser.packet();
    REQUIRE(improv::decode_rpc(p, decoded) == improv::Error::none);
    CHECK(decoded.command == improv::Command::wifi_settings);
    Settings s;
    REQUIRE(improv::decode_wifi(decoded, s) == improv::Error::none);
    CHECK(std::string(s.ssid) == "MyWirelessAP");
    CHECK(std::string(s.password) == "mysecurepassword");

    // What the device sends: states, errors, results.
    std::uint8_t out[improv::kPacketMax];
    std::size_t n = improv::encode_state(improv::State::provisioned, out, sizeof out);
    CHECK(Bytes(out, out + n) == (Bytes{'I', 'M', 'P', 'R', 'O', 'V', 1, 1, 1, 4, 0xE4}));
    n = improv::encode_error(improv::Error::invalid_rpc, out, sizeof out);
    CHECK(Bytes(out, out + n) == (Bytes{'I', 'M', 'P', 'R', 'O', 'V', 1, 2, 1, 1, 0xE2}));
    const char *info[] = {"dht-sensor", "1.0.0", "ESP32", "kitchen"};
    n = improv::encode_result(improv::Command::device_info, info, 4, out, sizeof out);
    Bytes result{3, 0};
    for (const char *text : info) {
        result.push_back(static_cast<std::uint8_t>(std::strlen(text)));
        result.insert(result.end(), text, text + std::strlen(text));
    }
    result[1] = static_cast<std::uint8_t>(result.size() - 2);
    CHECK(Bytes(out, out + n) == improv_packet(4, result));
    n = improv::encode_result(improv::Command::wifi_settings, nullptr, 0, out, sizeof out);
    CHECK(Bytes(out, out + n) == improv_packet(4, Bytes{1, 0}));
    // Too small a buffer: nothing written.
    CHECK(improv::encode_state(improv::State::ready, out, 10) == 0);
    CHECK(improv::encode_result(improv::Command::device_info, info, 4, out, 20) == 0);
    const std::string long_string(250, 'x');
    const char *too_long[] = {long_string.c_str(), "12345"};
    CHECK(improv::encode_result(improv::Command::device_info, too_long, 2, out, sizeof out) == 0);
}

TEST_CASE("firmware: Improv packets found in a noisy stream", "[firmware][improv]")
{
    improv::Parser parser;
    const Bytes good = improv_packet(3, wifi_rpc("net", "secret12"));

    SECTION("a bad checksum drops the packet; the next one is read")
    {
        Bytes bad = good;
        bad.back() ^= 0x01;
        Bytes stream = bad;
        stream.insert(stream.end(), good.begin(), good.end());
        const Fed fed = feed(parser, stream);
        CHECK(fed.failures == std::vector<improv::Parser::Result>{improv::Parser::Result::bad_checksum});
        CHECK(fed.packets.size() == 1);
    }
    SECTION("garbage, log lines and false starts between packets are skipped")
    {
        Bytes stream = bytes_of("wifi: connected\r\nIMPROIIMPIMPRO");
        stream.insert(stream.end(), good.begin(), good.end());
        const Bytes log = bytes_of("\nmqtt: connected as dht-sensor\n\xff\x00I");
        stream.insert(stream.end(), log.begin(), log.end());
        stream.insert(stream.end(), good.begin(), good.end());
        const Fed fed = feed(parser, stream);
        CHECK(fed.failures.empty());
        REQUIRE(fed.packets.size() == 2);
        CHECK(fed.packets[0] == fed.packets[1]);
        CHECK(fed.packets[0].size() == std::size_t{1} + good[8]);
    }
    SECTION("another version is refused")
    {
        Bytes v2 = good;
        v2[6] = 2;
        const Fed fed = feed(parser, v2);
        CHECK(fed.packets.empty());
        CHECK(fed.failures == std::vector<improv::Parser::Result>{improv::Parser::Result::bad_version});
    }
    SECTION("a packet broken off is dropped after a pause, and the next one is read")
    {
        const Bytes half(good.begin(), good.begin() + 20);
        CHECK(feed(parser, half, 0).packets.empty());
        CHECK(parser.inside());
        const Fed fed = feed(parser, good, 20 + improv::Parser::kGapMs + 1);
        CHECK(fed.failures.empty());
        CHECK(fed.packets.size() == 1);
    }
    SECTION("a packet broken off without a pause costs the next one, not the one after")
    {
        const Bytes half(good.begin(), good.begin() + 20);
        Bytes stream = half;
        for (int i = 0; i < 3; ++i)
            stream.insert(stream.end(), good.begin(), good.end());
        const Fed fed = feed(parser, stream);
        CHECK(fed.failures.size() == 1);
        CHECK(fed.packets.size() >= 1);
    }
    SECTION("the longest packet, 255 bytes of data")
    {
        Bytes data(255, 'a');
        data[0] = 2;
        data[1] = 253;
        const Fed fed = feed(parser, improv_packet(3, data));
        REQUIRE(fed.packets.size() == 1);
        improv::Rpc rpc{};
        CHECK(improv::decode_rpc(parser.packet(), rpc) == improv::Error::none);
        CHECK(rpc.length == 253);
    }
}

TEST_CASE("firmware: Improv commands checked before use", "[firmware][improv]")
{
    improv::Parser parser;
    const auto decode = [&](const Bytes &data, Settings &s) {
        const Fed fed = feed(parser, improv_packet(3, data));
        REQUIRE(fed.packets.size() == 1);
        improv::Rpc rpc{};
        const improv::Error e = improv::decode_rpc(parser.packet(), rpc);
        if (e != improv::Error::none || rpc.command != improv::Command::wifi_settings)
            return e;
        return improv::decode_wifi(rpc, s);
    };
    Settings s;
    std::strcpy(s.ssid, "old");
    std::strcpy(s.password, "oldpassword");

    CHECK(decode(wifi_rpc(std::string(32, 's'), std::string(63, 'p')), s) == improv::Error::none);
    CHECK(std::strlen(s.ssid) == 32);
    CHECK(std::strlen(s.password) == 63);
    std::strcpy(s.ssid, "old");
    std::strcpy(s.password, "oldpassword");
    CHECK(decode(wifi_rpc("open-network", ""), s) == improv::Error::none);
    CHECK(std::string(s.password).empty());
    std::strcpy(s.ssid, "old");
    std::strcpy(s.password, "oldpassword");

    // Refused whole, the settings unchanged.
    CHECK(decode(wifi_rpc(std::string(33, 's'), "password"), s) == improv::Error::invalid_rpc);
    CHECK(decode(wifi_rpc("net", std::string(64, 'p')), s) == improv::Error::invalid_rpc);
    CHECK(decode(wifi_rpc("", "password"), s) == improv::Error::invalid_rpc);
    CHECK(decode(wifi_rpc(std::string("a\0b", 3), "password"), s) == improv::Error::invalid_rpc);
    Bytes lying = wifi_rpc("net", "password");
    lying[2] = 40;  // an SSID longer than the data
    CHECK(decode(lying, s) == improv::Error::invalid_rpc);
    lying = wifi_rpc("net", "password");
    lying[1] = 20;  // an RPC length that is not the packet's
    CHECK(decode(lying, s) == improv::Error::invalid_rpc);
    lying = wifi_rpc("net", "password");
    lying.push_back(0);  // a byte after the password
    ++lying[1];
    CHECK(decode(lying, s) == improv::Error::invalid_rpc);
    CHECK(decode(Bytes{1}, s) == improv::Error::invalid_rpc);
    CHECK(std::string(s.ssid) == "old");
    CHECK(std::string(s.password) == "oldpassword");

    CHECK(decode(Bytes{9, 0}, s) == improv::Error::unknown_command);
    CHECK(decode(Bytes{0, 0}, s) == improv::Error::unknown_command);
    CHECK(decode(Bytes{2, 0}, s) == improv::Error::none);
    CHECK(decode(Bytes{3, 0}, s) == improv::Error::none);
    // A packet the device sends, coming back (an echo): not a command.
    const Fed fed = feed(parser, improv_packet(1, Bytes{2}));
    REQUIRE(fed.packets.size() == 1);
    improv::Rpc rpc{};
    CHECK(improv::decode_rpc(parser.packet(), rpc) == improv::Error::invalid_rpc);
}

TEST_CASE("firmware: the broker, login and name from a JSON line", "[firmware][improv]")
{
    Settings s;
    std::strcpy(s.ssid, "net");
    std::strcpy(s.host, "192.168.1.100");
    const auto apply = [&](const std::string &line) { return apply_settings_line(line.data(), line.size(), s); };
    CHECK(check_settings(s) == nullptr);

    CHECK(apply(R"({"broker":"mqtt.example","port":8883,"user":"sensor","password":"pw","sensor":"kitchen"})") ==
          nullptr);
    CHECK(std::string(s.host) == "mqtt.example");
    CHECK(s.port == 8883);
    CHECK(std::string(s.user) == "sensor");
    CHECK(std::string(s.mqtt_password) == "pw");
    CHECK(std::string(s.sensor) == "kitchen");
    CHECK(std::string(s.ssid) == "net");  // what the line leaves out stays
    CHECK(apply(R"( { "port" : 1 } )") == nullptr);
    CHECK(s.port == 1);
    CHECK(apply(R"({"port":65535})") == nullptr);
    CHECK(s.port == 65535);
    CHECK(apply(R"({"user":"","password":""})") == nullptr);
    CHECK(std::string(s.user).empty());
    CHECK(apply("{\"broker\":\"" + std::string(253, 'h') + "\"}") == nullptr);
    CHECK(apply("{\"sensor\":\"" + std::string(32, 'n') + "\"}") == nullptr);
    CHECK(apply(R"({"sensor":"kitchen","broker":"mqtt.example"})") == nullptr);

    // Refused whole: nothing of the line is kept.
    const Settings before = s;
    for (const std::string &bad : std::vector<std::string>{
         R"({"port":0})", R"({"port":65536})", R"({"port":18.83})", R"({"port":"1883"})", R"({"port":-1})",
          R"({"broker":""})", R"({"broker":"has space"})", "{\"broker\":\"" + std::string(254, 'h') + "\"}",
          R"({"sensor":"a/b"})", R"({"sensor":""})", "{\"sensor\":\"" + std::string(33, 'n') + "\"}",
          "{\"user\":\"" + std::string(65, 'u') + "\"}", R"({"password":"a\"b"})", R"({"ssid":"net"})",
          R"({"broker":"ok.example","port":0})", R"({"port":1883} {})", R"({"port":1883)", "port=1883", ""}) {
        INFO(bad);
        CHECK(apply(bad) != nullptr);
        CHECK(std::memcmp(&s, &before, sizeof s) == 0);
    }
    Settings empty_ssid;
    std::strcpy(empty_ssid.host, "h");
    CHECK(check_settings(empty_ssid) != nullptr);
}
