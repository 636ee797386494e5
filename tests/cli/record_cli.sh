#!/usr/bin/env bash
# dht-record's command line: --help for the tool and its subcommands,
# --version, bad flags refused with 64.
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
