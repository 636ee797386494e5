// Command-line flags shared by every tool, spelled once: mosquitto_sub's MQTT
// letters, input options, and the precedence flags > environment > --config FILE
// > $XDG_CONFIG_HOME/dht/TOOL.conf.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dht {

struct Broker {
    std::string host;
    int port = 0;
    std::string label() const;  // host:port, [v6]:port
};

// HOST, HOST:PORT, [V6]:PORT or a bare V6 address; prints and throws Exit(64)
// on a bad one.
Broker parse_broker(const std::string &text, int default_port);

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
    std::string connect_timeout;      // empty: never give up
    std::string reconnect_max = "60s";
    std::string publish_topic;        // --publish (tools that publish)
    int publish_qos = 1;

    // Filled by finish_mqtt_options().
    std::vector<Broker> brokers;
    int protocol_version = 4;  // MQTT_PROTOCOL_V311
    bool tls = false;
    std::optional<std::chrono::nanoseconds> connect_deadline;
    std::chrono::nanoseconds reconnect_max_delay{std::chrono::seconds(60)};
    std::uint32_t session_expiry_seconds = 0;

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

struct CommonOptions {
    int verbose = 0;
    bool strict = false;
    std::size_t max_line = 1024 * 1024;
    std::string max_depth_text = "32";
    std::size_t max_depth = 32;
};

// -v/--verbose (or the flag spelled in `verbose_flag`), and with `input` the
// input checks --strict, --max-line, --max-depth.
void add_common_options(CLI::App &app, CommonOptions &options, bool input,
                        const std::string &verbose_flag = "-v,--verbose");

// Parses argv with --help (only), --version, --config and the environment; on
// --help/--version prints and throws Exit(0), on a bad flag prints a one-line
// error and throws Exit(64) (66 for an unreadable --config, 78 for a bad one).
void parse_command_line(CLI::App &app, int argc, char **argv);

// "dht-sub 0.1.0 (libmosquitto 2.0.11)"
std::string version_string();

}  // namespace dht
