#!/usr/bin/env bash
# SIGTERM, SIGHUP and a closed stdout in every tool. SIGTERM ends a tool
# reading live input with status 0 after it has flushed and committed what it
# read; SIGHUP never kills one (it re-reads rules or a policy where there is
# one); a reader that goes away (`| head -n 1`) ends a tool quietly with 0.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools "${DHT_TOOLS[@]}"
cd "$T"
reading() {  # reading N: a message record that every tool acts on (the cold rule fires)
    rec -t $((REC_T0 + $1)) dht11/s/data "{\"temperature\":$((3 - $1)).5,\"humidity\":50}"
}
alert() { printf '{"kind":"alert","rule":"cold%d","state":"firing","sensor":"s"}\n' "$1"; }
# What each tool must have done with two records: a check on its stdout.
declare -A cmd expect
cmd[dht-record]="dht-record --db $T/r.db --tee"
expect[dht-record]='[ "$(sqlite3 '"$T"'/r.db "SELECT count(*) FROM messages")" = 2 ] && [ "$(wc -l <"$1")" = 2 ]'
cmd[dht-rules]="dht-rules -e 'cold: temperature < 5 -> alert'"
expect[dht-rules]='grep -q "\"state\":\"firing\"" "$1"'
cmd[dht-stats]="dht-stats --format json"
expect[dht-stats]='[ "$(jq -r ".sensors[\"dht11/s/data\"].fields.temperature.count" "$1" | tail -n 1)" = 2 ]'
cmd[dht-export-influx]="dht-export-influx"
expect[dht-export-influx]='[ "$(wc -l <"$1")" = 2 ]'
cmd[dht-export-graphite]="dht-export-graphite"
expect[dht-export-graphite]='[ "$(wc -l <"$1")" = 4 ]'
cmd[dht-escalate]="dht-escalate --db $T/e.db"
expect[dht-escalate]='[ "$(grep -c "\"event\":\"opened\"" "$1")" = 2 ]'
input() { if [ "$1" = dht-escalate ]; then alert "$2"; else reading "$2"; fi; }
# drained: until the FIFO open on fd 3 holds nothing unread (20 s at most). A
# tool that has read a line acts on it before it looks at its signals again,
# so a signal sent after this finds the line handled, however slow the machine.
drained() {
    python3 - <<'EOF'
import array, fcntl, sys, termios, time
waiting = array.array("i", [0])
for _ in range(2000):
    fcntl.ioctl(3, termios.FIONREAD, waiting)
    if waiting[0] == 0:
        sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
EOF
}

for tool in dht-record dht-rules dht-stats dht-export-influx dht-export-graphite dht-escalate; do
    # Live input on a FIFO: one line, SIGHUP, another line, SIGTERM.
    rm -f "$T/fifo" "$T"/r.db* "$T"/e.db*
    mkfifo "$T/fifo"
    exec 3<>"$T/fifo"
    eval "exec ${cmd[$tool]}" <"$T/fifo" >"$T/out" 2>"$T/err" &
    pid=$!
    input "$tool" 1 >&3
    drained || fail "$tool never read its first line: $(cat "$T/err")"
    kill -HUP "$pid"
    sleep 0.3
    kill -0 "$pid" 2>/dev/null || fail "$tool died of SIGHUP: $(cat "$T/err")"
    input "$tool" 2 >&3
    drained || fail "$tool never read its second line: $(cat "$T/err")"
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    exec 3>&-
    assert_eq "$tool: SIGTERM exits 0" 0 "$rc"
    bash -c "${expect[$tool]}" _ "$T/out" || fail "$tool: what it read before SIGTERM is not all there: $(cat "$T/out")"
    # A reader that goes away.
    rm -f "$T"/r.db* "$T"/e.db*
    for i in $(seq 1 30000); do input "$tool" $((i % 50)); done >"$T/many"
    set +o pipefail
    eval "${cmd[$tool]}" <"$T/many" 2>"$T/err" | head -n 1 >/dev/null
    rc=${PIPESTATUS[0]}
    set -o pipefail
    assert_eq "$tool: a closed stdout exits 0" 0 "$rc"
    assert_eq "$tool: ... quietly" "" "$(grep -v 'skipped' "$T/err" || true)"
    pass "$tool: SIGHUP survived, SIGTERM flushed and exited 0, a closed stdout ended it quietly"
done

# The MQTT side: dht-sub and dht-sensor-sim against a real broker.
broker "$T/b"
dht-sub -p "$PORT" -i sig -q 1 -t 'dht11/#' >"$T/out" 2>"$T/err" &
pid=$!
wait_subscribed sig
kill -HUP "$pid"
pub -t dht11/s/data -m '{"temperature":1}'
wait_lines "$T/out" 1
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq "dht-sub: SIGHUP then SIGTERM" 0 "$rc"
set +o pipefail
# One message, then none: dht-sub has nothing more to write when head goes,
# and must notice the closed pipe without a write failing. The message goes
# out once the broker has the subscription.
( wait_subscribed sigpipe; pub -t dht11/s/data -m '{"temperature":1}' ) &
timeout 20 dht-sub -p "$PORT" -i sigpipe -q 1 -t 'dht11/#' 2>"$T/err" | head -n 1 >/dev/null
rc=${PIPESTATUS[0]}
set -o pipefail
assert_eq "dht-sub: a closed stdout exits 0" 0 "$rc"
assert_eq "dht-sub: ... quietly" "" "$(cat "$T/err")"
pass "dht-sub: SIGHUP survived, SIGTERM exits 0, a closed stdout ends it quietly"
dht-sensor-sim -p "$PORT" --interval 1s >/dev/null 2>"$T/err" &
pid=$!
sleep 1.5
kill -HUP "$pid"
sleep 0.3
kill -0 "$pid" 2>/dev/null || fail "dht-sensor-sim died of SIGHUP"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq "dht-sensor-sim: SIGTERM exits 0" 0 "$rc"
pass "dht-sensor-sim: SIGHUP survived, SIGTERM exits 0"
