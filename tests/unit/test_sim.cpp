// dht-sensor-sim's simulated sensors: each profile does what its name says,
// the same seed gives the same readings, and the firmware's core sees flaky
// sensors fail the way real ones do.
#include "environment.hpp"
#include "fleet.hpp"

#include "dht_core.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace dht::sim;
using dht::firmware::Model;
using dht::firmware::Reading;

namespace {

std::vector<Reading> readings(Profile profile, std::uint64_t seed, std::uint32_t horizon, std::size_t n,
                              Model model = Model::dht11)
{
    Environment e(profile, model, seed, horizon);
    std::vector<Reading> out;
    for (std::size_t i = 0; i < n; ++i) {
        Reading r;
        if (e.read(r))
            out.push_back(r);
    }
    return out;
}

float min_temperature(const std::vector<Reading> &v)
{
    return std::min_element(v.begin(), v.end(), [](auto a, auto b) { return a.temperature < b.temperature; })
        ->temperature;
}

float max_humidity(const std::vector<Reading> &v)
{
    return std::max_element(v.begin(), v.end(), [](auto a, auto b) { return a.humidity < b.humidity; })->humidity;
}

}  // namespace

TEST_CASE("sim: profile names", "[sim]")
{
    for (const char *name : {"normal", "cold", "freeze", "humid", "flaky", "dead"}) {
        const auto p = parse_profile(name);
        REQUIRE(p);
        CHECK(std::string(profile_name(*p)) == name);
    }
    CHECK_FALSE(parse_profile("warm"));
}

TEST_CASE("sim: the random numbers are ours, and reproducible", "[sim]")
{
    Random a(42), b(42), c(43);
    double sum = 0, squares = 0;
    bool differ = false;
    const int n = 100000;
    for (int i = 0; i < n; ++i) {
        const double u = a.uniform();
        REQUIRE(u == b.uniform());
        differ = differ || u != c.uniform();
        REQUIRE(u >= 0);
        REQUIRE(u < 1);
        const double g = a.normal();
        REQUIRE(g == b.normal());
        sum += g;
        squares += g * g;
    }
    CHECK(differ);
    CHECK(std::abs(sum / n) < 0.02);
    CHECK(std::abs(squares / n - 1) < 0.02);
    // Nearby seeds and sensors still get unrelated streams.
    CHECK(derive_seed(1, 0, 1) != derive_seed(1, 1, 1));
    CHECK(derive_seed(1, 0, 1) != derive_seed(1, 0, 2));
    CHECK(derive_seed(1, 0, 1) == derive_seed(1, 0, 1));
}

TEST_CASE("sim: a stuck sensor repeats its first reading, which is a room's", "[sim]")
{
    const auto v = readings(Profile::stuck, 3, 0, 50);
    REQUIRE(v.size() == 50);
    CHECK(v[0].temperature > 15);
    CHECK(v[0].temperature < 30);
    for (const auto &r : v) {
        CHECK(r.temperature == v[0].temperature);
        CHECK(r.humidity == v[0].humidity);
    }
    CHECK(readings(Profile::stuck, 4, 0, 2)[0].temperature != v[0].temperature);
}

TEST_CASE("sim: the same seed, the same readings", "[sim]")
{
    for (const auto p : {Profile::normal, Profile::cold, Profile::freeze, Profile::humid, Profile::flaky}) {
        const auto one = readings(p, 7, 50, 50);
        const auto two = readings(p, 7, 50, 50);
        const auto other = readings(p, 8, 50, 50);
        REQUIRE(one.size() == two.size());
        bool differs = one.size() != other.size();
        for (std::size_t i = 0; i < one.size(); ++i) {
            CHECK(one[i].temperature == two[i].temperature);
            CHECK(one[i].humidity == two[i].humidity);
            if (i < other.size())
                differs = differs || one[i].temperature != other[i].temperature;
        }
        CHECK(differs);
    }
}

TEST_CASE("sim: a cold snap crosses 5 and 0 degrees", "[sim]")
{
    for (const std::uint32_t horizon : {3U, 10U, 20U, 500U}) {
        for (std::uint64_t seed = 0; seed < 20; ++seed) {
            const auto v = readings(Profile::cold, seed, horizon, horizon);
            REQUIRE(v.size() == horizon);
            CHECK(v.front().temperature > 5);
            CHECK(v.back().temperature < 0);
            CHECK(min_temperature(v) > -4);
        }
    }
    // Without an end: down below 0 and back above 5, every 120 readings.
    const auto v = readings(Profile::cold, 1, 0, 240);
    CHECK(v[60].temperature < 0);
    CHECK(v[119].temperature > 5);
    CHECK(v[180].temperature < 0);
}

TEST_CASE("sim: freeze stays below zero, humid goes past 90 %", "[sim]")
{
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
        const auto f = readings(Profile::freeze, seed, 0, 500);
        const auto warmest =
            std::max_element(f.begin(), f.end(), [](auto a, auto b) { return a.temperature < b.temperature; });
        CHECK(warmest->temperature < 0);
        CHECK(min_temperature(f) > -20);  // a DHT11 still reads it

        const auto h = readings(Profile::humid, seed, 30, 30, Model::dht22);
        CHECK(h.front().humidity < 90);
        CHECK(h.back().humidity > 90);
        CHECK(max_humidity(h) <= 100);
    }
}

TEST_CASE("sim: readings have the sensor's resolution and stay in its range", "[sim]")
{
    for (const auto model : {Model::dht11, Model::dht22}) {
        for (const auto p : {Profile::normal, Profile::cold, Profile::freeze, Profile::humid}) {
            for (const auto &r : readings(p, 3, 100, 100, model)) {
                CHECK(dht::firmware::in_range(r, model));
                CHECK(std::abs(r.temperature * 10 - std::round(r.temperature * 10)) < 1e-3F);
                const float step = model == Model::dht22 ? 10.0F : 1.0F;
                CHECK(std::abs(r.humidity * step - std::round(r.humidity * step)) < 1e-3F);
            }
        }
    }
    const auto n = readings(Profile::normal, 5, 0, 1000);
    for (const auto &r : n) {
        CHECK(r.temperature > 15);
        CHECK(r.temperature < 29);
        CHECK(r.humidity > 30);
        CHECK(r.humidity < 70);
    }
}

TEST_CASE("sim: a dead sensor dies within its run", "[sim]")
{
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
        const Environment e(Profile::dead, Model::dht11, seed, 20);
        CHECK(e.death_after() >= 1);
        CHECK(e.death_after() <= 19);
        const Environment forever(Profile::dead, Model::dht11, seed, 0);
        CHECK(forever.death_after() >= 1);
        CHECK(forever.death_after() <= 9);
    }
    CHECK(Environment(Profile::dead, Model::dht11, 1, 1).death_after() == 1);
    CHECK(Environment(Profile::normal, Model::dht11, 1, 20).death_after() == 0);
}

namespace {

// The core on a flaky simulated sensor, with a broker always there.
class FlakyBoard : public dht::firmware::Platform {
public:
    explicit FlakyBoard(std::uint64_t seed) : environment_(Profile::flaky, Model::dht22, seed, 0) {}
    std::vector<std::string> statuses;

    void wifi_begin() noexcept override {}
    bool wifi_connected() noexcept override { return true; }
    bool mqtt_connect(const dht::firmware::MqttConnect &) noexcept override { return true; }
    bool mqtt_connected() noexcept override { return true; }
    bool mqtt_publish(const char *topic, const char *payload, std::uint8_t, bool) noexcept override
    {
        if (std::string(topic).ends_with("/status"))
            statuses.emplace_back(payload);
        return true;
    }
    bool mqtt_subscribe(const char *) noexcept override { return true; }
    bool read_sensor(Reading &out) noexcept override { return environment_.read(out); }
    bool unix_time_ms(std::uint64_t &) noexcept override { return false; }
    bool rssi(int &) noexcept override { return false; }
    std::uint32_t random() noexcept override { return 0; }
    void deep_sleep(std::uint32_t) noexcept override {}
    void log(dht::firmware::LogLevel, const char *) noexcept override {}

private:
    Environment environment_;
};

}  // namespace

TEST_CASE("sim: a flaky sensor fails reads, readings, and sometimes the status", "[sim]")
{
    FlakyBoard board(11);
    dht::firmware::Config c;
    c.sensor_id = "flaky";
    c.model = Model::dht22;
    c.interval_ms = 10000;
    dht::firmware::Device d(c, board);
    for (std::uint32_t t = 0; t < 2000U * 10000U; t += 500)
        d.tick(t);
    const auto &s = d.stats();
    CHECK(s.samples == 2000);
    CHECK(s.failed_reads > 200);          // lost reads are common
    CHECK(s.range_errors > 20);           // some are garbage that passed the checksum
    CHECK(s.failed_samples > 20);         // and spells where every retry fails
    CHECK(s.failed_samples < s.samples / 4);
    CHECK(s.published == s.samples - s.failed_samples);
    // Long spells put the status in error, and the sensor comes back.
    CHECK(std::count(board.statuses.begin(), board.statuses.end(), "sensor-error") >= 1);
    CHECK(board.statuses.back() == "online");
}

TEST_CASE("sim: each sensor's configuration for the core", "[sim]")
{
    FleetOptions o;
    o.ids = {"kitchen", "sim-2"};
    o.profiles = {Profile::normal};
    o.interval_ms = 2000;
    o.count = 5;
    o.shared_topic = "dht11/sensor/data";
    o.with_time = true;
    const auto c = device_config(o, 1);
    CHECK(std::string(c.sensor_id) == "sim-2");
    CHECK(c.interval_ms == 2000);
    CHECK(c.sample_limit == 5);
    CHECK(std::string(c.shared_data_topic) == "dht11/sensor/data");
    CHECK(c.payload_time);
    CHECK(dht::firmware::check_config(c) == nullptr);

    o.rate = 1000;  // on demand, with no rest between reads
    const auto r = device_config(o, 0);
    CHECK(r.interval_ms == 0);
    REQUIRE(r.min_interval_ms);
    CHECK(*r.min_interval_ms == 0);
}
