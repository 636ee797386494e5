// Streaming statistics in fixed memory: count, min, max, mean and standard
// deviation (Welford), and quantiles from a DDSketch (Masson, Rim and Lee,
// VLDB 2019): values fall in logarithmic buckets, so any quantile comes back
// within a relative error of `alpha` of a value of the right rank, whatever
// the number of values. Buckets are capped; past the cap the smallest
// magnitudes merge (accuracy is kept where the values are). Only the buckets
// that hold values take memory, 8 bytes each: a field with a few values costs
// a few buckets, whatever their spread.
//
// Quantiles are rounded to the decimals the values have (at most 6): a
// quantile of whole numbers is a whole number, as a value of that rank is,
// and is then within alpha of it plus half a unit of the last decimal.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace dht::stats {

class Sketch {
public:
    explicit Sketch(double alpha = 0.005, std::size_t max_buckets = 2048);

    void add(double x);
    void merge(const Sketch &other);
    // The q-quantile (0 <= q <= 1), rounded to decimals() and clamped to
    // [min, max]; 0 when empty.
    double quantile(double q) const;
    // The decimals of the value that has the most, up to 6: 0 for whole
    // numbers, 1 for 65.3 (or 65.30).
    int decimals() const noexcept { return decimals_; }

    std::uint64_t count() const noexcept { return count_; }
    double min() const noexcept { return min_; }
    double max() const noexcept { return max_; }
    double sum() const noexcept { return sum_; }
    double mean() const noexcept { return mean_; }
    // The population standard deviation.
    double stddev() const noexcept;
    // The buckets held, each 8 bytes (the memory the sketch grows by).
    std::size_t buckets() const noexcept { return positive_.bins.size() + negative_.bins.size(); }

private:
    // The buckets that hold values, by increasing index, within the
    // `max_buckets` indices below the highest; a count past 2^32 - 1 goes on
    // in a second bin of the same index.
    struct Store {
        struct Bin {
            int index;
            std::uint32_t count;
        };
        std::vector<Bin> bins;
        std::size_t last = 0;  // the bin added to last
        void add(int index, std::uint64_t n, std::size_t max_buckets);
        // Readings drift: most fall in the bucket of the value before. Adds
        // `n` to the bin added to last when it has `index`, is the last of
        // that index and has room: what add() would do, as every bin is
        // within `max_buckets` of the highest.
        bool add_to_last(int index, std::uint64_t n) noexcept
        {
            if (last >= bins.size() || bins[last].index != index ||
                n > std::numeric_limits<std::uint32_t>::max() - bins[last].count ||
                (last + 1 < bins.size() && bins[last + 1].index == index))
                return false;
            bins[last].count += static_cast<std::uint32_t>(n);
            return true;
        }

    private:
        void put(int index, std::uint64_t n);
    };

    int index_of(double magnitude) const noexcept;
    double value_of(int index) const noexcept;

    double gamma_, log_gamma_;
    std::size_t max_buckets_;
    Store positive_, negative_;  // negative_ holds magnitudes of negative values
    std::uint64_t zeros_ = 0;
    std::uint64_t count_ = 0;
    int decimals_ = 0;
    // The value added last and its bucket index, while decimals_ is what it
    // made it (NaN: none).
    struct {
        double value = std::numeric_limits<double>::quiet_NaN();
        int index = 0;
    } repeat_;
    double min_ = 0, max_ = 0, sum_ = 0, mean_ = 0, m2_ = 0;
};

}  // namespace dht::stats
