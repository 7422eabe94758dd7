/*
 * ring.c - keys to partitions, partitions to owners (ring.h).
 *
 * The top bits of a 64-bit XXH3 select the partition, so partition p
 * covers one contiguous 1/Q slice of the hash space and the ring can later
 * be split or walked in order.
 */
#include "ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "err.h"

#define CHECK_REPORT_LINES 8 /* violations listed by dyn_ring_check */
#define MEMBER_MIN_BYTES 11  /* id + three empty strings, encoded */
#define HEADER_BYTES 21      /* format, epoch, Q, N, S */

bool
dyn_ring_partitions_valid(uint32_t q)
{
    return q >= 1 && q <= DYN_RING_MAX_PARTITIONS && (q & (q - 1)) == 0;
}

uint32_t
dyn_ring_partition_of(const uint8_t *key, size_t key_len, uint32_t q)
{
    if (q <= 1)
        return 0;
    unsigned bits = (unsigned)__builtin_ctz(q);
    return (uint32_t)(XXH3_64bits(key, key_len) >> (64 - bits));
}

bool
dyn__ring_member_valid(const struct dyn_ring_member *m)
{
    return m != NULL && memchr(m->name, '\0', sizeof(m->name)) != NULL &&
           memchr(m->address, '\0', sizeof(m->address)) != NULL &&
           memchr(m->zone, '\0', sizeof(m->zone)) != NULL;
}

int
dyn__ring_alloc(struct dyn_ring **out, uint64_t epoch, uint32_t q, uint32_t n,
                uint32_t s)
{
    struct dyn_ring *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL)
        return -ENOMEM;
    r->epoch = epoch;
    r->partitions = q;
    r->n = n;
    r->member_count = s;
    r->members = calloc(s, sizeof(*r->members));
    r->owner = calloc(q, sizeof(*r->owner));
    if (r->members == NULL || r->owner == NULL) {
        dyn_ring_free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

int
dyn_ring_new(struct dyn_ring **out, uint32_t q, uint32_t n,
             const struct dyn_ring_member *first)
{
    *out = NULL;
    if (!dyn_ring_partitions_valid(q) || n < 1 || n > DYN_RING_MAX_N ||
        !dyn__ring_member_valid(first))
        return -DYN_EBADARG;
    int rc = dyn__ring_alloc(out, 1, q, n, 1);
    if (rc < 0)
        return rc;
    (*out)->members[0] = *first;
    return 0;
}

void
dyn_ring_free(struct dyn_ring *r)
{
    if (r == NULL)
        return;
    free(r->members);
    free(r->owner);
    free(r);
}

int
dyn_ring_copy(const struct dyn_ring *in, struct dyn_ring **out)
{
    int rc = dyn__ring_alloc(out, in->epoch, in->partitions, in->n,
                             in->member_count);
    if (rc < 0)
        return rc;
    memcpy((*out)->members, in->members,
           in->member_count * sizeof(*in->members));
    memcpy((*out)->owner, in->owner, in->partitions * sizeof(*in->owner));
    return 0;
}

uint32_t
dyn__ring_find_member(const struct dyn_ring *r, uint64_t id)
{
    uint32_t lo = 0, hi = r->member_count;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->members[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo; /* insertion point; caller compares the id */
}

const struct dyn_ring_member *
dyn_ring_member_by_id(const struct dyn_ring *r, uint64_t id)
{
    uint32_t i = dyn__ring_find_member(r, id);
    return i < r->member_count && r->members[i].id == id ? &r->members[i]
                                                         : NULL;
}

/* Walk from p; take owners not yet in out[] (and of an unused zone). */
static uint32_t
preflist_walk(const struct dyn_ring *r, uint32_t p, uint32_t *out, uint32_t got,
              uint32_t want, bool by_zone)
{
    for (uint32_t i = 0; i < r->partitions && got < want; i++) {
        uint32_t o = r->owner[(p + i) % r->partitions];
        const char *zone = r->members[o].zone;
        bool skip = false;
        for (uint32_t j = 0; j < got && !skip; j++)
            skip = out[j] == o || (by_zone && zone[0] != '\0' &&
                                   strcmp(r->members[out[j]].zone, zone) == 0);
        if (!skip)
            out[got++] = o;
    }
    return got;
}

int
dyn_ring_preflist(const struct dyn_ring *r, uint32_t partition, uint32_t *out,
                  uint32_t max)
{
    if (partition >= r->partitions)
        return -DYN_EBADARG;
    uint32_t want = r->n < r->member_count ? r->n : r->member_count;
    if (max < want)
        want = max;
    uint32_t got = preflist_walk(r, partition, out, 0, want, true);
    got = preflist_walk(r, partition, out, got, want, false);
    return (int)got;
}

int
dyn_ring_preflist_extended(const struct dyn_ring *r, uint32_t partition,
                           uint32_t *out, uint32_t max)
{
    int got = dyn_ring_preflist(r, partition, out, max);
    if (got < 0)
        return got;
    return (int)preflist_walk(r, partition, out, (uint32_t)got, max, false);
}

/* Placement check. */

struct report {
    char *buf;   /* NULL: nothing is written */
    size_t len;  /* bytes of buf */
    size_t used; /* bytes written, NUL excluded */
};

/* Append to the report while it has room (vsnprintf truncates the rest). */
__attribute__((format(printf, 2, 3))) static void
say(struct report *rp, const char *fmt, ...)
{
    if (rp->buf == NULL || rp->used + 1 >= rp->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int wrote = vsnprintf(rp->buf + rp->used, rp->len - rp->used, fmt, ap);
    va_end(ap);
    if (wrote > 0)
        rp->used += (size_t)wrote;
}

/* True when members a and b share a zone (one without a zone is its own). */
static bool
same_zone(const struct dyn_ring_member *a, const struct dyn_ring_member *b)
{
    return a->id == b->id ||
           (a->zone[0] != '\0' && strcmp(a->zone, b->zone) == 0);
}

/* Distinct nodes (by id), or zones, among the members list[0..count). */
static uint32_t
distinct(const struct dyn_ring *r, const uint32_t *list, uint32_t count,
         bool by_zone)
{
    uint32_t found = 0;
    for (uint32_t i = 0; i < count; i++) {
        const struct dyn_ring_member *a = &r->members[list[i]];
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++) {
            const struct dyn_ring_member *b = &r->members[list[j]];
            seen = by_zone ? same_zone(a, b) : a->id == b->id;
        }
        found += !seen;
    }
    return found;
}

/* Zones among all members, as distinct() counts them; 0 when none is set. */
static uint32_t
zones_present(const struct dyn_ring *r)
{
    uint32_t zones = 0;
    bool any = false;
    for (uint32_t m = 0; m < r->member_count; m++) {
        bool seen = false;
        for (uint32_t k = 0; k < m && !seen; k++)
            seen = same_zone(&r->members[m], &r->members[k]);
        zones += !seen;
        any = any || r->members[m].zone[0] != '\0';
    }
    return any ? zones : 0;
}

/* One line: what partition p's list has, could have, and who is in it. */
static void
say_violation(struct report *rp, const struct dyn_ring *r, uint32_t p,
              const uint32_t *list, uint32_t count, uint32_t nodes,
              uint32_t want_nodes, uint32_t zones, uint32_t want_zones)
{
    say(rp, "partition %u:", p);
    if (nodes < want_nodes)
        say(rp, " %u distinct node%s, %u possible", nodes,
            nodes == 1 ? "" : "s", want_nodes);
    if (zones < want_zones)
        say(rp, "%s %u distinct zone%s, %u possible",
            nodes < want_nodes ? ";" : "", zones, zones == 1 ? "" : "s",
            want_zones);
    for (uint32_t i = 0; i < count; i++) {
        const struct dyn_ring_member *m = &r->members[list[i]];
        say(rp, "%s %s (%016" PRIx64, i == 0 ? ":" : ",", m->name, m->id);
        if (want_zones > 0)
            say(rp, ", zone %s", m->zone[0] != '\0' ? m->zone : "-");
        say(rp, ")");
    }
    say(rp, "\n");
}

int
dyn_ring_check(const struct dyn_ring *r, char *report, size_t report_len)
{
    struct report rp = {report, report_len, 0};
    /* No list can be longer than N, or hold more owners than Q. */
    uint32_t most = r->n < r->partitions ? r->n : r->partitions;
    uint32_t s = r->member_count, zones = zones_present(r);
    uint32_t want_nodes = most < s ? most : s;
    uint32_t want_zones = most < zones ? most : zones;
    int bad = 0;

    if (report != NULL && report_len > 0)
        report[0] = '\0';
    for (uint32_t p = 0; p < r->partitions; p++) {
        uint32_t list[DYN_RING_MAX_N];
        int got = dyn_ring_preflist(r, p, list, DYN_RING_MAX_N);
        uint32_t count = got > 0 ? (uint32_t)got : 0;
        uint32_t nodes = distinct(r, list, count, false);
        uint32_t in_zones = want_zones > 0 ? distinct(r, list, count, true) : 0;
        if (nodes >= want_nodes && in_zones >= want_zones)
            continue;
        if (++bad <= CHECK_REPORT_LINES)
            say_violation(&rp, r, p, list, count, nodes, want_nodes, in_zones,
                          want_zones);
    }
    if (bad > CHECK_REPORT_LINES)
        say(&rp, "... %d violations in all\n", bad);
    return bad;
}

uint32_t
dyn_ring_owned(const struct dyn_ring *r, uint32_t member)
{
    uint32_t count = 0;
    for (uint32_t p = 0; p < r->partitions; p++)
        count += r->owner[p] == member;
    return count;
}

int
dyn_ring_moves(const struct dyn_ring *a, const struct dyn_ring *b)
{
    if (a->partitions != b->partitions)
        return -DYN_EBADARG;
    int moved = 0;
    for (uint32_t p = 0; p < a->partitions; p++)
        moved += a->members[a->owner[p]].id != b->members[b->owner[p]].id;
    return moved;
}

/* Serialization. */

static size_t
string_size(const char *s)
{
    return 1 + strlen(s);
}

size_t
dyn_ring_encoded_size(const struct dyn_ring *r)
{
    size_t size = HEADER_BYTES + 2 * (size_t)r->partitions;
    for (uint32_t m = 0; m < r->member_count; m++) {
        const struct dyn_ring_member *mb = &r->members[m];
        size += 8 + string_size(mb->name) + string_size(mb->address) +
                string_size(mb->zone);
    }
    return size;
}

static uint8_t *
put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *
put_string(uint8_t *p, const char *s)
{
    size_t len = strlen(s);
    *p++ = (uint8_t)len;
    memcpy(p, s, len);
    return p + len;
}

int
dyn_ring_encode(const struct dyn_ring *r, uint8_t *buf, size_t len)
{
    size_t size = dyn_ring_encoded_size(r);
    if (len < size)
        return -DYN_EBADARG;
    uint8_t *p = buf;
    *p++ = DYN_RING_FORMAT;
    p = put_le(p, r->epoch, 8);
    p = put_le(p, r->partitions, 4);
    p = put_le(p, r->n, 4);
    p = put_le(p, r->member_count, 4);
    for (uint32_t m = 0; m < r->member_count; m++) {
        p = put_le(p, r->members[m].id, 8);
        p = put_string(p, r->members[m].name);
        p = put_string(p, r->members[m].address);
        p = put_string(p, r->members[m].zone);
    }
    for (uint32_t i = 0; i < r->partitions; i++)
        p = put_le(p, r->owner[i], 2);
    return (int)size;
}

struct reader {
    const uint8_t *p;   /* next byte */
    const uint8_t *end; /* one past the last byte */
};

static int
get_le(struct reader *rd, unsigned bytes, uint64_t *v)
{
    if ((size_t)(rd->end - rd->p) < bytes)
        return -DYN_EFORMAT;
    *v = 0;
    for (unsigned i = 0; i < bytes; i++)
        *v |= (uint64_t)rd->p[i] << (8 * i);
    rd->p += bytes;
    return 0;
}

/* A string of at most size - 1 bytes, no NUL, into dst (NUL-terminated). */
static int
get_string(struct reader *rd, char *dst, size_t size)
{
    uint64_t len;
    int rc = get_le(rd, 1, &len);
    if (rc < 0)
        return rc;
    if (len >= size || (size_t)(rd->end - rd->p) < len ||
        memchr(rd->p, '\0', len) != NULL)
        return -DYN_EFORMAT;
    memcpy(dst, rd->p, len);
    dst[len] = '\0';
    rd->p += len;
    return 0;
}

static int
decode_members(struct reader *rd, struct dyn_ring *r)
{
    for (uint32_t m = 0; m < r->member_count; m++) {
        struct dyn_ring_member *mb = &r->members[m];
        int rc;
        if ((rc = get_le(rd, 8, &mb->id)) < 0 ||
            (rc = get_string(rd, mb->name, sizeof(mb->name))) < 0 ||
            (rc = get_string(rd, mb->address, sizeof(mb->address))) < 0 ||
            (rc = get_string(rd, mb->zone, sizeof(mb->zone))) < 0)
            return rc;
        if (m > 0 && mb->id <= r->members[m - 1].id)
            return -DYN_EFORMAT;
    }
    return 0;
}

int
dyn_ring_decode(const uint8_t *buf, size_t len, struct dyn_ring **out)
{
    struct reader rd = {buf, buf + len};
    uint64_t format, epoch, q, n, s, v = 0;
    int rc;

    *out = NULL;
    if ((rc = get_le(&rd, 1, &format)) < 0 ||
        (rc = get_le(&rd, 8, &epoch)) < 0 || (rc = get_le(&rd, 4, &q)) < 0 ||
        (rc = get_le(&rd, 4, &n)) < 0 || (rc = get_le(&rd, 4, &s)) < 0)
        return rc;
    /* Every count against its limit and the bytes left, before calloc. */
    size_t left = (size_t)(rd.end - rd.p);
    if (format != DYN_RING_FORMAT || !dyn_ring_partitions_valid((uint32_t)q) ||
        n < 1 || n > DYN_RING_MAX_N || s < 1 || s > DYN_RING_MAX_MEMBERS ||
        left < 2 * q + MEMBER_MIN_BYTES * s)
        return -DYN_EFORMAT;

    struct dyn_ring *r;
    if ((rc = dyn__ring_alloc(&r, epoch, (uint32_t)q, (uint32_t)n,
                              (uint32_t)s)) < 0)
        return rc;
    if ((rc = decode_members(&rd, r)) < 0)
        goto out;
    rc = -DYN_EFORMAT;
    if ((size_t)(rd.end - rd.p) != 2 * q)
        goto out; /* truncated owners or trailing bytes */
    for (uint32_t p = 0; p < q; p++) {
        if (get_le(&rd, 2, &v) < 0 || v >= s)
            goto out;
        r->owner[p] = (uint32_t)v;
    }
    *out = r;
    return 0;
out:
    dyn_ring_free(r);
    return rc;
}
