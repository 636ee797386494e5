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

# broker DIR [EXTRA_CONF]: a fresh broker on a free port; sets PORT, BROKER_PID, BROKER_LOG.
broker() {
    PORT=$(free_port)
    start_broker "$1" "$PORT" "${2:-}" 2>/dev/null
    PIDS+=("$BROKER_PID")
    BROKER_LOG=$1/mosquitto.log
}

# wait_subscribed CLIENT_ID [LOG]: until the broker has logged the client's SUBSCRIBE
# (the N-th one with a third argument).
wait_subscribed() {
    local id=$1 log=${2:-$BROKER_LOG} n=${3:-1}
    wait_for eval "[ \$(grep -c 'Received SUBSCRIBE from $id\$' '$log' 2>/dev/null) -ge $n ]" ||
        fail "client $id never subscribed (see $log)"
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
