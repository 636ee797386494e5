#!/usr/bin/env bash
# dht-rules hears of a sensor that went offline while it was down, on every
# broker: the sensor's retained `offline` reaches dht-rules through the
# sensor's own status topic, which dht-rules subscribes to by name once it
# knows the sensor (here from --state), even where a retained message never
# reaches a wildcard subscription (RabbitMQ). A sensor never seen is heard of
# when its status topic is given by name with -t.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-rules
broker "$T/b"
rules() {
    dht-rules -h 127.0.0.1 -p "$PORT" -i rules -q 1 -t 'dht11/+/data' -t 'dht11/+/status' "$@" \
        --state "$T/state" -e 'silent: no data for 1h -> alert critical' >>"$T/out" 2>>"$T/err" &
    pid=$!
    PIDS+=("$pid")
}

# dht-rules sees the kitchen and the cellar, then stops.
rules -v
wait_subscribed rules
pub -t dht11/kitchen/data -m '{"temperature":20.00,"humidity":50.00}'
pub -t dht11/cellar/data -m '{"temperature":12.00,"humidity":70.00}'
for sensor in kitchen cellar; do
    wait_for grep -q "subscribing to dht11/$sensor/status by name" "$T/err" || fail "$sensor's reading not seen: $(cat "$T/err")"
done
kill -TERM "$pid"
wait "$pid" || fail "dht-rules exited $?: $(cat "$T/err")"
assert_eq "no alert yet" 0 "$(wc -l <"$T/out")"

# While it is down, the kitchen's device dies: its will, retained. The cellar's
# says online. The attic, never seen, is offline too.
pub -r -t dht11/kitchen/status -m offline
pub -r -t dht11/cellar/status -m online
pub -r -t dht11/attic/status -m offline

rules -t dht11/attic/status
wait_lines "$T/out" 2
sleep 1  # a third alert would come now
kill -TERM "$pid"
wait "$pid" || fail "dht-rules exited $?: $(cat "$T/err")"
assert_eq "the dead sensors reported, the live one not" "silent firing offline dht11/attic/data
silent firing offline dht11/kitchen/data" "$(jq -r '"\(.rule) \(.state) \(.reason) \(.sensor)"' "$T/out" | sort)"
pass "a sensor offline before dht-rules started is reported on $DHT_TEST_BROKER: known from --state, or named with -t"
