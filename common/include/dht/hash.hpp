// Short keys and names: a hash, and equality without a call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace dht {

// FNV-1a (64 bits): a fast, stable, non-cryptographic hash for short keys and
// names. It can be extended byte by byte: fnv1a(b, fnv1a(a)) == fnv1a(a + b).
inline constexpr std::uint64_t fnv1a_basis = 14695981039346656037ULL;

constexpr std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = fnv1a_basis) noexcept
{
    for (const char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ULL;
    }
    return h;
}

// Equal bytes, n of them: short keys compared with a few loads, no call.
inline bool same_bytes(const char *a, const char *b, std::size_t n) noexcept
{
    const auto load = [](const char *p, auto word) {
        std::memcpy(&word, p, sizeof word);
        return word;
    };
    if (n >= 8 && n <= 16)
        return load(a, std::uint64_t()) == load(b, std::uint64_t()) &&
               load(a + n - 8, std::uint64_t()) == load(b + n - 8, std::uint64_t());
    if (n >= 4 && n < 8)
        return load(a, std::uint32_t()) == load(b, std::uint32_t()) &&
               load(a + n - 4, std::uint32_t()) == load(b + n - 4, std::uint32_t());
    if (n < 4) {
        for (std::size_t i = 0; i < n; ++i)
            if (a[i] != b[i])
                return false;
        return true;
    }
    return std::memcmp(a, b, n) == 0;
}

// a == b, for names and topics: most are at most 16 bytes.
inline bool same_text(std::string_view a, std::string_view b) noexcept
{
    return a.size() == b.size() && (a.data() == b.data() || same_bytes(a.data(), b.data(), a.size()));
}

}  // namespace dht
