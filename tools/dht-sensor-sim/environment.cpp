#include "environment.hpp"

#include <algorithm>
#include <cmath>

namespace dht::sim {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr std::uint32_t kCycle = 120;  // readings per cold snap or humid spell without --count

// SplitMix64's finaliser: spreads nearby inputs over the whole range.
std::uint64_t mix(std::uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

}  // namespace

std::optional<Profile> parse_profile(std::string_view name)
{
    for (const auto p :
         {Profile::normal, Profile::cold, Profile::freeze, Profile::humid, Profile::flaky, Profile::dead, Profile::stuck})
        if (name == profile_name(p))
            return p;
    return std::nullopt;
}

const char *profile_name(Profile profile)
{
    switch (profile) {
    case Profile::normal: return "normal";
    case Profile::cold: return "cold";
    case Profile::freeze: return "freeze";
    case Profile::humid: return "humid";
    case Profile::flaky: return "flaky";
    case Profile::dead: return "dead";
    case Profile::stuck: return "stuck";
    }
    return "normal";
}

double Random::uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

double Random::normal()
{
    if (spare_) {
        const double v = *spare_;
        spare_.reset();
        return v;
    }
    double u = 0;
    while (u <= 0)
        u = uniform();
    const double v = uniform();
    const double r = std::sqrt(-2 * std::log(u));
    spare_ = r * std::sin(2 * kPi * v);
    return r * std::cos(2 * kPi * v);
}

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t sensor, std::uint64_t purpose)
{
    return mix(mix(mix(seed) ^ sensor) ^ purpose);
}

Environment::Environment(Profile profile, firmware::Model model, std::uint64_t seed, std::uint32_t horizon)
    : profile_(profile), model_(model), horizon_(horizon), values_(seed), signal_(mix(seed ^ 0x5157ULL))
{
    base_temperature_ = values_.uniform(19, 24);
    base_humidity_ = values_.uniform(40, 60);
    phase_ = values_.uniform(0, 2 * kPi);
    base_rssi_ = static_cast<int>(std::lround(signal_.uniform(-80, -45)));
    if (profile_ == Profile::dead) {
        const std::uint32_t n = horizon_ != 0 ? horizon_ : 10;
        death_after_ = n <= 2 ? 1 : 1 + static_cast<std::uint32_t>(values_.next() % (n - 1));
    }
}

double Environment::progress() const
{
    if (horizon_ >= 2)
        return std::min(1.0, static_cast<double>(step_) / (horizon_ - 1));
    if (horizon_ == 1)
        return 0;
    // 0 -> 1 -> 0 over a cycle.
    const double x = static_cast<double>(step_ % kCycle) / (kCycle / 2);
    return x <= 1 ? x : 2 - x;
}

float Environment::quantize(double value, double step) const
{
    return static_cast<float>(std::round(value / step) * step);
}

bool Environment::read(firmware::Reading &out)
{
    const double p = progress();
    const double wave = std::sin(2 * kPi * step_ / 100.0 + phase_);
    ++step_;
    double t = base_temperature_ + 1.5 * wave + 0.1 * values_.normal();
    double h = base_humidity_ + 4 * std::sin(2 * kPi * step_ / 100.0 + phase_ + 1) + 0.5 * values_.normal();
    switch (profile_) {
    case Profile::normal:
    case Profile::dead: break;
    case Profile::stuck:
        // A dying DHT11 that answers with the same reading for ever: its first.
        if (step_ > 1) {
            out = stuck_;
            return true;
        }
        break;
    case Profile::cold:
        // A cold snap: from 10 degrees through 5 and 0 down to -3.
        t = 3.5 + 6.5 * std::cos(kPi * p) + 0.05 * values_.normal();
        h = 70 + 12 * p + 0.5 * values_.normal();
        break;
    case Profile::freeze:
        // A freezer, or a winter night outside: always below zero.
        t = base_temperature_ - 29 + 2 * wave + 0.1 * values_.normal();
        h = 80 + 4 * wave + 0.5 * values_.normal();
        break;
    case Profile::humid:
        // A bathroom: humidity from 78 % up past 90 % to 95 %.
        t = 23 + wave + 0.1 * values_.normal();
        h = 78 + 17 * (1 - std::cos(kPi * p)) / 2 + 0.3 * values_.normal();
        break;
    case Profile::flaky: {
        // Spells where nothing answers, and otherwise one read in ten lost.
        bad_spell_ = bad_spell_ ? !values_.chance(0.15) : values_.chance(0.05);
        const bool fails = bad_spell_ || values_.chance(0.1);
        const double garbage = values_.uniform();
        if (fails) {
            if (garbage < 0.75)
                return false;  // no answer, or a checksum error: the library says NaN
            // A bit error the checksum missed: out of any sensor's range.
            out = garbage < 0.875 ? firmware::Reading{6553.5F, static_cast<float>(h)}
                                  : firmware::Reading{static_cast<float>(t), 255.0F};
            return true;
        }
        break;
    }
    }
    // What the sensor resolves: 0.1 degree; 0.1 % on a DHT22, 1 % on a DHT11.
    out.temperature = quantize(t, 0.1);
    out.humidity = quantize(std::clamp(h, 0.0, 100.0), model_ == firmware::Model::dht22 ? 0.1 : 1.0);
    stuck_ = out;
    return true;
}

int Environment::rssi()
{
    return std::clamp(base_rssi_ + static_cast<int>(std::lround(2 * signal_.normal())), -100, -20);
}

}  // namespace dht::sim
