#!/usr/bin/env bash
# The Home Assistant YAML of scripts/homeassistant: its keys and today's
# syntax; the cold automation's alert, rendered (with Jinja2) and published to
# where dht-escalate.service listens, opens an incident; its sensors read what
# dht-sensor-sim publishes and match its discovery; the escalation automation
# shows keys that dht-escalate's records have.
source "$(dirname "$0")/../lib/testlib.sh"
source "$here/deploy.sh"

# The YAML -------------------------------------------------------------------
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

# The alert, published --------------------------------------------------------
# The units of scripts/systemd: a freezing reading escalated (its record for the
# escalation automation below), then Home Assistant's alert.
install_machine
start_units dht-rules dht-escalate
freeze
wait_lines "$T/escalations" 1
wait_lines "$T/dht-escalate.out" 2
if [ -n "$ha_alert" ]; then
    pub -t "$esc_unit_topic" -m "$ha_alert"
    wait_lines "$T/dht-escalate.out" 3
    assert_eq "Home Assistant's alert opens an incident" "opened ha_cold dht11/sensor/data" \
        "$(tail -n 1 "$T/dht-escalate.out" | jq -r '"\(.event) \(.rule) \(.sensor)"')"
    pass "the alert of the Home Assistant automation, rendered and published, opens an incident"
fi
stop_units dht-rules dht-escalate

# Against what the sensors publish ---------------------------------------------
listen ha "$T/ha.msgs" -v -t 'dht11/sensor/data' -t 'homeassistant/sensor/#' -C 3 -W 20
sub=$BG_PID
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
