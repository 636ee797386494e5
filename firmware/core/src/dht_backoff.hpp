// The reconnect schedule of the device: exponential backoff with jitter, and
// time comparisons that survive the wrap of a 32-bit millisecond clock
// (Arduino's millis() wraps every 49.7 days).
#pragma once

#include <cstdint>

namespace dht::firmware {

// True when `now` has reached `at`; right across the wrap of the clock as long
// as the two are less than 24.8 days apart.
inline bool reached(std::uint32_t now, std::uint32_t at)
{
    return static_cast<std::int32_t>(now - at) >= 0;
}

// Milliseconds from `since` to `now` on the wrapping clock.
inline std::uint32_t elapsed(std::uint32_t now, std::uint32_t since) { return now - since; }

// Delays of first, 2 x first, 4 x first ... up to `max`, each drawn between half
// and all of its value from a random number the caller supplies (the
// platform's random source, or a fixed one in tests): a fleet of devices that
// lost the broker together does not come back in lockstep.
class Backoff {
public:
    Backoff(std::uint32_t first_ms, std::uint32_t max_ms) noexcept;

    // The next delay, from a uniformly distributed 32-bit `random`.
    std::uint32_t next(std::uint32_t random) noexcept;
    // The ceiling of the next delay, before jitter.
    std::uint32_t ceiling() const noexcept;
    void reset() noexcept { attempt_ = 0; }
    unsigned attempts() const noexcept { return attempt_; }

private:
    std::uint32_t first_;
    std::uint32_t max_;
    unsigned attempt_ = 0;
};

}  // namespace dht::firmware
