#!/usr/bin/env bash
# dht-sub under bursts: every message, in order, at QoS 0, 1 and 2; and at
# QoS 1 with a reader of its output that stalls while a broker that queues
# 1000 messages for a client (mosquitto's default) gets 5000: dht-sub holds
# them itself, where a client that stopped reading would lose all but what
# its output buffer, the pipe and the broker's queue hold (about 2300).
source "$(dirname "$0")/../lib/testlib.sh"
broker "$T/broker" "max_queued_messages 1000"

# Numbered payloads of 100 bytes: far more than a pipe holds.
n=5000
seq -f '%05g' 1 "$n" | awk '{ printf "%s %095d\n", $1, 0 }' >"$T/payloads"
cut -c1-5 "$T/payloads" >"$T/expected"

# A reader that stalls for 3 s while the burst arrives.
bg bash -c 'dht-sub -p "$1" -i slow -t burst/slow -q 1 -C "$2" -W 120 -F %p | { sleep 3; cat; } >"$3"' _ "$PORT" "$n" "$T/slow"
wait_subscribed slow
pub -q 1 -t burst/slow -l <"$T/payloads"
wait_for eval "[ \$(wc -l <'$T/slow') -ge $n ]" || true
cut -c1-5 "$T/slow" | diff -q "$T/expected" - >/dev/null ||
    fail "slow reader, QoS 1: $(wc -l <"$T/slow") of $n lines, or out of order (first difference: $(cut -c1-5 "$T/slow" | diff "$T/expected" - | sed -n 2p))"
pass "QoS 1 with a stalled reader: $n of $n messages, in order"

# A reader that keeps up, at each QoS (a broker without a queue limit): the
# answers to a burst (PUBACK, PUBREC, PUBCOMP) leave together, messages come
# in order.
broker "$T/unlimited"
for qos in 0 1 2; do
    m=20000
    [ "$qos" = 0 ] || m=5000
    seq -f '%06g' 1 "$m" >"$T/numbers"
    bg dht-sub -p "$PORT" -i "fast$qos" -t "burst/q$qos" -q "$qos" -C "$m" -W 120 -F %p >"$T/fast$qos"
    sub=$BG_PID
    wait_subscribed "fast$qos"
    pub -q "$qos" -t "burst/q$qos" -l <"$T/numbers"
    if [ "$qos" = 0 ]; then
        # QoS 0 may lose under load; what arrives is in order and nothing twice.
        wait_for eval "[ \$(wc -l <'$T/fast$qos') -ge $m ]" || true
        sort -c "$T/fast$qos" || fail "QoS 0: out of order"
        [ "$(sort -u "$T/fast$qos" | wc -l)" = "$(wc -l <"$T/fast$qos")" ] || fail "QoS 0: a message twice"
    else
        wait "$sub" || fail "QoS $qos: dht-sub -C $m exited with $?"
        diff -q "$T/numbers" "$T/fast$qos" >/dev/null || fail "QoS $qos: $(wc -l <"$T/fast$qos") of $m lines, or out of order"
    fi
    pass "QoS $qos burst of $m: in order$([ "$qos" = 0 ] || echo ", none lost")"
done
