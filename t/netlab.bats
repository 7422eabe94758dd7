#!/usr/bin/env bats
# t/netlab.bats - the network lab of t/netlab.bash cleans up after
# itself: a test that builds a lab, starts nodes, partitions them and
# then fails, or is sent SIGTERM or SIGINT midway, leaves no namespace,
# link or process behind.  Each case runs such a test in a bats of its
# own and looks at what is left.  Needs root, like the lab.

bats_require_minimum_version 1.5.0
load helpers
load netlab

setup() { lab_skip_unless_usable; }
teardown() { lab_cleanup; }

# write_child BODY: $BATS_TEST_TMPDIR/child.bats, one test that makes a
# lab of three nodes, two of them running and cut off from each other, a
# process in the background, records what it made, then runs BODY.
write_child() {
    # The test's opening line is spelled with $at: bats would take a line
    # of this file starting with the at sign and "test" for a test of its own.
    local made=$BATS_TEST_TMPDIR/made at=@
    cat >"$BATS_TEST_TMPDIR/child.bats" <<EOF
load "$DYN_SRCDIR/t/helpers"
load "$DYN_SRCDIR/t/netlab"
setup() { lab_up 3; }
teardown() { lab_cleanup; }
${at}test "child" {
    lab_start_node n1
    lab_start_node n2
    lab_partition n1 "n2 n3"
    lab_background sleep 600
    cp "\$LAB_DIR/netns" "$made.netns"
    cp "\$LAB_DIR/pid" "$made.pid"
    echo "\$BASHPID" >"$made.owner"
    $1
}
EOF
}

# root_links: the root namespace's links, as "INDEX NAME", sorted.
root_links() { ip -o link show | awk -F': ' '{ print $1, $2 }' | sort; }

# nothing_left: no namespace the child made is listed, the root
# namespace has no link it lacked before the child ran (made.links-before),
# and no process the child started is alive.
nothing_left() {
    local made=$BATS_TEST_TMPDIR/made pid left
    [ -s "$made.netns" ] && [ -s "$made.pid" ]
    left=$(ip netns list | awk '{ print $1 }' | grep -Fxf "$made.netns" || true)
    assert_eq "" "$left" "namespaces left"
    # The lab makes its links inside its namespaces; none may have been
    # left in (or moved to) the root namespace.
    root_links >"$made.links-after"
    left=$(comm -13 "$made.links-before" "$made.links-after")
    assert_eq "" "$left" "links new in the root namespace"
    while read -r pid; do
        if kill -0 "$pid" 2>/dev/null; then
            echo "process $pid left: $(ps -o args= -p "$pid")" >&2
            return 1
        fi
    done <"$made.pid"
    echo "# $(wc -l <"$made.netns") namespaces and $(wc -l <"$made.pid") processes made, none left" >&3
}

# child_bats: run child.bats in a bats of its own: not in this one's
# environment, whose BATS_* variables would make it report as this one,
# and without bats' internal directory on PATH, whose `bats` is not the
# command.
child_bats() {
    local path
    path=$(tr : '\n' <<<"$PATH" | grep -v '/libexec/bats-core$' | paste -sd :)
    env -i PATH="$path" HOME="$HOME" DYN_SRCDIR="$DYN_SRCDIR" \
        DYN_BUILDDIR="$DYN_BUILDDIR" bats --tap "$BATS_TEST_TMPDIR/child.bats"
}

# skip_if_child_skipped OUTPUT: the child skipped (no lab here): so do we.
skip_if_child_skipped() {
    [[ "$1" != *"ok 1 child # skip"* ]] || skip "the child skipped:${1##*# skip}"
}

# child_started: the child's test has made its lab, or it skipped.
child_started() {
    [ -s "$BATS_TEST_TMPDIR/made.owner" ] ||
        grep -q "# skip" "$BATS_TEST_TMPDIR/child.out"
}

@test "a lab test that fails midway leaves no namespace, link or process behind" {
    write_child false
    root_links >"$BATS_TEST_TMPDIR/made.links-before"
    run child_bats 3>&-
    echo "$output"
    skip_if_child_skipped "$output"
    [ "$status" = 1 ]
    [[ "$output" == *"not ok 1 child"* ]]
    nothing_left
}

# killed_midway SIGNAL: the child test, waiting, is sent SIGNAL.
killed_midway() {
    # A poll of short commands, as the tests' waits are: bash runs a trap
    # once the command in the foreground ends.
    write_child "DYN_TEST_DEADLINE_S=600 wait_until false"
    root_links >"$BATS_TEST_TMPDIR/made.links-before"
    child_bats >"$BATS_TEST_TMPDIR/child.out" 2>&1 3>&- &
    local child=$!
    echo "$child" >>"$BATS_TEST_TMPDIR/pids"
    wait_until child_started
    skip_if_child_skipped "$(cat "$BATS_TEST_TMPDIR/child.out")"
    kill "-$1" "$(cat "$BATS_TEST_TMPDIR/made.owner")"
    wait_exit "$child"
    cat "$BATS_TEST_TMPDIR/child.out"
    grep -q "not ok 1 child" "$BATS_TEST_TMPDIR/child.out"
    nothing_left
}

@test "a lab test sent SIGTERM midway leaves no namespace, link or process behind" {
    killed_midway TERM
}

@test "a lab test sent SIGINT midway leaves no namespace, link or process behind" {
    killed_midway INT
}
