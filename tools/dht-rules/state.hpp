// dht-rules' --state: the state file and its journal, the engine's counters
// and firing alerts as JSON. FILE holds the whole state; what changes after it
// is appended to FILE.journal, so that an alert costs a line, not the whole
// state; the journal is folded into FILE once it outgrows it, on a reload and
// at the end.
#pragma once

#include "engine.hpp"

#include <cstdint>
#include <string>

namespace dht::rules {

class StateFile {
public:
    // An empty path: no state file.
    explicit StateFile(std::string path) : path_(std::move(path)), journal_path_(path_ + ".journal") {}

    bool enabled() const noexcept { return !path_.empty(); }

    // The state the file and its journal hold, if they exist, into `engine`.
    // A file that is not a state file is renamed FILE.bad (said on stderr) and
    // the engine starts afresh; one that cannot be read ends the program (66).
    void load(Engine &engine);
    // What changed since the last save, appended to the journal (synced);
    // the whole state instead when FILE is not known to hold the state the
    // changes follow (a new file, rules changed since it was written, a
    // journal read at the start), or when the journal has outgrown FILE.
    void save_changes(Engine &engine);
    // The whole state in FILE (dht/files.hpp: a crash leaves the old state or
    // the new), and no journal.
    void save(Engine &engine);

    // Bytes written to FILE and the journal so far.
    std::uint64_t written() const noexcept { return written_; }

private:
    std::string path_, journal_path_;
    std::uint64_t generation_ = 0;  // of FILE, which the journal follows; 0: FILE is to be written whole
    std::size_t snapshot_size_ = 0, journal_size_ = 0;
    std::uint64_t written_ = 0;
};

}  // namespace dht::rules
