/*
 * idclash.h - seeing two live nodes that use one node id.
 *
 * A node's id names the dots it mints (lib/dvv.h), so two nodes with one
 * id (a data directory copied to a second host) mint the same dots and
 * an acknowledged write vanishes.  A start with a copied ring is refused
 * (ringfile.c) and so is a join with a known id (membership.c); what is
 * left is two nodes whose rings each name the id at their own address.
 * Both gossip, with their id, address and start time, to members they
 * share (seeds at least).  A receiver keeps the identity it last heard
 * for each id; one id heard from another address within
 * IDCLASH_WINDOW_MS is a clash, and each of the two is told about the
 * other in the gossip answer.  The newer of the two (the later start;
 * the higher address on a tie) stops taking writes (membership.c).
 *
 * The table is bounded (IDCLASH_SLOTS ids; the least recently heard is
 * replaced), takes `now` from its caller and does no I/O: loop thread,
 * unit-tested in t/idclash_test.c.
 */
#ifndef DYNAMOD_IDCLASH_H
#define DYNAMOD_IDCLASH_H

#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

#define IDCLASH_SLOTS 64        /* ids remembered */
#define IDCLASH_WINDOW_MS 30000 /* two addresses heard within: a clash */

struct idclash_identity {
    uint64_t id;                          /* node id */
    char address[DYN_RING_ADDRESS_BYTES]; /* its node.listen */
    uint64_t started_ms;                  /* its start, wall clock ms */
};

struct idclash_slot {
    struct idclash_identity who; /* last identity heard for who.id */
    uint64_t heard_ms;           /* when, caller's clock; 0: slot free */
    uint64_t reported_ms;        /* last clash of this id reported */
};

struct idclash_table {
    struct idclash_slot slot[IDCLASH_SLOTS];
};

void idclash_init(struct idclash_table *t);

/*
 * Record that `who` (borrowed) gossiped at now_ms.  Returns true and
 * copies the other identity into *other when the same id was heard from
 * another address within IDCLASH_WINDOW_MS; false otherwise (a restart
 * at the same address is no clash).  *report is set true for a clash of
 * an id not reported within IDCLASH_WINDOW_MS (so a log says it once,
 * not at every gossip).
 */
bool idclash_heard(struct idclash_table *t, const struct idclash_identity *who,
                   uint64_t now_ms, struct idclash_identity *other,
                   bool *report);

/* True when `self` is the newer of the two and must stop taking writes. */
bool idclash_is_newer(const struct idclash_identity *self,
                      const struct idclash_identity *other);

#endif
