#!/usr/bin/env bash
# dht-rules on a real mosquitto: readings from -t, alerts on stdout and
# published with --publish at QoS 1 (seen by an operator's mosquitto_sub), a
# retained `offline` status firing `no data`, and alerts from stdin delivered
# before the tool exits.
source "$(dirname "$0")/../lib/testlib.sh"
# RabbitMQ: rules_status.sh instead (dht-tools(7), BROKERS).
[ "$DHT_TEST_BROKER" != rabbitmq ] || skip "a retained status never reaches a wildcard subscription"
use_tools dht-rules
seed=$DHT_SRC/scripts/rules/seed.rules
broker "$T/b"

# The operator's view.
listen operator "$T/ops" -t dht11/alerts

# A retained last will from a device that died before dht-rules started.
pub -r -t dht11/attic/status -m offline

dht-rules -h 127.0.0.1 -p "$PORT" -i rules -t 'dht11/+/data' -t 'dht11/+/status' -q 1 \
    --publish dht11/alerts -r "$seed" -e 'silent: no data for 1h -> alert critical' >"$T/out" 2>"$T/err" &
pid=$!
PIDS+=("$pid")
wait_subscribed rules
wait_lines "$T/out" 1
assert_eq "a retained offline status fires no data at once" "silent firing offline dht11/attic/data" \
    "$(head -n 1 "$T/out" | jq -r '"\(.rule) \(.state) \(.reason) \(.sensor)"')"

# The seed's payload, as the firmware publishes it.
for t in 4.00 4.50 3.00 2.00 1.00 -0.50; do
    pub -t dht11/kitchen/data -m "{\"temperature\":$t,\"humidity\":65.30}"
done
wait_lines "$T/out" 3
assert_eq "cold after 5 readings, then freeze" "cold firing 1 dht11/kitchen/data
freeze firing -0.5 dht11/kitchen/data" "$(tail -n +2 "$T/out" | jq -r '"\(.rule) \(.state) \(.value) \(.sensor)"')"
pub -t dht11/kitchen/data -m '{"temperature":8.00,"humidity":65.30}'
wait_lines "$T/out" 5
kill -TERM "$pid"
wait "$pid" || fail "SIGTERM: exit status $?: $(cat "$T/err")"
wait_lines "$T/ops" 5
diff "$T/out" "$T/ops" || fail "the alerts published differ from the alerts printed"
pass "readings from MQTT; alerts on stdout and on dht11/alerts at QoS 1, the same records"

# From stdin to MQTT: the alert is delivered before the tool exits.
: >"$T/ops2"
listen operator2 "$T/ops2" -t dht11/alerts -C 1
sub=$BG_PID
echo '{"temperature":-4,"humidity":50}' |
    dht-rules -h 127.0.0.1 -p "$PORT" --publish dht11/alerts -r "$seed" --bare-topic dht11/porch/data >/dev/null 2>"$T/err" ||
    fail "dht-rules failed: $(cat "$T/err")"
wait "$sub" || fail "mosquitto_sub got nothing"
assert_eq "published from stdin" "freeze dht11/porch/data" "$(jq -r '"\(.rule) \(.sensor)"' "$T/ops2")"
pass "alerts from stdin published at QoS 1 and delivered before exit"

# An unreachable broker with a deadline: 69.
rc=0
echo '{"temperature":-4}' | dht-rules -h 127.0.0.1 -p "$(free_port)" --connect-timeout 1 --publish dht11/alerts \
    -r "$seed" >/dev/null 2>"$T/err" || rc=$?
assert_eq "no broker within --connect-timeout" 69 "$rc"
pass "an unreachable broker past --connect-timeout exits 69"
