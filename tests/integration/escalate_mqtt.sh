#!/usr/bin/env bash
# dht-escalate on a real mosquitto: alerts from -t dht11/alerts, escalations
# seen by the seed's operator (`-F "@Y-@m-@d @H:@M:@S | %p"` on
# dht11/alerts/escalation), the other events on dht11/incidents, answers on
# dht11/incidents/response and from the CLI, events delivered before exit,
# bad answers skipped, and an unreachable broker.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-escalate dht-rules
broker "$T/b"
db=$T/inc.db

# The operators: the seed's view of escalations, and the other events.
dht-sub -h 127.0.0.1 -p "$PORT" -i op1 -q 1 -t dht11/alerts/escalation -F "@Y-@m-@d @H:@M:@S | %p" >"$T/op1" 2>/dev/null &
PIDS+=($!)
wait_subscribed op1
listen op2 "$T/op2" -t dht11/incidents

dht-escalate -h 127.0.0.1 -p "$PORT" -i esc -q 1 -t dht11/alerts --db "$db" --escalate-after 3s --max-level 3 \
    >"$T/out" 2>"$T/err" &
pid=$!
PIDS+=("$pid")
wait_subscribed esc

# dht-rules publishes the seed's freeze: escalated at once.
echo '{"temperature":-1.5,"humidity":65.3}' |
    dht-rules -h 127.0.0.1 -p "$PORT" -r "$DHT_SRC/scripts/rules/seed.rules" --bare-topic dht11/kitchen/data \
        --publish dht11/alerts >/dev/null
wait_lines "$T/op1" 1
line=$(head -n 1 "$T/op1")
[[ $line =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ \|\ \{ ]] || fail "not the seed's format: $line"
assert_eq "the seed's escalation payload" '1 escalation 1 2 freeze dht11/kitchen/data' \
    "$(echo "${line#* | }" | jq -r '"\(.incident_id) \(.event) \(.from_level) \(.to_level) \(.rule) \(.sensor)"')"
wait_lines "$T/op2" 1
assert_eq "opened on dht11/incidents" "1 opened" "$(head -n 1 "$T/op2" | jq -r '"\(.incident_id) \(.event)"')"
pass "an alert from dht-rules over MQTT: opened on dht11/incidents, escalated on dht11/alerts/escalation in the seed's format"

# An operator answers over MQTT: acknowledged, and the climb stops.
pub -t dht11/incidents/response -m '{"incident_id":1,"action":"ack","by":"ana"}'
wait_lines "$T/op2" 2
assert_eq "acknowledged by ana" "1 acknowledged ana" "$(sed -n 2p "$T/op2" | jq -r '"\(.incident_id) \(.event) \(.by)"')"
sleep 3.5  # past the climb to level 3 that the ack stopped
assert_eq "no climb after the ack" 1 "$(wc -l <"$T/op1")"
pass "ack over MQTT: published on dht11/incidents, the climb stops"

# Climbs on time while nobody answers; a CLI ack (no broker) reaches MQTT
# through the daemon; a CLI resolve with a broker publishes itself.
pub -t dht11/alerts -m '{"kind":"alert","rule":"cold","state":"firing","action":"alert","severity":"warning","sensor":"dht11/porch/data"}'
wait_lines "$T/op1" 2 10
assert_eq "cold climbs after 3 s" "2 escalation 1 2" "$(sed -n 2p "$T/op1" | sed 's/^[^|]*| //' | jq -r '"\(.incident_id) \(.event) \(.from_level) \(.to_level)"')"
dht-escalate --db "$db" ack 2 --by bob >/dev/null
wait_lines "$T/op2" 4 10
assert_eq "the CLI's ack, published by the daemon" "2 acknowledged bob" "$(sed -n 4p "$T/op2" | jq -r '"\(.incident_id) \(.event) \(.by)"')"
dht-escalate -h 127.0.0.1 -p "$PORT" --db "$db" resolve 2 --by bob >/dev/null 2>"$T/cli.err" || fail "resolve: $(cat "$T/cli.err")"
wait_lines "$T/op2" 5 10
assert_eq "resolved" "2 resolved bob" "$(sed -n 5p "$T/op2" | jq -r '"\(.incident_id) \(.event) \(.by)"')"
sleep 0.5
assert_eq "each event published once" 1 "$(grep -c '"event":"resolved"' "$T/op2")"
pass "a CLI ack reaches MQTT through the daemon at once; a CLI resolve with -h publishes itself, once"

# Bad answers are said and skipped; the daemon goes on.
pub -t dht11/incidents/response -m 'not json'
pub -t dht11/incidents/response -m '{"incident_id":"1; DROP TABLE incidents","action":"ack"}'
pub -t dht11/incidents/response -m '{"incident_id":77,"action":"ack"}'
pub -t dht11/incidents/response -m '{"incident_id":1,"action":"resolve","by":"ana"}'
wait_lines "$T/op2" 6 10
assert_contains "not JSON" "$T/err" "dht11/incidents/response: invalid JSON: syntax error (skipped)"
assert_contains "a wrong id type" "$T/err" 'dht11/incidents/response: answer: "incident_id" is not a positive integer (skipped)'
assert_contains "an unknown incident" "$T/err" "dht11/incidents/response: incident 77: no such incident"
assert_eq "the good answer after them" "1 resolved ana" "$(sed -n 6p "$T/op2" | jq -r '"\(.incident_id) \(.event) \(.by)"')"
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM: exit status $?: $(cat "$T/err")"
# (The resolve published by the CLI is printed by the daemon too.)
assert_eq "stdout holds every event the operators got" \
    "$(sed 's/^[^|]*| //' "$T/op1"; cat "$T/op2")" "$( (grep '"escalation"' "$T/out"; grep -v '"escalation"' "$T/out") )"
pass "bad answers skipped with a message; stdout and MQTT carry the same events"

# From stdin to MQTT, stopped at once: the events are delivered before exit.
: >"$T/op3"
listen op3 "$T/op3" -t dht11/alerts/escalation -C 1
sub=$BG_PID
echo '{"kind":"alert","rule":"freeze","state":"firing","action":"escalate","sensor":"dht11/cellar/data"}' |
    dht-escalate -h 127.0.0.1 -p "$PORT" --db "$T/stdin.db" >"$T/out" 2>"$T/err" || fail "$(cat "$T/err")"
wait "$sub" || fail "the escalation never arrived"
assert_eq "each event printed once" "opened escalation" "$(jq -r .event "$T/out" | paste -sd' ' -)"
assert_eq "delivered before exit" "freeze dht11/cellar/data 2" "$(jq -r '"\(.rule) \(.sensor) \(.to_level)"' "$T/op3")"
pass "alerts on stdin: the escalation is delivered at QoS 1 before the tool exits"

# No broker within --connect-timeout: 69, and the events stay in the outbox.
rc=0
echo '{"kind":"alert","rule":"cold","state":"firing","sensor":"s"}' |
    dht-escalate -h 127.0.0.1 -p "$(free_port)" --connect-timeout 1s --db "$T/down.db" >/dev/null 2>"$T/err" || rc=$?
assert_eq "no broker" 69 "$rc"
assert_eq "the events wait in the outbox" "0 opened" "$(sqlite3 "$T/down.db" 'SELECT published, event FROM incident_events' | tr '|' ' ')"
dht-escalate -h 127.0.0.1 -p "$PORT" --db "$T/down.db" tick >"$T/out" 2>"$T/err" || fail "tick: $(cat "$T/err")"
assert_eq "a later run delivers them" "opened" "$(jq -r .event "$T/out")"
pass "an unreachable broker past --connect-timeout exits 69; the events wait for the next run"

# Events written without a broker (an ack, a tick) wait for one: a tick with no
# broker prints them but leaves them unpublished; an ack whose broker is down
# exits 69 and leaves its event waiting too.
db=$T/later.db
echo '{"kind":"alert","rule":"cold","state":"firing","sensor":"s"}' | dht-escalate --db "$db" >/dev/null
dht-escalate --db "$db" ack 1 --by ana >/dev/null
dht-escalate --db "$db" tick >/dev/null
rc=0
dht-escalate -h 127.0.0.1 -p "$(free_port)" --connect-timeout 1s --db "$db" resolve 1 >/dev/null 2>&1 || rc=$?
assert_eq "resolve -h with no broker" 69 "$rc"
assert_eq "nothing published yet" 3 "$(sqlite3 "$db" 'SELECT count(*) FROM incident_events WHERE published = 0')"
listen op4 "$T/op4" -t dht11/incidents -C 3
sub=$BG_PID
dht-escalate -h 127.0.0.1 -p "$PORT" --db "$db" tick >/dev/null 2>"$T/err" || fail "tick: $(cat "$T/err")"
wait "$sub" || fail "the waiting events never arrived"
assert_eq "all three, in order" "opened acknowledged resolved" "$(jq -r .event "$T/op4" | paste -sd' ' -)"
pass "events written without a broker wait in the database until a process with one publishes them"
