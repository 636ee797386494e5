#include "dht/bounds.hpp"

#include "dht/diag.hpp"
#include "dht/text.hpp"

namespace dht {

void add_sensor_bounds_options(CLI::App &app, SensorBounds &bounds, const std::string &older)
{
    app.add_option("--max-sensors", bounds.max_sensors,
                   "Track at most N sensors; records from more are skipped and counted (default: 10000)")
        ->type_name("N")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}))
        ->group("Input");
    add_duration_option(app, "--forget-after" + older, bounds.forget_after,
                        "Forget sensors silent for DURATION (default: never)")
        ->group("Input");
}

bool SensorCap::admit(std::size_t known, std::string_view name)
{
    if (known < max_)
        return true;
    if (refused_++ == 0) {
        warn(cat("sensor ", quoted_name(name), " skipped: --max-sensors ", max_,
                 " sensors are tracked already (said once; see --max-sensors, --forget-after)"));
    }
    return false;
}

void SensorCap::summary() const
{
    if (refused_ > 0)
        warn(cat(refused_, refused_ == 1 ? " record" : " records", " from sensors beyond --max-sensors ", max_,
                 " skipped"));
}

}  // namespace dht
