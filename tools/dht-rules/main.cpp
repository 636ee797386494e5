// dht-rules: conditional rules on a stream of records (stdin, or MQTT with -t);
// alert records when a rule starts firing and when it resolves, on stdout and
// with --publish on MQTT.
#include "engine.hpp"
#include "testfile.hpp"

#include "dht/cli.hpp"
#include "dht/files.hpp"
#include "dht/scan.hpp"
#include "dht/lines.hpp"
#include "dht/main.hpp"
#include "dht/mqtt.hpp"
#include "dht/output.hpp"
#include "dht/record.hpp"
#include "dht/signals.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

using namespace dht;
using namespace dht::rules;

struct Options {
    MqttOptions mqtt;
    CommonOptions common;
    std::vector<std::string> rule_files;
    std::vector<std::string> inline_rules;
    bool check = false;
    std::string test_file;
    std::string state_file;
    std::string repeat;
    bool pass = false;
    std::string clock = "auto";
    std::string bare_topic;
};

void setup(CLI::App &app, Options &o)
{
    app.description("Apply conditional rules to message records (stdin, or MQTT with -t) and write an\n"
                    "alert record when a rule starts firing and when it resolves.\n"
                    "Rule syntax: NAME: CONDITION [for N readings | for DURATION] [clear CONDITION]\n"
                    "             -> alert|notify|escalate [info|warning|critical] [\"MESSAGE\"]\n"
                    "  e.g. dht-rules -e 'cold: temperature < 5 for 5 readings -> alert warning'\n"
                    "See dht-rules(5) for the grammar.");
    add_mqtt_options(app, o.mqtt, mqtt_subscribe | mqtt_publish);
    add_common_options(app, o.common, true);
    app.add_option("-r,--rules", o.rule_files, "Read rules from FILE (repeatable)")->type_name("FILE");
    app.add_option("-e,--rule", o.inline_rules, "A rule given inline (repeatable)")->type_name("RULE");
    app.add_flag("--check", o.check, "Check the rules, report every error (FILE:LINE:COL) and exit: 0 or 78");
    app.add_option("--test", o.test_file,
                   "Run the rules over a test file of input records and expected alerts, then exit: 0 or 1")
        ->type_name("FILE");
    app.add_option("--state", o.state_file,
                   "Keep counters and firing alerts in FILE across restarts (written atomically)")
        ->type_name("FILE");
    app.add_option("--repeat", o.repeat, "Send a firing alert again every DURATION while it fires")
        ->type_name("DURATION");
    app.add_flag("--pass", o.pass, "Also copy every input record to stdout, each before the alerts it causes");
    app.add_option("--clock", o.clock,
                   "What time timers follow: auto (record times; the wall clock once input pauses), "
                   "records (record times only: replays), wall (the wall clock too, also at the end of input: cron)")
        ->check(CLI::IsMember({"auto", "records", "wall"}));
    app.add_option("--bare-topic", o.bare_topic, "Topic given to bare payloads (lines without \"kind\")")
        ->type_name("TOPIC");
}

std::string read_file(const std::string &path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(exit_noinput, cat(path, ": ", std::strerror(errno)));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Every -r file and -e rule; nullopt (the errors printed) when one is wrong.
std::optional<RuleSet> load_rules(const Options &o)
{
    RuleSet set;
    std::vector<ParseError> errors;
    for (const auto &file : o.rule_files)
        parse_rules(read_file(file), file, set, errors);
    for (std::size_t i = 0; i < o.inline_rules.size(); ++i)
        parse_rules(o.inline_rules[i], cat("-e#", i + 1), set, errors);
    for (const auto &e : errors)
        warn(format_error(e));
    if (!errors.empty()) {
        warn(cat(errors.size(), errors.size() == 1 ? " error" : " errors", " in the rules"));
        return std::nullopt;
    }
    return set;
}

class StateFile {
public:
    explicit StateFile(std::string path) : path_(std::move(path)) {}

    bool enabled() const noexcept { return !path_.empty(); }

    void load(Engine &engine) const
    {
        if (!enabled())
            return;
        std::error_code ec;
        if (!std::filesystem::exists(path_, ec))
            return;  // the first run
        std::ifstream in(path_, std::ios::binary);
        if (!in)
            fail(exit_noinput, cat(path_, ": cannot read the state file: ", std::strerror(errno)));
        std::ostringstream text;
        text << in.rdbuf();
        JsonParser parser(64);
        json::value v;
        std::string error;
        try {
            if (!parser.parse(text.str(), v, error))
                throw std::runtime_error(error);
            engine.restore(v);
            debug(cat("state from ", path_, ": ", engine.sensors(), " sensors"));
        } catch (const std::runtime_error &e) {
            const std::string bad = path_ + ".bad";
            std::rename(path_.c_str(), bad.c_str());
            warn(cat(path_, ": not a usable state file (", e.what(), "); starting afresh, the file is kept as ", bad));
        }
    }

    // Written whole (dht/files.hpp): a crash leaves the old state or the new.
    void save(Engine &engine) const
    {
        if (!enabled())
            return;
        if (const auto error = write_file_atomically(path_, engine.save()); !error.empty())
            warn(cat("cannot write the state to ", path_, ": ", error));
        else
            engine.saved();
    }

private:
    std::string path_;
};

enum class ClockMode { automatic, records, wall };

class Runner {
public:
    Runner(const Options &o, RuleSet rules, Duration repeat)
        : o_(o), state_(o.state_file),
          engine_(std::move(rules), repeat, [this](std::string_view r) { emit(r); }),
          scanner_(std::make_unique<RecordScanner>(engine_.rules().fields, o.common.max_depth)),
          clock_(o.clock == "records" ? ClockMode::records : o.clock == "wall" ? ClockMode::wall : ClockMode::automatic)
    {
        if (o.mqtt.wants_broker())
            session_.emplace(o.mqtt);
        state_.load(engine_);
    }

    int run()
    {
        int status = exit_ok;
        try {
            if (session_) {
                session_->start();
                if (o_.mqtt.topics.empty())
                    status = run_stdin();
                else
                    status = run_mqtt();
            } else {
                status = run_stdin();
            }
        } catch (const Exit &) {
            finish();
            throw;
        } catch (const ClosedOutput &) {
            finish();
            throw;
        }
        finish();
        if (session_) {
            if (const auto f = session_->failure(); f && status == exit_ok)
                status = *f;
            if (session_->pending_publishes() > 0 && status == exit_ok)
                status = exit_unavailable;  // alerts that reached neither the broker nor a retry
        }
        return status;
    }

private:
    void emit(std::string_view record)
    {
        auto &buf = out_.buffer();
        buf += record;
        buf += '\n';
        if (session_ && !o_.mqtt.publish_topic.empty())
            session_->publish(o_.mqtt.publish_topic, record, o_.mqtt.publish_qos, false);
    }

    void finish()
    {
        if (finished_)
            return;
        finished_ = true;
        if (clock_ == ClockMode::wall)
            engine_.advance(now());
        state_.save(engine_);
        try {
            out_.flush();
        } catch (const ClosedOutput &) {
        }
        if (session_)
            session_->stop();
        debug(cat(engine_.fired(), " alerts fired, ", engine_.resolved(), " resolved, ", engine_.sensors(),
                  " sensors"));
    }

    void idle()
    {
        out_.flush();
        if (state_.enabled() && engine_.dirty()) {
            const auto t = std::chrono::steady_clock::now();
            if (engine_.alerted() || t - last_save_ >= std::chrono::seconds(5)) {
                state_.save(engine_);
                last_save_ = t;
            }
        }
    }

    void reload()
    {
        warn("SIGHUP: reading the rules again");
        std::optional<RuleSet> rules;
        try {
            rules = load_rules(o_);
        } catch (const Exit &) {
            // A rule file that cannot be read (said already): the rules in force stay.
        }
        if (!rules) {
            warn("keeping the rules in force");
            return;
        }
        engine_.replace(std::move(*rules));
        scanner_ = std::make_unique<RecordScanner>(engine_.rules().fields, o_.common.max_depth);
        const std::size_t n = engine_.rules().rules.size();
        warn(cat(n, n == 1 ? " rule" : " rules", " in force"));
        state_.save(engine_);
    }

    void message(std::string_view topic, TimePoint time) { feed(engine_, *scanner_, topic, time); }

    void line(LineReader &reader, InputErrors &errors, std::string_view text)
    {
        const auto report = [&](std::string_view what) { errors.report(reader.name(), reader.line_number(), what); };
        const auto kind = scanner_->scan_record(text, error_);
        if (kind == RecordScanner::Kind::invalid)
            return report(error_);
        if (kind == RecordScanner::Kind::other) {
            if (o_.pass) {
                pass(text);
                out_.maybe_flush();
            }
            return;
        }
        RecordScanner::Origin from;
        if (!scanner_->origin(o_.bare_topic, from, error_))
            return report(error_);
        if (o_.pass)
            pass(text);
        message(from.topic, from.time ? *from.time : now());
        out_.maybe_flush();
    }

    void pass(std::string_view text)
    {
        auto &buf = out_.buffer();
        buf += text;
        buf += '\n';
    }

    int run_stdin()
    {
        LineReader reader(0, "stdin", o_.common.max_line);
        InputErrors errors(o_.common.strict);
        std::string_view text;
        while (!stop_requested()) {
            if (take_reload())
                reload();
            if (!reader.has_line()) {
                if (session_ && session_->failure())
                    break;  // the broker is out of reach past --connect-timeout
                idle();
            }
            // A wait that times out is a pause in the input: timers follow the wall clock.
            const int wait = clock_ == ClockMode::records && !state_.enabled() ? -1 : 500;
            switch (reader.next(text, wait)) {
            case LineReader::Status::eof: errors.summary(); return exit_ok;
            case LineReader::Status::timeout:
                if (clock_ != ClockMode::records)
                    engine_.advance(now());
                break;
            case LineReader::Status::interrupted: break;
            case LineReader::Status::too_long:
                errors.report(reader.name(), reader.line_number(),
                              cat("line longer than --max-line (", o_.common.max_line, " bytes)"));
                break;
            case LineReader::Status::line: line(reader, errors, text); break;
            }
        }
        errors.summary();
        return exit_ok;
    }

    int run_mqtt()
    {
        JsonParser parser(o_.common.max_depth);
        std::string record;
        return consume(
            *session_,
            [&](const MqttMessage &m) {
                if (o_.pass) {
                    record.clear();
                    append_message_record(record, make_message(parser, m.topic, m.payload, m.qos, m.retain, m.received));
                    pass(record);
                }
                scanner_->scan_payload(m.payload);
                message(m.topic, m.received);
                return true;
            },
            [&] { idle(); },
            [&]() -> std::optional<int> {
                if (take_reload())
                    reload();
                if (clock_ != ClockMode::records)
                    engine_.advance(now());
                idle();
                return std::nullopt;
            });
    }

    const Options &o_;
    StateFile state_;
    Output out_;
    std::optional<Session> session_;
    Engine engine_;
    std::unique_ptr<RecordScanner> scanner_;
    ClockMode clock_;
    std::string error_;
    std::chrono::steady_clock::time_point last_save_ = std::chrono::steady_clock::now();
    bool finished_ = false;
};

int run(Options &o)
{
    set_verbosity(o.common.verbose);
    finish_mqtt_options(o.mqtt, "dht-rules");
    if (o.rule_files.empty() && o.inline_rules.empty())
        fail(exit_usage, "no rules: give -r FILE or -e RULE (see dht-rules(5))");
    Duration repeat{};
    if (!o.repeat.empty()) {
        const auto d = parse_duration(o.repeat);
        if (!d || d->count() <= 0)
            fail(exit_usage, cat("--repeat: '", o.repeat, "' is not a duration such as 30m"));
        repeat = *d;
    }
    if (o.check && !o.test_file.empty())
        fail(exit_usage, "--check and --test go separately");
    auto rules = load_rules(o);
    if (!rules)
        return exit_config;
    if (o.check) {
        std::size_t n = rules->rules.size();
        warn(cat(n, n == 1 ? " rule" : " rules", ", no errors"));
        return exit_ok;
    }
    if (!o.test_file.empty()) {
        const auto r = run_test_file(o.test_file, std::move(*rules), repeat, o.common.max_depth);
        warn(cat(o.test_file, ": ", r.inputs, " inputs, ", r.expected, " expected alerts, ",
                 r.failures == 0 ? std::string("all met") : cat(r.failures, r.failures == 1 ? " failure" : " failures")));
        return r.failures == 0 ? exit_ok : 1;
    }
    install_signal_handlers();
    Runner runner(o, std::move(*rules), repeat);
    return runner.run();
}

}  // namespace

int main(int argc, char **argv)
{
    return dht::main_guard("dht-rules", [&] {
        CLI::App app{"", "dht-rules"};
        Options options;
        setup(app, options);
        dht::parse_command_line(app, argc, argv);
        return run(options);
    });
}
