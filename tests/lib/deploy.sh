# The deployment recipes as a sysadmin installs them, for the deploy_*.sh tests:
# the paths of scripts/systemd, scripts/cron and scripts/homeassistant, readers
# of unit files, and a machine in the temp dir ($R: /etc/dht from
# scripts/systemd/etc-dht, /usr/local/bin, /var/lib, the credentials) whose
# units run as their ExecStart says, against a real mosquitto. Source it after
# testlib.sh.
src=${DHT_SRC:-$(cd "$here/../.." && pwd)}
sysd=$src/scripts/systemd
etc=$sysd/etc-dht
cronfile=$src/scripts/cron/dht
ha=$src/scripts/homeassistant
units=(dht-record dht-rules dht-escalate dht-stats dht-export-influx dht-export-graphite)
# The recipes alone: nothing from the caller's environment or ~/.config.
unset DHT_MQTT_HOST DHT_MQTT_PORT DHT_MQTT_USERNAME DHT_MQTT_PASSWORD DHT_DB
export XDG_CONFIG_HOME=$T/xdg

# A Python with PyYAML (python3-yaml), and with Jinja2 if there is one.
py=
for p in /usr/bin/python3 python3; do
    "$p" -c 'import yaml' 2>/dev/null && { py=$p; break; }
done
[ -n "$py" ] || fail "no python3 with the yaml module (apt-get install python3-yaml)"
jpy=
for p in /usr/bin/python3 python3; do
    "$p" -c 'import jinja2, yaml' 2>/dev/null && { jpy=$p; break; }
done

# unit_values FILE KEY: the values of KEY in a unit file, continuation lines joined.
unit_values() {
    "$py" - "$1" "$2" <<'PY'
import sys
path, key = sys.argv[1:]
logical, cur = [], ''
for line in open(path, encoding='utf-8').read().split('\n'):
    if not cur and line.lstrip().startswith(('#', ';')):
        continue
    if line.endswith('\\'):
        cur += line[:-1] + ' '
        continue
    logical.append(cur + line)
    cur = ''
for line in logical:
    k, sep, v = line.partition('=')
    if sep and k.strip() == key:
        print(v.strip())
PY
}
# split WORDS: the words of a command line, NUL-terminated (systemd's and sh's quoting).
split() { "$py" -c 'import shlex, sys; sys.stdout.write("".join(w + "\0" for w in shlex.split(sys.argv[1])))' "$1"; }
# exec_flag UNIT FLAG: the word after FLAG in the unit's ExecStart, or nothing.
exec_flag() {
    split "$(unit_values "$sysd/$1.service" ExecStart)" | tr '\0' '\n' | { grep -A1 -x -- "$2" || true; } | tail -n 1
}

# The machine ---------------------------------------------------------------
R=$T/root   # the machine's /: /etc/dht, /usr/local/bin, /var/lib, the credentials
db=$R/var/lib/dht/dht.db   # dht-record's and dht-escalate's database
declare -A pid   # pid[UNIT]: the process started_units started for UNIT
have_influx=
have_carbon=

# rewrite: a line of the recipes with its system paths moved into $R.
rewrite() {
    local b="(^|[ =:'\"])"
    sed -E -e "s#$b/usr/local/bin([/:]|\$)#\1$R/usr/local/bin\2#g" -e "s#$b/etc/dht/#\1$R/etc/dht/#g" \
        -e "s#$b/var/lib/#\1$R/var/lib/#g" -e "s#$b/var/spool/#\1$R/var/spool/#g" \
        -e "s#\\\$\{CREDENTIALS_DIRECTORY\}#$R/credentials#g" -e "s#127\.0\.0\.1:9464#127.0.0.1:$SPORT#g"
}
no_system_paths() {  # no_system_paths WHAT LINE: nothing outside the temp dir
    ! grep -qE "(^|[ =:'\"])/(etc|var|usr/local|run)/" <<<"$2" || fail "$1 still names a system path: $2"
}

# install_machine [--exporters]: a broker (PORT, BROKER_LOG), /etc/dht from the
# example tree pointed at it, the tools in /usr/local/bin, the notifiers of the
# policy (each run leaves its arguments and its stdin in $T/notified), an empty
# $T/fakebin, and the operators watching escalations in $T/escalations. The
# kitchen sensor is online (a retained status). With --exporters, InfluxDB
# (have_influx) and carbon (have_carbon) where installed, for the exporters;
# otherwise the exporters' configurations name closed ports.
install_machine() {
    broker "$T/b"
    SPORT=$(free_port)
    IPORT=$(free_port)
    CPORT=$(free_port)
    if [ "${1:-}" = --exporters ]; then
        if command -v influxd >/dev/null; then
            start_influx "$T/influx" "$IPORT"
            PIDS+=("$INFLUX_PID")
            curl -sf -XPOST "http://127.0.0.1:$IPORT/query" --data-urlencode 'q=CREATE DATABASE dht' >/dev/null
            have_influx=1
        else
            echo "skip - no influxd: dht-export-influx runs against a closed port"
        fi
        if command -v carbon-cache >/dev/null; then
            start_carbon "$T/carbon" "$CPORT"
            PIDS+=("$CARBON_PID")
            have_carbon=1
        else
            echo "skip - no carbon-cache: dht-export-graphite runs against a closed port"
        fi
    fi
    mkdir -p "$R/etc" "$R/usr/local/bin" "$R/credentials" "$R/var/lib" "$T/notified" "$T/fakebin" "$XDG_CONFIG_HOME"
    cp -r "$etc" "$R/etc/dht"
    cp "$etc/mqtt-password" "$R/credentials/mqtt-password"
    local f u t n
    for f in "$R"/etc/dht/*.conf "$R/etc/dht/escalate.policy"; do
        sed -i -e 's#^host = "localhost"$#host = "127.0.0.1"#' -e "s#^port = 1883\$#port = $PORT#" \
            -e "s#localhost:8086#127.0.0.1:$IPORT#" -e "s#localhost:2003#127.0.0.1:$CPORT#" "$f"
        rewrite <"$f" >"$f.new" && mv "$f.new" "$f"
    done
    for u in "${units[@]}"; do
        grep -qx "port = $PORT" "$R/etc/dht/$u.conf" || fail "$u.conf: no 'port = 1883' line to point at the test broker"
    done
    grep -q "127.0.0.1:$IPORT" "$R/etc/dht/dht-export-influx.conf" || fail "dht-export-influx.conf: no url localhost:8086"
    grep -q "127.0.0.1:$CPORT" "$R/etc/dht/dht-export-graphite.conf" || fail "dht-export-graphite.conf: no carbon localhost:2003"
    for t in "$DHT_BIN"/dht-*/; do
        t=$(basename "$t")
        [ -x "$DHT_BIN/$t/$t" ] && ln -s "$DHT_BIN/$t/$t" "$R/usr/local/bin/$t"
    done
    for n in notify-slack notify-telegram notify-mail; do
        cat >"$R/usr/local/bin/$n" <<EOF
#!/bin/sh
f=\$(mktemp "$T/notified/$n.XXXXXX")
{ echo "\$*"; cat; } >"\$f"
EOF
        chmod +x "$R/usr/local/bin/$n"
    done
    # Operators: the escalations, as the seed's operators watch them.
    listen operator "$T/escalations" -t dht11/alerts/escalation
    pub -r -t dht11/kitchen/status -m online
}

# The default client id, TOOL-PID within MQTT 3.1's 23 bytes (dht-tools(7)).
default_id() {
    local prefix=$1- pid=$2
    if [ $((${#prefix} + ${#pid})) -gt 23 ] && [[ $prefix == dht-export-* ]]; then
        prefix=dht-${prefix#dht-export-}
    fi
    [ $((${#prefix} + ${#pid})) -le 23 ] || prefix=${prefix:0:$((23 - ${#pid}))}
    echo "$prefix$pid"
}

# start_units UNIT...: each unit's ExecStart, run as systemd would (its state
# directories, its UMask; stdout in $T/UNIT.out, stderr in $T/UNIT.err), until
# each has subscribed. Sets pid[UNIT] and STARTED (when they started).
start_units() {
    local u line um d id
    local -a argv
    STARTED=$(date +%s.%N)
    for u in "$@"; do
        line=$(unit_values "$sysd/$u.service" ExecStart | rewrite)
        no_system_paths "$u: ExecStart" "$line"
        for d in $(unit_values "$sysd/$u.service" StateDirectory); do mkdir -p -m 0700 "$R/var/lib/$d"; done
        mapfile -d '' -t argv < <(split "$line")
        um=$(unit_values "$sysd/$u.service" UMask)
        (cd "$T" && umask "${um:-0022}" && exec "${argv[@]}") >"$T/$u.out" 2>"$T/$u.err" &
        pid[$u]=$!
        PIDS+=("${pid[$u]}")
    done
    for u in "$@"; do
        id=$(exec_flag "$u" -i)
        id=${id:-$(default_id "$u" "${pid[$u]}")}
        wait_for eval 'exited "$u" || [ "$(grep -c "Received SUBSCRIBE from $id\$" "$BROKER_LOG")" -ge 1 ]' ||
            fail "$u never subscribed as $id (see $BROKER_LOG)"
    done
}
# exited U: fail if U is no longer running, with its exit status (64 usage,
# 66 a file it cannot open, 78 configuration, ...) and its diagnostics.
exited() {
    kill -0 "${pid[$1]}" 2>/dev/null && return 1
    local rc=0
    wait "${pid[$1]}" || rc=$?
    fail "$1 exited with status $rc: $(cat "$T/$1.err")"
}
# stop_units UNIT...: systemctl stop: SIGTERM, and each must exit 0.
stop_units() {
    local u rc
    for u in "$@"; do kill -TERM "${pid[$u]}"; done
    for u in "$@"; do
        rc=0
        wait "${pid[$u]}" || rc=$?
        [ "$rc" = 0 ] || fail "$u: SIGTERM gave status $rc: $(cat "$T/$u.err")"
    done
}

# count SQL: one value from dht.db (0 while there is none).
count() { sqlite3 "$db" "$1" 2>/dev/null || echo 0; }
# freeze: the kitchen reads -1.5 °C, which the seed's freeze rule escalates at once.
freeze() { pub -t dht11/kitchen/data -m '{"temperature":-1.50,"humidity":65.30}'; }
# wait_stored: until dht-record has stored the kitchen's reading in dht.db.
wait_stored() {
    wait_for eval '[ "$(count "SELECT count(*) FROM messages WHERE topic = '"'dht11/kitchen/data'"'")" -ge 1 ]' ||
        fail "dht-record: the reading is not in $db: $(cat "$T/dht-record.err")"
}
