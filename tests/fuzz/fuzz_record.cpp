// The record reader: a line as every tool reads it (the SAX scanner and the
// DOM parser), and as dht-escalate reads alerts and answers. Both parsers must
// agree on what is valid, and nothing may crash or leak.
#include "incidents.hpp"

#include "dht/json.hpp"
#include "dht/record.hpp"
#include "dht/scan.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string_view line(reinterpret_cast<const char *>(data), size);
    static dht::RecordScanner scanner({"temperature", "humidity", "a.b.c"}, 32, true);
    static dht::JsonParser parser(32);
    std::string scan_error, error;
    const auto kind = scanner.scan_record(line, scan_error);
    if (kind == dht::RecordScanner::Kind::message || kind == dht::RecordScanner::Kind::bare) {
        dht::RecordScanner::Origin origin;
        (void)scanner.origin("bare/topic", origin, error);
    }
    scanner.scan_payload(line);

    dht::json::value value;
    const bool dom = parser.parse(line, value, error);
    // The scanner accepts exactly the records the DOM reader accepts: objects
    // whose "kind", if any, is a string (RecordInput reports the others).
    const bool dom_record = dom && value.is_object() && dht::record_kind(value.get_object()) != dht::RecordKind::invalid;
    if ((kind != dht::RecordScanner::Kind::invalid) != dom_record)
        std::abort();
    if (dom && value.is_object() && !dom_record && scan_error != dht::kind_not_a_string)
        std::abort();
    if (dom && value.is_object()) {
        const auto &o = value.get_object();
        if (auto m = dht::message_from_record(o, "bare/topic", dht::now(), error)) {
            std::string out;
            dht::append_message_record(out, *m);
        }
        (void)dht::escalate::alert_from_record(o, error);
        (void)dht::escalate::response_from_record(o, error);
    }
    bool base64 = false;
    (void)dht::payload_from_bytes(parser, line, base64);
    return 0;
}
