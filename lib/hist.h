/*
 * hist.h - a log-linear latency histogram (the HdrHistogram idea, small):
 * values are bucketed by their power of two, and each power of two is cut
 * into DYN_HIST_SUB linear sub-buckets, so any value is kept within
 * 1/DYN_HIST_SUB (about 3 %) of itself, in constant memory, with O(1)
 * recording and no sorting of samples.
 *
 * Values are unsigned integers in the caller's unit (dyn bench records
 * microseconds).  lib/ code: no I/O; not thread-safe (one per thread,
 * then dyn_hist_merge).
 */
#ifndef DYN_HIST_H
#define DYN_HIST_H

#include <stdint.h>

#define DYN_HIST_SUB_BITS 5
#define DYN_HIST_SUB (1u << DYN_HIST_SUB_BITS) /* sub-buckets per octave */
#define DYN_HIST_OCTAVES 40                    /* values up to 2^40 */
#define DYN_HIST_BUCKETS (DYN_HIST_OCTAVES * DYN_HIST_SUB)

struct dyn_hist {
    uint64_t count;                    /* values recorded */
    uint64_t max;                      /* largest value recorded */
    uint64_t sum;                      /* for the mean */
    uint64_t bucket[DYN_HIST_BUCKETS]; /* counts */
};

/* Empty the histogram. */
void dyn_hist_init(struct dyn_hist *h);

/* Record one value (values past the last bucket count in the last). */
void dyn_hist_record(struct dyn_hist *h, uint64_t value);

/* Add every count of `src` to `dst`. */
void dyn_hist_merge(struct dyn_hist *dst, const struct dyn_hist *src);

/*
 * The value at quantile q (0 < q <= 1): the upper edge of the bucket
 * holding the ceil(q * count)-th smallest value, never above max.  0 for
 * an empty histogram.
 */
uint64_t dyn_hist_quantile(const struct dyn_hist *h, double q);

#endif
