#!/usr/bin/env bash
# The operator's page in a real headless Chromium, served by dht-stats
# --listen --www, logged in as the operator over MQTT-over-WebSockets to a
# real mosquitto with the project's ACL, while a simulated cold snap goes
# through dht-rules --publish dht11/alerts and dht-escalate: a reading, an
# alert and an escalation appear; Acknowledge is recorded by dht-escalate as
# the operator's; a sensor named like markup shows as text; the banner shows
# when the broker goes and goes when it is back. The HTTP side: types,
# Content-Security-Policy, nosniff, nothing served outside the page's files.
# DHT_SCREENSHOT=FILE keeps the screenshot (a phone's width) it takes.
source "$(dirname "$0")/../lib/testlib.sh"
skip() { echo "SKIP [$TEST_NAME]: $*"; exit 77; }
use_tools dht-rules dht-escalate dht-stats dht-sensor-sim
www=$(cd "$DHT_BIN/.." && pwd)/www
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || skip "no chromium (scripts/setup installs it)"
command -v node >/dev/null || skip "no node (scripts/setup installs npm and Node.js)"
[ -f "$www/mqtt.min.js" ] || skip "no MQTT.js bundle in $www (scripts/setup installs it, then cmake again)"

evil='<img src=x onerror=window.pwned=1>'
mosquitto_passwd -c -b "$T/passwd" server server-pw 2>/dev/null
for a in operator cellar "$evil"; do mosquitto_passwd -b "$T/passwd" "$a" "$a-pw"; done
WS=$(free_port)
broker "$T/b" "allow_anonymous false
password_file $T/passwd
acl_file $DHT_SRC/scripts/mosquitto/acl
listener $WS 127.0.0.1
protocol websockets"
wait_port "$WS"
mqtt=(-h "127.0.0.1:$PORT" -u server -P server-pw)

# The page, served.
http=$(free_port)
bg dht-stats "${mqtt[@]}" -i stats -t 'dht11/+/data' --listen "127.0.0.1:$http" --www "$www" >/dev/null 2>"$T/stats.err"
wait_port "$http"
head_of() { curl -sS -o /dev/null -D - "http://127.0.0.1:$http$1" | tr -d '\r'; }
head_of / >"$T/h"
assert_contains "/ is the page" "$T/h" "Content-Type: text/html; charset=utf-8"
assert_contains "no inline script" "$T/h" "Content-Security-Policy: default-src 'none'; script-src 'self';"
assert_contains "nosniff" "$T/h" "X-Content-Type-Options: nosniff"
assert_contains "the script's type" <(head_of /operator.js) "Content-Type: text/javascript; charset=utf-8"
assert_contains "the bundle's type" <(head_of /mqtt.min.js) "Content-Type: text/javascript; charset=utf-8"
assert_contains "the style's type" <(head_of /operator.css) "Content-Type: text/css; charset=utf-8"
cmp -s <(curl -sS "http://127.0.0.1:$http/") "$www/index.html" || fail "/ is not index.html"
for path in /package.json /../CMakeCache.txt /%2e%2e/CMakeCache.txt /.hidden.html /nothing.html /www/index.html; do
    assert_eq "GET $path" 404 "$(curl -sS -o /dev/null -w '%{http_code}' --path-as-is "http://127.0.0.1:$http$path")"
done
assert_eq "POST /" 405 "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$http/")"
assert_eq "--www without index.html" 66 "$(exit_code dht-stats --listen "127.0.0.1:$(free_port)" --www "$T" </dev/null 2>/dev/null)"
assert_eq "--www without --listen" 64 "$(exit_code dht-stats --www "$www" </dev/null 2>/dev/null)"
curl -sS "http://127.0.0.1:$http/metrics" | grep -q '^dht_http_rejected_total{reason="limit"} 0$' ||
    fail "/metrics changed"
pass "the page served read-only with its types, a strict Content-Security-Policy and nosniff; /metrics as before"

# The pipeline: readings to dht-rules to dht11/alerts to dht-escalate.
db=$T/dht.db
mkfifo "$T/p1"
dht-sub "${mqtt[@]}" -i sub -q 1 -t 'dht11/+/data' -t 'dht11/+/status' >"$T/p1" 2>"$T/sub.err" &
PIDS+=($!)
dht-rules "${mqtt[@]}" -r "$DHT_SRC/scripts/rules/seed.rules" --publish dht11/alerts <"$T/p1" >/dev/null 2>"$T/rules.err" &
PIDS+=($!)
bg dht-escalate "${mqtt[@]}" -i esc -q 1 -t dht11/alerts --db "$db" --escalate-after 2s --max-level 3 >/dev/null 2>"$T/esc.err"
for id in stats sub esc; do wait_subscribed "$id"; done

# The browser, at a phone's width; one command a line, one JSON answer a line.
coproc CDP { exec node "$DHT_SRC/tests/lib/cdp.js" "$browser" "http://127.0.0.1:$http/" 390 844 2>"$T/browser.err"; }
cdp=$CDP_PID
PIDS+=("$cdp")
page() {
    printf '%s\n' "$*" >&"${CDP[1]}"
    IFS= read -r -t 40 ANSWER <&"${CDP[0]}" || fail "the browser driver stopped: $(cat "$T/browser.err")"
}
expect() {  # expect WHAT SECONDS EXPR: until EXPR is truthy in the page
    page wait "$2" "$3"
    [ "$(jq -r .ok <<<"$ANSWER")" = true ] || fail "$1: $ANSWER; the page's state: $(state); $(cat "$T/browser.err")"
}
state() { page eval "document.getElementById('state').dataset.state + ': ' + document.getElementById('state').textContent"; jq -r .value <<<"$ANSWER"; }
q() { printf "document.querySelector('%s')" "$1"; }
expect "the page loads with MQTT.js" 15 "document.readyState === 'complete' && typeof mqtt === 'object' && $(q '#url').value.startsWith('ws://127.0.0.1:9001')"
page eval "(() => { $(q '#url').value = 'ws://127.0.0.1:$WS'; $(q '#user').value = 'operator'; $(q '#password').value = 'operator-pw'; $(q '#login').requestSubmit(); return true; })()"
expect "connected as the operator" 10 "$(q '#state').dataset.state === 'connected'"
wait_subscribed 'dht-page-[0-9a-f]*'
page eval "document.documentElement.outerHTML.includes('operator-pw') || localStorage.getItem('dht-operator-user')"
assert_eq "the password is nowhere in the page, the user remembered" '"operator"' "$(jq -c .value <<<"$ANSWER")"

# The cold snap in the cellar, from 10 °C to -3 °C in 16 readings.
bg dht-sensor-sim -h "127.0.0.1:$PORT" -u cellar -P cellar-pw --names cellar --profile cold --interval 1s --count 16 \
    --seed 7 2>"$T/sim.err"
sim=$BG_PID
expect "a reading of the cellar, online" 10 "$(q '[data-sensor=cellar] .temperature').textContent.endsWith('°C') && $(q '[data-sensor=cellar] .status').textContent === 'online'"
expect "the freeze alert firing" 25 "[...document.querySelectorAll('#alerts li[data-kind=firing] .rule')].some(e => e.textContent === 'freeze')"
expect "an escalation of the freeze" 10 "[...document.querySelectorAll('#escalations li .rule')].some(e => e.textContent === 'freeze')"
expect "the freeze incident open, with its level" 10 "[...document.querySelectorAll('#incidents li')].some(li => li.querySelector('.rule').textContent === 'freeze' && /^level [0-9]+$/.test(li.querySelector('.level').textContent))"
pass "a reading, an alert, an escalation and an open incident with its level, live"

# Acknowledge, as a person would: dht-escalate records the operator.
page eval "(() => { const li = [...document.querySelectorAll('#incidents li')].find(li => li.querySelector('.rule').textContent === 'freeze'); li.querySelector('button.ack').click(); return Number(li.dataset.incident); })()"
freeze=$(jq -r .value <<<"$ANSWER")
[[ $freeze =~ ^[0-9]+$ ]] || fail "no freeze incident to acknowledge: $ANSWER"
acked() { [ "$(dht-escalate --db "$db" list --json | jq -r "select(.incident_id == $freeze) | .acknowledged_by")" = operator ]; }
wait_for acked || fail "not acknowledged by the operator: $(dht-escalate --db "$db" list --json)"
expect "the page shows the acknowledgement" 10 "$(q "[data-incident=\"$freeze\"] .answer").textContent === 'acknowledged by operator'"
# Resolve the cold incident: recorded, and off the list of open ones.
page eval "(() => { const li = [...document.querySelectorAll('#incidents li')].find(li => li.querySelector('.rule').textContent === 'cold'); li.querySelector('button.resolve').click(); return Number(li.dataset.incident); })()"
cold=$(jq -r .value <<<"$ANSWER")
[[ $cold =~ ^[0-9]+$ ]] || fail "no cold incident to resolve: $ANSWER"
resolved() { [ "$(dht-escalate --db "$db" list --json | jq -r "select(.incident_id == $cold) | \"\(.state) \(.resolved_by)\"")" = "resolved operator" ]; }
wait_for resolved || fail "not resolved by the operator: $(dht-escalate --db "$db" list --json)"
expect "the resolved incident leaves the page's list" 10 "$(q "[data-incident=\"$cold\"]") === null"
pass "Acknowledge and Resolve publish the answers on dht11/incidents/response: dht-escalate records the operator"

# The simulator stops: its sensor says offline, and so does the page.
wait "$sim" || fail "dht-sensor-sim: $(cat "$T/sim.err")"
expect "the cellar offline" 10 "$(q '[data-sensor=cellar] .status').textContent === 'offline'"

# A sensor account named like markup: its name shows as text, nothing runs.
pub -u "$evil" -P "$evil-pw" -t "dht11/$evil/data" -m '{"temperature":21.5,"humidity":40}'
expect "the sensor's name as text" 10 "[...document.querySelectorAll('.sensor .name')].some(e => e.textContent === '$evil')"
page eval "document.querySelectorAll('img').length === 0 && window.pwned === undefined"
assert_eq "no element made of the name, no handler run" true "$(jq -r .value <<<"$ANSWER")"
pass "an injection-shaped sensor name renders literally"

# Not a file missing, no script error, nothing the policy refused.
! grep -q "^page \(exception\|log error\)" "$T/browser.err" || fail "the page complained: $(cat "$T/browser.err")"
page shot "$T/operator.png"
[ "$(head -c 8 "$T/operator.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "no screenshot"
[ -z "${DHT_SCREENSHOT:-}" ] || cp "$T/operator.png" "$DHT_SCREENSHOT"

# The broker goes: the banner; it comes back: the page reconnects by itself.
stop_pid "$BROKER_PID"
expect "the banner" 10 "!$(q '#banner').hidden && getComputedStyle($(q '#banner')).display !== 'none' && $(q '#state').dataset.state === 'lost'"
mosquitto -c "$T/b/mosquitto.conf" 2>/dev/null &
PIDS+=($!)
expect "reconnected" 15 "$(q '#state').dataset.state === 'connected' && $(q '#banner').hidden"
wait_subscribed 'dht-page-[0-9a-f]*' "$BROKER_LOG" 2
pub -u cellar -P cellar-pw -t dht11/cellar/data -m '{"temperature":12.34,"humidity":55}'
expect "a reading after the reconnection" 10 "$(q '[data-sensor=cellar] .temperature').textContent === '12.3 °C'"
pass "the banner while the broker is gone, reconnected by itself when it is back"
! grep -q "^page exception\|Content Security Policy" "$T/browser.err" || fail "the page: $(cat "$T/browser.err")"
printf 'quit\n' >&"${CDP[1]}"
wait "$cdp" || fail "the browser driver: $(cat "$T/browser.err")"
