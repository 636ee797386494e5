#!/usr/bin/env bash
# The common MQTT session delivers every pending QoS 1 publish before a clean
# stop, even when the broker was not up yet when publishing began; the last
# will is sent when a client dies, not when it stops cleanly.
source "$(dirname "$0")/../lib/testlib.sh"
pubber=${DHT_TEST_BIN:-$here/../../build/tests}/session-publish
broker "$T/b"

bg mosquitto_sub -p "$PORT" -i counter -t out -q 1 -C 20000 -W 60 >"$T/got"
counter=$BG_PID
wait_subscribed counter
seq 1 20000 | "$pubber" -p "$PORT" --publish out --publish-qos 1 2>"$T/err" >/dev/null || fail "$(cat "$T/err")"
assert_contains "nothing left unacknowledged" "$T/err" "published 20000, unacknowledged 0"
wait "$counter" || fail "the subscriber did not get 20000 messages ($(wc -l <"$T/got"))"
assert_eq "distinct messages received" 20000 "$(sort -un "$T/got" | wc -l)"
pass "20000 QoS 1 publishes delivered before a clean stop"

# Publishing starts while the broker is down: the messages wait, then go.
late=$(free_port)
bg mosquitto_sub -h 127.0.0.1 -p "$PORT" -i c2 -t out2 -q 1 -C 100 -W 60 >"$T/got2"
c2=$BG_PID
wait_subscribed c2
seq 1 100 | "$pubber" -h "127.0.0.1:$late" -h "127.0.0.1:$PORT" --publish out2 2>"$T/err2" >/dev/null ||
    fail "$(cat "$T/err2")"
wait "$c2" || fail "the second subscriber did not get 100 messages"
assert_eq "messages through the fallback broker" 100 "$(sort -un "$T/got2" | wc -l)"
pass "publishes queued while connecting are delivered"

# Last will: sent on a crash (SIGKILL), not on a clean stop.
bg mosquitto_sub -p "$PORT" -i willwatch -t 'will/#' -v >"$T/will"
watch=$BG_PID
wait_subscribed willwatch
bg dht-sub -p "$PORT" -i dying -t x --will-topic will/dying --will-payload offline --will-qos 1
dying=$BG_PID
wait_subscribed dying
bg dht-sub -p "$PORT" -i clean -t x --will-topic will/clean --will-payload offline
clean=$BG_PID
wait_subscribed clean
kill "$clean"
wait "$clean" || fail "clean stop failed"
kill -9 "$dying"
wait "$dying" 2>/dev/null || true
wait_for grep -q "will/dying offline" "$T/will" || fail "no last will after a crash: $(cat "$T/will")"
mosquitto_pub -p "$PORT" -t will/end -m end
wait_for grep -q "will/end end" "$T/will" || fail "will watcher stopped"
assert_not_contains "no last will after a clean stop" "$T/will" "will/clean"
pass "the last will is sent on a crash only"
