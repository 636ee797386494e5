#include "Arduino.h"
#include "DHT.h"
#include "PubSubClient.h"
#include "WiFi.h"
#include "WiFiClientSecure.h"
#include "arduino_stub.hpp"
#include "esp_sleep.h"

#include <cstdarg>
#include <cstdio>

namespace arduino_stub {

World &world()
{
    static World w;
    return w;
}

void deliver(const std::string &topic, const std::string &payload)
{
    World &w = world();
    if (!w.callback || !w.mqtt_connected)
        return;
    std::string t = topic;
    std::vector<std::uint8_t> p(payload.begin(), payload.end());
    w.callback(t.data(), p.data(), static_cast<unsigned int>(p.size()));
}

}  // namespace arduino_stub

using arduino_stub::world;

unsigned long millis() { return world().now; }
void delay(unsigned long ms) { world().now += ms; }
void yield() {}

std::uint32_t esp_random()
{
    static std::uint32_t state = 12345;
    state = state * 1664525U + 1013904223U;
    return state;
}

void configTime(long, int, const char *, const char *, const char *) {}

HardwareSerial Serial;
void HardwareSerial::begin(unsigned long) {}
std::size_t HardwareSerial::print(const char *text)
{
    world().serial.emplace_back(text);
    return std::strlen(text);
}
std::size_t HardwareSerial::println(const char *text) { return print(text) + 1; }
std::size_t HardwareSerial::printf(const char *format, ...)
{
    char line[256];
    std::va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    world().serial.emplace_back(line);
    return n < 0 ? 0 : static_cast<std::size_t>(n);
}

WiFiClass WiFi;
bool WiFiClass::mode(wifi_mode_t) { return true; }
wl_status_t WiFiClass::begin(const char *ssid, const char *, std::int32_t, const std::uint8_t *, bool)
{
    auto &w = world();
    w.wifi_begins.emplace_back(ssid);
    w.wifi_began = true;
    w.wifi_joined = false;
    w.wifi_begin_at = w.now;
    return WL_DISCONNECTED;
}
bool WiFiClass::disconnect(bool, bool)
{
    world().wifi_joined = false;
    world().wifi_began = false;
    return true;
}
wl_status_t WiFiClass::status()
{
    auto &w = world();
    if (!w.network_up) {
        w.wifi_joined = false;
        return WL_DISCONNECTED;
    }
    if (w.wifi_began && w.now - w.wifi_begin_at >= w.join_ms)
        w.wifi_joined = true;
    return w.wifi_joined ? WL_CONNECTED : WL_DISCONNECTED;
}
std::int8_t WiFiClass::RSSI() { return -61; }
bool WiFiClass::setAutoReconnect(bool) { return true; }
bool WiFiClass::setHostname(const char *) { return true; }

void WiFiClientSecure::setCACert(const char *) {}
void WiFiClientSecure::setCertificate(const char *) {}
void WiFiClientSecure::setPrivateKey(const char *) {}
void WiFiClientSecure::setInsecure() {}

PubSubClient::PubSubClient(Client &) {}
PubSubClient &PubSubClient::setServer(const char *domain, std::uint16_t port)
{
    world().server = domain;
    world().port = port;
    return *this;
}
PubSubClient &PubSubClient::setCallback(std::function<void(char *, std::uint8_t *, unsigned int)> callback)
{
    world().callback = callback;
    return *this;
}
PubSubClient &PubSubClient::setKeepAlive(std::uint16_t) { return *this; }
PubSubClient &PubSubClient::setSocketTimeout(std::uint16_t) { return *this; }
boolean PubSubClient::setBufferSize(std::uint16_t size)
{
    buffer_size_ = size;
    return true;
}
std::uint16_t PubSubClient::getBufferSize() { return buffer_size_; }

boolean PubSubClient::connect(const char *id, const char *user, const char *pass, const char *willTopic,
                              std::uint8_t willQos, boolean willRetain, const char *willMessage, boolean cleanSession)
{
    auto &w = world();
    const auto str = [](const char *s) { return std::string(s == nullptr ? "" : s); };
    w.connects.push_back({str(id), str(user), str(pass), str(willTopic), str(willMessage), willQos, willRetain,
                          cleanSession});
    w.mqtt_connected = w.broker_up && WiFi.status() == WL_CONNECTED;
    return w.mqtt_connected;
}
void PubSubClient::disconnect() { world().mqtt_connected = false; }
boolean PubSubClient::publish(const char *topic, const char *payload, boolean retained)
{
    auto &w = world();
    // As the real client: nothing without a connection, nothing past the buffer.
    if (!connected() || std::strlen(topic) + std::strlen(payload) + 7 > buffer_size_)
        return false;
    w.published.push_back({topic, payload, retained, w.now});
    return true;
}
boolean PubSubClient::subscribe(const char *topic, std::uint8_t)
{
    if (!connected())
        return false;
    world().subscriptions.emplace_back(topic);
    return true;
}
boolean PubSubClient::loop() { return connected(); }
boolean PubSubClient::connected()
{
    auto &w = world();
    if (!w.broker_up || WiFi.status() != WL_CONNECTED)
        w.mqtt_connected = false;
    return w.mqtt_connected;
}
int PubSubClient::state() { return world().mqtt_connected ? 0 : -1; }

DHT::DHT(std::uint8_t pin, std::uint8_t type, std::uint8_t) : pin_(pin), type_(type)
{
    world().dht_pin = pin;
    world().dht_type = type;
}
void DHT::begin(std::uint8_t) {}
bool DHT::read(bool)
{
    auto &w = world();
    ++w.reads;
    temperature_ = w.dht_answers ? w.temperature : NAN;
    humidity_ = w.dht_answers ? w.humidity : NAN;
    return w.dht_answers;
}
float DHT::readTemperature(bool, bool force)
{
    if (force)
        read(true);
    return temperature_;
}
float DHT::readHumidity(bool force)
{
    if (force)
        read(true);
    return humidity_;
}

esp_err_t esp_sleep_enable_timer_wakeup(std::uint64_t time_in_us)
{
    world().deep_sleep_us = time_in_us;
    return 0;
}
void esp_deep_sleep_start() {}
