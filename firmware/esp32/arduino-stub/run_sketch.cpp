// Runs the sketch, compiled against the Arduino stand-in, through a few
// simulated seconds: what it asks of WiFi, MQTT and the DHT, and what it
// publishes. Exit status 0 when every check holds.
#include "arduino_stub.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

void setup();
void loop();

namespace {

int failures = 0;

void check(bool ok, const std::string &what)
{
    std::printf("%s - %s\n", ok ? "ok" : "FAIL", what.c_str());
    if (!ok)
        ++failures;
}

[[maybe_unused]] void run_until(unsigned long ms)
{
    while (arduino_stub::world().now < ms)
        loop();  // each loop() ends in delay(10), which moves the clock
}

[[maybe_unused]] std::vector<arduino_stub::Message> on(const std::string &topic)
{
    std::vector<arduino_stub::Message> found;
    for (const auto &m : arduino_stub::world().published)
        if (m.topic == topic)
            found.push_back(m);
    return found;
}

}  // namespace

#if defined(DHT_SKETCH_BLOCKING)
// The blocking limit, on a real socket and the real clock: the broker
// accepts the connection (the kernel's backlog does) and never answers
// ("answer"), or never completes the TCP handshake (its backlog is full:
// "connect"), or its name never resolves ("dns"). No pass of loop() may block longer than the
// documented limit (config.h), and the limit is what the sketch waits.
#include "esp32_board.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

extern Esp32Board board;
extern const ConnectLimits kConnectLimits;

int main(int argc, char **argv)
{
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode != "answer" && mode != "connect" && mode != "dns") {
        std::fprintf(stderr, "usage: %s answer|connect|dns\n", argv[0]);
        return 2;
    }
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof at;
    if (listener < 0 || bind(listener, reinterpret_cast<sockaddr *>(&at), sizeof at) != 0 ||
        listen(listener, mode == "connect" ? 0 : 16) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr *>(&at), &length) != 0) {
        std::perror("listener");
        return 2;
    }
    // A backlog of one, taken: the kernel drops the next SYNs.
    const int filler = mode == "connect" ? socket(AF_INET, SOCK_STREAM, 0) : -1;
    if (filler >= 0 && connect(filler, reinterpret_cast<sockaddr *>(&at), sizeof at) != 0) {
        std::perror("filler");
        return 2;
    }
    auto &w = arduino_stub::world();
    w.real_network = true;
    w.real_port = ntohs(at.sin_port);
    w.join_ms = 0;
    w.dns_answers = mode != "dns";
    setup();
    board.set_broker("broker.example", 1883);  // a name, looked up without blocking

    const long limit = static_cast<long>(kConnectLimits.block_ms());
    // What the broker makes the sketch wait: the TCP connect's timeout, or
    // (it never answers) the TLS handshake's, or without TLS the MQTT answer's.
    const long wait = static_cast<long>(mode == "connect"                 ? kConnectLimits.tcp_connect_ms
                                        : kConnectLimits.tls_handshake_s != 0 ? kConnectLimits.tls_handshake_s * 1000U
                                                                              : kConnectLimits.mqtt_answer_s * 1000U);
    const long run_ms = mode == "dns" ? 11000 : wait + 3000;
    long longest = 0;
    const auto start = std::chrono::steady_clock::now();
    const auto ms_since = [](std::chrono::steady_clock::time_point t) -> long {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
    };
    while (ms_since(start) < run_ms) {
        const auto before = std::chrono::steady_clock::now();
        loop();
        longest = std::max(longest, ms_since(before));
    }
    std::printf("documented limit %ld ms; longest pass of loop() %ld ms; DNS lookups %u; TCP connections %u; MQTT "
                "CONNECTs %zu\n",
                limit, longest, w.dns_lookups, w.tcp_connects, w.connects.size());
    check(longest <= limit, "no pass of loop() blocked past the documented limit");
    if (mode == "answer") {
        check(w.tcp_connects >= 1, "the broker accepted the connection");
        check(longest >= wait - 50, "the wait for the broker was its timeout (" + std::to_string(wait) + " ms)");
    } else if (mode == "connect") {
        check(w.tcp_connects == 0, "the broker never completed the TCP handshake");
        check(longest >= wait - 50, "the wait for the connection was its timeout (" + std::to_string(wait) + " ms)");
    } else {
        check(longest < 1000, "a name that never resolves blocks nothing");
        check(w.tcp_connects == 0, "no connection without an address");
        check(std::any_of(w.serial.begin(), w.serial.end(),
                          [](const std::string &l) { return l.find("no connection in time") != std::string::npos; }),
              "the attempt was given up at the core's timeout");
    }
    close(listener);
    if (filler >= 0)
        close(filler);
    std::printf("%s\n", failures == 0 ? "blocking: all checks passed" : "blocking: checks failed");
    return failures == 0 ? 0 : 1;
}
#elif defined(DHT_SKETCH_VARIANT)
// The sketch's other branches (firmware/CMakeLists.txt): a DHT22, TLS, the
// shared topic with every payload key, deep sleep. One wake-up: read,
// publish, disconnect cleanly, sleep for the rest of the interval.
int main()
{
    auto &w = arduino_stub::world();
    setup();
    check(w.dht_pin == 4 && w.dht_type == 22, "a DHT22 (the library's constant 22)");
    w.on_deep_sleep = [&w] {
        const auto data = on("dht11/sensor/data");
        check(data.size() == 1, "one reading on the shared topic before sleeping");
        if (!data.empty())
            check(data[0].payload.rfind(R"({"temperature":24.50,"humidity":65.30,"sensor":"sensor",)", 0) == 0 &&
                      data[0].payload.find(R"("rssi":-61})") != std::string::npos,
                  "every payload key: " + data[0].payload);
        check(w.deep_sleep_us > 0 && w.deep_sleep_us <= 10000000U,
              "sleeps for the rest of the interval: " + std::to_string(w.deep_sleep_us) + " us");
        check(!w.mqtt_connected, "disconnected cleanly before sleeping (no last will)");
        std::printf("%s\n", failures == 0 ? "sketch variant: all checks passed" : "sketch variant: checks failed");
        std::exit(failures == 0 ? 0 : 1);  // the board restarts: esp_deep_sleep_start() does not return
    };
    run_until(60000);
    check(false, "went to deep sleep within the awake limit");
    return 1;
}
#else
#include <dht_core.hpp>

namespace {

namespace improv = dht::firmware::improv;

// An Improv RPC command on the serial line, as a client sends it.
void send_rpc(improv::Command command, const std::string &data)
{
    std::string rpc{static_cast<char>(command), static_cast<char>(data.size())};
    rpc += data;
    std::uint8_t out[improv::kPacketMax];
    const std::size_t n = improv::encode(improv::Type::rpc_command, reinterpret_cast<const std::uint8_t *>(rpc.data()),
                                         rpc.size(), out, sizeof out);
    arduino_stub::world().serial_in.append(reinterpret_cast<const char *>(out), n);
}

std::string wifi_data(const std::string &ssid, const std::string &password)
{
    return static_cast<char>(ssid.size()) + ssid + static_cast<char>(password.size()) + password;
}

// The packets the sketch wrote since `from`, each as type then data.
std::vector<std::string> written(std::size_t from)
{
    const std::string &out = arduino_stub::world().serial_out;
    std::vector<std::string> found;
    improv::Parser parser;
    for (std::size_t i = from; i < out.size(); ++i)
        if (parser.feed(static_cast<std::uint8_t>(out[i]), 0) == improv::Parser::Result::packet) {
            const improv::Packet p = parser.packet();
            found.push_back(static_cast<char>(p.type) + std::string(reinterpret_cast<const char *>(p.data), p.length));
        }
    return found;
}

bool has(const std::vector<std::string> &packets, const std::string &packet)
{
    return std::find(packets.begin(), packets.end(), packet) != packets.end();
}

// Set-up over serial: Improv for the network, stored in NVS; a device that
// boots with stored settings uses them; a JSON line for the broker is
// stored and the device restarts.
void check_provisioning()
{
    auto &w = arduino_stub::world();
    run_until(w.now + 100);
    check(w.nvs.empty(), "nothing stored before set-up: the compiled-in settings");

    // A device's own packet echoed back: no answer, so no loop.
    std::size_t mark = w.serial_out.size();
    std::uint8_t echo[16];
    const std::size_t echo_size = improv::encode_state(improv::State::ready, echo, sizeof echo);
    w.serial_in.append(reinterpret_cast<const char *>(echo), echo_size);
    run_until(w.now + 100);
    check(w.serial_out.size() == mark, "an echoed Improv state packet: no answer");

    send_rpc(improv::Command::device_info, "");
    run_until(w.now + 100);
    const auto info = written(mark);
    check(has(info, std::string("\x04\x03\x1e\x0a""dht-sensor\x05""1.0.0\x05""ESP32\x06sensor", 33)),
          "Improv device info: dht-sensor, its version, ESP32, the sensor name");

    // An SSID of 33 bytes: refused with "invalid RPC packet", nothing changes.
    mark = w.serial_out.size();
    const std::size_t begins = w.wifi_begins.size();
    send_rpc(improv::Command::wifi_settings, wifi_data(std::string(33, 's'), "password"));
    run_until(w.now + 100);
    check(has(written(mark), std::string("\x02\x01", 2)), "an SSID of 33 bytes: error state 1, invalid RPC");
    check(w.wifi_begins.size() == begins && w.nvs.empty(), "and no WiFi join, nothing stored");

    // A network that does not answer: error 3 after 30 s, back to the old one.
    w.network_up = false;
    mark = w.serial_out.size();
    send_rpc(improv::Command::wifi_settings, wifi_data("nowhere", "password"));
    run_until(w.now + 31000);
    const auto failed = written(mark);
    check(has(failed, std::string("\x01\x03", 2)) && has(failed, std::string("\x02\x03", 2)) &&
              has(failed, std::string("\x01\x02", 2)),
          "a network that does not answer: provisioning, unable to connect, ready");
    check(!w.wifi_begins.empty() && w.wifi_begins.back() == "your-network" && w.nvs.empty(),
          "back on the compiled-in network, nothing stored");
    w.network_up = true;

    // The new network answers: stored, provisioned, and the device goes on.
    mark = w.serial_out.size();
    const std::size_t connects = w.connects.size();
    send_rpc(improv::Command::wifi_settings, wifi_data("cellar-net", "cellar-password"));
    run_until(w.now + 5000);
    const auto ok = written(mark);
    check(has(ok, std::string("\x02\x00", 2)) && has(ok, std::string("\x01\x03", 2)) &&
              has(ok, std::string("\x01\x04", 2)) && has(ok, std::string("\x04\x01\x00", 3)),
          "Improv: no error, provisioning, provisioned, the result");
    check(!w.wifi_begins.empty() && w.wifi_begins.back() == "cellar-net", "joined the new network");
    check(w.nvs["dht/ssid"] == "cellar-net" && w.nvs["dht/wifi_pw"] == "cellar-password" &&
              w.nvs["dht/host"] == "192.168.1.100" && w.nvs["dht/port"] == "1883" && w.nvs["dht/sensor"] == "sensor",
          "stored in NVS, namespace dht, with the broker in force");
    run_until(w.now + 20000);
    check(w.connects.size() > connects, "the MQTT session comes back over the new network");

    // A boot with stored settings (as after a JSON line): they are used.
    w.nvs["dht/host"] = "mqtt.cellar";
    w.nvs["dht/port"] = "8883";
    w.nvs["dht/sensor"] = "cellar";
    w.nvs["dht/user"] = "dht";
    w.nvs["dht/mqtt_pw"] = "secret";
    w.mqtt_connected = false;
    const std::size_t before = w.connects.size();
    setup();
    run_until(w.now + 15000);
    check(w.server == "mqtt.cellar" && w.port == 8883, "a boot takes the broker from NVS");
    check(w.connects.size() > before && w.connects.back().client_id == "dht-cellar" &&
              w.connects.back().user == "dht" && w.connects.back().password == "secret",
          "and the sensor name and login");
    check(!on("dht11/cellar/data").empty(), "publishing on dht11/cellar/data");

    // A JSON line that breaks a rule: refused, nothing stored.
    w.serial_in += "{\"broker\":\"mqtt.example\",\"port\":0}\n";
    run_until(w.now + 100);
    check(!w.serial.empty() && w.serial.back().rfind("settings: refused", 0) == 0 && w.nvs["dht/host"] == "mqtt.cellar",
          "a JSON line with port 0: refused whole");
    // A good one: stored, and the board restarts (which does not return).
    w.on_restart = [] {
        auto &nvs = arduino_stub::world().nvs;
        check(nvs["dht/host"] == "mqtt.example" && nvs["dht/port"] == "1884" && nvs["dht/sensor"] == "Attic_IMPROV" &&
                  nvs["dht/ssid"] == "cellar-net",
              "a JSON line: stored, the network kept, then a restart");
        std::printf("%s\n", failures == 0 ? "sketch: all checks passed" : "sketch: checks failed");
        std::exit(failures == 0 ? 0 : 1);
    };
    w.serial_in += "{\"broker\":\"mqtt.example\",\"port\":1884,\"sensor\":\"Attic_IMPROV\"}\r\n";
    run_until(w.now + 100);
    check(false, "restarted after a good JSON line");
}

}  // namespace

int main()
{
    auto &w = arduino_stub::world();
    setup();
    check(w.dht_pin == 4 && w.dht_type == 11, "a DHT11 on GPIO4, as config.h says");
    check(w.server == "192.168.1.100" && w.port == 1883, "the broker of secrets.example.h");

    run_until(12000);
    check(!w.wifi_begins.empty() && w.wifi_begins.front() == "your-network", "WiFi joined with the example SSID");
    check(w.connects.size() == 1, "one MQTT connection");
    if (!w.connects.empty()) {
        const auto &c = w.connects.front();
        check(c.client_id == "dht-sensor", "client id dht-sensor");
        check(c.will_topic == "dht11/sensor/status" && c.will_message == "offline" && c.will_retain &&
                  c.will_qos == 1,
              "last will: offline, retained, QoS 1, on dht11/sensor/status");
        check(c.user.empty() && c.password.empty(), "no login with empty credentials");
    }
    const auto status = on("dht11/sensor/status");
    check(!status.empty() && status.front().payload == "online" && status.front().retained, "birth: online, retained");
    const auto data = on("dht11/sensor/data");
    check(data.size() == 2, "two readings in 12 s: at 1 s (the sensor's warm-up) and 11 s");
    for (const auto &m : data)
        check(m.payload == R"({"temperature":24.50,"humidity":65.30})" && !m.retained,
              "the seed's payload, byte for byte: " + m.payload);
    const auto discovery = on("homeassistant/sensor/sensor_temperature/config");
    check(discovery.size() == 1 && discovery.front().retained, "Home Assistant discovery, retained");
    check(std::find(w.subscriptions.begin(), w.subscriptions.end(), "homeassistant/status") != w.subscriptions.end(),
          "subscribed to homeassistant/status");
    check(w.reads == 2, "one read per reading when the sensor answers");

    // Home Assistant restarts: the discovery messages come again within the jitter.
    arduino_stub::deliver("homeassistant/status", "online");
    run_until(15000);
    check(on("homeassistant/sensor/sensor_temperature/config").size() == 2, "discovery sent again for HA online");

    // The broker goes away and comes back: reconnect with backoff, birth again.
    w.broker_up = false;
    run_until(16000);
    w.broker_up = true;
    run_until(25000);
    check(w.connects.size() >= 2, "reconnected after the broker came back");
    check(on("dht11/sensor/status").size() == 2, "birth published again on reconnect");

    // The sensor stops answering: three readings fail, the status says so.
    w.dht_answers = false;
    run_until(55000);
    const auto last_status = on("dht11/sensor/status");
    check(!last_status.empty() && last_status.back().payload == "sensor-error",
          "status sensor-error after three failed readings");
    w.dht_answers = true;
    run_until(66000);
    check(on("dht11/sensor/status").back().payload == "online", "status online again once the sensor answers");

    // A calibration on the retained config topic: applied, and reported.
    check(std::find(w.subscriptions.begin(), w.subscriptions.end(), "dht11/sensor/config") != w.subscriptions.end(),
          "subscribed to dht11/sensor/config");
    arduino_stub::deliver("dht11/sensor/config", R"({"temperature_offset":-0.5,"humidity_offset":2})");
    run_until(77000);
    check(on("dht11/sensor/data").back().payload ==
              R"({"temperature":24.00,"humidity":67.30,"temperature_offset":-0.50,"humidity_offset":2.00})",
          "the calibrated payload: " + on("dht11/sensor/data").back().payload);

    check_provisioning();
    std::printf("%s\n", failures == 0 ? "sketch: all checks passed" : "sketch: checks failed");
    return failures == 0 ? 0 : 1;
}
#endif
