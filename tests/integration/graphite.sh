#!/usr/bin/env bash
# dht-export-graphite against a real carbon-cache, read back with whisper-fetch:
# the seed's paths, sanitising, tags, UDP, a carbon restart in the middle of a
# stream and a spool across runs, with nothing lost; bad input on stdin.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-export-graphite
PORT=$(free_port)
UDP=$(free_port)
start_carbon "$T/c" "$PORT" "$UDP"
PIDS+=("$CARBON_PID")
W=$T/c/whisper
now=$(date +%s)
# point FILE EPOCH: the value whisper holds for that time ("None" if nothing).
point() {
    local file=$1 at=$2
    [ -f "$file" ] || { echo missing; return; }
    /usr/bin/whisper-fetch --from=$((at - 20)) --until=$((at + 20)) "$file" | awk -v t="$at" '
        { if ($1 <= t && t < $1 + 10) { print ($2 == "None" ? "None" : $2 + 0); found = 1; exit } }
        END { if (!found) print "None" }'
}
wait_point() {  # wait_point FILE EPOCH EXPECTED: carbon writes up to a second later
    local tries=100 got
    while (( tries-- > 0 )); do
        got=$(point "$1" "$2")
        [ "$got" = "$3" ] && return 0
        sleep 0.1
    done
    fail "$1 at $2: expected $3, got $got"
}

# The seed's paths: dht11.temperature and dht11.humidity.
t0=$((now - 600))
rec -t "$t0" dht11/sensor/data '{"temperature":24.50,"humidity":65.30}' |
    dht-export-graphite --template 'dht11.{field}' --carbon "127.0.0.1:$PORT" 2>"$T/err" || fail "$(cat "$T/err")"
wait_point "$W/dht11/temperature.wsp" "$t0" 24.5
wait_point "$W/dht11/humidity.wsp" "$t0" 65.3
assert_contains "summary" "$T/err" "2 lines sent to 127.0.0.1:$PORT"
pass "the seed's paths: dht11.temperature 24.5 and dht11.humidity 65.3 at the record's time"

# Sanitising: a sensor called "server room.1" stays one component; nested fields nest.
t1=$((now - 590))
rec -t "$t1" dht11/x/data '{"sensor":"server room.1","temperature":19.5,"env":{"co2":412}}' |
    dht-export-graphite --carbon "127.0.0.1:$PORT" --prefix home --shared-topic 'dht11/+/data' 2>/dev/null
wait_point "$W/home/dht11/server_room_1/temperature.wsp" "$t1" 19.5
wait_point "$W/home/dht11/server_room_1/env/co2.wsp" "$t1" 412
pass "\"server room.1\" becomes one component: home.dht11.server_room_1.temperature"

# Tags: carbon files a tagged series under the SHA-256 of its normalised name.
t2=$((now - 580))
rec -t "$t2" dht11/cellar/data '{"sensor":"cellar","temperature":3.5}' |
    dht-export-graphite --carbon "127.0.0.1:$PORT" --tag location=lab --shared-topic 'dht11/+/data' 2>/dev/null
hash=$(printf '%s' 'dht11.temperature;location=lab;sensor=cellar' | sha256sum | cut -d' ' -f1)
wait_point "$W/_tagged/${hash:0:3}/${hash:3:3}/$hash.wsp" "$t2" 3.5
pass "tagged series dht11.temperature;sensor=cellar;location=lab"

# UDP.
t3=$((now - 570))
rec -t "$t3" dht11/u/data '{"temperature":7.25}' |
    dht-export-graphite --template 'udp.{field}' --carbon "127.0.0.1:$UDP" --udp 2>/dev/null
wait_point "$W/udp/temperature.wsp" "$t3" 7.25
pass "--udp"

# A carbon restart in the middle of a stream: 400 points, 10 s apart, fed over
# about 4 s; carbon is stopped and started again halfway. Every point arrives.
base=$(( (now - 80000) / 10 * 10 ))
(
    for i in $(seq 0 399); do
        rec -t $((base + 10 * i)) dht11/r/data "{\"n\":$i}"
        sleep 0.01
    done
) | dht-export-graphite --template 'restart.{field}' --carbon "127.0.0.1:$PORT" --spool "$T/spool" \
    2>"$T/restart.err" &
feeder=$!
sleep 1.5
stop_pid "$CARBON_PID"
sleep 0.5
start_carbon "$T/c" "$PORT" "$UDP"
PIDS+=("$CARBON_PID")
wait "$feeder" || fail "exporter failed across the restart: $(cat "$T/restart.err")"
assert_contains "the loss is noticed" "$T/restart.err" "reconnecting"
missing=0
for try in $(seq 1 50); do
    missing=$(/usr/bin/whisper-fetch --from=$((base - 20)) --until=$((base + 4010)) "$W/restart/n.wsp" 2>/dev/null |
        awk -v b="$base" '$2 != "None" && ($1 - b) / 10 == $2 + 0 { ok++ } END { print 400 - ok }')
    [ "$missing" = 0 ] && break
    sleep 0.2
done
[ "$missing" = 0 ] || { cat "$T/restart.err" >&2; ls -R "$W" | head -30 >&2; /usr/bin/whisper-fetch --from=$((base - 20)) --until=$((base + 200)) "$W/restart/n.wsp" | head >&2; }
assert_eq "points missing after a carbon restart" 0 "$missing"
pass "a carbon restart mid-stream loses nothing ($(tail -1 "$T/restart.err" | sed 's/^dht-export-graphite: //'))"

# The spool: carbon away for a whole run, the lines wait on disk for the next.
dead=$(free_port)
t4=$((now - 560))
stop_pid "$CARBON_PID"
rec -t "$t4" dht11/s/data '{"temperature":-4}' |
    dht-export-graphite --template 'spool.{field}' --carbon "127.0.0.1:$PORT" --spool "$T/sp" --flush-timeout 1s \
        2>"$T/sp.err" || fail "spooling run failed: $(cat "$T/sp.err")"
assert_contains "spooled" "$T/sp.err" "1 spooled"
ls "$T/sp"/*.spool >/dev/null || fail "no spool file"
start_carbon "$T/c" "$PORT" "$UDP"
PIDS+=("$CARBON_PID")
dht-export-graphite --carbon "127.0.0.1:$PORT" --spool "$T/sp" </dev/null 2>"$T/sp2.err" || fail "$(cat "$T/sp2.err")"
wait_point "$W/spool/temperature.wsp" "$t4" -4
! ls "$T/sp"/*.spool 2>/dev/null || fail "spool not emptied"
rc=$(exit_code sh -c "echo '$(rec -t "$t4" dht11/s/data '{"t":1}')' | dht-export-graphite --carbon 127.0.0.1:$dead --flush-timeout 500ms 2>/dev/null")
assert_eq "exit status with lines unsent and no spool" 69 "$rc"
pass "--spool keeps lines across runs; without it, unsent lines mean exit 69"

# Bad input.
printf '%s\n' 'nope' '[1]' '{"kind":"alert","rule":"x"}' "$(rec -t "$now" dht11/b/data '{"t":1,"s":"x"}')" \
    | dht-export-graphite >"$T/bad.out" 2>"$T/bad.err" || fail "bad input made it fail"
assert_contains "stdin:1" "$T/bad.err" "stdin:1: invalid JSON"
assert_contains "stdin:2" "$T/bad.err" "stdin:2: not a JSON object"
assert_eq "lines for the good record" "dht11.dht11_b_data.t 1 $now" "$(cat "$T/bad.out")"
# A full buffer: without a spool the oldest lines are lost (and the exit says so); with one, kept.
many() { for i in $(seq 1 300); do rec -t $((now - 3000 + 10 * i)) dht11/o/data "{\"n\":$i}"; done; }
many | dht-export-graphite --carbon "127.0.0.1:$dead" --buffer 100 --flush-timeout 200ms 2>"$T/full.err" &&
    fail "lost lines but exit 0"
assert_contains "overflow reported" "$T/full.err" "buffer full (100 lines)"
assert_contains "loss counted" "$T/full.err" "0 spooled, 300 lost"
many | dht-export-graphite --carbon "127.0.0.1:$dead" --buffer 100 --flush-timeout 200ms --spool "$T/full" \
    2>"$T/full2.err" || fail "spooled overflow: $(cat "$T/full2.err")"
assert_contains "overflow spooled" "$T/full2.err" "300 spooled, 0 lost"
assert_eq "spooled lines on disk" 300 "$(cat "$T/full"/*.spool | wc -l)"
pass "a full buffer spills to the spool, or is counted as lost (exit 69)"

assert_eq "--tag sensor=" 64 "$(exit_code dht-export-graphite --tag sensor=x </dev/null 2>/dev/null)"
assert_eq "unknown placeholder" 64 "$(exit_code dht-export-graphite --template 'x.{nope}' </dev/null 2>/dev/null)"
assert_eq "--tag without =" 64 "$(exit_code dht-export-graphite --tag nope </dev/null 2>/dev/null)"
assert_eq "--udp without --carbon" 64 "$(exit_code dht-export-graphite --udp </dev/null 2>/dev/null)"
pass "bad lines are reported and skipped; bad flags exit 64"
