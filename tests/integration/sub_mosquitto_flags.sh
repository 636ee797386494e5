#!/usr/bin/env bash
# mosquitto_sub's flags beyond -t/-F, each given to mosquitto_sub and to dht-sub
# against the same broker: what they print must be the same, byte for byte, and
# a flag mosquitto_sub refuses dht-sub refuses too. One broker listens on TCP,
# a unix socket, a PSK port and a TLS port with client certificates; a SOCKS5
# proxy (tests/lib/socks5_proxy.py) stands between for --proxy.
source "$(dirname "$0")/../lib/testlib.sh"
c=$T/certs
"$here/../../scripts/mosquitto/make-certs" "$c" localhost cl 2>"$T/make-certs.log" ||
    fail "make-certs: $(cat "$T/make-certs.log")"
printf 'dev1:c0ffee42\n' >"$T/psk"
PSK_PORT=$(free_port)
TLS_PORT=$(free_port)
broker "$T/b" "$(printf '%s\n' "listener 0 $T/mqtt.sock" \
    "listener $PSK_PORT 127.0.0.1" "psk_hint dht" "psk_file $T/psk" \
    "listener $TLS_PORT 127.0.0.1" "cafile $c/ca.crt" "certfile $c/server.crt" "keyfile $c/server.key" \
    "require_certificate true")"
wait_port "$TLS_PORT"
export TZ=Europe/Paris
tls=(-h localhost -p "$TLS_PORT" --cafile "$c/ca.crt" --cert "$c/clients/cl.crt" --key "$c/clients/cl.key")

# Masks the clock, which differs between two subscribers (as sub_format_parity.sh).
mask() {
    sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6}Z)?[+-][0-9]{4}/TIME/g' "$1"
}
same() {  # same WHAT FILE1 FILE2
    if ! cmp -s <(mask "$2") <(mask "$3"); then
        diff <(mask "$2" | cat -A) <(mask "$3" | cat -A) >&2 || true
        fail "$1: dht-sub and mosquitto_sub differ"
    fi
}

# both NAME PUBLISH ARGS...: mosquitto_sub -i mNAME ARGS and dht-sub -i dNAME
# ARGS, both subscribed before the command PUBLISH runs; both must succeed and
# print the same.
both() {
    local name=$1 publish=$2 m d
    shift 2
    bg mosquitto_sub -i "m$name" "$@" >"$T/m$name" 2>"$T/m$name.err"
    m=$BG_PID
    bg dht-sub -i "d$name" "$@" >"$T/d$name" 2>"$T/d$name.err"
    d=$BG_PID
    wait_subscribed "m$name"
    wait_subscribed "d$name"
    $publish
    wait "$m" || fail "mosquitto_sub $*: $(cat "$T/m$name.err")"
    wait "$d" || fail "dht-sub $*: $(cat "$T/d$name.err")"
    [ -s "$T/m$name" ] || fail "mosquitto_sub $* printed nothing"
    same "$*" "$T/m$name" "$T/d$name"
}

# refused ARGS...: mosquitto_sub and dht-sub both refuse ARGS (1 and 64).
refused() {
    local rc
    rc=$(exit_code mosquitto_sub -p "$PORT" "$@" -W 2 2>/dev/null)
    assert_eq "mosquitto_sub $* exit status" 1 "$rc"
    rc=$(exit_code dht-sub -p "$PORT" "$@" -W 2 2>"$T/refused.err")
    assert_eq "dht-sub $* exit status" 64 "$rc"
}

plain() { pub -t flags/a -m '{"a":{"b":[1,{"c":{}}],"d":[]},"e":"x:y, {z}"}'; pub -t flags/b -m 'not json'; }
nested_v5() {
    pub -V 5 -t flags/v5 -m '[{"k":[[],{}]},2.5]' -D publish user-property site lab \
        -D publish content-type application/json
}

# --pretty: %j and %J as cJSON prints them formatted.
both pretty1 plain -h 127.0.0.1 -p "$PORT" -t 'flags/#' -q 1 -C 2 -F '%j' --pretty
both pretty2 nested_v5 -h 127.0.0.1 -p "$PORT" -V 5 -t 'flags/#' -q 1 -C 1 -F '<%J>' --pretty
both pretty3 nested_v5 -h 127.0.0.1 -p "$PORT" -V 5 -t 'flags/#' -q 1 -C 1 -F '%j|%J' --pretty
pass "--pretty with -F %j and %J"

# -E: exit once subscribed; with -c the broker then keeps messages for the session.
for tool in mosquitto_sub dht-sub; do
    rc=$(exit_code "$tool" -h 127.0.0.1 -p "$PORT" -c -i "E-$tool" -q 1 -t 'keep/#' -E)
    assert_eq "$tool -E exit status" 0 "$rc"
done
pub -t keep/1 -m kept-for-later
for tool in mosquitto_sub dht-sub; do
    "$tool" -h 127.0.0.1 -p "$PORT" -c -i "E-$tool" -q 1 -t 'keep/#' -C 1 -W 5 -F '%t %p' >"$T/E-$tool"
done
assert_eq "queued for the -E session" "keep/1 kept-for-later" "$(cat "$T/E-dht-sub")"
same "-E" "$T/E-mosquitto_sub" "$T/E-dht-sub"
pass "-E exits once subscribed"

# -U: the persistent session drops its subscription to keep/#.
for tool in mosquitto_sub dht-sub; do
    "$tool" -h 127.0.0.1 -p "$PORT" -c -i "E-$tool" -q 1 -t other -U 'keep/#' -E
done
pub -t keep/2 -m not-any-more
pub -t other -m still-here
for tool in mosquitto_sub dht-sub; do
    "$tool" -h 127.0.0.1 -p "$PORT" -c -i "E-$tool" -q 1 -t 'keep/#' -t other -C 1 -W 5 -F '%t %p' >"$T/U-$tool"
done
assert_eq "after -U" "other still-here" "$(cat "$T/U-dht-sub")"
same "-U" "$T/U-mosquitto_sub" "$T/U-dht-sub"
pass "-U unsubscribes"

# --remove-retained clears what it prints, not what -T skips. (mosquitto_sub
# 2.0.11 hangs after -C with --remove-retained: it gets -W instead.)
for tool in mosquitto_sub dht-sub; do
    pub -t "rr-$tool/a" -r -m A
    pub -t "rr-$tool/b" -r -m B
    ends=(-C 1)
    [ "$tool" = mosquitto_sub ] && ends=(-W 2)
    "$tool" -h 127.0.0.1 -p "$PORT" -t "rr-$tool/#" -T "rr-$tool/b" --remove-retained "${ends[@]}" -F '%t %p' \
        >"$T/rr-$tool" 2>/dev/null || true
    timeout 10 mosquitto_sub -h 127.0.0.1 -p "$PORT" -t "rr-$tool/#" --retained-only -W 1 -F %p >"$T/rr2-$tool" \
        2>/dev/null || true
done
assert_eq "printed by --remove-retained" "rr-dht-sub/a A" "$(cat "$T/rr-dht-sub")"
assert_eq "retained after --remove-retained" "B" "$(cat "$T/rr2-dht-sub")"
same "--remove-retained" "$T/rr2-mosquitto_sub" "$T/rr2-dht-sub"
pass "--remove-retained"

# --retain-as-published (MQTT 5): a retained publish keeps its flag for a live subscriber.
retained() { pub -t rap/x -r -m live; pub -t rap/x -r -n; }
both rap1 retained -h 127.0.0.1 -p "$PORT" -V 5 -t 'rap/#' -q 1 -C 1 -F '%t %r %p' --retain-as-published
assert_eq "--retain-as-published" "rap/x 1 live" "$(cat "$T/drap1")"
both rap2 retained -h 127.0.0.1 -p "$PORT" -V 5 -t 'rap/#' -q 1 -C 1 -F '%t %r %p'
assert_eq "without --retain-as-published" "rap/x 0 live" "$(cat "$T/drap2")"
pass "--retain-as-published"

# --quiet: nothing on stderr, the exit status still says.
dead=$(free_port)
dht-sub -h 127.0.0.1 -p "$dead" -t x --connect-timeout 1 2>"$T/loud.err" || true
[ -s "$T/loud.err" ] || fail "dht-sub said nothing about a dead broker"
rc=$(exit_code dht-sub -h 127.0.0.1 -p "$dead" -t x --connect-timeout 1 --quiet 2>"$T/quiet.err")
assert_eq "--quiet exit status" 69 "$rc"
rc=$(exit_code mosquitto_sub -h 127.0.0.1 -p "$dead" -t x --quiet 2>"$T/mquiet.err")
assert_eq "mosquitto_sub --quiet exit status" 1 "$rc"
same "--quiet stderr" "$T/mquiet.err" "$T/quiet.err"
pass "--quiet"

# --random-filter: 100 keeps all, 50 some, outside 0.1-100 refused. (mosquitto_sub
# 2.0.11 reads PERCENT as tenths of a percent, against its own --help: 100
# prints a tenth; dht-sub keeps the documented meaning.)
many() { local i; for i in $(seq 1 200); do echo "m$i"; done | mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t rf/x -l; }
bg dht-sub -h 127.0.0.1 -p "$PORT" -i rf100 -t 'rf/#' -q 1 -C 200 --random-filter 100 -F %p >"$T/rf100"
d=$BG_PID
wait_subscribed rf100
many
wait "$d" || fail "dht-sub --random-filter 100 failed"
assert_eq "--random-filter 100" "$(seq -f 'm%g' 1 200)" "$(cat "$T/rf100")"
bg dht-sub -h 127.0.0.1 -p "$PORT" -i rf50 -t 'rf/#' -q 1 --random-filter 50 -F %p >"$T/rf50"
d=$BG_PID
wait_subscribed rf50
many
wait_for eval "[ \$(grep -c 'Received PUBACK from rf50 ' '$BROKER_LOG') -ge 200 ]" || fail "rf50 missed messages"
stop_pid "$d"
kept=$(grep -c '^m' "$T/rf50" || true)
(( kept > 0 && kept < 200 )) || fail "--random-filter 50 kept $kept of 200"
refused -t x --random-filter 0.05
assert_eq "--random-filter 101" 64 "$(exit_code dht-sub -t x --random-filter 101 2>/dev/null)"
pass "--random-filter ($kept of 200 at 50%)"

# -A: the connection comes from the address given.
both bind plain -h 127.0.0.1 -p "$PORT" -A 127.0.0.2 -t 'flags/#' -q 1 -C 2 -F '%t %p'
for id in mbind dbind; do
    assert_contains "-A for $id" "$BROKER_LOG" "New client connected from 127.0.0.2:"
    grep -Eq "New client connected from 127\.0\.0\.2:[0-9]+ as $id " "$BROKER_LOG" || fail "$id did not come from 127.0.0.2"
done
pass "-A binds the connection"

both nodelay plain -h 127.0.0.1 -p "$PORT" --nodelay -t 'flags/#' -q 1 -C 2 -F '%t %p'
pass "--nodelay"

# --unix: the broker's unix socket.
both unix plain --unix "$T/mqtt.sock" -t 'flags/#' -q 1 -C 2 -F '%t %p'
grep -Eq "New client connected from $T/mqtt.sock:0 as dunix " "$BROKER_LOG" || fail "dht-sub --unix came by TCP"
rc=$(exit_code dht-sub --unix "$T/none.sock" -t x --connect-timeout 1 2>"$T/unix.err")
assert_eq "--unix to no socket" 69 "$rc"
assert_contains "--unix names the socket" "$T/unix.err" "$T/none.sock: No such file or directory"
assert_eq "--unix with -h" 64 "$(exit_code dht-sub --unix "$T/mqtt.sock" -h 127.0.0.1 -t x 2>/dev/null)"
pass "--unix"

# --psk/--psk-identity, and --ciphers with a PSK cipher.
both psk plain -h 127.0.0.1 -p "$PSK_PORT" --psk c0ffee42 --psk-identity dev1 -t 'flags/#' -q 1 -C 2 -F '%t %p'
both pskc plain -h 127.0.0.1 -p "$PSK_PORT" --psk c0ffee42 --psk-identity dev1 --tls-version tlsv1.2 \
    --ciphers PSK-AES128-CBC-SHA256 -t 'flags/#' -q 1 -C 2 -F '%t %p'
rc=$(exit_code timeout 30 dht-sub -h 127.0.0.1 -p "$PSK_PORT" --psk 0badc0de --psk-identity dev1 -t x 2>"$T/psk.err")
assert_eq "a wrong PSK: refused for good" 78 "$rc"
assert_contains "a wrong PSK" "$T/psk.err" "check --psk, --psk-identity and --ciphers; not retrying"
pass "--psk, --psk-identity, --ciphers with a PSK"

# Certificates: --ciphers, --keyform, --tls-alpn.
both tlsc plain "${tls[@]}" --tls-version tlsv1.2 --ciphers ECDHE-ECDSA-AES256-GCM-SHA384 -t 'flags/#' -q 1 -C 2 \
    -F '%t %p'
rc=$(exit_code dht-sub "${tls[@]}" --tls-version tlsv1.2 --ciphers NO-SUCH-CIPHER -t x --connect-timeout 2 \
    2>"$T/cipher.err")
[ "$rc" != 0 ] || fail "dht-sub connected with no usable cipher"
both keyform plain "${tls[@]}" --keyform pem -t 'flags/#' -q 1 -C 2 -F '%t %p'
both alpn plain "${tls[@]}" --tls-alpn mqtt -t 'flags/#' -q 1 -C 2 -F '%t %p'
refused -h 127.0.0.1 --cafile "$c/ca.crt" --keyform pem -t x
refused -h 127.0.0.1 --cafile "$c/ca.crt" --cert "$c/clients/cl.crt" --key "$c/clients/cl.key" \
    --tls-engine no-such-engine -t x
refused -h 127.0.0.1 --cafile "$c/ca.crt" --cert "$c/clients/cl.crt" --key "$c/clients/cl.key" \
    --tls-engine-kpass-sha1 0123456789abcdef0123456789abcdef01234567 -t x
refused -h 127.0.0.1 --psk c0ffee42 -t x
pass "--ciphers, --keyform, --tls-alpn, --tls-engine checked"

# -M: max publishes in flight, at least 1.
both inflight plain -h 127.0.0.1 -p "$PORT" -M 5 -t 'flags/#' -q 1 -C 2 -F '%t %p'
refused -t x -M 0
pass "-M"

# -D: MQTT 5 properties (a subscription identifier comes back with each message).
both props plain -h 127.0.0.1 -p "$PORT" -D subscribe subscription-identifier 42 \
    -D connect user-property who dht -t 'flags/#' -q 1 -C 2 -F '%S %t %p'
assert_eq "-D subscription identifier" "42 flags/a" "$(head -1 "$T/dprops" | cut -d' ' -f1-2)"
refused -t x -D connect no-such-property 1
refused -t x -D subscribe message-expiry-interval 5
refused -t x -D bogus user-property a b
pass "-D"

# --proxy: through a SOCKS5 proxy, with and without a login.
if ! command -v python3 >/dev/null; then
    echo "skip - --proxy: no python3 to run the SOCKS5 proxy"
else
    for login in "" "u1:s3cret"; do
        pport=$(free_port)
        bg python3 "$here/socks5_proxy.py" "$pport" "$T/proxy.log" $login
        wait_port "$pport"
        url=socks5h://${login:+$login@}127.0.0.1:$pport
        : >"$T/proxy.log"
        both "proxy${login:+l}" plain -h 127.0.0.1 -p "$PORT" --proxy "$url" -t 'flags/#' -q 1 -C 2 -F '%t %p'
        who=${login%%:*}
        assert_eq "connections through the proxy" 2 "$(grep -c "CONNECT 127.0.0.1:$PORT user ${who:--}\$" \
            "$T/proxy.log" || true)"
    done
    refused -t x --proxy http://127.0.0.1:3128
    pass "--proxy"
fi
