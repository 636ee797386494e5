#include "plot.hpp"
#include "sketch.hpp"
#include "stats.hpp"

#include "dht/json.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>

using namespace dht;
using namespace dht::stats;
using namespace std::chrono_literals;

namespace {

// The value of 0-based rank floor(q (n - 1)) in sorted data: what the sketch approximates.
double exact_quantile(std::vector<double> v, double q)
{
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(std::floor(q * static_cast<double>(v.size() - 1)))];
}

}  // namespace

TEST_CASE("sketch: quantiles within the relative accuracy, moments exact", "[stats]")
{
    std::mt19937 rng(42);
    std::normal_distribution<double> temperature(21.5, 3);
    std::vector<double> values;
    Sketch s(0.005);
    for (int i = 0; i < 100000; ++i) {
        // Values on both sides of zero, and exact zeros.
        const double v = i % 1000 == 0 ? 0.0 : temperature(rng) - (i % 3 == 0 ? 25 : 0);
        values.push_back(v);
        s.add(v);
    }
    for (const double q : {0.0, 0.01, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0}) {
        const double want = exact_quantile(values, q);
        INFO("q = " << q << ", exact " << want << ", sketch " << s.quantile(q));
        // Rounded to the values' decimals (6 here): half a millionth more.
        CHECK(std::abs(s.quantile(q) - want) <= 0.005 * std::abs(want) + 5e-7 + 1e-12);
    }
    double sum = 0;
    for (const double v : values)
        sum += v;
    const double mean = sum / static_cast<double>(values.size());
    double ss = 0;
    for (const double v : values)
        ss += (v - mean) * (v - mean);
    CHECK(s.count() == values.size());
    CHECK(s.mean() == Approx(mean).epsilon(1e-12));
    CHECK(s.stddev() == Approx(std::sqrt(ss / static_cast<double>(values.size()))).epsilon(1e-9));
    CHECK(s.min() == *std::min_element(values.begin(), values.end()));
    CHECK(s.max() == *std::max_element(values.begin(), values.end()));
    CHECK(s.buckets() <= 2 * 2048);  // memory bounded by the cap, not by the number of values
}

TEST_CASE("sketch: quantiles have the decimals of the values", "[stats]")
{
    Sketch whole;  // humidity from a DHT11: whole numbers
    for (const int h : {47, 48, 49, 49, 50, 51, 49, 48})
        whole.add(h);
    CHECK(whole.decimals() == 0);
    CHECK(whole.quantile(0.5) == 49);
    for (const double q : {0.0, 0.25, 0.5, 0.95, 0.99, 1.0})
        CHECK(whole.quantile(q) == std::round(whole.quantile(q)));

    Sketch tenths;  // a DHT22 as the firmware writes it: 65.30
    for (const double h : {65.3, 65.30, 61.2, 70.0, 64.9})
        tenths.add(h);
    CHECK(tenths.decimals() == 1);
    const double median = tenths.quantile(0.5);  // 65.3, within 0.5 % and half a tenth
    CHECK(std::abs(median - 65.3) <= 0.005 * 65.3 + 0.05);
    CHECK(std::abs(median * 10 - std::round(median * 10)) < 1e-9);

    Sketch mixed;
    mixed.add(20);
    mixed.add(-20.25);
    CHECK(mixed.decimals() == 2);
    mixed.add(0.123456789);
    CHECK(mixed.decimals() == 6);  // at most 6
    mixed.add(1e300);
    CHECK(mixed.decimals() == 6);

    whole.merge(tenths);
    CHECK(whole.decimals() == 1);  // the most decimals of either
    Sketch huge;
    huge.add(1e300);
    huge.add(-1e300);
    CHECK(huge.decimals() == 0);
    CHECK(huge.quantile(1.0) == Approx(1e300).epsilon(0.005));  // no rounding past a double's decimals
    CHECK(huge.quantile(0.0) == Approx(-1e300).epsilon(0.005));
}

TEST_CASE("sketch: merging two halves gives the sketch of the whole", "[stats]")
{
    Sketch a, b, whole;
    for (int i = 0; i < 5000; ++i) {
        const double v = 15 + (i * 7919 % 1000) / 50.0;
        (i % 2 == 0 ? a : b).add(v);
        whole.add(v);
    }
    a.merge(b);
    CHECK(a.count() == whole.count());
    CHECK(a.mean() == Approx(whole.mean()));
    CHECK(a.stddev() == Approx(whole.stddev()));
    for (const double q : {0.5, 0.95, 0.99})
        CHECK(a.quantile(q) == whole.quantile(q));
}

TEST_CASE("sketch: a bucket cap keeps the top accurate", "[stats]")
{
    Sketch s(0.01, 64);
    for (int i = 1; i <= 100000; ++i)
        s.add(i * 1e-3);  // 0.001 .. 100: far more than 64 buckets
    CHECK(s.buckets() <= 64);
    CHECK(s.quantile(0.99) == Approx(99.0).epsilon(0.01));
    CHECK(s.quantile(0.5) == Approx(50.0).epsilon(0.01));
    Sketch empty;
    CHECK(empty.quantile(0.5) == 0);
    empty.add(std::nan(""));
    CHECK(empty.count() == 0);
}

TEST_CASE("sketch: memory grows with the buckets that hold values, not with their spread", "[stats]")
{
    Sketch s;
    for (const double v : {1e-3, -1e-3, 1e5, -1e5})  // far apart: a dense array would span 2 x 1850 buckets
        s.add(v);
    CHECK(s.buckets() == 4);
    CHECK(s.quantile(0) == -1e5);
    CHECK(s.quantile(1) == 1e5);
    CHECK(s.quantile(0.5) == Approx(-1e-3).epsilon(0.005));
    // Within the cap, the highest bucket's neighbours below it all kept.
    // Past the cap, the lowest buckets merge and the top stays accurate.
    Sketch wide(0.01, 100);
    const double gamma = 1.01 / 0.99;
    for (int i = 1; i <= 1000; ++i)
        wide.add(std::pow(gamma, i - 0.5));  // the middle of bucket i: 1000 buckets
    CHECK(wide.buckets() == 100);
    CHECK(wide.quantile(0.99) == Approx(std::pow(gamma, 989.5)).epsilon(0.01));
    CHECK(wide.quantile(0.5) < std::pow(gamma, 901));  // buckets 1 to 901 merged into 901
}

TEST_CASE("sketch: a bucket's count past 2^32 stays exact", "[stats]")
{
    Sketch s;
    s.add(1);
    s.add(1);
    s.add(100);
    for (int i = 0; i < 33; ++i) {  // 2^34 ones and 2^33 hundreds
        const Sketch half = s;
        s.merge(half);
    }
    CHECK(s.count() == 3ull << 33);
    CHECK(s.buckets() == 5 + 3);  // 2^34 in five bins of at most 2^32 - 1, 2^33 in three
    CHECK(s.quantile(0.5) == Approx(1).epsilon(0.005));
    CHECK(s.quantile(0.7) == Approx(100).epsilon(0.005));
}

TEST_CASE("aggregate: --max-sensors and --max-fields bound what is kept; forgotten sensors make room", "[stats]")
{
    Aggregate a(Limits{2, 3});
    const TimePoint t0 = *parse_rfc3339("2026-11-24T10:00:00Z");
    const std::vector<Number> five{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}, {"e", 5}};
    CHECK(a.message("x", t0, five.data(), 2) == Aggregate::Taken::all);
    CHECK(a.message("y", t0, five.data(), 1) == Aggregate::Taken::all);
    CHECK(a.message("z", t0 + 1s, five.data(), 1) == Aggregate::Taken::none);  // a third sensor
    CHECK(a.message("z", t0 + 1s, five.data(), 1) == Aggregate::Taken::none);
    CHECK(a.sensors() == 2);
    CHECK(a.cap().refused() == 2);
    CHECK(a.received() == 2);
    // A known sensor is still served: its first three fields kept, the others skipped.
    CHECK(a.message("x", t0 + 2s, five.data(), five.size()) == Aggregate::Taken::some);
    const SensorStats *x = a.find("x");
    REQUIRE(x != nullptr);
    CHECK(x->fields.size() == 3);
    CHECK(x->has("c"));
    CHECK_FALSE(x->has("d"));
    CHECK(a.skipped_values() == 2);
    const std::vector<Number> later{{"e", 5}, {"a", 7}};  // a known field after an unknown one
    CHECK(a.message("x", t0 + 3s, later.data(), later.size()) == Aggregate::Taken::some);
    CHECK(x->fields[0].last == 7);
    CHECK(a.skipped_values() == 3);

    std::string prom;
    render_prometheus(prom, a, {"summary", t0, t0, t0 + 3s, 1});
    for (const char *line : {"dht_records_skipped_total{reason=\"max-sensors\"} 2\n",
                             "dht_values_skipped_total{reason=\"max-fields\"} 3\n", "dht_sensors 2\n",
                             "dht_sensors_forgotten_total 0\n"})
        CHECK_THAT(prom, Catch::Contains(line));

    // y, silent since t0, is forgotten: z takes its place.
    CHECK(a.expire(t0 + 1s) == 1);
    CHECK(a.forgotten() == 1);
    CHECK(a.message("z", t0 + 4s, five.data(), 1) == Aggregate::Taken::all);
    CHECK(a.find("y") == nullptr);
    CHECK(a.sensors() == 2);
    prom.clear();
    render_prometheus(prom, a, {"summary", t0, t0, t0 + 4s, 1});
    CHECK_THAT(prom, Catch::Contains("dht_sensors_forgotten_total 1\n"));
}

TEST_CASE("aggregate: per sensor and field, and what a report shows", "[stats]")
{
    Aggregate a;
    const TimePoint t0 = *parse_rfc3339("2026-11-24T10:00:00Z");
    const std::vector<Number> n1{{"temperature", 20}, {"humidity", 50}};
    const std::vector<Number> n2{{"humidity", 60}, {"temperature", 22}};  // another order
    a.message("kit\"chen", t0, n1.data(), n1.size());
    a.message("kit\"chen", t0 + 1s, n2.data(), n2.size());
    a.message("cellar", t0 + 2s, nullptr, 0);
    a.error();
    a.published();
    REQUIRE(a.sensors() == 2);
    const auto sorted = a.sorted();
    CHECK(sorted[0]->name == "cellar");
    REQUIRE(sorted[1]->fields.size() == 2);
    CHECK(sorted[1]->fields[0].sketch.count() == 2);
    CHECK(sorted[1]->fields[0].last == 22);

    std::string json_text;
    render_json(json_text, a, {"summary", t0, t0, t0 + 2s, 1.5});
    const auto v = json::parse(json_text);
    CHECK(v.at("total_received").as_int64() == 3);
    CHECK(v.at("errors").as_int64() == 1);
    CHECK(v.at("total_published").as_int64() == 1);
    CHECK(v.at("sensors").at("kit\"chen").at("fields").at("temperature").at("mean").to_number<double>() == 21);

    std::string prom;
    render_prometheus(prom, a, {"summary", t0, t0, t0 + 2s, 1.5});
    CHECK_THAT(prom, Catch::Contains("mqtt_temperature_celsius{sensor=\"kit\\\"chen\"} 22\n"));
    CHECK_THAT(prom, Catch::Contains("mqtt_messages_total{sensor=\"cellar\"} 1\n"));
    CHECK_THAT(prom, Catch::Contains("dht_field{sensor=\"kit\\\"chen\",field=\"humidity\",quantile=\"0.5\"} 50"));
    CHECK_THAT(prom, Catch::Contains("# TYPE dht_field summary\n"));

    std::string table;
    render_table(table, a, {"summary", t0, t0, t0 + 2s, 1.5}, false);
    CHECK_THAT(table, Catch::Contains("3 received, 1 published, 1 errors"));

    CHECK(a.expire(t0 + 1500ms) == 1);  // kit"chen, last seen at t0 + 1 s
    CHECK(a.sensors() == 1);
}

TEST_CASE("plot: downsampled in fixed memory, min and max kept, names escaped", "[stats]")
{
    Plot p({"temperature", "humidity"}, 100);
    const TimePoint t0 = *parse_rfc3339("2026-01-01T00:00:00Z");
    for (int i = 0; i < 100000; ++i)
        p.add("a<b>&c", 0, t0 + std::chrono::seconds(i * 30), i == 50000 ? -40.0 : 20.0 + (i % 10));
    CHECK(p.points() <= 100);
    CHECK(p.field_index("humidity") == 1);
    CHECK(p.field_index("pressure") == -1);
    const std::string svg = p.svg();
    CHECK_THAT(svg, Catch::Contains("a&lt;b&gt;&amp;c"));
    CHECK_THAT(svg, Catch::Contains("temperature (°C)"));
    CHECK_THAT(svg, Catch::Contains(">-40<"));  // the one cold reading still sets the axis
    CHECK_THAT(svg, Catch::StartsWith("<?xml"));
}

TEST_CASE("aggregate: a sensor's fields found by path, kept in the order first seen", "[stats]")
{
    SensorStats s;
    FieldStats &b = s.field("b");
    b.last = 1;
    s.field("a").last = 2;
    CHECK(&s.field("b") == &s.fields[0]);
    CHECK(s.field("a").last == 2);
    // Many fields, added in one order and met again in another: each found once.
    const std::size_t n = 20000;
    std::vector<std::string> paths;
    for (std::size_t i = 0; i < n; ++i)
        paths.push_back("f" + std::to_string(i));
    std::vector<Number> first, again;
    for (const auto &p : paths)
        first.push_back({p, 1});
    again = first;
    std::mt19937 random(7);
    std::shuffle(again.begin(), again.end(), random);
    Aggregate a;
    const TimePoint t0 = *parse_rfc3339("2026-11-24T10:00:00Z");
    a.message("x", t0, first.data(), first.size());
    a.message("x", t0 + 1s, again.data(), again.size());
    const SensorStats &x = *a.sorted()[0];
    REQUIRE(x.fields.size() == n);
    CHECK(x.fields[0].path == "f0");
    CHECK(x.fields[n - 1].path == paths[n - 1]);
    CHECK(std::all_of(x.fields.begin(), x.fields.end(), [](const FieldStats &f) { return f.sketch.count() == 2; }));

    Aggregate merged;
    merged.merge(a);
    merged.merge(a);
    REQUIRE(merged.sorted()[0]->fields.size() == n);
    CHECK(merged.sorted()[0]->fields[n / 2].sketch.count() == 4);
}

TEST_CASE("table: 80 columns with the usual names, every column with wide; values with their decimals",
          "[stats]")
{
    Aggregate a;
    const TimePoint t0 = *parse_rfc3339("2026-11-24T10:00:00Z");
    for (int i = 0; i < 1440; ++i) {
        const std::vector<Number> n{{"temperature", -12.5 + i % 30}, {"humidity", 40.0 + i % 51}};
        a.message("dht11/living-room/data", t0 + std::chrono::minutes(i), n.data(), n.size());
    }
    const Report r{"summary", t0, t0, t0 + std::chrono::hours(24), 86400};
    std::string narrow, wide;
    render_table(narrow, a, r, false);
    render_table(wide, a, r, true);
    const auto widest = [](const std::string &text) {
        std::size_t w = 0, start = 0;
        for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1)
            w = std::max(w, end - start);
        return w;
    };
    INFO(narrow);
    CHECK(widest(narrow) <= 80);
    // Humidity in whole numbers, temperature in tenths; the mean and the deviation one decimal more.
    CHECK(narrow == "summary 2026-11-24T10:00:00.000Z .. 2026-11-25T10:00:00.000Z\n"
                    "1440 received, 0 published, 0 errors, uptime 86400 s\n"
                    "SENSOR                  FIELD        COUNT    MIN  MEAN   MAX   P95  LAST\n"
                    "dht11/living-room/data  humidity      1440     40  64.8    90    88    51\n"
                    "dht11/living-room/data  temperature   1440  -12.5  2.00  16.5  15.6  16.5\n");
    CHECK_THAT(wide, Catch::Contains("SENSOR                  FIELD        COUNT    MIN  MEAN   MAX  STDDEV  P50   P95"
                                     "   P99  LAST  LAST SEEN\n"));
    CHECK_THAT(wide, Catch::Contains("    51  2026-11-25T09:59:00.000Z\n"));
}

TEST_CASE("plot: a field no reading has is named, with the fields seen and the nearest", "[stats]")
{
    Plot p({"temprature", "humidity"});
    p.add("kitchen", p.field_index("humidity"), TimePoint{}, 50);
    CHECK(p.empty_fields() == std::vector<std::string>{"temprature"});
    CHECK(empty_field_warning("temprature", {"temperature", "humidity", "temperature"}) ==
          "--plot-field 'temprature': no reading has this field, its panel is empty "
          "(fields seen: humidity, temperature; did you mean 'temperature'?)");
    CHECK(empty_field_warning("co2", {"temperature", "humidity"}) ==
          "--plot-field 'co2': no reading has this field, its panel is empty (fields seen: humidity, temperature)");
    CHECK(empty_field_warning("co2", {}) ==
          "--plot-field 'co2': no reading has this field, its panel is empty (no numeric field seen)");
}

TEST_CASE("table: extreme values print in exponent form, within the cell's buffer", "[stats]")
{
    Aggregate a;
    const TimePoint t0 = *parse_rfc3339("2026-11-24T10:00:00Z");
    const std::vector<Number> huge{{"temperature", 1e308}, {"humidity", -1e300}};
    a.message("x", t0, huge.data(), huge.size());
    std::string table;
    render_table(table, a, {"summary", t0, t0, t0, 1}, true);
    CHECK_THAT(table, Catch::Contains("1e+308"));
    CHECK_THAT(table, Catch::Contains("-1e+300"));
}
