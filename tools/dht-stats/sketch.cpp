#include "sketch.hpp"

#include <algorithm>
#include <cmath>

namespace dht::stats {

namespace {
// Magnitudes below this count as zero (no bucket index for them).
constexpr double tiny = 1e-9;
}  // namespace

Sketch::Sketch(double alpha, std::size_t max_buckets)
    : gamma_((1 + alpha) / (1 - alpha)), log_gamma_(std::log(gamma_)), max_buckets_(max_buckets)
{
}

int Sketch::index_of(double magnitude) const noexcept
{
    return static_cast<int>(std::ceil(std::log(magnitude) / log_gamma_));
}

double Sketch::value_of(int index) const noexcept
{
    // The middle of (gamma^(i-1), gamma^i] in relative terms.
    return 2 * std::pow(gamma_, index) / (gamma_ + 1);
}

void Sketch::Store::add(int index, std::uint64_t n, std::size_t max_buckets)
{
    if (counts.empty()) {
        offset = index;
        counts.assign(1, 0);
    }
    if (index < offset) {
        // Grow downwards, unless that passes the cap: then the lowest bucket takes it.
        const std::size_t grow = static_cast<std::size_t>(offset - index);
        if (counts.size() + grow > max_buckets) {
            const std::size_t room = max_buckets > counts.size() ? max_buckets - counts.size() : 0;
            counts.insert(counts.begin(), room, 0);
            offset -= static_cast<int>(room);
            counts.front() += n;
            return;
        }
        counts.insert(counts.begin(), grow, 0);
        offset = index;
    } else if (index >= offset + static_cast<int>(counts.size())) {
        const std::size_t need = static_cast<std::size_t>(index - offset) + 1;
        if (need > max_buckets) {
            // Keep the top: merge the lowest buckets so that the new one fits.
            const std::size_t drop = need - max_buckets;
            const std::size_t merged = std::min(drop, counts.size());
            std::uint64_t low = 0;
            for (std::size_t i = 0; i < merged; ++i)
                low += counts[i];
            counts.erase(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(merged));
            offset += static_cast<int>(drop);
            if (counts.empty())
                counts.assign(1, 0);
            counts.front() += low;
        }
        counts.resize(static_cast<std::size_t>(index - offset) + 1, 0);
    }
    counts[static_cast<std::size_t>(index - offset)] += n;
}

void Sketch::add(double x)
{
    if (!std::isfinite(x))
        return;
    ++count_;
    if (count_ == 1) {
        min_ = max_ = x;
    } else {
        min_ = std::min(min_, x);
        max_ = std::max(max_, x);
    }
    sum_ += x;
    const double delta = x - mean_;
    mean_ += delta / static_cast<double>(count_);
    m2_ += delta * (x - mean_);
    if (x > tiny)
        positive_.add(index_of(x), 1, max_buckets_);
    else if (x < -tiny)
        negative_.add(index_of(-x), 1, max_buckets_);
    else
        ++zeros_;
}

void Sketch::merge(const Sketch &o)
{
    if (o.count_ == 0)
        return;
    if (count_ == 0) {
        min_ = o.min_;
        max_ = o.max_;
    } else {
        min_ = std::min(min_, o.min_);
        max_ = std::max(max_, o.max_);
    }
    // Chan et al.'s pairwise update of the mean and the sum of squares.
    const double n = static_cast<double>(count_), m = static_cast<double>(o.count_);
    const double delta = o.mean_ - mean_;
    mean_ += delta * m / (n + m);
    m2_ += o.m2_ + delta * delta * n * m / (n + m);
    count_ += o.count_;
    sum_ += o.sum_;
    zeros_ += o.zeros_;
    for (std::size_t i = 0; i < o.positive_.counts.size(); ++i)
        if (o.positive_.counts[i] > 0)
            positive_.add(o.positive_.offset + static_cast<int>(i), o.positive_.counts[i], max_buckets_);
    for (std::size_t i = 0; i < o.negative_.counts.size(); ++i)
        if (o.negative_.counts[i] > 0)
            negative_.add(o.negative_.offset + static_cast<int>(i), o.negative_.counts[i], max_buckets_);
}

double Sketch::stddev() const noexcept
{
    return count_ > 0 ? std::sqrt(std::max(0.0, m2_ / static_cast<double>(count_))) : 0;
}

double Sketch::quantile(double q) const
{
    if (count_ == 0)
        return 0;
    q = std::clamp(q, 0.0, 1.0);
    // The rank of the value wanted, 0-based, as in the nearest-rank method on (n - 1).
    const double rank = q * static_cast<double>(count_ - 1);
    double seen = 0;
    double result = 0;
    bool found = false;
    // Negative values first, the largest magnitude (the lowest value) first.
    for (std::size_t i = negative_.counts.size(); i-- > 0 && !found;) {
        seen += static_cast<double>(negative_.counts[i]);
        if (seen > rank) {
            result = -value_of(negative_.offset + static_cast<int>(i));
            found = true;
        }
    }
    if (!found) {
        seen += static_cast<double>(zeros_);
        if (seen > rank) {
            result = 0;
            found = true;
        }
    }
    for (std::size_t i = 0; i < positive_.counts.size() && !found; ++i) {
        seen += static_cast<double>(positive_.counts[i]);
        if (seen > rank) {
            result = value_of(positive_.offset + static_cast<int>(i));
            found = true;
        }
    }
    if (!found)
        result = max_;
    return std::clamp(result, min_, max_);
}

}  // namespace dht::stats
