#!/usr/bin/env bash
# The jobs of scripts/cron/dht, run as cron would (its environment, the file's
# PATH, a fake mail(1)) on the machine the systemd units left behind: a reading
# stored and an incident escalated to level 2 by the units of scripts/systemd,
# then stopped. prune, the daily report by mail, and tick.
source "$(dirname "$0")/../lib/testlib.sh"
source "$here/deploy.sh"
install_machine
start_units dht-record dht-rules dht-escalate
freeze
wait_stored
wait_lines "$T/escalations" 1
stop_units dht-record dht-rules dht-escalate

# Every job line, those commented out included (the tick job is, by default).
"$py" - "$cronfile" >"$T/cron.txt" 2>"$T/cron.err" <<'PY' || fail "scripts/cron/dht: $(tail -n 1 "$T/cron.err")"
import re, sys
job = re.compile(r'^#?\s*((?:\S+\s+){5})(\S+)\s+(.*\S)\s*$')
env = {}
for line in open(sys.argv[1], encoding='utf-8'):
    line = line.rstrip('\n')
    m = re.match(r'^([A-Z_]+)=(.*)$', line)
    if m:
        env[m.group(1)] = m.group(2)
        continue
    m = job.match(line)
    if not m or not re.fullmatch(r'([0-9*/,-]+\s+){5}', m.group(1)):
        continue
    user, cmd = m.group(2), m.group(3)
    assert user == 'dht', f'a job runs as {user}, not dht: {line}'
    assert not re.search(r'(?<!\\)%', cmd), f'an unescaped % (a new line to cron): {line}'
    print('job', cmd)
assert env.get('PATH', '').split(':')[0] == '/usr/local/bin', 'PATH does not start with /usr/local/bin'
print('path', env['PATH'])
PY
cron_path=$(awk '$1 == "path" { print $2 }' "$T/cron.txt" | rewrite)
grep '^job ' "$T/cron.txt" | cut -d' ' -f2- | rewrite >"$T/cron.jobs"
for want in 'dht-record prune --db /var/lib/dht/dht.db --older-than 30d' 'dht-stats --format table | mail -s' ' tick'; do
    grep -qF -- "$(rewrite <<<"$want")" "$T/cron.jobs" || fail "scripts/cron/dht: no job with [$want]"
done
cat >"$T/fakebin/mail" <<EOF
#!/bin/sh
echo "\$*" >"$T/mail.args"
cat >"$T/mail.body"
EOF
chmod +x "$T/fakebin/mail"
# A message older than 30 days, for prune; the open incident due now, for tick.
rec -t 1577836800 dht11/old/data '{"temperature":1}' | "$DHT_BIN/dht-record/dht-record" --db "$db"  # 2020-01-01
sqlite3 "$db" "UPDATE incidents SET next_at = '2000-01-01T00:00:00.000Z' WHERE rule = 'freeze' AND state = 'open'"
n=0
while IFS= read -r cmd; do
    n=$((n + 1))
    no_system_paths "cron job $n" "$cmd"
    # cron's environment: the file's variables, little else.
    rc=0
    (cd "$T" && env -i HOME="$T" LOGNAME=dht SHELL=/bin/sh XDG_CONFIG_HOME="$XDG_CONFIG_HOME" \
        PATH="$T/fakebin:$cron_path" /bin/sh -c "$cmd") >"$T/cron.$n.out" 2>"$T/cron.$n.err" || rc=$?
    [ "$rc" = 0 ] || fail "cron job $n exited $rc: $cmd: $(cat "$T/cron.$n.err")"
done <"$T/cron.jobs"
assert_eq "prune: the old message goes, the recent stays" "0 1" \
    "$(count "SELECT count(*) FROM messages WHERE topic = 'dht11/old/data'") $(count "SELECT count(*) FROM messages WHERE topic = 'dht11/kitchen/data'")"
[ -f "$T/mail.body" ] || fail "the report job never ran mail"
assert_contains "the report is a table" "$T/mail.body" "SENSOR"
grep -qE '^dht11/kitchen/data +temperature +1 +-1\.5 ' "$T/mail.body" || fail "the report lacks the kitchen's temperature: $(cat "$T/mail.body")"
assert_not_contains "the report is readings only" "$T/mail.body" "dht11/alerts"
assert_contains "the report's subject" "$T/mail.args" "-s"
grep -h '"event":"escalation"' "$T"/cron.*.out | jq -e -s 'map(select(.rule == "freeze" and .from_level == 2 and .to_level == 3)) | length == 1' >/dev/null ||
    fail "tick: no escalation 2->3 printed: $(cat "$T"/cron.*.out "$T"/cron.*.err)"
wait_lines "$T/escalations" 2
assert_eq "tick publishes to the broker of dht-escalate.conf" "freeze 3" \
    "$(tail -n 1 "$T/escalations" | jq -r '"\(.rule) \(.to_level)"')"
wait_for eval 'grep -l "\"to_level\":3" "$T"/notified/notify-telegram.* >/dev/null 2>&1' || fail "tick: level 3 not notified"
pass "cron: prune drops what is older than 30 days; the daily table by mail; tick climbs, publishes, notifies"
