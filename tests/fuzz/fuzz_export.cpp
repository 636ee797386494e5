// Line protocol and Graphite encoding: any payload (and the same bytes as the
// topic and sensor) through both encoders. An InfluxDB line must be one line,
// a Graphite line three fields.
#include "graphite.hpp"
#include "lineproto.hpp"

#include "dht/json.hpp"
#include "dht/record.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string_view bytes(reinterpret_cast<const char *>(data), size);
    const auto part = [&](std::size_t from, std::size_t n) { return std::string(bytes.substr(std::min(from, size), n)); };
    static dht::JsonParser parser(32);
    dht::Message m;
    m.topic = part(0, 64);
    m.payload = dht::payload_from_bytes(parser, bytes, m.payload_base64);
    if (!m.payload.is_object()) {
        dht::json::object o{{"temperature", 1.5}, {"sensor", dht::json::string(part(0, 64))}};
        o[part(0, 16)] = 2;
        m.payload = std::move(o);
    }
    m.timestamp = dht::now();

    dht::influx::Settings is;
    is.tags = {{part(0, 8), part(8, 8)}};
    is.topic_tags = {"site", "_", "room"};
    is.int_fields = size % 2 == 0;
    is.string_fields = size % 3 == 0;
    dht::influx::Encoder encoder(is);
    std::string line;
    if (encoder.append(line, m)) {
        if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1)
            std::abort();  // one record, one line
    }

    static const dht::graphite::PathTemplate path("dht11.{sensor}.{topic[1]}.{field}");
    dht::graphite::Settings gs;
    gs.tags = size % 2 == 1;
    std::string lines;
    dht::graphite::append_lines(lines, m, path, gs);
    std::size_t start = 0;
    while (start < lines.size()) {
        const auto end = lines.find('\n', start);
        if (end == std::string::npos)
            std::abort();
        const std::string_view l(lines.data() + start, end - start);
        std::size_t spaces = 0;
        for (const char c : l)
            spaces += c == ' ' ? 1U : 0U;
        if (spaces != 2)
            std::abort();  // PATH VALUE EPOCH
        start = end + 1;
    }
    return 0;
}
