#!/usr/bin/env bats
# t/partition.bats - a network partition between five nodes, each in a
# network namespace of its own (t/netlab.bash), split {n1,n2} | {n3,n4,n5}
# by iptables DROP and then healed.  Nodes run with N=3, R=2, W=2 and 256
# partitions.  Needs root; skips, saying why, where the lab cannot run.
#
# The first test checks the lab against what dynamo does today.  The
# second is Dynamo's promise under a partition: with sloppy quorum writes
# are acknowledged on both sides, and after healing (hinted handoff)
# every acknowledged write reads back with R=3 through every node.

bats_require_minimum_version 1.5.0
load helpers
load netlab

# The sides of the partition.
SIDE_A="n1 n2"
SIDE_B="n3 n4 n5"

# --- The knobs of the partition test; each may be set in the environment.
# Each side's writer stops after PART_WRITES writes or PART_WRITE_S
# seconds, whichever comes first; one that made fewer than
# PART_MIN_WRITES was starved, and the test fails.
PART_WRITES=${PART_WRITES:-100}
PART_WRITE_S=${PART_WRITE_S:-15}
PART_MIN_WRITES=${PART_MIN_WRITES:-20}
# Per cent of each side's writes that must be acknowledged (exit 0 of
# `dyn put`).  100: writes start only once each side holds the other
# unreachable, and from then on a sloppy quorum has W=2 healthy nodes on
# either side, so any failure is a lost chance to write.
PART_MIN_ACKED_PCT=${PART_MIN_ACKED_PCT:-100}
PART_PUT_TIMEOUT_MS=${PART_PUT_TIMEOUT_MS:-5000} # dyn -t of each write
PART_DETECT_S=${PART_DETECT_S:-20} # for each side to hold the other unreachable
PART_SETTLE_S=${PART_SETTLE_S:-60} # after healing, for hints, transfers, reads
PART_JOIN_S=${PART_JOIN_S:-60}     # for the joins' ring and transfers

setup() { lab_up 5; }
teardown() { lab_cleanup; }

# epochs_agree EPOCH: every node holds ring EPOCH.
epochs_agree() {
    local n
    for n in "${LAB_NODES[@]}"; do
        [ "$(lab_dynctl "$n" -t 2000 status --json | jq .epoch)" = "$1" ] ||
            return 1
    done
}

# transfers_done: asked through n1, no member reports a partition
# transfer, and every member answered.
transfers_done() {
    lab_dynctl n1 -t 2000 handoff --json 2>/dev/null |
        jq -e '(.transfers | length) == 0 and .complete' >/dev/null
}

# start_cluster: start the five nodes, join n2..n5 to n1 as an operator
# would, and wait until the ring and its transfers have settled.
start_cluster() {
    lab_start_nodes || return 1
    local n
    for n in "${LAB_NODES[@]:1}"; do
        lab_dynctl "$n" join "$(lab_addr n1)" --queue 60 >/dev/null || return 1
    done
    DYN_TEST_DEADLINE_S=$PART_JOIN_S wait_until epochs_agree 5 &&
        DYN_TEST_DEADLINE_S=$PART_JOIN_S wait_until transfers_done
}

# sees FROM true|false NODE...: FROM's dynctl status holds each NODE
# reachable (true) or not (false).
sees() {
    local from=$1 want=$2; shift 2
    lab_dynctl "$from" -t 2000 status --json 2>/dev/null |
        jq -e --arg want "$want" '$ARGS.positional as $names |
            [.nodes[] | select(.name | IN($names[])) |
                (.reachable | tostring) == $want] |
            length == ($names | length) and all' --args "$@" >/dev/null
}

# phi_of FROM NODE: FROM's phi for NODE (null until it heard enough).
phi_of() {
    lab_dynctl "$1" -t 2000 status --json |
        jq -r --arg n "$2" '.nodes[] | select(.name == $n) | .phi'
}

# heard FROM NODE: FROM has heard enough of NODE's answers for a phi.
heard() { local p; p=$(phi_of "$1" "$2"); [ -n "$p" ] && [ "$p" != null ]; }

# phi_at_least FROM NODE LIMIT
phi_at_least() {
    awk -v p="$(phi_of "$1" "$2")" -v l="$3" \
        'BEGIN { exit !(p != "" && p != "null" && p + 0 >= l) }'
}

# sides_apart: every node of each side holds every node of the other
# unreachable.
sides_apart() {
    local n
    # shellcheck disable=SC2086
    for n in $SIDE_A; do sees "$n" false $SIDE_B || return 1; done
    # shellcheck disable=SC2086
    for n in $SIDE_B; do sees "$n" false $SIDE_A || return 1; done
}

# all_reachable: every node holds every node reachable.
all_reachable() {
    local n
    for n in "${LAB_NODES[@]}"; do
        sees "$n" true "${LAB_NODES[@]}" || return 1
    done
}

# overwrite NODE KEY VALUE W: read KEY's context (R=2) through NODE and
# put VALUE over it with write quorum W.
overwrite() {
    local ctx
    ctx=$(lab_dyn "$1" -t 4000 get "$2" -r 2 --json | jq -r .context) || return 1
    lab_dyn "$1" -t 4000 put "$2" "$3" -C "$ctx" -w "$4"
}

@test "a partition cuts n1 off from n3..n5, a W=3 write across it fails, and healing restores both" {
    start_cluster
    # A history of n3's answers (pings, one a second), for a phi.
    DYN_TEST_DEADLINE_S=$PART_DETECT_S wait_until heard n1 n3
    lab_partition "$SIDE_A" "$SIDE_B"
    # The network first: n1 still reaches n2 and no longer n3.
    lab_reaches n1 n2
    run ! lab_reaches n1 n3
    # dynctl status on either side: the other side is unreachable, its
    # own side is not.
    DYN_TEST_DEADLINE_S=$PART_DETECT_S wait_until sides_apart
    sees n1 true n2
    sees n3 true n4 n5
    # Cassandra's threshold, as in t/failure.bats.
    DYN_TEST_DEADLINE_S=$PART_DETECT_S wait_until phi_at_least n1 n3 8
    # N=3 and only two nodes on n1's side: every key has a replica across
    # the partition, so no W=3 write through n1 can succeed.  Take the
    # first key whose replicas straddle it (one or two answer): the
    # write fails for the partition, not for want of a coordinator.
    local key="" k answered="write quorum not reached: [12] of 3 replicas"
    for k in $(seq 1 20); do
        run -3 lab_dyn n1 -t 3000 put "straddle$k" during -w 3
        if grep -q "$answered" <<<"$output"; then
            key=straddle$k
            break
        fi
    done
    [ -n "$key" ]
    echo "# $key: $output" >&3
    lab_heal
    DYN_TEST_DEADLINE_S=$PART_DETECT_S wait_until all_reachable
    lab_reaches n1 n3
    # The failed write may be stored on the replicas that took it (as in
    # Dynamo): overwrite it with its context, then read all three.
    DYN_TEST_DEADLINE_S=$PART_DETECT_S wait_until overwrite n1 "$key" after 3
    run -0 lab_dyn n1 get "$key" -r 3
    assert_eq after "$output" "$key after healing"
}

# side_writer TAG NODE...: put TAG1, TAG2, ... through NODE... in turn,
# for at most PART_WRITES writes or PART_WRITE_S seconds.  Each attempt
# is appended to tried.TAG, each acknowledged write to acked.TAG as
# "KEY VALUE", each error to errors.TAG.
side_writer() {
    local tag=$1; shift
    local nodes=("$@") i=0 key dir=$BATS_TEST_TMPDIR
    local deadline=$((SECONDS + PART_WRITE_S))
    : >"$dir/tried.$tag"; : >"$dir/acked.$tag"; : >"$dir/errors.$tag"
    while [ $i -lt "$PART_WRITES" ] && [ $SECONDS -lt $deadline ]; do
        key=$tag$((i + 1))
        echo "$key" >>"$dir/tried.$tag"
        if lab_dyn "${nodes[i % ${#nodes[@]}]}" -t "$PART_PUT_TIMEOUT_MS" \
            put "$key" "v-$key" 2>>"$dir/errors.$tag"; then
            echo "$key v-$key" >>"$dir/acked.$tag"
        fi
        i=$((i + 1))
    done
}

# side_report TAG: the counts of side TAG's writer, and its errors.
side_report() {
    local dir=$BATS_TEST_TMPDIR
    echo "# side $1: $(wc -l <"$dir/acked.$1") of $(wc -l <"$dir/tried.$1") writes acknowledged" >&3
    if [ -s "$dir/errors.$1" ]; then
        # Counted by message, the key left out.
        sed -E 's/^dyn: put [^:]+: /dyn: put KEY: /' "$dir/errors.$1" |
            sort | uniq -c | sed 's/^/#   /' >&3
    fi
}

# side_acked_enough TAG: side TAG's writer made at least PART_MIN_WRITES
# writes, and at least PART_MIN_ACKED_PCT per cent were acknowledged.
side_acked_enough() {
    local dir=$BATS_TEST_TMPDIR tried acked ok=0
    tried=$(wc -l <"$dir/tried.$1")
    acked=$(wc -l <"$dir/acked.$1")
    if [ "$tried" -lt "$PART_MIN_WRITES" ]; then
        echo "side $1 made only $tried writes (PART_MIN_WRITES=$PART_MIN_WRITES)" >&2
        ok=1
    fi
    if [ $((acked * 100)) -lt $((tried * PART_MIN_ACKED_PCT)) ]; then
        echo "side $1: $acked of $tried writes acknowledged," \
            "under PART_MIN_ACKED_PCT=$PART_MIN_ACKED_PCT %" >&2
        ok=1
    fi
    return $ok
}

# acked_read_back NODE [quiet]: every acknowledged write of both sides
# reads back through NODE with R=3 and holds its value.
acked_read_back() {
    local key value got n=0
    while read -r key value; do
        got=$(lab_dyn "$1" -t 4000 get "$key" -r 3 2>&1) || {
            [ -n "${2:-}" ] || echo "acknowledged $key not read through $1: $got" >&2
            return 1
        }
        if [ "$got" != "$value" ]; then
            [ -n "${2:-}" ] || assert_eq "$value" "$got" "$key read through $1"
            return 1
        fi
        n=$((n + 1))
    done < <(cat "$BATS_TEST_TMPDIR"/acked.*)
    [ -n "${2:-}" ] || echo "# $n acknowledged writes read back through $1 with R=3" >&3
}

# settled: asked through n1, no partition transfer and no hint is left;
# every acknowledged write reads back through n1.
settled() {
    lab_dynctl n1 -t 2000 handoff --json 2>/dev/null |
        jq -e '(.transfers | length) == 0 and .complete and
            .hints_pending == 0' >/dev/null &&
        acked_read_back n1 quiet
}

@test "writes are acknowledged on both sides of a partition; after healing each reads back with R=3 through every node" {
    start_cluster
    lab_partition "$SIDE_A" "$SIDE_B"
    # Writes start once each side has seen the partition: what is
    # measured is a side cut off, not the failure detector's delay.
    DYN_TEST_DEADLINE_S=$PART_DETECT_S wait_until sides_apart
    # shellcheck disable=SC2086
    lab_background side_writer a $SIDE_A
    local wa=$LAB_BG_PID
    # shellcheck disable=SC2086
    lab_background side_writer b $SIDE_B
    local wb=$LAB_BG_PID
    wait "$wa"
    wait "$wb"
    side_report a
    side_report b
    # Sloppy quorum: without it most writes on either side would fail.
    side_acked_enough a
    side_acked_enough b
    lab_heal
    DYN_TEST_DEADLINE_S=$PART_DETECT_S wait_until all_reachable
    # Hinted handoff: writes taken by substitutes reach their replicas.
    local healed=$SECONDS
    DYN_TEST_DEADLINE_S=$PART_SETTLE_S wait_until settled || {
        acked_read_back n1
        false
    }
    echo "# settled $((SECONDS - healed)) s after healing" >&3
    local n
    for n in "${LAB_NODES[@]}"; do acked_read_back "$n"; done
}
