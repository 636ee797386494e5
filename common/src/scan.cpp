#include "dht/scan.hpp"

#include "dht/hash.hpp"
#include "dht/json.hpp"
#include "dht/readings.hpp"
#include "dht/record.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace dht {

namespace {

namespace bj = boost::json;
using error_code = boost::system::error_code;

enum class What : std::uint8_t { kind, payload_kind, timestamp, topic, payload, sensor_root, sensor_payload, field_root, field_payload };

struct Target {
    std::string path;
    What what;
    std::uint32_t index;  // the field, for field_root and field_payload
    std::uint64_t hash = 0;
};

struct Slot {
    FieldValue value;
    std::string text;
};

std::string_view sv(bj::string_view s) noexcept { return {s.data(), s.size()}; }

}  // namespace

struct ScanHandler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    std::vector<Target> targets;

    // The dotted path of the current key, and where each open object's keys start in it.
    std::string path;
    std::uint64_t path_hash = fnv1a_basis;
    std::vector<std::uint32_t> starts;
    std::vector<std::uint64_t> start_hashes;  // the hash of the path where each open object starts
    unsigned skip = 0;  // > 0 inside an array: nothing there has a path
    bool root_seen = false, root_object = false;
    std::string key_buf, str_buf;
    bool key_partial = false, str_partial = false;

    bool has_kind = false, kind_message = false, kind_bad = false;
    std::string kind, payload_kind;
    bool collect = false;  // every number: numbers_paths / numbers_values
    std::size_t number_count = 0;
    std::vector<std::string> number_paths;
    std::vector<double> number_values;
    bool has_topic = false, has_timestamp = false, timestamp_string = false;
    bool payload_object = false, payload_string = false;
    bool has_sensor_root = false, has_sensor_payload = false;
    std::string topic, timestamp, payload_text, sensor_root, sensor_payload;
    std::vector<Slot> root_slots, payload_slots;
    std::vector<FieldValue> root_values, payload_values;

    void begin_document()
    {
        path.clear();
        path_hash = fnv1a_basis;
        starts.clear();
        start_hashes.clear();
        skip = 0;
        root_seen = root_object = false;
        key_partial = str_partial = false;
        has_kind = kind_message = kind_bad = has_topic = has_timestamp = timestamp_string = false;
        kind.clear();
        payload_kind.clear();
        number_count = 0;
        payload_object = payload_string = has_sensor_root = has_sensor_payload = false;
        for (auto &s : root_slots)
            s.value.type = FieldValue::Type::missing;
        for (auto &s : payload_slots)
            s.value.type = FieldValue::Type::missing;
    }

    // A scalar value at the current path: number, string or another type.
    template <class Set>
    void scalar(Set &&set)
    {
        if (skip > 0 || starts.empty())
            return;
        for (const auto &t : targets)
            if (t.hash == path_hash && t.path == path)
                set(t);
    }

    void number(double d)
    {
        if (collect && skip == 0 && !starts.empty()) {
            if (number_count == number_paths.size()) {
                number_paths.emplace_back();
                number_values.emplace_back();
            }
            number_paths[number_count].assign(path);
            number_values[number_count] = d;
            ++number_count;
        }
        scalar([&](const Target &t) {
            switch (t.what) {
            case What::field_root:
                root_slots[t.index].value.type = FieldValue::Type::number;
                root_slots[t.index].value.number = d;
                break;
            case What::field_payload:
                payload_slots[t.index].value.type = FieldValue::Type::number;
                payload_slots[t.index].value.number = d;
                break;
            default: other(t); break;
            }
        });
    }

    void string(std::string_view s)
    {
        scalar([&](const Target &t) {
            switch (t.what) {
            case What::kind:
                has_kind = true;
                kind_bad = false;  // a key given twice: the last one counts, as in the DOM
                kind_message = s == "message";
                kind.assign(s);
                break;
            case What::payload_kind: payload_kind.assign(s); break;
            case What::timestamp:
                has_timestamp = timestamp_string = true;
                timestamp.assign(s);
                break;
            case What::topic:
                has_topic = true;
                topic.assign(s);
                break;
            case What::payload:
                payload_string = true;
                payload_text.assign(s);
                break;
            case What::sensor_root:
                has_sensor_root = true;
                sensor_root.assign(s);
                break;
            case What::sensor_payload:
                has_sensor_payload = true;
                sensor_payload.assign(s);
                break;
            case What::field_root:
                root_slots[t.index].value.type = FieldValue::Type::string;
                root_slots[t.index].text.assign(s);
                break;
            case What::field_payload:
                payload_slots[t.index].value.type = FieldValue::Type::string;
                payload_slots[t.index].text.assign(s);
                break;
            }
        });
    }

    // A value of another type (or a number where a string was wanted).
    void other(const Target &t)
    {
        switch (t.what) {
        case What::kind:
            has_kind = kind_bad = true;
            kind_message = false;
            kind.clear();
            break;
        case What::payload_kind: payload_kind.clear(); break;
        case What::timestamp: has_timestamp = true; timestamp_string = false; break;
        case What::topic: has_topic = false; break;
        case What::payload: payload_string = false; break;
        case What::sensor_root: has_sensor_root = false; break;
        case What::sensor_payload: has_sensor_payload = false; break;
        case What::field_root: root_slots[t.index].value.type = FieldValue::Type::other; break;
        case What::field_payload: payload_slots[t.index].value.type = FieldValue::Type::other; break;
        }
    }

    void other_value()
    {
        scalar([&](const Target &t) { other(t); });
    }

    void container_begin()
    {
        if (!root_seen) {
            root_seen = true;
        } else if (skip == 0) {
            other_value();  // an object or array where a scalar was wanted
        }
    }

    bool on_document_begin(error_code &)
    {
        begin_document();
        return true;
    }
    bool on_document_end(error_code &) { return true; }
    bool on_array_begin(error_code &)
    {
        container_begin();
        ++skip;
        return true;
    }
    bool on_array_end(std::size_t, error_code &)
    {
        --skip;
        return true;
    }
    bool on_object_begin(error_code &)
    {
        if (!root_seen)
            root_object = true;
        container_begin();
        if (skip > 0) {
            ++skip;
            return true;
        }
        if (starts.size() == 1 && path == "payload")
            payload_object = true;
        starts.push_back(static_cast<std::uint32_t>(path.size()));
        start_hashes.push_back(path_hash);
        return true;
    }
    bool on_object_end(std::size_t, error_code &)
    {
        if (skip > 0)
            --skip;
        else {
            starts.pop_back();
            start_hashes.pop_back();
        }
        return true;
    }
    bool on_string_part(bj::string_view s, std::size_t, error_code &)
    {
        if (!str_partial)
            str_buf.clear();
        str_partial = true;
        str_buf.append(s.data(), s.size());
        return true;
    }
    bool on_string(bj::string_view s, std::size_t, error_code &)
    {
        if (str_partial) {
            str_buf.append(s.data(), s.size());
            str_partial = false;
            string(str_buf);
        } else {
            string(sv(s));
        }
        return true;
    }
    bool on_key_part(bj::string_view s, std::size_t, error_code &)
    {
        if (!key_partial)
            key_buf.clear();
        key_partial = true;
        key_buf.append(s.data(), s.size());
        return true;
    }
    bool on_key(bj::string_view s, std::size_t, error_code &)
    {
        if (skip > 0) {
            key_partial = false;
            return true;
        }
        path.resize(starts.back());
        path_hash = start_hashes.back();
        if (!path.empty()) {
            path.push_back('.');
            path_hash = fnv1a(".", path_hash);
        }
        if (key_partial) {
            path += key_buf;
            path_hash = fnv1a(key_buf, path_hash);
            key_partial = false;
        }
        path.append(s.data(), s.size());
        path_hash = fnv1a(sv(s), path_hash);
        return true;
    }
    bool on_number_part(bj::string_view, error_code &) { return true; }
    bool on_int64(std::int64_t i, bj::string_view, error_code &)
    {
        number(static_cast<double>(i));
        return true;
    }
    bool on_uint64(std::uint64_t u, bj::string_view, error_code &)
    {
        number(static_cast<double>(u));
        return true;
    }
    bool on_double(double d, bj::string_view, error_code &ec)
    {
        // 1e400 reads as infinity: no tool can carry it, so the line is bad.
        if (!std::isfinite(d)) {
            ec = bj::error::exponent_overflow;
            return false;
        }
        number(d);
        return true;
    }
    bool on_bool(bool, error_code &)
    {
        if (!root_seen)
            root_seen = true;
        other_value();
        return true;
    }
    bool on_null(error_code &)
    {
        if (!root_seen)
            root_seen = true;
        other_value();
        return true;
    }
    bool on_comment_part(bj::string_view, error_code &) { return true; }
    bool on_comment(bj::string_view, error_code &) { return true; }
};

struct RecordScanner::Impl {
    bj::basic_parser<ScanHandler> parser;
    bool record_mode = true;
    std::vector<Number> numbers;

    // Calibration and derived fields; none of it is touched unless `adjust`.
    bool adjust = false;
    const Readings *readings = nullptr;
    std::vector<std::string> paths;  // each slot's field, the hidden ones after those asked for
    struct DerivedSlot {
        std::size_t slot;
        Derived what;
    };
    std::vector<DerivedSlot> derived;  // the derived fields asked for
    std::size_t temperature = 0, humidity = 0;  // their slots
    std::string topic;  // the topic of the message scanned (a bare line's, an MQTT message's)

    void adjust_values(std::vector<FieldValue> &values, std::string_view sensor) const;
    void adjust_numbers(std::vector<Number> &numbers, std::string_view sensor) const;

    explicit Impl(const bj::parse_options &options) : parser(options) {}
    ScanHandler &h() noexcept { return parser.handler(); }
    const ScanHandler &h() const noexcept { return parser.handler(); }

    // Parses `text`; false with `error` set when it is not valid JSON.
    bool parse(std::string_view text, std::string *error)
    {
        parser.reset();
        error_code ec;
        const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
        if (!ec && used != text.size())
            ec = bj::error::extra_data;
        if (!ec)
            return true;
        if (error != nullptr)
            *error = parse_error_text(text, ec);
        return false;
    }
};

RecordScanner::RecordScanner(const std::vector<std::string> &fields_asked, std::size_t max_depth, bool numbers,
                             const Readings *readings)
    : impl_(std::make_unique<Impl>(parse_options(max_depth)))
{
    auto &impl = *impl_;
    auto &h = impl.h();
    h.collect = numbers;
    // A derived field asked for needs the temperature and the humidity: hidden slots unless asked too.
    std::vector<std::string> fields = fields_asked;
    for (std::size_t i = 0; i < fields_asked.size(); ++i)
        if (const auto d = derived_field(fields_asked[i]))
            impl.derived.push_back({i, *d});
    const auto slot_of = [&](std::string_view name) {
        const auto it = std::find(fields.begin(), fields.end(), name);
        if (it != fields.end())
            return static_cast<std::size_t>(it - fields.begin());
        fields.emplace_back(name);
        return fields.size() - 1;
    };
    if (!impl.derived.empty()) {
        impl.temperature = slot_of(derived_from_temperature);
        impl.humidity = slot_of(derived_from_humidity);
    }
    impl.readings = readings;
    const bool calibrates = readings != nullptr && readings->calibrates();
    const bool derives_numbers = numbers && readings != nullptr && !readings->derived().empty();
    impl.adjust = !impl.derived.empty() || calibrates || derives_numbers;
    if (impl.adjust)
        impl.paths = fields;
    h.targets.push_back({"kind", What::kind, 0});
    h.targets.push_back({"timestamp", What::timestamp, 0});
    h.targets.push_back({"topic", What::topic, 0});
    h.targets.push_back({"payload", What::payload, 0});
    h.targets.push_back({"sensor", What::sensor_root, 0});
    h.targets.push_back({"payload.sensor", What::sensor_payload, 0});
    h.targets.push_back({"payload.kind", What::payload_kind, 0});
    for (std::size_t i = 0; i < fields.size(); ++i) {
        h.targets.push_back({fields[i], What::field_root, static_cast<std::uint32_t>(i)});
        h.targets.push_back({"payload." + fields[i], What::field_payload, static_cast<std::uint32_t>(i)});
    }
    for (auto &t : h.targets)
        t.hash = fnv1a(t.path);
    h.root_slots.resize(fields.size());
    h.payload_slots.resize(fields.size());
    h.root_values.resize(fields.size());
    h.payload_values.resize(fields.size());
}

RecordScanner::~RecordScanner() = default;

RecordScanner::Kind RecordScanner::scan_record(std::string_view line, std::string &error)
{
    impl_->record_mode = true;
    if (impl_->adjust)
        impl_->topic.clear();
    if (!impl_->parse(line, &error))
        return Kind::invalid;
    const auto &h = impl_->h();
    if (!h.root_object) {
        error = "not a JSON object";
        return Kind::invalid;
    }
    if (h.kind_bad) {
        error = kind_not_a_string;
        return Kind::invalid;
    }
    if (!h.has_kind) {
        impl_->record_mode = false;
        return Kind::bare;
    }
    return h.kind_message ? Kind::message : Kind::other;
}

void RecordScanner::scan_payload(std::string_view bytes, std::string_view topic)
{
    impl_->record_mode = false;
    if (impl_->adjust)
        impl_->topic.assign(topic);
    auto &h = impl_->h();
    const bool json = impl_->parse(bytes, nullptr);
    if (!json || !h.root_object) {
        h.payload_object = false;
        // Text: what is not JSON, or a JSON string ("offline" in quotes: its text).
        // A bare number, an array, true or null is JSON but neither text nor fields.
        const bool quoted = bytes.size() >= 2 && bytes.front() == '"' && bytes.back() == '"';
        h.payload_string = !json || quoted;
        h.payload_text.assign(quoted ? bytes.substr(1, bytes.size() - 2) : bytes);
    } else {
        h.payload_object = true;
        h.payload_string = false;
    }
}

bool RecordScanner::origin(std::string_view bare_topic, Origin &out, std::string &error) const
{
    out = Origin{bare_topic, std::nullopt};
    if (!impl_->record_mode)
        return true;
    const auto &h = impl_->h();
    if (!h.has_topic) {
        error = "message record without a string \"topic\"";
        return false;
    }
    out.topic = h.topic;
    if (h.has_timestamp) {
        out.time = h.timestamp_string ? parse_rfc3339(h.timestamp) : std::nullopt;
        if (!out.time) {
            error = "\"timestamp\" is not an RFC 3339 time";
            return false;
        }
    }
    return true;
}

RecordScanner::Kind RecordScanner::scan_message(std::string_view line, std::string_view bare_topic, Origin &out,
                                                std::string &error)
{
    const Kind kind = scan_record(line, error);
    if ((kind == Kind::message || kind == Kind::bare) && !origin(bare_topic, out, error))
        return Kind::invalid;
    if (impl_->adjust && kind == Kind::bare)
        impl_->topic.assign(bare_topic);
    return kind;
}

bool RecordScanner::has_topic() const noexcept { return impl_->h().has_topic; }
std::string_view RecordScanner::topic() const noexcept { return impl_->h().topic; }
bool RecordScanner::has_timestamp() const noexcept { return impl_->h().has_timestamp; }
bool RecordScanner::timestamp_is_string() const noexcept { return impl_->h().timestamp_string; }
std::string_view RecordScanner::timestamp() const noexcept { return impl_->h().timestamp; }

bool RecordScanner::payload_is_object() const noexcept
{
    const auto &h = impl_->h();
    return impl_->record_mode ? h.payload_object : h.root_object && !h.payload_string;
}

bool RecordScanner::payload_is_text() const noexcept { return impl_->h().payload_string; }
std::string_view RecordScanner::payload_text() const noexcept { return impl_->h().payload_text; }

std::string_view RecordScanner::sensor() const noexcept
{
    const auto &h = impl_->h();
    if (impl_->record_mode)
        return h.has_sensor_payload ? std::string_view(h.sensor_payload) : std::string_view();
    return h.has_sensor_root ? std::string_view(h.sensor_root) : std::string_view();
}

const FieldValue *RecordScanner::values() const noexcept
{
    auto &h = impl_->parser.handler();
    auto &slots = impl_->record_mode ? h.payload_slots : h.root_slots;
    auto &values = impl_->record_mode ? h.payload_values : h.root_values;
    for (std::size_t i = 0; i < slots.size(); ++i) {
        values[i] = slots[i].value;
        if (values[i].type == FieldValue::Type::string)
            values[i].text = slots[i].text;
    }
    if (impl_->adjust)
        impl_->adjust_values(values, calibrated_sensor());
    return values.data();
}

// The sensor whose calibration applies: named as record_sensor() names it.
std::string_view RecordScanner::calibrated_sensor() const
{
    const auto &h = impl_->h();
    const std::string_view topic = impl_->record_mode && h.has_topic ? std::string_view(h.topic) : impl_->topic;
    return sensor_name(topic, sensor());
}

void RecordScanner::Impl::adjust_values(std::vector<FieldValue> &values, std::string_view sensor) const
{
    if (readings != nullptr && readings->calibrates())
        for (std::size_t i = 0; i < values.size(); ++i)
            if (values[i].type == FieldValue::Type::number)
                values[i].number = calibrated(readings->calibration(), sensor, paths[i], values[i].number);
    if (derived.empty())
        return;
    const FieldValue &t = values[temperature], &rh = values[humidity];
    for (const auto &d : derived) {
        if (values[d.slot].type != FieldValue::Type::missing)
            continue;  // the payload's own field of that name
        if (t.type != FieldValue::Type::number || rh.type != FieldValue::Type::number)
            continue;
        if (const auto v = derive(d.what, t.number, rh.number)) {
            values[d.slot].type = FieldValue::Type::number;
            values[d.slot].number = *v;
        }
    }
}

void RecordScanner::Impl::adjust_numbers(std::vector<Number> &out, std::string_view sensor) const
{
    if (readings == nullptr)
        return;
    if (readings->calibrates())
        for (auto &n : out)
            n.value = calibrated(readings->calibration(), sensor, n.path, n.value);
    if (readings->derived().empty())
        return;
    std::optional<double> t, rh;
    for (const auto &n : out) {
        if (n.path == derived_from_temperature)
            t = n.value;
        else if (n.path == derived_from_humidity)
            rh = n.value;
    }
    if (!t || !rh)
        return;
    const std::size_t given = out.size();
    for (const Derived d : readings->derived()) {
        const auto name = derived_name(d);
        const auto end = out.begin() + static_cast<std::ptrdiff_t>(given);
        if (std::any_of(out.begin(), end, [&](const Number &n) { return n.path == name; }))
            continue;  // the payload's own field of that name
        if (const auto v = derive(d, *t, *rh))
            out.push_back({name, *v});
    }
}

}  // namespace dht

namespace dht {

std::string_view RecordScanner::kind() const noexcept { return impl_->h().kind; }

std::string_view RecordScanner::payload_kind() const noexcept
{
    return impl_->record_mode ? std::string_view(impl_->h().payload_kind) : std::string_view(impl_->h().kind);
}

const std::vector<RecordScanner::Number> &RecordScanner::numbers() const noexcept
{
    auto &h = impl_->parser.handler();
    auto &out = impl_->numbers;
    out.clear();
    if (impl_->record_mode) {
        if (!h.payload_object)
            return out;
        constexpr std::string_view prefix = "payload.";
        for (std::size_t i = 0; i < h.number_count; ++i) {
            const std::string_view p = h.number_paths[i];
            if (p.starts_with(prefix))
                out.push_back({p.substr(prefix.size()), h.number_values[i]});
        }
    } else if (h.root_object) {
        for (std::size_t i = 0; i < h.number_count; ++i)
            out.push_back({h.number_paths[i], h.number_values[i]});
    }
    if (impl_->adjust)
        impl_->adjust_numbers(out, calibrated_sensor());
    return out;
}

}  // namespace dht
