// The portable core of the DHT sensor firmware: no Arduino header, no heap in
// the loop, no exceptions. The sketch in firmware/esp32 wires an ESP32 to it;
// dht-sensor-sim runs it on a PC; tests/unit/test_firmware.cpp tests it.
#pragma once

#include "dht_backoff.hpp"
#include "dht_calibration.hpp"
#include "dht_device.hpp"
#include "dht_format.hpp"
#include "dht_ota.hpp"
#include "dht_provision.hpp"
