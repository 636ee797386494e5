// The fake world behind the Arduino stand-in: a clock that delay() moves, a
// network that joins when told, a broker that records what it is sent, and a
// DHT that answers what the test says. Host test code only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace arduino_stub {

struct Message {
    std::string topic, payload;
    bool retained = false;
    unsigned long at = 0;  // millis()
};

struct Connect {
    std::string client_id, user, password, will_topic, will_message;
    int will_qos = -1;
    bool will_retain = false;
    bool clean_session = false;
};

struct World {
    unsigned long now = 0;  // millis(); delay() adds to it

    // WiFi: joined `join_ms` after begin() while `network_up`.
    bool network_up = true;
    unsigned long join_ms = 500;
    std::vector<std::string> wifi_begins;  // the SSIDs given to begin()
    bool wifi_joined = false;
    unsigned long wifi_begin_at = 0;
    bool wifi_began = false;

    // MQTT: connect() succeeds while `broker_up`.
    bool broker_up = true;
    std::string server;
    int port = 0;
    std::vector<Connect> connects;
    std::vector<Message> published;
    std::vector<std::string> subscriptions;
    std::function<void(char *, std::uint8_t *, unsigned int)> callback;
    bool mqtt_connected = false;

    // The DHT: pin and type from its constructor, and what read() returns.
    int dht_pin = -1, dht_type = -1;
    bool dht_answers = true;
    float temperature = 24.5F, humidity = 65.3F;
    unsigned reads = 0;

    // A real network for the blocking limits: millis() and delay() take real
    // time, WiFiClient opens real sockets to 127.0.0.1:real_port, and names
    // resolve (to that) only while dns_answers.
    bool real_network = false;
    int real_port = 0;
    bool dns_answers = true;
    unsigned dns_lookups = 0;
    unsigned tcp_connects = 0;  // real TCP connections made
    std::vector<std::function<void()>> dns_pending;

    std::uint64_t deep_sleep_us = 0;  // the last esp_sleep_enable_timer_wakeup() request
    unsigned deep_sleeps = 0;
    // Called by esp_deep_sleep_start(), which does not return: this must not either.
    std::function<void()> on_deep_sleep;
    std::vector<std::string> serial;  // lines printed
    std::string serial_in;            // bytes for Serial.read(), taken from the front
    std::string serial_out;           // bytes given to Serial.write()

    // Preferences (NVS): "namespace/key" to the value, strings and numbers as text.
    std::map<std::string, std::string> nvs;
    // Called by ESP.restart(), which does not return: this must not either (unset: abort).
    std::function<void()> on_restart;
};

World &world();

// Delivers a message to the sketch's MQTT callback, as PubSubClient::loop() would.
void deliver(const std::string &topic, const std::string &payload);

}  // namespace arduino_stub
