// Records scanned ahead: when stdin is a regular file, the thread that reads
// it ahead (LineReader::LookAhead) also scans its lines for the rules'
// fields while the main thread has others to judge, so that the main thread
// finds a reading's topic, time, sensor and values already read and only
// judges them. A line it did not get to or cannot vouch for (not a reading,
// bad, a string it had to copy, scanned under rules or a calibration since
// replaced) is scanned on the main thread, as any line of a pipe is: what
// the rules see is the same either way.
#pragma once

#include "dht/lines.hpp"
#include "dht/scan.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace dht {
class LineInput;
}

namespace dht::rules {

class ScanAhead final : public LineReader::LookAhead {
public:
    // The lines of a chunk scanned at most (more are short lines, each
    // costing here what a long one does), so that what a slot holds is
    // bounded; the rest are left to the main thread.
    static constexpr std::size_t max_lines = 8192;

    ScanAhead(std::string bare_topic, std::size_t max_depth);

    // The fields to scan for from now on (the rules in force), or, with
    // `on` false, nothing to scan: a calibration is applied on the main
    // thread alone (it is read again on SIGHUP).
    void configure(const std::vector<std::string> &fields, bool on);

    // A reading as RecordScanner::scan_message() and its accessors give it.
    struct Seen {
        RecordScanner::Origin from;
        std::string_view sensor;   // the payload's "sensor", or empty
        const FieldValue *values = nullptr;  // one per field configured
    };
    // The line `input` gave last, when it was scanned ahead as a reading (a
    // bare payload, or a message record whose payload is an object other
    // than the toolkit's own records) under the configuration in force.
    bool seen(const LineInput &input, Seen &out) const noexcept;

    // On the reading thread.
    void chunk(std::size_t slot, std::size_t lines) override;
    bool look(std::size_t slot, std::size_t index, std::string_view line) override;

private:
    struct Line {
        bool reading = false;
        RecordScanner::Origin from;
        std::string_view sensor;
    };
    struct Slot {
        std::uint64_t generation = 0;  // of the configuration its lines were scanned under
        std::vector<Line> lines;  // none while the scan is off
        std::vector<FieldValue> values;  // `width` per line
        std::size_t width = 0;
    };

    const std::string bare_topic_;
    const std::size_t max_depth_;
    std::array<Slot, slots> slots_;

    // The configuration: set on the main thread, taken by the reading
    // thread at its next chunk.
    std::mutex mutex_;
    std::vector<std::string> fields_;
    bool on_ = false;
    std::atomic<std::uint64_t> generation_{0};
    std::uint64_t main_generation_ = 0;  // the main thread's copy

    // The reading thread's.
    std::uint64_t scanning_ = 0;  // the generation scanner_ was made for
    std::unique_ptr<RecordScanner> scanner_;  // null while the scan is off
    std::size_t width_ = 0;
    std::string error_;
};

}  // namespace dht::rules
