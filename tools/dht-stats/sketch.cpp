#include "sketch.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

namespace dht::stats {

namespace {
// Magnitudes below this count as zero (no bucket index for them).
constexpr double tiny = 1e-9;

constexpr int max_decimals = 6;
constexpr double powers_of_ten[max_decimals + 1] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
// Past this, a double has no decimals left to round.
constexpr double whole_beyond = 1e15;

// Whether `x` has at most `decimals` decimals, to the precision of a double
// read from decimal text (65.3 is 65.299999999999997).
bool has_decimals(double x, int decimals) noexcept
{
    const double scaled = std::fabs(x) * powers_of_ten[decimals];
    return scaled >= whole_beyond || std::fabs(scaled - std::round(scaled)) <= 1e-9 * std::max(1.0, scaled);
}

double round_to(double x, int decimals) noexcept
{
    const double scaled = x * powers_of_ten[decimals];
    return std::fabs(scaled) >= whole_beyond ? x : std::round(scaled) / powers_of_ten[decimals];
}
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

// Adds `n` to the last bin of `index`, or to new ones after it.
void Sketch::Store::put(int index, std::uint64_t n)
{
    constexpr std::uint64_t full = std::numeric_limits<std::uint32_t>::max();
    if (n == 0 || add_to_last(index, n))
        return;
    auto it = std::upper_bound(bins.begin(), bins.end(), index, [](int i, const Bin &b) { return i < b.index; });
    if (it != bins.begin() && std::prev(it)->index == index) {
        Bin &b = *std::prev(it);
        const std::uint64_t take = std::min(n, full - b.count);
        b.count += static_cast<std::uint32_t>(take);
        n -= take;
    }
    while (n > 0) {
        const std::uint64_t take = std::min(n, full);
        it = std::next(bins.insert(it, Bin{index, static_cast<std::uint32_t>(take)}));
        n -= take;
    }
    last = static_cast<std::size_t>(std::prev(it) - bins.begin());
}

void Sketch::Store::add(int index, std::uint64_t n, std::size_t max_buckets)
{
    const int span = static_cast<int>(std::min<std::size_t>(max_buckets, 1u << 30));
    if (!bins.empty() && index > bins.back().index && bins.front().index <= index - span) {
        // A new highest bucket: the ones that fall out of the cap merge into the lowest kept.
        const int low = index - span + 1;
        std::uint64_t merged = 0;
        auto it = bins.begin();
        for (; it != bins.end() && it->index < low; ++it)
            merged += it->count;
        bins.erase(bins.begin(), it);
        put(low, merged);
    }
    if (!bins.empty())
        index = std::max(index, bins.back().index - span + 1);  // below the cap: the lowest bucket
    put(index, n);
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
    // Readings repeat: a value equal to the one before has its decimals
    // counted already and its bucket known (equal doubles differ only as 0
    // and -0, both zeros here).
    if (x != repeat_.value) {
        while (decimals_ < max_decimals && !has_decimals(x, decimals_))
            ++decimals_;
        repeat_ = {x, x > tiny ? index_of(x) : x < -tiny ? index_of(-x) : 0};
    }
    if (x > tiny || x < -tiny) {
        Store &store = x > tiny ? positive_ : negative_;
        if (!store.add_to_last(repeat_.index, 1))
            store.add(repeat_.index, 1, max_buckets_);
    } else {
        ++zeros_;
    }
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
    decimals_ = std::max(decimals_, o.decimals_);
    repeat_ = {};  // its decimals may have changed
    for (const auto &b : o.positive_.bins)
        positive_.add(b.index, b.count, max_buckets_);
    for (const auto &b : o.negative_.bins)
        negative_.add(b.index, b.count, max_buckets_);
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
    for (auto b = negative_.bins.rbegin(); b != negative_.bins.rend() && !found; ++b) {
        seen += static_cast<double>(b->count);
        if (seen > rank) {
            result = -value_of(b->index);
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
    for (auto b = positive_.bins.begin(); b != positive_.bins.end() && !found; ++b) {
        seen += static_cast<double>(b->count);
        if (seen > rank) {
            result = value_of(b->index);
            found = true;
        }
    }
    if (!found)
        result = max_;
    return std::clamp(round_to(result, decimals_), min_, max_);
}

}  // namespace dht::stats
