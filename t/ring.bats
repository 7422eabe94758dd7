#!/usr/bin/env bats
# The ring a node keeps: made on the first start, persisted in the data
# directory, shown by dynctl ring and dynctl tokens.

load helpers
bats_require_minimum_version 1.5.0

teardown() { stop_all_nodes; }

@test "a new node holds a ring of its own: epoch 1, Q from its config, every preference list itself" {
    start_node n1 "  partitions: 64" "  n: 3"
    run -0 dynctl ring --json
    echo "$output" | jq -e '.epoch == 1 and .partitions == 64 and .n == 3'
    echo "$output" | jq -e '(.preference_lists | length) == 64'
    echo "$output" | jq -e '[.preference_lists[] | . == ["n1"]] | all'
    run -0 dynctl ring
    [[ "${lines[0]}" == "epoch 1, 64 partitions, n=3, 1 member" ]]
    assert_eq 66 "${#lines[@]}" "lines: header, column titles, 64 partitions"
}

@test "ring --check passes on a one-node ring and says so" {
    start_node n1
    run -0 dynctl ring --check
    [[ "${lines[-1]}" == "check: no placement violations" ]]
    run -0 dynctl ring --check --json
    echo "$output" | jq -e '.violation_count == 0 and .violations == []'
}

@test "the ring survives a restart and kill -9 unchanged" {
    start_node n1
    dynctl ring --json >"$BATS_TEST_TMPDIR/before"
    stop_node n1
    start_node n1
    dynctl ring --json >"$BATS_TEST_TMPDIR/after"
    cmp "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
    crash_node n1
    start_node n1
    dynctl ring --json >"$BATS_TEST_TMPDIR/after2"
    cmp "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after2"
    [ -s "$(node_dir n1)/data/ring" ]
}

@test "a config that changes cluster.partitions after creation is refused with the reason" {
    start_node n1 "  partitions: 128"
    stop_node n1
    local cfg; cfg="$(node_dir n1)/config.yaml"
    sed -i 's/^  partitions: 128$/  partitions: 64/' "$cfg"
    run timeout 60 dynamod -c "$cfg" -f
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    [[ "$output" == *"cluster.partitions is 64"*"created with 128"* ]]
}

@test "a damaged ring file stops the start with a message naming it" {
    start_node n1
    stop_node n1
    printf 'not a ring' >"$(node_dir n1)/data/ring"
    run timeout 60 dynamod -c "$(node_dir n1)/config.yaml" -f
    [ "$status" -ne 0 ] && [ "$status" -ne 124 ]
    [[ "$output" == *"/ring: not a ring we wrote"* ]]
}

@test "dynctl tokens shows each node's partitions and share; an unknown node exits 1" {
    start_node n1 "  partitions: 32"
    run -0 dynctl tokens
    [[ "${lines[1]}" =~ ^n1\ +127\.0\.0\.1:[0-9]+\ +-\ +32\ +100\.00%$ ]]
    run -0 dynctl tokens n1 --json
    echo "$output" | jq -e '.epoch == 1 and .nodes == [{"name": "n1",
        "address": .nodes[0].address, "zone": null, "partitions": 32,
        "ownership_pct": 100}]'
    run -1 --separate-stderr dynctl tokens nosuchnode
    [[ "$stderr" == "dynctl: tokens: nosuchnode is not a member of the ring" ]]
}

@test "dynctl status reports the ring's epoch and the partitions the node owns" {
    start_node n1 "  partitions: 16"
    run -0 dynctl status --json
    echo "$output" | jq -e '.epoch == 1 and .nodes[0].partitions == 16'
}
