// The simulated sensors: what a DHT in a given room reads, step by step (one
// step per read), from a seed. The same seed gives the same readings on any
// machine: the random numbers and their distributions are written here, not
// taken from the standard library, whose distributions differ between
// implementations.
#pragma once

#include "dht_format.hpp"

#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace dht::sim {

enum class Profile : std::uint8_t { normal, cold, freeze, humid, flaky, dead, stuck };

std::optional<Profile> parse_profile(std::string_view name);
const char *profile_name(Profile profile);

// A stream of random numbers from std::mt19937_64, which the standard
// specifies exactly.
class Random {
public:
    explicit Random(std::uint64_t seed) : engine_(seed) {}
    std::uint64_t next() { return engine_(); }
    std::uint32_t next32() { return static_cast<std::uint32_t>(engine_() >> 32); }
    double uniform();  // [0, 1)
    double uniform(double low, double high) { return low + (high - low) * uniform(); }
    double normal();   // mean 0, standard deviation 1 (Box-Muller)
    bool chance(double p) { return uniform() < p; }

private:
    std::mt19937_64 engine_;
    std::optional<double> spare_;
};

// A seed of its own for each sensor and purpose, all from the run's seed.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t sensor, std::uint64_t purpose);

class Environment {
public:
    // `horizon`: the readings the run will take (--count), over which cold
    // falls and humid rises; 0 for a run without end, where they come and go
    // in cycles of 120 readings.
    Environment(Profile profile, firmware::Model model, std::uint64_t seed, std::uint32_t horizon);

    // The next read: false when the sensor does not answer. A flaky sensor
    // sometimes answers garbage outside its measuring range.
    bool read(firmware::Reading &out);
    // The WiFi signal, in dBm.
    int rssi();
    // The dead profile: the readings published before the device dies (0:
    // it does not).
    std::uint32_t death_after() const { return death_after_; }
    Profile profile() const { return profile_; }

private:
    // 0 at the first step, 1 at the last of the horizon; without one, a cycle.
    double progress() const;
    float quantize(double value, double step) const;

    Profile profile_;
    firmware::Model model_;
    std::uint32_t horizon_;
    Random values_;
    Random signal_;
    std::uint32_t step_ = 0;
    double base_temperature_, base_humidity_, phase_;
    int base_rssi_;
    bool bad_spell_ = false;  // flaky: a spell where every read fails
    firmware::Reading stuck_{};  // stuck: the first reading, repeated
    std::uint32_t death_after_ = 0;
};

}  // namespace dht::sim
