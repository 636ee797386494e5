// A reader of the small JSON objects the device is sent (a calibration, a
// command): strings without escapes, numbers without exponent. What it
// cannot read is refused, never guessed at.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dht::firmware {

class JsonReader {
public:
    JsonReader(const char *text, std::size_t length) : at_(text), end_(text + length) {}

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
    // An object's members, one at a time: begin_object() takes its '{',
    // next_key() the next key and its ':' (false at the '}', or at text that
    // is no object), finished() says whether it was one object and nothing
    // more.
    bool begin_object() { return take('{'); }
    bool next_key(char *key, std::size_t size)
    {
        if (take('}')) {
            closed_ = true;
            return false;
        }
        if ((!first_ && !take(',')) || !string(key, size) || !take(':'))
            return false;
        first_ = false;
        return true;
    }
    bool finished()
    {
        skip_space();
        return closed_ && done();
    }

    // A JSON string without escapes (a key, or a value such as a URL), at
    // most `size` - 1 bytes.
    bool string(char *out, std::size_t size)
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
    // A whole JSON number from 0 to `max`.
    bool whole(std::uint32_t max, std::uint32_t &out)
    {
        skip_space();
        std::uint32_t value = 0;
        int digits = 0;
        while (at_ != end_ && *at_ >= '0' && *at_ <= '9') {
            value = value * 10 + static_cast<std::uint32_t>(*at_++ - '0');
            if (++digits > 9 || value > max)
                return false;
        }
        if (digits == 0 || (at_ != end_ && (*at_ == '.' || *at_ == 'e' || *at_ == 'E')))
            return false;
        out = value;
        return true;
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
    bool first_ = true;
    bool closed_ = false;
};

}  // namespace dht::firmware
