#!/usr/bin/env bash
# dht-rules as a filter (no broker): the seed's rules over a cold snap, --check,
# --test, garbage on stdin, --strict, --pass, --state across runs, SIGHUP,
# SIGTERM, `no data` firing while the input is idle, and the clock modes.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-rules
seed=$DHT_SRC/scripts/rules/seed.rules
cd "$T"

# alerts FILE: "rule state value" per alert record.
alerts() { jq -r 'select(.kind == "alert") | "\(.rule) \(.state) \(.value)"' "$1"; }

# --check
dht-rules -r "$seed" --check 2>"$T/err" || fail "seed.rules does not check: $(cat "$T/err")"
assert_contains "--check" "$T/err" "3 rules, no errors"
printf 'ok: temperature < 5 -> alert\n\n# two errors below\nbad: temperature < five -> alert\nworse: humidity > 90 -> shout\n' >"$T/bad.rules"
assert_eq "--check on bad rules exits 78" 78 "$(exit_code dht-rules -r "$T/bad.rules" --check 2>"$T/err")"
assert_eq "the first error is FILE:LINE:COL: message" \
    "dht-rules: $T/bad.rules:4:20: expected a number after '<', found 'five'" "$(head -n 1 "$T/err")"
assert_contains "every error is reported" "$T/err" "$T/bad.rules:5:25: unknown action 'shout'"
assert_contains "a hint" "$T/err" "hint: the actions are alert, notify and escalate"
assert_eq "bad rules refuse to run too" 78 "$(exit_code dht-rules -r "$T/bad.rules" </dev/null 2>/dev/null)"
assert_eq "no rules is a usage error" 64 "$(exit_code dht-rules </dev/null 2>/dev/null)"
assert_eq "a missing rule file" 66 "$(exit_code dht-rules -r "$T/nope.rules" </dev/null 2>/dev/null)"
assert_eq "a bad --repeat" 64 "$(exit_code dht-rules -e 'a: t < 1 -> alert' --repeat soon </dev/null 2>/dev/null)"
pass "--check: 0 on good rules, 78 with FILE:LINE:COL and a hint for each error"

# The seed's rules over a cold snap: cold after 5 readings below 5, freeze below 0
# at once, humid above 90 until down to 85; each alert once when it starts and
# once when it ends.
{
    i=0
    for t in 8 6 4.5 4 3 2 1 -0.5 -1 0.5 2 6 7; do
        rec -t $((REC_T0 + i * 10)) dht11/sensor/data "{\"temperature\":$t,\"humidity\":80}"
        i=$((i + 1))
    done
    # humid's clear: wavering around 90 neither resolves nor fires again.
    i=20
    for h in 91 90 91 88 91 85; do
        rec -t $((REC_T0 + i * 10)) dht11/sensor/data "{\"temperature\":7,\"humidity\":$h}"
        i=$((i + 1))
    done
} >"$T/snap"
dht-rules -r "$seed" <"$T/snap" >"$T/out" 2>"$T/err" || fail "dht-rules failed: $(cat "$T/err")"
assert_eq "the seed's rules over a cold snap" \
    "cold firing 1
freeze firing -0.5
freeze resolved 0.5
cold resolved 6
humid firing 91
humid resolved 85" "$(alerts "$T/out")"
assert_eq "cold fires at the fifth reading below 5" "2026-11-24T10:01:00.000Z" \
    "$(jq -r 'select(.rule == "cold" and .state == "firing") | .timestamp' "$T/out")"
assert_eq "alert records carry the SPEC's keys" \
    '["action","field","kind","message","rule","sensor","severity","since","state","timestamp","topic","value"]' \
    "$(head -n 1 "$T/out" | jq -c 'keys')"
assert_eq "freeze escalates, critical" "escalate critical" \
    "$(jq -r 'select(.rule == "freeze") | "\(.action) \(.severity)"' "$T/out" | head -n 1)"
pass "cold after 5 readings, freeze at once, humid with hysteresis: one record when each starts and one when it ends"

# Bare payloads, as mosquitto_sub prints them.
printf '{"temperature":24.50,"humidity":65.30}\n{"temperature":-1,"humidity":65}\n' |
    dht-rules -r "$seed" --bare-topic dht11/sensor/data >"$T/out"
assert_eq "bare payloads" "freeze firing -1 dht11/sensor/data" "$(jq -r '"\(.rule) \(.state) \(.value) \(.sensor)"' "$T/out")"
pass "bare payloads from mosquitto_sub work"


# Garbage among the records: each bad line reported with its number, the rest
# handled exactly as if the bad lines were not there.
{
    head -n 3 "$T/snap"
    echo 'not json'
    echo '[1,2,3]'
    printf '{"kind":"message","topic":"x","payload":\xff}\n'
    echo '{"kind":"message","timestamp":"yesterday","topic":"x","payload":{}}'
    echo '{"kind":"message","timestamp":"2026-11-24T10:00:00Z","payload":{"temperature":1}}'
    echo '{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}'
    echo ''
    printf '{"kind":"message","timestamp":"2026-11-24T10:00:00Z","topic":"t","payload":{"temperature":"cold"}}\r\n'
    echo '{"kind":"message","timestamp":"2026-11-24T10:00:00Z","topic":"dht11/sensor/data","payload":{"humidity":95.5,"temperature":null}}'
    echo '{"kind":"alert","rule":"other","state":"firing"}'
    tail -n +4 "$T/snap"
} >"$T/dirty"
dht-rules -r "$seed" <"$T/dirty" >"$T/dirty.out" 2>"$T/err" || fail "garbage stopped dht-rules: $(cat "$T/err")"
dht-rules -r "$seed" <"$T/snap" >"$T/clean.out"
# The humid reading without a temperature fires humid only.
diff <(alerts "$T/clean.out" | grep -v humid) <(alerts "$T/dirty.out" | grep -v humid) ||
    fail "bad lines changed what the good ones gave"
assert_contains "line 4" "$T/err" "dht-rules: stdin:4: invalid JSON:"
assert_contains "line 5" "$T/err" "stdin:5: not a JSON object (skipped)"
assert_contains "line 6" "$T/err" "stdin:6: invalid UTF-8 (skipped)"
assert_contains "line 7" "$T/err" "stdin:7: \"timestamp\" is not an RFC 3339 time (skipped)"
assert_contains "line 8" "$T/err" "stdin:8: message record without a string \"topic\" (skipped)"
assert_contains "line 9" "$T/err" "stdin:9: nested too deep (skipped)"
assert_contains "line 10" "$T/err" "stdin:10: empty line (skipped)"
assert_contains "summary" "$T/err" "7 bad input lines skipped"
assert_eq "a reading without the field does not count: humid fires on its own" "humid firing 95.5" \
    "$(alerts "$T/dirty.out" | grep humid | head -n 1)"
rc=0
dht-rules -r "$seed" --strict <"$T/dirty" >/dev/null 2>"$T/err" || rc=$?
assert_eq "--strict stops at the first bad line" 65 "$rc"
assert_eq "--strict names it" "dht-rules: stdin:4: invalid JSON: syntax error" "$(head -n 1 "$T/err")"
pass "bad lines: one numbered error each, the good lines around them unaffected; --strict exits 65"

# --pass: every record, each before the alerts it causes.
dht-rules -r "$seed" --pass <"$T/snap" >"$T/out"
assert_eq "--pass forwards every input record" 19 "$(jq -r 'select(.kind == "message")' "$T/out" | jq -s length)"
assert_eq "--pass: the alert follows its record" \
    "message 2026-11-24T10:01:00.000Z
alert 2026-11-24T10:01:00.000Z" "$(jq -r '"\(.kind) \(.timestamp)"' "$T/out" | sed -n 7,8p)"
pass "--pass forwards the records, alerts after the record that caused them"

# --test: expectations met (0), and not met (1, FILE:LINE).
cat >"$T/seed.test" <<'TEST'
# The seed's rules: 4 readings below 5 are not enough; the fifth fires cold.
{"temperature":4,"humidity":50}
{"temperature":4,"humidity":50}
{"temperature":4,"humidity":50}
{"temperature":4,"humidity":50}
{"temperature":3.5,"humidity":50}
{"kind":"alert","rule":"cold","state":"firing","value":3.5,"timestamp":"2000-01-01T00:00:05Z"}
{"temperature":-1,"humidity":95}
{"kind":"alert","rule":"freeze","state":"firing","action":"escalate","severity":"critical"}
{"kind":"alert","rule":"humid","state":"firing","value":95}
TEST
dht-rules -r "$seed" --test "$T/seed.test" 2>"$T/err" || fail "--test failed: $(cat "$T/err")"
assert_contains "--test summary" "$T/err" "6 inputs, 3 expected alerts, all met"
sed 's/"value":95}/"value":96}/' "$T/seed.test" >"$T/wrong.test"
echo '{"temperature":20,"humidity":50}' >>"$T/wrong.test"
assert_eq "--test with a wrong expectation exits 1" 1 "$(exit_code dht-rules -r "$seed" --test "$T/wrong.test" 2>"$T/err")"
assert_contains "the failing line" "$T/err" "$T/wrong.test:10: expected {\"kind\":\"alert\",\"rule\":\"humid\",\"state\":\"firing\",\"value\":96}"
assert_contains "an alert nothing expected" "$T/err" "unexpected alert (from line 11)"
pass "--test: 0 when every expected alert comes, 1 with FILE:LINE for each miss"

# --state: counts and firing alerts survive restarts (cron, systemd).
st=$T/rules.state
head -n 4 "$T/snap" | dht-rules -r "$seed" --state "$st" >"$T/o1"
assert_eq "no alert yet (2 readings below 5)" 0 "$(wc -l <"$T/o1")"
assert_eq "state file mode" 600 "$(stat -c %a "$st")"
sed -n 5,7p "$T/snap" | dht-rules -r "$seed" --state "$st" >"$T/o2"
assert_eq "the count went on across the restart" "cold firing 1" "$(alerts "$T/o2")"
sed -n 8,9p "$T/snap" | dht-rules -r "$seed" --state "$st" >"$T/o3"
assert_eq "firing is remembered: cold does not fire again" "freeze firing -0.5" "$(alerts "$T/o3")"
sed -n 10,12p "$T/snap" | dht-rules -r "$seed" --state "$st" >"$T/o4"
assert_eq "and resolves in a later run" "freeze resolved 0.5
cold resolved 6" "$(alerts "$T/o4")"
echo '{"version": 1, "rules": [' >"$T/broken.state"
echo '{"temperature":-3}' | dht-rules -r "$seed" --state "$T/broken.state" >"$T/o5" 2>"$T/err"
assert_contains "a broken state file is set aside" "$T/err" "starting afresh, the file is kept as $T/broken.state.bad"
assert_eq "and the tool goes on" "freeze firing -3" "$(alerts "$T/o5")"
pass "--state: counts and firing alerts carry over across runs; a broken file is set aside"

# A live stream through a FIFO: SIGHUP, `no data` while idle, SIGTERM.
mkfifo "$T/in"
printf 'cold: temperature < 5 for 2 readings -> alert\nsilent: no data for 1s -> alert warning\n' >"$T/live.rules"
exec 3<>"$T/in"  # a writer first, so that opening the FIFO to read does not block
# (not through bg: a job started in a function would get /dev/null as stdin)
dht-rules -r "$T/live.rules" --state "$T/live.state" <"$T/in" >"$T/live.out" 2>"$T/live.err" 3>&- &
pid=$!
PIDS+=("$pid")
echo '{"temperature":4}' >&3
wait_lines "$T/live.out" 1 5
assert_eq "no data fires with no new input" "silent firing" \
    "$(jq -r '"\(.rule) \(.state)"' "$T/live.out")"
# Change one rule, keep the other: cold's count of 1 survives the reload.
printf 'cold: temperature < 5 for 2 readings -> alert\nhumid: humidity > 90 -> notify\n' >"$T/live.rules"
kill -HUP "$pid"
wait_for grep -q "2 rules in force" "$T/live.err" || fail "no reload: $(cat "$T/live.err")"
wait_lines "$T/live.out" 2 5
assert_eq "a removed rule's alert resolves" "silent resolved" "$(tail -n 1 "$T/live.out" | jq -r '"\(.rule) \(.state)"')"
echo '{"temperature":3}' >&3
wait_lines "$T/live.out" 3 5
assert_eq "an unchanged rule keeps its count across SIGHUP" "cold firing 3" "$(tail -n 1 "$T/live.out" | jq -r '"\(.rule) \(.state) \(.value)"')"
printf 'cold: temperature < 5 for 2 readings -> alert\nbroken: temperature <\n' >"$T/live.rules"
kill -HUP "$pid"
wait_for grep -q "keeping the rules in force" "$T/live.err" || fail "bad rules were not refused: $(cat "$T/live.err")"
mv "$T/live.rules" "$T/live.rules.away"
kill -HUP "$pid"
wait_for eval "[ \$(grep -c 'keeping the rules in force' '$T/live.err') -ge 2 ]" ||
    fail "a missing rule file on SIGHUP: $(cat "$T/live.err")"
echo '{"temperature":2}' >&3
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM: exit status $?"
exec 3>&-
assert_eq "the rules in force still ran" 3 "$(wc -l <"$T/live.out")"
assert_eq "SIGTERM saved the state" true "$(jq '.sensors[0].rules.cold.firing' "$T/live.state")"
pass "SIGHUP reloads, keeps unchanged rules' state, refuses bad or missing rules; no data fires while idle; SIGTERM saves"

# Clocks: a replay of old history fires `no data` only between records; --clock wall
# checks against the wall clock at the end too (a cron run).
mild='{"temperature":20,"humidity":50}'
{ rec dht11/a/data "$mild"; rec dht11/b/data "$mild"; rec -t $((REC_T0 + 1200)) dht11/a/data "$mild"; } >"$T/history"
dht-rules -e 'silent: no data for 10m -> alert' <"$T/history" >"$T/out"
# Alerts due at the same time come in the order their sensors were first heard of.
assert_eq "replay: silences between records, at record times, nothing at the end" \
    "dht11/a/data firing 2026-11-24T10:10:00.000Z
dht11/b/data firing 2026-11-24T10:10:00.000Z
dht11/a/data resolved 2026-11-24T10:20:00.000Z" "$(jq -r '"\(.sensor) \(.state) \(.timestamp)"' "$T/out")"
dht-rules -e 'silent: no data for 10m -> alert' --clock wall <"$T/history" >"$T/out"
assert_eq "--clock wall: a is silent now too" "dht11/a/data firing 2026-11-24T10:30:00.000Z" \
    "$(tail -n 1 "$T/out" | jq -r '"\(.sensor) \(.state) \(.timestamp)"')"
# A backlog read with --clock wall: one silence, at the end; no fire-and-resolve per old record.
for i in $(seq 0 12); do rec -t $((REC_T0 + i * 60)) dht11/c/data "$mild"; done >"$T/backlog"
dht-rules -e 'silent: no data for 10m -> alert' --clock wall <"$T/backlog" >"$T/out"
assert_eq "--clock wall on a backlog" "firing" "$(jq -r .state "$T/out" | paste -sd' ')"
pass "--clock: replays stay in record time; --clock wall checks against now at the end"

# Rules that cannot fire: no rule at all is an error, a field no reading has is told.
: >"$T/empty.rules"
printf '# comments only\n\n' >"$T/comments.rules"
for f in "$T/empty.rules" "$T/comments.rules"; do
    rc=$(exit_code dht-rules -r "$f" --check 2>"$T/err")
    assert_eq "$(basename "$f"): exit status" 78 "$rc"
    assert_contains "$(basename "$f")" "$T/err" "$f:1:1: no rules in this file"
done
rc=$(exit_code dht-rules -r "$T/comments.rules" -e 'cold: temperature < 5 -> alert' --check 2>"$T/err")
assert_eq "a file without rules beside good rules" 78 "$rc"
rc=$(exit_code dht-rules -r /etc --check 2>"$T/err")
assert_eq "-r a directory" 66 "$rc"
assert_contains "-r a directory" "$T/err" "/etc: Is a directory"
for i in $(seq 1 25); do rec -t $((REC_T0 + i)) dht11/k/data "{\"temperature\":$i,\"humidity\":40}"; done >"$T/typo.in"
dht-rules -e 'cold: temprature < 5 -> alert' -e 'wet: humidity > 90 -> alert' <"$T/typo.in" >/dev/null 2>"$T/err"
assert_eq "the misspelt field, told once" 1 "$(grep -c "the field 'temprature'" "$T/err")"
assert_contains "with the fields seen and the nearest" "$T/err" \
    "(numeric fields seen: humidity, temperature); did you mean 'temperature'?"
assert_not_contains "a field the readings have is not told" "$T/err" "'humidity'"
head -n 19 "$T/typo.in" | dht-rules -e 'cold: temprature < 5 -> alert' >/dev/null 2>"$T/err"
assert_not_contains "judged after 20 readings, not before" "$T/err" "temprature"
pass "no rules is an error; a field no reading has is told, with 'did you mean'"
