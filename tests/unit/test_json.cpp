#include "dht/hash.hpp"
#include "dht/json.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

using namespace dht;

TEST_CASE("numbers are written as people write them")
{
    const auto num = [](double d) {
        std::string s;
        append_number(s, d);
        return s;
    };
    CHECK(num(24.5) == "24.5");
    CHECK(num(65.3) == "65.3");
    CHECK(num(0.1) == "0.1");
    CHECK(num(-3.25) == "-3.25");
    CHECK(num(100.0) == "100");
    CHECK(num(1e21) == "1e+21");
    CHECK(num(std::numeric_limits<double>::infinity()) == "null");
    CHECK(to_json(json::parse(R"({"t":24.50,"h":65.30,"n":-7,"u":18446744073709551615})")) ==
          R"({"t":24.5,"h":65.3,"n":-7,"u":18446744073709551615})");
}

TEST_CASE("numbers are written as std::to_chars writes them, the short decimals too")
{
    const auto num = [](double d) {
        std::string s;
        append_number(s, d);
        return s;
    };
    const auto reference = [](double d) {
        std::array<char, 32> buf;
        return std::string(buf.data(), std::to_chars(buf.data(), buf.data() + buf.size(), d).ptr);
    };
    CHECK(num(-0.0) == "-0");
    CHECK(num(0.0) == "0");
    CHECK(num(std::nan("")) == "null");
    CHECK(num(-std::numeric_limits<double>::infinity()) == "null");
    CHECK(num(1e308) == "1e+308");
    CHECK(num(5e-324) == "5e-324");
    CHECK(num(0.1 + 0.2) == "0.30000000000000004");
    CHECK(num(100000) == "1e+05");    // shorter than 100000
    CHECK(num(10000) == "10000");     // a tie: fixed
    CHECK(num(0.001) == "0.001");     // a tie: fixed
    CHECK(num(0.0001) == "1e-04");
    CHECK(num(0.00001) == "1e-05");
    CHECK(num(1200000) == "1200000");
    CHECK(num(12000000) == "1.2e+07");
    CHECK(num(-3.0) == "-3");
    CHECK(num(-0.5) == "-0.5");
    CHECK(num(123456789.123456) == "123456789.123456");
    CHECK(num(999999999.9999999) == reference(999999999.9999999));
    // Every decimal of a sensor's range and more, and values that are no short decimal.
    std::size_t differ = 0;
    for (int i = -200000; i <= 200000; ++i)
        for (const double scale : {1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 1e6, 1e7, 0.1, 0.001})
            if (const double d = i / scale; num(d) != reference(d))
                ++differ;
    std::uint64_t x = 88172645463325252u;  // xorshift64
    for (int i = 0; i < 200000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const double mixed = static_cast<double>(x % 2000000000) / static_cast<double>(1 + x % 1000003);
        double raw;
        std::memcpy(&raw, &x, sizeof raw);
        for (const double d : {mixed, -mixed, raw, static_cast<double>(x >> 11), static_cast<double>(x % 100000000) / 1e8})
            if (std::isfinite(d) && num(d) != reference(d))
                ++differ;
    }
    CHECK(differ == 0);
}

TEST_CASE("strings with nothing to escape, long ones and bad UTF-8 are copied as they are")
{
    const auto str = [](std::string_view text) {
        std::string s;
        append_json_string(s, text);
        return s;
    };
    CHECK(str("") == "\"\"");
    CHECK(str("dht11/s01/data") == "\"dht11/s01/data\"");
    const std::string long_text(100000, 'x');
    CHECK(str(long_text) == "\"" + long_text + "\"");
    CHECK(str("\xff\xfe caf\xc3\xa9 \x80\x9f") == "\"\xff\xfe caf\xc3\xa9 \x80\x9f\"");  // bytes >= 0x80 pass through
    // Each byte that needs escaping, at each place of an 8-byte block.
    for (const char c : {'"', '\\', '\n', '\x01', '\x1f', '\0'})
        for (std::size_t at = 0; at < 20; ++at) {
            std::string text(20, 'a');
            text[at] = c;
            const std::string s = str(text);
            CHECK(s.size() >= text.size() + 3);
            CHECK(json::parse(s).as_string() == text);
        }
    // Bytes just above the escaped ones are not escaped.
    CHECK(str("\x20\x21\x23\x5b\x5d\x7f\x20\x21\x23\x5b\x5d\x7f") == "\"\x20\x21\x23\x5b\x5d\x7f\x20\x21\x23\x5b\x5d\x7f\"");
}

TEST_CASE("plain_string_run stops at the first byte a string cannot hold as it is, at every length and place")
{
    // Against a byte-at-a-time reference: every length up to 40 (each block
    // size and its overlapping last block), each stop byte at each place,
    // ASCII-only and not.
    const auto reference = [](const char *p, const char *end, bool ascii) {
        for (; p != end; ++p) {
            const auto c = static_cast<unsigned char>(*p);
            if (c == '"' || c == '\\' || c < 0x20 || (ascii && c >= 0x80))
                break;
        }
        return p;
    };
    const char stops[] = {'"', '\\', '\0', '\n', '\x1f', '\x80', '\xc3', '\xff'};
    for (std::size_t n = 0; n <= 40; ++n) {
        std::string text(n, 'a');
        for (const bool ascii : {false, true}) {
            CHECK(dht::plain_string_run(text.data(), text.data() + n, ascii) == text.data() + n);
            for (std::size_t at = 0; at < n; ++at)
                for (const char stop : stops) {
                    std::string t = text;
                    t[at] = stop;
                    if (at + 1 < n)
                        t[n - 1] = '"';  // a later stop must not win
                    INFO("length " << n << ", stop " << int(static_cast<unsigned char>(stop)) << " at " << at);
                    CHECK(dht::plain_string_run(t.data(), t.data() + n, ascii) ==
                          reference(t.data(), t.data() + n, ascii));
                }
        }
    }
}

TEST_CASE("read_plain_number reads what Boost.JSON reads, and takes a reading's numbers")
{
    // Each number alone in a buffer of its size and before what may follow
    // it, so that a read past the end is one the sanitizers see.
    int taken = 0;
    for (const std::string sign : {"", "-"})
        for (const std::string whole : {"0", "7", "12", "305", "1234567", "12345678", "123456789012345678",
                                        "1234567890123456789", "00", "01"})
            for (const std::string fraction : {"", ".", ".5", ".25", ".1234567", ".12345678", ".000001",
                                               ".123456789012", ".10"})
                for (const std::string exponent : {"", "e3", "E-2"})
                    for (const std::string after : {"", ",", "}", " ", "x", "."}) {
                        const std::string number = sign + whole + fraction + exponent;
                        const std::string text = number + after;
                        CAPTURE(text);
                        const auto buffer = std::make_unique<char[]>(text.size());
                        std::memcpy(buffer.get(), text.data(), text.size());
                        const char *p = buffer.get();
                        PlainNumber n;
                        const bool took = read_plain_number(p, buffer.get() + text.size(), n);
                        // Up to 7 digits before the point and after it: a reading's number.
                        const bool word_sized = whole.size() <= 7 && (whole.size() == 1 || whole[0] != '0') &&
                                                fraction.size() != 1 && fraction.size() <= 8 && exponent.empty() &&
                                                !(fraction.empty() && after == ".");
                        if (word_sized)
                            CHECK(took);
                        if (!took)
                            continue;
                        CHECK(exponent.empty());
                        ++taken;
                        CHECK(p == buffer.get() + number.size());
                        const json::value v = json::parse(number);
                        if (fraction.empty()) {
                            REQUIRE(v.is_int64());
                            CHECK(n.integer);
                            CHECK(n.int_value == v.as_int64());
                            CHECK(n.value == static_cast<double>(v.as_int64()));
                        } else {
                            REQUIRE(v.is_double());
                            CHECK_FALSE(n.integer);
                            CHECK(std::bit_cast<std::uint64_t>(n.value) == std::bit_cast<std::uint64_t>(v.as_double()));
                        }
                    }
    CHECK(taken > 200);
}

TEST_CASE("strings are escaped for JSON")
{
    std::string s;
    append_json_string(s, std::string_view("a\"b\\c\n\t\x01\x7f\xc3\xa9", 11));
    CHECK(s == "\"a\\\"b\\\\c\\n\\t\\u0001\x7f\xc3\xa9\"");
    // What we write, Boost.JSON reads back unchanged.
    const std::string original("x\0y\x1f", 4);
    std::string out;
    append_json_string(out, original);
    CHECK(json::parse(out).as_string() == original);
}

TEST_CASE("UTF-8 validation")
{
    CHECK(valid_utf8(""));
    CHECK(valid_utf8("plain ascii"));
    CHECK(valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x8c\xa1"));  // é € 🌡
    CHECK_FALSE(valid_utf8("\xff"));
    CHECK_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
    CHECK_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
    CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
    CHECK_FALSE(valid_utf8("\xe2\x82"));          // truncated
}

TEST_CASE("base64 of bytes that are not text")
{
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("\xff\xfe") == "//4=");
}

TEST_CASE("the parser reports errors as short phrases")
{
    JsonParser parser(4);
    json::value v;
    std::string error;
    REQUIRE(parser.parse(R"({"a":[1,2]})", v, error));
    CHECK(v.at("a").as_array().size() == 2);
    CHECK_FALSE(parser.parse("{\"a\":", v, error));
    CHECK(error.rfind("invalid JSON", 0) == 0);
    CHECK_FALSE(parser.parse("[[[[[1]]]]]", v, error));
    CHECK(error == "nested too deep");
    CHECK_FALSE(parser.parse("{\"a\":\"\xff\"}", v, error));
    CHECK(error == "invalid UTF-8");
    CHECK_FALSE(parser.parse("{} {}", v, error));
    CHECK_FALSE(parser.parse(R"({"a":[1e400]})", v, error));
    CHECK(error == "number out of range");
    REQUIRE(parser.parse(R"({"a":[1e308, -0.0, 5e-324]})", v, error));
    // Out of range in a member given again later, which the document no
    // longer holds: still bad, as the scanner says (found by fuzz_record).
    CHECK_FALSE(parser.parse(R"({"p":{"c":[1,{"d":1e400}]},"p":{"t":25.5}})", v, error));
    CHECK(error == "number out of range");
    CHECK_FALSE(parser.parse("{\"p\":" + std::string(400, '9') + ",\"p\":1}", v, error));
    CHECK(error == "number out of range");
    REQUIRE(parser.parse(R"({"p":1e300,"p":2,"e":"1e999"})", v, error));
    // The parser is reusable after an error.
    REQUIRE(parser.parse("[true]", v, error));
    CHECK(v.as_array().at(0).as_bool());
}

TEST_CASE("ObjectWriter: keys escaped like values, members in order")
{
    std::string out = "x";
    dht::ObjectWriter(out).string("kind", "stats").number("t", 24.5).integer("n", -3).boolean("ok", true).null("v").close();
    CHECK(out == R"(x{"kind":"stats","t":24.5,"n":-3,"ok":true,"v":null})");
    out = R"({"a":1)";
    dht::ObjectWriter w(out, false);
    w.string("we\"ird\nkey", "v").raw("o", "[1]");
    w.key("z").out() += "2";
    w.close();
    CHECK(out == R"({"a":1,"we\"ird\nkey":"v","o":[1],"z":2})");
    const auto parsed = boost::json::parse(out);
    CHECK(parsed.at("we\"ird\nkey").as_string() == "v");
}

TEST_CASE("text_hash: every byte of a name counts, at every length; the seed changes it")
{
    // A byte the hash did not read would let names that differ there
    // collide: each bit of each byte is flipped in turn, at every length up
    // to 70 (the short forms, 16 bytes a step, and the tail).
    std::string text;
    for (std::size_t n = 0; n <= 70; ++n) {
        const std::uint64_t h = text_hash(text, 42);
        CHECK(text_hash(text, 42) == h);
        CHECK(text_hash(text, 43) != h);
        CHECK(text_hash(text + 'a', 42) != h);
        for (std::size_t i = 0; i < n; ++i)
            for (int bit = 0; bit < 8; ++bit) {
                std::string other = text;
                other[i] = static_cast<char>(other[i] ^ (1 << bit));
                INFO("length " << n << ", byte " << i << ", bit " << bit);
                REQUIRE(text_hash(other, 42) != h);
            }
        text += static_cast<char>('A' + n % 50);
    }
    CHECK(hash_seed() == hash_seed());  // one per process
}
