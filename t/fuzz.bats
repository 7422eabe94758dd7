#!/usr/bin/env bats
# t/fuzz.bats - bytes that are not the protocol (lib/dynamo.proto): random
# bytes, bad frame lengths, unknown codes, undecodable bodies, truncated
# frames, many connections; the cluster's requests (admin and node to node)
# with empty, random and mutated bodies, and replica objects that do not
# decode.  The node answers an Error or closes, writes nothing of an
# object that does not decode, and keeps serving everyone else.
#
# Random rounds print their seed and honour DYN_TEST_SEED.  Raw sockets are
# bash's /dev/tcp; every read is bounded by timeout(1), or by read -t in
# the wire client of builtins.

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

# ---- a wire client of bash builtins ----------------------------------------
#
# Starting a process takes milliseconds and bats slows down every command
# of a test, so the tests below that make hundreds of exchanges run these
# functions in one child bash (wire_batch), where a frame is read with
# `read` one byte at a time (bash reads sockets unbuffered, so nothing past
# the frame is consumed) and built with printf -v.  Bytes are hex pairs.

# wire_batch FUNCTION ARGS...: run FUNCTION in a child bash that has the
# client's functions and variables and talks to the node at $NODE_ADDR.
wire_batch() {
    LC_ALL=C WC_ADDR=$NODE_ADDR WC_DEADLINE_S=$DYN_TEST_DEADLINE_S bash -c "
        $(declare -f wc_open wc_close wc_send wc_byte wc_frame wc_eof \
            wc_exchange wc_empty_bodies varint_hex pb_uint pb_bytes pb_text frame_hex \
            fz_random fz_mutate request_template fuzz_new_codes)
        $(declare -p PING_HEX VALID_OBJECT_HEX NEW_REQUEST_CODES)
        trap '' PIPE
        \"\$@\"" wire_batch "$@"
}

# wc_open, wc_close: the connection, fd $WC_FD.
wc_open() { exec {WC_FD}<>"/dev/tcp/${WC_ADDR%:*}/${WC_ADDR##*:}"; }
wc_close() { exec {WC_FD}>&-; }

# wc_send HEX...: a peer that closed makes the write fail; not an error.
wc_send() {
    local esc
    printf -v esc '\\x%s' "$@"
    printf "$esc" 1>&"$WC_FD" 2>/dev/null || true
}

# wc_byte: the next byte, in WC_B (0..255); fails at EOF (WC_WHY=eof) or
# when none comes within the deadline (WC_WHY=timeout).
wc_byte() {
    local c rc=0
    IFS= read -r -n 1 -d '' -t "$WC_DEADLINE_S" -u "$WC_FD" c || rc=$?
    if ((rc == 0)); then
        if [ -z "$c" ]; then WC_B=0; else printf -v WC_B %d "'$c"; fi
        return 0
    fi
    ((rc > 128)) && WC_WHY=timeout || WC_WHY=eof
    return 1
}

# wc_frame: read one frame: WC_CODE, WC_ID (its field 1) and, for an
# Error, WC_TEXT (its message, bytes outside printable ASCII as '?').
wc_frame() {
    local -a h b
    local i len pos tag v shift n c
    for ((i = 0; i < 5; i++)); do wc_byte || return 1; h[i]=$WC_B; done
    len=$((h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3]))
    for ((i = 0; i < len - 1; i++)); do wc_byte || return 1; b[i]=$WC_B; done
    WC_CODE=${h[4]} WC_ID=0 WC_TEXT=""
    pos=0
    while ((pos < len - 1)); do # the fields: varints and length-delimited
        tag=0 shift=0
        while ((b[pos] & 128)); do
            tag=$((tag | (b[pos] & 127) << shift)) shift=$((shift + 7)) pos=$((pos + 1))
        done
        tag=$((tag | b[pos] << shift)) pos=$((pos + 1))
        v=0 shift=0
        case $((tag & 7)) in
        0 | 2)
            while ((b[pos] & 128)); do
                v=$((v | (b[pos] & 127) << shift)) shift=$((shift + 7)) pos=$((pos + 1))
            done
            v=$((v | b[pos] << shift)) pos=$((pos + 1)) ;;
        *) WC_TEXT="(frame not parsed)"; return 0 ;;
        esac
        if ((tag == 8)); then
            WC_ID=$v
        elif ((tag == 0x1a && WC_CODE == 1)); then
            for ((n = pos; n < pos + v; n++)); do
                if ((b[n] >= 32 && b[n] < 127)); then
                    printf -v c %02x "${b[n]}"
                    printf -v c "\\x$c"
                    WC_TEXT+=$c
                else
                    WC_TEXT+="?"
                fi
            done
        fi
        ((tag & 7)) && pos=$((pos + v))
    done
    return 0
}

# wc_eof: the node closes the connection and sends nothing more.
wc_eof() {
    if wc_frame; then
        WC_WHY="a frame of code $WC_CODE instead of a close"
        return 1
    fi
    [ "$WC_WHY" = eof ]
}

# wc_exchange open|closed|auto N HEX...: on a new connection send HEX and
# print the next N frames, one line each: "CODE ID" and for an Error its
# message.  Then "closed" when the node closes the connection, or "open"
# when a ping on it is still answered, or "fail: WHY".  `auto` expects a
# close after an Error saying the body does not decode, else open.
wc_exchange() {
    local mode=$1 n=$2 k
    shift 2
    wc_open || { echo "fail: connect"; return 0; }
    wc_send "$@"
    for ((k = 0; k < n; k++)); do
        if ! wc_frame; then
            echo "fail: $WC_WHY before answer $((k + 1))"
            wc_close
            return 0
        fi
        echo "$WC_CODE $WC_ID${WC_TEXT:+ $WC_TEXT}"
    done
    if [ "$mode" = auto ]; then
        [[ $WC_CODE == 1 && $WC_TEXT == *"does not decode"* ]] && mode=closed ||
            mode=open
    fi
    if [ "$mode" = closed ]; then
        wc_eof && echo closed || echo "fail: $WC_WHY"
    else
        wc_send $PING_HEX
        if ! wc_frame; then
            echo "fail: $WC_WHY instead of a pong"
        elif [ "$WC_CODE $WC_ID" != "3 7" ]; then
            echo "fail: code $WC_CODE id $WC_ID $WC_TEXT instead of a pong"
        else
            echo open
        fi
    fi
    wc_close
}

# wc_empty_bodies open|closed CODE...: for each CODE, wc_exchange with
# a frame of that code and an empty body.
wc_empty_bodies() {
    local mode=$1 code c
    shift
    for code; do
        printf -v c %02x "$code"
        wc_exchange "$mode" 1 00 00 00 01 "$c"
    done
}

# ---- protobuf bodies in hex (lib/dynamo.proto) ------------------------------
#
# Each sets a variable rather than printing, so building a message starts
# no process: pb_* append one field to PB, frame_hex sets FRAME.

# varint_hex N: N (below 2^63) as a protobuf varint, in VARINT.
varint_hex() {
    local n=$1 h
    VARINT=""
    while ((n >= 128)); do
        printf -v h '%02x ' $(((n & 127) | 128))
        VARINT+=$h
        n=$((n >> 7))
    done
    printf -v h '%02x' "$n"
    VARINT+=$h
}

# pb_uint FIELD N: a varint field.
pb_uint() {
    local tag
    printf -v tag '%02x' $(($1 << 3))
    varint_hex "$2"
    PB+=" $tag $VARINT"
}

# pb_bytes FIELD HEX...: a bytes, string or message field.
pb_bytes() {
    local field=$1 tag
    shift
    local -a b=($*)
    printf -v tag '%02x' $((field << 3 | 2))
    varint_hex ${#b[@]}
    PB+=" $tag $VARINT${b[*]:+ ${b[*]}}"
}

# pb_text FIELD TEXT: a string field.
pb_text() {
    local field=$1 text=$2 i h hex=""
    for ((i = 0; i < ${#text}; i++)); do
        printf -v h ' %02x' "'${text:i:1}"
        hex+=$h
    done
    pb_bytes "$field" $hex
}

# frame_hex CODE: FRAME is the frame of message CODE with the body PB.
frame_hex() {
    local -a b=($PB)
    local len=$((${#b[@]} + 1))
    printf -v FRAME '%02x %02x %02x %02x %02x' $((len >> 24)) \
        $(((len >> 16) & 255)) $(((len >> 8) & 255)) $((len & 255)) "$1"
    FRAME+="${b[*]:+ ${b[*]}}"
}

# fz_random N: N random bytes (RANDOM, seeded by the caller) in FZ.
fz_random() {
    local i h
    FZ=""
    for ((i = 0; i < $1; i++)); do
        printf -v h ' %02x' $((RANDOM & 255))
        FZ+=$h
    done
}

# fz_mutate HEX...: HEX with 1 to 4 random mutations (a byte overwritten,
# a bit flipped, a byte inserted, the end cut) in FZ, as the wire test
# mutates bodies.
fz_mutate() {
    local -a b=("$@")
    local n=${#b[@]} k i h
    for ((k = RANDOM % 4 + 1; k > 0; k--)); do
        case $((RANDOM % 4)) in
        0) ((n == 0)) || printf -v "b[RANDOM % n]" %02x $((RANDOM & 255)) ;;
        1) ((n == 0)) || {
            i=$((RANDOM % n))
            printf -v "b[i]" %02x $((0x${b[i]} ^ (1 << RANDOM % 8)))
        } ;;
        2)
            i=$((RANDOM % (n + 1)))
            printf -v h %02x $((RANDOM & 255))
            b=("${b[@]:0:i}" "$h" "${b[@]:i}")
            n=$((n + 1)) ;;
        3) ((n == 0)) || { n=$((RANDOM % n)); b=("${b[@]:0:n}"); } ;;
        esac
    done
    FZ="${b[*]}"
}

# The request codes added with the cluster (dynamo.proto): JoinCmdReq,
# PartitionStatsReq, HandoffReq, ReplicaGetReq, ReplicaPutReq, GossipReq,
# JoinReq, TransferReq.
NEW_REQUEST_CODES=(24 26 28 30 32 34 36 38)

# An object as dyn_object_encode writes it (lib/dvv.h): format 1, vv
# {7: 1}, one sibling with dot (7, 1), ts 0, flags 0 and the value "ok".
VALID_OBJECT_HEX="01 01 07 01 00 01 07 01 00 00 02 6f 6b"

# request_template CODE: PB is a body of request CODE, for mutating.  None
# becomes a valid join by a few mutations (it names another cluster and
# another partition count), nor a join command with a seed to look up in
# DNS (it has no port).
request_template() {
    PB=""
    pb_uint 1 "$1" # the id
    case $1 in
    24) pb_text 2 "no port here" ;;
    30) pb_text 2 key ;;
    32) pb_text 2 key; pb_bytes 3 $VALID_OBJECT_HEX ;;
    34) pb_text 2 test; pb_bytes 3 01 02 03 04 05 06 07 08 ;;
    36)
        pb_text 2 other; pb_uint 3 3; pb_uint 4 99; pb_text 5 x
        pb_text 6 127.0.0.1:1 ;;
    38)
        local id=$PB
        PB=""; pb_text 1 key; pb_bytes 2 $VALID_OBJECT_HEX
        local entry=$PB
        PB=$id; pb_uint 2 0; pb_bytes 3 $entry ;;
    esac
}

# fuzz_new_codes SEED ROUNDS: ROUNDS bodies for each new request code,
# random and mutated by turns, each on its own connection (wc_exchange
# auto); before each result line, "# CODE HEX" names the body.
fuzz_new_codes() {
    local code r
    RANDOM=$1
    for code in "${NEW_REQUEST_CODES[@]}"; do
        for ((r = 1; r <= $2; r++)); do
            if ((r % 2)); then
                fz_random $((1 + RANDOM % 120))
            else
                request_template "$code"
                fz_mutate $PB
            fi
            PB=$FZ
            frame_hex "$code"
            echo "# $code $FZ"
            wc_exchange auto 1 $FRAME
        done
    done
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
    local code want="" out=$BATS_TEST_TMPDIR/out
    # Error, every response, and codes without a message (the node-to-node
    # range, 30..99, is assigned up to 39).
    local codes=(1 3 11 13 21 23 25 27 29 31 33 35 37 39 0 4 9 14 19 40 41 50
        64 98 99 100 127 128 200 254 255)
    for code in "${codes[@]}"; do
        printf -v want '%s1 0 message code %s is not a request this node accepts\nclosed\n' \
            "$want" "$code"
    done
    wire_batch wc_empty_bodies closed "${codes[@]}" >"$out"
    assert_eq "$want" "$(cat "$out")"$'\n' "answers to codes that are not requests"
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
    local out=$BATS_TEST_TMPDIR/out code answer state answers
    wire_batch wc_empty_bodies open "${NEW_REQUEST_CODES[@]}" >"$out"
    # An empty body is a request with every field at its default: each is
    # answered with its response or an Error (id 0), and the connection
    # stays open.
    exec {answers}<"$out"
    for code in "${NEW_REQUEST_CODES[@]}"; do
        read -r answer <&"$answers" || answer=none
        read -r state <&"$answers" || state=none
        echo "# code $code: $answer, $state"
        [[ $answer == "$((code + 1)) 0" || $answer == "1 0 "* ]] ||
            { echo "code $code answered: $answer" >&2; return 1; }
        assert_eq open "$state" "connection after an empty body of code $code"
    done
    exec {answers}<&-
    serving
}

@test "the cluster's request codes with random and mutated bodies leave the node serving" {
    start_node n1
    local seed=${DYN_TEST_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
    echo "# fuzz seed $seed (rerun with DYN_TEST_SEED=$seed)"
    local ring; ring=$(dynctl status --json | jq -c '[.epoch, (.nodes | length)]')
    local out=$BATS_TEST_TMPDIR/out line body code answer answers n=0 closed=0
    wire_batch fuzz_new_codes "$seed" "$ROUNDS" >"$out"
    # Per body: "# CODE HEX", its answer, "open" or "closed".  A body
    # that decodes is answered with its response or an Error and the
    # connection stays open; one that does not gets an Error and a close.
    exec {answers}<"$out"
    while read -r body <&"$answers"; do
        read -r answer <&"$answers" || answer=none
        read -r line <&"$answers" || line=none
        code=${body#\# } && code=${code%% *}
        case "$line:$answer" in
        "open:$((code + 1)) "* | "open:1 "*) ;;
        "closed:1 0 "*"does not decode") closed=$((closed + 1)) ;;
        *) echo "body $body: $answer, then $line" >&2; return 1 ;;
        esac
        n=$((n + 1))
    done
    exec {answers}<&-
    assert_eq $((ROUNDS * ${#NEW_REQUEST_CODES[@]})) "$n" "bodies sent"
    echo "# $closed of $n bodies did not decode"
    # No body made another ring: the templates name another cluster.
    assert_eq "$ring" "$(dynctl status --json | jq -c '[.epoch, (.nodes | length)]')" \
        "ring epoch and members"
    serving
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
        "01 01 00 01 00 01 00 01 00 00 02 6f 6b"    # node 0
        "01 01 07 00 00 01 07 00 00 00 02 6f 6b"    # counter 0
        "01 01 07 01 00 01 07 01 00 02 02 6f 6b"    # unknown flag bit
        "01 01 07 01 00 01 07 01 00 01 02 6f 6b"    # tombstone with a value
        "01 02 07 01 00 07 02 00 00"                # vv node 7 twice
        "01 01 07 02 00 02 07 02 00 00 01 62 07 01 00 00 01 61" # siblings unsorted
    )
    local r
    RANDOM=$seed
    for ((r = 1; r <= ROUNDS; r++)); do # random bytes after the format byte
        fz_random $((16 + RANDOM % 48))
        objects+=("01 $FZ")
    done
    local keys writes
    keys=$(node_status keys)
    writes=$(node_status writes)
    # On one connection: for each object i, ReplicaPutReq{id: i + 1, key:
    # "garbage-i", object} and TransferReq{id: 100 + i, partition: 0,
    # entries: [{the same}]}; then a transfer of a partition the ring does
    # not have, even of a good object.
    local i entry reqs="" want="" out=$BATS_TEST_TMPDIR/out
    for ((i = 0; i < ${#objects[@]}; i++)); do
        PB=""; pb_uint 1 $((i + 1)); pb_text 2 "garbage-$i"; pb_bytes 3 ${objects[i]}
        frame_hex 32
        reqs+=" $FRAME"
        PB=""; pb_text 1 "garbage-$i"; pb_bytes 2 ${objects[i]}
        entry=$PB
        PB=""; pb_uint 1 $((100 + i)); pb_uint 2 0; pb_bytes 3 $entry
        frame_hex 38
        reqs+=" $FRAME"
        want+="1 $((i + 1)) replica put refused: "$'\n'
        want+="1 $((100 + i)) transfer batch refused: "$'\n'
    done
    PB=""; pb_text 1 garbage-p; pb_bytes 2 $VALID_OBJECT_HEX
    entry=$PB
    PB=""; pb_uint 1 99; pb_uint 2 1; pb_bytes 3 $entry
    frame_hex 38
    reqs+=" $FRAME"
    want+="1 99 transfer of partition 1: the ring has 1"$'\n'"open"
    wire_batch wc_exchange open $((2 * ${#objects[@]} + 1)) $reqs >"$out"
    # Every answer is an Error with the request's id; the reason after
    # "refused: " is not compared.
    assert_eq "$want" "$(sed 's/ refused: .*/ refused: /' "$out")" "answers"
    assert_eq "$keys $writes" "$(node_status keys) $(node_status writes)" \
        "keys and writes after the garbage objects"
    run -1 dyn get garbage-0
    run -1 dyn get garbage-p
    serving

    # The same requests with a good object are applied: the refusals above
    # were the objects'.
    PB=""; pb_uint 1 1; pb_text 2 replica-ok; pb_bytes 3 $VALID_OBJECT_HEX
    frame_hex 32
    reqs=$FRAME
    PB=""; pb_text 1 transfer-ok; pb_bytes 2 $VALID_OBJECT_HEX
    entry=$PB
    PB=""; pb_uint 1 2; pb_uint 2 0; pb_bytes 3 $entry
    frame_hex 38
    reqs+=" $FRAME"
    wire_batch wc_exchange open 2 $reqs >"$out"
    assert_eq "$(printf '33 1\n39 2\nopen')" "$(sort "$out")" "answers to good objects"
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
