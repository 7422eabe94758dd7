#!/usr/bin/env bats
# t/cluster.bats - multi-node clusters on loopback: joins under load,
# transfers, quorums with a node stopped or killed, restarts.
#
# Nodes run with the default n=3 r=2 w=2 and 256 partitions; every node
# is started by PID and stopped in teardown, also when a test fails.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

# epochs_agree COUNT EPOCH: nodes 1..COUNT all hold ring EPOCH.
epochs_agree() {
    local i
    for i in $(seq 1 "$1"); do
        [ "$(dynctl -H "${ADDR[i]}" status --json | jq .epoch)" = "$2" ] ||
            return 1
    done
}

# check_acked_at HOST R FILE: every "KEY VALUE" of FILE reads back as
# VALUE from HOST with read quorum R.
check_acked_at() {
    local host=$1 r=$2 key value got n=0
    while read -r key value; do
        got=$(dyn -H "$host" get "$key" -r "$r") ||
            { echo "acknowledged $key not read from $host (r=$r)" >&2; return 1; }
        assert_eq "$value" "$got" "value of $key read from $host" || return 1
        n=$((n + 1))
    done <"$3"
    echo "# $n keys read back from $host with r=$r"
}

# writer HOST COUNT: put w1..wCOUNT through HOST until told to stop; each
# acknowledged write is appended to $BATS_TEST_TMPDIR/acked.
writer() {
    local host=$1 i=0
    while [ ! -e "$BATS_TEST_TMPDIR/stop-writer" ] && [ $i -lt "$2" ]; do
        i=$((i + 1))
        if dyn -H "$host" put "w$i" "v$i" 2>>"$BATS_TEST_TMPDIR/writer.err"; then
            echo "w$i v$i" >>"$BATS_TEST_TMPDIR/acked"
        fi
    done
}

acked_count() { wc -l <"$BATS_TEST_TMPDIR/acked" 2>/dev/null || echo 0; }

# more_acked N: the writer acknowledged more than N writes.
more_acked() { [ "$(acked_count)" -gt "$1" ]; }

# overwrite HOST KEY VALUE [W]: read KEY's context (R=2), put VALUE over
# it (W=2 unless given), as a client that reads before it writes does.
overwrite() {
    local ctx
    ctx=$(dyn -H "$1" -t 4000 get "$2" -r 2 --json | jq -r .context) || return 1
    dyn -H "$1" -t 4000 put "$2" "$3" -C "$ctx" -w "${4:-2}"
}

member_reachable_is() { # HOST NAME true|false
    [ "$(dynctl -H "$1" status --json |
        jq -r ".nodes[] | select(.name == \"$2\") | .reachable")" = "$3" ]
}
member_unreachable() { member_reachable_is "$1" "$2" false; }
member_reachable() { member_reachable_is "$1" "$2" true; }

@test "a cluster grows from 1 to 5 nodes by join while a writer writes; nothing acknowledged is lost" {
    start_nodes 5
    : >"$BATS_TEST_TMPDIR/acked"
    writer "${ADDR[1]}" 3000 3>&- &
    local wpid=$!
    echo "$wpid" >>"$BATS_TEST_TMPDIR/pids"
    for i in 2 3 4 5; do
        local before; before=$(acked_count)
        dynctl -H "${ADDR[i]}" join "${ADDR[1]}" --queue 60
        # Writes land while the ring changes and transfers run.
        wait_until more_acked $((before + 20))
    done
    wait_until more_acked $(($(acked_count) + 20))
    touch "$BATS_TEST_TMPDIR/stop-writer"
    wait "$wpid"
    echo "# $(acked_count) writes acknowledged during the joins"
    if [ -s "$BATS_TEST_TMPDIR/writer.err" ]; then
        echo "# writer errors:"; sort "$BATS_TEST_TMPDIR/writer.err" | uniq -c
    fi
    wait_until transfers_done
    wait_until epochs_agree 5 5
    dynctl ring --check
    # Every node replicates or forwards: read everything from each, R=N.
    for i in 1 2 3 4 5; do
        check_acked_at "${ADDR[i]}" 3 "$BATS_TEST_TMPDIR/acked"
    done
    # Balanced: 256 partitions over 5 nodes is 51 or 52 each.
    run -0 dynctl tokens --json
    [ "$(jq '[.nodes[].partitions] | min' <<<"$output")" -ge 51 ]
    [ "$(jq '[.nodes[].partitions] | max' <<<"$output")" -le 52 ]
}

@test "with one of 5 nodes stopped, then killed, reads and writes with R=W=2 succeed for every key" {
    start_nodes 5
    join_all 5
    wait_until epochs_agree 5 5
    for k in $(seq 1 60); do
        dyn -H "${ADDR[$((k % 5 + 1))]}" put "k$k" "a$k" -w 3
    done
    wait_until transfers_done

    kill -STOP "$(node_pid n3)"
    for i in 1 2 4 5; do wait_until member_unreachable "${ADDR[i]}" n3; done
    local entry live=(1 2 4 5)
    for k in $(seq 1 60); do
        entry=${ADDR[${live[k % 4]}]}
        run -0 dyn -H "$entry" -t 4000 get "k$k" -r 2
        assert_eq "a$k" "$output" "k$k with n3 stopped"
        overwrite "$entry" "k$k" "b$k"
    done

    kill -KILL "$(node_pid n3)"
    for k in $(seq 1 60); do
        entry=${ADDR[${live[k % 4]}]}
        run -0 dyn -H "$entry" -t 4000 get "k$k" -r 2
        assert_eq "b$k" "$output" "k$k with n3 killed"
        overwrite "$entry" "k$k" "c$k"
        run -0 dyn -H "$entry" -t 4000 get "k$k" -r 2
        assert_eq "c$k" "$output" "k$k rewritten with n3 killed"
    done
}

@test "a quorum that cannot be met is exit 3, naming how many replicas answered" {
    start_nodes 3
    join_all 3
    wait_until epochs_agree 3 3
    dyn put q1 one -w 3
    kill_node n3
    run -3 dyn -t 3000 put q1 two -w 3
    [[ "$output" == *"write quorum not reached: 2 of 3 replicas answered"* ]]
    run -3 dyn -t 3000 get q1 -r 3
    [[ "$output" == *"read quorum not reached: 2 of 3 replicas answered"* ]]
    # W=2 still works, and so does a read of it.  (The failed write may
    # be stored on the replicas that took it, as in Dynamo: a sibling.)
    overwrite "${ADDR[1]}" q1 three 2
    run -0 dyn get q1 -r 2
    assert_eq three "$output"
}

@test "a forged context entry for another node's id does not lock that node's writes" {
    start_nodes 2
    join_all 2
    wait_until epochs_agree 2 2
    wait_until transfers_done
    # Both nodes replicate every key (N=3 capped at 2): n1 coordinates the
    # forged put, and replication takes its vector to n2.
    dyn -H "${ADDR[1]}" put k v1 -w 2
    local id2 ctx forged
    id2=$(dynctl -H "${ADDR[2]}" status --json | jq -r .node.id)
    ctx=$(dyn -H "${ADDR[1]}" get k -r 2 --json | jq -r .context)
    forged=$(ctxtool raise "$ctx" "$id2" 18446744073709551614) # 2^64 - 2
    dyn -H "${ADDR[1]}" put k v2 -C "$forged" -w 2
    # n2 coordinates these: each needs a new counter of n2's.
    local v
    for v in v3 v4 v5; do overwrite "${ADDR[2]}" k "$v"; done
    ctx=$(dyn -H "${ADDR[2]}" get k -r 2 --json | jq -r .context)
    dyn -H "${ADDR[2]}" del k -w 2 -C "$ctx"
    run -1 dyn -H "${ADDR[1]}" get k -r 2
}

# value_at HOST KEY VALUE: HOST's own copy (R=1 answers from the local
# copy of a replica first) holds VALUE.
value_at() { [ "$(dyn -H "$1" get "$2" -r 1 2>/dev/null)" = "$3" ]; }

# repairs_logged I KEY: the read repairs node nI logged for KEY
repairs_logged() {
    grep -c "key $2: read repair of replica" "$(node_dir "n$1")/log" || true
}

@test "a replica that missed a write is repaired by a read, and only such a replica" {
    ADDR=()
    for i in 1 2 3; do
        start_node "n$i" "log:" "  level: debug"
        ADDR[i]=$NODE_ADDR
    done
    export DYN_HOST=${ADDR[1]}
    join_all 3
    wait_until epochs_agree 3 3
    # A join's transfers still running when n3 is killed resume when it
    # comes back and would bring it the new version before the read does.
    wait_until transfers_done
    # Replicas that agree are read without a repair.
    dyn put same v -w 3
    for _ in 1 2 3 4 5; do
        run -0 dyn -H "${ADDR[1]}" get same -r 3
        assert_eq v "$output"
    done
    dyn put rr old -w 3
    kill_node n3
    overwrite "${ADDR[1]}" rr new 2
    start_node n3 "log:" "  level: debug"
    wait_until member_reachable "${ADDR[1]}" n3
    # n3 still holds the old version: nothing has told it otherwise.
    value_at "${ADDR[3]}" rr old
    # A read with R=3 sees both, answers with the newest, and writes it
    # back to n3.
    run -0 dyn -H "${ADDR[1]}" get rr -r 3
    assert_eq new "$output"
    wait_until value_at "${ADDR[3]}" rr new
    # With R=3 a read decides its repairs before it answers.
    assert_eq 0 "$(repairs_logged 1 same)" "repairs of a key all replicas agree on"
    # n3 itself may have repaired its copy first: its read (value_at,
    # R=1) also asks the other replicas.
    [ $(($(repairs_logged 1 rr) + $(repairs_logged 3 rr))) -ge 1 ]
}

@test "a node restarted after kill -9 comes back with its ring; no epoch goes back" {
    start_nodes 3
    join_all 3
    wait_until epochs_agree 3 3
    dyn put r1 before -w 3
    kill_node n2
    start_node n2
    [ "$NODE_ADDR" = "${ADDR[2]}" ]
    run -0 dynctl -H "${ADDR[2]}" status --json
    assert_eq 3 "$(jq .epoch <<<"$output")" "epoch after restart"
    assert_eq 3 "$(jq '.nodes | length' <<<"$output")" "members after restart"
    # Back in service without a new join: a W=3 write needs it.
    wait_until overwrite "${ADDR[1]}" r1 after 3
    run -0 dyn -H "${ADDR[2]}" get r1 -r 3
    assert_eq after "$output"
    for i in 1 2 3; do
        [ "$(dynctl -H "${ADDR[i]}" status --json | jq .epoch)" -ge 3 ]
    done
}

@test "a node killed during its transfers sends them after a restart" {
    start_nodes 2
    local k
    for k in $(seq 1 400); do echo "t$k"; done >"$BATS_TEST_TMPDIR/keys"
    while read -r k; do dyn -H "${ADDR[1]}" put "$k" "x$k"; done \
        <"$BATS_TEST_TMPDIR/keys"
    dynctl -H "${ADDR[2]}" join "${ADDR[1]}"
    kill_node n1
    start_node n1
    wait_until transfers_done
    # With 2 nodes and N=3 each node holds every key; R=1 from n2 answers
    # from n2's own copy first.
    while read -r k; do
        run -0 dyn -H "${ADDR[2]}" get "$k" -r 1
        assert_eq "x$k" "$output" "$k on n2"
    done <"$BATS_TEST_TMPDIR/keys"
}

@test "a node still receiving a partition answers reads from a previous replica" {
    start_node n1 "  transfer_slots: 0"
    ADDR[1]=$NODE_ADDR
    start_node n2
    ADDR[2]=$NODE_ADDR
    for k in $(seq 1 20); do dyn -H "${ADDR[1]}" put "p$k" "v$k"; done
    dynctl -H "${ADDR[2]}" join "${ADDR[1]}"
    # n1's transfers are paused, and say so.
    run -0 dynctl -H "${ADDR[1]}" handoff
    [[ "$output" == *"paused: cluster.transfer_slots is 0"* ]]
    run -0 dynctl -H "${ADDR[2]}" status --json
    assert_eq 0 "$(jq .node.keys <<<"$output")" "keys on n2 before any transfer"
    # R=1 through n2 answers from n2's copy, which it completes from n1.
    for k in $(seq 1 20); do
        run -0 dyn -H "${ADDR[2]}" get "p$k" -r 1
        assert_eq "v$k" "$output" "p$k read through n2"
    done
    # Transfers resumed: n2 gets a whole copy and no longer needs n1.
    stop_node n1
    sed -i '/transfer_slots/d' "$(node_dir n1)/config.yaml"
    start_node_config n1
    wait_until transfers_done
    kill_node n1
    for k in $(seq 1 20); do
        run -0 dyn -H "${ADDR[2]}" get "p$k" -r 1
        assert_eq "v$k" "$output" "p$k on n2 alone"
    done
}

@test "with N=1, a node still receiving a partition answers from its previous owner" {
    # One replica per key: the new owner's read waits for the previous
    # owner's copy, so its answer comes after coord_get has returned.
    start_node n1 "  n: 1" "  r: 1" "  w: 1" "  transfer_slots: 0"
    ADDR[1]=$NODE_ADDR
    start_node n2 "  n: 1" "  r: 1" "  w: 1"
    ADDR[2]=$NODE_ADDR
    for k in $(seq 1 40); do dyn -H "${ADDR[1]}" put "one$k" "v$k"; done
    dynctl -H "${ADDR[2]}" join "${ADDR[1]}"
    wait_until epochs_agree 2 2
    run -0 dynctl -H "${ADDR[2]}" status --json
    assert_eq 0 "$(jq .node.keys <<<"$output")" "keys on n2 before any transfer"
    # Every key through n2: n2's own partitions come from n1's copy, the
    # others are forwarded to n1.  Twice, so a freed request would show.
    for round in 1 2; do
        for k in $(seq 1 40); do
            run -0 dyn -H "${ADDR[2]}" get "one$k"
            assert_eq "v$k" "$output" "one$k through n2, round $round"
        done
    done
}

@test "a node that joins with data of its own hands it to the cluster" {
    start_nodes 2
    for k in $(seq 1 30); do dyn -H "${ADDR[2]}" put "own$k" "x$k"; done
    dynctl -H "${ADDR[2]}" join "${ADDR[1]}"
    wait_until transfers_done
    for k in $(seq 1 30); do
        run -0 dyn -H "${ADDR[1]}" get "own$k" -r 2
        assert_eq "x$k" "$output"
    done
}

@test "join --dry-run shows the moves and changes nothing" {
    start_nodes 2
    for k in $(seq 1 40); do dyn -H "${ADDR[1]}" put "d$k" "v$k"; done
    run -0 dynctl -H "${ADDR[2]}" join "${ADDR[1]}" --dry-run --json
    local out=$output
    assert_eq true "$(jq .dry_run <<<"$out")"
    assert_eq 2 "$(jq .epoch_after <<<"$out")"
    assert_eq 256 "$(jq '[.nodes[].partitions_after] | add' <<<"$out")"
    # n2 would receive every partition (N=3 > 2 nodes), so every key.
    assert_eq 40 "$(jq '.nodes[] | select(.name == "n2") | .receives_keys' <<<"$out")"
    assert_eq 0 "$(jq '.violations | length' <<<"$out")"
    run -0 dynctl -H "${ADDR[2]}" join "${ADDR[1]}" --dry-run
    [[ "$output" == *"dry run: ring epoch 1 -> 2"* ]]
    [[ "$output" == *"placement: no violations"* ]]
    # Nothing changed.
    for i in 1 2; do
        assert_eq 1 "$(dynctl -H "${ADDR[i]}" status --json | jq .epoch)"
    done
}

@test "join refuses what it cannot do, with a reason" {
    start_nodes 2
    run -2 dynctl -H "${ADDR[1]}" join "${ADDR[1]}"
    [[ "$output" == *"is this node"* ]]
    run -3 dynctl -H "${ADDR[2]}" -t 2000 join "127.0.0.1:$(pick_port)"
    [[ "$output" == dynctl:* ]]
    write_config other "$(pick_port)"
    sed -i 's/^  name: test$/  name: another/' "$(node_dir other)/config.yaml"
    start_node_config other
    run -5 dynctl -H "$NODE_ADDR" join "${ADDR[1]}"
    [[ "$output" == *"belongs to cluster 'test', not 'another'"* ]]
    run -5 dynctl -H "$NODE_ADDR" join "${ADDR[1]}" --dry-run
    [[ "$output" == *"belongs to cluster 'test', other to 'another'"* ]]
    # The node itself under another spelling of its address (where this
    # machine's resolver maps localhost to 127.0.0.1).
    if getent ahostsv4 localhost | grep -q '^127\.0\.0\.1 '; then
        run -2 dynctl -H "${ADDR[1]}" join "localhost:${ADDR[1]##*:}"
        [[ "$output" == *"is the joining node itself"* ]]
        run -2 dynctl -H "${ADDR[1]}" join "localhost:${ADDR[1]##*:}" --dry-run
        [[ "$output" == *"itself"* ]]
    fi
    dynctl -H "${ADDR[2]}" join "${ADDR[1]}"
    run -2 dynctl -H "${ADDR[2]}" join "${ADDR[1]}"
    [[ "$output" == *"already a member of a cluster of 2 nodes"* ]]
}

@test "dynctl status lists every member with reachability; handoff is empty when idle" {
    start_nodes 3
    join_all 3
    wait_until epochs_agree 3 3
    run -0 dynctl status --json
    assert_eq 3 "$(jq '.nodes | length' <<<"$output")"
    assert_eq 256 "$(jq '[.nodes[].partitions] | add' <<<"$output")"
    wait_until transfers_done
    run -0 dynctl handoff
    [[ "$output" == "no partition transfers in progress, no hints kept" ]]
    run -0 dynctl handoff --json
    assert_eq '[]' "$(jq -c .transfers <<<"$output")"
    run -0 dynctl status
    [[ "$output" == *"n2 "*"127.0.0.1:"*" up "* ]]
}

@test "ring --check on a healthy 3-node cluster of 256 partitions exits 0 with no violations" {
    # 256 is not a multiple of 3, so some windows of 3 consecutive
    # partitions repeat a node; every preference list still holds 3
    # distinct nodes, which is all placement asks.
    start_nodes 3
    dynctl -H "${ADDR[2]}" join "${ADDR[1]}" >/dev/null
    run -0 dynctl -H "${ADDR[3]}" join "${ADDR[1]}" --dry-run
    [[ "$output" == *"placement: no violations"* ]]
    dynctl -H "${ADDR[3]}" join "${ADDR[1]}" --queue 60 >/dev/null
    wait_until epochs_agree 3 3
    run -0 --separate-stderr dynctl ring --check
    [[ "${lines[-1]}" == "check: no placement violations" ]]
    [ -z "$stderr" ]
    run -0 dynctl ring --check --json
    jq -e '.violation_count == 0 and .violations == []' <<<"$output"
    jq -e '[.preference_lists[] | unique | length == 3] | all' <<<"$output"
    # The claim's window rule cannot hold here: shown, not counted.
    jq -e '.claim_rules.window == 3 and .claim_rules.window_repeats > 0 and
        .claim_rules.windows_possible == false' <<<"$output"
}
