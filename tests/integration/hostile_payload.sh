#!/usr/bin/env bash
# dht-stats under one hostile message: a 3.5 MB MQTT payload with 200,000
# numeric keys is over --max-payload, reported with its topic and skipped; a
# reading after it still counts and SIGTERM still stops the tool. With the
# payload limit raised, --max-fields reports it instead; a stdin line with
# 105,000 keys is reported by --max-fields the same way. dht-rules skips a
# payload over its --max-payload too.
source "$(dirname "$0")/../lib/testlib.sh"
needs_mosquitto "it reads what mosquitto logs of its deliveries"
use_tools dht-stats
cd "$T"

# keys N: a JSON object with N numeric fields, "key0":0 ... on one line;
# short_keys N: "aaaa":1 ... (within --max-line for N up to 26^4).
keys() {
    awk -v n="$1" 'BEGIN { printf "{"; for (i = 0; i < n; i++) printf "%s\"key%d\":%d", i ? "," : "", i, i; print "}" }'
}
short_keys() {
    awk -v n="$1" 'BEGIN {
        a = "abcdefghijklmnopqrstuvwxyz"; printf "{"
        for (i = 0; i < n; i++) {
            k = ""; for (j = i; length(k) < 4; j = int(j / 26)) k = substr(a, j % 26 + 1, 1) k
            printf "%s\"%s\":1", i ? "," : "", k
        }
        print "}" }'
}
keys 200000 >big.json
size=$(stat -c %s big.json)
reading='{"temperature":21.5,"humidity":50}'

# exits_after_term PID WHAT: SIGTERM, then the process must be gone within 10 s
# and have exited 0.
exits_after_term() {
    local pid=$1 tries=500
    kill -TERM "$pid"
    while kill -0 "$pid" 2>/dev/null && (( tries-- > 0 )); do sleep 0.02; done
    kill -0 "$pid" 2>/dev/null && fail "$2: still running 10 s after SIGTERM"
    wait "$pid" || fail "$2: exit status $?: $(cat err)"
}

broker "$T/b"
# stats ID OUT FLAGS...: dht-stats on the test broker, subscribed to dht11/+/data;
# sends it the big payload and then a reading, and stops it once both arrived.
stats() {
    local id=$1 out=$2
    shift 2
    dht-stats -h 127.0.0.1 -p "$PORT" -i "$id" -t 'dht11/+/data' --format json "$@" >"$out" 2>err &
    local pid=$!
    PIDS+=("$pid")
    wait_subscribed "$id"
    pub -t dht11/x/data -f big.json
    pub -t dht11/kitchen/data -m "$reading"
    wait_for eval "[ \$(grep -c 'Sending PUBLISH to $id ' '$BROKER_LOG') -ge 2 ]" || fail "the broker did not deliver"
    wait_for grep -q 'skipped' err || fail "$id: nothing reported: $(cat err)"
    exits_after_term "$pid" "$id"
}

stats big big.out
assert_contains "over --max-payload" err "dht11/x/data: payload of $size bytes is over --max-payload (1048576 bytes) (skipped)"
assert_eq "the reading counts, the big payload is an error" "1 1 21.5" \
    "$(jq -r '"\(.total_received) \(.errors) \(.sensors["dht11/kitchen/data"].fields.temperature.mean)"' big.out)"
assert_eq "the big payload left no sensor" null "$(jq -c '.sensors["dht11/x/data"]' big.out)"
pass "a 3.5 MB payload is skipped by --max-payload, naming its topic; the next reading counts"

stats fields fields.out --max-payload 8000000 --max-fields 100
assert_contains "over --max-fields" err "dht11/x/data: 200000 numeric fields, over --max-fields (100) (skipped)"
assert_not_contains "within --max-payload" err "max-payload"
assert_eq "the reading counts" "1 1" "$(jq -r '"\(.total_received) \(.errors)"' fields.out)"
pass "with --max-payload raised, --max-fields skips the payload with 200,000 fields"

# stdin: a line of 950 KB with 105,000 keys, within --max-line, and a reading.
{
    rec dht11/x/data "$(short_keys 105000)"
    rec dht11/kitchen/data "$reading"
} >lines
timeout 60 dht-stats --format json <lines >stdin.out 2>err || fail "stdin: exit status $?: $(cat err)"
assert_contains "stdin over --max-fields" err "stdin:1: 105000 numeric fields, over --max-fields (16) (skipped)"
assert_eq "stdin: the reading counts" "1 1" "$(jq -r '"\(.total_received) \(.errors)"' stdin.out)"
pass "a stdin line with 105,000 fields is skipped by --max-fields (default 16)"

# dht-rules reads MQTT messages too: a payload over its --max-payload fires nothing.
use_tools dht-rules
padding=$(printf '%0200d' 0)
dht-rules -h 127.0.0.1 -p "$PORT" -i rules -t 'dht11/+/data' --max-payload 100 \
    -r "$DHT_SRC/scripts/rules/seed.rules" >rules.out 2>err &
pid=$!
PIDS+=("$pid")
wait_subscribed rules
pub -t dht11/big/data -m "{\"temperature\":-10,\"note\":\"$padding\"}"
pub -t dht11/kitchen/data -m '{"temperature":-10}'
wait_lines rules.out 1
exits_after_term "$pid" rules
assert_contains "dht-rules over --max-payload" err "dht11/big/data: payload of 229 bytes is over --max-payload (100 bytes) (skipped)"
assert_eq "alerts from the small payload only" dht11/kitchen/data "$(jq -r .sensor rules.out | sort -u)"
pass "dht-rules skips a payload over --max-payload, naming its topic"
