#!/usr/bin/env bats
# t/daemon.bats - dynamod as a process: configuration checks, detaching,
# the data_dir lock, the listen port, signals, the node id, and the
# memory engine.

bats_require_minimum_version 1.5.0
load helpers

teardown() { stop_all_nodes; }

LMDB=("storage:" "  engine: lmdb" "  sync: none")

# config FILE LINES...: write a config file from printf-style lines.
config() {
    local file=$1; shift
    printf '%s\n' "$@" >"$file"
}

# gone PID: the process no longer exists.
gone() { ! kill -0 "$1" 2>/dev/null; }

# check_config_fails FILE WHERE TEXT: --check-config exits 2 with one
# "dynamod: FILE:WHERE: ..." line that contains TEXT.
check_config_fails() {
    run -2 --separate-stderr dynamod -c "$1" --check-config
    [ -z "$output" ] || { echo "stdout: $output"; return 1; }
    if [[ "$stderr" != "dynamod: $1:$2: "*"$3"* ]]; then
        echo "expected 'dynamod: $1:$2: ...$3...', got: $stderr" >&2
        return 1
    fi
    [ "${#stderr_lines[@]}" -eq 1 ]
}

# ---- --check-config -------------------------------------------------------

@test "--check-config on a good file prints ok and exits 0" {
    write_config n1 "$(pick_port)" "  n: 1" "  r: 1" "  w: 1"
    local file; file="$(node_dir n1)/config.yaml"
    run -0 --separate-stderr dynamod -c "$file" --check-config
    assert_eq "$file: ok" "$output" "stdout"
    [ -z "$stderr" ]
}

@test "--check-config does not start a node or create the data_dir" {
    local port; port=$(pick_port)
    write_config n1 "$port"
    run -0 dynamod -c "$(node_dir n1)/config.yaml" --check-config
    [ ! -e "$(node_dir n1)/data" ]
    run -3 dynctl -H "127.0.0.1:$port" status
}

@test "--check-config accepts the commented example etc/dynamod.yaml" {
    run -0 dynamod -c "$DYN_SRCDIR/etc/dynamod.yaml" --check-config
    [[ "$output" == *": ok" ]]
}

@test "--check-config accepts an empty file (every key has a default)" {
    : >"$BATS_TEST_TMPDIR/empty.yaml"
    run -0 dynamod -c "$BATS_TEST_TMPDIR/empty.yaml" --check-config
}

@test "--check-config names file:line:col of an unknown key and exits 2" {
    local f=$BATS_TEST_TMPDIR/bad.yaml
    config "$f" "node:" "  name: x" "  colour: blue"
    check_config_fails "$f" 3:3 "node.colour"
    config "$f" "cluster:" "  name: x" "replication:" "  n: 3"
    check_config_fails "$f" 3:1 "replication"
}

@test "--check-config names file:line:col of a bad value and exits 2" {
    local f=$BATS_TEST_TMPDIR/bad.yaml
    config "$f" "cluster:" "  n: 0"
    check_config_fails "$f" 2:6 "cluster.n: 0 is out of range"
    config "$f" "storage:" "  engine: rocksdb"
    check_config_fails "$f" 2:11 "storage.engine: rocksdb"
    config "$f" "storage:" "  sync: sometimes"
    check_config_fails "$f" 2:9 "storage.sync: sometimes"
    config "$f" "limits:" "  max_value_bytes: 1MB"
    check_config_fails "$f" 2:20 "limits.max_value_bytes: 1MB"
    config "$f" "cluster:" "  partitions: 100"
    check_config_fails "$f" 2:15 "power of two"
    config "$f" "node:" "  listen: nowhere"
    check_config_fails "$f" 2:11 "node.listen"
}

@test "--check-config refuses a duplicate key and a quorum above n" {
    local f=$BATS_TEST_TMPDIR/bad.yaml
    config "$f" "node:" "  name: a" "  name: b"
    check_config_fails "$f" 3:3 "duplicate key"
    config "$f" "cluster:" "  n: 3" "  r: 5"
    check_config_fails "$f" 3:6 "cluster.r: 5"
}

@test "--check-config reports a YAML syntax error with its position" {
    local f=$BATS_TEST_TMPDIR/bad.yaml
    config "$f" "node:" "  name: [unclosed"
    run -2 --separate-stderr dynamod -c "$f" --check-config
    [[ "$stderr" =~ ^dynamod:\ $f:[0-9]+:[0-9]+:\  ]]
}

@test "--check-config of a missing file exits 2 naming it" {
    run -2 --separate-stderr dynamod -c "$BATS_TEST_TMPDIR/nope.yaml" \
        --check-config
    [[ "$stderr" == "dynamod: $BATS_TEST_TMPDIR/nope.yaml: "* ]]
}

@test "dynamod refuses to start on a bad config with file:line:col (exit 2)" {
    local port; port=$(pick_port)
    write_config n1 "$port" "  n: 99"
    local f; f="$(node_dir n1)/config.yaml"
    run -2 --separate-stderr timeout 60 dynamod -c "$f" -f
    [[ "$stderr" =~ ^dynamod:\ $f:[0-9]+:[0-9]+:\ cluster.n ]]
    run -3 dynctl -H "127.0.0.1:$port" status
}

@test "--log-level with an unknown level exits 2; a known one is used" {
    write_config n1 "$(pick_port)"
    local f; f="$(node_dir n1)/config.yaml"
    run -2 --separate-stderr dynamod -c "$f" --log-level loud --check-config
    [[ "$stderr" == "dynamod: "*loud* ]]
    run -0 dynamod -c "$f" --log-level debug --check-config
}

# ---- detaching --------------------------------------------------------

@test "dynamod without -f detaches; the parent exits 0 only once the node answers" {
    local dir port rc; dir=$(node_dir n1)
    for _ in 1 2 3 4 5; do # another port if a client socket holds this one
        port=$(pick_port)
        write_config n1 "$port"
        # Not `run`: the daemon keeps its stdout; run would wait for it.
        rc=0
        timeout 60 dynamod -c "$dir/config.yaml" \
            --pid-file "$dir/daemon.pid" >>"$dir/log" 2>&1 3>&- || rc=$?
        [ "$rc" -ne 0 ] && grep -q "address already in use" "$dir/log" ||
            break
    done
    assert_eq 0 "$rc" "exit status of the parent"
    local pid; pid=$(cat "$dir/daemon.pid")
    echo "$pid" >>"$BATS_TEST_TMPDIR/pids" # teardown stops it
    # No polling: the parent's exit 0 promised the node answers now.
    run -0 dynctl -H "127.0.0.1:$port" status --json
    assert_eq n1 "$(jq -r .node.name <<<"$output")" "node name"
    DYN_HOST=127.0.0.1:$port dyn put k v
    DYN_HOST=127.0.0.1:$port run -0 dyn get k
    assert_eq v "$output"
    # Detached: a session of its own.
    local stat; read -ra stat <"/proc/$pid/stat"
    assert_eq "$pid" "${stat[5]}" "session id of the daemon"
    kill -TERM "$pid"
    wait_until gone "$pid"
    run -3 dynctl -H "127.0.0.1:$port" status
}

@test "dynamod without -f lets go of stdout: \$(dynamod ...) returns" {
    local dir port out rc; dir=$(node_dir n1)
    for _ in 1 2 3 4 5; do
        port=$(pick_port)
        write_config n1 "$port"
        rc=0
        out=$(timeout 60 dynamod -c "$dir/config.yaml" \
            --pid-file "$dir/daemon.pid" 2>>"$dir/log" 3>&-) || rc=$?
        [ "$rc" -ne 0 ] && grep -q "address already in use" "$dir/log" ||
            break
    done
    echo "$(cat "$dir/daemon.pid")" >>"$BATS_TEST_TMPDIR/pids"
    assert_eq 0 "$rc" "exit status (124: the daemon kept stdout)"
    [ -z "$out" ]
    run -0 dynctl -H "127.0.0.1:$port" status
}

@test "--log-file takes the log of a detached node; run returns at once" {
    local dir port; dir=$(node_dir n1)
    for _ in 1 2 3 4 5; do
        port=$(pick_port)
        write_config n1 "$port"
        # run captures stdout and stderr: it returns only if both are let go.
        run timeout 60 dynamod -c "$dir/config.yaml" \
            --pid-file "$dir/daemon.pid" --log-file "$dir/daemon.log" 3>&-
        [ "$status" -ne 0 ] &&
            grep -q "address already in use" "$dir/daemon.log" || break
    done
    echo "$(cat "$dir/daemon.pid")" >>"$BATS_TEST_TMPDIR/pids"
    assert_eq 0 "$status" "exit status (124: the daemon kept a pipe)"
    [ -z "$output" ]
    run -0 dynctl -H "127.0.0.1:$port" status
    grep -q "listening on 127.0.0.1:$port" "$dir/daemon.log"
}

@test "detached without --log-file, the log goes to DATA_DIR/dynamod.log, not the stderr it left" {
    local dir port rc; dir=$(node_dir n1)
    for _ in 1 2 3 4 5; do
        port=$(pick_port)
        write_config n1 "$port"
        # The file stands for the terminal the daemon was started from.
        rc=0
        timeout 60 dynamod -c "$dir/config.yaml" \
            --pid-file "$dir/daemon.pid" 2>"$dir/stderr" 3>&- || rc=$?
        [ "$rc" -ne 0 ] && grep -q "address already in use" "$dir/stderr" ||
            break
    done
    assert_eq 0 "$rc" "exit status of the parent"
    local pid; pid=$(cat "$dir/daemon.pid")
    echo "$pid" >>"$BATS_TEST_TMPDIR/pids"
    run -0 dynctl -H "127.0.0.1:$port" status
    kill -TERM "$pid"
    wait_until gone "$pid"
    grep -q "listening on 127.0.0.1:$port" "$dir/data/dynamod.log"
    grep -q "stopped" "$dir/data/dynamod.log"
    if [ -s "$dir/stderr" ]; then
        echo "the detached node wrote to the stderr it left:" >&2
        cat "$dir/stderr" >&2
        return 1
    fi
}

@test "a detached start that fails with --log-file still says why on stderr" {
    start_node n1
    write_config n2 "$(pick_port)"
    local cfg; cfg="$(node_dir n2)/config.yaml"
    sed -i "s|^  data_dir: .*|  data_dir: $(node_dir n1)/data|" "$cfg"
    run --separate-stderr timeout 60 dynamod -c "$cfg" \
        --log-file "$BATS_TEST_TMPDIR/n2.log" 3>&-
    [[ $status -ne 0 && $status -ne 124 ]] # failed, not timed out
    [[ "$stderr" == *"in use"* ]]
}

@test "dynamod without -f exits non-zero when the node cannot start" {
    start_node n1
    local port; port=$(pick_port)
    write_config n2 "$port"
    local cfg; cfg="$(node_dir n2)/config.yaml"
    sed -i "s|^  data_dir: .*|  data_dir: $(node_dir n1)/data|" "$cfg"
    run --separate-stderr timeout 60 dynamod -c "$cfg" \
        --pid-file "$BATS_TEST_TMPDIR/n2.pid"
    [[ $status -ne 0 && $status -ne 124 ]] # failed, not timed out
    [[ "$stderr" == *"in use"* ]]
    run -3 dynctl -H "127.0.0.1:$port" status
}

# ---- the data_dir lock and the port ---------------------------------------

@test "a second dynamod on the same data_dir fails saying it is in use; the first keeps serving" {
    start_node n1
    local first=$NODE_ADDR
    dyn put k v
    local port; port=$(pick_port)
    write_config n2 "$port"
    local cfg; cfg="$(node_dir n2)/config.yaml"
    sed -i "s|^  data_dir: .*|  data_dir: $(node_dir n1)/data|" "$cfg"
    run --separate-stderr timeout 60 dynamod -c "$cfg" -f
    [[ $status -ne 0 && $status -ne 124 ]] # failed, not timed out
    [[ "$stderr" == *"data_dir $(node_dir n1)/data is in use"* ]]
    run -3 dynctl -H "127.0.0.1:$port" status
    # The first node is untouched.
    run -0 dyn -H "$first" get k
    assert_eq v "$output"
    dyn -H "$first" put k2 v2
    kill -0 "$(node_pid n1)"
}

@test "a port already in use fails with a clear message and non-zero exit" {
    start_node n1
    local first=$NODE_ADDR
    write_config n2 "${first##*:}"
    run --separate-stderr timeout 60 dynamod -c "$(node_dir n2)/config.yaml" -f
    [[ $status -ne 0 && $status -ne 124 ]] # failed, not timed out
    [[ "$stderr" == *"listen $first"*"address already in use"* ]]
    run -0 dynctl -H "$first" status --json
    assert_eq n1 "$(jq -r .node.name <<<"$output")" "who answers the port"
}

@test "a failed start on a busy port leaves the data_dir free for the next" {
    start_node n1
    write_config n2 "${NODE_ADDR##*:}"
    run timeout 60 dynamod -c "$(node_dir n2)/config.yaml" -f
    [[ $status -ne 0 && $status -ne 124 ]] # failed, not timed out
    start_node n2 # a fresh port, the same data_dir
    dyn put k v
}

# ---- signals ---------------------------------------------------------

@test "SIGTERM stops an idle node with exit 0" {
    start_node n1
    dyn put k v
    stop_node n1
    assert_eq 0 "$EXIT" "exit status"
    grep -q stopped "$(node_dir n1)/log"
}

@test "SIGTERM with an idle client connection open still exits 0 promptly" {
    start_node n1
    local fd
    exec {fd}<>"/dev/tcp/${NODE_ADDR%:*}/${NODE_ADDR##*:}"
    printf '\x00\x00\x00' >&"$fd" # half a frame header, then nothing
    stop_node n1
    assert_eq 0 "$EXIT" "exit status"
    exec {fd}>&-
}

@test "a node stopped with SIGTERM starts again on the same data" {
    start_node n1 "${LMDB[@]}"
    dyn put k v
    stop_node n1
    start_node n1 "${LMDB[@]}"
    run -0 dyn get k
    assert_eq v "$output"
}

# ---- the node id ------------------------------------------------------

@test "the node id file persists and is the id status reports" {
    start_node n1 "${LMDB[@]}"
    local file; file="$(node_dir n1)/data/node_id"
    [ -f "$file" ]
    local id; id=$(cat "$file")
    [[ "$id" =~ ^[0-9a-f]{16}$ ]]
    assert_eq "$id" "$(node_status id)" "status id"
    stop_node n1
    start_node n1 "${LMDB[@]}"
    assert_eq "$id" "$(cat "$file")" "node_id file after restart"
    assert_eq "$id" "$(node_status id)" "status id after restart"
}

@test "a new data_dir gets a new node id" {
    start_node n1
    local id1; id1=$(node_status id)
    start_node n2
    local id2; id2=$(node_status id)
    [ "$id1" != "$id2" ]
}

@test "a node_id file that is not an id stops the start with a message" {
    start_node n1 "${LMDB[@]}"
    stop_node n1
    local dir; dir=$(node_dir n1)
    echo "not-hex" >"$dir/data/node_id"
    run --separate-stderr timeout 60 dynamod -c "$dir/config.yaml" -f
    [[ $status -ne 0 && $status -ne 124 ]] # failed, not timed out
    [[ "$stderr" == *"$dir/data/node_id"*"not a valid node id"* ]]
}

@test "a missing data_dir is created, parents included" {
    local port; port=$(pick_port)
    write_config n1 "$port"
    local cfg; cfg="$(node_dir n1)/config.yaml"
    sed -i "s|^  data_dir: .*|  data_dir: $BATS_TEST_TMPDIR/a/b/c|" "$cfg"
    start_node_config n1
    dyn put k v
    [ -f "$BATS_TEST_TMPDIR/a/b/c/node_id" ]
}

# ---- the memory engine --------------------------------------------------

@test "the memory engine serves put, get, siblings and del" {
    DYN_TEST_ENGINE=memory start_node n1
    assert_eq memory "$(node_status engine)" engine
    dyn put k a
    run -0 dyn get k
    assert_eq a "$output"
    dyn put k b
    run -4 dyn get k
    dyn resolve k --value c
    run -0 dyn get k
    assert_eq c "$output"
    printf 'bin\0ary' | dyn put bin
    assert_eq 7 "$(dyn get bin | wc -c)" "binary value length"
    dyn del k
    run -1 dyn get k
}

@test "the memory engine keeps nothing across a restart" {
    DYN_TEST_ENGINE=memory start_node n1
    dyn put k v
    stop_node n1
    DYN_TEST_ENGINE=memory start_node n1
    run -1 dyn get k
    assert_eq 0 "$(node_status keys)" keys
}

@test "the memory engine keeps the node id in the data_dir" {
    DYN_TEST_ENGINE=memory start_node n1
    local id; id=$(node_status id)
    stop_node n1
    DYN_TEST_ENGINE=memory start_node n1
    assert_eq "$id" "$(node_status id)" "node id after restart"
}

# flushes_above N: the node has flushed its store more than N times.
flushes_above() { [ "$(node_status flushes)" -gt "$1" ]; }

@test "with sync periodic, writes are flushed within the interval; an idle node does not flush" {
    start_node n1 "storage:" "  engine: lmdb" "  sync: periodic" \
        "  sync_interval_ms: 100"
    assert_eq 0 "$(node_status flushes)" "flushes before any write"
    dyn put k1 v1
    wait_until flushes_above 0
    local before; before=$(node_status flushes)
    dyn put k2 v2
    wait_until flushes_above "$before"
    # Nothing written since: no flush during ten intervals.  (A sleep is
    # right here: the test is that nothing happens in that time.)
    before=$(node_status flushes)
    sleep 1
    assert_eq "$before" "$(node_status flushes)" "flushes while idle"
}

@test "status reports engine and sync as configured" {
    start_node n1 "storage:" "  engine: lmdb" "  sync: periodic"
    assert_eq lmdb "$(node_status engine)" engine
    assert_eq periodic "$(node_status sync)" sync
}

@test "page_writes auto: copied pages with sync always, the map otherwise, and no warning" {
    start_node n1 "storage:" "  engine: lmdb" "  sync: always"
    dynctl status | grep -q "page writes copy"
    stop_node n1
    start_node n2 "storage:" "  engine: lmdb" "  sync: periodic"
    dynctl status | grep -q "page writes map"
    run ! grep -q "allocated ahead" "$(node_dir n1)/log" "$(node_dir n2)/log"
}
