#!/usr/bin/env bash
# dht-sub against a real broker: message records (golden file), -C, -W, -R,
# --retained-only, -T, -v/-N, signals and a closed stdout.
source "$(dirname "$0")/../lib/testlib.sh"
[ "$DHT_TEST_BROKER" != rabbitmq ] || skip "it reads retained messages on a wildcard subscription (r/#)"
broker "$T/broker"

# Golden records: every kind of payload, timestamps checked then masked.
bg dht-sub -p "$PORT" -i golden -t 'dht11/#' -q 1 -C 7 >"$T/out" 2>"$T/err"
sub=$BG_PID
wait_subscribed golden
pub -q 0 -t dht11/sensor/data -m '{"temperature":24.50,"humidity":65.30}'
pub -t dht11/kitchen/data -q 1 -m '{"sensor":"k1","temperature":-3.2,"humidity":91,"env":{"ok":true}}'
pub -q 0 -t dht11/kitchen/status -m offline
pub -q 0 -t dht11/x/data -m 'héllo "world"'
printf '\x00\xff\x10binary' | pub -q 0 -t dht11/x/data -s
pub -q 0 -t dht11/x/data -n
pub -q 0 -t dht11/x/data -m '[1, 2.50, null]'
wait "$sub" || fail "dht-sub -C 7 exited with $?"
ts='"timestamp":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z"'
[ "$(grep -cE "^\{\"kind\":\"message\",$ts," "$T/out")" = 7 ] || fail "bad timestamps: $(cat "$T/out")"
sed -E "s/$ts/\"timestamp\":\"T\"/" "$T/out" >"$T/masked"
diff -u "$DHT_SRC/tests/cli/golden/sub_records.out" "$T/masked" || fail "records differ from the golden file"
[ ! -s "$T/err" ] || fail "unexpected stderr: $(cat "$T/err")"
jq -e . "$T/out" >/dev/null || fail "output is not JSON"
pass "message records match the golden file"

# -R skips retained messages; --retained-only prints them and ends at the first live one.
pub -t r/1 -r -m stale
bg dht-sub -p "$PORT" -i fresh -t 'r/#' -R -C 1 -F %p >"$T/fresh"
sub=$BG_PID
wait_subscribed fresh
pub -t r/1 -m live
wait "$sub"
assert_eq "-R output" live "$(cat "$T/fresh")"
bg dht-sub -p "$PORT" -i ronly -t 'r/#' --retained-only -F '%t=%p' >"$T/ronly"
sub=$BG_PID
wait_subscribed ronly
wait_lines "$T/ronly" 1
pub -t r/2 -m live
wait "$sub" || fail "--retained-only did not exit 0"
assert_eq "--retained-only output" "r/1=stale" "$(cat "$T/ronly")"
pass "-R and --retained-only"

# -T filters out, -v and -N print as mosquitto_sub does.
bg dht-sub -p "$PORT" -i filt -t 'dht11/#' -T 'dht11/+/status' -v -C 2 >"$T/filt"
sub=$BG_PID
bg mosquitto_sub -p "$PORT" -i mfilt -t 'dht11/#' -T 'dht11/+/status' -v -C 2 >"$T/mfilt"
msub=$BG_PID
wait_subscribed filt
wait_subscribed mfilt
pub -t dht11/a/status -m online
pub -t dht11/a/data -m '{"temperature":20}'
pub -t dht11/b/data -n
wait "$sub"
wait "$msub"
cmp "$T/filt" "$T/mfilt" || fail "-T -v output differs from mosquitto_sub: $(cat -A "$T/filt")"
assert_eq "-T -v output" $'dht11/a/data {"temperature":20}\ndht11/b/data (null)' "$(cat "$T/filt")"
bg dht-sub -p "$PORT" -i noeol -t n -N -C 2 -F '%p,' >"$T/noeol"
sub=$BG_PID
wait_subscribed noeol
pub -t n -m 1
pub -t n -m 2
wait "$sub"
assert_eq "-N output" "1,2," "$(cat "$T/noeol")"
pass "-T, -v and -N"

# -W: no message in time is status 75.
start=$SECONDS
rc=$(exit_code dht-sub -p "$PORT" -t quiet -W 1)
assert_eq "-W exit status" 75 "$rc"
(( SECONDS - start < 5 )) || fail "-W 1 took $((SECONDS - start)) s"
pass "-W times out with 75"

# SIGTERM and SIGINT: exit 0, what was received is printed.
for sig in TERM INT; do
    bg dht-sub -p "$PORT" -i "sig$sig" -t s -F %p >"$T/sig" 2>"$T/sigerr"
    sub=$BG_PID
    wait_subscribed "sig$sig"
    pub -t s -m before
    wait_lines "$T/sig" 1
    kill -"$sig" "$sub"
    rc=0
    wait "$sub" || rc=$?
    assert_eq "exit status on SIG$sig" 0 "$rc"
    assert_eq "output before SIG$sig" before "$(cat "$T/sig")"
done
pass "SIGTERM and SIGINT exit 0"

# A closed stdout ends dht-sub quietly with 0.
(
    set +o pipefail
    dht-sub -p "$PORT" -i pipe -t p -F %p 2>"$T/pipeerr" | head -n 1 >"$T/pipe"
    echo "${PIPESTATUS[0]}" >"$T/pipers"
) &
reader=$!
wait_subscribed pipe
for i in 1 2 3 4 5; do pub -t p -m "m$i"; sleep 0.05; done
wait "$reader"
assert_eq "first line through head" m1 "$(cat "$T/pipe")"
assert_eq "exit status when stdout closes" 0 "$(cat "$T/pipers")"
[ ! -s "$T/pipeerr" ] || fail "noise on a closed pipe: $(cat "$T/pipeerr")"
pass "a closed stdout ends dht-sub with 0"
