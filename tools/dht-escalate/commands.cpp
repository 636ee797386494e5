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
    case Answer::done: break;
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
