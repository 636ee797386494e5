#include "fieldcheck.hpp"

#include "dht/diag.hpp"
#include "dht/text.hpp"

namespace dht::rules {

void FieldCheck::reset(const RuleSet &rules)
{
    left_ = rules.fields.empty() ? 0 : readings;
    seen_.assign(rules.fields.size(), false);
    paths_.clear();
}

void FieldCheck::message(const RuleSet &rules, const RecordScanner &scan,
                         const std::function<void(RecordScanner &)> &rescan)
{
    if (left_ == 0 || !scan.payload_is_object() || scan.payload_is_record())
        return;  // judged already, or not a reading
    const FieldValue *values = scan.values();
    for (std::size_t i = 0; i < seen_.size(); ++i)
        if (values[i].type != FieldValue::Type::missing)
            seen_[i] = true;
    rescan(probe_);
    for (const auto &n : probe_.numbers())
        if (paths_.size() < 64)
            paths_.emplace(n.path);
    if (--left_ == 0)
        judge(rules);
}

void FieldCheck::judge(const RuleSet &rules) const
{
    std::string seen;
    for (const auto &p : paths_)
        seen += (seen.empty() ? "" : ", ") + p;
    for (std::size_t i = 0; i < seen_.size(); ++i) {
        if (seen_[i])
            continue;
        const auto &field = rules.fields[i];
        Nearest nearest(field, field.size() / 3 + 1);
        for (const auto &p : paths_)
            nearest.offer(p);
        warn(cat("no reading among the first ", readings, " has the field '", printable(field),
                 "' the rules compare: they cannot fire (numeric fields seen: ", seen.empty() ? "none" : printable(seen),
                 ")", nearest.best().empty() ? "" : cat("; did you mean '", printable(nearest.best()), "'?")));
    }
}

}  // namespace dht::rules
