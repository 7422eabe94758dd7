#!/usr/bin/env bats
# t/dots.bats - a node never mints a dot twice (lib/dvv.h, "F is A's dot
# floor"; daemon/base/dotlease.h): not after a restart of the memory
# engine, which keeps the node id and loses every key, and not when its
# lease file cannot be written (then puts through it are refused).

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

MEMORY=("storage:" "  engine: memory")
LEASE_STEP=$((1 << 20))            # DOTLEASE_STEP
LEASE_HEADROOM=$(((1 << 20) + 1)) # DOTLEASE_HEADROOM: the lead, and one

# both_members_reachable A1 A2: each node sees the other as reachable.
both_members_reachable() {
    [ "$(dynctl -H "$1" status --json | jq '[.nodes[] | select(.reachable)] | length')" = 2 ] &&
        [ "$(dynctl -H "$2" status --json | jq '[.nodes[] | select(.reachable)] | length')" = 2 ]
}

# live_values ADDR KEY: KEY's live siblings read with R=2 through ADDR,
# sorted, on one line.
live_values() {
    dyn -H "$1" get "$2" -r 2 --json |
        jq -r '[.siblings[] | select(.deleted | not) | .value] | sort | join(" ")'
}

# dot_counters ADDR KEY: the counters of KEY's siblings' dots, one line.
dot_counters() {
    dyn -H "$1" get "$2" -r 2 --json | jq -r '[.siblings[].dot.counter] | join(" ")'
}

# lease NAME: the ceiling in NAME's dot_lease file.
lease() { cat "$(node_dir "$1")/data/dot_lease"; }

@test "a put through a restarted memory node is a sibling of the one before: no dot is minted twice" {
    start_node n1 "${MEMORY[@]}"
    local a1=$NODE_ADDR
    start_node n2 "${MEMORY[@]}"
    local a2=$NODE_ADDR
    dynctl -H "$a2" join "$a1" >/dev/null
    # N=3 capped at 2: both nodes replicate every key.
    wait_until both_members_reachable "$a1" "$a2"
    wait_until transfers_done_at "$a1"
    dyn -H "$a1" put k v1 -w 2
    local before; before=$(dot_counters "$a1" k)
    # n1 comes back with its id and ring, and without k (nothing is read
    # through it before the put: a read would repair its copy).
    stop_node n1
    start_node n1 "${MEMORY[@]}"
    wait_until both_members_reachable "$a1" "$a2"
    # Without a context: a write concurrent with v1, so both must stay.
    dyn -H "$a1" put k v2 -w 2 2>/dev/null
    assert_eq "v1 v2" "$(live_values "$a1" k)" "k read through n1 with R=2"
    assert_eq "v1 v2" "$(live_values "$a2" k)" "k read through n2 with R=2"
    local after; after=$(dot_counters "$a1" k)
    echo "# dot counters: $before before the restart, $after after" >&2
    [ "$(wc -w <<<"$after")" = 2 ]
}

@test "the dot lease is written before the first put and moves ahead across restarts" {
    start_node n1 "${MEMORY[@]}"
    [ ! -e "$(node_dir n1)/data/dot_lease" ]
    dyn put k v1
    local first; first=$(lease n1)
    assert_eq $((LEASE_HEADROOM + LEASE_STEP)) "$first" "first ceiling"
    assert_eq 1 "$(dyn get k --json | jq '.siblings[0].dot.counter')" "first dot"
    stop_node n1
    start_node n1 "${MEMORY[@]}"
    dyn put k v2
    # Above the ceiling: nothing minted before the restart can be met.
    local counter; counter=$(dyn get k --json | jq '.siblings[0].dot.counter')
    [ "$counter" -gt "$first" ]
    [ "$(lease n1)" -gt "$counter" ]
}

@test "a dot lease that cannot be written refuses puts with its error, and they go on once it can" {
    rm -rf "$(node_dir n1)"
    mkdir -p "$(node_dir n1)/data"
    DYN_TEST_WRAP="$BATS_TEST_DIRNAME/small-fs 1m $(node_dir n1)/data" \
        start_node n1 "${MEMORY[@]}"
    local pid; pid=$(node_pid n1)
    # Fill the node's private tmpfs from inside its mount namespace (and
    # its root: under a chroot, entering the namespace alone would put the
    # shell at the namespace's own root, outside the chroot).
    nsenter --target "$pid" --mount --root -- \
        sh -c 'dd if=/dev/zero of="$1/fill" bs=64k 2>/dev/null; true' sh \
        "$(node_dir n1)/data"
    run -5 --separate-stderr dyn put k v1
    [[ "$stderr" == *"No space left on device"* ]]
    grep -q "dot_lease: cannot write it (ENOSPC" "$(node_dir n1)/log"
    run -1 dyn get k
    kill -0 "$pid"
    nsenter --target "$pid" --mount --root -- rm "$(node_dir n1)/data/fill"
    dyn put k v1
    assert_eq v1 "$(dyn get k)" value
    grep -q "dot_lease: written again" "$(node_dir n1)/log"
}

@test "a put with a get's context supersedes a version minted above the floor" {
    start_node n1 "${MEMORY[@]}"
    # Each put moves the node's floor: k's first dot is above what k's
    # vector knows of the node.
    dyn put other x
    dyn put k v1
    assert_eq 2 "$(dyn get k --json | jq '.siblings[0].dot.counter')" "k's dot"
    dyn put k v2 -C "$(dyn get k --json | jq -r .context)"
    run -0 dyn get k --json
    jq -e '.siblings | length == 1 and .[0].value == "v2"' <<<"$output"
}
