#!/usr/bin/env bats
# t/handoff.bats - sloppy quorum and hinted handoff on five nodes (N=3,
# R=W=2): with replicas killed or stopped, writes go to substitutes and
# are acknowledged; the substitutes hand their hints to the replicas once
# they are back, and each replica's own copy (t/owncopy, not a quorum
# read) then holds every acknowledged write.  Nodes are stopped by PID in
# teardown.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

KEYS=60 # keys written while a node is away

owncopy() { "$DYN_BUILDDIR/t/owncopy" "$@"; }

# cluster5: n1..n5 joined (N=3), transfers done; ADDR[i] is node i's.
cluster5() {
    ADDR=()
    for i in 1 2 3 4 5; do
        start_node "n$i" || return 1
        ADDR[i]=$NODE_ADDR
    done
    for i in 2 3 4 5; do
        dynctl -H "${ADDR[i]}" join "${ADDR[1]}" --queue 60 >/dev/null || return 1
    done
    wait_until nothing_left
}

# nothing_left: every member answered, and none has a transfer or a hint.
nothing_left() {
    local out
    out=$(dynctl -H "${ADDR[1]}" -t 2000 handoff --json 2>/dev/null) || return 1
    jq -e '.complete and (.transfers | length == 0) and .hints_pending == 0' \
        <<<"$out" >/dev/null
}

# hints_kept: some member keeps a hint.
hints_kept() {
    dynctl -H "${ADDR[1]}" -t 2000 handoff --json 2>/dev/null |
        jq -e '.hints_pending > 0' >/dev/null
}

# write_keys HOST PREFIX: put PREFIX1..PREFIX$KEYS through HOST; every
# write must be acknowledged; they go to $BATS_TEST_TMPDIR/acked.
write_keys() {
    local k
    for k in $(seq 1 "$KEYS"); do
        dyn -H "$1" -t 8000 put "$2$k" "v$2$k" -w 2 ||
            { echo "write of $2$k not acknowledged" >&2; return 1; }
        echo "$2$k v$2$k" >>"$BATS_TEST_TMPDIR/acked"
    done
}

# replicas_of KEY: the addresses of KEY's replicas, one per line.
replicas_of() {
    owncopy replicas "${ADDR[1]}" "$1" | cut -d' ' -f2- | tr ' ' '\n'
}

# own_copies_hold FILE: each replica's own copy of every "KEY VALUE" of
# FILE holds VALUE.
own_copies_hold() {
    local key value addr got n=0
    while read -r key value; do
        for addr in $(replicas_of "$key"); do
            got=$(owncopy get "$addr" "$key") || return 1
            [[ " $got " == *" $value "* ]] ||
                { echo "$addr's own copy of $key: '$got', not $value" >&2
                  return 1; }
            n=$((n + 1))
        done
    done <"$1"
    echo "# $n own copies checked" >&3
}

@test "a replica killed with kill -9 misses nothing: writes go to substitutes, and their hints reach it after a restart" {
    cluster5
    : >"$BATS_TEST_TMPDIR/acked"
    crash_node n3
    write_keys "${ADDR[1]}" a
    hints_kept
    run -3 --separate-stderr dynctl -H "${ADDR[1]}" handoff # n3: not asked
    [[ "${lines[0]}" == *" hints ("*" bytes) in "*" queue"*"; 4 of 5 members asked; not answering: n3 ("* ]]
    [[ "$output" == *"HOLDER"*"n3 ("*") not answering"* ]]
    local start=$SECONDS
    restart_node n3
    wait_until nothing_left
    echo "# hints handed off $((SECONDS - start)) s after the restart" >&3
    own_copies_hold "$BATS_TEST_TMPDIR/acked"
}

@test "a substitute killed with hints pending hands them off after its own restart" {
    cluster5
    : >"$BATS_TEST_TMPDIR/acked"
    crash_node n3
    write_keys "${ADDR[1]}" b
    # The member keeping the most hints for n3 goes down with them.
    local holder
    holder=$(dynctl -H "${ADDR[1]}" handoff --json |
        jq -r '[.hints[] | select(.count > 0)] | max_by(.count) | .holder')
    [ -n "$holder" ] && [ "$holder" != null ]
    crash_node "$holder"
    restart_node n3
    restart_node "$holder"
    wait_until nothing_left
    own_copies_hold "$BATS_TEST_TMPDIR/acked"
}

@test "with two of five stopped (SIGSTOP), W=2 writes are acknowledged and nothing is lost after SIGCONT" {
    cluster5
    : >"$BATS_TEST_TMPDIR/acked"
    # The detector needs a few answers of each before it can suspect it.
    wait_until heard "${ADDR[1]}" n2
    wait_until heard "${ADDR[1]}" n4
    kill -STOP "$(node_pid n2)" "$(node_pid n4)"
    # Until a node's detector suspects them, a request it forwards to one
    # of them may time out (forward.h): wait for n1's verdict.
    wait_until phi_at_least "${ADDR[1]}" n2 8
    wait_until phi_at_least "${ADDR[1]}" n4 8
    write_keys "${ADDR[1]}" c
    kill -CONT "$(node_pid n2)" "$(node_pid n4)"
    wait_until nothing_left
    own_copies_hold "$BATS_TEST_TMPDIR/acked"
}

@test "a strict write fails where a sloppy one succeeds" {
    cluster5
    crash_node n2
    crash_node n3
    # A key whose replicas include both n2 and n3: W=2 cannot be met by
    # the top N alone.
    local k key=
    for k in $(seq 1 500); do
        if [ "$(replicas_of "s$k" | grep -cxF -e "${ADDR[2]}" -e "${ADDR[3]}")" = 2 ]; then
            key=s$k
            break
        fi
    done
    [ -n "$key" ]
    run -3 dyn -H "${ADDR[1]}" -t 4000 put "$key" x -w 2 --strict
    [[ "$output" == *"quorum not reached"* ]]
    # The failed write may still be on the one replica up (Dynamo's
    # semantics): write over what is there.
    local ctx
    ctx=$(dyn -H "${ADDR[1]}" -t 4000 get "$key" -r 1 --json | jq -r .context) ||
        ctx=
    run -0 dyn -H "${ADDR[1]}" -t 4000 put "$key" y -w 2 --sloppy ${ctx:+-C "$ctx"}
    run -0 dyn -H "${ADDR[1]}" -t 4000 get "$key" -r 2
    [ "$output" = y ]
}
