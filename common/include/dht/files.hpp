// Whole files: read in one go, and replaced whole (written to a temporary file
// beside the target, synced, then renamed over it, so that a reader or a crash
// sees the old content or the new, never half of one).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace dht {

// The whole content of `path` in `text`. Returns an empty string on success,
// else what went wrong (strerror); `text` is then empty.
std::string read_file(const std::string &path, std::string &text);

// Returns an empty string on success, else what went wrong (strerror).
std::string write_file_atomically(const std::string &path, std::string_view text, mode_t mode = 0600);

// An advisory lock (flock) on a file of its own, created mode 0600 when
// missing and holding the owner's process id, kept while the object lives
// (and not by child processes: close-on-exec).
class FileLock {
public:
    // The lock, or nullopt with `error` set ("held by process 1234", or why
    // the file cannot be opened).
    static std::optional<FileLock> acquire(const std::string &path, std::string &error);
    FileLock(FileLock &&other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    FileLock &operator=(FileLock &&) = delete;
    FileLock(const FileLock &) = delete;
    FileLock &operator=(const FileLock &) = delete;
    ~FileLock();

private:
    explicit FileLock(int fd) noexcept : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace dht
