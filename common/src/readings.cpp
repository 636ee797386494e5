#include "dht/readings.hpp"

#include "dht/diag.hpp"

#include <algorithm>
#include <cmath>

namespace dht {

void Readings::load_calibration(const std::string &path)
{
    path_ = path;
    calibration_ = Calibration::load(path);
}

void Readings::reload_calibration()
{
    if (path_.empty())
        return;
    try {
        calibration_ = Calibration::load(path_);
        const std::size_t n = calibration_.entries().size();
        warn(cat(path_, ": ", n, n == 1 ? " calibration line" : " calibration lines", " in force"));
    } catch (const Exit &) {
        warn(cat(path_, ": keeping the calibration in force"));  // what is wrong was said
    }
}

void Readings::derive(Derived d)
{
    if (std::find(derived_.begin(), derived_.end(), d) == derived_.end())
        derived_.push_back(d);
}

namespace {

// Adds `offset` to a numeric JSON value; an integer stays one when the offset
// is whole (so that a field keeps its type in InfluxDB).
void add_offset(json::value &v, double offset)
{
    const bool whole = std::trunc(offset) == offset;
    switch (v.kind()) {
    case json::kind::double_: v = v.get_double() + offset; break;
    case json::kind::int64:
        if (whole && std::abs(v.get_int64()) < (std::int64_t{1} << 53))
            v = v.get_int64() + static_cast<std::int64_t>(offset);
        else
            v = static_cast<double>(v.get_int64()) + offset;
        break;
    case json::kind::uint64: v = static_cast<double>(v.get_uint64()) + offset; break;
    default: break;
    }
}

}  // namespace

bool Readings::apply(Message &m) const
{
    if (!active())
        return false;
    auto *payload = m.payload.if_object();
    if (payload == nullptr || m.payload_base64)
        return false;
    bool changed = false;
    if (calibrates()) {
        std::string_view payload_sensor;
        if (const auto *s = payload->if_contains("sensor"))
            if (const auto *text = s->if_string())
                payload_sensor = *text;
        const std::string sensor(sensor_name(m.topic, payload_sensor));
        const auto &entries = calibration_.entries();
        for (std::size_t i = 0; i < entries.size(); ++i) {
            const std::string &field = entries[i].field;
            // Each field once: the first line naming it is where offset() starts.
            if (std::any_of(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(i),
                            [&](const auto &e) { return e.field == field; }))
                continue;
            // Found in the payload, which this function may change.
            auto *v = const_cast<json::value *>(find_field(m.payload, field));
            if (v == nullptr || !(v->is_double() || v->is_int64() || v->is_uint64()))
                continue;
            if (const auto offset = calibration_.offset(sensor, field)) {
                add_offset(*v, *offset);
                changed = true;
            }
        }
    }
    if (!derived_.empty()) {
        const auto t = numeric_field(m.payload, derived_from_temperature);
        const auto rh = numeric_field(m.payload, derived_from_humidity);
        for (const Derived d : derived_) {
            const auto name = derived_name(d);
            if (!t || !rh || payload->contains(name))
                continue;  // a payload's own field of that name stays
            if (const auto value = dht::derive(d, *t, *rh)) {
                payload->emplace(name, *value);
                changed = true;
            }
        }
    }
    return changed;
}

}  // namespace dht
