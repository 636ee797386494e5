// dht-record: records into SQLite (stdin or MQTT), and back out with
// `dht-record query`; `dht-record prune` for retention.
#include "recorder.hpp"
#include "store.hpp"

#include "dht/cli.hpp"
#include "dht/main.hpp"
#include "dht/output.hpp"
#include "dht/signals.hpp"

#include <mosquitto.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace {

using namespace dht;
using namespace dht::record;

struct Options : RecordOptions {
    // query
    Query query;
    std::string since, until;
    // prune
    Duration older_than{};
    bool vacuum = false;
};

void setup(CLI::App &app, Options &o, CLI::App *&query, CLI::App *&prune)
{
    app.description("Store records (stdin, or MQTT with -t) in an SQLite database; print them back\n"
                    "with `query`; drop old ones with `prune`.");
    add_mqtt_options(app, o.mqtt, mqtt_subscribe);
    add_common_options(app, o.common, true);
    app.add_option("--db", o.db, "SQLite database file (default: dht.db)")
        ->envname("DHT_DB")
        ->type_name("FILE");
    app.add_flag("--tee", o.tee, "Also copy every stored record to stdout");
    app.add_option("--batch", o.batch, "Commit after this many records (default: 10000)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
    add_duration_option(app, "--commit-interval", o.commit_interval,
                        "Commit at least this often while records arrive (default: 1s)");
    app.add_option("--bare-topic", o.default_topic, "Topic given to bare payloads (lines without \"kind\") read from stdin")
        ->type_name("TOPIC");

    app.fallthrough();  // --db, -v and the like work after the subcommand too
    query = app.add_subcommand("query", "Print stored records, oldest first, as dht-sub prints them");
    query->add_option("--topic", o.query.topic_filter, "Only topics matching this MQTT filter (+ and # work)")
        ->type_name("FILTER");
    query->add_option("--sensor", o.query.sensor, "Only this sensor (payload.sensor, else the topic)");
    query->add_option("--since", o.since,
                      "From this time on: 2026-12-04 or '2026-12-04 10:00' (local time), today, "
                      "yesterday, RFC 3339 or an age (24h)")
        ->type_name("TIME");
    query->add_option("--until", o.until, "Before this time (as --since)")->type_name("TIME");
    query->add_option("--limit", o.query.limit, "At most N records");
    query->add_flag("--unprocessed", o.query.unprocessed, "Only messages not yet marked processed");
    query->add_flag("--mark-processed", o.query.mark_processed, "Mark the printed messages processed");
    query->add_option("--kind", o.query.kind, "message (default), alert, incident, stats, …");

    prune = app.add_subcommand("prune", "Delete records older than an age");
    add_duration_option(*prune, "--older-than", o.older_than, "Age, e.g. 30d",
                        {Duration{0}, std::chrono::hours(24 * 36500)})
        ->required();
    prune->add_flag("--vacuum", o.vacuum, "Give the space back to the file system");
}

std::string time_flag(const char *name, const std::string &text)
{
    const auto t = parse_time_or_age(text, now());
    if (!t)
        usage_error(cat(name, ": '", text,
                        "' is not a time (2026-12-04, '2026-12-04 10:00', today, yesterday, RFC 3339) "
                        "nor an age (24h)"));
    return format_rfc3339(*t);
}

[[noreturn]] void database_error(const Options &o, const SqliteError &e, int code)
{
    fail(code, std::string(e.what()).rfind(o.db, 0) == 0 ? e.what() : cat(o.db, ": ", e.what()));
}

int run_record(Options &o)
{
    finish_mqtt_options(o.mqtt, "dht-record");
    install_signal_handlers();
    Output out;
    try {
        Store store(o.db, true);
        Recorder recorder(o, store, out);
        try {
            recorder.run();
        } catch (...) {
            // --strict, a closed stdout or a broker given up on: what was read is stored first.
            try {
                recorder.finish();
            } catch (...) {
            }
            throw;
        }
        recorder.finish();
        debug(cat(recorder.stored(), " records stored in ", o.db));
    } catch (const SqliteError &e) {
        database_error(o, e, exit_ioerr);
    }
    return exit_ok;
}

int run_query(Options &o)
{
    if (!o.since.empty())
        o.query.since = time_flag("--since", o.since);
    if (!o.until.empty())
        o.query.until = time_flag("--until", o.until);
    if (!o.query.topic_filter.empty() && mosquitto_sub_topic_check(o.query.topic_filter.c_str()) != MOSQ_ERR_SUCCESS)
        usage_error(cat("--topic: invalid topic filter '", o.query.topic_filter, "'"));
    if (::access(o.db.c_str(), R_OK) != 0)
        fail(exit_noinput, cat(o.db, ": ", std::strerror(errno)));
    Output out;
    try {
        Store store(o.db, false);
        store.query(o.query, [&out](std::string_view line) {
            out.buffer().append(line);
            out.buffer().push_back('\n');
            out.maybe_flush();
        });
    } catch (const SqliteError &e) {
        database_error(o, e, exit_ioerr);
    }
    out.flush();
    return exit_ok;
}

int run_prune(Options &o)
{
    if (::access(o.db.c_str(), R_OK) != 0)
        fail(exit_noinput, cat(o.db, ": ", std::strerror(errno)));
    try {
        Store store(o.db, false);
        const auto n = store.prune(format_rfc3339(now() - o.older_than));
        if (o.vacuum)
            store.vacuum();
        debug(cat(n, n == 1 ? " record" : " records", " older than ", format_duration(o.older_than), " deleted from ", o.db));
    } catch (const SqliteError &e) {
        database_error(o, e, exit_ioerr);
    }
    return exit_ok;
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::main_guard("dht-record", [&] {
        CLI::App app{"", "dht-record"};
        Options options;
        CLI::App *query_cmd = nullptr;
        CLI::App *prune_cmd = nullptr;
        setup(app, options, query_cmd, prune_cmd);
        dht::parse_command_line(app, argc, argv);
        dht::set_verbosity(options.common.verbose);
        if (query_cmd->parsed())
            return run_query(options);
        if (prune_cmd->parsed())
            return run_prune(options);
        return run_record(options);
    });
}
