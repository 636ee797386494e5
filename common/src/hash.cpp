#include "dht/hash.hpp"

#include <chrono>
#include <random>

namespace dht {

std::uint64_t hash_seed() noexcept
{
    static const std::uint64_t seed = [] {
        try {
            std::random_device device;
            return std::uint64_t{device()} << 32 ^ device();
        } catch (...) {
            // No source of randomness: the clock, which an attacker can guess less well than a constant.
            return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        }
    }();
    return seed;
}

}  // namespace dht
