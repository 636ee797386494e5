#include "ahead.hpp"

#include "dht/input.hpp"

#include <algorithm>

namespace dht::rules {

ScanAhead::ScanAhead(std::string bare_topic, std::size_t max_depth)
    : bare_topic_(std::move(bare_topic)), max_depth_(max_depth)
{
}

void ScanAhead::configure(const std::vector<std::string> &fields, bool on)
{
    std::lock_guard lock(mutex_);
    fields_ = fields;
    on_ = on;
    main_generation_ = generation_.load(std::memory_order_relaxed) + 1;
    generation_.store(main_generation_, std::memory_order_release);
}

bool ScanAhead::seen(const LineInput &input, Seen &out) const noexcept
{
    std::size_t slot, index;
    if (!input.looked(slot, index))
        return false;
    const Slot &s = slots_[slot];
    if (s.generation != main_generation_ || index >= s.lines.size() || !s.lines[index].reading)
        return false;
    const Line &l = s.lines[index];
    out.from = l.from;
    out.sensor = l.sensor;
    out.values = s.values.data() + index * s.width;
    return true;
}

void ScanAhead::chunk(std::size_t slot, std::size_t lines)
{
    Slot &s = slots_[slot];
    if (const auto g = generation_.load(std::memory_order_acquire); g != scanning_) {
        std::lock_guard lock(mutex_);
        scanning_ = generation_.load(std::memory_order_relaxed);
        width_ = fields_.size();
        scanner_ = on_ ? std::make_unique<RecordScanner>(fields_, max_depth_) : nullptr;
    }
    s.generation = scanning_;
    s.width = width_;
    const std::size_t n = scanner_ ? std::min(lines, max_lines) : 0;
    s.lines.assign(n, Line{});
    s.values.resize(n * width_);
}

bool ScanAhead::look(std::size_t slot, std::size_t index, std::string_view line)
{
    Slot &s = slots_[slot];
    if (index >= s.lines.size())
        return false;  // off, or past max_lines
    RecordScanner::Origin from;
    const auto kind = scanner_->scan_message(line, bare_topic_, from, error_);
    if ((kind != RecordScanner::Kind::bare && kind != RecordScanner::Kind::message) || !scanner_->views_text() ||
        !scanner_->payload_is_object() || scanner_->payload_is_record())
        return true;  // the main thread scans it again
    Line &l = s.lines[index];
    l.from = from;
    l.sensor = scanner_->sensor();
    std::copy_n(scanner_->values(), width_, s.values.begin() + static_cast<std::ptrdiff_t>(index * width_));
    l.reading = true;
    return true;
}

}  // namespace dht::rules
