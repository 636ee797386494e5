#!/usr/bin/env bash
# Configuration from files and the environment reaches a real connection:
# $XDG_CONFIG_HOME/dht/dht-sub.conf, --config FILE, DHT_MQTT_PORT, flags.
source "$(dirname "$0")/../lib/testlib.sh"
broker "$T/b"
dead=$(free_port)
export XDG_CONFIG_HOME=$T/xdg
mkdir -p "$XDG_CONFIG_HOME/dht"
# A topic filter with '#' must survive the config parser.
printf '# where the broker is\nhost = "127.0.0.1"\nport = %s\ntopic = "cfg/#"\n' "$PORT" \
    >"$XDG_CONFIG_HOME/dht/dht-sub.conf"
printf 'port = %s\n' "$dead" >"$T/dead.conf"

run_one() {  # run_one ID ARGS...: print the one message dht-sub receives
    local id=$1
    shift
    bg "$@" -i "$id" -C 1 -F '%t %p' --connect-timeout 5 >"$T/$id.out" 2>"$T/$id.err"
    local pid=$BG_PID
    wait_subscribed "$id"
    mosquitto_pub -p "$PORT" -t cfg/x -m "$id"
    wait "$pid" || fail "$id: exit $? ($(cat "$T/$id.err"))"
    cat "$T/$id.out"
}
assert_eq "the XDG config file" "cfg/x xdg" "$(run_one xdg dht-sub)"
rc=$(exit_code dht-sub --config "$T/dead.conf" --connect-timeout 1 2>/dev/null)
assert_eq "--config overrides the XDG file" 69 "$rc"
assert_eq "the environment overrides --config" "cfg/x env" \
    "$(DHT_MQTT_PORT=$PORT run_one env dht-sub --config "$T/dead.conf")"
assert_eq "a flag overrides the environment" "cfg/x flag" \
    "$(DHT_MQTT_PORT=$dead run_one flag dht-sub -p "$PORT")"
printf 'port = "not a number"\n' >"$T/bad.conf"
rc=$(exit_code dht-sub --config "$T/bad.conf" 2>"$T/bad.err")
[ "$rc" = 64 ] || [ "$rc" = 78 ] || fail "a bad config value gave $rc"
pass "flags > environment > --config > XDG file, on a real broker"
