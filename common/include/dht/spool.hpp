// A spool directory: lines a sink could not deliver yet, kept on disk for a
// later run. Every file is written whole (synced, then renamed into place,
// mode 0600) and named FORMAT-DEST-TIME-PID-SEQ.EXT, DEST being 16 hex digits
// of FNV-1a of the destination: several destinations can share a directory,
// and each run sends only its own files, oldest first. A file goes only once
// its lines were delivered (or written again).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace dht {

class Spool {
public:
    // Creates `dir` when it is missing (Exit 74 when it cannot). `format` and
    // `extension` name the kind of lines ("influx", ".lp"); `destination` is
    // where they go (a URL, host:port).
    Spool(std::string dir, std::string format, std::string_view destination, std::string extension);

    // Hands the text of each file this destination left to `take` with its
    // number of lines, oldest first, and says how many lines wait. Files of this format for another
    // destination are left alone, with a warning; a file that cannot be read
    // is reported and left where it is. Files named without a destination (an
    // older release) count as this one's. Returns the number of lines.
    std::size_t load(
        const std::function<void(const std::string &path, std::string &text, std::size_t lines)> &take) const;

    // Writes `text` (whole lines) to a new file and returns its path; on a
    // failure, warns and returns "".
    std::string write(std::string_view text);

    // Deletes a file whose lines were delivered.
    void remove(const std::string &path) const;

    const std::string &dir() const noexcept { return dir_; }

    // The name a file gets, without the directory (for tests).
    std::string file_name(long long unix_ms, long pid, unsigned seq) const;

private:
    std::string dir_, format_, destination_, extension_;
    unsigned seq_ = 0;
};

}  // namespace dht
