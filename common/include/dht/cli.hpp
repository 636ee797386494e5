// Command-line flags shared by every tool, spelled once: mosquitto_sub's MQTT
// letters, input options, and the precedence flags > environment > --config FILE
// > $XDG_CONFIG_HOME/dht/TOOL.conf.
#pragma once

#include "dht/net.hpp"
#include "dht/readings.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dht {

using Broker = Endpoint;

// Prints MESSAGE and a pointer to --help, and throws Exit(64): every usage
// error of every tool goes through here.
[[noreturn]] void usage_error(const std::string &message);

using Duration = std::chrono::nanoseconds;

// What a duration flag accepts. A bare number is seconds, for every flag.
struct DurationRange {
    Duration min{1};                                       // the least accepted (0: zero is allowed)
    Duration max{std::chrono::hours(24 * 3650)};           // ten years
};

// A flag that takes a DURATION (dht-tools(7): 500ms, 10s, 15m, 1.5h, 30d; a
// bare number is seconds), converted and checked as it is parsed, from the
// command line, the environment or a config file alike: a bad one is a usage
// error naming the flag. `target` keeps its default when the flag is absent.
CLI::Option *add_duration_option(CLI::App &app, const std::string &names, Duration &target,
                                 const std::string &help, DurationRange range = {});
CLI::Option *add_duration_option(CLI::App &app, const std::string &names, std::optional<Duration> &target,
                                 const std::string &help, DurationRange range = {});
// --max-skew DURATION, for the tools that judge records by their own time:
// input records timed further ahead of the clock are skipped (0: no limit).
CLI::Option *add_max_skew_option(CLI::App &app, Duration &max_skew);

// The same rule for a duration that is not a flag; nullopt with `error` set
// ("'10x' is not a duration (…)") when it is not one.
std::optional<Duration> parse_duration_arg(std::string_view text, DurationRange range, std::string &error);

// A secret (a password, a token), ranked as everywhere in the toolkit: `given`
// when it is set (a flag), else the environment variable `env` when set, else
// the first line of `file` (its line end dropped) when one is named, else "".
// Exit 66, naming `flag` and the file, when the file cannot be read.
std::string read_secret(const std::string &given, const std::string &file, const char *env, std::string_view flag);

struct MqttOptions {
    // As given on the command line / environment / config.
    std::vector<std::string> hosts;  // -h, repeatable: tried in order
    int port = 0;                    // -p
    std::string url;                 // -L
    std::vector<std::string> topics;  // -t
    int qos = 0;                      // -q
    std::string client_id;            // -i
    std::string id_prefix;            // -I
    bool persistent = false;          // -c
    std::string session_expiry;       // -x
    int keepalive = 60;               // -k
    std::string username;             // -u
    std::string password;             // -P
    std::string password_file;
    std::string cafile, capath, certfile, keyfile, tls_version;
    bool insecure = false;
    bool tls_use_os_certs = false;
    std::string protocol = "311";  // -V
    std::string will_topic, will_payload;
    int will_qos = 0;
    bool will_retain = false;
    std::optional<Duration> connect_timeout;   // --connect-timeout; none: never give up
    Duration reconnect_max{std::chrono::seconds(60)};  // --reconnect-max
    std::string publish_topic;        // --publish (tools that publish)
    int publish_qos = 1;
    bool publishes = false;           // the tool calls Session::publish (set by the tool)
    std::string bind_address;         // -A
    std::string unix_socket;          // --unix PATH instead of -h/-p
    bool nodelay = false;             // --nodelay (TCP_NODELAY is always set)
    std::string proxy;                // --proxy socks5h://[USER[:PASSWORD]@]HOST[:PORT]
    std::string psk, psk_identity;    // --psk HEX, --psk-identity
    std::string ciphers, keyform, tls_alpn, tls_engine, tls_engine_kpass_sha1;
    int max_inflight = 20;            // -M
    std::vector<std::string> properties;  // -D COMMAND NAME VALUE [VALUE], flattened
    std::vector<std::string> unsubscribe;  // -U (subscribers)
    int subscribe_options = 0;        // MQTT 5 subscription options (--retain-as-published)

    // Filled by finish_mqtt_options().
    std::vector<Broker> brokers;
    int protocol_version = 4;  // MQTT_PROTOCOL_V311
    bool tls = false;
    std::uint32_t session_expiry_seconds = 0;
    bool psk_mode = false;            // TLS with a pre-shared key (no certificates)
    std::string proxy_host, proxy_user, proxy_password;
    int proxy_port = 1080;

    // A broker is used only when a flag asks for one.
    bool wants_broker() const;
};

enum MqttRole : unsigned {
    mqtt_subscribe = 1U,
    mqtt_publish = 2U,
    mqtt_short_url = 4U,  // -L only: the tool's --url is not MQTT's (dht-export-influx)
};

// Adds the MQTT flags to `app` in their own option group. `roles` selects -t/-q
// (subscribe) and --publish/--publish-qos (publish).
void add_mqtt_options(CLI::App &app, MqttOptions &options, unsigned roles);

// Checks and resolves what add_mqtt_options() collected: -L, host:port lists,
// --password-file, durations, the client id. Prints the problem and throws
// Exit(64) on a usage error, Exit(66) when the password file cannot be read.
void finish_mqtt_options(MqttOptions &options, const std::string &default_id_prefix);

// PREFIX and the process id, within MQTT 3.1's 23 bytes: "dht-graphite-4194304".
std::string default_client_id(std::string prefix, long pid);

struct CommonOptions {
    int verbose = 0;
    bool strict = false;
    std::size_t max_line = 1024 * 1024;
    std::size_t max_payload = 1024 * 1024;  // an MQTT message's payload
    std::string max_depth_text = "32";
    std::size_t max_depth = 32;
    std::vector<std::string> shared_topics;  // --shared-topic
    Readings readings;  // --calibration, --derive (the tools that compute with readings)
};

// -v/--verbose (or the flag spelled in `verbose_flag`), and with `input` the
// input checks --strict, --max-line, --max-payload, --max-depth.
void add_common_options(CLI::App &app, CommonOptions &options, bool input,
                        const std::string &verbose_flag = "-v,--verbose");

// --calibration FILE (read as it is parsed: exit 66 unreadable, 78 a bad
// line) and, with `derive`, --derive FIELD, into options.readings: for the
// tools that compute with readings, in the group "Input". A tool that stores
// or forwards records as they arrived has neither.
void add_reading_options(CLI::App &app, CommonOptions &options, bool derive);

// Parses argv with --help (only), --version, --config and the environment; on
// --help/--version prints and throws Exit(0), on a bad flag prints a one-line
// error and throws Exit(64) (66 for an unreadable --config, 78 for a bad one).
// Returns the options whose value came from the environment: given neither as
// a flag nor in a config file.
std::vector<const CLI::Option *> parse_command_line(CLI::App &app, int argc, char **argv);

// "dht-sub 0.1.0 (libmosquitto 2.0.11)"
std::string version_string();

// A --tag KEY=VALUE as the exporters take it: both sides non-empty and the key
// not "sensor" (that tag comes from each record), else a usage error.
std::pair<std::string, std::string> parse_tag_flag(const std::string &text);

}  // namespace dht
