#!/usr/bin/env bash
# A persistent session (-c -i ID -q 1) loses nothing across a broker restart:
# messages in flight when the broker stops, messages queued for dht-sub while
# it is reconnecting, and messages after; every one is counted.
source "$(dirname "$0")/../lib/testlib.sh"
[ "$DHT_TEST_BROKER" != aedes ] || [ -n "${DHT_AEDES_RESTART:-}" ] ||
    skip "aedes 1.2 with its LevelDB store loses QoS 1 messages of a persistent session" \
        "under load (447-625 of 40000, scattered after the restart, in 3 of 4 whole-suite" \
        "runs); mosquitto_sub loses them too there (80-600 in 5 of 5 runs beside a build)," \
        "and neither client loses one on mosquitto or RabbitMQ. DHT_AEDES_RESTART=1 runs it."
broker "$T/b"
b_pid=$BROKER_PID
seqs() { seq "$1" "$2" | mosquitto_pub -p "$PORT" -t load/data -q 1 -l; }

bg dht-sub -p "$PORT" -c -i archiver -q 1 -t 'load/#' -F %p >"$T/out" 2>"$T/err"
sub=$BG_PID
wait_subscribed archiver

seqs 1 20000                 # A: the broker stops while delivering these
stop_pid "$b_pid"
start_test_broker "$T/b"
seqs 20001 30000             # B: published while dht-sub waits to reconnect
wait_for grep -q "connected to" "$T/err" || fail "dht-sub did not reconnect: $(cat "$T/err")"
seqs 30001 40000             # C: after the reconnect
# Until all have come, or 60 s (a slower broker on a loaded machine may still
# be delivering after wait_for's 10 s); what is still missing then is counted.
for _ in $(seq 120); do
    [ "$(sort -un "$T/out" | wc -l)" -ge 40000 ] && break
    sleep 0.5
done
sleep 0.5
kill "$sub"
wait "$sub" || fail "dht-sub exited with $?"

total=$(wc -l <"$T/out")
unique=$(sort -un "$T/out" | wc -l)
missing=$(comm -23 <(seq 1 40000 | sort) <(sort -u "$T/out") | wc -l)
echo "received $total lines, $unique distinct, $missing missing, $((total - unique)) redelivered"
[ "$missing" = 0 ] || echo "missing (1-20000 sent before the restart, 20001-30000 during, 30001- after):" \
    "$(comm -23 <(seq 1 40000 | sort) <(sort -u "$T/out") | sort -n | awk 'NR == 1 { a = b = $1; next }
        $1 == b + 1 { b = $1; next } { printf "%s-%s ", a, b; a = b = $1 } END { if (NR) printf "%s-%s", a, b }')"
assert_eq "messages missing after a broker restart" 0 "$missing"
assert_contains "the outage is logged" "$T/err" "reconnecting"
pass "a persistent session loses nothing across a broker restart"
