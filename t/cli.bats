#!/usr/bin/env bats
# t/cli.bats - the command-line contract of dyn, dynctl and dynamod
# (../shared/design/CLI.md): help, version, exit codes, error lines,
# -H/$DYN_HOST, -t, and the --json shapes scripts rely on.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

# one_error_line PROG: the last `run --separate-stderr` printed exactly one
# line on stderr, starting with "PROG: ".
one_error_line() {
    if [ "${#stderr_lines[@]}" -ne 1 ] || [[ "$stderr" != "$1: "* ]]; then
        echo "expected one stderr line starting with '$1: ', got:" >&2
        printf '%s\n' "$stderr" >&2
        return 1
    fi
}

# dead_addr: HOST:PORT of a port nothing listens on.
dead_addr() { echo "127.0.0.1:$(pick_port)"; }

# ---- help and version --------------------------------------------------

@test "dyn --help exits 0 and lists every command and common option" {
    run -0 --separate-stderr dyn --help
    for word in get put del resolve -H -t --json --help --version; do
        [[ "$output" == *"$word"* ]] || { echo "no '$word' in help"; false; }
    done
    [ -z "$stderr" ]
}

@test "dyn -h is the same help as --help" {
    run -0 dyn --help
    local long=$output
    run -0 dyn -h
    assert_eq "$long" "$output" "dyn -h"
}

@test "each dyn command's --help exits 0 and shows its usage and options" {
    run -0 dyn get --help
    [[ "$output" == *"Usage: dyn get KEY"* && "$output" == *"-r R"* ]]
    run -0 dyn put --help
    [[ "$output" == *"Usage: dyn put KEY [VALUE]"* ]]
    [[ "$output" == *"--context"* && "$output" == *"-w W"* ]]
    run -0 dyn del --help
    [[ "$output" == *"Usage: dyn del KEY"* && "$output" == *"--context"* ]]
    run -0 dyn resolve --help
    [[ "$output" == *"Usage: dyn resolve KEY"* ]]
    [[ "$output" == *"--pick"* && "$output" == *"--value"* ]]
}

@test "a command's --help needs no node and no KEY" {
    # No node listens at DYN_HOST; help must not try to connect.
    DYN_HOST=$(dead_addr) run -0 dyn put --help
    [[ "$output" == *"Usage: dyn put"* ]]
}

@test "dynctl --help and dynctl status --help exit 0 and list status" {
    run -0 --separate-stderr dynctl --help
    [[ "$output" == *"status"* && "$output" == *"-H"* ]]
    [[ "$output" == *"--json"* && "$output" == *"--version"* ]]
    run -0 dynctl status --help
    [[ "$output" == *"Usage: dynctl status"* ]]
}

@test "dynamod --help exits 0 and lists its options" {
    run -0 --separate-stderr dynamod --help
    for word in --config --check-config --foreground --log-level --pid-file \
        --log-file --version; do
        [[ "$output" == *"$word"* ]] || { echo "no '$word' in help"; false; }
    done
}

@test "--version of dyn, dynctl and dynamod prints the name and a version" {
    local prog
    for prog in dyn dynctl dynamod; do
        run -0 --separate-stderr "$prog" --version
        [[ "$output" =~ ^$prog\ [0-9]+\.[0-9]+ ]] ||
            { echo "$prog --version: '$output'"; false; }
    done
}

# ---- usage errors: exit 2, one line on stderr --------------------------

@test "dyn with an unknown command exits 2 with one 'dyn:' line" {
    run -2 --separate-stderr dyn frobnicate
    one_error_line dyn
    [[ "$stderr" == *frobnicate* ]]
}

@test "dynctl with an unknown command exits 2 with one 'dynctl:' line" {
    run -2 --separate-stderr dynctl frobnicate
    one_error_line dynctl
    [[ "$stderr" == *frobnicate* ]]
}

@test "an unknown global option exits 2 with one line naming it" {
    run -2 --separate-stderr dyn --frobnicate get k
    one_error_line dyn
    [[ "$stderr" == *--frobnicate* ]]
    run -2 --separate-stderr dynctl --frobnicate status
    one_error_line dynctl
}

@test "an unknown option of a command exits 2 with one line naming it" {
    run -2 --separate-stderr dyn get --frobnicate k
    one_error_line dyn
    [[ "$stderr" == *--frobnicate* ]]
    run -2 --separate-stderr dyn put -Z k v
    one_error_line dyn
    run -2 --separate-stderr dynctl status --frobnicate
    one_error_line dynctl
}

@test "dynamod with an unknown option or argument exits 2" {
    run -2 --separate-stderr dynamod --frobnicate
    [[ "${stderr_lines[0]}" == "dynamod: "* ]]
    run -2 --separate-stderr dynamod stray-argument
    [[ "$stderr" == "dynamod: "*stray-argument* ]]
}

@test "dyn get, put, del and resolve without KEY exit 2" {
    local cmd
    for cmd in get put del resolve; do
        run -2 --separate-stderr dyn "$cmd" </dev/null
        one_error_line dyn
        [[ "$stderr" == *usage* ]]
    done
}

@test "dyn get with an extra argument exits 2" {
    run -2 --separate-stderr dyn get k1 k2
    one_error_line dyn
}

@test "an option that needs a value and has none exits 2" {
    run -2 --separate-stderr dyn get k -r
    one_error_line dyn
    run -2 --separate-stderr dyn -H
    one_error_line dyn
}

@test "-r and -w out of 1..16 exit 2 before any connection" {
    # Nothing listens there: exit 2 (not 3) shows the check is local.
    export DYN_HOST; DYN_HOST=$(dead_addr)
    local args
    for args in "get k -r 0" "get k -r 17" "get k -r x" "put k v -w 0" \
        "put k v -w 17" "del k -w 0"; do
        # shellcheck disable=SC2086
        run -2 --separate-stderr dyn $args
        one_error_line dyn
        [[ "$stderr" == *"1 to 16"* ]] || { echo "$args: $stderr"; false; }
    done
}

@test "resolve's usage errors exit 2 whether or not the node or key is there" {
    export DYN_HOST; DYN_HOST=$(dead_addr)
    run -2 --separate-stderr dyn resolve k --value v -w 99
    one_error_line dyn
    run -2 --separate-stderr dyn resolve k
    one_error_line dyn
    start_node n1
    run -2 --separate-stderr dyn resolve missing --value v -w 99
    run -2 --separate-stderr dyn resolve missing
}

@test "a quorum above the cluster's n is refused with exit 2" {
    start_node n1 "  n: 3"
    dyn put k v
    run -2 --separate-stderr dyn get k -r 4
    one_error_line dyn
    [[ "$stderr" == *"r=4"* && "$stderr" == *"n=3"* ]]
    run -2 --separate-stderr dyn put k v2 -w 4
    one_error_line dyn
    run -0 dyn get k
    assert_eq v "$output" "k after the refused put"
}

@test "-t out of range or not a number exits 2" {
    local t
    for t in 0 -5 abc 3600001; do
        run -2 --separate-stderr dyn -t "$t" get k
        one_error_line dyn
        run -2 --separate-stderr dynctl status -t "$t"
        one_error_line dynctl
    done
}

@test "a -H that is not HOST:PORT exits 2" {
    run -2 --separate-stderr dyn -H no-port-here get k
    one_error_line dyn
    [[ "$stderr" == *no-port-here* ]]
}

@test "a bad -C token exits 2 and writes nothing" {
    start_node n1
    dyn put k v
    local ctx
    for ctx in garbage '' 'cA!!' "$(printf 'x%.0s' {1..300})"; do
        run -2 --separate-stderr dyn put k other -C "$ctx"
        one_error_line dyn
        [[ "$stderr" == *"-C"* ]]
        run -2 --separate-stderr dyn del k -C "$ctx"
        one_error_line dyn
    done
    run -0 dyn get k
    assert_eq v "$output" "k after refused writes"
}

@test "resolve needs exactly one of --pick and --value (exit 2)" {
    start_node n1
    dyn put k a
    dyn put k b
    run -2 --separate-stderr dyn resolve k
    one_error_line dyn
    run -2 --separate-stderr dyn resolve k --pick 1 --value x
    one_error_line dyn
    run -2 --separate-stderr dyn resolve k --pick 3
    one_error_line dyn
    run -2 --separate-stderr dyn resolve k --pick 0
    one_error_line dyn
    # Nothing was written: both siblings are still there.
    run -4 dyn get k
}

# ---- exit codes of requests ----------------------------------------------

@test "get of a missing key exits 1 with one 'dyn:' line and no output" {
    start_node n1
    run -1 --separate-stderr dyn get no-such-key
    [ -z "$output" ]
    one_error_line dyn
    [[ "$stderr" == *no-such-key*"not found"* ]]
}

@test "get --json of a missing key exits 1 and prints no siblings" {
    start_node n1
    run -1 --separate-stderr dyn get no-such-key --json
    assert_eq 0 "$(jq '.siblings | length' <<<"$output")" "sibling count"
    assert_eq no-such-key "$(jq -r .key <<<"$output")" key
}

@test "connection refused exits 3 and says the connect failed" {
    local addr; addr=$(dead_addr)
    run -3 --separate-stderr dyn -H "$addr" get k
    one_error_line dyn
    [[ "$stderr" == *connect*"$addr"* && "$stderr" == *refused* ]]
    run -3 --separate-stderr dyn -H "$addr" put k v
    one_error_line dyn
    run -3 --separate-stderr dyn -H "$addr" del k
    one_error_line dyn
    run -3 --separate-stderr dyn -H "$addr" resolve k --value v
    one_error_line dyn
    run -3 --separate-stderr dynctl -H "$addr" status
    one_error_line dynctl
    [[ "$stderr" == *connect*"$addr"* && "$stderr" == *refused* ]]
}

@test "a server that is not a node is named so, with what it sent (exit 3)" {
    start_fake_server reply '-ERR unknown command\r\n' # as redis answers
    local redis=$FAKE_ADDR
    run -3 --separate-stderr dyn -H "$redis" get k
    one_error_line dyn
    assert_eq "dyn: get k: $redis does not speak the dynamo protocol (got \"-ERR unknown command\")" "$stderr"
    run -3 --separate-stderr dynctl -H "$redis" status
    one_error_line dynctl
    [[ "$stderr" == *": $redis does not speak the dynamo protocol (got \"-ERR unknown command\")" ]]
    start_fake_server reply 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'
    run -3 --separate-stderr dyn -H "$FAKE_ADDR" put k v
    one_error_line dyn
    [[ "$stderr" == *"$FAKE_ADDR does not speak the dynamo protocol (got \"HTTP/1.1 400 Bad Request\")" ]]
    # Bytes that are not text come escaped; a long line is cut.
    start_fake_server reply '\x00\x00\x00\x00\x1b[31mred'
    run -3 --separate-stderr dyn -H "$FAKE_ADDR" get k
    one_error_line dyn
    [[ "$stderr" == *'(got "\x00\x00\x00\x00\x1b[31mred")' ]]
    start_fake_server reply "$(printf 'x%.0s' {1..100})"
    run -3 --separate-stderr dyn -H "$FAKE_ADDR" get k
    [[ "$stderr" == *"(got \"$(printf 'x%.0s' {1..40})...\")" ]]
}

@test "get of a key with siblings exits 4 and prints no value" {
    start_node n1
    dyn put k a
    dyn put k b
    run -4 --separate-stderr dyn get k
    [ -z "$output" ]
    one_error_line dyn
    [[ "$stderr" == *siblings* ]]
}

# ---- keys in messages --------------------------------------------------

@test "a key with ESC or a newline is escaped in every error line" {
    start_node n1
    local key=$'red\e[31m\nline'
    run -1 --separate-stderr dyn get "$key"
    one_error_line dyn
    assert_eq 'dyn: get red\x1b[31m\x0aline: not found' "$stderr"
    run -1 --separate-stderr dyn del "$key"
    one_error_line dyn
    assert_eq 'dyn: del red\x1b[31m\x0aline: not found' "$stderr"
    run -1 --separate-stderr dyn resolve "$key" --pick 1
    one_error_line dyn
    assert_eq 'dyn: resolve red\x1b[31m\x0aline: not found' "$stderr"
    dyn put "$key" a
    run -0 --separate-stderr dyn put "$key" b
    one_error_line dyn
    assert_eq "dyn: put red\\x1b[31m\\x0aline: stored; the key now has 2 siblings (see 'dyn get \$'red\\x1b[31m\\nline' --json', settle with 'dyn resolve')" "$stderr"
    run -4 --separate-stderr dyn get "$key"
    one_error_line dyn
    assert_eq "dyn: get red\\x1b[31m\\x0aline: 2 siblings (0 deleted); see 'dyn get \$'red\\x1b[31m\\nline' --json' or settle with 'dyn resolve \$'red\\x1b[31m\\nline''" "$stderr"
    # Words of the user's other than keys are escaped too.
    run -2 --separate-stderr dyn $'fro\e[1mb'
    one_error_line dyn
    [[ "$stderr" == *'fro\x1b[1mb'* ]]
    run -2 --separate-stderr dyn get k -r $'1\n2'
    one_error_line dyn
}

@test "the hint of a key with siblings pastes into bash as that key" {
    start_node n1
    local key see settle
    for key in plain:1 "my key" "it's" 'back\slash' -dash $'tab\tnl\n' \
        $'caf\xc3\xa9'; do
        dyn put -- "$key" a
        dyn put -- "$key" b 2>/dev/null
        run -4 --separate-stderr dyn get -- "$key"
        one_error_line dyn
        see=$(sed -n "s/.* see '\(.*\)' or settle with '\(.*\)'\$/\1/p" <<<"$stderr")
        settle=$(sed -n "s/.* see '\(.*\)' or settle with '\(.*\)'\$/\2/p" <<<"$stderr")
        [[ "$see" == "dyn get "* && "$settle" == "dyn resolve "* ]] ||
            { echo "no hint in: $stderr"; false; }
        run -0 eval "$see" # pasted as it is
        jq -e --arg k "$key" '.key == $k and (.siblings | length) == 2' \
            <<<"$output" || { echo "$key: '$see' read another key"; false; }
        # resolve's hint names the same key (its options go before --)
        run -0 eval "${settle/dyn resolve/dyn resolve --pick 1}"
        run -0 dyn get -- "$key"
    done
}

# ---- -H, $DYN_HOST, -t -------------------------------------------------

@test "\$DYN_HOST names the node when -H is not given" {
    start_node n1
    local addr=$NODE_ADDR
    unset DYN_HOST
    DYN_HOST=$addr dyn put k via-env
    DYN_HOST=$addr run -0 dyn get k
    assert_eq via-env "$output"
    DYN_HOST=$addr run -0 dynctl status --json
    assert_eq "$addr" "$(jq -r .node.address <<<"$output")" address
}

@test "-H names the node, before or after the command" {
    start_node n1
    local addr=$NODE_ADDR
    unset DYN_HOST
    dyn -H "$addr" put k via-flag
    run -0 dyn get k -H "$addr"
    assert_eq via-flag "$output"
    run -0 dyn --host "$addr" get k
    assert_eq via-flag "$output"
    run -0 dynctl -H "$addr" status
}

@test "-H wins over \$DYN_HOST" {
    start_node n1
    local good=$NODE_ADDR bad; bad=$(dead_addr)
    dyn put k v
    DYN_HOST=$bad run -0 dyn -H "$good" get k
    assert_eq v "$output"
    DYN_HOST=$good run -3 dyn -H "$bad" get k
    DYN_HOST=$bad run -0 dynctl -H "$good" status
}

@test "-t is accepted before and after the command" {
    start_node n1
    dyn -t 5000 put k v
    run -0 dyn get k -t 5000
    assert_eq v "$output"
    run -0 dyn --timeout 5000 get k
    run -0 dynctl -t 5000 status
}

@test "-t bounds the wait for a node that does not answer (exit 3)" {
    start_node n1
    local pid; pid=$(node_pid n1)
    kill -STOP "$pid"
    # The kernel still completes the connection; the reply never comes.
    local t0=$SECONDS
    run --separate-stderr dyn -t 300 get k
    local took=$((SECONDS - t0))
    kill -CONT "$pid"
    assert_eq 3 "$status" "exit status"
    one_error_line dyn
    [[ "$stderr" == *"300 ms"* ]]
    [ "$took" -lt 5 ] # not the 10 s default
    run -0 dynctl status
}

# ---- --json shapes -----------------------------------------------------

@test "get --json has key, context and siblings with value, encoding, dot, deleted" {
    start_node n1
    dyn put user:1 alice
    run -0 --separate-stderr dyn get user:1 --json
    jq -e '
        .key == "user:1" and (.context | type == "string" and length > 0)
        and (.siblings | length == 1)
        and .siblings[0].value == "alice"
        and .siblings[0].encoding == "utf8"
        and .siblings[0].deleted == false
        and (.siblings[0].dot | type == "object")
        and (.siblings[0].dot.node | test("^[0-9a-f]{16}$"))
        and (.siblings[0].dot.counter | type == "number")' <<<"$output"
    [ -z "$stderr" ]
}

@test "--json works before the command too" {
    start_node n1
    dyn put k v
    run -0 dyn --json get k
    jq -e '.siblings[0].value == "v"' <<<"$output"
}

@test "put --json and del --json print ok and a context" {
    start_node n1
    run -0 --separate-stderr dyn put k v --json
    jq -e '.ok == true and (.context | type == "string" and length > 0)' \
        <<<"$output"
    run -0 --separate-stderr dyn del k --json
    jq -e '.ok == true and (.context | type == "string" and length > 0)' \
        <<<"$output"
    run -1 dyn get k
}

@test "the context of put --json supersedes that write" {
    start_node n1
    run -0 dyn put k v1 --json
    local ctx; ctx=$(jq -r .context <<<"$output")
    dyn put k v2 -C "$ctx"
    run -0 dyn get k
    assert_eq v2 "$output" "value after a put with put's context"
}

@test "dynctl status --json has epoch, nodes and the node's id, keys, size, uptime" {
    start_node n1
    dyn put a 1
    dyn put b 2
    run -0 --separate-stderr dynctl status --json
    jq -e --arg addr "$NODE_ADDR" '
        (.epoch | type == "number")
        and (.nodes | length == 1)
        and .nodes[0].name == "n1"
        and .nodes[0].address == $addr
        and (.nodes[0] | has("zone"))
        and .nodes[0].state == "up"
        and (.nodes[0].partitions | type == "number" and . > 0)
        and .nodes[0].reachable == true
        and (.node.id | test("^[0-9a-f]{16}$"))
        and .node.keys == 2
        and (.node.store_bytes | type == "number" and . > 0)
        and (.node.uptime_s | type == "number" and . >= 0)' <<<"$output"
}

@test "dynctl status without --json is a table for people" {
    start_node n1
    run -0 dynctl status
    [[ "$output" == *n1* && "$output" == *"$NODE_ADDR"* ]]
    run jq . <<<"$output"
    [ "$status" -ne 0 ] # not JSON
}

@test "dynctl status shows the node's zone when it has one" {
    write_config n1 "$(pick_port)"
    sed -i 's/^node:$/&\n  zone: rack-7/' "$(node_dir n1)/config.yaml"
    start_node_config n1
    run -0 dynctl status --json
    assert_eq rack-7 "$(jq -r '.nodes[0].zone' <<<"$output")" zone
}

# ---- keys over the limit ---------------------------------------------------

@test "a key of max_key_bytes (1024) is accepted" {
    start_node n1
    local key; key=$(printf 'k%.0s' {1..1024})
    dyn put "$key" v
    run -0 dyn get "$key"
    assert_eq v "$output"
}

@test "a key over max_key_bytes is refused clearly and nothing is stored" {
    start_node n1
    local key; key=$(printf 'k%.0s' {1..1025})
    run --separate-stderr dyn put "$key" v
    [ "$status" -ne 0 ]
    one_error_line dyn
    [[ "$stderr" == *max_key_bytes* ]]
    run --separate-stderr dyn get "$key"
    [ "$status" -ne 0 ]
    [[ "$stderr" == *max_key_bytes* ]]
    assert_eq 0 "$(node_status keys)" "keys stored"
}

@test "a key over a configured max_key_bytes is refused" {
    start_node n1 "limits:" "  max_key_bytes: 16"
    dyn put 0123456789abcdef v
    run -2 --separate-stderr dyn put 0123456789abcdefX v
    [[ "$stderr" == *max_key_bytes* && "$stderr" == *16* ]]
    assert_eq 1 "$(node_status keys)" "keys stored"
}

@test "an empty key is refused with exit 2" {
    start_node n1
    run -2 --separate-stderr dyn put "" v
    one_error_line dyn
    run -2 --separate-stderr dyn get ""
    assert_eq 0 "$(node_status keys)" "keys stored"
}

@test "a VALUE that starts with '-' is written after --" {
    start_node n1
    dyn put k -- -dash
    run -0 dyn get k
    assert_eq -dash "$output"
}
