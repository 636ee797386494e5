#!/usr/bin/env bash
# dht-export-graphite against a carbon-cache that hangs, then dies: 5,000
# lines a second (50 series, 1,600 points each, 16 s), carbon stopped with
# SIGSTOP for 10 s while the kernel's socket buffers keep accepting lines,
# then killed with SIGKILL (its receive buffer and unwritten cache die with
# it) and started again on the same port and data. Every point must be in
# whisper at the end, and the summary and the exit status must say so: with
# the default replay window (60 s, longer than the hang), and with one of 3 s,
# shorter, where what keeps the lines is that carbon's host leaves bytes
# unacknowledged once its receive buffer is full.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-export-graphite
PORT=$(free_port)
start_carbon "$T/c" "$PORT"
PIDS+=("$CARBON_PID")

series=50 points=1600 per_tick=10  # 10 records of 50 lines every 100 ms
base=$(( ($(date +%s) - 80000) / 10 * 10 ))
feed() {
    python3 - "$base" "$series" "$points" "$per_tick" <<'PY'
import sys, time
base, series, points, per_tick = map(int, sys.argv[1:])
start = time.monotonic()
for i in range(points):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + 10 * i))
    payload = ",".join(f'"m{k:02d}":{i}' for k in range(series))
    sys.stdout.write(f'{{"kind":"message","timestamp":"{stamp}.000Z","topic":"dht11/stall/data",'
                     f'"payload":{{{payload}}},"qos":0,"retain":false}}\n')
    if i % per_tick == per_tick - 1:
        sys.stdout.flush()
        time.sleep(max(0.0, start + (i + 1) / per_tick * 0.1 - time.monotonic()))
PY
}

# count_points NAME: how many of the series*points points whisper holds under
# NAME, each at its time with its value.
count_points() {
    /usr/bin/python3 - "$T/c/whisper/$1" "$base" "$series" "$points" <<'PY'
import sys, whisper
root, base, series, points = sys.argv[1], *map(int, sys.argv[2:])
ok = 0
for k in range(series):
    try:
        (start, _, step), values = whisper.fetch(f"{root}/m{k:02d}.wsp", base - 10, base + 10 * points)
    except Exception:
        continue
    for n, v in enumerate(values):
        t = start + n * step
        if v is not None and (t - base) % 10 == 0 and v == (t - base) // 10:
            ok += 1
print(ok)
PY
}

# stall NAME EXPORTER_ARGS...: the scenario, the series under NAME.
stall() {
    local name=$1 rc=0 got=0 want=$((series * points)) summary
    shift
    feed | dht-export-graphite --template "$name.{field}" --carbon "127.0.0.1:$PORT" "$@" 2>"$T/$name.err" &
    local exporter=$!
    sleep 3
    kill -STOP "$CARBON_PID"
    sleep 10
    kill -9 "$CARBON_PID"
    wait "$CARBON_PID" 2>/dev/null || true
    rm -f "$T/c/run/"*.pid
    start_carbon "$T/c" "$PORT"
    PIDS+=("$CARBON_PID")
    wait "$exporter" || rc=$?
    for try in $(seq 1 30); do  # carbon writes what it received within a few seconds
        got=$(count_points "$name")
        [ "$got" = "$want" ] && break
        sleep 0.3
    done
    summary=$(grep ' lines sent to ' "$T/$name.err" | tail -1)
    echo "# $name: $got of $want points in whisper; exit $rc; ${summary#dht-export-graphite: }"
    if [ "$got" != "$want" ]; then
        # Whatever was lost must not pass in silence.
        [ "$rc" != 0 ] || fail "$name: $((want - got)) points missing in whisper, yet exit 0: $summary"
        assert_not_contains "$name: the summary admits a loss" "$T/$name.err" ", 0 lost"
    fi
    assert_eq "$name: points in whisper after a hang and a SIGKILL of carbon" "$want" "$got"
    assert_eq "$name: exit status" 0 "$rc"
    assert_contains "$name: the summary" "$T/$name.err" "0 spooled, 0 lost"
    assert_contains "$name: the broken connection is noticed" "$T/$name.err" "reconnecting"
}

stall stall
pass "carbon hung for 10 s, then killed: every point in whisper, the summary says 0 lost"
stall short --replay-window 3s
pass "the same with --replay-window 3s: bytes left unacknowledged hold the window"
