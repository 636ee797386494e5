#include "dht/source.hpp"

#include "dht/diag.hpp"
#include "dht/mqtt.hpp"
#include "dht/signals.hpp"

namespace dht {

MessageSource::MessageSource(const MqttOptions &mqtt, const CommonOptions &common, std::string bare_topic)
    : mqtt_(mqtt), common_(common), max_depth_(common.max_depth), bare_topic_(std::move(bare_topic)), input_(common)
{
}

int MessageSource::run(const Hooks &hooks)
{
    return mqtt_.wants_broker() ? from_broker(hooks) : from_stdin(hooks);
}

int MessageSource::from_broker(const Hooks &h)
{
    Session session(mqtt_);
    JsonParser parser(max_depth_);
    // `stop` is asked between batches: a batch received is acknowledged, so all of it is handed on.
    return consume(
        session,
        [&](const MqttMessage &m) {
            if (!payload_too_long(common_, m.topic, m.payload.size())) {
                auto message = make_message(parser, m.topic, m.payload, m.qos, m.retain, m.received);
                common_.readings.apply(message);
                h.message(message);
            }
            return true;
        },
        [&] {
            if (h.idle)
                h.idle();
        },
        [&]() -> std::optional<int> { return h.stop ? h.stop() : std::nullopt; });
}

int MessageSource::from_stdin(const Hooks &h)
{
    std::optional<int> stopped;
    const auto handled = [&] {
        if (h.stop && !stopped && (stopped = h.stop()))
            request_stop();  // stop reading; what was read is kept
    };
    RecordInput::Handlers handlers{[&](const json::object &record, std::string_view line) {
                                       if (auto m = input_.message(record, bare_topic_)) {
                                           common_.readings.apply(*m);
                                           h.message(*m);
                                       } else if (h.record) {
                                           const auto kind = record_kind(record);
                                           if (kind != RecordKind::message && kind != RecordKind::bare)
                                               h.record(record, line);
                                       }
                                       handled();
                                   },
                                   h.idle, h.wait_ms};
    if (h.message_text && !common_.readings.active()) {
        handlers.line = [&](std::string_view line) {
            MessageText m;
            if (!read_message_text(line, bare_topic_, max_depth_, input_.received(), m))
                return false;
            h.message_text(m);
            handled();
            return true;
        };
    }
    input_.run(handlers);
    return stopped.value_or(exit_ok);
}

}  // namespace dht
