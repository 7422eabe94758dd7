#!/usr/bin/env bats
# t/fuzz.bats - bytes that are not the protocol (lib/dynamo.proto): random
# bytes, bad frame lengths, unknown codes, undecodable bodies, truncated
# frames, many connections.  The node answers an Error or closes, and keeps
# serving everyone else.
#
# Random rounds print their seed and honour DYN_TEST_SEED.  Raw sockets are
# bash's /dev/tcp; every read is bounded by timeout(1).

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

ROUNDS=${DYN_TEST_FUZZ_ROUNDS:-8}     # random rounds
MAX_FRAME_BYTES=1115136              # the default: 1 MiB + 1 KiB + 64 KiB
PING_HEX="00 00 00 03 02 08 07"      # PingReq{id: 7}
PONG_HEX="00 00 00 03 03 08 07"      # PingResp{id: 7}

# wire_open: connect fd $WIRE to the node.
wire_open() { exec {WIRE}<>"/dev/tcp/${NODE_ADDR%:*}/${NODE_ADDR##*:}"; }

wire_close() { exec {WIRE}>&-; }

# wire_send HEX...: send bytes given as hex pairs.  A peer that closed
# makes the write fail (EPIPE); that is not the test's failure.
wire_send() {
    local esc; esc=$(printf '\\x%s' $*)
    # shellcheck disable=SC2059
    (printf "$esc" >&"$WIRE") 2>/dev/null || true
}

# wire_send_file FILE
wire_send_file() { (cat "$1" >&"$WIRE") 2>/dev/null || true; }

# wire_read N FILE: read exactly N bytes (fewer on EOF) within the
# deadline; fails on a timeout.
wire_read() {
    local rc=0
    timeout "$DYN_TEST_DEADLINE_S" head -c "$1" <&"$WIRE" >"$2" || rc=$?
    [ "$rc" -ne 124 ] || { echo "no $1 bytes within the deadline" >&2; return 1; }
}

# hex FILE: its bytes as "00 01 ff".
hex() { od -An -v -tx1 "$1" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'; }

# wire_read_frame: read one frame; FRAME_CODE is its code, $FRAME_BODY
# the file with its body.
wire_read_frame() {
    local hdr=$BATS_TEST_TMPDIR/frame.hdr b
    FRAME_BODY=$BATS_TEST_TMPDIR/frame.body
    wire_read 5 "$hdr" || return 1
    local -a b; read -ra b <<<"$(od -An -v -tu1 "$hdr")"
    [ "${#b[@]}" -eq 5 ] || { echo "frame header cut short: ${b[*]}" >&2; return 1; }
    local len=$(((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]))
    FRAME_CODE=${b[4]}
    wire_read $((len - 1)) "$FRAME_BODY" || return 1
    [ "$(wc -c <"$FRAME_BODY")" -eq $((len - 1)) ] ||
        { echo "frame body cut short" >&2; return 1; }
}

# expect_error_frame TEXT: the next frame is an Error (code 1) whose
# message contains TEXT.
expect_error_frame() {
    wire_read_frame
    assert_eq 1 "$FRAME_CODE" "frame code (1 is Error)"
    grep -qaF -- "$1" "$FRAME_BODY" ||
        { echo "Error message lacks '$1': $(cat -v "$FRAME_BODY")" >&2; return 1; }
}

# wire_expect_eof: the node closes the connection within the deadline,
# sending nothing more (a reset counts as closed too).
wire_expect_eof() {
    local rest=$BATS_TEST_TMPDIR/rest rc=0
    timeout "$DYN_TEST_DEADLINE_S" cat <&"$WIRE" >"$rest" 2>/dev/null || rc=$?
    [ "$rc" -ne 124 ] || { echo "connection still open after the deadline" >&2; return 1; }
    [ ! -s "$rest" ] || { echo "unexpected bytes: $(hex "$rest")" >&2; return 1; }
}

# serving: the node is alive and answers other clients correctly.
serving() {
    kill -0 "$(node_pid n1)" || { echo "dynamod is gone" >&2; return 1; }
    local v="still-$RANDOM"
    dyn put fuzz-check "$v" -C "$(dyn get fuzz-check --json | jq -r .context)"
    assert_eq "$v" "$(dyn get fuzz-check)" "value read back"
    dynctl status >/dev/null
}

# open_fds: descriptors the node has open now.
open_fds() { ls "/proc/$(node_pid n1)/fd" | wc -l; }
fds_at_most() { [ "$(open_fds)" -le "$1" ]; }

# fuzz_bytes SEED N: N pseudo-random bytes from SEED.  A separate bash, so
# bats' per-command tracing does not slow the loop down and the caller's
# RANDOM is not reseeded.
fuzz_bytes() {
    bash -c 'RANDOM=$1; esc=""
        for ((i = 0; i < $2; i++)); do
            printf -v b "\\\\x%02x" $((RANDOM & 255)); esc+=$b
        done
        printf "$esc"' fuzz_bytes "$1" "$2"
}

# fuzz_frames SEED N: about N bytes of frames with plausible lengths and
# codes (mostly requests) but random bodies, to reach the protobuf decoder.
fuzz_frames() {
    bash -c 'RANDOM=$1; out=0; esc=""
        codes=(2 10 12 20 2 10 12 20 1 3 11 13 21 30 99 0 255)
        while [ "$out" -lt "$2" ]; do
            len=$((1 + RANDOM % 200))
            code=${codes[RANDOM % ${#codes[@]}]}
            printf -v b "\\\\x%02x" $((len >> 24)) $(((len >> 16) & 255)) \
                $(((len >> 8) & 255)) $((len & 255)) "$code"
            esc+=$b
            for ((i = 1; i < len; i++)); do
                printf -v b "\\\\x%02x" $((RANDOM & 255)); esc+=$b
            done
            out=$((out + len + 4))
        done
        printf "$esc"' fuzz_frames "$1" "$2"
}

# ---- random bytes --------------------------------------------------------

@test "random bytes and random frames leave the node serving other clients" {
    start_node n1
    local seed=${DYN_TEST_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
    echo "# fuzz seed $seed (rerun with DYN_TEST_SEED=$seed)"
    dyn put fuzz-check start
    local r bytes=$BATS_TEST_TMPDIR/fuzz reply=$BATS_TEST_TMPDIR/reply
    for ((r = 1; r <= ROUNDS; r++)); do
        if ((r % 2)); then
            fuzz_bytes $((seed + r)) $((2048 + (seed * r) % 6144)) >"$bytes"
        else
            fuzz_frames $((seed + r)) 4096 >"$bytes"
        fi
        echo "# round $r: $(wc -c <"$bytes") bytes, first: $(head -c 8 "$bytes" | od -An -tx1)"
        wire_open
        wire_send_file "$bytes"
        wire_close
        serving
    done
}

@test "random bytes with an over-long length prefix are answered with an Error" {
    start_node n1
    local seed=${DYN_TEST_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
    echo "# fuzz seed $seed (rerun with DYN_TEST_SEED=$seed)"
    local r bytes=$BATS_TEST_TMPDIR/fuzz
    for ((r = 1; r <= ROUNDS; r++)); do
        # A first byte of 0x20 or more makes the length > max_frame_bytes.
        { printf '\xf0'; fuzz_bytes $((seed + r)) 4095; } >"$bytes"
        wire_open
        wire_send_file "$bytes"
        expect_error_frame max_frame_bytes
        wire_close
        serving
    done
}

# ---- bad frames ------------------------------------------------------------

@test "a frame length over max_frame_bytes gets an Error and the node keeps serving" {
    start_node n1
    wire_open
    wire_send ff ff ff ff
    expect_error_frame max_frame_bytes
    wire_close
    serving
}

@test "a frame one byte over max_frame_bytes is refused before its body is sent" {
    start_node n1
    local len=$((MAX_FRAME_BYTES + 1))
    wire_open
    wire_send "$(printf '%02x %02x %02x %02x' $((len >> 24)) \
        $(((len >> 16) & 255)) $(((len >> 8) & 255)) $((len & 255)))"
    expect_error_frame "max_frame_bytes is $MAX_FRAME_BYTES"
    wire_close
    serving
}

@test "a zero-length frame gets an Error and the node keeps serving" {
    start_node n1
    wire_open
    wire_send 00 00 00 00
    expect_error_frame "malformed frame"
    wire_close
    serving
}

@test "an unknown message code (99) is answered with an Error" {
    start_node n1
    wire_open
    wire_send 00 00 00 01 63 # length 1, code 99, empty body
    expect_error_frame "code 99"
    wire_close
    serving
}

@test "codes that are not requests (Error, responses, peer codes) are answered with an Error" {
    start_node n1
    local code
    for code in 00 01 03 0b 0d 15 1e 50 ff; do
        wire_open
        wire_send 00 00 00 01 "$code"
        expect_error_frame "is not a request"
        wire_close
    done
    serving
}

@test "a request body that does not decode is answered with an Error" {
    start_node n1
    wire_open
    wire_send 00 00 00 03 0a ff ff # GetReq with a broken varint
    expect_error_frame "does not decode"
    wire_close
    serving
}

@test "after an Error for a bad frame the node closes the connection" {
    start_node n1
    local bad
    for bad in "ff ff ff ff" "00 00 00 00" "00 00 00 01 63" \
        "00 00 00 03 0a ff ff"; do
        wire_open
        wire_send $bad
        expect_error_frame ""
        wire_expect_eof
        wire_close
    done
}

@test "a valid ping is answered and the connection stays usable" {
    start_node n1
    wire_open
    wire_send $PING_HEX
    wire_read 7 "$BATS_TEST_TMPDIR/pong"
    assert_eq "$PONG_HEX" "$(hex "$BATS_TEST_TMPDIR/pong")" pong
    wire_send $PING_HEX $PING_HEX
    wire_read 14 "$BATS_TEST_TMPDIR/pong"
    assert_eq "$PONG_HEX $PONG_HEX" "$(hex "$BATS_TEST_TMPDIR/pong")" pongs
    wire_close
}

@test "a truncated frame followed by closing the socket does not hurt the node" {
    start_node n1
    local before; before=$(open_fds)
    wire_open
    wire_send 00 00 00 10 0c 0a 03 # PutReq of 16 bytes, 2 of them sent
    wire_close
    wire_open
    wire_send 00 00 # half a length
    wire_close
    wire_open
    wire_send $PING_HEX 00 00 04 00 0c # a ping, then a frame cut short
    wire_read 7 "$BATS_TEST_TMPDIR/pong"
    assert_eq "$PONG_HEX" "$(hex "$BATS_TEST_TMPDIR/pong")" pong
    wire_close
    serving
    wait_until fds_at_most "$before"
    run -1 dyn get "$(printf '\x03')" # the cut-short put stored nothing
}

@test "many connections opened and dropped leave the node serving, with no fd leak" {
    start_node n1
    local before; before=$(open_fds)
    local i
    for ((i = 0; i < 300; i++)); do
        wire_open
        ((i % 3 == 0)) && wire_send 00 00
        wire_close
    done
    serving
    wait_until fds_at_most "$before"
}

@test "many connections held open at once each get their answer" {
    start_node n1
    local before; before=$(open_fds)
    local fds=() i fd reply=$BATS_TEST_TMPDIR/pong
    for ((i = 0; i < 64; i++)); do
        wire_open
        fds+=("$WIRE")
    done
    for fd in "${fds[@]}"; do
        WIRE=$fd
        wire_send $PING_HEX
    done
    for fd in "${fds[@]}"; do
        WIRE=$fd
        wire_read 7 "$reply"
        assert_eq "$PONG_HEX" "$(hex "$reply")" "pong on fd $fd"
    done
    serving
    for fd in "${fds[@]}"; do exec {fd}>&-; done
    wait_until fds_at_most "$before"
    serving
}

@test "pipelined gets whose replies pass max_output_bytes are all answered" {
    start_node n1 "limits:" "  max_value_bytes: 64KiB" \
        "  max_output_bytes: 256KiB"
    head -c 60000 /dev/zero | tr '\0' v | dyn put big
    local n=20 i req=""
    # GetReq{id: i, key: "big"}
    for ((i = 1; i <= n; i++)); do
        req+=$(printf '00 00 00 08 0a 08 %02x 12 03 62 69 67 ' "$i")
    done
    wire_open
    wire_send $req
    for ((i = 1; i <= n; i++)); do
        wire_read_frame
        assert_eq 11 "$FRAME_CODE" "frame $i code (11 is GetResp)"
    done
    wire_close
}
