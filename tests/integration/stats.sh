#!/usr/bin/env bash
# dht-stats: its numbers against an independent computation (Python), every
# output format (promtool checks the metrics), windows, bad lines, a plot that
# is well-formed XML and renders to PNG, a real Prometheus server scraping
# --listen, and MQTT input.
source "$(dirname "$0")/../lib/testlib.sh"
needs_mosquitto "it reads what mosquitto logs of its deliveries"
export PATH="$DHT_BIN/dht-stats:$PATH"
cd "$T"

# A day of three sensors, with a gap, negative temperatures and a nested field.
python3 - <<'PY'
import datetime, json, math, random
random.seed(7)
t0 = datetime.datetime(2026, 11, 24, tzinfo=datetime.timezone.utc)
with open("day", "w") as out:
    for i in range(0, 86400, 60):
        for s, (base, amp) in {"kitchen": (21, 2), "cellar": (2, 5), "attic": (15, 8)}.items():
            if s == "attic" and 40000 < i < 50000:
                continue
            t = (t0 + datetime.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            temp = round(base + amp * math.sin(2 * math.pi * i / 86400) + random.gauss(0, 0.3), 2)
            hum = round(60 - 1.5 * (temp - base) + random.gauss(0, 1), 2)
            payload = {"temperature": temp, "humidity": hum, "env": {"co2": 400 + i % 50}}
            out.write(json.dumps({"kind": "message", "timestamp": t, "topic": f"dht11/{s}/data",
                                  "payload": payload, "qos": 0, "retain": False}) + "\n")
PY
# One more kitchen reading two hours after the day (cellar and attic stay silent).
rec_late() { echo '{"kind":"message","timestamp":"2026-11-25T02:00:00.000Z","topic":"dht11/kitchen/data","payload":{"temperature":20}}'; }
dht-stats --format json <day >"$T/stats.json" 2>"$T/err" || fail "dht-stats failed: $(cat "$T/err")"
python3 - "$T/stats.json" <<'PY' || fail "dht-stats and Python disagree"
import json, math, sys
got = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open("day")]
assert got["kind"] == "stats" and got["scope"] == "summary", got
assert got["total_received"] == len(rows), got["total_received"]
assert got["last_message"] == rows[-1]["timestamp"]
def dig(p, path):
    for k in path.split("."):
        p = p[k]
    return p
bad = 0
for sensor in {r["topic"] for r in rows}:
    for field in ("temperature", "humidity", "env.co2"):
        v = [dig(r["payload"], field) for r in rows if r["topic"] == sensor]
        s = got["sensors"][sensor]["fields"][field]
        n = len(v)
        mean = sum(v) / n
        sd = math.sqrt(sum((x - mean) ** 2 for x in v) / n)
        srt = sorted(v)
        checks = [("count", s["count"], n, 0), ("min", s["min"], min(v), 0), ("max", s["max"], max(v), 0),
                  ("last", s["last"], v[-1], 0), ("mean", s["mean"], mean, 1e-9), ("stddev", s["stddev"], sd, 1e-9)]
        # Percentiles have the decimals of the values: within 0.5 % and half a unit of the last one.
        dec = next(d for d in range(7) if all(abs(x * 10**d - round(x * 10**d)) < 1e-6 for x in v) or d == 6)
        for q in (50, 95, 99):
            checks.append((f"p{q}", s[f"p{q}"], srt[math.floor(q / 100 * (n - 1))], 0.005))
            if abs(s[f"p{q}"] * 10**dec - round(s[f"p{q}"] * 10**dec)) > 1e-6:
                print(f"{sensor} {field} p{q}: {s[f'p{q}']} has more than {dec} decimals", file=sys.stderr)
                bad += 1
        for name, a, b, rel in checks:
            if abs(a - b) > rel * abs(b) + (0.5 / 10**dec if name[0] == "p" else 0) + 1e-9:
                print(f"{sensor} {field} {name}: dht-stats {a}, Python {b}", file=sys.stderr)
                bad += 1
sys.exit(1 if bad else 0)
PY
pass "count, min, max, mean, stddev and last exact; p50, p95, p99 within 0.5 % of Python's, with the values' decimals"

# Prometheus text: clean under promtool, the seed's names, a file for node_exporter.
dht-stats --format prometheus <day >"$T/metrics.txt"
promtool check metrics <"$T/metrics.txt" || fail "promtool rejects the metrics"
assert_contains "the seed's counter" "$T/metrics.txt" 'mqtt_messages_total{sensor="dht11/kitchen/data"} 1440'
assert_contains "the seed's gauge" "$T/metrics.txt" "mqtt_temperature_celsius{sensor=\"dht11/cellar/data\"} $(jq -r 'select(.topic == "dht11/cellar/data") | .payload.temperature' day | tail -n 1)"
assert_contains "humidity" "$T/metrics.txt" '# TYPE mqtt_humidity_percent gauge'
dht-stats --format json --prom-file "$T/dht.prom" <day >/dev/null
promtool check metrics <"$T/dht.prom" || fail "promtool rejects --prom-file"
assert_eq "--prom-file is readable by node_exporter" 644 "$(stat -c %a "$T/dht.prom")"
[ ! -e "$T/dht.prom.tmp" ] || fail "a temporary file was left behind"
pass "Prometheus text clean under promtool check metrics, the seed's metric names, --prom-file mode 644"

# The table, aligned.
dht-stats --format table <day >"$T/table"
assert_eq "one row per sensor and field, a header and a title of two lines" 12 "$(wc -l <"$T/table")"
assert_eq "the header" "SENSOR FIELD COUNT MIN MEAN MAX P95 LAST" "$(sed -n 3p "$T/table" | tr -s ' ')"
# Numbers are right-aligned under their heading: MIN's last letter sits over each minimum's last digit.
col=$(awk 'NR == 3 { print index($0, " MIN ") + 3 }' "$T/table")
awk -v c="$col" 'NR > 3 && (substr($0, c, 1) !~ /[0-9]/ || substr($0, c + 1, 1) != " ") { exit 1 }' "$T/table" ||
    fail "the MIN column is not aligned: $(cat "$T/table")"
width=$(awk '{ if (length > m) m = length } END { print m }' "$T/table")
[ "$width" -le 80 ] || fail "the table is $width columns wide: $(cat "$T/table")"
dht-stats --format table --wide <day >"$T/wide"
assert_eq "--wide: every column" "SENSOR FIELD COUNT MIN MEAN MAX STDDEV P50 P95 P99 LAST LAST SEEN" \
    "$(sed -n 3p "$T/wide" | tr -s ' ')"
assert_eq "--wide: the same rows" "$(cut -c1-30 "$T/table" | tail -n +4)" "$(cut -c1-30 "$T/wide" | tail -n +4)"
assert_eq "--wide with another format" 64 "$(exit_code dht-stats --format json --wide </dev/null 2>/dev/null)"
# Whole numbers (env.co2: 400 to 440) show as whole numbers, their mean with one decimal.
assert_eq "decimals of the values: count, min, mean, max, last" "1440 400 420.0 440 440" \
    "$(awk '$1 == "dht11/kitchen/data" && $2 == "env.co2" { print $3, $4, $5, $6, $8 }' "$T/table")"
awk '$2 == "env.co2" && $7 !~ /^[0-9]+$/ { exit 1 }' "$T/table" || fail "a percentile of whole numbers has decimals"
pass "--format table: a title, a header, aligned columns, 80 columns wide, every column with --wide"

# Windows: records per hour; their counts add up to the summary's.
dht-stats --every 1h <day >"$T/windows"
assert_eq "24 windows and a summary" "1 summary 24 window" \
    "$(jq -r .scope "$T/windows" | sort | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? " " : ""), $1, $2 }')"
assert_eq "window counts add up" "$(wc -l <day)" "$(jq -s 'map(select(.scope == "window") | .total_received) | add' "$T/windows")"
assert_eq "a window starts on the hour" "2026-11-24T01:00:00.000Z 2026-11-24T02:00:00.000Z" \
    "$(jq -r 'select(.scope == "window") | "\(.from) \(.until)"' "$T/windows" | sed -n 2p)"
# A pause in replayed history does not split a window (only records close one on stdin).
(head -n 60 day; sleep 1.2; tail -n +61 day) | dht-stats --every 1h >"$T/paused"
assert_eq "no window twice after a pause" 24 "$(jq -r 'select(.scope == "window") | .from' "$T/paused" | sort -u | wc -l)"
assert_eq "--format prometheus --every is refused" 64 "$(exit_code dht-stats --format prometheus --every 1h </dev/null 2>/dev/null)"
pass "--every 1h: 24 windows on the hour whose counts add up, then the summary; a pause splits none"

# Bad lines: counted as errors, each named once, the numbers unchanged.
{
    head -n 10 day
    echo 'garbage'
    printf '{"kind":"message","timestamp":"2026-11-24T00:10:00Z","topic":"dht11/x/data","payload":\xff}\n'
    echo '{"kind":"message","timestamp":"2026-11-24T00:10:00Z","topic":"dht11/x/data","payload":"not json"}'
    echo '{"kind":"message","timestamp":"2026-11-24T00:10:00Z","topic":"dht11/x/status","payload":"offline"}'
    echo '{"kind":"alert","rule":"cold","state":"firing"}'
    tail -n +11 day
} >"$T/dirty"
dht-stats <"$T/dirty" >"$T/dirty.json" 2>"$T/err"
assert_contains "line 11" "$T/err" "stdin:11: invalid JSON"
assert_contains "line 12" "$T/err" "stdin:12: invalid UTF-8 (skipped)"
assert_eq "errors: 2 bad lines and a payload that is not JSON" 3 "$(jq .errors "$T/dirty.json")"
assert_eq "the alert counts as published" 1 "$(jq .total_published "$T/dirty.json")"
assert_eq "kitchen's numbers are unchanged" "$(jq -c '.sensors["dht11/kitchen/data"]' "$T/stats.json")" \
    "$(jq -c '.sensors["dht11/kitchen/data"]' "$T/dirty.json")"
assert_eq "--expire judges history by its own times" 3 "$(dht-stats --expire 1h <day | jq '.sensors | length')"
assert_eq "--expire drops the two sensors silent for longer" 1 "$( (cat day; rec_late) 2>/dev/null | dht-stats --expire 30m | jq '.sensors | length')"
assert_eq "--forget-after, of which --expire is the older name" 1 "$( (cat day; rec_late) 2>/dev/null | dht-stats --forget-after 30m | jq '.sensors | length')"
assert_eq "one option under two names: not both" 64 "$(exit_code dht-stats --expire 1h --forget-after 2h </dev/null 2>/dev/null)"
pass "bad lines: reported with their numbers, counted in errors, the readings around them unchanged; --expire"

# The plot: well-formed, renders, names every sensor.
dht-stats --plot "$T/day.svg" <day >/dev/null
xmllint --noout "$T/day.svg" || fail "the SVG is not well-formed"
rsvg-convert -o "$T/day.png" "$T/day.svg" || fail "the SVG does not render"
[ "$(head -c 8 "$T/day.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] || fail "no PNG came out"
for s in kitchen cellar attic; do assert_contains "legend" "$T/day.svg" "dht11/$s/data"; done
assert_contains "units" "$T/day.svg" "temperature (°C)"
assert_eq "the default fields are there: no warning" "" "$(dht-stats --plot "$T/day.svg" <day 2>&1 >/dev/null)"
dht-stats --plot "$T/typo.svg" --plot-field temprature --plot-field humidity <day >/dev/null 2>"$T/err"
assert_eq "a field no reading has: one warning, the fields seen and the nearest" \
    "dht-stats: --plot-field 'temprature': no reading has this field, its panel is empty (fields seen: env.co2, humidity, temperature; did you mean 'temperature'?)" \
    "$(cat "$T/err")"
pass "--plot: well-formed SVG (xmllint) that renders to PNG (rsvg-convert), a legend and units; a field no reading has is named"

# A real Prometheus scraping --listen while the stream runs.
sport=$(free_port)
pport=$(free_port)
mkfifo "$T/in"
exec 3<>"$T/in"
dht-stats --listen "127.0.0.1:$sport" --expire 1h <"$T/in" >"$T/live.out" 2>"$T/live.err" 3>&- &
spid=$!
PIDS+=("$spid")
wait_port "$sport" || fail "--listen: nothing on $sport: $(cat "$T/live.err")"
now_ts() { date -u +%Y-%m-%dT%H:%M:%S.000Z; }
echo "{\"kind\":\"message\",\"timestamp\":\"$(now_ts)\",\"topic\":\"dht11/porch/data\",\"payload\":{\"temperature\":-3.5,\"humidity\":88}}" >&3
curl -sf "http://127.0.0.1:$sport/metrics" >"$T/scrape.txt" || fail "GET /metrics failed"
wait_for eval "curl -sf http://127.0.0.1:$sport/metrics | grep -q 'mqtt_temperature_celsius{sensor=\"dht11/porch/data\"} -3.5'" ||
    fail "the reading never reached /metrics"
curl -sf "http://127.0.0.1:$sport/metrics" | promtool check metrics || fail "promtool rejects /metrics"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$sport/nope")" = 404 ] || fail "not 404"
start_prometheus "$T/prom" "$pport" "127.0.0.1:$sport" || fail "prometheus did not start"
PIDS+=("$PROM_PID")
query() { curl -sf "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'; }
tries=0
until [ "$(query 'mqtt_temperature_celsius{sensor="dht11/porch/data"}')" = "-3.5" ]; do
    (( ++tries < 150 )) || fail "Prometheus never scraped the reading: $(tail -n 5 "$T/prom/prometheus.log")"
    sleep 0.2
done
echo "{\"kind\":\"message\",\"timestamp\":\"$(now_ts)\",\"topic\":\"dht11/porch/data\",\"payload\":{\"temperature\":-4,\"humidity\":90}}" >&3
tries=0
until [ "$(query 'mqtt_messages_total{sensor="dht11/porch/data"}')" = "2" ]; do
    (( ++tries < 100 )) || fail "Prometheus never saw the second reading"
    sleep 0.2
done
p50=$(query 'dht_field{sensor="dht11/porch/data",field="temperature",quantile="0.5"}')
awk -v v="$p50" 'BEGIN { exit !(v > -4.02 && v < -3.98) }' || fail "p50 as Prometheus sees it: $p50, not -4 within 0.5 %"
kill -TERM "$spid"
wait "$spid" || fail "SIGTERM: exit status $?"
exec 3>&-
assert_eq "SIGTERM: the summary" 2 "$(jq .total_received "$T/live.out")"
pass "a real Prometheus scrapes --listen while the stream runs; SIGTERM writes the summary"

# MQTT: readings from -t, stats published with --publish.
broker "$T/b"
mosquitto_sub -h 127.0.0.1 -p "$PORT" -q 1 -i statsub -t dht11/stats -C 1 >"$T/published" 2>/dev/null &
sub=$!
PIDS+=("$sub")
wait_subscribed statsub
dht-stats -h 127.0.0.1 -p "$PORT" -i stats -t 'dht11/#' --publish dht11/stats >"$T/mqtt.out" 2>"$T/err" &
mpid=$!
PIDS+=("$mpid")
wait_subscribed stats
for t in 20.5 21.5 22.5; do
    mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t dht11/kitchen/data -m "{\"temperature\":$t,\"humidity\":50}"
done
mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t dht11/kitchen/status -m online
# All four delivered to dht-stats before it is stopped.
wait_for eval "[ \$(grep -c 'Sending PUBLISH to stats ' '$BROKER_LOG') -ge 4 ]" || fail "the broker did not deliver"
kill -TERM "$mpid"
wait "$mpid" || fail "SIGTERM: $(cat "$T/err")"
wait "$sub" || fail "nothing published on dht11/stats"
assert_eq "MQTT readings" "4 21.5 0" "$(jq -r '"\(.total_received) \(.sensors["dht11/kitchen/data"].fields.temperature.mean) \(.errors)"' "$T/mqtt.out")"
assert_eq "published on dht11/stats" "$(jq -c . "$T/mqtt.out")" "$(jq -c . "$T/published")"
pass "MQTT in (-t), stats records out on dht11/stats at QoS 1"

# A table shows names from the sensors with terminal controls escaped: an
# escape sequence, a C1 control or a bidi override cannot act on the terminal.
printf '{"kind":"message","topic":"dht11/\\u001b[2Jx\\u202e/data","payload":{"te\\u009bmp":1}}\n' |
    dht-stats --format table >"$T/table" 2>/dev/null
assert_contains "an escape sequence, escaped" "$T/table" 'dht11/\x1b[2Jx\u202e/data'
assert_contains "a C1 control, escaped" "$T/table" 'te\u009bmp'
[ "$(tr -d '\n -~' <"$T/table" | wc -c)" = 0 ] || fail "raw controls or non-ASCII bytes in the table"
pass "--format table escapes control characters and bidi overrides in names"
