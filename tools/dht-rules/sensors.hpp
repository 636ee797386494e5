// The sensors dht-rules watches, held flat: a watcher may hold 100,000 of
// them. One small record a sensor in a table, in the order they were first
// heard of, numbered by their place in it; their names and topics in one
// text arena; found by name, and by the prefix of their topic (where their
// status topic lives), through open-addressing tables of sensor numbers.
// A sensor removed leaves a gap until compact() closes the gaps, keeping the
// order.
#pragma once

#include "dht/hash.hpp"
#include "dht/time.hpp"

#include <cstdint>
#include <memory>
#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dht::rules {

// The topic without its last level ("" for a topic of one level).
std::string_view prefix_of(std::string_view topic) noexcept;

using SensorId = std::uint32_t;

// By sensor number, `width` values of T each, in blocks of 1024 sensors: it
// grows without moving what it holds, where a vector doubling would leave
// its old buffers to the heap (a fifth of the memory per sensor, measured).
template <class T>
class PerSensor {
public:
    explicit PerSensor(std::size_t width = 1) : width_(width) {}

    std::size_t width() const noexcept { return width_; }
    T *row(SensorId id) noexcept { return &blocks_[id >> shift][(id & mask) * width_]; }
    const T *row(SensorId id) const noexcept { return &blocks_[id >> shift][(id & mask) * width_]; }
    // Room for sensors 0 .. n - 1; the values of those beyond n are reset.
    void resize(std::size_t n)
    {
        for (std::size_t k = n * width_; k < std::min(size_, capacity()) * width_; ++k)
            blocks_[k / (width_ << shift)][k % (width_ << shift)] = T{};
        const std::size_t blocks = (n + mask) >> shift;
        while (blocks_.size() < blocks)
            blocks_.push_back(std::make_unique<T[]>(width_ << shift));
        blocks_.resize(blocks);
        size_ = n;
    }

private:
    static constexpr unsigned shift = 10;
    static constexpr std::size_t mask = (std::size_t{1} << shift) - 1;
    std::size_t capacity() const noexcept { return blocks_.size() << shift; }
    std::size_t width_;
    std::size_t size_ = 0;
    std::vector<std::unique_ptr<T[]>> blocks_;
};

class SensorTable {
public:
    using Id = SensorId;
    static constexpr Id none = UINT32_MAX;

    struct Sensor {
        std::uint32_t name_at = 0, name_size = 0;    // in the arena
        std::uint32_t topic_at = 0, topic_size = 0;  // the topic of its latest reading; its name's bytes when the same
        TimePoint last_seen{};
        Id next_under = none;  // the next sensor under the prefix of its topic
        bool offline : 1 = false;
        bool sensor_error : 1 = false;  // its status says so
        bool placeholder : 1 = false;   // known from a status topic only, no reading yet
        bool matched : 1 = false;       // the engine's rule filters are matched against its topic
        bool changed : 1 = false;       // listed as changed since the state was last saved
        bool indexed : 1 = false;       // listed under the prefix of its topic
        bool gone : 1 = false;          // removed: a gap until compact()
        bool topic_is_name : 1 = true;  // the topic is held once, as the name
    };

    // Sensors present (gaps not counted).
    std::size_t size() const noexcept { return size_; }
    // One past the highest number: sensors are numbered 0 .. end() - 1, gaps included.
    Id end() const noexcept { return end_; }
    bool present(Id id) const noexcept { return !(*this)[id].gone; }
    Sensor &operator[](Id id) noexcept { return *sensors_.row(id); }
    const Sensor &operator[](Id id) const noexcept { return *sensors_.row(id); }
    std::string_view name(Id id) const noexcept { return text((*this)[id].name_at, (*this)[id].name_size); }
    std::string_view topic(Id id) const noexcept { return text((*this)[id].topic_at, (*this)[id].topic_size); }

    // The sensor named `name`, or none.
    Id find(std::string_view name) const noexcept;
    // A new sensor `name` (not present), numbered end(), its topic its name.
    Id add(std::string_view name);
    // Removes the sensor: out of both indexes, a gap until compact().
    void remove(Id id);
    // Sets the topic. A sensor whose prefix changes leaves the prefix index,
    // where index() puts it back.
    void set_topic(Id id, std::string_view topic);

    // The first sensor under `prefix` (then Sensor::next_under), or none.
    Id first_under(std::string_view prefix) const noexcept;
    // Lists the sensor last under the prefix of its topic, unless listed.
    void index(Id id);
    // Takes it off that list: the list's last sensor takes its place (the
    // order a vector with swap-and-pop removal would hold).
    void unindex(Id id);

    // Whether compact() is due: gaps, or text no longer used, as much as what is in use.
    bool wants_compaction() const noexcept { return compaction_due_; }
    // Closes the gaps, keeping the order, and drops text no longer used.
    // `move(from, to)` (to < from) is called for each sensor that moves, in
    // increasing order, for what the caller keeps by sensor number.
    void compact(const std::function<void(Id from, Id to)> &move);

private:
    // Open addressing with linear probing: a slot holds a sensor number + 1
    // (0: empty) and the low 32 bits of its key's hash.
    struct Slot {
        std::uint32_t id_1 = 0;
        std::uint32_t hash = 0;
    };
    class Index {
    public:
        template <class Same>
        std::size_t find(std::uint32_t hash, Same same) const noexcept
        {
            if (slots_.empty())
                return npos;
            for (std::size_t i = hash & mask(); slots_[i].id_1 != 0; i = (i + 1) & mask())
                if (slots_[i].hash == hash && same(slots_[i].id_1 - 1))
                    return i;
            return npos;
        }
        void insert(std::uint32_t hash, Id id);
        void erase(std::size_t at) noexcept;
        Id id(std::size_t at) const noexcept { return slots_[at].id_1 - 1; }
        void set(std::size_t at, Id id) noexcept { slots_[at].id_1 = id + 1; }
        // Renumbers the sensors: `to[old]` is the new number of each.
        void renumber(const std::vector<Id> &to) noexcept;
        static constexpr std::size_t npos = SIZE_MAX;

    private:
        std::size_t mask() const noexcept { return slots_.size() - 1; }
        void place(Slot s) noexcept;
        std::vector<Slot> slots_;
        std::size_t used_ = 0;
    };

    std::string_view text(std::uint32_t at, std::uint32_t size) const noexcept { return {text_.data() + at, size}; }
    std::uint32_t store(std::string_view s);
    std::size_t find_prefix(std::string_view prefix, std::uint32_t hash) const noexcept;
    std::uint32_t hash_of(std::string_view s) const noexcept { return static_cast<std::uint32_t>(text_hash(s, seed_)); }
    void note_waste() noexcept
    {
        compaction_due_ = end_ - size_ >= 16 + size_ / 2 || unused_ >= 4096 + (text_.size() - unused_);
    }

    PerSensor<Sensor> sensors_;
    Id end_ = 0;
    std::string text_;         // names and topics
    std::size_t unused_ = 0;  // bytes of text_ no sensor refers to
    std::size_t size_ = 0;
    bool compaction_due_ = false;  // wants_compaction(), updated as gaps and unused text come
    Index by_name_, by_prefix_;  // by_prefix_: the first sensor of each prefix's list
    std::uint64_t seed_ = hash_seed();  // drawn when a table is made, not at start-up
};

}  // namespace dht::rules
