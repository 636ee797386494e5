#!/usr/bin/env bash
# Every tool's --help (and its subcommands'): 80 columns, the tool's own
# options before the shared MQTT/TLS groups, plain value names; every flag it
# lists is in a man page, and every flag the tool's page lists is in its
# --help. Usage errors in plain words.
source "$(dirname "$0")/../lib/testlib.sh"
tools="dht-sub dht-record dht-rules dht-stats dht-escalate dht-export-influx dht-export-graphite dht-sensor-sim dht-status"
# shellcheck disable=SC2086
use_tools $tools
man=${DHT_SRC:-$here/../..}/man

help_flags() {  # the flags a --help lists
    "$@" --help | grep -oE '^  (-[A-Za-z0-9],)?--?[A-Za-z0-9][-A-Za-z0-9]*(,--?[-A-Za-z0-9]+)*' |
        tr ',' '\n' | sed 's/^ *//' | sort -u
}
man_flags() {  # the flags a page lists as items (.It Fl …)
    grep -E '^\.It .*Fl ' "$@" | grep -oE 'Fl [-A-Za-z0-9]+' | awk '{print "-" $2}' | sort -u
}
subcommands() { "$@" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && /^  [a-z]/ {print $1}'; }
# every subcommand, nested ones too ("silence add"), one a line
all_subcommands() {
    local sub inner
    for sub in $(subcommands "$1"); do
        echo "$sub"
        for inner in $(subcommands "$1" "$sub"); do echo "$sub $inner"; done
    done
}

for tool in $tools; do
    "$tool" --help >"$T/help"
    width=$(awk '{ if (length > m) m = length } END { print m }' "$T/help")
    [ "$width" -le 80 ] || fail "$tool --help is $width columns wide: $(awk 'length > 80' "$T/help" | head -3)"
    assert_not_contains "$tool: CLI11's type noise" "$T/help" "INT:INT"
    assert_not_contains "$tool: CLI11's env noise" "$T/help" "(Env:"
    own=$(grep -n '^Options:' "$T/help" | cut -d: -f1)
    mqtt=$(grep -n '^MQTT:' "$T/help" | cut -d: -f1 || true)
    [ -z "$mqtt" ] || [ "$own" -lt "$mqtt" ] || fail "$tool: MQTT options before the tool's own"
    all_subcommands "$tool" >"$T/subs"
    # shellcheck disable=SC2086
    { help_flags "$tool"; while read -r sub; do help_flags "$tool" $sub; done <"$T/subs"; } | sort -u >"$T/h"
    while read -r sub; do
        # shellcheck disable=SC2086
        width=$("$tool" $sub --help | awk '{ if (length > m) m = length } END { print m }')
        [ "$width" -le 80 ] || fail "$tool $sub --help is $width columns wide"
    done <"$T/subs"
    # The shared flags are documented once, in dht-tools(7) and dht-sub(1).
    man_flags "$man/$tool.1" "$man/dht-tools.7" "$man/dht-sub.1" >"$T/m"
    missing=$(comm -23 "$T/h" "$T/m" | tr '\n' ' ')
    [ -z "$missing" ] || fail "$tool: in --help, in no man page: $missing"
    man_flags "$man/$tool.1" >"$T/mt"
    stale=$(comm -13 "$T/h" "$T/mt" | tr '\n' ' ')
    [ -z "$stale" ] || fail "$tool.1 lists flags its --help does not: $stale"
    # dht-tools(7) names every tool of this version, and says what it does.
    sed -n '/^\.Sh THE TOOLS/,/^\.Sh THE RECORDS/p' "$man/dht-tools.7" >"$T/tools7"
    grep -Eq "^\.Xr $tool 1( [,;.])?$" "$T/tools7" || fail "dht-tools.7: THE TOOLS does not list $tool"
    grep -qx ".It Nm $tool" "$T/tools7" || fail "dht-tools.7: THE TOOLS does not describe $tool"
done
pass "--help: 80 columns, own options first, every flag in a man page and back; every tool in dht-tools(7)"

usage() {  # usage EXPECTED TOOL ARGS...: the first line of a usage error
    local want=$1 rc
    shift
    rc=$(exit_code "$@" </dev/null 2>"$T/err")
    assert_eq "$* exits" 64 "$rc"
    assert_eq "$*" "$want" "$(head -1 "$T/err")"
}
usage "dht-sub: unknown option '--topc' (did you mean '--topic'?)" dht-sub --topc x
usage "dht-sub: unknown option '-S'" dht-sub -t dht11/x -S
usage "dht-sub: unexpected argument 'dht11/x'" dht-sub dht11/x
usage "dht-sub: --count: 0 must be more than 0" dht-sub -t x -C 0
usage "dht-escalate: ID: 'abc' is not a number" dht-escalate ack abc
pass "usage errors in plain words, with 'did you mean'"
