#!/usr/bin/env bash
# Connecting: fallback brokers in order, a first connect retried until the
# broker comes up (where mosquitto_sub gives up), --connect-timeout, and a
# connection lost and renewed with its subscriptions.
source "$(dirname "$0")/../lib/testlib.sh"
needs_mosquitto "it starts and restarts mosquitto itself"
broker "$T/a"
a_pid=$BROKER_PID
dead=$(free_port)

# Fallback: the first broker is down, the second takes over.
bg dht-sub -h "127.0.0.1:$dead" -h "127.0.0.1:$PORT" -i fb -t f -C 1 -F %p >"$T/fb" 2>"$T/fb.err"
sub=$BG_PID
wait_subscribed fb
mosquitto_pub -p "$PORT" -t f -m via-fallback
wait "$sub" || fail "fallback client failed"
assert_eq "message through the fallback broker" via-fallback "$(cat "$T/fb")"
assert_contains "the failed try is logged" "$T/fb.err" "127.0.0.1:$dead: Connection refused; trying 127.0.0.1:$PORT"
assert_contains "the fallback is logged" "$T/fb.err" "connected to 127.0.0.1:$PORT"
pass "a dead first broker falls back to the second"

# First connect: mosquitto_sub gives up at once, dht-sub waits for the broker.
late=$(free_port)
rc=$(exit_code mosquitto_sub -p "$late" -t l -C 1 2>/dev/null)
[ "$rc" != 0 ] || fail "mosquitto_sub was expected to give up"
bg dht-sub -h 127.0.0.1 -p "$late" -i late -t l -C 1 -F %p >"$T/late" 2>"$T/late.err"
sub=$BG_PID
wait_for grep -q "next try in" "$T/late.err" || fail "no retry logged"
start_broker "$T/late-broker" "$late" 2>/dev/null
PIDS+=("$BROKER_PID")
wait_subscribed late "$T/late-broker/mosquitto.log"
mosquitto_pub -p "$late" -t l -m finally
wait "$sub" || fail "late client failed"
assert_eq "message after a late broker start" finally "$(cat "$T/late")"
assert_contains "the retry is logged" "$T/late.err" "127.0.0.1:$late: Connection refused; next try in"
pass "the first connect is retried until the broker is up (mosquitto_sub exits $rc)"

# --connect-timeout gives up with 69.
start=$SECONDS
rc=$(exit_code dht-sub -h 127.0.0.1 -p "$dead" -t x --connect-timeout 1500ms 2>"$T/to.err")
assert_eq "exit status past --connect-timeout" 69 "$rc"
(( SECONDS - start <= 5 )) || fail "--connect-timeout 1.5s took $((SECONDS - start)) s"
assert_contains "timeout message" "$T/to.err" "no broker reachable within 1.5s"
rc=$(exit_code dht-sub -h no-such-host.invalid -t x --connect-timeout 1 2>"$T/dns.err")
assert_eq "exit status for an unknown host" 69 "$rc"
assert_contains "unknown host message" "$T/dns.err" "no-such-host.invalid:1883:"
pass "--connect-timeout exits 69"

# A broker restart without a persistent session: dht-sub reconnects and
# subscribes again.
bg dht-sub -p "$PORT" -i again -t g -F %p >"$T/again" 2>"$T/again.err"
sub=$BG_PID
wait_subscribed again
mosquitto_pub -p "$PORT" -t g -m one
wait_lines "$T/again" 1
stop_pid "$a_pid"
start_broker "$T/a" "$PORT" 2>/dev/null
PIDS+=("$BROKER_PID")
wait_subscribed again "$BROKER_LOG" 2
mosquitto_pub -p "$PORT" -t g -m two
wait_lines "$T/again" 2
kill "$sub"
wait "$sub" || true
assert_eq "messages across the restart" $'one\ntwo' "$(cat "$T/again")"
assert_contains "the loss is logged" "$T/again.err" "reconnecting"
assert_contains "the reconnect is logged" "$T/again.err" "connected to localhost:$PORT"
pass "a lost connection is renewed with its subscriptions"

# MQTT 5 shared subscription: two instances split one stream, nothing twice.
bg dht-sub -V 5 -p "$PORT" -i share1 -t '$share/workers/jobs/#' -F %p >"$T/s1"
s1=$BG_PID
bg dht-sub -V 5 -p "$PORT" -i share2 -t '$share/workers/jobs/#' -F %p >"$T/s2"
s2=$BG_PID
wait_subscribed share1
wait_subscribed share2
seq 1 40 | mosquitto_pub -p "$PORT" -t jobs/x -q 1 -l
wait_for eval '[ $(cat "$T/s1" "$T/s2" | wc -l) -ge 40 ]' || fail "shared subscription lost messages"
kill "$s1" "$s2"
wait "$s1" "$s2" || true
assert_eq "distinct messages over both instances" 40 "$(sort -un "$T/s1" "$T/s2" | wc -l)"
assert_eq "messages in all" 40 "$(cat "$T/s1" "$T/s2" | wc -l)"
[ -s "$T/s1" ] && [ -s "$T/s2" ] || fail "one instance got nothing: $(wc -l "$T/s1" "$T/s2")"
pass "\$share/GROUP/TOPIC with -V 5 spreads one stream over two instances"
