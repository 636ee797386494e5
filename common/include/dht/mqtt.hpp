// An MQTT session over libmosquitto: a network thread that connects (brokers in
// order, exponential backoff with jitter, every try logged), renews
// subscriptions on each connect, drains the socket into a queue so the broker
// never has to hold messages for us, and on stop delivers pending QoS 1
// publishes before disconnecting.
#pragma once

#include "dht/cli.hpp"
#include "dht/time.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

struct mosquitto;
struct mqtt5__property;

namespace dht {

// Owns a list of MQTT v5 properties (mosquitto_property_free_all on destruction).
struct PropertiesDeleter {
    void operator()(mqtt5__property *p) const noexcept;
};
using Properties = std::unique_ptr<mqtt5__property, PropertiesDeleter>;

struct MqttMessage {
    std::string topic;
    std::string payload;  // raw bytes
    int qos = 0;
    bool retain = false;
    int mid = 0;
    TimePoint received{};
    Properties properties;  // v5 only; may be null
};

class Session {
public:
    // The first Session of the process initialises libmosquitto.
    explicit Session(const MqttOptions &options);
    ~Session();
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;

    // Starts the network thread (connects, subscribes to options.topics); once.
    void start();

    // Subscribes to one more topic (at options.qos), now when connected, and
    // again on every later connect as to options.topics; any thread.
    void subscribe(const std::string &topic);

    // Moves received messages into `out` (appends). Waits up to `timeout` for
    // the first one; returns false on timeout or when woken by notify().
    bool receive(std::vector<MqttMessage> &out, std::chrono::milliseconds timeout);

    // Queues a publish (thread-safe when options.publish_topic is set, which
    // puts libmosquitto in threaded mode). QoS 1/2 messages are kept across
    // reconnects and delivered before stop() returns.
    void publish(const std::string &topic, std::string_view payload, int qos, bool retain);

    // What became of a publish made with a token: the broker acknowledged it
    // (QoS 1: PUBACK, QoS 2: PUBCOMP; QoS 0: libmosquitto wrote it to the
    // socket), or it was refused (an MQTT 5 reason code of 0x80 or more) or
    // could not be sent at all, each said on stderr.
    struct Outcome {
        std::uint64_t token = 0;
        bool acknowledged = false;
    };
    // publish() with a caller's `token` (not 0), reported once by
    // take_outcomes(). A QoS 1/2 message sent again on reconnect keeps its token.
    void publish(const std::string &topic, std::string_view payload, int qos, bool retain, std::uint64_t token);
    // The outcomes heard since the last call, in the order heard; the caller's
    // thread, any time (after stop() too: the last ones).
    std::vector<Outcome> take_outcomes();

    // Stops intake, waits up to `drain` for unacknowledged publishes, disconnects
    // cleanly and joins the network thread.
    void stop(std::chrono::milliseconds drain = std::chrono::seconds(10));

    // Ends the connection as a crash would: no DISCONNECT, so the broker
    // publishes the last will; what is not yet delivered is lost. Joins the
    // network thread. (dht-sensor-sim's devices that die.)
    void abort();

    // Set when the session cannot go on (connect deadline passed: 69; every
    // broker refused our credentials or protocol: 78). The reason was printed.
    std::optional<int> failure() const;
    bool connected() const;
    std::uint64_t connects() const;
    std::size_t pending_publishes() const;
    // SUBACKs received (one a connection with topics to subscribe to).
    std::uint64_t subscriptions_acknowledged() const;
    // QoS 1/2 publishes the broker refused (MQTT 5 reason codes: not
    // authorized, quota exceeded, …), each said on stderr with its topic. An
    // MQTT 3.1.1 broker drops a refused publish without a word: none counted.
    std::size_t refused_publishes() const;

    // Wakes a receive() in progress (used by signal handling loops).
    void notify();

    struct Impl;  // opaque; public only so that libmosquitto's C callbacks can reach it

private:
    std::unique_ptr<Impl> impl_;
};

// The MQTT 5 properties that -D COMMAND NAME VALUE [VALUE] (options.properties,
// flattened) gives `command` (CMD_CONNECT, …); a bad one is a usage error.
Properties mqtt_properties(const std::vector<std::string> &flat, int command);

// The consumer side of a tool reading MQTT: starts `session`, feeds each
// message to `on_message` (false: stop) and calls `after_batch` after each
// batch, until SIGINT/SIGTERM, a session failure, or `on_tick` (called at least
// every 100 ms) returns an exit status. Messages already acknowledged when the
// session stops are fed too, unless on_message asked to stop. `before_stop`
// runs once intake has ended and while the session can still publish (final
// reports). Returns the exit status: 0, the session's failure, or on_tick's.
int consume(Session &session, const std::function<bool(const MqttMessage &)> &on_message,
            const std::function<void()> &after_batch,
            const std::function<std::optional<int>()> &on_tick = nullptr,
            const std::function<void()> &before_stop = nullptr);

}  // namespace dht
