#!/usr/bin/env bash
# The unit files of scripts/systemd as written: restart, ordering, credentials,
# config files, users, hardening and reload; systemd-analyze verify and
# security; the sysusers file. And the example /etc/dht of
# scripts/systemd/etc-dht: the seed's rules, a checked policy, a placeholder
# password, config keys that are options. (deploy_systemd.sh runs the units.)
source "$(dirname "$0")/../lib/testlib.sh"
source "$here/deploy.sh"

# The unit files -------------------------------------------------------------
for u in "${units[@]}"; do
    f=$sysd/$u.service
    [ -f "$f" ] || fail "no $f"
    exec_start=$(unit_values "$f" ExecStart)
    [ "$(printf '%s\n' "$exec_start" | grep -c .)" = 1 ] || fail "$u: expected one ExecStart, got [$exec_start]"
    for want in "Restart=on-failure" "RestartSec=" "Wants=network-online.target mosquitto.service" \
        "After=network-online.target mosquitto.service" "LoadCredential=mqtt-password:/etc/dht/mqtt-password" \
        "RestartPreventExitStatus=64 78" "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" "SystemCallFilter=@system-service" "UMask=0077" \
        "WantedBy=multi-user.target"; do
        grep -qxF -- "$want" "$f" || grep -q "^${want}" "$f" || fail "$u: no $want"
    done
    grep -qx 'CapabilityBoundingSet=' "$f" || fail "$u: CapabilityBoundingSet= is not empty"
    case $exec_start in
        "/usr/local/bin/$u --config /etc/dht/$u.conf "*) ;;
        *) fail "$u: ExecStart does not start with /usr/local/bin/$u --config /etc/dht/$u.conf: $exec_start" ;;
    esac
    case $exec_start in
        *' --password-file ${CREDENTIALS_DIRECTORY}/mqtt-password'*) ;;
        *) fail "$u: no --password-file \${CREDENTIALS_DIRECTORY}/mqtt-password" ;;
    esac
    case $u in
        dht-record | dht-escalate)
            grep -qx 'User=dht' "$f" && grep -qx 'StateDirectory=dht' "$f" || fail "$u: not User=dht with StateDirectory=dht"
            ! grep -q '^DynamicUser=' "$f" || fail "$u shares dht.db: no DynamicUser" ;;
        *)
            grep -qx 'DynamicUser=yes' "$f" || fail "$u: no DynamicUser=yes"
            ! grep -q '^StateDirectory=dht$' "$f" || fail "$u: a DynamicUser unit cannot share StateDirectory=dht" ;;
    esac
    # Every file of /etc/dht a unit names is in the example tree.
    for p in $(grep -v '^[#;]' "$f" | grep -o '/etc/dht/[A-Za-z0-9._-]*' | sort -u); do
        [ -f "$etc/${p#/etc/dht/}" ] || fail "$u names $p, missing from scripts/systemd/etc-dht"
    done
done
for u in dht-rules dht-escalate; do
    assert_eq "$u: ExecReload" '/bin/kill -HUP $MAINPID' "$(unit_values "$sysd/$u.service" ExecReload)"
done
pass "six units: restart, ordering, credentials, config files, users, hardening, reload"

if command -v systemd-analyze >/dev/null; then
    # verify wants the executables: the same units, their tools in the build tree.
    mkdir -p "$T/verify"
    for u in "${units[@]}"; do
        sed "s#/usr/local/bin/\(dht-[a-z-]*\)#$DHT_BIN/\1/\1#g" "$sysd/$u.service" >"$T/verify/$u.service"
    done
    rc=0
    systemd-analyze verify --man=no "$T"/verify/*.service >"$T/verify.log" 2>&1 || rc=$?
    if [ "$rc" != 0 ] || grep -F "$T/verify/" "$T/verify.log"; then
        cat "$T/verify.log" >&2
        fail "systemd-analyze verify: status $rc"
    fi
    for u in "${units[@]}"; do
        systemd-analyze security --offline=yes --threshold=20 "$T/verify/$u.service" >"$T/security.log" 2>&1 ||
            { tail -n 20 "$T/security.log" >&2; fail "$u: exposure above 2.0"; }
    done
    mkdir -p "$T/sysroot/etc"
    systemd-sysusers --root="$T/sysroot" "$sysd/dht.sysusers.conf" >/dev/null 2>"$T/sysusers.log" ||
        fail "systemd-sysusers: $(cat "$T/sysusers.log")"
    grep -q '^dht:x:[0-9]*:[0-9]*:[^:]*:/var/lib/dht:/usr/sbin/nologin$' "$T/sysroot/etc/passwd" ||
        fail "dht.sysusers.conf: no system user dht: $(cat "$T/sysroot/etc/passwd")"
    pass "systemd-analyze verify: clean; security: exposure at most 2.0; systemd-sysusers makes the user dht"
else
    echo "skip - systemd-analyze is not installed: units not verified"
fi

# The example /etc/dht -----------------------------------------------------
grep -v '^[[:space:]]*\(#\|$\)' "$src/scripts/rules/seed.rules" >"$T/seed.rules"
while IFS= read -r rule; do
    grep -qxF -- "$rule" "$etc/rules" || fail "etc-dht/rules lacks the seed's rule [$rule]"
done <"$T/seed.rules"
[ "$(grep -c . "$etc/mqtt-password")" = 1 ] || fail "mqtt-password: one line expected"
grep -qi 'change' "$etc/mqtt-password" || fail "mqtt-password does not look like a placeholder"
"$DHT_BIN/dht-rules/dht-rules" -r "$etc/rules" --check 2>"$T/check.err" || fail "rules: $(cat "$T/check.err")"
# --check finds every command; the notifiers are where the README installs them.
sed "s|/usr/local/bin/notify-|$src/scripts/notify-|" "$etc/escalate.policy" >"$T/escalate.policy"
"$DHT_BIN/dht-escalate/dht-escalate" --policy "$T/escalate.policy" --check 2>"$T/check.err" ||
    fail "escalate.policy: $(cat "$T/check.err")"
grep -q '^level [0-9].* notify /usr/local/bin/notify-slack ' "$etc/escalate.policy" &&
    grep -q '^level [0-9].* notify /usr/local/bin/notify-telegram ' "$etc/escalate.policy" ||
    fail "escalate.policy: no notify-slack and notify-telegram from /usr/local/bin"
# The tools ignore keys of a config file they do not know: a typo would go
# unnoticed. Every key here, and every one the comments suggest, is an option.
for u in "${units[@]}"; do
    "$DHT_BIN/$u/$u" --help >"$T/help" 2>&1
    for key in $(sed -nE -e 's/^([a-z][a-z0-9-]*)[[:space:]]*=.*/\1/p' -e 's/^#[[:space:]]{2,}([a-z][a-z0-9-]*) = .*/\1/p' "$etc/$u.conf"); do
        grep -qE -- "(^|[ ,])--$key([ ,]|\$)" "$T/help" || fail "$u.conf: '$key' is not an option of $u"
    done
done
pass "etc-dht: the seed's rules, a policy with Slack and Telegram, both checked; a placeholder password; config keys are options"
