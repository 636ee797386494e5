#!/usr/bin/env bash
# For the same messages and -F format, dht-sub prints what mosquitto_sub prints,
# byte for byte (time fields, which differ by microseconds, are masked).
source "$(dirname "$0")/../lib/testlib.sh"
needs_mosquitto "it compares dht-sub with mosquitto_sub under MQTT 5 (-V 5)"
broker "$T/broker"
export TZ=Europe/Paris  # local-time fields (@H, %I, the "tst" of %j) in a zone with an offset

formats=(
    '%t %p'
    '%t|%q|%r|%l|%m'
    '%5.2t|%-10p|%010l|%-6l|%3q'
    '%x %X %8X %-8x|'
    '%-p|%.3t|%-.4t'
    'tab\there\\back\nslash %% @@ \e\a\v\r\0end'
    '%j'
    '%J'
    '@Y-@m-@d @H:@M:@S | %p'
    '%I %U @N @s @z @a @j'
    '%P|%C|%R|%E|%F|%S|%A|%D|%5E|%-5F|%05S|'
)
payloads=(
    '{"temperature":24.50,"humidity":65.30}'
    '{"incident_id":7,"event":"escalation","from_level":1,"to_level":2,"timestamp":"2026-11-24T10:15:30.123Z"}'
    'not json at all'
    'héllo wörld ✓'
    '[1,2.5,-0.0,1e300,12345678901234567890,{"a":null,"b":[true,false]}]'
    '  {"spaced" : "out"}  '
    '12.5'
)
n=$(( ${#payloads[@]} + 3 ))

publish_all() {
    local p
    for p in "${payloads[@]}"; do mosquitto_pub -p "$PORT" -t parity/data -q 1 -m "$p"; done
    printf 'bin\x00ary\x01\xff' | mosquitto_pub -p "$PORT" -t parity/data -q 1 -s
    mosquitto_pub -p "$PORT" -t parity/data -q 1 -n
    mosquitto_pub -p "$PORT" -V 5 -t parity/v5 -q 1 -m '{"t":1}' \
        -D publish user-property site lab -D publish user-property rack 4 \
        -D publish content-type application/json -D publish response-topic reply/here \
        -D publish message-expiry-interval 3600 -D publish payload-format-indicator 1 \
        -D publish correlation-data abc123
}

# Masks what legitimately differs between two subscribers: the clock.
mask() {
    sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6}Z)?[+-][0-9]{4}/TIME/g' \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}/TIME/g' \
        -e 's/[0-9]{10}\.[0-9]{9}/EPOCH/g' -e 's/ [0-9]{9} [0-9]{10} / NS EPOCH /g' \
        -e 's/ [A-Z][a-z]{2} [0-9]{3}$/ DAY/' "$1"
}

i=0
for f in "${formats[@]}"; do
    i=$((i + 1))
    bg mosquitto_sub -V 5 -p "$PORT" -i "m$i" -t 'parity/#' -q 1 -C "$n" -F "$f" >"$T/m$i" 2>"$T/m$i.err"
    m=$BG_PID
    bg dht-sub -V 5 -p "$PORT" -i "d$i" -t 'parity/#' -q 1 -C "$n" -F "$f" >"$T/d$i" 2>"$T/d$i.err"
    d=$BG_PID
    wait_subscribed "m$i"
    wait_subscribed "d$i"
    publish_all
    wait "$m" || fail "mosquitto_sub -F '$f' failed"
    wait "$d" || fail "dht-sub -F '$f' failed"
    [ -s "$T/m$i" ] || fail "mosquitto_sub printed nothing for '$f'"
    if ! cmp -s <(mask "$T/m$i") <(mask "$T/d$i"); then
        diff <(mask "$T/m$i" | cat -A) <(mask "$T/d$i" | cat -A) >&2 || true
        fail "-F '$f': dht-sub and mosquitto_sub differ"
    fi
    # Both complain on stderr about the same payloads for %J.
    assert_eq "stderr lines for '$f'" "$(wc -l <"$T/m$i.err")" "$(wc -l <"$T/d$i.err")"
    pass "-F '$f' prints what mosquitto_sub prints"
done

# -v and -v -N without -F, and a retained message's %r.
mosquitto_pub -p "$PORT" -t parity/kept -r -m kept
for flags in "-v" "-v -N"; do
    i=$((i + 1))
    # shellcheck disable=SC2086
    bg mosquitto_sub -p "$PORT" -i "m$i" -t 'parity/#' $flags -C $((n + 1)) >"$T/m$i"
    m=$BG_PID
    # shellcheck disable=SC2086
    bg dht-sub -p "$PORT" -i "d$i" -t 'parity/#' $flags -C $((n + 1)) >"$T/d$i"
    d=$BG_PID
    wait_subscribed "m$i"
    wait_subscribed "d$i"
    publish_all
    wait "$m"
    wait "$d"
    cmp "$T/m$i" "$T/d$i" || fail "dht-sub $flags differs from mosquitto_sub"
    pass "dht-sub $flags prints what mosquitto_sub prints"
done
