/*
 * detector.h - the phi-accrual failure detector (Hayashibara et al.,
 * "The phi accrual failure detector", 2004; Dynamo section 4.8: failure
 * detection is local, each node's own view, and never changes the ring).
 *
 * For each peer the detector keeps the intervals between the answers it
 * heard (pings and gossip, every second) in a window, and turns the time
 * since the last answer into phi: -log10 of the probability that an
 * answer still comes that late, under a normal distribution of the
 * window's mean and deviation.  phi 1 is a 10 % chance of a mistake, 8
 * (Cassandra's default threshold, DETECTOR_SUSPECT_PHI) one in 10^8.
 * Unlike a fixed timeout it adapts to the peer's own rhythm: a loaded
 * peer that answers irregularly is given longer before it is suspected.
 *
 * The deviation is never taken below DETECTOR_MIN_STDDEV_MS, so a peer
 * that answered like clockwork is not suspected at the first late
 * answer.  Until DETECTOR_MIN_SAMPLES intervals are known, the intervals
 * are assumed to be DETECTOR_FIRST_ESTIMATE_MS (the ping period) with a
 * quarter of that as deviation (Akka's first-heartbeat estimate), so a
 * peer that stops right after it was first heard is suspected too; and
 * the silence of one never heard counts from the first ping sent to it
 * (detector_expect).
 *
 * No I/O, no clock: the caller passes `now`.  Loop thread; unit-tested
 * in t/detector_test.c.
 */
#ifndef DYNAMOD_DETECTOR_H
#define DYNAMOD_DETECTOR_H

#include <stdbool.h>
#include <stdint.h>

#define DETECTOR_WINDOW 100          /* intervals kept per peer */
#define DETECTOR_MIN_SAMPLES 3       /* before this, the first estimate */
#define DETECTOR_FIRST_ESTIMATE_MS 1000.0 /* assumed interval until then */
#define DETECTOR_MIN_STDDEV_MS 200.0 /* floor of the deviation */
#define DETECTOR_SUSPECT_PHI 8.0     /* at or above: suspected */
#define DETECTOR_MAX_PHI 1e6         /* what "never" reads as */

struct detector {
    uint64_t last_ms;                      /* last answer heard; 0: none */
    uint32_t interval_ms[DETECTOR_WINDOW]; /* ring of the latest */
    uint32_t count;                        /* intervals in it (<= WINDOW) */
    uint32_t next;                         /* where the next one goes */
    double sum_ms, sum_sq_ms;              /* of the intervals in the window */
    bool expected; /* last_ms is the first ping's, not an answer's */
};

void detector_init(struct detector *d);

/* An answer from the peer arrived at now_ms (monotonic, not before the
 * last one). */
void detector_heard(struct detector *d, uint64_t now_ms);

/*
 * The first ping went to a peer never heard: its silence counts from
 * now_ms, as if it had answered then (no interval is recorded), so a
 * peer that never answers at all is suspected too.  A no-op once heard.
 */
void detector_expect(struct detector *d, uint64_t now_ms);

/* The peer was heard, or pinged, at least once: phi means something. */
static inline bool
detector_known(const struct detector *d)
{
    return d->last_ms != 0;
}

/* phi at now_ms: 0 before the peer is heard, up to DETECTOR_MAX_PHI. */
double detector_phi(const struct detector *d, uint64_t now_ms);

/* phi at now_ms is DETECTOR_SUSPECT_PHI or more. */
bool detector_suspects(const struct detector *d, uint64_t now_ms);

#endif
