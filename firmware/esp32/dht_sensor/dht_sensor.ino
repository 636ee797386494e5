// dht_sensor: a DHT11 or DHT22 on an ESP32 publishing its readings over MQTT,
// {"temperature":24.50,"humidity":65.30} on dht11/<id>/data. This file only
// wires the hardware to the portable core (firmware/core), which does the
// work: schedule, retries, payload, reconnects, last will, Home Assistant
// discovery, deep sleep. Settings: config.h; credentials: secrets.h, the
// defaults of what is set up over serial and kept in NVS (provisioning.h).
#include <Arduino.h>
#include <DHT.h>
#include <PubSubClient.h>
#include <WiFi.h>
#include <WiFiClientSecure.h>

#include <dht_core.hpp>

#include "config.h"
#include "esp32_board.h"
#include "provisioning.h"
#if defined(DHT_ARDUINO_STUB)
#include "secrets.example.h"  // the host build checks the sketch with the committed example
#elif __has_include("secrets.h")
#include "secrets.h"
#else
#error "copy secrets.example.h to secrets.h and fill it in (see firmware/README.md)"
#endif

#include <optional>

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

// The network, broker, login and name in force: the compiled-in values,
// replaced in setup() by those set up over serial (provisioning.h).
dht::firmware::Settings settings = [] {
    dht::firmware::Settings s;
    dht::firmware::set_field(s.ssid, WIFI_SSID, std::strlen(WIFI_SSID));
    dht::firmware::set_field(s.password, WIFI_PASSWORD, std::strlen(WIFI_PASSWORD));
    dht::firmware::set_field(s.host, MQTT_HOST, std::strlen(MQTT_HOST));
    s.port = MQTT_PORT;
    dht::firmware::set_field(s.user, MQTT_USERNAME, std::strlen(MQTT_USERNAME));
    dht::firmware::set_field(s.mqtt_password, MQTT_PASSWORD, std::strlen(MQTT_PASSWORD));
    dht::firmware::set_field(s.sensor, DHT_SENSOR_ID, std::strlen(DHT_SENSOR_ID));
    return s;
}();
Esp32Board board(dht_sensor, network, mqtt, kConnectLimits, settings.ssid, settings.password, settings.user,
                 settings.mqtt_password, DHT_VERBOSE != 0);
Provisioning provisioning(settings, board, DHT_FIRMWARE_VERSION);
RTC_DATA_ATTR dht::firmware::Memory memory;  // survives deep sleep, zeroed at power-on

// arduino-esp32 confirms a new image at start unless this says later: the
// core confirms it once it has reached the broker (Platform::firmware_confirm).
extern "C" bool verifyRollbackLater() { return true; }

// The core's clock: milliseconds on 32 bits, wrapping as millis() does on the
// board (where unsigned long is 32 bits; on a PC it is 64).
inline std::uint32_t now_ms() { return static_cast<std::uint32_t>(millis()); }

// Built in setup(), once the sensor name is known.
std::optional<dht::firmware::Device> device;

dht::firmware::Config device_config()
{
    dht::firmware::Config c;
    c.sensor_id = settings.sensor;
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
}

void setup()
{
    Serial.begin(115200);
    if (Provisioning::load(settings))
        Serial.printf("settings: from NVS, WiFi %s, broker %s:%u, sensor %s\n", settings.ssid, settings.host,
                      static_cast<unsigned>(settings.port), settings.sensor);
    device.emplace(device_config(), board, &memory);
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
    board.set_broker(settings.host, settings.port);
    // Room for a Home Assistant discovery message, the longest one sent.
    mqtt.setBufferSize(dht::firmware::Device::kDiscoverySize + dht::firmware::Device::kTopicSize + 16);
    mqtt.setCallback([](char *topic, byte *payload, unsigned int length) {
        device->on_message(topic, payload, length, now_ms());
    });
    if (device->error() != nullptr)
        Serial.printf("dht_sensor: bad configuration: %s\n", device->error());
}

void loop()
{
    mqtt.loop();  // keepalive, and messages to the callback
    provisioning.poll(now_ms());
    device->tick(now_ms());
    delay(10);
}
