# t/helpers.bash - start and stop dynamod nodes for bats tests.
#
# Each node gets a port no other test is using (picked at random and
# retried if bind fails), its data in the test's own temporary directory,
# and is stopped by PID in teardown, also when the test failed.  Readiness
# is polled with a deadline; nothing sleeps blindly.

DYN_TEST_POLL_S=0.02     # between readiness checks
DYN_TEST_DEADLINE_S=15   # how long a node may take to start or stop

# node_dir NAME: where NAME's config, data and log live.
node_dir() { echo "$BATS_TEST_TMPDIR/$1"; }

# pick_port: a random port that nothing answers on right now.
pick_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"; return 0
        fi
    done
    return 1
}

# write_config NAME PORT [YAML-LINES...]: a config with storage lines
# taken from $DYN_TEST_STORAGE (default: lmdb, sync none) unless given.
write_config() {
    local name=$1 port=$2; shift 2
    local dir; dir=$(node_dir "$name")
    mkdir -p "$dir"
    {
        echo "node:"
        echo "  name: $name"
        echo "  listen: 127.0.0.1:$port"
        echo "  data_dir: $dir/data"
        echo "cluster:"
        echo "  name: test"
        printf '%s\n' "$@"
    } >"$dir/config.yaml"
    if ! grep -q '^storage:' "$dir/config.yaml"; then
        printf 'storage:\n  engine: %s\n  sync: %s\n' \
            "${DYN_TEST_ENGINE:-lmdb}" "${DYN_TEST_SYNC:-none}" \
            >>"$dir/config.yaml"
    fi
}

# wait_ready HOST:PORT PID: poll until the node answers, or fail.
wait_ready() {
    local addr=$1 pid=$2 deadline=$((SECONDS + DYN_TEST_DEADLINE_S))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        dynctl -H "$addr" -t 500 status >/dev/null 2>&1 && return 0
        sleep "$DYN_TEST_POLL_S"
    done
    return 1
}

# start_node NAME [YAML-LINES...]: start a node; sets NODE_ADDR and
# exports DYN_HOST to it; records its PID for teardown.
start_node() {
    local name=$1; shift
    local dir; dir=$(node_dir "$name")
    local port pid
    for _ in 1 2 3 4 5; do
        port=$(pick_port) || return 1
        if [ -f "$dir/port" ]; then port=$(cat "$dir/port"); fi
        write_config "$name" "$port" "$@"
        dynamod -c "$dir/config.yaml" -f >>"$dir/log" 2>&1 3>&- &
        pid=$!
        echo "$pid" >"$dir/pid"
        echo "$pid" >>"$BATS_TEST_TMPDIR/pids"
        if wait_ready "127.0.0.1:$port" "$pid"; then
            echo "$port" >"$dir/port"
            NODE_ADDR=127.0.0.1:$port
            export DYN_HOST=$NODE_ADDR
            return 0
        fi
        kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        # A port taken between the check and the bind: try another.
        grep -q "address already in use" "$dir/log" 2>/dev/null || break
        rm -f "$dir/port"
    done
    echo "node $name did not start; its log:" >&2
    cat "$dir/log" >&2
    return 1
}

# restart_node NAME: start NAME again on the same port and data.
restart_node() { start_node "$@"; }

# node_pid NAME
node_pid() { cat "$(node_dir "$1")/pid"; }

# wait_exit PID: poll until the process is gone; its status in $EXIT.
wait_exit() {
    local pid=$1 deadline=$((SECONDS + DYN_TEST_DEADLINE_S))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
        sleep "$DYN_TEST_POLL_S"
    done
    if kill -0 "$pid" 2>/dev/null; then return 1; fi
    wait "$pid" 2>/dev/null
    EXIT=$?
    return 0
}

# stop_node NAME: SIGTERM and wait; its exit status in $EXIT.
stop_node() {
    local pid; pid=$(node_pid "$1")
    kill -TERM "$pid" 2>/dev/null || true
    wait_exit "$pid"
}

# kill_node NAME: SIGKILL and wait.
kill_node() {
    local pid; pid=$(node_pid "$1")
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pid"
}

# stop_all_nodes: teardown; every node this test started, by PID.
stop_all_nodes() {
    [ -f "$BATS_TEST_TMPDIR/pids" ] || return 0
    local pid
    while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done \
        <"$BATS_TEST_TMPDIR/pids"
    while read -r pid; do
        wait_exit "$pid" || { kill -KILL "$pid" 2>/dev/null; wait_exit "$pid"; }
    done <"$BATS_TEST_TMPDIR/pids"
    rm -f "$BATS_TEST_TMPDIR/pids"
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
    if [ "$1" != "$2" ]; then
        echo "expected ${3:-value}: '$1'" >&2
        echo "got: '$2'" >&2
        return 1
    fi
}
