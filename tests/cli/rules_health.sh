#!/usr/bin/env bash
# dht-rules' health rules over records (no broker): a value unchanged for an
# hour, a jump between two readings, a rise and a fall within a window, in the
# records' own time; `unless unhealthy` quieting a threshold rule for a
# glitching sensor and one whose status says sensor-error; an `unchanged for`
# run carried across two runs by --state; and the rules through --check,
# --test, --report and the field check.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-rules
cd "$T"

# alerts FILE: "rule state sensor value" per alert record.
alerts() { jq -r 'select(.kind == "alert") | "\(.rule) \(.state) \(.sensor) \(.value)"' "$1"; }

cat >"$T/health.rules" <<'EOR'
stuck:   temperature unchanged for 1h -> alert warning
glitch:  temperature jumps by 10 -> alert warning
warming: humidity rises by 20 within 10m -> notify
cooling: humidity falls by 20 within 10m -> notify
hot:     temperature > 40 -> escalate unless unhealthy
plain:   temperature > 40 -> alert
EOR
dht-rules -r "$T/health.rules" --check 2>"$T/err" || fail "the rules do not check: $(cat "$T/err")"
assert_contains "--check" "$T/err" "6 rules, no errors"
printf 'a: temperature unchanged for 1h and humidity > 5 -> alert\nb: temperature > 5 -> alert unless\n' >"$T/bad.rules"
assert_eq "a health condition with and: 78" 78 "$(exit_code dht-rules -r "$T/bad.rules" --check 2>"$T/err")"
assert_contains "where" "$T/err" "bad.rules:1:33: 'and' after a health condition"
assert_contains "the hint" "$T/err" "hint: a health condition is the whole condition: no and, or, not, for or clear with it"
assert_contains "unless without unhealthy" "$T/err" "bad.rules:2:35: expected 'unhealthy' after 'unless'"
pass "--check: the health rules check; a combined one and a bare 'unless' are errors with a hint"

# The cellar every 10 minutes for 70 minutes, stuck at 12.5 (its humidity
# moves: only the temperature is stuck), then back to life. The attic: a
# glitch to 85 and back, a real heat, then a sensor-error status while the
# heat alert fires. The porch: its humidity rises 22 points in two minutes,
# then falls 23.
cellar() {
    for i in "$@"; do
        rec -t $((REC_T0 + i * 600)) dht11/cellar/data "{\"temperature\":12.5,\"humidity\":$((60 + i))}"
    done
}
attic() { rec -t $((REC_T0 + 10000 + $1)) dht11/attic/"${3:-data}" "$2"; }
porch() { rec -t $((REC_T0 + 20000 + $1)) dht11/porch/data "{\"temperature\":10,\"humidity\":$2}"; }
{
    cellar 0 1 2 3 4 5 6 7
    rec -t $((REC_T0 + 4260)) dht11/cellar/data '{"temperature":12.7,"humidity":60}'
    attic 0 '{"temperature":20}'
    attic 60 '{"temperature":85}'
    attic 120 '{"temperature":20}'
    attic 180 '{"temperature":21}'
    attic 240 '{"temperature":30}'
    attic 300 '{"temperature":39}'
    attic 360 '{"temperature":41}'
    attic 400 '"sensor-error"' status
    attic 420 '{"temperature":35}'
    attic 450 '"online"' status
    attic 480 '{"temperature":35}'
    porch 0 40
    porch 60 45
    porch 120 62
    porch 180 63
    porch 700 63
    porch 960 40
    porch 1560 40
} >"$T/history"
dht-rules -r "$T/health.rules" <"$T/history" >"$T/out" 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
assert_eq "the alerts" "stuck firing dht11/cellar/data 12.5
stuck resolved dht11/cellar/data 12.7
glitch firing dht11/attic/data 85
plain firing dht11/attic/data 85
plain resolved dht11/attic/data 20
glitch resolved dht11/attic/data 21
plain firing dht11/attic/data 41
hot firing dht11/attic/data 41
plain resolved dht11/attic/data 35
hot resolved dht11/attic/data 35
warming firing dht11/porch/data 62
warming resolved dht11/porch/data 63
cooling firing dht11/porch/data 40
cooling resolved dht11/porch/data 40" "$(alerts "$T/out")"
assert_eq "stuck at the reading an hour after the first of 12.5" "2026-11-24T11:00:00.000Z" \
    "$(jq -r 'select(.rule == "stuck" and .state == "firing") | .timestamp' "$T/out")"
assert_eq "hot resolves only once the status says online" "2026-11-24T12:54:40.000Z" \
    "$(jq -r 'select(.rule == "hot" and .state == "resolved") | .timestamp' "$T/out")"
pass "unchanged for, jumps by, rises and falls by within; unless unhealthy quiets hot through a glitch and a sensor-error"

# --state: the stuck run begins in one run and fires in the next.
cellar 0 1 2 3 | dht-rules -r "$T/health.rules" --state "$T/rules.state" >"$T/first" 2>"$T/err" ||
    fail "first run: exit $?: $(cat "$T/err")"
assert_eq "nothing in the first 30 minutes" "" "$(alerts "$T/first")"
assert_eq "the run is in the state" 4 \
    "$(jq '.sensors[0].rules.stuck.history.readings' "$T/rules.state")"
cellar 4 5 6 | dht-rules -r "$T/health.rules" --state "$T/rules.state" >"$T/second" 2>"$T/err" ||
    fail "second run: exit $?: $(cat "$T/err")"
assert_eq "stuck fires in the second run, an hour after the first reading" \
    "stuck firing dht11/cellar/data 12.5 2026-11-24T11:00:00.000Z" \
    "$(jq -r '"\(.rule) \(.state) \(.sensor) \(.value) \(.timestamp)"' "$T/second")"
pass "--state: an unchanged run carries over a restart"

# --test and --report take the health rules too.
cat >"$T/health.test" <<'TEST'
{"temperature":20}
{"temperature":35}
{"kind":"alert","rule":"glitch","state":"firing","value":35}
{"temperature":36}
{"kind":"alert","rule":"glitch","state":"resolved","value":36}
TEST
dht-rules -e 'glitch: temperature jumps by 10 -> alert' --test "$T/health.test" 2>"$T/err" ||
    fail "--test failed: $(cat "$T/err")"
assert_contains "--test summary" "$T/err" "3 inputs, 2 expected alerts, all met"
dht-rules -r "$T/health.rules" --report <"$T/history" >"$T/report" || fail "--report: exit $?"
assert_contains "--report counts stuck" "$T/report" "stuck    dht11/cellar/data  1      11m     11m      -"
pass "--test and --report with health rules"

# The field check knows the field of a health rule.
for _ in $(seq 20); do echo '{"temperature":20}'; done |
    dht-rules --bare-topic dht11/x/data -e 'stuck: temprature unchanged for 1h -> alert' >/dev/null 2>"$T/err"
assert_contains "a misspelt field" "$T/err" "has the field 'temprature' the rules compare: they cannot fire"
assert_contains "and its fix" "$T/err" "did you mean 'temperature'?"
pass "the field check: a misspelt field of a health rule is said, with the nearest"
