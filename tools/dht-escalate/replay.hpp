// Backtesting: alerts from history (their own timestamps) through a policy,
// in a database of their own in memory, with the records' time for the
// clock. What would this policy have done last month? The incident events
// it would have written, on stdout, and the pages it would have sent,
// counted on stderr; no broker, no command run, nothing stored.
#pragma once

#include "policy.hpp"

#include "dht/cli.hpp"

namespace dht::escalate {

struct ReplayOptions {
    CommonOptions common;
    bool auto_resolve = true;
    int min_severity = 0;
};

int replay(const EscalationPolicy &policy, const ReplayOptions &o);

}  // namespace dht::escalate
