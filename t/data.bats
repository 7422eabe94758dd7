#!/usr/bin/env bats
# t/data.bats - values round-trip byte for byte, versions behave as
# Dynamo's (siblings, contexts, resolve, delete), and data and the node id
# survive a clean restart.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

# Storage that survives a restart, whatever $DYN_TEST_ENGINE says.
LMDB=("storage:" "  engine: lmdb" "  sync: none")

# context KEY: the context token of `dyn get KEY --json`.
context() { dyn get "$1" --json | jq -r .context; }

# sibling_values KEY: the live siblings' values, sorted, one a line.
sibling_values() {
    dyn get "$1" --json | jq -r '[.siblings[] | select(.deleted | not)
                                  | .value] | sort | .[]'
}

# ---- values round-trip exactly -------------------------------------------

@test "a 1 MiB value from stdin round-trips exactly" {
    start_node n1
    local in=$BATS_TEST_TMPDIR/in out=$BATS_TEST_TMPDIR/out
    head -c 1048576 /dev/urandom >"$in"
    dyn put big <"$in"
    dyn get big >"$out"
    cmp "$in" "$out"
}

@test "a value one byte over the default max_value_bytes (1 MiB) is refused" {
    start_node n1
    run -2 --separate-stderr dyn put big < <(head -c 1048577 /dev/zero)
    [[ "$stderr" == *max_value_bytes* ]]
    run -1 dyn get big
}

@test "an empty value from empty stdin round-trips: get exits 0, prints nothing" {
    start_node n1
    dyn put empty </dev/null
    run -0 dyn get empty
    [ -z "$output" ]
    assert_eq 0 "$(dyn get empty | wc -c)" "bytes printed"
    run -0 dyn get empty --json
    jq -e '.siblings | length == 1 and .[0].value == "" and
           .[0].deleted == false' <<<"$output"
}

@test "an empty VALUE argument round-trips: get exits 0, prints nothing" {
    start_node n1
    dyn put empty ""
    run -0 dyn get empty
    assert_eq 0 "$(dyn get empty | wc -c)" "bytes printed"
}

@test "a value with NUL bytes round-trips exactly" {
    start_node n1
    local in=$BATS_TEST_TMPDIR/in out=$BATS_TEST_TMPDIR/out
    printf 'a\0b\0\0c\n\0' >"$in"
    head -c 4096 /dev/zero >>"$in"
    dyn put nul <"$in"
    dyn get nul >"$out"
    cmp "$in" "$out"
}

@test "a value without a final newline gets none added" {
    start_node n1
    printf 'no newline' | dyn put k
    assert_eq 10 "$(dyn get k | wc -c)" "bytes printed"
}

@test "a binary value shows encoding base64 in get --json and decodes exactly" {
    start_node n1
    local in=$BATS_TEST_TMPDIR/in out=$BATS_TEST_TMPDIR/out
    printf '\xff\xfe\x00\x01\x80binary\xc3' >"$in"
    head -c 2000 /dev/urandom >>"$in"
    dyn put bin <"$in"
    run -0 dyn get bin --json
    assert_eq base64 "$(jq -r '.siblings[0].encoding' <<<"$output")" encoding
    jq -r '.siblings[0].value' <<<"$output" | base64 -d >"$out"
    cmp "$in" "$out"
}

@test "a UTF-8 value shows encoding utf8 and its text in get --json" {
    start_node n1
    dyn put text 'grüße, 世界 "quoted" \ tab	end'
    run -0 dyn get text --json
    jq -e '.siblings[0].encoding == "utf8" and
           .siblings[0].value == "grüße, 世界 \"quoted\" \\ tab\tend"' \
        <<<"$output"
}

@test "a value over a configured max_value_bytes is refused and the key keeps its value" {
    start_node n1 "limits:" "  max_value_bytes: 4096"
    dyn put k previous
    head -c 4096 /dev/zero | dyn put fits # the limit itself is allowed
    run -2 --separate-stderr dyn put k -C "$(context k)" \
        < <(head -c 4097 /dev/zero)
    [[ "$stderr" == *max_value_bytes* && "$stderr" == *4096* ]]
    run -0 dyn get k
    assert_eq previous "$output" "k after the refused put"
    assert_eq 1 "$(dyn get k --json | jq '.siblings | length')" siblings
}

# ---- siblings and contexts -------------------------------------------------

@test "put without context on an existing key makes a sibling (get exits 4)" {
    start_node n1
    dyn put k a
    dyn put k b
    run -4 dyn get k
    run -0 dyn get k --json
    jq -e '(.siblings | length == 2)
           and ([.siblings[].dot] | unique | length == 2)
           and ([.siblings[].value] | sort == ["a", "b"])' <<<"$output"
}

@test "put reports the sibling it made on stderr without --json" {
    start_node n1
    dyn put k a
    run -0 --separate-stderr dyn put k b
    [[ "$stderr" == *"2 siblings"* ]]
    run -0 dyn put k c --json
    assert_eq 3 "$(jq .siblings <<<"$output")" "siblings in put --json"
}

@test "put with the context of a get supersedes: one sibling left" {
    start_node n1
    dyn put k a
    dyn put k b
    dyn put k c -C "$(context k)"
    run -0 dyn get k
    assert_eq c "$output"
    assert_eq 1 "$(dyn get k --json | jq '.siblings | length')" siblings
}

@test "two puts with the same stale context both survive as siblings" {
    start_node n1
    dyn put k a
    local ctx; ctx=$(context k)
    dyn put k b -C "$ctx"
    dyn put k c -C "$ctx"
    run -4 dyn get k
    assert_eq "b c" "$(sibling_values k | tr '\n' ' ' | sed 's/ $//')" \
        "live siblings"
}

@test "a put with a context that saw only one sibling keeps the other" {
    start_node n1
    dyn put k a
    local ctx_a; ctx_a=$(context k)
    dyn put k b -C "$ctx_a"  # supersedes a
    dyn put k c -C "$ctx_a"  # concurrent with b
    dyn put k d -C "$ctx_a"  # also concurrent with b and c
    assert_eq "b c d" "$(sibling_values k | tr '\n' ' ' | sed 's/ $//')"
}

# ---- delete ------------------------------------------------------------

@test "del then get exits 1" {
    start_node n1
    dyn put k v
    dyn del k
    run -1 --separate-stderr dyn get k
    [ -z "$output" ]
    [[ "$stderr" == *"not found"* ]]
}

@test "del of a missing key exits 1" {
    start_node n1
    run -1 --separate-stderr dyn del never-written
    [[ "$stderr" == *never-written* ]]
}

@test "del of a deleted key exits 1" {
    start_node n1
    dyn put k v
    dyn del k
    run -1 dyn del k
}

@test "del removes every sibling it read" {
    start_node n1
    dyn put k a
    dyn put k b
    dyn del k
    run -1 dyn get k
    run -1 dyn get k --json
    jq -e '[.siblings[] | select(.deleted | not)] | length == 0' <<<"$output"
}

@test "del with a stale -C keeps the version written after that context" {
    start_node n1
    dyn put k a
    local ctx; ctx=$(context k)
    dyn put k b -C "$ctx"
    dyn del k -C "$ctx"
    assert_eq b "$(sibling_values k)" "live siblings"
}

@test "a put without context after a delete reads back as the value alone" {
    start_node n1
    dyn put k old
    dyn del k
    run -0 --separate-stderr dyn put k new
    [ -z "$stderr" ] # no "siblings" note: the tombstone went
    run -0 dyn get k
    assert_eq new "$output"
    assert_eq 1 "$(dyn get k --json | jq '.siblings | length')" siblings
}

@test "a put after a delete brings the key back" {
    start_node n1
    dyn put k old
    dyn del k
    dyn put k new -C "$(context k)"
    run -0 dyn get k
    assert_eq new "$output"
}

# ---- resolve -------------------------------------------------------------

@test "resolve --pick N keeps sibling N's value" {
    start_node n1
    dyn put k first
    dyn put k second
    dyn put k third
    local picked; picked=$(dyn get k --json | jq -r '.siblings[1].value')
    dyn resolve k --pick 2
    run -0 dyn get k
    assert_eq "$picked" "$output" "value after --pick 2"
    assert_eq 1 "$(dyn get k --json | jq '.siblings | length')" siblings
}

@test "resolve --pick keeps a binary sibling's exact bytes" {
    start_node n1
    local in=$BATS_TEST_TMPDIR/in out=$BATS_TEST_TMPDIR/out
    printf 'x\0\xff' >"$in"
    dyn put k text
    dyn put k <"$in"
    local n
    n=$(dyn get k --json | jq '[.siblings[].encoding] | index("base64") + 1')
    dyn resolve k --pick "$n"
    dyn get k >"$out"
    cmp "$in" "$out"
}

@test "resolve --value writes the merged value over every sibling" {
    start_node n1
    dyn put cart apples
    dyn put cart pears
    dyn resolve cart --value "apples,pears"
    run -0 dyn get cart
    assert_eq "apples,pears" "$output"
    assert_eq 1 "$(dyn get cart --json | jq '.siblings | length')" siblings
}

@test "resolve leaves exactly one sibling, live" {
    start_node n1
    local i
    for i in 1 2 3 4 5; do dyn put k "v$i"; done
    assert_eq 5 "$(dyn get k --json | jq '.siblings | length')" "before"
    dyn resolve k --pick 4
    run -0 dyn get k --json
    jq -e '.siblings | length == 1 and .[0].deleted == false' <<<"$output"
}

@test "resolve of a missing key exits 1" {
    start_node n1
    run -1 --separate-stderr dyn resolve nothing --value x
    [[ "$stderr" == *"not found"* ]]
    run -1 dyn get nothing
}

# ---- contexts are client input -------------------------------------------

FORGED_COUNTER=18446744073709551614 # 2^64 - 2: one write short of the end
CONTEXT_LEAD=1048576                # DYN_DVV_MAX_CONTEXT_LEAD, 2^20 writes

# forge KEY NODE: KEY's context with NODE's entry raised to FORGED_COUNTER.
forge() { ctxtool raise "$(context "$1")" "$2" "$FORGED_COUNTER"; }

# writes_work KEY: a put with a context, a del, two puts without (siblings)
# and a resolve of KEY all succeed and read back.
writes_work() {
    dyn put "$1" a -C "$(context "$1")"
    assert_eq a "$(dyn get "$1")" "value after the put"
    dyn del "$1" -C "$(context "$1")"
    run -1 dyn get "$1"
    dyn put "$1" b
    dyn put "$1" c 2>/dev/null
    dyn resolve "$1" --value d
    assert_eq d "$(dyn get "$1")" "value after the resolve"
}

@test "a put whose context claims writes the node never made exits 2 with one line and changes nothing" {
    start_node n1
    dyn put k v1
    local before forged
    before=$(context k)
    forged=$(forge k "$(node_status id)")
    run -2 --separate-stderr dyn put k forged -C "$forged"
    assert_eq "dyn: put k: context names writes this node never made; read the key again and write with the context of that read" \
        "$stderr" "error line"
    run -2 --separate-stderr dyn del k -C "$forged"
    [[ "$stderr" == "dyn: del k: context names writes this node never made;"* ]]
    assert_eq v1 "$(dyn get k)" "value"
    assert_eq "$before" "$(context k)" "context"
}

@test "after a put with a forged context, put, del and resolve of the key work, also after a restart" {
    start_node n1 "${LMDB[@]}"
    dyn put k v1
    run dyn put k forged -C "$(forge k "$(node_status id)")"
    writes_work k
    stop_node n1
    restart_node n1 "${LMDB[@]}"
    writes_work k
}

@test "a forged context entry for another node id is stored at most 2^20 writes ahead" {
    start_node n1
    dyn put k v1
    local other=00000000000000b2 # no node of this test has it
    dyn put k v2 -C "$(forge k "$other")"
    assert_eq v2 "$(dyn get k)" "value"
    assert_eq "$other $CONTEXT_LEAD" "$(ctxtool show "$(context k)" | grep "^$other ")" \
        "the entry stored for $other"
}

# ---- restarts ------------------------------------------------------------

@test "data survives a clean restart with lmdb" {
    start_node n1 "${LMDB[@]}"
    local bin=$BATS_TEST_TMPDIR/bin out=$BATS_TEST_TMPDIR/out
    head -c 70000 /dev/urandom >"$bin"
    dyn put plain hello
    dyn put binary <"$bin"
    dyn put sibs a
    dyn put sibs b
    dyn put gone v
    dyn del gone
    stop_node n1
    assert_eq 0 "$EXIT" "exit status of the stop"
    start_node n1 "${LMDB[@]}"
    run -0 dyn get plain
    assert_eq hello "$output"
    dyn get binary >"$out"
    cmp "$bin" "$out"
    run -4 dyn get sibs
    assert_eq "a b" "$(sibling_values sibs | tr '\n' ' ' | sed 's/ $//')"
    run -1 dyn get gone
}

@test "contexts from before a restart still supersede after it" {
    start_node n1 "${LMDB[@]}"
    dyn put k a
    dyn put k b
    local ctx; ctx=$(context k)
    stop_node n1
    start_node n1 "${LMDB[@]}"
    dyn put k c -C "$ctx"
    run -0 dyn get k
    assert_eq c "$output"
}

@test "writes after a restart get dots distinct from those before it" {
    start_node n1 "${LMDB[@]}"
    dyn put k a
    stop_node n1
    start_node n1 "${LMDB[@]}"
    dyn put k b # no context: a sibling of a
    run -0 dyn get k --json
    jq -e '.siblings | length == 2 and
           ([.[].dot] | unique | length == 2)' <<<"$output"
}

@test "the node id in dynctl status --json is the same across restarts" {
    start_node n1 "${LMDB[@]}"
    local id; id=$(node_status id)
    [[ "$id" =~ ^[0-9a-f]{16}$ ]]
    stop_node n1
    start_node n1 "${LMDB[@]}"
    assert_eq "$id" "$(node_status id)" "node id after restart"
}

@test "the key count of dynctl status follows puts and survives a restart" {
    start_node n1 "${LMDB[@]}"
    assert_eq 0 "$(node_status keys)" "keys at start"
    local i
    for i in 1 2 3; do dyn put "k$i" v; done
    dyn put k1 again -C "$(context k1)"
    assert_eq 3 "$(node_status keys)" "keys after puts"
    stop_node n1
    start_node n1 "${LMDB[@]}"
    assert_eq 3 "$(node_status keys)" "keys after restart"
}
