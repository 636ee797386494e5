#!/usr/bin/env bash
# The exporters' options as the toolkit spells them: durations (a bare number
# is seconds, a bad one names its flag), the InfluxDB token ranked as every
# secret (the environment before the file), and spool files kept apart by
# destination, an older release's files resent.
source "$(dirname "$0")/../lib/testlib.sh"
for tool in dht-export-influx dht-export-graphite dht-record; do PATH="$DHT_BIN/$tool:$PATH"; done
rec='{"kind":"message","timestamp":"2026-11-24T10:00:00.000Z","topic":"dht11/s/data","payload":{"temperature":1.5}}'

# Durations: a bare number is seconds in both exporters, 0 is "at once"; a bad one is 64, naming the flag.
for tool in dht-export-influx dht-export-graphite; do
    for value in 10 0 1.5 250ms; do
        assert_eq "$tool --flush-timeout $value" 0 "$(exit_code "$tool" --flush-timeout "$value" </dev/null 2>/dev/null)"
    done
done
bad() {  # bad TOOL FLAG VALUE [ARGS...]
    local tool=$1 flag=$2 value=$3 rc=0
    shift 3
    "$tool" "$@" "$flag" "$value" </dev/null >/dev/null 2>"$T/bad.err" || rc=$?
    assert_eq "$tool $* $flag $value" 64 "$rc"
    assert_contains "$tool $flag $value names the flag" "$T/bad.err" "$flag"
}
for flag in --flush-timeout --flush-interval --http-timeout --retry-max; do
    bad dht-export-influx "$flag" soon
    bad dht-export-influx "$flag" -1s
done
bad dht-export-influx --http-timeout 500us
bad dht-export-graphite --flush-timeout soon
bad dht-record --commit-interval 0
bad dht-record --commit-interval 2x
echo "$rec" | dht-record --db "$T/h.db" --commit-interval 2
assert_eq "prune --older-than with a bare number" 0 "$(exit_code dht-record prune --db "$T/h.db" --older-than 86400)"
assert_eq "prune --older-than 0" 0 "$(exit_code dht-record prune --db "$T/h.db" --older-than 0)"
assert_eq "records left after prune --older-than 0" "" "$(dht-record query --db "$T/h.db")"
pass "durations: a bare number is seconds; a bad one exits 64 naming its flag"

# A stand-in for InfluxDB 2.x: answers 204 and keeps each request's Authorization header.
HTTP=$(free_port)
bg python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "a") as f:
            f.write(self.headers.get("Authorization", "") + "\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$HTTP" "$T/auth"
wait_port "$HTTP" || fail "the HTTP stand-in did not start"
printf 'from-file\r\nsecond line\n' >"$T/token"
influx2() { echo "$rec" | dht-export-influx --url "http://127.0.0.1:$HTTP" --org o --bucket b --token-file "$T/token" 2>/dev/null; }
influx2 || fail "2.x write with a token file"
DHT_INFLUX_TOKEN=from-env influx2 || fail "2.x write with DHT_INFLUX_TOKEN"
assert_eq "tokens sent (file: first line without its CR LF; then the environment over the file)" \
    "Token from-file|Token from-env" "$(paste -sd'|' "$T/auth")"
pass "the InfluxDB token: the environment wins over --token-file, whose first line is read without its line end"

# Graphite spool files belong to their carbon: another address leaves them alone.
a=$(free_port)
b=$(free_port)
echo "$rec" | dht-export-graphite --carbon "127.0.0.1:$a" --spool "$T/sp" --flush-timeout 0 2>/dev/null ||
    fail "spooling for $a"
echo "$rec" | dht-export-graphite --carbon "127.0.0.1:$b" --spool "$T/sp" --flush-timeout 0 2>"$T/b.err" ||
    fail "spooling for $b: $(cat "$T/b.err")"
assert_contains "the other address's file" "$T/b.err" "1 spool file in $T/sp is for another destination: left alone"
assert_eq "spool files, one per address" 2 "$(ls "$T/sp" | grep -c '^graphite-[0-9a-f]\{16\}-.*\.spool$')"
assert_eq "distinct names per address" 2 "$(ls "$T/sp" | cut -d- -f2 | sort -u | wc -l)"
pass "graphite spool files are named for their carbon; another carbon leaves them alone, with a warning"

# A stand-in for carbon that keeps what it reads; the older release's spool file (no address) is resent to it.
C=$(free_port)
bg python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
while True:
    c, _ = s.accept()
    data = b""
    while True:
        d = c.recv(65536)
        if not d: break
        data += d
    c.close()
    with open(sys.argv[2], "ab") as f: f.write(data)
' "$C" "$T/carbon"
wait_port "$C" || fail "the carbon stand-in did not start"
mkdir "$T/old"
printf 'old.one 1 1764000000\nold.two 2 1764000010\n' >"$T/old/graphite-1764000000000-4242-0.spool"
dht-export-graphite --carbon "127.0.0.1:$C" --spool "$T/old" </dev/null 2>"$T/old.err" || fail "resend: $(cat "$T/old.err")"
assert_contains "loaded" "$T/old.err" "2 spooled lines to send from $T/old"
assert_eq "resent to carbon" "old.one 1 1764000000|old.two 2 1764000010" "$(paste -sd'|' "$T/carbon")"
assert_eq "the older file deleted once sent" "" "$(ls "$T/old")"
pass "an older release's graphite spool file is resent, then deleted"
