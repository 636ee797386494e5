// The one-shot subcommands on an incident database: `list`, `show`, and the
// answers `ack` and `resolve` (`tick` is the daemon's, once).
#pragma once

#include "daemon.hpp"
#include "incidents.hpp"

#include "dht/mqtt.hpp"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace dht::escalate {

struct CommandOptions {
    std::string db = "dht.db";
    std::int64_t id = 0;  // ack, resolve, show
    std::string by;       // ack, resolve; "": the login name
    bool open_only = false;  // list --open
    bool json = false;       // list --json
    std::int64_t limit = 0;  // list --limit; 0: all
    bool wide = false;       // list --wide
    SilenceRequest silence;  // silence add
    bool all = false;        // silence list --all
};

struct SilenceCommands {
    CLI::App *top, *add, *list, *expire;
};

// --notify COMMAND into `target`, split as it is parsed: a quote left open is a usage error.
void add_notify_option(CLI::App &app, std::vector<Command> &target, const std::string &group);

// `silence add|list|expire`, their options into `o`.
SilenceCommands add_silence_commands(CLI::App &app, CommandOptions &o);
int silence_command(const SilenceCommands &c, const CommandOptions &o);

// Opens the database for reading what is there: a missing file exits 66.
IncidentStore open_existing(const std::string &path);

// The incidents as a table, or records with --json.
int list(const CommandOptions &o);
// The event records of incident o.id, oldest first; exit 65 when there is none.
int show(const CommandOptions &o);

// Where the event of an answer goes once it is written.
struct AnswerOutlet {
    Session *session = nullptr;  // none: it waits for the daemon or the next tick
    Topics topics;
    int qos = 1;
    std::chrono::nanoseconds connect_wait = std::chrono::seconds(10);
};

// `ack` and `resolve`: the answer written, its record printed; with a broker
// this process publishes what waits (through `outbox`, left to be settled),
// else the daemon (or the next tick) does.
int answer(const CommandOptions &o, bool resolve, IncidentStore &store, const AnswerOutlet &outlet,
           std::optional<Outbox> &outbox);

}  // namespace dht::escalate
