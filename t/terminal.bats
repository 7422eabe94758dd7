#!/usr/bin/env bats
# t/terminal.bats - dyn's commands on a terminal (a real pseudo-terminal:
# tmux on a private socket, running bash) against the same commands on
# pipes and files, where the bytes are exact.

bats_require_minimum_version 1.5.0
load helpers

setup() {
    start_node n1
    TMUX_SOCK=$BATS_TEST_TMPDIR/tmux.sock
    tmux_start "env PATH=$PATH DYN_HOST=$DYN_HOST TERM=xterm PS1='$ ' \
        bash --norc --noprofile"
    wait_pane '$'
}

teardown() {
    tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
    stop_all_nodes
}

# pane_line TEXT: the terminal shows a line that is exactly TEXT.
pane_line() { pane | grep -qxF -- "$1"; }

# run_in_terminal CMD: type CMD into the terminal's bash, followed by a
# marker of its own, "=done N=", and wait until that shows (CMD has
# finished).
DONE_COUNT=0
run_in_terminal() {
    DONE_COUNT=$((DONE_COUNT + 1))
    # Typed, the marker reads otherwise: the command line never matches.
    tmux_keys "$1; printf '=%s=\\n' 'done $DONE_COUNT'" Enter
    wait_until pane_has "=done $DONE_COUNT=" || {
        echo "the terminal never finished: $1" >&2
        pane >&2
        return 1
    }
}

@test "get on a terminal ends a text value with a newline" {
    dyn put greeting hello
    printf 'two\nlines\n' | dyn put poem
    run_in_terminal "dyn get greeting"
    pane_line hello # not "hello=done 1="
    run_in_terminal "dyn get poem"
    # A value that ends with a newline gets no second one.
    assert_eq "=done 2=" "$(pane | sed -n '/^lines$/{n;p;}')"
}

@test "get on a terminal shows a binary value escaped, on one line" {
    printf 'a\000b\377\033[31mred' | dyn put bin
    run_in_terminal "dyn get bin"
    pane_line 'a\x00b\xff\x1b[31mred'
    # No colour reached the terminal.
    ! tmux -S "$TMUX_SOCK" capture-pane -e -p -t t | grep -q $'\e\\[31m'
}

@test "get to a pipe or a file writes the value's exact bytes, no newline" {
    printf 'a\000b\377\033[31mred' >"$BATS_TEST_TMPDIR/bin"
    dyn put bin <"$BATS_TEST_TMPDIR/bin"
    dyn put greeting hello
    dyn get bin >"$BATS_TEST_TMPDIR/got"
    cmp "$BATS_TEST_TMPDIR/bin" "$BATS_TEST_TMPDIR/got"
    dyn get bin | cmp "$BATS_TEST_TMPDIR/bin" -
    dyn get greeting | cmp <(printf hello) -
}

@test "put KEY without a value on a terminal says it reads standard input" {
    tmux_keys "dyn put typed" Enter
    wait_pane "dyn: put typed: reading the value from standard input; end it with Ctrl-D"
    tmux_keys "typed value" Enter C-d
    wait_until dyn get typed
    dyn get typed | cmp <(printf 'typed value\n') -
    # Not on a pipe: there the note would only be noise.
    run -0 --separate-stderr dyn put piped <<<"v"
    [ -z "$stderr" ]
}
