#!/usr/bin/env bash
# scripts/rabbitmq/ on a real three-node RabbitMQ cluster (node names, ports
# and paths moved into a temp dir): its rabbitmq.conf (quorum queues for
# persistent sessions, no anonymous clients, a TLS listener with client
# certificates) and setup-accounts (a sensor cannot speak for another). Then
# the seed's chain with persistent sessions, every tool listing the three
# nodes with -h, while the node that holds the sessions' queues and the
# clients' connections is stopped: every reading, alert and escalation
# arrives. Takes about a minute alone on two cores (the nodes boot one at a
# time, 30-45 s, setup-accounts's rabbitmqctl calls take 10 s, the
# chain 20 s), up to two and a half minutes beside other tests.
source "$(dirname "$0")/../lib/testlib.sh"
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || {
    echo "skip: rabbitmq-server is not installed (scripts/setup installs it)"
    exit 77
}
source "$(dirname "$0")/../lib/rabbitmq.sh"
use_tools dht-record dht-rules dht-escalate dht-sensor-sim
src=${DHT_SRC:-$(dirname "$0")/../..}
R=$src/scripts/rabbitmq
D=$T/mq

"$src/scripts/mosquitto/make-certs" "$T/certs" localhost server operator 2>"$T/make-certs.log" ||
    fail "make-certs: $(cat "$T/make-certs.log")"

# The recipe's rabbitmq.conf without its node list and listeners, its
# certificates in the temp dir; the helper adds this cluster's node list and
# loopback listeners, and node 1 the TLS listener.
conf=$(sed -e '/^#/d' -e '/^$/d' -e '/^cluster_formation\./d' -e '/listeners\./d' \
    -e "s|/etc/rabbitmq/certs/|$T/certs/|" "$R/rabbitmq.conf")
tls=$(free_port)
RABBITMQ_PIDS=()
trap 'stop_rabbitmq_nodes "${RABBITMQ_PIDS[@]}"; cleanup' EXIT  # the nodes, then the rest and their epmd
start_rabbitmq_cluster "$D" 3 "$conf" "mqtt.listeners.ssl.default = 127.0.0.1:$tls" || start_failed=1
PIDS+=("$EPMD_PID")
[ -z "${start_failed:-}" ] || fail "the cluster did not start (see the output above)"
ports=("${RABBITMQ_PORTS[@]}")
mqtt=(-h "127.0.0.1:${ports[0]}" -h "127.0.0.1:${ports[1]}" -h "127.0.0.1:${ports[2]}")
pass "three nodes in one cluster from the recipe's peer discovery, one node at a time"

# setup-accounts calls rabbitmqctl: here, the one for these nodes.
mkdir -p "$T/bin" "$T/pw"
printf '#!/bin/sh\nexec env HOME=%s ERL_EPMD_PORT=%s /usr/lib/rabbitmq/bin/rabbitmqctl "$@"\n' \
    "$D" "$(cat "$D/epmd.port")" >"$T/bin/rabbitmqctl"
chmod +x "$T/bin/rabbitmqctl"
for a in server operator cellar attic; do echo "pw-$a" >"$T/pw/$a"; done
PATH="$T/bin:$PATH" "$R/setup-accounts" -n dht1@localhost --passwords "$T/pw" cellar attic 2>"$T/setup.err" ||
    fail "setup-accounts: $(cat "$T/setup.err")"
server=(-u server -P pw-server) operator=(-u operator -P pw-operator) cellar=(-u cellar -P pw-cellar)
# Every node takes the accounts. (A node that has just joined answers CONNACK 3,
# server unavailable, for a few seconds, until its share of the cluster's
# client id registry is up.)
for i in 0 1 2; do
    tries=20
    until timeout 2 mosquitto_pub -h 127.0.0.1 -p "${ports[i]}" "${server[@]}" -t dht11/stats -n 2>/dev/null; do
        (( tries-- > 0 )) || fail "dht$((i + 1)) never let the server account in: $(grep -h mqtt_node "$D/dht$((i + 1))/log/"*.log | tail -3)"
        sleep 0.5
    done
done

assert_eq "an anonymous client" refused \
    "$(timeout 10 mosquitto_pub -h 127.0.0.1 -p "${ports[0]}" -q 1 -t dht11/cellar/data -m 1 2>/dev/null && echo let in || echo refused)"
# A sensor writes its own readings, not another sensor's; the server writes none.
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "${ports[1]}" "${server[@]}" -i check -q 1 -t 'dht11/+/data' -d >"$T/check" 2>&1 &
check=$!
PIDS+=("$check")
wait_for grep -q 'received SUBACK' "$T/check" || fail "no SUBACK for server on dht11/+/data: $(cat "$T/check")"
timeout 10 mosquitto_pub -h 127.0.0.1 -p "${ports[0]}" "${cellar[@]}" -q 1 -t dht11/attic/data -m forged-by-cellar 2>/dev/null || true
timeout 10 mosquitto_pub -h 127.0.0.1 -p "${ports[0]}" "${server[@]}" -q 1 -t dht11/cellar/data -m forged-by-server 2>/dev/null || true
timeout 10 mosquitto_pub -h 127.0.0.1 -p "${ports[0]}" "${cellar[@]}" -q 1 -t dht11/cellar/data -m genuine ||
    fail "the sensor cellar cannot publish its own reading"
wait_for grep -qx genuine "$T/check" || fail "the sensor's own reading never arrived: $(cat "$T/check")"
stop_pid "$check"
assert_not_contains "what arrived" "$T/check" forged
pass "setup-accounts: no anonymous client; a sensor writes its own topic only, the server writes no reading"

# A subscription the account may not read: RabbitMQ closes the connection
# without a SUBACK, on every try. dht-sub says so and ends (69), not for ever.
rc=0
timeout 60 dht-sub -h "127.0.0.1:${ports[2]}" "${cellar[@]}" -t dht11/attic/data -C 1 >/dev/null 2>"$T/refused.err" || rc=$?
assert_eq "dht-sub on a topic the sensor may not read: exit status" 69 "$rc"
assert_contains "why it ended" "$T/refused.err" "5 times in a row, with a subscription unanswered"
pass "a refused subscription ends dht-sub with 69 and the reason"

# TLS (node 1): the client certificate is the account, no password asked.
pub -p "${ports[0]}" "${server[@]}" -r -t dht11/stats -m tls-check
assert_eq "operator by its certificate" tls-check \
    "$(dht-sub -h "localhost:$tls" --cafile "$T/certs/ca.crt" --cert "$T/certs/clients/operator.crt" \
        --key "$T/certs/clients/operator.key" -t dht11/stats -F %p -C 1 -W 10 2>"$T/tls.err")"
assert_eq "without a client certificate" refused \
    "$(dht-sub -h "localhost:$tls" --cafile "$T/certs/ca.crt" -t dht11/stats -C 1 --connect-timeout 3s \
        >/dev/null 2>>"$T/tls.err" && echo let in || echo refused)"
pass "the TLS listener: a client certificate logs in as its CN; none, no entry"

# The chain, with persistent sessions at QoS 1, every tool on the three nodes.
db=$T/dht.db
s=(-c -q 1)
dht-sub "${mqtt[@]}" "${operator[@]}" -i op "${s[@]}" -t dht11/alerts/escalation -F %p >"$T/operator" 2>"$T/op.err" &
op=$!
mkfifo "$T/p0" "$T/p1" "$T/p2"
dht-sub "${mqtt[@]}" "${server[@]}" -i sub "${s[@]}" -t 'dht11/+/data' -t 'dht11/+/status' >"$T/p0" 2>"$T/sub.err" &
sub=$!
tee "$T/readings" <"$T/p0" >"$T/p1" &
tee_pid=$!
dht-record --db "$db" --tee <"$T/p1" >"$T/p2" 2>"$T/record.err" &
record=$!
dht-rules "${mqtt[@]}" "${server[@]}" -r "$src/scripts/rules/seed.rules" --publish dht11/alerts <"$T/p2" >"$T/alerts" 2>"$T/rules.err" &
rules=$!
dht-escalate "${mqtt[@]}" "${server[@]}" -i esc "${s[@]}" -t dht11/alerts --db "$db" --escalate-after 2s --max-level 3 \
    >"$T/incidents" 2>"$T/esc.err" &
esc=$!
dht-record "${mqtt[@]}" "${server[@]}" -i archive "${s[@]}" -t dht11/alerts --db "$T/archive.db" 2>"$T/archive.err" &
archive=$!
PIDS+=("$op" "$sub" "$tee_pid" "$record" "$rules" "$esc" "$archive")

# ctl NODE ARGS...: rabbitmqctl -q on a node that is up.
ctl() { local node=$1; shift; rabbitmqctl_node "$D" "$node" -q "$@"; }
sessions='^mqtt-subscription-(op|sub|esc|archive)qos1$'
# Six topics bound: sub's two, op's, archive's, esc's alerts and answers.
tries=60
until [ "$(ctl dht1 list_bindings destination_name routing_key | awk -v q="$sessions" '$1 ~ q && $2 ~ /^dht11\./' | wc -l)" = 6 ]; do
    (( tries-- > 0 )) || fail "the sessions never subscribed: $(cat "$T"/*.err)"
    sleep 0.5
done
assert_eq "the sessions' queues" "4 quorum" \
    "$(ctl dht1 list_queues name type --no-table-headers | awk -v q="$sessions" '$1 ~ q { print $2 }' | uniq -c | awk '{ print $1, $2 }')"

dht-sensor-sim "${mqtt[@]}" "${cellar[@]}" -i sim -c --names cellar --profile cold --interval 1s --count 16 \
    --seed 7 --with time 2>"$T/sim.err" &
sim=$!
PIDS+=("$sim")

# Five readings in, the node leading the readings' session queue stops (the
# sessions' queues live where their clients connected: the first -h).
wait_lines "$T/readings" 5 30
leader=$(ctl dht1 list_queues name leader --no-table-headers | awk '$1 == "mqtt-subscription-subqos1" { print $2 }')
[[ $leader =~ ^dht([123])@localhost$ ]] || fail "no leader for the readings' queue: [$leader]"
down=$(( BASH_REMATCH[1] - 1 ))
stop_rabbitmq_nodes "${RABBITMQ_PIDS[down]}"
up=dht$(( (down + 1) % 3 + 1 ))
echo "stopped $leader after $(wc -l <"$T/readings") readings"

wait "$sim" || fail "dht-sensor-sim exited $?: $(cat "$T/sim.err")"
# cold and freeze each climb from level 1 to 3: four escalations.
tries=150
until [ "$(grep -c '"event":"escalation"' "$T/incidents")" -ge 4 ]; do
    (( tries-- > 0 )) || fail "escalations: $(cat "$T/incidents") $(cat "$T"/*.err)"
    sleep 0.2
done
# The last escalation on its way to the operator, the last reading to dht-record.
tries=150
until [ "$(jq -c . "$T/operator" | sort -u | wc -l)" -ge 4 ] &&
    [ "$(jq -c 'select(.topic == "dht11/cellar/data") | .payload' "$T/readings" | sort -u | wc -l)" -ge 16 ]; do
    (( tries-- > 0 )) || break  # the counts below say what is missing
    sleep 0.2
done
for pid in "$op" "$sub" "$esc" "$archive"; do kill -TERM "$pid"; done
for pid in "$op" "$sub" "$record" "$rules" "$esc" "$archive"; do
    wait "$pid" || fail "a piece of the chain exited $? ($(cat "$T"/*.err))"
done

# Counted: at QoS 1 a message may come twice across a failover, never not at all.
readings=$(sqlite3 "$db" "SELECT count(DISTINCT payload) FROM messages WHERE topic = 'dht11/cellar/data'")
assert_eq "the readings the sim published, stored" 16 "$readings"
assert_eq "cold then freeze" "cold firing
freeze firing" "$(jq -r 'select(.state == "firing") | "\(.rule) \(.state)"' "$T/alerts")"
assert_eq "every alert published, archived from MQTT" "$(jq -c . "$T/alerts" | sort -u)" \
    "$(dht-record query --db "$T/archive.db" --topic dht11/alerts | jq -c .payload | sort -u)"
assert_eq "every escalation reached the operator" "$(jq -c 'select(.event == "escalation")' "$T/incidents" | sort -u)" \
    "$(jq -c . "$T/operator" | sort -u)"
assert_eq "four escalations" 4 "$(jq -c . "$T/operator" | sort -u | wc -l)"
echo "copies: $(sqlite3 "$db" "SELECT count(*) FROM messages WHERE topic = 'dht11/cellar/data'") readings stored," \
    "$(wc -l <"$T/operator") escalations received"
# The clients were on the stopped node: each subscriber failed over.
for f in op sub esc archive; do
    grep -q ': connected to 127\.0\.0\.1:' "$T/$f.err" || fail "$f never failed over: $(cat "$T/$f.err")"
done
pass "the chain across a node's stop: 16 of 16 readings, every alert and every escalation (still up: $up)"
