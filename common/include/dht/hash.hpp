// FNV-1a (64 bits): a fast, stable, non-cryptographic hash for short keys and
// names. It can be extended byte by byte: fnv1a(b, fnv1a(a)) == fnv1a(a + b).
#pragma once

#include <cstdint>
#include <string_view>

namespace dht {

inline constexpr std::uint64_t fnv1a_basis = 14695981039346656037ULL;

constexpr std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = fnv1a_basis) noexcept
{
    for (const char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return h;
}

}  // namespace dht
