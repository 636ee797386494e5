#!/usr/bin/env bash
# dht-record on a full disk (a small tmpfs; skipped where mounting is not
# allowed): one clear message, not one per record; the records wait in memory,
# then the input waits; once there is room again every record is stored; and
# a full disk at the end of input is an I/O error (74) that names what was not
# stored. The database is never corrupted and what was committed stays.
source "$(dirname "$0")/../lib/testlib.sh"
use_tools dht-record
mnt=$T/fs
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null; then
    pass "skipped: cannot mount a tmpfs here"
    exit 0
fi
trap 'umount "$mnt" 2>/dev/null; cleanup' EXIT
records() {  # records N: N padded message records, numbered 1 to N
    local n pad=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
    for ((n = 1; n <= $1; n++)); do rec dht11/s/data "{\"n\":$n,\"pad\":\"$pad\"}"; done
}

# Live input on a disk that fills, then gets room again.
head -c 1600000 /dev/zero >"$mnt/filler"
mkfifo "$T/fifo"
exec 3<>"$T/fifo"
dht-record --db "$mnt/h.db" --batch 100 <"$T/fifo" 2>"$T/err" 3>&- &
pid=$!
PIDS+=("$pid")
records 3000 >&3 &
writer=$!
wait_for grep -q "database or disk is full" "$T/err" || fail "no word of the full disk: $(cat "$T/err")"
sleep 3
assert_eq "said once, not once per record or per retry" 1 "$(grep -c "disk is full" "$T/err")"
kill -0 "$pid" || fail "dht-record gave up on a full disk"
rm "$mnt/filler"
wait "$writer"
wait_for grep -q "writing again" "$T/err" || fail "never wrote again: $(cat "$T/err")"
exec 3>&-
wait "$pid" || fail "dht-record exited $? after the disk had room again: $(cat "$T/err")"
assert_eq "every record, in order, and an intact database" "3000 3000 ok" \
    "$(sqlite3 "$mnt/h.db" "SELECT count(*), max(json_extract(payload, '$.n')), (SELECT integrity_check FROM pragma_integrity_check) FROM messages" | tr '|' ' ')"
pass "a full disk: one message, records held then input paused, every record stored once there is room"

# Full at the end of input: a clear error and status 74, the committed rows kept.
rm -f "$mnt"/h.db*
head -c 1700000 /dev/zero >"$mnt/filler"
rc=0
records 3000 | dht-record --db "$mnt/h.db" 2>"$T/err" || rc=$?
assert_eq "a full disk at the end of input" 74 "$rc"
assert_contains "names what was not stored" "$T/err" "still full;"
committed=$(sqlite3 "$mnt/h.db" "SELECT count(*) FROM messages")
assert_eq "the database is intact" ok "$(sqlite3 "$mnt/h.db" "PRAGMA integrity_check")"
assert_eq "what was not stored is what was said" "$((3000 - committed))" "$(grep -o 'still full; [0-9]*' "$T/err" | grep -o '[0-9]*$')"
pass "a full disk at the end of input: exit 74, $((3000 - committed)) records named as not stored, $committed committed and intact"
