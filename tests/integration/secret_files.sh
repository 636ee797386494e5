#!/usr/bin/env bash
# Secrets kept where others can read them are said: a password file or a client
# key readable by the group or everyone, and a password in an -L URL (it shows
# in ps). A file kept private is not.
source "$(dirname "$0")/../lib/testlib.sh"

closed=$(free_port)
printf 'pw\n' >"$T/pw"
cp "$T/pw" "$T/key"
run_sub() { exit_code dht-sub -h "127.0.0.1:$closed" --connect-timeout 0.2 -t x "$@" 2>"$T/err"; }

chmod 600 "$T/pw"
assert_eq "unreachable broker" 69 "$(run_sub -u u --password-file "$T/pw")"
assert_not_contains "a private password file" "$T/err" "readable by"
pass "a password file of mode 0600 is not mentioned"

chmod 640 "$T/pw"
run_sub -u u --password-file "$T/pw" >/dev/null
assert_contains "a group-readable password file" "$T/err" "--password-file: $T/pw is readable by its group (mode 0640): chmod 600 it"
chmod 644 "$T/pw"
run_sub -u u --password-file "$T/pw" >/dev/null
assert_contains "a world-readable password file" "$T/err" "is readable by everyone (mode 0644)"
pass "a password file others can read is said"

chmod 604 "$T/key"
assert_eq "TLS with a shared key" 69 "$(run_sub --cafile /etc/ssl/certs/ca-certificates.crt --cert "$T/key" --key "$T/key")"
assert_contains "a world-readable key" "$T/err" "--key: $T/key is readable by everyone (mode 0604)"
pass "a client key others can read is said"

assert_eq "-L with a password" 69 \
    "$(exit_code dht-sub -L "mqtt://u:s3cret@127.0.0.1:$closed/x" --connect-timeout 0.2 2>"$T/err")"
assert_contains "-L with a password" "$T/err" "-L: a password in the URL shows in ps"
assert_not_contains "the password itself" "$T/err" "s3cret"
exit_code dht-sub -L "mqtt://u@127.0.0.1:$closed/x" --connect-timeout 0.2 2>"$T/err" >/dev/null
assert_not_contains "-L without a password" "$T/err" "shows in ps"
pass "a password in -L's URL is said, never printed"
