#!/usr/bin/env bash
# A sensor speaks only for itself. Against a real mosquitto running the
# project's own ACL (an account writes only dht11/<account>/data), the kitchen
# account names other sensors in its payloads: a cellar whose freeze alert is
# firing, and made-up ones. The topic names the sensor, so the cellar's alert
# stays firing and no made-up sensor gets an alert; the ignored names are
# said once and counted. On a topic declared shared (--shared-topic, the
# seed's dht11/sensor/data), the payload's "sensor" does name the sensor.
source "$(dirname "$0")/../lib/testlib.sh"
rules=${DHT_SRC:?}/scripts/rules/seed.rules

mosquitto_passwd -c -b "$T/passwd" server server-pw 2>/dev/null
for a in kitchen cellar sensor; do mosquitto_passwd -b "$T/passwd" "$a" "$a-pw"; done
broker "$T/b" "allow_anonymous false
password_file $T/passwd
acl_file $DHT_SRC/scripts/mosquitto/acl"

bg "$DHT_BIN/dht-rules/dht-rules" -h "127.0.0.1:$PORT" -u server -P server-pw -i rules -q 1 \
    -t 'dht11/+/data' -r "$rules" --shared-topic dht11/sensor/data >"$T/alerts" 2>"$T/rules.err"
rules_pid=$BG_PID
wait_subscribed rules
as() { local who=$1; shift; pub -u "$who" -P "$who-pw" "$@"; }

as cellar -t dht11/cellar/data -m '{"temperature":-1.5,"humidity":60}'
wait_lines "$T/alerts" 1
assert_contains "the cellar's freeze" "$T/alerts" '"rule":"freeze","state":"firing"'
# The kitchen, on its own topic, claims to be the cellar (a warm reading that
# would resolve the freeze), then 50 made-up sensors at -50 °C.
as kitchen -t dht11/kitchen/data -m '{"temperature":20,"humidity":50,"sensor":"dht11/cellar/data"}'
for i in $(seq 1 50); do
    printf '{"temperature":-50,"humidity":50,"sensor":"ghost-%d"}\n' "$i"
done | as kitchen -t dht11/kitchen/data -l
# The shared topic: the seed's account "sensor" publishes for the attic.
as sensor -t dht11/sensor/data -m '{"temperature":-3,"humidity":50,"sensor":"attic"}'
wait_for grep -q '"sensor":"attic"' "$T/alerts" || fail "no alert for the attic: $(cat "$T/alerts")"
stop_pid "$rules_pid"

assert_not_contains "the cellar's freeze resolved by the kitchen" "$T/alerts" '"state":"resolved"'
assert_not_contains "a made-up sensor" "$T/alerts" 'ghost'
assert_eq "firing alerts: the cellar's, the kitchen's own freeze, the attic's" \
    "attic dht11/cellar/data dht11/kitchen/data" \
    "$(jq -r 'select(.rule == "freeze") | .sensor' "$T/alerts" | sort -u | tr '\n' ' ' | sed 's/ $//')"
assert_eq "the ignored name said once" 1 "$(grep -c 'may not speak for: the topic names it' "$T/rules.err")"
assert_contains "and counted" "$T/rules.err" "51 records named a sensor its topic may not speak for"
pass "a sensor's payload cannot speak for another sensor; on --shared-topic it names its sensor"

# The same rule in the tools that read records: dht-stats counts one sensor.
for i in 1 2 3; do
    rec dht11/kitchen/data "{\"temperature\":2$i,\"sensor\":\"fake-$i\"}"
done >"$T/in"
"$DHT_BIN/dht-stats/dht-stats" --format json <"$T/in" >"$T/stats" 2>"$T/stats.err"
assert_eq "dht-stats' sensors" '["dht11/kitchen/data"]' "$(jq -c '.sensors | keys' "$T/stats")"
"$DHT_BIN/dht-stats/dht-stats" --format json --shared-topic 'dht11/#' <"$T/in" >"$T/stats" 2>/dev/null
assert_eq "dht-stats' sensors on a shared topic" '["fake-1","fake-2","fake-3"]' "$(jq -c '.sensors | keys' "$T/stats")"
assert_eq "a bad filter" 64 "$(exit_code "$DHT_BIN/dht-stats/dht-stats" --shared-topic 'a/#/b' </dev/null 2>/dev/null)"
pass "dht-stats: the topic names the sensor unless the topic is shared"
