#include "dht/mqtt.hpp"

#include "dht/diag.hpp"
#include "dht/net.hpp"
#include "dht/signals.hpp"
#include "dht/tls_probe.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <unordered_map>

namespace dht {

void PropertiesDeleter::operator()(mqtt5__property *p) const noexcept { mosquitto_property_free_all(&p); }

namespace {

// libmosquitto initialised once for the process, by the first Session made
// (from any thread), and never cleaned up: a session's network thread may
// still run while the process exits, and the kernel frees the rest.
void init_library_once()
{
    static const int rc = mosquitto_lib_init();
    if (rc != MOSQ_ERR_SUCCESS)
        fail(exit_software, cat("cannot initialise libmosquitto: ", mosquitto_strerror(rc)));
}

using steady = std::chrono::steady_clock;

// Received messages held for the consumer before the network thread stops
// reading (and the broker starts queueing for us).
constexpr std::size_t kQueueBytes = 64U * 1024U * 1024U;
// Hand-over from the network thread: a batch this small waits kLinger for more.
constexpr std::size_t kBatch = 256;
constexpr auto kLinger = std::chrono::microseconds(1000);
// A QoS 0 subscriber that has just read a burst this big lets the next one
// gather for kBusyPause before it polls again: one wake-up and a few reads
// for many messages instead of a few. Measured on 200,000 messages against a
// full-speed mosquitto_pub (median of 3): 120.5k msg/s and 5.10 us CPU per
// message without it, 138.8k and 3.55 us with it (mosquitto_sub 130.9k, 5.20).
// Not at QoS 1 or 2: a pause there holds PUBACKs, and with 1 ms the broker's
// queue of 1000 overflowed (126-542 of 100,000 lost); a QoS 0 stream only
// waits in the socket's buffer.
constexpr std::uint64_t kBusyBurst = 32;
constexpr auto kBusyPause = std::chrono::microseconds(200);
// How long one broker gets to accept TCP and answer CONNECT.
constexpr auto kAttemptTimeout = std::chrono::seconds(10);

// A refusal that retrying cannot cure: credentials, protocol or client id.
bool refusal_is_final(int protocol, int rc)
{
    if (protocol == MQTT_PROTOCOL_V5)
        return rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION || rc == MQTT_RC_CLIENTID_NOT_VALID ||
               rc == MQTT_RC_BAD_USERNAME_OR_PASSWORD || rc == MQTT_RC_NOT_AUTHORIZED ||
               rc == MQTT_RC_BAD_AUTHENTICATION_METHOD || rc == MQTT_RC_BANNED;
    return rc == 1 || rc == 2 || rc == 4 || rc == 5;
}

// A -D value as a number of the property's type, else a usage error.
std::uint32_t property_number(const std::string &name, const std::string &text, std::uint32_t most)
{
    char *end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || text.front() == '-' || *end != '\0' || errno != 0 || v > most)
        usage_error(cat("-D: ", name, ": '", text, "' is not a number from 0 to ", most));
    return static_cast<std::uint32_t>(v);
}

std::string refusal_text(int protocol, int rc)
{
    if (protocol == MQTT_PROTOCOL_V5)
        return cat("connection refused: ", mosquitto_reason_string(rc));
    return cat(mosquitto_connack_string(rc));
}

}  // namespace

Properties mqtt_properties(const std::vector<std::string> &flat, int command)
{
    mosquitto_property *list = nullptr;
    Properties owner;
    for (std::size_t i = 0; i < flat.size();) {
        if (i + 3 > flat.size())
            usage_error("-D: COMMAND NAME VALUE (a user-property: NAME KEY VALUE)");
        const std::string &cmd_name = flat[i], &name = flat[i + 1];
        int cmd = 0, id = 0, type = 0;
        if (mosquitto_string_to_command(cmd_name.c_str(), &cmd) != MOSQ_ERR_SUCCESS)
            usage_error(cat("-D: '", cmd_name, "' is not an MQTT command (connect, subscribe, unsubscribe, "
                            "disconnect, will)"));
        if (mosquitto_string_to_property_info(name.c_str(), &id, &type) != MOSQ_ERR_SUCCESS)
            usage_error(cat("-D: '", name, "' is not an MQTT 5 property"));
        if (mosquitto_property_check_command(cmd, id) != MOSQ_ERR_SUCCESS ||
            (cmd == CMD_SUBSCRIBE && id != MQTT_PROP_SUBSCRIPTION_IDENTIFIER && id != MQTT_PROP_USER_PROPERTY))
            usage_error(cat("-D: the ", name, " property is not allowed in ", cmd_name));
        if (cmd != CMD_CONNECT && cmd != CMD_SUBSCRIBE && cmd != CMD_UNSUBSCRIBE && cmd != CMD_DISCONNECT &&
            cmd != CMD_WILL)
            usage_error(cat("-D: properties of ", cmd_name, " are not supported"));
        const bool pair = id == MQTT_PROP_USER_PROPERTY;
        if (pair && i + 4 > flat.size())
            usage_error("-D: a user-property takes a KEY and a VALUE");
        const std::string &value = flat[i + (pair ? 3 : 2)];
        i += pair ? 4 : 3;
        if (cmd != command)
            continue;
        int rc = MOSQ_ERR_SUCCESS;
        switch (type) {
        case MQTT_PROP_TYPE_BYTE:
            rc = mosquitto_property_add_byte(&list, id, static_cast<std::uint8_t>(property_number(name, value, 255)));
            break;
        case MQTT_PROP_TYPE_INT16:
            rc = mosquitto_property_add_int16(&list, id,
                                              static_cast<std::uint16_t>(property_number(name, value, 65535)));
            break;
        case MQTT_PROP_TYPE_INT32:
            rc = mosquitto_property_add_int32(&list, id, property_number(name, value, UINT32_MAX));
            break;
        case MQTT_PROP_TYPE_VARINT:
            rc = mosquitto_property_add_varint(&list, id, property_number(name, value, 268435455));
            break;
        case MQTT_PROP_TYPE_BINARY:
            if (value.size() > 65535)
                usage_error(cat("-D: ", name, ": value too long"));
            rc = mosquitto_property_add_binary(&list, id, value.data(), static_cast<std::uint16_t>(value.size()));
            break;
        case MQTT_PROP_TYPE_STRING: rc = mosquitto_property_add_string(&list, id, value.c_str()); break;
        case MQTT_PROP_TYPE_STRING_PAIR:
            rc = mosquitto_property_add_string_pair(&list, id, flat[i - 2].c_str(), value.c_str());
            break;
        default: rc = MOSQ_ERR_NOT_SUPPORTED;
        }
        owner.release();
        owner.reset(list);
        if (rc != MOSQ_ERR_SUCCESS)
            usage_error(cat("-D ", cmd_name, ' ', name, ": ", mosquitto_strerror(rc)));
    }
    return owner;
}

struct Session::Impl {
    explicit Impl(const MqttOptions &o) : opt(o), backoff(o.reconnect_max) {}
    ~Impl()
    {
        if (wake_fd >= 0)
            ::close(wake_fd);
    }
    Impl(const Impl &) = delete;
    Impl &operator=(const Impl &) = delete;

    MqttOptions opt;
    mosquitto *mosq = nullptr;
    mosquitto_property *connect_props = nullptr;
    Properties subscribe_props, unsubscribe_props, disconnect_props;
    std::atomic<std::uint64_t> subacks{0};
    // SUBSCRIBE packets sent (network thread); above subacks, some are
    // unanswered. Set back to subacks when a connection ends.
    std::uint64_t subscribes_sent = 0;
    std::thread thread;

    mutable std::mutex mu;
    std::condition_variable cv_in;     // consumer: messages arrived
    std::condition_variable cv_space;  // network: the queue has room again
    std::condition_variable cv_net;    // network: stop requested
    // Wakes wait_and_read()'s poll when a stop or a subscription is
    // requested, which would otherwise wait out its 100 ms (dht-sub -C 1
    // ended 100 ms after its message).
    int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    void wake() const noexcept
    {
        const std::uint64_t one = 1;
        if (wake_fd >= 0)
            [[maybe_unused]] const auto n = ::write(wake_fd, &one, sizeof one);  // full: a wake-up is pending anyway
    }
    // Once stop_net is set: wakes the network thread wherever it waits, and waits for it to end.
    void join_network()
    {
        cv_net.notify_all();
        cv_space.notify_all();
        wake();
        thread.join();
    }
    std::vector<MqttMessage> queue;
    std::size_t queued_bytes = 0;
    // Publishes made while no broker is connected, sent after the next CONNACK.
    struct Outgoing {
        std::string topic, payload;
        int qos;
        bool retain;
        std::uint64_t token = 0;  // Session::Outcome's; 0: none wanted
    };
    std::deque<Outgoing> outbox;
    std::atomic<bool> outbox_waiting{false};
    // Topics subscribed to after start() (Session::subscribe), and how many of
    // them the current connection has subscribed to (network thread).
    std::vector<std::string> more_topics;
    std::size_t more_subscribed = 0;
    std::atomic<bool> subscribe_waiting{false};
    bool woken = false;
    bool stop_net = false;
    bool abort_net = false;  // with stop_net: drop the connection without DISCONNECT
    std::optional<int> failure;
    // libmosquitto's threaded mode: another thread publishes through `mosq`.
    bool threaded = false;
    // Network thread only: messages read so far.
    std::uint64_t messages_read = 0;

    std::atomic<bool> is_connected{false};
    std::atomic<std::uint64_t> connect_count{0};
    std::atomic<std::size_t> pending{0};
    std::atomic<std::size_t> refused{0};

    // Every publish libmosquitto took, by message id, until it is answered:
    // its topic names a refused one, its token goes to take_outcomes(). An
    // answer heard before send() noted its id (libmosquitto's network thread
    // may answer before mosquitto_publish returns) waits in `early`.
    struct InFlight {
        std::string topic;
        std::uint64_t token = 0;
    };
    std::mutex mids_mu;
    std::unordered_map<int, InFlight> in_flight;
    std::unordered_map<int, int> early;
    std::vector<Session::Outcome> outcomes;

    void refused_publish(const std::string &topic, int reason)
    {
        refused.fetch_add(1);
        warn(cat("the broker refused a publish to ", topic, ": ", mosquitto_reason_string(reason)));
    }

    // Network thread only.
    enum class Conn { idle, awaiting_connack, up };
    Conn conn = Conn::idle;
    int connack_rc = -1;
    std::string last_log_error;
    Backoff backoff;

    void set_failure(int code)
    {
        std::lock_guard lk(mu);
        if (!failure)
            failure = code;
        cv_in.notify_all();
    }

    bool stopping()
    {
        std::lock_guard lk(mu);
        return stop_net;
    }

    // Sleeps up to `d`; false when a stop was requested meanwhile.
    bool sleep_for(std::chrono::nanoseconds d)
    {
        std::unique_lock lk(mu);
        return !cv_net.wait_for(lk, d, [this] { return stop_net; });
    }

    std::string loop_error(int rc)
    {
        std::string why;
        if (rc == MOSQ_ERR_ERRNO)
            why = std::strerror(errno);
        else if (rc == MOSQ_ERR_CONN_LOST)
            why = "connection lost";
        else
            why = mosquitto_strerror(rc);
        if (!last_log_error.empty()) {
            why += " (" + last_log_error + ")";
            last_log_error.clear();
        }
        return why;
    }

    // One turn of the network loop: wait for the socket, read every packet
    // waiting on it, write what is queued, keep the connection alive.
    int read_burst()
    {
        const int sock = mosquitto_socket(mosq);
        const bool own_wait = sock >= 0 && !threaded && !opt.tls && !opt.psk_mode;
        const auto burst_start = messages_read;
        int rc = own_wait ? wait_and_read(sock) : mosquitto_loop(mosq, 100, 1);
        // The socket is non-blocking: reading on until a read brings no
        // message costs one read that finds nothing, where asking FIONREAD
        // before each packet cost a system call per message. At QoS 1 and 2
        // each message read is answered at once (PUBACK, PUBREC), a TCP
        // segment each, a third of dht-sub's cycles at QoS 1; corked, the
        // answers to a burst leave together.
        bool corked = false;
        if (int waiting = 0;
            rc == MOSQ_ERR_SUCCESS && sock >= 0 && ::ioctl(sock, FIONREAD, &waiting) == 0 && waiting > 0) {
            corked = opt.qos > 0 && set_cork(sock, true);
            for (int i = 0; i < 1024 && rc == MOSQ_ERR_SUCCESS; ++i) {
                const auto before = messages_read;
                rc = mosquitto_loop_read(mosq, 1);
                if (messages_read == before)
                    break;  // nothing waiting, or a packet that is not a message
            }
        }
        if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(mosq))
            rc = mosquitto_loop_write(mosq, 1);
        if (corked && mosquitto_socket(mosq) == sock)  // not closed meanwhile (a lost connection)
            set_cork(sock, false);
        if (rc == MOSQ_ERR_SUCCESS && own_wait)
            rc = mosquitto_loop_misc(mosq);  // keepalive, as mosquitto_loop() does
        if (rc == MOSQ_ERR_SUCCESS && own_wait && opt.qos == 0 && messages_read - burst_start >= kBusyBurst)
            std::this_thread::sleep_for(kBusyPause);
        // A tool that publishes ACKs what it read now, not after the kernel's
        // delayed-ACK timer: a broker without set_tcp_nodelay holds its next
        // packet to us (Nagle) until that ACK, up to 40 ms later, whenever it
        // has just answered one of our publishes.
        if (sock >= 0 && !opt.publish_topic.empty()) {
            const int one = 1;
            ::setsockopt(sock, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
        }
        return rc;
    }

    static bool set_cork(int sock, bool on)
    {
        const int v = on ? 1 : 0;
        return ::setsockopt(sock, IPPROTO_TCP, TCP_CORK, &v, sizeof v) == 0;
    }

    // mosquitto_loop() without its select() on libmosquitto's wake-up socket
    // pair, for a client no other thread publishes through (and without TLS,
    // whose buffered records mosquitto_loop() knows of). libmosquitto
    // writes a byte to that pair for every packet it queues (a PUBACK for each
    // QoS 1 message) and mosquitto_loop() reads one back each turn: a unix
    // socket send and receive per message, 11 % of dht-sub's cycles at QoS 1.
    // Unread, the pair fills and those writes fail at once; the pair only
    // wakes a loop that another thread publishes through, and there is none.
    int wait_and_read(int sock)
    {
        pollfd p[2] = {{sock, static_cast<short>(POLLIN | (mosquitto_want_write(mosq) ? POLLOUT : 0)), 0},
                       {wake_fd, POLLIN, 0}};
        if (::poll(p, wake_fd >= 0 ? 2 : 1, 100) < 0)
            return errno == EINTR ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ERRNO;
        if ((p[1].revents & POLLIN) != 0) {
            std::uint64_t n = 0;
            [[maybe_unused]] const auto got = ::read(wake_fd, &n, sizeof n);
        }
        if ((p[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0)
            return mosquitto_loop_read(mosq, 1);
        return MOSQ_ERR_SUCCESS;
    }

    void subscribe(const std::string &topic)
    {
        const int rc = mosquitto_subscribe_v5(mosq, nullptr, topic.c_str(), opt.qos, opt.subscribe_options,
                                              subscribe_props.get());
        if (rc != MOSQ_ERR_SUCCESS)
            warn(cat("subscribe ", topic, ": ", mosquitto_strerror(rc)));
        else
            ++subscribes_sent;
    }

    // Network thread, connected: subscribes to the topics added since.
    void subscribe_more()
    {
        std::vector<std::string> added;
        {
            std::lock_guard lk(mu);
            subscribe_waiting = false;
            added.assign(more_topics.begin() + static_cast<std::ptrdiff_t>(more_subscribed), more_topics.end());
            more_subscribed = more_topics.size();
        }
        for (const auto &topic : added)
            subscribe(topic);
    }

    // Network thread, connected: hands the outbox to libmosquitto.
    void flush_outbox()
    {
        std::deque<Outgoing> batch;
        {
            std::lock_guard lk(mu);
            batch.swap(outbox);
            outbox_waiting = false;
        }
        for (auto &m : batch)
            send(m);
    }

    // Publishes through libmosquitto. A QoS 1/2 message refused for want of a
    // connection stays in libmosquitto's own queue and goes out on reconnect; a
    // QoS 0 one is kept in the outbox.
    void send(Outgoing &m)
    {
        int mid = 0;
        const int rc = mosquitto_publish_v5(mosq, &mid, m.topic.c_str(), static_cast<int>(m.payload.size()),
                                            m.payload.data(), m.qos, m.retain, nullptr);
        if (rc == MOSQ_ERR_SUCCESS || (rc == MOSQ_ERR_NO_CONN && m.qos > 0)) {
            note_mid(mid, m);
            return;
        }
        if (rc == MOSQ_ERR_NO_CONN) {
            std::lock_guard lk(mu);
            outbox.push_back(std::move(m));
            outbox_waiting = true;
            return;
        }
        pending.fetch_sub(1);
        warn(cat("publish to ", m.topic, ": ", mosquitto_strerror(rc)));
        if (m.token != 0) {
            std::lock_guard lk(mids_mu);
            outcomes.push_back({m.token, false});
        }
    }

    void note_mid(int mid, const Outgoing &m)
    {
        std::optional<int> reason;
        {
            std::lock_guard lk(mids_mu);
            if (const auto r = early.find(mid); r != early.end()) {
                reason = r->second;
                early.erase(r);
                if (m.token != 0)
                    outcomes.push_back({m.token, *reason < 0x80});
            } else {
                in_flight[mid] = {m.topic, m.token};
            }
        }
        if (reason && *reason >= 0x80)
            refused_publish(m.topic, *reason);
    }

    // A PUBACK or PUBCOMP for `mid` (or a QoS 0 publish written): MQTT 5 says
    // in `reason` whether the broker took the message (below 0x80) or refused
    // it; MQTT 3.1.1 always says 0.
    void acknowledged(int mid, int reason)
    {
        InFlight m;
        {
            std::lock_guard lk(mids_mu);
            const auto t = in_flight.find(mid);
            if (t == in_flight.end()) {
                early[mid] = reason;  // answered before send() noted it
                return;
            }
            m = std::move(t->second);
            in_flight.erase(t);
            if (m.token != 0)
                outcomes.push_back({m.token, reason < 0x80});
        }
        if (reason >= 0x80)
            refused_publish(m.topic, reason);
    }

    void run();
    bool attempt(const Broker &b, steady::time_point deadline, std::string &error, bool &final_refusal);
    void explain_lost(const Broker &b, int rc, int err, std::chrono::milliseconds budget, std::string &error,
                      bool &final_refusal);
    void shutdown_connection();
};

namespace {

void on_connect(mosquitto *, void *obj, int rc, int, const mosquitto_property *)
{
    auto *s = static_cast<Session::Impl *>(obj);
    s->connack_rc = rc;
    if (rc != 0)
        return;
    s->conn = Session::Impl::Conn::up;
    for (const auto &topic : s->opt.topics)
        s->subscribe(topic);
    {
        std::lock_guard lk(s->mu);
        s->more_subscribed = 0;
    }
    s->subscribe_more();
    for (const auto &topic : s->opt.unsubscribe) {
        const int src = mosquitto_unsubscribe_v5(s->mosq, nullptr, topic.c_str(), s->unsubscribe_props.get());
        if (src != MOSQ_ERR_SUCCESS)
            warn(cat("unsubscribe ", topic, ": ", mosquitto_strerror(src)));
    }
}

void on_subscribe(mosquitto *, void *obj, int, int count, const int *granted, const mosquitto_property *)
{
    static_cast<Session::Impl *>(obj)->subacks.fetch_add(1);
    for (int i = 0; i < count; ++i)
        if (granted[i] >= 0x80)
            warn("the broker refused a subscription (check the topic and the ACL)");
}

void on_message(mosquitto *, void *obj, const mosquitto_message *m, const mosquitto_property *props)
{
    auto *s = static_cast<Session::Impl *>(obj);
    ++s->messages_read;
    MqttMessage msg;
    msg.topic = m->topic;
    if (m->payloadlen > 0)
        msg.payload.assign(static_cast<const char *>(m->payload), static_cast<std::size_t>(m->payloadlen));
    msg.qos = m->qos;
    msg.retain = m->retain;
    msg.mid = m->mid;
    msg.received = now();
    if (props != nullptr) {
        mosquitto_property *copy = nullptr;
        if (mosquitto_property_copy_all(&copy, props) == MOSQ_ERR_SUCCESS)
            msg.properties.reset(copy);
    }
    const std::size_t size = msg.topic.size() + msg.payload.size() + sizeof(MqttMessage);
    std::unique_lock lk(s->mu);
    // Backpressure: past the cap, stop reading until the consumer catches up.
    s->cv_space.wait(lk, [s] { return s->queued_bytes < kQueueBytes || s->stop_net; });
    // The consumer waits only for an empty queue: a wake-up per batch, not per message.
    const bool was_empty = s->queue.empty();
    s->queue.push_back(std::move(msg));
    s->queued_bytes += size;
    if (was_empty)
        s->cv_in.notify_one();
}

void on_publish(mosquitto *, void *obj, int mid, int reason, const mosquitto_property *)
{
    auto *s = static_cast<Session::Impl *>(obj);
    s->acknowledged(mid, reason);
    s->pending.fetch_sub(1);
}

void on_disconnect(mosquitto *, void *obj, int, const mosquitto_property *)
{
    auto *s = static_cast<Session::Impl *>(obj);
    s->is_connected = false;
}

void on_log(mosquitto *, void *obj, int level, const char *text)
{
    auto *s = static_cast<Session::Impl *>(obj);
    if (level == MOSQ_LOG_ERR || level == MOSQ_LOG_WARNING)
        s->last_log_error = text;
    if (verbosity() >= 2)
        warn(cat("libmosquitto: ", text));
}

}  // namespace

bool Session::Impl::attempt(const Broker &b, steady::time_point deadline, std::string &error, bool &final_refusal)
{
    final_refusal = false;
    auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
    budget = std::clamp(budget, std::chrono::milliseconds(100), std::chrono::milliseconds(kAttemptTimeout));
    std::string host = b.host;
    // A TCP connect with a deadline first: libmosquitto's own blocks for minutes
    // on a host that drops SYNs. (Not to a unix socket, nor past a proxy, which
    // libmosquitto reaches itself.)
    if (opt.unix_socket.empty() && opt.proxy_host.empty()) {
        const int probe = tcp_connect(b, budget, error);
        if (probe < 0)
            return false;
        // Without TLS, libmosquitto gets the very address that answered (a name
        // with a dead IPv6 address and a live IPv4 one would block it again);
        // with TLS it needs the name to check the certificate.
        if (std::string address = opt.tls ? std::string() : peer_address(probe); !address.empty())
            host = std::move(address);
        ::close(probe);
    }
    last_log_error.clear();
    connack_rc = -1;
    const char *bind = opt.bind_address.empty() ? nullptr : opt.bind_address.c_str();
    const int rc = mosquitto_connect_bind_v5(mosq, host.c_str(), b.port, opt.keepalive, bind, connect_props);
    if (rc != MOSQ_ERR_SUCCESS) {
        const int err = errno;
        error = loop_error(rc);
        explain_lost(b, rc, err, budget, error, final_refusal);
        return false;
    }
    conn = Conn::awaiting_connack;
    const auto until = std::min(deadline, steady::now() + kAttemptTimeout);
    while (conn == Conn::awaiting_connack) {
        const int lrc = mosquitto_loop(mosq, 100, 1);
        if (connack_rc > 0) {
            error = refusal_text(opt.protocol_version, connack_rc);
            final_refusal = refusal_is_final(opt.protocol_version, connack_rc);
        } else if (lrc != MOSQ_ERR_SUCCESS) {
            const int err = errno;
            error = loop_error(lrc);
            explain_lost(b, lrc, err, budget, error, final_refusal);
        } else if (steady::now() >= until) {
            error = "no CONNACK from the broker in time";
        } else if (stopping()) {
            error = "stopped";
        } else {
            continue;
        }
        mosquitto_disconnect(mosq);
        mosquitto_loop(mosq, 10, 1);
        conn = Conn::idle;
        return false;
    }
    return true;
}

// A connection that failed before its CONNACK (libmosquitto's `rc`, errno
// `err`): a TLS failure or a port that speaks TLS to a plain client is looked
// into with a handshake of our own, and when retrying cannot cure it, `error`
// says why and which flag fixes it and `final_refusal` is set. What may pass
// (no answer, a broker restarting) stays a plain error, retried.
void Session::Impl::explain_lost(const Broker &b, int rc, int err, std::chrono::milliseconds budget,
                                 std::string &error, bool &final_refusal)
{
    const bool closed = rc == MOSQ_ERR_CONN_LOST || (rc == MOSQ_ERR_ERRNO && (err == ECONNRESET || err == EPIPE));
    if (opt.psk_mode) {
        // A TLS-PSK handshake fails only on the key, the identity or the
        // ciphers: retrying cannot cure it.
        if (rc == MOSQ_ERR_TLS || (rc == MOSQ_ERR_ERRNO && err == EPROTO)) {
            error = cat("the TLS-PSK handshake failed (", error, "): check --psk, --psk-identity and --ciphers");
            final_refusal = true;
        }
        return;
    }
    if (opt.tls) {
        // A client certificate refused after a TLS 1.3 handshake reads as a
        // lost connection or as EPROTO, libmosquitto's errno for a TLS error.
        if (rc != MOSQ_ERR_TLS && rc != MOSQ_ERR_PROTOCOL && !(rc == MOSQ_ERR_ERRNO && err == EPROTO) && !closed)
            return;
        if (auto why = tls_fault(b, opt, budget); !why.empty()) {
            error = std::move(why);
            final_refusal = true;
        }
        return;
    }
    if (!closed)
        return;
    if (speaks_tls(b, budget)) {
        error = "this port speaks TLS (it closed the connection at the MQTT CONNECT): connect with --cafile, "
                "--capath or --tls-use-os-certs, or to the broker's plain port";
        final_refusal = true;
    } else if (opt.protocol_version == MQTT_PROTOCOL_V5) {
        error = cat("the broker closed the connection without a CONNACK (", error,
                    "): it may not speak MQTT 5; try -V 311");
    }
}

void Session::Impl::run()
{
    const std::size_t n = opt.brokers.size();
    std::size_t index = 0;    // the broker to try next
    std::size_t current = 0;  // the broker connected to
    unsigned round = 0;         // failed rounds since the last connection
    std::size_t final_refusals = 0;  // in this round
    auto down_since = steady::now();
    auto connected_at = steady::now();
    bool was_connected = false;
    // Connections a broker ended soon after accepting them (a client with our
    // id kicking us out, a broker refusing what we send): the backoff carries
    // on across them instead of starting again, so that such a broker is not
    // hammered, and the same protocol error on every one of them ends the
    // session.
    constexpr auto stable = std::chrono::seconds(10);
    constexpr unsigned most_protocol_drops = 5;
    unsigned protocol_drops = 0;

    while (!stopping()) {
        if (conn == Conn::idle) {
            const Broker &b = opt.brokers[index];
            auto deadline = steady::time_point::max();
            if (opt.connect_timeout) {
                deadline = down_since + std::chrono::duration_cast<steady::duration>(*opt.connect_timeout);
                if (steady::now() >= deadline) {
                    warn(cat("no broker reachable within ", seconds_text(*opt.connect_timeout)));
                    set_failure(exit_unavailable);
                    break;
                }
            }
            debug(cat("connecting to ", b.label()));
            std::string error;
            bool final_refusal = false;
            if (attempt(b, deadline, error, final_refusal)) {
                is_connected = true;
                connect_count.fetch_add(1);
                if (round > 0 || index > 0 || was_connected)
                    warn(cat("connected to ", b.label()));
                else
                    debug(cat("connected to ", b.label()));
                was_connected = true;
                round = 0;
                connected_at = steady::now();
                current = index;
                index = 0;  // after a loss, the first broker is tried first again
                final_refusals = 0;
                continue;
            }
            if (stopping())
                break;
            if (final_refusal)
                ++final_refusals;
            index = (index + 1) % n;
            if (index != 0) {
                warn(cat(b.label(), ": ", error, "; trying ", opt.brokers[index].label()));
                continue;
            }
            if (final_refusals == n) {  // each broker failed in a way retrying cannot cure
                if (n == 1) {
                    warn(cat(b.label(), ": ", error, "; not retrying"));
                } else {
                    warn(cat(b.label(), ": ", error));
                    warn("every broker refused this client; not retrying");
                }
                set_failure(exit_config);
                break;
            }
            final_refusals = 0;
            ++round;
            auto delay = backoff.next();
            if (deadline != steady::time_point::max())  // never sleep past --connect-timeout
                delay = std::min(delay, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            std::max(deadline - steady::now(), steady::duration::zero())));
            warn(cat(b.label(), ": ", error, "; next try in ", seconds_text(delay)));
            if (!sleep_for(delay))
                break;
            continue;
        }
        if (outbox_waiting)
            flush_outbox();
        if (subscribe_waiting)
            subscribe_more();
        const int rc = read_burst();
        if (rc != MOSQ_ERR_SUCCESS) {
            if (stopping())
                break;
            conn = Conn::idle;
            is_connected = false;
            down_since = steady::now();
            const bool unanswered = subscribes_sent > subacks.load();
            subscribes_sent = subacks.load();
            if (down_since - connected_at >= stable) {
                backoff.reset();
                protocol_drops = 0;
                warn(cat(opt.brokers[current].label(), ": ", loop_error(rc), "; reconnecting"));
                continue;
            }
            // A broker that answers what this client sends by closing the
            // connection (a protocol error; or a QoS it does not allow, which
            // mosquitto's max_qos answers with a bare close while a publish
            // is in flight; or a subscription or publish its permissions
            // refuse, which RabbitMQ answers with a bare close) does the same
            // on every connection.
            const bool protocol =
                rc == MOSQ_ERR_PROTOCOL || rc == MOSQ_ERR_MALFORMED_PACKET || pending.load() > 0 || unanswered;
            protocol_drops = protocol ? protocol_drops + 1 : 0;
            if (protocol_drops >= most_protocol_drops) {
                warn(cat(opt.brokers[current].label(), ": ", loop_error(rc), " right after connecting, ",
                         protocol_drops, " times in a row",
                         unanswered              ? ", with a subscription unanswered"
                         : pending.load() > 0    ? ", with a publish in flight"
                                                 : "",
                         ": the broker does not accept what this client sends (check the account's topic "
                         "permissions or ACL; or try another -V or QoS); not retrying"));
                set_failure(exit_unavailable);
                break;
            }
            auto delay = backoff.next();
            if (opt.connect_timeout)  // never sleep past --connect-timeout
                delay = std::min(delay, *opt.connect_timeout);
            warn(cat(opt.brokers[current].label(), ": ", loop_error(rc), " ",
                     seconds_text(down_since - connected_at), " after connecting; reconnecting in ", seconds_text(delay)));
            if (!sleep_for(delay))
                break;
        }
    }
    shutdown_connection();
}

void Session::Impl::shutdown_connection()
{
    bool drop = false;
    {
        std::lock_guard lk(mu);
        drop = abort_net;
    }
    if (conn != Conn::idle && drop) {
        // The broker sees the connection end without a DISCONNECT and
        // publishes the last will; mosquitto_destroy() closes the socket.
        if (const int sock = mosquitto_socket(mosq); sock >= 0)
            ::shutdown(sock, SHUT_RDWR);
        conn = Conn::idle;
    }
    if (conn != Conn::idle) {
        mosquitto_disconnect_v5(mosq, 0, disconnect_props.get());
        // The DISCONNECT is written by the loop (threaded mode).
        for (int i = 0; i < 20 && mosquitto_loop(mosq, 50, 1) == MOSQ_ERR_SUCCESS; ++i) {
        }
        conn = Conn::idle;
    }
    is_connected = false;
}

namespace {

// What mosquitto_sub sets beyond certificates: cipher list and TLS version,
// a pre-shared key, ALPN, a key in an OpenSSL engine. A value libmosquitto
// refuses is a usage error.
void setup_tls_extras(mosquitto *mosq, const MqttOptions &o)
{
    const auto str = [](const std::string &v) { return v.empty() ? nullptr : v.c_str(); };
    // libmosquitto 2.0.11 keeps one copy of the ciphers: mosquitto_tls_opts_set
    // sets it (to null when given none) and mosquitto_tls_psk_set overwrites
    // it, neither freeing the one before. So the options first, with the
    // ciphers only without --psk, then the PSK with them: nothing leaks and
    // nothing is lost.
    if ((o.tls || o.psk_mode) && (!o.tls_version.empty() || !o.ciphers.empty()) &&
        mosquitto_tls_opts_set(mosq, 1, str(o.tls_version), o.psk_mode ? nullptr : str(o.ciphers)) != MOSQ_ERR_SUCCESS)
        usage_error("--tls-version/--ciphers: libmosquitto refused them");
    if (o.psk_mode && mosquitto_tls_psk_set(mosq, o.psk.c_str(), o.psk_identity.c_str(), str(o.ciphers)) !=
                          MOSQ_ERR_SUCCESS)
        usage_error("--psk: libmosquitto refused the key or identity");
    const std::pair<int, const std::string *> strings[] = {
        {MOSQ_OPT_TLS_ENGINE, &o.tls_engine},
        {MOSQ_OPT_TLS_KEYFORM, &o.keyform},
        {MOSQ_OPT_TLS_ENGINE_KPASS_SHA1, &o.tls_engine_kpass_sha1},
        {MOSQ_OPT_TLS_ALPN, &o.tls_alpn},
    };
    const char *flags[] = {"--tls-engine", "--keyform", "--tls-engine-kpass-sha1", "--tls-alpn"};
    for (std::size_t i = 0; i < std::size(strings); ++i)
        if (!strings[i].second->empty()) {
            const int rc = mosquitto_string_option(mosq, static_cast<mosq_opt_t>(strings[i].first),
                                                   strings[i].second->c_str());
            if (rc != MOSQ_ERR_SUCCESS)
                usage_error(cat(flags[i], " '", *strings[i].second, "': ", mosquitto_strerror(rc)));
        }
}

}  // namespace

Session::Session(const MqttOptions &options) : impl_(std::make_unique<Impl>(options))
{
    init_library_once();
    auto &s = *impl_;
    s.mosq = mosquitto_new(s.opt.client_id.c_str(), !s.opt.persistent, &s);
    if (s.mosq == nullptr)
        fail(exit_software, cat("cannot create an MQTT client: ", std::strerror(errno)));
    // No destructor runs for a Session whose constructor throws (a flag
    // libmosquitto refuses): the client is freed here then.
    try {
        // Only a tool that publishes from its own thread needs libmosquitto's
        // threaded mode; without it, PUBACKs for received messages go out at once
        // instead of a loop turn later, and the broker's window moves faster.
        s.threaded = !s.opt.publish_topic.empty() || s.opt.publishes;
        mosquitto_threaded_set(s.mosq, s.threaded);
        mosquitto_int_option(s.mosq, MOSQ_OPT_PROTOCOL_VERSION, s.opt.protocol_version);
        // Every MQTT packet goes out when written. For a subscriber at QoS 1,
        // Nagle's algorithm held PUBACKs back, the broker's window of messages in
        // flight filled, and past its queue limit it dropped messages (measured:
        // 9 to 29 % of 100000 lost with Nagle, none without). For a tool that
        // publishes, it held a second small publish (an escalation after its
        // "opened") until the broker's delayed ACK, up to 40 ms.
        mosquitto_int_option(s.mosq, MOSQ_OPT_TCP_NODELAY, 1);
        mosquitto_max_inflight_messages_set(s.mosq, static_cast<unsigned>(s.opt.max_inflight));
        mosquitto_connect_v5_callback_set(s.mosq, on_connect);
        mosquitto_subscribe_v5_callback_set(s.mosq, on_subscribe);
        mosquitto_message_v5_callback_set(s.mosq, on_message);
        mosquitto_publish_v5_callback_set(s.mosq, on_publish);
        mosquitto_disconnect_v5_callback_set(s.mosq, on_disconnect);
        mosquitto_log_callback_set(s.mosq, on_log);

        if (!s.opt.username.empty() &&
            mosquitto_username_pw_set(s.mosq, s.opt.username.c_str(),
                                      s.opt.password.empty() ? nullptr : s.opt.password.c_str()) != MOSQ_ERR_SUCCESS)
            usage_error("bad username or password (not UTF-8?)");
        if (s.opt.tls) {
            for (const auto *file : {&s.opt.cafile, &s.opt.certfile, &s.opt.keyfile})
                if (!file->empty() && !std::ifstream(*file))
                    fail(exit_noinput, cat(*file, ": ", std::strerror(errno)));
            const auto str = [](const std::string &v) { return v.empty() ? nullptr : v.c_str(); };
            if (!s.opt.cafile.empty() || !s.opt.capath.empty()) {
                const int rc = mosquitto_tls_set(s.mosq, str(s.opt.cafile), str(s.opt.capath), str(s.opt.certfile),
                                                 str(s.opt.keyfile), nullptr);
                if (rc != MOSQ_ERR_SUCCESS)
                    usage_error(cat("TLS setup: ", mosquitto_strerror(rc)));
            }
            mosquitto_tls_insecure_set(s.mosq, s.opt.insecure);
        }
        setup_tls_extras(s.mosq, s.opt);
        if (!s.opt.proxy_host.empty()) {
            const auto str = [](const std::string &v) { return v.empty() ? nullptr : v.c_str(); };
            if (const int rc = mosquitto_socks5_set(s.mosq, s.opt.proxy_host.c_str(), s.opt.proxy_port,
                                                    str(s.opt.proxy_user), str(s.opt.proxy_password));
                rc != MOSQ_ERR_SUCCESS)
                usage_error(cat("--proxy: ", mosquitto_strerror(rc)));
        }
        if (!s.opt.will_topic.empty()) {
            // libmosquitto takes the will's properties over on success only.
            Properties props = mqtt_properties(s.opt.properties, CMD_WILL);
            const int rc = mosquitto_will_set_v5(s.mosq, s.opt.will_topic.c_str(),
                                                 static_cast<int>(s.opt.will_payload.size()), s.opt.will_payload.data(),
                                                 s.opt.will_qos, s.opt.will_retain, props.get());
            if (rc != MOSQ_ERR_SUCCESS)
                usage_error(cat("last will: ", mosquitto_strerror(rc)));
            static_cast<void>(props.release());
        }
        s.connect_props = mqtt_properties(s.opt.properties, CMD_CONNECT).release();
        s.subscribe_props = mqtt_properties(s.opt.properties, CMD_SUBSCRIBE);
        s.unsubscribe_props = mqtt_properties(s.opt.properties, CMD_UNSUBSCRIBE);
        s.disconnect_props = mqtt_properties(s.opt.properties, CMD_DISCONNECT);
        if (s.opt.protocol_version == MQTT_PROTOCOL_V5 && s.opt.session_expiry_seconds > 0)
            mosquitto_property_add_int32(&s.connect_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                         s.opt.session_expiry_seconds);
    } catch (...) {
        mosquitto_property_free_all(&s.connect_props);
        mosquitto_destroy(s.mosq);
        throw;
    }
}

Session::~Session()
{
    stop(std::chrono::milliseconds(0));
    mosquitto_property_free_all(&impl_->connect_props);
    mosquitto_destroy(impl_->mosq);
}

void Session::start()
{
    if (impl_->thread.joinable())
        return;  // started already
    set_log_time(true);  // a daemon from here on: its log lines say when
    if (impl_->opt.protocol_version != MQTT_PROTOCOL_V5)
        debug("MQTT 3.1.1: a broker drops a publish it refuses (its ACL) without a word; -V 5 hears of it");
    // The network thread takes no signals: they go to the thread that polls the flags.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    impl_->thread = std::thread([this] { impl_->run(); });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

bool Session::receive(std::vector<MqttMessage> &out, std::chrono::milliseconds timeout)
{
    auto &s = *impl_;
    std::unique_lock lk(s.mu);
    // A zero timeout only looks: waiting on the condition even for 0 ms costs a
    // system call and a context switch.
    if (timeout.count() > 0 && s.queue.empty() && !s.woken && !s.failure)
        s.cv_in.wait_for(lk, timeout, [&s] { return !s.queue.empty() || s.woken || s.failure; });
    s.woken = false;
    if (s.queue.empty())
        return false;
    if (s.queue.size() < kBatch) {
        // Let a burst gather: one hand-over per batch instead of a futex wake
        // and a context switch per message. A quiet stream waits 1 ms more.
        lk.unlock();
        std::this_thread::sleep_for(kLinger);
        lk.lock();
    }
    if (out.empty()) {
        out.swap(s.queue);
    } else {
        std::move(s.queue.begin(), s.queue.end(), std::back_inserter(out));
        s.queue.clear();
    }
    s.queued_bytes = 0;
    s.cv_space.notify_all();
    return true;
}

void Session::publish(const std::string &topic, std::string_view payload, int qos, bool retain)
{
    publish(topic, payload, qos, retain, 0);
}

void Session::publish(const std::string &topic, std::string_view payload, int qos, bool retain, std::uint64_t token)
{
    auto &s = *impl_;
    s.pending.fetch_add(1);
    Impl::Outgoing m{topic, std::string(payload), qos, retain, token};
    if (!s.is_connected) {
        std::lock_guard lk(s.mu);
        s.outbox.push_back(std::move(m));
        s.outbox_waiting = true;
        return;
    }
    s.send(m);
}

void Session::subscribe(const std::string &topic)
{
    auto &s = *impl_;
    std::lock_guard lk(s.mu);
    s.more_topics.push_back(topic);
    s.subscribe_waiting = true;
    s.wake();
}

void Session::stop(std::chrono::milliseconds drain)
{
    auto &s = *impl_;
    if (!s.thread.joinable())
        return;
    const auto until = steady::now() + drain;
    while (s.pending.load() > 0 && steady::now() < until && !failure()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (const auto left = s.pending.load(); left > 0)
        warn(cat(left, left == 1 ? " publish" : " publishes", " not acknowledged by the broker"));
    {
        std::lock_guard lk(s.mu);
        s.stop_net = true;
    }
    s.join_network();
}

void Session::abort()
{
    auto &s = *impl_;
    if (!s.thread.joinable())
        return;
    {
        std::lock_guard lk(s.mu);
        s.stop_net = true;
        s.abort_net = true;
    }
    s.join_network();
}

std::optional<int> Session::failure() const
{
    std::lock_guard lk(impl_->mu);
    return impl_->failure;
}

bool Session::connected() const { return impl_->is_connected.load(); }
std::uint64_t Session::connects() const { return impl_->connect_count.load(); }
std::size_t Session::pending_publishes() const { return impl_->pending.load(); }
std::uint64_t Session::subscriptions_acknowledged() const { return impl_->subacks.load(); }
std::size_t Session::refused_publishes() const { return impl_->refused.load(); }

std::vector<Session::Outcome> Session::take_outcomes()
{
    std::vector<Outcome> out;
    std::lock_guard lk(impl_->mids_mu);
    out.swap(impl_->outcomes);
    return out;
}

void Session::notify()
{
    std::lock_guard lk(impl_->mu);
    impl_->woken = true;
    impl_->cv_in.notify_all();
}

int consume(Session &session, const std::function<bool(const MqttMessage &)> &on_message,
            const std::function<void()> &after_batch, const std::function<std::optional<int>()> &on_tick,
            const std::function<void()> &before_stop)
{
    session.start();
    int status = exit_ok;
    bool more = true;
    std::vector<MqttMessage> batch;
    const auto feed = [&] {
        for (const auto &m : batch)
            if (!(more = on_message(m)))
                break;
        after_batch();
    };
    while (more && !stop_requested()) {
        if (const auto f = session.failure()) {
            status = *f;
            break;
        }
        if (on_tick) {
            if (const auto s = on_tick()) {
                status = *s;
                break;
            }
        }
        batch.clear();
        session.receive(batch, std::chrono::milliseconds(100));
        feed();
    }
    // What is queued is handled while the session can still publish the results.
    if (more && status == exit_ok) {
        batch.clear();
        session.receive(batch, std::chrono::milliseconds(0));
        feed();
    }
    if (before_stop)
        before_stop();
    session.stop();
    // And what came while the session stopped (acknowledged already): printed, no longer published.
    if (more && status == exit_ok) {
        batch.clear();
        session.receive(batch, std::chrono::milliseconds(0));
        feed();
    }
    return status;
}

}  // namespace dht
