#!/usr/bin/env bash
# dht-rules' health rules on a real mosquitto, fed by simulated sensors: the
# attic's DHT11 repeats its first reading for ever (the `stuck` profile), the
# kitchen's is well. `unchanged for` fires for the attic only, and the
# threshold rule written `unless unhealthy` fires for the kitchen but not for
# the attic, while the same rule without it fires for both.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-rules dht-sensor-sim
broker "$T/b"
to=(-h 127.0.0.1 -p "$PORT")

# Every room is above 5 degrees: warm fires after 12 readings, long after
# the attic's temperature has been the same for 5 seconds. The kitchen's 14
# readings (--seed 1) hold no value three times in a row: a late reading
# cannot make it look stuck.
cat >"$T/health.rules" <<'EOR'
stuck: temperature unchanged for 5s -> alert warning
warm:  temperature > 5 for 12 readings -> alert unless unhealthy
plain: temperature > 5 for 12 readings -> alert
EOR
bg dht-rules "${to[@]}" -i rules -t 'dht11/+/data' -t 'dht11/+/status' -r "$T/health.rules" >"$T/alerts" 2>"$T/err"
rules=$BG_PID
wait_subscribed rules "$BROKER_LOG" 2
bg dht-sensor-sim "${to[@]}" --names kitchen,attic --profile normal,stuck --interval 1s --count 14 --seed 1 2>/dev/null

fired() { jq -r 'select(.state == "firing") | "\(.rule) \(.sensor)"' "$T/alerts" | sort; }
# Twelve readings each at 1 s: up to 40 s on a loaded machine.
for _ in 1 2 3 4; do
    ! wait_for eval 'fired | grep -q "^plain dht11/attic/data$"' || break
done
fired | grep -q "^plain dht11/attic/data$" || fail "plain never fired for the attic: $(cat "$T/alerts" "$T/err")"
wait_for eval 'fired | grep -q "^warm dht11/kitchen/data$"' || fail "warm never fired for the kitchen: $(fired)"
assert_eq "what fired" "plain dht11/attic/data
plain dht11/kitchen/data
stuck dht11/attic/data
warm dht11/kitchen/data" "$(fired)"
assert_eq "stuck at the attic's first value" \
    "$(jq -r 'select(.rule == "plain" and .sensor == "dht11/attic/data") | .value' "$T/alerts")" \
    "$(jq -r 'select(.rule == "stuck") | .value' "$T/alerts")"
stop_pid "$rules"
pass "a stuck sensor fires unchanged for; unless unhealthy keeps its threshold rule quiet, not the kitchen's"
