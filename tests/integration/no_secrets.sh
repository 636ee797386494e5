#!/usr/bin/env bash
# Passwords are never printed: every MQTT tool, as verbose as it goes, with
# its password from a file, from the environment and inside an -L URL, against
# a broker that accepts it, one that refuses it and a port where nothing
# listens. Neither stdout nor stderr may hold the password, and with a file or
# the environment it is not in the process's command line either.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools "${DHT_TOOLS[@]}"
cd "$T"
secret='S3cr3t-pa55-xyzzy'
mkdir -p "$T/b"
mosquitto_passwd -c -b "$T/b/passwd" ana "$secret" 2>/dev/null
broker "$T/b" "$(printf 'allow_anonymous false\npassword_file %s' "$T/b/passwd")"
printf '%s\n' "$secret" >"$T/pw"
chmod 600 "$T/pw"
closed=$(free_port)

# The command line of each tool: verbose, subscribing or publishing as it does.
declare -A args
args[dht-sub]="-d -d -t dht11/#"
args[dht-record]="-v -v -t dht11/# --db $T/r.db"
args[dht-rules]="-v -v -t dht11/# -e 'a: temperature < 5 -> alert' --publish dht11/alerts"
args[dht-stats]="-v -v -t dht11/#"
args[dht-export-influx]="-v -v -t dht11/#"
args[dht-export-graphite]="-v -v -t dht11/#"
args[dht-escalate]="-v -v -t dht11/alerts --db $T/e.db"
args[dht-sensor-sim]="-v -v --interval 1s"

runs=0
for tool in "${!args[@]}"; do
    for how in file env url wrong closed; do
        case $how in
            file) auth="-h 127.0.0.1 -p $PORT -u ana --password-file $T/pw" ;;
            env) auth="-h 127.0.0.1 -p $PORT -u ana" ;;
            url) auth="-L mqtt://ana:$secret@127.0.0.1:$PORT/dht11/x" ;;
            wrong) auth="-h 127.0.0.1 -p $PORT -u ana -P wrong-$secret" ;;
            closed) auth="-h 127.0.0.1 -p $closed -u ana --password-file $T/pw" ;;
        esac
        [ "$how" = url ] && [ "$tool" = dht-sensor-sim ] && continue
        if [ "$how" = env ]; then
            eval "exec_env() { DHT_MQTT_PASSWORD='$secret' exec $tool $auth ${args[$tool]}; }"
        else
            eval "exec_env() { exec $tool $auth ${args[$tool]}; }"
        fi
        exec_env </dev/null >"$T/out" 2>"$T/err" &
        pid=$!
        sleep 1.2
        cmdline=$( { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null || true)
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        if grep -qF -- "$secret" "$T/out" "$T/err"; then
            fail "$tool ($how) printed the password: $(grep -hF -- "$secret" "$T/out" "$T/err" | head -n 1)"
        fi
        case $how in
            file | env | closed) [[ $cmdline != *"$secret"* ]] || fail "$tool ($how): the password is in its command line" ;;
        esac
        runs=$((runs + 1))
    done
done
[ "$runs" -ge 35 ] || fail "only $runs runs"
# The checks can fail: a tool told to print its payloads prints a password published to it.
listen seen "$T/seen" -u ana -P "$secret" -t dht11/x -C 1 -W 10
sub=$BG_PID
pub -q 0 -u ana -P "$secret" -t dht11/x -m "$secret"
wait "$sub" || true
grep -qF -- "$secret" "$T/seen" || fail "the check itself cannot see a printed password"
pass "no tool prints the broker password, even with -v -v, in $runs runs (file, environment, -L URL, refused, unreachable)"
