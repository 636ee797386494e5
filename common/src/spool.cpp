#include "dht/spool.hpp"

#include "dht/diag.hpp"
#include "dht/files.hpp"
#include "dht/hash.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <tuple>
#include <vector>

namespace dht {
namespace {

namespace fs = std::filesystem;

// A decimal number (leading zeros allowed) that fits in 64 bits.
bool number(std::string_view s, unsigned long long &out)
{
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    s.remove_prefix(std::min(s.find_first_not_of('0'), s.size()));
    if (s.size() > 19)
        return false;
    out = 0;
    for (const char c : s)
        out = out * 10 + static_cast<unsigned>(c - '0');
    return true;
}

bool hex16(std::string_view s)
{
    return s.size() == 16 &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// What a file name says: its destination ("" in an older release's names)
// and the order it was written in.
struct Name {
    std::string destination;
    unsigned long long ms = 0, pid = 0, seq = 0;
};

// FORMAT-DEST-TIME-PID-SEQ.EXT, or FORMAT-TIME-PID-SEQ.EXT (an older release).
bool parse_name(std::string_view name, std::string_view format, std::string_view extension, Name &out)
{
    if (name.size() <= format.size() + 1 + extension.size() || !name.starts_with(format) ||
        name[format.size()] != '-' || !name.ends_with(extension))
        return false;
    name = name.substr(format.size() + 1, name.size() - format.size() - 1 - extension.size());
    std::vector<std::string_view> parts;
    for (std::size_t begin = 0;;) {
        const auto dash = name.find('-', begin);
        parts.push_back(name.substr(begin, dash - begin));
        if (dash == std::string_view::npos)
            break;
        begin = dash + 1;
    }
    if (parts.size() == 4 && hex16(parts[0]))
        out.destination = std::string(parts[0]);
    else if (parts.size() != 3)
        return false;
    const auto n = parts.size();
    return number(parts[n - 3], out.ms) && number(parts[n - 2], out.pid) && number(parts[n - 1], out.seq);
}

std::size_t count_lines(std::string_view text)
{
    const auto n = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    return n + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

}  // namespace

Spool::Spool(std::string dir, std::string format, std::string_view destination, std::string extension)
    : dir_(std::move(dir)), format_(std::move(format)), extension_(std::move(extension))
{
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(destination)));
    destination_ = hex;
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec)
        fail(exit_ioerr, cat(dir_, ": ", ec.message()));
}

std::string Spool::file_name(long long unix_ms, long pid, unsigned seq) const
{
    char tail[64];
    std::snprintf(tail, sizeof tail, "-%020lld-%08ld-%06u", unix_ms, pid, seq);
    return cat(format_, '-', destination_, tail, extension_);
}

std::size_t Spool::load(
    const std::function<void(const std::string &path, std::string &text, std::size_t lines)> &take) const
{
    std::vector<std::pair<Name, std::string>> mine;
    std::size_t others = 0;
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(dir_, ec)) {
        Name name;
        if (!parse_name(entry.path().filename().string(), format_, extension_, name))
            continue;
        if (name.destination.empty() || name.destination == destination_)
            mine.emplace_back(name, entry.path().string());
        else
            ++others;
    }
    if (ec)
        warn(cat(dir_, ": ", ec.message()));
    if (others > 0)
        warn(cat(others, others == 1 ? " spool file in " : " spool files in ", dir_,
                 others == 1 ? " is" : " are", " for another destination: left alone"));
    std::sort(mine.begin(), mine.end(), [](const auto &a, const auto &b) {
        return std::tie(a.first.ms, a.first.pid, a.first.seq, a.second) <
               std::tie(b.first.ms, b.first.pid, b.first.seq, b.second);
    });
    std::size_t lines = 0;
    std::string text;
    for (const auto &[name, path] : mine) {
        if (const auto error = read_file(path, text); !error.empty()) {
            warn(cat("cannot read the spool file ", path, ": ", error, " (left where it is)"));
            continue;
        }
        const auto n = count_lines(text);
        lines += n;
        take(path, text, n);
    }
    if (lines > 0)
        warn(cat(lines, lines == 1 ? " spooled line" : " spooled lines", " to send from ", dir_));
    return lines;
}

std::string Spool::write(std::string_view text)
{
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    const std::string path = cat(dir_, '/', file_name(static_cast<long long>(ms), static_cast<long>(::getpid()), seq_++));
    // Synced and renamed whole (a crash leaves the file or nothing), owner only.
    if (const auto error = write_file_atomically(path, text, 0600); !error.empty()) {
        warn(cat("cannot write the spool file ", path, ": ", error));
        return {};
    }
    return path;
}

void Spool::remove(const std::string &path) const
{
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        warn(cat("cannot delete the spool file ", path, ": ", std::strerror(errno)));
}

}  // namespace dht
