#!/usr/bin/env bash
# The toolkit's SQLite files are marked (PRAGMA application_id 'DHT1'), and
# dht-record and dht-escalate pointed at another application's database
# refuse it with a clear error and leave it as it was.
source "$(dirname "$0")/../lib/testlib.sh"
record=$DHT_BIN/dht-record/dht-record escalate=$DHT_BIN/dht-escalate/dht-escalate

msg='{"kind":"message","timestamp":"2026-11-24T10:00:00.000Z","topic":"dht11/k/data","payload":{"temperature":1}}'
alert='{"kind":"alert","rule":"cold","state":"firing","sensor":"dht11/k/data"}'
echo "$msg" | "$record" --db "$T/dht.db" 2>/dev/null
echo "$alert" | "$escalate" --db "$T/dht.db" >/dev/null 2>&1
assert_eq "application_id" 1145590833 "$(sqlite3 "$T/dht.db" 'PRAGMA application_id')"
assert_eq "both tools share the file" "1 1" \
    "$(sqlite3 "$T/dht.db" 'SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM incidents)' | tr '|' ' ')"
pass "a new database is marked as the toolkit's, and shared by dht-record and dht-escalate"

# An unmarked file of an older release is adopted.
sqlite3 "$T/old.db" "CREATE TABLE records (id INTEGER PRIMARY KEY, kind TEXT, timestamp TEXT, record TEXT)"
echo "$msg" | "$record" --db "$T/old.db" 2>"$T/err" || fail "an older database refused: $(cat "$T/err")"
assert_eq "adopted" 1145590833 "$(sqlite3 "$T/old.db" 'PRAGMA application_id')"
pass "an older, unmarked database of the toolkit's is adopted"

for app in "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)" "PRAGMA application_id = 1234"; do
    rm -f "$T/app.db"
    sqlite3 "$T/app.db" "$app; CREATE TABLE IF NOT EXISTS t (x)"
    before=$(sqlite3 "$T/app.db" '.schema'; sqlite3 "$T/app.db" 'PRAGMA application_id; PRAGMA journal_mode')
    assert_eq "dht-record on another application's file" 74 \
        "$(exit_code "$record" --db "$T/app.db" <<<"$msg" 2>"$T/err")"
    assert_contains "why" "$T/err" "another application"
    assert_eq "dht-escalate on another application's file" 74 \
        "$(exit_code "$escalate" --db "$T/app.db" <<<"$alert" 2>"$T/err")"
    assert_contains "why" "$T/err" "another application"
    after=$(sqlite3 "$T/app.db" '.schema'; sqlite3 "$T/app.db" 'PRAGMA application_id; PRAGMA journal_mode')
    assert_eq "the file untouched" "$before" "$after"
done
pass "another application's database is refused (74) and left untouched"
