#!/usr/bin/env bash
# dht-status on a database made by the tools themselves: simulated sensors
# (normal, stuck, dead) on a real mosquitto, recorded by dht-record, alerts
# from dht-rules, incidents and silences from dht-escalate in the same file.
# Each sensor's status, the alerts, incidents and silences, the verdict and
# its exit status (2, then 1 once silenced, 2 again when the recorder
# stops), --json, and --watch on a real terminal (tmux, 80 columns).
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-status dht-record dht-rules dht-escalate dht-sensor-sim
command -v tmux >/dev/null || { echo "skip: no tmux (scripts/setup installs it)"; exit 77; }
broker "$T/b"
db=$T/dht.db
to=(-h 127.0.0.1 -p "$PORT")

bg dht-record "${to[@]}" -i rec -t 'dht11/#' --db "$db"
recorder=$BG_PID
wait_subscribed rec
echo 'warm: temperature > 5 -> alert warning' >"$T/warm.rules"
bg dht-rules "${to[@]}" -i rules -t dht11/kitchen/data -r "$T/warm.rules" --publish dht11/alerts >/dev/null
wait_subscribed rules
bg dht-escalate "${to[@]}" -i esc -t dht11/alerts --db "$db" --escalate-after 1h >/dev/null
wait_subscribed esc
bg dht-sensor-sim "${to[@]}" --names kitchen,attic --profile normal,stuck --interval 1s --seed 1
sims=$BG_PID
dht-sensor-sim "${to[@]}" --names cellar --profile dead --count 3 --interval 1s --seed 1 2>/dev/null

# Windows wide enough for a loaded machine (a sanitizer build): five readings
# fill the stuck window, and a reading or a commit late by seconds is not silent.
status() { dht-status --db "$db" --stuck-after 5s --silent-after 10s "$@"; }
sensor_status() { status --json | jq -r ".sensors[] | select(.sensor == \"dht11/$1/data\") | .status"; }
# The cellar's last will, the attic's repeats and the kitchen's alert and incident, once recorded.
wait_for eval '[ "$(sensor_status cellar)" = offline ]' || fail "the cellar is not offline: $(status)"
sleep 5  # the stuck window fills
wait_for eval '[ "$(sensor_status attic)" = stuck ]' || fail "the attic is not stuck: $(status)"
wait_for eval '[ "$(status --json | jq ".incidents | length")" = 1 ]' || fail "no incident: $(status)"
assert_eq "the kitchen" ok "$(sensor_status kitchen)"
rc=0; status >"$T/out" || rc=$?
assert_eq "exit status: critical" 2 "$rc"
head -n 1 "$T/out" >"$T/verdict"
assert_contains "the verdict" "$T/verdict" "CRITICAL: 1 sensor offline, 1 incident open, 1 sensor stuck, 1 alert firing"
assert_contains "the alert" "$T/out" "warm   dht11/kitchen/data  warning"
# The kitchen keeps publishing: asked again until no reading came between the
# two looks.
last_db() { sqlite3 "$db" "SELECT json_extract(payload, '$.temperature') FROM messages WHERE topic = 'dht11/kitchen/data' ORDER BY id DESC LIMIT 1" | awk '{printf "%.1f", $1}'; }
last_status() { status --json | jq -r '.sensors[] | select(.sensor == "dht11/kitchen/data") | .temperature' | awk '{printf "%.1f", $1}'; }
wait_for eval '[ "$(last_status)" = "$(last_db)" ]' ||
    fail "the last reading's temperature: the database has $(last_db), dht-status says $(last_status)"
assert_eq "80 columns" "" "$(awk 'length > 80' "$T/out")"
pass "offline, stuck and ok sensors, the alert firing and the incident open: CRITICAL, exit 2"

# Silenced: the cellar (being replaced) and the kitchen's rule; the stuck attic is left.
dht-escalate --db "$db" silence add --sensor dht11/cellar/data --for 1h --comment "new sensor" >/dev/null
dht-escalate --db "$db" silence add --rule warm --for 1h >/dev/null
rc=0; status >"$T/out" || rc=$?
assert_eq "exit status: warning" 1 "$rc"
assert_eq "the verdict" "WARNING: 1 sensor stuck" "$(head -n 1 "$T/out")"
assert_contains "shown, silenced" "$T/out" "offline (silenced)"
assert_contains "the incident silenced" "$T/out" "silenced  1      warning   warm"
assert_eq "two silences" 2 "$(status --json | jq '.silences | length')"
pass "silences: the silenced sensor, alert and incident count for nothing: WARNING, exit 1"

# --watch on a terminal: the screen as a user sees it.
tmux -L "dht-status-$$" new-session -d -x 80 -y 40 "PATH='$PATH' dht-status --db '$db' --stuck-after 5s --silent-after 10s --watch 500ms"
trap 'tmux -L "dht-status-$$" kill-server 2>/dev/null; cleanup' EXIT
screen() { tmux -L "dht-status-$$" capture-pane -p >"$T/screen"; }
wait_for eval 'screen; grep -q "^WARNING: 1 sensor stuck" "$T/screen"' || fail "the screen: $(cat "$T/screen")"
assert_contains "the attic on screen" "$T/screen" "dht11/attic/data"
assert_eq "the verdict at the top" "WARNING: 1 sensor stuck" "$(head -n 1 "$T/screen")"
assert_eq "one copy on screen (cleared each time)" 1 "$(grep -c '^SENSOR ' "$T/screen")"
assert_eq "80 columns on screen" "" "$(awk 'length > 80' "$T/screen")"

# The recorder dies (the sensors go on): the screen turns critical by itself.
stop_pid "$recorder"
# (--silent-after 10s: up to 25 s.)
for _ in 1 2 3; do
    ! wait_for eval 'screen; grep -q "^CRITICAL: 2 sensors silent, history last written" "$T/screen"' || break
done
grep -q "^CRITICAL: 2 sensors silent, history last written" "$T/screen" || fail "still: $(head -n 2 "$T/screen")"
assert_eq "both silent" 2 "$(grep -c ' silent ' "$T/screen")"
pass "--watch in tmux: one screen, refreshed; it turns CRITICAL when history stops"
rc=0; status >/dev/null || rc=$?
assert_eq "then: exit 2" 2 "$rc"
