// Text from outside (sensor names, topics, payload keys) made safe to show on
// a terminal: in a table or a diagnostic it can neither move the cursor,
// start an escape sequence nor reorder the line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dht {

// Control characters (C0, DEL, C1) and, in text that is not UTF-8, every byte
// from 0x80 as \xNN or \u00NN; bidirectional overrides and isolates as
// \uNNNN; the rest as it is.
std::string printable(std::string_view text);

// A name from outside (a sensor, a field) as a diagnostic quotes it: its
// first 200 bytes as a JSON string, made printable().
std::string quoted_name(std::string_view name);

// Columns a text takes on a terminal: UTF-8 continuation bytes take none.
std::size_t display_width(std::string_view text);
// Rows as left-aligned columns two spaces apart, each line ending in '\n'
// (the cells made printable() already where they come from outside).
std::string render_columns(const std::vector<std::vector<std::string>> &rows);

// The Levenshtein distance of two short words: behind every "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word`, for "did you mean": among those offered,
// the first at the fewest edits, when that is under `limit` and less than
// the whole candidate (a short word rewritten entirely is no suggestion).
class Nearest {
public:
    Nearest(std::string_view word, std::size_t limit) : word_(word), limit_(limit) {}
    void offer(std::string_view candidate);
    // The nearest candidate; empty when none was near enough.
    const std::string &best() const noexcept { return best_; }

private:
    std::string_view word_;
    std::size_t limit_;
    std::string best_;
};

}  // namespace dht
