// Whole files: read in one go, and replaced whole (written to a temporary file
// beside the target, synced, then renamed over it, so that a reader or a crash
// sees the old content or the new, never half of one).
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>

namespace dht {

// The whole content of `path` in `text`. Returns an empty string on success,
// else what went wrong (strerror); `text` is then empty.
std::string read_file(const std::string &path, std::string &text);

// Returns an empty string on success, else what went wrong (strerror).
std::string write_file_atomically(const std::string &path, std::string_view text, mode_t mode = 0600);

}  // namespace dht
