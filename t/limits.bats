#!/usr/bin/env bats
# Limits that refuse a write must refuse it whole and lose nothing:
# a full store, a full disk, and a key at max_siblings.

load helpers

teardown() { stop_all_nodes; }

# put_until_refused: put $BATS_TEST_TMPDIR/value under big1, big2, ...
# (at most 200) until a put fails; sets acked (the last key put) and
# status_full (the failed put's exit status, empty if none failed), with
# its message in $BATS_TEST_TMPDIR/err.
put_until_refused() {
    local i
    acked=0 status_full=
    for i in $(seq 1 200); do
        if dyn put "big$i" <"$BATS_TEST_TMPDIR/value" 2>"$BATS_TEST_TMPDIR/err"; then
            acked=$i
        else
            status_full=$?
            return 0
        fi
    done
}

@test "a full store refuses writes with a clear error and keeps every acknowledged key" {
    start_node n1 "storage:" "  engine: lmdb" "  sync: always" "  max_bytes: 1MiB"
    head -c 20000 /dev/urandom >"$BATS_TEST_TMPDIR/value"
    local i acked status_full
    put_until_refused
    [ -n "$status_full" ] || { echo "200 puts of 20 KB fit in 1 MiB?" >&2; return 1; }
    assert_eq 5 "$status_full" "exit status of a put into a full store"
    grep -q "store full" "$BATS_TEST_TMPDIR/err"
    [ "$acked" -gt 5 ]
    # Everything acknowledged reads back, before and after a restart.
    for i in 1 $((acked / 2)) "$acked"; do
        dyn get "big$i" >"$BATS_TEST_TMPDIR/got"
        cmp "$BATS_TEST_TMPDIR/value" "$BATS_TEST_TMPDIR/got"
    done
    stop_node n1
    assert_eq 0 "$EXIT" "exit status of the stopped node"
    start_node n1 "storage:" "  engine: lmdb" "  sync: always" "  max_bytes: 1MiB"
    for i in $(seq 1 "$acked"); do
        dyn get "big$i" >"$BATS_TEST_TMPDIR/got"
        cmp "$BATS_TEST_TMPDIR/value" "$BATS_TEST_TMPDIR/got"
    done
    # Small writes that fit still work, or are refused the same way.
    run dyn put small x
    [ "$status" -eq 0 ] || [ "$status" -eq 5 ]
}

@test "a put past max_siblings is refused naming the count and keeps every sibling" {
    start_node n1 "limits:" "  max_siblings: 3" "  sibling_warn: 2"
    dyn put k v1 2>/dev/null
    dyn put k v2 2>/dev/null
    dyn put k v3 2>/dev/null
    run dyn put k v4
    assert_eq 5 "$status" "exit status of the refused put"
    [[ "$output" == "dyn: put k: "*"3 siblings"* ]]
    run dyn get k --json
    assert_eq '["v1","v2","v3"]' "$(echo "$output" | jq -c '[.siblings[].value] | sort')"
    # The node warned before the limit was reached.
    grep -q "key k has 2 siblings" "$(node_dir n1)/log"
    # A put with the context of a read still supersedes them all.
    dyn put k merged -C "$(dyn get k --json | jq -r .context)"
    run dyn get k
    assert_eq 0 "$status"
    assert_eq merged "$output"
}

@test "a full disk refuses writes with a clear error, and the node lives on" {
    # Pages written through LMDB's shared map: a page first dirtied on a
    # full disk would be a SIGBUS, unless its blocks were allocated
    # before.  Copied pages: the pwrite at commit would fail short, which
    # LMDB reports as EIO.  Both ways the write that meets the full disk
    # is refused first, with its name.
    local mode
    for mode in map copy; do
        full_disk_refuses_writes "$mode"
    done
}

# full_disk_refuses_writes MODE: the test above, with page_writes MODE.
full_disk_refuses_writes() {
    rm -rf "$(node_dir n1)"
    mkdir -p "$(node_dir n1)/data"
    DYN_TEST_WRAP="$BATS_TEST_DIRNAME/small-fs 8m $(node_dir n1)/data" \
        start_node n1 "storage:" "  engine: lmdb" "  sync: periodic" \
        "  page_writes: $1"
    dynctl status | grep -q "page writes $1"
    head -c 65536 /dev/urandom >"$BATS_TEST_TMPDIR/value"
    local i acked status_full
    put_until_refused
    [ -n "$status_full" ] || { echo "200 puts of 64 KiB fit in 8 MiB?" >&2; return 1; }
    cat "$BATS_TEST_TMPDIR/err" >&2
    assert_eq 5 "$status_full" "exit status of a put onto a full disk"
    grep -q "No space left on device" "$BATS_TEST_TMPDIR/err"
    [ "$acked" -gt 50 ]
    kill -0 "$(node_pid n1)"
    # Refused again, not crashed, on the next try; the node still serves.
    run dyn put "big$((acked + 1))" <"$BATS_TEST_TMPDIR/value"
    assert_eq 5 "$status" "exit status of a second put onto a full disk"
    for i in $(seq 1 "$acked"); do
        dyn get "big$i" >"$BATS_TEST_TMPDIR/got"
        cmp "$BATS_TEST_TMPDIR/value" "$BATS_TEST_TMPDIR/got"
    done
    # Deletes and shrinking overwrites on the full disk, many at once so
    # that they share commits: each frees pages whose numbers the commit
    # must save.  They may succeed or be refused, but the node lives.
    local pids=() deleted=10
    for i in $(seq 1 "$deleted"); do
        dyn del "big$i" >/dev/null 2>&1 &
        pids+=($!)
        echo small | dyn put "big$((deleted + i))" >/dev/null 2>&1 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || true; done
    kill -0 "$(node_pid n1)"
    dynctl status >/dev/null
    for i in $(seq $((2 * deleted + 1)) "$acked"); do
        dyn get "big$i" >"$BATS_TEST_TMPDIR/got"
        cmp "$BATS_TEST_TMPDIR/value" "$BATS_TEST_TMPDIR/got"
    done
    stop_node n1
    assert_eq 0 "$EXIT" "exit status of the stopped node"
}
