#include "dht/text.hpp"

#include "dht/json.hpp"

#include <algorithm>
#include <vector>

namespace dht {

std::string printable(std::string_view text)
{
    static const char hex[] = "0123456789abcdef";
    std::string out;
    const bool utf8 = valid_utf8(text);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        const auto next = [&](std::size_t k) { return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0U; };
        if (c < 0x20 || c == 0x7f || (!utf8 && c >= 0x80)) {
            out += "\\x";
            out += hex[c >> 4U];
            out += hex[c & 15U];
        } else if (utf8 && c == 0xC2 && next(1) >= 0x80 && next(1) <= 0x9F) {
            // C1 controls (U+0080-U+009F): U+009B starts a terminal sequence.
            out += "\\u00";
            out += hex[next(1) >> 4U];
            out += hex[next(1) & 15U];
            ++i;
        } else if (utf8 && c == 0xE2 && ((next(1) == 0x80 && next(2) >= 0xAA && next(2) <= 0xAE) ||
                                         (next(1) == 0x81 && next(2) >= 0xA6 && next(2) <= 0xA9))) {
            // Bidirectional overrides and isolates would reorder the table's text.
            const unsigned cp = 0x2000U + ((next(1) & 0x3FU) << 6U) + (next(2) & 0x3FU);
            out += "\\u";
            for (int shift = 12; shift >= 0; shift -= 4)
                out += hex[(cp >> static_cast<unsigned>(shift)) & 15U];
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string quoted_name(std::string_view name)
{
    std::string quoted;
    append_json_string(quoted, name.substr(0, 200));
    return printable(quoted);
}

std::size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

void Nearest::offer(std::string_view candidate)
{
    if (const auto d = edit_distance(word_, candidate); d < limit_ && d < candidate.size()) {
        limit_ = d;
        best_.assign(candidate);
    }
}

std::size_t display_width(std::string_view text)
{
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}

std::string render_columns(const std::vector<std::vector<std::string>> &rows)
{
    std::vector<std::size_t> widths;
    for (const auto &r : rows) {
        widths.resize(std::max(widths.size(), r.size()), 0);
        for (std::size_t c = 0; c < r.size(); ++c)
            widths[c] = std::max(widths[c], display_width(r[c]));
    }
    std::string out;
    for (const auto &r : rows) {
        for (std::size_t c = 0; c < r.size(); ++c) {
            out += r[c];
            if (c + 1 < r.size())
                out.append(widths[c] - display_width(r[c]) + 2, ' ');
        }
        out += '\n';
    }
    return out;
}

}  // namespace dht
