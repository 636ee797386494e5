#!/usr/bin/env bash
# A TLS setup that cannot work ends an MQTT tool at once, without
# --connect-timeout: exit 78 and one line naming the fix (a CA not in
# --cafile; a certificate for another name, with the names it holds and
# --insecure; a client certificate missing or refused: --cert/--key; a plain
# client on the TLS port). Such a broker is skipped for the next one in -h,
# and a broker that is only down (connection refused) is still retried.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-sensor-sim
M=${DHT_SRC:?}/scripts/mosquitto
C=$T/certs O=$T/other
"$M/make-certs" "$C" localhost cl 2>"$T/make-certs.log" || fail "make-certs: $(cat "$T/make-certs.log")"
"$M/make-certs" "$O" localhost cl 2>>"$T/make-certs.log" || fail "make-certs (other CA)"
tls_conf() { printf 'cafile %s\ncertfile %s\nkeyfile %s\n' "$C/ca.crt" "$C/server.crt" "$C/server.key"; }
broker "$T/open" "$(tls_conf)"
OPEN=$PORT OPEN_LOG=$BROKER_LOG
broker "$T/strict" "$(tls_conf; echo 'require_certificate true')"
STRICT=$PORT

# final NAME TEXT TOOL ARGS...: TOOL gives up by itself with 78 and TEXT in its
# reason (timeout only keeps a tool that retries for ever from hanging the test).
final() {
    local name=$1 text=$2 rc
    shift 2
    rc=$(exit_code timeout 30 "$@" 2>"$T/$name.err")
    assert_eq "exit status ($name)" 78 "$rc"
    assert_contains "the reason ($name)" "$T/$name.err" "$text"
    assert_contains "it says it stops ($name)" "$T/$name.err" "not retrying"
    assert_eq "one line ($name)" 1 "$(wc -l <"$T/$name.err")"
}

final wrongca "not signed by a CA in $O/ca.crt: give the CA that issued it with --cafile" \
    dht-sub -t x -h localhost -p "$OPEN" --cafile "$O/ca.crt"
final wrongca-sim "give the CA that issued it with --cafile" dht-sensor-sim --count 1 --interval 1s -h localhost -p "$OPEN" --cafile "$O/ca.crt"
pass "a broker certificate from another CA: 78, $(cat "$T/wrongca.err")"

final name "the broker's certificate is for localhost, not 127.0.0.1: connect by that name (-h), or add --insecure" \
    dht-sub -t x -h 127.0.0.1 -p "$OPEN" --cafile "$C/ca.crt"
final name-sim "is for localhost, not 127.0.0.1" dht-sensor-sim --count 1 --interval 1s -h 127.0.0.1 -p "$OPEN" --cafile "$C/ca.crt"
pass "a broker certificate for another name: 78, $(cat "$T/name.err")"

final nocert "the broker wants a client certificate" dht-sub -t x -h localhost -p "$STRICT" --cafile "$C/ca.crt"
assert_contains "the flags" "$T/nocert.err" "give one with --cert and --key"
final nocert-sim "give one with --cert and --key" dht-sensor-sim --count 1 --interval 1s -h localhost -p "$STRICT" --cafile "$C/ca.crt"
final foreign "the broker does not accept the client certificate $O/clients/cl.crt" \
    dht-sub -t x -h localhost -p "$STRICT" --cafile "$C/ca.crt" --cert "$O/clients/cl.crt" --key "$O/clients/cl.key"
pass "no client certificate where one is required: 78, $(cat "$T/nocert.err")"
pass "a client certificate from another CA: 78, $(cat "$T/foreign.err")"

final plain "this port speaks TLS" dht-sub -t x -h localhost -p "$OPEN"
final plain-sim "this port speaks TLS" dht-sensor-sim --count 1 --interval 1s -h localhost -p "$OPEN"
final plain-v5 "this port speaks TLS" dht-sub -t x -h localhost -p "$STRICT" -V 5
pass "a plain client on the TLS port: 78, $(cat "$T/plain.err")"

# The right setup works (the checks above fail for their reason, not any TLS).
rc=$(exit_code dht-sub -h localhost -p "$STRICT" --cafile "$C/ca.crt" --cert "$C/clients/cl.crt" \
    --key "$C/clients/cl.key" -t x -W 1 2>"$T/good.err")
assert_eq "the right certificates (timeout, exit 75)" 75 "$rc"
rc=$(exit_code dht-sub -h 127.0.0.1 -p "$OPEN" --cafile "$C/ca.crt" --insecure -t x -W 1 2>"$T/insecure.err")
assert_eq "--insecure connects by a name not in the certificate" 75 "$rc"
pass "the same brokers with the right setup, and --insecure, connect"

# A broker that fails for good is skipped for the next one.
bg dht-sub -h "127.0.0.1:$OPEN" -h "localhost:$OPEN" --cafile "$C/ca.crt" -i two -t two -C 1 >"$T/two.out" 2>"$T/two.err"
two=$BG_PID
wait_subscribed two "$OPEN_LOG"
pub -h localhost -p "$OPEN" --cafile "$C/ca.crt" -t two -m hello
wait "$two" || fail "with a good broker after a bad one: $(cat "$T/two.err")"
assert_contains "the payload" "$T/two.out" hello
assert_contains "the bad broker's reason" "$T/two.err" "127.0.0.1:$OPEN: the broker's certificate is for localhost"
assert_contains "the switch" "$T/two.err" "connected to localhost:$OPEN"
pass "a certificate for another name on the first broker, a good second one: it connects to the second"

# A bad broker and one that is down: the second may come back, so it retries.
closed=$(free_port)
rc=$(exit_code dht-sub -h "127.0.0.1:$OPEN" -h "localhost:$closed" --cafile "$C/ca.crt" -t x \
    --connect-timeout 2 2>"$T/mixed.err")
assert_eq "a bad broker and a down one: retried until --connect-timeout" 69 "$rc"
assert_contains "retried" "$T/mixed.err" "next try in"

# A broker that is down is retried, also without --connect-timeout.
rc=$(exit_code dht-sub -h "127.0.0.1:$closed" -t x --connect-timeout 1 2>"$T/closed.err")
assert_eq "connection refused, with --connect-timeout" 69 "$rc"
bg dht-sub -h "127.0.0.1:$closed" -t x 2>"$T/down.err"
down=$BG_PID
wait_for eval "[ \$(grep -c 'next try in' '$T/down.err') -ge 2 ]" || fail "not retried: $(cat "$T/down.err")"
kill -0 "$down" 2>/dev/null || fail "dht-sub gave up on a broker that is down: $(cat "$T/down.err")"
assert_not_contains "no final verdict" "$T/down.err" "not retrying"
pass "a broker that is down is retried (69 only with --connect-timeout)"
