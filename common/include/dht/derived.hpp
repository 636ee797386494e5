// Values derived from a reading's temperature (°C) and relative humidity (%):
// the dew point and the absolute humidity, by the Magnus formula over water
// with the constants of Sonntag (1990), as in the WMO's guide (WMO-No. 8):
// saturation vapour pressure es(T) = 6.112 hPa * exp(a*T/(b+T)), a = 17.62,
// b = 243.12 °C, valid over -45..60 °C (Alduchov and Eskridge, 1996, compare
// it with the other forms). Outside that range, or with a humidity outside
// (0, 100], there is no value: a missing field, never a wrong number.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dht {

inline constexpr double magnus_a = 17.62;
inline constexpr double magnus_b = 243.12;      // °C
inline constexpr double magnus_e0 = 6.112;      // hPa, es(0 °C)
inline constexpr double magnus_min_celsius = -45;
inline constexpr double magnus_max_celsius = 60;

// The dew point in °C; nullopt outside the range above.
std::optional<double> dew_point(double celsius, double relative_humidity);
// The mass of water vapour per volume of air, in g/m³ (ideal gas, Rv = 461.5
// J/(kg·K)); nullopt outside the range above.
std::optional<double> absolute_humidity(double celsius, double relative_humidity);

// The fields every tool can use by name, as if the payload carried them.
enum class Derived : std::uint8_t { dew_point, absolute_humidity };
inline constexpr std::string_view derived_names[] = {"dew_point", "absolute_humidity"};
// The fields they are derived from.
inline constexpr std::string_view derived_from_temperature = "temperature";
inline constexpr std::string_view derived_from_humidity = "humidity";

std::optional<Derived> derived_field(std::string_view name) noexcept;
constexpr std::string_view derived_name(Derived d) noexcept { return derived_names[static_cast<int>(d)]; }
// The field as a reading carries it: rounded to 0.01.
std::optional<double> derive(Derived d, double celsius, double relative_humidity);

}  // namespace dht
