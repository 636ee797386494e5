#!/usr/bin/env bash
# libcurl and libmicrohttpd are opened only by the runs that need them:
# --help and --version of every tool load neither (nor does dht-stats
# without --listen or dht-export-influx writing line protocol to stdout),
# while dht-export-influx --url loads libcurl and dht-stats --listen
# loads libmicrohttpd. LD_DEBUG=libs shows what the loader opens.
source "$(dirname "$0")/../lib/testlib.sh"
loaded() {  # loaded OUT CMD...: the libraries CMD had the loader open, in OUT
    local out=$1
    shift
    LD_DEBUG=libs LD_DEBUG_OUTPUT="$T/ld" "$@" >/dev/null 2>"$T/stderr" || true
    cat "$T"/ld.* >"$out" 2>/dev/null || : >"$out"
    rm -f "$T"/ld.*
}
for tool in dht-sub dht-record dht-rules dht-escalate dht-stats dht-export-influx dht-export-graphite dht-sensor-sim; do
    for flag in --help --version; do
        loaded "$T/libs" "$DHT_BIN/$tool/$tool" "$flag"
        assert_contains "$tool $flag runs the loader" "$T/libs" "calling init"
        assert_not_contains "$tool $flag loads no libcurl" "$T/libs" "libcurl"
        assert_not_contains "$tool $flag loads no libmicrohttpd" "$T/libs" "libmicrohttpd"
    done
done
pass "--help and --version of every tool load neither libcurl nor libmicrohttpd"

echo '{"temperature":21.5}' >"$T/in"
loaded "$T/libs" "$DHT_BIN/dht-export-influx/dht-export-influx" --bare-topic s <"$T/in"
assert_not_contains "line protocol to stdout loads no libcurl" "$T/libs" "libcurl"
loaded "$T/libs" "$DHT_BIN/dht-stats/dht-stats" --bare-topic s <"$T/in"
assert_not_contains "dht-stats without --listen loads no libmicrohttpd" "$T/libs" "libmicrohttpd"
pass "runs without HTTP load neither"

port=$(free_port)
loaded "$T/libs" "$DHT_BIN/dht-export-influx/dht-export-influx" --url "http://127.0.0.1:$port" --bare-topic s \
    --database bench --http-timeout 1s --flush-timeout 1s </dev/null
assert_contains "dht-export-influx --url loads libcurl" "$T/libs" "libcurl.so.4"
loaded "$T/libs" "$DHT_BIN/dht-stats/dht-stats" --listen "127.0.0.1:$port" --bare-topic s </dev/null
assert_contains "dht-stats --listen loads libmicrohttpd" "$T/libs" "libmicrohttpd.so.12"
pass "--url loads libcurl, --listen loads libmicrohttpd"
