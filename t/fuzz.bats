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

# fuzz_mutate SEED HEX...: the bytes HEX with 1 to 4 random mutations (a
# byte overwritten, a bit flipped, a byte inserted, the end cut), as the
# wire test mutates bodies.  A separate bash, like fuzz_bytes.
fuzz_mutate() {
    bash -c 'RANDOM=$1; shift; b=("$@"); n=${#b[@]}
        for ((k = RANDOM % 4 + 1; k > 0; k--)); do
            case $((RANDOM % 4)) in
            0) ((n == 0)) || b[RANDOM % n]=$(printf %02x $((RANDOM & 255))) ;;
            1) ((n == 0)) || { i=$((RANDOM % n))
                b[i]=$(printf %02x $((0x${b[i]} ^ (1 << RANDOM % 8)))); } ;;
            2) i=$((RANDOM % (n + 1)))
               b=("${b[@]:0:i}" "$(printf %02x $((RANDOM & 255)))" "${b[@]:i}")
               n=$((n + 1)) ;;
            3) ((n == 0)) || { n=$((RANDOM % n)); b=("${b[@]:0:n}"); } ;;
            esac
        done
        esc=""; for x in "${b[@]}"; do esc+="\\x$x"; done
        printf "$esc"' fuzz_mutate "$@"
}

# ---- protobuf bodies in hex (lib/dynamo.proto) ----------------------------

# varint_hex N: N (below 2^63) as a protobuf varint, in hex pairs.
varint_hex() {
    local n=$1 out=""
    while ((n >= 128)); do
        out+=$(printf '%02x ' $(((n & 127) | 128)))
        n=$((n >> 7))
    done
    printf '%s%02x' "$out" "$n"
}

# text_hex TEXT: the bytes of TEXT in hex pairs.
text_hex() { printf '%s' "$1" | od -An -v -tx1 | tr -s ' \n' '  ' | sed 's/^ //; s/ $//'; }

# pb_uint FIELD N: a varint field.  pb_bytes FIELD HEX...: a bytes,
# string or message field.  Both in hex pairs.
pb_uint() { printf '%02x %s' $(($1 << 3)) "$(varint_hex "$2")"; }
pb_bytes() {
    local field=$1; shift
    local -a b=($*)
    printf '%02x %s %s' $((field << 3 | 2)) "$(varint_hex ${#b[@]})" "${b[*]}"
}

# frame_hex CODE HEX...: the frame of message CODE with the body HEX.
frame_hex() {
    local code=$1; shift
    local -a b=($*)
    local len=$((${#b[@]} + 1))
    printf '%02x %02x %02x %02x %02x %s' $((len >> 24)) $(((len >> 16) & 255)) \
        $(((len >> 8) & 255)) $((len & 255)) "$code" "${b[*]}"
}

# wire_send_body CODE FILE: send a frame of message CODE whose body is FILE.
wire_send_body() {
    local len=$(($(wc -c <"$2") + 1))
    wire_send "$(printf '%02x %02x %02x %02x %02x' $((len >> 24)) \
        $(((len >> 16) & 255)) $(((len >> 8) & 255)) $((len & 255)) "$1")"
    wire_send_file "$2"
}

# wire_answered CODE: a request of message CODE was sent on $WIRE; its
# answer is its response (CODE + 1) or an Error.  An Error for a body that
# does not decode closes the connection (ANSWER=closed); after any other
# answer the connection stays usable and a ping on it is answered
# (ANSWER=open).
wire_answered() {
    local code=$1 pong=$BATS_TEST_TMPDIR/pong
    wire_read_frame || { echo "no answer to a request of code $code" >&2; return 1; }
    if [ "$FRAME_CODE" -eq 1 ] && grep -qaF "does not decode" "$FRAME_BODY"; then
        ANSWER=closed
        wire_expect_eof
        return
    fi
    [ "$FRAME_CODE" -eq $((code + 1)) ] || [ "$FRAME_CODE" -eq 1 ] || {
        echo "code $code answered with a frame of code $FRAME_CODE" >&2
        return 1
    }
    ANSWER=open
    wire_send $PING_HEX
    wire_read 7 "$pong"
    assert_eq "$PONG_HEX" "$(hex "$pong")" "pong after a request of code $code"
}

# ring_is EPOCH MEMBERS: the node's ring is still that one.
ring_is() {
    local st; st=$(dynctl status --json)
    assert_eq "$1 $2" "$(jq -r '"\(.epoch) \(.nodes | length)"' <<<"$st")" \
        "ring epoch and members"
}

# The request codes added with the cluster (dynamo.proto): JoinCmdReq,
# PartitionStatsReq, HandoffReq, ReplicaGetReq, ReplicaPutReq, GossipReq,
# JoinReq, TransferReq.
NEW_REQUEST_CODES=(24 26 28 30 32 34 36 38)

# An object as dyn_object_encode writes it (lib/dvv.h): format 1, vv
# {7: 1}, one sibling with dot (7, 1), ts 0, flags 0 and the value "ok".
VALID_OBJECT_HEX="01 01 07 01 00 01 07 01 00 00 02 6f 6b"

# request_template CODE: a body of request CODE in hex, for mutating.
# None can become a valid join by a few mutations (it names another
# cluster), nor a join command with a seed to resolve (it has no port).
request_template() {
    case $1 in
    24) echo "$(pb_uint 1 1) $(pb_bytes 2 "$(text_hex 'no port here')")" ;;
    26) pb_uint 1 2 ;;
    28) pb_uint 1 3 ;;
    30) echo "$(pb_uint 1 4) $(pb_bytes 2 "$(text_hex key)")" ;;
    32) echo "$(pb_uint 1 5) $(pb_bytes 2 "$(text_hex key)")" \
            "$(pb_bytes 3 $VALID_OBJECT_HEX)" ;;
    34) echo "$(pb_uint 1 6) $(pb_bytes 2 "$(text_hex test)")" \
            "$(pb_bytes 3 01 02 03 04 05 06 07 08)" ;;
    36) echo "$(pb_uint 1 7) $(pb_bytes 2 "$(text_hex other)") $(pb_uint 3 3)" \
            "$(pb_uint 4 99) $(pb_bytes 5 "$(text_hex x)")" \
            "$(pb_bytes 6 "$(text_hex 127.0.0.1:1)")" ;;
    38) echo "$(pb_uint 1 8) $(pb_uint 2 0)" "$(pb_bytes 3 \
            "$(pb_bytes 1 "$(text_hex key)") $(pb_bytes 2 $VALID_OBJECT_HEX)")" ;;
    esac
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

@test "codes that are not requests (Error, responses, unassigned) get an Error and a close" {
    start_node n1
    local code
    # Error, every response, and every code without a message (the
    # node-to-node range ends at 99).
    for code in 1 3 11 13 21 23 25 27 29 31 33 35 37 39 \
        0 4 5 9 14 19 40 41 50 64 98 99 100 127 128 200 254 255; do
        wire_open
        wire_send 00 00 00 01 "$(printf %02x "$code")"
        expect_error_frame "message code $code is not a request"
        wire_expect_eof
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

@test "the cluster's request codes with an empty body are each answered, the connection kept" {
    start_node n1
    local code
    for code in "${NEW_REQUEST_CODES[@]}"; do
        wire_open
        wire_send 00 00 00 01 "$(printf %02x "$code")"
        wire_answered "$code"
        assert_eq open "$ANSWER" "connection after an empty body of code $code"
        wire_close
    done
    serving
}

@test "the cluster's request codes with random and mutated bodies leave the node serving" {
    start_node n1
    dyn put fuzz-check start
    local seed=${DYN_TEST_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
    echo "# fuzz seed $seed (rerun with DYN_TEST_SEED=$seed)"
    local st epoch members
    st=$(dynctl status --json)
    epoch=$(jq -r .epoch <<<"$st")
    members=$(jq -r '.nodes | length' <<<"$st")
    local code r body=$BATS_TEST_TMPDIR/body closed=0
    for code in "${NEW_REQUEST_CODES[@]}"; do
        for ((r = 1; r <= ROUNDS; r++)); do
            if ((r % 2)); then
                fuzz_bytes $((seed + code * 100 + r)) $((1 + (seed + r) % 120)) >"$body"
            else
                fuzz_mutate $((seed + code * 100 + r)) $(request_template "$code") >"$body"
            fi
            wire_open
            wire_send_body "$code" "$body"
            wire_answered "$code" ||
                { echo "code $code, body $(hex "$body")" >&2; return 1; }
            [ "$ANSWER" = open ] || closed=$((closed + 1))
            wire_close
        done
        serving
    done
    echo "# $closed of $((ROUNDS * ${#NEW_REQUEST_CODES[@]})) bodies did not decode"
    # No random body made another ring (the templates name another cluster).
    ring_is "$epoch" "$members"
}

@test "replica puts and transfers of garbage objects get an Error and write nothing" {
    # One partition: every key is in partition 0, so a TransferReq's
    # entries reach the object decoder.
    start_node n1 "  partitions: 1"
    dyn put fuzz-check start
    local seed=${DYN_TEST_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
    echo "# fuzz seed $seed (rerun with DYN_TEST_SEED=$seed)"
    local -a objects=(
        ""                                          # no bytes at all
        "00"                                        # format 0
        "02 01 07 01 00 01 07 01 00 00 02 6f 6b"    # format 2
        "01"                                        # format byte only
        "01 01 07 01 00"                            # no sibling count
        "01 01 07 01"                               # vv entry cut short
        "01 ff ff ff ff 0f"                         # 4 Gi vv entries
        "01 01 07 01 00 ff ff ff ff 0f"             # 4 Gi siblings
        "01 01 07 01 00 01 07 01 00 00 ff ff ff ff 0f 6f" # 4 GiB value
        "01 01 07 01 00 01 07 01 00 00 ff ff ff ff ff ff ff ff ff ff 01" # 11-byte varint
        "01 01 87 00 01 00 01 07 01 00 00 02 6f 6b" # node 7 as a 2-byte varint
        "$VALID_OBJECT_HEX 00"                      # a byte after the object
        "01 01 07 01 00 01 07 01 00 00 03 6f 6b"    # value longer than the rest
        "01 01 07 01 00 01 07 02 00 00 02 6f 6b"    # dot (7, 2) not covered
        "01 00 01 07 01 00 00 02 6f 6b"             # no vv: dot not covered
        "01 01 00 01 00 01 00 01 00 00 02 6f 6b"    # node 0
        "01 01 07 00 00 01 07 00 00 00 02 6f 6b"    # counter 0
        "01 01 07 01 00 01 07 01 00 02 02 6f 6b"    # unknown flag bit
        "01 01 07 01 00 01 07 01 00 01 02 6f 6b"    # tombstone with a value
        "01 02 07 01 00 07 02 00 00"                # vv node 7 twice
        "01 01 07 02 00 02 07 02 00 00 01 62 07 01 00 00 01 61" # siblings unsorted
    )
    local r
    for ((r = 1; r <= ROUNDS; r++)); do # random bytes after the format byte
        objects+=("01 $(fuzz_bytes $((seed + r)) $((16 + (seed * r) % 48)) | od -An -v -tx1)")
    done
    local keys writes
    keys=$(node_status keys)
    writes=$(node_status writes)
    local i key entry err=$BATS_TEST_TMPDIR/err
    wire_open
    for ((i = 0; i < ${#objects[@]}; i++)); do
        key=$(text_hex "garbage-$i")
        # ReplicaPutReq{id: i + 1, key, object}
        wire_send "$(frame_hex 32 "$(pb_uint 1 $((i + 1))) $(pb_bytes 2 $key)" \
            "$(pb_bytes 3 ${objects[i]})")"
        wire_answered 32 || { echo "object $i: ${objects[i]}" >&2; return 1; }
        assert_eq "1 open" "$FRAME_CODE $ANSWER" "answer to replica put of object $i"
        assert_eq "$(pb_uint 1 $((i + 1)))" "$(hex "$FRAME_BODY" | cut -d' ' -f1-2)" \
            "id of the Error for object $i"
        # TransferReq{id: 100 + i, partition: 0, entries: [{key, object}]}
        entry=$(pb_bytes 3 "$(pb_bytes 1 $key) $(pb_bytes 2 ${objects[i]})")
        wire_send "$(frame_hex 38 "$(pb_uint 1 $((100 + i))) $(pb_uint 2 0) $entry")"
        wire_answered 38 || { echo "object $i: ${objects[i]}" >&2; return 1; }
        assert_eq "1 open" "$FRAME_CODE $ANSWER" "answer to transfer of object $i"
    done
    # A transfer of a partition the ring does not have, even of a good object.
    entry=$(pb_bytes 3 "$(pb_bytes 1 "$(text_hex garbage-p)") $(pb_bytes 2 $VALID_OBJECT_HEX)")
    wire_send "$(frame_hex 38 "$(pb_uint 1 99) $(pb_uint 2 1) $entry")"
    expect_error_frame "the ring has 1"
    wire_close
    assert_eq "$keys $writes" "$(node_status keys) $(node_status writes)" \
        "keys and writes after the garbage objects"
    run -1 dyn get garbage-0
    run -1 dyn get garbage-p
    serving

    # The same requests with a good object are applied: the refusals above
    # were the objects'.
    wire_open
    wire_send "$(frame_hex 32 "$(pb_uint 1 1) $(pb_bytes 2 "$(text_hex replica-ok)")" \
        "$(pb_bytes 3 $VALID_OBJECT_HEX)")"
    wire_answered 32
    assert_eq 33 "$FRAME_CODE" "answer to a replica put of a good object"
    entry=$(pb_bytes 3 "$(pb_bytes 1 "$(text_hex transfer-ok)") $(pb_bytes 2 $VALID_OBJECT_HEX)")
    wire_send "$(frame_hex 38 "$(pb_uint 1 2) $(pb_uint 2 0) $entry")"
    wire_answered 38
    assert_eq 39 "$FRAME_CODE" "answer to a transfer of a good object"
    wire_close
    assert_eq "$((keys + 2))" "$(node_status keys)" "keys after two good objects"
    assert_eq ok "$(dyn get replica-ok)" "value merged by the replica put"
    assert_eq ok "$(dyn get transfer-ok)" "value merged by the transfer"
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
