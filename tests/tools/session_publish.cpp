// A test driver for dht::Session's publishing side: publishes each stdin line
// to --publish TOPIC, then stops at once. The test counts what arrived: every
// QoS 1 message must be delivered before stop() returns.
#include "dht/cli.hpp"
#include "dht/lines.hpp"
#include "dht/main.hpp"
#include "dht/mqtt.hpp"

#include <unistd.h>

int main(int argc, char **argv)
{
    return dht::main_guard("session-publish", [&] {
        CLI::App app{"Publish stdin lines through dht::Session", "session-publish"};
        dht::MqttOptions mqtt;
        dht::CommonOptions common;
        dht::add_mqtt_options(app, mqtt, dht::mqtt_publish);
        dht::add_common_options(app, common, false);
        dht::parse_command_line(app, argc, argv);
        dht::set_verbosity(common.verbose);
        dht::finish_mqtt_options(mqtt, "session-publish");
        dht::Session session(mqtt);
        session.start();
        dht::LineReader reader(STDIN_FILENO, "stdin", 1 << 20);
        std::string_view line;
        unsigned long count = 0;
        while (reader.next(line) == dht::LineReader::Status::line) {
            session.publish(mqtt.publish_topic, line, mqtt.publish_qos, false);
            ++count;
        }
        session.stop(std::chrono::seconds(30));
        dht::warn(dht::cat("published ", count, ", unacknowledged ", session.pending_publishes()));
        return session.pending_publishes() == 0 ? 0 : dht::exit_unavailable;
    });
}
