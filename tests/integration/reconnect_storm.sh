#!/usr/bin/env bash
# A broker that ends each connection soon after accepting it is not hammered:
# two clients given one id kick each other out (mosquitto drops the older one),
# and each waits longer after every short-lived connection instead of coming
# back at once. Then a connection that stays up starts the backoff afresh.
source "$(dirname "$0")/../lib/testlib.sh"

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
