#!/usr/bin/env bash
# The seed's whole system around a real broker: a simulated cold snap in the
# cellar through dht-sub | dht-record --tee | dht-rules --publish dht11/alerts,
# dht-escalate on the alerts, an archive of alerts and incidents, and the
# operator's view. Checks that the operator receives the seed's escalation
# payload, that an answer over MQTT acknowledges, and that the history, the
# alerts and the incidents are all where they should be.
source "$(dirname "$0")/../lib/testlib.sh"
for tool in dht-record dht-rules dht-escalate dht-stats dht-sensor-sim; do PATH="$DHT_BIN/$tool:$PATH"; done
broker "$T/b"
db=$T/dht.db
mqtt=(-h 127.0.0.1 -p "$PORT")

# The operator (the seed's command, with dht-sub) and the incidents feed.
dht-sub "${mqtt[@]}" -i op -q 1 -t dht11/alerts/escalation -F "@Y-@m-@d @H:@M:@S | %p" >"$T/operator" 2>/dev/null &
PIDS+=($!)
mosquitto_sub "${mqtt[@]}" -i feed -q 1 -t dht11/incidents >"$T/feed" 2>/dev/null &
PIDS+=($!)

# The pipeline, each piece by PID: readings to history to rules.
mkfifo "$T/p1" "$T/p2"
dht-sub "${mqtt[@]}" -i sub -q 1 -t 'dht11/+/data' -t 'dht11/+/status' >"$T/p1" 2>"$T/sub.err" &
sub=$!
dht-record --db "$db" --tee <"$T/p1" >"$T/p2" 2>"$T/record.err" &
record=$!
dht-rules "${mqtt[@]}" -r "$DHT_SRC/scripts/rules/seed.rules" --publish dht11/alerts <"$T/p2" >"$T/alerts" 2>"$T/rules.err" &
rules=$!
dht-escalate "${mqtt[@]}" -i esc -q 1 -t dht11/alerts --db "$db" --escalate-after 2s --max-level 3 >"$T/incidents" 2>"$T/esc.err" &
esc=$!
# An archive of what the tools publish, in the same database.
dht-record "${mqtt[@]}" -i archive -q 1 -t dht11/alerts -t dht11/incidents --db "$T/archive.db" 2>"$T/archive.err" &
archive=$!
PIDS+=("$sub" "$record" "$rules" "$esc" "$archive")
for id in op feed sub esc archive; do wait_subscribed "$id"; done

# The cellar's cold snap, from 10 °C to -3 °C in 16 readings.
dht-sensor-sim "${mqtt[@]}" --names cellar --profile cold --interval 1s --count 16 --seed 7 2>"$T/sim.err" ||
    fail "dht-sensor-sim: $(cat "$T/sim.err")"

# freeze escalates at once (the seed's "escalade d'office"): the operator sees it.
wait_lines "$T/operator" 1 10
first=$(head -n 1 "$T/operator")
[[ $first =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ \|\ \{ ]] || fail "not the seed's view: $first"
payload=${first#* | }
for key in incident_id event from_level to_level timestamp; do
    [ "$(jq "has(\"$key\")" <<<"$payload")" = true ] || fail "the seed's key $key is missing: $payload"
done
assert_eq "the first escalation" "escalation 1 2" "$(jq -r '"\(.event) \(.from_level) \(.to_level)"' <<<"$payload")"
pass "the operator receives the seed's escalation payload in the seed's format"

# An operator acknowledges the freeze over MQTT: it stops climbing.
freeze=$(jq -r 'select(.rule == "freeze") | .incident_id' <<<"$payload")
mosquitto_pub "${mqtt[@]}" -q 1 -t dht11/incidents/response -m "{\"incident_id\":$freeze,\"action\":\"ack\",\"by\":\"ana\"}"
wait_for grep -q '"event":"acknowledged"' "$T/feed" || fail "no acknowledgement on dht11/incidents"
sleep 2.5  # past --escalate-after: cold (not acknowledged) climbs, freeze does not

# Stop the pipeline the way systemd would: the readers flush and commit.
for pid in "$sub" "$esc" "$archive"; do kill -TERM "$pid"; done
for pid in "$sub" "$record" "$rules" "$esc" "$archive"; do
    wait "$pid" || fail "a piece of the pipeline exited $? ($(cat "$T"/*.err))"
done

# History: every reading, in dht-record's public schema.
assert_eq "16 readings of the cellar" 16 "$(sqlite3 "$db" "SELECT count(*) FROM messages WHERE topic = 'dht11/cellar/data'")"
assert_eq "the cold snap's bottom" -3 "$(sqlite3 "$db" "SELECT min(json_extract(payload, '$.temperature')) FROM messages")"
assert_eq "the same numbers through dht-stats" "16 -3" \
    "$(dht-record query --db "$db" --topic dht11/cellar/data | dht-stats --format json |
        jq -r '.sensors["dht11/cellar/data"].fields.temperature | "\(.count) \(.min)"')"
pass "the history: every reading in SQLite, and the same numbers through dht-stats"

# Alerts: on dht-rules' stdout and, published, in the archive.
assert_eq "cold then freeze" "cold firing
freeze firing" "$(jq -r 'select(.state == "firing") | "\(.rule) \(.state)"' "$T/alerts")"
assert_eq "the alerts archived from MQTT" "$(jq -c . "$T/alerts")" \
    "$(dht-record query --db "$T/archive.db" --topic dht11/alerts | jq -c .payload)"
pass "the alerts: on stdout and on dht11/alerts, the same records"

# Incidents: in the database, on stdout, on MQTT.
# (cold climbs to the top; freeze climbed at once, then until the ack.)
assert_eq "the incidents" "cold open 3 critical-false
freeze acknowledged ana critical-true" \
    "$(dht-escalate --db "$db" list --json | jq -r '"\(.rule) \(.state) \(.acknowledged_by // .level) critical-\(.severity == "critical")"')"
assert_eq "no climb after the ack" acknowledged "$(dht-escalate --db "$db" show "$freeze" | jq -r .event | tail -n 1)"
assert_eq "stdout and MQTT carry the same events" \
    "$(jq -c 'select(.event != "escalation")' "$T/incidents")" "$(jq -c . "$T/feed")"
assert_eq "the archive has them" "$(jq -c 'select(.event != "escalation")' "$T/incidents")" \
    "$(dht-record query --db "$T/archive.db" --topic dht11/incidents | jq -c .payload)"
assert_eq "every escalation reached the operator" "$(jq -c 'select(.event == "escalation")' "$T/incidents")" \
    "$(sed 's/^[^|]*| //' "$T/operator" | jq -c .)"
pass "the incidents: in the database, on stdout, on dht11/incidents and dht11/alerts/escalation"
