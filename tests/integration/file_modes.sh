#!/usr/bin/env bash
# Files the tools create hold history, incidents, notification commands and
# spooled data: under a permissive umask they are still the owner's only
# (databases and their -wal/-shm files, spools, the rules' state), while what
# other programs must read (dht-stats' Prometheus file) stays readable.
source "$(dirname "$0")/../lib/testlib.sh"
for tool in dht-record dht-rules dht-stats dht-export-influx dht-export-graphite dht-escalate; do PATH="$DHT_BIN/$tool:$PATH"; done
cd "$T"
umask 022
mode() { stat -c %a "$1"; }
rec='{"kind":"message","timestamp":"2026-11-24T10:00:00.000Z","topic":"dht11/s/data","payload":{"temperature":1.5}}'

echo "$rec" | dht-record --db "$T/h.db"
assert_eq "dht-record's database" 600 "$(mode "$T/h.db")"
mkfifo "$T/fifo"
exec 3<>"$T/fifo"
dht-record --db "$T/live.db" <"$T/fifo" &
pid=$!
echo "$rec" >&3
wait_for test -e "$T/live.db-wal" || fail "no -wal file"
assert_eq "its -wal file" 600 "$(mode "$T/live.db-wal")"
assert_eq "its -shm file" 600 "$(mode "$T/live.db-shm")"
kill -TERM "$pid"
wait "$pid"
exec 3>&-
echo '{"kind":"alert","rule":"cold","state":"firing","sensor":"s"}' | dht-escalate --db "$T/e.db" --notify 'logger -t x' >/dev/null
assert_eq "dht-escalate's database" 600 "$(mode "$T/e.db")"
echo "$rec" | dht-rules -e 'cold: temperature < 5 -> alert' --state "$T/rules.state" >/dev/null
assert_eq "dht-rules' state" 600 "$(mode "$T/rules.state")"
echo "$rec" | dht-stats --prom-file "$T/dht.prom" >/dev/null
assert_eq "dht-stats' Prometheus file, for node_exporter" 644 "$(mode "$T/dht.prom")"
pass "databases, their -wal and -shm files and the rules' state are the owner's only; the Prometheus file is readable"

# Spools: nothing listens on the port, the lines go to the spool at exit.
closed=$(free_port)
mkdir -p "$T/gspool" "$T/ispool"
echo "$rec" | dht-export-graphite --carbon "127.0.0.1:$closed" --spool "$T/gspool" --flush-timeout 1s 2>/dev/null || true
files=("$T"/gspool/*.spool)
[ -e "${files[0]}" ] || fail "dht-export-graphite spooled nothing: $(ls -la "$T/gspool")"
assert_eq "a Graphite spool file" 600 "$(mode "${files[0]}")"
echo "$rec" | dht-export-influx --url "http://127.0.0.1:$closed" --database d --spool "$T/ispool" --flush-timeout 1s 2>/dev/null || true
files=("$T"/ispool/*)
[ -e "${files[0]}" ] || fail "dht-export-influx spooled nothing"
assert_eq "an InfluxDB spool file" 600 "$(mode "${files[0]}")"
pass "spool files are the owner's only"
