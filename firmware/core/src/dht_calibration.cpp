#include "dht_calibration.hpp"

#include <cstring>

namespace dht::firmware {

namespace {

class Cursor {
public:
    Cursor(const char *text, std::size_t length) : at_(text), end_(text + length) {}

    void skip_space()
    {
        while (at_ != end_ && (*at_ == ' ' || *at_ == '\t' || *at_ == '\n' || *at_ == '\r'))
            ++at_;
    }
    bool done() const { return at_ == end_; }
    bool take(char c)
    {
        skip_space();
        if (at_ == end_ || *at_ != c)
            return false;
        ++at_;
        return true;
    }
    // A key: a JSON string without escapes, at most `size` - 1 bytes.
    bool key(char *out, std::size_t size)
    {
        if (!take('"'))
            return false;
        std::size_t n = 0;
        while (at_ != end_ && *at_ != '"') {
            if (*at_ == '\\' || n + 1 >= size)
                return false;
            out[n++] = *at_++;
        }
        out[n] = '\0';
        return take('"');
    }
    // A JSON number without exponent, as hundredths (rounded half away from
    // zero), within +-limit.
    bool hundredths(std::int16_t limit, std::int16_t &out)
    {
        skip_space();
        const bool negative = at_ != end_ && *at_ == '-';
        if (negative)
            ++at_;
        long value = 0;
        int digits = 0;
        while (at_ != end_ && *at_ >= '0' && *at_ <= '9') {
            value = value * 10 + (*at_++ - '0');
            if (++digits > 5)
                return false;
        }
        if (digits == 0)
            return false;
        value *= 100;
        if (at_ != end_ && *at_ == '.') {
            ++at_;
            int decimals = 0;
            long scale = 10;
            bool round_up = false;
            while (at_ != end_ && *at_ >= '0' && *at_ <= '9') {
                const int d = *at_++ - '0';
                if (decimals < 2)
                    value += d * scale;
                else if (decimals == 2)
                    round_up = d >= 5;
                scale /= 10;
                if (++decimals > 10)
                    return false;
            }
            if (decimals == 0)
                return false;
            if (round_up)
                ++value;
        }
        if (at_ != end_ && (*at_ == 'e' || *at_ == 'E'))
            return false;
        if (value > limit)
            return false;
        out = static_cast<std::int16_t>(negative ? -value : value);
        return true;
    }

private:
    const char *at_;
    const char *end_;
};

}  // namespace

const char *parse_calibration(const char *payload, std::size_t length, Calibration &out) noexcept
{
    Calibration c;
    Cursor in(payload, length);
    in.skip_space();
    if (in.done()) {
        out = c;  // deleted: no calibration
        return nullptr;
    }
    if (!in.take('{'))
        return "not a JSON object";
    bool first = true;
    bool seen_temperature = false, seen_humidity = false;
    while (!in.take('}')) {
        if (!first && !in.take(','))
            return "not a JSON object";
        first = false;
        char key[24];
        if (!in.key(key, sizeof key) || !in.take(':'))
            return "not a JSON object of numbers";
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
    in.skip_space();
    if (!in.done())
        return "text after the JSON object";
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
