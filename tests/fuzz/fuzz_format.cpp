// dht-sub's -F format compiler: any text as a format, rendered for a message.
#include "format.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string_view spec(reinterpret_cast<const char *>(data), size);
    try {
        const dht::sub::Format format(spec);
        dht::MqttMessage m;
        m.topic = "dht11/sensor/data";
        m.payload = R"({"temperature":24.50,"humidity":65.30})";
        m.qos = 1;
        m.mid = 7;
        m.received = dht::now();
        std::string out;
        (void)format.render(out, m);
        m.payload = std::string(spec);  // a payload that is not JSON, or is
        out.clear();
        (void)format.render(out, m);
    } catch (const std::invalid_argument &) {
        // A format error: reported at startup, as it should be.
    }
    return 0;
}
