#!/usr/bin/env bats
# t/failure.bats - each node's failure detector (phi accrual over its
# pings, daemon/mechanisms/detector.h) as dynctl status shows it: a peer
# that stops answering is suspected within seconds, and one that answers
# again is cleared.  Nodes are stopped by PID in teardown.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

@test "a peer stopped with SIGSTOP is suspected (phi >= 8) within seconds and cleared after SIGCONT" {
    start_node n1; local a1=$NODE_ADDR
    start_node n2; local a2=$NODE_ADDR
    dynctl -H "$a2" join "$a1" >/dev/null
    # A few pings answered (one a second) make a history.
    wait_until heard "$a1" n2
    phi_below "$a1" n2 1
    [ "$(phi_of "$a1" n1)" = 0 ] # itself
    kill -STOP "$(node_pid n2)"
    local stopped=$SECONDS
    wait_until phi_at_least "$a1" n2 8
    echo "# suspected about $((SECONDS - stopped)) s after SIGSTOP" >&3
    [ $((SECONDS - stopped)) -le 5 ]
    dynctl -H "$a1" status | grep -E "^n2 .* [0-9]+\.[0-9]$" >/dev/null
    kill -CONT "$(node_pid n2)"
    wait_until phi_below "$a1" n2 1
}

# one_under_way HOST: HOST has a transfer that is not just queued.
one_under_way() {
    dynctl -H "$1" -t 1000 handoff --json 2>/dev/null |
        jq -e '[.transfers[] | select(.queued | not)] | length >= 1' >/dev/null
}

@test "dynctl handoff sums up first, lists only transfers that move or are stuck, and names a member it could not ask" {
    start_node n1 "  transfer_slots: 1"; local a1=$NODE_ADDR
    for k in $(seq 1 40); do dyn -H "$a1" put "k$k" "v$k"; done
    start_node n2; local a2=$NODE_ADDR
    dynctl -H "$a2" join "$a1" >/dev/null
    # n2 stops answering: n1's one transfer slot stays taken, the other
    # partitions with keys wait for it.
    kill -STOP "$(node_pid n2)"
    wait_until one_under_way "$a1"
    run -3 dynctl -H "$a1" -t 1000 handoff
    [[ "${lines[0]}" == "dynctl: handoff: $a2: no reply within 1000 ms" ]]
    [[ "${lines[1]}" == *" partition transfers: 1 under way ("*"), "*" waiting for a slot; no hints; 1 of 2 members asked; not answering: n2 ($a2)" ]]
    local rows; rows=$(grep -c "^ *[0-9]\+ n1 " <<<"$output" || true)
    assert_eq 1 "$rows" "rows without --all"
    run -3 dynctl -H "$a1" -t 1000 handoff --all
    local all; all=$(grep -c "^ *[0-9]\+ n1 " <<<"$output" || true)
    [ "$all" -gt 5 ]
    run -3 --separate-stderr dynctl -H "$a1" -t 1000 handoff --json
    assert_eq '["n2"]' "$(jq -c .not_answering <<<"$output")"
    [ "$(jq '[.transfers[] | select(.queued)] | length' <<<"$output")" -gt 5 ]
    assert_eq false "$(jq .complete <<<"$output")"
    kill -CONT "$(node_pid n2)"
}
