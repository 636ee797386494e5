// dht-rules' --state: the state file (read at the start, written whole while
// running and at the end) and its format, the engine's counters and firing
// alerts as JSON.
#pragma once

#include "engine.hpp"

#include <string>

namespace dht::rules {

class StateFile {
public:
    // An empty path: no state file.
    explicit StateFile(std::string path) : path_(std::move(path)) {}

    bool enabled() const noexcept { return !path_.empty(); }

    // The state the file holds, if it exists, into `engine`. A file that is
    // not a state file is renamed FILE.bad (said on stderr) and the engine
    // starts afresh; one that cannot be read ends the program (66).
    void load(Engine &engine) const;
    // Written whole (dht/files.hpp): a crash leaves the old state or the new.
    void save(Engine &engine) const;

private:
    std::string path_;
};

}  // namespace dht::rules
