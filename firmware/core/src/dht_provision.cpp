#include "dht_provision.hpp"

#include "dht_device.hpp"
#include "dht_json_reader.hpp"

#include <cstring>

namespace dht::firmware {

namespace {

bool valid_host(const char *host)
{
    if (*host == '\0')
        return false;
    for (const char *c = host; *c != '\0'; ++c)
        if (static_cast<unsigned char>(*c) <= 0x20 || static_cast<unsigned char>(*c) >= 0x7f)
            return false;
    return true;
}

}  // namespace

bool set_field(char *field, std::size_t size, const char *text, std::size_t length) noexcept
{
    if (length >= size || std::memchr(text, '\0', length) != nullptr)
        return false;
    std::memcpy(field, text, length);
    field[length] = '\0';
    return true;
}

const char *check_settings(const Settings &s) noexcept
{
    if (s.ssid[0] == '\0')
        return "the WiFi SSID is empty";
    if (!valid_host(s.host))
        return "the broker is not a host name or address";
    if (s.port == 0)
        return "the broker's port is 0";
    if (!valid_sensor_id(s.sensor))
        return "the sensor name is not 1 to 32 of A-Z a-z 0-9 _ -";
    return nullptr;  // the lengths are the arrays'
}

const char *apply_settings_line(const char *line, std::size_t length, Settings &s) noexcept
{
    Settings next = s;
    JsonReader in(line, length);
    if (!in.begin_object())
        return "not a JSON object";
    char key[16];
    while (in.next_key(key, sizeof key)) {
        bool ok = false;
        if (std::strcmp(key, "broker") == 0) {
            ok = in.string(next.host, sizeof next.host);
        } else if (std::strcmp(key, "port") == 0) {
            std::uint32_t port = 0;
            ok = in.whole(65535, port);
            next.port = static_cast<std::uint16_t>(port);
        } else if (std::strcmp(key, "user") == 0) {
            ok = in.string(next.user, sizeof next.user);
        } else if (std::strcmp(key, "password") == 0) {
            ok = in.string(next.mqtt_password, sizeof next.mqtt_password);
        } else if (std::strcmp(key, "sensor") == 0) {
            ok = in.string(next.sensor, sizeof next.sensor);
        } else {
            return "an unknown key (broker, port, user, password, sensor)";
        }
        if (!ok)
            return "a value of the wrong type, too long, or with a backslash";
    }
    if (!in.finished())
        return "not one JSON object";
    if (const char *error = check_settings(next))
        return error;
    s = next;
    return nullptr;
}

namespace improv {

namespace {

constexpr char kMagic[] = "IMPROV";
constexpr std::size_t kMagicSize = 6;

}  // namespace

std::uint8_t checksum(const std::uint8_t *bytes, std::size_t length) noexcept
{
    std::uint8_t sum = 0;
    for (std::size_t i = 0; i < length; ++i)
        sum = static_cast<std::uint8_t>(sum + bytes[i]);
    return sum;
}

std::size_t encode(Type type, const std::uint8_t *data, std::size_t length, std::uint8_t *out,
                   std::size_t size) noexcept
{
    if (length > 255 || size < kHeaderSize + length + 1)
        return 0;
    std::memcpy(out, kMagic, kMagicSize);
    out[6] = kVersion;
    out[7] = static_cast<std::uint8_t>(type);
    out[8] = static_cast<std::uint8_t>(length);
    if (length != 0)
        std::memcpy(out + kHeaderSize, data, length);
    out[kHeaderSize + length] = checksum(out, kHeaderSize + length);
    return kHeaderSize + length + 1;
}

std::size_t encode_state(State state, std::uint8_t *out, std::size_t size) noexcept
{
    const auto octet = static_cast<std::uint8_t>(state);
    return encode(Type::current_state, &octet, 1, out, size);
}

std::size_t encode_error(Error error, std::uint8_t *out, std::size_t size) noexcept
{
    const auto octet = static_cast<std::uint8_t>(error);
    return encode(Type::error_state, &octet, 1, out, size);
}

std::size_t encode_result(Command command, const char *const *strings, std::size_t count, std::uint8_t *out,
                          std::size_t size) noexcept
{
    // Built in place after the header: command, data length, then each string's length and bytes.
    std::size_t n = 2;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t length = std::strlen(strings[i]);
        if (length > 255 || n + 1 + length > 255 || size < kHeaderSize + n + 1 + length + 1)
            return 0;
        out[kHeaderSize + n] = static_cast<std::uint8_t>(length);
        std::memcpy(out + kHeaderSize + n + 1, strings[i], length);
        n += 1 + length;
    }
    if (size < kHeaderSize + n + 1)
        return 0;
    out[kHeaderSize] = static_cast<std::uint8_t>(command);
    out[kHeaderSize + 1] = static_cast<std::uint8_t>(n - 2);
    // encode() would copy the data onto itself: write the header around it.
    std::memcpy(out, kMagic, kMagicSize);
    out[6] = kVersion;
    out[7] = static_cast<std::uint8_t>(Type::rpc_result);
    out[8] = static_cast<std::uint8_t>(n);
    out[kHeaderSize + n] = checksum(out, kHeaderSize + n);
    return kHeaderSize + n + 1;
}

Parser::Result Parser::feed(std::uint8_t octet, std::uint32_t now_ms) noexcept
{
    if (at_ != 0 && now_ms - last_ms_ > kGapMs)
        at_ = 0;  // what came before the pause was broken off
    last_ms_ = now_ms;
    if (at_ < kMagicSize) {
        // "IMPROV" repeats no prefix of itself: a wrong byte can only begin it again.
        if (octet == static_cast<std::uint8_t>(kMagic[at_]))
            buffer_[at_++] = octet;
        else
            at_ = 0;
        if (at_ == 0 && octet == static_cast<std::uint8_t>(kMagic[0]))
            buffer_[at_++] = octet;
        return Result::none;
    }
    buffer_[at_++] = octet;
    if (at_ == 7 && octet != kVersion) {
        at_ = 0;
        return Result::bad_version;
    }
    if (at_ < kHeaderSize || at_ < kHeaderSize + buffer_[8] + 1U)
        return Result::none;
    const std::size_t length = at_;
    at_ = 0;
    return checksum(buffer_, length - 1) == buffer_[length - 1] ? Result::packet : Result::bad_checksum;
}

Packet Parser::packet() const noexcept
{
    return Packet{static_cast<Type>(buffer_[7]), buffer_ + kHeaderSize, buffer_[8]};
}

Error decode_rpc(const Packet &packet, Rpc &out) noexcept
{
    if (packet.type != Type::rpc_command || packet.length < 2 || packet.data[1] != packet.length - 2)
        return Error::invalid_rpc;
    const std::uint8_t command = packet.data[0];
    if (command < static_cast<std::uint8_t>(Command::wifi_settings) ||
        command > static_cast<std::uint8_t>(Command::scan_networks))
        return Error::unknown_command;
    out = Rpc{static_cast<Command>(command), packet.data + 2, packet.data[1]};
    return Error::none;
}

Error decode_wifi(const Rpc &rpc, Settings &out) noexcept
{
    if (rpc.command != Command::wifi_settings || rpc.length < 2)
        return Error::invalid_rpc;
    const std::size_t ssid_length = rpc.data[0];
    if (1 + ssid_length + 1 > rpc.length)
        return Error::invalid_rpc;
    const std::size_t password_length = rpc.data[1 + ssid_length];
    if (1 + ssid_length + 1 + password_length != rpc.length || ssid_length == 0)
        return Error::invalid_rpc;
    const auto *ssid = reinterpret_cast<const char *>(rpc.data + 1);
    const auto *password = reinterpret_cast<const char *>(rpc.data + 2 + ssid_length);
    char ssid_copy[Settings::kSsidMax + 1];
    if (!set_field(ssid_copy, ssid, ssid_length) || !set_field(out.password, password, password_length))
        return Error::invalid_rpc;
    std::memcpy(out.ssid, ssid_copy, sizeof ssid_copy);
    return Error::none;
}

}  // namespace improv
}  // namespace dht::firmware
