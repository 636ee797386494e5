// dht-escalate: incidents from alert records, the seed's escalation. A firing
// alert opens an incident, which climbs a level every --escalate-after until
// someone acknowledges it; every change is an incident record on stdout and on
// MQTT. `ack`, `resolve`, `list`, `show` and `tick` work on the same database.
#include "commands.hpp"
#include "daemon.hpp"
#include "incidents.hpp"
#include "policy.hpp"
#include "replay.hpp"
#include "table.hpp"

#include "dht/cli.hpp"
#include "dht/main.hpp"
#include "dht/mqtt.hpp"
#include "dht/signals.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <cstdint>

namespace {

using namespace dht;
using namespace dht::escalate;

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    Topics topics;
    CommandOptions command;  // --db and the subcommands' own
    std::string policy_file;
    bool check = false;
    PolicyFlags flags;
    bool no_auto_resolve = false;
    std::string min_severity = "info";
    bool broker_flag = false;  // -h, -p or -u given as a flag or in a config file
    bool replay = false;
};

struct Commands {
    CLI::App *ack, *resolve, *list, *show, *tick;
    SilenceCommands silence;
};

Commands setup(CLI::App &app, Options &o)
{
    app.description(
        "Open incidents from alert records (stdin, or MQTT with -t), climb them a level every\n"
        "--escalate-after until someone acknowledges them, and write every change as an incident\n"
        "record on stdout and, with a broker, on MQTT (escalations on dht11/alerts/escalation,\n"
        "the rest on dht11/incidents, QoS 1). Answers come from dht11/incidents/response or from\n"
        "the subcommands. Incidents and timers live in the SQLite database (--db).\n"
        "See dht-escalate(1) and, for the policy file, dht-escalate(5).");
    app.fallthrough();
    app.require_subcommand(0, 1);
    add_mqtt_options(app, o.mqtt, mqtt_subscribe);
    app.add_option("--publish-qos", o.mqtt.publish_qos, "QoS of the incident records published (default: 1)")
        ->check(CLI::Range(0, 2))
        ->group("MQTT");
    add_common_options(app, o.common, true);
    app.add_option("--db", o.command.db, "SQLite database of incidents, may be dht-record's (default: dht.db)")
        ->envname("DHT_DB")
        ->type_name("FILE");
    app.add_option("--policy", o.policy_file, "Escalation policy file (dht-escalate(5)); SIGHUP reads it again")
        ->type_name("FILE");
    app.add_flag("--check", o.check, "Check the policy and its commands, exit 0 or 78");
    app.add_flag("--replay", o.replay, "Alerts from history on stdin through the policy, at their own times: "
                                       "the events and pages it would have made; no broker, nothing run or kept");
    const std::string g = "Escalation (flags win over the policy file)";
    auto &f = o.flags;
    add_duration_option(app, "--escalate-after", f.escalate_after,
                        "Climb an unacknowledged incident a level every DURATION (default: 15m)")
        ->group(g);
    app.add_option("--max-level", f.max_level, "Highest level (default: 3)")->check(CLI::Range(1, 100))->group(g);
    add_duration_option(app, "--repeat", f.repeat, "At the top level, a reminder every DURATION (default: none)")
        ->group(g);
    add_duration_option(app, "--ack-timeout", f.ack_timeout,
                        "An acknowledged incident not resolved within DURATION climbs again (default: never)")
        ->group(g);
    add_notify_option(app, f.notify, g);
    add_duration_option(app, "--notify-timeout", f.notify_timeout,
                        "Kill a notification command after DURATION (default: 30s)")
        ->group(g);
    app.add_option("--notify-retries", f.notify_retries, "Try a failed notification again N times (default: 3)")
        ->check(CLI::Range(0, 100))
        ->group(g);
    add_duration_option(app, "--notify-retry-delay", f.notify_retry_delay,
                        "First wait before a retry, doubled each time (default: 10s)")
        ->group(g);
    app.add_flag("--no-auto-resolve", o.no_auto_resolve, "A resolved alert does not resolve its incident: people do")
        ->group(g);
    app.add_option("--min-severity", o.min_severity, "Ignore alerts below this severity: info, warning, critical")
        ->check(CLI::IsMember({"info", "warning", "critical"}))
        ->group(g);
    app.add_option("--escalation-topic", o.topics.escalation, "Topic of escalation events (default: dht11/alerts/escalation)")
        ->type_name("TOPIC")
        ->group("MQTT");
    app.add_option("--incident-topic", o.topics.incidents, "Topic of the other incident events (default: dht11/incidents)")
        ->type_name("TOPIC")
        ->group("MQTT");
    app.add_option("--response-topic", o.topics.response,
                   "Topic of operators' answers, \"\" for none (default: dht11/incidents/response)")
        ->type_name("TOPIC")
        ->group("MQTT");

    auto &c = o.command;
    Commands cmd{};
    cmd.ack = app.add_subcommand("ack", "Acknowledge incident ID: it stops climbing");
    cmd.resolve = app.add_subcommand("resolve", "Resolve incident ID");
    for (auto *sub : {cmd.ack, cmd.resolve}) {
        sub->add_option("ID", c.id, "Incident id")->required()->check(CLI::Range(std::int64_t{1}, INT64_MAX));
        sub->add_option("--by", c.by, "Who answers (default: your login name)")->type_name("NAME");
    }
    cmd.list = app.add_subcommand("list", "Show incidents: a table, or records with --json");
    cmd.list->add_flag("--open", c.open_only, "Only those not resolved");
    cmd.list->add_flag("--json", c.json, "Incident records (JSON lines) instead of a table");
    cmd.list->add_option("--limit", c.limit, "The newest N only")->check(CLI::Range(std::int64_t{1}, INT64_MAX));
    cmd.list->add_flag("--wide", c.wide, "The table with OPENED (the time) and ALERTS (the count) too");
    cmd.show = app.add_subcommand("show", "Print the event records of incident ID, oldest first");
    cmd.show->add_option("ID", c.id, "Incident id")->required()->check(CLI::Range(std::int64_t{1}, INT64_MAX));
    cmd.silence = add_silence_commands(app, c);
    cmd.tick = app.add_subcommand("tick", "Do what is due (climbs, reminders, notifications, unsent events) and exit: for cron");
    return cmd;
}

int run(Options &o, const Commands &c)
{
    set_verbosity(o.common.verbose);
    // SIGPIPE ignored from the start: `list | head` ends quietly.
    install_signal_handlers();
    const bool subcommand = c.ack->parsed() || c.resolve->parsed() || c.tick->parsed();
    // A flag asks for a broker (SPEC 4), the environment alone does not.
    const bool broker = o.mqtt.wants_broker() || o.broker_flag;
    if (subcommand) {
        // One-shot commands take no subscription and never the daemon's session.
        o.mqtt.topics.clear();
        o.mqtt.persistent = false;
        o.mqtt.client_id.clear();
        o.mqtt.session_expiry.clear();
    }
    finish_mqtt_options(o.mqtt, "dht-escalate");
    if (subcommand)
        o.mqtt.topics.clear();  // -L's topic too
    // The alert topics (-t, -L) are input; the answers are always listened to.
    const bool alerts_from_mqtt = !o.mqtt.topics.empty();
    for (const auto *topic : {&o.topics.escalation, &o.topics.incidents})
        if (topic->empty() || mosquitto_pub_topic_check(topic->c_str()) != MOSQ_ERR_SUCCESS)
            usage_error(cat("invalid topic '", *topic, "' (no wildcards)"));
    if (!o.topics.response.empty() && mosquitto_pub_topic_check(o.topics.response.c_str()) != MOSQ_ERR_SUCCESS)
        usage_error(cat("invalid --response-topic '", o.topics.response, "' (no wildcards)"));

    const bool policy_given = !o.policy_file.empty() || o.flags.given();
    auto policy = load_policy(o.policy_file, o.flags);
    if (!policy)
        return exit_config;
    if (o.check) {
        if (policy->levels.size() > static_cast<std::size_t>(policy->max_level))
            warn(cat("levels above max-level ", policy->max_level, " are never reached"));
        warn(describe_policy(*policy));
        if (const auto bad = report_unrunnable(*policy); bad > 0) {
            warn(cat(bad, bad == 1 ? " notification command" : " notification commands", " cannot be run"));
            return exit_config;
        }
        return exit_ok;
    }
    if (o.replay && (broker || c.ack->parsed() || c.resolve->parsed() || c.tick->parsed() || c.list->parsed() ||
                     c.show->parsed() || c.silence.top->parsed()))
        usage_error("--replay reads alerts on stdin: no broker, no subcommand");
    if (o.replay)
        return replay(*policy, {o.common, !o.no_auto_resolve, severity_rank(o.min_severity)});
    if (c.list->parsed())
        return list(o.command);
    if (c.show->parsed())
        return show(o.command);
    if (c.silence.top->parsed())
        return silence_command(c.silence, o.command);

    const bool answering = c.ack->parsed() || c.resolve->parsed();
    std::optional<FileLock> daemon_lock;  // the daemon's alone: one per database
    if (!answering && !c.tick->parsed())
        daemon_lock.emplace(lock_daemon(o.command.db));
    std::optional<IncidentStore> store;
    if (answering)
        store.emplace(open_existing(o.command.db));
    else
        store.emplace(o.command.db, true);
    // The daemon's policy is kept in the database; a command run without one uses it.
    if (policy_given) {
        if (!answering)
            store->store_policy(*policy, now());
    } else if (auto stored = store->stored_policy()) {
        policy = std::move(stored);
    }
    if (policy->levels.size() > static_cast<std::size_t>(policy->max_level))
        warn(cat("levels above max-level ", policy->max_level, " are never reached"));
    store->set_policy(*policy);

    std::optional<Session> session;
    if (broker) {
        // Publishing from the consumer thread needs libmosquitto's threaded mode.
        o.mqtt.publish_topic = o.topics.incidents;
        if (!subcommand && !o.topics.response.empty())
            o.mqtt.topics.push_back(o.topics.response);
        session.emplace(o.mqtt);
        session->start();
    }
    Session *s = session ? &*session : nullptr;
    int status = exit_ok;
    std::optional<Outbox> answer_outbox;
    std::optional<Daemon> daemon;
    if (answering) {
        const AnswerOutlet outlet{s, o.topics, o.mqtt.publish_qos, o.mqtt.connect_timeout.value_or(std::chrono::seconds(10))};
        status = answer(o.command, c.resolve->parsed(), *store, outlet, answer_outbox);
    } else {
        DaemonOptions d;
        d.common = o.common;
        d.topics = o.topics;
        d.publish_qos = o.mqtt.publish_qos;
        d.auto_resolve = !o.no_auto_resolve;
        d.min_severity = severity_rank(o.min_severity);
        d.alerts_from_mqtt = alerts_from_mqtt;
        d.connect_wait = o.mqtt.connect_timeout.value_or(std::chrono::seconds(10));
        d.reload = [&o, &store, policy_given]() -> std::optional<EscalationPolicy> {
            warn("SIGHUP: reading the policy again");
            std::optional<EscalationPolicy> p;
            try {
                // Started without a policy of its own: the one kept in the database.
                p = policy_given ? load_policy(o.policy_file, o.flags) : store->stored_policy();
            } catch (const Exit &) {
            }
            if (p)
                warn(describe_policy(*p));
            else
                warn("keeping the policy in force");
            return p;
        };
        daemon.emplace(std::move(d), *store, s);
        status = c.tick->parsed() ? daemon->tick() : daemon->run();
    }
    if (session) {
        session->stop();
        // What the broker never acknowledged waits for the next process.
        const auto left = session->pending_publishes();
        if (daemon)
            daemon->outbox().settle();
        else if (answer_outbox)
            answer_outbox->settle();
        if (const auto f = session->failure(); f && status == exit_ok)
            status = *f;
        if ((left > 0 || session->refused_publishes() > 0) && status == exit_ok)
            status = exit_unavailable;
    }
    return status;
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::main_guard("dht-escalate", [&] {
        CLI::App app{"", "dht-escalate"};
        Options options;
        const auto commands = setup(app, options);
        const auto from_environment = dht::parse_command_line(app, argc, argv);
        // -h, -p or -u on the command line or in a config file: a broker is
        // asked for (-p alone means localhost, as in every tool); the
        // environment alone (DHT_MQTT_HOST, …) does not ask for one.
        for (const char *flag : {"--host", "--port", "--username"}) {
            const auto *opt = app.get_option(flag);
            if (opt->count() > 0 && std::ranges::count(from_environment, opt) == 0)
                options.broker_flag = true;
        }
        try {
            return run(options, commands);
        } catch (const dht::SqliteError &e) {
            const std::string what = e.what();
            dht::fail(e.busy() ? dht::exit_unavailable : dht::exit_ioerr,
                      what.rfind(options.command.db, 0) == 0 ? what : dht::cat(options.command.db, ": ", what));
        }
    });
}
