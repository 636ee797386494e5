// dht_sensor: a DHT11 or DHT22 on an ESP32 publishing its readings over MQTT,
// {"temperature":24.50,"humidity":65.30} on dht11/<id>/data. This file only
// wires the hardware to the portable core (firmware/core), which does the
// work: schedule, retries, payload, reconnects, last will, Home Assistant
// discovery, deep sleep. Settings: config.h; credentials: secrets.h.
#include <Arduino.h>
#include <DHT.h>
#include <PubSubClient.h>
#include <WiFi.h>
#include <WiFiClientSecure.h>

#include <dht_core.hpp>

#include "config.h"
#include "esp32_board.h"
#if defined(DHT_ARDUINO_STUB)
#include "secrets.example.h"  // the host build checks the sketch with the committed example
#elif __has_include("secrets.h")
#include "secrets.h"
#else
#error "copy secrets.example.h to secrets.h and fill it in (see firmware/README.md)"
#endif

extern const ConnectLimits kConnectLimits;
#if defined(MQTT_CA_CERT)
WiFiClientSecure network;
const ConnectLimits kConnectLimits{DHT_TCP_CONNECT_MS, DHT_TLS_HANDSHAKE_S, DHT_MQTT_ANSWER_S};
#else
WiFiClient network;
const ConnectLimits kConnectLimits{DHT_TCP_CONNECT_MS, 0, DHT_MQTT_ANSWER_S};
#endif
PubSubClient mqtt(network);
DHT dht_sensor(DHT_PIN, DHT_MODEL);
Esp32Board board(dht_sensor, network, mqtt, kConnectLimits, WIFI_SSID, WIFI_PASSWORD, MQTT_USERNAME, MQTT_PASSWORD,
                 DHT_VERBOSE != 0);
RTC_DATA_ATTR dht::firmware::Memory memory;  // survives deep sleep, zeroed at power-on

// arduino-esp32 confirms a new image at start unless this says later: the
// core confirms it once it has reached the broker (Platform::firmware_confirm).
extern "C" bool verifyRollbackLater() { return true; }

// The core's clock: milliseconds on 32 bits, wrapping as millis() does on the
// board (where unsigned long is 32 bits; on a PC it is 64).
inline std::uint32_t now_ms() { return static_cast<std::uint32_t>(millis()); }

dht::firmware::Device device(
    [] {
        dht::firmware::Config c;
        c.sensor_id = DHT_SENSOR_ID;
        c.model = DHT_MODEL == DHT22 ? dht::firmware::Model::dht22 : dht::firmware::Model::dht11;
        c.interval_ms = DHT_INTERVAL_MS;
        c.topic_prefix = DHT_TOPIC_PREFIX;
#if defined(DHT_SHARED_TOPIC)
        c.shared_data_topic = DHT_SHARED_TOPIC;
#endif
        c.payload_sensor = DHT_PAYLOAD_SENSOR != 0;
        c.payload_time = DHT_PAYLOAD_TIME != 0;
        c.payload_rssi = DHT_PAYLOAD_RSSI != 0;
        c.discovery = DHT_DISCOVERY != 0;
        c.remote_calibration = DHT_CALIBRATION != 0;
#if defined(MQTT_CA_CERT)
        if (DHT_OTA != 0 && DHT_DEEP_SLEEP == 0)
            c.firmware_version = DHT_FIRMWARE_VERSION;
#endif
        c.deep_sleep = DHT_DEEP_SLEEP != 0;
        c.connect_block_ms = kConnectLimits.block_ms();
        return c;
    }(),
    board, &memory);

void setup()
{
    Serial.begin(115200);
    dht_sensor.begin();
    WiFi.mode(WIFI_STA);
    WiFi.setAutoReconnect(true);
    configTime(0, 0, DHT_NTP_SERVER);  // UTC; the payload's "time" once it has answered
#if defined(MQTT_CA_CERT)
    network.setCACert(MQTT_CA_CERT);
    network.setHandshakeTimeout(DHT_TLS_HANDSHAKE_S);  // 120 s unless set
    board.set_ota_ca(MQTT_CA_CERT);  // updates from a server the broker's CA signed
#if defined(MQTT_CLIENT_CERT) && defined(MQTT_CLIENT_KEY)
    network.setCertificate(MQTT_CLIENT_CERT);
    network.setPrivateKey(MQTT_CLIENT_KEY);
#endif
#endif
    board.set_broker(MQTT_HOST, MQTT_PORT);
    // Room for a Home Assistant discovery message, the longest one sent.
    mqtt.setBufferSize(dht::firmware::Device::kDiscoverySize + dht::firmware::Device::kTopicSize + 16);
    mqtt.setCallback([](char *topic, byte *payload, unsigned int length) {
        device.on_message(topic, payload, length, now_ms());
    });
    if (device.error() != nullptr)
        Serial.printf("dht_sensor: bad configuration: %s\n", device.error());
}

void loop()
{
    mqtt.loop();  // keepalive, and messages to the callback
    device.tick(now_ms());
    delay(10);
}
