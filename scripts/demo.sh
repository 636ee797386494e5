#!/usr/bin/env bash
# The whole system of the seed in one command: installs what is missing,
# builds, starts a private mosquitto on a free port of 127.0.0.1 in a temp
# dir, and runs three simulated DHT11 sensors (one of them in a cold snap,
# one in a humid bathroom) through the pipeline
#
#   dht-sub | dht-record --tee | dht-rules --publish dht11/alerts
#   dht-escalate -t dht11/alerts
#
# while showing the operator's view of escalations as they happen (the seed's
# `-F "@Y-@m-@d @H:@M:@S | %p"`), an operator acknowledging one, and at the
# end a dht-stats table of the history and a plot. Ctrl-C stops it cleanly.
#
#   scripts/demo.sh [--duration SECONDS] [--keep] [--plot FILE]
#
#   --duration S   how long the sensors publish (default 30, at least 20)
#   --keep         keep the temp dir (database, logs, broker config) and say where
#   --plot FILE    where the plot goes (default: ./dht-demo.svg)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
duration=30
keep=0
plot=$PWD/dht-demo.svg
while [ $# -gt 0 ]; do
    case $1 in
        --duration) duration=${2:?--duration needs a number of seconds}; shift 2 ;;
        --duration=*) duration=${1#*=}; shift ;;
        --keep) keep=1; shift ;;
        --plot) plot=${2:?--plot needs a file}; shift 2 ;;
        --plot=*) plot=${1#*=}; shift ;;
        --help) sed -n '2,18s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown option '$1' (try --help)" >&2; exit 64 ;;
    esac
done
[[ $duration =~ ^[0-9]+$ ]] && [ "$duration" -ge 20 ] || { echo "demo.sh: --duration must be a number of seconds, at least 20" >&2; exit 64; }

source "$top/tests/lib/services.sh"
"$top/scripts/setup"
"$top/scripts/build" "$top/build" >/dev/null
for tool in dht-sub dht-record dht-rules dht-escalate dht-stats dht-sensor-sim; do
    PATH="$top/build/tools/$tool:$PATH"
done
export PATH

T=$(mktemp -d /tmp/dht-demo.XXXXXX)
BROKER_PID=
TOOLS=()
# stop_tools: SIGTERM to the processes started for the pipeline (every element
# of a pipeline is a child of this shell), then wait for each: they flush,
# commit and deliver what they hold.
stop_tools() {
    local p
    for p in "${TOOLS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${TOOLS[@]}"; do stop_pid "$p"; done
    TOOLS=()
}
cleanup() {
    stop_tools
    stop_pid "$BROKER_PID"
    if [ "$keep" = 1 ]; then echo "# kept: $T (dht.db, logs, broker)"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'echo; echo "# interrupted"; exit 130' INT TERM

port=$(free_port)
start_broker "$T/broker" "$port" "set_tcp_nodelay true" 2>/dev/null
mqtt=(-h 127.0.0.1 -p "$port")
db=$T/dht.db

cat <<EOF
# mosquitto on 127.0.0.1:$port ($T/broker)
# the pipeline:
#   dht-sub -t 'dht11/+/data' -t 'dht11/+/status' | dht-record --db dht.db --tee |
#       dht-rules -r scripts/rules/seed.rules --publish dht11/alerts
#   dht-escalate -t dht11/alerts --db dht.db --escalate-after 5s
#   dht-sensor-sim --names kitchen,cellar,bathroom --profile normal,cold,humid --interval 1s --count $duration
# the operator's view (the seed's): dht-sub -t dht11/alerts/escalation -F "@Y-@m-@d @H:@M:@S | %p"

EOF

# The tools, each stopped by PID at the end (SIGTERM: they flush and commit).
dht-sub "${mqtt[@]}" -i demo-sub -q 1 -t 'dht11/+/data' -t 'dht11/+/status' 2>"$T/sub.log" |
    dht-record --db "$db" --tee 2>"$T/record.log" |
    dht-rules "${mqtt[@]}" -r "$top/scripts/rules/seed.rules" --publish dht11/alerts >"$T/alerts.ndjson" 2>"$T/rules.log" &
dht-escalate "${mqtt[@]}" -i demo-escalate -q 1 -t dht11/alerts --db "$db" --escalate-after 5s --max-level 3 \
    >"$T/incidents.ndjson" 2>"$T/escalate.log" &

# The operator's view, as it happens: escalations in the seed's format, and the
# other incident events and the alerts in one line each.
dht-sub "${mqtt[@]}" -q 1 -t dht11/alerts/escalation -F "@Y-@m-@d @H:@M:@S | %p" 2>/dev/null |
    sed -u 's/^/escalation  /' &
dht-sub "${mqtt[@]}" -q 1 -t dht11/incidents -t dht11/alerts 2>/dev/null |
    jq --unbuffered -r '.payload | if .kind == "alert" then
            "alert       \(.timestamp[11:19]) \(.rule) \(.state) on \(.sensor): \(.message // "")"
        else
            "incident    \(.timestamp[11:19]) #\(.incident_id) \(.event) \(.rule) on \(.sensor), level \(.level)\(if .by then " by " + .by else "" end)"
        end' &
sleep 1
# Everything started so far but the broker, by PID.
for p in $(pgrep -P $$); do
    if [ "$p" != "$BROKER_PID" ]; then TOOLS+=("$p"); fi
done

# Three sensors, one reading a second each; the cellar gets a cold snap from
# 10 °C down to -3 °C, the bathroom's humidity passes 90 %.
dht-sensor-sim "${mqtt[@]}" --names kitchen,cellar,bathroom --profile normal,cold,humid --interval 1s \
    --count "$duration" --seed 7 2>"$T/sim.log" &
sim=$!
TOOLS+=("$sim")

# An operator answers the first escalation of the cold rule after a few seconds.
acked=0
while kill -0 "$sim" 2>/dev/null; do
    if [ "$acked" = 0 ] && id=$(jq -r 'select(.event == "escalation" and .rule == "cold") | .incident_id' \
        "$T/incidents.ndjson" 2>/dev/null | head -n 1) && [ -n "$id" ]; then
        sleep 3
        echo "operator    \$ dht-escalate --db dht.db ack $id --by ana"
        dht-escalate --db "$db" ack "$id" --by ana >/dev/null 2>>"$T/escalate.log" || true
        acked=1
    fi
    sleep 0.5
done
wait "$sim" || true
sleep 2
stop_tools

echo
echo "# the incidents: dht-escalate --db dht.db list"
dht-escalate --db "$db" list
echo
echo "# the history: dht-record query --db dht.db | dht-stats --format table --plot $(basename "$plot")"
dht-record query --db "$db" --topic 'dht11/+/data' | dht-stats --format table --plot "$plot"
echo
echo "# $(wc -l <"$T/alerts.ndjson") alerts, $(wc -l <"$T/incidents.ndjson") incident events, $(sqlite3 "$db" 'SELECT count(*) FROM messages') messages in dht.db"
echo "# the plot: $plot"
