#!/usr/bin/env bats
# t/bench.bats - dyn bench: counts, mixes, pipelining, --direct on a
# cluster, the same loop against a redis-server, and its refusals.
# Figures are not asserted (the machine is shared): only that the loop
# does what it says and reports consistently.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

# consistent JSON: the counts add up, percentiles are ordered.
check_report() {
    local out=$1 total=$2
    assert_eq "$total" "$(jq '.get.count + .put.count' <<<"$out")" "requests"
    assert_eq 0 "$(jq .errors <<<"$out")" "errors"
    local op
    for op in get put; do
        jq -e ".$op | (.p50_ms <= .p99_ms) and (.p99_ms <= .p999_ms) and
                      (.p999_ms <= .max_ms)" <<<"$out" >/dev/null
    done
    jq -e '.ops_per_sec > 0' <<<"$out" >/dev/null
}

@test "bench: a count of requests, split by the get ratio, with pipelining" {
    start_node n1
    run -0 dyn bench -n 2000 -c 4 --keys 100 --size 100 --json
    check_report "$output" 2000
    run -0 dyn bench -n 2000 -c 4 -P 8 --get-ratio 1 --json
    check_report "$output" 2000
    assert_eq 0 "$(jq .put.count <<<"$output")" "puts with --get-ratio 1"
    run -0 dyn bench -n 1000 -c 2 --get-ratio 0 --keys 10 --json
    check_report "$output" 1000
    assert_eq 0 "$(jq .get.count <<<"$output")" "gets with --get-ratio 0"
    # Puts carry the context of the last answer: no pile of siblings
    # (without contexts key:3's 100 puts would leave up to 100).  Not
    # at most 2, though two connections write: answers about one key
    # may arrive out of the order they were applied in, and a put with
    # the older answer's context leaves the newer sibling standing, so
    # a few can stand at once.
    run -0 dyn get key:3 --json
    [ "$(jq '.siblings | length' <<<"$output")" -le 5 ]
}

@test "bench: by time, with a human report" {
    start_node n1
    run -0 dyn bench -d 0.5 --warmup 0.2 -c 2 --keys 50
    [[ "$output" == *"requests in"*"ops/s, 0 errors"* ]]
    [[ "$output" == *"p99.9 ms"* ]]
}

@test "bench --direct sends each key to its coordinator in a cluster" {
    local addr=()
    for i in 1 2 3; do start_node "n$i"; addr[i]=$NODE_ADDR; done
    dynctl -H "${addr[2]}" join "${addr[1]}" >/dev/null
    dynctl -H "${addr[3]}" join "${addr[1]}" --queue 60 >/dev/null
    export DYN_HOST=${addr[1]}
    run -0 dyn bench -n 1500 -c 2 --keys 300 --direct --json
    check_report "$output" 1500
    assert_eq true "$(jq .direct <<<"$output")"
}

# start_redis: a redis-server on a port of its own, recorded for
# teardown; sets REDIS_PORT.
start_redis() {
    local redis
    redis=$(command -v redis-server || true)
    if [ -z "$redis" ]; then
        # redis-tools ships the server as redis-check-rdb; its name picks
        # the mode.
        ln -s "$(command -v redis-check-rdb)" "$BATS_TEST_TMPDIR/redis-server"
        redis=$BATS_TEST_TMPDIR/redis-server
    fi
    REDIS_PORT=$(pick_port)
    "$redis" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
        --dir "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/redis.log" 2>&1 3>&- &
    echo $! >>"$BATS_TEST_TMPDIR/pids"
    # A get: the server is left empty.
    wait_until dyn bench --redis "127.0.0.1:$REDIS_PORT" -n 1 -c 1 \
        --get-ratio 1 --json
}

@test "bench --redis drives a redis-server with the same loop" {
    start_redis
    run -0 dyn bench --redis "127.0.0.1:$REDIS_PORT" -n 3000 -c 4 -P 4 --json
    check_report "$output" 3000
    assert_eq redis "$(jq -r .target <<<"$output")"
}

# keys_written: the keys key:0 .. key:39 the node at $DYN_HOST holds,
# their numbers on one line, in KEYS.  A key two puts wrote at once, with
# the same context, holds two siblings (dyn get exits 4).
keys_written() {
    local k rc
    KEYS=
    for k in $(seq 0 39); do
        rc=0
        dyn get "key:$k" >/dev/null 2>&1 || rc=$?
        case $rc in
        0 | 4) KEYS+="$k " ;;
        1) ;;
        *) echo "dyn get key:$k: exit $rc" >&2; return 1 ;;
        esac
    done
}

# seeded_keys NAME SEED: in KEYS, the keys a run of puts with SEED
# writes to a fresh memory node NAME (4 connections 2 deep: how the
# requests interleave varies).
seeded_keys() {
    DYN_TEST_ENGINE=memory start_node "$1"
    run -0 dyn bench -n 15 -c 4 -P 2 --get-ratio 0 --keys 40 --seed "$2" --json
    check_report "$output" 15
    assert_eq "$2" "$(jq .seed <<<"$output")" "seed reported"
    keys_written
}

@test "bench --seed sends the same requests again, another seed others" {
    local a
    seeded_keys n1 7
    a=$KEYS
    [ -n "$a" ]
    seeded_keys n2 7
    assert_eq "$a" "$KEYS" "keys written by two runs of seed 7"
    seeded_keys n3 8
    [ "$a" != "$KEYS" ]
    # Without --seed each run has its own, which the report gives: run
    # again with it, the same keys.
    DYN_TEST_ENGINE=memory start_node n4
    run -0 dyn bench -n 15 -c 4 -P 2 --get-ratio 0 --keys 40 --json
    local seed; seed=$(jq .seed <<<"$output")
    keys_written
    a=$KEYS
    seeded_keys n5 "$seed"
    assert_eq "$a" "$KEYS" "keys written again by seed $seed"
    run -0 dyn bench -n 15 -c 1 --keys 40 --seed "$seed"
    [[ "$output" == *$'\n'"  seed $seed (--seed $seed repeats these requests)"$'\n'* ]]
    run -2 dyn bench --seed x
    [[ "$output" == *"--seed x: expected a number from 0 to 18446744073709551615"* ]]
}

@test "bench --seed: the same requests to a redis-server as to a node" {
    seeded_keys n1 7
    start_redis
    run -0 dyn bench --redis "127.0.0.1:$REDIS_PORT" -n 15 -c 4 -P 2 \
        --get-ratio 0 --keys 40 --seed 7 --json
    check_report "$output" 15
    local k redis_keys=""
    for k in $(redis-cli -p "$REDIS_PORT" --scan | sed 's/^key://' | sort -n); do
        redis_keys+="$k "
    done
    assert_eq "$KEYS" "$redis_keys" "keys redis holds after seed 7"
}

@test "bench counts the requests a node answers with an error, and names the first" {
    start_node n1 "limits:" "  max_value_bytes: 100"
    run -5 dyn bench -n 40 -c 2 --size 200 --get-ratio 0
    # Answered with an error is not done: 0 requests, 40 errors.
    [[ "$output" == *"  0 requests in "*", 40 errors (first: value of 200 bytes is over max_value_bytes (100))"$'\n'* ]]
    run -5 dyn bench -n 40 -c 2 --size 200 --get-ratio 0 --json
    assert_eq 40 "$(jq .errors <<<"$output")" "errors"
}

@test "bench refuses what it cannot do, with a reason" {
    start_node n1
    run -2 dyn bench -n 10 -d 1
    [[ "$output" == *"give -n or -d, not both"* ]]
    run -2 dyn bench --direct --redis 127.0.0.1:1
    run -2 dyn bench --get-ratio 2
    [[ "$output" == *"--get-ratio 2: expected a number from 0 to 1"* ]]
    run -3 dyn -H "127.0.0.1:$(pick_port)" bench -n 10 -c 1
    [[ "$output" == *"dyn: bench: connect"* ]]
    # Every connection refused: one error, exit 3 (it aborted on a second
    # close of its timers once more than one connection failed).
    local port; port=$(pick_port)
    run -3 dyn -H "127.0.0.1:$port" bench -n 10 -c 50
    [[ "$output" == "dyn: bench: connect 127.0.0.1:$port: connection refused" ]]
    run -3 dyn bench --redis "127.0.0.1:$port" -n 10 -c 8
    [[ "$output" == *"dyn: bench: connect 127.0.0.1:$port"* ]]
    # A connection that cannot even start (no port; out of descriptors)
    # leaves itself and those after it unopened: nothing to close.
    run -2 dyn -H localhost bench -n 10 -c 2
    [[ "$output" == "dyn: bench: connect localhost: invalid argument" ]]
    run bash -c 'ulimit -n 40; exec dyn bench -n 100 -c 100'
    (( status != 0 && status < 128 ))
    [[ "$output" == "dyn: bench: connect $NODE_ADDR: Too many open files" ]]
}
