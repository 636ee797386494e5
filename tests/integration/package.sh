#!/usr/bin/env bash
# The Debian package, built from this build tree, installed with dpkg on this
# machine: the tools, notifiers and examples run from their installed paths,
# the units name /usr/bin, the user dht and /var/lib/dht exist, the policy and
# rules examples pass --check, login shells find the service's database,
# completion works; then removed and purged cleanly. And `cmake --install`
# installs the same set of files.
source "$(dirname "$0")/../lib/testlib.sh"
build=$(cd "$DHT_BIN/.." && pwd)
skip() { echo "SKIP [$TEST_NAME]: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "dpkg -i needs root"
command -v dpkg >/dev/null && command -v cpack >/dev/null || skip "no dpkg or cpack"
! dpkg -s dht-tools >/dev/null 2>&1 || skip "dht-tools is installed on this machine already: not touching it"

(cd "$build" && cpack -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1) || { cat "$T/cpack.log"; fail "cpack"; }
deb=$(ls "$T"/pkg/dht-tools_*_*.deb)
[ -f "$deb" ] || fail "no dht-tools_VERSION_ARCH.deb"
# Opened with dlopen(), so no shlibs line names them: the package must.
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libcurl4 libmicrohttpd12 libmosquitto1; do
    [[ $depends == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done
user_before=$(getent passwd dht || true)
state_before=$([ -e /var/lib/dht ] && echo yes || echo no)
purge() {
    dpkg -P dht-tools >/dev/null 2>&1 || true
    [ -n "$user_before" ] || userdel dht 2>/dev/null || true
    [ "$state_before" = yes ] || rm -rf /var/lib/dht
}
trap 'purge; cleanup' EXIT
dpkg -i "$deb" >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -i"; }

# Installed where a Debian user looks, and runnable from there.
for tool in dht-sub dht-record dht-rules dht-stats dht-escalate dht-export-influx dht-export-graphite dht-sensor-sim dht-status; do
    [ -x "/usr/bin/$tool" ] || fail "no /usr/bin/$tool"
    "/usr/bin/$tool" --version | grep -q "^$tool " || fail "$tool --version"
    [ -f "/usr/share/man/man1/$tool.1" ] || fail "no man page for $tool"
    [ -f "/usr/share/bash-completion/completions/$tool" ] || fail "no completion for $tool"
done
for f in /usr/share/man/man7/dht-tools.7 /usr/share/man/man5/dht-rules.5 /usr/share/man/man5/dht-escalate.5 \
    /usr/share/dht-tools/rules/seed.rules /usr/lib/sysusers.d/dht-tools.conf /etc/cron.d/dht \
    /etc/profile.d/dht-tools.sh /etc/dht/rules /etc/dht/escalate.policy /etc/dht/dht-rules.conf; do
    [ -f "$f" ] || fail "not installed: $f"
done
for n in notify-mail notify-slack notify-telegram; do [ -x "/usr/bin/$n" ] || fail "no /usr/bin/$n"; done
pass "binaries, man pages, notifiers, examples, completion in /usr and /etc"

# The units start what the package installed, and do not restart a bad configuration.
for u in dht-record dht-rules dht-escalate dht-stats dht-export-influx dht-export-graphite; do
    f=/usr/lib/systemd/system/$u.service
    grep -q "^ExecStart=/usr/bin/$u --config /etc/dht/$u.conf" "$f" || fail "$u: $(grep ExecStart "$f")"
    grep -qx "RestartPreventExitStatus=64 78" "$f" || fail "$u restarts on a bad configuration"
    ! grep -q /usr/local "$f" || fail "$u names /usr/local"
done
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify /usr/lib/systemd/system/dht-*.service >"$T/verify" 2>&1 || { cat "$T/verify"; fail "verify"; }
fi
! grep -rq /usr/local /etc/dht /etc/cron.d/dht || fail "/etc names /usr/local: $(grep -r /usr/local /etc/dht /etc/cron.d/dht)"
pass "units name /usr/bin and keep 78 from restarting"

# The user, its directory, the password file.
getent passwd dht >/dev/null || fail "no user dht"
assert_eq "/var/lib/dht" "dht:dht 750" "$(stat -c '%U:%G %a' /var/lib/dht)"
assert_eq "/etc/dht/mqtt-password" "root:dht 640" "$(stat -c '%U:%G %a' /etc/dht/mqtt-password)"
pass "user dht, /var/lib/dht, the password readable by dht only"

# The examples pass their checks as installed.
/usr/bin/dht-rules -r /usr/share/dht-tools/rules/seed.rules --check >"$T/out" 2>&1 || fail "seed.rules: $(cat "$T/out")"
/usr/bin/dht-rules -r /etc/dht/rules --check >"$T/out" 2>&1 || fail "/etc/dht/rules: $(cat "$T/out")"
/usr/bin/dht-escalate --policy /etc/dht/escalate.policy --check >"$T/out" 2>&1 ||
    fail "/etc/dht/escalate.policy: $(cat "$T/out")"
for t in dht-rules dht-stats dht-record dht-escalate dht-export-influx dht-export-graphite; do
    "/usr/bin/$t" --config "/etc/dht/$t.conf" --print-config >"$T/out" 2>&1 || fail "/etc/dht/$t.conf: $(cat "$T/out")"
done
pass "seed.rules, /etc/dht/rules, escalate.policy and every /etc/dht/*.conf check"

# The operator's page: installed, and served by dht-stats --listen without --www.
for f in index.html operator.js operator.css; do
    [ -f "/usr/share/dht-tools/www/$f" ] || fail "not installed: /usr/share/dht-tools/www/$f"
done
port=$(free_port)
mkfifo "$T/stats-in"
/usr/bin/dht-stats --listen "127.0.0.1:$port" <"$T/stats-in" >/dev/null 2>"$T/stats.err" &
stats=$!
exec 7>"$T/stats-in"
wait_port "$port"
cmp -s <(curl -sS "http://127.0.0.1:$port/") /usr/share/dht-tools/www/index.html ||
    fail "dht-stats --listen does not serve the installed page: $(curl -sS "http://127.0.0.1:$port/")"
exec 7>&-
wait "$stats" || fail "dht-stats: $(cat "$T/stats.err")"
pass "the operator's page in /usr/share/dht-tools/www, served by dht-stats --listen"

# A login shell finds the service's database: records stored as dht, then
# listed and queried without --db.
{
    rec dht11/kitchen/data '{"temperature":21.5,"humidity":40}'
    printf '{"kind":"alert","rule":"cold","sensor":"dht11/kitchen/data","state":"firing","action":"escalate","severity":"critical","timestamp":"2026-11-24T10:00:01.000Z"}\n'
} >"$T/in"
runuser -u dht -- sh -c ". /etc/profile.d/dht-tools.sh; /usr/bin/dht-record" <"$T/in" 2>"$T/err" || fail "dht-record: $(cat "$T/err")"
runuser -u dht -- sh -c ". /etc/profile.d/dht-tools.sh; /usr/bin/dht-escalate" <"$T/in" >/dev/null 2>"$T/err" ||
    fail "dht-escalate: $(cat "$T/err")"
[ -f /var/lib/dht/dht.db ] || fail "no /var/lib/dht/dht.db"
sh -c '. /etc/profile.d/dht-tools.sh; /usr/bin/dht-record query --topic dht11/kitchen/data' >"$T/q" 2>"$T/err" ||
    fail "query: $(cat "$T/err")"
assert_contains "query without --db" "$T/q" '"temperature":21.5'
sh -c '. /etc/profile.d/dht-tools.sh; /usr/bin/dht-escalate list' >"$T/list" 2>"$T/err" || fail "list: $(cat "$T/err")"
assert_contains "list without --db" "$T/list" "dht11/kitchen/data"
pass "dht-record query and dht-escalate list find /var/lib/dht/dht.db"

# Completion from the installed file.
words=$(bash -c 'source /usr/share/bash-completion/completions/dht-sub
    COMP_WORDS=(dht-sub --ho); COMP_CWORD=1; _dht_tools dht-sub; echo "${COMPREPLY[*]}"')
assert_eq "completion of --ho" "--host" "$words"
words=$(bash -c 'source /usr/share/bash-completion/completions/dht-escalate
    COMP_WORDS=(dht-escalate ac); COMP_CWORD=1; _dht_tools dht-escalate; echo "${COMPREPLY[*]}"')
assert_eq "completion of a subcommand" "ack" "$words"
pass "bash completion"

# Removed: the programs go, the edited configuration stays until purge.
echo "# edited" >>/etc/dht/rules
dpkg -r dht-tools >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -r"; }
[ ! -e /usr/bin/dht-sub ] && [ ! -e /usr/lib/systemd/system/dht-rules.service ] || fail "dpkg -r left programs or units"
grep -q "# edited" /etc/dht/rules || fail "dpkg -r removed the edited configuration"
dpkg -P dht-tools >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -P"; }
[ ! -e /etc/dht/rules ] && [ ! -e /etc/cron.d/dht ] || fail "purge left /etc/dht or the cron file"
pass "dpkg -r keeps the configuration, dpkg -P removes it"

# cmake --install: the same set of files, under its own prefix.
DESTDIR=$T/root cmake --install "$build" --prefix /usr/local >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; fail "cmake --install"; }
(cd "$T/root" && find . -type f | sed -e 's|^\./usr/local/etc/|./etc/|' -e 's|^\./usr/local/|./usr/|' | sort) >"$T/installed"
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sort >"$T/packaged"
diff "$T/packaged" "$T/installed" || fail "cmake --install and the package differ"
grep -q '^ExecStart=/usr/local/bin/dht-rules --config /usr/local/etc/dht/dht-rules.conf' \
    "$T/root/usr/local/lib/systemd/system/dht-rules.service" || fail "cmake --install: units do not name its prefix"
pass "cmake --install installs the same files, paths moved to its prefix"
