# bench/lib.bash - what the bench/ scripts share: ports, servers started
# and stopped by PID, polling with a bound.  Sourced, not run.  The caller
# sets WORK (a temporary directory it owns) before starting servers.

PIDS=()

# bench_build DIR: install what is missing, build DIR (configured first
# if it is not), and put its programs first on PATH, by absolute path.
bench_build() {
    tools/deps
    [ -x "$1/cli/dyn" ] || tools/build "$1" >&2
    make -C "$1" -s -j2 >&2
    local dir; dir=$(cd "$1" && pwd)
    export PATH=$dir/daemon:$dir/cli:$dir/admin:$PATH
}

# Stop every server started, by PID, and remove WORK.
bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
    done
    [ -z "${WORK:-}" ] || rm -rf "$WORK"
}

pick_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((10000 + RANDOM % 22000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
    return 1
}

# poll CMD... for up to 15 s
wait_for() {
    for _ in $(seq 1 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
    echo "$0: gave up waiting for: $*" >&2
    return 1
}

# The redis server binary: redis-tools ships it as redis-check-rdb, and
# the name it is called by picks the server.
redis_binary() {
    local redis; redis=$(command -v redis-server || true)
    if [ -z "$redis" ]; then
        ln -sf "$(command -v redis-check-rdb)" "$WORK/redis-server"
        redis=$WORK/redis-server
    fi
    echo "$redis"
}

start_redis() { # NAME EXTRA-ARGS...: sets ADDR
    local name=$1; shift
    local port; port=$(pick_port)
    mkdir -p "$WORK/$name"
    "$(redis_binary)" --port "$port" --bind 127.0.0.1 --dir "$WORK/$name" \
        --save '' "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    ADDR=127.0.0.1:$port
    wait_for dyn bench --redis "$ADDR" -n 1 -c 1
}

start_dynamod() { # NAME ENGINE SYNC N R W: sets ADDR and NODE_PID
    local name=$1 engine=$2 sync=$3 n=$4 r=$5 w=$6
    local port; port=$(pick_port)
    mkdir -p "$WORK/$name"
    cat >"$WORK/$name.yaml" <<YAML
node:
  name: $name
  listen: 127.0.0.1:$port
  data_dir: $WORK/$name
cluster:
  name: bench
  n: $n
  r: $r
  w: $w
${BENCH_CLUSTER_LINE:-}
storage:
  engine: $engine
  sync: $sync
  max_bytes: 8GiB
  page_writes: ${BENCH_PAGE_WRITES:-auto}
log:
  level: warn
YAML
    dynamod -c "$WORK/$name.yaml" -f >"$WORK/$name.log" 2>&1 &
    NODE_PID=$!
    PIDS+=($NODE_PID)
    ADDR=127.0.0.1:$port
    wait_for dynctl -H "$ADDR" status
}

stop_last() { # stop the servers started since index $1
    local i
    for ((i = $1; i < ${#PIDS[@]}; i++)); do kill "${PIDS[i]}" 2>/dev/null || true; done
    for ((i = $1; i < ${#PIDS[@]}; i++)); do
        for _ in $(seq 1 200); do kill -0 "${PIDS[i]}" 2>/dev/null || break; sleep 0.05; done
    done
}

# handoff_idle HOST: no member reports a transfer.
handoff_idle() {
    [ "$(dynctl -H "$1" handoff --json | jq '.transfers | length')" = 0 ]
}
