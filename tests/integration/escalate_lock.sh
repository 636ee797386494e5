#!/usr/bin/env bash
# One dht-escalate daemon per database: a second would count every alert
# twice. It is refused (69) with who holds the database, while tick, ack, list
# and show still run beside the daemon, and it starts once the first is gone.
source "$(dirname "$0")/../lib/testlib.sh"
esc=$DHT_BIN/dht-escalate/dht-escalate
alert='{"kind":"alert","rule":"cold","state":"firing","action":"alert","severity":"warning","sensor":"dht11/k/data"}'

quiet() { "$@" >/dev/null 2>&1; }
mkfifo "$T/in"
exec 3<>"$T/in"  # held open: the daemon's input never ends until it is closed
"$esc" --db "$T/e.db" <"$T/in" >"$T/first.out" 2>"$T/first.err" 3>&- &
first=$!
PIDS+=("$first")
echo "$alert" >&3
wait_lines "$T/first.out" 1 20 || fail "the first daemon did not open the incident: $(cat "$T/first.err")"
assert_eq "a second daemon on the same database" 69 \
    "$(exit_code "$esc" --db "$T/e.db" </dev/null 2>"$T/second.err")"
assert_contains "why" "$T/second.err" "held by process $first"
assert_contains "what to do" "$T/second.err" "another dht-escalate daemon runs on this database"
assert_eq "tick beside the daemon" 0 "$(exit_code quiet "$esc" --db "$T/e.db" tick)"
assert_eq "list beside the daemon" 0 "$(exit_code quiet "$esc" --db "$T/e.db" list)"
assert_eq "ack beside the daemon" 0 "$(exit_code quiet "$esc" --db "$T/e.db" ack 1 --by ana)"
assert_eq "the lock file's mode" 600 "$(stat -c %a "$T/e.db.daemon-lock")"
exec 3>&-
wait "$first" || fail "the first daemon failed: $(cat "$T/first.err")"
assert_eq "a daemon once the first is gone" 0 "$(exit_code quiet "$esc" --db "$T/e.db" </dev/null)"
assert_eq "one incident" 1 "$(sqlite3 "$T/e.db" 'SELECT count(*) FROM incidents')"
pass "a second daemon on one database is refused (69) naming the first; tick, list and ack run beside it"
