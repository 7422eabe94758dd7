#!/usr/bin/env bats
# The README's walk-through of a conflict is true: every "$ command" of
# that example, run in order against a fresh node, prints exactly the
# lines the README shows after it (standard output and error together).

load helpers

teardown() { stop_all_nodes; }

# The example: the indented lines after "A conflict and its resolution",
# up to the first line that is neither indented nor blank.
readme_example() {
    awk '/^A conflict and its resolution/ { on = 1; next }
         on && /^[^ ]/ && NF { exit }
         on && /^    / { sub(/^    /, ""); print }' "$DYN_SRCDIR/README"
}

@test "the README's conflict walk-through prints what the README says" {
    start_node n1
    readme_example >"$BATS_TEST_TMPDIR/example"
    [ "$(grep -c '^\$ ' "$BATS_TEST_TMPDIR/example")" -ge 5 ]
    local script="$BATS_TEST_TMPDIR/script" expected="$BATS_TEST_TMPDIR/expected"
    : >"$script"; : >"$expected"
    while IFS= read -r line; do
        if [[ "$line" == '$ '* ]]; then
            printf '%s\n' "${line#\$ }" >>"$script"
        else
            printf '%s\n' "$line" >>"$expected"
        fi
    done <"$BATS_TEST_TMPDIR/example"
    # One shell runs the commands in order, as a person pasting them.
    bash "$script" >"$BATS_TEST_TMPDIR/actual" 2>&1
    diff -u "$expected" "$BATS_TEST_TMPDIR/actual"
}
