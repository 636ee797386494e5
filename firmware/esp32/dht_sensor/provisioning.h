// Set-up at run time, on the serial port: Improv Wi-Fi for the network, one
// JSON line for the broker, the login and the sensor name. The settings live
// in NVS (Preferences, namespace "dht"); what is not there is the compiled-in
// default. The protocol and the checks are the core's (dht_provision.hpp).
#pragma once

#include <Arduino.h>
#include <Preferences.h>
#include <WiFi.h>

#include <dht_core.hpp>

#include <cstring>

class Provisioning {
public:
    static constexpr const char *kNamespace = "dht";
    static constexpr std::uint32_t kJoinTimeoutMs = 30000;  // Improv: the new network must answer within

    // Settings from NVS over `s` (the compiled-in values). A stored set that
    // check_settings() refuses is ignored whole. True when NVS had some.
    static bool load(dht::firmware::Settings &s)
    {
        Preferences nvs;
        if (!nvs.begin(kNamespace, true))
            return false;
        dht::firmware::Settings stored = s;
        bool any = false;
        any |= get(nvs, "ssid", stored.ssid, sizeof stored.ssid);
        any |= get(nvs, "wifi_pw", stored.password, sizeof stored.password);
        any |= get(nvs, "host", stored.host, sizeof stored.host);
        any |= get(nvs, "user", stored.user, sizeof stored.user);
        any |= get(nvs, "mqtt_pw", stored.mqtt_password, sizeof stored.mqtt_password);
        any |= get(nvs, "sensor", stored.sensor, sizeof stored.sensor);
        if (nvs.isKey("port")) {
            stored.port = nvs.getUShort("port", stored.port);
            any = true;
        }
        nvs.end();
        if (!any || dht::firmware::check_settings(stored) != nullptr)
            return false;
        s = stored;
        return true;
    }

    static bool save(const dht::firmware::Settings &s)
    {
        Preferences nvs;
        if (!nvs.begin(kNamespace, false))
            return false;
        // putString returns the length written: 0 for an empty value as for a failure.
        nvs.putString("ssid", s.ssid);
        nvs.putString("wifi_pw", s.password);
        nvs.putString("host", s.host);
        nvs.putString("user", s.user);
        nvs.putString("mqtt_pw", s.mqtt_password);
        nvs.putString("sensor", s.sensor);
        const bool ok = nvs.putUShort("port", s.port) == 2;
        nvs.end();
        return ok;
    }

    // `settings` is the record the board reads (its WiFi and login point into it).
    Provisioning(dht::firmware::Settings &settings, dht::firmware::Platform &board, const char *version)
        : settings_(settings), board_(board), version_(version)
    {
    }

    // Every pass of loop(): takes what Serial has, never waits for more.
    void poll(std::uint32_t now_ms)
    {
        while (Serial.available() > 0) {
            const int c = Serial.read();
            if (c < 0)
                break;
            take(static_cast<std::uint8_t>(c), now_ms);
        }
        if (joining_)
            watch_join(now_ms);
    }

private:
    static bool get(Preferences &nvs, const char *key, char *out, std::size_t size)
    {
        char value[dht::firmware::Settings::kHostMax + 1];
        if (!nvs.isKey(key) || nvs.getString(key, value, size) == 0)
            return false;
        std::memcpy(out, value, std::strlen(value) + 1);
        return true;
    }

    // Each byte goes to the Improv parser and to the line (a failed packet's
    // bytes may be text: "IMPROV" in a sensor name); a packet ends the line,
    // and a line is read only when it starts with '{'.
    void take(std::uint8_t c, std::uint32_t now_ms)
    {
        if (improv_.feed(c, now_ms) == dht::firmware::improv::Parser::Result::packet) {
            line_length_ = 0;
            line_too_long_ = false;
            on_packet(now_ms);
            return;
        }
        if (c == '\n' || c == '\r') {
            if (line_length_ > 0 && !line_too_long_)
                on_line();
            line_length_ = 0;
            line_too_long_ = false;
        } else if (line_length_ < sizeof line_) {
            line_[line_length_++] = static_cast<char>(c);
        } else {
            line_too_long_ = true;
        }
    }

    void on_packet(std::uint32_t now_ms)
    {
        namespace improv = dht::firmware::improv;
        if (improv_.packet().type != improv::Type::rpc_command)
            return;  // a device's packet, echoed back: answering could loop
        improv::Rpc rpc{};
        improv::Error e = improv::decode_rpc(improv_.packet(), rpc);
        if (e != improv::Error::none)
            return send_error(e);
        send_error(improv::Error::none);
        switch (rpc.command) {
        case improv::Command::wifi_settings: {
            dht::firmware::Settings next = settings_;
            e = improv::decode_wifi(rpc, next);
            if (e != improv::Error::none)
                return send_error(e);
            previous_ = settings_;
            std::memcpy(settings_.ssid, next.ssid, sizeof next.ssid);
            std::memcpy(settings_.password, next.password, sizeof next.password);
            send_state(improv::State::provisioning);
            joining_ = true;
            join_started_ = now_ms;
            board_.wifi_begin();  // with the new network; the device reconnects once it is up
            return;
        }
        case improv::Command::current_state:
            if (WiFi.status() == WL_CONNECTED && !joining_) {
                send_state(improv::State::provisioned);
                send_result(improv::Command::current_state, nullptr, 0);
            } else {
                send_state(joining_ ? improv::State::provisioning : improv::State::ready);
            }
            return;
        case improv::Command::device_info: {
            const char *info[] = {"dht-sensor", version_, "ESP32", settings_.sensor};
            send_result(improv::Command::device_info, info, 4);
            return;
        }
        case improv::Command::scan_networks:
            // A scan takes the radio for seconds: not offered.
            return send_error(improv::Error::unknown_command);
        }
    }

    void watch_join(std::uint32_t now_ms)
    {
        namespace improv = dht::firmware::improv;
        // Right after a disconnect the status may still say connected for a
        // moment: joined means joined to the network asked for.
        if (WiFi.status() == WL_CONNECTED && std::strcmp(WiFi.SSID().c_str(), settings_.ssid) == 0) {
            joining_ = false;
            if (!save(settings_))
                Serial.println("provisioning: the settings could not be stored");
            send_state(improv::State::provisioned);
            send_result(improv::Command::wifi_settings, nullptr, 0);
        } else if (now_ms - join_started_ > kJoinTimeoutMs) {
            joining_ = false;
            std::memcpy(settings_.ssid, previous_.ssid, sizeof previous_.ssid);
            std::memcpy(settings_.password, previous_.password, sizeof previous_.password);
            board_.wifi_begin();  // back to the network that worked
            send_error(improv::Error::unable_to_connect);
            send_state(improv::State::ready);
        }
    }

    // A JSON line: saved whole or refused whole; the device restarts to use
    // it, as the sensor name is in every topic and the broker in the session.
    void on_line()
    {
        if (line_[0] != '{')
            return;
        dht::firmware::Settings next = settings_;
        if (const char *why = dht::firmware::apply_settings_line(line_, line_length_, next)) {
            Serial.printf("settings: refused: %s\n", why);
            return;
        }
        if (!save(next)) {
            Serial.println("settings: could not be stored");
            return;
        }
        Serial.println("settings: stored, restarting");
        delay(50);
        ESP.restart();
    }

    void send_state(dht::firmware::improv::State state)
    {
        std::uint8_t out[16];
        Serial.write(out, dht::firmware::improv::encode_state(state, out, sizeof out));
    }
    void send_error(dht::firmware::improv::Error error)
    {
        std::uint8_t out[16];
        Serial.write(out, dht::firmware::improv::encode_error(error, out, sizeof out));
    }
    void send_result(dht::firmware::improv::Command command, const char *const *strings, std::size_t count)
    {
        std::uint8_t out[dht::firmware::improv::kPacketMax];
        Serial.write(out, dht::firmware::improv::encode_result(command, strings, count, out, sizeof out));
    }

    dht::firmware::Settings &settings_;
    dht::firmware::Platform &board_;
    const char *version_;
    dht::firmware::improv::Parser improv_;
    char line_[512] = {};
    std::size_t line_length_ = 0;
    bool line_too_long_ = false;
    bool joining_ = false;
    std::uint32_t join_started_ = 0;
    dht::firmware::Settings previous_;
};
