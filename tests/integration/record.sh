#!/usr/bin/env bash
# dht-record with a real SQLite file (and a real broker for -t): round trip
# through query, filters, garbage on stdin, --strict, SIGTERM, kill -9, a
# locked database, prune and --mark-processed.
source "$(dirname "$0")/../lib/testlib.sh"
export PATH="$DHT_BIN/dht-record:$PATH"
db=$T/dht.db
cd "$T"

# Round trip: what dht-sub prints, dht-record stores and query prints back.
cat >"$T/in" <<'REC'
{"kind":"message","timestamp":"2026-11-24T10:00:00.000Z","topic":"dht11/sensor/data","payload":{"temperature":24.5,"humidity":65.3},"qos":0,"retain":false}
{"kind":"message","timestamp":"2026-11-24T10:00:10.000Z","topic":"dht11/cellar/data","payload":{"sensor":"cellar","temperature":3.2,"humidity":91},"qos":1,"retain":false}
{"kind":"message","timestamp":"2026-11-24T10:00:20.000Z","topic":"dht11/cellar/status","payload":"offline","qos":1,"retain":true}
{"kind":"message","timestamp":"2026-11-24T10:00:30.000Z","topic":"dht11/x/data","payload":"AP8QYmluYXJ5","encoding":"base64","qos":0,"retain":false}
{"kind":"message","timestamp":"2026-11-24T12:00:00.000Z","topic":"dht11/sensor/data","payload":{"temperature":25,"humidity":60},"qos":0,"retain":false}
REC
dht-record --db "$db" <"$T/in" 2>"$T/err" || fail "dht-record failed: $(cat "$T/err")"
dht-record query --db "$db" >"$T/out"
diff -u "$T/in" "$T/out" || fail "query does not give back what was stored"
[ "$(sqlite3 "$db" 'PRAGMA journal_mode')" = wal ] || fail "not in WAL mode"
pass "records stored and queried back unchanged"

# Filters.
q() { dht-record query --db "$db" "$@" | jq -r '.topic + " " + .timestamp'; }
assert_eq "--topic with +" $'dht11/sensor/data 2026-11-24T10:00:00.000Z\ndht11/cellar/data 2026-11-24T10:00:10.000Z\ndht11/x/data 2026-11-24T10:00:30.000Z\ndht11/sensor/data 2026-11-24T12:00:00.000Z' \
    "$(q --topic 'dht11/+/data')"
assert_eq "--topic exact" 2 "$(q --topic dht11/sensor/data | wc -l)"
assert_eq "--topic with #" 2 "$(q --topic 'dht11/cellar/#' | wc -l)"
assert_eq "--sensor from the payload" "dht11/cellar/data 2026-11-24T10:00:10.000Z" "$(q --sensor cellar)"
assert_eq "--sensor from the topic" 2 "$(q --sensor dht11/sensor/data | wc -l)"
assert_eq "--since/--until" 3 "$(q --since 2026-11-24T10:00:10Z --until 2026-11-24T12:00:00Z | wc -l)"
assert_eq "--since with an offset" 1 "$(q --since 2026-11-24T12:30:00+01:00 | wc -l)"
assert_eq "--limit" "dht11/sensor/data 2026-11-24T10:00:00.000Z" "$(q --limit 1)"
assert_eq "--since as an age" 0 "$(q --since 1h | wc -l)"
# A date, or a date and a time of day with no zone, is local time (TZ).
assert_eq "--since a date: its midnight in UTC" 5 "$(TZ=UTC0 q --since 2026-11-24 | wc -l)"
assert_eq "--since a date: its midnight twelve hours behind UTC" 1 "$(TZ=UTC+12 q --since 2026-11-24 | wc -l)"
assert_eq "--since a time of day in UTC" 0 "$(TZ=UTC0 q --since '2026-11-24 13:00' | wc -l)"
assert_eq "--since a time of day two hours ahead of UTC" 1 "$(TZ=UTC-2 q --since '2026-11-24 13:00' | wc -l)"
assert_eq "--until a date and time with seconds" 2 "$(TZ=UTC0 q --until 2026-11-24T10:00:20 | wc -l)"
assert_eq "--since yesterday --until today" 0 "$(exit_code dht-record query --db "$db" --since yesterday --until today)"
assert_eq "--until today" 5 "$(q --until today | wc -l)"
printf '%s\n' '{"kind":"message","timestamp":"2026-11-24T10:00:00.000Z","topic":"dht11","payload":1}' \
    '{"kind":"message","timestamp":"2026-11-24T10:00:01.000Z","topic":"dht11x/a","payload":2}' \
    '{"kind":"message","timestamp":"2026-11-24T10:00:02.000Z","topic":"küche/a/data","payload":3}' \
    | dht-record --db "$T/f.db"
assert_eq "'dht11/#' matches dht11 itself, not dht11x" 1 "$(dht-record query --db "$T/f.db" --topic 'dht11/#' | jq .payload)"
assert_eq "a wildcard filter with a non-ASCII prefix" 3 \
    "$(dht-record query --db "$T/f.db" --topic 'küche/+/data' | jq .payload)"
dht-record query --db "$T/f.db" --mark-processed --limit 2 >/dev/null
assert_eq "--mark-processed with --limit marks what it printed" 3 \
    "$(dht-record query --db "$T/f.db" --unprocessed | jq .payload)"
pass "query filters: topic filters, sensor, time range, limit"

# Garbage on stdin: each bad line named, the rest stored.
printf '%s\n' '{"temperature":3.5}' 'not json' '[1,2]' '{"kind":"message","topic":7}' \
    "{\"x\":\"$(head -c 300 /dev/zero | tr '\0' x)\"}" '{"kind":"message","topic":"t","timestamp":"yesterday"}' \
    '{"kind":"alert","timestamp":"2026-11-24T10:05:00.000Z","rule":"cold","state":"firing","sensor":"cellar"}' \
    '{"a":[[[[[[[[[[1]]]]]]]]]]}' '{"kind":"message","topic":"t","payload":{"v":"\u00e9"}}' \
    | dht-record --db "$T/g.db" --bare-topic dht11/bare/data --max-line 200 --max-depth 5 2>"$T/gerr" ||
    fail "garbage made dht-record fail"
for want in "stdin:2: invalid JSON" "stdin:3: not a JSON object" "stdin:4: message record without a string \"topic\"" \
    "stdin:5: line longer than --max-line" "stdin:6: \"timestamp\" is not an RFC 3339 time" "stdin:8: nested too deep" \
    "6 bad input lines skipped"; do
    assert_contains "diagnostic" "$T/gerr" "$want"
done
assert_eq "messages kept" "dht11/bare/data t" "$(dht-record query --db "$T/g.db" | jq -r .topic | tr '\n' ' ' | sed 's/ $//')"
assert_eq "alert kept" cold "$(dht-record query --db "$T/g.db" --kind alert | jq -r .rule)"
printf '%s\n' '{"a":1}' 'bad' '{"b":2}' | dht-record --db "$T/s.db" --strict 2>"$T/serr" && fail "--strict did not stop"
assert_eq "--strict exit status" 65 "$(exit_code sh -c "printf '{}\nbad\n' | dht-record --db '$T/s2.db' --strict 2>/dev/null")"
assert_eq "lines before the bad one are stored" 1 "$(dht-record query --db "$T/s.db" | wc -l)"
pass "bad lines are reported by number and skipped; --strict stores what came before, then exits 65"

# SIGTERM commits what was read.
mkfifo "$T/fifo"
bg sh -c "exec dht-record --db '$T/term.db' --commit-interval 1h --batch 100000 --tee <'$T/fifo' >'$T/term.tee'"
rec=$BG_PID
exec 7>"$T/fifo"
for i in $(seq 1 250); do echo "{\"n\":$i}" >&7; done
wait_lines "$T/term.tee" 250  # every line read: SIGTERM ends the reading, and a line still unread stays so
kill -TERM "$rec"
wait "$rec" || fail "SIGTERM exit status $?"
exec 7>&-
assert_eq "rows after SIGTERM" 250 "$(sqlite3 "$T/term.db" 'SELECT count(*) FROM messages')"
pass "SIGTERM stores every record read"

# kill -9: committed batches survive and the file is sound.
seq 1 200000 | awk '{ printf "{\"n\":%d}\n", $1 }' >"$T/many"
bg sh -c "cat '$T/many' | dht-record --db '$T/k.db' --batch 1000 --commit-interval 1h"
k=$BG_PID
wait_for eval "[ \"\$(sqlite3 '$T/k.db' 'SELECT count(*) FROM messages' 2>/dev/null || echo 0)\" -gt 5000 ]" ||
    fail "nothing committed"
pkill -9 -f "dht-record --db $T/k.db" || true
{ wait "$k"; } 2>/dev/null || true
assert_eq "integrity after kill -9" ok "$(sqlite3 "$T/k.db" 'PRAGMA integrity_check')"
rows=$(sqlite3 "$T/k.db" 'SELECT count(*) FROM messages')
assert_eq "whole batches only" 0 $((rows % 1000))
assert_eq "no gaps" "$rows" "$(sqlite3 "$T/k.db" 'SELECT max(json_extract(payload, "$.n")) FROM messages')"
pass "kill -9 keeps $rows rows in whole batches, integrity ok"

# A locked database: waited for, kept in memory, stored once free.
sqlite3 "$T/lock.db" 'PRAGMA journal_mode=WAL' >/dev/null
dht-record --db "$T/lock.db" </dev/null
( echo "BEGIN IMMEDIATE;"; sleep 7; echo "COMMIT;" ) | sqlite3 "$T/lock.db" &
locker=$!
sleep 0.3
seq 1 50 | awk '{ printf "{\"n\":%d}\n", $1 }' | dht-record --db "$T/lock.db" --commit-interval 100ms 2>"$T/lerr" ||
    fail "locked database: exit $? ($(cat "$T/lerr"))"
wait "$locker"
assert_contains "the wait is reported" "$T/lerr" "database is locked"
assert_eq "rows after the lock" 50 "$(sqlite3 "$T/lock.db" 'SELECT count(*) FROM messages')"
pass "a locked database delays the batch, loses nothing"

# --mark-processed and --unprocessed; prune.
assert_eq "unprocessed at first" 5 "$(dht-record query --db "$db" --unprocessed | wc -l)"
dht-record query --db "$db" --topic 'dht11/cellar/#' --mark-processed >/dev/null
assert_eq "unprocessed after marking" 3 "$(dht-record query --db "$db" --unprocessed | wc -l)"
dht-record prune --db "$db" --older-than 1h --vacuum
assert_eq "after prune" 0 "$(dht-record query --db "$db" | wc -l)"
dht-record prune --db "$T/g.db" --older-than 3650d
assert_eq "recent rows survive prune" 2 "$(dht-record query --db "$T/g.db" | wc -l)"
assert_eq "query on a missing database" 66 "$(exit_code dht-record query --db "$T/missing.db" 2>/dev/null)"
assert_eq "bad --since" 64 "$(exit_code dht-record query --db "$db" --since someday 2>/dev/null)"
assert_eq "prune needs --older-than" 64 "$(exit_code dht-record prune --db "$db" 2>/dev/null)"
pass "--mark-processed, --unprocessed, prune and its errors"

# From MQTT: -t, --tee, and SIGTERM.
broker "$T/b"
bg dht-record -p "$PORT" -i recorder -t 'dht11/#' --db "$T/m.db" --tee >"$T/tee"
rec=$BG_PID
wait_subscribed recorder
mosquitto_pub -p "$PORT" -t dht11/a/data -m '{"temperature":21.5}'
mosquitto_pub -p "$PORT" -t dht11/b/data -m 'not json'
wait_lines "$T/tee" 2
kill "$rec"
wait "$rec" || fail "dht-record -t exit status $?"
assert_eq "stored from MQTT" 2 "$(dht-record query --db "$T/m.db" | wc -l)"
dht-record query --db "$T/m.db" | jq -r '.topic' >"$T/mt"
assert_eq "topics from MQTT" $'dht11/a/data\ndht11/b/data' "$(cat "$T/mt")"
cmp <(dht-record query --db "$T/m.db") "$T/tee" || fail "--tee and query differ"
pass "dht-record -t stores what the broker delivers; --tee matches query"

# DHT_DB names the database.
echo '{"v":1}' | DHT_DB="$T/env.db" dht-record
assert_eq "DHT_DB" 1 "$(DHT_DB="$T/env.db" dht-record query | wc -l)"
pass "DHT_DB"
