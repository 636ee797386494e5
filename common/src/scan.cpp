#include "dht/scan.hpp"

#include "dht/hash.hpp"
#include "dht/json.hpp"
#include "dht/readings.hpp"
#include "dht/record.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace dht {

namespace {

namespace bj = boost::json;
using error_code = boost::system::error_code;

enum class What : std::uint8_t { kind, payload_kind, timestamp, topic, payload, sensor_root, sensor_payload, field_root, field_payload };

struct Target {
    std::string path;
    What what;
    std::uint32_t index;  // the field, for field_root and field_payload
};

// What a key of an object can name. Each object whose dotted path begins a
// target's path has a node: one entry per key that completes a target's path
// or opens a deeper such object. A key is looked up in its object's node, so
// no path is built and nothing hashed; the match is the same as comparing the
// key's dotted path with each target's.
struct Entry {
    std::string key;
    std::vector<std::uint32_t> targets;  // indices into ScanHandler::targets, in their order
    std::int32_t child = -1;  // the node of an object under this key, or none
    bool payload = false;  // the root's "payload"
    std::int32_t next = -1;  // the next entry of the same bucket
};

struct Node {
    static constexpr std::size_t buckets = 32;
    std::vector<Entry> entries;
    std::array<std::int32_t, buckets> first{};  // of each bucket: an entry, or -1

    static std::size_t bucket(std::string_view key) noexcept
    {
        if (key.empty())
            return 0;
        return (key.size() + 7 * static_cast<unsigned char>(key.front()) + static_cast<unsigned char>(key.back())) %
               buckets;
    }

    // Once every entry is in.
    void index()
    {
        first.fill(-1);
        for (std::size_t i = entries.size(); i-- > 0;) {
            auto &f = first[bucket(entries[i].key)];
            entries[i].next = f;
            f = static_cast<std::int32_t>(i);
        }
    }

    const Entry *find(std::string_view key) const noexcept
    {
        for (auto i = first[bucket(key)]; i >= 0;) {
            const Entry &e = entries[static_cast<std::size_t>(i)];
            if (e.key.size() == key.size() && same_bytes(e.key.data(), key.data(), key.size()))
                return &e;
            i = e.next;
        }
        return nullptr;
    }
};

constexpr std::int32_t no_node = -1;

// A string value: a view of the text scanned when that text is stable (the
// fast path), else of a copy.
class Text {
public:
    void set(std::string_view s, bool stable)
    {
        if (stable) {
            view_ = s;
        } else {
            copy_.assign(s);
            view_ = copy_;
        }
    }
    void clear() noexcept { view_ = {}; }
    operator std::string_view() const noexcept { return view_; }

private:
    std::string copy_;
    std::string_view view_;
};

// A field's string value, kept for FieldValue::text to view.
struct Slot {
    Text text;
};

std::string_view sv(bj::string_view s) noexcept { return {s.data(), s.size()}; }

}  // namespace

struct ScanHandler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    std::vector<Target> targets;
    std::vector<Node> nodes;  // nodes[0]: the root object's

    // The node of each open object (no_node: nothing below it is a target),
    // and the entry of the current key (null: not a target's key).
    std::vector<std::int32_t> open;
    const Entry *current = nullptr;
    // With `collect`: the dotted path of the innermost open object, the
    // length of it where each open object starts, and the current key. A
    // number's path is built from them, so a key that holds no number costs
    // nothing. When `text_stable`, a key or a string handed over lies in the
    // text scanned and is not copied.
    std::string path;
    std::vector<std::uint32_t> starts;
    std::string_view key_now;
    bool text_stable = false;
    // The keys of the last lines read by FastScan, in the order met outside
    // arrays, each with the node and the depth it was met at and what it
    // named there: the next line's key at the same place with the same bytes
    // names the same, so it is neither scanned nor looked up again. Keys met
    // in the same order at the same depths have the same dotted paths.
    struct KnownKey {
        std::int32_t node;
        std::uint32_t depth;  // open.size()
        std::string key;  // checked by plain_string_run when first met
        const Entry *entry;
    };
    static constexpr std::size_t max_known_keys = 64;
    static constexpr std::uint32_t no_known_key = std::uint32_t(-1);
    std::vector<KnownKey> known_keys;
    // Counts the changes of known_keys: while it stays, a line whose keys up
    // to known_keys[i] all matched has the paths the line before had there.
    std::uint64_t known_epoch = 0;
    // The current key's place in known_keys, or no_known_key.
    std::uint32_t known_key = no_known_key;
    // The shape of the last line FastScan read through without replaying:
    // its bytes between values (brackets, keys, colons, commas, space) and
    // what came after each run of them. A line with the same bytes there
    // meets the same keys at the same places, so FastScan replays the shape
    // (see FastScan::replay) instead of reading every byte again.
    // A run of structure between two values is compared at once, at the
    // first step it holds; its keys are found in it.
    struct Step {
        enum class Op : std::uint8_t { object_begin, object_end, array_begin, array_end, key, array_key, string, number, word, end };
        Op op;
        bool first = false;  // the first step of a run: compare the run's bytes
        std::uint16_t gap = 0;  // first: the run's size, at `at` in shape_bytes
        std::uint32_t at = 0;
        std::uint32_t key = 0;  // key: its place in known_keys
        std::uint16_t key_at = 0, key_size = 0;  // key, array_key: the key's text, from the start of the run
    };
    static constexpr std::size_t max_shape_steps = 256, max_shape_bytes = 4096;
    std::vector<Step> shape;
    std::string shape_bytes;
    bool shape_valid = false;
    // Lines whose shape kept changing (sensors of several kinds, one after
    // another) are not worth recording each: after shape_misses replays
    // failed in a row, one line in shape_every is.
    static constexpr unsigned shape_misses_max = 4, shape_every = 32;
    unsigned shape_misses = 0, shape_wait = 0;
    unsigned skip = 0;  // > 0 inside an array: nothing there has a path
    bool root_seen = false, root_object = false;
    std::string key_buf, str_buf;
    bool key_partial = false, str_partial = false;

    bool has_kind = false, kind_message = false, kind_bad = false;
    Text kind, payload_kind;
    bool collect = false;  // every number: numbers_paths / numbers_values
    std::size_t number_count = 0;
    std::vector<std::string> number_paths;
    std::vector<double> number_values;
    std::vector<std::pair<std::uint32_t, std::uint64_t>> number_known;  // known_key and known_epoch of each path
    bool has_topic = false, has_timestamp = false, timestamp_string = false;
    bool payload_object = false, payload_string = false;
    bool has_sensor_root = false, has_sensor_payload = false;
    Text topic, timestamp, payload_text, sensor_root, sensor_payload;
    // The fields' values as the scan finds them (values() hands them over
    // as they are, or adjusted in `adjusted`), and their strings' storage.
    std::vector<Slot> root_slots, payload_slots;
    std::vector<FieldValue> root_values, payload_values, adjusted;

    void begin_document()
    {
        open.clear();
        current = nullptr;
        path.clear();
        starts.clear();
        key_now = {};
        skip = 0;
        root_seen = root_object = false;
        key_partial = str_partial = false;
        has_kind = kind_message = kind_bad = has_topic = has_timestamp = timestamp_string = false;
        kind.clear();
        payload_kind.clear();
        topic.clear();
        timestamp.clear();
        payload_text.clear();
        sensor_root.clear();
        sensor_payload.clear();
        number_count = 0;
        payload_object = payload_string = has_sensor_root = has_sensor_payload = false;
        for (auto &v : root_values)
            v = FieldValue{};
        for (auto &v : payload_values)
            v = FieldValue{};
    }

    // A field's value (a key given twice: the last one counts, as in the DOM).
    static void set_number(FieldValue &v, double d) noexcept
    {
        v.type = FieldValue::Type::number;
        v.number = d;
        v.text = {};
    }
    void set_string(FieldValue &v, Text &storage, std::string_view s)
    {
        storage.set(s, text_stable);
        v.type = FieldValue::Type::string;
        v.number = 0;
        v.text = storage;
    }

    // A scalar value at the current path: number, string or another type.
    template <class Set>
    void scalar(Set &&set)
    {
        if (skip > 0 || open.empty() || current == nullptr)
            return;
        for (const auto i : current->targets)
            set(targets[i]);
    }

    void number(double d)
    {
        if (collect && skip == 0 && !open.empty()) {
            if (number_count == number_paths.size()) {
                number_paths.emplace_back();
                number_values.emplace_back();
                number_known.emplace_back(no_known_key, 0);
            }
            // The path built for this number the line before, when it was
            // built at the same known key and known_keys has not changed since.
            auto &built = number_known[number_count];
            if (known_key == no_known_key || built.first != known_key || built.second != known_epoch) {
                auto &p = number_paths[number_count];
                p.assign(path);
                if (!path.empty())
                    p.push_back('.');
                p.append(key_now);
                built = {known_key, known_epoch};
            }
            number_values[number_count] = d;
            ++number_count;
        }
        scalar([&](const Target &t) {
            switch (t.what) {
            case What::field_root:
                set_number(root_values[t.index], d);
                break;
            case What::field_payload:
                set_number(payload_values[t.index], d);
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
                kind.set(s, text_stable);
                break;
            case What::payload_kind: payload_kind.set(s, text_stable); break;
            case What::timestamp:
                has_timestamp = timestamp_string = true;
                timestamp.set(s, text_stable);
                break;
            case What::topic:
                has_topic = true;
                topic.set(s, text_stable);
                break;
            case What::payload:
                payload_string = true;
                payload_text.set(s, text_stable);
                break;
            case What::sensor_root:
                has_sensor_root = true;
                sensor_root.set(s, text_stable);
                break;
            case What::sensor_payload:
                has_sensor_payload = true;
                sensor_payload.set(s, text_stable);
                break;
            case What::field_root:
                set_string(root_values[t.index], root_slots[t.index].text, s);
                break;
            case What::field_payload:
                set_string(payload_values[t.index], payload_slots[t.index].text, s);
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
        case What::field_root: root_values[t.index] = {FieldValue::Type::other, 0, {}}; break;
        case What::field_payload: payload_values[t.index] = {FieldValue::Type::other, 0, {}}; break;
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
        if (open.empty()) {
            open.push_back(0);
        } else {
            if (open.size() == 1 && current != nullptr && current->payload)
                payload_object = true;
            open.push_back(current != nullptr ? current->child : no_node);
        }
        if (collect) {
            starts.push_back(static_cast<std::uint32_t>(path.size()));
            if (open.size() > 1) {  // the path of the key it is under
                if (!path.empty())
                    path.push_back('.');
                path.append(key_now);
            }
        }
        return true;
    }
    bool on_object_end(std::size_t, error_code &)
    {
        if (skip > 0) {
            --skip;
        } else {
            open.pop_back();
            if (collect) {
                path.resize(starts.back());
                starts.pop_back();
            }
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
        if (key_partial) {
            key_buf.append(s.data(), s.size());
            key_partial = false;
            key(key_buf);
        } else {
            key(sv(s));
        }
        return true;
    }
    void key(std::string_view k)
    {
        const auto node = open.back();
        current = node == no_node ? nullptr : nodes[static_cast<std::size_t>(node)].find(k);
        known_key = no_known_key;
        key_found(k);
    }
    // After `current` is set for key `k`.
    void key_found(std::string_view k)
    {
        if (collect) {
            if (text_stable || k.data() == key_buf.data()) {
                key_now = k;
            } else {
                key_buf.assign(k);
                key_now = key_buf;
            }
        }
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

namespace {

// The common line, scanned without Boost.JSON: an object of objects, arrays,
// ASCII strings without escapes, plain numbers, true, false and null. It feeds
// the handler what Boost.JSON's parser would, and gives up on anything else
// (an escape, a control character, a byte of UTF-8 past ASCII, an exponent, a
// number too long to convert exactly here, deep nesting, any syntax error), so
// that the caller scans the line again with Boost.JSON: every error, and every
// value of an unusual line, is Boost.JSON's.
constexpr std::size_t fast_max_depth = 32;

constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Record: run() keeps the line's shape for replay() (an instantiation of its
// own, so that a line read without recording pays nothing for it).
template <bool Record>
class FastScan {
public:
    FastScan(ScanHandler &h, std::string_view text) noexcept
        : h_(h), p_(text.data()), end_(text.data() + text.size())
    {
    }

    // True when the whole text was read and handed to the handler; false: read it again with Boost.JSON.
    bool run(std::size_t max_depth)
    {
        limit_ = std::min(max_depth, fast_max_depth);
        h_.shape_valid = false;  // known_keys may change
        if constexpr (Record) {
            h_.shape.clear();
            h_.shape_bytes.clear();
        }
        space();
        if (p_ == end_ || *p_ != '{')
            return false;
        h_.on_document_begin(ec_);
        Next next = Next::value;
        for (;;) {
            bool ok = false;
            switch (next) {
            case Next::value: ok = value(next); break;
            case Next::key: ok = key(next); break;
            case Next::after: ok = after(next); break;
            case Next::done: h_.shape_valid = Record && recording_; return true;
            }
            if (!ok)
                return false;
        }
    }

    // The text read by the shape of the line before: true when its bytes
    // between values are those of the shape and each value is one FastScan
    // reads; the handler is then told what run() would have told it. False:
    // read it with run() (the handler starts over at its document begin).
    bool replay()
    {
        using Op = ScanHandler::Step::Op;
        const char *const bytes = h_.shape_bytes.data();
        const char *gap = p_;  // the run of structure being replayed
        h_.on_document_begin(ec_);
        for (const auto &step : h_.shape) {
            if (step.first) {
                if (static_cast<std::size_t>(end_ - p_) < step.gap || !same_bytes(p_, bytes + step.at, step.gap))
                    return false;
                gap = p_;
                p_ += step.gap;
            }
            switch (step.op) {
            case Op::object_begin: h_.on_object_begin(ec_); break;
            case Op::object_end: h_.on_object_end(0, ec_); break;
            case Op::array_begin: h_.on_array_begin(ec_); break;
            case Op::array_end: h_.on_array_end(0, ec_); break;
            case Op::key:  // as key() does for a known key
                h_.current = h_.known_keys[step.key].entry;
                h_.key_found({gap + step.key_at, step.key_size});
                h_.known_key = step.key;
                break;
            case Op::array_key: h_.on_key({gap + step.key_at, step.key_size}, step.key_size, ec_); break;
            case Op::string:
                if (p_ == end_ || *p_ != '"' || !string_value())
                    return false;
                break;
            case Op::number:
                if (p_ == end_ || !number())
                    return false;
                break;
            case Op::word:
                if (p_ == end_ || !word())
                    return false;
                break;
            case Op::end:
                if (p_ != end_)
                    return false;
                h_.on_document_end(ec_);
                return true;
            }
        }
        return false;
    }

private:
    enum class Next : std::uint8_t { value, key, after, done };

    // At a value (or the space before it).
    bool value(Next &next)
    {
        if (p_ == end_)
            return false;
        using Op = ScanHandler::Step::Op;
        switch (*p_) {
        case '{':
        case '[': return open(next);
        case '"':
            record(Op::string, p_);
            if (!string_value())
                return false;
            break;
        case 't':
        case 'f':
        case 'n':
            record(Op::word, p_);
            if (!word())
                return false;
            break;
        case ' ':
        case '\t':
        case '\n':
        case '\r': space(); return true;
        default:
            record(Op::number, p_);
            if (!number())
                return false;
        }
        if constexpr (Record)
            mark_ = p_;
        next = Next::after;
        return true;
    }

    // At the opening quote of a string value.
    bool string_value()
    {
        std::string_view s;
        if (!string(s))
            return false;
        if (h_.current != nullptr)  // else on_string() would do nothing
            h_.string(s);
        return true;
    }

    // At true, false or null (or another byte: false).
    bool word()
    {
        if (!literal(*p_ == 't' ? "true" : *p_ == 'f' ? "false" : "null"))
            return false;
        if (h_.current != nullptr)
            h_.other_value();
        return true;
    }

    // Notes `op` in the shape being recorded, the structure read up to
    // `upto`. A value (or the end) closes the run of structure since the
    // value before, mark_ on: its bytes are kept, to be compared at the
    // run's first step. Recording stops (the line leaves no shape) past the
    // shape's bounds.
    void record(ScanHandler::Step::Op op, const char *upto, std::uint32_t key = 0, const char *key_text = nullptr,
                std::size_t key_size = 0)
    {
        using Op = ScanHandler::Step::Op;
        if (!Record || !recording_)
            return;
        const auto run = static_cast<std::size_t>(upto - mark_);
        if (h_.shape.size() == ScanHandler::max_shape_steps || h_.shape_bytes.size() + run > ScanHandler::max_shape_bytes) {
            recording_ = false;
            return;
        }
        ScanHandler::Step step{op};
        if (run_first_ == no_run) {
            run_first_ = h_.shape.size();
            step.first = true;
        }
        if (key_text != nullptr) {
            step.key = key;
            step.key_at = static_cast<std::uint16_t>(key_text - mark_);
            step.key_size = static_cast<std::uint16_t>(key_size);
        }
        h_.shape.push_back(step);
        if (op == Op::string || op == Op::number || op == Op::word || op == Op::end) {
            auto &first = h_.shape[run_first_];
            first.gap = static_cast<std::uint16_t>(run);
            first.at = static_cast<std::uint32_t>(h_.shape_bytes.size());
            h_.shape_bytes.append(mark_, run);
            run_first_ = no_run;
            mark_ = upto;
        }
    }

    bool open(Next &next)
    {
        if (depth_ + 1 >= limit_)
            return false;
        const bool object = *p_++ == '{';
        record(object ? ScanHandler::Step::Op::object_begin : ScanHandler::Step::Op::array_begin, p_);
        in_object_[depth_++] = object;
        if (object)
            h_.on_object_begin(ec_);
        else
            h_.on_array_begin(ec_);
        space();
        if (p_ != end_ && *p_ == (object ? '}' : ']'))
            return close(next);
        next = object ? Next::key : Next::value;
        return true;
    }

    // At the closing bracket of the innermost container.
    bool close(Next &next)
    {
        ++p_;
        record(in_object_[depth_ - 1] ? ScanHandler::Step::Op::object_end : ScanHandler::Step::Op::array_end, p_);
        if (in_object_[--depth_])
            h_.on_object_end(0, ec_);
        else
            h_.on_array_end(0, ec_);
        next = Next::after;
        return true;
    }

    // At a key (or the space before it), through the colon after it.
    bool key(Next &next)
    {
        if (p_ == end_ || *p_ != '"')
            return false;
        const char *const key_text = p_ + 1;
        std::uint32_t known_no = 0;  // the key's place in known_keys
        auto op = ScanHandler::Step::Op::key;
        if (h_.skip > 0) {
            std::string_view k;
            if (!string(k))
                return false;
            h_.on_key({k.data(), k.size()}, k.size(), ec_);
            op = ScanHandler::Step::Op::array_key;
        } else {
            if (Record && key_no_ >= ScanHandler::max_known_keys)
                recording_ = false;  // a key replay could not name
            known_no = static_cast<std::uint32_t>(key_no_);
            const auto node = h_.open.back();
            const auto depth = static_cast<std::uint32_t>(depth_);  // outside arrays: h_.open.size()
            const auto &known = h_.known_keys;
            const std::size_t left = static_cast<std::size_t>(end_ - p_);
            if (key_no_ < known.size() && known[key_no_].node == node && known[key_no_].depth == depth &&
                left > known[key_no_].key.size() + 1 && p_[known[key_no_].key.size() + 1] == '"' &&
                same_bytes(p_ + 1, known[key_no_].key.data(), known[key_no_].key.size())) {
                const std::size_t n = known[key_no_].key.size();
                h_.current = known[key_no_].entry;
                h_.key_found({p_ + 1, n});
                h_.known_key = static_cast<std::uint32_t>(key_no_);
                p_ += n + 2;
            } else {
                std::string_view k;
                if (!string(k))
                    return false;
                h_.key(k);
                if (key_no_ < known.size()) {
                    auto &c = h_.known_keys[key_no_];
                    c.node = node;
                    c.depth = depth;
                    c.key.assign(k);
                    c.entry = h_.current;
                } else if (key_no_ < ScanHandler::max_known_keys) {
                    h_.known_keys.push_back({node, depth, std::string(k), h_.current});
                }
                if (key_no_ < ScanHandler::max_known_keys) {
                    ++h_.known_epoch;
                    h_.known_key = static_cast<std::uint32_t>(key_no_);
                }
            }
            ++key_no_;
        }
        const char *const key_end = p_ - 1;  // at its closing quote
        if (!expect(':'))
            return false;
        record(op, p_, known_no, key_text, static_cast<std::size_t>(key_end - key_text));
        next = Next::value;
        return true;
    }

    // After a value: the end of the text, a comma, or the end of its container.
    bool after(Next &next)
    {
        if (depth_ == 0) {
            space();
            if (p_ != end_)
                return false;
            record(ScanHandler::Step::Op::end, p_);
            h_.on_document_end(ec_);
            next = Next::done;
            return true;
        }
        if (p_ != end_ && is_space(*p_))
            space();
        if (p_ == end_)
            return false;
        const bool object = in_object_[depth_ - 1];
        if (*p_ == ',') {
            ++p_;
            if (object)
                space();
            next = object ? Next::key : Next::value;
            return true;
        }
        return *p_ == (object ? '}' : ']') && close(next);
    }

    // `c`, after space if any.
    bool expect(char c) noexcept
    {
        space();
        if (p_ == end_ || *p_ != c)
            return false;
        ++p_;
        return true;
    }
    void space() noexcept
    {
        if (p_ == end_ || static_cast<unsigned char>(*p_) > ' ')
            return;
        while (p_ != end_ && is_space(*p_))
            ++p_;
    }

    bool literal(std::string_view word) noexcept
    {
        if (static_cast<std::size_t>(end_ - p_) < word.size() || !same_bytes(p_, word.data(), word.size()))
            return false;
        p_ += word.size();
        return true;
    }

    // At the opening quote.
    bool string(std::string_view &out) noexcept
    {
        const char *const begin = ++p_;
        p_ = plain_string_run(p_, end_, true);
        if (p_ == end_ || *p_ != '"')
            return false;
        out = {begin, static_cast<std::size_t>(p_ - begin)};
        ++p_;
        return true;
    }

    // A number read_plain_number() takes, handed over as on_int64 and
    // on_double would (always finite here): nothing when it is neither a
    // target nor collected.
    bool number()
    {
        PlainNumber n;
        if (!read_plain_number(p_, end_, n))
            return false;
        if (h_.current != nullptr || h_.collect)
            h_.number(n.value);
        return true;
    }

    ScanHandler &h_;
    const char *p_;
    const char *const end_;
    error_code ec_;
    std::size_t limit_ = 0;  // containers open at most, less one
    std::size_t depth_ = 0;  // containers open
    std::size_t key_no_ = 0;  // keys met outside arrays
    std::array<bool, fast_max_depth> in_object_{};  // of each open container
    bool recording_ = Record;  // run() notes the line's shape: not past its bounds
    const char *mark_ = p_;  // where the run of structure being recorded begins
    static constexpr std::size_t no_run = std::size_t(-1);
    std::size_t run_first_ = no_run;  // the step that run begins at
};

}  // namespace

struct RecordScanner::Impl {
    bj::basic_parser<ScanHandler> parser;
    bool record_mode = true;
    std::vector<Number> numbers;
    bool numbers_ready = false;  // `numbers` holds the line's: numbers() was called since the scan

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

    bool fast = true;  // try FastScan first
    std::size_t max_depth;

    explicit Impl(const bj::parse_options &options) : parser(options), max_depth(options.max_depth) {}
    ScanHandler &h() noexcept { return parser.handler(); }
    const ScanHandler &h() const noexcept { return parser.handler(); }

    // Parses `text`; false with `error` set when it is not valid JSON.
    bool parse(std::string_view text, std::string *error)
    {
        numbers_ready = false;
        h().text_stable = true;
        if (fast) {
            auto &hh = h();
            if (hh.shape_valid) {
                if (FastScan<false>(hh, text).replay()) {
                    hh.shape_misses = 0;
                    return true;
                }
                ++hh.shape_misses;
            }
            const bool record =
                hh.shape_misses < ScanHandler::shape_misses_max || ++hh.shape_wait % ScanHandler::shape_every == 0;
            if (record ? FastScan<true>(hh, text).run(max_depth) : FastScan<false>(hh, text).run(max_depth))
                return true;
        }
        h().text_stable = false;
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

namespace {

// The dotted path of key `key` in an object at `at`, as ScanHandler::key() builds it.
std::string join(std::string_view at, std::string_view key)
{
    std::string p(at);
    if (!p.empty())
        p.push_back('.');
    p.append(key);
    return p;
}

// The nodes of every object path that begins a target's path: "" (the root),
// and each part of a target's path before one of its dots. An object under the
// root's key "" has the path "" too, so it is read as the root is.
void build_nodes(ScanHandler &h)
{
    std::vector<std::string> at{""};
    for (const auto &t : h.targets)
        for (std::size_t i = 1; i < t.path.size(); ++i)
            if (t.path[i] == '.' && std::find(at.begin(), at.end(), t.path.substr(0, i)) == at.end())
                at.push_back(t.path.substr(0, i));
    const auto node_of = [&](const std::string &path) {
        const auto it = std::find(at.begin(), at.end(), path);
        return it == at.end() ? no_node : static_cast<std::int32_t>(it - at.begin());
    };
    h.nodes.assign(at.size(), Node{});
    for (std::size_t n = 0; n < at.size(); ++n) {
        const std::string prefix = at[n].empty() ? std::string() : at[n] + ".";
        auto &entries = h.nodes[n].entries;
        const auto entry = [&](std::string_view key) -> Entry & {
            for (auto &e : entries)
                if (e.key == key)
                    return e;
            auto &e = entries.emplace_back();
            e.key = key;
            e.child = node_of(join(at[n], key));
            e.payload = n == 0 && key == "payload";
            return e;
        };
        if (n == 0)
            entry("");
        for (std::size_t i = 0; i < h.targets.size(); ++i)
            if (h.targets[i].path.starts_with(prefix))
                entry(std::string_view(h.targets[i].path).substr(prefix.size()))
                    .targets.push_back(static_cast<std::uint32_t>(i));
        for (const auto &path : at)
            if (!path.empty() && path.starts_with(prefix))
                entry(std::string_view(path).substr(prefix.size()));
        h.nodes[n].index();
    }
}

}  // namespace

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
    build_nodes(h);
    h.root_slots.resize(fields.size());
    h.payload_slots.resize(fields.size());
    h.root_values.resize(fields.size());
    h.payload_values.resize(fields.size());
}

RecordScanner::~RecordScanner() = default;

void RecordScanner::set_fast_path(bool on) noexcept { impl_->fast = on; }

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
        h.payload_text.set(quoted ? bytes.substr(1, bytes.size() - 2) : bytes, false);
        h.text_stable = false;  // views_text(): payload_text is a copy
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

bool RecordScanner::views_text() const noexcept { return impl_->h().text_stable; }

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
    const auto &values = impl_->record_mode ? h.payload_values : h.root_values;
    if (!impl_->adjust)
        return values.data();
    h.adjusted = values;  // the scan's own stay as read: values() may be asked again
    impl_->adjust_values(h.adjusted, calibrated_sensor());
    return h.adjusted.data();
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
    if (impl_->numbers_ready)
        return out;
    impl_->numbers_ready = true;
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
