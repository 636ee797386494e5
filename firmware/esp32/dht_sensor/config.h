// What the device is and how it behaves. Committed: nothing secret here (the
// network and broker credentials are in secrets.h). Each setting can also be
// given with -D (PlatformIO's build_flags).
#pragma once

// The sensor: DHT11 or DHT22 (AM2302), its data pin on a GPIO (see README.md
// for the wiring and the pull-up).
#ifndef DHT_MODEL
#define DHT_MODEL DHT11
#endif
#ifndef DHT_PIN
#define DHT_PIN 4
#endif

// The device's name, 1 to 32 of A-Z a-z 0-9 _ -: it publishes on
// <prefix>/<id>/data and <prefix>/<id>/status. With "sensor" that is the
// original sketch's dht11/sensor/data.
#ifndef DHT_SENSOR_ID
#define DHT_SENSOR_ID "sensor"
#endif
#ifndef DHT_TOPIC_PREFIX
#define DHT_TOPIC_PREFIX "dht11"
#endif
// Several devices on the original single topic: define it to
// "dht11/sensor/data"; each reading then carries its "sensor" key.
// #define DHT_SHARED_TOPIC "dht11/sensor/data"

// A reading every DHT_INTERVAL_MS (at least 1000 for a DHT11, 2000 for a DHT22).
#ifndef DHT_INTERVAL_MS
#define DHT_INTERVAL_MS 10000
#endif

// Keys added after {"temperature":24.50,"humidity":65.30}: the device's id,
// the time (RFC 3339, UTC, once NTP has answered), the WiFi signal in dBm.
#ifndef DHT_PAYLOAD_SENSOR
#define DHT_PAYLOAD_SENSOR 0
#endif
#ifndef DHT_PAYLOAD_TIME
#define DHT_PAYLOAD_TIME 0
#endif
#ifndef DHT_PAYLOAD_RSSI
#define DHT_PAYLOAD_RSSI 0
#endif
#ifndef DHT_NTP_SERVER
#define DHT_NTP_SERVER "pool.ntp.org"
#endif

// Calibration offsets, set with a retained message on <prefix>/<id>/config:
// {"temperature_offset":-0.5,"humidity_offset":2} (see README.md).
#ifndef DHT_CALIBRATION
#define DHT_CALIBRATION 1
#endif

// Updates from an HTTPS URL published on <prefix>/<id>/command (see
// README.md): with TLS (the broker's CA checks the server) and without deep
// sleep. The version is what the device says it runs.
#ifndef DHT_OTA
#define DHT_OTA 1
#endif
#ifndef DHT_FIRMWARE_VERSION
#define DHT_FIRMWARE_VERSION "1.0.0"
#endif

// Home Assistant MQTT discovery: the device shows up by itself.
#ifndef DHT_DISCOVERY
#define DHT_DISCOVERY 1
#endif

// Battery operation: read, publish, then deep sleep until the next interval.
#ifndef DHT_DEEP_SLEEP
#define DHT_DEEP_SLEEP 0
#endif

// The most one connection attempt blocks loop(): the TCP connect, the TLS
// handshake (with TLS), the wait for the broker's answer. The broker's name
// is looked up without blocking. 2 + 4 + 4 = 10 s with TLS, 6 s without.
#ifndef DHT_TCP_CONNECT_MS
#define DHT_TCP_CONNECT_MS 2000
#endif
#ifndef DHT_TLS_HANDSHAKE_S
#define DHT_TLS_HANDSHAKE_S 4
#endif
#ifndef DHT_MQTT_ANSWER_S
#define DHT_MQTT_ANSWER_S 4
#endif

// Every step on the serial console (115200 baud), not only the main events.
// Not DHT_DEBUG: Adafruit's DHT.h turns its own Serial prints on (with
// interrupts off, inside each read) when that name is defined at all.
#ifndef DHT_VERBOSE
#define DHT_VERBOSE 0
#endif
#if defined(DHT_DEBUG)
#error "DHT_DEBUG turns on the DHT library's own debug prints; the sketch's setting is DHT_VERBOSE"
#endif
