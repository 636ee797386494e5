#include "dht/cli.hpp"

#include "config.hpp"
#include "help.hpp"

#include "dht/diag.hpp"
#include "dht/files.hpp"
#include "dht/mqtt.hpp"
#include "dht/record.hpp"
#include "dht/time.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sys/stat.h>

#ifndef DHT_VERSION
#define DHT_VERSION "0.0.0"
#endif

namespace dht {

bool MqttOptions::wants_broker() const
{
    return !topics.empty() || !publish_topic.empty() || !url.empty();
}

// mosquitto's letters: -h is the host, so help is --help only. Done before any
// option is added (CLI11 starts with -h,--help).
static void use_long_help(CLI::App &app) { app.set_help_flag("--help", "Print this help and exit"); }

void add_mqtt_options(CLI::App &app, MqttOptions &o, unsigned roles)
{
    use_long_help(app);
    const std::string g = "MQTT";
    app.add_option("-h,--host", o.hosts,
                   "Broker HOST or HOST:PORT; repeat for fallback brokers, tried in order (default: localhost)")
        ->envname("DHT_MQTT_HOST")
        ->delimiter(',')
        ->type_name("HOST[:PORT]")
        ->group(g);
    app.add_option("-p,--port", o.port, "Port for hosts given without one (default: 1883, 8883 with TLS)")
        ->envname("DHT_MQTT_PORT")
        ->check(CLI::Range(1, 65535))
        ->group(g);
    // A tool whose own --url names another server keeps -L for MQTT.
    app.add_option((roles & mqtt_short_url) != 0U ? "-L" : "-L,--url", o.url, "mqtt(s)://[USER[:PASSWORD]@]HOST[:PORT]/TOPIC")
        ->type_name("URL")
        ->group(g);
    if ((roles & mqtt_subscribe) != 0U) {
        app.add_option("-t,--topic", o.topics, "Subscribe to TOPIC (repeatable; $share/GROUP/TOPIC with -V 5)")
            ->type_name("TOPIC")
            ->group(g);
        app.add_option("-q,--qos", o.qos, "Subscription QoS (default: 0)")->check(CLI::Range(0, 2))->group(g);
        app.add_option("-U,--unsubscribe", o.unsubscribe, "Unsubscribe from TOPIC once connected (repeatable)")
            ->type_name("TOPIC")
            ->group(g);
        app.add_flag_callback(
               "--retain-as-published",
               [&o] { o.subscribe_options |= MQTT_SUB_OPT_RETAIN_AS_PUBLISHED; },
               "MQTT 5: keep the retain flag of messages as published")
            ->group(g);
    }
    if ((roles & mqtt_publish) != 0U) {
        app.add_option("--publish", o.publish_topic, "Also publish each output record to TOPIC")
            ->type_name("TOPIC")
            ->group(g);
        app.add_option("--publish-qos", o.publish_qos, "QoS of --publish (default: 1)")
            ->check(CLI::Range(0, 2))
            ->group(g);
    }
    app.add_option("-i,--id", o.client_id, "Client id (default: TOOL-PID)")->group(g);
    app.add_option("-I,--id-prefix", o.id_prefix, "Client id prefix, the process id appended")->group(g);
    app.add_flag("-c,--disable-clean-session", o.persistent,
                 "Persistent session: the broker keeps subscriptions and queued messages (needs -i)")
        ->group(g);
    app.add_option("-x,--session-expiry-interval", o.session_expiry,
                   "MQTT 5 session expiry in seconds, -1 for never (default: -1 with -c, else 0)")
        ->type_name("SECONDS")
        ->group(g);
    app.add_option("-k,--keepalive", o.keepalive, "Keepalive in seconds (default: 60)")
        ->check(CLI::Range(5, 65535))
        ->group(g);
    app.add_option("-u,--username", o.username, "Username")->envname("DHT_MQTT_USERNAME")->group(g);
    app.add_option("-P,--password,--pw", o.password,
                   "Password (visible in ps: prefer --password-file or DHT_MQTT_PASSWORD)")
        ->envname("DHT_MQTT_PASSWORD")
        ->group(g);
    app.add_option("--password-file", o.password_file, "Read the password from the first line of FILE")
        ->type_name("FILE")
        ->group(g);
    app.add_option("-A,--bind-address", o.bind_address, "Connect from ADDRESS (a local address)")
        ->type_name("ADDRESS")
        ->group(g);
    app.add_option("--unix", o.unix_socket, "Connect to the broker's unix socket PATH instead of -h")
        ->type_name("PATH")
        ->group(g);
    app.add_flag("--nodelay", o.nodelay, "Disable Nagle's algorithm (always done)")->group(g);
    app.add_option("--proxy", o.proxy, "Connect through a SOCKS5 proxy: socks5h://[USER[:PW]@]HOST[:PORT]")
        ->type_name("URL")
        ->group(g);
    app.add_option("-M,--max-inflight", o.max_inflight, "QoS 1/2 publishes in flight at once (default: 20)")
        ->type_name("COUNT")
        ->check(CLI::Range(1, 65535))
        ->group(g);
    app.add_option("-D,--property", o.properties, "MQTT 5 property: COMMAND NAME VALUE [VALUE] (implies -V 5)")
        ->expected(3, CLI::detail::expected_max_vector_size)
        ->type_name("CMD NAME VALUE")
        ->group(g);
    const std::string tls = "TLS";
    app.add_option("--cafile", o.cafile, "CA certificates (PEM) to verify the broker; enables TLS")
        ->type_name("FILE")
        ->group(tls);
    app.add_option("--capath", o.capath, "Directory of CA certificates; enables TLS")->type_name("DIR")->group(tls);
    app.add_option("--cert", o.certfile, "Client certificate (PEM), with --key")->type_name("FILE")->group(tls);
    app.add_option("--key", o.keyfile, "Client private key (PEM), with --cert")->type_name("FILE")->group(tls);
    app.add_option("--tls-version", o.tls_version, "tlsv1.3, tlsv1.2 or tlsv1.1")
        ->check(CLI::IsMember({"tlsv1.3", "tlsv1.2", "tlsv1.1"}))
        ->group(tls);
    app.add_flag("--insecure", o.insecure, "Do not check that the broker's certificate matches its host name")
        ->group(tls);
    app.add_flag("--tls-use-os-certs", o.tls_use_os_certs, "Trust the system's CA certificates; enables TLS")
        ->group(tls);
    app.add_option("--ciphers", o.ciphers, "OpenSSL cipher list (TLS 1.2 and below)")->type_name("LIST")->group(tls);
    app.add_option("--keyform", o.keyform, "Form of --key: pem or engine")
        ->check(CLI::IsMember({"pem", "engine"}))
        ->group(tls);
    app.add_option("--tls-engine", o.tls_engine, "OpenSSL engine for the TLS keys")->type_name("ENGINE")->group(tls);
    app.add_option("--tls-engine-kpass-sha1", o.tls_engine_kpass_sha1, "SHA1 of the engine's key password")
        ->type_name("HEX")
        ->group(tls);
    app.add_option("--tls-alpn", o.tls_alpn, "Offer PROTOCOL by ALPN in the TLS handshake")
        ->type_name("PROTOCOL")
        ->group(tls);
    app.add_option("--psk", o.psk, "TLS with this pre-shared key (hexadecimal), with --psk-identity")
        ->type_name("HEX")
        ->group(tls);
    app.add_option("--psk-identity", o.psk_identity, "Client identity for --psk")->type_name("ID")->group(tls);
    app.add_option("-V,--protocol-version", o.protocol, "MQTT version: 31, 311 or 5 (default: 311)")
        ->type_name("VERSION")
        ->check(CLI::IsMember({"31", "311", "5", "mqttv31", "mqttv311", "mqttv5"}))
        ->group(g);
    const std::string will = "Last will";
    app.add_option("--will-topic", o.will_topic, "Last will topic")->type_name("TOPIC")->group(will);
    app.add_option("--will-payload", o.will_payload, "Last will payload")->type_name("TEXT")->group(will);
    app.add_option("--will-qos", o.will_qos, "Last will QoS")->check(CLI::Range(0, 2))->group(will);
    app.add_flag("--will-retain", o.will_retain, "Retain the last will")->group(will);
    add_duration_option(app, "--connect-timeout", o.connect_timeout,
                        "Give up (exit 69) when no broker answers within DURATION (default: never)")
        ->group(g);
    add_duration_option(app, "--reconnect-max", o.reconnect_max,
                        "Longest wait between connection attempts (default: 60s)", {std::chrono::seconds(1)})
        ->group(g);
}

void usage_error(const std::string &message)
{
    warn(message);
    warn(cat("Try '", program(), " --help' for more information."));
    throw Exit(exit_usage);
}

std::optional<Duration> parse_duration_arg(std::string_view text, DurationRange range, std::string &error)
{
    const auto d = parse_duration(text, std::chrono::seconds(1));
    if (!d) {
        error = cat("'", text, "' is not a duration (examples: 500ms, 10s, 15m, 1.5h, 30d; a bare number is seconds)");
        return std::nullopt;
    }
    if (*d < range.min || *d > range.max) {
        error = *d < range.min ? cat("'", text, "' is less than ", format_duration(range.min))
                               : cat("'", text, "' is more than ", format_duration(range.max));
        return std::nullopt;
    }
    return d;
}

namespace {

template <class Target>
CLI::Option *duration_option(CLI::App &app, const std::string &names, Target &target, const std::string &help,
                             DurationRange range)
{
    auto *opt = app.add_option_function<std::string>(
        names,
        [&target, range](const std::string &text) {
            std::string error;
            target = *parse_duration_arg(text, range, error);  // checked below, before this runs
        },
        help);
    opt->type_name("DURATION");
    opt->check(CLI::Validator(
        [range](std::string &text) {
            std::string error;
            parse_duration_arg(text, range, error);
            return error;
        },
        ""));  // no description: --help shows DURATION, not DURATION:DURATION
    return opt;
}

}  // namespace

CLI::Option *add_duration_option(CLI::App &app, const std::string &names, Duration &target, const std::string &help,
                                 DurationRange range)
{
    return duration_option(app, names, target, help, range);
}

CLI::Option *add_duration_option(CLI::App &app, const std::string &names, std::optional<Duration> &target,
                                 const std::string &help, DurationRange range)
{
    return duration_option(app, names, target, help, range);
}

CLI::Option *add_max_skew_option(CLI::App &app, Duration &max_skew)
{
    return add_duration_option(app, "--max-skew", max_skew,
                               "Skip input records timed more than DURATION ahead of the clock (default: 1h; 0: no "
                               "limit)",
                               {Duration{0}})
        ->group("Input");
}

std::string read_secret(const std::string &given, const std::string &file, const char *env, std::string_view flag)
{
    if (!given.empty())
        return given;
    if (const char *v = env != nullptr ? std::getenv(env) : nullptr; v != nullptr && *v != '\0')
        return v;
    if (file.empty())
        return {};
    std::string text;
    if (const auto error = read_file(file, text); !error.empty())
        fail(exit_noinput, cat(flag, ": ", file, ": ", error));
    text.resize(std::min(text.find('\n'), text.size()));
    if (!text.empty() && text.back() == '\r')
        text.pop_back();
    return text;
}

namespace {

// mqtt(s)://[user[:password]@]host[:port]/topic, as mosquitto_sub -L.
void apply_url(MqttOptions &o, bool &tls, std::string &host)
{
    std::string rest;
    if (o.url.rfind("mqtt://", 0) == 0) {
        rest = o.url.substr(7);
    } else if (o.url.rfind("mqtts://", 0) == 0) {
        rest = o.url.substr(8);
        tls = true;
    } else {
        usage_error(cat("bad URL '", o.url, "': it must start with mqtt:// or mqtts://"));
    }
    const auto slash = rest.find('/');
    if (slash == std::string::npos || slash + 1 == rest.size())
        usage_error(cat("bad URL '", o.url, "': no topic after the host"));
    std::string authority = rest.substr(0, slash);
    o.topics.push_back(rest.substr(slash + 1));
    const auto at = authority.rfind('@');
    if (at != std::string::npos) {
        const std::string login = authority.substr(0, at);
        authority = authority.substr(at + 1);
        const auto colon = login.find(':');
        o.username = login.substr(0, colon);
        if (colon != std::string::npos)
            o.password = login.substr(colon + 1);
    }
    host = authority;
}

// socks5h://[user[:password]@]host[:port], as mosquitto_sub --proxy.
void apply_proxy_url(MqttOptions &o)
{
    constexpr std::string_view scheme = "socks5h://";
    if (!o.proxy.starts_with(scheme))
        usage_error(cat("--proxy '", o.proxy, "': only socks5h://[USER[:PASSWORD]@]HOST[:PORT] is supported"));
    std::string authority = o.proxy.substr(scheme.size());
    if (!authority.empty() && authority.back() == '/')
        authority.pop_back();
    if (const auto at = authority.rfind('@'); at != std::string::npos) {
        const std::string login = authority.substr(0, at);
        authority.erase(0, at + 1);
        const auto colon = login.find(':');
        o.proxy_user = login.substr(0, colon);
        if (colon != std::string::npos)
            o.proxy_password = login.substr(colon + 1);
    }
    const Endpoint e = parse_endpoint("--proxy", authority, 1080);
    o.proxy_host = e.host;
    o.proxy_port = e.port;
}

}  // namespace

namespace {

// A secret readable by the group or others is said, not refused (as ssh does
// for keys it would refuse, but a shared group may be meant).
void warn_if_shared(std::string_view flag, const std::string &file)
{
    struct stat st {};
    if (file.empty() || ::stat(file.c_str(), &st) != 0 || (st.st_mode & 077) == 0)
        return;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    warn(cat(flag, ": ", file, " is readable by ", (st.st_mode & 007) != 0 ? "everyone" : "its group", " (mode ",
             mode, "): chmod 600 it"));
}

}  // namespace

std::string default_client_id(std::string prefix, long pid)
{
    // MQTT 3.1 brokers may refuse ids over 23 bytes (aedes does): the tool's
    // name is shortened ("dht-export-graphite-" to "dht-graphite-", then cut)
    // so that the process id always fits.
    const std::string digits = std::to_string(pid);
    constexpr std::size_t most = 23;
    if (prefix.size() + digits.size() > most && prefix.starts_with("dht-export-"))
        prefix.erase(4, 7);
    if (prefix.size() + digits.size() > most)
        prefix.resize(most > digits.size() ? most - digits.size() : 0);
    return prefix + digits;
}

void finish_mqtt_options(MqttOptions &o, const std::string &default_id_prefix)
{
    bool tls = !o.cafile.empty() || !o.capath.empty() || o.tls_use_os_certs;
    if (!o.url.empty()) {
        std::string host;
        apply_url(o, tls, host);
        o.hosts.insert(o.hosts.begin(), host);
        if (!o.password.empty())
            warn("-L: a password in the URL shows in ps and in shell history: "
                 "use --password-file or DHT_MQTT_PASSWORD");
    }
    o.tls = tls;
    o.psk_mode = !o.psk.empty();
    if (o.psk_mode && (!o.cafile.empty() || !o.capath.empty() || o.tls_use_os_certs))
        usage_error("--psk and --cafile/--capath/--tls-use-os-certs exclude each other");
    if (o.psk_mode && o.psk_identity.empty())
        usage_error("--psk needs --psk-identity");
    if (!o.psk_identity.empty() && !o.psk_mode)
        usage_error("--psk-identity needs --psk");
    if (o.psk.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
        usage_error("--psk: the key is hexadecimal digits (no leading 0x)");
    if (!o.unix_socket.empty() && (!o.hosts.empty() || o.port != 0))
        usage_error("--unix and -h/-p/-L exclude each other");
    if (!o.unix_socket.empty() && !o.proxy.empty())
        usage_error("--unix and --proxy exclude each other");
    if (!o.proxy.empty())
        apply_proxy_url(o);
    if (!o.properties.empty())
        o.protocol = "5";  // as mosquitto_sub: -D speaks MQTT 5
    warn_if_shared("--password-file", o.password_file);
    warn_if_shared("--key", o.keyfile);
    // mqtts:// or --tls-use-os-certs without a CA of its own: the system's CA
    // store (libmosquitto 2.0.11's own "OS certs" option needs a CA file too).
    if (tls && o.cafile.empty() && o.capath.empty())
        o.capath = "/etc/ssl/certs";
    if (o.protocol == "31" || o.protocol == "mqttv31")
        o.protocol_version = MQTT_PROTOCOL_V31;
    else if (o.protocol == "5" || o.protocol == "mqttv5")
        o.protocol_version = MQTT_PROTOCOL_V5;
    else
        o.protocol_version = MQTT_PROTOCOL_V311;

    const int default_port = o.port != 0 ? o.port : (tls || o.psk_mode ? 8883 : 1883);
    o.brokers.clear();
    for (const auto &h : o.hosts)
        o.brokers.push_back(parse_endpoint("-h", h, default_port));
    if (!o.unix_socket.empty())
        o.brokers.push_back(Broker{o.unix_socket, 0});  // libmosquitto: port 0 is a unix socket
    if (o.brokers.empty())
        o.brokers.push_back(Broker{"localhost", default_port});

    if (o.certfile.empty() != o.keyfile.empty())
        usage_error("--cert and --key go together");
    if (!o.keyform.empty() && o.keyfile.empty())
        usage_error("--keyform needs --key");
    if (!o.tls_engine_kpass_sha1.empty() && (o.tls_engine.empty() || o.keyform.empty()))
        usage_error("--tls-engine-kpass-sha1 needs --tls-engine and --keyform");
    if ((!o.certfile.empty() || o.insecure || !o.tls_alpn.empty() || !o.tls_engine.empty()) && !tls)
        usage_error("TLS options need --cafile, --capath, --tls-use-os-certs or an mqtts:// URL");
    if ((!o.tls_version.empty() || !o.ciphers.empty()) && !tls && !o.psk_mode)
        usage_error("--tls-version and --ciphers need TLS: --cafile, --capath, --tls-use-os-certs or --psk");
    if (!o.properties.empty())
        static_cast<void>(mqtt_properties(o.properties, CMD_CONNECT));  // checks every -D

    // A password given as such (-P, DHT_MQTT_PASSWORD, the URL) wins over a file.
    o.password = read_secret(o.password, o.password_file, nullptr, "--password-file");
    if (!o.password.empty() && o.username.empty())
        usage_error("a password needs a username (-u)");

    for (const auto &t : o.topics)
        if (mosquitto_sub_topic_check(t.c_str()) != MOSQ_ERR_SUCCESS)
            usage_error(cat("invalid subscription topic '", t, "'"));
    if (!o.publish_topic.empty() && mosquitto_pub_topic_check(o.publish_topic.c_str()) != MOSQ_ERR_SUCCESS)
        usage_error(cat("invalid publish topic '", o.publish_topic, "' (no wildcards)"));
    if (!o.will_topic.empty() && mosquitto_pub_topic_check(o.will_topic.c_str()) != MOSQ_ERR_SUCCESS)
        usage_error(cat("invalid will topic '", o.will_topic, "'"));
    if (o.will_topic.empty() && (!o.will_payload.empty() || o.will_retain))
        usage_error("--will-payload and --will-retain need --will-topic");

    if (o.client_id.empty()) {
        if (o.persistent)
            usage_error("-c (persistent session) needs a client id: give -i ID");
        o.client_id = default_client_id(o.id_prefix.empty() ? default_id_prefix + "-" : o.id_prefix, ::getpid());
    }
    if (o.client_id.size() > 65535)
        usage_error("client id too long");

    if (o.session_expiry.empty()) {
        o.session_expiry_seconds = o.persistent ? UINT32_MAX : 0;
    } else if (o.session_expiry == "-1" || o.session_expiry == "\u221e") {
        o.session_expiry_seconds = UINT32_MAX;
    } else {
        char *end = nullptr;
        errno = 0;
        const unsigned long long v = std::strtoull(o.session_expiry.c_str(), &end, 10);
        if (errno != 0 || *end != '\0' || o.session_expiry.front() == '-' || v > UINT32_MAX)
            usage_error(cat("-x: '", o.session_expiry, "' is not 0..4294967295 or -1"));
        o.session_expiry_seconds = static_cast<std::uint32_t>(v);
    }
    if (!o.session_expiry.empty() && o.protocol_version != MQTT_PROTOCOL_V5)
        usage_error("-x (session expiry) needs -V 5");
}

void add_common_options(CLI::App &app, CommonOptions &o, bool input, const std::string &verbose_flag)
{
    use_long_help(app);
    app.add_flag(verbose_flag, o.verbose, "More diagnostics on stderr (repeat for more)");
    if (input) {
        const std::string in = "Input";
        app.add_flag("--strict", o.strict, "Stop at the first bad input line (exit 65)")->group(in);
        app.add_option("--max-line", o.max_line, "Longest input line in bytes (default: 1048576)")
            ->check(CLI::Range(std::size_t{16}, std::size_t{1} << 30))->group(in);
        app.add_option("--max-payload", o.max_payload,
                       "Longest MQTT payload in bytes; a longer message is reported and skipped (default: 1048576)")
            ->check(CLI::Range(std::size_t{16}, std::size_t{1} << 30))->group(in);
        app.add_option("--max-depth", o.max_depth, "Deepest JSON nesting accepted (default: 32)")
            ->check(CLI::Range(std::size_t{1}, std::size_t{1000}))->group(in);
        app.add_option_function<std::vector<std::string>>(
               "--shared-topic",
               [&o](const std::vector<std::string> &filters) {
                   o.shared_topics = filters;
                   set_shared_topics(filters);
               },
               "On topics matching FILTER the payload's \"sensor\" names the sensor (repeatable; "
               "e.g. dht11/sensor/data); elsewhere the topic does")
            ->type_name("FILTER")
            ->check(CLI::Validator(
                [](std::string &filter) {
                    return mosquitto_sub_topic_check(filter.c_str()) == MOSQ_ERR_SUCCESS
                               ? std::string()
                               : cat("'", filter, "' is not a topic filter");
                },
                ""))
            ->group(in);
    }
}

void add_reading_options(CLI::App &app, CommonOptions &o, bool derive)
{
    const std::string in = "Input";
    app.add_option_function<std::string>(
           "--calibration", [&o](const std::string &path) { o.readings.load_calibration(path); },
           "Add the offsets of FILE to the readings of the sensors it names (lines: TOPIC-FILTER FIELD "
           "OFFSET); derived fields use the calibrated values")
        ->type_name("FILE")
        ->group(in);
    if (!derive)
        return;
    std::vector<std::string> names(std::begin(derived_names), std::end(derived_names));
    app.add_option_function<std::vector<std::string>>(
           "--derive",
           [&o](const std::vector<std::string> &fields) {
               for (const auto &f : fields)
                   o.readings.derive(*derived_field(f));
           },
           "Add the derived FIELD (dew_point, absolute_humidity) to each reading that has a temperature "
           "and a humidity (repeatable)")
        ->type_name("FIELD")
        ->check(CLI::IsMember(names))
        ->group(in);
}

namespace {

// Config files come after the environment in our precedence, but CLI11 applies
// them first; so a key whose environment variable is set is dropped here.
class EnvFirstConfig : public CLI::ConfigTOML {
public:
    explicit EnvFirstConfig(std::set<std::string> overridden) : overridden_(std::move(overridden))
    {
        // CLI11 2.1 cuts a value at its comment character even inside quotes,
        // which would turn topic = "dht11/#" into "dht11/. Comments are whole
        // lines starting with # or ; (CLI11 skips those whatever this is).
        commentChar = '\0';
    }
    std::vector<CLI::ConfigItem> from_config(std::istream &input) const override
    {
        auto found = CLI::ConfigTOML::from_config(input);
        std::erase_if(found, [this](const CLI::ConfigItem &item) { return overridden_.count(item.name) != 0; });
        return found;
    }

private:
    std::set<std::string> overridden_;
};

std::string xdg_config_file()
{
    std::string dir;
    if (const char *x = std::getenv("XDG_CONFIG_HOME"); x != nullptr && *x != '\0')
        dir = x;
    else if (const char *home = std::getenv("HOME"); home != nullptr && *home != '\0')
        dir = std::string(home) + "/.config";
    else
        return {};
    return dir + "/dht/" + program() + ".conf";
}

}  // namespace

std::string version_string()
{
    int major = 0, minor = 0, revision = 0;
    mosquitto_lib_version(&major, &minor, &revision);
    return cat(program(), ' ', DHT_VERSION, " (libmosquitto ", major, '.', minor, '.', revision, ')');
}

std::vector<const CLI::Option *> parse_command_line(CLI::App &app, int argc, char **argv)
{
    use_long_help(app);
    app.set_version_flag("--version", version_string(), "Print the version and exit");
    auto *config = app.set_config("--config", "", "Read options from FILE (long option names as keys)");
    config->type_name("FILE")->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    use_plain_help(app);
    bool print_config = false;
    app.add_flag("--print-config", print_config, "Print the options in effect, and where each came from; exit");

    // Values from the environment are given to their options here, once the
    // command line and the config files are parsed, rather than by CLI11: so
    // that the caller can tell them from values given as flags.
    struct FromEnvironment {
        CLI::Option *option;
        std::string name, value;
    };
    std::vector<FromEnvironment> environment;
    std::set<std::string> overridden;
    for (CLI::Option *opt : app.get_options({})) {
        const std::string env = opt->get_envname();
        if (env.empty())
            continue;
        if (const char *v = std::getenv(env.c_str()); v != nullptr && *v != '\0') {
            for (const auto &name : opt->get_lnames())
                overridden.insert(name);
            environment.push_back({opt, env, v});
            opt->envname("");
        }
    }
    app.config_formatter(std::make_shared<EnvFirstConfig>(std::move(overridden)));
    const auto restore_names = [&environment] {
        for (const auto &e : environment)
            e.option->envname(e.name);  // for --help
    };

    // CLI11 takes the arguments reversed. The user's own config file is read
    // first (it wins); the XDG file fills in what it leaves unset.
    std::vector<std::string> args;
    for (int i = argc - 1; i >= 1; --i)
        args.emplace_back(argv[i]);
    const std::string xdg = xdg_config_file();
    struct stat st {};
    if (!xdg.empty() && ::stat(xdg.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        args.push_back(xdg);
        args.emplace_back("--config");
    }
    // Config files are checked line by line first: a misspelt key or a
    // malformed line is an error naming FILE:LINE, never ignored.
    std::vector<std::string> files;
    if (!xdg.empty() && ::stat(xdg.c_str(), &st) == 0 && S_ISREG(st.st_mode))
        files.push_back(xdg);
    for (auto &f : config::named_files(argc, argv))
        files.push_back(std::move(f));
    const auto settings = config::check_files(app, files);
    const auto flags = config::given_as_flags(app, argc, argv);
    std::vector<const CLI::Option *> from_environment;
    try {
        app.parse(args);
        restore_names();
        for (const auto &e : environment) {
            if (e.option->count() != 0)
                continue;
            e.option->add_result(e.value);
            e.option->run_callback();
            from_environment.push_back(e.option);
        }
    } catch (const CLI::ParseError &e) {
        restore_names();
        if (e.get_exit_code() == 0) {
            app.exit(e, std::cout, std::cerr);
            std::cout.flush();
            throw Exit(exit_ok);
        }
        if (dynamic_cast<const CLI::FileError *>(&e) != nullptr)
            fail(exit_noinput, e.what());
        if (dynamic_cast<const CLI::ConfigError *>(&e) != nullptr)
            fail(exit_config, cat("config: ", e.what()));
        // A bad value from a config file: where it was written.
        const std::string what = e.what();
        for (auto it = settings.rbegin(); it != settings.rend(); ++it)
            if (flags.count(it->option) == 0 && what.starts_with(it->option->get_name() + ":"))
                fail(exit_config, cat(it->file, ':', it->line, ": ", what));
        usage_error(plain_error(app, what));
    }
    if (print_config) {
        config::print(app, settings, flags, from_environment, std::cout);
        std::cout.flush();
        throw Exit(exit_ok);
    }
    return from_environment;
}

std::pair<std::string, std::string> parse_tag_flag(const std::string &text)
{
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
        usage_error(cat("--tag: '", text, "' is not KEY=VALUE"));
    if (text.compare(0, eq, "sensor") == 0)
        usage_error("--tag: the sensor tag comes from each record");
    return {text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace dht
