// Files replaced whole: written to a temporary file beside the target, synced,
// then renamed over it, so that a reader (or a crash) sees the old content or
// the new, never half of one.
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>

namespace dht {

// Returns an empty string on success, else what went wrong (strerror).
std::string write_file_atomically(const std::string &path, std::string_view text, mode_t mode = 0600);

}  // namespace dht
