#!/usr/bin/env bash
# A publish the broker refuses is never passed over in silence. With MQTT 5 the
# broker says so in its PUBACK (reason code "Not authorized" from its ACL): the
# tool says which topic was refused and exits 69. With MQTT 3.1.1 the broker
# drops it without a word; -v says that this is so.
source "$(dirname "$0")/../lib/testlib.sh"

mosquitto_passwd -c -b "$T/passwd" cellar cellar-pw 2>/dev/null
broker "$T/b" "allow_anonymous false
password_file $T/passwd
acl_file $DHT_SRC/scripts/mosquitto/acl"
rec dht11/cellar/data '{"temperature":1}' >"$T/in"
rules() { "$DHT_BIN/dht-rules/dht-rules" -h "127.0.0.1:$PORT" -u cellar -P cellar-pw -e 'cold: temperature < 5 -> alert' \
    --publish dht11/alerts "$@" <"$T/in"; }

v5() { rules -V 5 >"$T/out5" 2>"$T/err5"; }
v3() { rules -v >/dev/null 2>"$T/err3"; }
assert_eq "a sensor's account publishing alerts, MQTT 5" 69 "$(exit_code v5)"
assert_contains "the refusal" "$T/err5" "the broker refused a publish to dht11/alerts: Not authorized"
assert_eq "the alert still printed" 1 "$(grep -c '"rule":"cold"' "$T/out5")"
assert_contains "the broker's side" "$BROKER_LOG" "Denied PUBLISH"
pass "MQTT 5: a refused publish is said with its topic and the exit status is 69"

assert_eq "the same with MQTT 3.1.1" 0 "$(exit_code v3)"
assert_contains "-v says a refusal would go unheard" "$T/err3" "a broker drops a publish it refuses"
assert_not_contains "no refusal heard" "$T/err3" "refused a publish"
pass "MQTT 3.1.1: the broker drops it silently, and -v says that it would"
