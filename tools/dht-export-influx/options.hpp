// dht-export-influx's flags as given, and what they become: the encoder's
// Settings and the sink's SinkConfig, every combination checked (a bad one is
// a usage error).
#pragma once

#include "lineproto.hpp"
#include "sink.hpp"

#include "dht/cli.hpp"

#include <optional>
#include <string>
#include <vector>

namespace dht::influx {

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    std::string measurement = "dht11";
    std::vector<std::string> tag;
    std::string topic_tags;
    bool int_fields = false;
    std::vector<std::string> int_field;
    bool string_fields = false;
    std::string precision = "ns";
    std::string url;
    std::string database, retention_policy, influx_username, influx_password_file;
    std::string org, bucket, token_file;
    bool gzip = false;
    std::size_t batch = 5000;
    Duration flush_interval = std::chrono::seconds(1);
    std::size_t buffer = 100000;
    std::string spool;
    Duration flush_timeout = std::chrono::seconds(10);
    Duration http_timeout = std::chrono::seconds(10);
    Duration retry_max = std::chrono::seconds(30);
    std::string influx_cafile;
    bool influx_insecure = false;
    std::string bare_topic;
};

Settings settings_from(const Options &o);

// Without --url, nullopt (points are printed). The password and the token are
// read here (exit 66 when their file cannot be read).
std::optional<SinkConfig> sink_config(const Options &o);

}  // namespace dht::influx
