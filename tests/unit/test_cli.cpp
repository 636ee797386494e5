#include "dht/bounds.hpp"
#include "dht/cli.hpp"
#include "dht/diag.hpp"
#include "dht/text.hpp"
#include "dht/time.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace dht;

namespace {
int exit_code_of(MqttOptions &o)
{
    try {
        finish_mqtt_options(o, "test");
    } catch (const Exit &e) {
        return e.code();
    }
    return 0;
}

// Parses `args` as the command line of a tool with the MQTT flags.
struct Parsed {
    MqttOptions mqtt;
    CommonOptions common;
    int code = 0;
};

// Parses `args` as the command line of `app`: 0, or the status it exits with.
int parse_app(CLI::App &app, std::vector<std::string> args)
{
    set_program("dht-test");
    args.insert(args.begin(), "dht-test");
    std::vector<char *> argv;
    for (auto &a : args)
        argv.push_back(a.data());
    try {
        parse_command_line(app, static_cast<int>(argv.size()), argv.data());
    } catch (const Exit &e) {
        return e.code();
    }
    return 0;
}

Parsed parse(std::vector<std::string> args)
{
    Parsed p;
    CLI::App app{"", "dht-test"};
    add_mqtt_options(app, p.mqtt, mqtt_subscribe | mqtt_publish);
    add_common_options(app, p.common, true);
    p.code = parse_app(app, std::move(args));
    return p;
}

struct TempDir {
    std::string path;
    TempDir()
    {
        char tmpl[] = "/tmp/dht-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() { std::system(("rm -rf " + path).c_str()); }
    std::string write(const std::string &name, const std::string &text) const
    {
        const std::string file = path + "/" + name;
        std::ofstream(file) << text;
        return file;
    }
};
}  // namespace

TEST_CASE("hosts: a list tried in order, with ports and IPv6")
{
    MqttOptions o;
    o.hosts = {"a.example", "b.example:1884", "[::1]:1885", "::1"};
    o.topics = {"dht11/#"};
    REQUIRE(exit_code_of(o) == 0);
    REQUIRE(o.brokers.size() == 4);
    CHECK(o.brokers[0].label() == "a.example:1883");
    CHECK(o.brokers[1].label() == "b.example:1884");
    CHECK(o.brokers[2].label() == "[::1]:1885");
    CHECK(o.brokers[3].label() == "[::1]:1883");
    CHECK(o.wants_broker());
    CHECK(o.client_id.rfind("test-", 0) == 0);

    MqttOptions none;
    REQUIRE(exit_code_of(none) == 0);
    CHECK(none.brokers.at(0).label() == "localhost:1883");
    CHECK_FALSE(none.wants_broker());  // a pure filter needs no broker

    MqttOptions tls;
    tls.cafile = "/nonexistent/ca.crt";
    tls.port = 0;
    REQUIRE(exit_code_of(tls) == 0);
    CHECK(tls.brokers.at(0).port == 8883);
}

TEST_CASE("URLs (-L) give login, host, port and topic")
{
    MqttOptions o;
    o.url = "mqtts://ana:s3cret@broker.lan:8884/dht11/+/data";
    REQUIRE(exit_code_of(o) == 0);
    CHECK(o.tls);
    CHECK(o.username == "ana");
    CHECK(o.password == "s3cret");
    CHECK(o.brokers.at(0).label() == "broker.lan:8884");
    CHECK(o.topics == std::vector<std::string>{"dht11/+/data"});
    CHECK(o.capath == "/etc/ssl/certs");  // no CA given: the system's
}

TEST_CASE("usage errors exit 64")
{
    const auto code = [](auto change) {
        MqttOptions o;
        change(o);
        return exit_code_of(o);
    };
    CHECK(code([](MqttOptions &o) { o.url = "http://x/t"; }) == 64);
    CHECK(code([](MqttOptions &o) { o.url = "mqtt://x"; }) == 64);
    CHECK(code([](MqttOptions &o) { o.hosts = {"h:99999"}; }) == 64);
    CHECK(code([](MqttOptions &o) { o.hosts = {"[::1"}; }) == 64);
    CHECK(code([](MqttOptions &o) { o.topics = {"a/#/b"}; }) == 64);
    CHECK(code([](MqttOptions &o) { o.publish_topic = "a/+"; }) == 64);
    CHECK(code([](MqttOptions &o) { o.persistent = true; }) == 64);  // -c needs -i
    CHECK(code([](MqttOptions &o) { o.certfile = "c.pem"; }) == 64);
    CHECK(code([](MqttOptions &o) { o.password = "x"; }) == 64);  // no username
    CHECK(code([](MqttOptions &o) { o.session_expiry = "10"; }) == 64);  // needs -V 5
    CHECK(code([](MqttOptions &o) { o.password_file = "/nonexistent"; o.username = "u"; }) == 66);
}

TEST_CASE("persistent sessions and session expiry")
{
    MqttOptions o;
    o.persistent = true;
    o.client_id = "archiver";
    o.protocol = "5";
    REQUIRE(exit_code_of(o) == 0);
    CHECK(o.session_expiry_seconds == UINT32_MAX);
    CHECK(o.protocol_version == 5);
    MqttOptions e;
    e.protocol = "mqttv5";
    e.session_expiry = "3600";
    REQUIRE(exit_code_of(e) == 0);
    CHECK(e.session_expiry_seconds == 3600);
}

TEST_CASE("flags beat the environment, which beats --config, which beats the XDG file")
{
    TempDir dir;
    setenv("XDG_CONFIG_HOME", dir.path.c_str(), 1);
    ::mkdir((dir.path + "/dht").c_str(), 0700);
    dir.write("dht/dht-test.conf", "username = \"xdg-user\"\nport = 1001\nkeepalive = 11\nqos = 1\n");
    const std::string conf = dir.write("my.conf", "username = \"conf-user\"\nport = 1002\nkeepalive = 12\n");
    unsetenv("DHT_MQTT_USERNAME");
    unsetenv("DHT_MQTT_PORT");

    auto p = parse({});
    REQUIRE(p.code == 0);
    CHECK(p.mqtt.username == "xdg-user");
    CHECK(p.mqtt.port == 1001);

    p = parse({"--config", conf});
    REQUIRE(p.code == 0);
    CHECK(p.mqtt.username == "conf-user");
    CHECK(p.mqtt.keepalive == 12);
    CHECK(p.mqtt.qos == 1);  // only in the XDG file: still read

    setenv("DHT_MQTT_USERNAME", "env-user", 1);
    setenv("DHT_MQTT_PORT", "1003", 1);
    p = parse({"--config", conf});
    REQUIRE(p.code == 0);
    CHECK(p.mqtt.username == "env-user");
    CHECK(p.mqtt.port == 1003);
    CHECK(p.mqtt.keepalive == 12);

    p = parse({"--config", conf, "-u", "flag-user", "-p", "1004"});
    REQUIRE(p.code == 0);
    CHECK(p.mqtt.username == "flag-user");
    CHECK(p.mqtt.port == 1004);

    unsetenv("DHT_MQTT_USERNAME");
    unsetenv("DHT_MQTT_PORT");
    CHECK(parse({"--config", dir.path + "/missing.conf"}).code == 66);
    CHECK(parse({"--no-such-flag"}).code == 64);
    CHECK(parse({"-q", "3"}).code == 64);
    CHECK(parse({"-V", "4"}).code == 64);
    unsetenv("XDG_CONFIG_HOME");
}

TEST_CASE("duration flags: one rule for every tool, checked as they are parsed")
{
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/nonexistent", 1);
    set_program("dht-test");
    const auto run = [](std::vector<std::string> args, Duration &d, std::optional<Duration> &opt) {
        CLI::App app{"", "dht-test"};
        add_duration_option(app, "--wait", d, "a wait");
        add_duration_option(app, "--limit", opt, "a limit", {Duration{0}, std::chrono::hours(1)});
        return parse_app(app, std::move(args));
    };
    Duration d = std::chrono::seconds(7);
    std::optional<Duration> opt;
    REQUIRE(run({}, d, opt) == 0);
    CHECK(d == std::chrono::seconds(7));  // absent: the default stays
    CHECK(!opt);
    REQUIRE(run({"--wait", "10", "--limit", "0"}, d, opt) == 0);
    CHECK(d == std::chrono::seconds(10));  // a bare number is seconds
    CHECK(opt == Duration{0});             // this one allows zero
    REQUIRE(run({"--wait", "1.5m", "--limit", "250ms"}, d, opt) == 0);
    CHECK(d == std::chrono::seconds(90));
    CHECK(opt == std::chrono::milliseconds(250));
    CHECK(run({"--wait", "10x"}, d, opt) == 64);
    CHECK(run({"--wait", "0"}, d, opt) == 64);       // below the default least, 1ns
    CHECK(run({"--wait", "-5s"}, d, opt) == 64);
    CHECK(run({"--limit", "2h"}, d, opt) == 64);     // above its most
    CHECK(run({"--wait", "100000d"}, d, opt) == 64);  // above ten years

    std::string error;
    CHECK(!parse_duration_arg("soon", {}, error));
    CHECK(error.find("'soon' is not a duration") != std::string::npos);
    CHECK(parse_duration_arg("2", {}, error) == std::chrono::seconds(2));
    CHECK(!parse_duration_arg("0", {}, error));
    CHECK(error == "'0' is less than 1ns");
    CHECK(!parse_duration_arg("11h", {std::chrono::seconds(1), std::chrono::hours(10)}, error));
    CHECK(error == "'11h' is more than 10h");
    CHECK(format_duration(std::chrono::milliseconds(1500)) == "1500ms");
    CHECK(format_duration(std::chrono::hours(24 * 3650)) == "3650d");
}

TEST_CASE("values from the environment are told apart from flags and config files")
{
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/nonexistent", 1);
    set_program("dht-test");
    TempDir dir;
    const std::string conf = dir.write("my.conf", "host = \"conf-host\"\n");
    const auto run = [](std::vector<std::string> args, MqttOptions &o) {
        CLI::App app{"", "dht-test"};
        add_mqtt_options(app, o, mqtt_subscribe);
        args.insert(args.begin(), "dht-test");
        std::vector<char *> argv;
        for (auto &a : args)
            argv.push_back(a.data());
        const auto from_env = parse_command_line(app, static_cast<int>(argv.size()), argv.data());
        return std::ranges::count(from_env, app.get_option("--host")) != 0;
    };
    setenv("DHT_MQTT_HOST", "env-host", 1);
    MqttOptions o;
    CHECK(run({}, o));
    CHECK(o.hosts == std::vector<std::string>{"env-host"});
    o = {};
    CHECK(!run({"-h", "env-host"}, o));  // a flag, even one saying what the environment says
    CHECK(o.hosts == std::vector<std::string>{"env-host"});
    o = {};
    CHECK(!run({"-h", "a", "-h", "b,c"}, o));
    CHECK(o.hosts == std::vector<std::string>{"a", "b", "c"});
    o = {};
    CHECK(run({"--config", conf}, o));  // the environment beats a config file
    CHECK(o.hosts == std::vector<std::string>{"env-host"});
    unsetenv("DHT_MQTT_HOST");
    o = {};
    CHECK(!run({"--config", conf}, o));
    CHECK(o.hosts == std::vector<std::string>{"conf-host"});
    o = {};
    CHECK(!run({}, o));
    CHECK(o.hosts.empty());

    setenv("DHT_MQTT_PORT", "not-a-port", 1);  // checked as a flag would be
    o = {};
    try {
        run({}, o);
        FAIL("a bad port from the environment was taken");
    } catch (const Exit &e) {
        CHECK(e.code() == exit_usage);
    }
    unsetenv("DHT_MQTT_PORT");
}

TEST_CASE("the connect timeout and the reconnect maximum are durations with bounds")
{
    CHECK(parse({"--connect-timeout", "soon"}).code == 64);
    CHECK(parse({"--reconnect-max", "100ms"}).code == 64);  // less than 1s
    const auto p = parse({"--connect-timeout", "2", "--reconnect-max", "5m"});
    REQUIRE(p.code == 0);
    CHECK(p.mqtt.connect_timeout == std::chrono::seconds(2));
    CHECK(p.mqtt.reconnect_max == std::chrono::minutes(5));
}

TEST_CASE("secrets: given, then the environment, then the first line of the file")
{
    TempDir dir;
    const std::string file = dir.write("secret", "s3cret \r\nsecond line\n");
    unsetenv("DHT_TEST_SECRET");
    CHECK(read_secret("", "", "DHT_TEST_SECRET", "--x-file").empty());
    CHECK(read_secret("", file, "DHT_TEST_SECRET", "--x-file") == "s3cret ");  // the CR goes, the space stays
    setenv("DHT_TEST_SECRET", "from-env", 1);
    CHECK(read_secret("", file, "DHT_TEST_SECRET", "--x-file") == "from-env");
    CHECK(read_secret("given", file, "DHT_TEST_SECRET", "--x-file") == "given");
    unsetenv("DHT_TEST_SECRET");
    int code = 0;
    try {
        read_secret("", dir.path + "/missing", "DHT_TEST_SECRET", "--x-file");
    } catch (const Exit &e) {
        code = e.code();
    }
    CHECK(code == 66);
}

TEST_CASE("endpoints: host:port, [v6]:port, :port where listening")
{
    CHECK(parse_endpoint("--carbon", "carbon.lan", 2003).label() == "carbon.lan:2003");
    CHECK(parse_endpoint("--carbon", "[::1]:2004", 2003).label() == "[::1]:2004");
    CHECK(parse_endpoint("--listen", ":9464", 0, true).label() == "*:9464");
    const auto code = [](const std::string &text, int port, bool any) {
        try {
            parse_endpoint("--x", text, port, any);
        } catch (const Exit &e) {
            return e.code();
        }
        return 0;
    };
    CHECK(code(":9464", 0, false) == 64);  // no host where one is needed
    CHECK(code("127.0.0.1", 0, true) == 64);  // no port, none by default
    CHECK(code("h:0", 1883, false) == 64);
    CHECK(code("h:70000", 1883, false) == 64);
}

TEST_CASE("default client ids fit MQTT 3.1's 23 bytes")
{
    for (const char *tool : {"dht-sub", "dht-record", "dht-export-graphite", "dht-export-influx", "dht-rules",
                             "dht-stats", "dht-sensor-sim", "dht-escalate"}) {
        const std::string id = default_client_id(std::string(tool) + "-", 4194304);
        INFO(id);
        CHECK(id.size() <= 23);
        CHECK(id.ends_with("-4194304"));
    }
    CHECK(default_client_id("dht-export-graphite-", 12345) == "dht-graphite-12345");
    CHECK(default_client_id("dht-sub-", 12345) == "dht-sub-12345");
    CHECK(default_client_id("a-much-longer-prefix-than-fits-", 12345).size() == 23);
    MqttOptions o;
    finish_mqtt_options(o, "dht-export-influx");
    CHECK(o.client_id.size() <= 23);
    CHECK(o.client_id.ends_with(std::to_string(::getpid())));
}

TEST_CASE("sensor bounds: --max-sensors and --forget-after, defaults, checks, the cap")
{
    {
        CLI::App app{"", "dht-test"};
        SensorBounds b;
        add_sensor_bounds_options(app, b);
        REQUIRE(parse_app(app, {}) == 0);
        CHECK(b.max_sensors == 10000);
        CHECK_FALSE(b.forget_after);
    }
    {
        CLI::App app{"", "dht-test"};
        SensorBounds b;
        add_sensor_bounds_options(app, b);
        REQUIRE(parse_app(app, {"--max-sensors", "3", "--forget-after", "2h"}) == 0);
        CHECK(b.max_sensors == 3);
        CHECK(b.forget_after == std::chrono::hours(2));
    }
    for (const char *bad : {"0", "-1", "x"}) {
        CLI::App app{"", "dht-test"};
        SensorBounds b;
        add_sensor_bounds_options(app, b);
        CHECK(parse_app(app, {"--max-sensors", bad}) == 64);
    }

    SensorCap cap(2);
    CHECK(cap.admit(0, "a"));
    CHECK(cap.admit(1, "b"));
    CHECK_FALSE(cap.admit(2, "c"));
    CHECK_FALSE(cap.admit(2, "d"));
    CHECK(cap.refused() == 2);
    CHECK(cap.admit(1, "e"));  // room again once one was forgotten
    CHECK(cap.refused() == 2);
}

TEST_CASE("config files: a misspelt key, a malformed line or a bad value is an error at FILE:LINE")
{
    TempDir dir;
    const auto code_of = [&](const std::string &text) {
        Parsed p;
        CLI::App app{"", "dht-test"};
        add_mqtt_options(app, p.mqtt, mqtt_subscribe | mqtt_publish);
        add_common_options(app, p.common, true);
        return parse_app(app, {"--config", dir.write("t.conf", text)});
    };
    CHECK(code_of("# a comment\n; another\n\nhost = \"127.0.0.1\"\nport = 1884\ntopic = \"a/#\"\n") == 0);
    CHECK(code_of("hots = 127.0.0.1\n") == 78);
    CHECK(code_of("host: 127.0.0.1\n") == 78);
    CHECK(code_of("[dht-sub]\nhost = x\n") == 78);
    CHECK(code_of("port = abc\n") == 78);
    CHECK(code_of("= 3\n") == 78);
    CHECK(code_of("config = other.conf\n") == 78);
}

TEST_CASE("config files: the edit distance behind 'did you mean'")
{
    CHECK(edit_distance("hots", "host") == 2);
    CHECK(edit_distance("pubish", "publish") == 1);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("state", "state") == 0);
}
