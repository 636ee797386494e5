#!/usr/bin/env bash
# The broker configurations of scripts/mosquitto/, installed as a sysadmin
# would under /etc/mosquitto but in the temp dir, on real brokers: the ACL's
# three roles and a wrong password, TLS with client certificates from
# make-certs (no certificate, a wrong CA, a wrong host name: refused), MQTT
# over the websockets listener from a Python client, a site broker bridged to
# a central one both ways, and queued QoS 1 messages surviving a restart of
# the central broker (a persistent session's, and the bridge's).
source "$(dirname "$0")/../lib/testlib.sh"
needs_mosquitto "it runs the shipped mosquitto configurations (scripts/mosquitto)"
M=${DHT_SRC:?}/scripts/mosquitto

# Accounts and certificates -----------------------------------------------
mkdir -p "$T/auth"
mosquitto_passwd -c -b "$T/auth/passwd" server server-pw 2>/dev/null
for a in operator:op-pw cellar:cellar-pw attic:attic-pw; do
    mosquitto_passwd -b "$T/auth/passwd" "${a%%:*}" "${a#*:}"
done
printf 'op-pw\n' >"$T/auth/operator.pw"
"$M/make-certs" "$T/certs" localhost operator cellar 2>"$T/make-certs.log" ||
    fail "make-certs: $(cat "$T/make-certs.log")"
# The site broker's certificates, from the same CA.
"$M/make-certs" --ca "$T/certs" "$T/site-certs" localhost bridge-site1 2>>"$T/make-certs.log" ||
    fail "make-certs --ca: $(cat "$T/make-certs.log")"
"$M/make-certs" "$T/other" localhost operator 2>>"$T/make-certs.log" || fail "make-certs (other CA)"
for k in "$T"/certs/*.key "$T"/certs/clients/*.key "$T"/site-certs/*.key "$T"/site-certs/clients/*.key; do
    assert_eq "mode of $k" 600 "$(stat -c %a "$k")"
done
openssl verify -CAfile "$T/certs/ca.crt" "$T/certs/server.crt" "$T/certs/clients/operator.crt" \
    "$T/site-certs/server.crt" "$T/site-certs/clients/bridge-site1.crt" >/dev/null ||
    fail "make-certs' certificates do not verify against its CA"
openssl x509 -in "$T/certs/server.crt" -noout -ext subjectAltName | grep -q 'DNS:localhost' ||
    fail "no subjectAltName in the server certificate"
pass "make-certs: a CA, a server certificate with subjectAltName, client certificates, keys mode 600; --ca for a second broker"

# Brokers from the shipped files ------------------------------------------
declare -A PLAIN TLS WS BPID
# install_broker NAME CERTS: /etc/mosquitto as $T/NAME/etc, with the broker's
# certificates from CERTS; the standard ports moved to free ones on 127.0.0.1,
# the /var and /run paths into $T/NAME, the bridge's central broker to this
# one's TLS port and its retry delay shortened. Debug logging (for
# wait_subscribed) and, as root, "user root" go in front.
install_broker() {
    local name=$1 d=$T/$1 certs=$2
    PLAIN[$name]=$(free_port) TLS[$name]=$(free_port) WS[$name]=$(free_port)
    mkdir -p "$d/etc/conf.d" "$d/etc/certs" "$d/data"
    cp "$M/acl" "$T/auth/passwd" "$d/etc/"
    cp "$certs/ca.crt" "$certs/server.crt" "$certs/server.key" "$d/etc/certs/"
    {
        echo "log_type all"
        [ "$(id -u)" = 0 ] && echo "user root"
        rewrite "$name" "$M/mosquitto.conf"
    } >"$d/etc/mosquitto.conf"
    ! grep -v '^#' "$d/etc/mosquitto.conf" | grep -E ' /(etc|var|run)/' || fail "a path was not moved into $d"
    assert_eq "listeners moved to free ports" 3 "$(grep -cE "^listener [0-9]+ 127\.0\.0\.1$" "$d/etc/mosquitto.conf")"
}
rewrite() {
    local d=$T/$1
    sed -e "s|/etc/mosquitto/|$d/etc/|g" -e "s|/var/lib/mosquitto/|$d/data/|" \
        -e "s|/var/log/mosquitto/|$d/|" -e "s|/run/mosquitto/|$d/|" \
        -e "s|^listener 1883 127.0.0.1\$|listener ${PLAIN[$1]} 127.0.0.1|" \
        -e "s|^listener 8883\$|listener ${TLS[$1]} 127.0.0.1|" \
        -e "s|^listener 9001 127.0.0.1\$|listener ${WS[$1]} 127.0.0.1|" \
        -e "s|central.example.lan:8883|localhost:${TLS[central]:-}|" \
        -e "s|^restart_timeout .*|restart_timeout 1 1|" "$2"  # the bridge retries within 2 s
}
run_broker() {
    mosquitto -c "$T/$1/etc/mosquitto.conf" 2>>"$T/$1/stderr" &
    BPID[$1]=$!
    PIDS+=("$!")
    for p in "${PLAIN[$1]}" "${TLS[$1]}" "${WS[$1]}"; do
        wait_port "$p" || fail "broker $1 did not start: $(cat "$T/$1/stderr" "$T/$1/mosquitto.log" 2>/dev/null)"
    done
}
install_broker central "$T/certs"
run_broker central
CP=${PLAIN[central]}
CLOG=$T/central/mosquitto.log
denied() { grep -q "Denied PUBLISH from $1 " "$CLOG"; }
escalation='{"incident_id":7,"event":"escalation","from_level":1,"to_level":2,"timestamp":"2026-01-04T10:00:00"}'

# The ACL -------------------------------------------------------------------
# The server reads all of dht11/, the operator subscribes to all of it too but
# may read only alerts, incidents, stats, readings and statuses (the
# operator's page), not the answers, and a sensor reads nothing.
bg dht-sub -h 127.0.0.1 -p "$CP" -u server -P server-pw -i srv -q 1 -t 'dht11/#' -C 6 -W 10 -F '%t %p' \
    >"$T/srv" 2>"$T/srv.err"
srv=$BG_PID
bg dht-sub -h localhost -p "$CP" -u operator --password-file "$T/auth/operator.pw" -i op -q 1 -t 'dht11/#' \
    -C 5 -W 10 -F '%t %p' >"$T/op" 2>"$T/op.err"
op=$BG_PID
bg mosquitto_sub -h 127.0.0.1 -p "$CP" -u cellar -P cellar-pw -i sens -q 1 -t dht11/alerts \
    -t dht11/alerts/escalation -t 'dht11/#' -C 1 -W 5 -v >"$T/sens" 2>"$T/sens.err"
sens=$BG_PID
wait_subscribed srv "$CLOG"
wait_subscribed op "$CLOG"
wait_subscribed sens "$CLOG"

# In this order; each publish is acknowledged before the next starts, so what
# a subscriber gets is in this order too. (x: refused by the ACL)
pub -p "$CP" -u server -P server-pw -i s1 -t dht11/alerts -m '{"rule":"cold","state":"firing","sensor":"dht11/cellar/data"}'
pub -p "$CP" -u server -P server-pw -i s2 -t dht11/alerts/escalation -m "$escalation"
kill -0 "$sens" 2>/dev/null || fail "the sensor's mosquitto_sub -W 2 ended before the alerts were published (-W 5)"
pub -p "$CP" -u cellar -P cellar-pw -i c1 -t dht11/cellar/data -m '{"temperature":24.50,"humidity":65.30}'
pub -p "$CP" -u cellar -P cellar-pw -i c2 -t dht11/cellar/status -m online -r
pub -p "$CP" -u cellar -P cellar-pw -i c3 -t homeassistant/sensor/cellar_temperature/config -m '{"name":"cellar"}' -r
pub -p "$CP" -u cellar -P cellar-pw -i x1 -t dht11/attic/data -m forged-reading
pub -p "$CP" -u cellar -P cellar-pw -i x2 -t dht11/alerts -m forged-alert
pub -p "$CP" -u cellar -P cellar-pw -i x3 -t dht11/alerts/escalation -m forged-escalation
pub -p "$CP" -u cellar -P cellar-pw -i x4 -t dht11/incidents/response -m forged-ack
pub -p "$CP" -u operator -P op-pw -i x5 -t dht11/operator/data -m forged-by-operator
pub -p "$CP" -u operator -P op-pw -i x6 -t dht11/alerts/escalation -m forged-by-operator
pub -p "$CP" -u server -P server-pw -i x7 -t dht11/server/data -m forged-by-server
pub -p "$CP" -u operator -P op-pw -i o1 -t dht11/incidents/response -m '{"incident_id":7,"action":"ack","by":"ana"}'
pub -p "$CP" -u server -P server-pw -i s3 -t dht11/stats -m '{"received":1}'

wait "$srv" || fail "server subscriber: $(cat "$T/srv.err")"
assert_eq "what the server account reads" \
"dht11/alerts {\"rule\":\"cold\",\"state\":\"firing\",\"sensor\":\"dht11/cellar/data\"}
dht11/alerts/escalation $escalation
dht11/cellar/data {\"temperature\":24.50,\"humidity\":65.30}
dht11/cellar/status online
dht11/incidents/response {\"incident_id\":7,\"action\":\"ack\",\"by\":\"ana\"}
dht11/stats {\"received\":1}" "$(cat "$T/srv")"
wait "$op" || fail "operator subscriber: $(cat "$T/op.err")"
assert_eq "what the operator account reads of dht11/#" \
"dht11/alerts {\"rule\":\"cold\",\"state\":\"firing\",\"sensor\":\"dht11/cellar/data\"}
dht11/alerts/escalation $escalation
dht11/cellar/data {\"temperature\":24.50,\"humidity\":65.30}
dht11/cellar/status online
dht11/stats {\"received\":1}" "$(cat "$T/op")"
rc=0; wait "$sens" || rc=$?
assert_eq "the sensor's subscription times out (mosquitto_sub -W: 27)" 27 "$rc"
assert_eq "what the sensor account reads of dht11/alerts, dht11/alerts/escalation, dht11/#" "" "$(cat "$T/sens")"
for id in x1 x2 x3 x4 x5 x6 x7; do denied "$id" || fail "no 'Denied PUBLISH from $id' in the broker's log"; done
for id in c1 c2 c3 s1 s2 s3 o1; do ! denied "$id" || fail "publish $id was denied"; done
pass "ACL: sensor cellar writes dht11/cellar/{data,status} and its discovery, not another sensor's topic, alerts or answers"
pass "ACL: the sensor reads nothing (dht11/alerts, dht11/alerts/escalation: mosquitto_sub -C 1 -W 2 gets no message)"
pass "ACL: the operator reads escalations, alerts, stats, readings and statuses but no answers, answers on dht11/incidents/response, forges nothing"
pass "ACL: the server reads dht11/#, writes alerts, escalations and stats, and cannot pose as a sensor"

rc=$(exit_code mosquitto_pub -h 127.0.0.1 -p "$CP" -u operator -P wrong -t dht11/incidents/response -m x 2>"$T/wrong.err")
[ "$rc" != 0 ] || fail "a wrong password was accepted"
assert_contains "mosquitto_pub's reason" "$T/wrong.err" "not authorised"
rc=$(exit_code dht-sub -h 127.0.0.1 -p "$CP" -u operator -P wrong -t dht11/alerts/escalation 2>"$T/wrong2.err")
assert_eq "dht-sub's exit status for a wrong password" 78 "$rc"
rc=$(exit_code mosquitto_pub -h 127.0.0.1 -p "$CP" -t dht11/cellar/data -m x 2>"$T/anon.err")
[ "$rc" != 0 ] || fail "an anonymous client was accepted"
pass "a wrong password is refused (dht-sub exits 78), and so is a client without one"

# TLS with client certificates ----------------------------------------------
C=$T/certs
O=$T/other
CT=${TLS[central]}
# The seed's operator view over TLS: the certificate (CN=operator) is the login.
bg dht-sub -h localhost -p "$CT" --cafile "$C/ca.crt" --cert "$C/clients/operator.crt" --key "$C/clients/operator.key" \
    -i optls -q 1 -t dht11/alerts/escalation -C 1 -W 10 -F "@Y-@m-@d @H:@M:@S | %p" >"$T/optls" 2>"$T/optls.err"
optls=$BG_PID
bg dht-sub -h 127.0.0.1 -p "$CP" -u server -P server-pw -i srvtls -q 1 -t 'dht11/+/data' -C 1 -W 10 -F '%t %p' \
    >"$T/srvtls" 2>"$T/srvtls.err"
srvtls=$BG_PID
wait_subscribed optls "$CLOG"
wait_subscribed srvtls "$CLOG"
tlspub() {  # tlspub CERT_NAME CLIENT_ID mosquitto_pub-args...
    local cert=$1 id=$2
    shift 2
    pub -h localhost -p "$CT" --cafile "$C/ca.crt" --cert "$C/clients/$cert.crt" --key "$C/clients/$cert.key" -i "$id" "$@"
}
# The cellar's certificate is the cellar, whatever user name it sends.
tlspub cellar tx1 -u operator -P op-pw -t dht11/alerts/escalation -m forged-over-tls
tlspub cellar tx2 -t dht11/attic/data -m forged-over-tls
tlspub cellar tc1 -t dht11/cellar/data -m '{"temperature":3.10,"humidity":80.00}'
pub -p "$CP" -u server -P server-pw -i s4 -t dht11/alerts/escalation -m "$escalation"
wait "$optls" || fail "dht-sub over TLS with a client certificate: $(cat "$T/optls.err")"
line=$(cat "$T/optls")
[[ $line =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ \|\ (.*)$ ]] || fail "not the seed's format: $line"
assert_eq "the escalation over TLS" "$escalation" "${BASH_REMATCH[1]}"
wait "$srvtls" || fail "server subscriber: $(cat "$T/srvtls.err")"
assert_eq "the reading sent over TLS" 'dht11/cellar/data {"temperature":3.10,"humidity":80.00}' "$(cat "$T/srvtls")"
grep -q "u'operator'" "$CLOG" || fail "no client logged in as operator"
{ denied tx1 && denied tx2; } || fail "publishes over TLS were not refused by the ACL"
pass "TLS: dht-sub with make-certs' operator certificate logs in as operator (no password) and gets the seed's view"
pass "TLS: the cellar's certificate acts as cellar only, even with -u operator"

# Refusals, in parallel: each dht-sub gives up at once with exit 78 (the
# --connect-timeout only bounds a client that would retry).
tlsfail() {  # tlsfail NAME HOST dht-sub-TLS-args...
    local name=$1 host=$2
    shift 2
    bg dht-sub -h "$host" -p "$CT" -i "$name" -t dht11/alerts/escalation --connect-timeout 2 "$@" \
        >"$T/$name.out" 2>"$T/$name.err"
    eval "pid_$name=\$BG_PID"
}
tlsfail nocert localhost --cafile "$C/ca.crt"
tlsfail wrongca localhost --cafile "$O/ca.crt" --cert "$C/clients/operator.crt" --key "$C/clients/operator.key"
tlsfail wronghost 127.0.0.1 --cafile "$C/ca.crt" --cert "$C/clients/operator.crt" --key "$C/clients/operator.key"
tlsfail foreign localhost --cafile "$C/ca.crt" --cert "$O/clients/operator.crt" --key "$O/clients/operator.key"
for name in nocert wrongca wronghost foreign; do
    pid_var=pid_$name
    rc=0; wait "${!pid_var}" || rc=$?
    assert_eq "dht-sub's exit status ($name)" 78 "$rc"
    assert_eq "nothing received ($name)" "" "$(cat "$T/$name.out")"
done
assert_contains "no certificate's reason" "$T/nocert.err" "give one with --cert and --key"
assert_contains "the wrong CA's reason" "$T/wrongca.err" "give the CA that issued it with --cafile"
assert_contains "the wrong host name's reason" "$T/wronghost.err" "is for localhost, not 127.0.0.1"
assert_contains "the foreign certificate's reason" "$T/foreign.err" "does not accept the client certificate"
pass "TLS refuses a client without a certificate: $(head -1 "$T/nocert.err")"
pass "TLS refuses a broker certificate from another CA: $(head -1 "$T/wrongca.err")"
pass "TLS refuses a broker certificate for another host name (127.0.0.1 for localhost): $(head -1 "$T/wronghost.err")"
pass "TLS refuses a client certificate from another CA: $(head -1 "$T/foreign.err")"

# Websockets ------------------------------------------------------------------
# A real MQTT-over-websockets client in Python's standard library: HTTP upgrade
# with the "mqtt" subprotocol, masked binary frames, CONNECT, SUBSCRIBE, PUBACK.
cat >"$T/ws_mqtt.py" <<'PY'
"""ws_mqtt.py PORT USER PASSWORD CLIENT_ID TOPIC COUNT
Prints "connack RC", "suback CODES", then "TOPIC PAYLOAD qos=Q" per message;
exits 0 after COUNT messages, 2 when the login is refused, 3 on a timeout."""
import base64, hashlib, os, socket, struct, sys

port, user, password, client_id, topic, count = sys.argv[1:7]
port, count = int(port), int(count)
sock = socket.create_connection(("127.0.0.1", port), timeout=10)

def say(line):
    print(line, flush=True)

key = base64.b64encode(os.urandom(16)).decode()
sock.sendall((f"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
              f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
              "Sec-WebSocket-Protocol: mqtt\r\n\r\n").encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = sock.recv(1)
    if not chunk:
        sys.exit("connection closed during the upgrade")
    head += chunk
lines = head.decode("latin-1").split("\r\n")
if " 101 " not in lines[0] + " ":
    sys.exit(f"no upgrade: {lines[0]}")
headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
if headers.get("sec-websocket-accept") != accept:
    sys.exit("bad Sec-WebSocket-Accept")
if headers.get("sec-websocket-protocol") != "mqtt":
    sys.exit(f"subprotocol {headers.get('sec-websocket-protocol')!r}, not mqtt")

def recv_exact(n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data

def send_frame(payload, opcode=0x2):
    """One final frame, masked as a client's must be (RFC 6455 5.3)."""
    head, n = bytes([0x80 | opcode]), len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

def recv_frame():
    """The payload of the next data frame; answers pings, fails on a close."""
    while True:
        b0, b1 = recv_exact(2)
        opcode, n = b0 & 0x0F, b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", recv_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", recv_exact(8))[0]
        mask = recv_exact(4) if b1 & 0x80 else None
        payload = recv_exact(n)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if opcode == 0x8:
            raise EOFError("websocket closed by the broker")
        if opcode == 0x9:
            send_frame(payload, 0xA)
        elif opcode in (0x0, 0x1, 0x2):
            return payload

stream = b""
def recv_packet():
    """(type, flags, body) of the next MQTT packet, however frames cut the stream."""
    global stream
    while True:
        if len(stream) >= 2:
            length, mult, i = 0, 1, 1
            while i < len(stream):
                length += (stream[i] & 0x7F) * mult
                mult *= 128
                i += 1
                if not stream[i - 1] & 0x80:
                    break
            else:
                i = None
            if i is not None and len(stream) >= i + length:
                packet, stream = stream[:i + length], stream[i + length:]
                return packet[0] >> 4, packet[0] & 0x0F, packet[i:]
        stream += recv_frame()

def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b

def packet(first, body):
    n, rl = len(body), b""
    while True:
        digit, n = n % 128, n // 128
        rl += bytes([digit | (0x80 if n else 0)])
        if not n:
            return bytes([first]) + rl + body

try:
    # CONNECT: MQTT 3.1.1, clean session, user name and password, keepalive 60 s.
    send_frame(packet(0x10, utf8("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 60)
                      + utf8(client_id) + utf8(user) + utf8(password)))
    kind, _, body = recv_packet()
    if kind != 2:
        sys.exit(f"expected CONNACK, got packet type {kind}")
    say(f"connack {body[1]}")
    if body[1] != 0:
        sys.exit(2)
    send_frame(packet(0x82, struct.pack("!H", 1) + utf8(topic) + bytes([1])))
    kind, _, body = recv_packet()
    if kind != 9:
        sys.exit(f"expected SUBACK, got packet type {kind}")
    say("suback " + " ".join(str(c) for c in body[2:]))
    got = 0
    while got < count:
        kind, flags, body = recv_packet()
        if kind != 3:
            continue
        qos = (flags >> 1) & 3
        tlen = struct.unpack("!H", body[:2])[0]
        name, rest = body[2:2 + tlen].decode(), body[2 + tlen:]
        if qos:
            send_frame(packet(0x40, rest[:2]))  # PUBACK
            rest = rest[2:]
        say(f"{name} {rest.decode()} qos={qos}")
        got += 1
    send_frame(packet(0xE0, b""))  # DISCONNECT
    send_frame(struct.pack("!H", 1000), 0x8)
except socket.timeout:
    say("timeout")
    sys.exit(3)
PY
bg python3 "$T/ws_mqtt.py" "${WS[central]}" operator op-pw ws1 dht11/alerts/escalation 1 >"$T/ws" 2>"$T/ws.err"
ws=$BG_PID
wait_for grep -q '^suback' "$T/ws" || fail "websocket client never subscribed: $(cat "$T/ws" "$T/ws.err")"
assert_eq "SUBACK over websockets" "suback 1" "$(sed -n 2p "$T/ws")"
pub -p "$CP" -u server -P server-pw -i s5 -t dht11/alerts/escalation -m "$escalation"
wait "$ws" || fail "websocket client: $(cat "$T/ws" "$T/ws.err")"
assert_eq "the escalation over websockets" "dht11/alerts/escalation $escalation qos=1" "$(sed -n 3p "$T/ws")"
rc=0
python3 "$T/ws_mqtt.py" "${WS[central]}" operator wrong ws2 dht11/alerts/escalation 1 >"$T/ws2" 2>&1 || rc=$?
assert_eq "a wrong password over websockets" "2 connack 5" "$rc $(cat "$T/ws2")"
pass "websockets: an MQTT client over a websocket (Python, standard library) logs in as operator and receives an escalation published on 1883"
pass "websockets: the same accounts apply (a wrong password gets CONNACK 5)"

# The bridge: a site broker with conf.d/bridge.conf ------------------------
install_broker site "$T/site-certs"
cp "$T/site-certs/clients/bridge-site1.crt" "$T/site-certs/clients/bridge-site1.key" "$T/site/etc/certs/"
rewrite site "$M/bridge.conf" >"$T/site/etc/conf.d/bridge.conf"
SP=${PLAIN[site]}
SLOG=$T/site/mosquitto.log
run_broker site
# The bridge logs in with its certificate and subscribes to the answers.
wait_subscribed bridge-site1 "$CLOG"
grep -q "as bridge-site1 .*u'bridge-site1'" "$CLOG" || fail "the bridge did not log in as bridge-site1 (see $CLOG)"

bg dht-sub -h 127.0.0.1 -p "$CP" -u server -P server-pw -i central-srv -R -q 1 -t 'dht11/#' -C 3 -W 10 -F '%t %p' \
    >"$T/central-srv" 2>"$T/central-srv.err"
csrv=$BG_PID
bg dht-sub -h 127.0.0.1 -p "$SP" -u server -P server-pw -i site-srv -q 1 -t dht11/incidents/response -C 1 -W 10 \
    -F '%t %p' >"$T/site-srv" 2>"$T/site-srv.err"
ssrv=$BG_PID
wait_subscribed central-srv "$CLOG"
wait_subscribed site-srv "$SLOG"
pub -p "$SP" -u cellar -P cellar-pw -i b1 -t dht11/cellar/data -m '{"temperature":4.20,"humidity":71.00}'
wait_for grep -q 'dht11/cellar/data' "$T/central-srv" || fail "the site's reading never reached the central broker"
pub -p "$CP" -u operator -P op-pw -i b2 -t dht11/incidents/response -m '{"incident_id":9,"action":"ack","by":"ana"}'
wait "$ssrv" || fail "the operator's answer never reached the site: $(cat "$T/site-srv.err")"
assert_eq "the answer at the site" 'dht11/incidents/response {"incident_id":9,"action":"ack","by":"ana"}' "$(cat "$T/site-srv")"
# A last message up the bridge: anything sent back up (a loop) would come before it.
pub -p "$SP" -u server -P server-pw -i b3 -t dht11/stats -m '{"site":"site1"}'
wait "$csrv" || fail "central subscriber: $(cat "$T/central-srv.err")"
assert_eq "what the central broker gets" \
'dht11/cellar/data {"temperature":4.20,"humidity":71.00}
dht11/incidents/response {"incident_id":9,"action":"ack","by":"ana"}
dht11/stats {"site":"site1"}' "$(cat "$T/central-srv")"
! grep -q "Denied PUBLISH from bridge-site1" "$CLOG" || fail "the central ACL refused the bridge: $(grep Denied "$CLOG")"
rc=0
# shellcheck disable=SC2016  # a literal $SYS
sys_connection='$SYS/broker/connection'
mosquitto_sub -h 127.0.0.1 -p "$CP" -u operator -P op-pw -t "$sys_connection/+/state" -C 1 -W 5 -v \
    >"$T/state" 2>&1 || rc=$?
assert_eq "the bridge's state, as the operator sees it on the central broker (exit $rc)" \
    "$sys_connection/bridge-site1/state 1" "$(cat "$T/state")"
pass "bridge: a reading published on the site broker reaches the central one (TLS, client certificate bridge-site1, QoS 1)"
pass "bridge: an operator's answer on the central broker comes back to the site, once, and is not sent up again"
pass "bridge: its state is accepted by the central ACL, and operators read it (\$SYS/broker/connection/bridge-site1/state 1)"

# Persistence -----------------------------------------------------------------
# Two persistent sessions on the central broker while their clients are away:
# an operator's (-c -i op-persist -q 1) and an archiver's of the readings. The
# operator's escalation is queued; then the central broker stops, a sensor
# publishes at the site meanwhile, and the central broker starts again with the
# same configuration: the escalation survived the restart, and the site's
# reading, kept by the bridge's session, arrives when the bridge reconnects.
bg mosquitto_sub -h 127.0.0.1 -p "$CP" -u operator -P op-pw -c -i op-persist -q 1 -t dht11/alerts/escalation \
    >"$T/persist1" 2>&1
wait_subscribed op-persist "$CLOG"
stop_pid "$BG_PID"
bg mosquitto_sub -h 127.0.0.1 -p "$CP" -u server -P server-pw -c -i archiver -q 1 -t 'dht11/+/data' \
    >"$T/archiver1" 2>&1
wait_subscribed archiver "$CLOG"
stop_pid "$BG_PID"
wait_for grep -qE "Client op-persist (disconnected|closed its connection)" "$CLOG" || fail "op-persist never went away"
wait_for grep -qE "Client archiver (disconnected|closed its connection)" "$CLOG" || fail "archiver never went away"
pub -p "$CP" -u server -P server-pw -i s6 -t dht11/alerts/escalation -m "queued while away"
stop_pid "${BPID[central]}"
[ -s "$T/central/data/mosquitto.db" ] || fail "no persistence file in $T/central/data"
pub -p "$SP" -u cellar -P cellar-pw -i b4 -t dht11/cellar/data -m "sent during the outage"
run_broker central
rc=0
mosquitto_sub -h 127.0.0.1 -p "$CP" -u operator -P op-pw -c -i op-persist -q 1 \
    -t dht11/alerts/escalation -C 1 -W 5 >"$T/persist2" 2>&1 || rc=$?
assert_eq "the queued escalation after the restart (exit $rc)" "queued while away" "$(cat "$T/persist2")"
pass "persistence: a QoS 1 message queued for a persistent session survives a broker restart and is delivered"
rc=0
mosquitto_sub -h 127.0.0.1 -p "$CP" -u server -P server-pw -c -i archiver -q 1 \
    -t 'dht11/+/data' -C 1 -W 10 >"$T/archiver2" 2>&1 || rc=$?
assert_eq "the site's reading, after the central broker's outage (exit $rc)" "sent during the outage" "$(cat "$T/archiver2")"
pass "bridge: a reading published at the site while the central broker is down arrives when it is back"
stop_pid "${BPID[site]}"
