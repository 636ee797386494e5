#!/usr/bin/env bash
# dht-sensor-sim on a real mosquitto: the readings of each sensor and their
# payload, byte format and count; the same values again with the same --seed;
# a cold snap through 5 and 0 degrees; a dead device's last will, sent by the
# broker and retained; Home Assistant discovery, retained and sent again when
# Home Assistant comes back; the shared topic and the extra keys; bad flags.
source "$(dirname "$0")/../lib/testlib.sh"
needs_mosquitto "it reads in mosquitto's log how each client disconnected"
export PATH="$DHT_BIN/dht-sensor-sim:$PATH"
broker "$T/b"
sim() { dht-sensor-sim -h 127.0.0.1 -p "$PORT" "$@"; }
# watch TOPIC FILE: a subscriber writing "topic payload" lines to FILE; its PID in WATCH_PID.
watchers=0
watch() {
    local id=watch$((++watchers))
    bg mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -i "$id" -t "$1" -v >"$2"
    WATCH_PID=$BG_PID
    wait_subscribed "$id"
}
# retained TOPIC_FILTER: the retained messages under it, "topic payload", sorted.
retained() {
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "$1" -v --retained-only -W 1 2>/dev/null | sort || true
}

# Bad flags: 64, before any connection (a flag let through would show as 69).
bad() {
    local rc=0
    dht-sensor-sim -h 127.0.0.1 -p "$(free_port)" --connect-timeout 1 "$@" >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" = 64 ] || fail "dht-sensor-sim $*: exit status $rc, expected 64: $(cat "$T/err")"
}
bad --sensors 0
bad --sensors 301
bad --profile warm
bad --profile normal,warm
bad --model dht21
bad --interval 500ms
bad --model dht22 --interval 1s
bad --interval soon
assert_contains "the flag named" "$T/err" "--interval: 'soon' is not a duration"
bad --interval 25h
assert_contains "its bound said" "$T/err" "--interval: '25h' is more than 1d"
bad --interval 0.5
assert_contains "a bare number is seconds" "$T/err" "--interval: a DHT11 cannot be read more often than every 1s"
bad --rate 0
bad --rate 10 --interval 5s
bad --count -1
bad --names a,a
bad --names 'bad id'
bad --sensors 1 --names a,b
bad --with colour
bad --prefix 'dht11/#'
bad --publish 'dht11/+/data'
bad --sensors 2 -i one
bad --will-topic x
bad -t 'dht11/#'
bad --nope
dht-sensor-sim --help >"$T/help" || fail "--help failed"
for flag in --sensors --interval --count --profile --seed --rate --prefix --discovery --publish-qos; do
    assert_contains "--help" "$T/help" "$flag"
done
dht-sensor-sim --version | grep -Eq '^dht-sensor-sim [0-9.]+ \(libmosquitto [0-9.]+\)$' || fail "--version"
pass "bad flags exit 64; --help and --version"

# Three sensors, a reading a second, three readings each, the seed's payload.
watch 'dht11/#' "$T/all"
sim --sensors 3 --interval 1s --count 3 --seed 1 2>"$T/err" || fail "exit status $?: $(cat "$T/err")"
wait_lines "$T/all" 15  # per sensor: online, 3 readings, offline
for s in sim-1 sim-2 sim-3; do
    assert_eq "readings of $s" 3 "$(grep -c "^dht11/$s/data " "$T/all")"
    assert_eq "statuses of $s" "online offline" "$(grep "^dht11/$s/status " "$T/all" | cut -d' ' -f2 | xargs)"
done
grep '/data ' "$T/all" | cut -d' ' -f2- >"$T/payloads"
grep -Evx '\{"temperature":-?[0-9]+\.[0-9]{2},"humidity":[0-9]+\.[0-9]{2}\}' "$T/payloads" &&
    fail "payloads not in the seed's format"
assert_eq "retained statuses after a clean end" \
    "dht11/sim-1/status offline dht11/sim-2/status offline dht11/sim-3/status offline" "$(retained 'dht11/+/status' | xargs)"
pass "3 sensors x 3 readings in the seed's format; online, then offline at the end, retained"

# The same seed, the same values, sensor by sensor; another seed, others.
run_values() {  # run_values FILE SEED
    watch 'dht11/+/data' "$1"
    local w=$WATCH_PID
    sim --sensors 3 --profile normal,flaky,humid --rate 300 --count 40 --seed "$2" 2>"$T/err" ||
        fail "exit status $?: $(cat "$T/err")"
    wait_lines "$1" 80  # the flaky sensor's come on top
    sleep 0.2
    stop_pid "$w"
}
run_values "$T/v1" 2
run_values "$T/v2" 2
run_values "$T/v3" 3
for s in sim-1 sim-2 sim-3; do
    diff <(grep "^dht11/$s/" "$T/v1") <(grep "^dht11/$s/" "$T/v2") >/dev/null ||
        fail "$s: different values with the same seed"
done
assert_eq "normal and humid readings" 80 "$(grep -c -e sim-1 -e sim-3 "$T/v1")"
[ "$(grep -c sim-2 "$T/v1")" -lt 40 ] || fail "the flaky sensor failed no reading"
diff -q <(grep sim-1 "$T/v1") <(grep sim-1 "$T/v3") >/dev/null && fail "another seed gave the same values"
pass "--seed: the same readings twice, other ones with another seed"

# A cold snap: from above 5 degrees through 5 and 0.
watch 'dht11/cellar/data' "$T/cold"
sim --names cellar --profile cold --count 12 --rate 50 --seed 5 2>"$T/err" || fail "$(cat "$T/err")"
wait_lines "$T/cold" 12
cut -d' ' -f2 "$T/cold" | jq -r .temperature >"$T/temps"
awk 'NR == 1 && $1 <= 5 { exit 1 } END { if ($1 >= 0) exit 1 }' "$T/temps" ||
    fail "not from above 5 to below 0: $(xargs <"$T/temps")"
awk '$1 < 5 && $1 >= 0 { n++ } END { exit n > 0 ? 0 : 1 }' "$T/temps" || fail "nothing between 0 and 5"
pass "cold: $(head -n 1 "$T/temps") down to $(tail -n 1 "$T/temps") degrees"

# A device that dies: no DISCONNECT, the broker publishes its will, retained,
# while the rest of the fleet still runs.
: >"$T/status"
watch 'dht11/+/status' "$T/status"
sim --names alive,doomed --profile normal,dead --count 10 --rate 10 --seed 3 -v 2>"$T/err" || fail "$(cat "$T/err")"
assert_contains "the sim says so" "$T/err" "doomed: dies after"
wait_for eval "[ \$(grep -cE '^dht11/(alive|doomed)/' '$T/status') -ge 4 ]" || fail "statuses: $(cat "$T/status")"
grep -E '^dht11/(alive|doomed)/' "$T/status" >"$T/ours"  # the earlier runs' retained statuses aside
assert_eq "births" "dht11/alive/status online dht11/doomed/status online" "$(grep ' online$' "$T/ours" | sort | xargs)"
# The will while the fleet runs; the live one says offline itself at the end.
assert_eq "offline: the will first" "dht11/doomed/status offline dht11/alive/status offline" \
    "$(grep ' offline$' "$T/ours" | xargs)"
assert_contains "the connection dropped, no DISCONNECT" "$BROKER_LOG" "Client dht-doomed closed its connection."
assert_not_contains "no DISCONNECT from the dead one" "$BROKER_LOG" "Received DISCONNECT from dht-doomed"
assert_contains "a clean DISCONNECT from the live one" "$BROKER_LOG" "Received DISCONNECT from dht-alive"
assert_eq "the will is retained" "dht11/doomed/status offline" "$(retained dht11/doomed/status)"
pass "dead: the broker published its last will, retained, before the fleet stopped"

# Home Assistant discovery: retained configs; sent again when HA says online.
watch 'homeassistant/sensor/+/config' "$T/ha"
sim --names kitchen --discovery --interval 1s --count 4 --seed 1 2>"$T/err" &
simpid=$!
PIDS+=("$simpid")
wait_lines "$T/ha" 2
mosquitto_pub -h 127.0.0.1 -p "$PORT" -t homeassistant/status -m online
wait_lines "$T/ha" 4 5
wait "$simpid" || fail "exit status $?: $(cat "$T/err")"
assert_eq "configs sent twice" "2 2" "$(grep -c kitchen_temperature "$T/ha") $(grep -c kitchen_humidity "$T/ha")"
retained 'homeassistant/#' >"$T/ha-retained"
assert_eq "retained configs" "homeassistant/sensor/kitchen_humidity/config homeassistant/sensor/kitchen_temperature/config" \
    "$(cut -d' ' -f1 "$T/ha-retained" | xargs)"
grep kitchen_temperature "$T/ha-retained" | cut -d' ' -f2- | jq -e '
    .device_class == "temperature" and .state_class == "measurement" and .unit_of_measurement == "°C" and
    .state_topic == "dht11/kitchen/data" and .availability_topic == "dht11/kitchen/status" and
    .payload_available == "online" and .payload_not_available == "offline" and .expire_after == 3 and
    .unique_id == "kitchen_temperature"' >/dev/null || fail "temperature config: $(cat "$T/ha-retained")"
pass "discovery: retained configs, sent again on homeassistant/status online"

# The seed's single topic for every sensor, and the extra keys.
watch 'dht11/sensor/data' "$T/shared"
sim --sensors 2 --publish dht11/sensor/data --with time,rssi --rate 20 --count 3 --seed 2 2>"$T/err" ||
    fail "$(cat "$T/err")"
wait_lines "$T/shared" 6
cut -d' ' -f2 "$T/shared" | jq -r '[.sensor, (keys_unsorted | join(","))] | join(" ")' | sort | uniq -c |
    awk '{print $1, $2, $3}' >"$T/keys"
assert_eq "keys and readings per sensor" "3 sim-1 temperature,humidity,sensor,time,rssi
3 sim-2 temperature,humidity,sensor,time,rssi" "$(cat "$T/keys")"
cut -d' ' -f2 "$T/shared" | jq -r .time | grep -Evx '20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z' &&
    fail "time not RFC 3339 UTC with milliseconds"
pass "--publish: one topic, each reading with its sensor; --with time,rssi"

# A load test as fast as the broker takes it: every reading delivered, and
# the end reached (the rate is a ceiling, not a debt).
bg mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -i load -t 'load/+/data' -v -C 10000 -W 60 >"$T/load"
load=$BG_PID
wait_subscribed load
timeout 60 dht-sensor-sim -h 127.0.0.1 -p "$PORT" --prefix load --sensors 4 --rate 1000000 --count 2500 --seed 9 -v \
    2>"$T/err" || fail "load test: exit status $?: $(cat "$T/err")"
assert_contains "the summary" "$T/err" "4 sensors: 10000 published, 0 failed, 0 dropped"
wait "$load" || fail "the subscriber got $(wc -l <"$T/load") of 10000 readings"
for s in sim-1 sim-2 sim-3 sim-4; do
    assert_eq "readings of $s" 2500 "$(grep -c "^load/$s/data " "$T/load")"
done
pass "--rate: $(grep -oE '[0-9.]+ readings a second' "$T/err") delivered by 4 sensors, none lost"

# No broker within --connect-timeout: 69.
rc=0
dht-sensor-sim -h 127.0.0.1 -p "$(free_port)" --connect-timeout 1 --count 1 2>/dev/null || rc=$?
assert_eq "unreachable broker" 69 "$rc"
pass "an unreachable broker past --connect-timeout exits 69"
