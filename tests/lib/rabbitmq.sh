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
    wait_port "$mqtt" 90 || { tail -20 "$dir/$name/stdout.log" >&2; return 1; }
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
