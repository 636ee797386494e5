// A fleet of simulated devices, each the firmware's core (firmware/core) on a
// simulated sensor, with its own MQTT connection (a dht::Session) so that
// each has its own last will: a device that dies drops its connection
// without DISCONNECT and the broker says "offline" for it.
#pragma once

#include "environment.hpp"

#include "dht/cli.hpp"
#include "dht_device.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dht::sim {

struct FleetOptions {
    MqttOptions mqtt;  // finished: brokers, TLS, login
    std::vector<std::string> ids;
    std::vector<Profile> profiles;  // given to the sensors in turn
    firmware::Model model = firmware::Model::dht11;
    std::uint32_t interval_ms = 10000;
    std::uint32_t count = 0;  // readings per sensor; 0: no end
    double rate = 0;          // readings a second in all; 0: each sensor on its interval
    std::uint64_t seed = 0;
    std::string prefix = "dht11";
    std::string shared_topic;  // --publish: every reading there
    std::uint8_t qos = 1;
    bool with_sensor = false, with_time = false, with_rssi = false;
    bool discovery = false;
    std::string discovery_prefix = "homeassistant";
    std::vector<std::string> client_ids;  // from -i or -I; none: the firmware's dht-ID
};

// The core's configuration for sensor `index`; what check_config() says of
// it is the caller's to report.
firmware::Config device_config(const FleetOptions &o, std::size_t index);

struct Totals {
    std::uint64_t samples = 0, failed_samples = 0, published = 0, dropped = 0;
    std::size_t died = 0;
    double seconds = 0;
};

class SimDevice;

class Fleet {
public:
    explicit Fleet(const FleetOptions &options);
    ~Fleet();
    Fleet(const Fleet &) = delete;
    Fleet &operator=(const Fleet &) = delete;

    // Runs until every sensor has taken --count readings (or died), SIGINT or
    // SIGTERM, or a connection that cannot be made; then says "offline" for
    // each live sensor, delivers what is pending and disconnects. Returns the
    // exit status.
    int run();
    Totals totals() const;

private:
    void tick_all(std::uint64_t elapsed_ms);
    void pace(std::uint64_t elapsed_ms);
    bool finished() const;
    int stop();

    FleetOptions options_;
    std::vector<std::unique_ptr<SimDevice>> devices_;
    std::size_t next_ = 0;          // --rate: the next sensor asked for a reading
    std::uint64_t issued_ = 0;      // --rate: readings asked for
    std::optional<std::uint64_t> rate_start_;  // --rate: when every sensor was connected (ms)
    double seconds_ = 0;
};

}  // namespace dht::sim
