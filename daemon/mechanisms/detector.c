/*
 * detector.c - phi accrual over answer intervals (detector.h).
 */
#include "detector.h"

#include <math.h>
#include <string.h>

void
detector_init(struct detector *d)
{
    memset(d, 0, sizeof(*d));
}

void
detector_heard(struct detector *d, uint64_t now_ms)
{
    /* The first answer after detector_expect starts the history: the
     * time since the first ping is not an interval between answers. */
    if (d->expected) {
        d->expected = false;
        d->last_ms = 0;
    }
    if (d->last_ms != 0 && now_ms >= d->last_ms) {
        uint64_t gap = now_ms - d->last_ms;
        uint32_t interval = gap > UINT32_MAX ? UINT32_MAX : (uint32_t)gap;
        if (d->count == DETECTOR_WINDOW) {
            double old = d->interval_ms[d->next];
            d->sum_ms -= old;
            d->sum_sq_ms -= old * old;
        } else {
            d->count++;
        }
        d->interval_ms[d->next] = interval;
        d->next = (d->next + 1) % DETECTOR_WINDOW;
        d->sum_ms += interval;
        d->sum_sq_ms += (double)interval * interval;
    }
    if (now_ms >= d->last_ms)
        d->last_ms = now_ms;
}

void
detector_expect(struct detector *d, uint64_t now_ms)
{
    if (d->last_ms == 0) {
        d->last_ms = now_ms;
        d->expected = true;
    }
}

double
detector_phi(const struct detector *d, uint64_t now_ms)
{
    if (d->last_ms == 0 || now_ms <= d->last_ms)
        return 0.0;
    double mean = DETECTOR_FIRST_ESTIMATE_MS;
    double sd = DETECTOR_FIRST_ESTIMATE_MS / 4;
    if (d->count >= DETECTOR_MIN_SAMPLES) {
        mean = d->sum_ms / d->count;
        double var = d->sum_sq_ms / d->count - mean * mean;
        sd = var > 0 ? sqrt(var) : 0.0;
    }
    if (sd < DETECTOR_MIN_STDDEV_MS)
        sd = DETECTOR_MIN_STDDEV_MS;
    double y = ((double)(now_ms - d->last_ms) - mean) / sd;
    /* 1 - the normal CDF at y, by the logistic approximation of the CDF
     * (within 0.01 % of it), is 1 / (1 + e^x); phi, its -log10, is
     * log10(1 + e^x), computed so that it neither overflows far in the
     * tail nor loses precision near 0. */
    double x = y * (1.5976 + 0.070566 * y * y);
    double phi = x > 30.0 ? x / log(10.0) : log1p(exp(x)) / log(10.0);
    if (phi < 0)
        phi = 0;
    return phi > DETECTOR_MAX_PHI ? DETECTOR_MAX_PHI : phi;
}

bool
detector_suspects(const struct detector *d, uint64_t now_ms)
{
    return detector_phi(d, now_ms) >= DETECTOR_SUSPECT_PHI;
}
