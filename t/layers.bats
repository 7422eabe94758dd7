#!/usr/bin/env bats
# t/layers.bats - the daemon's layers hold (tools/layers): no call and no
# include goes up a layer, and neither graph has a cycle.

@test "the built daemon and library call and include only downward, with no cycle" {
    run "$DYN_SRCDIR/tools/layers" "$DYN_SRCDIR" "$DYN_BUILDDIR"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"call edges and"*"include edges checked"* ]]
}

@test "a call from a lower layer up to a handler is reported" {
    printf '%s\n' "daemon/io/conn.c daemon/handlers/dispatch.c" \
        "daemon/handlers/dispatch.c daemon/mechanisms/coord.c" \
        >"$BATS_TEST_TMPDIR/edges"
    run "$DYN_SRCDIR/tools/layers" --edges "$BATS_TEST_TMPDIR/edges"
    [ "$status" -eq 1 ]
    [[ "$output" == *"daemon/io/conn.c -> daemon/handlers/dispatch.c goes up, from io to handlers"* ]]
    [[ "$output" != *"dispatch.c -> daemon/mechanisms/coord.c goes up"* ]]
}

@test "a cycle within one layer is reported with its path" {
    printf '%s\n' "daemon/mechanisms/coord.c daemon/mechanisms/inbound.h" \
        "daemon/mechanisms/inbound.c daemon/mechanisms/transfer.h" \
        "daemon/mechanisms/transfer.c daemon/mechanisms/coord.h" \
        "lib/store.c lib/ring.h" >"$BATS_TEST_TMPDIR/edges"
    run "$DYN_SRCDIR/tools/layers" --edges "$BATS_TEST_TMPDIR/edges"
    [ "$status" -eq 1 ]
    [[ "$output" == *"cycle daemon/mechanisms/"*" -> daemon/mechanisms/"*" -> daemon/mechanisms/"*" -> daemon/mechanisms/"* ]]
    [ "$(grep -c cycle <<<"$output")" -eq 1 ]
}

@test "a file and its own header are one module, not a cycle" {
    printf '%s\n' "daemon/io/conn.c daemon/io/conn.h" \
        "daemon/io/conn.h daemon/base/loop.h" >"$BATS_TEST_TMPDIR/edges"
    run "$DYN_SRCDIR/tools/layers" --edges "$BATS_TEST_TMPDIR/edges"
    [ "$status" -eq 0 ]
}
