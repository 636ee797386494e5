#!/usr/bin/env bash
# dht-sub's command line: --help, --version, and bad flags refused with 64.
source "$(dirname "$0")/../lib/testlib.sh"

dht-sub --help >"$T/help" 2>&1
for flag in --host --port --topic --format --count --timeout --cafile --password-file --connect-timeout; do
    assert_contains "--help lists $flag" "$T/help" "$flag"
done
assert_contains "--help: a duration flag" "$T/help" "-W,--timeout DURATION "
assert_not_contains "--help: its check not shown as a second type" "$T/help" "DURATION:"
pass "--help exits 0 and lists the flags"

version=$(dht-sub --version)
[[ $version =~ ^dht-sub\ [0-9]+\.[0-9]+\.[0-9]+\ \(libmosquitto\ [0-9.]+\)$ ]] || fail "bad --version: $version"
pass "--version: $version"

check_usage() {  # check_usage EXPECTED_TEXT ARGS...
    local want=$1 rc
    shift
    rc=$(exit_code dht-sub "$@" 2>"$T/err" </dev/null)
    assert_eq "exit status of dht-sub $*" 64 "$rc"
    assert_contains "message for dht-sub $*" "$T/err" "$want"
    [ "$(head -1 "$T/err" | cut -c1-9)" = "dht-sub: " ] || fail "error not prefixed: $(cat "$T/err")"
}
check_usage "unknown option '--no-such-flag'" --no-such-flag -t x
check_usage "give a topic" -p 1883
check_usage "--qos" -t x -q 3
check_usage "invalid subscription topic" -t 'a/#/b'
check_usage "invalid format specifier '%z'" -t x -F '%z'
check_usage "incomplete" -t x -F 'x %'
check_usage "--timeout: 'soon' is not a duration" -t x -W soon
check_usage "--timeout: '3651d' is more than 3650d" -t x -W 3651d
check_usage "--timeout: '0' is less than 1ns" -t x -W 0
check_usage "--connect-timeout: '1x' is not a duration" -t x --connect-timeout 1x
check_usage "needs a client id" -t x -c
check_usage "exclude each other" -t x -R --retained-only
check_usage "--host" -h
check_usage "-T" -t x -T 'a/#/b'
check_usage "mqtt://" -L http://localhost/x
check_usage "needs -V 5" -t x -x 60
pass "bad flags exit 64 with a one-line reason"

# -W takes seconds as mosquitto_sub's: with no broker to answer, the timeout
# ends it (75), where a refused value would be a usage error (64).
rc=$(exit_code dht-sub -h "127.0.0.1:$(free_port)" -t x -W 1 2>"$T/err" </dev/null)
assert_eq "-W 1: one second, then 75" 75 "$rc"
rc=$(exit_code dht-sub -h "127.0.0.1:$(free_port)" -t x -W 0.2 2>"$T/err" </dev/null)
assert_eq "-W 0.2" 75 "$rc"
pass "-W takes a bare number of seconds"

DHT_MQTT_HOST=envhost dht-sub --help >"$T/help"
assert_contains "--help names the environment variable with it set" "$T/help" "DHT_MQTT_HOST"
pass "--help names the environment variables, set or not"

rc=$(exit_code dht-sub -t x -u u --password-file "$T/none" 2>"$T/err")
assert_eq "unreadable password file" 66 "$rc"
assert_contains "password file message" "$T/err" "$T/none"
pass "an unreadable password file exits 66"

# A daemon's log lines say when; under systemd (stderr is $JOURNAL_STREAM)
# they carry journald's priority prefix instead.
dead=$(free_port)
rc=$(exit_code dht-sub -t x -p "$dead" --connect-timeout 1 2>"$T/daemon.err")
assert_eq "no broker" 69 "$rc"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z dht-sub: localhost:'"$dead"': Connection refused' \
    "$T/daemon.err" || fail "no time on a daemon's line: $(head -n 2 "$T/daemon.err")"
touch "$T/journal.err"
rc=$(JOURNAL_STREAM=$(stat -L -c '%d:%i' "$T/journal.err") exit_code dht-sub -t x -p "$dead" --connect-timeout 1 \
    2>>"$T/journal.err")
assert_eq "no broker, journald" 69 "$rc"
grep -q "^<4>dht-sub: localhost:$dead: Connection refused" "$T/journal.err" ||
    fail "no journald priority: $(head -n 2 "$T/journal.err")"
# A JOURNAL_STREAM that is not stderr (inherited by a child) changes nothing.
rc=$(JOURNAL_STREAM=1:2 exit_code dht-sub -t x -p "$dead" --connect-timeout 1 2>"$T/other.err")
! grep -q '^<' "$T/other.err" || fail "a priority prefix on a stream that is not the journal"
pass "daemon log lines: the time, or journald priorities"
