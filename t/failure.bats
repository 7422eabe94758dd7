#!/usr/bin/env bats
# t/failure.bats - each node's failure detector (phi accrual over its
# pings, daemon/mechanisms/detector.h) as dynctl status shows it: a peer
# that stops answering is suspected within seconds, and one that answers
# again is cleared.  Nodes are stopped by PID in teardown.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

# phi_of HOST NAME: HOST's phi for member NAME.
phi_of() {
    dynctl -H "$1" -t 2000 status --json |
        jq -r --arg n "$2" '.nodes[] | select(.name == $n) | .phi'
}

# phi_below HOST NAME LIMIT / phi_at_least HOST NAME LIMIT
phi_below() {
    awk -v p="$(phi_of "$1" "$2")" -v l="$3" \
        'BEGIN { exit !(p != "" && p != "null" && p + 0 < l) }'
}
phi_at_least() {
    awk -v p="$(phi_of "$1" "$2")" -v l="$3" \
        'BEGIN { exit !(p != "" && p != "null" && p + 0 >= l) }'
}

# heard HOST NAME: HOST has heard enough of NAME's answers for a phi
# (null until then).
heard() { local p; p=$(phi_of "$1" "$2"); [ -n "$p" ] && [ "$p" != null ]; }

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
