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

namespace detail {
// The word (std::uint32_t, std::uint64_t) at p, which need not be aligned.
template <class Word>
inline Word load(const char *p) noexcept
{
    Word word;
    std::memcpy(&word, p, sizeof word);
    return word;
}

__extension__ typedef unsigned __int128 u128;
// The 128-bit product of a and b, its halves folded into 64 bits.
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept
{
    const u128 m = static_cast<u128>(a) * b;
    return static_cast<std::uint64_t>(m) ^ static_cast<std::uint64_t>(m >> 64);
}
}  // namespace detail

// A number drawn once per process, for text_hash().
std::uint64_t hash_seed() noexcept;

// A hash of a name or a topic for a hash table: up to 16 bytes take a few
// loads and one multiplication (std::hash takes a call and a loop over
// every byte), a longer one a multiplication per 16 bytes. Seeded with
// hash_seed(), it cannot be made to collide by input that arrives over MQTT
// (a sensor that names itself so as to slow every lookup down).
inline std::uint64_t text_hash(std::string_view text, std::uint64_t seed) noexcept
{
    using detail::load;
    const char *p = text.data();
    const std::size_t n = text.size();
    std::uint64_t a = 0, b = 0, h = seed ^ n;
    if (n >= 8) {
        for (std::size_t i = 0; i + 16 < n; i += 16)
            h = detail::fold_multiply(load<std::uint64_t>(p + i) ^ h,
                                      load<std::uint64_t>(p + i + 8) ^ 0xBF58476D1CE4E5B9ULL);
        a = load<std::uint64_t>(p + (n > 16 ? n - 16 : 0));
        b = load<std::uint64_t>(p + n - 8);
    } else if (n >= 4) {
        a = load<std::uint32_t>(p);
        b = load<std::uint32_t>(p + n - 4);
    } else if (n > 0) {
        a = std::uint64_t{static_cast<unsigned char>(p[0])} << 16 |
            std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 | static_cast<unsigned char>(p[n - 1]);
    }
    return detail::fold_multiply(a ^ h ^ 0x9E3779B97F4A7C15ULL, b ^ 0x94D049BB133111EBULL);
}

// Equal bytes, n of them: short keys compared with a few loads, no call.
inline bool same_bytes(const char *a, const char *b, std::size_t n) noexcept
{
    using detail::load;
    if (n >= 8 && n <= 16)
        return load<std::uint64_t>(a) == load<std::uint64_t>(b) &&
               load<std::uint64_t>(a + n - 8) == load<std::uint64_t>(b + n - 8);
    if (n >= 4 && n < 8)
        return load<std::uint32_t>(a) == load<std::uint32_t>(b) &&
               load<std::uint32_t>(a + n - 4) == load<std::uint32_t>(b + n - 4);
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
