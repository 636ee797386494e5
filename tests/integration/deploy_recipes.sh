#!/usr/bin/env bash
# The deployment recipes, run as written: the systemd units of scripts/systemd
# (systemd-analyze verify and security, the sysusers file), every ExecStart
# started as its unit would start it, with /etc/dht from scripts/systemd/etc-dht,
# against a real mosquitto, InfluxDB and carbon (paths moved into a temp dir),
# each checked to do its job: a reading stored, alerted, escalated, notified,
# served as a metric, exported; ExecReload; a clean stop. Then the jobs of
# scripts/cron/dht (a fake mail(1)), and the Home Assistant YAML of
# scripts/homeassistant against what dht-sensor-sim and dht-escalate publish.
source "$(dirname "$0")/../lib/testlib.sh"
src=${DHT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
sysd=$src/scripts/systemd
etc=$sysd/etc-dht
cronfile=$src/scripts/cron/dht
ha=$src/scripts/homeassistant
units=(dht-record dht-rules dht-escalate dht-stats dht-export-influx dht-export-graphite)
# The recipes alone: nothing from the caller's environment or ~/.config.
unset DHT_MQTT_HOST DHT_MQTT_PORT DHT_MQTT_USERNAME DHT_MQTT_PASSWORD DHT_DB
export XDG_CONFIG_HOME=$T/xdg

# A Python with PyYAML (python3-yaml), and with Jinja2 if there is one.
py=
for p in /usr/bin/python3 python3; do
    "$p" -c 'import yaml' 2>/dev/null && { py=$p; break; }
done
[ -n "$py" ] || fail "no python3 with the yaml module (apt-get install python3-yaml)"
jpy=
for p in /usr/bin/python3 python3; do
    "$p" -c 'import jinja2, yaml' 2>/dev/null && { jpy=$p; break; }
done

# unit_values FILE KEY: the values of KEY in a unit file, continuation lines joined.
unit_values() {
    "$py" - "$1" "$2" <<'PY'
import sys
path, key = sys.argv[1:]
logical, cur = [], ''
for line in open(path, encoding='utf-8').read().split('\n'):
    if not cur and line.lstrip().startswith(('#', ';')):
        continue
    if line.endswith('\\'):
        cur += line[:-1] + ' '
        continue
    logical.append(cur + line)
    cur = ''
for line in logical:
    k, sep, v = line.partition('=')
    if sep and k.strip() == key:
        print(v.strip())
PY
}
# split WORDS: the words of a command line, NUL-terminated (systemd's and sh's quoting).
split() { "$py" -c 'import shlex, sys; sys.stdout.write("".join(w + "\0" for w in shlex.split(sys.argv[1])))' "$1"; }
# exec_flag UNIT FLAG: the word after FLAG in the unit's ExecStart, or nothing.
exec_flag() {
    split "$(unit_values "$sysd/$1.service" ExecStart)" | tr '\0' '\n' | { grep -A1 -x -- "$2" || true; } | tail -n 1
}

# --- 1. The unit files -------------------------------------------------------
for u in "${units[@]}"; do
    f=$sysd/$u.service
    [ -f "$f" ] || fail "no $f"
    exec_start=$(unit_values "$f" ExecStart)
    [ "$(printf '%s\n' "$exec_start" | grep -c .)" = 1 ] || fail "$u: expected one ExecStart, got [$exec_start]"
    for want in "Restart=on-failure" "RestartSec=" "Wants=network-online.target mosquitto.service" \
        "After=network-online.target mosquitto.service" "LoadCredential=mqtt-password:/etc/dht/mqtt-password" \
        "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes" \
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

# --- 2. The example /etc/dht ---------------------------------------------------
grep -v '^[[:space:]]*\(#\|$\)' "$src/scripts/rules/seed.rules" >"$T/seed.rules"
while IFS= read -r rule; do
    grep -qxF -- "$rule" "$etc/rules" || fail "etc-dht/rules lacks the seed's rule [$rule]"
done <"$T/seed.rules"
[ "$(grep -c . "$etc/mqtt-password")" = 1 ] || fail "mqtt-password: one line expected"
grep -qi 'change' "$etc/mqtt-password" || fail "mqtt-password does not look like a placeholder"
"$DHT_BIN/dht-rules/dht-rules" -r "$etc/rules" --check 2>"$T/check.err" || fail "rules: $(cat "$T/check.err")"
"$DHT_BIN/dht-escalate/dht-escalate" --policy "$etc/escalate.policy" --check 2>"$T/check.err" ||
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

# --- 3. The Home Assistant YAML --------------------------------------------------
# Checks the keys, prints what the later steps compare with real messages:
#   sensor FIELD STATE_TOPIC JQ_PATH UNIT DEVICE_CLASS STATE_CLASS AVAIL_TOPIC
#   publish TOPIC                       (the mqtt.publish of the cold automation)
#   escalation_topic TOPIC
#   escalation_key KEY                  (trigger.payload_json.KEY it shows)
"$py" - "$ha/configuration.yaml" "$ha/automations.yaml" >"$T/ha.txt" 2>"$T/ha.err" <<'PY' || fail "Home Assistant YAML: $(tail -n 1 "$T/ha.err")"
import re, sys, unicodedata, yaml

class Loader(yaml.SafeLoader):
    pass
Loader.add_constructor('!include', lambda loader, node: loader.construct_scalar(node))
Loader.add_constructor('!secret', lambda loader, node: loader.construct_scalar(node))
conf = yaml.load(open(sys.argv[1], encoding='utf-8'), Loader)
autos = yaml.load(open(sys.argv[2], encoding='utf-8'), Loader)

def slug(text):  # Home Assistant's slugify, for the entity id of a name
    text = unicodedata.normalize('NFKD', text).encode('ascii', 'ignore').decode()
    return re.sub(r'[^a-z0-9]+', '_', text.lower()).strip('_')
def as_list(x):
    return x if isinstance(x, list) else [x]

assert 'broker' not in conf['mqtt'], 'mqtt: broker: is no longer accepted'
assert not any(isinstance(s, dict) and s.get('platform') == 'mqtt' for s in as_list(conf.get('sensor') or [])), \
    'sensor: - platform: mqtt is the old syntax'
sensors = conf['mqtt']['sensor']
assert isinstance(sensors, list)
entity = {}
for s in sensors:
    assert 'platform' not in s, s
    for k in ('name', 'unique_id', 'state_topic', 'value_template'):
        assert k in s, f'{s.get("name")}: no {k}'
    if s.get('device_class') not in ('temperature', 'humidity'):
        continue
    for k in ('unit_of_measurement', 'state_class', 'availability_topic'):
        assert k in s, f'{s["name"]}: no {k}'
    assert s['payload_available'] == 'online' and s['payload_not_available'] == 'offline', s['name']
    assert s['availability_topic'] == re.sub(r'/data$', '/status', s['state_topic']), s['name']
    m = re.fullmatch(r'\{\{\s*value_json\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}', s['value_template'])
    assert m, f'{s["name"]}: value_template {s["value_template"]!r} is not {{{{ value_json.FIELD }}}}'
    field = m.group(1)
    entity[s['device_class']] = 'sensor.' + slug(s['name'])
    print('sensor', field, s['state_topic'], '.' + field, s['unit_of_measurement'], s['device_class'],
          s['state_class'], s['availability_topic'])
assert set(entity) == {'temperature', 'humidity'}, f'sensors: {entity}'

def triggers(a):
    return as_list(a.get('triggers', a.get('trigger', [])))
def actions(a):
    return as_list(a.get('actions', a.get('action', [])))
def kind(t):
    return t.get('trigger', t.get('platform'))
def service(x):
    return x.get('action', x.get('service'))

cold = [a for a in autos if any(kind(t) == 'numeric_state' and t.get('below') == 5 for t in triggers(a))]
assert len(cold) == 1, 'one automation with a numeric_state trigger below 5'
cold = cold[0]
t = next(t for t in triggers(cold) if kind(t) == 'numeric_state')
assert t['entity_id'] == entity['temperature'], f'{t["entity_id"]} is not {entity["temperature"]}'
assert all('trigger' in t for t in triggers(cold)) and 'triggers' in cold and 'actions' in cold, \
    "today's syntax: triggers:/trigger:, actions:/action:"
acts = actions(cold)
assert any(service(x).startswith('notify.') for x in acts), 'no notify service'
pub = [x for x in acts if service(x) == 'mqtt.publish']
assert len(pub) == 1, 'no mqtt.publish'
print('publish', pub[0]['data']['topic'])

esc = [a for a in autos if any(kind(t) == 'mqtt' and t.get('topic') == 'dht11/alerts/escalation' for t in triggers(a))]
assert len(esc) == 1, 'one automation on the MQTT topic dht11/alerts/escalation'
create = [x for x in actions(esc[0]) if service(x) == 'persistent_notification.create']
assert create, 'no persistent_notification.create'
print('escalation_topic', next(t['topic'] for t in triggers(esc[0]) if kind(t) == 'mqtt'))
for key in sorted(set(re.findall(r'trigger\.payload_json\.([A-Za-z_]+)', yaml.safe_dump(create)))):
    print('escalation_key', key)
PY
grep -q '^sensor temperature ' "$T/ha.txt" && grep -q '^escalation_key incident_id$' "$T/ha.txt" ||
    fail "Home Assistant YAML: $(cat "$T/ha.txt")"
esc_unit_topic=$(exec_flag dht-escalate -t)
assert_eq "the cold automation publishes where dht-escalate.service listens" "$esc_unit_topic" \
    "$(awk '$1 == "publish" { print $2 }' "$T/ha.txt")"
pass "Home Assistant YAML: mqtt: sensor: entries with availability; numeric_state below 5 on the sensor's entity, a notify and an mqtt.publish to dht11/alerts; escalations as persistent notifications"

# The automation's alert, rendered as Home Assistant would (with Jinja2).
ha_alert=
if [ -n "$jpy" ]; then
    ha_alert=$("$jpy" - "$ha/automations.yaml" <<'PY'
import datetime, json, sys, jinja2, yaml
autos = yaml.safe_load(open(sys.argv[1], encoding='utf-8'))
cold = next(a for a in autos if any(t.get('trigger') == 'numeric_state' and t.get('below') == 5 for t in a['triggers']))
payload = next(x for x in cold['actions'] if x['action'] == 'mqtt.publish')['data']['payload']
env = jinja2.Environment()
env.filters['to_json'] = json.dumps
env.globals['utcnow'] = lambda: datetime.datetime.now(datetime.timezone.utc)
out = env.from_string(payload).render(trigger={'to_state': {'state': '3.2'}})
print(json.dumps(json.loads(out)))
PY
) || fail "the mqtt.publish payload does not render to JSON"
    assert_eq "the rendered alert" "alert ha_cold firing 3.2 true" \
        "$(jq -r '"\(.kind) \(.rule) \(.state) \(.value) \(.timestamp | test("^[0-9-]{10}T[0-9:]{8}\\.[0-9]{3}Z$"))"' <<<"$ha_alert")"
else
    echo "skip - no Jinja2: the automation's payload is not rendered"
fi

# --- 4. The units, run -----------------------------------------------------------
broker "$T/b"
pub() { mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 "$@"; }
R=$T/root   # the machine's /: /etc/dht, /usr/local/bin, /var/lib, the credentials
SPORT=$(free_port)
IPORT=$(free_port)
CPORT=$(free_port)
if command -v influxd >/dev/null; then
    start_influx "$T/influx" "$IPORT"
    PIDS+=("$INFLUX_PID")
    curl -sf -XPOST "http://127.0.0.1:$IPORT/query" --data-urlencode 'q=CREATE DATABASE dht' >/dev/null
    have_influx=1
else
    echo "skip - no influxd: dht-export-influx runs against a closed port"
    have_influx=
fi
if command -v carbon-cache >/dev/null; then
    start_carbon "$T/carbon" "$CPORT"
    PIDS+=("$CARBON_PID")
    have_carbon=1
else
    echo "skip - no carbon-cache: dht-export-graphite runs against a closed port"
    have_carbon=
fi

# rewrite: a line of the recipes with its system paths moved into $R.
rewrite() {
    local b="(^|[ =:'\"])"
    sed -E -e "s#$b/usr/local/bin([/:]|\$)#\1$R/usr/local/bin\2#g" -e "s#$b/etc/dht/#\1$R/etc/dht/#g" \
        -e "s#$b/var/lib/#\1$R/var/lib/#g" -e "s#$b/var/spool/#\1$R/var/spool/#g" \
        -e "s#\\\$\{CREDENTIALS_DIRECTORY\}#$R/credentials#g" -e "s#127\.0\.0\.1:9464#127.0.0.1:$SPORT#g"
}
no_system_paths() {  # no_system_paths WHAT LINE: nothing outside the temp dir
    ! grep -qE "(^|[ =:'\"])/(etc|var|usr/local|run)/" <<<"$2" || fail "$1 still names a system path: $2"
}
mkdir -p "$R/etc" "$R/usr/local/bin" "$R/credentials" "$R/var/lib" "$T/notified" "$T/fakebin" "$XDG_CONFIG_HOME"
cp -r "$etc" "$R/etc/dht"
cp "$etc/mqtt-password" "$R/credentials/mqtt-password"
for f in "$R"/etc/dht/*.conf "$R/etc/dht/escalate.policy"; do
    sed -i -e 's#^host = "localhost"$#host = "127.0.0.1"#' -e "s#^port = 1883\$#port = $PORT#" \
        -e "s#localhost:8086#127.0.0.1:$IPORT#" -e "s#localhost:2003#127.0.0.1:$CPORT#" "$f"
    rewrite <"$f" >"$f.new" && mv "$f.new" "$f"
done
for u in "${units[@]}"; do
    grep -qx "port = $PORT" "$R/etc/dht/$u.conf" || fail "$u.conf: no 'port = 1883' line to point at the test broker"
done
grep -q "127.0.0.1:$IPORT" "$R/etc/dht/dht-export-influx.conf" || fail "dht-export-influx.conf: no url localhost:8086"
grep -q "127.0.0.1:$CPORT" "$R/etc/dht/dht-export-graphite.conf" || fail "dht-export-graphite.conf: no carbon localhost:2003"
for t in "$DHT_BIN"/dht-*/; do
    t=$(basename "$t")
    [ -x "$DHT_BIN/$t/$t" ] && ln -s "$DHT_BIN/$t/$t" "$R/usr/local/bin/$t"
done
# The notifiers of the policy: each run leaves its arguments and its stdin in a file.
for n in notify-slack notify-telegram notify-mail; do
    cat >"$R/usr/local/bin/$n" <<EOF
#!/bin/sh
f=\$(mktemp "$T/notified/$n.XXXXXX")
{ echo "\$*"; cat; } >"\$f"
EOF
    chmod +x "$R/usr/local/bin/$n"
done

# Operators: the escalations, as the seed's operators watch them.
mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -i operator -t dht11/alerts/escalation >"$T/escalations" 2>/dev/null &
PIDS+=($!)
wait_subscribed operator
pub -r -t dht11/kitchen/status -m online

declare -A pid
started=$(date +%s.%N)
for u in "${units[@]}"; do
    line=$(unit_values "$sysd/$u.service" ExecStart | rewrite)
    no_system_paths "$u: ExecStart" "$line"
    for d in $(unit_values "$sysd/$u.service" StateDirectory); do mkdir -p -m 0700 "$R/var/lib/$d"; done
    mapfile -d '' -t argv < <(split "$line")
    um=$(unit_values "$sysd/$u.service" UMask)
    (cd "$T" && umask "${um:-0022}" && exec "${argv[@]}") >"$T/$u.out" 2>"$T/$u.err" &
    pid[$u]=$!
    PIDS+=("${pid[$u]}")
done
# exited U: fail if U is no longer running, with its exit status (64 usage,
# 66 a file it cannot open, 78 configuration, ...) and its diagnostics.
exited() {
    kill -0 "${pid[$1]}" 2>/dev/null && return 1
    local rc=0
    wait "${pid[$1]}" || rc=$?
    fail "$1 exited with status $rc: $(cat "$T/$1.err")"
}
for u in "${units[@]}"; do
    id=$(exec_flag "$u" -i)
    id=${id:-$u-${pid[$u]}}   # the default client id: TOOL-PID
    wait_for eval 'exited "$u" || [ "$(grep -c "Received SUBSCRIBE from $id\$" "$BROKER_LOG")" -ge 1 ]' ||
        fail "$u never subscribed as $id (see $BROKER_LOG)"
done
wait_port "$SPORT"

# A freezing reading: stored, alerted (freeze: escalate critical), an incident
# opened and escalated at once to level 2, both notified, a metric, two points.
pub -t dht11/kitchen/data -m '{"temperature":-1.50,"humidity":65.30}'
db=$R/var/lib/dht/dht.db
count() { sqlite3 "$db" "$1" 2>/dev/null || echo 0; }
wait_for eval '[ "$(count "SELECT count(*) FROM messages WHERE topic = '"'dht11/kitchen/data'"'")" -ge 1 ]' ||
    fail "dht-record: the reading is not in $db: $(cat "$T/dht-record.err")"
assert_eq "dht-record stores the payload" '{"temperature":-1.5,"humidity":65.3}' \
    "$(count "SELECT payload FROM messages WHERE topic = 'dht11/kitchen/data'" | jq -c .)"
wait_lines "$T/dht-rules.out" 1
assert_eq "dht-rules: the seed's freeze rule" "freeze firing -1.5 dht11/kitchen/data" \
    "$(jq -r 'select(.rule == "freeze") | "\(.rule) \(.state) \(.value) \(.sensor)"' "$T/dht-rules.out")"
wait_lines "$T/dht-escalate.out" 2
assert_eq "dht-escalate: an incident, escalated at once" "opened 1 freeze
escalation 2 freeze" "$(jq -r '"\(.event) \(.level) \(.rule)"' "$T/dht-escalate.out" | head -n 2)"
wait_lines "$T/escalations" 1
assert_eq "the operators see the seed's escalation keys" "1 escalation 1 2 true" \
    "$(head -n 1 "$T/escalations" | jq -r '"\(.incident_id) \(.event) \(.from_level) \(.to_level) \(.timestamp != null)"')"
wait_for eval 'grep -lq "\"event\":\"opened\"" "$T"/notified/notify-slack.* 2>/dev/null' ||
    fail "level 1: notify-slack never ran: $(cat "$T/dht-escalate.err")"
wait_for eval 'grep -lq "\"event\":\"escalation\"" "$T"/notified/notify-telegram.* 2>/dev/null' ||
    fail "level 2: notify-telegram never ran: $(cat "$T/dht-escalate.err")"
grep -hx -- "--webhook-file $R/etc/dht/slack-webhook" "$T"/notified/notify-slack.* >/dev/null ||
    fail "notify-slack's arguments: $(head -n 1 "$T"/notified/notify-slack.*)"
metric() { curl -sf "http://127.0.0.1:$SPORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
wait_for eval '[ "$(metric "mqtt_temperature_celsius{sensor=\"dht11/kitchen/data\"}")" = -1.5 ]' ||
    fail "dht-stats: no mqtt_temperature_celsius -1.5 on :$SPORT: $(curl -s "http://127.0.0.1:$SPORT/metrics" | grep -v '^#')"
if [ -n "$have_influx" ]; then
    iq() { curl -sf "http://127.0.0.1:$IPORT/query?db=dht" --data-urlencode "q=$1" | jq -c '.results[0].series[0].values[0][1:]'; }
    wait_for eval '[ "$(iq "SELECT temperature, location FROM dht11")" = "[-1.5,\"server_room\"]" ]' ||
        fail "InfluxDB: $(iq 'SELECT * FROM dht11') ($(cat "$T/dht-export-influx.err"))"
fi
if [ -n "$have_carbon" ]; then
    wsp=$T/carbon/whisper/dht11/kitchen/temperature.wsp
    wait_for eval '[ -f "$wsp" ] && /usr/bin/whisper-fetch --from=$(( $(date +%s) - 60 )) "$wsp" | grep -qE "[[:space:]]-1\.50*$"' ||
        fail "carbon: no dht11.kitchen.temperature -1.5 ($(cat "$T/dht-export-graphite.err"))"
fi
pass "a reading: stored, alerted, escalated to level 2, on Slack and Telegram, a Prometheus gauge${have_influx:+, in InfluxDB}${have_carbon:+, in Graphite}"

if [ -n "$ha_alert" ]; then
    pub -t "$esc_unit_topic" -m "$ha_alert"
    wait_lines "$T/dht-escalate.out" 3
    assert_eq "Home Assistant's alert opens an incident" "opened ha_cold dht11/sensor/data" \
        "$(tail -n 1 "$T/dht-escalate.out" | jq -r '"\(.event) \(.rule) \(.sensor)"')"
    pass "the alert of the Home Assistant automation, rendered and published, opens an incident"
fi

# ExecReload: SIGHUP reads the rules and the policy again.
for u in dht-rules dht-escalate; do
    reload=$(unit_values "$sysd/$u.service" ExecReload)
    mapfile -d '' -t argv < <(split "${reload//\$MAINPID/${pid[$u]}}")
    "${argv[@]}" || fail "$u: ExecReload failed"
done
wait_for grep -q 'SIGHUP' "$T/dht-rules.err" || fail "dht-rules: no sign of SIGHUP: $(cat "$T/dht-rules.err")"
wait_for grep -q 'SIGHUP: reading the policy again' "$T/dht-escalate.err" ||
    fail "dht-escalate: no sign of SIGHUP: $(cat "$T/dht-escalate.err")"
! grep -q 'keeping the\|error' "$T/dht-rules.err" "$T/dht-escalate.err" || fail "a reload refused the files"

# Each ran at least 2 s and is still running: no usage (64), missing file (66)
# or configuration (78) error, no crash.
sleep "$("$py" -c "import time; print(max(0, 2 - (time.time() - $started)))")"
for u in "${units[@]}"; do exited "$u" || true; done
pass "ExecReload (SIGHUP) of dht-rules and dht-escalate; all six still running after 2 s"

# systemctl stop: SIGTERM, and each exits 0 having finished its work.
for u in "${units[@]}"; do kill -TERM "${pid[$u]}"; done
for u in "${units[@]}"; do
    rc=0
    wait "${pid[$u]}" || rc=$?
    [ "$rc" = 0 ] || fail "$u: SIGTERM gave status $rc: $(cat "$T/$u.err")"
done
[ -s "$R/var/lib/dht-rules/rules.state" ] || fail "dht-rules left no state in /var/lib/dht-rules"
[ -n "$have_influx" ] && { [ -z "$(ls -A "$R/var/lib/dht-export-influx")" ] || fail "influx: points left in the spool"; }
[ -n "$have_carbon" ] && { [ -z "$(ls -A "$R/var/lib/dht-export-graphite")" ] || fail "graphite: lines left in the spool"; }
[ "$(stat -c %a "$db")" = 600 ] || fail "dht.db: mode $(stat -c %a "$db"), UMask=0077 asks for 600"
pass "SIGTERM: all six exit 0; the rules' state kept, the spools empty"

# --- 5. The cron jobs --------------------------------------------------------------
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
echo '{"kind":"message","timestamp":"2020-01-01T00:00:00.000Z","topic":"dht11/old/data","payload":{"temperature":1},"qos":0,"retain":false}' |
    "$DHT_BIN/dht-record/dht-record" --db "$db"
sqlite3 "$db" "UPDATE incidents SET next_at = '2000-01-01T00:00:00.000Z' WHERE rule = 'freeze' AND state = 'open'"
: >"$T/escalations.before"
cp "$T/escalations" "$T/escalations.before"
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
grep -qE '^dht11/kitchen/data +temperature +1 +-1\.50 ' "$T/mail.body" || fail "the report lacks the kitchen's temperature: $(cat "$T/mail.body")"
assert_not_contains "the report is readings only" "$T/mail.body" "dht11/alerts"
assert_contains "the report's subject" "$T/mail.args" "-s"
grep -h '"event":"escalation"' "$T"/cron.*.out | jq -e -s 'map(select(.rule == "freeze" and .from_level == 2 and .to_level == 3)) | length == 1' >/dev/null ||
    fail "tick: no escalation 2->3 printed: $(cat "$T"/cron.*.out "$T"/cron.*.err)"
wait_lines "$T/escalations" 2
assert_eq "tick publishes to the broker of dht-escalate.conf" "freeze 3" \
    "$(tail -n 1 "$T/escalations" | jq -r '"\(.rule) \(.to_level)"')"
wait_for eval 'grep -l "\"to_level\":3" "$T"/notified/notify-telegram.* >/dev/null 2>&1' || fail "tick: level 3 not notified"
pass "cron: prune drops what is older than 30 days; the daily table by mail; tick climbs, publishes, notifies"

# --- 6. Home Assistant against what the sensors publish --------------------------
mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -i ha -v -t 'dht11/sensor/data' -t 'homeassistant/sensor/#' -C 3 -W 20 \
    >"$T/ha.msgs" 2>/dev/null &
sub=$!
PIDS+=("$sub")
wait_subscribed ha
"$DHT_BIN/dht-sensor-sim/dht-sensor-sim" -h 127.0.0.1 -p "$PORT" --names sensor --discovery --count 1 \
    --interval 1s --seed 7 2>"$T/sim.err" || fail "dht-sensor-sim: $(cat "$T/sim.err")"
wait "$sub" || fail "Home Assistant's view: $(cat "$T/ha.msgs")"
data=$(awk '$1 == "dht11/sensor/data" { print $2 }' "$T/ha.msgs")
[ -n "$data" ] || fail "no reading on dht11/sensor/data: $(cat "$T/ha.msgs")"
while read -r _ field topic path unit class state_class avail; do
    assert_eq "$field: state_topic" dht11/sensor/data "$topic"
    value=$(jq -r "$path" <<<"$data")
    [[ $value =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || fail "$field: $path of $data gives [$value]"
    disc=$(sed -n "s#^homeassistant/sensor/sensor_$field/config ##p" "$T/ha.msgs")
    [ -n "$disc" ] || fail "no discovery message for $field: $(cat "$T/ha.msgs")"
    assert_eq "$field: as discovery says" \
        "$(jq -r '"\(.state_topic) \(.value_template) \(.unit_of_measurement) \(.device_class) \(.state_class) \(.availability_topic) \(.payload_available) \(.payload_not_available)"' <<<"$disc")" \
        "$topic {{ value_json.$field }} $unit $class $state_class $avail online offline"
done < <(grep '^sensor ' "$T/ha.txt")
esc_record=$(head -n 1 "$T/escalations")
for key in $(awk '$1 == "escalation_key" { print $2 }' "$T/ha.txt"); do
    jq -e --arg k "$key" 'has($k)' <<<"$esc_record" >/dev/null || fail "the escalation automation shows $key, not in $esc_record"
done
assert_eq "the escalation automation's topic" "$(grep -o 'escalation-topic = "[^"]*"' "$etc/dht-escalate.conf" | cut -d'"' -f2)" \
    "$(awk '$1 == "escalation_topic" { print $2 }' "$T/ha.txt")"
pass "Home Assistant: the sensors' topics and templates read dht-sensor-sim's reading and match its discovery; the escalation automation's keys are in dht-escalate's records"
