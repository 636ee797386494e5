#include "plot.hpp"

#include "dht/diag.hpp"
#include "dht/json.hpp"
#include "dht/text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

namespace dht::stats {

Plot::Plot(std::vector<std::string> fields, std::size_t max_points)
    : fields_(std::move(fields)), max_points_(std::max<std::size_t>(max_points, 16))
{
}

int Plot::field_index(std::string_view field) const noexcept
{
    for (std::size_t i = 0; i < fields_.size(); ++i)
        if (fields_[i] == field)
            return static_cast<int>(i);
    return -1;
}

void Plot::add_to(Series &s, std::int64_t t_ms, double value) const
{
    const auto key = [&](std::int64_t t) {
        const std::int64_t q = t / s.width_ms;
        return (t % s.width_ms < 0 ? q - 1 : q) * s.width_ms;
    };
    const std::int64_t k = key(t_ms);
    auto &b = s.buckets;
    auto it = b.end();
    if (b.empty() || b.back().start_ms < k) {
        b.push_back({k, value, value, 0, 0});
        it = b.end() - 1;
    } else {
        // In order (the usual case) this is the last bucket; late values find theirs.
        it = std::lower_bound(b.begin(), b.end(), k,
                              [](const Bucket &x, std::int64_t v) { return x.start_ms < v; });
        if (it == b.end() || it->start_ms != k)
            it = b.insert(it, {k, value, value, 0, 0});
    }
    it->min = std::min(it->min, value);
    it->max = std::max(it->max, value);
    it->sum += value;
    ++it->count;
    while (b.size() > max_points_) {
        // Twice as wide: neighbours that now share a start merge.
        s.width_ms *= 2;
        std::vector<Bucket> merged;
        merged.reserve(b.size() / 2 + 1);
        for (const Bucket &x : b) {
            const std::int64_t nk = key(x.start_ms);
            if (!merged.empty() && merged.back().start_ms == nk) {
                Bucket &m = merged.back();
                m.min = std::min(m.min, x.min);
                m.max = std::max(m.max, x.max);
                m.sum += x.sum;
                m.count += x.count;
            } else {
                merged.push_back(x);
                merged.back().start_ms = nk;
            }
        }
        b = std::move(merged);
    }
}

void Plot::add(std::string_view sensor, int field, TimePoint t, double value)
{
    if (field < 0 || static_cast<std::size_t>(field) >= fields_.size() || !std::isfinite(value))
        return;
    auto it = series_.find(sensor);
    if (it == series_.end()) {
        it = series_.emplace(std::string(sensor), std::vector<std::unique_ptr<Series>>(fields_.size())).first;
        order_.emplace_back(sensor);
    }
    auto &slot = it->second[static_cast<std::size_t>(field)];
    if (!slot) {
        slot = std::make_unique<Series>();
        slot->sensor = std::string(sensor);
        slot->field = field;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    add_to(*slot, ms, value);
}

std::vector<std::string> Plot::empty_fields() const
{
    std::vector<bool> drawn(fields_.size(), false);
    for (const auto &[name, v] : series_)
        for (std::size_t i = 0; i < v.size(); ++i)
            drawn[i] = drawn[i] || v[i] != nullptr;
    std::vector<std::string> empty;
    for (std::size_t i = 0; i < fields_.size(); ++i)
        if (!drawn[i])
            empty.push_back(fields_[i]);
    return empty;
}

std::string empty_field_warning(std::string_view field, std::vector<std::string> seen)
{
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    std::string text = cat("--plot-field '", printable(field), "': no reading has this field, its panel is empty");
    if (seen.empty())
        return text + " (no numeric field seen)";
    constexpr std::size_t listed = 10;
    text += " (fields seen: ";
    for (std::size_t i = 0; i < seen.size() && i < listed; ++i)
        text += cat(i > 0 ? ", " : "", printable(seen[i]));
    if (seen.size() > listed)
        text += cat(" and ", seen.size() - listed, " more");
    // The nearest, within 2 edits and not a whole rewrite of a short name.
    Nearest nearest(field, 3);
    for (const auto &name : seen)
        nearest.offer(name);
    if (!nearest.best().empty())
        text += cat("; did you mean '", printable(nearest.best()), "'?");
    return text + ")";
}

std::size_t Plot::points() const noexcept
{
    std::size_t n = 0;
    for (const auto &[name, v] : series_)
        for (const auto &s : v)
            if (s)
                n += s->buckets.size();
    return n;
}

namespace {

constexpr const char *palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};

std::string num(double v, int decimals = 1)
{
    char buf[64];
    const int n = std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return std::string(buf, static_cast<std::size_t>(std::max(n, 0)));
}

void xml_text(std::string &out, std::string_view s)
{
    for (const char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default:
            // Control characters are not allowed in XML 1.0.
            if (static_cast<unsigned char>(c) >= 0x20 || c == '\t')
                out += c;
        }
    }
}

// A "nice" step (1, 2 or 5 times a power of ten) giving about `ticks` intervals.
double nice_step(double range, int ticks)
{
    if (range <= 0)
        return 1;
    const double raw = range / ticks;
    const double mag = std::pow(10, std::floor(std::log10(raw)));
    const double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

std::string unit_of(std::string_view field)
{
    if (field == "temperature")
        return "°C";
    if (field == "humidity")
        return "%";
    return std::string();
}

std::string time_label(std::int64_t ms, std::int64_t step_ms)
{
    const std::time_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    if (step_ms >= 86400000)
        std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    else if (step_ms >= 60000)
        std::strftime(buf, sizeof buf, "%H:%M", &tm);
    else
        std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    std::string s = buf;
    if (step_ms < 86400000 && tm.tm_hour == 0 && tm.tm_min == 0 && tm.tm_sec == 0) {
        std::strftime(buf, sizeof buf, "%m-%d", &tm);
        s = buf;  // midnight: the date instead
    }
    return s;
}

}  // namespace

std::string Plot::svg() const
{
    constexpr double W = 1000, left = 70, right = 200, top = 50, panel_h = 230, gap = 60, bottom = 50;
    const double plot_w = W - left - right;
    const std::size_t panels = std::max<std::size_t>(fields_.size(), 1);
    const double H = top + static_cast<double>(panels) * panel_h + static_cast<double>(panels - 1) * gap + bottom;

    std::int64_t t0 = std::numeric_limits<std::int64_t>::max(), t1 = std::numeric_limits<std::int64_t>::min();
    for (const auto &[name, v] : series_)
        for (const auto &s : v)
            if (s && !s->buckets.empty()) {
                t0 = std::min(t0, s->buckets.front().start_ms);
                t1 = std::max(t1, s->buckets.back().start_ms + s->width_ms);
            }
    const bool empty = t0 > t1;
    if (empty) {
        t0 = 0;
        t1 = 1000;
    }
    if (t1 - t0 < 1000)
        t1 = t0 + 1000;
    const auto x_of = [&](double ms) { return left + (ms - static_cast<double>(t0)) / static_cast<double>(t1 - t0) * plot_w; };

    std::string out;
    out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W, 0) + "\" height=\"" + num(H, 0) +
           "\" viewBox=\"0 0 " + num(W, 0) + " " + num(H, 0) +
           "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
    out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    {
        std::string title;
        for (std::size_t i = 0; i < fields_.size(); ++i)
            title += (i == 0 ? "" : i + 1 == fields_.size() ? " and " : ", ") + fields_[i];
        out += "<text x=\"" + num(left, 0) + "\" y=\"28\" font-size=\"16\" font-weight=\"bold\">";
        xml_text(out, title);
        out += "</text>\n<text x=\"" + num(left + plot_w, 0) + "\" y=\"28\" text-anchor=\"end\" fill=\"#555\">";
        if (empty) {
            out += "no data";
        } else {
            std::string from, until;
            append_rfc3339(from, TimePoint(std::chrono::milliseconds(t0)));
            append_rfc3339(until, TimePoint(std::chrono::milliseconds(t1)));
            from[10] = until[10] = ' ';
            xml_text(out, from.substr(0, 16) + " – " + until.substr(0, 16) + " UTC");
        }
        out += "</text>\n";
    }

    // Time ticks, shared by the panels.
    static constexpr std::int64_t steps[] = {1000,     2000,     5000,     10000,     15000,     30000,
                                             60000,    120000,   300000,   600000,    900000,    1800000,
                                             3600000,  7200000,  10800000, 21600000,  43200000,  86400000,
                                             172800000, 604800000, 1209600000, 2592000000LL, 7776000000LL,
                                             31536000000LL};
    std::int64_t step = steps[std::size(steps) - 1];
    for (const auto s : steps)
        if ((t1 - t0) / s <= 8) {
            step = s;
            break;
        }

    for (std::size_t p = 0; p < panels; ++p) {
        const double py = top + static_cast<double>(p) * (panel_h + gap);
        const std::string field = p < fields_.size() ? fields_[p] : std::string();
        double lo = std::numeric_limits<double>::max(), hi = std::numeric_limits<double>::lowest();
        for (const auto &[name, v] : series_)
            if (p < v.size() && v[p])
                for (const auto &b : v[p]->buckets) {
                    lo = std::min(lo, b.min);
                    hi = std::max(hi, b.max);
                }
        if (lo > hi) {
            lo = 0;
            hi = 1;
        }
        if (hi - lo < 1e-9) {
            lo -= 1;
            hi += 1;
        }
        const double ystep = nice_step(hi - lo, 5);
        lo = std::floor(lo / ystep) * ystep;
        hi = std::ceil(hi / ystep) * ystep;
        const auto y_of = [&](double v) { return py + panel_h - (v - lo) / (hi - lo) * panel_h; };
        const int decimals = ystep >= 1 ? 0 : ystep >= 0.1 ? 1 : 2;

        out += "<g>\n<rect x=\"" + num(left, 0) + "\" y=\"" + num(py, 0) + "\" width=\"" + num(plot_w, 0) +
               "\" height=\"" + num(panel_h, 0) + "\" fill=\"#fbfbfb\" stroke=\"#999\"/>\n";
        for (double v = lo; v <= hi + ystep / 2; v += ystep) {
            const double y = y_of(v);
            out += "<line x1=\"" + num(left) + "\" x2=\"" + num(left + plot_w) + "\" y1=\"" + num(y) + "\" y2=\"" +
                   num(y) + "\" stroke=\"#e3e3e3\"/>\n";
            out += "<text x=\"" + num(left - 6) + "\" y=\"" + num(y + 4) + "\" text-anchor=\"end\">" +
                   num(std::abs(v) < ystep / 1000 ? 0.0 : v, decimals) + "</text>\n";
        }
        const std::int64_t first_tick = (t0 / step + (t0 % step > 0 ? 1 : 0)) * step;
        for (std::int64_t t = first_tick; t <= t1; t += step) {
            const double x = x_of(static_cast<double>(t));
            out += "<line x1=\"" + num(x) + "\" x2=\"" + num(x) + "\" y1=\"" + num(py) + "\" y2=\"" +
                   num(py + panel_h) + "\" stroke=\"#e3e3e3\"/>\n";
            out += "<text x=\"" + num(x) + "\" y=\"" + num(py + panel_h + 16) + "\" text-anchor=\"middle\">" +
                   time_label(t, step) + "</text>\n";
        }
        // The axis title: the field and its unit.
        const std::string unit = unit_of(field);
        out += "<text transform=\"translate(18," + num(py + panel_h / 2) + ") rotate(-90)\" text-anchor=\"middle\">";
        xml_text(out, unit.empty() ? field : field + " (" + unit + ")");
        out += "</text>\n";
        out += "<text x=\"" + num(left + plot_w / 2) + "\" y=\"" + num(py + panel_h + 34) +
               "\" text-anchor=\"middle\" fill=\"#555\">time (UTC)</text>\n";

        for (std::size_t k = 0; k < order_.size(); ++k) {
            const auto &v = series_.at(order_[k]);
            if (p >= v.size() || !v[p] || v[p]->buckets.empty())
                continue;
            const Series &s = *v[p];
            const char *color = palette[k % std::size(palette)];
            // A gap of more than a twentieth of the picture breaks the line.
            const double max_gap = std::max<double>(static_cast<double>(t1 - t0) / 20, 3.0 * static_cast<double>(s.width_ms));
            std::vector<std::pair<std::size_t, std::size_t>> runs;
            std::size_t start = 0;
            for (std::size_t i = 1; i <= s.buckets.size(); ++i)
                if (i == s.buckets.size() ||
                    static_cast<double>(s.buckets[i].start_ms - s.buckets[i - 1].start_ms) > max_gap) {
                    runs.emplace_back(start, i);
                    start = i;
                }
            const auto mid = [&](const Bucket &b) { return x_of(static_cast<double>(b.start_ms) + static_cast<double>(s.width_ms) / 2); };
            for (const auto &[a, e] : runs) {
                // The band from min to max, when buckets hold several readings.
                if (s.width_ms > 1000 && e - a > 1) {
                    out += "<polygon fill=\"" + std::string(color) + "\" fill-opacity=\"0.15\" stroke=\"none\" points=\"";
                    for (std::size_t i = a; i < e; ++i)
                        out += num(mid(s.buckets[i])) + "," + num(y_of(s.buckets[i].max)) + " ";
                    for (std::size_t i = e; i-- > a;)
                        out += num(mid(s.buckets[i])) + "," + num(y_of(s.buckets[i].min)) + " ";
                    out += "\"/>\n";
                }
                if (e - a == 1) {
                    out += "<circle cx=\"" + num(mid(s.buckets[a])) + "\" cy=\"" +
                           num(y_of(s.buckets[a].sum / s.buckets[a].count)) + "\" r=\"2\" fill=\"" + color + "\"/>\n";
                    continue;
                }
                out += "<polyline fill=\"none\" stroke=\"" + std::string(color) +
                       "\" stroke-width=\"1.6\" stroke-linejoin=\"round\" points=\"";
                for (std::size_t i = a; i < e; ++i)
                    out += num(mid(s.buckets[i])) + "," + num(y_of(s.buckets[i].sum / s.buckets[i].count)) + " ";
                out += "\"/>\n";
            }
        }
        out += "</g>\n";
    }

    // The legend: one entry per sensor, in order of appearance.
    const double lx = left + plot_w + 20;
    constexpr std::size_t legend_max = 24;
    out += "<text x=\"" + num(lx) + "\" y=\"" + num(top + 4) + "\" font-weight=\"bold\">sensors</text>\n";
    for (std::size_t k = 0; k < order_.size() && k < legend_max; ++k) {
        const double y = top + 22 + static_cast<double>(k) * 18;
        out += "<line x1=\"" + num(lx) + "\" x2=\"" + num(lx + 22) + "\" y1=\"" + num(y - 4) + "\" y2=\"" +
               num(y - 4) + "\" stroke=\"" + palette[k % std::size(palette)] + "\" stroke-width=\"3\"/>\n";
        out += "<text x=\"" + num(lx + 28) + "\" y=\"" + num(y) + "\">";
        std::string name = order_[k];
        if (name.size() > 24) {
            std::size_t cut = 23;  // not inside a UTF-8 sequence
            while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80)
                --cut;
            name = name.substr(0, cut) + "…";
        }
        xml_text(out, name);
        out += "</text>\n";
    }
    if (order_.size() > legend_max)
        out += "<text x=\"" + num(lx) + "\" y=\"" + num(top + 22 + legend_max * 18.0) + "\" fill=\"#555\">and " +
               std::to_string(order_.size() - legend_max) + " more</text>\n";
    out += "</svg>\n";
    return out;
}

}  // namespace dht::stats
