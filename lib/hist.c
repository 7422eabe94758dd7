/*
 * hist.c - log-linear histogram (hist.h).
 *
 * Bucket of value v: below DYN_HIST_SUB, v itself (exact); otherwise the
 * octave o = floor(log2 v) - DYN_HIST_SUB_BITS + 1 and, within it, the top
 * DYN_HIST_SUB_BITS bits after the leading one.
 */
#include "hist.h"

#include <string.h>

void
dyn_hist_init(struct dyn_hist *h)
{
    memset(h, 0, sizeof(*h));
}

static uint32_t
bucket_of(uint64_t v)
{
    if (v < DYN_HIST_SUB)
        return (uint32_t)v;
    unsigned log2 = 63u - (unsigned)__builtin_clzll(v);
    unsigned octave = log2 - DYN_HIST_SUB_BITS + 1;
    uint32_t sub =
        (uint32_t)(v >> (log2 - DYN_HIST_SUB_BITS)) & (DYN_HIST_SUB - 1);
    uint64_t b = (uint64_t)octave * DYN_HIST_SUB + sub;
    return b < DYN_HIST_BUCKETS ? (uint32_t)b : DYN_HIST_BUCKETS - 1;
}

/* The largest value that falls in bucket b. */
static uint64_t
bucket_top(uint32_t b)
{
    if (b < DYN_HIST_SUB)
        return b;
    unsigned octave = b / DYN_HIST_SUB;
    uint64_t sub = b % DYN_HIST_SUB;
    unsigned shift = octave - 1;
    return ((DYN_HIST_SUB + sub + 1) << shift) - 1;
}

void
dyn_hist_record(struct dyn_hist *h, uint64_t value)
{
    h->bucket[bucket_of(value)]++;
    h->count++;
    h->sum += value;
    if (value > h->max)
        h->max = value;
}

void
dyn_hist_merge(struct dyn_hist *dst, const struct dyn_hist *src)
{
    for (uint32_t b = 0; b < DYN_HIST_BUCKETS; b++)
        dst->bucket[b] += src->bucket[b];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t
dyn_hist_quantile(const struct dyn_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count || rank == 0)
        rank++;
    uint64_t seen = 0;
    for (uint32_t b = 0; b < DYN_HIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen >= rank) {
            uint64_t top = bucket_top(b);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}
