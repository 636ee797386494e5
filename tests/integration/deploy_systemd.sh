#!/usr/bin/env bash
# The units of scripts/systemd, run: every ExecStart started as its unit would
# start it, with /etc/dht from scripts/systemd/etc-dht, against a real
# mosquitto, InfluxDB and carbon (paths moved into a temp dir), each checked to
# do its job: a reading stored, alerted, escalated, notified, served as a
# metric, exported; ExecReload; a clean stop.
source "$(dirname "$0")/../lib/testlib.sh"
source "$here/deploy.sh"
install_machine --exporters
start_units "${units[@]}"
wait_port "$SPORT"

# A freezing reading: stored, alerted (freeze: escalate critical), an incident
# opened and escalated at once to level 2, both notified, a metric, two points.
freeze
wait_stored
assert_eq "dht-record stores the payload" '{"temperature":-1.5,"humidity":65.3}' \
    "$(count "SELECT payload FROM messages WHERE topic = 'dht11/kitchen/data'" | jq -c .)"
wait_lines "$T/dht-rules.out" 1
assert_eq "dht-rules: the seed's freeze rule" "freeze firing -1.5 dht11/kitchen/data" \
    "$(jq -r 'select(.rule == "freeze") | "\(.rule) \(.state) \(.value) \(.sensor)"' "$T/dht-rules.out")"
wait_lines "$T/dht-escalate.out" 2
assert_eq "dht-escalate: an incident, escalated at once" "opened 1 freeze
escalation 2 freeze" "$(jq -r '"\(.event) \(.level) \(.rule)"' "$T/dht-escalate.out" | head -n 2)"
wait_lines "$T/escalations" 1
assert_eq "the operators see the seed's escalation keys" "1 escalation 1 2 true" \
    "$(head -n 1 "$T/escalations" | jq -r '"\(.incident_id) \(.event) \(.from_level) \(.to_level) \(.timestamp != null)"')"
wait_for eval 'grep -lq "\"event\":\"opened\"" "$T"/notified/notify-slack.* 2>/dev/null' ||
    fail "level 1: notify-slack never ran: $(cat "$T/dht-escalate.err")"
wait_for eval 'grep -lq "\"event\":\"escalation\"" "$T"/notified/notify-telegram.* 2>/dev/null' ||
    fail "level 2: notify-telegram never ran: $(cat "$T/dht-escalate.err")"
grep -hx -- "--webhook-file $R/etc/dht/slack-webhook" "$T"/notified/notify-slack.* >/dev/null ||
    fail "notify-slack's arguments: $(head -n 1 "$T"/notified/notify-slack.*)"
metric() { curl -sf "http://127.0.0.1:$SPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
wait_for eval '[ "$(metric "mqtt_temperature_celsius{sensor=\"dht11/kitchen/data\"}")" = -1.5 ]' ||
    fail "dht-stats: no mqtt_temperature_celsius -1.5 on :$SPORT: $(curl -s "http://127.0.0.1:$SPORT/metrics" | grep -v '^#')"
if [ -n "$have_influx" ]; then
    iq() { curl -sf "http://127.0.0.1:$IPORT/query?db=dht" --data-urlencode "q=$1" | jq -c '.results[0].series[0].values[0][1:]'; }
    wait_for eval '[ "$(iq "SELECT temperature, location FROM dht11")" = "[-1.5,\"server_room\"]" ]' ||
        fail "InfluxDB: $(iq 'SELECT * FROM dht11') ($(cat "$T/dht-export-influx.err"))"
fi
if [ -n "$have_carbon" ]; then
    wsp=$T/carbon/whisper/dht11/kitchen/temperature.wsp
    wait_for eval '[ -f "$wsp" ] && /usr/bin/whisper-fetch --from=$(( $(date +%s) - 60 )) "$wsp" | grep -qE "[[:space:]]-1\.50*$"' ||
        fail "carbon: no dht11.kitchen.temperature -1.5 ($(cat "$T/dht-export-graphite.err"))"
fi
pass "a reading: stored, alerted, escalated to level 2, on Slack and Telegram, a Prometheus gauge${have_influx:+, in InfluxDB}${have_carbon:+, in Graphite}"

# ExecReload: SIGHUP reads the rules and the policy again.
for u in dht-rules dht-escalate; do
    reload=$(unit_values "$sysd/$u.service" ExecReload)
    mapfile -d '' -t argv < <(split "${reload//\$MAINPID/${pid[$u]}}")
    "${argv[@]}" || fail "$u: ExecReload failed"
done
wait_for grep -q 'SIGHUP' "$T/dht-rules.err" || fail "dht-rules: no sign of SIGHUP: $(cat "$T/dht-rules.err")"
wait_for grep -q 'SIGHUP: reading the policy again' "$T/dht-escalate.err" ||
    fail "dht-escalate: no sign of SIGHUP: $(cat "$T/dht-escalate.err")"
! grep -q 'keeping the\|error' "$T/dht-rules.err" "$T/dht-escalate.err" || fail "a reload refused the files"

# Each ran at least 2 s and is still running: no usage (64), missing file (66)
# or configuration (78) error, no crash.
sleep "$("$py" -c "import time; print(max(0, 2 - (time.time() - $STARTED)))")"
for u in "${units[@]}"; do exited "$u" || true; done
pass "ExecReload (SIGHUP) of dht-rules and dht-escalate; all six still running after 2 s"

# systemctl stop: SIGTERM, and each exits 0 having finished its work.
stop_units "${units[@]}"
[ -s "$R/var/lib/dht-rules/rules.state" ] || fail "dht-rules left no state in /var/lib/dht-rules"
[ -n "$have_influx" ] && { [ -z "$(ls -A "$R/var/lib/dht-export-influx")" ] || fail "influx: points left in the spool"; }
[ -n "$have_carbon" ] && { [ -z "$(ls -A "$R/var/lib/dht-export-graphite")" ] || fail "graphite: lines left in the spool"; }
[ "$(stat -c %a "$db")" = 600 ] || fail "dht.db: mode $(stat -c %a "$db"), UMask=0077 asks for 600"
pass "SIGTERM: all six exit 0; the rules' state kept, the spools empty"
