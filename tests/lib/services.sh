# Shell helpers for tests and scripts: free ports, a real mosquitto broker on
# 127.0.0.1 in a temp dir, stopped by PID. Source it; call cleanup on exit.

free_port() {
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}

# wait_port PORT [SECONDS]: poll until something listens on 127.0.0.1:PORT.
wait_port() {
    local port=$1 tries=$(( ${2:-10} * 50 ))
    while (( tries-- > 0 )); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.02
    done
    echo "nothing listens on 127.0.0.1:$port" >&2
    return 1
}

# wait_for CMD...: poll a command for up to 10 s.
wait_for() {
    local tries=500
    while (( tries-- > 0 )); do
        "$@" && return 0
        sleep 0.02
    done
    return 1
}

# start_broker DIR PORT [EXTRA_CONF_LINES]: mosquitto with persistence in DIR.
# Sets BROKER_PID. Runs as the current user (root needs "user root").
start_broker() {
    local dir=$1 port=$2 extra=${3:-}
    mkdir -p "$dir"
    {
        [ "$(id -u)" = 0 ] && echo "user root"
        echo "allow_anonymous true"
        echo "listener $port 127.0.0.1"
        echo "persistence true"
        echo "persistence_location $dir/"
        echo "max_queued_messages 0"
        echo "log_dest file $dir/mosquitto.log"
        echo "log_type all"
        [ -n "$extra" ] && printf '%s\n' "$extra"
    } >"$dir/mosquitto.conf"
    mosquitto -c "$dir/mosquitto.conf" &
    BROKER_PID=$!
    wait_port "$port"
}

# stop_pid PID: SIGTERM, then wait for it to go.
stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    local tries=250
    while kill -0 "$pid" 2>/dev/null && (( tries-- > 0 )); do sleep 0.02; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# start_carbon DIR PORT [UDP_PORT]: carbon-cache with every path in DIR, its
# plaintext receiver on 127.0.0.1:PORT (and UDP on UDP_PORT), tags enabled,
# 10 s points kept a day. Sets CARBON_PID; whisper files land in DIR/whisper.
start_carbon() {
    local dir=$1 port=$2 udp=${3:-}
    mkdir -p "$dir"/{storage,whisper,lists,conf,log,run}
    cat >"$dir/conf/carbon.conf" <<CONF
[cache]
STORAGE_DIR = $dir/storage
LOCAL_DATA_DIR = $dir/whisper
WHITELISTS_DIR = $dir/lists
CONF_DIR = $dir/conf
LOG_DIR = $dir/log
PID_DIR = $dir/run
USER =
MAX_CREATES_PER_MINUTE = inf
MAX_UPDATES_PER_SECOND = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = $port
PICKLE_RECEIVER_PORT = 0
CACHE_QUERY_PORT = 0
ENABLE_UDP_LISTENER = $([ -n "$udp" ] && echo True || echo False)
UDP_RECEIVER_INTERFACE = 127.0.0.1
UDP_RECEIVER_PORT = ${udp:-0}
ENABLE_TAGS = True
TAGDB =
CARBON_METRIC_INTERVAL = 0
CONF
    printf '[all]\npattern = .*\nretentions = 10s:1d\n' >"$dir/conf/storage-schemas.conf"
    carbon-cache --config="$dir/conf/carbon.conf" --nodaemon start >>"$dir/log/console.log" 2>&1 &
    CARBON_PID=$!
    wait_port "$port"
}

# start_prometheus DIR PORT TARGET: a Prometheus server on 127.0.0.1:PORT with
# its data in DIR, scraping http://TARGET/metrics every second. Sets PROM_PID.
start_prometheus() {
    local dir=$1 port=$2 target=$3
    mkdir -p "$dir/data"
    cat >"$dir/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: dht
    static_configs:
      - targets: ['$target']
CONF
    prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$port" >"$dir/prometheus.log" 2>&1 &
    PROM_PID=$!
    wait_port "$port" 20
}

# start_influx DIR PORT: InfluxDB 1.x (influxd) with every path in DIR, its HTTP
# API on 127.0.0.1:PORT. Sets INFLUX_PID. Run it again with the same DIR and
# PORT to restart it with its data.
start_influx() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    [ -f "$dir/rpc.port" ] || free_port >"$dir/rpc.port"
    cat >"$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$(cat "$dir/rpc.port")"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
[continuous_queries]
  enabled = false
CONF
    influxd run -config "$dir/influxdb.conf" >>"$dir/influxd.log" 2>&1 &
    INFLUX_PID=$!
    local tries=500
    while ! curl -sf -o /dev/null "http://127.0.0.1:$port/ping"; do
        (( tries-- > 0 )) || { echo "influxd did not start (see $dir/influxd.log)" >&2; return 1; }
        sleep 0.02
    done
}
