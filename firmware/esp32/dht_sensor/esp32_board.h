// The ESP32 side of the core's Platform: WiFi, PubSubClient, the DHT library,
// the clock set by NTP, esp_random() and deep sleep. No logic of its own.
#pragma once

#include <Arduino.h>
#include <DHT.h>
#include <PubSubClient.h>
#include <WiFi.h>
#include <esp_sleep.h>
#include <sys/time.h>

#include <dht_core.hpp>

class Esp32Board : public dht::firmware::Platform {
public:
    Esp32Board(DHT &sensor, PubSubClient &mqtt, const char *ssid, const char *password, const char *mqtt_user,
               const char *mqtt_password, bool debug)
        : sensor_(sensor), mqtt_(mqtt), ssid_(ssid), password_(password), user_(mqtt_user),
          mqtt_password_(mqtt_password), debug_(debug)
    {
    }

    void wifi_begin() noexcept override
    {
        WiFi.disconnect();
        WiFi.begin(ssid_, password_);
    }

    bool wifi_connected() noexcept override { return WiFi.status() == WL_CONNECTED; }

    // PubSubClient connects synchronously: this blocks for its socket timeout at most.
    bool mqtt_connect(const dht::firmware::MqttConnect &r) noexcept override
    {
        const char *user = *user_ != '\0' ? user_ : nullptr;
        const char *password = *mqtt_password_ != '\0' ? mqtt_password_ : nullptr;
        return mqtt_.connect(r.client_id, user, password, r.will_topic, r.will_qos, r.will_retain, r.will_payload,
                             true);
    }

    bool mqtt_connected() noexcept override { return mqtt_.connected(); }

    // PubSubClient publishes at QoS 0 only; the last will is QoS 1.
    bool mqtt_publish(const char *topic, const char *payload, std::uint8_t, bool retain) noexcept override
    {
        return mqtt_.publish(topic, payload, retain);
    }

    bool mqtt_subscribe(const char *topic) noexcept override { return mqtt_.subscribe(topic, 1); }

    bool read_sensor(dht::firmware::Reading &out) noexcept override
    {
        // Forced: without it the library hands back its previous result for 2 s,
        // and a retry would only repeat the failure.
        if (!sensor_.read(true))
            return false;
        out.temperature = sensor_.readTemperature();
        out.humidity = sensor_.readHumidity();
        return true;
    }

    bool unix_time_ms(std::uint64_t &out) noexcept override
    {
        timeval tv{};
        gettimeofday(&tv, nullptr);
        if (tv.tv_sec < 1700000000)
            return false;  // NTP has not answered yet
        out = static_cast<std::uint64_t>(tv.tv_sec) * 1000U + static_cast<std::uint64_t>(tv.tv_usec) / 1000U;
        return true;
    }

    bool rssi(int &dbm) noexcept override
    {
        if (WiFi.status() != WL_CONNECTED)
            return false;
        dbm = WiFi.RSSI();
        return true;
    }

    std::uint32_t random() noexcept override { return esp_random(); }

    void deep_sleep(std::uint32_t ms) noexcept override
    {
        mqtt_.disconnect();  // a clean DISCONNECT: sleeping is not dying, no last will
        delay(50);           // let the DISCONNECT leave before the radio goes off
        WiFi.disconnect(true);
        esp_sleep_enable_timer_wakeup(static_cast<std::uint64_t>(ms) * 1000U);
        esp_deep_sleep_start();
    }

    void log(dht::firmware::LogLevel level, const char *line) noexcept override
    {
        if (level != dht::firmware::LogLevel::debug || debug_)
            Serial.println(line);
    }

private:
    DHT &sensor_;
    PubSubClient &mqtt_;
    const char *ssid_, *password_, *user_, *mqtt_password_;
    bool debug_;
};
