# Common ground for the shell tests: strict mode, a temp dir removed at exit,
# background processes stopped by PID, and small assertions.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=services.sh
source "$here/services.sh"

DHT_BIN=$(cd "${DHT_BIN:-$here/../../build/tools}" && pwd)
export PATH="$DHT_BIN/dht-sub:$PATH"
T=$(mktemp -d /tmp/dht-test.XXXXXX)
PIDS=()
TEST_NAME=$(basename "$0" .sh)

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$T"
}
trap cleanup EXIT

# bg CMD...: run in the background, remember its PID in BG_PID.
bg() {
    "$@" &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

fail() {
    echo "FAIL [$TEST_NAME]: $*" >&2
    exit 1
}
pass() { echo "ok - $*"; }

assert_eq() {  # assert_eq WHAT EXPECTED ACTUAL
    [ "$2" == "$3" ] || fail "$1: expected [$2], got [$3]"
}
assert_contains() {  # assert_contains WHAT FILE TEXT
    grep -qF -- "$3" "$2" || { echo "--- $2:" >&2; cat "$2" >&2; fail "$1: no [$3] in $2"; }
}
assert_not_contains() {
    ! grep -qF -- "$3" "$2" || { echo "--- $2:" >&2; cat "$2" >&2; fail "$1: unexpected [$3] in $2"; }
}

# exit_code CMD...: the command's exit status, without tripping set -e.
exit_code() {
    local rc=0
    "$@" || rc=$?
    echo "$rc"
}

# The broker the MQTT tests run against, one of mosquitto (the default),
# rabbitmq (RabbitMQ with its MQTT plugin, tests/lib/rabbitmq.sh) or aedes (a
# Node.js broker, tests/lib/aedes/). A test that needs what only mosquitto has
# calls needs_mosquitto and is skipped on the others, with the reason printed.
DHT_TEST_BROKER=${DHT_TEST_BROKER:-mosquitto}
case $DHT_TEST_BROKER in
    mosquitto) ;;
    aedes) [ -d "${AEDES_MODULES:-/usr/local/lib/dht-tools/aedes}/node_modules/aedes" ] || needs_aedes=1 ;;
    rabbitmq)
        # shellcheck source=rabbitmq.sh
        source "$here/rabbitmq.sh"
        [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || needs_rabbitmq=1 ;;
    *) echo "DHT_TEST_BROKER: $DHT_TEST_BROKER is not one of mosquitto, rabbitmq, aedes" >&2; exit 2 ;;
esac

# skip REASON: the test does not run here (ctest counts exit 77 as skipped).
skip() {
    echo "skip [$TEST_NAME] on $DHT_TEST_BROKER: $*"
    exit 77
}
# needs_mosquitto REASON: skip unless the test broker is mosquitto.
needs_mosquitto() {
    [ "$DHT_TEST_BROKER" = mosquitto ] || skip "$*"
}

[ -z "${needs_aedes:-}" ] || skip "aedes is not installed (scripts/setup installs it)"
[ -z "${needs_rabbitmq:-}" ] || skip "rabbitmq-server is not installed (scripts/setup installs it)"

# broker DIR [EXTRA_CONF]: a fresh test broker on a free port; sets PORT,
# BROKER_PID, BROKER_LOG. EXTRA_CONF is mosquitto.conf text: only mosquitto
# takes it.
broker() {
    PORT=$(free_port)
    start_test_broker "$@"
}

# start_test_broker DIR [EXTRA_CONF]: the test broker on $PORT with its data in
# DIR; run again on the same DIR and PORT, it restarts with the sessions,
# queued and retained messages it had. Sets BROKER_PID, BROKER_LOG.
start_test_broker() {
    local dir=$1 extra=${2:-}
    case $DHT_TEST_BROKER in
        mosquitto)
            start_broker "$dir" "$PORT" "$extra" 2>/dev/null
            PIDS+=("$BROKER_PID")
            BROKER_LOG=$dir/mosquitto.log ;;
        rabbitmq)
            [ -z "$extra" ] || skip "the test configures mosquitto: $extra"
            # Debug logging: wait_subscribed reads the SUBSCRIBE lines.
            start_rabbitmq_node "$dir" dht1 "$PORT" "log.file.level = debug" >/dev/null 2>&1 ||
                fail "RabbitMQ did not start (see $dir/dht1/log)"
            BROKER_PID=$RABBITMQ_PID
            PIDS+=("$BROKER_PID")
            [ -z "$EPMD_PID" ] || PIDS+=("$EPMD_PID")
            BROKER_LOG=$dir/dht1/log/dht1@localhost.log ;;
        aedes)
            [ -z "$extra" ] || skip "the test configures mosquitto: $extra"
            mkdir -p "$dir"
            node "$here/aedes/broker.mjs" "$PORT" "$dir" >>"$dir/aedes.log" 2>&1 &
            BROKER_PID=$!
            PIDS+=("$BROKER_PID")
            BROKER_LOG=$dir/aedes.log
            wait_port "$PORT" 2>/dev/null || fail "aedes did not start: $(cat "$dir/aedes.log")" ;;
    esac
}

# subscribes CLIENT_ID [LOG]: how many SUBSCRIBE packets the broker has logged
# from the client.
subscribes() {
    local id=$1 log=${2:-$BROKER_LOG}
    case $DHT_TEST_BROKER in
        mosquitto | aedes) grep -c "Received SUBSCRIBE from $id\$" "$log" 2>/dev/null ;;
        rabbitmq)
            # A line names its connection's process; the CONNECT line, the client.
            awk -v id="\"$id\"" '
                / Received a CONNECT, client ID: / && $10 == id { conn[$4] = 1 }
                / Received a SUBSCRIBE / && ($4 in conn) { n++ }
                END { print n + 0 }' "$log" 2>/dev/null ;;
    esac
}

# wait_subscribed CLIENT_ID [LOG]: until the broker has logged the client's SUBSCRIBE
# (the N-th one with a third argument).
wait_subscribed() {
    local id=$1 log=${2:-$BROKER_LOG} n=${3:-1}
    wait_for eval "[ \$(subscribes '$id' '$log') -ge $n ]" ||
        fail "client $id never subscribed (see $log)"
    # RabbitMQ logs a SUBSCRIBE as it arrives, before its bindings are made
    # (a persistent session's quorum queue first): a pause, the matrix's one
    # timing guess, with room for a loaded machine.
    [ "$DHT_TEST_BROKER" != rabbitmq ] || sleep 1
}

# wait_lines FILE N [SECONDS]: until FILE has at least N lines.
wait_lines() {
    local file=$1 n=$2 tries=$(( ${3:-10} * 50 ))
    while (( tries-- > 0 )); do
        [ -f "$file" ] && [ "$(wc -l <"$file")" -ge "$n" ] && return 0
        sleep 0.02
    done
    fail "$file has $(wc -l <"$file" 2>/dev/null || echo 0) lines, expected $n"
}

# The tools, every one; use_tools TOOL...: put the build's TOOL binaries on PATH.
DHT_TOOLS=(dht-sub dht-record dht-rules dht-stats dht-export-influx dht-export-graphite dht-escalate dht-sensor-sim dht-status)
use_tools() {
    local tool
    for tool in "$@"; do PATH="$DHT_BIN/$tool:$PATH"; done
}

# rec [-t EPOCH] TOPIC PAYLOAD: one message record line as dht-sub prints it
# (QoS 0, not retained). PAYLOAD is JSON text, written as it is. The timestamp
# is EPOCH (whole seconds since 1970, UTC) with milliseconds .000, by default
# REC_T0, 2026-11-24T10:00:00.000Z. Starts no process: a loop can write
# thousands.
REC_T0=1795514400
rec() {
    local at=$REC_T0 time TZ=UTC0
    if [ "$1" = -t ]; then at=$2; shift 2; fi
    printf -v time '%(%Y-%m-%dT%H:%M:%S)T' "$at"
    printf '{"kind":"message","timestamp":"%s.000Z","topic":"%s","payload":%s,"qos":0,"retain":false}\n' \
        "$time" "$1" "$2"
}

# pub MOSQUITTO_PUB_ARGS...: mosquitto_pub to the test broker, 127.0.0.1 on
# $PORT, at QoS 1; the arguments come after these and override them (-p PORT,
# -h HOST, -q 0, -u/-P, -i, TLS options), the topic and message are theirs
# (-t, -m, -n, -r; -s and -l read stdin). A publish that fails fails the test
# with mosquitto_pub's message.
pub() {
    local err
    local -a to=(-h 127.0.0.1 -q 1)
    [ -n "${PORT:-}" ] && to+=(-p "$PORT")
    err=$(mosquitto_pub "${to[@]}" "$@" 2>&1 >/dev/null) || fail "mosquitto_pub $*: $err"
}

# listen ID FILE MOSQUITTO_SUB_ARGS...: mosquitto_sub as client ID on the test
# broker (127.0.0.1 on $PORT) at QoS 1, the arguments after these, in the
# background with its output in FILE; returns once the broker has its
# subscription. Sets BG_PID.
listen() {
    local id=$1 out=$2
    shift 2
    bg mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -i "$id" "$@" >"$out" 2>/dev/null
    wait_subscribed "$id"
}
