#include "Arduino.h"
#include "DHT.h"
#include "HTTPClient.h"
#include "Update.h"
#include "esp_ota_ops.h"
#include "Preferences.h"
#include "PubSubClient.h"
#include "WiFi.h"
#include "WiFiClientSecure.h"
#include "arduino_stub.hpp"
#include "esp_sleep.h"

#include "lwip/dns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <thread>

namespace arduino_stub {

World &world()
{
    static World w;
    return w;
}

void deliver(const std::string &topic, const std::string &payload)
{
    World &w = world();
    if (!w.callback || !w.mqtt_connected)
        return;
    std::string t = topic;
    std::vector<std::uint8_t> p(payload.begin(), payload.end());
    w.callback(t.data(), p.data(), static_cast<unsigned int>(p.size()));
}

}  // namespace arduino_stub

using arduino_stub::world;

namespace {

unsigned long real_ms()
{
    static const auto start = std::chrono::steady_clock::now();
    return static_cast<unsigned long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
}

// Waits up to `ms` for `fd` to be ready for `events`.
bool wait_fd(int fd, short events, long ms)
{
    pollfd p{fd, events, 0};
    return poll(&p, 1, static_cast<int>(ms < 0 ? 0 : ms)) == 1;
}

}  // namespace

unsigned long millis() { return world().real_network ? real_ms() : world().now; }
void delay(unsigned long ms)
{
    auto &w = world();
    // lwIP answers lookups in its own task: here, between two passes of loop().
    auto answers = std::move(w.dns_pending);
    w.dns_pending.clear();
    for (auto &answer : answers)
        answer();
    if (w.real_network)
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    else
        w.now += ms;
}
void yield() {}

std::uint32_t esp_random()
{
    static std::uint32_t state = 12345;
    state = state * 1664525U + 1013904223U;
    return state;
}

void configTime(long, int, const char *, const char *, const char *) {}

HardwareSerial Serial;
void HardwareSerial::begin(unsigned long) {}
std::size_t HardwareSerial::print(const char *text)
{
    world().serial.emplace_back(text);
    return std::strlen(text);
}
std::size_t HardwareSerial::println(const char *text) { return print(text) + 1; }
int HardwareSerial::available() { return static_cast<int>(world().serial_in.size()); }
int HardwareSerial::read()
{
    auto &in = world().serial_in;
    if (in.empty())
        return -1;
    const int c = static_cast<unsigned char>(in.front());
    in.erase(0, 1);
    return c;
}
std::size_t HardwareSerial::write(const std::uint8_t *buffer, std::size_t size)
{
    world().serial_out.append(reinterpret_cast<const char *>(buffer), size);
    return size;
}
std::size_t HardwareSerial::printf(const char *format, ...)
{
    char line[256];
    std::va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    world().serial.emplace_back(line);
    return n < 0 ? 0 : static_cast<std::size_t>(n);
}

WiFiClass WiFi;
bool WiFiClass::mode(wifi_mode_t) { return true; }
wl_status_t WiFiClass::begin(const char *ssid, const char *, std::int32_t, const std::uint8_t *, bool)
{
    auto &w = world();
    w.wifi_begins.emplace_back(ssid);
    w.wifi_began = true;
    w.wifi_joined = false;
    w.wifi_begin_at = w.now;
    return WL_DISCONNECTED;
}
bool WiFiClass::disconnect(bool, bool)
{
    world().wifi_joined = false;
    world().wifi_began = false;
    return true;
}
wl_status_t WiFiClass::status()
{
    auto &w = world();
    if (!w.network_up) {
        w.wifi_joined = false;
        return WL_DISCONNECTED;
    }
    if (w.wifi_began && w.now - w.wifi_begin_at >= w.join_ms)
        w.wifi_joined = true;
    return w.wifi_joined ? WL_CONNECTED : WL_DISCONNECTED;
}
String WiFiClass::SSID() const
{
    const auto &w = world();
    return w.wifi_joined && !w.wifi_begins.empty() ? String(w.wifi_begins.back().c_str()) : String();
}
std::int8_t WiFiClass::RSSI() { return -61; }
bool WiFiClass::setAutoReconnect(bool) { return true; }
bool WiFiClass::setHostname(const char *) { return true; }

err_t dns_gethostbyname(const char *hostname, ip_addr_t *addr, dns_found_callback found, void *callback_arg)
{
    auto &w = world();
    ++w.dns_lookups;
    in_addr literal{};
    if (inet_pton(AF_INET, hostname, &literal) == 1) {
        addr->addr = literal.s_addr;
        return ERR_OK;
    }
    if (w.dns_answers) {
        const std::string name = hostname;
        w.dns_pending.emplace_back([name, found, callback_arg] {
            const ip_addr_t loopback{htonl(INADDR_LOOPBACK)};
            found(name.c_str(), &loopback, callback_arg);
        });
    }
    return ERR_INPROGRESS;
}

WiFiClient::~WiFiClient() { stop(); }
int WiFiClient::connect(const char *host, std::uint16_t port) { return connect(host, port, timeout_ms_); }
int WiFiClient::connect(const char *, std::uint16_t, std::int32_t timeout_ms)
{
    auto &w = world();
    stop();
    if (!w.real_network) {
        fake_connected_ = w.broker_up && WiFi.status() == WL_CONNECTED;
        return fake_connected_ ? 1 : 0;
    }
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0)
        return 0;
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(w.real_port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int error = 0;
    socklen_t length = sizeof error;
    if (::connect(fd_, reinterpret_cast<const sockaddr *>(&to), sizeof to) != 0 &&
        (errno != EINPROGRESS || !wait_fd(fd_, POLLOUT, timeout_ms) ||
         getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0)) {
        stop();
        return 0;
    }
    ++w.tcp_connects;
    return 1;
}
std::size_t WiFiClient::write(const std::uint8_t *buf, std::size_t size)
{
    if (fd_ < 0)
        return fake_connected_ ? size : 0;
    const ssize_t n = ::send(fd_, buf, size, MSG_NOSIGNAL);
    return n < 0 ? 0 : static_cast<std::size_t>(n);
}
int WiFiClient::available()
{
    if (fd_ < 0)
        return 0;
    // A millisecond's wait: the callers poll this in a loop.
    return wait_fd(fd_, POLLIN, 1) ? 1 : 0;
}
int WiFiClient::read()
{
    std::uint8_t c = 0;
    return fd_ >= 0 && ::recv(fd_, &c, 1, 0) == 1 ? c : -1;
}
void WiFiClient::stop()
{
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = -1;
    fake_connected_ = false;
}
std::uint8_t WiFiClient::connected() { return fd_ >= 0 || fake_connected_ ? 1 : 0; }
int WiFiClient::setTimeout(std::uint32_t) { return 0; }

int WiFiClientSecure::connect(const char *host, std::uint16_t port) { return connect(host, port, ssl_timeout_ms_); }
int WiFiClientSecure::connect(const char *host, std::uint16_t port, std::int32_t timeout)
{
    ssl_timeout_ms_ = timeout;
    if (WiFiClient::connect(host, port, timeout) != 1)
        return 0;
    if (fd_ < 0)
        return 1;  // the fake broker: no handshake
    // The ClientHello, then the wait for the server's answer.
    static const std::uint8_t hello[] = {0x16, 0x03, 0x01};
    const auto start = millis();
    if (write(hello, sizeof hello) != sizeof hello)
        return 0;
    while (!wait_fd(fd_, POLLIN, 1)) {
        if (millis() - start > handshake_timeout_ms_) {
            stop();
            return 0;
        }
    }
    stop();  // an answer: the stand-in speaks no TLS
    return 0;
}
void WiFiClientSecure::setHandshakeTimeout(unsigned long handshake_timeout) { handshake_timeout_ms_ = handshake_timeout * 1000; }
void WiFiClientSecure::setCACert(const char *) {}
void WiFiClientSecure::setCertificate(const char *) {}
void WiFiClientSecure::setPrivateKey(const char *) {}
void WiFiClientSecure::setInsecure() {}

PubSubClient::PubSubClient(Client &client) : client_(&client) {}
PubSubClient &PubSubClient::setServer(const char *domain, std::uint16_t port)
{
    world().server = domain;
    world().port = port;
    domain_ = domain;
    port_ = port;
    return *this;
}
PubSubClient &PubSubClient::setCallback(std::function<void(char *, std::uint8_t *, unsigned int)> callback)
{
    world().callback = callback;
    return *this;
}
PubSubClient &PubSubClient::setKeepAlive(std::uint16_t) { return *this; }
PubSubClient &PubSubClient::setSocketTimeout(std::uint16_t timeout)
{
    socket_timeout_ = timeout;
    return *this;
}
boolean PubSubClient::setBufferSize(std::uint16_t size)
{
    buffer_size_ = size;
    return true;
}
std::uint16_t PubSubClient::getBufferSize() { return buffer_size_; }

boolean PubSubClient::connect(const char *id, const char *user, const char *pass, const char *willTopic,
                              std::uint8_t willQos, boolean willRetain, const char *willMessage, boolean cleanSession)
{
    auto &w = world();
    const auto str = [](const char *s) { return std::string(s == nullptr ? "" : s); };
    w.connects.push_back({str(id), str(user), str(pass), str(willTopic), str(willMessage), willQos, willRetain,
                          cleanSession});
    if (connected())
        return true;
    // As 2.8: a client connected already is used as it is.
    if (client_->connected() == 0 && client_->connect(domain_, port_) != 1)
        return false;
    if (!w.real_network) {
        w.mqtt_connected = w.broker_up && WiFi.status() == WL_CONNECTED;
        return w.mqtt_connected;
    }
    static const std::uint8_t connect_packet[] = {0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x0f, 0x00, 0x00};
    client_->write(connect_packet, sizeof connect_packet);
    const unsigned long start = millis();
    while (client_->available() == 0) {
        if (millis() - start >= socket_timeout_ * 1000UL) {
            client_->stop();  // MQTT_CONNECTION_TIMEOUT
            return false;
        }
    }
    client_->stop();  // an answer: the stand-in goes no further
    return false;
}
void PubSubClient::disconnect()
{
    world().mqtt_connected = false;
    client_->stop();
}
boolean PubSubClient::publish(const char *topic, const char *payload, boolean retained)
{
    auto &w = world();
    // As the real client: nothing without a connection, nothing past the buffer.
    if (!connected() || std::strlen(topic) + std::strlen(payload) + 7 > buffer_size_)
        return false;
    w.published.push_back({topic, payload, retained, w.now});
    return true;
}
boolean PubSubClient::subscribe(const char *topic, std::uint8_t)
{
    if (!connected())
        return false;
    world().subscriptions.emplace_back(topic);
    return true;
}
boolean PubSubClient::loop() { return connected(); }
boolean PubSubClient::connected()
{
    auto &w = world();
    if (!w.broker_up || WiFi.status() != WL_CONNECTED)
        w.mqtt_connected = false;
    return w.mqtt_connected;
}
int PubSubClient::state() { return world().mqtt_connected ? 0 : -1; }

DHT::DHT(std::uint8_t pin, std::uint8_t type, std::uint8_t) : pin_(pin), type_(type)
{
    world().dht_pin = pin;
    world().dht_type = type;
}
void DHT::begin(std::uint8_t) {}
bool DHT::read(bool)
{
    auto &w = world();
    ++w.reads;
    temperature_ = w.dht_answers ? w.temperature : NAN;
    humidity_ = w.dht_answers ? w.humidity : NAN;
    return w.dht_answers;
}
float DHT::readTemperature(bool, bool force)
{
    if (force)
        read(true);
    return temperature_;
}
float DHT::readHumidity(bool force)
{
    if (force)
        read(true);
    return humidity_;
}

EspClass ESP;
void EspClass::restart()
{
    if (world().on_restart)
        world().on_restart();
    std::abort();
}

bool HTTPClient::begin(WiFiClient &client, String) { client_ = &client; return true; }
int HTTPClient::GET() { return HTTPC_ERROR_CONNECTION_REFUSED; }
int HTTPClient::getSize() { return -1; }
WiFiClient *HTTPClient::getStreamPtr() { return client_; }
void HTTPClient::end() {}
void HTTPClient::setTimeout(std::uint16_t) {}
void HTTPClient::setConnectTimeout(std::int32_t) {}

UpdateClass Update;
bool UpdateClass::begin(std::size_t, int, int, std::uint8_t, const char *) { return false; }
std::size_t UpdateClass::writeStream(Stream &) { return 0; }
bool UpdateClass::end(bool) { return false; }
void UpdateClass::abort() {}
bool UpdateClass::setMD5(const char *) { return true; }
const char *UpdateClass::errorString() { return "No Error"; }

esp_err_t esp_ota_mark_app_valid_cancel_rollback() { return 0; }

esp_err_t esp_sleep_enable_timer_wakeup(std::uint64_t time_in_us)
{
    world().deep_sleep_us = time_in_us;
    return 0;
}
void esp_deep_sleep_start()
{
    auto &w = world();
    ++w.deep_sleeps;
    if (w.on_deep_sleep)
        w.on_deep_sleep();
    std::fprintf(stderr, "esp_deep_sleep_start: the board would sleep %llu us; no test expected it\n",
                 static_cast<unsigned long long>(w.deep_sleep_us));
    std::abort();
}

// Preferences.h
Preferences::Preferences() = default;
Preferences::~Preferences() = default;
bool Preferences::begin(const char *name, bool readOnly, const char *)
{
    if (name == nullptr || std::strlen(name) > 15)
        return false;  // NVS namespaces have at most 15 characters
    started_ = true;
    read_only_ = readOnly;
    std::snprintf(namespace_, sizeof namespace_, "%s", name);
    return true;
}
void Preferences::end() { started_ = false; }
bool Preferences::clear()
{
    if (!started_ || read_only_)
        return false;
    const std::string prefix = std::string(namespace_) + "/";
    auto &nvs = world().nvs;
    for (auto it = nvs.begin(); it != nvs.end();)
        it = it->first.rfind(prefix, 0) == 0 ? nvs.erase(it) : std::next(it);
    return true;
}
bool Preferences::isKey(const char *key)
{
    return started_ && world().nvs.count(std::string(namespace_) + "/" + key) != 0;
}
std::size_t Preferences::putUShort(const char *key, std::uint16_t value)
{
    if (!started_ || read_only_)
        return 0;
    world().nvs[std::string(namespace_) + "/" + key] = std::to_string(value);
    return 2;
}
std::size_t Preferences::putString(const char *key, const char *value)
{
    if (!started_ || read_only_ || value == nullptr)
        return 0;
    world().nvs[std::string(namespace_) + "/" + key] = value;
    return std::strlen(value);
}
std::uint16_t Preferences::getUShort(const char *key, std::uint16_t defaultValue)
{
    const auto it = world().nvs.find(std::string(namespace_) + "/" + key);
    if (!started_ || it == world().nvs.end())
        return defaultValue;
    return static_cast<std::uint16_t>(std::stoul(it->second));
}
// As 2.0.14's: the length with its NUL, or 0 when absent or longer than maxLen.
std::size_t Preferences::getString(const char *key, char *value, std::size_t maxLen)
{
    const auto it = world().nvs.find(std::string(namespace_) + "/" + key);
    if (!started_ || it == world().nvs.end() || it->second.size() + 1 > maxLen)
        return 0;
    std::memcpy(value, it->second.c_str(), it->second.size() + 1);
    return it->second.size() + 1;
}
