#include "sensors.hpp"

#include "dht/hash.hpp"

#include <algorithm>
#include <stdexcept>

namespace dht::rules {

std::string_view prefix_of(std::string_view topic) noexcept
{
    const auto slash = topic.rfind('/');
    return slash == std::string_view::npos ? std::string_view() : topic.substr(0, slash);
}

void SensorTable::Index::insert(std::uint32_t hash, Id id)
{
    // At most three quarters full: probes stay short.
    if ((used_ + 1) * 4 > slots_.size() * 3) {
        std::vector<Slot> old(std::max<std::size_t>(16, slots_.size() * 2));
        old.swap(slots_);
        for (const Slot &s : old)
            if (s.id_1 != 0)
                place(s);
    }
    place({id + 1, hash});
    ++used_;
}

void SensorTable::Index::place(Slot s) noexcept
{
    std::size_t i = s.hash & mask();
    while (slots_[i].id_1 != 0)
        i = (i + 1) & mask();
    slots_[i] = s;
}

void SensorTable::Index::erase(std::size_t at) noexcept
{
    // Backward shift: each later slot of the run that may sit at `at` (its
    // home is not between `at` and it) moves there, leaving no tombstone.
    std::size_t hole = at;
    for (std::size_t j = (hole + 1) & mask(); slots_[j].id_1 != 0; j = (j + 1) & mask()) {
        const std::size_t home = slots_[j].hash & mask();
        if (((j - home) & mask()) >= ((j - hole) & mask())) {
            slots_[hole] = slots_[j];
            hole = j;
        }
    }
    slots_[hole] = {};
    --used_;
}

void SensorTable::Index::renumber(const std::vector<Id> &to) noexcept
{
    for (Slot &s : slots_)
        if (s.id_1 != 0)
            s.id_1 = to[s.id_1 - 1] + 1;
}

std::uint32_t SensorTable::store(std::string_view s)
{
    if (text_.size() + s.size() > UINT32_MAX)
        throw std::length_error("more than 4 GiB of sensor names and topics");
    const auto at = static_cast<std::uint32_t>(text_.size());
    if (s.data() >= text_.data() && s.data() < text_.data() + text_.size())
        text_.append(std::string(s));  // a view into text_, which may move
    else
        text_.append(s);
    return at;
}

SensorTable::Id SensorTable::find(std::string_view name) const noexcept
{
    const std::size_t at = by_name_.find(hash_of(name), [&](Id id) { return same_text(this->name(id), name); });
    return at == Index::npos ? none : by_name_.id(at);
}

SensorTable::Id SensorTable::add(std::string_view name)
{
    if (end_ == none)
        throw std::length_error("too many sensors");
    const Id id = end_;
    Sensor s;
    s.name_at = s.topic_at = store(name);
    s.name_size = s.topic_size = static_cast<std::uint32_t>(name.size());
    sensors_.resize(++end_);
    (*this)[id] = s;
    by_name_.insert(hash_of(name), id);
    ++size_;
    return id;
}

void SensorTable::remove(Id id)
{
    unindex(id);
    const std::string_view n = name(id);
    by_name_.erase(by_name_.find(hash_of(n), [id](Id x) { return x == id; }));
    Sensor &s = (*this)[id];
    unused_ += s.name_size + (s.topic_is_name ? 0 : s.topic_size);
    s.gone = true;
    --size_;
    note_waste();
}

void SensorTable::set_topic(Id id, std::string_view topic)
{
    Sensor &s = (*this)[id];
    if (s.indexed && prefix_of(topic) != prefix_of(this->topic(id)))
        unindex(id);
    if (topic == this->topic(id))
        return;
    if (!s.topic_is_name) {
        unused_ += s.topic_size;
        note_waste();
    }
    s.topic_is_name = topic == name(id);
    s.topic_at = s.topic_is_name ? s.name_at : store(topic);
    s.topic_size = static_cast<std::uint32_t>(topic.size());
}

std::size_t SensorTable::find_prefix(std::string_view prefix, std::uint32_t hash) const noexcept
{
    return by_prefix_.find(hash, [&](Id id) { return prefix_of(topic(id)) == prefix; });
}

SensorTable::Id SensorTable::first_under(std::string_view prefix) const noexcept
{
    const std::size_t at = find_prefix(prefix, hash_of(prefix));
    return at == Index::npos ? none : by_prefix_.id(at);
}

void SensorTable::index(Id id)
{
    Sensor &s = (*this)[id];
    if (s.indexed)
        return;
    s.next_under = none;
    s.indexed = true;
    const std::string_view prefix = prefix_of(topic(id));
    const std::uint32_t hash = hash_of(prefix);
    const std::size_t at = find_prefix(prefix, hash);
    if (at == Index::npos) {
        by_prefix_.insert(hash, id);
        return;
    }
    Id last = by_prefix_.id(at);
    while ((*this)[last].next_under != none)
        last = (*this)[last].next_under;
    (*this)[last].next_under = id;
}

void SensorTable::unindex(Id id)
{
    Sensor &s = (*this)[id];
    if (!s.indexed)
        return;
    s.indexed = false;
    const std::size_t at = find_prefix(prefix_of(topic(id)), hash_of(prefix_of(topic(id))));
    if (at == Index::npos)
        return;
    // The last sensor of the list takes the place of `id`.
    Id head = by_prefix_.id(at);
    Id *link = &head;
    while (*link != id)
        link = &(*this)[*link].next_under;
    Id *last = link;
    while ((*this)[*last].next_under != none)
        last = &(*this)[*last].next_under;
    const Id moved = *last;
    *last = none;
    if (moved != id) {
        (*this)[moved].next_under = s.next_under;
        *link = moved;
    }
    s.next_under = none;
    if (head == none)
        by_prefix_.erase(at);
    else
        by_prefix_.set(at, head);
}

void SensorTable::compact(const std::function<void(Id from, Id to)> &move)
{
    std::vector<Id> to(end_, none);
    std::string text;
    text.reserve(text_.size() - unused_);
    Id next = 0;
    for (Id from = 0; from < end_; ++from) {
        Sensor s = (*this)[from];
        if (s.gone)
            continue;
        const std::string_view n = name(from), t = topic(from);
        s.name_at = static_cast<std::uint32_t>(text.size());
        text += n;
        if (s.topic_is_name) {
            s.topic_at = s.name_at;
        } else {
            s.topic_at = static_cast<std::uint32_t>(text.size());
            text += t;
        }
        if (from != next)
            move(from, next);
        (*this)[next] = s;
        to[from] = next++;
    }
    sensors_.resize(next);
    end_ = next;
    for (Id id = 0; id < end_; ++id)
        if ((*this)[id].next_under != none)
            (*this)[id].next_under = to[(*this)[id].next_under];
    by_name_.renumber(to);
    by_prefix_.renumber(to);
    text_.swap(text);
    unused_ = 0;
    compaction_due_ = false;
}

}  // namespace dht::rules
