#!/usr/bin/env bash
# Config files are read strictly by every tool: a misspelt key, a malformed
# line (YAML's "key: value", an INI section) or a bad value is an error naming
# FILE:LINE (exit 78), never ignored; --print-config says where each option
# in effect came from.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-sub dht-record dht-rules dht-stats dht-escalate dht-export-influx dht-export-graphite dht-sensor-sim
export XDG_CONFIG_HOME=$T/xdg
mkdir -p "$XDG_CONFIG_HOME/dht"

expect_78() {  # expect_78 WHAT FILE TEXT TOOL ARGS...
    local what=$1 file=$2 text=$3 rc
    shift 3
    rc=$(exit_code "$@" </dev/null 2>"$T/err")
    assert_eq "$what: exit status" 78 "$rc"
    assert_contains "$what" "$T/err" "$text"
}

tools="dht-sub dht-record dht-rules dht-stats dht-escalate dht-export-influx dht-export-graphite dht-sensor-sim"
printf '# comment\n\nstat = x\n' >"$T/typo.conf"
for tool in $tools; do
    expect_78 "$tool, a misspelt key" "$T/typo.conf" "$T/typo.conf:3: unknown key 'stat'" "$tool" --config "$T/typo.conf"
done

printf 'publish = dht11/alerts\npubish = dht11/alerts\n' >"$T/rules.conf"
expect_78 "dht-rules, pubish" "$T/rules.conf" "rules.conf:2: unknown key 'pubish' (did you mean 'publish'?)" \
    dht-rules --config "$T/rules.conf" -r /dev/null

# The user's own file is checked as strictly.
printf 'hots = 127.0.0.1\n' >"$XDG_CONFIG_HOME/dht/dht-sub.conf"
expect_78 "the XDG file" "" "dht-sub.conf:1: unknown key 'hots' (did you mean 'host'?)" dht-sub -t x
printf 'host: 127.0.0.1\n' >"$XDG_CONFIG_HOME/dht/dht-sub.conf"
expect_78 "a YAML line" "" "dht-sub.conf:1: 'host: 127.0.0.1' is not KEY = VALUE" dht-sub -t x
printf '[dht-sub]\nhost = 127.0.0.1\n' >"$XDG_CONFIG_HOME/dht/dht-sub.conf"
expect_78 "an INI section" "" "dht-sub.conf:1: [dht-sub]: no such section" dht-sub -t x
printf 'host = 127.0.0.1\n\nport = 99999\n' >"$XDG_CONFIG_HOME/dht/dht-sub.conf"
expect_78 "a bad value" "" "dht-sub.conf:3: --port: Value 99999 not in range" dht-sub -t x
# A flag given on the command line is not blamed on the file.
rc=$(exit_code dht-sub -t x -p 0 2>"$T/err")
assert_eq "a bad flag is a usage error" 64 "$rc"
assert_not_contains "a bad flag names no file" "$T/err" "dht-sub.conf"
pass "misspelt keys, YAML lines, sections and bad values: FILE:LINE, exit 78"

# Subcommands' sections are sections.
printf '[list]\nopen = true\n' >"$T/esc.conf"
rc=$(exit_code dht-escalate --config "$T/esc.conf" --print-config 2>"$T/err")
assert_eq "a subcommand's section" 0 "$rc"

# Where each option came from.
printf '# the broker\nhost = 127.0.0.1\nport = 1884\ntopic = "cfg/#"\n' >"$XDG_CONFIG_HOME/dht/dht-sub.conf"
printf 'port = 1885\n' >"$T/mine.conf"
DHT_MQTT_PASSWORD=hunter2 dht-sub --config "$T/mine.conf" -q 1 -u ana --print-config >"$T/print" 2>"$T/err" ||
    fail "--print-config: $(cat "$T/err")"
assert_contains "from the XDG file" "$T/print" 'host = "127.0.0.1"'
grep -q "^host = \"127.0.0.1\" .*# $XDG_CONFIG_HOME/dht/dht-sub.conf:2\$" "$T/print" || fail "host's origin: $(cat "$T/print")"
grep -q "^port = 1885 .*# $T/mine.conf:1\$" "$T/print" || fail "--config beats the XDG file: $(cat "$T/print")"
grep -q '^topic = "cfg/#" .*# .*dht-sub.conf:4$' "$T/print" || fail "topic: $(cat "$T/print")"
grep -q '^qos = 1 .*# flag$' "$T/print" || fail "a flag: $(cat "$T/print")"
grep -q '^password = "\*\*\*\*\*\*\*\*" .*# environment DHT_MQTT_PASSWORD$' "$T/print" ||
    fail "the environment, masked: $(cat "$T/print")"
assert_not_contains "no password shown" "$T/print" hunter2
pass "--print-config: flag, environment, FILE:LINE, passwords masked"
