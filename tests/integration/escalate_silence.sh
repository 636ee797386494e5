#!/usr/bin/env bash
# Silences on a real mosquitto: added by an operator over MQTT (the response
# topic) and from the CLI; a silenced alert shows as a "silenced" incident on
# dht11/incidents and in `list`, pages no one and does not climb; expired by
# hand, or ended by time across a restart of the daemon, it opens and pages
# as it would have; bad silences are said and skipped.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-escalate
broker "$T/b"
db=$T/inc.db
cat >"$T/page" <<EOS
#!/bin/sh
jq -c '{sensor, event}' >>"$T/pages"
EOS
chmod +x "$T/page"
: >"$T/pages"
listen op "$T/op" -t dht11/incidents

daemon() {
    dht-escalate -h 127.0.0.1 -p "$PORT" -i esc -q 1 -t dht11/alerts --db "$db" --escalate-after 1s --max-level 3 \
        --notify "$T/page" >>"$T/out" 2>>"$T/err" &
    pid=$!
    PIDS+=("$pid")
    wait_subscribed esc "$BROKER_LOG" "$1"
}
alert() {
    pub -t dht11/alerts -m "{\"kind\":\"alert\",\"rule\":\"$1\",\"state\":\"firing\",\"sensor\":\"$2\"}"
}
event_of() {  # event_of SENSOR EVENT: the first such event's record on dht11/incidents, once there
    wait_for grep -q "\"event\":\"$2\".*\"sensor\":\"$1\"" "$T/op" || fail "no $2 event for $1 on dht11/incidents"
    grep -m1 "\"event\":\"$2\".*\"sensor\":\"$1\"" "$T/op"
}
daemon 1

# An operator silences the cellar over MQTT; the daemon prints the silence.
pub -t dht11/incidents/response -m '{"action":"silence","sensor":"dht11/cellar/*","for":"1h","by":"ana","comment":"fan repair"}'
wait_for grep -q '"kind":"silence"' "$T/out" || fail "no silence record: $(cat "$T/err")"
assert_eq "the silence" "1 dht11/cellar/* * ana fan repair" \
    "$(grep '"kind":"silence"' "$T/out" | jq -r '"\(.silence_id) \(.sensor) \(.rule) \(.by) \(.comment)"')"
alert cold dht11/cellar/data
alert cold dht11/kitchen/data
event_of dht11/kitchen/data opened >/dev/null
assert_eq "silenced, with its silence" "1 silenced" "$(event_of dht11/cellar/data silenced | jq -r '"\(.silence_id) \(.state)"')"

wait_lines "$T/pages" 2  # the kitchen: opened, then its first climb
sleep 1.5                 # the kitchen climbs again meanwhile; the cellar must not
assert_not_contains "no page for the silenced cellar" "$T/pages" "dht11/cellar"
assert_not_contains "no climb of the silenced cellar" "$T/op" '"event":"escalation","from_level":1,"to_level":2,"rule":"cold","sensor":"dht11/cellar'
dht-escalate --db "$db" list >"$T/list"
assert_contains "list shows it silenced" "$T/list" "silenced"
dht-escalate --db "$db" silence list >"$T/silences"
assert_contains "silence list" "$T/silences" "dht11/cellar/*"
assert_contains "silence list: who" "$T/silences" "ana"
pass "a silence over MQTT: the cellar's alert is a silenced incident, shown, neither paged nor climbing; the kitchen pages"

# Expired by hand from the CLI: the daemon opens and pages the cellar now.
dht-escalate --db "$db" silence expire 1 --by bob >"$T/expired" || fail "silence expire: exit $?"
assert_eq "expired by bob" "bob" "$(jq -r .expired_by "$T/expired")"
assert_eq "opened when the silence ended" "silence ended" "$(event_of dht11/cellar/data opened | jq -r .reason)"
wait_for grep -q cellar "$T/pages" || fail "the cellar was never paged after the silence ended"
assert_eq "paged once, as opened" '{"sensor":"dht11/cellar/data","event":"opened"}' "$(grep -m1 cellar "$T/pages")"
pass "silence expire from the CLI: the held alert opens and pages at once"

# A silence from the CLI on a rule, in force across a restart, ends by time.
dht-escalate --db "$db" silence add --rule dry --for 3s --by carol >/dev/null
alert dry dht11/attic/data
event_of dht11/attic/data silenced >/dev/null
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM: exit $?: $(cat "$T/err")"
sleep 3
assert_not_contains "not paged while the daemon was down either" "$T/pages" "dht11/attic"
daemon 2
assert_eq "opened by the restarted daemon" "silence ended" "$(event_of dht11/attic/data opened | jq -r .reason)"
wait_for grep -q attic "$T/pages" || fail "the attic was never paged"
pass "a silence outlives a restart and ends by time: the alert then opens and pages"

# Bad silences are said and skipped; the daemon goes on.
pub -t dht11/incidents/response -m '{"action":"silence","sensor":"x","for":"forever"}'
pub -t dht11/incidents/response -m '{"action":"silence","for":"1h"}'
pub -t dht11/incidents/response -m '{"action":"expire","silence_id":99}'
pub -t dht11/incidents/response -m '{"action":"silence","rule":"late","for":"1h","by":"dan"}'
wait_for grep -q '"by":"dan"' "$T/out" || fail "the good silence after the bad ones was not added"
assert_contains "a bad duration" "$T/err" 'dht11/incidents/response: silence: "for": '
assert_contains "nothing to match" "$T/err" 'dht11/incidents/response: silence: a silence names a "sensor" or a "rule"'
assert_contains "an unknown silence" "$T/err" "dht11/incidents/response: silence 99: no such silence"
assert_eq "one in force" "late" "$(dht-escalate --db "$db" silence list --json | jq -r .rule)"
assert_eq "three in all" 3 "$(dht-escalate --db "$db" silence list --all --json | wc -l)"
assert_eq "CLI: neither --sensor nor --rule" 64 "$(exit_code dht-escalate --db "$db" silence add --for 1h 2>/dev/null)"
assert_eq "CLI: no such silence" 65 "$(exit_code dht-escalate --db "$db" silence expire 42 2>/dev/null)"
assert_eq "CLI: no database" 66 "$(exit_code dht-escalate --db "$T/none.db" silence list 2>/dev/null)"
pass "bad silences over MQTT are said and skipped; the CLI's errors have their exit codes"
