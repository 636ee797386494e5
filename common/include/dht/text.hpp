// Text from outside (sensor names, topics, payload keys) made safe to show on
// a terminal: in a table or a diagnostic it can neither move the cursor,
// start an escape sequence nor reorder the line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dht {

// Control characters (C0, DEL, C1) and, in text that is not UTF-8, every byte
// from 0x80 as \xNN or \u00NN; bidirectional overrides and isolates as
// \uNNNN; the rest as it is.
std::string printable(std::string_view text);

// The Levenshtein distance of two short words: behind every "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace dht
