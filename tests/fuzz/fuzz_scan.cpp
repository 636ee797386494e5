// The scanner's own tokenizer against Boost.JSON: each input line is scanned
// by a scanner trying the tokenizer first and by one that goes straight to
// Boost.JSON, as a record line (for a tool that reads messages, and one that
// wants every number) and as an MQTT payload, at two nesting limits. Both must
// see the same line: the same kind and error, topic, timestamp, sensor, text,
// every field asked for and every number, to the bit.
#include "dht/scan.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using dht::FieldValue;
using dht::RecordScanner;

// Paths with the awkward shapes a field may have: nested, empty, dotted at either end.
const std::vector<std::string> fields = {"temperature", "humidity", "env.co2", "a.b.c", "state", "",
                                         ".x",          "a..b",     "x.",      "kind",  "dew_point"};

void same(bool ok)
{
    if (!ok)
        std::abort();
}

bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void compare(const RecordScanner &a, const RecordScanner &b, std::size_t nfields, bool numbers)
{
    same(a.has_topic() == b.has_topic());
    if (a.has_topic())
        same(a.topic() == b.topic());
    same(a.has_timestamp() == b.has_timestamp());
    same(a.timestamp_is_string() == b.timestamp_is_string());
    if (a.has_timestamp() && a.timestamp_is_string())
        same(a.timestamp() == b.timestamp());
    same(a.payload_is_object() == b.payload_is_object());
    same(a.payload_is_text() == b.payload_is_text());
    if (a.payload_is_text())
        same(a.payload_text() == b.payload_text());
    same(a.sensor() == b.sensor());
    same(a.kind() == b.kind());
    same(a.payload_kind() == b.payload_kind());
    const FieldValue *va = a.values(), *vb = b.values();
    for (std::size_t i = 0; i < nfields; ++i) {
        same(va[i].type == vb[i].type);
        if (va[i].type == FieldValue::Type::number)
            same(same_double(va[i].number, vb[i].number));
        if (va[i].type == FieldValue::Type::string)
            same(va[i].text == vb[i].text);
    }
    if (!numbers)
        return;
    const auto &na = a.numbers(), &nb = b.numbers();
    same(na.size() == nb.size());
    for (std::size_t i = 0; i < na.size(); ++i)
        same(na[i].path == nb[i].path && same_double(na[i].value, nb[i].value));
}

struct Pair {
    RecordScanner fast, slow;
    bool numbers;
    Pair(const std::vector<std::string> &f, std::size_t depth, bool n)
        : fast(f, depth, n), slow(f, depth, n), numbers(n)
    {
        slow.set_fast_path(false);
    }

    void record(std::string_view line, std::size_t nfields)
    {
        std::string ea = "x", eb = "x";
        const auto ka = fast.scan_record(line, ea), kb = slow.scan_record(line, eb);
        same(ka == kb);
        if (ka == RecordScanner::Kind::invalid) {
            same(ea == eb);
            return;
        }
        compare(fast, slow, nfields, numbers);
        RecordScanner::Origin oa, ob;
        ea = eb = "x";
        const auto ma = fast.scan_message(line, "bare/topic", oa, ea);
        const auto mb = slow.scan_message(line, "bare/topic", ob, eb);
        same(ma == mb);
        same(ea == eb);
        if (ma != RecordScanner::Kind::invalid) {
            same(oa.topic == ob.topic && oa.time == ob.time);
            compare(fast, slow, nfields, numbers);
        }
    }

    void payload(std::string_view bytes, std::size_t nfields)
    {
        fast.scan_payload(bytes, "t");
        slow.scan_payload(bytes, "t");
        compare(fast, slow, nfields, numbers);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    static Pair rules(fields, 32, false), stats({}, 32, true), shallow(fields, 4, true);
    std::string_view text(reinterpret_cast<const char *>(data), size);
    while (!text.empty()) {
        const auto end = std::min(text.find('\n'), text.size());
        const auto line = text.substr(0, end);
        text.remove_prefix(std::min(end + 1, text.size()));
        rules.record(line, fields.size());
        rules.payload(line, fields.size());
        stats.record(line, 0);
        stats.payload(line, 0);
        shallow.record(line, fields.size());
        shallow.payload(line, fields.size());
    }
    return 0;
}
