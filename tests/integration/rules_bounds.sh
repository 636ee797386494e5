#!/usr/bin/env bash
# dht-rules' bounds on its state, against a real mosquitto running the
# project's own ACL (an account writes only dht11/<account>/data and
# .../status): at most --max-sensors sensors, the placeholders of status
# topics included; readings and statuses beyond are skipped, said once and
# counted at the end, while the known sensors are still served. --state while
# running: the whole state once, then a journal line per change; at the end
# the whole state and no journal, and a restart goes on from it, as it does
# after SIGKILL from the state file and its journal. Then
# --forget-after over replayed records: a forgotten sensor's alert resolves,
# saying why, and the sensor leaves the state file; a `no data` rule as long
# as --forget-after is refused at the start and on SIGHUP.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-rules

mosquitto_passwd -c -b "$T/passwd" server server-pw 2>/dev/null
for a in s1 s2 s3 s4 s5; do mosquitto_passwd -b "$T/passwd" "$a" "$a-pw"; done
broker "$T/b" "allow_anonymous false
password_file $T/passwd
acl_file $DHT_SRC/scripts/mosquitto/acl"
as() { local who=$1; shift; pub -u "$who" -P "$who-pw" "$@"; }
start_rules() {
    local before
    before=$(grep -c 'Received SUBSCRIBE from rules$' "$BROKER_LOG" || true)
    bg dht-rules -h "127.0.0.1:$PORT" -u server -P server-pw -i rules -q 1 -v \
        -t 'dht11/+/data' -t 'dht11/+/status' --max-sensors 3 --state "$T/state" \
        -e 'cold: temperature < 5 -> alert' -e 'silent: no data for 1h -> alert' >"$T/alerts" 2>"$T/err"
    rules_pid=$BG_PID
    wait_subscribed rules "$BROKER_LOG" $((before + 2))  # one SUBSCRIBE a topic
}
alerts() { jq -r '"\(.rule) \(.state) \(.sensor)"' "$T/alerts"; }

start_rules
# One at a time: the first alert writes the state file, the others the journal.
as s1 -t dht11/s1/data -m '{"temperature":1}'
wait_lines "$T/alerts" 1
as s2 -t dht11/s2/data -m '{"temperature":1}'
wait_lines "$T/alerts" 2
as s3 -t dht11/s3/status -m offline  # known from its status only: the third sensor
wait_lines "$T/alerts" 3
wait_for test -s "$T/state.journal" || fail "no journal: $(ls "$T")"
as s4 -t dht11/s4/data -m '{"temperature":1}'
as s5 -t dht11/s5/status -m offline
as s4 -t dht11/s4/data -m '{"temperature":1}'
as s1 -t dht11/s1/data -m '{"temperature":9}'
wait_lines "$T/alerts" 4
assert_eq "alerts for the three sensors tracked, none for the others" \
    "cold firing dht11/s1/data
cold firing dht11/s2/data
silent firing dht11/s3/data
cold resolved dht11/s1/data" "$(alerts)"
wait_for grep -q '"sensor":{"name":"dht11/s1/data"' "$T/state.journal" ||
    fail "the resolved alert is not in the journal: $(cat "$T/state.journal")"
assert_eq "the last change in the journal: the clock and the one sensor changed" '["clock"] dht11/s1/data' \
    "$(tail -n 2 "$T/state.journal" | jq -r 'if .clock then keys | tojson else .sensor.name end' | tr '\n' ' ' | sed 's/ $//')"
stop_pid "$rules_pid"
assert_eq "the cap said once" 1 "$(grep -c 'skipped: --max-sensors 3 sensors are tracked already' "$T/err")"
assert_contains "it names the first sensor skipped" "$T/err" 'sensor "dht11/s4/data" skipped'
assert_contains "and the count at the end" "$T/err" "3 records from sensors beyond --max-sensors 3 skipped"
assert_eq "the state file: the three sensors tracked" "dht11/s1/data dht11/s2/data dht11/s3/data" \
    "$(jq -r '[.sensors[].name] | sort | join(" ")' "$T/state")"
[ ! -e "$T/state.journal" ] || fail "a journal left at the end"
pass "--max-sensors: readings and statuses beyond it skipped, said once, counted; the state file and its journal"

start_rules
as s2 -t dht11/s2/data -m '{"temperature":9}'
as s4 -t dht11/s4/data -m '{"temperature":1}'
wait_lines "$T/alerts" 1
stop_pid "$rules_pid"
assert_eq "after a restart: s2's alert resolves, s4 is still beyond the cap" "cold resolved dht11/s2/data" "$(alerts)"
assert_contains "counted" "$T/err" "1 record from sensors beyond --max-sensors 3 skipped"
pass "a restart goes on from the state file"

# A crash: the alerts written before it are in the journal after the state
# file, and the next run reads both.
start_rules
as s1 -t dht11/s1/data -m '{"temperature":2}'
wait_lines "$T/alerts" 1
as s2 -t dht11/s2/data -m '{"temperature":2}'
wait_lines "$T/alerts" 2
wait_for grep -q '"name":"dht11/s2/data".*"firing":true' "$T/state.journal" ||
    fail "s2's alert is not in the journal: $(cat "$T/state.journal")"
kill -KILL "$rules_pid"
wait "$rules_pid" 2>/dev/null || true
start_rules
for who in s1 s2; do as $who -t dht11/$who/data -m '{"temperature":3}'; done
for who in s1 s2; do as $who -t dht11/$who/data -m '{"temperature":9}'; done
wait_lines "$T/alerts" 2
stop_pid "$rules_pid"
assert_eq "after SIGKILL: s1 and s2 fire still, and resolve" "cold resolved dht11/s1/data
cold resolved dht11/s2/data" "$(alerts)"
pass "after a crash, the state file and its journal give the alerts written before it"

# --forget-after, over history: a silent from 10:00, forgotten at 12:00; b
# silent from 10:00 too, but speaking again at 11:30 and 12:20.
{
    rec -t "$REC_T0" dht11/a/data '{"temperature":20}'
    rec -t "$REC_T0" dht11/b/data '{"temperature":20}'
    rec -t $((REC_T0 + 90 * 60)) dht11/b/data '{"temperature":20}'
    rec -t $((REC_T0 + 140 * 60)) dht11/b/data '{"temperature":20}'
} >"$T/history"
dht-rules --forget-after 2h -e 'silent: no data for 1h -> alert' --state "$T/forget.state" \
    <"$T/history" >"$T/alerts" 2>"$T/err" || fail "dht-rules: $(cat "$T/err")"
assert_eq "a's alert resolves when it is forgotten, saying so" \
    "silent firing dht11/a/data 2026-11-24T11:00:00.000Z
silent firing dht11/b/data 2026-11-24T11:00:00.000Z
silent resolved dht11/a/data 2026-11-24T12:00:00.000Z forgotten
silent resolved dht11/b/data 2026-11-24T11:30:00.000Z data" \
    "$(jq -r '"\(.rule) \(.state) \(.sensor) \(.timestamp)\(if .state == "resolved" then " \(.reason)" else "" end)"' \
        "$T/alerts" | sort)"
assert_contains "the message says why" "$T/alerts" \
    '"message":"silent resolved: no longer watching dht11/a/data, silent since 2026-11-24T10:00:00.000Z"'
assert_eq "a left the state file" "dht11/b/data" "$(jq -r '[.sensors[].name] | join(" ")' "$T/forget.state")"
assert_eq "--forget-after no longer than a no data rule" 64 \
    "$(exit_code dht-rules --forget-after 1h -e 'silent: no data for 1h -> alert' </dev/null 2>"$T/err")"
assert_contains "says why" "$T/err" "--forget-after 1h is not longer than rule 'silent' (no data for 1h)"
assert_eq "--max-sensors 0" 64 "$(exit_code dht-rules --max-sensors 0 -e 'a: t < 1 -> alert' </dev/null 2>/dev/null)"
pass "--forget-after: a forgotten sensor's alert resolves with a reason, and the sensor leaves the state"

# SIGHUP with a `no data` rule that --forget-after would cut short: refused,
# the rules in force stay.
mkfifo "$T/in"
printf 'cold: temperature < 5 -> alert\n' >"$T/live.rules"
exec 3<>"$T/in"  # a writer first, so that opening the FIFO to read does not block
dht-rules -r "$T/live.rules" --forget-after 1h --bare-topic dht11/x/data <"$T/in" >"$T/live.out" 2>"$T/live.err" 3>&- &
pid=$!
PIDS+=("$pid")
echo '{"temperature":1}' >&3
wait_lines "$T/live.out" 1 5
printf 'cold: temperature < 5 -> alert\nsilent: no data for 2h -> alert\n' >"$T/live.rules"
kill -HUP "$pid"
wait_for grep -q "keeping the rules in force" "$T/live.err" || fail "the rules were not refused: $(cat "$T/live.err")"
assert_contains "why" "$T/live.err" "--forget-after 1h is not longer than rule 'silent' (no data for 2h)"
echo '{"temperature":9}' >&3
wait_lines "$T/live.out" 2 5
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM: exit status $?"
exec 3>&-
assert_eq "the rules in force still ran" "cold firing
cold resolved" "$(jq -r '"\(.rule) \(.state)"' "$T/live.out")"
pass "SIGHUP: rules whose no data is not shorter than --forget-after are refused"
