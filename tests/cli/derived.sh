#!/usr/bin/env bash
# Derived fields (dew_point, absolute_humidity) and --calibration through the
# tools that compute with readings: dht-rules (a rule on dew_point; a
# calibrated sensor firing and not; a bad file; SIGHUP), dht-stats and both
# exporters' printed output (--derive on request only; calibrated values).
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-rules dht-stats dht-export-influx dht-export-graphite dht-record
cd "$T"

alerts() { jq -r 'select(.kind == "alert") | "\(.rule) \(.sensor) \(.state) \(.value * 10 | round / 10)"' "$1"; }

# Dew point at 25 °C: 60 % -> 16.7, 80 % -> 21.3; a payload's own dew_point stays;
# out of the formula's range (70 °C) there is none, so the rule resolves on nothing.
{
    rec -t $((REC_T0 + 0)) dht11/a/data '{"temperature":25,"humidity":60}'
    rec -t $((REC_T0 + 10)) dht11/a/data '{"temperature":25,"humidity":80}'
    rec -t $((REC_T0 + 20)) dht11/a/data '{"temperature":25,"humidity":80,"dew_point":12}'
    rec -t $((REC_T0 + 30)) dht11/a/data '{"temperature":25,"humidity":60}'
    rec -t $((REC_T0 + 40)) dht11/b/data '{"temperature":70,"humidity":80}'
} >in.ndjson
dht-rules -e 'muggy: dew_point > 18 -> alert' <in.ndjson >out 2>err || fail "dht-rules: $(cat err)"
assert_eq "dew_point fires and resolves on the payload's own value" \
    "$(printf 'muggy dht11/a/data firing 21.3\nmuggy dht11/a/data resolved 12')" "$(alerts out)"
assert_not_contains "no field warning for a derived field" err "cannot fire"
dht-rules -e 'dry: absolute_humidity < 14 -> alert' <in.ndjson >out 2>err || fail "dht-rules: $(cat err)"
assert_eq "absolute_humidity: 13.8 g/m3 at 25 °C, 60 %" "dry dht11/a/data firing 13.8" "$(alerts out | head -n 1)"
pass "dht-rules: dew_point and absolute_humidity by name; a payload's own field wins"

# Calibration: the cellar reads 2 °C low, every sensor 5 % RH high.
cat >cal <<'CAL'
# measured against a reference thermometer
dht11/cellar/data  temperature  +2
dht11/+/data       humidity     -5   # the whole batch
CAL
{
    rec -t $((REC_T0 + 0)) dht11/cellar/data '{"temperature":4,"humidity":85}'
    rec -t $((REC_T0 + 0)) dht11/attic/data '{"temperature":4,"humidity":85}'
    rec -t $((REC_T0 + 10)) dht11/cellar/data '{"temperature":2.5,"humidity":85}'
} >cal.ndjson
dht-rules -e 'cold: temperature < 5 -> alert' --calibration cal <cal.ndjson >out 2>err || fail "dht-rules: $(cat err)"
assert_eq "the cellar at 4+2 does not fire, the attic at 4 does, the cellar at 2.5+2 does" \
    "$(printf 'cold dht11/attic/data firing 4\ncold dht11/cellar/data firing 4.5')" "$(alerts out)"
assert_eq "an alert on a calibrated value says so, one on a raw value does not" \
    "$(printf 'dht11/attic/data null\ndht11/cellar/data true')" "$(jq -r '"\(.sensor) \(.calibrated)"' out)"
dht-rules -e 'humid: humidity > 82 -> alert' --calibration cal <cal.ndjson >out 2>err || fail "dht-rules: $(cat err)"
assert_eq "85-5 is not over 82" "" "$(alerts out)"
assert_eq "dew point from the calibrated values (6 °C, 80 %)" "muggy dht11/cellar/data firing 2.8" \
    "$(dht-rules -e 'muggy: dew_point > 2 -> alert' --calibration cal <cal.ndjson | alerts /dev/stdin | head -n 1)"
dht-rules -e 'cold: temperature < 5 -> alert' --calibration cal --pass <cal.ndjson >out 2>err
assert_eq "--pass passes the record as it arrived" 4 "$(jq -r 'select(.kind == "message") | .payload.temperature' out | head -n 1)"
pass "dht-rules --calibration: offsets per sensor, derived fields from calibrated values, records passed raw"

# A bad calibration file: FILE:LINE, exit 78; a missing one: 66.
printf 'dht11/a/data temperature +0.4\ndht11/a/data humidity lots\n' >bad.cal
assert_eq "a bad line exits 78" 78 "$(exit_code dht-rules -e 'a: temperature < 1 -> alert' --calibration bad.cal </dev/null 2>err)"
assert_eq "FILE:LINE: message" \
    "dht-rules: bad.cal:2: 'lots' is not an offset (a decimal number such as +0.4 or -1.5)" "$(cat err)"
assert_eq "a missing file exits 66" 66 "$(exit_code dht-stats --calibration nope.cal </dev/null 2>/dev/null)"
assert_eq "--derive takes the derived fields only" 64 "$(exit_code dht-stats --derive humidity </dev/null 2>/dev/null)"
assert_eq "dht-record stores what arrived: no --calibration" 64 "$(exit_code dht-record --db x.db --calibration cal </dev/null 2>/dev/null)"
pass "a bad calibration file: 78 with FILE:LINE; missing: 66; dht-record takes none"

# dht-stats: derived fields only with --derive; values calibrated.
dht-stats --format json <cal.ndjson >out 2>err || fail "dht-stats: $(cat err)"
assert_eq "no derived field unasked" "humidity temperature" \
    "$(jq -r 'select(.scope == "summary") | .sensors["dht11/cellar/data"].fields | keys | join(" ")' out)"
assert_eq "no calibration, no mark" null "$(jq -r 'select(.scope == "summary") | .calibrated' out)"
dht-stats --format json --derive dew_point --calibration cal <cal.ndjson >out 2>err || fail "dht-stats: $(cat err)"
assert_eq "--derive dew_point" "dew_point humidity temperature" \
    "$(jq -r 'select(.scope == "summary") | .sensors["dht11/cellar/data"].fields | keys | join(" ")' out)"
assert_eq "the stats say they are calibrated" true "$(jq -r 'select(.scope == "summary") | .calibrated' out)"
assert_eq "calibrated min" 4.5 "$(jq -r 'select(.scope == "summary") | .sensors["dht11/cellar/data"].fields.temperature.min' out)"
dht-stats --derive dew_point --plot p.svg --plot-field dew_point <cal.ndjson >/dev/null 2>err || fail "dht-stats --plot: $(cat err)"
assert_contains "the plot has a dew_point panel" p.svg "dew_point"
assert_not_contains "and it is not empty" err "dew_point"
pass "dht-stats: --derive adds the field to the statistics and the plot; values calibrated"

# The exporters: derived fields only with --derive, calibrated values.
rec dht11/cellar/data '{"temperature":18,"humidity":55}' >one.ndjson
dht-export-influx <one.ndjson >out 2>err || fail "influx: $(cat err)"
assert_not_contains "influx: no derived field unasked" out "dew_point"
dht-export-influx --derive dew_point --derive absolute_humidity --calibration cal <one.ndjson >out 2>err ||
    fail "influx: $(cat err)"
assert_contains "influx: calibrated, an integer stays one with a whole offset" out "temperature=20,humidity=50,"
assert_contains "influx: dew_point (9.3 °C at 20 °C, 50 %), to 0.01" out "dew_point=9.26,"
assert_contains "influx: absolute_humidity" out "absolute_humidity=8.62 "
dht-export-graphite --derive dew_point --calibration cal <one.ndjson >out 2>err || fail "graphite: $(cat err)"
assert_contains "graphite: calibrated" out "dht11.dht11_cellar_data.temperature 20 "
assert_contains "graphite: dew_point" out "dht11.dht11_cellar_data.dew_point 9.26 "
dht-export-graphite <one.ndjson >out 2>err || fail "graphite: $(cat err)"
assert_not_contains "graphite: no derived field unasked" out "dew_point"
pass "exporters: --derive adds the fields, --calibration changes the values printed"

# SIGHUP reads the calibration file again; a bad one leaves the offsets in force.
mkfifo live
exec 3<>live
dht-rules -e 'cold: temperature < 5 -> alert' --calibration cal <live >live.out 2>live.err 3>&- &
pid=$!
PIDS+=("$pid")
rec dht11/cellar/data '{"temperature":4}' >&3
rec dht11/attic/data '{"temperature":4}' >&3
wait_lines live.out 1 5
assert_eq "the cellar not cold with +2, the attic read after it cold" "cold dht11/attic/data firing 4" "$(alerts live.out)"
# hup TEXT LOG: TEXT as the calibration file, SIGHUP, until LOG is on stderr.
hup() {
    printf '%s\n' "$1" >cal
    kill -HUP "$pid"
    wait_for grep -q "$2" live.err || fail "SIGHUP: no [$2]: $(cat live.err)"
}
# cellar T N EXPECTED: a cellar reading at T, then the N-th alert is EXPECTED.
cellar() {
    rec dht11/cellar/data "{\"temperature\":$1}" >&3
    wait_lines live.out "$2" 5
    assert_eq "alert $2" "$3" "$(alerts live.out | tail -n 1)"
}
hup 'dht11/cellar/data temperature +0.5' "1 calibration line in force"
cellar 4 2 "cold dht11/cellar/data firing 4.5"
hup 'dht11/cellar/data temperature' "keeping the calibration in force"
cellar 5 3 "cold dht11/cellar/data resolved 5.5"
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM: exit status $?"
exec 3>&-
pass "SIGHUP reloads the calibration; a bad file keeps the offsets in force"

# --test with --calibration: the test file's readings are calibrated too.
cat >cal.test <<'TEST'
{"kind":"message","topic":"dht11/cellar/data","payload":{"temperature":4}}
{"kind":"message","topic":"dht11/cellar/data","payload":{"temperature":2.5}}
{"kind":"alert","rule":"cold","state":"firing","value":4.5}
TEST
printf 'dht11/cellar/data temperature +2\n' >cal
dht-rules -e 'cold: temperature < 5 -> alert' --calibration cal --test cal.test 2>err || fail "--test: $(cat err)"
assert_eq "without the offsets the test fails" 1 \
    "$(exit_code dht-rules -e 'cold: temperature < 5 -> alert' --test cal.test 2>/dev/null)"
pass "--test runs the test file through the calibration"
