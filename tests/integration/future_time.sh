#!/usr/bin/env bash
# Times at the edges: a record from the future is refused as bad input
# (--max-skew) by dht-rules and dht-stats; a time near the end of 64-bit
# nanoseconds (2261) neither overflows a timer nor a window; a record from
# before 1970 keeps its place in dht-stats.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-rules dht-stats
cd "$T"

mild='{"temperature":20,"humidity":50}'
hour_ago=$(($(date +%s) - 3600))
future() { echo "{\"kind\":\"message\",\"timestamp\":\"$1\",\"topic\":\"$2\",\"payload\":$3,\"qos\":0,\"retain\":false}"; }

# dht-rules --state: the 2099 record is reported and skipped, and the saved clock stays now.
{ rec -t "$hour_ago" dht11/a/data "$mild"; future 2099-01-01T00:00:00.000Z dht11/a/data "$mild"; } >"$T/in1"
dht-rules -e 'silent: no data for 10m -> alert' --clock records --state "$T/st" <"$T/in1" >"$T/out1" 2>"$T/err1"
assert_contains "the 2099 record is reported" "$T/err1" \
    "dht-rules: stdin:2: timestamp 2099-01-01T00:00:00.000Z is more than 1h ahead of the clock (skipped)"
assert_not_contains "the state holds no time from 2099" "$T/st" "2099-"
# Reloaded: sensor a is silent since an hour ago, which another sensor's record half an hour later shows.
rec -t $((hour_ago + 1800)) dht11/b/data "$mild" |
    dht-rules -e 'silent: no data for 10m -> alert' --clock records --state "$T/st" >"$T/out2"
assert_eq "a's no data fires after the state is reloaded" "dht11/a/data firing" \
    "$(jq -r '"\(.sensor) \(.state)"' "$T/out2")"
dht-rules -e 'silent: no data for 10m -> alert' --max-skew 0 <"$T/in1" >"$T/out3" 2>"$T/err3"
assert_not_contains "--max-skew 0 lets any time through" "$T/err3" "ahead of the clock"
future 2026-11-24T10:00:00Z dht11/a/data "$mild" | dht-rules -e 'silent: no data for 10m -> alert' --max-skew 30s >/dev/null
assert_eq "a bad --max-skew is a usage error" 64 \
    "$(exit_code dht-rules -e 'silent: no data for 10m -> alert' --max-skew soon </dev/null 2>/dev/null)"
pass "dht-rules: a record from the future is skipped; the no-data rule still watches its sensor"

# 2261: the timers and the windows end at the end of time, without overflow.
{ rec dht11/a/data "$mild"; future 2261-12-31T00:00:00.000Z dht11/a/data "$mild"; } >"$T/late"
dht-rules -e 'silent: no data for 200d -> alert' --repeat 200d --max-skew 0 --clock wall <"$T/late" >"$T/out4"
assert_eq "no data for 200d after 2261 never comes due" \
    "firing 2027-06-12T10:00:00.000Z
firing 2261-12-31T00:00:00.000Z
resolved 2261-12-31T00:00:00.000Z" "$(jq -r '"\(.state) \(.timestamp)"' "$T/out4")"
dht-stats --every 200d --max-skew 0 --format json <"$T/late" >"$T/stats1"
assert_eq "--every 200d: a window for each record, then the summary" "window window summary" \
    "$(jq -r .scope "$T/stats1" | paste -sd' ')"
assert_eq "the last window ends at the end of time" "2261-11-11T00:00:00.000Z 2262-04-11T23:47:16.854Z" \
    "$(jq -r 'select(.scope == "window") | "\(.from) \(.until)"' "$T/stats1" | tail -n 1)"
dht-stats --every 200d --format json <"$T/late" >"$T/stats2" 2>"$T/err2"
assert_contains "dht-stats reports the 2261 record" "$T/err2" \
    "dht-stats: stdin:2: timestamp 2261-12-31T00:00:00.000Z is more than 1h ahead of the clock (skipped)"
assert_eq "and counts it as an error" 1 "$(jq 'select(.scope == "summary") | .errors' "$T/stats2")"
pass "2261: timers and windows saturate; the default skew refuses such a record"

# 1969: the latest reading is the latest, also before 1970.
{ rec -t -86400 dht11/old/data '{"temperature":-5}'; rec -t -172800 dht11/old/data '{"temperature":-7}'; } |
    dht-stats --format json >"$T/stats3"
assert_eq "last, last_time and last_seen of a 1969 record" "-5 1969-12-31T00:00:00.000Z 1969-12-31T00:00:00.000Z" \
    "$(jq -r '.sensors["dht11/old/data"] | "\(.fields.temperature.last) \(.fields.temperature.last_time) \(.last_seen)"' "$T/stats3")"
assert_eq "min and max" "-7 -5" \
    "$(jq -r '.sensors["dht11/old/data"].fields.temperature | "\(.min) \(.max)"' "$T/stats3")"
pass "dht-stats: a record from 1969 is the latest when it is"
