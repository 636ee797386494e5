#!/usr/bin/env bash
# Login: a wrong password is refused with a clear message and exit 78; the
# right one works from --password-file and from DHT_MQTT_PASSWORD; the password
# never shows; an ACL keeps a user from what it may not read.
source "$(dirname "$0")/../lib/testlib.sh"
mkdir -p "$T/b"
mosquitto_passwd -c -b "$T/b/passwd" ana 's3cret-pw' 2>/dev/null
mosquitto_passwd -b "$T/b/passwd" writer 'w-pw' 2>/dev/null
printf 'user ana\ntopic readwrite dht11/#\nuser writer\ntopic write secret/#\n' >"$T/b/acl"
broker "$T/b" "$(printf 'allow_anonymous false\npassword_file %s\nacl_file %s' "$T/b/passwd" "$T/b/acl")"
# "listener" comes before these lines in the generated config: they apply to it.

start=$SECONDS
rc=$(exit_code dht-sub -p "$PORT" -t 'dht11/#' -u ana -P wrong 2>"$T/wrong.err")
assert_eq "exit status for a wrong password" 78 "$rc"
(( SECONDS - start <= 5 )) || fail "refusal took $((SECONDS - start)) s"
grep -qiE "not authori[sz]ed|bad user ?name or password" "$T/wrong.err" || fail "unclear message: $(cat "$T/wrong.err")"
assert_contains "it says it stops" "$T/wrong.err" "not retrying"
assert_not_contains "the password is not printed" "$T/wrong.err" wrong
pass "a wrong password is refused with 78: $(head -1 "$T/wrong.err")"

rc=$(exit_code dht-sub -p "$PORT" -t 'dht11/#' 2>"$T/anon.err")
assert_eq "exit status without credentials" 78 "$rc"
pass "no credentials: 78"

printf 's3cret-pw\n' >"$T/pwfile"
bg dht-sub -p "$PORT" -i ana1 -u ana --password-file "$T/pwfile" -t 'dht11/#' -t 'secret/#' -C 1 -F '%t %p' -W 20 \
    >"$T/ok" 2>"$T/ok.err"
sub=$BG_PID
wait_subscribed ana1
mosquitto_pub -p "$PORT" -u writer -P 'w-pw' -t secret/x -m hidden
mosquitto_pub -p "$PORT" -u ana -P 's3cret-pw' -t dht11/sensor/data -m '{"temperature":1}'
wait "$sub" || fail "login with --password-file failed: $(cat "$T/ok.err")"
assert_eq "message with --password-file" 'dht11/sensor/data {"temperature":1}' "$(cat "$T/ok")"
pass "--password-file logs in; the ACL withholds secret/#"

bg env DHT_MQTT_USERNAME=ana DHT_MQTT_PASSWORD='s3cret-pw' dht-sub -p "$PORT" -i ana2 -t 'dht11/#' -C 1 -F %p -W 20 \
    >"$T/env" 2>"$T/env.err"
sub=$BG_PID
wait_subscribed ana2
mosquitto_pub -p "$PORT" -u ana -P 's3cret-pw' -t dht11/sensor/data -m env-ok
wait "$sub" || fail "login from the environment failed: $(cat "$T/env.err")"
assert_eq "message with DHT_MQTT_PASSWORD" env-ok "$(cat "$T/env")"
DHT_MQTT_PASSWORD='s3cret-pw' dht-sub --help >"$T/help"
assert_not_contains "--help keeps the password secret" "$T/help" 's3cret-pw'
pass "DHT_MQTT_USERNAME/DHT_MQTT_PASSWORD log in; --help does not show the password"
