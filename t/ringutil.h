/*
 * ringutil.h - what ring_test.c and claim_test.c share: members with ids
 * not in join order, and rings grown by joins.
 *
 * Include after <cmocka.h>.
 */
#ifndef DYN_RINGUTIL_H
#define DYN_RINGUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "claim.h"
#include "ring.h"

#define TEST_N 3               /* replicas in the claim tests */
#define TEST_REPORT_BYTES 2048 /* dyn_ring_check report buffer */

static inline struct dyn_ring_member
member(uint64_t id, const char *zone)
{
    struct dyn_ring_member m;
    memset(&m, 0, sizeof(m));
    m.id = id;
    snprintf(m.name, sizeof(m.name), "node%llu", (unsigned long long)id);
    snprintf(m.address, sizeof(m.address), "127.0.0.1:%llu",
             (unsigned long long)(7000 + id));
    snprintf(m.zone, sizeof(m.zone), "%s", zone);
    return m;
}

/* Ids not in join order, so joins insert in the middle of members[]. */
static inline uint64_t
member_id(uint32_t i)
{
    return (uint64_t)((i * 7919u) % 1009u) + 1;
}

static inline struct dyn_ring *
grow(uint32_t q, uint32_t n, uint32_t to, const char *const *zones,
     uint32_t zone_count)
{
    struct dyn_ring *r;
    struct dyn_ring_member m = member(member_id(0), zones ? zones[0] : "");

    assert_int_equal(dyn_ring_new(&r, q, n, &m), 0);
    for (uint32_t i = 1; i < to; i++) {
        struct dyn_ring *next;
        m = member(member_id(i), zones ? zones[i % zone_count] : "");
        assert_int_equal(dyn_claim_join(r, &m, &next), 0);
        dyn_ring_free(r);
        r = next;
    }
    return r;
}

#endif
