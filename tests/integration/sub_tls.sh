#!/usr/bin/env bash
# TLS with a CA, a server certificate and a client certificate: dht-sub gets
# in with --cafile/--cert/--key, and is kept out (with the reason) without the
# client certificate or with the wrong CA (for good: exit 78).
source "$(dirname "$0")/../lib/testlib.sh"
c=$T/certs
mkdir -p "$c"
ossl() { openssl "$@" >/dev/null 2>&1 || fail "openssl $*"; }
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=dht test CA" -keyout "$c/ca.key" -out "$c/ca.crt"
ossl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=other CA" -keyout "$c/other.key" -out "$c/other.crt"
ossl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$c/server.key" -out "$c/server.csr"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$c/san.ext"
ossl x509 -req -in "$c/server.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 2 \
    -extfile "$c/san.ext" -out "$c/server.crt"
ossl req -newkey rsa:2048 -nodes -subj "/CN=dht-client" -keyout "$c/client.key" -out "$c/client.csr"
ossl x509 -req -in "$c/client.csr" -CA "$c/ca.crt" -CAkey "$c/ca.key" -CAcreateserial -days 2 -out "$c/client.crt"

broker "$T/b" "$(printf 'cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true' \
    "$c/ca.crt" "$c/server.crt" "$c/server.key")"
tlspub() { mosquitto_pub -h 127.0.0.1 -p "$PORT" --cafile "$c/ca.crt" --cert "$c/client.crt" --key "$c/client.key" "$@"; }

bg dht-sub -h 127.0.0.1 -p "$PORT" --cafile "$c/ca.crt" --cert "$c/client.crt" --key "$c/client.key" \
    -i tls1 -t 'dht11/#' -C 1 >"$T/out" 2>"$T/err"
sub=$BG_PID
wait_subscribed tls1
tlspub -t dht11/sensor/data -m '{"temperature":24.50,"humidity":65.30}'
wait "$sub" || fail "TLS client failed: $(cat "$T/err")"
jq -e '.payload.temperature == 24.5' "$T/out" >/dev/null || fail "bad record over TLS: $(cat "$T/out")"
pass "TLS with a client certificate"

bg dht-sub -L "mqtts://127.0.0.1:$PORT/dht11/#" --cafile "$c/ca.crt" --cert "$c/client.crt" --key "$c/client.key" \
    -i tls2 -C 1 -F %p >"$T/url" 2>"$T/url.err"
sub=$BG_PID
wait_subscribed tls2
tlspub -t dht11/a/data -m via-url
wait "$sub" || fail "mqtts:// URL failed: $(cat "$T/url.err")"
assert_eq "message via mqtts:// URL" via-url "$(cat "$T/url")"
pass "an mqtts:// URL"

rc=$(exit_code dht-sub -h 127.0.0.1 -p "$PORT" --cafile "$c/other.crt" --cert "$c/client.crt" \
    --key "$c/client.key" -t x --connect-timeout 2 2>"$T/ca.err")
assert_eq "exit status with the wrong CA" 78 "$rc"
assert_contains "the reason is given" "$T/ca.err" "is not signed by a CA in $c/other.crt: give the CA that issued it with --cafile"
pass "the wrong CA is refused for good (78): $(cat "$T/ca.err")"

rc=$(exit_code dht-sub -h 127.0.0.1 -p "$PORT" --cafile "$c/ca.crt" -t x --connect-timeout 2 2>"$T/nocert.err")
assert_eq "exit status without a client certificate" 78 "$rc"
assert_contains "the reason is given" "$T/nocert.err" "127.0.0.1:$PORT: the broker wants a client certificate"
assert_contains "the fix is named" "$T/nocert.err" "give one with --cert and --key"
pass "no client certificate: kept out for good (78): $(head -1 "$T/nocert.err")"
