// Runs the sketch, compiled against the Arduino stand-in, through a few
// simulated seconds: what it asks of WiFi, MQTT and the DHT, and what it
// publishes. Exit status 0 when every check holds.
#include "arduino_stub.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

void setup();
void loop();

namespace {

int failures = 0;

void check(bool ok, const std::string &what)
{
    std::printf("%s - %s\n", ok ? "ok" : "FAIL", what.c_str());
    if (!ok)
        ++failures;
}

void run_until(unsigned long ms)
{
    while (arduino_stub::world().now < ms)
        loop();  // each loop() ends in delay(10), which moves the clock
}

std::vector<arduino_stub::Message> on(const std::string &topic)
{
    std::vector<arduino_stub::Message> found;
    for (const auto &m : arduino_stub::world().published)
        if (m.topic == topic)
            found.push_back(m);
    return found;
}

}  // namespace

int main()
{
    auto &w = arduino_stub::world();
    setup();
    check(w.dht_pin == 4 && w.dht_type == 11, "a DHT11 on GPIO4, as config.h says");
    check(w.server == "192.168.1.100" && w.port == 1883, "the broker of secrets.example.h");

    run_until(12000);
    check(!w.wifi_begins.empty() && w.wifi_begins.front() == "your-network", "WiFi joined with the example SSID");
    check(w.connects.size() == 1, "one MQTT connection");
    if (!w.connects.empty()) {
        const auto &c = w.connects.front();
        check(c.client_id == "dht-sensor", "client id dht-sensor");
        check(c.will_topic == "dht11/sensor/status" && c.will_message == "offline" && c.will_retain &&
                  c.will_qos == 1,
              "last will: offline, retained, QoS 1, on dht11/sensor/status");
        check(c.user.empty() && c.password.empty(), "no login with empty credentials");
    }
    const auto status = on("dht11/sensor/status");
    check(!status.empty() && status.front().payload == "online" && status.front().retained, "birth: online, retained");
    const auto data = on("dht11/sensor/data");
    check(data.size() == 2, "two readings in 12 s: at 1 s (the sensor's warm-up) and 11 s");
    for (const auto &m : data)
        check(m.payload == R"({"temperature":24.50,"humidity":65.30})" && !m.retained,
              "the seed's payload, byte for byte: " + m.payload);
    const auto discovery = on("homeassistant/sensor/sensor_temperature/config");
    check(discovery.size() == 1 && discovery.front().retained, "Home Assistant discovery, retained");
    check(std::find(w.subscriptions.begin(), w.subscriptions.end(), "homeassistant/status") != w.subscriptions.end(),
          "subscribed to homeassistant/status");
    check(w.reads == 2, "one read per reading when the sensor answers");

    // Home Assistant restarts: the discovery messages come again within the jitter.
    arduino_stub::deliver("homeassistant/status", "online");
    run_until(15000);
    check(on("homeassistant/sensor/sensor_temperature/config").size() == 2, "discovery sent again for HA online");

    // The broker goes away and comes back: reconnect with backoff, birth again.
    w.broker_up = false;
    run_until(16000);
    w.broker_up = true;
    run_until(25000);
    check(w.connects.size() >= 2, "reconnected after the broker came back");
    check(on("dht11/sensor/status").size() == 2, "birth published again on reconnect");

    // The sensor stops answering: three readings fail, the status says so.
    w.dht_answers = false;
    run_until(55000);
    const auto last_status = on("dht11/sensor/status");
    check(!last_status.empty() && last_status.back().payload == "sensor-error",
          "status sensor-error after three failed readings");
    w.dht_answers = true;
    run_until(66000);
    check(on("dht11/sensor/status").back().payload == "online", "status online again once the sensor answers");

    std::printf("%s\n", failures == 0 ? "sketch: all checks passed" : "sketch: checks failed");
    return failures == 0 ? 0 : 1;
}
