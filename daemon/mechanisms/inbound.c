/*
 * inbound.c - partitions being received (inbound.h).
 *
 * One pointer per partition, allocated only while the partition is being
 * received, sized by its previous replicas (at most DYN_RING_MAX_N).
 */
#include "inbound.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "loop.h"
#include "state.h"

#define INBOUND_MAX_MS (10u * 60 * 1000) /* then reads stop asking them */

struct inbound {
    uint64_t since_ms; /* loop_now_ms() when it began */
    uint32_t source_count;
    uint64_t sources[]; /* member ids of the previous replicas */
};

struct inbound_set {
    uint32_t partitions;    /* Q: entries in `part` */
    struct inbound *part[]; /* NULL: not receiving */
};

int
inbound_init(struct server *srv)
{
    uint32_t q = srv->ring->partitions;
    struct inbound_set *set =
        calloc(1, sizeof(*set) + (size_t)q * sizeof(set->part[0]));
    if (set == NULL)
        return -ENOMEM;
    set->partitions = q;
    srv->inbound = set;
    return 0;
}

void
inbound_stop(struct server *srv)
{
    struct inbound_set *set = srv->inbound;
    if (set == NULL)
        return;
    for (uint32_t p = 0; p < set->partitions; p++)
        free(set->part[p]);
    free(set);
    srv->inbound = NULL;
}

void
inbound_end(struct server *srv, uint32_t partition)
{
    struct inbound_set *set = srv->inbound;
    if (set == NULL || partition >= set->partitions)
        return;
    free(set->part[partition]);
    set->part[partition] = NULL;
}

void
inbound_begin(struct server *srv, uint32_t partition,
              const struct preflist_target *was, uint32_t nw)
{
    struct inbound_set *set = srv->inbound;
    if (set == NULL || partition >= set->partitions)
        return;
    inbound_end(srv, partition);
    struct inbound *in = malloc(sizeof(*in) + nw * sizeof(in->sources[0]));
    if (in == NULL)
        return; /* reads then answer from what has arrived */
    in->since_ms = loop_now_ms(&srv->lp);
    in->source_count = 0;
    for (uint32_t i = 0; i < nw; i++)
        if (!was[i].local)
            in->sources[in->source_count++] = was[i].id;
    if (in->source_count == 0) {
        free(in);
        return;
    }
    set->part[partition] = in;
}

bool
inbound_sources(struct server *srv, uint32_t partition, uint64_t *out,
                uint32_t max, uint32_t *count)
{
    struct inbound_set *set = srv->inbound;
    if (set == NULL || partition >= set->partitions ||
        set->part[partition] == NULL)
        return false;
    struct inbound *in = set->part[partition];
    if (loop_now_ms(&srv->lp) - in->since_ms > INBOUND_MAX_MS) {
        log_warn("partition %u: no previous replica finished sending it "
                 "within %u s; reads no longer consult them",
                 partition, INBOUND_MAX_MS / 1000);
        inbound_end(srv, partition);
        return false;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < in->source_count && n < max; i++)
        out[n++] = in->sources[i];
    if (count != NULL)
        *count = n;
    return true;
}

uint32_t
inbound_count(struct server *srv)
{
    struct inbound_set *set = srv->inbound;
    uint32_t n = 0;
    for (uint32_t p = 0; set != NULL && p < set->partitions; p++)
        n += set->part[p] != NULL && inbound_sources(srv, p, NULL, 0, NULL);
    return n;
}
