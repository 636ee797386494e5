# RabbitMQ nodes with the MQTT plugin for tests and scripts, on 127.0.0.1 and
# free ports, every file in a temp dir, stopped by PID. Source it after
# services.sh. Nodes under one DIR share an Erlang cookie (DIR/.erlang.cookie)
# and an epmd of their own on a free port, so they can form a cluster and
# never meet the machine's own RabbitMQ.

# rabbitmq_env DIR NAME: the environment a node NAME under DIR, and rabbitmqctl
# for it, run with (printed as VAR=VALUE words for env(1)).
rabbitmq_env() {
    local dir=$1 name=$2
    printf '%s\n' "HOME=$dir" "ERL_EPMD_PORT=$(cat "$dir/epmd.port")" \
        "RABBITMQ_NODENAME=$name@localhost" "RABBITMQ_BASE=$dir/$name" \
        "RABBITMQ_CONFIG_FILE=$dir/$name/rabbitmq.conf" "RABBITMQ_MNESIA_BASE=$dir/$name/mnesia" \
        "RABBITMQ_LOG_BASE=$dir/$name/log" "RABBITMQ_PLUGINS_EXPAND_DIR=$dir/$name/plugins" \
        "RABBITMQ_ENABLED_PLUGINS=rabbitmq_mqtt" "RABBITMQ_DIST_PORT=$(cat "$dir/$name/dist.port" 2>/dev/null || echo 0)"
}

# rabbitmq_epmd DIR: starts the epmd the nodes under DIR register with, once;
# sets EPMD_PID (empty when it was already started).
rabbitmq_epmd() {
    local dir=$1 port
    EPMD_PID=
    mkdir -p "$dir"
    [ -f "$dir/epmd.port" ] && return 0
    port=$(free_port)
    epmd -port "$port" >"$dir/epmd.log" 2>&1 &
    EPMD_PID=$!
    echo "$port" >"$dir/epmd.port"
    wait_port "$port"
}

# start_rabbitmq_node DIR NAME MQTT_PORT [CONF_LINES]: the node NAME@localhost,
# its files in DIR/NAME, MQTT on 127.0.0.1:MQTT_PORT, AMQP and Erlang
# distribution on free ports, anonymous MQTT clients as guest, persistent
# sessions in quorum queues. CONF_LINES (rabbitmq.conf syntax) come last and
# win. Sets RABBITMQ_PID (and EPMD_PID, see rabbitmq_epmd); returns once MQTT
# is served (a node takes 10-20 s to boot), 1 after 90 s.
start_rabbitmq_node() {
    launch_rabbitmq_node "$@"
    wait_rabbitmq_node "$1" "$2" "$3"
}

# launch_rabbitmq_node DIR NAME MQTT_PORT [CONF_LINES]: start_rabbitmq_node
# without waiting for the node to serve MQTT.
launch_rabbitmq_node() {
    local dir=$1 name=$2 mqtt=$3 extra=${4:-}
    rabbitmq_epmd "$dir"
    mkdir -p "$dir/$name"
    free_port >"$dir/$name/dist.port"
    {
        echo "listeners.tcp.default = 127.0.0.1:$(free_port)"
        echo "mqtt.listeners.tcp.default = 127.0.0.1:$mqtt"
        echo "mqtt.allow_anonymous = true"
        echo "mqtt.durable_queue_type = quorum"
        echo "log.file.level = info"
        [ -n "$extra" ] && printf '%s\n' "$extra"
    } >"$dir/$name/rabbitmq.conf"
    local -a env
    mapfile -t env < <(rabbitmq_env "$dir" "$name")
    env "${env[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server >"$dir/$name/stdout.log" 2>&1 &
    RABBITMQ_PID=$!
}

# wait_rabbitmq_node DIR NAME MQTT_PORT: until the node serves MQTT; 1 (with
# the end of its output on stderr) after 90 s.
wait_rabbitmq_node() {
    wait_port "$3" 90 && return 0
    echo "the node $2 did not serve MQTT in 90 s; the end of its log:" >&2
    tail -25 "$1/$2/log/$2@localhost.log" >&2 2>/dev/null || tail -20 "$1/$2/stdout.log" >&2
    return 1
}

# start_rabbitmq_cluster DIR N [CONF_LINES] [FIRST_NODE_CONF_LINES]: the
# nodes dht1 .. dhtN under DIR (see start_rabbitmq_node), one at a time, each
# joining the cluster on its own (peer discovery from the node list in their
# configuration, as scripts/rabbitmq/rabbitmq.conf does). Sets RABBITMQ_NODES
# (dht1 ...), RABBITMQ_PORTS (their MQTT ports) and RABBITMQ_PIDS as it goes,
# and EPMD_PID: stop them by PID even when it fails. Returns once every node
# serves MQTT as a member of the cluster (three nodes take 30-45 s on two
# cores); 1 when a node does not serve MQTT within 90 s.
start_rabbitmq_cluster() {
    local dir=$1 n=$2 conf=${3:-} first=${4:-} i nodes=
    RABBITMQ_NODES=() RABBITMQ_PORTS=() RABBITMQ_PIDS=()
    rabbitmq_epmd "$dir"
    for (( i = 1; i <= n; i++ )); do
        RABBITMQ_NODES+=("dht$i")
        RABBITMQ_PORTS+=("$(free_port)")
        nodes+="cluster_formation.classic_config.nodes.$i = dht$i@localhost"$'\n'
    done
    for (( i = 0; i < n; i++ )); do
        local lines="cluster_formation.peer_discovery_backend = classic_config"$'\n'"$nodes$conf"
        (( i == 0 )) && [ -n "$first" ] && lines+=$'\n'"$first"
        local epmd=$EPMD_PID
        launch_rabbitmq_node "$dir" "${RABBITMQ_NODES[i]}" "${RABBITMQ_PORTS[i]}" "$lines"
        EPMD_PID=$epmd
        RABBITMQ_PIDS+=("$RABBITMQ_PID")
        # One node at a time, each fully booted before the next starts.
        # Booted together, the nodes sometimes never elect a leader for the
        # MQTT plugin's client id registry ("mqtt_node: leader call - leader
        # not known") and refuse every client; two nodes joining at once
        # once left one of them booting for more than 90 s under load
        # (classic_config peer discovery takes no lock).
        wait_rabbitmq_node "$dir" "${RABBITMQ_NODES[i]}" "${RABBITMQ_PORTS[i]}" || return 1
        rabbitmqctl_node "$dir" "${RABBITMQ_NODES[i]}" -q await_startup --timeout 60 >/dev/null 2>&1 || {
            echo "the node ${RABBITMQ_NODES[i]} serves MQTT but did not finish booting in 60 s" >&2
            return 1
        }
    done
    # MQTT is served a moment before the node has finished booting: ask dht1
    # until it lists all N as running.
    local tries=60
    until [ "$(rabbitmqctl_node "$dir" dht1 -q cluster_status --formatter json 2>/dev/null |
        jq '.running_nodes | length' 2>/dev/null)" = "$n" ]; do
        (( tries-- > 0 )) || { echo "the $n nodes under $dir did not form one cluster" >&2; return 1; }
        sleep 0.5
    done
}

# rabbitmqctl_node DIR NAME ARGS...: rabbitmqctl for the node NAME under DIR.
rabbitmqctl_node() {
    local dir=$1 name=$2
    shift 2
    local -a env
    mapfile -t env < <(rabbitmq_env "$dir" "$name")
    env "${env[@]}" /usr/lib/rabbitmq/bin/rabbitmqctl -n "$name@localhost" "$@"
}

# start_rabbitmq DIR PORT: one node, as start_broker is one mosquitto: sets
# BROKER_PID (the node) and EPMD_PID; both are to be stopped by PID.
start_rabbitmq() {
    start_rabbitmq_node "$1" dht1 "$2" || return 1
    BROKER_PID=$RABBITMQ_PID
}

# stop_rabbitmq_nodes PID...: stops nodes started here, by their
# rabbitmq-server PIDs, all at once: SIGTERM (the script stops its node
# cleanly, which takes a few seconds, more under load), up to 60 s for them
# to go, then SIGKILL to each script and its Erlang VM. (stop_pid's 5 s can
# leave a node's VM running without its script.)
stop_rabbitmq_nodes() {
    local pid tries=3000
    local -a all=() children
    for pid in "$@"; do
        [ -n "$pid" ] || continue
        mapfile -t children < <(pgrep -P "$pid")
        all+=("$pid" "${children[@]}")
        kill "$pid" 2>/dev/null || true
    done
    while any_alive "${all[@]}" && (( tries-- > 0 )); do sleep 0.02; done
    for pid in "${all[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for pid in "$@"; do wait "$pid" 2>/dev/null || true; done
}

# any_alive PID...: whether one of them still runs.
any_alive() {
    local pid
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}
