#!/usr/bin/env bash
# An incident event counts as published only once the broker acknowledged it.
# The broker hangs (SIGSTOP) while an incident climbs, the daemon is killed
# (-9) with events written but never acknowledged, the broker comes back and
# the daemon starts again: it sends what was not acknowledged, and a
# subscriber that was there before gets every level, 1 to 5, at least once.
# The broker dies with events in flight: the daemon connects to the next
# one, sends them again and marks them once acknowledged. An event the broker
# refuses (MQTT 5, its ACL) stays unpublished and is published by the next
# process the broker lets write.
source "$(dirname "$0")/../lib/testlib.sh"
needs_mosquitto "it kills mosquitto with -9, reads its log and uses its ACL file"
esc=$DHT_BIN/dht-escalate/dht-escalate
broker "$T/b"
alert='{"kind":"alert","rule":"hot","state":"firing","action":"alert","severity":"warning","sensor":"dht11/k/data"}'
# A persistent subscriber (-c): what the broker takes while it is away waits for it.
listen watcher "$T/seen" -c -t dht11/incidents -t dht11/alerts/escalation
flags=(--db "$T/e.db" -h 127.0.0.1 -p "$PORT" --escalate-after 2s --max-level 5)

mkfifo "$T/in"
exec 3<>"$T/in"
"$esc" "${flags[@]}" <"$T/in" >"$T/first.out" 2>"$T/first.err" 3>&- &
first=$!
PIDS+=("$first")
echo "$alert" >&3
wait_for grep -q '"to_level":2' "$T/seen" || fail "level 2 never reached the subscriber: $(cat "$T/first.err")"
kill -STOP "$BROKER_PID"
# Levels 3, 4 and 5 are written (and sent) while the broker hangs.
for _ in $(seq 300); do grep -q '"to_level":5' "$T/first.out" && break; sleep 0.1; done
grep -q '"to_level":5' "$T/first.out" || fail "the first daemon never reached level 5: $(cat "$T/first.out")"
kill -9 "$first"
{ wait "$first"; } 2>/dev/null || true
exec 3>&-
kill -CONT "$BROKER_PID"
"$esc" "${flags[@]}" </dev/null >/dev/null 2>"$T/second.err" || fail "the second daemon failed: $(cat "$T/second.err")"
wait_for grep -q '"to_level":5' "$T/seen" || true
grep -q '"event":"opened"' "$T/seen" || fail "level 1 (opened) never reached the subscriber"
for level in 2 3 4 5; do
    grep -q "\"to_level\":$level" "$T/seen" ||
        fail "level $level never reached the subscriber; it got: $(cat "$T/seen")"
done
assert_eq "every event published" 0 "$(sqlite3 "$T/e.db" 'SELECT count(*) FROM incident_events WHERE published = 0')"
pass "events written while the broker hung and the daemon died are sent by the next daemon: levels 1 to 5 arrive"

# Refused: the operators' account may not write dht11/incidents.
mosquitto_passwd -c -b "$T/passwd" operator op-pw 2>/dev/null
mosquitto_passwd -b "$T/passwd" server server-pw 2>/dev/null
broker "$T/acl" "allow_anonymous false
password_file $T/passwd
acl_file $DHT_SRC/scripts/mosquitto/acl"
listen watcher "$T/seen2" -u server -P server-pw -t dht11/incidents
as() { "$esc" --db "$T/r.db" -h 127.0.0.1 -p "$PORT" -V 5 -u "$1" -P "$2" "${@:3}"; }
refused() { as operator op-pw <<<"$alert" >/dev/null 2>"$T/refused.err"; }
allowed() { as server server-pw tick >/dev/null 2>"$T/tick.err"; }
assert_eq "an event refused" 69 "$(exit_code refused)"
assert_contains "said" "$T/refused.err" "the broker refused a publish to dht11/incidents: Not authorized"
assert_eq "it stays unpublished" 1 "$(sqlite3 "$T/r.db" 'SELECT count(*) FROM incident_events WHERE published = 0')"
assert_eq "tick with an account that may write" 0 "$(exit_code allowed)"
assert_eq "published now" 0 "$(sqlite3 "$T/r.db" 'SELECT count(*) FROM incident_events WHERE published = 0')"
wait_lines "$T/seen2" 1
assert_contains "the subscriber has it" "$T/seen2" '"event":"opened"'
pass "an event the broker refuses stays unpublished (69) and goes out with the next process allowed to write"

# The broker hangs, then dies (-9) with events unread in its socket: the
# daemon sends them again to the broker started in its place, and each is
# marked published once that one acknowledged it.
broker "$T/c"
mkfifo "$T/in3"
exec 4<>"$T/in3"
"$esc" --db "$T/c.db" -h 127.0.0.1 -p "$PORT" --escalate-after 1s --max-level 3 <"$T/in3" >/dev/null 2>"$T/third.err" 4>&- &
third=$!
PIDS+=("$third")
echo "$alert" >&4
published() { [ "$(sqlite3 "$T/c.db" "SELECT count(*) FROM incident_events WHERE published = 1" 2>/dev/null)" = "$1" ]; }
wait_for published 1 || fail "the opened event was never acknowledged: $(cat "$T/third.err")"
kill -STOP "$BROKER_PID"
dead=$BROKER_PID
wait_for eval '[ "$(sqlite3 "$T/c.db" "SELECT count(*) FROM incident_events" 2>/dev/null)" = 3 ]' ||
    fail "no escalation to level 3 while the broker hung"
kill -9 "$dead"
kill -CONT "$dead" 2>/dev/null || true
{ wait "$dead"; } 2>/dev/null || true
start_broker "$T/c" "$PORT" 2>/dev/null 4>&-  # not holding the daemon's input open
PIDS+=("$BROKER_PID")
exec 4>&-
rc=0
wait "$third" || rc=$?
assert_eq "the daemon's end" 0 "$rc"
assert_contains "it reconnected" "$T/third.err" "connected to 127.0.0.1:$PORT"
assert_eq "every event acknowledged and marked" 3 "$(sqlite3 "$T/c.db" 'SELECT count(*) FROM incident_events WHERE published = 1')"
assert_eq "no claim left" 0 "$(sqlite3 "$T/c.db" 'SELECT count(*) FROM incident_event_claims')"
assert_contains "the new broker had them" "$T/c/mosquitto.log" "dht11/alerts/escalation"
pass "events in flight when the broker died are sent again on reconnect and marked once acknowledged"
