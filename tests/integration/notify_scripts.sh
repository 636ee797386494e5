#!/usr/bin/env bash
# scripts/notify-slack, notify-telegram and notify-mail, as dht-escalate runs
# them: an incident record on stdin. A stand-in HTTP server records what Slack
# and Telegram would get; a stand-in sendmail what the MTA would. A sensor name
# full of shell and SQL is delivered exactly and never run; secrets stay out of
# every argv; a server error is a failure; headers cannot be injected.
source "$(dirname "$0")/../lib/testlib.sh"
S=$DHT_SRC/scripts
mkdir -p "$T/work" "$T/http" "$T/bin"
cd "$T/work"

# Every curl and jq the scripts run logs its argv, NUL-separated, then runs.
for tool in curl jq; do
    cat >"$T/bin/$tool" <<SH
#!/bin/bash
printf '%s\0' "\$0" "\$@" >>"$T/argv"
exec $(command -v "$tool") "\$@"
SH
    chmod +x "$T/bin/$tool"
done
export PATH="$T/bin:$PATH"

# The stand-in server: request N's path, body and Content-Type in $T/http/N.*,
# N in $T/http/last; answers with the status in $T/http/status (200 if none).
cat >"$T/server.py" <<'PY'
import http.server, sys
port, d = int(sys.argv[1]), sys.argv[2]
count = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        count += 1
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        open(f"{d}/{count}.body", "wb").write(body)
        open(f"{d}/{count}.path", "w").write(self.path)
        open(f"{d}/{count}.type", "w").write(self.headers.get("Content-Type", ""))
        open(f"{d}/last", "w").write(str(count))
        try:
            status = int(open(f"{d}/status").read())
        except FileNotFoundError:
            status = 200
        reply = b'{"ok":true}' if status == 200 else \
            b'{"ok":false,"error_code":500,"description":"Internal Server Error: try later"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
HPORT=$(free_port)
bg python3 "$T/server.py" "$HPORT" "$T/http"
wait_port "$HPORT" || fail "the stand-in HTTP server did not start"
requests() { cat "$T/http/last" 2>/dev/null || echo 0; }
# one_request N: the request after N must be the only one since; sets R to its files' prefix.
one_request() {
    assert_eq "requests to the server" $(( $1 + 1 )) "$(requests)"
    R=$T/http/$(( $1 + 1 ))
}

# shellcheck disable=SC2016,SC1003 # shell text that no shell may ever run
evil='dht11/$(touch PWNED)/`touch PWNED2`"'"'"'; DROP TABLE incidents;--'$'\n''second line ${HOME} %s \'
escalation=$(jq -cn --arg s "$evil" '{kind: "incident", timestamp: "2026-11-24T10:15:30.123Z", incident_id: 7,
    event: "escalation", from_level: 1, to_level: 2, rule: "freeze", sensor: $s, severity: "critical",
    state: "open", level: 2, field: "temperature", value: -1.5, message: "freeze: temperature -1.5 < 0"}')
ack='{"kind":"incident","timestamp":"2026-11-24T10:20:00.000Z","incident_id":7,"event":"acknowledged","rule":"freeze","sensor":"dht11/kitchen/data","severity":"critical","state":"acknowledged","level":2,"by":"ana"}'
no_pwned() {
    [ -z "$(find "$T" "$PWD" -name 'PWNED*' 2>/dev/null)" ] || fail "$1: a sensor name was run by a shell"
}
secret_not_in_argv() {  # secret_not_in_argv WHAT SECRET
    [ -f "$T/argv" ] || fail "$1: no curl or jq ran"
    ! grep -qaF -- "$2" "$T/argv" || fail "$1: the secret is on a command line: $(tr '\0' ' ' <"$T/argv")"
}

# notify-slack.
hook_path=/services/T000/B000/s3cr3tW3bh00k
n=$(requests)
rm -f "$T/argv"
SLACK_WEBHOOK_URL=http://127.0.0.1:$HPORT$hook_path "$S/notify-slack" <<<"$escalation" 2>"$T/err" ||
    fail "notify-slack: exit $?: $(cat "$T/err")"
one_request "$n"
assert_eq "the webhook's path" "$hook_path" "$(cat "$R.path")"
assert_eq "Content-Type" "application/json; charset=utf-8" "$(cat "$R.type")"
jq -e 'type == "object"' "$R.body" >/dev/null || fail "the Slack body is not JSON: $(cat "$R.body")"
assert_eq "the Slack text, the sensor name exactly, < escaped for Slack" \
    "[critical] incident 7 escalation 1→2: freeze on $evil: freeze: temperature -1.5 &lt; 0" "$(jq -j .text "$R.body")"
assert_eq "mrkdwn off, no channel" "false null" "$(jq -j '"\(.mrkdwn) \(.channel)"' "$R.body")"
no_pwned "notify-slack"
secret_not_in_argv "notify-slack" "s3cr3tW3bh00k"
pass "notify-slack: one POST, JSON, the sensor name (\$(…), backticks, quotes, SQL, a newline) exact and never run"

printf 'http://127.0.0.1:%s/hook/from-file\r\nsecond line\n' "$HPORT" >"$T/hook"
n=$(requests)
"$S/notify-slack" --webhook-file "$T/hook" --channel '#ops' --timeout 5 <<<"$ack" 2>"$T/err" ||
    fail "--webhook-file: exit $?: $(cat "$T/err")"
one_request "$n"
assert_eq "--webhook-file: its first line" /hook/from-file "$(cat "$R.path")"
assert_eq "--channel" "#ops" "$(jq -r .channel "$R.body")"
assert_eq "acknowledged" "[critical] incident 7 acknowledged by ana: freeze on dht11/kitchen/data" "$(jq -r .text "$R.body")"
n=$(requests)
jq -c '.event = "opened" | .message = "<!channel> & <@U123>"' <<<"$ack" |
    SLACK_WEBHOOK_FILE=$T/hook "$S/notify-slack" 2>"$T/err" || fail "SLACK_WEBHOOK_FILE: exit $?: $(cat "$T/err")"
one_request "$n"
assert_eq "Slack's control sequences escaped" \
    "[critical] incident 7 opened by ana: freeze on dht11/kitchen/data: &lt;!channel&gt; &amp; &lt;@U123&gt;" \
    "$(jq -r .text "$R.body")"
pass "notify-slack: --webhook-file (CRLF), SLACK_WEBHOOK_FILE, --channel; <!channel> in a message pings no one"

# notify-telegram.
token=123456:AAtest-Secr3t_token
export TELEGRAM_API_URL=http://127.0.0.1:$HPORT/
n=$(requests)
rm -f "$T/argv"
TELEGRAM_BOT_TOKEN=$token "$S/notify-telegram" --chat -100123 <<<"$escalation" 2>"$T/err" ||
    fail "notify-telegram: exit $?: $(cat "$T/err")"
one_request "$n"
assert_eq "the Bot API path" "/bot$token/sendMessage" "$(cat "$R.path")"
assert_eq "chat_id" '"-100123"' "$(jq .chat_id "$R.body")"
assert_eq "the Telegram text, plain" \
    "[critical] incident 7 escalation 1→2: freeze on $evil: freeze: temperature -1.5 < 0" "$(jq -j .text "$R.body")"
no_pwned "notify-telegram"
secret_not_in_argv "notify-telegram" "Secr3t_token"
printf '%s\n' "$token" >"$T/token"
n=$(requests)
TELEGRAM_CHAT_ID=@dht_ops "$S/notify-telegram" --token-file "$T/token" <<<"$ack" 2>"$T/err" ||
    fail "--token-file: exit $?: $(cat "$T/err")"
one_request "$n"
assert_eq "--token-file" "/bot$token/sendMessage" "$(cat "$R.path")"
assert_eq "TELEGRAM_CHAT_ID" '"@dht_ops"' "$(jq .chat_id "$R.body")"
n=$(requests)
TELEGRAM_BOT_TOKEN_FILE=$T/token "$S/notify-telegram" --chat 42 2>"$T/err" <<<'{"incident_id":9,"event":"reminder","rule":"humid","sensor":"dht11/lab/data","severity":"info","state":"open","level":1}' ||
    fail "TELEGRAM_BOT_TOKEN_FILE: exit $?: $(cat "$T/err")"
one_request "$n"
assert_eq "a reminder" "[info] incident 9 reminder (level 1, open): humid on dht11/lab/data" "$(jq -r .text "$R.body")"
pass "notify-telegram: /bot<TOKEN>/sendMessage, chat_id and text, the sensor name exact; token from file or env"

# Neither secret reaches a curl command line in the sources either: the URL goes
# in a here-string config (-K -), not as an argument.
for s in notify-slack notify-telegram; do
    curl_lines=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$S/$s" | grep -E '(^|[^-])curl ' | sed 's/<<<.*//')
    [ -n "$curl_lines" ] || fail "$s: no curl command found"
    ! grep -qE '\$\{?(url|token|base)\b' <<<"$curl_lines" || fail "$s: a secret on curl's command line: $curl_lines"
done
pass "the webhook URL and the token are not in any argv (curl's and jq's logged), nor on curl's line in the sources"

# A server error is a failure, so that dht-escalate retries.
echo 500 >"$T/http/status"
rc=$(exit_code env SLACK_WEBHOOK_URL="http://127.0.0.1:$HPORT/hook" "$S/notify-slack" <<<"$ack" 2>"$T/err")
assert_eq "notify-slack, HTTP 500" 69 "$rc"
assert_contains "notify-slack says so" "$T/err" "notify-slack: the POST to the webhook failed"
rc=$(exit_code env TELEGRAM_BOT_TOKEN="$token" "$S/notify-telegram" --chat 1 <<<"$ack" 2>"$T/err")
assert_eq "notify-telegram, HTTP 500" 69 "$rc"
assert_contains "Telegram's description" "$T/err" "notify-telegram: sendMessage failed (curl status 22): Internal Server Error: try later"
rm "$T/http/status"
rc=$(exit_code env SLACK_WEBHOOK_URL="http://127.0.0.1:$(free_port)/hook" "$S/notify-slack" <<<"$ack" 2>"$T/err")
assert_eq "notify-slack, nothing listening" 69 "$rc"
assert_not_contains "the URL is not printed" "$T/err" "/hook"
pass "HTTP 500 or no server: exit 69, the reason on stderr, no URL"

# Configuration missing: 78 and one line.
unset TELEGRAM_API_URL
one_line_78() {  # one_line_78 WHAT EXPECTED_MESSAGE CMD...
    local what=$1 msg=$2
    shift 2
    assert_eq "$what: exit" 78 "$(exit_code "$@" <<<"$ack" 2>"$T/err")"
    assert_eq "$what: one line" 1 "$(wc -l <"$T/err")"
    assert_contains "$what" "$T/err" "$msg"
}
one_line_78 "no webhook" "notify-slack: no webhook" env -u SLACK_WEBHOOK_URL -u SLACK_WEBHOOK_FILE "$S/notify-slack"
one_line_78 "no token" "notify-telegram: no bot token" \
    env -u TELEGRAM_BOT_TOKEN -u TELEGRAM_BOT_TOKEN_FILE "$S/notify-telegram" --chat 1
one_line_78 "no chat" "notify-telegram: no chat" env -u TELEGRAM_CHAT_ID TELEGRAM_BOT_TOKEN="$token" "$S/notify-telegram"
one_line_78 "a token that is not one" "notify-telegram: the bot token does not look like one" \
    env TELEGRAM_BOT_TOKEN="123:abc/../x?y" "$S/notify-telegram" --chat 1
one_line_78 "a webhook file with no URL" "notify-slack: the webhook URL is not an http(s) URL" \
    "$S/notify-slack" --webhook-file /dev/null
one_line_78 "no recipient" "notify-mail: no recipient" env -u DHT_MAIL_TO "$S/notify-mail"
one_line_78 "no sendmail" "notify-mail: $T/nope: no such program" env DHT_SENDMAIL="$T/nope" "$S/notify-mail" --to a@b
assert_eq "an unreadable --webhook-file" 66 "$(exit_code "$S/notify-slack" --webhook-file "$T/nope" <<<"$ack" 2>/dev/null)"
pass "no webhook, token, chat, recipient or sendmail: exit 78 with one line; an unreadable file 66"

# notify-mail through a stand-in sendmail that keeps its argv and its input.
cat >"$T/bin/sendmail" <<SH
#!/bin/bash
printf '%s\n' "\$@" >"$T/sendmail.argv"
cat >"$T/sendmail.in"
exit \${FAKE_SENDMAIL_STATUS:-0}
SH
chmod +x "$T/bin/sendmail"
export DHT_SENDMAIL=$T/bin/sendmail
# mail_parts: the message as Python's email package reads it, as JSON.
mail_parts() {
    python3 - "$T/sendmail.in" <<'PY'
import email, email.policy, json, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.default)
head = raw.split(b"\n\n", 1)[0]
print(json.dumps({"subject": str(m["subject"]), "to": m["to"] and str(m["to"]), "from": m["from"] and str(m["from"]),
                  "bcc": m["bcc"] and str(m["bcc"]), "cr_in_headers": b"\r" in head,
                  "header_names": [k for k, _ in m.items()], "body": m.get_content()}))
PY
}
injected=$(jq -c '.rule = "freeze\r\nBcc: evil@x"' <<<"$escalation")
DHT_MAIL_TO=ops@example.org "$S/notify-mail" --from 'dht@example.org' <<<"$injected" 2>"$T/err" ||
    fail "notify-mail: exit $?: $(cat "$T/err")"
assert_eq "sendmail's argv" "-t -oi" "$(paste -sd' ' "$T/sendmail.argv")"
mail_parts >"$T/mail.json"
subject=$(jq -r .subject "$T/mail.json")
# shellcheck disable=SC2016
[[ $subject == '[dht critical] incident 7 escalation 1→2: freeze Bcc: evil@x on dht11/$(touch PWNED)/'*… ]] ||
    fail "the subject, one line, cut at 120 characters: [$subject]"
assert_eq "120 characters" 120 "${#subject}"
assert_eq "no Bcc, no CR in the headers" "null false" "$(jq -j '"\(.bcc) \(.cr_in_headers)"' "$T/mail.json")"
assert_eq "headers" "To From Subject MIME-Version Content-Type Content-Transfer-Encoding Auto-Submitted" \
    "$(jq -r '.header_names | join(" ")' "$T/mail.json")"
assert_eq "DHT_MAIL_TO, --from" "ops@example.org dht@example.org" "$(jq -j '"\(.to) \(.from)"' "$T/mail.json")"
jq -j .body "$T/mail.json" >"$T/body"
assert_contains "the summary in the body" "$T/body" "[critical] incident 7 escalation 1→2: freeze"
assert_eq "the record in the body" "$(jq -S . <<<"$injected")" \
    "$(sed -n '/^{$/,/^}$/p' "$T/body" | jq -S .)"
! grep -q $'\r' "$T/body" || fail "a bare CR in the body"
no_pwned "notify-mail"
pass "notify-mail: sendmail -t -oi; a rule with CRLF Bcc: stays inside the subject (encoded, cut); the record in the body"

DHT_MAIL_TO=nobody "$S/notify-mail" --to $'ops@example.org\nBcc: evil@x' <<<"$ack" 2>"$T/err" ||
    fail "--to: exit $?: $(cat "$T/err")"
mail_parts >"$T/mail.json"
assert_eq "--to with a newline: no Bcc" "null" "$(jq -r .bcc "$T/mail.json")"
assert_eq "an ASCII subject, unencoded" \
    "Subject: [dht critical] incident 7 acknowledged by ana: freeze on dht11/kitchen/data" "$(grep '^Subject:' "$T/sendmail.in")"
rc=$(FAKE_SENDMAIL_STATUS=75 DHT_MAIL_TO=a@b exit_code "$S/notify-mail" <<<"$ack" 2>"$T/err")
assert_eq "sendmail's failure, its status" 75 "$rc"
assert_contains "said" "$T/err" "notify-mail: $T/bin/sendmail -t -oi failed with status 75"
pass "notify-mail: --to cannot add a header; an ASCII subject stays plain; sendmail's failure is the exit status"

# Common ground: --help, a bad flag, a bad record.
export SLACK_WEBHOOK_URL=http://127.0.0.1:$HPORT/hook TELEGRAM_BOT_TOKEN=$token TELEGRAM_CHAT_ID=1 DHT_MAIL_TO=a@b
for s in notify-slack notify-telegram notify-mail; do
    "$S/$s" --help >"$T/out" || fail "$s --help: exit $?"
    assert_contains "$s --help" "$T/out" "usage: $s "
    assert_eq "$s --bogus" 64 "$(exit_code "$S/$s" --bogus </dev/null 2>"$T/err")"
    assert_contains "$s --bogus" "$T/err" "$s: unknown option: --bogus"
    for bad in 'not json' '[1,2]' "$ack$ack" ''; do
        assert_eq "$s, stdin [$bad]" 65 "$(exit_code env -u DHT_INCIDENT_ID "$S/$s" <<<"$bad" 2>/dev/null)"
    done
    { printf '{"incident_id":1,"event":"opened","message":"'; head -c 2000000 /dev/zero | tr '\0' x; echo '"}'; } >"$T/big"
    assert_eq "$s, 2 MB on stdin" 65 "$(exit_code "$S/$s" <"$T/big" 2>/dev/null)"
done
n=$(requests)
DHT_INCIDENT_ID=5 DHT_EVENT=resolved DHT_SEVERITY=warning DHT_RULE=cold DHT_SENSOR=dht11/x/data \
    "$S/notify-slack" </dev/null 2>"$T/err" || fail "from the environment: exit $?: $(cat "$T/err")"
one_request "$n"
assert_eq "from the environment" "[warning] incident 5 resolved: cold on dht11/x/data" "$(jq -r .text "$R.body")"
pass "--help 0, a bad flag 64, stdin not one record (or over 1 MiB) 65; an empty stdin uses dht-escalate's environment"
