#!/usr/bin/env bash
# dht-escalate without a broker: the seed's rules piped in, garbage on stdin,
# levels climbing on time, a CLI ack seen by the running daemon, a restart in
# the middle of an escalation, an injection-shaped sensor name, notification
# commands (record, environment, retries), the policy file, tick, exit codes.
source "$(dirname "$0")/../lib/testlib.sh"
export PATH="$DHT_BIN/dht-escalate:$DHT_BIN/dht-rules:$DHT_BIN/dht-record:$PATH"
seed=$DHT_SRC/scripts/rules/seed.rules
cd "$T"
db=$T/inc.db

# alert RULE STATE SENSOR [ACTION]
alert() {
    printf '{"kind":"alert","timestamp":"2026-11-24T10:00:00.000Z","rule":"%s","state":"%s","action":"%s","sensor":"%s","field":"temperature","value":-1.5,"message":"m"}\n' \
        "$1" "$2" "${4:-alert}" "$3"
}
events() { jq -r '"\(.incident_id) \(.event) \(.level)"' "$1"; }
# A daemon reading alerts from a FIFO held open by fd 3 (it runs until stdin ends).
start_daemon() {  # start_daemon OUT ERR ARGS...
    local out=$1 err=$2
    shift 2
    rm -f "$T/fifo"
    mkfifo "$T/fifo"
    exec 3<>"$T/fifo"
    dht-escalate --db "$db" "$@" <"$T/fifo" >"$out" 2>"$err" &
    DAEMON=$!
    PIDS+=("$DAEMON")
}
stop_daemon() {
    kill -TERM "$DAEMON"
    wait "$DAEMON" || fail "the daemon exited $?"
    exec 3>&-
}

# The seed's rules over a cold snap, through dht-rules: cold opens an incident at
# level 1; freeze (action escalate) opens one and climbs at once, the seed's
# "escalade d'office", with the seed's escalation keys.
for t in 6 4 3 2 1 -0.5; do printf '{"temperature":%s,"humidity":65.3}\n' "$t"; done |
    dht-rules -r "$seed" --bare-topic dht11/sensor/data | dht-escalate --db "$db" >"$T/out" 2>"$T/err" ||
    fail "the pipeline failed: $(cat "$T/err")"
assert_eq "cold and freeze" "1 opened 1
2 opened 1
2 escalation 2" "$(events "$T/out")"
assert_eq "the seed's escalation keys, in the seed's order" \
    '"incident","escalation",2,1,2,"freeze","dht11/sensor/data","critical"' \
    "$(jq -c 'select(.event == "escalation") | [.kind, .event, .incident_id, .from_level, .to_level, .rule, .sensor, .severity] | .[]' "$T/out" | paste -sd, -)"
assert_eq "key order" "kind timestamp incident_id event from_level to_level" \
    "$(grep escalation "$T/out" | grep -o '"[a-z_]*":' | head -n 6 | tr -d '":' | paste -sd' ' -)"
pass "the seed's rules piped in: incidents opened, freeze escalated at once with the seed's keys"

# Repeats fold into the open incident; a resolved alert resolves it.
{ alert cold firing kitchen; alert cold firing kitchen; alert cold firing kitchen; alert cold resolved kitchen; } |
    dht-escalate --db "$T/fold.db" >"$T/out"
assert_eq "one incident for three alerts, resolved by the alert" "1 opened 1
1 resolved 1" "$(events "$T/out")"
assert_eq "the repeats are counted" 3 "$(sqlite3 "$T/fold.db" 'SELECT alerts FROM incidents')"
{ alert cold firing porch; alert cold resolved porch; } | dht-escalate --db "$T/fold.db" --no-auto-resolve >"$T/out"
assert_eq "--no-auto-resolve leaves it open" "2 opened 1" "$(events "$T/out")"
assert_eq "... noted as cleared" 1 "$(sqlite3 "$T/fold.db" "SELECT count(*) FROM incidents WHERE id = 2 AND cleared_at IS NOT NULL AND state = 'open'")"
pass "repeats fold into one incident; resolved alerts resolve it unless --no-auto-resolve"

# Garbage: each bad line reported once with its number; the good lines handled
# exactly as if the bad ones were not there.
{
    alert a firing s1
    echo 'not json'
    echo '[1,2]'
    echo '{"kind":"alert","rule":"b","state":"firing","sensor":7}'
    echo '{"kind":"alert","rule":"c","state":"maybe"}'
    printf '{"kind":"alert","rule":"d","state":"firing","sensor":"\xff"}\n'
    echo '{"incident_id":"1; DROP TABLE incidents","action":"ack"}'
    echo '{"kind":"stats","total_received":1}'
    echo '{"kind":"message","topic":"dht11/x/data","payload":{"temperature":1}}'
    alert e firing s2
} | dht-escalate --db "$T/garbage.db" >"$T/out" 2>"$T/err" || fail "garbage made it fail"
assert_eq "good lines around the bad ones" "1 opened 1
2 opened 1" "$(events "$T/out")"
assert_eq "the bad lines, each once" "dht-escalate: stdin:2: invalid JSON: syntax error (skipped)
dht-escalate: stdin:3: not a JSON object (skipped)
dht-escalate: stdin:4: \"sensor\" is not a string (skipped)
dht-escalate: stdin:5: alert \"state\" is not \"firing\" or \"resolved\" (skipped)
dht-escalate: stdin:6: invalid UTF-8 (skipped)
dht-escalate: stdin:7: answer: \"incident_id\" is not a positive integer (skipped)
dht-escalate: 6 bad input lines skipped" "$(cat "$T/err")"
{ alert a firing s1; echo 'not json'; alert b firing s2; } >"$T/strict.in"
rc=0
dht-escalate --db "$T/strict.db" --strict <"$T/strict.in" >/dev/null 2>&1 || rc=$?
assert_eq "--strict stops at the first" 65 "$rc"
assert_eq "... keeping what came before it" "a" "$(sqlite3 "$T/strict.db" 'SELECT rule FROM incidents')"
pass "garbage: one line each with its number, the rest handled, --strict exits 65"

# Timing: a level every --escalate-after while nobody answers, up to --max-level.
db=$T/timing.db
start_daemon "$T/d1" "$T/d1.err" --escalate-after 1s --max-level 3
alert freeze firing dht11/kitchen/data >&3
wait_lines "$T/d1" 3 10
assert_eq "1 then 2 then 3" "1 opened 1
1 escalation 2
1 escalation 3" "$(events "$T/d1")"
ms() { jq -rs ".[$1].timestamp" "$2" | sed -E 's/.*T([0-9]+):([0-9]+):([0-9.]+)Z/\1 \2 \3/' | awk '{ printf "%d", ($1 * 3600 + $2 * 60 + $3) * 1000 }'; }
d1=$(( $(ms 1 "$T/d1") - $(ms 0 "$T/d1") ))
d2=$(( $(ms 2 "$T/d1") - $(ms 1 "$T/d1") ))
# Never early; late only by the daemon's 100 ms tick and the machine's load.
{ [ "$d1" -ge 1000 ] && [ "$d1" -lt 3000 ]; } || fail "1->2 after ${d1} ms, expected 1 s"
{ [ "$d2" -ge 900 ] && [ "$d2" -lt 3000 ]; } || fail "2->3 after ${d2} ms, expected 1 s"
sleep 1.2
assert_eq "no climb past --max-level" 3 "$(wc -l <"$T/d1")"
pass "climbs every --escalate-after (${d1} ms, ${d2} ms) and stops at --max-level"

# The daemon sees a CLI ack at once, and stops the climb; the CLI prints its record.
# (A daemon of its own, with 3 s to the next level: time for the CLI to start
# and ack, however slow the machine.)
stop_daemon
start_daemon "$T/d2" "$T/d2.err" --escalate-after 3s --max-level 3
alert cold firing porch >&3
wait_lines "$T/d2" 1
dht-escalate --db "$db" ack 2 --by ana >"$T/ack" 2>"$T/ack.err" || fail "ack: $(cat "$T/ack.err")"
assert_eq "ack prints the event" "2 acknowledged ana" "$(jq -r '"\(.incident_id) \(.event) \(.by)"' "$T/ack")"
wait_lines "$T/d2" 2 10
assert_eq "the daemon publishes the CLI's ack" "2 acknowledged 1" "$(tail -n 1 "$T/d2" | jq -r '"\(.incident_id) \(.event) \(.level)"')"
sleep 3.3
assert_eq "an acknowledged incident stays at its level" 2 "$(wc -l <"$T/d2")"
assert_eq "ack again: said, exit 0" 0 "$(exit_code dht-escalate --db "$db" ack 2 2>"$T/ack.err")"
assert_contains "ack again" "$T/ack.err" "incident 2 is acknowledged already"
assert_eq "an unknown incident" 65 "$(exit_code dht-escalate --db "$db" ack 99 2>"$T/ack.err")"
assert_eq "... said" "dht-escalate: incident 99: no such incident" "$(cat "$T/ack.err")"
echo '{"incident_id":2,"action":"resolve","by":"bob"}' >&3
wait_lines "$T/d2" 3
assert_eq "an answer on stdin" "2 resolved bob" "$(tail -n 1 "$T/d2" | jq -r '"\(.incident_id) \(.event) \(.by)"')"
stop_daemon
pass "a CLI ack reaches the running daemon at once and stops the climb; answers on stdin too"

# A restart in the middle of an escalation: the timer lives in the database.
db=$T/restart.db
start_daemon "$T/r1" "$T/r1.err" --escalate-after 2s
alert cold firing attic >&3
wait_lines "$T/r1" 1
sleep 0.5
stop_daemon
start_daemon "$T/r2" "$T/r2.err" --escalate-after 2s
wait_lines "$T/r2" 1 5
opened=$(ms 0 "$T/r1")
climbed=$(ms 0 "$T/r2")
assert_eq "the climb after the restart" "1 escalation 2" "$(events "$T/r2")"
{ [ $((climbed - opened)) -ge 2000 ] && [ $((climbed - opened)) -lt 4000 ]; } ||
    fail "the climb came $((climbed - opened)) ms after the opening, expected 2 s"
stop_daemon
assert_eq "each event once in the history" "opened escalation" "$(dht-escalate --db "$db" show 1 | jq -r .event | paste -sd' ' -)"
pass "restarted in the middle: the climb comes on time ($((climbed - opened)) ms), once"

# A notification command that logs what it gets.
cat >"$T/record.sh" <<'SH'
#!/bin/sh
{ cat; echo "argv=$*"; env | grep -E '^DHT_' | sort; } >>"$0.log"
SH
chmod +x "$T/record.sh"

# An injection-shaped sensor name: stored and shown literally.
evil='x'"'"'; DROP TABLE incidents; -- $(touch pwned) `touch pwned2` \u001b[31m'
printf '{"kind":"alert","rule":"cold","state":"firing","sensor":"%s"}\n' "$evil" |
    dht-escalate --db "$T/evil.db" --notify "$T/record.sh" >"$T/out"
expected=$(printf '"%s"' "$evil" | jq -r .)
assert_eq "stored literally" "$expected" "$(sqlite3 "$T/evil.db" 'SELECT sensor FROM incidents')"
assert_eq "the incidents table is still there" 1 "$(sqlite3 "$T/evil.db" 'SELECT count(*) FROM incidents')"
assert_eq "printed literally" "$expected" "$(jq -r .sensor "$T/out")"
assert_eq "--json literally" "$expected" "$(dht-escalate --db "$T/evil.db" list --json | jq -r .sensor)"
dht-escalate --db "$T/evil.db" list >"$T/table"
assert_contains "the table escapes control characters" "$T/table" "x'; DROP TABLE incidents; -- \$(touch pwned) \`touch pwned2\` \\x1b[31m"
[ "$(tr -d '\033' <"$T/table" | wc -c)" -eq "$(wc -c <"$T/table")" ] || fail "an escape character reached the terminal"
[ ! -e pwned ] && [ ! -e pwned2 ] || fail "the sensor name was run by a shell"
pass "an injection-shaped sensor name is stored, printed and listed as data"

# Notification commands: the record on stdin, DHT_ variables, no shell, no secrets.
: >"$T/record.sh.log"
alert freeze firing 'dht11/$(touch pwned3)/data' escalate |
    DHT_MQTT_USERNAME=u DHT_MQTT_PASSWORD=s3cret dht-escalate --db "$T/notify.db" --notify "$T/record.sh 'two words' \$HOME" >"$T/out"
grep -q escalation "$T/record.sh.log" || fail "no notification for the escalation: $(cat "$T/record.sh.log")"
assert_eq "the escalation's record on stdin" "$(grep escalation "$T/out")" "$(grep '"escalation"' "$T/record.sh.log")"
assert_contains "argv as split by the tool, unexpanded" "$T/record.sh.log" 'argv=two words $HOME'
assert_contains "DHT_ variables" "$T/record.sh.log" "DHT_EVENT=escalation"
assert_contains "DHT_ variables" "$T/record.sh.log" "DHT_LEVEL=2"
assert_contains "DHT_ variables" "$T/record.sh.log" 'DHT_SENSOR=dht11/$(touch pwned3)/data'
assert_not_contains "no broker password" "$T/record.sh.log" "s3cret"
[ ! -e pwned3 ] || fail "a shell ran the sensor name"
assert_eq "opened and escalation each notified" 2 "$(grep -c '^{' "$T/record.sh.log")"
assert_eq "the notifications are done" "done done" "$(sqlite3 "$T/notify.db" 'SELECT state FROM incident_notifications ORDER BY id' | paste -sd' ' -)"
pass "notification commands get the record on stdin and DHT_ variables, without a shell or the broker password"

# A failing command is tried again, then given up and said.
db=$T/retry.db
start_daemon "$T/n1" "$T/n1.err" --notify false --notify-retries 1 --notify-retry-delay 1s
alert cold firing cellar >&3
wait_for grep -q "giving up after 2 tries" "$T/n1.err" || fail "never gave up: $(cat "$T/n1.err")"
stop_daemon
assert_contains "a retry announced" "$T/n1.err" "notification 1: false: exit status 1; trying again later"
assert_eq "failed in the database" "failed 2" "$(sqlite3 "$T/retry.db" "SELECT state, attempts FROM incident_notifications WHERE id = 1" | tr '|' ' ')"
pass "a failing notification is retried, then given up with its exit status"

# The policy file: per-level waits, commands per level and per event, --check.
cat >"$T/policy" <<EOF
# test policy
escalate-after 1h
max-level 3
level 1 notify $T/record.sh level-one   # paged first
level 2 after 1s notify $T/record.sh level-two
on resolved notify $T/record.sh resolved
EOF
dht-escalate --policy "$T/policy" --check 2>"$T/err" || fail "--check: $(cat "$T/err")"
assert_contains "--check says what is in force" "$T/err" "policy: 3 levels; 1->2 after 1s; 2->3 after 1h; no reminders"
: >"$T/record.sh.log"
db=$T/policy.db
start_daemon "$T/p1" "$T/p1.err" --policy "$T/policy"
alert cold firing garage >&3
wait_lines "$T/p1" 2 5
assert_eq "level 2 after its own wait" "1 opened 1
1 escalation 2" "$(events "$T/p1")"
echo '{"incident_id":1,"action":"resolve","by":"ana"}' >&3
wait_lines "$T/p1" 3
wait_for grep -q "argv=resolved" "$T/record.sh.log" || fail "no resolved notification"
stop_daemon
assert_eq "each level's command, then the resolved one" "level-one level-two resolved" \
    "$(sed -n 's/^argv=//p' "$T/record.sh.log" | paste -sd' ' -)"
printf 'max-level 3\nlevel 2 after soon notify x\nquiet 25:00-07:00\n' >"$T/bad.policy"
assert_eq "a bad policy" 78 "$(exit_code dht-escalate --policy "$T/bad.policy" --check 2>"$T/err")"
assert_eq "each error with FILE:LINE" "dht-escalate: $T/bad.policy:2: level after: 'soon' is not a duration such as 15m
dht-escalate: $T/bad.policy:3: quiet: '25:00-07:00' is not a time window such as 22:00-07:00
dht-escalate: 2 errors in the policy" "$(cat "$T/err")"
assert_eq "a bad policy refuses to run" 78 "$(exit_code dht-escalate --db "$T/x.db" --policy "$T/bad.policy" </dev/null 2>/dev/null)"
pass "the policy file: per-level waits and commands, on EVENT, --check with FILE:LINE errors"

# SIGHUP reads the policy again; a broken one keeps the policy in force.
cp "$T/policy" "$T/live.policy"
db=$T/hup.db
start_daemon "$T/h1" "$T/h1.err" --policy "$T/live.policy"
wait_for test -s "$db" || fail "the daemon never created its database"  # signals handled from here on
printf 'escalate-after 1s\nlevel 2 after soon\n' >"$T/live.policy"
kill -HUP "$DAEMON"
wait_for grep -q "keeping the policy in force" "$T/h1.err" || fail "no reaction to SIGHUP"
printf 'escalate-after 1s\n' >"$T/live.policy"
kill -HUP "$DAEMON"
wait_for eval "[ \$(grep -c 'reading the policy again' '$T/h1.err') -ge 2 ]" || fail "no second SIGHUP"
alert cold firing hall >&3
wait_lines "$T/h1" 3 6
stop_daemon
assert_eq "the new policy in force" "1 opened 1
1 escalation 2
1 escalation 3" "$(events "$T/h1")"
pass "SIGHUP: a bad policy is refused and the old one kept; a good one applies"

# Duration flags: a bare number is seconds; a bad or out-of-bounds one is a
# usage error naming the flag and the bound.
dht-escalate --escalate-after 90 --ack-timeout 1.5 --check 2>"$T/err" || fail "--check: $(cat "$T/err")"
assert_contains "a bare number is seconds" "$T/err" "1->2 after 90s; 2->3 after 90s"
check_duration() {  # check_duration TEXT ARGS...
    local want=$1
    shift
    assert_eq "exit status of dht-escalate $*" 64 "$(exit_code dht-escalate "$@" --check 2>"$T/err")"
    assert_contains "dht-escalate $*" "$T/err" "$want"
    assert_contains "dht-escalate $*" "$T/err" "Try 'dht-escalate --help'"
}
check_duration "--repeat: 'soon' is not a duration" --repeat soon
check_duration "--ack-timeout: '3651d' is more than 3650d" --ack-timeout 3651d
check_duration "--notify-timeout: '0' is less than 1ns" --notify-timeout 0
check_duration "--notify-retry-delay: '-1' is not a duration" --notify-retry-delay -1
check_duration "--notify: unterminated ' quote" --notify "page 'on"
pass "duration flags: a bare number is seconds; a bad one exits 64 naming the flag and its bound"

# -h asks for a broker, on the command line or in a config file, even when it
# says what DHT_MQTT_HOST says; DHT_MQTT_HOST alone does not.
alert cold firing hut | dht-escalate --db "$T/asked.db" >/dev/null
down=127.0.0.1:$(free_port)
quiet() { "$@" >/dev/null 2>&1; }
assert_eq "DHT_MQTT_HOST alone: no broker" 0 \
    "$(DHT_MQTT_HOST=$down exit_code quiet dht-escalate --db "$T/asked.db" ack 1)"
assert_eq "-h as in DHT_MQTT_HOST: a broker, unreachable" 69 \
    "$(DHT_MQTT_HOST=$down exit_code quiet dht-escalate -h "$down" --connect-timeout 1 --db "$T/asked.db" tick)"
printf 'host = "%s"\nconnect-timeout = "1"\n' "$down" >"$T/asked.conf"
assert_eq "a config file's host: a broker" 69 \
    "$(exit_code quiet dht-escalate --config "$T/asked.conf" --db "$T/asked.db" tick)"
assert_eq "DHT_MQTT_HOST over the config file's host: no broker" 0 \
    "$(DHT_MQTT_HOST=$down exit_code quiet dht-escalate --config "$T/asked.conf" --db "$T/asked.db" tick)"
assert_eq "-p alone: a broker on localhost, unreachable" 69 \
    "$(exit_code quiet dht-escalate -p "${down#*:}" --connect-timeout 1 --db "$T/asked.db" tick)"
assert_eq "-p and -u: a broker on localhost" 69 \
    "$(exit_code quiet dht-escalate -p "${down#*:}" -u ana --connect-timeout 1 --db "$T/asked.db" tick)"
assert_eq "DHT_MQTT_PORT alone: no broker" 0 \
    "$(DHT_MQTT_PORT=${down#*:} exit_code quiet dht-escalate --db "$T/asked.db" tick)"
pass "-h, -p or -u on the command line or in a config file asks for a broker; the environment alone does not"

# tick, for cron: the due climbs of a database nobody watches.
alert cold firing shed | dht-escalate --db "$T/cron.db" --escalate-after 1s >/dev/null
sleep 1.1
dht-escalate --db "$T/cron.db" --escalate-after 1s tick >"$T/out"
assert_eq "tick climbs what is due" "1 escalation 2" "$(events "$T/out")"
dht-escalate --db "$T/cron.db" --escalate-after 1s tick >"$T/out"
assert_eq "and nothing twice" "" "$(cat "$T/out")"
pass "tick does what is due and exits"

# One database file with dht-record, both writing at once: nothing lost.
seq 1 20000 | awk '{ printf "{\"kind\":\"message\",\"timestamp\":\"2026-11-24T10:00:00.000Z\",\"topic\":\"dht11/s/data\",\"payload\":{\"temperature\":%d}}\n", $1 % 30 }' >"$T/msgs"
dht-record --db "$T/shared.db" --batch 100 <"$T/msgs" &
rec=$!
for i in $(seq 1 200); do alert cold firing "s$i"; done | dht-escalate --db "$T/shared.db" >"$T/out" 2>"$T/err" ||
    fail "dht-escalate beside dht-record: $(cat "$T/err")"
wait "$rec" || fail "dht-record beside dht-escalate failed"
assert_eq "every message, incident and event" "20000 200 200 ok" \
    "$(sqlite3 "$T/shared.db" "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM incidents), (SELECT count(*) FROM incident_events), (SELECT integrity_check FROM pragma_integrity_check)" | tr '|' ' ')"
assert_eq "dht-record reads its own table back" 20000 "$(dht-record query --db "$T/shared.db" | wc -l)"
pass "dht-escalate and dht-record share one database file, writing at the same time"

# The daemon's policy is kept in the database: a tick or an ack run without
# flags uses it (the notification command, the acknowledgement timeout).
: >"$T/record.sh.log"
alert cold firing loft | dht-escalate --db "$T/kept.db" --escalate-after 1s --ack-timeout 1h --notify "$T/record.sh kept" >/dev/null
sleep 1.1
dht-escalate --db "$T/kept.db" tick >"$T/out"
assert_eq "a bare tick climbs with the daemon's policy" "1 escalation 2" "$(events "$T/out")"
assert_eq "... and runs its command" 2 "$(grep -c '^argv=kept' "$T/record.sh.log")"
dht-escalate --db "$T/kept.db" ack 1 >/dev/null
assert_eq "a bare ack arms the daemon's acknowledgement timeout" 1 \
    "$(sqlite3 "$T/kept.db" "SELECT count(*) FROM incidents WHERE state = 'acknowledged' AND next_at > acknowledged_at")"
pass "the daemon's policy is kept in the database for tick and ack"

# --min-severity drops quiet alerts, never the end of one it kept.
{ alert cold firing porch; printf '{"kind":"alert","rule":"cold","state":"resolved","severity":"info","sensor":"porch"}\n'; } |
    dht-escalate --db "$T/sev.db" --min-severity warning >"$T/out"
assert_eq "the resolved alert still resolves" "1 opened 1
1 resolved 1" "$(events "$T/out")"
printf '{"kind":"alert","rule":"humid","state":"firing","severity":"info","sensor":"bath"}\n' |
    dht-escalate --db "$T/sev.db" --min-severity warning >"$T/out"
assert_eq "an info alert is dropped" "" "$(cat "$T/out")"
pass "--min-severity filters firing alerts only"

# list and show; exit codes.
dht-escalate --db "$T/fold.db" list >"$T/table"
assert_eq "table header" "ID  STATE     LEVEL  SEVERITY  RULE  SENSOR   AGE  BY" "$(head -n 1 "$T/table")"
# 80 columns with the usual names: an acknowledged incident of the seed's rules.
{ alert humid firing dht11/bathroom/data notify; alert freeze firing dht11/cellar/data escalate; } |
    dht-escalate --db "$T/wide.db" >/dev/null
dht-escalate --db "$T/wide.db" ack 2 --by operator 2>/dev/null
width=$(dht-escalate --db "$T/wide.db" list | awk '{ if (length > m) m = length } END { print m }')
[ "$width" -le 80 ] || fail "list is $width columns wide: $(dht-escalate --db "$T/wide.db" list)"
dht-escalate --db "$T/fold.db" list --wide >"$T/wide"
assert_eq "--wide: the time each opened and the alerts too" "ID STATE LEVEL SEVERITY RULE SENSOR OPENED AGE ALERTS BY FAILED" \
    "$(head -n 1 "$T/wide" | tr -s ' ')"
assert_eq "list --open" "2" "$(dht-escalate --db "$T/fold.db" list --open --json | jq -r .incident_id)"
assert_eq "show" "opened resolved" "$(dht-escalate --db "$T/fold.db" show 1 | jq -r .event | paste -sd' ' -)"
assert_eq "a missing database" 66 "$(exit_code dht-escalate --db "$T/none.db" list 2>/dev/null)"
assert_eq "show an unknown incident" 65 "$(exit_code dht-escalate --db "$T/fold.db" show 9 2>/dev/null)"
assert_eq "a bad duration" 64 "$(exit_code dht-escalate --escalate-after soon </dev/null 2>/dev/null)"
assert_eq "two subcommands" 64 "$(exit_code dht-escalate list tick 2>/dev/null)"
assert_eq "incident 0" 64 "$(exit_code dht-escalate --db "$T/fold.db" ack 0 2>/dev/null)"
assert_eq "a missing policy file" 66 "$(exit_code dht-escalate --policy "$T/nope.policy" --check 2>/dev/null)"
for i in $(seq 1 3000); do alert "r$i" firing s; done | dht-escalate --db "$T/many.db" >/dev/null
rc=0
dht-escalate --db "$T/many.db" list 2>"$T/err" | head -n 1 >/dev/null || rc=$?
assert_eq "list into a closed pipe" "0 0" "${PIPESTATUS[0]} $rc"
assert_eq "... quietly" "" "$(cat "$T/err")"
pass "list (table, --wide, --open --json), show, a closed pipe, and the exit codes 64, 65, 66"
