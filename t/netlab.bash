# t/netlab.bash - a network lab for bats tests: nodes in network
# namespaces of their own, joined by a bridge, and partitions made with
# iptables DROP between them.  Load it after helpers:
#
#     load helpers
#     load netlab
#     setup() { lab_up 5; }
#     teardown() { lab_cleanup; }
#
# lab_up makes a namespace holding only a bridge and one namespace per
# node (n1..nCOUNT), each with loopback up and a veth into the bridge
# carrying a private address, 10.213.X.(10+i)/24.  All of it lives inside
# namespaces the run made, named dynlab-TAG-* with TAG unique to the run,
# so nothing is added to the root namespace, and neither parallel runs
# nor what a killed run left behind can collide with it (X varies per run
# only so that logs of two runs tell them apart).  Nodes listen on their
# own address; clients run inside a node's namespace too (lab_exec), as
# the root namespace has no route to the lab.
#
# What the lab makes is recorded as it is made, in $LAB_DIR: each
# namespace and link by name, each process by PID.  lab_cleanup undoes
# exactly that and checks that nothing is left; every test's teardown
# calls it, and lab_up sets traps on EXIT, INT and TERM that call it
# first and then whatever trap was there before (bats' own), so a test
# that fails midway, is interrupted or is sent SIGTERM leaves nothing
# behind.  Only SIGKILL of the test's shell can; such leftovers are named
# dynlab-* and collide with nothing (`ip netns list`).  Bash runs a trap
# once the command in the foreground ends: a signal sent to the test's
# shell alone waits for it (a signal to the process group does not).
#
# Needs root, iproute2 and iptables (tools/deps installs them; Debian
# 12's iptables is iptables-nft, whose tables each namespace has of its
# own); lab_up skips the test, saying why, when any of it does not work.

LAB_PORT=7401          # every node's port, on its own address
LAB_STOP_S=10          # how long a process may take to exit on SIGTERM

# lab_ns NODE: the namespace of NODE ("br": the bridge's).
lab_ns() { echo "dynlab-$LAB_TAG-$1"; }

# lab_ip NODE / lab_addr NODE: NODE's address, without and with the port.
lab_ip() { echo "$LAB_NET.$((10 + ${1#n}))"; }
lab_addr() { echo "$(lab_ip "$1"):$LAB_PORT"; }

# lab_exec NODE CMD...: run CMD in NODE's namespace.  (`ip netns exec`
# execs CMD: started in the background directly, not through this
# function, CMD has the PID $! gives.)
lab_exec() {
    local ns; ns=$(lab_ns "$1"); shift
    ip netns exec "$ns" "$@"
}

# lab_dyn NODE ARGS... / lab_dynctl NODE ARGS...: dyn or dynctl from
# inside NODE's namespace, talking to NODE.
lab_dyn() { local n=$1; shift; lab_exec "$n" dyn -H "$(lab_addr "$n")" "$@"; }
lab_dynctl() {
    local n=$1; shift
    lab_exec "$n" dynctl -H "$(lab_addr "$n")" "$@"
}

# lab_record KIND VALUE: note what was made, for lab_cleanup.  KIND is
# netns, link ("NAMESPACE LINK") or pid.
lab_record() { echo "$2" >>"$LAB_DIR/$1"; }

# lab_skip_unless_usable: skip the test unless this machine can run the
# lab, naming what is missing.
lab_skip_unless_usable() {
    [ "$(id -u)" = 0 ] ||
        skip "the network lab needs root (namespaces, veths, iptables)"
    command -v ip >/dev/null ||
        skip "ip (iproute2) is not installed: run tools/deps"
    command -v iptables >/dev/null ||
        skip "iptables is not installed: run tools/deps"
}

# lab_new_bridge_ns: make the bridge's namespace under a fresh TAG.  The
# name is taken only if `ip netns add` succeeds, so a name that exists
# (someone else's) is never recorded, and so never deleted.
lab_new_bridge_ns() {
    local err
    for _ in 1 2 3 4 5; do
        LAB_TAG=$(printf '%x%04x' "$$" "$RANDOM")
        if err=$(ip netns add "$(lab_ns br)" 2>&1); then
            lab_record netns "$(lab_ns br)"
            return 0
        fi
        # Not a name clash: namespaces do not work here.
        [[ $err == *"File exists"* ]] ||
            skip "ip netns does not work here: $err"
    done
    echo "no free lab name after 5 tries" >&2
    return 1
}

# lab_add_node I: namespace nI, its veth into the bridge, its address.
# The veth is made inside the bridge's namespace with its other end moved
# straight into the node's, so it never exists in the root namespace.
lab_add_node() {
    local node=n$1 br; br=$(lab_ns br)
    local ns; ns=$(lab_ns "$node")
    ip netns add "$ns" && lab_record netns "$ns" || return 1
    ip -n "$br" link add "$node" type veth peer name eth0 netns "$ns" &&
        lab_record link "$br $node" || return 1
    ip -n "$br" link set "$node" master br0 up &&
        ip -n "$ns" link set lo up &&
        ip -n "$ns" addr add "$(lab_ip "$node")/24" dev eth0 &&
        ip -n "$ns" link set eth0 up
}

# lab_up [COUNT]: the bridge and COUNT (default 5) node namespaces, the
# traps, and a check that the first node reaches the last and that
# iptables works in a namespace here.  Sets LAB_NODES (n1 .. nCOUNT).
lab_up() {
    local count=${1:-5} i err
    lab_skip_unless_usable
    LAB_DIR=$BATS_TEST_TMPDIR/lab
    LAB_OWNER=$BASHPID
    mkdir -p "$LAB_DIR"
    lab_trap_install
    LAB_NET=10.213.$((RANDOM % 256))
    lab_new_bridge_ns || return 1
    ip -n "$(lab_ns br)" link add br0 type bridge &&
        lab_record link "$(lab_ns br) br0" &&
        ip -n "$(lab_ns br)" link set br0 up || return 1
    LAB_NODES=()
    for i in $(seq 1 "$count"); do
        lab_add_node "$i" || return 1
        LAB_NODES+=("n$i")
    done
    err=$(lab_exec n1 iptables -S 2>&1) ||
        skip "iptables does not work in a network namespace here: $err"
    # The veths carry traffic a moment after they are up: poll, bounded.
    wait_until lab_reaches n1 "n$count" || {
        echo "lab: n1 cannot reach n$count over the bridge" >&2
        return 1
    }
}

# lab_reaches FROM TO: a TCP connection from FROM's namespace to TO's
# port is accepted or refused within a second, not dropped: the path
# between them is up.
lab_reaches() {
    local out
    out=$(lab_exec "$1" timeout 1 bash -c \
        "exec 3<>/dev/tcp/$(lab_ip "$2")/$LAB_PORT" 2>&1) && return 0
    [[ $out == *"Connection refused"* ]]
}

# lab_trap_install: on EXIT, INT and TERM, clean up first, then run the
# trap that was set before (bats' own: it runs teardown and reports).
# lab_cleanup is idempotent, so teardown calling it again is harmless.
lab_trap_install() {
    local sig old
    for sig in EXIT INT TERM; do
        old=$(trap -p "$sig")
        # Installed already (lab_up called twice): chaining to ourselves
        # would loop.
        [[ $old != *"lab_on_signal $sig"* ]] || continue
        # `trap -p` prints: trap -- 'COMMAND' SIG
        if [ -n "$old" ]; then eval "set -- $old"; else set -- "" "" ""; fi
        printf -v "LAB_PREV_TRAP_$sig" '%s' "$3"
        # shellcheck disable=SC2064
        trap "lab_on_signal $sig" "$sig"
    done
}

lab_return() { return "$1"; }

lab_on_signal() {
    local status=$? sig=$1 prev
    lab_cleanup || true
    prev=LAB_PREV_TRAP_$sig
    prev=${!prev}
    case $sig in
    EXIT)
        # The previous trap reads the status the shell exits with as $?.
        # Set through `||`: a failing command would set off errexit and
        # bats' ERR trap here.
        if [ "$status" = 0 ]; then
            eval "$prev"
        else
            lab_return "$status" || eval "$prev"
        fi
        ;;
    INT) eval "$prev"; exit 130 ;;
    TERM) eval "$prev"; exit 143 ;;
    esac
}

# lab_start_node NAME [YAML-LINES...]: start dynamod in NAME's namespace,
# listening on NAME's address, with helpers' write_config; waits (bounded)
# until it answers.  Its PID goes to helpers' list too, so stop_all_nodes
# stops it gracefully and reports a crash.
lab_start_node() {
    local name=$1; shift
    local dir; dir=$(node_dir "$name")
    write_config "$name" "$(lab_addr "$name")" "$@"
    # Not through lab_exec: a function in the background is a subshell,
    # and $! would be its PID rather than dynamod's.
    ip netns exec "$(lab_ns "$name")" dynamod -c "$dir/config.yaml" -f \
        >>"$dir/log" 2>&1 3>&- &
    local pid=$!
    lab_record pid "$pid"
    echo "$pid" >"$dir/pid"
    echo "$pid" >>"$BATS_TEST_TMPDIR/pids"
    lab_wait_ready "$name" "$pid" && return 0
    echo "node $name did not start; its log:" >&2
    cat "$dir/log" >&2
    return 1
}

# lab_wait_ready NAME PID: poll until NAME answers, or fail at once when
# PID has died (helpers' wait_ready, from inside NAME's namespace).
lab_wait_ready() {
    local deadline=$((SECONDS + DYN_TEST_DEADLINE_S))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$2" 2>/dev/null || return 1
        lab_dynctl "$1" -t 500 status >/dev/null 2>&1 && return 0
        sleep "$DYN_TEST_POLL_S"
    done
    return 1
}

# lab_start_nodes [YAML-LINES...]: every lab node, each alone.
lab_start_nodes() {
    local n
    for n in "${LAB_NODES[@]}"; do lab_start_node "$n" "$@" || return 1; done
}

# lab_background CMD...: run CMD (a function or program) in the
# background from the test's shell; its PID is recorded so cleanup stops
# it.  Sets LAB_BG_PID.
lab_background() {
    "$@" 3>&- &
    LAB_BG_PID=$!
    lab_record pid "$LAB_BG_PID"
}

# lab_drop NODE PEER...: in NODE's namespace, drop every packet from and
# to each PEER.  One iptables-restore per node, so a node's rules apply
# at once.
lab_drop() {
    local node=$1 peer; shift
    {
        echo "*filter"
        for peer in "$@"; do
            echo "-A INPUT -s $(lab_ip "$peer") -j DROP"
            echo "-A OUTPUT -d $(lab_ip "$peer") -j DROP"
        done
        echo "COMMIT"
    } | lab_exec "$node" iptables-restore --noflush
}

# lab_partition "A..." "B...": cut the nodes of side A from those of
# side B, both directions, in every node's namespace: a packet is dropped
# where it leaves and where it arrives.  Nodes within a side still talk.
lab_partition() {
    local a b
    # Word splitting wanted: each side is a list of names.
    # shellcheck disable=SC2086
    for a in $1; do lab_drop "$a" $2 || return 1; done
    # shellcheck disable=SC2086
    for b in $2; do lab_drop "$b" $1 || return 1; done
}

# lab_heal: remove every partition (the lab's rules are the only ones in
# its namespaces' filter tables).
lab_heal() {
    local n
    for n in "${LAB_NODES[@]}"; do lab_exec "$n" iptables -F || return 1; done
}

# lab_stop_pid PID: SIGTERM, then SIGKILL after LAB_STOP_S; only a child
# of this shell, so a PID the kernel has since given to another process
# is left alone.
lab_stop_pid() {
    local pid=$1
    [ "$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$LAB_OWNER" ] ||
        return 0
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    DYN_TEST_DEADLINE_S=$LAB_STOP_S wait_exit "$pid" || {
        kill -KILL "$pid" 2>/dev/null || true
        wait_exit "$pid" || true
    }
}

# lab_ns_pids NS: processes still inside namespace NS.
lab_ns_pids() { ip netns pids "$1" 2>/dev/null; }

# lab_ns_empty NS
lab_ns_empty() { [ -z "$(lab_ns_pids "$1")" ]; }

# lab_cleanup: stop every process the lab started, delete every link and
# namespace it made, by their recorded PIDs and names, and check that
# none is left.  Fails when a node crashed (stop_all_nodes) or something
# could not be removed.  Does nothing in a subshell (a background writer
# exiting must not tear the lab down under the test) or when called again.
lab_cleanup() {
    # No lab (the test skipped before making one): only the nodes.
    [ -n "${LAB_DIR:-}" ] || { stop_all_nodes; return; }
    [ -d "$LAB_DIR" ] && [ "$BASHPID" = "$LAB_OWNER" ] || return 0
    local status=0 pid ns link left
    # Nodes first, gracefully, so a crash on the way out still shows.
    stop_all_nodes || status=$?
    if [ -f "$LAB_DIR/pid" ]; then
        while read -r pid; do lab_stop_pid "$pid"; done <"$LAB_DIR/pid"
    fi
    if [ -f "$LAB_DIR/netns" ]; then
        # Grandchildren (a dyn that a stopped writer had running) are not
        # recorded, but a namespace this run made holds only what this
        # run started: what is still in one goes by the PIDs it lists.
        while read -r ns; do
            for pid in $(lab_ns_pids "$ns"); do
                kill -KILL "$pid" 2>/dev/null || true
            done
            DYN_TEST_DEADLINE_S=$LAB_STOP_S wait_until lab_ns_empty "$ns" || {
                echo "lab: processes left in $ns: $(lab_ns_pids "$ns")" >&2
                status=1
            }
        done <"$LAB_DIR/netns"
    fi
    if [ -f "$LAB_DIR/link" ]; then
        # Newest first: the veths before the bridge they are ports of.
        tac "$LAB_DIR/link" | while read -r ns link; do
            ip -n "$ns" link del "$link" 2>/dev/null || true
        done
    fi
    if [ -f "$LAB_DIR/netns" ]; then
        tac "$LAB_DIR/netns" | while read -r ns; do
            ip netns del "$ns" 2>/dev/null || true
        done
        left=$(ip netns list | awk '{ print $1 }' |
            grep -Fxf "$LAB_DIR/netns" || true)
        if [ -n "$left" ]; then
            echo "lab: namespaces left behind: $left" >&2
            status=1
        fi
    fi
    rm -rf "$LAB_DIR"
    return $status
}
