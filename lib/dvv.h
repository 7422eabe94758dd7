/*
 * dvv.h - sibling sets versioned by dotted version vectors (DVV).
 *
 * Paper: Dynamo section 4.4 (data versioning), with the vector clocks
 * replaced by dotted version vectors (Almeida, Baquero et al. 2012/2014;
 * Riak 2.0's DVVSet), so that two clients putting with the same stale
 * context through one coordinator both survive as siblings.
 *
 * Model.  An object is a version vector `vv` (for each node id: a counter
 * such that every write of that node up to it is either held here as a
 * sibling or was superseded by something held here) and a list of
 * siblings.  Each sibling carries the dot (node, counter) of the write
 * that made it.  A dot is covered by the vv, or above it: then the
 * sibling is all this replica knows of that write and of the writes of
 * its node between vv[node] and it (a dot minted above the floor, below).
 * What the object knows is the vv and the siblings' dots.  Invariant: no
 * two siblings share a dot.
 *
 * - put(ctx) at coordinator A: drop the siblings whose dot ctx covers, add
 *   one sibling with dot (A, max(vv[A], A's top dot here, ctx[A], F) + 1),
 *   and join ctx into vv, and the new dot too when it follows on vv[A]
 *   (always without a floor).  A dot above that stays its sibling's only:
 *   joining it would claim A's writes in between, and a replica holding
 *   one of those (of this key, minted while this copy was lost) would
 *   take it for superseded.  With no
 *   context (ctx empty) only tombstones are dropped: the new value is a
 *   sibling of every live version (add-wins against concurrent deletes).
 * - F is A's dot floor: the highest counter A has minted for any key, so
 *   that every dot A makes is above every dot it made before, whatever
 *   the key.  vv[A] alone makes a dot unique only if A's copy of the key
 *   knows A's latest dot for it, and it does not when A lost its copy but
 *   kept its id (the memory engine restarted on the same data_dir), when
 *   A coordinates a key it does not replicate (its copy is a hint,
 *   dropped once delivered), or when A owns a partition again after
 *   handing it away.  A dot reused there is a write lost without a word:
 *   a replica whose vv covers it drops the new write as one it has seen,
 *   and sync keeps only one of two siblings that share a dot.  The daemon
 *   keeps F across restarts (daemon/base/dotlease.h).  With a floor, A's
 *   own entry is judged against what A minted:
 *   - ctx[A] > F, and > vv[A]: the client claims a write A never made,
 *     since every counter of A anywhere is at most F.  Refused
 *     (-DYN_ECONTEXTAHEAD, nothing changes).  A ctx[A] up to vv[A] only
 *     repeats what the object claims (a read's context is its vv) and is
 *     left to the next rule, or every client that reads first would be
 *     refused on that key.
 *   - vv[A] > F: the stored object claims a dot of A above anything A
 *     minted (a floor lost, or a forged replica's object).  The new dot
 *     is still max(...) + 1, so it is unique, and F follows it; but past
 *     F + DYN_DVV_MAX_CONTEXT_LEAD the put is refused (-DYN_ECOUNTER) for
 *     that key only, or one poisoned object could push the node-wide F to
 *     UINT64_MAX and leave A no dot for any key.
 *   F = 0 means no floor (a caller that keeps none: tools, tests): the
 *   counter is max(vv[A], ctx[A]) + 1, with ctx[A] bounded as below.
 * - A context is client input, so its counters are believed only up to
 *   DYN_DVV_MAX_CONTEXT_LEAD writes ahead of what the object knows of each
 *   node (its vv entry or its top dot, whichever is higher).  An honest
 *   context leads a replica only by the writes that replica missed (and
 *   the get that made it has usually read-repaired it).  Believing any
 *   claim would let one put push a counter to UINT64_MAX, after which
 *   that node can make no new dot and the key is locked for good: a
 *   forged ctx[A] at A directly, a forged ctx[B] once
 *   the joined vv reaches B by replication.  With the bound, running a
 *   counter out takes 2^64 / 2^20 = 2^44 puts.  Past the bound:
 *   ctx[A] is refused (-DYN_ECONTEXTAHEAD, nothing changes; with a floor,
 *   past F instead, as above), since the new dot must stay above every
 *   dot of A anywhere and lowering ctx[A] could reuse one; any other
 *   node's entry is joined as at most vv[X] + DYN_DVV_MAX_CONTEXT_LEAD,
 *   which only leaves vv lower than the client claimed, so a write it saw
 *   and this replica did not may come back as a false sibling but none is
 *   lost.  That one is not refused because a coordinator that pruned X's
 *   entry (or has no copy of the key, as a new replica before its
 *   transfer) sees an honest context lead by all of X's writes, and
 *   reading again need not change that.
 * - sync(a, b): vv = pointwise max; a sibling survives if both sides hold
 *   it, or the other side's vv does not cover its dot (it never saw it).
 *   Sync is commutative, associative and idempotent, and what the result
 *   knows is exactly what a and b knew: a dropped sibling's dot is covered
 *   by the other side's vv.
 * - The context handed to clients is the object's vv with each entry
 *   raised to the node's top dot among the siblings
 *   (dyn_object_context()), so that a put with it supersedes every
 *   sibling read.  A context is a vv, so it also claims that node's
 *   writes between vv[node] and the dot: one of those the read did not
 *   see (a write of the key that A minted while its copy was lost, held
 *   by a replica the read did not reach) is superseded by a put with it.
 *   As a printable token it is base64url of the binary vv encoding.
 * - Vector entries are bounded (max_vv_entries, paper: 10): the oldest
 *   entries by timestamp are pruned, but never the entry of the local node
 *   nor one naming a live sibling's node, so pruning can only ever make a
 *   false sibling, never drop a write or let a node reuse a dot.
 *
 * Siblings are ordered by dot (node id, then counter) after every
 * operation, so equal objects encode to equal bytes.
 *
 * Memory: a struct dyn_object owns its arrays and, unless the sibling is
 * marked `borrowed`, every sibling's value.  A borrowed value points into
 * a buffer somebody else owns (a stored record, a message being handled):
 * the *_borrowed functions below make such objects so that a read or a
 * write need not copy values it only passes on, and the caller keeps the
 * buffer alive for as long as the object is used, or calls
 * dyn_object_own() first.  Functions that build a new object write it to
 * an out-parameter that the caller releases with dyn_object_free() (which
 * frees only owned values); they leave it empty on error.
 * lib/ code: no clock reads (now_ms is passed in), no I/O, thread-safe on
 * distinct objects.
 */
#ifndef DYN_DVV_H
#define DYN_DVV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "varint.h"

#define DYN_DVV_DEFAULT_MAX_ENTRIES 10   /* vector entries kept (paper: 10) */
#define DYN_DVV_MAX_ENTRIES_LIMIT 1024   /* hard ceiling on any decoded vv */
#define DYN_DVV_MAX_SIBLINGS_LIMIT 65536 /* hard ceiling, any decoded obj */
/* How far a put's context may lead the object's vv, in writes of one node
 * (see "A context is client input" above), and how far the object's vv
 * may lead a nonzero dot floor (see "F is A's dot floor"). */
#define DYN_DVV_MAX_CONTEXT_LEAD (UINT64_C(1) << 20)

struct dyn_dot {
    uint64_t node;    /* node id of the coordinator that made the write */
    uint64_t counter; /* that node's write counter, from 1; with a dot
                         floor, above every one it minted before */
};

struct dyn_vv_entry {
    uint64_t node;    /* node id */
    uint64_t counter; /* highest counter of `node` known, >= 1 */
    uint64_t ts_ms;   /* wall clock of the last update to this entry, ms */
};

/* A version vector: entries sorted by node id, no duplicates. */
struct dyn_vv {
    uint32_t len;               /* entries in use */
    struct dyn_vv_entry *entry; /* owned; NULL when len == 0 */
};

struct dyn_sibling {
    struct dyn_dot dot; /* the write that made this version */
    uint64_t ts_ms;     /* coordinator wall clock at the write, ms */
    bool deleted;       /* a tombstone: value_len is 0 */
    uint32_t value_len; /* bytes in value */
    uint8_t *value;     /* may be NULL when value_len == 0 */
    bool borrowed;      /* value is not the object's to free */
};

struct dyn_object {
    struct dyn_vv vv;             /* what this replica knows */
    uint32_t sibling_count;       /* siblings in use */
    struct dyn_sibling *siblings; /* owned; sorted by dot */
};

/* Limits applied by put and sync. */
struct dyn_dvv_limits {
    uint32_t max_siblings;   /* put refused past this (default 100) */
    uint32_t max_vv_entries; /* prune past this (default 10) */
};

/* Initialise an empty object / vv (no allocation). */
void dyn_object_init(struct dyn_object *obj);
void dyn_vv_init(struct dyn_vv *vv);

/* Release everything `obj` / `vv` owns and leave it empty. NULL is fine. */
void dyn_object_free(struct dyn_object *obj);
void dyn_vv_free(struct dyn_vv *vv);

/*
 * Deep-copy `src` into `dst` (dst is overwritten, not freed first); the
 * copy owns every value.  Returns 0 or -ENOMEM (dst left empty).
 */
int dyn_object_copy(struct dyn_object *dst, const struct dyn_object *src);

/*
 * Give `obj` its own copy of every borrowed value, so that it outlives the
 * buffers it borrowed from.  Returns 0 or -ENOMEM (then the values not yet
 * copied stay borrowed, and the object stays valid as before).
 */
int dyn_object_own(struct dyn_object *obj);

/*
 * For the copying forms of the *_borrowed functions: when `rc` (what the
 * borrowed form returned) is 0, make `obj` own its values, and if that
 * fails free it and return -ENOMEM; otherwise return `rc` as it is.
 */
int dyn_object_owned(struct dyn_object *obj, int rc);
int dyn_vv_copy(struct dyn_vv *dst, const struct dyn_vv *src);

/* The counter `vv` holds for `node`, 0 if none. */
uint64_t dyn_vv_get(const struct dyn_vv *vv, uint64_t node);

/* True when `vv` covers `dot` (dot.counter <= vv[dot.node]). */
bool dyn_vv_covers(const struct dyn_vv *vv, struct dyn_dot dot);

/*
 * Join `src` into `dst` (pointwise max; ts_ms of the larger counter, the
 * later ts on a tie).  Returns 0 or -ENOMEM (dst unchanged).
 */
int dyn_vv_join(struct dyn_vv *dst, const struct dyn_vv *src);

/*
 * The context of `obj` for clients (see the model above): its vv, each
 * entry raised to its node's top dot among the siblings, with the nodes
 * of dots above the vv added.  dyn_object_context() writes it to `out`
 * (caller frees with dyn_vv_free(); empty on error) and returns 0,
 * -EOVERFLOW or -ENOMEM.  dyn_object_context_encode() writes its
 * dyn_vv_encode() form into buf, which must hold at least
 * dyn_object_context_encoded_size() bytes, and returns the byte count;
 * dyn_object_context_max_size() is a bound on that size that costs no
 * walk over the object, for a buffer at hand.
 */
int dyn_object_context(const struct dyn_object *obj, struct dyn_vv *out);
size_t dyn_object_context_encoded_size(const struct dyn_object *obj);
size_t dyn_object_context_encode(const struct dyn_object *obj, uint8_t *buf);

static inline size_t
dyn_object_context_max_size(const struct dyn_object *obj)
{
    /* A count and three varints an entry, of a vv entry or a sibling. */
    return DYN_VARINT_MAX_BYTES *
           (1 + 3 * ((size_t)obj->vv.len + obj->sibling_count));
}

/* Number of siblings that are not tombstones. */
uint32_t dyn_object_live_count(const struct dyn_object *obj);

/* True for the object of a key never written: no vector, no sibling. */
bool dyn_object_is_empty(const struct dyn_object *obj);

/*
 * Apply a client put (or a delete, with deleted=true and value_len 0) at
 * coordinator `node` to `obj`, in place.
 *
 *   ctx       the client's context; NULL or empty means "no context"
 *   node      the coordinator's node id (nonzero)
 *   floor     the highest counter `node` has minted for any key (its dot
 *             floor, see the model above); 0: no floor
 *   now_ms    the coordinator's wall clock, stamped on the sibling and vv
 *   value     bytes copied in; may be NULL when value_len is 0
 *   limits    max_siblings and max_vv_entries
 *   dot_out   if not NULL, receives the new sibling's dot
 *
 * Below, K[X] is what obj knows of node X: vv[X], or the highest dot of
 * X among its siblings when that is higher.  The new dot's counter is
 * max(K[node], ctx[node], floor) + 1: with a floor, above every dot
 * `node` minted before for any key.  vv[node] takes the dot only when it
 * follows on (see the model above).
 *
 * Returns 0; -DYN_ESIBLINGS when the result would hold more than
 * limits->max_siblings siblings; -DYN_EBADARG for node 0 or a deleted put
 * with a value; -DYN_ECONTEXTAHEAD when ctx[node] is above both floor and
 * K[node], or with floor 0 more than DYN_DVV_MAX_CONTEXT_LEAD ahead of
 * K[node] (the client should read again); -DYN_ECOUNTER when K[node] is
 * more than DYN_DVV_MAX_CONTEXT_LEAD above a nonzero floor, or node's
 * counter is already UINT64_MAX (left by a context believed before that
 * bound existed); -ENOMEM.  On any error `obj` is unchanged.
 * Other nodes' entries of ctx are joined as at most K[X] +
 * DYN_DVV_MAX_CONTEXT_LEAD.
 *
 * dyn_object_put_borrowed() is the same but the new sibling borrows
 * `value` instead of copying it.
 */
int dyn_object_put(struct dyn_object *obj, const struct dyn_vv *ctx,
                   uint64_t node, uint64_t floor, uint64_t now_ms,
                   const uint8_t *value, uint32_t value_len, bool deleted,
                   const struct dyn_dvv_limits *limits,
                   struct dyn_dot *dot_out);
int dyn_object_put_borrowed(struct dyn_object *obj, const struct dyn_vv *ctx,
                            uint64_t node, uint64_t floor, uint64_t now_ms,
                            const uint8_t *value, uint32_t value_len,
                            bool deleted, const struct dyn_dvv_limits *limits,
                            struct dyn_dot *dot_out);

/*
 * DVV sync: merge `a` and `b` into `out` (neither input is changed; `out`
 * must not alias them and is overwritten).  Vector pruning is not applied
 * here, so sync stays exactly commutative and associative; callers that
 * store the result apply dyn_object_prune().  Returns 0 or -ENOMEM.
 * `out` owns its values; with dyn_object_sync_borrowed() it borrows them
 * from `a` and `b` instead.
 */
int dyn_object_sync(struct dyn_object *out, const struct dyn_object *a,
                    const struct dyn_object *b);
int dyn_object_sync_borrowed(struct dyn_object *out,
                             const struct dyn_object *a,
                             const struct dyn_object *b);

/*
 * Prune `obj->vv` down to `max_entries` entries (oldest ts_ms first),
 * never removing the entry of `local_node` or of a node that names a
 * sibling's dot.  May leave more than max_entries when nothing else can
 * go.  Returns the number of entries removed.
 */
uint32_t dyn_object_prune(struct dyn_object *obj, uint64_t local_node,
                          uint32_t max_entries);

/* True when the objects hold the same vv and siblings (values included). */
bool dyn_object_equal(const struct dyn_object *a, const struct dyn_object *b);

/*
 * Binary encoding of an object, used by storage and by replica messages.
 * Layout (all integers unsigned LEB128 varints unless noted):
 *   format byte (1), vv_len, vv entries (node, counter, ts_ms),
 *   sibling_count, siblings (node, counter, ts_ms, flags byte, value_len,
 *   value bytes).
 * dyn_object_encoded_size() returns the exact size; dyn_object_encode()
 * writes it into buf (which must be at least that large) and returns the
 * byte count.  dyn_object_decode() checks every count against the bytes
 * actually present and against the hard limits above before allocating;
 * it returns 0, -DYN_EFORMAT for anything malformed or trailing, or
 * -ENOMEM.  `max_value_bytes` bounds each sibling value.  Decoding is
 * strict (minimal varints, sorted vv entries and dots, no stray flag bits),
 * so a buffer that decodes re-encodes to the same bytes.
 *
 * dyn_object_decode_borrowed() decodes the same way, but the siblings
 * borrow their values from `buf` instead of copying them.
 * dyn_object_encode_rebind() encodes like dyn_object_encode() and then
 * makes every sibling of `obj` borrow its value from its copy in `buf`
 * (freeing the values it owned): the object is then valid exactly as long
 * as `buf`, and nothing it borrowed before is needed any more.
 *
 * dyn_object_rebase() is for an object decoded (borrowed) from bytes
 * that were then copied: every borrowed value within `from` (len bytes)
 * is pointed at the same place in `to`, the copy.  Cheaper than encoding
 * again when the encoding is at hand.
 */
size_t dyn_object_encoded_size(const struct dyn_object *obj);
size_t dyn_object_encode(const struct dyn_object *obj, uint8_t *buf);
size_t dyn_object_encode_rebind(struct dyn_object *obj, uint8_t *buf);
void dyn_object_rebase(struct dyn_object *obj, const uint8_t *from,
                       size_t len, const uint8_t *to);
int dyn_object_decode(struct dyn_object *out, const uint8_t *buf, size_t len,
                      uint32_t max_value_bytes);
int dyn_object_decode_borrowed(struct dyn_object *out, const uint8_t *buf,
                               size_t len, uint32_t max_value_bytes);

/* Encode into a new buffer (*out, *len; the caller frees *out).  An empty
 * object still encodes (a few bytes).  Returns 0 or -ENOMEM. */
int dyn_object_encode_alloc(const struct dyn_object *obj, uint8_t **out,
                            size_t *len);

/*
 * Binary encoding of a vv (the wire form of a context): vv_len, then
 * (node, counter, ts_ms) varints.  Same conventions as above.
 */
size_t dyn_vv_encoded_size(const struct dyn_vv *vv);
size_t dyn_vv_encode(const struct dyn_vv *vv, uint8_t *buf);
int dyn_vv_decode(struct dyn_vv *out, const uint8_t *buf, size_t len);

/*
 * Printable context token: the version character 'c', then base64url
 * (no padding) of dyn_vv_encode().  The empty vv has a token of its own
 * ("cAA"), so "" is never a valid token.  Decoding is strict: only the
 * exact string dyn_context_to_token() makes for a vv is accepted.
 *
 * dyn_context_to_token() returns a NUL-terminated string the caller frees
 * with free(), or NULL on -ENOMEM.  dyn_context_from_token() returns 0,
 * -DYN_EBADCONTEXT for anything that is not a token we made, or -ENOMEM.
 */
char *dyn_context_to_token(const struct dyn_vv *vv);
int dyn_context_from_token(struct dyn_vv *out, const char *token);

#endif
