// What people read: incidents as a table for `list` on a terminal, and the
// policy in force for --check. Text from alerts is shown with its control
// characters escaped, so a sensor name cannot drive the terminal.
#pragma once

#include "incidents.hpp"
#include "policy.hpp"

#include "dht/text.hpp"
#include "dht/time.hpp"

#include <string>
#include <vector>

namespace dht::escalate {

// The table of `list`: 80 columns for the usual names (the AGE of an
// incident, not the time it opened); `wide` adds OPENED and ALERTS.
std::string render_table(const std::vector<Incident> &incidents, TimePoint now, bool wide = false);
// The table of `silence list`: ID, SENSOR, RULE, ENDS (in how long), BY, COMMENT.
std::string render_silences(const std::vector<Silence> &silences, TimePoint now);
std::string describe_policy(const EscalationPolicy &policy);
// "250ms", "90s", "15m", "1h", "2d": as a policy file would spell it
std::string duration_text(std::chrono::nanoseconds d);
// "45s", "12m", "3h", "2d"
std::string age_text(std::chrono::nanoseconds age);

}  // namespace dht::escalate
