#include "notify.hpp"

#include "dht/diag.hpp"
#include "dht/json.hpp"
#include "dht/net.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

namespace dht::escalate {
namespace {

// Variables never handed to a command: the broker's password.
bool secret(std::string_view entry)
{
    return entry.rfind("DHT_MQTT_PASSWORD=", 0) == 0 || entry.rfind("DHT_INFLUX_PASSWORD=", 0) == 0 ||
           entry.rfind("DHT_INFLUX_TOKEN=", 0) == 0;
}

constexpr const char *kEventVariables[] = {"DHT_INCIDENT_ID", "DHT_EVENT", "DHT_LEVEL", "DHT_SEVERITY",
                                           "DHT_RULE",        "DHT_SENSOR", "DHT_STATE"};

std::string describe_status(int status)
{
    if (WIFEXITED(status))
        return cat("exit status ", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return cat("killed by signal ", WTERMSIG(status));
    return "ended abnormally";
}

// An executable regular file, as execve() would take it: "" or why not.
std::string executable(const std::string &path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return std::strerror(errno);
    if (!S_ISREG(st.st_mode))
        return "not a regular file";
    if (::access(path.c_str(), X_OK) != 0)
        return "not executable";
    return {};
}

}  // namespace

std::string unrunnable(const Command &argv)
{
    if (argv.empty())
        return "empty command";
    const auto &name = argv.front();
    if (name.find('/') != std::string::npos) {
        const auto why = executable(name);
        return why.empty() ? why : cat(name, ": ", why);
    }
    std::string path;
    if (const char *p = std::getenv("PATH"))
        path = p;
    else {
        path.resize(::confstr(_CS_PATH, nullptr, 0));
        ::confstr(_CS_PATH, path.data(), path.size());
        path.resize(std::strlen(path.c_str()));
    }
    for (std::size_t from = 0;;) {
        const auto colon = path.find(':', from);
        std::string dir = path.substr(from, colon == std::string::npos ? std::string::npos : colon - from);
        if (executable(cat(dir.empty() ? "." : dir, "/", name)).empty())
            return {};
        if (colon == std::string::npos)
            break;
        from = colon + 1;
    }
    return cat(name, ": not found in PATH (", path, ")");
}

std::size_t report_unrunnable(const EscalationPolicy &policy)
{
    std::size_t bad = 0;
    for (const auto &c : policy.origins) {
        const auto why = unrunnable(c.argv);
        if (why.empty())
            continue;
        ++bad;
        if (c.line > 0)
            warn(cat(c.file, ":", c.line, ": notify: ", why));
        else
            warn(cat(c.file, " ", join_command(c.argv), ": ", why));
    }
    return bad;
}

std::vector<std::string> Notifier::environment(const std::string &record)
{
    std::vector<std::string> env;
    for (char **e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        if (secret(entry))
            continue;
        bool ours = false;
        for (const char *name : kEventVariables)
            ours = ours || (entry.rfind(name, 0) == 0 && entry.size() > std::strlen(name) && entry[std::strlen(name)] == '=');
        if (!ours)
            env.emplace_back(entry);
    }
    JsonParser parser(8);
    json::value v;
    std::string error;
    if (!parser.parse(record, v, error) || !v.is_object())
        return env;
    const auto &o = v.get_object();
    const auto text = [&](const char *key) -> std::string {
        const auto *x = o.if_contains(key);
        if (x == nullptr)
            return {};
        if (x->is_string())
            return std::string(x->get_string());
        if (x->is_int64())
            return std::to_string(x->get_int64());
        return {};
    };
    // A NUL cannot travel in an environment variable: such a name is cut there.
    const auto add = [&](const char *name, std::string value) {
        if (const auto nul = value.find('\0'); nul != std::string::npos)
            value.resize(nul);
        env.push_back(cat(name, "=", value));
    };
    add("DHT_INCIDENT_ID", text("incident_id"));
    add("DHT_EVENT", text("event"));
    add("DHT_LEVEL", text("level"));
    add("DHT_SEVERITY", text("severity"));
    add("DHT_RULE", text("rule"));
    add("DHT_SENSOR", text("sensor"));
    add("DHT_STATE", text("state"));
    return env;
}

Notifier::Notifier(std::chrono::nanoseconds timeout) : timeout_(timeout) { std::signal(SIGPIPE, SIG_IGN); }

Notifier::~Notifier()
{
    for (auto &c : children_) {
        ::kill(-c.pid, SIGKILL);
        ::waitpid(c.pid, nullptr, 0);
        if (c.input >= 0)
            ::close(c.input);
    }
}

bool Notifier::start(std::int64_t id, const Command &argv, const std::string &record, std::string &error)
{
    if (argv.empty()) {
        error = "empty command";
        return false;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        error = cat("pipe: ", std::strerror(errno));
        return false;
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    // Nothing else of ours: a command that outlives us must not hold the
    // broker's connection (its last will would never fire) or the database.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    // Our SIGPIPE is ignored and our mask may block signals: the child starts clean.
    sigset_t defaults;
    sigemptyset(&defaults);
    for (const int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD})
        sigaddset(&defaults, sig);
    sigset_t mask;
    sigemptyset(&mask);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &mask);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

    std::vector<char *> args;
    for (const auto &a : argv)
        args.push_back(const_cast<char *>(a.c_str()));
    args.push_back(nullptr);
    auto env_text = environment(record);
    std::vector<char *> env;
    for (auto &e : env_text)
        env.push_back(e.data());
    env.push_back(nullptr);

    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(fds[0]);
    if (rc != 0) {
        ::close(fds[1]);
        error = cat(argv[0], ": ", std::strerror(rc));
        return false;
    }
    ::fcntl(fds[1], F_SETFL, ::fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    Child c{id, pid, fds[1], record + "\n", argv[0], std::chrono::steady_clock::now()};
    feed(c);
    children_.push_back(std::move(c));
    return true;
}

void Notifier::feed(Child &c)
{
    while (c.input >= 0 && !c.pending.empty()) {
        const auto n = ::write(c.input, c.pending.data(), c.pending.size());
        if (n > 0) {
            c.pending.erase(0, static_cast<std::size_t>(n));
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return;  // the pipe is full: more on the next poll
        } else {
            c.pending.clear();  // the command closed its stdin (EPIPE): it wants no more
        }
    }
    if (c.input >= 0 && c.pending.empty()) {
        ::close(c.input);
        c.input = -1;
    }
}

std::vector<Notifier::Finished> Notifier::poll()
{
    std::vector<Finished> done;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = children_.begin(); it != children_.end();) {
        feed(*it);
        int status = 0;
        const pid_t r = ::waitpid(it->pid, &status, WNOHANG);
        if (r == it->pid) {
            Finished f{it->id, false, {}};
            if (it->killed)
                f.error = cat("timed out after ", seconds_text(timeout_));
            else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                f.ok = true;
            else
                f.error = describe_status(status);
            if (!f.ok)
                f.error = cat(it->name, ": ", f.error);
            if (it->input >= 0)
                ::close(it->input);
            done.push_back(std::move(f));
            it = children_.erase(it);
            continue;
        }
        // Too slow: the whole process group gets SIGTERM, then SIGKILL 2 s later.
        if (!it->killed && now - it->started > timeout_) {
            ::kill(-it->pid, SIGTERM);
            it->killed = true;
            it->killed_at = now;
        } else if (it->killed && now - it->killed_at > std::chrono::seconds(2)) {
            ::kill(-it->pid, SIGKILL);
        }
        ++it;
    }
    return done;
}

std::vector<Notifier::Finished> Notifier::wait_all(std::chrono::nanoseconds limit)
{
    std::vector<Finished> done;
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!children_.empty()) {
        for (auto &f : poll())
            done.push_back(std::move(f));
        if (children_.empty())
            break;
        if (std::chrono::steady_clock::now() >= until) {
            for (auto &c : children_) {
                ::kill(-c.pid, SIGKILL);
                ::waitpid(c.pid, nullptr, 0);
                if (c.input >= 0)
                    ::close(c.input);
                done.push_back({c.id, false, cat(c.name, ": still running at exit, killed")});
            }
            children_.clear();
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done;
}

}  // namespace dht::escalate
