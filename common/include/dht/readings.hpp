// What every tool that computes with readings does to a payload's fields
// before it uses them, in one place: calibration offsets (--calibration FILE)
// added to the fields they name, then the derived fields (dew_point,
// absolute_humidity) computed from the calibrated temperature and humidity.
// A payload that carries a field of a derived name keeps its own value. The
// record as it arrived is never changed here: a tool that stores or passes
// records on keeps them raw.
#pragma once

#include "dht/calibration.hpp"
#include "dht/derived.hpp"
#include "dht/record.hpp"

#include <optional>
#include <string>
#include <vector>

namespace dht {

class Readings {
public:
    // --calibration FILE: read now (Exit 66 unreadable, 78 a bad line).
    void load_calibration(const std::string &path);
    // Offsets already read (tests).
    void set_calibration(Calibration c) { calibration_ = std::move(c); }
    // SIGHUP: reads the file again; on an error (said on stderr) the offsets in force stay.
    void reload_calibration();
    // --derive FIELD: the tools that take every numeric field add this one.
    void derive(Derived d);

    const Calibration &calibration() const noexcept { return calibration_; }
    const std::vector<Derived> &derived() const noexcept { return derived_; }
    bool calibrates() const noexcept { return !calibration_.empty(); }
    bool active() const noexcept { return calibrates() || !derived_.empty(); }

    // A message's payload calibrated, with the derived fields asked for added
    // (those it lacks); true when a value was changed or added.
    bool apply(Message &m) const;

private:
    std::string path_;
    Calibration calibration_;
    std::vector<Derived> derived_;
};

// A payload's field calibrated: `value` plus the offset of a line matching the
// sensor and the field, if any.
inline double calibrated(const Calibration &c, std::string_view sensor, std::string_view field, double value)
{
    if (c.empty() || !c.calibrates(field))
        return value;
    const auto offset = c.offset(sensor, field);
    return offset ? value + *offset : value;
}

}  // namespace dht
