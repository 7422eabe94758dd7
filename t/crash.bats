#!/usr/bin/env bats
# t/crash.bats - what a node acknowledged is there after it dies: kill -9
# right after acknowledged puts, kill -9 and SIGTERM while several clients
# write.  A write counts as acknowledged only once `dyn put` exited 0; the
# key and value are recorded after that, never before.
#
# kill -9 kills the process, not the machine: these tests show that an
# acknowledgement comes only after the commit, not that fsync reached the
# disk (that needs a power cut).

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

SYNC_ALWAYS=("storage:" "  engine: lmdb" "  sync: always")

WRITERS=4             # concurrent clients
WRITER_MAX_PUTS=3000  # each writer stops after this many at the latest
ACKS_BEFORE_KILL=60   # acknowledged puts (all writers) before the kill
ACKS_DEADLINE_S=90    # time they may take (sanitizer builds, loaded CI)

# writer W: put w<W>-<i> = <value> until a put fails; record each
# acknowledged one in acked.W.  Values are text of varying length.
writer() {
    local w=$1 i value acked=$BATS_TEST_TMPDIR/acked.$1
    for ((i = 1; i <= WRITER_MAX_PUTS; i++)); do
        value="v$w-$i-$(printf '%*s' $((i % 97)) '' | tr ' ' x)"
        dyn put "w$w-$i" "$value" </dev/null >/dev/null 2>&1 || break
        echo "w$w-$i $value" >>"$acked"
    done
}

# start_writers: $WRITERS writers in the background; their PIDs in
# WRITER_PIDS.
start_writers() {
    WRITER_PIDS=()
    local w
    for ((w = 1; w <= WRITERS; w++)); do
        : >"$BATS_TEST_TMPDIR/acked.$w"
        writer "$w" 3>&- &
        WRITER_PIDS+=($!)
    done
}

acked_count() { cat "$BATS_TEST_TMPDIR"/acked.* | wc -l; }
acked_at_least() { [ "$(acked_count)" -ge "$1" ]; }

# wait_acks: the writers have $ACKS_BEFORE_KILL acknowledged puts.
wait_acks() {
    DYN_TEST_DEADLINE_S=$ACKS_DEADLINE_S wait_until acked_at_least \
        "$ACKS_BEFORE_KILL"
}

# wait_writers: every writer has stopped (they stop at their first failed
# put, so soon after the node is gone).
wait_writers() {
    local pid
    for pid in "${WRITER_PIDS[@]}"; do
        wait_exit "$pid" || { echo "writer $pid did not stop" >&2; return 1; }
    done
}

@test "with sync always, 200 acknowledged puts survive kill -9 right after" {
    start_node n1 "${SYNC_ALWAYS[@]}"
    local acked=$BATS_TEST_TMPDIR/acked i value
    : >"$acked"
    for i in $(seq 1 200); do
        value="value-$i-$RANDOM"
        dyn put "key-$i" "$value" </dev/null >/dev/null 2>&1 &&
            echo "key-$i $value" >>"$acked"
    done
    crash_node n1
    assert_eq 200 "$(wc -l <"$acked")" "acknowledged puts"
    start_node n1 "${SYNC_ALWAYS[@]}"
    check_acked "$acked"
    assert_eq 200 "$(node_status keys)" "keys after restart"
}

@test "with sync always, a binary value acknowledged just before kill -9 is intact" {
    start_node n1 "${SYNC_ALWAYS[@]}"
    local in=$BATS_TEST_TMPDIR/in out=$BATS_TEST_TMPDIR/out
    head -c 500000 /dev/urandom >"$in"
    dyn put blob <"$in"
    crash_node n1
    start_node n1 "${SYNC_ALWAYS[@]}"
    dyn get blob >"$out"
    cmp "$in" "$out"
}

@test "with sync always, every put acknowledged to concurrent writers survives kill -9" {
    start_node n1 "${SYNC_ALWAYS[@]}"
    start_writers
    wait_acks
    crash_node n1 # while the writers are still writing
    wait_writers
    local total; total=$(acked_count)
    [ "$total" -lt $((WRITERS * WRITER_MAX_PUTS)) ] # they were cut off
    start_node n1 "${SYNC_ALWAYS[@]}"
    local w
    for ((w = 1; w <= WRITERS; w++)); do
        check_acked "$BATS_TEST_TMPDIR/acked.$w"
    done
    [ "$(node_status keys)" -ge "$total" ]
}

@test "with sync periodic, acknowledged puts survive kill -9 of the process" {
    # The OS keeps what was committed when only the process dies.
    local periodic=("storage:" "  engine: lmdb" "  sync: periodic"
        "  sync_interval_ms: 3600000")
    start_node n1 "${periodic[@]}"
    start_writers
    wait_acks
    crash_node n1
    wait_writers
    start_node n1 "${periodic[@]}"
    local w
    for ((w = 1; w <= WRITERS; w++)); do
        check_acked "$BATS_TEST_TMPDIR/acked.$w"
    done
}

@test "SIGTERM while writers run: the node exits 0 and keeps every acknowledged write" {
    start_node n1 "${SYNC_ALWAYS[@]}"
    start_writers
    wait_acks
    stop_node n1 # SIGTERM, while the writers are still writing
    assert_eq 0 "$EXIT" "exit status after SIGTERM"
    wait_writers
    start_node n1 "${SYNC_ALWAYS[@]}"
    local w
    for ((w = 1; w <= WRITERS; w++)); do
        check_acked "$BATS_TEST_TMPDIR/acked.$w"
    done
}

@test "SIGTERM with sync none flushes: every acknowledged write is there" {
    local none=("storage:" "  engine: lmdb" "  sync: none")
    start_node n1 "${none[@]}"
    start_writers
    wait_acks
    stop_node n1
    assert_eq 0 "$EXIT" "exit status after SIGTERM"
    wait_writers
    start_node n1 "${none[@]}"
    local w
    for ((w = 1; w <= WRITERS; w++)); do
        check_acked "$BATS_TEST_TMPDIR/acked.$w"
    done
}

@test "SIGINT stops the node like SIGTERM: exit 0, acknowledged writes kept" {
    start_node n1 "${SYNC_ALWAYS[@]}"
    local acked=$BATS_TEST_TMPDIR/acked i
    for i in $(seq 1 20); do
        dyn put "k$i" "v$i" && echo "k$i v$i" >>"$acked"
    done
    local pid; pid=$(node_pid n1)
    kill -INT "$pid"
    wait_exit "$pid"
    assert_eq 0 "$EXIT" "exit status after SIGINT"
    start_node n1 "${SYNC_ALWAYS[@]}"
    check_acked "$acked"
}

@test "a node killed with -9 restarts on its data and takes new writes" {
    start_node n1 "${SYNC_ALWAYS[@]}"
    dyn put before v1
    crash_node n1
    start_node n1 "${SYNC_ALWAYS[@]}"
    dyn put before v2 -C "$(dyn get before --json | jq -r .context)"
    dyn put after v3
    crash_node n1
    start_node n1 "${SYNC_ALWAYS[@]}"
    run -0 dyn get before
    assert_eq v2 "$output"
    run -0 dyn get after
    assert_eq v3 "$output"
}
