#!/usr/bin/env bash
# Retiring a sensor, as dht-rules(1) and dht-tools(7) say: a retained
# `offline` status fires `no data` at every start of dht-rules until the
# retained message is deleted (mosquitto_pub -r -n), and with --state until
# the sensor is also taken out of the state file. dht-sub's --retained-only
# -W example shows the statuses and ends with 75, taken as success.
source "$(dirname "$0")/../lib/testlib.sh"
[ "$DHT_TEST_BROKER" != rabbitmq ] || skip "it reads retained statuses on a wildcard subscription (dht11/+/status)"
use_tools dht-rules dht-sub
broker "$T/b"
rules=(-e 'silent: no data for 10m -> alert warning' -e 'probe: temperature < -100 -> alert')

# start_rules ID [ARGS...]: dht-rules on the broker until a probe reading has
# gone through: the alerts of the retained statuses, which the broker sends on
# subscribing (to the second topic), come before it. $T/alerts.ID has
# "RULE REASON SENSOR" for each alert, the probe's as "probe".
start_rules() {
    local id=$1 pid
    shift
    dht-rules -h 127.0.0.1 -p "$PORT" -i "rules-$id" -t 'dht11/+/data' -t 'dht11/+/status' "${rules[@]}" "$@" \
        >"$T/out.$id" 2>"$T/err.$id" &
    pid=$!
    PIDS+=("$pid")
    wait_subscribed "rules-$id" "$BROKER_LOG" 2
    pub -t "dht11/probe-$id/data" -m '{"temperature":-200}'  # a new sensor each time: with --state too
    wait_for grep -q '"rule":"probe"' "$T/out.$id" || fail "no probe alert: $(cat "$T/err.$id")"
    kill -TERM "$pid"
    wait "$pid" || fail "dht-rules: exit status $?: $(cat "$T/err.$id")"
    jq -r 'select(.state == "firing") | "\(.rule) \(.reason // "-") \(.sensor)"' "$T/out.$id" |
        sed "s|dht11/probe-$id/data|probe|" >"$T/alerts.$id"
}

# A simulated sensor's last will, retained.
pub -r -t dht11/ghost/status -m offline
rc=0
dht-sub -h 127.0.0.1 -p "$PORT" -t 'dht11/+/status' --retained-only -v -W 5 >"$T/statuses" || rc=$?
assert_eq "--retained-only -W ends with the timeout" 75 "$rc"
assert_eq "... having printed the retained statuses" "dht11/ghost/status offline" "$(cat "$T/statuses")"
dht-sub -h 127.0.0.1 -p "$PORT" -t 'dht11/+/status' --retained-only -v -W 2 >/dev/null || [ $? -eq 75 ] ||
    fail "the documented '|| [ \$? -eq 75 ]' does not succeed"
rc=0
mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'dht11/+/status' --retained-only -v -W 1 >/dev/null 2>&1 || rc=$?
assert_eq "mosquitto_sub --retained-only -W ends with its timeout status too" 27 "$rc"
pass "dht-sub --retained-only -W shows the retained statuses and ends with 75 (mosquitto_sub: 27), as documented"

want_silent="silent offline dht11/ghost/data
probe - probe"
start_rules 1
assert_eq "a retained offline fires silent" "$want_silent" "$(cat "$T/alerts.1")"
start_rules 2
assert_eq "... again at the next start" "$want_silent" "$(cat "$T/alerts.2")"
start_rules 3 --state "$T/rules.state"
assert_eq "... and with --state" "$want_silent" "$(cat "$T/alerts.3")"

# The documented way: delete the retained status (an empty retained message).
mosquitto_pub -h 127.0.0.1 -p "$PORT" -r -n -t dht11/ghost/status
dht-sub -h 127.0.0.1 -p "$PORT" -t 'dht11/+/status' --retained-only -v -W 2 >"$T/statuses" || [ $? -eq 75 ]
assert_eq "the broker holds no status any more" "" "$(cat "$T/statuses")"
start_rules 4
assert_eq "without --state, the next start knows nothing of the sensor" "probe - probe" "$(cat "$T/alerts.4")"
pass "a retained offline status fires silent at every start; mosquitto_pub -r -n retires the sensor"

# With --state the file remembers the sensor and its alert, firing: no new
# record, never resolved, until the sensor is taken out of the file.
assert_eq "the state still holds the sensor" "true" \
    "$(jq '[.sensors[] | select(.name == "dht11/ghost/data")] | length == 1' "$T/rules.state")"
start_rules 5 --state "$T/rules.state"
assert_eq "... a start writes no alert for it" "" "$(grep ghost "$T/alerts.5" || true)"
assert_eq "... and its alert is still firing" "true" \
    "$(jq '.sensors[] | select(.name == "dht11/ghost/data") | .rules.silent.firing' "$T/rules.state")"
f=$T/rules.state
jq -c 'del(.sensors[] | select(.name == "dht11/ghost/data"))' "$f" >"$T/rules.new" && cat "$T/rules.new" >"$f"
start_rules 6 --state "$f"
[ ! -e "$f.bad" ] || fail "the edited state file was refused: $(cat "$T/err.6")"
assert_eq "after the documented jq, the state forgets the sensor" "0" \
    "$(jq '[.sensors[] | select(.name == "dht11/ghost/data")] | length' "$f")"
assert_eq "... and keeps the others" "dht11/probe-3/data dht11/probe-5/data dht11/probe-6/data" \
    "$(jq -r '[.sensors[].name] | sort | join(" ")' "$f")"
pass "with --state, the sensor is retired by taking it out of the state file"
