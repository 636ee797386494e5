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

// Home Assistant MQTT discovery: the device shows up by itself.
#ifndef DHT_DISCOVERY
#define DHT_DISCOVERY 1
#endif

// Battery operation: read, publish, then deep sleep until the next interval.
#ifndef DHT_DEEP_SLEEP
#define DHT_DEEP_SLEEP 0
#endif

// Every step on the serial console (115200 baud), not only the main events.
#ifndef DHT_DEBUG
#define DHT_DEBUG 0
#endif
