#!/usr/bin/env bash
# dht-record's command line: --help for the tool and its subcommands,
# --version, bad flags refused with 64, payloads stored as written.
source "$(dirname "$0")/../lib/testlib.sh"
export PATH="$DHT_BIN/dht-record:$PATH"
dht-record --help >"$T/help"
for flag in --db --tee --batch --commit-interval --strict --max-line query prune; do
    assert_contains "--help lists $flag" "$T/help" "$flag"
done
dht-record query --help >"$T/qhelp"
for flag in --topic --sensor --since --until --limit --unprocessed --mark-processed --kind; do
    assert_contains "query --help lists $flag" "$T/qhelp" "$flag"
done
[[ $(dht-record --version) =~ ^dht-record\ [0-9.]+\ \(libmosquitto ]] || fail "bad --version"
pass "--help, query --help and --version"
cd "$T"
for args in "--no-such-flag" "--batch 0" "--commit-interval soon" "query --since later" "query --topic a/#/b" \
    "prune" "prune --older-than never" "--max-line 3"; do
    # shellcheck disable=SC2086
    rc=$(exit_code dht-record --db "$T/x.db" $args </dev/null 2>"$T/err")
    assert_eq "exit status of dht-record $args" 64 "$rc"
    [ "$(wc -l <"$T/err")" -le 2 ] || fail "too much noise for $args: $(cat "$T/err")"
done
pass "bad flags exit 64"

# A payload is stored as the writer writes it, whether its line is parsed
# (spaces, escapes spelled otherwise, exponents) or, being compact, read
# without the parser ("20.0" stored as 20 either way); --tee says the same.
cat >"$T/in" <<'IN'
{"kind":"message","timestamp":"2026-11-24T10:00:00.000Z","topic":"a","payload":{"t":20.0,"h":40.50,"s":"x\n\u001f"},"qos":1}
{"kind": "message", "timestamp": "2026-11-24T10:00:00.000Z", "topic": "a", "payload": {"t": 20.0, "h": 40.50, "s": "x\n\u001F"}, "qos": 1}
{"kind":"message","timestamp":"2026-11-24T10:00:00.000Z","topic":"a","payload":{"t":2e1,"h":40.5,"s":"x\u000a\u001f"},"qos":1}
{"t":20.0,"h":40.50,"s":"\u00e9\/"}
{"t":20.0,"h":40.50,"s":"é/"}
{"t": 2E1, "h": 405e-1, "s": "é\/"}
IN
dht-record --db "$T/p.db" --bare-topic b --tee <"$T/in" >"$T/tee"
dht-record query --db "$T/p.db" >"$T/stored"
for f in tee stored; do
    assert_eq "messages in $f" 6 "$(wc -l <"$T/$f")"
    assert_eq "payloads of records in $f" 3 \
        "$(grep -cF '"topic":"a","payload":{"t":20,"h":40.5,"s":"x\n\u001f"},"qos":1,' "$T/$f")"
    assert_eq "bare payloads in $f" 3 "$(grep -cF '"topic":"b","payload":{"t":20,"h":40.5,"s":"é/"},"qos":0,' "$T/$f")"
done
pass "payloads stored the same from compact and spaced lines"
