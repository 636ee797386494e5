#!/usr/bin/env bash
# dht-escalate --replay: history through a policy at the history's own times.
# Readings of a cold night through the seed's rules, stored by dht-record,
# queried back and replayed: the events at the times the daemon would have
# written them, the pages counted and never run, quiet hours by the records'
# clock, nothing stored, and the flags it refuses.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-escalate dht-rules dht-record
export TZ=UTC0
cd "$T"
# From 10:00 every 10 minutes: 3.5 °C falling a degree each time (cold from
# the 5th reading, 10:40; freeze from 10:40 too), then warm again at 12:00.
{
    for i in $(seq 0 9); do rec -t $((REC_T0 + i * 600)) dht11/cellar/data "{\"temperature\":$((3 - i)).5,\"humidity\":60}"; done
    rec -t $((REC_T0 + 7200)) dht11/cellar/data '{"temperature":12.5,"humidity":60}'
} | dht-rules -r "$DHT_SRC/scripts/rules/seed.rules" | dht-record --db "$T/h.db"
dht-record query --db "$T/h.db" --kind alert >"$T/alerts"
assert_eq "the history's alerts" 4 "$(wc -l <"$T/alerts")"

cat >"$T/p.policy" <<EOP
escalate-after 15m
max-level 3
level 1 notify touch $T/ran-1
level 2 notify touch $T/ran-2
level 3 notify page-boss
EOP
dht-escalate --replay --policy "$T/p.policy" <"$T/alerts" >"$T/events" 2>"$T/err" || fail "exit $?: $(cat "$T/err")"
jq -r '"\(.timestamp) \(.rule) \(.event) \(.level)"' "$T/events" >"$T/got"
cat >"$T/want" <<'EOW'
2026-11-24T10:40:00.000Z cold opened 1
2026-11-24T10:40:00.000Z freeze opened 1
2026-11-24T10:40:00.000Z freeze escalation 2
2026-11-24T10:55:00.000Z cold escalation 2
2026-11-24T10:55:00.000Z freeze escalation 3
2026-11-24T11:10:00.000Z cold escalation 3
2026-11-24T12:00:00.000Z cold resolved 3
2026-11-24T12:00:00.000Z freeze resolved 3
EOW
diff "$T/want" "$T/got" >&2 || fail "the replayed events differ"
assert_contains "the summary" "$T/err" "replay: 4 alerts, 2 incidents (0 still open at the end), 4 escalations up to level 3, 0 reminders"
assert_contains "the pages" "$T/err" "replay: 6 pages (2 page-boss, 4 touch)"
[ ! -e "$T/ran-1" ] && [ ! -e "$T/ran-2" ] || fail "a notification command ran"
[ ! -e dht.db ] || fail "a database was made"
pass "replayed at the history's times: opened, climbed every 15 minutes, resolved; 6 pages counted, none run, nothing kept"

# Quiet hours by the records' clock: non-critical pages from 10:30 to 11:30 held.
echo "quiet 10:30-11:30" >>"$T/p.policy"
dht-escalate --replay --policy "$T/p.policy" <"$T/alerts" >/dev/null 2>"$T/err"
assert_contains "held" "$T/err" "replay: 6 pages (2 page-boss, 4 touch), 3 held by quiet hours"
pass "quiet hours follow the records' clock"

# A threshold tuned: --min-severity critical leaves only the freeze.
dht-escalate --replay --policy "$T/p.policy" --min-severity critical <"$T/alerts" >"$T/events" 2>/dev/null
assert_eq "only the freeze" "freeze" "$(jq -r .rule "$T/events" | sort -u)"

assert_eq "with a broker" 64 "$(exit_code dht-escalate --replay -h 127.0.0.1 </dev/null 2>/dev/null)"
assert_eq "with a subcommand" 64 "$(exit_code dht-escalate --replay list </dev/null 2>/dev/null)"
echo '{"kind":"alert","rule":"x","state":"firing"}' | dht-escalate --replay >/dev/null 2>"$T/err"
assert_contains "an alert without its time" "$T/err" 'stdin:1: no "timestamp" in RFC 3339 form'
pass "--replay refuses a broker and subcommands; an alert without a time is named and skipped"
