#include "commands.hpp"

#include "table.hpp"

#include "dht/diag.hpp"
#include "dht/output.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace dht::escalate {

namespace {

std::string login_name()
{
    if (const auto *pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr)
        return pw->pw_name;
    if (const char *user = std::getenv("USER"))
        return user;
    return "unknown";
}

}  // namespace

IncidentStore open_existing(const std::string &path)
{
    if (::access(path.c_str(), F_OK) != 0)
        fail(exit_noinput, cat(path, ": ", std::strerror(errno)));
    return IncidentStore(path, false);
}

int list(const CommandOptions &o)
{
    auto store = open_existing(o.db);
    const auto incidents = store.list(o.open_only, static_cast<std::size_t>(o.limit));
    Output out;
    if (o.json) {
        for (const auto &i : incidents)
            out.write(incident_state_record(i) + "\n");
    } else {
        out.write(render_table(incidents, now(), o.wide));
    }
    out.flush();
    return exit_ok;
}

int show(const CommandOptions &o)
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

// --notify COMMAND, split as it is parsed: a quote left open is a usage error.
void add_notify_option(CLI::App &app, std::vector<Command> &target, const std::string &group)
{
    app.add_option_function<std::vector<std::string>>(
           "--notify",
           [&target](const std::vector<std::string> &texts) {
               std::string error;
               for (const auto &text : texts)
                   target.push_back(*split_command(text, error));  // checked below, before this runs
           },
           "Run COMMAND (split into words here, no shell) for each opened, escalation and reminder event, "
           "the record on its stdin (repeatable)")
        ->check(CLI::Validator(
            [](std::string &text) {
                std::string error;
                const auto argv = split_command(text, error);
                return !argv ? error : argv->empty() ? std::string("no command given") : std::string();
            },
            ""))
        ->type_name("COMMAND")
        ->group(group);
}

SilenceCommands add_silence_commands(CLI::App &app, CommandOptions &o)
{
    SilenceCommands c{};
    c.top = app.add_subcommand("silence", "Add, list or expire silences: alerts they match page no one");
    c.top->require_subcommand(1);
    c.add = c.top->add_subcommand("add", "Silence the alerts of a sensor, a rule or both for a while");
    const CLI::Validator pattern([](std::string &text) { return check_pattern("the pattern", text); }, "");
    c.add->add_option("--sensor", o.silence.sensor, "The sensor, a shell pattern ('*': any)")
        ->check(pattern)
        ->type_name("PATTERN");
    c.add->add_option("--rule", o.silence.rule, "The rule, a shell pattern ('*': any)")
        ->check(pattern)
        ->type_name("PATTERN");
    add_duration_option(*c.add, "--for", o.silence.length, "How long it lasts (at most 366d)", kSilenceRange)
        ->required();
    c.add->add_option("--by", o.by, "Who silences (default: your login name)")->type_name("NAME");
    c.add->add_option("--comment", o.silence.comment, "Why, for the others")->type_name("TEXT");
    c.list = c.top->add_subcommand("list", "Show the silences in force: a table, or records with --json");
    c.list->add_flag("--json", o.json, "Silence records (JSON lines) instead of a table");
    c.list->add_flag("--all", o.all, "Those ended or expired too");
    c.expire = c.top->add_subcommand("expire", "End silence ID now");
    c.expire->add_option("ID", o.id, "Silence id")->required()->check(CLI::Range(std::int64_t{1}, INT64_MAX));
    c.expire->add_option("--by", o.by, "Who ends it (default: your login name)")->type_name("NAME");
    return c;
}

int silence_command(const SilenceCommands &c, const CommandOptions &o)
{
    if (c.add->parsed() && c.add->get_option("--sensor")->count() == 0 && c.add->get_option("--rule")->count() == 0)
        usage_error("silence add: give --sensor, --rule or both ('*' for any)");
    auto store = open_existing(o.db);
    const auto when = now();
    Output out;
    if (c.list->parsed()) {
        const auto silences = read_silences(store.db(), when, o.all);
        if (o.json) {
            for (const auto &s : silences)
                out.write(silence_record(s) + "\n");
        } else {
            out.write(render_silences(silences, when));
        }
        out.flush();
        return exit_ok;
    }
    Silence silence;
    Transaction t(store.db());
    Answer a = Answer::done;
    if (c.add->parsed()) {
        auto request = o.silence;
        request.by = o.by.empty() ? login_name() : o.by;
        a = store.add_silence(request, when, silence);
    } else {
        a = store.expire_silence(o.id, o.by.empty() ? login_name() : o.by, when, silence);
    }
    t.commit();
    switch (a) {
    case Answer::too_many:
        fail(exit_unavailable, cat("silence not added: ", kMaxActiveSilences, " silences are in force already"));
    case Answer::unknown: fail(exit_dataerr, cat("silence ", o.id, ": no such silence"));
    case Answer::already: warn(cat("silence ", o.id, " has ended already")); return exit_ok;
    case Answer::done:
    case Answer::resolved_already: break;
    }
    out.write(silence_record(silence) + "\n");
    out.flush();
    return exit_ok;
}

int answer(const CommandOptions &o, bool resolve, IncidentStore &store, const AnswerOutlet &outlet,
           std::optional<Outbox> &outbox)
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
    case Answer::done:
    case Answer::too_many: break;
    }
    Output out;
    const auto events = store.history(o.id);
    if (!events.empty())
        out.write(events.back() + "\n");
    out.flush();
    if (outlet.session == nullptr)
        return exit_ok;
    if (!wait_connected(*outlet.session, outlet.connect_wait)) {
        if (const auto f = outlet.session->failure())
            return *f;  // refused (78) or past --connect-timeout (69), said already
        warn("no broker: the event waits in the database for the daemon or the next tick");
        return exit_unavailable;
    }
    outbox.emplace(store, outlet.session, outlet.topics, outlet.qos, nullptr);
    outbox->flush();
    return exit_ok;
}

}  // namespace dht::escalate
