#!/usr/bin/env bash
# dht-rules --report: history through rules, a table of what fired instead
# of the alerts: counts, time firing and the longest spell in the records'
# own time, a spell still firing at the end counted to the last record, and
# the flags it refuses.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-rules
# The cellar, every 10 minutes from 10:00 to 12:30: cold (below 5) from 10:20
# until 10:50, again from 11:30 to the end (12:30); the attic never.
{
    for i in $(seq 0 15); do
        t=$((REC_T0 + i * 600))
        case $i in 2|3|4|9|10|11|12|13|14|15) temp=3.5 ;; *) temp=12.5 ;; esac
        rec -t "$t" dht11/cellar/data "{\"temperature\":$temp,\"humidity\":60}"
        rec -t "$t" dht11/attic/data '{"temperature":21.5,"humidity":40}'
    done
} >"$T/history"
dht-rules -e 'cold: temperature < 5 -> alert' --report <"$T/history" >"$T/report" || fail "exit $?"
cat >"$T/want" <<'EOW'
RULE  SENSOR             FIRED  FIRING  LONGEST  NOW
cold  dht11/cellar/data  2      90m     1h       firing
EOW
diff "$T/want" "$T/report" >&2 || fail "the report differs"
# The same history's alerts, for comparison: two firings, one resolution.
assert_eq "the alerts behind it" "firing resolved firing" \
    "$(dht-rules -e 'cold: temperature < 5 -> alert' <"$T/history" | jq -r .state | tr '\n' ' ' | sed 's/ $//')"
pass "fired twice, 90m in all (30m, then 1h still firing at 12:30), the longest 1h"

dht-rules -e 'hot: temperature > 40 -> alert' --report <"$T/history" >"$T/none"
assert_eq "nothing fired" "no rule fired" "$(cat "$T/none")"
assert_eq "with --pass" 64 "$(exit_code dht-rules -e 'cold: temperature < 5 -> alert' --report --pass </dev/null 2>/dev/null)"
assert_eq "with --publish" 64 \
    "$(exit_code dht-rules -e 'cold: temperature < 5 -> alert' --report --publish x </dev/null 2>/dev/null)"
pass "--report: nothing fired says so; it refuses --pass and --publish"
