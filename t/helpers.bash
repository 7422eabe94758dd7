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

# pick_port: a random port that nothing answers on right now, below the
# kernel's range for client ports (32768 and up), where a socket in
# TIME_WAIT could make bind fail although nothing answers.
pick_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((10000 + RANDOM % 22000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"; return 0
        fi
    done
    return 1
}

# write_config NAME PORT|HOST:PORT [YAML-LINES...]: a config listening on
# 127.0.0.1:PORT (or HOST:PORT: t/netlab.bash's nodes have addresses of
# their own), with storage lines taken from $DYN_TEST_STORAGE (default:
# lmdb, sync none) unless given.
write_config() {
    local name=$1 listen=$2; shift 2
    [[ $listen == *:* ]] || listen=127.0.0.1:$listen
    local dir; dir=$(node_dir "$name")
    mkdir -p "$dir"
    {
        echo "node:"
        echo "  name: $name"
        echo "  listen: $listen"
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
        # $DYN_TEST_WRAP: a command (words) that execs dynamod, e.g.
        # t/small-fs; the PID stays dynamod's.
        $DYN_TEST_WRAP dynamod -c "$dir/config.yaml" -f >>"$dir/log" 2>&1 3>&- &
        pid=$!
        echo "$pid" >"$dir/pid"
        echo "$pid" >>"$BATS_TEST_TMPDIR/pids"
        if wait_ready "127.0.0.1:$port" "$pid"; then
            echo "$port" >"$dir/port"
            NODE_ADDR=127.0.0.1:$port
            export DYN_HOST=$NODE_ADDR
            return 0
        fi
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
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
    EXIT=0
    wait "$pid" 2>/dev/null || EXIT=$?
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

# stop_all_nodes: teardown; every node this test started, by PID.  Fails
# (and so fails the test) when a node died of SIGSEGV, SIGABRT, SIGFPE or
# SIGBUS while stopping, or any node log holds a sanitizer report.
stop_all_nodes() {
    [ -f "$BATS_TEST_TMPDIR/pids" ] || return 0
    local pid crashed=0
    # SIGCONT first: a node a test stopped with SIGSTOP cannot act on TERM.
    while read -r pid; do
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
    done <"$BATS_TEST_TMPDIR/pids"
    while read -r pid; do
        wait_exit "$pid" || { kill -KILL "$pid" 2>/dev/null; wait_exit "$pid"; }
        case $EXIT in
        134 | 135 | 136 | 139) echo "node (pid $pid) crashed: exit $EXIT" >&2; crashed=1 ;;
        esac
    done <"$BATS_TEST_TMPDIR/pids"
    rm -f "$BATS_TEST_TMPDIR/pids"
    if grep -l "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" \
        "$BATS_TEST_TMPDIR"/*/log 2>/dev/null; then
        echo "sanitizer report in the node log(s) above" >&2
        crashed=1
    fi
    return $crashed
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
    if [ "$1" != "$2" ]; then
        echo "expected ${3:-value}: '$1'" >&2
        echo "got: '$2'" >&2
        return 1
    fi
}

# --- Added for the end-to-end suites (cli, data, crash, daemon, fuzz). ---

# wait_until CMD [ARGS...]: poll CMD until it succeeds; fail after the
# deadline.
wait_until() {
    local deadline=$((SECONDS + DYN_TEST_DEADLINE_S))
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep "$DYN_TEST_POLL_S"
    done
}

# transfers_done_at HOST: no member reports a transfer, and every member
# answered, as HOST's `dynctl handoff` sums it up.
transfers_done_at() {
    local out
    out=$(dynctl -H "$1" handoff --json 2>/dev/null) || return 1
    [ "$(jq '.transfers | length' <<<"$out")" = 0 ] &&
        [ "$(jq '.complete' <<<"$out")" = true ]
}

# --- The failure detector as `dynctl status` shows it (failure, handoff). ---

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

# node_status FIELD: one field of `dynctl status --json`'s "node" object.
node_status() { dynctl status --json | jq -r ".node.$1"; }

# check_acked FILE: every "KEY VALUE" line of FILE reads back as VALUE
# from the node at $DYN_HOST; names the first that does not.
check_acked() {
    local key value got n=0
    while read -r key value; do
        got=$(dyn get "$key") || { echo "acknowledged $key is gone" >&2; return 1; }
        assert_eq "$value" "$got" "value of acknowledged $key" || return 1
        n=$((n + 1))
    done <"$1"
    echo "# $n acknowledged writes checked"
}

# start_node_config NAME: start NAME on the config.yaml already in its
# directory (written by write_config, then edited by the test); sets
# NODE_ADDR and DYN_HOST like start_node.  If the port turns out to be
# taken, the listen line gets another port and it tries again.
start_node_config() {
    local dir; dir=$(node_dir "$1")
    local listen pid
    for _ in 1 2 3 4 5; do
        listen=$(sed -n 's/^  listen: *//p' "$dir/config.yaml")
        dynamod -c "$dir/config.yaml" -f >>"$dir/log" 2>&1 3>&- &
        pid=$!
        echo "$pid" >"$dir/pid"
        echo "$pid" >>"$BATS_TEST_TMPDIR/pids"
        if wait_ready "$listen" "$pid"; then
            NODE_ADDR=$listen
            export DYN_HOST=$NODE_ADDR
            return 0
        fi
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        grep -q "listen $listen: address already in use" "$dir/log" || break
        sed -i "s/^  listen: .*/  listen: 127.0.0.1:$(pick_port)/" \
            "$dir/config.yaml"
    done
    echo "node $1 did not start; its log:" >&2
    cat "$dir/log" >&2
    return 1
}

# crash_node NAME: SIGKILL and wait, usable under bats' errexit (kill_node
# is not: the `wait` in wait_exit returns 137 there and aborts the test).
crash_node() {
    local pid; pid=$(node_pid "$1")
    kill -KILL "$pid" 2>/dev/null || true
    if ! wait_exit "$pid"; then
        echo "node $1 (pid $pid) did not die" >&2
        return 1
    fi
}

# ctxtool show TOKEN | raise TOKEN NODE COUNTER: read or forge a context
# token (t/ctxtool.c).
ctxtool() { "$DYN_BUILDDIR/t/ctxtool" "$@"; }

# start_fake_server MODE [TEXT]: t/fake-server, a listener that is not a
# node (silent: never answers; reply: answers TEXT); sets FAKE_ADDR, and
# FAKE_REQUESTS, the file that grows as requests reach a silent one.
# Stopped by PID in teardown like the nodes.
start_fake_server() {
    local mode=$1; shift
    local portfile; portfile=$(mktemp "$BATS_TEST_TMPDIR/fake.XXXXXX")
    rm -f "$portfile"
    python3 "$DYN_SRCDIR/t/fake-server" "$mode" "$portfile" "$@" 3>&- &
    echo "$!" >>"$BATS_TEST_TMPDIR/pids"
    wait_until test -s "$portfile" || {
        echo "t/fake-server did not start" >&2
        return 1
    }
    FAKE_ADDR=127.0.0.1:$(cat "$portfile")
    FAKE_REQUESTS=$portfile.requests
}

# --- A real terminal: tmux on the test's own socket, $TMUX_SOCK (set it
# in setup; `tmux -S "$TMUX_SOCK" kill-server` in teardown). ---

# tmux_start CMD...: run CMD in a detached tmux session on our socket.
tmux_start() {
    tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s t -x 160 -y 50 \
        "$@"
}
tmux_keys() { tmux -S "$TMUX_SOCK" send-keys -t t "$@"; }
pane() { tmux -S "$TMUX_SOCK" capture-pane -p -t t -S -200; }
pane_has() { pane | grep -qF -- "$1"; }
wait_pane() {
    wait_until pane_has "$1" || {
        echo "the terminal never showed: $1" >&2
        pane >&2
        return 1
    }
}

# --- Clusters of nodes n1..nCOUNT (cluster.bats, leave.bats). ---

# start_nodes COUNT: start n1..nCOUNT, each alone; ADDR[i] is node i's address.
start_nodes() {
    ADDR=()
    for i in $(seq 1 "$1"); do
        start_node "n$i" || return 1
        ADDR[i]=$NODE_ADDR
    done
    export DYN_HOST=${ADDR[1]}
}

# join_all COUNT: join n2..nCOUNT to n1, one after the other, each queued
# behind the last one's transfers (one membership change at a time).
join_all() {
    for i in $(seq 2 "$1"); do
        dynctl -H "${ADDR[i]}" join "${ADDR[1]}" --queue 60 >/dev/null ||
            return 1
    done
}

# transfers_done: no member reports a transfer, and every member answered.
transfers_done() { transfers_done_at "${ADDR[1]}"; }
