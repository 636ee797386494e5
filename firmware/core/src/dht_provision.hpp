// Set-up at run time: Improv Wi-Fi over serial (https://www.improv-wifi.com/serial/)
// for the network, one JSON line on serial for the broker, the login and the
// sensor name, and the settings record they fill. No heap, no exceptions:
// the parser works byte by byte in a buffer of its own.
#pragma once

#include "dht_format.hpp"

#include <cstddef>
#include <cstdint>

namespace dht::firmware {

// What the device is set up with; the compiled-in values are its defaults.
struct Settings {
    static constexpr std::size_t kSsidMax = 32;      // 802.11: 1 to 32 bytes
    static constexpr std::size_t kPasswordMax = 63;  // WPA2 passphrase: 0 (open) to 63
    static constexpr std::size_t kHostMax = 253;     // a DNS name, or an address
    static constexpr std::size_t kLoginMax = 64;     // MQTT user and password, each

    char ssid[kSsidMax + 1] = "";
    char password[kPasswordMax + 1] = "";
    char host[kHostMax + 1] = "";
    std::uint16_t port = 1883;
    char user[kLoginMax + 1] = "";
    char mqtt_password[kLoginMax + 1] = "";
    char sensor[limits::kIdMax + 1] = "sensor";
};

// Null when `s` is usable, else what is wrong with it: SSID 1 to 32 bytes,
// password 0 to 63, host 1 to 253 printable bytes without space, port 1 to
// 65535, sensor name as Config::sensor_id (1 to 32 of A-Z a-z 0-9 _ -).
const char *check_settings(const Settings &s) noexcept;

// Copies `length` bytes of `text` into `field` (`size` bytes with its NUL);
// false, leaving it unchanged, when they do not fit or hold a NUL.
bool set_field(char *field, std::size_t size, const char *text, std::size_t length) noexcept;
template <std::size_t N> bool set_field(char (&field)[N], const char *text, std::size_t length) noexcept
{
    return set_field(field, N, text, length);
}

// A line {"broker":"host","port":1883,"user":"u","password":"p","sensor":"kitchen"}:
// every key optional, each given one replacing its setting in `s`. Null when
// read and the result passes check_settings(), else why it is refused (and
// `s` is unchanged).
const char *apply_settings_line(const char *line, std::size_t length, Settings &s) noexcept;

namespace improv {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 9;  // "IMPROV", version, type, length
inline constexpr std::size_t kPacketMax = kHeaderSize + 255 + 1;

enum class Type : std::uint8_t { current_state = 1, error_state = 2, rpc_command = 3, rpc_result = 4 };
enum class State : std::uint8_t { ready = 2, provisioning = 3, provisioned = 4 };
enum class Error : std::uint8_t {
    none = 0,
    invalid_rpc = 1,
    unknown_command = 2,
    unable_to_connect = 3,
    unknown = 0xff
};
enum class Command : std::uint8_t { wifi_settings = 1, current_state = 2, device_info = 3, scan_networks = 4 };

// The sum of the bytes, modulo 256: the last byte of a packet is that of all before it.
std::uint8_t checksum(const std::uint8_t *bytes, std::size_t length) noexcept;

// A packet of `type` carrying `data` into `out`: its length, 0 when it does not fit.
std::size_t encode(Type type, const std::uint8_t *data, std::size_t length, std::uint8_t *out,
                   std::size_t size) noexcept;
std::size_t encode_state(State state, std::uint8_t *out, std::size_t size) noexcept;
std::size_t encode_error(Error error, std::uint8_t *out, std::size_t size) noexcept;
// An RPC result: the command answered and a list of strings, each up to 255 bytes.
std::size_t encode_result(Command command, const char *const *strings, std::size_t count, std::uint8_t *out,
                          std::size_t size) noexcept;

struct Packet {
    Type type;
    const std::uint8_t *data;  // into the parser's buffer, until the next feed()
    std::uint8_t length;
};

// Finds packets in a byte stream that carries other text too (the log):
// bytes before "IMPROV" are skipped, a packet with a wrong version or
// checksum is dropped, and a packet broken off (a pause of kGapMs between two
// of its bytes) is dropped when the next byte comes.
class Parser {
public:
    static constexpr std::uint32_t kGapMs = 1000;
    enum class Result : std::uint8_t { none, packet, bad_checksum, bad_version };

    Result feed(std::uint8_t octet, std::uint32_t now_ms) noexcept;
    // After Result::packet.
    Packet packet() const noexcept;
    // Whether a packet has begun: its header has started to come.
    bool inside() const noexcept { return at_ != 0; }

private:
    std::uint8_t buffer_[kPacketMax] = {};
    std::size_t at_ = 0;
    std::uint32_t last_ms_ = 0;
};

// An RPC command packet's command and data. Error::invalid_rpc when its
// lengths disagree, Error::unknown_command for a command not in Command.
struct Rpc {
    Command command;
    const std::uint8_t *data;
    std::uint8_t length;
};
Error decode_rpc(const Packet &packet, Rpc &out) noexcept;

// The SSID and password of a "send Wi-Fi settings" command into `out`
// (ssid and password only): Error::invalid_rpc when its lengths disagree or
// break Settings' limits.
Error decode_wifi(const Rpc &rpc, Settings &out) noexcept;

}  // namespace improv
}  // namespace dht::firmware
