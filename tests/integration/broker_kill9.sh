#!/usr/bin/env bash
# The broker killed with -9 in the middle of a stream, and started again:
# 3000 numbered messages published at QoS 1 through dht::Session (the
# publishing side of every tool), a persistent dht-sub session (-c -q 1)
# receiving them. Every message arrives (QoS 1 allows a duplicate, not a
# loss). The broker saves its state on every change (autosave_on_changes), as
# scripts/mosquitto/ explains for a broker that must survive a crash.
source "$(dirname "$0")/../lib/testlib.sh"
needs_mosquitto "it kills mosquitto with -9 and reads its persistence file"
n=3000
broker "$T/b" "$(printf 'autosave_interval 1\nautosave_on_changes true')"
restart() {
    mosquitto -c "$T/b/mosquitto.conf" &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    wait_port "$PORT"
}
dht-sub -p "$PORT" -c -i k9 -q 1 -t load/x -F '%p' >"$T/got" 2>"$T/sub.err" &
sub=$!
PIDS+=("$sub")
wait_subscribed k9
python3 -c "
import sys, time
for i in range($n):
    print(i, flush=True)
    time.sleep(0.001)
" | "${DHT_TEST_BIN:-$DHT_SRC/build/tests}/session-publish" -p "$PORT" -i k9pub --publish load/x --publish-qos 1 --reconnect-max 1s \
    >/dev/null 2>"$T/pub.err" &
pub=$!
PIDS+=("$pub")
wait_for eval "[ \$(wc -l <'$T/got') -ge $((n / 3)) ]" || fail "the stream never started"
kill -9 "$BROKER_PID"
at=$(wc -l <"$T/got")
sleep 1
restart
wait "$pub" || fail "the publisher failed: $(cat "$T/pub.err")"
wait_for eval "[ \$(sort -u '$T/got' | wc -l) -ge $n ]" || true
missing=$(comm -23 <(seq 0 $((n - 1)) | sort) <(sort -u "$T/got") | wc -l)
assert_eq "messages lost across a kill -9 (killed after $at)" 0 "$missing"
pass "kill -9 of the broker mid-stream: $n of $n messages arrived ($(($(wc -l <"$T/got") - n)) duplicates), killed after $at"
