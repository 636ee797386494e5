#!/usr/bin/env bash
# Notifications that cannot run are told. --check finds each command of the
# policy that would not start (FILE:LINE, exit 78). At run time a
# notification given up on is a notify-failed event: in the database (show,
# list), on dht11/incidents, in the summary, and `tick` exits 69.
source "$(dirname "$0")/../lib/testlib.sh"
esc=$DHT_BIN/dht-escalate/dht-escalate
alert='{"kind":"alert","rule":"hot","state":"firing","action":"alert","severity":"warning","sensor":"dht11/k/data"}'

# --check ----------------------------------------------------------------
printf '#!/bin/sh\nexit 0\n' >"$T/ok.sh"
chmod +x "$T/ok.sh"
cp "$T/ok.sh" "$T/not-executable.sh"
chmod -x "$T/not-executable.sh"
printf 'level 1 notify %s --to ops\non resolved notify true\n' "$T/ok.sh" >"$T/good.policy"
check() { "$esc" --policy "$@" --check; }
assert_eq "commands that all resolve" 0 "$(exit_code check "$T/good.policy" 2>"$T/err")"
{
    echo "# comment"
    echo "level 1 notify /usr/local/bin/notify-nowhere --webhook-file x"
    echo "level 2 notify $T/ok.sh"
    echo "on acknowledged notify no-such-notifier-anywhere"
    echo "on resolved notify $T/not-executable.sh"
    echo "level 3 notify $T"
} >"$T/bad.policy"
assert_eq "commands that do not" 78 "$(exit_code check "$T/bad.policy" 2>"$T/err")"
assert_contains "an absolute path missing" "$T/err" \
    "$T/bad.policy:2: notify: /usr/local/bin/notify-nowhere: No such file or directory"
assert_contains "a bare name not on PATH" "$T/err" "$T/bad.policy:4: notify: no-such-notifier-anywhere: not found in PATH"
assert_contains "a file not executable" "$T/err" "$T/bad.policy:5: notify: $T/not-executable.sh: not executable"
assert_contains "a directory" "$T/err" "$T/bad.policy:6: notify: $T: not a regular file"
assert_not_contains "the good one" "$T/err" "bad.policy:3:"
assert_contains "the count" "$T/err" "4 notification commands cannot be run"
assert_eq "--notify too" 78 "$(exit_code "$esc" --notify 'nope-notifier x' --check 2>"$T/err")"
assert_contains "named by its flag" "$T/err" "--notify nope-notifier x: nope-notifier: not found in PATH"
pass "--check: every notification command must resolve to an executable, else FILE:LINE and 78"

# Given up at run time ------------------------------------------------------
broker "$T/b"
listen watcher "$T/seen" -t dht11/incidents
run() { "$esc" --db "$T/e.db" -h 127.0.0.1 -p "$PORT" "$@"; }
first() {
    run --notify /nonexistent/notify-x --notify-retries 1 --notify-retry-delay 1s <<<"$alert" >"$T/first.out" \
        2>"$T/first.err"
}
ticked() { run tick >"$T/tick.out" 2>"$T/tick.err"; }
assert_eq "the first try fails, a retry is due" 0 "$(exit_code first)"
assert_contains "said" "$T/first.err" "notification 1: /nonexistent/notify-x: No such file or directory; trying again later"
sleep 1.2  # the retry's due time
assert_eq "tick gives it up" 69 "$(exit_code ticked)"
assert_contains "said" "$T/tick.err" "giving up after 2 tries"
assert_contains "counted" "$T/tick.err" "1 notification given up (notify-failed events)"
failed='"event":"notify-failed","command":"/nonexistent/notify-x","reason":"No such file or directory","attempts":2'
assert_contains "printed" "$T/tick.out" "$failed"
wait_lines "$T/seen" 2
assert_contains "published" "$T/seen" "$failed"
assert_eq "published once acknowledged" 0 "$(sqlite3 "$T/e.db" 'SELECT count(*) FROM incident_events WHERE published = 0')"
"$esc" --db "$T/e.db" show 1 >"$T/show"
assert_contains "show" "$T/show" "$failed"
"$esc" --db "$T/e.db" list --json >"$T/list"
assert_contains "list --json" "$T/list" '"notify_failed":1'
"$esc" --db "$T/e.db" list >"$T/table"
assert_eq "list" "FAILED 1" "$(awk 'NR == 1 {h = $NF} NR == 2 {print h, $NF}' "$T/table")"
assert_eq "the next tick has nothing to give up" 0 "$(exit_code run tick)"
pass "a notification given up on is a notify-failed event: printed, published, in show and list; tick exits 69"
