#!/usr/bin/env bats
# t/identity.bats - a node id belongs to one node: a data directory copied
# to a second node is refused at start, at join and, when both copies
# live, seen through gossip (the newer stops taking writes).  Two nodes
# with one id mint the same dots, and an acknowledged write vanishes.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

# copy_data FROM TO: TO's data directory becomes a copy of FROM's.
copy_data() {
    mkdir -p "$(node_dir "$2")"
    cp -a "$(node_dir "$1")/data" "$(node_dir "$2")/data"
}

node_id_of() { dynctl -H "$1" status --json | jq -r .node.id; }

@test "a node started on a copy of another node's data directory refuses, saying why and what to do" {
    start_node n1
    dyn put k v
    stop_node n1
    copy_data n1 n2
    run start_node n2
    [ "$status" -ne 0 ]
    local log; log=$(node_dir n2)/log
    grep -q "belongs to node n1 (id [0-9a-f]\{16\}, 127.0.0.1:[0-9]*) in its ring, but this config names n2" "$log"
    grep -q "give this node an empty data_dir of its own" "$log"
    # The original starts as before and still holds its write.
    start_node n1
    assert_eq v "$(dyn get k)"
}

@test "a node whose name changed under its data says so and does not start" {
    start_node n1
    stop_node n1
    sed -i 's/^  name: n1$/  name: renamed/' "$(node_dir n1)/config.yaml"
    run start_node_config n1
    [ "$status" -ne 0 ]
    grep -q "belongs to node n1 .* but this config names renamed at 127.0.0.1:" \
        "$(node_dir n1)/log"
    grep -q "If n1 was renamed or moved, put back its name and address" \
        "$(node_dir n1)/log"
}

@test "a seed refuses the join of a node with a member's id, naming both" {
    start_node n1; local a1=$NODE_ADDR
    start_node n3; local a3=$NODE_ADDR
    dynctl -H "$a1" join "$a3" >/dev/null
    # n2 gets n1's id only (its ring is made fresh, naming n2).
    mkdir -p "$(node_dir n2)/data"
    cp "$(node_dir n1)/data/node_id" "$(node_dir n2)/data/node_id"
    start_node n2; local a2=$NODE_ADDR
    assert_eq "$(node_id_of "$a1")" "$(node_id_of "$a2")" "the copied id"
    run -2 dynctl -H "$a2" join "$a3"
    [[ "$output" == *"is already the member n1 ($a1)"* ]]
    [[ "$output" == *"has a copy of its data directory"* ]]
    # The cluster is unchanged: two members, n1 still itself.
    assert_eq 2 "$(dynctl -H "$a3" status --json | jq '.nodes | length')"
    assert_eq "$a1" "$(dynctl -H "$a3" status --json |
        jq -r '.nodes[] | select(.name == "n1") | .address')"
}

# clash_seen HOST: the node at HOST reports an id clash in its status.
clash_seen() {
    dynctl -H "$1" status --json | jq -e '.node.id_clash != null' >/dev/null
}

@test "two live nodes gossiping one id from two addresses both report it; the newer takes no writes" {
    # n3 is a seed both copies gossip with.  n1 joins n4 (n1 gossips with
    # its seed n3 now and then); n2, with n1's id, joins n3 first, before
    # the seed could know better, so both rings name the id at their own
    # node's address.
    start_node n3; local a3=$NODE_ADDR
    start_node n1 "  seeds: [$a3]"; local a1=$NODE_ADDR
    mkdir -p "$(node_dir n2)/data"
    cp "$(node_dir n1)/data/node_id" "$(node_dir n2)/data/node_id"
    start_node n2; local a2=$NODE_ADDR
    dynctl -H "$a2" join "$a3" >/dev/null
    start_node n4; local a4=$NODE_ADDR
    dynctl -H "$a1" join "$a4" >/dev/null
    wait_until clash_seen "$a2"
    wait_until clash_seen "$a1"
    [[ "$(dynctl -H "$a2" status --json | jq -r .node.id_clash)" == "$a1 started first: this node takes no writes" ]]
    [[ "$(dynctl -H "$a1" status --json | jq -r .node.id_clash)" == "$a2 started later and takes no writes" ]]
    # The newer refuses writes it would coordinate; the older goes on.
    run -3 dyn -H "$a2" put k v
    [[ "$output" == *"has this node's id"*"takes no writes"* ]]
    dyn -H "$a1" put k v
    grep -q "gossips this node's id .* too" "$(node_dir n1)/log"
    grep -q "gossips this node's id .* too" "$(node_dir n2)/log"
    grep -q "two nodes share one id" "$(node_dir n3)/log"
}
