#!/usr/bin/env bash
# dht-stats keeps bounded state however many sensors publish. Against a real
# mosquitto running the project's own ACL, the seed's account "sensor" names
# sensors on its shared topic dht11/sensor/data (--shared-topic), so it can
# make up as many as it likes: past --max-sensors they are skipped, said
# once and counted in /metrics and in the summary; fields past --max-fields
# likewise. Sensors silent longer than --forget-after are forgotten and make
# room for new ones.
source "$(dirname "$0")/../lib/testlib.sh"
stats=$DHT_BIN/dht-stats/dht-stats

mosquitto_passwd -c -b "$T/passwd" server server-pw 2>/dev/null
for a in kitchen sensor; do mosquitto_passwd -b "$T/passwd" "$a" "$a-pw"; done
broker "$T/b" "allow_anonymous false
password_file $T/passwd
acl_file $DHT_SRC/scripts/mosquitto/acl"
as() { local who=$1; shift; pub -u "$who" -P "$who-pw" "$@"; }

mport=$(free_port)
bg "$stats" -h "127.0.0.1:$PORT" -u server -P server-pw -i stats -q 1 -t 'dht11/+/data' \
    --shared-topic dht11/sensor/data --max-sensors 5 --max-fields 3 --forget-after 8s \
    --listen "127.0.0.1:$mport" --format json >"$T/out" 2>"$T/err"
stats_pid=$BG_PID
wait_subscribed stats
metrics() { curl -sf "http://127.0.0.1:$mport/metrics"; }
# until /metrics has the line LINE
wait_metric() {
    wait_for eval "curl -sf http://127.0.0.1:$mport/metrics | grep -qxF '$1'" ||
        fail "no [$1] in /metrics: $(metrics | grep -v '^#' | grep -v '^dht_field' | head -n 40)"
}

# The kitchen, on its own topic, with two fields and then two more: the third is kept.
as kitchen -t dht11/kitchen/data -m '{"temperature":21,"humidity":50}'
as kitchen -t dht11/kitchen/data -m '{"temperature":21.5,"a":1,"b":2}'
# 300 made-up sensors on the shared topic, one message each: four fit.
for i in $(seq 1 300); do printf '{"temperature":%d,"sensor":"ghost-%03d"}\n' "$((i % 40))" "$i"; done |
    as sensor -t dht11/sensor/data -l
wait_metric 'dht_records_skipped_total{reason="max-sensors"} 296'
metrics >"$T/scrape1"
assert_contains "five sensors tracked" "$T/scrape1" "dht_sensors 5"
assert_contains "the kitchen's fourth field" "$T/scrape1" 'dht_values_skipped_total{reason="max-fields"} 1'
assert_eq "received: the kitchen's two and four ghosts'" 6 \
    "$(grep '^dht_received_total ' "$T/scrape1" | cut -d' ' -f2)"
assert_eq "sensors in mqtt_messages_total" 5 "$(grep -c '^mqtt_messages_total{' "$T/scrape1")"
assert_eq "fields kept" 'a humidity temperature' \
    "$(grep '^dht_field_count{sensor="dht11/kitchen/data"' "$T/scrape1" | sed 's/.*field="\([^"]*\)".*/\1/' | sort | xargs)"
pass "past --max-sensors 5 and --max-fields 3, records and values are skipped and counted in /metrics"

# Silent for longer than --forget-after: forgotten, and a new sensor fits.
wait_metric 'dht_sensors_forgotten_total 5'
assert_contains "nothing tracked" <(metrics) "dht_sensors 0"
as sensor -t dht11/sensor/data -m '{"temperature":5,"sensor":"late"}'
wait_metric 'mqtt_messages_total{sensor="late"} 1'
stop_pid "$stats_pid"

assert_eq "the summary: the late sensor only" '["late"]' "$(jq -c 'select(.scope == "summary") | .sensors | keys' "$T/out")"
assert_eq "one warning for the sensors" 1 "$(grep -c 'skipped: --max-sensors 5 sensors are tracked already' "$T/err")"
assert_eq "one warning for the fields" 1 "$(grep -c 'skipped: the sensor has --max-fields 3 fields already' "$T/err")"
assert_contains "the count at exit" "$T/err" "296 records from sensors beyond --max-sensors 5 skipped"
assert_contains "the values at exit" "$T/err" "1 value of fields beyond --max-fields 3 per sensor skipped"
pass "--forget-after forgets silent sensors and makes room; one warning per cap, the counts at exit"
