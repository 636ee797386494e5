// dht-sensor-sim: the firmware's core on a PC, publishing like a fleet of real
// DHT11/DHT22 devices: readings, birth and last will, Home Assistant
// discovery, with chosen profiles (a cold snap, a freezer, a damp room, a
// flaky sensor, a device that dies), reproducible from a seed.
#include "environment.hpp"
#include "fleet.hpp"

#include "dht/cli.hpp"
#include "dht/main.hpp"
#include "dht/mqtt.hpp"
#include "dht/net.hpp"
#include "dht/signals.hpp"
#include "dht/time.hpp"

#include <sys/resource.h>

#include <cstdio>
#include <random>
#include <set>

namespace {

using namespace dht;
using namespace dht::sim;

// Each sensor is one MQTT connection: a thread and three file descriptors
// (its socket and libmosquitto's wake-up pair), which must all be below 1024:
// libmosquitto waits on them with select().
constexpr std::size_t kMaxSensors = 300;

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    std::size_t sensors = 0;
    std::vector<std::string> names;
    std::string model = "dht11";
    Duration interval = std::chrono::seconds(10);
    std::uint32_t count = 0;
    std::vector<std::string> profiles{"normal"};
    std::optional<std::uint64_t> seed;
    double rate = 0;
    std::string prefix = "dht11";
    std::vector<std::string> with;
    bool discovery = false;
    std::string discovery_prefix = "homeassistant";
};

void setup(CLI::App &app, Options &o)
{
    app.description("Publish readings like a fleet of DHT11/DHT22 devices running the dht-tools firmware:\n"
                    "{\"temperature\":24.50,\"humidity\":65.30} on PREFIX/ID/data, online/offline (last will,\n"
                    "retained) on PREFIX/ID/status. Each sensor is its own MQTT connection.\n"
                    "  e.g. dht-sensor-sim --sensors 3 --profile normal,cold,dead --count 20 --interval 1s");
    add_mqtt_options(app, o.mqtt, mqtt_publish);
    add_common_options(app, o.common, false);
    // The shared --publish flag, as the simulator uses it.
    app.get_option("--publish")
        ->description("Publish every sensor's readings on this one TOPIC (the original sketch's dht11/sensor/data), "
                      "each with its \"sensor\" key");
    app.get_option("--publish-qos")->description("QoS of the readings (default: 1; the firmware's is 0)");
    app.get_option("--id")->description("Client id, with a single sensor (default: dht-ID, as the firmware's)");
    app.get_option("--id-prefix")->description("Client ids: PREFIX followed by each sensor's id");
    // Each sensor's last will is its status topic: these are refused, and not offered.
    for (const char *will : {"--will-topic", "--will-payload", "--will-qos", "--will-retain"})
        app.get_option(will)->group("");

    const std::string g = "Simulation";
    app.add_option("--sensors", o.sensors, "How many sensors (default: 1, or as many as --names)")
        ->check(CLI::Range(std::size_t{1}, kMaxSensors))
        ->group(g);
    app.add_option("--names", o.names, "The sensors' ids, in order; the others are sim-N (default: sim-1, sim-2 ...)")
        ->delimiter(',')
        ->type_name("ID,...")
        ->group(g);
    app.add_option("--model", o.model, "dht11 or dht22 (default: dht11)")
        ->check(CLI::IsMember({"dht11", "dht22"}))
        ->group(g);
    auto *interval = add_duration_option(app, "--interval", o.interval,
                                         "Time between two readings of a sensor, at least 1s for a DHT11 and 2s "
                                         "for a DHT22, at most 24h (default: 10s)",
                                         {Duration{1}, std::chrono::hours(24)})
                         ->group(g);
    app.add_option("--count", o.count, "Stop after N readings per sensor, failed ones included (default: no end)")
        ->type_name("N")
        ->group(g);
    app.add_option("--profile", o.profiles,
                   "normal, cold (10 to -3 degrees), freeze (below 0), humid (to 95 %), flaky (failed reads), "
                   "stuck (one value for ever) or dead (dies, leaving its last will); a list is given to the "
                   "sensors in turn (default: normal)")
        ->delimiter(',')
        ->check(CLI::IsMember({"normal", "cold", "freeze", "humid", "flaky", "dead", "stuck"}))
        ->type_name("PROFILE,...")
        ->group(g);
    app.add_option("--seed", o.seed, "Seed of the simulated values: the same seed, the same readings (default: random)")
        ->type_name("N")
        ->group(g);
    app.add_option("--rate", o.rate,
                   "Load test: R readings a second from all sensors together, on demand, without the sensors' "
                   "minimum interval")
        ->check(CLI::PositiveNumber)
        ->type_name("R")
        ->excludes(interval)
        ->group(g);
    app.add_option("--prefix", o.prefix, "Topics PREFIX/ID/data and PREFIX/ID/status (default: dht11)")
        ->type_name("TOPIC")
        ->group(g);
    app.add_option("--with", o.with,
                   "Add keys to the payload: sensor (the id), time (RFC 3339, UTC), rssi (a simulated dBm)")
        ->delimiter(',')
        ->check(CLI::IsMember({"sensor", "time", "rssi"}))
        ->type_name("KEY,...")
        ->group(g);
    app.add_flag("--discovery", o.discovery,
                 "Publish Home Assistant discovery configs (retained) on each connection, and again when "
                 "homeassistant/status says online")
        ->group(g);
    app.add_option("--discovery-prefix", o.discovery_prefix, "Home Assistant's discovery prefix (default: homeassistant)")
        ->type_name("TOPIC")
        ->group(g);
}

FleetOptions resolve(Options &o)
{
    FleetOptions f;
    // What the user gave, before finish_mqtt_options() fills in its own.
    const std::string client_id = o.mqtt.client_id;
    if (!o.mqtt.will_topic.empty())
        usage_error("--will-topic: each sensor's last will is its own status topic, PREFIX/ID/status");
    finish_mqtt_options(o.mqtt, "dht-sensor-sim");
    f.mqtt = o.mqtt;

    const std::size_t n = o.sensors != 0 ? o.sensors : std::max<std::size_t>(1, o.names.size());
    if (o.names.size() > n)
        usage_error(cat("--names gives ", o.names.size(), " ids for ", n, n == 1 ? " sensor" : " sensors"));
    std::set<std::string> seen;
    for (std::size_t i = 0; i < n; ++i) {
        f.ids.push_back(i < o.names.size() ? o.names[i] : cat("sim-", i + 1));
        if (!seen.insert(f.ids.back()).second)
            usage_error(cat("--names: '", f.ids.back(), "' twice"));
    }
    if (!client_id.empty() && n > 1)
        usage_error("-i: each sensor has its own client id; give a prefix with -I instead");
    if (!client_id.empty())
        f.client_ids.push_back(client_id);
    else if (!o.mqtt.id_prefix.empty())
        for (const auto &id : f.ids)
            f.client_ids.push_back(o.mqtt.id_prefix + id);

    for (const auto &p : o.profiles)
        f.profiles.push_back(*parse_profile(p));
    f.model = o.model == "dht22" ? firmware::Model::dht22 : firmware::Model::dht11;
    const auto min = std::chrono::milliseconds(firmware::min_interval_ms(f.model));
    if (o.interval < min)
        usage_error(cat("--interval: a ", firmware::model_name(f.model), " cannot be read more often than every ",
                        format_duration(min), " (--rate runs a load test without that limit)"));
    f.interval_ms = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(o.interval).count());
    f.count = o.count;
    f.rate = o.rate;
    f.seed = o.seed ? *o.seed : std::random_device{}() * 0x100000000ULL + std::random_device{}();
    f.prefix = o.prefix;
    f.shared_topic = o.mqtt.publish_topic;
    f.qos = static_cast<std::uint8_t>(o.mqtt.publish_qos);
    for (const auto &key : o.with) {
        f.with_sensor = f.with_sensor || key == "sensor";
        f.with_time = f.with_time || key == "time";
        f.with_rssi = f.with_rssi || key == "rssi";
    }
    f.discovery = o.discovery;
    f.discovery_prefix = o.discovery_prefix;
    for (std::size_t i = 0; i < n; ++i)
        if (const char *error = firmware::check_config(device_config(f, i)))
            usage_error(cat(f.ids[i], ": ", error));
    return f;
}

// Three descriptors a sensor: a soft limit below the usual 1024 may not
// leave room for a large fleet.
void raise_file_limit(std::size_t sensors)
{
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) != 0)
        return;
    const rlim_t want = rlim_t{sensors} * 3 + 64;
    if (r.rlim_cur >= want)
        return;
    r.rlim_cur = std::min(want, r.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur < want)
        warn(cat("only ", r.rlim_cur, " file descriptors allowed: some of the ", sensors,
                 " sensors may not connect (see ulimit -n)"));
}

int run(Options &o)
{
    set_verbosity(o.common.verbose);
    FleetOptions f = resolve(o);
    debug(cat("seed ", f.seed, " (--seed ", f.seed, " repeats this run)"));
    raise_file_limit(f.ids.size());
    install_signal_handlers();
    Fleet fleet(f);
    const int status = fleet.run();
    const Totals t = fleet.totals();
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f", t.seconds > 0 ? static_cast<double>(t.published) / t.seconds : 0.0);
    debug(cat(f.ids.size(), f.ids.size() == 1 ? " sensor: " : " sensors: ", t.published, " published, ",
              t.failed_samples, " failed, ", t.dropped, " dropped, ", t.died, " died, in ",
              seconds_text(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(t.seconds))),
              " (", rate, " readings a second)"));
    return status;
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::tool_main<Options>("dht-sensor-sim", argc, argv, setup, run);
}
