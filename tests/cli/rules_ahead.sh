#!/usr/bin/env bash
# dht-rules reading a regular file scans its records on the thread that reads
# it ahead: the alerts, the bad lines reported and the summary are those of the
# same input from a pipe (scanned on the main thread), line for line, with
# bare payloads, message records, escapes, status and alert records, bad JSON,
# CRLF, lines over --max-line and a time from the future; with a calibration
# the main thread scans every line.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-rules
seed=$DHT_SRC/scripts/rules/seed.rules
cd "$T"

# 40,000 lines (about 2.6 MB: ten chunks read ahead), in sweeps of the
# temperature from 9 down to -3 and of the humidity from 80 up to 95, so that
# every rule of the seed fires and resolves, again and again.
awk -v t0="$REC_T0" 'BEGIN {
    for (i = 0; i < 40000; i++) {
        t = 9 - (i % 120) / 10; h = 80 + (i % 160) / 10; k = i % 10
        ts = strftime("%Y-%m-%dT%H:%M:%S", t0 + i, 1)
        if (k <= 3)
            printf "{\"temperature\":%.1f,\"humidity\":%.1f}\n", t, h
        else if (k <= 5)
            printf "{\"kind\":\"message\",\"timestamp\":\"%s.000Z\",\"topic\":\"dht11/r%d/data\",\"payload\":{\"temperature\":%.1f,\"humidity\":%.1f}}\n", ts, i % 7, t, h
        else if (k == 6)
            printf "{\"temperature\":%.1f,\"humidity\":%.1f,\"note\":\"caf\\u00e9\"}\r\n", t, h
        else if (k == 7 && i % 100 == 7)
            printf "{\"kind\":\"message\",\"timestamp\":\"%s.000Z\",\"topic\":\"dht11/r%d/status\",\"payload\":\"%s\"}\n", ts, i % 7, (i % 200 == 7 ? "offline" : "online")
        else if (k == 7)
            printf "{\"kind\":\"alert\",\"rule\":\"cold\",\"state\":\"firing\"}\n"
        else if (k == 8 && i % 1000 == 8)
            printf "{\"temperature\":%.1f,\"humidity\":\n", t
        else if (k == 8 && i % 1000 == 18)
            printf "{\"kind\":\"message\",\"timestamp\":\"2099-01-01T00:00:00.000Z\",\"topic\":\"dht11/r1/data\",\"payload\":{\"temperature\":1}}\n"
        else if (k == 8 && i % 5000 == 28)
            printf "{\"temperature\":1,\"pad\":\"%0600d\"}\n", 0
        else
            printf "{\"temperature\":%.1f,\"humidity\":%.1f,\"sensor\":\"dht11/r%d/data\"}\n", t, h, i % 3
    }
}' >in.jsonl
[ "$(wc -l <in.jsonl)" -eq 40000 ] || fail "the input has $(wc -l <in.jsonl) lines"

# run NAME ARGS...: dht-rules over in.jsonl from the file and from a pipe;
# NAME.file, NAME.pipe (alerts; a bare payload's time is when it was read,
# so the times of its alerts are left out) and NAME.file.err, NAME.pipe.err.
run() {
    local name=$1
    shift
    dht-rules -r "$seed" --bare-topic dht11/bare/data --max-line 512 "$@" <in.jsonl 2>"$name.file.err" |
        jq -c 'if .topic == "dht11/bare/data" then del(.timestamp, .since) else . end' >"$name.file"
    cat in.jsonl | dht-rules -r "$seed" --bare-topic dht11/bare/data --max-line 512 "$@" 2>"$name.pipe.err" |
        jq -c 'if .topic == "dht11/bare/data" then del(.timestamp, .since) else . end' >"$name.pipe"
}

run plain
[ "$(grep -c '"state":"firing"' plain.file)" -gt 100 ] || fail "few alerts fired: $(grep -c firing plain.file)"
cmp -s plain.file plain.pipe || { diff plain.file plain.pipe | head -5 >&2; fail "alerts differ from a file and from a pipe"; }
cmp -s plain.file.err plain.pipe.err || { diff plain.file.err plain.pipe.err >&2; fail "stderr differs"; }
assert_contains "a bad line is reported at its number" plain.file.err "stdin:9: invalid JSON"
assert_contains "a line over --max-line" plain.file.err "stdin:29: line longer than --max-line"
assert_contains "a time from the future" plain.file.err "stdin:19: "
pass "from a file as from a pipe: $(wc -l <plain.file) alerts, the same bad lines reported"

run pass --pass
cmp -s pass.file pass.pipe || fail "--pass: the output differs from a file and from a pipe"
[ "$(grep -c '"kind":"message"' pass.file)" -gt 7000 ] || fail "--pass copied few records"
pass "--pass: the same output"

# Scanned ahead indeed: -v counts the readings the reading thread had scanned.
dht-rules -r "$seed" --bare-topic dht11/bare/data -v <in.jsonl 2>v.file >/dev/null
cat in.jsonl | dht-rules -r "$seed" --bare-topic dht11/bare/data -v 2>v.pipe >/dev/null
ahead=$(sed -n 's/.*written; \([0-9]*\) readings scanned as the input was read ahead/\1/p' v.file)
[ -n "$ahead" ] && [ "$ahead" -gt 0 ] || fail "no reading scanned ahead from a file: [$ahead]"
assert_contains "a pipe is scanned on the main thread" v.pipe "written; 0 readings scanned as the input"
pass "from a file, $ahead readings were scanned ahead; from a pipe, none"

# A calibration applies on the main thread: nothing is scanned ahead, and the
# alerts are the calibrated ones from a file as from a pipe.
printf 'dht11/bare/data temperature -2.5\ndht11/r3/data humidity +4\n' >cal.txt
run cal --calibration cal.txt
cmp -s cal.file cal.pipe || fail "calibrated: the alerts differ from a file and from a pipe"
cmp -s cal.file plain.file && fail "the calibration changed nothing"
dht-rules -r "$seed" --bare-topic dht11/bare/data --calibration cal.txt -v <in.jsonl 2>v.cal >/dev/null
assert_contains "with a calibration, nothing is scanned ahead" v.cal "written; 0 readings scanned as the input"
pass "with --calibration: the same calibrated alerts, all scanned on the main thread"

# The first readings are scanned on the main thread as well, for the check
# of fields no reading has: it warns from a file as from a pipe.
run typo -e 'typo: temprature < 5 -> alert'
cmp -s typo.file.err typo.pipe.err || { diff typo.file.err typo.pipe.err >&2; fail "stderr differs"; }
assert_contains "a field no reading has" typo.file.err "temprature"
pass "a misspelt field is reported from a file as from a pipe"

# SIGHUP reads the calibration again, even when the new rules are bad and the
# rules in force stay: from then on every reading is calibrated, those the
# reading thread had scanned already too. 50,000 records, one a second, of
# a reading that alternates 10 and -90 °C: `temperature > 50` never holds;
# with +100 it fires at each even record and resolves at the next.
awk -v t0="$REC_T0" 'BEGIN {
    for (i = 0; i < 50000; i++)
        printf "{\"kind\":\"message\",\"timestamp\":\"%s\",\"topic\":\"dht11/hup/data\",\"payload\":{\"temperature\":%d}}\n",
            strftime("%Y-%m-%dT%H:%M:%SZ", t0 + i, 1), i % 2 ? -90 : 10
}' >hup.jsonl
echo 'hot: temperature > 50 -> alert' >hup.rules
: >hup.cal
mkfifo out
# --pass fills the pipe, which nothing reads yet: dht-rules waits in write(2)
# with the file read only in part.
dht-rules -r hup.rules --calibration hup.cal --pass <hup.jsonl >out 2>hup.err &
hup_pid=$!
PIDS+=("$hup_pid")
exec 3<out
for _ in $(seq 200); do
    grep -q pipe_write "/proc/$hup_pid/wchan" 2>/dev/null && break
    sleep 0.05
done
grep -q pipe_write "/proc/$hup_pid/wchan" || fail "dht-rules is not waiting for its output to be read"
echo 'dht11/hup/data temperature +100' >hup.cal
echo 'broken: rules' >hup.rules
kill -HUP "$hup_pid"
jq -c 'select(.kind == "alert")' <&3 >hup.alerts
exec 3<&-
wait "$hup_pid" || fail "dht-rules exited $?: $(cat hup.err)"
assert_contains "bad rules are refused" hup.err "keeping the rules in force"
first=$(jq -rn 'first(inputs | select(.state == "firing") | .timestamp | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601)' hup.alerts)
[ -n "$first" ] || fail "no alert after SIGHUP: $(cat hup.err)"
k=$((first - REC_T0))
want=$(((50000 - k + 1) / 2))
fired=$(jq -r 'select(.state == "firing" and .value == 110) | .rule' hup.alerts | wc -l)
[ "$k" -gt 1000 ] || fail "the calibration applied from record $k, before SIGHUP"
assert_eq "every even record after SIGHUP fires, calibrated (from record $k)" "$want" "$fired"
pass "SIGHUP with bad rules: the new calibration applies from record $k on, to all $fired readings"
