#!/usr/bin/env bash
# Hostile input for every tool that reads records: not JSON, truncated,
# arrays and bare numbers, empty and CRLF lines, a 5 MB line, 100000 nested
# brackets, invalid UTF-8, NUL bytes, NaN and 1e400, wrong types, impossible
# timestamps. Each tool must survive (exit 0 without --strict, no sanitizer
# report), report each bad line at most once with its number (the lines that
# are not JSON objects always), and handle the good lines around them exactly
# as if the bad ones were not there.
source "$(dirname "$0")/../lib/testlib.sh"
for tool in dht-record dht-rules dht-stats dht-export-influx dht-export-graphite dht-escalate; do PATH="$DHT_BIN/$tool:$PATH"; done
cd "$T"

# good N: a message record (and every fifth an alert record), deterministic.
good() {
    local i=$1
    printf '{"kind":"message","timestamp":"2026-11-24T10:00:%02d.000Z","topic":"dht11/s%d/data","payload":{"temperature":%s,"humidity":%d},"qos":0,"retain":false}\n' \
        "$i" "$((i % 3))" "$((10 - i)).5" "$((60 + i))"
    if ((i % 5 == 0)); then
        printf '{"kind":"alert","timestamp":"2026-11-24T10:00:%02d.000Z","rule":"cold%d","state":"firing","action":"alert","severity":"warning","sensor":"dht11/s%d/data","field":"temperature","value":1}\n' "$i" "$i" "$((i % 3))"
    fi
}
python3 - >"$T/hostile" <<'PY'
import sys
w = sys.stdout.buffer.write
lines = [
    b"not json at all",
    b'{"kind":"message","topic":"dht11/x/data","payload":{"temperature":1',  # truncated
    b"[1,2,3]",
    b"42",
    b"",
    b'{"a":"' + b"x" * (5 * 1024 * 1024) + b'"}',
    b"[" * 100000 + b"]" * 100000,
    b'{"kind":"message","topic":"dht11/\xff\xfe/data","payload":{"temperature":1}}',
    b'{"kind":"message","topic":"dht11/nul/data","payload":{"temperature":1}}\x00{"x":1}',
    b'{"kind":"message","topic":"dht11/nan/data","payload":{"temperature":NaN}}',
    b'{"kind":"message","topic":"dht11/big/data","payload":{"temperature":1e400}}',
    b'{"kind":"message","timestamp":"2026-11-24T10:00:00.000Z","topic":5,"payload":{"temperature":1}}',
    b'{"kind":"message","timestamp":12345,"topic":"dht11/ts/data","payload":{"temperature":1}}',
    b'{"kind":"message","timestamp":"2026-02-30T25:61:61Z","topic":"dht11/when/data","payload":{"temperature":1}}',
    b'{"kind":7}',
]
for l in lines:
    w(l + b"\n")
PY
# The good lines alone, and the same with a hostile line after every good one.
: >"$T/clean"
: >"$T/mixed"
n=$(wc -l <"$T/hostile")
for i in $(seq 1 20); do
    good "$i" >>"$T/clean"
    if ((i == 6)); then
        good "$i" | sed 's/$/\r/' >>"$T/mixed"  # CRLF: a good line all the same
    else
        good "$i" >>"$T/mixed"
    fi
    if ((i <= n)); then sed -n "${i}p" "$T/hostile" >>"$T/mixed"; fi
done
# The lines of "mixed" that are not JSON objects: every tool must name them.
mapfile -t must < <(python3 - "$T/mixed" <<'PY'
import json, sys
for n, raw in enumerate(open(sys.argv[1], "rb").read().split(b"\n")[:-1], 1):
    try:
        if len(raw) > 1024 * 1024 or b"\x00" in raw:
            raise ValueError
        v = json.loads(raw.decode("utf-8"), parse_constant=lambda c: (_ for _ in ()).throw(ValueError()))
        if not isinstance(v, dict):
            raise ValueError
    except Exception:
        print(n)
PY
)
[ "${#must[@]}" -ge 10 ] || fail "the hostile set is too small (${#must[@]})"

# check TOOL LABEL NORMALIZE CMD...: runs CMD on clean and on mixed input.
check() {
    local label=$1 normalize=$2
    shift 2
    local rc=0
    "$@" <"$T/clean" >"$T/out.clean" 2>"$T/err.clean" || fail "$label on clean input: exit $? ($(head -n 3 "$T/err.clean"))"
    "$@" <"$T/mixed" >"$T/out.mixed" 2>"$T/err.mixed" || rc=$?
    [ "$rc" = 0 ] || fail "$label on hostile input: exit $rc ($(grep -v 'skipped' "$T/err.mixed" | head -n 5))"
    ! grep -q "Sanitizer\|runtime error" "$T/err.mixed" || fail "$label: $(grep -m1 'Sanitizer\|runtime error' "$T/err.mixed")"
    local dup
    dup=$(grep -o 'stdin:[0-9]*:' "$T/err.mixed" | sort | uniq -d | head -n 1)
    [ -z "$dup" ] || fail "$label reported $dup twice"
    local l
    for l in "${must[@]}"; do
        grep -q "stdin:$l:" "$T/err.mixed" || fail "$label did not report line $l: $(head -c 300 <<<"$(sed -n "${l}p" "$T/mixed")")"
    done
    assert_eq "$label: one line per bad line, each under 300 bytes" "" "$(awk 'length > 300' "$T/err.mixed" | head -c 200)"
    if [ "$normalize" != - ]; then
        eval "$normalize" <"$T/out.clean" >"$T/n.clean"
        eval "$normalize" <"$T/out.mixed" >"$T/n.mixed"
    else
        cp "$T/out.clean" "$T/n.clean"
        cp "$T/out.mixed" "$T/n.mixed"
    fi
    [ -s "$T/n.clean" ] || fail "$label produced nothing from the good lines"
    cmp -s "$T/n.clean" "$T/n.mixed" || { diff "$T/n.clean" "$T/n.mixed" | head -n 5 >&2; fail "$label: the good lines were not handled as if alone"; }
    pass "$label: survives, names each bad line once ($(grep -c 'stdin:' "$T/err.mixed") of them), the good lines as if alone"
}

check dht-rules - dht-rules -e 'cold: temperature < 5 -> alert' -e 'hot: humidity > 70 -> notify'
check dht-export-influx - dht-export-influx
check dht-export-graphite - dht-export-graphite
check dht-stats "jq -c .sensors" dht-stats --format json
record_and_query() {  # the history, read back
    rm -f "$T"/h.db*
    dht-record --db "$T/h.db" && dht-record query --db "$T/h.db" && dht-record query --db "$T/h.db" --kind alert
}
check dht-record - record_and_query
escalate_and_list() {
    rm -f "$T"/e.db*
    dht-escalate --db "$T/e.db" >/dev/null && dht-escalate --db "$T/e.db" list --json | jq -c '[.rule, .sensor, .state, .level]'
}
check dht-escalate - escalate_and_list

# A "kind" that is not a string is a bad line for every tool, those that
# parse whole records as those that scan them: named with its line number,
# and the lines around it read as if it were not there.
{ good 1; good 2; } >"$T/two"
{ good 1; echo '{"kind":7}'; good 2; } >"$T/kind7"
kind_check() {
    local label=$1 normalize=$2
    shift 2
    "$@" <"$T/two" >"$T/k.out.want" 2>/dev/null || fail "$label on two good lines: exit $?"
    "$@" <"$T/kind7" >"$T/k.out.got" 2>"$T/k.err" || fail "$label on {\"kind\":7}: exit $? ($(head -n 3 "$T/k.err"))"
    assert_eq "$label: {\"kind\":7} reported at its line" 'stdin:2: "kind" is not a string (skipped)' \
        "$(grep -o 'stdin:.*' "$T/k.err")"
    eval "$normalize" <"$T/k.out.want" >"$T/k.want"
    eval "$normalize" <"$T/k.out.got" >"$T/k.got"
    [ -s "$T/k.want" ] || fail "$label produced nothing from the good lines"
    cmp -s "$T/k.want" "$T/k.got" || { diff "$T/k.want" "$T/k.got" | head -n 5 >&2; fail "$label: the lines around {\"kind\":7} were not read as if alone"; }
    pass "$label: {\"kind\":7} is a bad line, reported, the next line read"
}
kind_check dht-record cat record_and_query
kind_check dht-export-graphite cat dht-export-graphite
kind_check dht-export-influx cat dht-export-influx
kind_check dht-stats "jq -c .sensors" dht-stats --format json
kind_check dht-rules cat dht-rules -e 'cold: temperature < 10 -> alert'

# A stream of bad lines (dht-sub -v piped into a tool) does not bury stderr:
# ten reported one by one, the rest counted, the hint said once, the total.
for i in $(seq 2000); do echo "dht11/x/data {\"temperature\":$i}"; done >"$T/verbose"
for tool in "dht-rules -e c:temperature<5->alert" "dht-stats --format json" dht-export-influx; do
    # shellcheck disable=SC2086
    $tool <"$T/verbose" >/dev/null 2>"$T/v.err" || true
    lines=$(wc -l <"$T/v.err")
    [ "$lines" -le 15 ] || fail "$tool: $lines stderr lines for 2000 bad lines"
    assert_contains "$tool: the hint" "$T/v.err" "drop -v"
    assert_eq "$tool: the hint once" 1 "$(grep -c 'drop -v' "$T/v.err")"
    assert_contains "$tool: the rest counted" "$T/v.err" "more bad input lines skipped (the latest: stdin:2000:"
    assert_contains "$tool: the total" "$T/v.err" "2000 bad input lines skipped"
done
pass "2000 bad lines: 10 reported, the rest counted, one hint"
