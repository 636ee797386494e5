#include "dht_backoff.hpp"

namespace dht::firmware {

Backoff::Backoff(std::uint32_t first_ms, std::uint32_t max_ms) noexcept
    : first_(first_ms == 0 ? 1 : first_ms), max_(max_ms < first_ms ? first_ms : max_ms)
{
}

std::uint32_t Backoff::ceiling() const noexcept
{
    std::uint32_t d = first_;
    for (unsigned i = 0; i < attempt_ && d < max_; ++i)
        d = d > max_ / 2 ? max_ : d * 2;
    return d < max_ ? d : max_;
}

std::uint32_t Backoff::next(std::uint32_t random) noexcept
{
    const std::uint32_t d = ceiling();
    if (attempt_ < 64)
        ++attempt_;
    // Uniform in [d/2, d]: the span has d - d/2 + 1 values.
    const std::uint32_t low = d / 2;
    const std::uint64_t span = static_cast<std::uint64_t>(d - low) + 1;
    return low + static_cast<std::uint32_t>((static_cast<std::uint64_t>(random) * span) >> 32);
}

}  // namespace dht::firmware
