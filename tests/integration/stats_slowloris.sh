#!/usr/bin/env bash
# dht-stats --listen under a slowloris: over a thousand connections that send a
# header line every second and never finish their request. Prometheus scrapes
# from another address are all served meanwhile, the slow connections are
# closed after the request deadline (10 s) however they trickle, connections
# over the limits (8 per address, 64 in all) are refused at once, descriptors
# stay bounded, and stderr says it once for the whole spell.
source "$(dirname "$0")/../lib/testlib.sh"
export PATH="$DHT_BIN/dht-stats:$PATH"
cd "$T"

# slow.py PORT SECONDS OUT ADDR:COUNT...: opens COUNT connections from each
# ADDR, sends a request line, then a header line every second to those still
# open, for SECONDS; writes to OUT when each closed (seconds after opening;
# null if still open at the end) and touches OUT.ready once all are open.
cat >slow.py <<'PY'
import json, resource, selectors, socket, sys, time
port, seconds, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
sel = selectors.DefaultSelector()
conns = []  # [address, socket, opened, lifetime]
def closed(c):
    if c[3] is None:
        c[3] = time.monotonic() - c[2]
        sel.unregister(c[1])
        c[1].close()
def send(c, data):
    try:
        c[1].send(data)
    except OSError:
        closed(c)
for spec in sys.argv[4:]:
    addr, count = spec.split(":")
    for _ in range(int(count)):
        s = socket.socket()
        s.bind((addr, 0))
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        c = [addr, s, time.monotonic(), None]
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
        send(c, b"GET /metrics HTTP/1.1\r\nHost: dht\r\n")
open(out + ".ready", "w").close()
start = time.monotonic()
tick = start
while time.monotonic() < start + seconds:
    for key, _ in sel.select(timeout=max(0.0, min(tick + 1, start + seconds) - time.monotonic())):
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        if not data:
            closed(key.data)
    if time.monotonic() >= tick + 1:
        tick += 1
        for c in conns:
            if c[3] is None:
                send(c, b"X-Trickle: %d\r\n" % tick)
json.dump([[c[0], c[3]] for c in conns], open(out, "w"))
PY
# figures OUT: "HELD REFUSED STILL_OPEN LONGEST_LIFE": refused = closed within 5 s.
figures() {
    jq -r '[(map(select(.[1] == null or .[1] >= 5)) | length), (map(select(.[1] != null and .[1] < 5)) | length),
            (map(select(.[1] == null)) | length), (map(.[1] // 0) | max | floor)] | join(" ")' "$1"
}
per_address_max() { jq -r 'map(select(.[1] == null or .[1] >= 5) | .[0]) | group_by(.) | map(length) | max' "$1"; }
fds() { find "/proc/$spid/fd" -mindepth 1 | wc -l; }
metric() { curl -sf --max-time 5 "http://127.0.0.1:$sport/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

sport=$(free_port)
mkfifo in
exec 3<>in
# A common default descriptor limit, as under systemd.
(ulimit -n 1024 && exec dht-stats --listen "127.0.0.1:$sport" <in >out 2>err 3>&-) &
spid=$!
PIDS+=("$spid")
wait_port "$sport" || fail "--listen: nothing on $sport: $(cat err)"
fds0=$(fds)

# 1100 connections from 127.0.0.2 and 8 from each of four more addresses, for 16 s.
python3 slow.py "$sport" 16 a.json 127.0.0.2:1100 127.0.0.3:8 127.0.0.4:8 127.0.0.5:8 127.0.0.6:8 &
attack=$!
PIDS+=("$attack")
wait_for test -e a.json.ready || fail "the slow connections never opened"
served=0 maxfds=0
for i in $(seq 12); do
    code=$(curl -s -o "scrape$i" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$sport/metrics" || true)
    [ "$code" = 200 ] && grep -q '^dht_received_total 0$' "scrape$i" && served=$((served + 1))
    n=$(fds)
    (( n > maxfds )) && maxfds=$n
    sleep 1
done
wait "$attack" || fail "the slow client failed"
read -r held refused still longest <<<"$(figures a.json)"
echo "# slowloris: $served of 12 scrapes served; $held connections held, $refused refused at once;" \
    "held ones closed after at most ${longest}s; descriptors $fds0 idle, at most $maxfds under attack"
assert_eq "scrapes served during the attack" 12 "$served"
assert_eq "held: 8 from each of five addresses" 40 "$held"
assert_eq "the rest refused at once" 1092 "$refused"
assert_eq "most held from one address" 8 "$(per_address_max a.json)"
assert_eq "slow connections still open after 16 s of trickling" 0 "$still"
(( longest >= 9 )) || fail "held connections closed after ${longest}s, before the 10 s deadline"
(( maxfds <= fds0 + 64 )) || fail "descriptors: $maxfds under attack, $fds0 idle"
pass "slowloris: 12 of 12 scrapes served, 8 connections per address held and cut at the deadline, 1092 refused, $maxfds descriptors"

# Nine addresses, 8 each: 64 in all are held, the other 8 refused.
python3 slow.py "$sport" 3 b.json 127.0.0.{10..18}:8 &
attack=$!
PIDS+=("$attack")
wait_for test -e b.json.ready || fail "the connections never opened"
sleep 1
allfds=$(fds)
wait "$attack" || fail "the client failed"
read -r held refused still longest <<<"$(figures b.json)"
echo "# total limit: $held held, $refused refused, $allfds descriptors"
assert_eq "held in all" 64 "$held"
assert_eq "refused over 64 in all" 8 "$refused"
(( allfds <= fds0 + 64 )) || fail "descriptors: $allfds with 64 connections, $fds0 idle"
pass "at most 64 connections in all: the others refused at once; $allfds descriptors"

# The counters, and one report for the spell on stderr.
wait_for eval '[ -n "$(metric dht_http_rejected_total{reason=\"limit\"})" ]' || fail "no scrape after the attack"
assert_eq "refused, in the metrics" 1100 "$(metric 'dht_http_rejected_total{reason="limit"}')"
assert_eq "timed out, in the metrics" 40 "$(metric 'dht_http_rejected_total{reason="timeout"}')"
curl -sf "http://127.0.0.1:$sport/metrics" | promtool check metrics || fail "promtool rejects /metrics"
exec 3>&-
wait "$spid" || fail "dht-stats: exit status $?: $(cat err)"
echo "# stderr: $(cat err)"
assert_eq "lines on stderr" 2 "$(wc -l <err)"
assert_contains "the spell's start" err "127.0.0.2: 8 connections open from this address, the limit: refusing more"
assert_contains "the spell's totals" err "1100 connections refused over the limits and 40 closed without a whole request within 10s, in "
pass "dht_http_rejected_total counts both; stderr says it once at the start of the spell and once at its end"
