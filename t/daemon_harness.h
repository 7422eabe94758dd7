/*
 * daemon_harness.h - one node of a test ring, built as server.c builds
 * it but without a process, a socket or a timer, for the unit tests of
 * the daemon's mechanisms (t/coord_test.c, t/forward_test.c,
 * t/membership_test.c, t/transfer_test.c).
 *
 * The node: a `struct server` with a memory store, the real writer in
 * inline mode, the ring's preference lists, the coordinator pool, a
 * config of defaults (lib/config.c) and a temporary data directory; the
 * transfer engine and the inbound table, and membership, on request.
 * Its peers are the fake transport (fake_peer.h): the test plays the
 * other nodes.
 *
 * Nothing runs by itself: the loop is never run while the test does.
 * harness_run_writes() applies what the mechanisms queued on the writer
 * (as the loop's turn callback would) and runs their callbacks, and the
 * loop's clock is the test's (loop_set_test_clock), moved only by
 * harness_advance(), which then times out the calls whose deadline passed
 * (as peer.c's deadline timer would).  The transfer engine's timer is
 * never run: tests call transfers_tick(), nor membership's: tests call
 * membership_tick().
 *
 * Members of the test rings have ids 1..count, names "n<id>" and
 * addresses "127.0.0.1:<7400 + id>".
 *
 * Test code.  Include after <cmocka.h>; failures fail the test.
 */
#ifndef DYN_DAEMON_HARNESS_H
#define DYN_DAEMON_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "dvv.h"
#include "idclash.h"
#include "preflist.h"
#include "ring.h"
#include "state.h"

#define HARNESS_START_MS 1000000u      /* the test clock when a node starts */
#define HARNESS_WALL_MS 1700000000000u /* the wall clock of test objects */
#define HARNESS_DIR_BYTES 64           /* a data directory's path */

struct harness_options {
    uint32_t members;    /* ring members, ids 1..members */
    uint32_t n;          /* replicas per key (N) */
    uint32_t partitions; /* Q, a power of two */
    uint64_t self;       /* this node's id, in 1..members */
    bool transfers;      /* start the transfer engine and inbound table */
    bool membership;     /* start membership (membership_init) */
};

struct harness {
    uv_loop_t loop;                   /* never run but to close handles */
    struct dyn_config cfg;            /* defaults; engine: memory */
    struct server srv;                /* the node */
    char data_dir[HARNESS_DIR_BYTES]; /* made here, removed by _free */
};

/* Build the node (see above).  Fails the test on any error. */
void harness_init(struct harness *h, const struct harness_options *opts);

/* Stop the node as server.c does (pending calls fail with
 * -DYN_ESHUTDOWN, queued writes are applied), free it and remove its
 * data directory. */
void harness_free(struct harness *h);

/* The test ring's member `id`. */
struct dyn_ring_member harness_member(uint64_t id);

/* A ring of members 1..count grown by joins (caller frees with
 * dyn_ring_free), and `r` with member `id` joined (likewise). */
struct dyn_ring *harness_ring(uint32_t count, uint32_t n, uint32_t partitions);
struct dyn_ring *harness_ring_join(const struct dyn_ring *r, uint64_t id);

/* A ring of the members ids[0..count) grown by joins in that order
 * (caller frees with dyn_ring_free): its epoch is count. */
struct dyn_ring *harness_ring_of(const uint64_t *ids, uint32_t count,
                                 uint32_t n, uint32_t partitions);

/* True when `a` and `b` encode to the same bytes. */
bool harness_ring_same(const struct dyn_ring *a, const struct dyn_ring *b);

/* The ring stored in the node's data directory (ringfile.h; caller frees
 * with dyn_ring_free), or NULL when none is stored yet. */
struct dyn_ring *harness_stored_ring(struct harness *h);

/* The address of member `id` (in any test ring). */
const char *harness_address(uint64_t id);

/* A node as it names itself in gossip (idclash.h): `id` at `address`,
 * started at `started_ms`. */
struct idclash_identity harness_identity(uint64_t id, const char *address,
                                         uint64_t started_ms);

/*
 * Adopt `ring` (taken) as membership_adopt() does: transfers queued
 * (transfers_ring_changed, with the node's ring as the cluster's before),
 * then the ring replaced and its preference lists rebuilt.
 */
void harness_adopt(struct harness *h, struct dyn_ring *ring);

/* Apply everything queued on the writer, and what the callbacks queue,
 * running every callback (what the loop's turn callback does). */
void harness_run_writes(struct harness *h);

/* Move the test clock on by `ms`, then time out the peer calls whose
 * deadline passed (fake_peer_expire). */
void harness_advance(struct harness *h, uint64_t ms);

/*
 * The `nth` key (from 0) that this node replicates (self_in) or does not,
 * into key[0..cap) with its NUL; returns its length.
 */
size_t harness_key(const struct harness *h, bool self_in, uint32_t nth,
                   char *key, size_t cap);

/* The same for the `nth` key of `partition`. */
size_t harness_key_in(const struct harness *h, uint32_t partition, uint32_t nth,
                      char *key, size_t cap);

/* The preference list of `key` in the node's ring; returns the count. */
uint32_t harness_targets(const struct harness *h, const char *key,
                         struct preflist_target *out);

/*
 * A version written at coordinator `node` onto `obj`, with obj's vector
 * as the context: it supersedes everything `obj` held (an empty `obj`:
 * the key's first version).
 */
void harness_object_put(struct dyn_object *obj, uint64_t node,
                        const char *value);

/* True when `obj` holds exactly one live sibling, of `value`. */
bool harness_object_is(const struct dyn_object *obj, const char *value);

/*
 * Store on this node: a client's put of `value` coordinated here (with
 * no context), or a replica's object merged (as a ReplicaPutReq is), each
 * applied at once.  harness_store_get: the stored object into *out
 * (caller frees), 0 or dyn_kv_get's code (-DYN_ENOTFOUND).
 */
void harness_store_put(struct harness *h, const char *key, const char *value);
void harness_store_merge(struct harness *h, const char *key,
                         const struct dyn_object *obj);
int harness_store_get(struct harness *h, const char *key,
                      struct dyn_object *out);

#endif
