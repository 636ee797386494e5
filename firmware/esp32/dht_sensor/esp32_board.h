// The ESP32 side of the core's Platform: WiFi, PubSubClient, the DHT library,
// the clock set by NTP, esp_random(), deep sleep, updates over HTTPS. No
// logic of its own.
#pragma once

#include <Arduino.h>
#include <DHT.h>
#include <HTTPClient.h>
#include <PubSubClient.h>
#include <Update.h>
#include <WiFi.h>
#include <WiFiClientSecure.h>
#include <esp_ota_ops.h>
#include <esp_sleep.h>
#include <lwip/dns.h>
#include <sys/time.h>

#include <atomic>

#include <dht_core.hpp>

// How long one connection attempt may block loop(): every blocking call has
// its own bound, and their sum is the most an attempt takes (the core keeps
// deep sleep's awake limit with it).
struct ConnectLimits {
    std::uint32_t tcp_connect_ms;   // WiFiClient(Secure)::connect(host, port, timeout)
    std::uint32_t tls_handshake_s;  // WiFiClientSecure::setHandshakeTimeout (0: no TLS)
    std::uint16_t mqtt_answer_s;    // PubSubClient::setSocketTimeout: the wait for CONNACK
    constexpr std::uint32_t block_ms() const
    {
        return tcp_connect_ms + tls_handshake_s * 1000U + mqtt_answer_s * 1000U;
    }
};

class Esp32Board : public dht::firmware::Platform {
public:
    // `network` is the client `mqtt` runs on (WiFiClient, or WiFiClientSecure for TLS).
    Esp32Board(DHT &sensor, WiFiClient &network, PubSubClient &mqtt, ConnectLimits limits, const char *ssid,
               const char *password, const char *mqtt_user, const char *mqtt_password, bool debug)
        : sensor_(sensor), network_(network), mqtt_(mqtt), limits_(limits), ssid_(ssid), password_(password),
          user_(mqtt_user), mqtt_password_(mqtt_password), debug_(debug)
    {
    }

    // The broker, by name or address. Name lookups never block: see mqtt_connect().
    void set_broker(const char *host, std::uint16_t port)
    {
        host_ = host;
        port_ = port;
        mqtt_.setServer(host, port);
        mqtt_.setSocketTimeout(limits_.mqtt_answer_s);
    }

    void wifi_begin() noexcept override
    {
        WiFi.disconnect();
        WiFi.begin(ssid_, password_);
    }

    // Updates over HTTPS, the server checked with `ca` (the broker's CA). Null: none.
    void set_ota_ca(const char *ca) { ota_ca_ = ca; }

    bool wifi_connected() noexcept override { return WiFi.status() == WL_CONNECTED; }

    // WiFi.hostByName(), which the clients' connect(host, ...) calls, waits up
    // to 15 s for DNS. So the name is looked up first with lwIP's
    // asynchronous call, and the attempt goes on (the core polls
    // mqtt_connected()) until it answers; the clients' own lookup then finds
    // it in lwIP's cache. Then each step is bounded: the TCP connect by its
    // timeout, the TLS handshake by setHandshakeTimeout(), the broker's
    // answer by PubSubClient's socket timeout: limits_.block_ms() in all.
    // dns_gethostbyname() is called from the loop task, as 2.0.14's own
    // WiFi.hostByName() calls it (lwIP wants its TCP/IP task; the 3.x core
    // moved its call there).
    bool mqtt_connect(const dht::firmware::MqttConnect &r) noexcept override
    {
        request_ = r;
        lookup_done_ = false;
        ip_addr_t address{};
        const err_t e = dns_gethostbyname(host_, &address, &Esp32Board::dns_answer, this);
        if (e == ERR_OK)
            return connect_now();
        waiting_for_dns_ = e == ERR_INPROGRESS;
        return waiting_for_dns_;
    }

    bool mqtt_connected() noexcept override
    {
        if (waiting_for_dns_) {
            if (!lookup_done_)
                return false;
            waiting_for_dns_ = false;
            return lookup_found_ && connect_now();
        }
        return mqtt_.connected();
    }

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

    // HTTPUpdate cannot be given the MD5 (it takes one only from the server's
    // x-MD5 header), so the download goes through HTTPClient into Update:
    // Update.end() checks the image and its MD5 before it switches the boot
    // partition. This blocks for the download, the one step that may take
    // longer than ConnectLimits (each read waits 10 s at most).
    const char *ota_update(const dht::firmware::OtaRequest &r) noexcept override
    {
        if (ota_ca_ == nullptr)
            return "updates need TLS: no CA to check the server with";
        WiFiClientSecure tls;
        tls.setCACert(ota_ca_);
        tls.setHandshakeTimeout(limits_.tls_handshake_s);
        HTTPClient http;
        http.setConnectTimeout(static_cast<std::int32_t>(limits_.tcp_connect_ms));
        http.setTimeout(10000);
        if (!http.begin(tls, r.url))
            return "not a URL the HTTP client takes";
        const int code = http.GET();
        const int size = code == HTTP_CODE_OK ? http.getSize() : -1;
        if (size <= 0) {
            http.end();
            return code == HTTP_CODE_OK ? "the server sent no length" : "the server did not send the image";
        }
        if (!Update.begin(static_cast<std::size_t>(size))) {
            http.end();
            return Update.errorString();
        }
        Update.setMD5(r.md5);
        const std::size_t written = Update.writeStream(*http.getStreamPtr());
        http.end();
        if (written != static_cast<std::size_t>(size)) {
            Update.abort();
            return "the download broke off";
        }
        if (!Update.end())
            return Update.errorString();  // a wrong MD5 or a bad image: the running one stays
        mqtt_.disconnect();
        delay(50);
        ESP.restart();  // into the new image, on trial until firmware_confirm()
        return "the restart failed";
    }

    // With verifyRollbackLater() (the sketch), a new image stays on trial
    // until it has reached the broker; a boot that fails first rolls back.
    void firmware_confirm() noexcept override { esp_ota_mark_app_valid_cancel_rollback(); }

    void log(dht::firmware::LogLevel level, const char *line) noexcept override
    {
        if (level != dht::firmware::LogLevel::debug || debug_)
            Serial.println(line);
    }

private:
    static void dns_answer(const char *, const ip_addr_t *address, void *self)
    {
        auto *board = static_cast<Esp32Board *>(self);
        board->lookup_found_ = address != nullptr;
        board->lookup_done_ = true;
    }

    bool connect_now()
    {
        if (network_.connect(host_, port_, static_cast<std::int32_t>(limits_.tcp_connect_ms)) != 1)
            return false;
        const char *user = *user_ != '\0' ? user_ : nullptr;
        const char *password = *mqtt_password_ != '\0' ? mqtt_password_ : nullptr;
        // The client is connected: PubSubClient sends CONNECT and waits for the answer only.
        const auto &r = request_;
        return mqtt_.connect(r.client_id, user, password, r.will_topic, r.will_qos, r.will_retain, r.will_payload,
                             true);
    }

    DHT &sensor_;
    WiFiClient &network_;
    PubSubClient &mqtt_;
    ConnectLimits limits_;
    const char *ssid_, *password_, *user_, *mqtt_password_;
    bool debug_;
    const char *host_ = "";
    const char *ota_ca_ = nullptr;
    std::uint16_t port_ = 1883;
    dht::firmware::MqttConnect request_{};
    bool waiting_for_dns_ = false;
    std::atomic<bool> lookup_done_{false};  // set from lwIP's task
    std::atomic<bool> lookup_found_{false};
};
