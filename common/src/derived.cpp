#include "dht/derived.hpp"

#include <cmath>

namespace dht {

namespace {

bool in_range(double celsius, double rh) noexcept
{
    return std::isfinite(celsius) && std::isfinite(rh) && celsius >= magnus_min_celsius &&
           celsius <= magnus_max_celsius && rh > 0 && rh <= 100;
}

// ln(es(T)/e0): the exponent of the Magnus formula.
double magnus_exponent(double celsius) noexcept { return magnus_a * celsius / (magnus_b + celsius); }

}  // namespace

std::optional<double> dew_point(double celsius, double rh)
{
    if (!in_range(celsius, rh))
        return std::nullopt;
    // e = es(T) * rh/100 = es(Td): solve the Magnus formula for Td.
    const double gamma = std::log(rh / 100) + magnus_exponent(celsius);
    return magnus_b * gamma / (magnus_a - gamma);
}

std::optional<double> absolute_humidity(double celsius, double rh)
{
    if (!in_range(celsius, rh))
        return std::nullopt;
    constexpr double water_vapour_gas_constant = 461.5;  // J/(kg·K)
    const double vapour_hpa = magnus_e0 * std::exp(magnus_exponent(celsius)) * rh / 100;
    // hPa -> Pa (x100), kg -> g (x1000).
    return vapour_hpa * 100 * 1000 / (water_vapour_gas_constant * (celsius + 273.15));
}

std::optional<Derived> derived_field(std::string_view name) noexcept
{
    for (std::size_t i = 0; i < std::size(derived_names); ++i)
        if (derived_names[i] == name)
            return static_cast<Derived>(i);
    return std::nullopt;
}

std::optional<double> derive(Derived d, double celsius, double rh)
{
    const auto v = d == Derived::dew_point ? dew_point(celsius, rh) : absolute_humidity(celsius, rh);
    // Two decimals: the formula is good to about 0.1 °C, a DHT22 reads to 0.1.
    return v ? std::optional<double>(std::round(*v * 100) / 100) : std::nullopt;
}

}  // namespace dht
