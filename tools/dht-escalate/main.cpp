// dht-escalate: incidents from alert records, the seed's escalation. A firing
// alert opens an incident, which climbs a level every --escalate-after until
// someone acknowledges it; every change is an incident record on stdout and on
// MQTT. `ack`, `resolve`, `list`, `show` and `tick` work on the same database.
#include "daemon.hpp"
#include "incidents.hpp"
#include "policy.hpp"
#include "table.hpp"

#include "dht/cli.hpp"
#include "dht/main.hpp"
#include "dht/mqtt.hpp"
#include "dht/signals.hpp"

#include <mosquitto.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <pwd.h>
#include <sstream>
#include <unistd.h>

namespace {

using namespace dht;
using namespace dht::escalate;

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    Topics topics;
    std::string db = "dht.db";
    std::string policy_file;
    bool check = false;
    std::string escalate_after, repeat, ack_timeout, notify_timeout, notify_retry_delay;
    int max_level = 0;
    int notify_retries = -1;
    std::vector<std::string> notify;
    bool no_auto_resolve = false;
    std::string min_severity = "info";
    // Subcommands.
    std::int64_t id = 0;
    std::string by;
    bool open_only = false;
    bool json = false;
    std::int64_t limit = 0;
    bool host_flag = false;  // -h given on the command line
};

struct Commands {
    CLI::App *ack, *resolve, *list, *show, *tick;
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
    app.add_option("--db", o.db, "SQLite database of incidents, may be dht-record's (default: dht.db)")
        ->envname("DHT_DB")
        ->type_name("FILE");
    app.add_option("--policy", o.policy_file, "Escalation policy file (dht-escalate(5)); SIGHUP reads it again")
        ->type_name("FILE");
    app.add_flag("--check", o.check, "Check the policy and the flags, print what is in force, exit: 0 or 78");
    const std::string g = "Escalation (flags win over the policy file)";
    app.add_option("--escalate-after", o.escalate_after, "Climb an unacknowledged incident a level every DURATION (default: 15m)")
        ->type_name("DURATION")
        ->group(g);
    app.add_option("--max-level", o.max_level, "Highest level (default: 3)")->check(CLI::Range(1, 100))->group(g);
    app.add_option("--repeat", o.repeat, "At the top level, a reminder every DURATION (default: none)")
        ->type_name("DURATION")
        ->group(g);
    app.add_option("--ack-timeout", o.ack_timeout,
                   "An acknowledged incident not resolved within DURATION climbs again (default: never)")
        ->type_name("DURATION")
        ->group(g);
    app.add_option("--notify", o.notify,
                   "Run COMMAND (split into words here, no shell) for each opened, escalation and reminder event, "
                   "the record on its stdin (repeatable)")
        ->type_name("COMMAND")
        ->group(g);
    app.add_option("--notify-timeout", o.notify_timeout, "Kill a notification command after DURATION (default: 30s)")
        ->type_name("DURATION")
        ->group(g);
    app.add_option("--notify-retries", o.notify_retries, "Try a failed notification again N times (default: 3)")
        ->check(CLI::Range(0, 100))
        ->group(g);
    app.add_option("--notify-retry-delay", o.notify_retry_delay, "First wait before a retry, doubled each time (default: 10s)")
        ->type_name("DURATION")
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

    Commands c{};
    c.ack = app.add_subcommand("ack", "Acknowledge incident ID: it stops climbing");
    c.resolve = app.add_subcommand("resolve", "Resolve incident ID");
    for (auto *sub : {c.ack, c.resolve}) {
        sub->add_option("ID", o.id, "Incident id")->required()->check(CLI::Range(std::int64_t{1}, INT64_MAX));
        sub->add_option("--by", o.by, "Who answers (default: your login name)")->type_name("NAME");
    }
    c.list = app.add_subcommand("list", "Show incidents: a table, or records with --json");
    c.list->add_flag("--open", o.open_only, "Only those not resolved");
    c.list->add_flag("--json", o.json, "Incident records (JSON lines) instead of a table");
    c.list->add_option("--limit", o.limit, "The newest N only")->check(CLI::Range(std::int64_t{1}, INT64_MAX));
    c.show = app.add_subcommand("show", "Print the event records of incident ID, oldest first");
    c.show->add_option("ID", o.id, "Incident id")->required()->check(CLI::Range(std::int64_t{1}, INT64_MAX));
    c.tick = app.add_subcommand("tick", "Do what is due (climbs, reminders, notifications, unsent events) and exit: for cron");
    return c;
}

std::chrono::nanoseconds duration_flag(const std::string &name, const std::string &text)
{
    const auto d = parse_duration(text);
    if (!d || d->count() <= 0)
        fail(exit_usage, cat(name, ": '", text, "' is not a duration such as 15m"));
    if (*d > kMaxDuration)
        fail(exit_usage, cat(name, ": '", text, "' is longer than ten years"));
    return *d;
}

// Whether the policy comes from this command line (a file or a flag), or else
// from the database (what the daemon runs).
bool policy_given(const Options &o)
{
    return !o.policy_file.empty() || !o.escalate_after.empty() || o.max_level > 0 || !o.repeat.empty() ||
           !o.ack_timeout.empty() || !o.notify_timeout.empty() || !o.notify_retry_delay.empty() ||
           o.notify_retries >= 0 || !o.notify.empty();
}

// The policy file under the flags given; nullopt (errors printed) when wrong.
// An unreadable file throws Exit(66).
std::optional<EscalationPolicy> load_policy(const Options &o)
{
    EscalationPolicy p;
    std::vector<PolicyError> errors;
    if (!o.policy_file.empty()) {
        std::ifstream in(o.policy_file, std::ios::binary);
        if (!in)
            fail(exit_noinput, cat(o.policy_file, ": ", std::strerror(errno)));
        std::ostringstream text;
        text << in.rdbuf();
        parse_policy(text.str(), o.policy_file, p, errors);
    }
    for (const auto &e : errors)
        warn(cat(e.file, ":", e.line, ": ", e.message));
    if (!errors.empty()) {
        warn(cat(errors.size(), errors.size() == 1 ? " error" : " errors", " in the policy"));
        return std::nullopt;
    }
    if (!o.escalate_after.empty())
        p.escalate_after = duration_flag("--escalate-after", o.escalate_after);
    if (o.max_level > 0)
        p.max_level = o.max_level;
    if (!o.repeat.empty())
        p.repeat = duration_flag("--repeat", o.repeat);
    if (!o.ack_timeout.empty())
        p.ack_timeout = duration_flag("--ack-timeout", o.ack_timeout);
    if (!o.notify_timeout.empty())
        p.notify_timeout = duration_flag("--notify-timeout", o.notify_timeout);
    if (!o.notify_retry_delay.empty())
        p.notify_retry_delay = duration_flag("--notify-retry-delay", o.notify_retry_delay);
    if (o.notify_retries >= 0)
        p.notify_retries = o.notify_retries;
    for (const auto &text : o.notify) {
        std::string error;
        auto argv = split_command(text, error);
        if (!argv || argv->empty())
            fail(exit_usage, cat("--notify: ", argv ? std::string("no command given") : error));
        p.every_level.push_back(std::move(*argv));
    }
    return p;
}

std::string login_name()
{
    if (const auto *pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr)
        return pw->pw_name;
    if (const char *user = std::getenv("USER"))
        return user;
    return "unknown";
}

// Opens the database for reading what is there: a missing file is an error.
IncidentStore open_existing(const std::string &path)
{
    if (::access(path.c_str(), F_OK) != 0)
        fail(exit_noinput, cat(path, ": ", std::strerror(errno)));
    return IncidentStore(path, false);
}

int list(const Options &o)
{
    auto store = open_existing(o.db);
    const auto incidents = store.list(o.open_only, static_cast<std::size_t>(o.limit));
    Output out;
    if (o.json) {
        for (const auto &i : incidents)
            out.write(incident_state_record(i) + "\n");
    } else {
        out.write(render_table(incidents, now()));
    }
    out.flush();
    return exit_ok;
}

int show(const Options &o)
{
    auto store = open_existing(o.db);
    if (!store.find(o.id))
        fail(exit_dataerr, cat("incident ", o.id, ": no such incident"));
    Output out;
    for (const auto &record : store.history(o.id))
        out.write(record + "\n");
    out.flush();
    return exit_ok;
}

// `ack` and `resolve`: the answer written, its record printed; with a broker
// this process publishes what waits, else the daemon (or the next tick) does.
int answer(const Options &o, bool resolve, IncidentStore &store, Session *session, std::optional<Outbox> &outbox)
{
    const std::string by = o.by.empty() ? login_name() : o.by;
    Transaction t(store.db());
    const auto a = resolve ? store.resolve(o.id, by, "by hand", now()) : store.acknowledge(o.id, by, now());
    t.commit();
    switch (a) {
    case Answer::unknown: fail(exit_dataerr, cat("incident ", o.id, ": no such incident"));
    case Answer::already:
        warn(cat("incident ", o.id, " is ", resolve ? "resolved" : "acknowledged", " already"));
        return exit_ok;
    case Answer::resolved_already: warn(cat("incident ", o.id, " is resolved already")); return exit_ok;
    case Answer::done: break;
    }
    Output out;
    const auto events = store.history(o.id);
    if (!events.empty())
        out.write(events.back() + "\n");
    out.flush();
    if (session == nullptr)
        return exit_ok;
    if (!wait_connected(*session, o.mqtt.connect_timeout.value_or(std::chrono::seconds(10)))) {
        if (const auto f = session->failure())
            return *f;  // refused (78) or past --connect-timeout (69), said already
        warn("no broker: the event waits in the database for the daemon or the next tick");
        return exit_unavailable;
    }
    outbox.emplace(store, session, o.topics, o.mqtt.publish_qos, nullptr);
    outbox->flush();
    return exit_ok;
}

// Whether -h/--host is on the command line: hosts from DHT_MQTT_HOST alone do
// not ask for a broker (SPEC 4: a flag does; so does a config file's host).
bool host_flag(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view a(argv[i]);
        if (a == "--")
            break;
        if (a.rfind("--host", 0) == 0 || (a.rfind("-h", 0) == 0 && a.rfind("--", 0) != 0))
            return true;
    }
    return false;
}

int run(Options &o, const Commands &c)
{
    set_verbosity(o.common.verbose);
    // SIGPIPE ignored from the start: `list | head` ends quietly.
    install_signal_handlers();
    const bool subcommand = c.ack->parsed() || c.resolve->parsed() || c.tick->parsed();
    const char *env_host = std::getenv("DHT_MQTT_HOST");
    const bool env_only = env_host != nullptr && *env_host != '\0' && !o.host_flag;
    const bool broker = o.mqtt.wants_broker() || (!o.mqtt.hosts.empty() && !env_only);
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
            fail(exit_usage, cat("invalid topic '", *topic, "' (no wildcards)"));
    if (!o.topics.response.empty() && mosquitto_pub_topic_check(o.topics.response.c_str()) != MOSQ_ERR_SUCCESS)
        fail(exit_usage, cat("invalid --response-topic '", o.topics.response, "' (no wildcards)"));

    auto policy = load_policy(o);
    if (!policy)
        return exit_config;
    if (o.check) {
        if (policy->levels.size() > static_cast<std::size_t>(policy->max_level))
            warn(cat("levels above max-level ", policy->max_level, " are never reached"));
        warn(describe_policy(*policy));
        return exit_ok;
    }
    if (c.list->parsed())
        return list(o);
    if (c.show->parsed())
        return show(o);

    const bool answering = c.ack->parsed() || c.resolve->parsed();
    std::optional<IncidentStore> store;
    if (answering)
        store.emplace(open_existing(o.db));
    else
        store.emplace(o.db, true);
    // The daemon's policy is kept in the database; a command run without one uses it.
    if (policy_given(o)) {
        if (!answering)
            store->store_policy(*policy, now());
    } else if (auto stored = store->stored_policy()) {
        policy = std::move(stored);
    }
    if (policy->levels.size() > static_cast<std::size_t>(policy->max_level))
        warn(cat("levels above max-level ", policy->max_level, " are never reached"));
    store->set_policy(*policy);

    std::optional<MqttLibrary> library;
    std::optional<Session> session;
    if (broker) {
        // Publishing from the consumer thread needs libmosquitto's threaded mode.
        o.mqtt.publish_topic = o.topics.incidents;
        if (!subcommand && !o.topics.response.empty())
            o.mqtt.topics.push_back(o.topics.response);
        library.emplace();
        session.emplace(o.mqtt);
        session->start();
    }
    Session *s = session ? &*session : nullptr;
    int status = exit_ok;
    std::optional<Outbox> answer_outbox;
    std::optional<Daemon> daemon;
    if (answering) {
        status = answer(o, c.resolve->parsed(), *store, s, answer_outbox);
    } else {
        DaemonOptions d;
        d.common = o.common;
        d.topics = o.topics;
        d.publish_qos = o.mqtt.publish_qos;
        d.auto_resolve = !o.no_auto_resolve;
        d.min_severity = severity_rank(o.min_severity);
        d.alerts_from_mqtt = alerts_from_mqtt;
        d.connect_wait = o.mqtt.connect_timeout.value_or(std::chrono::seconds(10));
        d.reload = [&o, &store]() -> std::optional<EscalationPolicy> {
            warn("SIGHUP: reading the policy again");
            std::optional<EscalationPolicy> p;
            try {
                // Started without a policy of its own: the one kept in the database.
                p = policy_given(o) ? load_policy(o) : store->stored_policy();
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
            daemon->outbox().requeue(left);
        else if (answer_outbox)
            answer_outbox->requeue(left);
        if (const auto f = session->failure(); f && status == exit_ok)
            status = *f;
        if (left > 0 && status == exit_ok)
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
        options.host_flag = host_flag(argc, argv);
        const auto commands = setup(app, options);
        dht::parse_command_line(app, argc, argv);
        try {
            return run(options, commands);
        } catch (const dht::SqliteError &e) {
            const std::string what = e.what();
            dht::fail(e.busy() ? dht::exit_unavailable : dht::exit_ioerr,
                      what.rfind(options.db, 0) == 0 ? what : dht::cat(options.db, ": ", what));
        }
    });
}
