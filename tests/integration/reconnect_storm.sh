#!/usr/bin/env bash
# A broker that ends each connection soon after accepting it is not hammered:
# two clients given one id kick each other out (mosquitto drops the older one),
# and each waits longer after every short-lived connection instead of coming
# back at once. Then a connection that stays up starts the backoff afresh.
source "$(dirname "$0")/../lib/testlib.sh"
needs_mosquitto "it counts connections in mosquitto's log and needs its max_qos"

broker "$T/b"
bg dht-sub -h "127.0.0.1:$PORT" -i twin -t x 2>"$T/a.err" >/dev/null
bg dht-sub -h "127.0.0.1:$PORT" -i twin -t x 2>"$T/b.err" >/dev/null
sleep 6
connects=$(grep -c "New client connected from .* as twin" "$BROKER_LOG" || true)
echo "# two clients sharing an id: $connects connections in 6 s"
# Both back off 1, 2, 4 s (each halved at worst by the jitter) after every
# drop: about a dozen connections in all, never thousands.
[ "$connects" -ge 3 ] || fail "the clients stopped trying ($connects connections)"
[ "$connects" -le 24 ] || fail "$connects connections in 6 s: a reconnect storm"
assert_contains "the reason said" "$T/a.err" "after connecting; reconnecting in"
pass "two clients sharing an id back off ($connects connections in 6 s)"

# A broker that closes the connection each time this client publishes (QoS 2
# to mosquitto with max_qos 1: a bare close, no reason) is not retried for
# ever: after five such connections in a row, exit 69 with the reason.
use_tools dht-rules
broker "$T/q" "max_qos 1"
mkfifo "$T/in"
exec 3<>"$T/in"
dht-rules -h "127.0.0.1:$PORT" --publish dht11/alerts --publish-qos 2 -e 'cold: temperature < 5 -> alert' \
    <"$T/in" >/dev/null 2>"$T/q.err" 3>&- &
pid=$!
PIDS+=("$pid")
echo '{"temperature":3}' >&3
rc=0
wait "$pid" || rc=$?
exec 3>&-
assert_eq "a publish the broker will not take, on every connection" 69 "$rc"
assert_contains "the reason" "$T/q.err" "5 times in a row, with a publish in flight: the broker does not accept"
connects=$(grep -c "New client connected" "$T/q/mosquitto.log" || true)
[ "$connects" -le 6 ] || fail "$connects connections for one refused publish"
pass "a publish refused by closing the connection: 5 tries, then exit 69 ($connects connections)"
