#include "dht_calibration.hpp"

#include "dht_json_reader.hpp"

#include <cstring>

namespace dht::firmware {

const char *parse_calibration(const char *payload, std::size_t length, Calibration &out) noexcept
{
    Calibration c;
    JsonReader in(payload, length);
    in.skip_space();
    if (in.done()) {
        out = c;  // deleted: no calibration
        return nullptr;
    }
    if (!in.begin_object())
        return "not a JSON object";
    bool seen_temperature = false, seen_humidity = false;
    char key[24];
    while (in.next_key(key, sizeof key)) {
        if (std::strcmp(key, "temperature_offset") == 0 && !seen_temperature) {
            seen_temperature = true;
            if (!in.hundredths(kTemperatureOffsetMax, c.temperature))
                return "temperature_offset must be a number from -10 to 10";
        } else if (std::strcmp(key, "humidity_offset") == 0 && !seen_humidity) {
            seen_humidity = true;
            if (!in.hundredths(kHumidityOffsetMax, c.humidity))
                return "humidity_offset must be a number from -20 to 20";
        } else {
            return "the keys are temperature_offset and humidity_offset, each once";
        }
    }
    if (!in.finished())
        return "not one JSON object";
    out = c;
    return nullptr;
}

Reading calibrated(const Reading &reading, const Calibration &calibration) noexcept
{
    Reading r = reading;
    r.temperature += static_cast<float>(calibration.temperature) / 100.0F;
    r.humidity += static_cast<float>(calibration.humidity) / 100.0F;
    if (r.humidity < 0.0F)
        r.humidity = 0.0F;
    if (r.humidity > 100.0F)
        r.humidity = 100.0F;
    return r;
}

}  // namespace dht::firmware
