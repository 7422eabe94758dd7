#!/usr/bin/env bats
# t/leave.bats - membership changes that take nodes out: dynctl leave
# under a write load, dynctl remove of a killed node, one change at a
# time (two joins through two seeds at once), and Riak's handoff loss
# (riak_kv#1754): sets written by read-modify-write while two nodes join
# and two leave.
#
# What a replica holds is read from its own copy (t/owncopy: a replica
# read with `direct` set), not through a quorum.  Every node is started
# by PID and stopped in teardown, also when a test fails; every wait is
# polled with a deadline.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

LEAVE_DEADLINE_S=60 # a hand-over or a re-replication of a few MiB

owncopy() { "$DYN_BUILDDIR/t/owncopy" "$@"; }

# epoch_on EPOCH NODE...: every NODE (an index) holds ring EPOCH.
epoch_on() {
    local want=$1 i; shift
    for i in "$@"; do
        [ "$(dynctl -H "${ADDR[i]}" status --json | jq .epoch)" = "$want" ] ||
            return 1
    done
}

# wait_long CMD...: wait_until with a deadline of LEAVE_DEADLINE_S.
wait_long() { DYN_TEST_DEADLINE_S=$LEAVE_DEADLINE_S wait_until "$@"; }

# writer HOST: put w1, w2, ... through HOST until told to stop; each
# acknowledged write is appended to $BATS_TEST_TMPDIR/acked.
writer() {
    local host=$1 i=0
    while [ ! -e "$BATS_TEST_TMPDIR/stop-writer" ]; do
        i=$((i + 1))
        if dyn -H "$host" -t 4000 put "w$i" "v$i" 2>>"$BATS_TEST_TMPDIR/writer.err"; then
            echo "w$i v$i" >>"$BATS_TEST_TMPDIR/acked"
        fi
    done
}

acked_count() { wc -l <"$BATS_TEST_TMPDIR/acked" 2>/dev/null || echo 0; }
more_acked() { [ "$(acked_count)" -gt "$1" ]; }

# start_writer HOST: the writer in the background, its PID recorded.
start_writer() {
    : >"$BATS_TEST_TMPDIR/acked"
    writer "$1" 3>&- &
    WRITER=$!
    echo "$WRITER" >>"$BATS_TEST_TMPDIR/pids"
}

stop_writer() {
    touch "$BATS_TEST_TMPDIR/stop-writer"
    wait "$WRITER" || true
}

# own_copies_hold HOST FILE: every "KEY VALUE" of FILE is a live sibling
# of the own copy of each replica of KEY in HOST's ring; names up to five
# that are not.
own_copies_hold() {
    local host=$1 file=$2 dir=$BATS_TEST_TMPDIR keys addr
    keys=$(cut -d' ' -f1 "$file")
    # shellcheck disable=SC2086 # one argument per key
    owncopy replicas "$host" $keys >"$dir/replicas" || return 1
    : >"$dir/copies"
    for addr in $(cut -d' ' -f2- "$dir/replicas" | tr ' ' '\n' | sort -u); do
        # shellcheck disable=SC2086
        owncopy get "$addr" $keys | sed "s|^|$addr |" >>"$dir/copies" ||
            return 1
    done
    awk 'FILENAME == ARGV[1] { want[$1] = $2; next }
         FILENAME == ARGV[2] { n[$1] = NF - 1
                               for (i = 2; i <= NF; i++) need[$1 " " $i] = 1
                               next }
         { for (i = 3; i <= NF; i++) has[$1 " " $2 " " $i] = 1 }
         END {
             bad = 0
             for (k in want) if (n[k] != 3) { print k " has " n[k] " replicas"; bad++ }
             for (kr in need) {
                 split(kr, a, " ")
                 if (!((a[2] " " a[1] " " want[a[1]]) in has)) {
                     if (bad < 5) print "missing: " a[1] "=" want[a[1]] " on " a[2]
                     bad++
                 }
             }
             if (bad) { print bad " replica copies missing or wrong"; exit 1 }
         }' "$file" "$dir/replicas" "$dir/copies" >&2
}

@test "dynctl leave of one of 5 nodes under a write load exits 0; every acknowledged write is on its 3 replicas" {
    start_nodes 5
    join_all 5
    wait_until transfers_done
    wait_until epoch_on 5 1 2 3 4 5
    for k in $(seq 1 300); do dyn put "pre$k" "p$k" -w 3; done

    # The dry run names what would move and changes nothing.
    run -0 dynctl -H "${ADDR[3]}" leave --dry-run
    [[ "$output" == *"dry run: ring epoch 5 -> 6, 5 -> 4 members"* ]]
    [[ "$output" == *"n3"*"(leaves)"* ]]
    run -0 dynctl -H "${ADDR[3]}" leave --dry-run --json
    [ "$(jq '[.nodes[] | select(.leaves)] | length' <<<"$output")" = 1 ]
    [ "$(jq .keys <<<"$output")" -gt 0 ]
    epoch_on 5 1 2 3 4 5

    start_writer "${ADDR[1]}"
    wait_long more_acked 100
    local t0=$SECONDS
    run -0 dynctl -H "${ADDR[3]}" leave
    echo "# leave of n3: $((SECONDS - t0)) s; $output"
    [[ "$output" == *"n3 left the cluster"* ]]
    # Nothing left to send, on n3 (asked too: it is not in its ring) or
    # on any member.
    run -0 dynctl -H "${ADDR[3]}" handoff --json
    [ "$(jq '.transfers | length' <<<"$output")" = 0 ]
    run -0 dynctl -H "${ADDR[3]}" status --json
    [ "$(jq -r .node.membership <<<"$output")" = left ]
    [ "$(jq .node.keys <<<"$output")" = 0 ]
    [ "$(jq '[.nodes[].name] | index("n3")' <<<"$output")" = null ]
    # A node that left forwards nothing: a client sent there is told.
    run -5 dyn -H "${ADDR[3]}" get pre1
    [[ "$output" == *"n3 left the cluster"* ]]
    # Stopped at once, as an operator would: it holds nothing to lose.
    kill_node n3

    wait_long more_acked $(($(acked_count) + 50))
    stop_writer
    echo "# $(acked_count) writes acknowledged around the leave"
    for k in $(seq 1 300); do echo "pre$k p$k"; done >>"$BATS_TEST_TMPDIR/acked"
    wait_long transfers_done
    wait_until epoch_on 6 1 2 4 5
    run -0 dynctl -H "${ADDR[1]}" handoff --json
    [ "$(jq '.transfers | length' <<<"$output")" = 0 ]
    [ "$(jq '[.not_answering[]] | length' <<<"$output")" = 0 ]
    own_copies_hold "${ADDR[1]}" "$BATS_TEST_TMPDIR/acked"
    run -0 dynctl ring --check
}

@test "dynctl remove is refused for a node that answers pings; of a killed node, every key is back on 3 replicas" {
    start_nodes 5
    join_all 5
    wait_until transfers_done
    : >"$BATS_TEST_TMPDIR/acked"
    for k in $(seq 1 300); do
        dyn -H "${ADDR[$((k % 5 + 1))]}" put "r$k" "v$k" -w 3
        echo "r$k v$k" >>"$BATS_TEST_TMPDIR/acked"
    done
    wait_until transfers_done

    run -5 dynctl remove n4
    [[ "$output" == *"n4"*"is up: it answered n1's pings"*"--force"* ]]
    run -2 dynctl remove n1
    [[ "$output" == *"leave"* ]]
    run -2 dynctl remove nobody
    [[ "$output" == *"no member is named or listens at 'nobody'"* ]]

    kill_node n4
    # Refused until n4 has been silent for a while, then done.
    wait_long dynctl remove "${ADDR[4]}" 2>/dev/null
    wait_until epoch_on 6 1 2 3 5
    run -0 dynctl status --json
    [ "$(jq '[.nodes[].name] | index("n4")' <<<"$output")" = null ]
    wait_long transfers_done
    wait_long own_copies_hold "${ADDR[1]}" "$BATS_TEST_TMPDIR/acked"
    run -0 dynctl ring --check
}

# port_of HOST:PORT
port_of() { echo "${1##*:}"; }

# request_waiting PID PORT: process PID has sent bytes that the node
# listening on PORT (stopped with SIGSTOP) has not read yet.
request_waiting() {
    local eph
    eph=$(ss -Htnp state established "( dport = :$2 )" |
        awk -v p="pid=$1," 'index($0, p) { n = split($3, a, ":"); print a[n]; exit }')
    [ -n "$eph" ] || return 1
    ss -Htn state established "( sport = :$2 and dport = :$eph )" |
        awk '$1 > 0 { found = 1 } END { exit !found }'
}

@test "two joins through two seeds at once: one is refused, naming the change in flight; it joins afterwards" {
    start_nodes 5
    join_all 3
    wait_until transfers_done
    for k in $(seq 1 100); do dyn put "c$k" "v$k" -w 3; done
    wait_until transfers_done
    local dir=$BATS_TEST_TMPDIR
    # Both seeds take their JoinReq in the same instant: stopped, they
    # hold them unread until both have arrived.
    kill -STOP "$(node_pid n1)" "$(node_pid n2)"
    dynctl -H "${ADDR[4]}" join "${ADDR[1]}" >"$dir/j4.out" 2>"$dir/j4.err" 3>&- &
    local p4=$!
    dynctl -H "${ADDR[5]}" join "${ADDR[2]}" >"$dir/j5.out" 2>"$dir/j5.err" 3>&- &
    local p5=$!
    wait_until request_waiting "$(node_pid n4)" "$(port_of "${ADDR[1]}")"
    wait_until request_waiting "$(node_pid n5)" "$(port_of "${ADDR[2]}")"
    kill -CONT "$(node_pid n1)" "$(node_pid n2)"
    local s4=0 s5=0
    wait "$p4" || s4=$?
    wait "$p5" || s5=$?
    cat "$dir"/j4.* "$dir"/j5.* | sed 's/^/# /'
    # One of them made the change, the other was told which change holds
    # the ring (exit 6), and nothing was lost without a word.
    [ $((s4 + s5)) = 6 ]
    local loser=4 winner=5
    [ "$s4" = 6 ] || { loser=5; winner=4; }
    grep -q "another membership change is in flight: .*join of n$winner" \
        "$dir/j$loser.err"
    wait_until epoch_on 4 1 2 3 "$winner"
    [ "$(dynctl -H "${ADDR[loser]}" status --json | jq '.nodes | length')" = 1 ]
    # Queued behind the first, the second joins once its transfers end.
    local seed=1; [ "$loser" = 5 ] && seed=2
    dynctl -H "${ADDR[loser]}" join "${ADDR[seed]}" --queue 60
    wait_until epoch_on 5 1 2 3 4 5
}

# rmw_client ID HOST: read-modify-write of sets on keys s0..s9 through HOST
# until told to stop: read the key, take the union of its siblings' sets
# (space-separated words), add the element cID-N, put it with the read's
# context.  Each acknowledged element goes to $BATS_TEST_TMPDIR/elements.
rmw_client() {
    local id=$1 host=$2 n=0 k out ctx set
    while [ ! -e "$BATS_TEST_TMPDIR/stop-writer" ]; do
        n=$((n + 1)); k=s$(((n * 7 + id) % 10))
        out=$(dyn -H "$host" -t 4000 get "$k" --json 2>/dev/null) || out='{}'
        ctx=$(jq -r '.context // empty' <<<"$out")
        set=$(jq -r '[.siblings[]? | select(.deleted | not) | .value] | join(" ")' \
            <<<"$out" | tr ' ' '\n' | sort -u | tr '\n' ' ')
        if dyn -H "$host" -t 4000 put "$k" "${set}c$id-$n" ${ctx:+-C "$ctx"} \
            >/dev/null 2>>"$BATS_TEST_TMPDIR/writer.err"; then
            echo "$k c$id-$n" >>"$BATS_TEST_TMPDIR/elements"
        fi
    done
}

elements_count() { wc -l <"$BATS_TEST_TMPDIR/elements" 2>/dev/null || echo 0; }
more_elements() { [ "$(elements_count)" -gt "$1" ]; }

# no_element_lost HOST: every acknowledged element is in the union of the
# sets a read of its key with R=3 returns.
no_element_lost() {
    local k lost=0
    for k in s0 s1 s2 s3 s4 s5 s6 s7 s8 s9; do
        dyn -H "$1" get "$k" -r 3 --json |
            jq -r '.siblings[] | select(.deleted | not) | .value' |
            tr ' ' '\n' | sort -u >"$BATS_TEST_TMPDIR/has"
        grep "^$k " "$BATS_TEST_TMPDIR/elements" | cut -d' ' -f2 | sort -u |
            comm -23 - "$BATS_TEST_TMPDIR/has" >"$BATS_TEST_TMPDIR/lost"
        if [ -s "$BATS_TEST_TMPDIR/lost" ]; then
            echo "$k lost $(wc -l <"$BATS_TEST_TMPDIR/lost") elements:" \
                "$(head -3 "$BATS_TEST_TMPDIR/lost" | tr '\n' ' ')" >&2
            lost=1
        fi
    done
    return $lost
}

@test "riak_kv#1754: sets written by read-modify-write while 2 nodes join and 2 leave lose no acknowledged element" {
    start_nodes 7
    join_all 5
    wait_until transfers_done
    : >"$BATS_TEST_TMPDIR/elements"
    local c pids=()
    for c in 1 2 3; do
        rmw_client "$c" "${ADDR[$((c % 2 == 0 ? 4 : 1))]}" 3>&- &
        pids+=($!)
        echo "$!" >>"$BATS_TEST_TMPDIR/pids"
    done
    wait_long more_elements 30
    for i in 6 7; do
        dynctl -H "${ADDR[i]}" join "${ADDR[1]}" --queue 60 >/dev/null
        wait_long more_elements $(($(elements_count) + 20))
    done
    for i in 2 3; do
        dynctl -H "${ADDR[i]}" leave --queue 60
        stop_node "n$i"
        wait_long more_elements $(($(elements_count) + 20))
    done
    touch "$BATS_TEST_TMPDIR/stop-writer"
    wait "${pids[@]}" || true
    echo "# $(elements_count) elements acknowledged while n6, n7 joined and n2, n3 left"
    if [ -s "$BATS_TEST_TMPDIR/writer.err" ]; then
        echo "# client errors:"; sort "$BATS_TEST_TMPDIR/writer.err" | uniq -c | head -5
    fi
    wait_long transfers_done
    wait_until epoch_on 9 1 4 5 6 7
    no_element_lost "${ADDR[1]}"
    no_element_lost "${ADDR[6]}"
}
