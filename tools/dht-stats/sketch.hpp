// Streaming statistics in fixed memory: count, min, max, mean and standard
// deviation (Welford), and quantiles from a DDSketch (Masson, Rim and Lee,
// VLDB 2019): values fall in logarithmic buckets, so any quantile comes back
// within a relative error of `alpha` of a value of the right rank, whatever
// the number of values. Buckets are capped; past the cap the smallest
// magnitudes merge (accuracy is kept where the values are).
#pragma once

#include <cstdint>
#include <vector>

namespace dht::stats {

class Sketch {
public:
    explicit Sketch(double alpha = 0.005, std::size_t max_buckets = 2048);

    void add(double x);
    void merge(const Sketch &other);
    // The q-quantile (0 <= q <= 1), clamped to [min, max]; 0 when empty.
    double quantile(double q) const;

    std::uint64_t count() const noexcept { return count_; }
    double min() const noexcept { return min_; }
    double max() const noexcept { return max_; }
    double sum() const noexcept { return sum_; }
    double mean() const noexcept { return mean_; }
    // The population standard deviation.
    double stddev() const noexcept;
    std::size_t buckets() const noexcept { return positive_.counts.size() + negative_.counts.size(); }

private:
    // Counts for consecutive bucket indices starting at `offset`.
    struct Store {
        int offset = 0;
        std::vector<std::uint64_t> counts;
        void add(int index, std::uint64_t n, std::size_t max_buckets);
    };

    int index_of(double magnitude) const noexcept;
    double value_of(int index) const noexcept;

    double gamma_, log_gamma_;
    std::size_t max_buckets_;
    Store positive_, negative_;  // negative_ holds magnitudes of negative values
    std::uint64_t zeros_ = 0;
    std::uint64_t count_ = 0;
    double min_ = 0, max_ = 0, sum_ = 0, mean_ = 0, m2_ = 0;
};

}  // namespace dht::stats
