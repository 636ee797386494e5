#!/usr/bin/env bash
# dht-export-influx against a real InfluxDB 1.x (influxd) read back with its
# query API: a round trip of values, awkward tag values, an outage in the middle
# of a stream with nothing lost, a spool resent by the next run, a rejected
# line among good ones, gzip, and the exit statuses.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-export-influx
cd "$T"
IPORT=$(free_port)
start_influx "$T/influx" "$IPORT" || fail "influxd did not start"
PIDS+=("$INFLUX_PID")
URL=http://127.0.0.1:$IPORT
q() {  # q DB QUERY: the first series' values as compact JSON
    curl -sf "$URL/query?db=$1" --data-urlencode "q=$2" | jq -c '[.results[0].series[]?.values[]]'
}
create() { curl -sf -XPOST "$URL/query" --data-urlencode "q=CREATE DATABASE $1" >/dev/null; }

# Round trip: the seed's measurement and fields, tags from the topic and the command line.
create dht
t0=1795500000
{
    for i in $(seq 0 99); do
        rec -t $((t0 + i * 10)) dht11/kitchen/data "{\"temperature\":$((20 + i % 5)).5,\"humidity\":65.3,\"rssi\":-$((60 + i % 3))}"
        rec -t $((t0 + i * 10)) dht11/cellar/data "{\"sensor\":\"cellar\",\"temperature\":-$((i % 4)).25,\"humidity\":91}"
    done
    rec -t $((t0 + 5000)) dht11/sensor/status '"offline"'
} >"$T/in"
dht-export-influx --url "$URL" --database dht --tag location=home --topic-tags _/room/_ --int-field rssi \
    --shared-topic dht11/cellar/data <"$T/in" 2>"$T/err" || fail "export failed: $(cat "$T/err")"
assert_contains "summary" "$T/err" "200 points written to $URL, 0 retries, 0 rejected, 0 spooled, 0 lost"
assert_eq "points per sensor" '[["1970-01-01T00:00:00Z",100]]' "$(q dht "SELECT count(temperature) FROM dht11 WHERE sensor = 'cellar'")"
assert_eq "a value at its time" '[["2026-11-24T06:00:30Z",23.5,65.3,"kitchen"]]' \
    "$(q dht "SELECT temperature, humidity, room FROM dht11 WHERE sensor = 'dht11/kitchen/data' AND time = $(( (t0 + 30) ))s")"
assert_eq "sums agree with the input" "$(jq -s 'map(select(.topic == "dht11/cellar/data") | .payload.temperature) | add' "$T/in")" \
    "$(curl -sf "$URL/query?db=dht" --data-urlencode "q=SELECT sum(temperature) FROM dht11 WHERE sensor = 'cellar'" | jq '.results[0].series[0].values[0][1]')"
assert_eq "--int-field keeps an integer" '[["rssi","integer"],["temperature","float"]]' \
    "$(q dht 'SHOW FIELD KEYS FROM dht11' | jq -c 'map(select(.[0] == "rssi" or .[0] == "temperature"))')"
assert_eq "--tag" '[["location","home"]]' "$(q dht 'SHOW TAG VALUES FROM dht11 WITH KEY = location')"
pass "round trip: 200 points, values, sums, tags from the topic and --tag, an integer field"

# Awkward tag values and names: spaces, commas, equals signs, quotes, backslashes, UTF-8.
create awk
names=('server room' 'a,b' 'k=v' 'say "hi"' 'C:\temp\x' 'back\,slash' 'küche 1' 'x = y, z')
for n in "${names[@]}"; do
    rec -t "$t0" "dht11/x/data" "$(jq -cn --arg s "$n" '{sensor: $s, temperature: 1}')"
done | dht-export-influx --url "$URL" --database awk --measurement 'dht 11,x' --shared-topic dht11/x/data 2>"$T/err" ||
    fail "awkward names: $(cat "$T/err")"
got=$(q awk 'SHOW TAG VALUES FROM "dht 11,x" WITH KEY = sensor' | jq -r '.[][1]' | sort)
want=$(printf '%s\n' "${names[@]}" | sort)
[ "$got" = "$want" ] || fail "tag values did not come back unchanged: $(diff <(echo "$want") <(echo "$got"))"
pass "tag values with spaces, commas, '=', quotes, backslashes and UTF-8 come back unchanged"

# An outage in the middle of a stream: nothing lost (memory, then spool, then resent).
create live
mkfifo "$T/fifo"
exec 3<>"$T/fifo"
dht-export-influx --url "$URL" --database live --flush-interval 200ms --buffer 100 --batch 50 --retry-max 1s \
    --spool "$T/spool" <"$T/fifo" >/dev/null 2>"$T/live.err" 3>&- &
epid=$!
PIDS+=("$epid")
for i in $(seq 0 99); do rec -t $((t0 + i)) dht11/a/data "{\"temperature\":$i}" >&3; done
wait_for eval "[ \"\$(q live 'SELECT count(temperature) FROM dht11')\" = '[[\"1970-01-01T00:00:00Z\",100]]' ]" ||
    fail "the first 100 points never arrived: $(cat "$T/live.err")"
stop_pid "$INFLUX_PID"
for i in $(seq 100 599); do rec -t $((t0 + i)) dht11/a/data "{\"temperature\":$i}" >&3; done
wait_for grep -q "retrying in" "$T/live.err" || fail "no retry: $(cat "$T/live.err")"
wait_for eval "ls '$T/spool'/*.lp >/dev/null 2>&1" || fail "500 lines with a buffer of 100 and nothing spooled"
start_influx "$T/influx" "$IPORT" || fail "influxd did not restart"
PIDS+=("$INFLUX_PID")
for i in $(seq 600 699); do rec -t $((t0 + i)) dht11/a/data "{\"temperature\":$i}" >&3; done
tries=0
until [ "$(q live 'SELECT count(temperature) FROM dht11')" = '[["1970-01-01T00:00:00Z",700]]' ]; do
    (( ++tries < 300 )) || fail "after the outage: $(q live 'SELECT count(temperature) FROM dht11'): $(cat "$T/live.err")"
    sleep 0.1
done
kill -TERM "$epid"
wait "$epid" || fail "SIGTERM: exit status $?"
exec 3>&-
assert_contains "the summary" "$T/live.err" "700 points written"
assert_contains "the summary" "$T/live.err" "0 lost"
assert_eq "every value, once" 244650 "$(curl -sf "$URL/query?db=live" --data-urlencode 'q=SELECT sum(temperature) FROM dht11' | jq '.results[0].series[0].values[0][1]')"
[ -z "$(ls "$T/spool")" ] || fail "the spool was not emptied: $(ls "$T/spool")"
pass "InfluxDB stopped mid-stream: retries, memory then spool, every one of 700 points written once"

# A run that ends while InfluxDB is down spools; the next run sends the spool first.
stop_pid "$INFLUX_PID"
rc=0
for i in $(seq 0 49); do rec -t $((t0 + 1000 + i)) dht11/b/data "{\"temperature\":1}"; done |
    dht-export-influx --url "$URL" --database live --spool "$T/spool" --flush-timeout 1s --retry-max 1s \
        >/dev/null 2>"$T/err" || rc=$?
assert_eq "spooled, so nothing lost: exit 0" 0 "$rc"
assert_contains "summary" "$T/err" "0 rejected, 50 spooled, 0 lost"
start_influx "$T/influx" "$IPORT" || fail "influxd did not restart"
PIDS+=("$INFLUX_PID")
dht-export-influx --url "$URL" --database live --spool "$T/spool" </dev/null 2>"$T/err" || fail "resend: $(cat "$T/err")"
assert_contains "resent" "$T/err" "50 spooled lines to send"
assert_eq "the spooled points" '[["1970-01-01T00:00:00Z",50]]' "$(q live "SELECT count(temperature) FROM dht11 WHERE sensor = 'dht11/b/data'")"
pass "a run that ends during an outage spools (exit 0); the next run resends the spool"

# A rejected line among good ones: InfluxDB names it, the others are written.
{
    rec -t "$t0" dht11/c/data '{"temperature":1.5}'
    rec -t $((t0 + 1)) dht11/c/data '{"temperature":"warm"}'
    rec -t $((t0 + 2)) dht11/c/data '{"temperature":2.5}'
} | dht-export-influx --url "$URL" --database live --string-fields 2>"$T/err" || fail "exit status $?"
assert_contains "InfluxDB's reason, naming the line" "$T/err" 'temperature="warm"'
assert_contains "summary" "$T/err" "2 points written to $URL, 0 retries, 1 rejected, 0 spooled, 0 lost"
assert_eq "the good lines" '[["1970-01-01T00:00:00Z",2]]' "$(q live "SELECT count(temperature) FROM dht11 WHERE sensor = 'dht11/c/data'")"
pass "a line InfluxDB rejects is reported with its reason; the lines around it are written"

# gzip.
rec -t "$t0" dht11/g/data '{"temperature":7.25}' | dht-export-influx --url "$URL" --database live --gzip 2>"$T/err" ||
    fail "gzip: $(cat "$T/err")"
assert_eq "gzip" '[["2026-11-24T06:00:00Z",7.25]]' "$(q live "SELECT temperature FROM dht11 WHERE sensor = 'dht11/g/data'")"
pass "--gzip"

# Exit statuses: a database that does not exist (78, lines kept in the spool), no server (69).
rc=0
rec -t "$t0" dht11/x/data '{"temperature":1}' |
    dht-export-influx --url "$URL" --database nope --spool "$T/spool2" 2>"$T/err" || rc=$?
assert_eq "unknown database: 78" 78 "$rc"
assert_contains "the reason" "$T/err" "database not found"
assert_eq "and the line waits in the spool" 1 "$(cat "$T/spool2"/*.lp | wc -l)"
rc=0
rec -t "$t0" dht11/x/data '{"temperature":1}' |
    dht-export-influx --url "http://127.0.0.1:$(free_port)" --database dht --flush-timeout 500ms 2>"$T/err" || rc=$?
assert_eq "no server, no spool, past --flush-timeout: 69" 69 "$rc"
assert_contains "counted" "$T/err" "1 lost"
assert_eq "--url without a database" 64 "$(exit_code dht-export-influx --url "$URL" </dev/null 2>/dev/null)"
assert_eq "a bad --url" 64 "$(exit_code dht-export-influx --url ftp://x --database d </dev/null 2>/dev/null)"
pass "exit 78 when InfluxDB refuses the database (the lines spooled), 69 when lines are lost, 64 for bad flags"

# Line protocol on stdout; bad lines reported by number.
printf '%s\n' '{"kind":"message","timestamp":"2026-11-24T10:00:00.5Z","topic":"dht11/a/data","payload":{"temperature":24.5,"humidity":65.3}}' \
    'oops' '{"temperature":3}' >"$T/mixed"
dht-export-influx --precision ms --bare-topic dht11/bare/data <"$T/mixed" >"$T/out" 2>"$T/err"
assert_eq "line protocol" "dht11,sensor=dht11/a/data temperature=24.5,humidity=65.3 1795514400500" "$(head -n 1 "$T/out")"
assert_eq "a bare payload" "dht11,sensor=dht11/bare/data temperature=3" "$(sed -n 2p "$T/out" | cut -d' ' -f1-2)"
assert_contains "the bad line" "$T/err" "stdin:2: invalid JSON"
pass "without --url: line protocol on stdout; bad lines reported by number"

# Retry-After (InfluxDB 1.6 never sends one: a stand-in server that answers 503
# with "Retry-After: 30"): honoured, yet --flush-timeout still bounds the exit.
FPORT=$(free_port)
python3 - "$FPORT" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(503)
        self.send_header("Retry-After", "30")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
PIDS+=($!)
wait_port "$FPORT"
start=$(date +%s)
rc=0
rec -t "$t0" dht11/x/data '{"temperature":1}' |
    dht-export-influx --url "http://127.0.0.1:$FPORT" --database d --flush-timeout 1s --spool "$T/spool3" 2>"$T/err" || rc=$?
assert_contains "Retry-After honoured" "$T/err" "HTTP 503: ; retrying in 30.0s"
(( $(date +%s) - start < 10 )) || fail "--flush-timeout 1s took $(( $(date +%s) - start )) s with Retry-After: 30"
assert_eq "spooled, not lost" 0 "$rc"
assert_eq "in the spool" 1 "$(cat "$T/spool3"/*.lp | wc -l)"
pass "Retry-After is honoured, and --flush-timeout still ends the run on time (the line spooled)"
