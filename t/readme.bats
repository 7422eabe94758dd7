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

# The shell walk-through: the first indented block after "In the shell",
# up to the next line that is neither indented nor blank.  Lines after the
# prompt are what was typed, the answer after "(empty: cancel)? " too;
# everything else is what the shell printed.  Piped, the shell prints no
# prompt, so the typed lines are its input and the rest its output.
readme_shell() {
    awk '/^In the shell/ { on = 1; next }
         in_block && /^[^ ]/ && NF { exit }
         on && /^    / { in_block = 1; sub(/^    /, ""); print }' \
        "$DYN_SRCDIR/README"
}

@test "the README's shell walk-through prints what the README says" {
    start_node n1
    readme_shell >"$BATS_TEST_TMPDIR/example"
    local input="$BATS_TEST_TMPDIR/input" expected="$BATS_TEST_TMPDIR/expected"
    : >"$input"; : >"$expected"
    while IFS= read -r line; do
        case $line in
        '$ dyn shell') ;;
        'dyn 127.0.0.1:7401> '*) printf '%s\n' "${line#dyn 127.0.0.1:7401> }" >>"$input" ;;
        *'(empty: cancel)? '*) printf '%s\n' "${line#*(empty: cancel)? }" >>"$input" ;;
        *) printf '%s\n' "$line" >>"$expected" ;;
        esac
    done <"$BATS_TEST_TMPDIR/example"
    [ "$(wc -l <"$input")" -ge 5 ]
    dyn shell <"$input" >"$BATS_TEST_TMPDIR/actual" 2>&1
    local mask='s/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC/TIME/'
    diff -u <(sed -E "$mask" "$expected") \
        <(sed -E "$mask" "$BATS_TEST_TMPDIR/actual")
}
