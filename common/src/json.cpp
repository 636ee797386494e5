#include "dht/json.hpp"

#include "dht/diag.hpp"

#include <boost/json/basic_parser_impl.hpp>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace dht {

namespace {

constexpr double powers_of_ten[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

// The common case of append_number without std::to_chars: a value that a
// decimal with at most 15 significant digits, at most 6 of them after the
// point, reads back as (a sensor's 24.5). Such a decimal is the only one of
// its length that does (DBL_DIG is 15), so the one with the fewest digits
// after the point is the shortest text, as std::to_chars picks it. False when
// the value is not one of these, or when std::to_chars would write it in
// scientific notation (which it does when that is shorter: 1e+06, 1e-05).
bool append_short_decimal(std::string &out, double value)
{
    const double magnitude = value < 0 ? -value : value;
    if (!(magnitude < 1e9))
        return false;
    for (int k = 0; k <= 6; ++k) {
        const double scaled = magnitude * powers_of_ten[k];
        if (scaled >= 1e15)
            return false;
        const auto m = static_cast<std::uint64_t>(scaled + 0.5);
        // m / 10^k is correctly rounded: both are exact doubles (m < 2^53, k <= 22).
        if (static_cast<double>(m) / powers_of_ten[k] != magnitude)
            continue;
        if (m == 0)
            return false;  // 0 and -0: std::to_chars says which
        std::array<char, 24> digits;
        const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), m).ptr;
        const auto n = static_cast<int>(end - digits.data());
        // Fixed: the integer part ("0" when there is none), the point, k digits.
        const int fixed = (n > k ? n - k : 1) + (k > 0 ? 1 + k : 0);
        // Scientific: the significant digits with a point after the first, e±XX.
        int significant = n;
        while (significant > 1 && digits[static_cast<std::size_t>(significant - 1)] == '0')
            --significant;
        const int exponent = n - k - 1;
        const int scientific = significant + (significant > 1 ? 1 : 0) + 2 + (exponent >= 100 || exponent <= -100 ? 3 : 2);
        if (scientific <= fixed)
            return false;
        // Written here first, then appended at once.
        std::array<char, 32> text;
        char *p = text.data();
        if (value < 0)
            *p++ = '-';
        if (n > k) {
            p = std::copy_n(digits.data(), n - k, p);
        } else {
            *p++ = '0';
        }
        if (k > 0) {
            *p++ = '.';
            p = std::fill_n(p, k > n ? k - n : 0, '0');
            const int from = n > k ? n - k : 0;
            p = std::copy_n(digits.data() + from, n - from, p);
        }
        out.append(text.data(), p);
        return true;
    }
    return false;
}

}  // namespace

void append_number(std::string &out, double value)
{
    if (!std::isfinite(value)) {
        out += "null";  // JSON has no NaN or infinity
        return;
    }
    if (append_short_decimal(out, value))
        return;
    std::array<char, 32> buf;
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    out.append(buf.data(), res.ptr);
}

void append_json_string(std::string &out, std::string_view text)
{
    out.push_back('"');
    append_json_chars(out, text);
    out.push_back('"');
}

std::string_view json_chars(std::string_view text, std::string &scratch)
{
    if (plain_string_run(text.data(), text.data() + text.size(), false) == text.data() + text.size())
        return text;
    scratch.clear();
    append_json_chars(scratch, text);
    return scratch;
}

void append_json_chars(std::string &out, std::string_view text)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::size_t i = 0;
    // Most text has nothing to escape: skip it many bytes at a time.
    i = static_cast<std::size_t>(plain_string_run(text.data(), text.data() + text.size(), false) - text.data());
    std::size_t run = 0;  // start of the pending run of bytes that need no escape
    for (; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out.append(text.data() + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            out += "\\u00";
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0xF]);
        }
    }
    out.append(text.data() + run, text.size() - run);
}

void append_json(std::string &out, const json::value &value, NumberWriter numbers)
{
    if (numbers != nullptr) {
        if (value.is_int64()) {
            numbers(out, static_cast<double>(value.get_int64()));
            return;
        }
        if (value.is_uint64()) {
            numbers(out, static_cast<double>(value.get_uint64()));
            return;
        }
        if (value.is_double()) {
            numbers(out, value.get_double());
            return;
        }
    }
    switch (value.kind()) {
    case json::kind::null: out += "null"; break;
    case json::kind::bool_: out += value.get_bool() ? "true" : "false"; break;
    case json::kind::int64: {
        std::array<char, 24> buf;
        const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value.get_int64());
        out.append(buf.data(), res.ptr);
        break;
    }
    case json::kind::uint64: {
        std::array<char, 24> buf;
        const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), value.get_uint64());
        out.append(buf.data(), res.ptr);
        break;
    }
    case json::kind::double_: append_number(out, value.get_double()); break;
    case json::kind::string: append_json_string(out, value.get_string()); break;
    case json::kind::array: {
        out.push_back('[');
        bool first = true;
        for (const auto &element : value.get_array()) {
            if (!first)
                out.push_back(',');
            first = false;
            append_json(out, element, numbers);
        }
        out.push_back(']');
        break;
    }
    case json::kind::object: {
        out.push_back('{');
        bool first = true;
        for (const auto &member : value.get_object()) {
            if (!first)
                out.push_back(',');
            first = false;
            append_json_string(out, member.key());
            out.push_back(':');
            append_json(out, member.value(), numbers);
        }
        out.push_back('}');
        break;
    }
    }
}

namespace {

// The first stop from `p` on, N bytes at a time, the last block ending at
// `end` and overlapping bytes already found plain (so the first byte it flags
// is still the first stop). `first_stop(q)`: the offset of the first stop in
// the N bytes at q, or N. Needs N bytes from `p`.
template <std::size_t N, class FirstStop>
const char *by_blocks(const char *p, const char *const end, FirstStop first_stop) noexcept
{
    for (; end - p > static_cast<std::ptrdiff_t>(N); p += N)
        if (const std::size_t i = first_stop(p); i < N)
            return p + i;
    p = end - N;
    const std::size_t i = first_stop(p);
    return i < N ? p + i : end;
}

}  // namespace

const char *plain_string_run(const char *p, const char *const end, bool ascii) noexcept
{
    // A block at a time (see by_blocks); only a text under four bytes is read
    // a byte at a time.
#if defined(__SSE2__)
    if (end - p >= 16) {
        // A signed compare: a byte past ASCII is negative, so "below 0x20" holds it too.
        const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
        return by_blocks<16>(p, end, [&](const char *q) -> std::size_t {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(q));
            __m128i low = _mm_cmplt_epi8(v, space);
            if (!ascii)
                low = _mm_andnot_si128(_mm_cmplt_epi8(v, _mm_setzero_si128()), low);
            const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), low);
            const auto stops = static_cast<unsigned>(_mm_movemask_epi8(hit));
            return stops != 0 ? static_cast<std::size_t>(std::countr_zero(stops)) : 16;
        });
    }
#endif
    // Eight or four at a time. The lowest byte a test flags is always one it
    // looks for: a borrow that makes one flag wrongly runs up from a byte
    // flagged rightly.
    const auto words = [end, ascii](const char *q, auto word) -> const char * {
        using W = decltype(word);
        constexpr W ones = static_cast<W>(0x0101010101010101), highs = static_cast<W>(0x8080808080808080);
        const auto zero_byte = [](W x) { return static_cast<W>((x - ones) & ~x); };
        const W past_ascii = ascii ? highs : 0;
        return by_blocks<sizeof(W)>(q, end, [&](const char *at) -> std::size_t {
            W w;
            std::memcpy(&w, at, sizeof w);
            if constexpr (std::endian::native == std::endian::big)
                w = sizeof w == 8 ? static_cast<W>(__builtin_bswap64(w)) : static_cast<W>(__builtin_bswap32(static_cast<std::uint32_t>(w)));  // the first byte lowest
            const auto stops = static_cast<W>((zero_byte(w ^ static_cast<W>(ones * '"')) | zero_byte(w ^ static_cast<W>(ones * '\\')) |
                                               static_cast<W>((w - static_cast<W>(ones * 0x20)) & ~w) | (w & past_ascii)) &
                                              highs);
            return stops != 0 ? static_cast<std::size_t>(std::countr_zero(stops)) / 8 : sizeof(W);
        });
    };
    if (end - p >= 8)
        return words(p, std::uint64_t());
    if (end - p >= 4)
        return words(p, std::uint32_t());
    for (; p != end; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if (c == '"' || c == '\\' || c < 0x20 || (ascii && c >= 0x80))
            break;
    }
    return p;
}

bool read_plain_number(const char *&p, const char *const end, PlainNumber &out) noexcept
{
    static constexpr double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    const bool negative = *p == '-';
    if (negative)
        ++p;
    if (p == end || !digit(*p))
        return false;
    std::uint64_t m = 0;
    int digits = 0;
    if (*p == '0') {
        ++p;
        digits = 1;
    } else {
        while (p != end && digit(*p)) {
            if (++digits > 18)
                return false;
            m = m * 10 + static_cast<std::uint64_t>(*p++ - '0');
        }
    }
    if (p == end || (*p != '.' && *p != 'e' && *p != 'E' && !digit(*p))) {
        const auto i = static_cast<std::int64_t>(m);
        out.integer = true;
        out.int_value = negative ? -i : i;
        out.value = static_cast<double>(out.int_value);
        return true;
    }
    if (*p != '.')
        return false;  // an exponent, or a leading zero
    ++p;
    int decimals = 0;
    while (p != end && digit(*p)) {
        if (++digits > 18)
            return false;
        m = m * 10 + static_cast<std::uint64_t>(*p++ - '0');
        ++decimals;
    }
    if (decimals == 0 || decimals > 22 || m > (std::uint64_t(1) << 53))
        return false;
    if (p != end && (*p == 'e' || *p == 'E'))
        return false;
    double x = static_cast<double>(m);
    if (negative)
        x = -x;
    out.integer = false;
    out.value = x / exact_pow10[decimals];
    return true;
}

std::optional<std::string_view> string_member(const json::object &o, std::string_view name, std::string &error,
                                              bool &ok)
{
    const auto *v = o.if_contains(name);
    if (v == nullptr || v->is_null())
        return std::nullopt;
    if (const auto *s = v->if_string())
        return std::string_view(*s);
    error = cat("\"", name, "\" is not a string");
    ok = false;
    return std::nullopt;
}

std::string to_json(const json::value &value)
{
    std::string out;
    append_json(out, value);
    return out;
}

bool valid_utf8(std::string_view text) noexcept
{
    const auto *s = reinterpret_cast<const unsigned char *>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len;
        unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0;  // no overlongs
            if (c == 0xED)
                hi = 0x9F;  // no surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;  // nothing past U+10FFFF
        } else {
            return false;
        }
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (std::size_t k = 2; k < len; ++k)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += len;
    }
    return true;
}

std::string base64_encode(std::string_view bytes)
{
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    const auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
    for (; i + 2 < bytes.size(); i += 3) {
        const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        out.push_back(alphabet[v >> 18 & 63]);
        out.push_back(alphabet[v >> 12 & 63]);
        out.push_back(alphabet[v >> 6 & 63]);
        out.push_back(alphabet[v & 63]);
    }
    if (i < bytes.size()) {
        unsigned v = byte(i) << 16;
        if (i + 1 < bytes.size())
            v |= byte(i + 1) << 8;
        out.push_back(alphabet[v >> 18 & 63]);
        out.push_back(alphabet[v >> 12 & 63]);
        out.push_back(i + 1 < bytes.size() ? alphabet[v >> 6 & 63] : '=');
        out.push_back('=');
    }
    return out;
}

json::parse_options parse_options(std::size_t max_depth)
{
    json::parse_options options;
    options.max_depth = max_depth;
    return options;
}

std::string parse_error_text(std::string_view text, const boost::system::error_code &ec)
{
    if (ec == json::error::too_deep)
        return "nested too deep";
    if (text.find_first_not_of(" \t\r") == std::string_view::npos)
        return "empty line";
    if (!valid_utf8(text))
        return "invalid UTF-8";
    if (ec == json::error::exponent_overflow)
        return "number out of range";
    return "invalid JSON: " + ec.message();
}

namespace {
// Boost.JSON reads 1e400 as infinity, which no record, line protocol or
// Graphite line can carry.
bool finite_numbers(const json::value &v)
{
    switch (v.kind()) {
    case json::kind::double_: return std::isfinite(v.get_double());
    case json::kind::array:
        for (const auto &x : v.get_array())
            if (!finite_numbers(x))
                return false;
        return true;
    case json::kind::object:
        for (const auto &kv : v.get_object())
            if (!finite_numbers(kv.value()))
                return false;
        return true;
    default: return true;
    }
}

// A number the document no longer holds (its key given again later) was
// read all the same: finite_numbers() cannot see it, so a text that may hold
// one past a double's range (an exponent, or more than 308 digits in a row)
// is read once more, by events, for it. The scanner (dht/scan.hpp) reports
// such a line as bad, and so must the DOM reader.
struct FiniteCheck {
    using ec = boost::system::error_code;
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    bool on_document_begin(ec &) { return true; }
    bool on_document_end(ec &) { return true; }
    bool on_array_begin(ec &) { return true; }
    bool on_array_end(std::size_t, ec &) { return true; }
    bool on_object_begin(ec &) { return true; }
    bool on_object_end(std::size_t, ec &) { return true; }
    bool on_string_part(json::string_view, std::size_t, ec &) { return true; }
    bool on_string(json::string_view, std::size_t, ec &) { return true; }
    bool on_key_part(json::string_view, std::size_t, ec &) { return true; }
    bool on_key(json::string_view, std::size_t, ec &) { return true; }
    bool on_number_part(json::string_view, ec &) { return true; }
    bool on_int64(std::int64_t, json::string_view, ec &) { return true; }
    bool on_uint64(std::uint64_t, json::string_view, ec &) { return true; }
    bool on_double(double d, json::string_view, ec &e)
    {
        if (std::isfinite(d))
            return true;
        e = json::error::exponent_overflow;
        return false;
    }
    bool on_bool(bool, ec &) { return true; }
    bool on_null(ec &) { return true; }
    bool on_comment_part(json::string_view, ec &) { return true; }
    bool on_comment(json::string_view, ec &) { return true; }
};

bool may_overflow(std::string_view text) noexcept
{
    std::size_t digits = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c < '0' || c > '9') {
            digits = 0;
            continue;
        }
        if (++digits > 308 || (i + 1 < text.size() && (text[i + 1] == 'e' || text[i + 1] == 'E')))
            return true;
    }
    return false;
}

bool every_number_finite(std::string_view text, std::size_t max_depth)
{
    if (!may_overflow(text))
        return true;
    json::basic_parser<FiniteCheck> check(parse_options(max_depth));
    boost::system::error_code e;
    check.write_some(false, text.data(), text.size(), e);
    return !e;
}
}  // namespace

JsonParser::JsonParser(std::size_t max_depth)
    : parser_(json::storage_ptr(), parse_options(max_depth)), max_depth_(max_depth)
{
}

bool JsonParser::parse(std::string_view text, json::value &out, std::string &error)
{
    parser_.reset();
    boost::system::error_code ec;
    parser_.write(text.data(), text.size(), ec);
    if (!ec) {
        out = parser_.release();
        if (finite_numbers(out) && every_number_finite(text, max_depth_))
            return true;
        error = "number out of range";
        return false;
    }
    error = parse_error_text(text, ec);
    parser_.reset();
    return false;
}

}  // namespace dht
