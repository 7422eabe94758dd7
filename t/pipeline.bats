#!/usr/bin/env bats
# Pipelining and backpressure: many requests written before any reply is
# read are all answered, in order, also when the node may only work on
# one request of a connection at a time (limits.max_pending: 1).

load helpers

teardown() { stop_all_nodes; }

# ping_frames N CODE: N frames of CODE (2 PingReq, 3 PingResp) with ids
# 1..N (N <= 127) back to back.
ping_frames() {
    local i
    for i in $(seq 1 "$1"); do
        printf '\x00\x00\x00\x03'"$(printf '\\x%02x\\x08\\x%02x' "$2" "$i")"
    done
}

# put_frame KEY VALUE (short ASCII): a PutReq with id 1.
put_frame() {
    local key=$1 value=$2
    local body_len=$((2 + 2 + ${#key} + 2 + ${#value}))
    printf '\x00\x00\x00'"$(printf '\\x%02x' $((body_len + 1)))"'\x0c\x08\x01'
    printf '\x12'"$(printf '\\x%02x' ${#key})"'%s' "$key"
    printf '\x1a'"$(printf '\\x%02x' ${#value})"'%s' "$value"
}

# send_and_read PORT BYTES-FILE REPLY-BYTES OUT-FILE: write all requests,
# then read exactly REPLY-BYTES of replies (bounded by a timeout).
send_and_read() {
    local port=$1 in=$2 want=$3 out=$4
    exec 5<>"/dev/tcp/127.0.0.1/$port"
    cat "$in" >&5
    timeout 15 head -c "$want" <&5 >"$out"
    exec 5>&-
}

@test "pipelined pings are all answered in order" {
    start_node n1
    ping_frames 100 2 >"$BATS_TEST_TMPDIR/req"
    ping_frames 100 3 >"$BATS_TEST_TMPDIR/expected"
    send_and_read "${NODE_ADDR##*:}" "$BATS_TEST_TMPDIR/req" 700 \
        "$BATS_TEST_TMPDIR/resp"
    cmp "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/resp"
}

@test "pipelining past max_pending is held back, not dropped" {
    start_node n1 "limits:" "  max_pending: 1"
    ping_frames 120 2 >"$BATS_TEST_TMPDIR/req"
    ping_frames 120 3 >"$BATS_TEST_TMPDIR/expected"
    send_and_read "${NODE_ADDR##*:}" "$BATS_TEST_TMPDIR/req" 840 \
        "$BATS_TEST_TMPDIR/resp"
    cmp "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/resp"
}

@test "pipelined puts are all applied" {
    start_node n1 "limits:" "  max_pending: 2"
    : >"$BATS_TEST_TMPDIR/req"
    for i in $(seq 1 60); do
        put_frame "pk$i" "value$i" >>"$BATS_TEST_TMPDIR/req"
    done
    exec 5<>"/dev/tcp/127.0.0.1/${NODE_ADDR##*:}"
    cat "$BATS_TEST_TMPDIR/req" >&5
    # Read replies frame by frame (dd bs=1 reads exactly what it is asked
    # for) until 60 PutResp frames have come, each read bounded in time.
    local got=0 len code
    while [ "$got" -lt 60 ]; do
        len=$(timeout 10 dd bs=1 count=4 status=none <&5 | od -An -tu1 |
            awk 'NF == 4 {print $1*16777216+$2*65536+$3*256+$4}')
        [ -n "$len" ] && [ "$len" -gt 0 ] || break
        timeout 10 dd bs=1 count="$len" status=none <&5 >"$BATS_TEST_TMPDIR/frame"
        code=$(od -An -tu1 -N1 "$BATS_TEST_TMPDIR/frame" | tr -d ' ')
        [ "$code" = 13 ] || { echo "reply code $code, not PutResp" >&2; break; }
        got=$((got + 1))
    done
    exec 5>&-
    assert_eq 60 "$got" "PutResp replies"
    for i in 1 30 60; do
        run dyn get "pk$i"
        assert_eq 0 "$status" "exit of get pk$i"
        assert_eq "value$i" "$output"
    done
}
