#include "incidents.hpp"
#include "notify.hpp"
#include "policy.hpp"
#include "table.hpp"

#include "dht/diag.hpp"
#include "dht/json.hpp"
#include "dht/sqlite.hpp"
#include "dht/time.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <filesystem>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace dht;
using namespace dht::escalate;
using namespace std::chrono_literals;

namespace {

Command split(std::string_view text)
{
    std::string error;
    auto argv = split_command(text, error);
    REQUIRE(argv);
    return *argv;
}

EscalationPolicy policy_ok(std::string_view text)
{
    EscalationPolicy p;
    std::vector<PolicyError> errors;
    parse_policy(text, "t.policy", p, errors);
    for (const auto &e : errors)
        FAIL(e.file << ":" << e.line << ": " << e.message);
    return p;
}

PolicyError policy_bad(std::string_view text)
{
    EscalationPolicy p;
    std::vector<PolicyError> errors;
    parse_policy(text, "t.policy", p, errors);
    REQUIRE(errors.size() == 1);
    return errors.front();
}

json::object object(std::string_view text) { return json::parse(text).as_object(); }

// A database in a fresh temporary directory, removed at the end.
struct TempDb {
    TempDb()
    {
        char tmpl[] = "/tmp/dht-escalate-unit.XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        path = dir + "/t.db";
    }
    ~TempDb() { std::filesystem::remove_all(dir); }
    std::string dir, path;
};

Alert firing(std::string rule, std::string sensor, std::string action = "alert")
{
    Alert a;
    a.rule = std::move(rule);
    a.sensor = std::move(sensor);
    a.action = std::move(action);
    a.severity = a.action == "escalate" ? "critical" : "warning";
    return a;
}

TimePoint at(std::string_view text)
{
    const auto t = parse_rfc3339(text);
    REQUIRE(t);
    return *t;
}

std::vector<std::string> events_of(IncidentStore &store)
{
    std::vector<std::string> out;
    for (const auto &e : store.events_after(0, 1000))
        out.push_back(e.event);
    return out;
}

json::object last_record(IncidentStore &store)
{
    const auto rows = store.events_after(0, 1000);
    REQUIRE(!rows.empty());
    return object(rows.back().record);
}

void apply(IncidentStore &store, const Alert &a, TimePoint now, bool auto_resolve = true)
{
    Transaction t(store.db());
    store.alert(a, now, auto_resolve);
    t.commit();
}

}  // namespace

TEST_CASE("commands are split into words as sh would, without expansions", "[escalate]")
{
    CHECK(split("notify-slack --channel ops") == Command{"notify-slack", "--channel", "ops"});
    CHECK(split("  a   'b c'  \"d \\\"e\\\" $HOME\" f\\ g ") == Command{"a", "b c", "d \"e\" $HOME", "f g"});
    CHECK(split("mail -s 'it'\\''s cold' ops@example.org") == Command{"mail", "-s", "it's cold", "ops@example.org"});
    CHECK(split("cmd arg # a comment") == Command{"cmd", "arg"});
    CHECK(split("cmd a#b") == Command{"cmd", "a#b"});
    CHECK(split("echo $(touch x) `id` ~ *") == Command{"echo", "$(touch", "x)", "`id`", "~", "*"});
    CHECK(split("''") == Command{""});
    std::string error;
    CHECK_FALSE(split_command("a 'b", error));
    CHECK(error == "unterminated ' quote");
    CHECK_FALSE(split_command("a \"b", error));
    // join_command() gives a line that splits back the same.
    const Command hostile{"x", "it's", "a b", "$(id)", "", "plain-word"};
    CHECK(split(join_command(hostile)) == hostile);
}

TEST_CASE("quiet hours, across midnight and within a day", "[escalate]")
{
    const QuietHours night{22 * 60, 7 * 60, false};
    CHECK(night.contains(23 * 60));
    CHECK(night.contains(0));
    CHECK(night.contains(6 * 60 + 59));
    CHECK_FALSE(night.contains(7 * 60));
    CHECK_FALSE(night.contains(12 * 60));
    CHECK(night.minutes_left(23 * 60) == 8 * 60);
    CHECK(night.minutes_left(6 * 60) == 60);
    CHECK(night.minutes_left(12 * 60) == 0);
    const QuietHours lunch{12 * 60, 13 * 60, false};
    CHECK(lunch.contains(12 * 60 + 30));
    CHECK_FALSE(lunch.contains(13 * 60));
    CHECK(lunch.minutes_left(12 * 60 + 30) == 30);

    auto p = policy_ok("quiet 22:00-07:00\nquiet 12:00-13:00 all\n");
    CHECK(p.held_minutes("warning", 23 * 60) == 8 * 60);
    CHECK(p.held_minutes("critical", 23 * 60) == 0);  // critical pages through the night
    CHECK(p.held_minutes("critical", 12 * 60 + 15) == 45);
    CHECK(p.held_minutes("info", 9 * 60) == 0);
}

TEST_CASE("the policy file: settings, levels, commands and errors with line numbers", "[escalate]")
{
    const auto p = policy_ok(
        "# a comment\n"
        "escalate-after 10m\n"
        "max-level 4\r\n"
        "repeat 1h   # reminders\n"
        "ack-timeout 2h\n"
        "notify-timeout 5s\n"
        "notify-retries 1\n"
        "notify-retry-delay 3s\n"
        "\n"
        "level 1 notify notify-slack --channel 'on call'\n"
        "level 2 after 5m notify notify-telegram\n"
        "level 3 after 30m\n"
        "on resolved notify logger -t dht\n");
    CHECK(p.escalate_after == 10min);
    CHECK(p.max_level == 4);
    CHECK(p.repeat == 1h);
    CHECK(p.ack_timeout == 2h);
    CHECK(p.notify_timeout == 5s);
    CHECK(p.notify_retries == 1);
    CHECK(p.notify_retry_delay == 3s);
    // The wait at a level is the `after` of the level above, else escalate-after.
    CHECK(p.wait_at(1) == 5min);
    CHECK(p.wait_at(2) == 30min);
    CHECK(p.wait_at(3) == 10min);
    CHECK(p.commands(Event::opened, 1) == std::vector<Command>{{"notify-slack", "--channel", "on call"}});
    CHECK(p.commands(Event::escalation, 2) == std::vector<Command>{{"notify-telegram"}});
    CHECK(p.commands(Event::escalation, 3).empty());
    CHECK(p.commands(Event::resolved, 2) == std::vector<Command>{{"logger", "-t", "dht"}});
    CHECK(p.commands(Event::acknowledged, 1).empty());

    auto e = policy_bad("max-level 3\nescalate-after soon\n");
    CHECK(e.line == 2);
    CHECK(e.message == "escalate-after: 'soon' is not a duration such as 15m");
    CHECK(policy_bad("level 1 after 5m\n").message.find("incidents open at level 1") != std::string::npos);
    CHECK(policy_bad("levle 2 notify x\n").message.find("unknown setting 'levle'") != std::string::npos);
    CHECK(policy_bad("quiet 22-07\n").message.find("not a time window") != std::string::npos);
    CHECK(policy_bad("quiet 22:00-25:00\n").message.find("not a time window") != std::string::npos);
    CHECK(policy_bad("on fired notify x\n").message.find("not an event") != std::string::npos);
    CHECK(policy_bad("level 2 notify 'unclosed\n").message == "notify: unterminated ' quote");
    CHECK(policy_bad("level 2 notify\n").message == "notify: no command given");
    CHECK(policy_bad("level 2 notify m\xff\xfe\n").message == "notify: the command is not valid UTF-8");
    CHECK(policy_bad("max-level 0\n").message.find("not a level") != std::string::npos);
    CHECK(policy_bad("repeat 0s\n").line == 1);
    CHECK(policy_bad("max-level 3 4\n").message == "unexpected '4' after max-level");
}

TEST_CASE("alert records and answers are read strictly", "[escalate]")
{
    std::string error;
    auto a = alert_from_record(object(R"({"kind":"alert","rule":"freeze","state":"firing","action":"escalate",)"
                                      R"("sensor":"s","field":"temperature","value":-1.5,"message":"m","extra":[1]})"),
                               error);
    REQUIRE(a);
    CHECK(a->severity == "critical");  // the action's default severity
    CHECK(a->firing);
    CHECK(a->value == -1.5);
    CHECK_FALSE(alert_from_record(object(R"({"rule":"x","state":"firing","sensor":7})"), error));
    CHECK(error == "\"sensor\" is not a string");
    CHECK_FALSE(alert_from_record(object(R"({"rule":"x","state":"on"})"), error));
    CHECK_FALSE(alert_from_record(object(R"({"state":"firing"})"), error));
    CHECK_FALSE(alert_from_record(object(R"({"rule":"x","state":"firing","severity":"fatal"})"), error));
    CHECK_FALSE(alert_from_record(object(R"({"rule":"x","state":"firing","value":[1]})"), error));

    auto r = response_from_record(object(R"({"incident_id":7,"action":"ack","by":"ana"})"), error);
    REQUIRE(r);
    CHECK(r->incident_id == 7);
    CHECK_FALSE(r->resolve);
    CHECK(r->by == "ana");
    CHECK(response_from_record(object(R"({"incident_id":7,"action":"resolve"})"), error)->resolve);
    CHECK_FALSE(response_from_record(object(R"({"incident_id":"7; DROP TABLE incidents","action":"ack"})"), error));
    CHECK_FALSE(response_from_record(object(R"({"incident_id":-1,"action":"ack"})"), error));
    CHECK_FALSE(response_from_record(object(R"({"incident_id":7,"action":"delete"})"), error));
}

TEST_CASE("an incident opens, folds repeats, climbs on schedule and stops when acknowledged", "[escalate]")
{
    TempDb tmp;
    IncidentStore store(tmp.path, true);
    EscalationPolicy p;
    p.escalate_after = 10min;
    p.max_level = 3;
    store.set_policy(p);
    const auto t0 = at("2026-11-24T10:00:00Z");

    apply(store, firing("cold", "kitchen"), t0);
    apply(store, firing("cold", "kitchen"), t0 + 1min);  // folded in
    apply(store, firing("cold", "porch"), t0 + 2min);    // another sensor: another incident
    CHECK(events_of(store) == std::vector<std::string>{"opened", "opened"});
    auto i = store.find(1);
    REQUIRE(i);
    CHECK(i->alerts == 2);
    CHECK(i->next_at == "2026-11-24T10:10:00.000Z");

    CHECK(store.run_due(t0 + 9min) == 0);
    CHECK(store.run_due(t0 + 10min) == 1);
    auto r = last_record(store);
    CHECK(r.at("event") == "escalation");
    CHECK(r.at("incident_id") == 1);
    CHECK(r.at("from_level") == 1);
    CHECK(r.at("to_level") == 2);
    CHECK(r.at("timestamp") == "2026-11-24T10:10:00.000Z");

    {
        Transaction t(store.db());
        CHECK(store.acknowledge(1, "ana", t0 + 11min) == Answer::done);
        CHECK(store.acknowledge(1, "bob", t0 + 11min) == Answer::already);
        CHECK(store.acknowledge(42, "ana", t0 + 11min) == Answer::unknown);
        t.commit();
    }
    CHECK(last_record(store).at("by") == "ana");
    // Acknowledged: no more climbs, while the other incident goes on climbing.
    CHECK(store.run_due(t0 + 2h) == 2);  // porch: 1->2 and (caught up) 2->3
    CHECK(store.find(1)->level == 2);
    CHECK(store.find(2)->level == 3);
    CHECK(store.find(2)->next_at.empty());  // the top, no reminders
}

TEST_CASE("missed climbs are caught up after a restart; reminders are not", "[escalate]")
{
    TempDb tmp;
    EscalationPolicy p;
    p.escalate_after = 5min;
    p.max_level = 3;
    p.repeat = 1h;
    const auto t0 = at("2026-11-24T10:00:00Z");
    {
        IncidentStore store(tmp.path, true);
        store.set_policy(p);
        apply(store, firing("freeze", "kitchen"), t0);
    }
    // Another process, much later (the daemon was down for a day).
    IncidentStore store(tmp.path, false);
    store.set_policy(p);
    CHECK(store.run_due(t0 + 24h) == 3);  // 1->2, 2->3, then one reminder, not 24
    const auto rows = store.events_after(0, 100);
    REQUIRE(rows.size() == 4);
    CHECK(rows[1].event == "escalation");
    CHECK(rows[2].event == "escalation");
    CHECK(rows[3].event == "reminder");
    CHECK(store.find(1)->next_at == "2026-11-25T11:00:00.000Z");
}

TEST_CASE("the escalate action climbs at once; resolved alerts resolve, or only clear", "[escalate]")
{
    TempDb tmp;
    IncidentStore store(tmp.path, true);
    store.set_policy(EscalationPolicy{});
    const auto t0 = at("2026-11-24T10:00:00Z");
    apply(store, firing("freeze", "kitchen", "escalate"), t0);
    CHECK(events_of(store) == std::vector<std::string>{"opened", "escalation"});
    CHECK(last_record(store).at("reason") == "escalate action");
    CHECK(store.find(1)->level == 2);

    Alert resolved = firing("freeze", "kitchen");
    resolved.firing = false;
    apply(store, resolved, t0 + 1min, false);
    CHECK(store.find(1)->state == "open");
    CHECK(store.find(1)->cleared_at == "2026-11-24T10:01:00.000Z");
    apply(store, resolved, t0 + 2min, true);
    CHECK(store.find(1)->state == "resolved");
    CHECK(last_record(store).at("reason") == "alert resolved");
    // A new firing alert after that is a new incident.
    apply(store, firing("freeze", "kitchen"), t0 + 3min);
    CHECK(store.list(true, 0).size() == 1);
    CHECK(store.list(true, 0).front().id == 2);
}

TEST_CASE("a notice (the notify action) is told once and never climbs", "[escalate]")
{
    TempDb tmp;
    IncidentStore store(tmp.path, true);
    store.set_policy(policy_ok("escalate-after 1m\nack-timeout 1m\nlevel 1 notify slack\n"));
    const auto t0 = at("2026-11-24T10:00:00Z");
    apply(store, firing("humid", "cellar", "notify"), t0);
    CHECK(store.find(1)->next_at.empty());
    CHECK(store.run_due(t0 + 1h) == 0);
    CHECK(store.claim_notifications(t0, 40s, 8).size() == 1);
    {
        Transaction t(store.db());
        store.acknowledge(1, "ana", t0 + 1min);
        t.commit();
    }
    CHECK(store.run_due(t0 + 2h) == 0);
    CHECK(store.find(1)->level == 1);
    CHECK(object(incident_state_record(*store.find(1))).at("action") == "notify");
}

TEST_CASE("an acknowledgement that times out climbs again", "[escalate]")
{
    TempDb tmp;
    IncidentStore store(tmp.path, true);
    EscalationPolicy p;
    p.ack_timeout = 1h;
    store.set_policy(p);
    const auto t0 = at("2026-11-24T10:00:00Z");
    apply(store, firing("cold", "kitchen"), t0);
    {
        Transaction t(store.db());
        store.acknowledge(1, "ana", t0 + 1min);
        t.commit();
    }
    CHECK(store.run_due(t0 + 60min) == 0);
    CHECK(store.run_due(t0 + 61min) == 1);
    const auto r = last_record(store);
    CHECK(r.at("event") == "escalation");
    CHECK(r.at("reason") == "acknowledgement timed out");
    CHECK(r.at("state") == "open");
}

TEST_CASE("notifications: queued per event, held in quiet hours, claimed once, retried then given up", "[escalate]")
{
    TempDb tmp;
    IncidentStore store(tmp.path, true);
    auto p = policy_ok("level 1 notify first 'a b'\nlevel 2 notify second\nnotify-retries 1\nnotify-retry-delay 10s\n");
    store.set_policy(p);
    const auto t0 = at("2026-11-24T10:00:00Z");
    apply(store, firing("freeze", "kitchen", "escalate"), t0);
    auto claimed = store.claim_notifications(t0, 40s, 8);
    REQUIRE(claimed.size() == 2);
    CHECK(claimed[0].argv == Command{"first", "a b"});
    CHECK(claimed[1].argv == Command{"second"});
    CHECK(object(claimed[1].record).at("event") == "escalation");
    // Claimed: nobody else gets them during the lease; after it, they run again.
    CHECK(store.claim_notifications(t0 + 39s, 40s, 8).empty());
    store.notification_done(claimed[0].id);
    CHECK(store.notification_failed(claimed[1].id, 1, "exit status 1", t0 + 1s));
    auto again = store.claim_notifications(t0 + 11s, 40s, 8);
    REQUIRE(again.size() == 1);
    CHECK(again[0].id == claimed[1].id);
    CHECK_FALSE(store.notification_failed(again[0].id, 2, "exit status 1", t0 + 12s));  // given up
    CHECK(store.claim_notifications(t0 + 1h, 40s, 8).empty());
}

TEST_CASE("notifications of non-critical incidents wait for the end of quiet hours", "[escalate]")
{
    TempDb tmp;
    ::setenv("TZ", "UTC", 1);
    ::tzset();
    IncidentStore store(tmp.path, true);
    store.set_policy(policy_ok("quiet 22:00-07:00\nlevel 1 notify pager\n"));
    const auto night = at("2026-11-24T23:30:20Z");
    apply(store, firing("cold", "kitchen"), night);
    apply(store, firing("freeze", "kitchen", "escalate"), night);
    auto now = store.claim_notifications(night, 40s, 8);
    REQUIRE(now.size() == 1);  // the critical one
    CHECK(object(now[0].record).at("rule") == "freeze");
    store.notification_done(now[0].id);
    CHECK(store.claim_notifications(at("2026-11-25T06:59:59Z"), 40s, 8).empty());
    auto morning = store.claim_notifications(at("2026-11-25T07:00:00Z"), 40s, 8);
    REQUIRE(morning.size() == 1);
    CHECK(object(morning[0].record).at("rule") == "cold");
}

TEST_CASE("hostile text is stored and printed as data", "[escalate]")
{
    TempDb tmp;
    IncidentStore store(tmp.path, true);
    store.set_policy(EscalationPolicy{});
    const std::string sensor = "x'; DROP TABLE incidents; --\x1b[31m\n$(touch pwned)";
    apply(store, firing("cold", sensor), at("2026-11-24T10:00:00Z"));
    REQUIRE(store.find(1));
    CHECK(store.find(1)->sensor == sensor);
    CHECK(std::string(last_record(store).at("sensor").as_string()) == sensor);
    const auto table = render_table(store.list(false, 0), at("2026-11-24T10:05:00Z"));
    CHECK(table.find("x'; DROP TABLE incidents; --\\x1b[31m\\x0a$(touch pwned)") != std::string::npos);
    CHECK(table.find('\x1b') == std::string::npos);
    CHECK(printable("caf\xc3\xa9") == "caf\xc3\xa9");
    CHECK(printable("bad\xff") == "bad\\xff");
    CHECK(printable("a\xc2\x9b" "31mb") == "a\\u009b31mb");            // C1 CSI
    CHECK(printable("x\xe2\x80\xaey") == "x\\u202ey");                // right-to-left override
    CHECK(printable("\xe2\x80\x94") == "\xe2\x80\x94");                // an em dash stays
    CHECK(age_text(90s) == "90s");
    CHECK(age_text(3h) == "3h");
    CHECK(duration_text(15min) == "15m");
    CHECK(duration_text(1500ms) == "1500ms");
}

TEST_CASE("a notification command gets the record on stdin, DHT_ variables and no broker password", "[escalate]")
{
    TempDb tmp;
    ::setenv("DHT_MQTT_PASSWORD", "s3cret", 1);
    Notifier n(5s);
    const std::string out = tmp.dir + "/out";
    const std::string record =
        R"x({"kind":"incident","incident_id":7,"event":"escalation","level":2,"severity":"critical",)x"
        R"x("rule":"freeze","sensor":"$(touch pwned)","state":"open"})x";
    std::string error;
    // A descriptor of ours without close-on-exec (a socket libmosquitto opened),
    // numbered far above the ones the shell below opens for its own pipe (a
    // low number could be one of those, listed while the pipe is set up).
    const int low = ::open("/dev/null", O_RDONLY);
    REQUIRE(low >= 3);
    const int leaked = ::fcntl(low, F_DUPFD, 200);
    ::close(low);
    REQUIRE(leaked >= 200);
    REQUIRE(n.start(1, {"sh", "-c", "cat > \"$0\"; env >> \"$0\"; ls /proc/$$/fd | sed 's/^/fd=/' >> \"$0\"", out},
                    record, error));
    ::close(leaked);
    REQUIRE(n.start(2, {"sh", "-c", "exit 3"}, record, error));
    REQUIRE(n.start(3, {"sleep", "30"}, record, error));
    CHECK_FALSE(n.start(4, {"/nonexistent/notify"}, record, error));
    CHECK(error.find("No such file") != std::string::npos);
    ::unsetenv("DHT_MQTT_PASSWORD");

    Notifier quick(300ms);
    REQUIRE(quick.start(5, {"sleep", "30"}, record, error));
    std::vector<Notifier::Finished> done;
    for (int i = 0; i < 1500 && done.size() < 3; ++i) {
        for (auto &f : n.poll())
            done.push_back(f);
        for (auto &f : quick.poll())
            done.push_back(f);
        std::this_thread::sleep_for(10ms);
    }
    REQUIRE(done.size() == 3);
    std::sort(done.begin(), done.end(), [](const auto &a, const auto &b) { return a.id < b.id; });
    CHECK(done[0].ok);
    CHECK(done[1].error == "sh: exit status 3");
    CHECK(done[2].error == "sleep: timed out after 0.3s");
    const auto left = n.wait_all(50ms);  // the 30 s sleep, killed
    REQUIRE(left.size() == 1);
    CHECK(left[0].id == 3);

    std::ifstream in(out);
    std::string first;
    std::getline(in, first);
    CHECK(first == record);
    std::stringstream rest;
    rest << in.rdbuf();
    CHECK(rest.str().find("DHT_INCIDENT_ID=7\n") != std::string::npos);
    CHECK(rest.str().find("DHT_EVENT=escalation\n") != std::string::npos);
    CHECK(rest.str().find("DHT_SENSOR=$(touch pwned)\n") != std::string::npos);
    CHECK(rest.str().find("s3cret") == std::string::npos);
    CHECK(rest.str().find("fd=2\n") != std::string::npos);
    CHECK(rest.str().find(cat("fd=", leaked, "\n")) == std::string::npos);
    CHECK_FALSE(std::filesystem::exists("pwned"));
}

TEST_CASE("the outbox: claimed by one process, published once acknowledged, taken over from one gone", "[escalate]")
{
    TempDb tmp;
    IncidentStore a(tmp.path, true);
    a.set_policy(EscalationPolicy{});
    const auto t0 = at("2026-11-24T10:00:00Z");
    apply(a, firing("freeze", "kitchen", "escalate"), t0);
    const auto claimed = a.claim_unpublished(256);
    REQUIRE(claimed.size() == 2);
    CHECK(a.claim_unpublished(256).empty());  // in flight: not sent twice
    CHECK(a.has_unpublished());               // claimed is not published
    // Another store under this process id: the claims of an earlier process
    // that had our id (a container's pid 1 restarted) are taken over.
    IncidentStore b(tmp.path, false);
    REQUIRE(b.claim_unpublished(256).size() == 2);
    b.mark_published({claimed[0].id});  // the broker acknowledged "opened"
    b.release({claimed[1].id});         // the escalation was never acknowledged
    const auto again = a.claim_unpublished(256);
    REQUIRE(again.size() == 1);
    CHECK(again[0].event == "escalation");
    // Held by another live process, fresh: it stands.
    a.db().exec(cat("UPDATE incident_event_claims SET pid = ", ::getppid(), ", token = 42"));
    CHECK(b.claim_unpublished(256).empty());
    // Held by a live process for too long: taken over.
    a.db().exec("UPDATE incident_event_claims SET claimed_at = '2000-01-01T00:00:00.000Z'");
    CHECK(b.claim_unpublished(256).size() == 1);
    // Held by a process that is gone: taken over at once.
    const pid_t child = ::fork();
    if (child == 0)
        ::_exit(0);
    ::waitpid(child, nullptr, 0);
    a.db().exec(cat("UPDATE incident_event_claims SET pid = ", child, ", token = 42"));
    CHECK(a.claim_unpublished(256).size() == 1);
    a.mark_published({claimed[1].id});
    CHECK_FALSE(b.has_unpublished());
    CHECK(b.claim_unpublished(256).empty());
    CHECK(b.last_event_id() == claimed[1].id);
    CHECK(b.events_after(claimed[0].id, 10).size() == 1);
}

TEST_CASE("the policy kept in the database reads back the same", "[escalate]")
{
    const auto p = policy_ok("escalate-after 10m\nmax-level 4\nrepeat 1h\nack-timeout 2h\nquiet 22:00-07:00 all\n"
                             "level 2 after 5m notify pager 'on call'\non resolved notify logger -t dht\n");
    const auto text = policy_to_json(p);
    const auto back = policy_from_json(text);
    REQUIRE(back);
    CHECK(policy_to_json(*back) == text);
    CHECK(back->wait_at(1) == 5min);
    CHECK(back->commands(Event::escalation, 2) == std::vector<Command>{{"pager", "on call"}});
    CHECK(back->quiet.size() == 1);
    CHECK(back->quiet[0].all);
    CHECK_FALSE(policy_from_json("{\"max_level\":3}"));
    CHECK_FALSE(policy_from_json("not json"));

    TempDb tmp;
    IncidentStore store(tmp.path, true);
    CHECK_FALSE(store.stored_policy());
    store.store_policy(p, at("2026-11-24T10:00:00Z"));
    store.store_policy(*back, at("2026-11-24T10:01:00Z"));
    REQUIRE(store.stored_policy());
    CHECK(policy_to_json(*store.stored_policy()) == text);
    CHECK(policy_bad("escalate-after 5000d\n").message.find("longer than ten years") != std::string::npos);
    CHECK(policy_ok("\xEF\xBB\xBFmax-level 2\n").max_level == 2);  // a byte-order mark
}

TEST_CASE("a page held through quiet hours is dropped if the incident was resolved meanwhile", "[escalate]")
{
    TempDb tmp;
    ::setenv("TZ", "UTC", 1);
    ::tzset();
    IncidentStore store(tmp.path, true);
    store.set_policy(policy_ok("quiet 22:00-07:00\nlevel 1 notify pager\non resolved notify logger\n"));
    const auto night = at("2026-11-24T23:00:00Z");
    apply(store, firing("cold", "kitchen"), night);
    {
        Transaction t(store.db());
        store.resolve(1, "ana", "by hand", night + 1h);
        t.commit();
    }
    const auto morning = store.claim_notifications(at("2026-11-25T07:00:00Z"), 40s, 8);
    REQUIRE(morning.size() == 1);  // the resolved notice, not the opening page
    CHECK(object(morning[0].record).at("event") == "resolved");
}

TEST_CASE("incident records: the keys in their order, byte for byte", "[escalate]")
{
    TempDb tmp;
    IncidentStore store(tmp.path, true);
    EscalationPolicy p;
    p.escalate_after = 10min;
    p.ack_timeout = 1h;
    store.set_policy(p);
    const auto t0 = at("2026-11-24T10:00:00Z");
    Alert a = firing("cold", "dht11/\"porch\"/data");
    a.field = "temperature";
    a.value = -1.5;
    a.message = "t < 2";
    apply(store, a, t0);
    CHECK(store.run_due(t0 + 10min) == 1);
    {
        Transaction t(store.db());
        CHECK(store.acknowledge(1, "ana", t0 + 11min) == Answer::done);
        t.commit();
    }
    CHECK(store.run_due(t0 + 71min) == 1);  // the acknowledgement timed out
    {
        Transaction t(store.db());
        CHECK(store.resolve(1, "bob", "by hand", t0 + 72min) == Answer::done);
        t.commit();
    }
    const auto incident = [](const char *state, int level) {
        return cat(R"("rule":"cold","sensor":"dht11/\"porch\"/data","severity":"warning","state":")", state,
                   R"(","level":)", level, R"(,"field":"temperature","value":-1.5,"message":"t < 2"})");
    };
    const auto rows = store.events_after(0, 1000);
    REQUIRE(rows.size() == 5);
    CHECK(rows[0].record == R"({"kind":"incident","timestamp":"2026-11-24T10:00:00.000Z","incident_id":1,"event":"opened",)" +
                                incident("open", 1));
    CHECK(rows[1].record == R"({"kind":"incident","timestamp":"2026-11-24T10:10:00.000Z","incident_id":1,"event":"escalation",)"
                            R"("from_level":1,"to_level":2,"reason":"not acknowledged",)" + incident("open", 2));
    CHECK(rows[2].record == R"({"kind":"incident","timestamp":"2026-11-24T10:11:00.000Z","incident_id":1,)"
                            R"("event":"acknowledged","by":"ana",)" + incident("acknowledged", 2));
    CHECK(rows[3].record.find(R"("event":"escalation","from_level":2,"to_level":3,"reason":"acknowledgement timed out",)") !=
          std::string::npos);
    CHECK(rows[4].record == R"({"kind":"incident","timestamp":"2026-11-24T11:12:00.000Z","incident_id":1,)"
                            R"("event":"resolved","by":"bob","reason":"by hand",)" + incident("resolved", 3));
    CHECK(incident_state_record(*store.find(1)) ==
          R"({"kind":"incident","timestamp":"2026-11-24T11:12:00.000Z","incident_id":1,"rule":"cold",)"
          R"("sensor":"dht11/\"porch\"/data","severity":"warning","state":"resolved","level":3,"field":"temperature",)"
          R"("value":-1.5,"message":"t < 2","action":"alert","alerts":1,"opened_at":"2026-11-24T10:00:00.000Z",)"
          R"("acknowledged_at":"2026-11-24T10:11:00.000Z","acknowledged_by":"ana",)"
          R"("resolved_at":"2026-11-24T11:12:00.000Z","resolved_by":"bob"})");
}

TEST_CASE("the policy: the file under the flags given", "[escalate]")
{
    set_program("dht-escalate");
    TempDb tmp;
    const std::string file = tmp.dir + "/p.policy";
    std::ofstream(file) << "escalate-after 1h\nmax-level 4\nnotify-retries 5\nrepeat 2h\n";
    PolicyFlags flags;
    CHECK(!flags.given());
    auto p = load_policy(file, flags);
    REQUIRE(p);
    CHECK(p->escalate_after == 1h);
    CHECK(p->max_level == 4);
    CHECK(p->repeat == 2h);
    flags.escalate_after = 30s;
    flags.notify_retries = 0;
    flags.notify.push_back(split("page 'on call'"));
    CHECK(flags.given());
    p = load_policy(file, flags);
    REQUIRE(p);
    CHECK(p->escalate_after == 30s);      // the flag wins
    CHECK(p->max_level == 4);             // the file's, no flag
    CHECK(p->repeat == 2h);
    CHECK(p->notify_retries == 0);        // 0 given is not "not given"
    CHECK(p->notify_timeout == 30s);      // the default
    CHECK(p->every_level == std::vector<Command>{{"page", "on call"}});
    CHECK(load_policy("", PolicyFlags{})->escalate_after == 15min);
    std::ofstream(file) << "escalate-after soon\n";
    CHECK(!load_policy(file, flags));
    try {
        load_policy(tmp.dir + "/none.policy", flags);
        FAIL("an unreadable policy file");
    } catch (const Exit &e) {
        CHECK(e.code() == exit_noinput);
    }
}

namespace {

SilenceRequest silence_for(std::string sensor, std::string rule, Duration length)
{
    SilenceRequest r;
    r.sensor = std::move(sensor);
    r.rule = std::move(rule);
    r.length = length;
    r.by = "ana";
    return r;
}

Silence add(IncidentStore &store, const SilenceRequest &r, TimePoint now)
{
    Silence s;
    Transaction t(store.db());
    REQUIRE(store.add_silence(r, now, s) == Answer::done);
    t.commit();
    return s;
}

}  // namespace

TEST_CASE("a silenced alert opens no incident and pages no one until the silence ends", "[escalate]")
{
    TempDb tmp;
    const auto t0 = at("2026-11-24T10:00:00Z");
    auto p = policy_ok("escalate-after 10m\nmax-level 3\nlevel 1 notify page-one\nlevel 2 notify page-two\n");
    {
        IncidentStore store(tmp.path, true);
        store.set_policy(p);
        const auto s = add(store, silence_for("dht11/cellar*", "*", 2h), t0);
        CHECK(s.id == 1);
        CHECK(s.ends_at == "2026-11-24T12:00:00.000Z");
        apply(store, firing("cold", "dht11/cellar-north"), t0 + 1min);
        apply(store, firing("cold", "dht11/cellar-north"), t0 + 2min);  // folded in, still silenced
        apply(store, firing("cold", "dht11/kitchen"), t0 + 3min);       // not matched: opens
        CHECK(events_of(store) == std::vector<std::string>{"silenced", "opened"});
        const auto i = store.find(1);
        REQUIRE(i);
        CHECK(i->state == "silenced");
        CHECK(i->alerts == 2);
        CHECK(i->next_at == s.ends_at);
        CHECK(object(store.events_after(0, 10)[0].record).at("silence_id") == 1);
        // Only the kitchen's page is queued.
        const auto claimed = store.claim_notifications(t0 + 5min, 40s, 8);
        REQUIRE(claimed.size() == 1);
        CHECK(object(claimed[0].record).at("sensor") == "dht11/kitchen");
        // No climb while silenced, however long.
        CHECK(store.run_due(t0 + 1h) == 2);  // the kitchen's 1->2 and 2->3
        CHECK(store.find(1)->level == 1);
    }
    // Another process after the end (a restart): the silence ended by time.
    IncidentStore store(tmp.path, false);
    store.set_policy(p);
    CHECK(read_silences(store.db(), t0 + 1h, false).size() == 1);
    CHECK(read_silences(store.db(), t0 + 2h, false).empty());
    store.run_due(t0 + 2h);
    auto r = last_record(store);
    CHECK(r.at("event") == "opened");
    CHECK(r.at("reason") == "silence ended");
    CHECK(store.find(1)->state == "open");
    CHECK(store.find(1)->next_at == "2026-11-24T12:10:00.000Z");
    std::vector<Command> cellar;
    for (const auto &n : store.claim_notifications(t0 + 2h, 40s, 8))
        if (object(n.record).at("sensor") == "dht11/cellar-north")
            cellar.push_back(n.argv);
    CHECK(cellar == std::vector<Command>{Command{"page-one"}});
}

TEST_CASE("a silence holds open incidents it matches; expiring it by hand lets them climb again", "[escalate]")
{
    TempDb tmp;
    IncidentStore store(tmp.path, true);
    EscalationPolicy p;
    p.escalate_after = 10min;
    p.max_level = 3;
    store.set_policy(p);
    const auto t0 = at("2026-11-24T10:00:00Z");
    apply(store, firing("hot", "dht11/attic"), t0);
    apply(store, firing("cold", "dht11/attic"), t0);
    CHECK(store.run_due(t0 + 10min) == 2);
    const auto s = add(store, silence_for("*", "hot", 1h), t0 + 11min);
    CHECK(store.find(1)->state == "silenced");
    CHECK(store.find(2)->state == "open");
    CHECK(last_record(store).at("event") == "silenced");
    {
        // Acknowledged while silenced: noted, silent, and acknowledged after.
        Transaction t(store.db());
        CHECK(store.acknowledge(1, "bob", t0 + 12min) == Answer::done);
        CHECK(store.acknowledge(1, "bob", t0 + 12min) == Answer::already);
        t.commit();
    }
    CHECK(store.find(1)->state == "silenced");
    CHECK(store.claim_notifications(t0 + 12min, 40s, 8).empty());
    CHECK(store.run_due(t0 + 30min) == 1);  // only "cold" climbs
    CHECK(store.find(1)->level == 2);
    Silence expired;
    {
        Transaction t(store.db());
        CHECK(store.expire_silence(s.id, "bob", t0 + 31min, expired) == Answer::done);
        CHECK(store.expire_silence(s.id, "bob", t0 + 31min, expired) == Answer::already);
        CHECK(store.expire_silence(99, "bob", t0 + 31min, expired) == Answer::unknown);
        t.commit();
    }
    CHECK(expired.expired_by == "bob");
    CHECK(read_silences(store.db(), t0 + 31min, false).empty());
    CHECK(read_silences(store.db(), t0 + 31min, true).size() == 1);
    store.run_due(t0 + 31min);
    CHECK(store.find(1)->state == "acknowledged");
    CHECK(last_record(store).at("event") == "unsilenced");
}

TEST_CASE("a silence ends by its longest match; another silence holds it on", "[escalate]")
{
    TempDb tmp;
    IncidentStore store(tmp.path, true);
    EscalationPolicy p;
    store.set_policy(p);
    const auto t0 = at("2026-11-24T10:00:00Z");
    add(store, silence_for("dht11/a", "*", 1h), t0);
    apply(store, firing("r", "dht11/a"), t0);
    add(store, silence_for("*", "r", 3h), t0 + 30min);
    CHECK(store.find(1)->next_at == "2026-11-24T13:30:00.000Z");
    store.run_due(t0 + 1h);
    CHECK(store.find(1)->state == "silenced");
    store.run_due(t0 + 3h + 30min);
    CHECK(store.find(1)->state == "open");
    CHECK(last_record(store).at("event") == "opened");
}

TEST_CASE("silences from operators are read strictly and bounded", "[escalate]")
{
    std::string error;
    auto r = silence_request_from_record(object(R"({"action":"silence","sensor":"dht11/x","for":"2h","by":"ana"})"), error);
    REQUIRE(r);
    CHECK(r->rule == "*");
    CHECK(r->length == 2h);
    CHECK(silence_request_from_record(object(R"({"action":"silence","rule":"r","for":90})"), error)->length == 90s);
    CHECK_FALSE(silence_request_from_record(object(R"({"action":"silence","for":"2h"})"), error));
    CHECK_FALSE(silence_request_from_record(object(R"({"action":"silence","rule":"r"})"), error));
    CHECK(error.find("\"for\"") != std::string::npos);
    CHECK_FALSE(silence_request_from_record(object(R"({"action":"silence","rule":"r","for":"400d"})"), error));
    CHECK_FALSE(silence_request_from_record(object(R"({"action":"silence","rule":"","for":"1h"})"), error));
    CHECK_FALSE(silence_request_from_record(object(R"({"action":"silence","rule":"a\u0007","for":"1h"})"), error));
    CHECK_FALSE(silence_request_from_record(object(R"({"action":"silence","rule":7,"for":"1h"})"), error));
    CHECK(error == "\"rule\" is not a string");
    CHECK_FALSE(silence_request_from_record(object(R"({"action":"silence","rule":"r","comment":[],"for":"1h"})"), error));
    CHECK(error == "\"comment\" is not a string");
    CHECK_FALSE(expire_request_from_record(object(R"({"action":"expire","silence_id":3,"by":{}})"), error));
    CHECK(error == "\"by\" is not a string");
    CHECK(expire_request_from_record(object(R"({"action":"expire","silence_id":3})"), error)->id == 3);
    CHECK_FALSE(expire_request_from_record(object(R"({"action":"expire","silence_id":"3"})"), error));

    TempDb tmp;
    IncidentStore store(tmp.path, true);
    const auto t0 = at("2026-11-24T10:00:00Z");
    for (std::size_t n = 0; n < kMaxActiveSilences; ++n)
        add(store, silence_for(cat("s", n), "*", 1h), t0);
    Silence s;
    CHECK(store.add_silence(silence_for("one-more", "*", 1h), t0, s) == Answer::too_many);
    CHECK(store.add_silence(silence_for("one-more", "*", 1h), t0 + 1h, s) == Answer::done);  // the others ended
}

TEST_CASE("silence patterns: '*' crosses '/', exact names match only themselves", "[escalate]")
{
    Silence s;
    s.sensor = "dht11/*";
    CHECK(silence_matches(s, "any", "dht11/cellar"));
    CHECK(silence_matches(s, "any", "dht11/a/b"));
    CHECK_FALSE(silence_matches(s, "any", "dht22/cellar"));
    s.sensor = "dht11/cellar";
    s.rule = "cold";
    CHECK(silence_matches(s, "cold", "dht11/cellar"));
    CHECK_FALSE(silence_matches(s, "cold2", "dht11/cellar"));
    CHECK_FALSE(silence_matches(s, "cold", "dht11/cellar2"));
}
