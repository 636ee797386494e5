#include "stats.hpp"

#include "dht/diag.hpp"
#include "dht/json.hpp"
#include "dht/record.hpp"
#include "dht/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

namespace dht::stats {

FieldStats &SensorStats::field(std::string_view path)
{
    if (const auto it = index_.find(path); it != index_.end())
        return fields[it->second];
    index_.emplace(std::string(path), fields.size());
    fields.push_back({std::string(path), Sketch(), 0});
    return fields.back();
}

SensorStats *Aggregate::sensor(std::string_view name)
{
    if (last_sensor_ != nullptr && last_sensor_->name == name)
        return last_sensor_;
    auto it = sensors_.find(name);
    if (it == sensors_.end()) {
        if (!cap_.admit(sensors_.size(), name))
            return nullptr;
        auto s = std::make_unique<SensorStats>();
        s->name = std::string(name);
        it = sensors_.emplace(s->name, std::move(s)).first;
    }
    last_sensor_ = it->second.get();
    return last_sensor_;
}

Aggregate::Taken Aggregate::message(std::string_view name, TimePoint time, const Number *numbers, std::size_t n)
{
    SensorStats *const sp = sensor(name);
    if (sp == nullptr)
        return Taken::none;
    SensorStats &s = *sp;
    ++received_;
    first_ = std::min(first_, time);
    last_ = std::max(last_, time);
    ++s.messages;
    s.last_seen = std::max(s.last_seen, time);
    Taken taken = Taken::all;
    for (std::size_t i = 0; i < n; ++i) {
        if (!std::isfinite(numbers[i].value))
            continue;
        // A sensor's payloads keep their shape: the i-th number is usually the i-th field.
        const bool same = i < s.fields.size() && s.fields[i].path == numbers[i].path;
        if (!same && s.fields.size() >= max_fields_ && !s.has(numbers[i].path)) {
            if (skipped_values_++ == 0)
                warn(cat("sensor ", quoted_name(s.name), " field ", quoted_name(numbers[i].path),
                         " skipped: the sensor has --max-fields ", max_fields_,
                         " fields already (said once; see --max-fields)"));
            taken = Taken::some;
            continue;
        }
        FieldStats &f = same ? s.fields[i] : s.field(numbers[i].path);
        f.sketch.add(numbers[i].value);
        if (time >= f.last_time) {
            f.last = numbers[i].value;
            f.last_time = time;
        }
    }
    return taken;
}

void Aggregate::merge(const Aggregate &o)
{
    received_ += o.received_;
    published_ += o.published_;
    errors_ += o.errors_;
    first_ = std::min(first_, o.first_);
    last_ = std::max(last_, o.last_);
    for (const auto &[name, os] : o.sensors_) {
        SensorStats *const sp = sensor(name);
        if (sp == nullptr)
            continue;
        SensorStats &s = *sp;
        s.messages += os->messages;
        s.last_seen = std::max(s.last_seen, os->last_seen);
        for (const auto &of : os->fields) {
            FieldStats &f = s.field(of.path);
            f.sketch.merge(of.sketch);
            if (of.last_time >= f.last_time) {
                f.last = of.last;
                f.last_time = of.last_time;
            }
        }
    }
}

void Aggregate::clear()
{
    sensors_.clear();
    last_sensor_ = nullptr;
    received_ = published_ = errors_ = 0;
    cap_ = SensorCap(cap_.max());
    skipped_values_ = forgotten_ = 0;
    first_ = TimePoint::max();
    last_ = TimePoint::min();
}

std::size_t Aggregate::expire(TimePoint before)
{
    std::size_t dropped = 0;
    for (auto it = sensors_.begin(); it != sensors_.end();) {
        if (it->second->last_seen < before) {
            if (last_sensor_ == it->second.get())
                last_sensor_ = nullptr;
            it = sensors_.erase(it);
            ++dropped;
        } else {
            ++it;
        }
    }
    forgotten_ += dropped;
    return dropped;
}

const SensorStats *Aggregate::find(std::string_view sensor) const
{
    const auto it = sensors_.find(sensor);
    return it != sensors_.end() ? it->second.get() : nullptr;
}

void Aggregate::summary() const
{
    cap_.summary();
    if (skipped_values_ > 0)
        warn(cat(skipped_values_, skipped_values_ == 1 ? " value" : " values",
                 " of fields beyond --max-fields ", max_fields_, " per sensor skipped"));
}

std::vector<const SensorStats *> Aggregate::sorted() const
{
    std::vector<const SensorStats *> v;
    v.reserve(sensors_.size());
    for (const auto &[name, s] : sensors_)
        v.push_back(s.get());
    std::sort(v.begin(), v.end(), [](const SensorStats *a, const SensorStats *b) { return a->name < b->name; });
    return v;
}

namespace {

std::vector<const FieldStats *> sorted_fields(const SensorStats &s)
{
    std::vector<const FieldStats *> v;
    for (const auto &f : s.fields)
        v.push_back(&f);
    std::sort(v.begin(), v.end(), [](const FieldStats *a, const FieldStats *b) { return a->path < b->path; });
    return v;
}

}  // namespace

void render_json(std::string &out, const Aggregate &a, const Report &r)
{
    const auto count = [](std::uint64_t n) { return static_cast<long long>(n); };
    ObjectWriter w(out);
    w.string("kind", "stats");
    time_member(w, "timestamp", r.timestamp);
    w.string("scope", r.scope);
    time_member(w, "from", r.from);
    time_member(w, "until", r.until);
    w.integer("total_received", count(a.received()))
        .integer("total_published", count(a.published_count()))
        .integer("errors", count(a.errors()));
    if (a.received() > 0)
        time_member(w, "last_message", a.last());
    else
        w.null("last_message");
    w.number("uptime_seconds", std::round(r.uptime_seconds * 1000) / 1000);
    if (r.calibrated)
        w.boolean("calibrated", true);
    ObjectWriter sensors(w.key("sensors").out());
    for (const SensorStats *s : a.sorted()) {
        ObjectWriter sensor(sensors.key(s->name).out());
        sensor.integer("messages", count(s->messages));
        time_member(sensor, "last_seen", s->last_seen);
        ObjectWriter fields(sensor.key("fields").out());
        for (const FieldStats *f : sorted_fields(*s)) {
            const Sketch &k = f->sketch;
            ObjectWriter field(fields.key(f->path).out());
            field.integer("count", count(k.count()));
            const std::pair<const char *, double> values[] = {
                {"min", k.min()},           {"max", k.max()},           {"mean", k.mean()},
                {"stddev", k.stddev()},     {"last", f->last},          {"p50", k.quantile(0.5)},
                {"p95", k.quantile(0.95)},  {"p99", k.quantile(0.99)}};
            for (const auto &[name, v] : values)
                field.number(name, v);
            time_member(field, "last_time", f->last_time);
            field.close();
        }
        fields.close();
        sensor.close();
    }
    sensors.close();
    w.close();
    out += '\n';
}

namespace {

std::string fixed(double v, int decimals)
{
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    if (n < 0 || n >= static_cast<int>(sizeof buf))  // 1e308 has 309 digits: in exponent form
        n = std::snprintf(buf, sizeof buf, "%.6g", v);
    std::string s(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
    if (s.starts_with('-') && s.find_first_not_of("0.", 1) == std::string::npos)
        s.erase(0, 1);  // -0.00
    return s;
}

}  // namespace

void render_table(std::string &out, const Aggregate &a, const Report &r, bool wide)
{
    out += r.scope == "window" ? "window " : "summary ";
    append_rfc3339(out, r.from);
    out += " .. ";
    append_rfc3339(out, r.until);
    out += '\n' + std::to_string(a.received()) + " received, " + std::to_string(a.published_count()) +
           " published, " + std::to_string(a.errors()) + " errors, uptime " + fixed(r.uptime_seconds, 0) + " s\n";
    // The columns of 80 characters, and with `wide` the others.
    static constexpr struct {
        const char *name;
        bool narrow;
    } columns[] = {{"SENSOR", true}, {"FIELD", true}, {"COUNT", true}, {"MIN", true},
                   {"MEAN", true},   {"MAX", true},   {"STDDEV", false}, {"P50", false},
                   {"P95", true},    {"P99", false},  {"LAST", true},    {"LAST SEEN", false}};
    constexpr std::size_t ncolumns = std::size(columns);
    std::vector<std::vector<std::string>> rows;
    rows.emplace_back();
    for (const auto &c : columns)
        rows.back().push_back(c.name);
    for (const SensorStats *s : a.sorted()) {
        std::string seen;
        append_rfc3339(seen, s->last_seen);
        if (s->fields.empty())
            rows.push_back({printable(s->name), "-", std::to_string(s->messages), "", "", "", "", "", "", "", "", seen});
        for (const FieldStats *f : sorted_fields(*s)) {
            const Sketch &k = f->sketch;
            // Values with the decimals the field's values have; a mean and a deviation one more.
            const int d = k.decimals();
            // Names come from the sensors: shown with control characters and bidi overrides escaped.
            rows.push_back({printable(s->name), printable(f->path), std::to_string(k.count()), fixed(k.min(), d),
                            fixed(k.mean(), d + 1), fixed(k.max(), d), fixed(k.stddev(), d + 1),
                            fixed(k.quantile(0.5), d), fixed(k.quantile(0.95), d), fixed(k.quantile(0.99), d),
                            fixed(f->last, d), seen});
        }
    }
    std::vector<std::size_t> shown;
    for (std::size_t i = 0; i < ncolumns; ++i)
        if (wide || columns[i].narrow)
            shown.push_back(i);
    std::vector<std::size_t> widths(ncolumns, 0);
    for (const auto &row : rows)
        for (std::size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], display_width(row[i]));
    for (const auto &row : rows) {
        std::string line;
        for (const std::size_t i : shown) {
            const std::size_t pad = widths[i] - display_width(row[i]);
            const bool left = i < 2 || i == ncolumns - 1;  // names and times left, numbers right
            if (i > 0)
                line += "  ";
            if (!left)
                line.append(pad, ' ');
            line += row[i];
            if (left)
                line.append(pad, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line;
        out += '\n';
    }
}

namespace {

void label_value(std::string &out, std::string_view v)
{
    for (const char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
}

void prom_number(std::string &out, double v)
{
    if (std::isnan(v))
        out += "NaN";
    else if (std::isinf(v))
        out += v > 0 ? "+Inf" : "-Inf";
    else
        append_number(out, v);
}

void header(std::string &out, std::string_view name, std::string_view type, std::string_view help)
{
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(std::string &out, std::string_view name, std::string_view sensor, std::string_view field,
            std::string_view quantile, double v)
{
    out += name;
    if (!sensor.empty() || !field.empty()) {
        out += "{sensor=\"";
        label_value(out, sensor);
        out += '"';
        if (!field.empty()) {
            out += ",field=\"";
            label_value(out, field);
            out += '"';
        }
        if (!quantile.empty()) {
            out += ",quantile=\"";
            out += quantile;
            out += '"';
        }
        out += '}';
    }
    out += ' ';
    prom_number(out, v);
    out += '\n';
}

double seconds(TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

}  // namespace

void render_prometheus(std::string &out, const Aggregate &a, const Report &r)
{
    const auto sensors = a.sorted();
    const auto per_sensor = [&](std::string_view name, std::string_view type, std::string_view help,
                                const std::function<bool(const SensorStats &, double &)> &value) {
        bool any = false;
        double v = 0;
        for (const SensorStats *s : sensors)
            any = any || value(*s, v);
        if (!any)
            return;
        header(out, name, type, help);
        for (const SensorStats *s : sensors)
            if (value(*s, v))
                sample(out, name, s->name, {}, {}, v);
    };
    const auto latest = [](std::string_view field) {
        return [field](const SensorStats &s, double &v) {
            for (const auto &f : s.fields)
                if (f.path == field && f.sketch.count() > 0) {
                    v = f.last;
                    return true;
                }
            return false;
        };
    };
    per_sensor("mqtt_messages_total", "counter", "Messages received, per sensor.", [](const SensorStats &s, double &v) {
        v = static_cast<double>(s.messages);
        return true;
    });
    per_sensor("mqtt_temperature_celsius", "gauge", "Latest temperature, per sensor.", latest("temperature"));
    per_sensor("mqtt_humidity_percent", "gauge", "Latest relative humidity, per sensor.", latest("humidity"));
    header(out, "dht_received_total", "counter", "Message records read.");
    sample(out, "dht_received_total", {}, {}, {}, static_cast<double>(a.received()));
    header(out, "dht_published_total", "counter", "Alert and incident records read (what the toolkit published).");
    sample(out, "dht_published_total", {}, {}, {}, static_cast<double>(a.published_count()));
    header(out, "dht_errors_total", "counter", "Bad input lines and payloads that are not JSON.");
    sample(out, "dht_errors_total", {}, {}, {}, static_cast<double>(a.errors()));
    header(out, "dht_records_skipped_total", "counter",
           "Message records skipped, by reason: max-sensors, from sensors beyond --max-sensors.");
    out += "dht_records_skipped_total{reason=\"max-sensors\"} ";
    prom_number(out, static_cast<double>(a.cap().refused()));
    out += '\n';
    header(out, "dht_values_skipped_total", "counter",
           "Field values skipped, by reason: max-fields, of fields beyond --max-fields per sensor.");
    out += "dht_values_skipped_total{reason=\"max-fields\"} ";
    prom_number(out, static_cast<double>(a.skipped_values()));
    out += '\n';
    header(out, "dht_sensors", "gauge", "Sensors tracked (at most --max-sensors).");
    sample(out, "dht_sensors", {}, {}, {}, static_cast<double>(a.sensors()));
    header(out, "dht_sensors_forgotten_total", "counter", "Sensors forgotten, silent longer than --forget-after.");
    sample(out, "dht_sensors_forgotten_total", {}, {}, {}, static_cast<double>(a.forgotten()));
    if (a.received() > 0) {
        header(out, "dht_last_message_timestamp_seconds", "gauge", "Time of the latest message, in Unix seconds.");
        sample(out, "dht_last_message_timestamp_seconds", {}, {}, {}, seconds(a.last()));
    }
    per_sensor("dht_sensor_last_seen_timestamp_seconds", "gauge", "Time of each sensor's latest message, in Unix seconds.",
               [](const SensorStats &s, double &v) {
                   v = seconds(s.last_seen);
                   return true;
               });
    header(out, "dht_uptime_seconds", "gauge", "Seconds since dht-stats started.");
    sample(out, "dht_uptime_seconds", {}, {}, {}, std::round(r.uptime_seconds * 1000) / 1000);

    bool any_field = false;
    for (const SensorStats *s : sensors)
        any_field = any_field || !s->fields.empty();
    if (!any_field)
        return;
    header(out, "dht_field", "summary", "Numeric payload fields, per sensor: quantiles, sum and count.");
    for (const SensorStats *s : sensors)
        for (const FieldStats *f : sorted_fields(*s)) {
            for (const auto &[q, label] : {std::pair{0.5, "0.5"}, std::pair{0.95, "0.95"}, std::pair{0.99, "0.99"}})
                sample(out, "dht_field", s->name, f->path, label, f->sketch.quantile(q));
            sample(out, "dht_field_sum", s->name, f->path, {}, f->sketch.sum());
            sample(out, "dht_field_count", s->name, f->path, {}, static_cast<double>(f->sketch.count()));
        }
    const std::pair<const char *, const char *> gauges[] = {{"dht_field_min", "Smallest value of each field."},
                                                            {"dht_field_max", "Largest value of each field."},
                                                            {"dht_field_last", "Latest value of each field."}};
    for (const auto &[name, help] : gauges) {
        header(out, name, "gauge", help);
        const std::string_view n = name;
        for (const SensorStats *s : sensors)
            for (const FieldStats *f : sorted_fields(*s))
                sample(out, name, s->name, f->path, {},
                       n == "dht_field_min" ? f->sketch.min() : n == "dht_field_max" ? f->sketch.max() : f->last);
    }
}

}  // namespace dht::stats
