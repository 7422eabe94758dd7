/*
 * ring.h - consistent hashing: keys to partitions, partitions to owners,
 * preference lists (Dynamo section 4.2, strategy 3 of section 6.2: Q equal
 * partitions of the hash space, each owned by one member).
 *
 * partition(key) = XXH3_64(key) >> (64 - log2 Q).  Q is a power of two,
 * fixed when the cluster is created.
 *
 * A struct dyn_ring is one epoch of the placement: the members (sorted by
 * id) and the owner of every partition.  Rings are values: a membership
 * change (dyn_claim_join, dyn_claim_leave in claim.h) builds a
 * new ring with epoch + 1 and leaves its input alone.
 *
 * lib/ code: no I/O, no clock, no threads.  Thread-safe on distinct rings;
 * a ring that nobody modifies may be read from many threads.
 */
#ifndef DYN_RING_H
#define DYN_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DYN_RING_MAX_PARTITIONS 65536u /* Q ceiling */
#define DYN_RING_MAX_MEMBERS 1024u     /* members of one ring */
#define DYN_RING_MAX_N 64u             /* replication factor ceiling */
#define DYN_RING_NAME_BYTES 64         /* member name, NUL included */
#define DYN_RING_ADDRESS_BYTES 128     /* member address, NUL included */
#define DYN_RING_ZONE_BYTES 64         /* member zone, NUL included */
#define DYN_RING_FORMAT 1              /* first byte of dyn_ring_encode */

struct dyn_ring_member {
    uint64_t id;                          /* node id, unique in the ring */
    char name[DYN_RING_NAME_BYTES];       /* NUL-terminated */
    char address[DYN_RING_ADDRESS_BYTES]; /* "host:port", NUL-terminated */
    char zone[DYN_RING_ZONE_BYTES];       /* "" when none, NUL-terminated */
};

struct dyn_ring {
    uint64_t epoch;                  /* 1 at creation, +1 per claim */
    uint32_t partitions;             /* Q, a power of two */
    uint32_t n;                      /* replicas per key (N) */
    uint32_t member_count;           /* S, >= 1 */
    struct dyn_ring_member *members; /* [member_count], by id; owned */
    uint32_t *owner; /* [partitions]: index into members; owned */
};

/* True when q is a power of two in 1..DYN_RING_MAX_PARTITIONS. */
bool dyn_ring_partitions_valid(uint32_t q);

/* The partition of `key` in a ring of q partitions (q valid). */
uint32_t dyn_ring_partition_of(const uint8_t *key, size_t key_len, uint32_t q);

/*
 * Make a ring of q partitions and replication factor n in which `first`
 * (copied) owns every partition, epoch 1.
 *
 * out: set to the new ring on success, NULL on error; the caller frees it
 *      with dyn_ring_free().
 * Returns 0, -DYN_EBADARG (q not valid, n not in 1..DYN_RING_MAX_N, a
 * string of `first` not NUL-terminated) or -ENOMEM.
 */
int dyn_ring_new(struct dyn_ring **out, uint32_t q, uint32_t n,
                 const struct dyn_ring_member *first);

/* Free a ring and everything it owns.  NULL is a no-op. */
void dyn_ring_free(struct dyn_ring *r);

/*
 * Deep copy of `in` into *out (caller frees with dyn_ring_free()).
 * Returns 0 or -ENOMEM (*out NULL).
 */
int dyn_ring_copy(const struct dyn_ring *in, struct dyn_ring **out);

/* The member whose id is `id` (borrowed from r), or NULL. */
const struct dyn_ring_member *dyn_ring_member_by_id(const struct dyn_ring *r,
                                                    uint64_t id);

/* The number of partitions member index `member` owns. */
uint32_t dyn_ring_owned(const struct dyn_ring *r, uint32_t member);

/*
 * The preference list of `partition`: member indexes written to
 * out[0..count-1], count = min(n, member_count, max).
 *
 * Without zones: walk the partitions from `partition` onward (wrapping)
 * and take the first n distinct owners.  With zones: a first walk of the
 * whole ring takes owners only from zones not yet used (a member with zone
 * "" counts as a zone of its own); if that gives fewer than n, a second
 * walk fills with owners not yet taken.  So replicas span as many zones as
 * exist, up to n, and the first entry is always the partition's owner.
 *
 * Returns the count, or -DYN_EBADARG (partition out of range).
 */
int dyn_ring_preflist(const struct dyn_ring *r, uint32_t partition,
                      uint32_t *out, uint32_t max);

/*
 * The extended preference list (Dynamo section 4.6): the preference list,
 * then the other members in the order the walk from `partition` meets
 * them, up to `max` in all.  Sloppy quorum takes substitutes for
 * unreachable replicas from its tail.  Returns the count, or
 * -DYN_EBADARG (partition out of range).
 */
int dyn_ring_preflist_extended(const struct dyn_ring *r, uint32_t partition,
                               uint32_t *out, uint32_t max);

/*
 * Check placement: the preference list of each partition should hold
 * min(N, S, Q) distinct members (by id) and, when any member has a zone,
 * min(N, zones present, Q) distinct zones (a member without a zone counts
 * as a zone of its own, as in dyn_ring_preflist).  Each partition whose
 * list falls short is one violation: a member or zone that owns no
 * partition, or the same node twice among the members.  Balance and
 * windows, the claim's rules, are not placement: see
 * dyn_claim_check_rules().
 *
 * report: if not NULL and report_len > 0, filled (always NUL-terminated,
 *         truncated to report_len) with the first few violations, one per
 *         line: the partition, what it has and could have, and its list
 *         as "name (id)" with ids as 16 hex digits; "" when there are none.
 * Returns the number of violations (0: placement is as good as the
 * members and zones allow).
 */
int dyn_ring_check(const struct dyn_ring *r, char *report, size_t report_len);

/*
 * Number of partitions whose owner (by member id) differs between a and
 * b, or -DYN_EBADARG when their partition counts differ.
 */
int dyn_ring_moves(const struct dyn_ring *a, const struct dyn_ring *b);

/*
 * Serialization, for persistence and gossip.  Fixed width, little
 * endian:
 *   u8 format (DYN_RING_FORMAT), u64 epoch, u32 Q, u32 N, u32 S,
 *   S times: u64 id, then name, address, zone each as u8 length + bytes
 *            (no NUL; length below the field size),
 *   Q times: u16 owner (index into the members).
 *
 * dyn_ring_encoded_size: the exact byte count dyn_ring_encode writes.
 * dyn_ring_encode: writes into buf[0..len); returns the byte count or
 *   -DYN_EBADARG when len is too small.
 * dyn_ring_decode: strict; *out is a new ring the caller frees with
 *   dyn_ring_free() (NULL on error).  Returns 0, -DYN_EFORMAT (unknown
 *   format byte, truncated input, a count over its limit or beyond the
 *   bytes present, Q not a power of two, N out of range, ids not strictly
 *   increasing, a string with a NUL or too long, an owner index out of
 *   range, trailing bytes) or -ENOMEM.  Counts are checked before any
 *   allocation.
 */
size_t dyn_ring_encoded_size(const struct dyn_ring *r);
int dyn_ring_encode(const struct dyn_ring *r, uint8_t *buf, size_t len);
int dyn_ring_decode(const uint8_t *buf, size_t len, struct dyn_ring **out);

/*
 * Cross-file internals, for claim.c; not for programs.
 *
 * dyn__ring_alloc: a ring with room for s members and q owners, fields
 *   set, arrays zeroed; *out NULL on error.  Returns 0 or -ENOMEM.
 * dyn__ring_member_valid: true when every string of m is NUL-terminated.
 * dyn__ring_find_member: the index of member `id`, or where it would be
 *   inserted (members are sorted by id); the caller compares the id.
 */
int dyn__ring_alloc(struct dyn_ring **out, uint64_t epoch, uint32_t q,
                    uint32_t n, uint32_t s);
bool dyn__ring_member_valid(const struct dyn_ring_member *m);
uint32_t dyn__ring_find_member(const struct dyn_ring *r, uint64_t id);

#endif
