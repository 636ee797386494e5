// Where a tool's messages come from: an MQTT subscription when a flag asks for
// a broker, else message records and bare payloads on stdin. One loop for
// both, with hooks for what a sink needs between messages: flush, commit or
// send while no input waits, wake up after a while to retry, stop early.
// Each message comes calibrated and with the derived fields asked for
// (CommonOptions::readings): raw in a tool that takes neither option.
#pragma once

#include "dht/cli.hpp"
#include "dht/input.hpp"
#include "dht/json.hpp"
#include "dht/record.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace dht {

class MessageSource {
public:
    struct Hooks {
        // Each message, in order.
        std::function<void(const Message &)> message;
        // When set, a stdin line that read_message_text() takes comes here
        // instead of `message`, its payload the text append_json() would
        // write, never parsed. Not with calibration or derived fields, which
        // change payloads: then every message goes to `message`.
        std::function<void(const MessageText &)> message_text;
        // A record of another kind read from stdin (an alert, stats…) with its
        // line; without this hook such records are skipped silently.
        std::function<void(const json::object &record, std::string_view line)> record;
        // When no input is waiting (after each MQTT batch, and at least every
        // 100 ms with a broker; before each wait on stdin) and at the end.
        std::function<void()> idle;
        // stdin: the longest wait for input in ms (-1: until some comes), asked
        // before each wait. A broker is polled every 100 ms anyway.
        std::function<int()> wait_ms;
        // Asked after each stdin record and between MQTT batches: an exit
        // status ends the intake (a destination that refused us for good).
        std::function<std::optional<int>()> stop;
    };

    // `mqtt` must have been through finish_mqtt_options(); `bare_topic` is the
    // topic of bare payloads read from stdin.
    MessageSource(const MqttOptions &mqtt, const CommonOptions &common, std::string bare_topic);

    // Reads to the end of stdin, SIGINT/SIGTERM, a session failure or an exit
    // status from `stop`, which it returns (else the session's failure, else 0).
    // Bad stdin lines are reported as they come (--strict: Exit 65).
    int run(const Hooks &hooks);

    // Reports the stdin record being handled as bad ("stdin:42: WHAT (skipped)").
    void report(std::string_view what) { input_.report(what); }

private:
    int from_broker(const Hooks &hooks);
    int from_stdin(const Hooks &hooks);

    const MqttOptions &mqtt_;
    const CommonOptions &common_;
    std::size_t max_depth_;
    std::string bare_topic_;
    RecordInput input_;
};

}  // namespace dht
