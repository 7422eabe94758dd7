/*
 * claim.c - the claim algorithm: who owns each partition after a join or
 * a leave (claim.h).
 *
 * Claim.  Let w = min(N, S, Q) be the window that claim keeps distinct (a
 * window wider than S or Q cannot be).  Three stages, each deterministic
 * (ties break by partition and member index):
 *
 * 1. Greedy.  A join: the new member takes floor(Q/S') partitions, each
 *    from a currently most loaded owner, at the position farthest from
 *    its other partitions (so they spread evenly; at least w apart when
 *    possible, which keeps every distinct window distinct).  Taking from
 *    the most loaded keeps every count within one.  A leave: the
 *    leaver's partitions, most constrained first, go to the least loaded
 *    member below ceil(Q/S') that is absent from the surrounding windows.
 * 2. Repair, when windows can hold (dyn_claim_windows_possible) but some
 *    repeat: give a partition to a member below the ceiling, swap two
 *    partitions, or re-solve a short segment around the repeat by search
 *    (same owners, re-ordered); each step strictly lowers the repeats.
 * 3. Fallback, when the result still breaks a rule (typically: the old
 *    ring had repeats because S was below N): fresh layouts - depth-first
 *    searches (old owner first, or largest quota first), round robin with
 *    the Q mod S extras placed inside the last block, and a round robin
 *    that skips K labels evenly - each also relabelled to match the old
 *    owners under a few rotations.  The best wins: balance, then fewest
 *    violations, then fewest moves (moves before windows when windows
 *    cannot all hold).
 *
 * Cost: the join greedy is O(Q * Q/S) per join (seconds at Q = 65536 with
 * few members, instant at the default 256); the searches are bounded by
 * CLAIM_SEARCH_STEPS and CLAIM_SEGMENT_STEPS.
 */
#include "claim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define NONE UINT32_MAX            /* no member / no position */
#define CLAIM_ROTATIONS 64         /* rotations of each layout tried */
#define CLAIM_ROTATIONS_MAX_Q 4096 /* above this Q, no rotations */
#define CLAIM_SEARCH_STEPS 65536   /* backtracking steps per layout search */
#define CLAIM_SEGMENT_MAX 129      /* widest segment a repair re-solves */
#define CLAIM_SEGMENT_STEPS 20000  /* search steps per segment */

static uint32_t
claim_window(uint32_t q, uint32_t n, uint32_t s)
{
    uint32_t w = n < s ? n : s;
    return w < q ? w : q;
}

/* True when no partition within w - 1 of p (p excluded) is owned by m. */
static bool
window_free(const uint32_t *owner, uint32_t q, uint32_t w, uint32_t p,
            uint32_t m)
{
    for (uint32_t d = 1; d < w; d++)
        if (owner[(p + d) % q] == m || owner[(p + q - d) % q] == m)
            return false;
    return true;
}

/* Breaks of balance and windows in owner[] (a layout for r's members). */
static int
check_rules(const struct dyn_ring *r, const uint32_t *owner,
            struct dyn_claim_rules *out)
{
    uint32_t q = r->partitions, s = r->member_count, n = r->n;
    uint32_t *count = calloc(s, sizeof(*count));

    if (count == NULL)
        return -ENOMEM;
    memset(out, 0, sizeof(*out));
    out->quota_min = q / s;
    out->quota_max = (q + s - 1) / s;
    out->owned_min = q;
    out->windows_possible = dyn_claim_windows_possible(q, n, s);
    for (uint32_t p = 0; p < q; p++)
        count[owner[p]]++;
    for (uint32_t m = 0; m < s; m++) {
        if (count[m] < out->owned_min)
            out->owned_min = count[m];
        if (count[m] > out->owned_max)
            out->owned_max = count[m];
        out->unbalanced +=
            count[m] < out->quota_min || count[m] > out->quota_max;
    }
    if (s >= n && q >= n) {
        out->window = n;
        for (uint32_t p = 0; p < q; p++) {
            bool rep = false;
            for (uint32_t i = 0; i < n && !rep; i++)
                for (uint32_t j = i + 1; j < n && !rep; j++)
                    rep = owner[(p + i) % q] == owner[(p + j) % q];
            out->window_repeats += rep;
        }
    }
    free(count);
    return (int)(out->unbalanced + out->window_repeats);
}

int
dyn_claim_check_rules(const struct dyn_ring *r, struct dyn_claim_rules *out)
{
    return check_rules(r, r->owner, out);
}

bool
dyn_claim_windows_possible(uint32_t q, uint32_t n, uint32_t s)
{
    if (s < n || q < n)
        return true; /* the rule does not apply */
    if (s == n)
        return q % s == 0;
    /* A member owning ceil(Q/S) >= 2 needs that many gaps of N. */
    uint32_t hi = (q + s - 1) / s;
    return hi < 2 || (uint64_t)hi * n <= q;
}

/* Partitions of `owner` (indexes of r) that differ from old[] (NONE: new). */
static uint32_t
count_moves(const uint32_t *owner, const uint32_t *old, uint32_t q)
{
    uint32_t moved = 0;
    for (uint32_t p = 0; p < q; p++)
        moved += owner[p] != old[p];
    return moved;
}

/*
 * Fresh layout into owner[] for r's members, given quota[m] partitions
 * each (summing to Q).  prefer_old: take old[p] whenever it qualifies;
 * otherwise the largest remaining quota first.  Uses first[], last[],
 * rem[] as scratch of r->member_count entries.
 */
static void
layout_fresh(const struct dyn_ring *r, const uint32_t *old,
             const uint32_t *quota, bool prefer_old, uint32_t *owner,
             uint32_t *first, uint32_t *last, uint32_t *rem)
{
    uint32_t q = r->partitions, s = r->member_count;
    uint32_t w = claim_window(q, r->n, s);

    for (uint32_t m = 0; m < s; m++) {
        first[m] = last[m] = NONE;
        rem[m] = quota[m];
    }
    for (uint32_t p = 0; p < q; p++) {
        uint32_t best = NONE, any = NONE;
        for (uint32_t m = 0; m < s; m++) {
            if (rem[m] == 0)
                continue;
            if (any == NONE || rem[m] > rem[any])
                any = m;
            /* Absent from the w - 1 before p, and after the wrap. */
            if (last[m] != NONE && p - last[m] < w)
                continue;
            if (first[m] != NONE && first[m] + q - p < w)
                continue;
            if (prefer_old && old[p] == m) {
                best = m;
                break;
            }
            if (best == NONE || rem[m] > rem[best] ||
                (rem[m] == rem[best] && m == old[p]))
                best = m;
        }
        if (best == NONE)
            best = any; /* no member qualifies: keep balance */
        owner[p] = best;
        rem[best]--;
        if (first[best] == NONE)
            first[best] = p;
        last[best] = p;
    }
}

/* Order of candidates at p: the old owner first (prefer_old), the most
 * quota left, the old owner, the lowest index. */
static uint64_t
search_key(uint32_t m, uint32_t rem, uint32_t old, bool prefer_old)
{
    return (uint64_t)(prefer_old && m == old) << 62 | (uint64_t)rem << 24 |
           (uint64_t)(m == old) << 23 | (DYN_RING_MAX_MEMBERS - m);
}

static int
cmp_u64_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x < y) - (x > y);
}

struct search {
    uint32_t *rank;      /* [q]: candidate tried at each partition */
    uint32_t *prev_last; /* [q]: last[] of the chosen member before p */
    uint32_t *first;     /* [s]: first partition given to each member */
    uint32_t *last;      /* [s]: latest partition given to each member */
    uint32_t *rem;       /* [s]: quota left */
    uint64_t *keys;      /* [s]: candidates, sorted when backtracking */
};

/* The rank-th candidate for p, or NONE. */
static uint32_t
search_pick(const struct dyn_ring *r, const uint32_t *old, bool prefer_old,
            struct search *st, uint32_t p, uint32_t w)
{
    uint32_t q = r->partitions, n_c = 0, rank = st->rank[p];
    for (uint32_t m = 0; m < r->member_count; m++) {
        if (st->rem[m] == 0 || (st->last[m] != NONE && p - st->last[m] < w) ||
            (st->first[m] != NONE && st->first[m] + q - p < w))
            continue;
        uint64_t key = search_key(m, st->rem[m], old[p], prefer_old);
        if (rank == 0) {
            if (n_c == 0 || key > st->keys[0])
                st->keys[0] = key;
            n_c = 1;
        } else {
            st->keys[n_c++] = key;
        }
    }
    if (rank >= n_c)
        return NONE;
    if (rank > 0)
        qsort(st->keys, n_c, sizeof(*st->keys), cmp_u64_desc);
    return DYN_RING_MAX_MEMBERS - (uint32_t)(st->keys[rank] & 0x7fffff);
}

/*
 * Depth-first search for a balanced layout (quota[m] each) with every w
 * consecutive partitions distinct, candidates in search_key order, within
 * q + CLAIM_SEARCH_STEPS steps.  True when owner[] holds one.
 */
static bool
layout_search(const struct dyn_ring *r, const uint32_t *old,
              const uint32_t *quota, bool prefer_old, uint32_t *owner,
              struct search *st)
{
    uint32_t q = r->partitions, w = claim_window(q, r->n, r->member_count);
    uint64_t steps = 0;

    for (uint32_t m = 0; m < r->member_count; m++) {
        st->first[m] = st->last[m] = NONE;
        st->rem[m] = quota[m];
    }
    st->rank[0] = 0;
    for (uint32_t p = 0; p < q;) {
        if (++steps > (uint64_t)q + CLAIM_SEARCH_STEPS)
            return false;
        uint32_t m = search_pick(r, old, prefer_old, st, p, w);
        if (m == NONE) {
            if (p == 0)
                return false;
            p--; /* undo p and try its next candidate */
            m = owner[p];
            st->rem[m]++;
            st->last[m] = st->prev_last[p];
            if (st->first[m] == p)
                st->first[m] = NONE;
            st->rank[p]++;
            continue;
        }
        owner[p] = m;
        st->rem[m]--;
        st->prev_last[p] = st->last[m];
        st->last[m] = p;
        if (st->first[m] == NONE)
            st->first[m] = p;
        if (++p < q)
            st->rank[p] = 0;
    }
    return true;
}

/*
 * A layout by construction, as labels 0..S-1 (not yet members): round
 * robin when S divides Q or the last partial block is at least w long;
 * otherwise the r = Q mod S extra labels 0..r-1 go inside the last block,
 * after label r + w - 2, which keeps them w away from their other
 * occurrences on both sides when S >= 2w - 1.  False when neither applies.
 */
static bool
layout_labels(uint32_t q, uint32_t s, uint32_t w, uint32_t *label)
{
    uint32_t r = q % s, k = r + w - 1, at = 0;

    if (s >= q || r == 0 || r >= w) {
        for (uint32_t p = 0; p < q; p++)
            label[p] = p % s;
        return true;
    }
    if (s < 2 * w - 1)
        return false;
    for (uint32_t b = 0; b + 1 < q / s; b++)
        for (uint32_t j = 0; j < s; j++)
            label[at++] = j;
    for (uint32_t j = 0; j < k; j++)
        label[at++] = j;
    for (uint32_t i = 0; i < r; i++)
        label[at++] = i;
    for (uint32_t j = k; j < s; j++)
        label[at++] = j;
    return true;
}

/*
 * Another built layout, for S > w: walk the labels 0..S-1 round and
 * round over T = S * ceil(Q/S) steps, skipping K = T - Q of them, spread
 * evenly and each a different label (so the counts balance).  A window
 * of w then spans at most w + 1 <= S steps of the walk while skips are w
 * apart, so its labels are distinct.  False when the skips cannot be
 * placed; the result is checked by the caller anyway.
 */
static bool
layout_skips(uint32_t q, uint32_t s, uint32_t w, uint32_t *label,
             uint8_t *skipped)
{
    uint32_t c = (q + s - 1) / s, t = c * s, k = t - q, at = 0, next = 0;

    if (s <= w || k == 0)
        return false;
    memset(skipped, 0, s);
    for (uint32_t i = 0, j = 0; j < t; j++) {
        /* The i-th skip is due at i * t / k; take the first free label. */
        if (i < k && j >= (uint64_t)i * t / k && !skipped[j % s] &&
            (i == 0 || j - next >= w + 1)) {
            skipped[j % s] = 1;
            next = j;
            i++;
            continue;
        }
        if (at == q)
            return false;
        label[at++] = j % s;
    }
    return at == q;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int
cmp_triple(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b; /* {count, label, member} */
    if (x[0] != y[0])
        return x[0] < y[0] ? 1 : -1;
    if (x[1] != y[1])
        return x[1] < y[1] ? -1 : 1;
    return (x[2] > y[2]) - (x[2] < y[2]);
}

/*
 * owner[p] = the member given label[(p + t) % q], labels matched to
 * members greedily by how many partitions they would keep.  Scratch:
 * code[q], triple[3q], map[s], used[s].
 */
static void
layout_map(const struct dyn_ring *r, const uint32_t *old, const uint32_t *label,
           uint32_t t, uint32_t *owner, uint32_t *code, uint32_t *triple,
           uint32_t *map, uint32_t *used)
{
    uint32_t q = r->partitions, s = r->member_count, codes = 0, triples = 0;

    for (uint32_t p = 0; p < q; p++)
        if (old[p] != NONE)
            code[codes++] = label[(p + t) % q] * s + old[p];
    qsort(code, codes, sizeof(*code), cmp_u32);
    for (uint32_t i = 0; i < codes; i++) {
        if (i > 0 && code[i] == code[i - 1]) {
            triple[3 * (triples - 1)]++;
            continue;
        }
        triple[3 * triples] = 1;
        triple[3 * triples + 1] = code[i] / s;
        triple[3 * triples + 2] = code[i] % s;
        triples++;
    }
    qsort(triple, triples, 3 * sizeof(*triple), cmp_triple);
    for (uint32_t m = 0; m < s; m++)
        map[m] = used[m] = NONE;
    for (uint32_t i = 0; i < triples; i++) {
        uint32_t l = triple[3 * i + 1], m = triple[3 * i + 2];
        if (map[l] == NONE && used[m] == NONE) {
            map[l] = m;
            used[m] = l;
        }
    }
    for (uint32_t l = 0, m = 0; l < s; l++) {
        if (map[l] != NONE)
            continue;
        while (used[m] != NONE)
            m++;
        map[l] = m;
        used[m] = l;
    }
    for (uint32_t p = 0; p < q; p++)
        owner[p] = map[label[(p + t) % q]];
}

struct candidate {
    int bad;          /* rules broken by the best layout so far */
    uint32_t balance; /* of which members out of balance */
    uint32_t moves;   /* its partitions moved */
};

/*
 * Keep cand in r->owner when it beats best: balance first, then fewer
 * violations, then fewer moves; when the window rule cannot hold, moves
 * before windows.  Returns 0 or -ENOMEM.
 */
static int
consider(struct dyn_ring *r, const uint32_t *old, const uint32_t *cand,
         struct candidate *best)
{
    struct candidate c;
    struct dyn_claim_rules rules;
    c.bad = check_rules(r, cand, &rules);
    if (c.bad < 0)
        return c.bad;
    c.balance = rules.unbalanced;
    c.moves = count_moves(cand, old, r->partitions);
    bool wins;
    if (dyn_claim_windows_possible(r->partitions, r->n, r->member_count))
        wins = c.balance < best->balance ||
               (c.balance == best->balance &&
                (c.bad < best->bad ||
                 (c.bad == best->bad && c.moves < best->moves)));
    else
        wins = c.balance < best->balance ||
               (c.balance == best->balance &&
                (c.moves < best->moves ||
                 (c.moves == best->moves && c.bad < best->bad)));
    if (wins) {
        *best = c;
        memcpy(r->owner, cand, r->partitions * sizeof(*cand));
    }
    return 0;
}

/* The ceil(Q/S) quotas go to the members that held the most. */
static void
fresh_quotas(uint32_t q, uint32_t s, const uint32_t *old, uint32_t *quota,
             uint32_t *had)
{
    for (uint32_t m = 0; m < s; m++)
        quota[m] = q / s;
    for (uint32_t p = 0; p < q; p++)
        if (old[p] != NONE)
            had[old[p]]++;
    for (uint32_t extra = q % s; extra > 0; extra--) {
        uint32_t top = NONE;
        for (uint32_t m = 0; m < s; m++)
            if (quota[m] == q / s && (top == NONE || had[m] > had[top]))
                top = m;
        quota[top]++;
    }
}

/*
 * Replace r->owner with the best fresh layout when it breaks the rules:
 * the two greedy variants, and the constructed layout under a number of
 * rotations, each matched to the old owners.  old[p]: the previous owner
 * of p as an index of r (NONE if it left).
 */
static int
claim_fallback(struct dyn_ring *r, const uint32_t *old)
{
    uint32_t q = r->partitions, s = r->member_count;
    uint32_t w = claim_window(q, r->n, s);
    struct candidate best;
    struct dyn_claim_rules rules;
    best.bad = check_rules(r, r->owner, &rules);
    if (best.bad <= 0)
        return best.bad;
    best.balance = rules.unbalanced;
    best.moves = count_moves(r->owner, old, q);

    /* cand, label, code, rank, prev_last: q; triple: 3q; quota, first,
     * last, rem, had: s. */
    uint32_t *scratch = calloc(8 * (size_t)q + 5 * (size_t)s, sizeof(uint32_t));
    uint64_t *keys = calloc(s, sizeof(*keys));
    if (scratch == NULL || keys == NULL) {
        free(scratch);
        free(keys);
        return -ENOMEM;
    }
    uint32_t *cand = scratch, *label = cand + q, *code = label + q;
    uint32_t *triple = code + q, *quota = triple + 3 * (size_t)q;
    struct search st = {quota + s,    st.rank + q, st.prev_last + q,
                        st.first + s, st.last + s, keys};
    uint32_t *had = st.rem + s;
    uint32_t turns = q > CLAIM_ROTATIONS_MAX_Q ? 1
                     : q < CLAIM_ROTATIONS     ? q
                                               : CLAIM_ROTATIONS;
    int rc = 0;

    fresh_quotas(q, s, old, quota, had);
    /* Layouts: two searches (or greedy when a search gives up), and the
     * constructed one; each as is and relabelled to match the old owners
     * under rotations. */
    for (int variant = 0; variant < 4 && rc == 0; variant++) {
        if (variant < 2) {
            if (!layout_search(r, old, quota, variant == 0, label, &st))
                layout_fresh(r, old, quota, variant == 0, label, st.first,
                             st.last, st.rem);
        } else if (variant == 2 && !layout_labels(q, s, w, label)) {
            continue;
        } else if (variant == 3 &&
                   !layout_skips(q, s, w, label, (uint8_t *)st.rem)) {
            continue;
        }
        rc = consider(r, old, label, &best);
        for (uint32_t t = 0; t < turns && rc == 0; t++) {
            layout_map(r, old, label, t, cand, code, triple, st.first, st.last);
            rc = consider(r, old, cand, &best);
        }
    }
    free(scratch);
    free(keys);
    return rc;
}

/* Partitions within w - 1 of pos with the same owner as pos. */
static uint32_t
local_bad(const uint32_t *owner, uint32_t q, uint32_t w, uint32_t pos)
{
    uint32_t bad = 0;
    for (uint32_t d = 1; d < w; d++)
        bad += (owner[(pos + d) % q] == owner[pos]) +
               (owner[(pos + q - d) % q] == owner[pos]);
    return bad;
}

/* Swap o[p] and o[x] if that lowers the repeats touching p and x. */
static bool
repair_swap(uint32_t *o, uint32_t q, uint32_t w, uint32_t p, uint32_t x)
{
    uint32_t t = o[p];
    if (o[x] == t)
        return false;
    uint32_t before = local_bad(o, q, w, p) + local_bad(o, q, w, x);
    o[p] = o[x];
    o[x] = t;
    if (local_bad(o, q, w, p) + local_bad(o, q, w, x) < before)
        return true;
    o[x] = o[p];
    o[p] = t;
    return false;
}

/* Give p to another member if balance allows and its repeats fall. */
static bool
repair_give(uint32_t *o, uint32_t q, uint32_t w, uint32_t p, uint32_t *count,
            uint32_t s)
{
    uint32_t a = o[p], before = local_bad(o, q, w, p);
    if (count[a] <= q / s)
        return false;
    for (uint32_t b = 0; b < s; b++) {
        if (b == a || count[b] >= (q + s - 1) / s)
            continue;
        o[p] = b;
        if (local_bad(o, q, w, p) < before) {
            count[a]--;
            count[b]++;
            return true;
        }
    }
    o[p] = a;
    return false;
}

struct segment {
    uint32_t start;  /* first partition of the segment */
    uint32_t len;    /* partitions in it */
    uint32_t *owner; /* [CLAIM_SEGMENT_MAX]: the new owners */
    uint32_t *rank;  /* [CLAIM_SEGMENT_MAX]: candidate tried */
    uint32_t *cnt;   /* [s]: owners of the segment not yet placed */
};

/* Owner at offset i of the segment (outside it: the ring's owner). */
static uint32_t
segment_at(const struct segment *g, const uint32_t *o, uint32_t q, int64_t i)
{
    if (i >= 0 && i < (int64_t)g->len)
        return g->owner[i];
    return o[(uint32_t)(((int64_t)g->start + i + q) % q)];
}

/* The rank-th member that fits offset i: old owner, current, by index. */
static uint32_t
segment_pick(const struct segment *g, const uint32_t *o, const uint32_t *old,
             uint32_t q, uint32_t w, uint32_t s, uint32_t i)
{
    uint32_t pos = (g->start + i) % q, seen = 0;
    for (uint32_t k = 0; k < s + 2; k++) {
        uint32_t m = k == 0 ? old[pos] : k == 1 ? o[pos] : k - 2;
        if (m == NONE || g->cnt[m] == 0 || (k == 1 && m == old[pos]) ||
            (k >= 2 && (m == old[pos] || m == o[pos])))
            continue;
        bool fits = true;
        for (uint32_t d = 1; d < w && fits; d++) {
            fits = segment_at(g, o, q, (int64_t)i - d) != m;
            if (fits && i + d >= g->len)
                fits = segment_at(g, o, q, (int64_t)i + d) != m;
        }
        if (fits && seen++ == g->rank[i])
            return m;
    }
    return NONE;
}

/*
 * Re-place the owners of the segment (the same multiset, so counts hold)
 * with no repeat inside it or across its fixed ends, by depth-first
 * search within CLAIM_SEGMENT_STEPS.  True when o[] was rewritten.
 */
static bool
segment_solve(struct segment *g, uint32_t *o, const uint32_t *old, uint32_t q,
              uint32_t w, uint32_t s)
{
    uint32_t steps = 0;
    for (uint32_t m = 0; m < s; m++)
        g->cnt[m] = 0;
    for (uint32_t i = 0; i < g->len; i++)
        g->cnt[o[(g->start + i) % q]]++;
    g->rank[0] = 0;
    for (uint32_t i = 0; i < g->len;) {
        if (++steps > CLAIM_SEGMENT_STEPS)
            return false;
        uint32_t m = segment_pick(g, o, old, q, w, s, i);
        if (m == NONE) {
            if (i == 0)
                return false;
            i--;
            g->cnt[g->owner[i]]++;
            g->rank[i]++;
            continue;
        }
        g->owner[i] = m;
        g->cnt[m]--;
        if (++i < g->len)
            g->rank[i] = 0;
    }
    for (uint32_t i = 0; i < g->len; i++)
        o[(g->start + i) % q] = g->owner[i];
    return true;
}

/* Re-solve ever wider segments around p until one works. */
static bool
repair_segment(struct segment *g, uint32_t *o, const uint32_t *old, uint32_t q,
               uint32_t w, uint32_t s, uint32_t p)
{
    for (uint32_t radius = w;
         2 * radius + 1 <= CLAIM_SEGMENT_MAX && 2 * radius + 1 + 2 * w <= q;
         radius *= 2) {
        g->start = (p + q - radius) % q;
        g->len = 2 * radius + 1;
        if (segment_solve(g, o, old, q, w, s))
            return true;
    }
    return false;
}

/*
 * Repair repeated windows left by a greedy step: give a partition in a
 * repeat to a member below the ceiling, or swap it with another
 * partition, when that lowers the repeated pairs (no other pair changes),
 * so the total strictly falls and the loop ends.  Partitions that moved
 * already are tried first, to move few more.  Last, re-solve a segment
 * around the repeat (its repeats go to zero while the rest stay).
 * Returns 0 or -ENOMEM.
 */
static int
claim_repair(struct dyn_ring *r, const uint32_t *old, uint32_t *count)
{
    uint32_t q = r->partitions, s = r->member_count, *o = r->owner;
    uint32_t w = claim_window(q, r->n, s);
    bool better = true;

    if (s < r->n || q < r->n || !dyn_claim_windows_possible(q, r->n, s))
        return 0; /* windows are not required, or cannot all hold */
    uint32_t *buf = calloc(2 * (size_t)CLAIM_SEGMENT_MAX + s, sizeof(*buf));
    if (buf == NULL)
        return -ENOMEM;
    struct segment g = {0, 0, buf, buf + CLAIM_SEGMENT_MAX,
                        buf + 2 * CLAIM_SEGMENT_MAX};
    while (better) {
        better = false;
        for (uint32_t p = 0; p < q; p++) {
            if (local_bad(o, q, w, p) == 0)
                continue;
            if (repair_give(o, q, w, p, count, s)) {
                better = true;
                continue;
            }
            for (int pass = 0; pass < 2; pass++) {
                for (uint32_t i = 1; i < q && local_bad(o, q, w, p) > 0; i++) {
                    uint32_t x = (p + i) % q;
                    if ((o[x] != old[x]) == (pass == 0) &&
                        repair_swap(o, q, w, p, x))
                        better = true;
                }
            }
            if (local_bad(o, q, w, p) > 0 &&
                repair_segment(&g, o, old, q, w, s, p))
                better = true;
        }
    }
    free(buf);
    return 0;
}

/* Greedy join: new member k takes floor(Q/S) from the most loaded. */
static void
join_greedy(struct dyn_ring *r, uint32_t k, uint32_t *count, uint32_t *dist)
{
    uint32_t q = r->partitions, s = r->member_count;

    for (uint32_t p = 0; p < q; p++)
        dist[p] = q;
    for (uint32_t taken = 0; taken < q / s; taken++) {
        uint32_t top = 0;
        for (uint32_t m = 0; m < s; m++)
            if (m != k && count[m] > top)
                top = count[m];
        /* The farthest from k's others; closer than w only when no
         * position is that far (repair or fallback then see the repeat). */
        uint32_t pick = NONE;
        for (uint32_t p = 0; p < q; p++) {
            uint32_t o = r->owner[p];
            if (o == k || count[o] != top)
                continue;
            if (pick == NONE || dist[p] > dist[pick])
                pick = p;
        }
        if (pick == NONE)
            return; /* the fallback will see the imbalance */
        count[r->owner[pick]]--;
        count[k]++;
        r->owner[pick] = k;
        for (uint32_t p = 0; p < q; p++) {
            uint32_t d = p > pick ? p - pick : pick - p;
            if (q - d < d)
                d = q - d;
            if (d < dist[p])
                dist[p] = d;
        }
    }
}

/*
 * The stages after the greedy one, shared by join and leave: repair,
 * then a fresh layout if rules still fail.  Frees `old` (which also holds
 * `count`); on success *out = r, on error r is freed.
 */
static int
claim_finish(struct dyn_ring *r, uint32_t *old, uint32_t *count,
             struct dyn_ring **out)
{
    int rc = claim_repair(r, old, count);
    if (rc == 0)
        rc = claim_fallback(r, old);
    free(old);
    if (rc < 0) {
        dyn_ring_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int
dyn_claim_join(const struct dyn_ring *in, const struct dyn_ring_member *m,
               struct dyn_ring **out)
{
    *out = NULL;
    if (!dyn__ring_member_valid(m) || in->member_count >= DYN_RING_MAX_MEMBERS)
        return -DYN_EBADARG;
    uint32_t k = dyn__ring_find_member(in, m->id);
    if (k < in->member_count && in->members[k].id == m->id)
        return -EEXIST;

    uint32_t q = in->partitions, s = in->member_count + 1;
    struct dyn_ring *r;
    int rc = dyn__ring_alloc(&r, in->epoch + 1, q, in->n, s);
    if (rc < 0)
        return rc;
    uint32_t *old = calloc((size_t)q * 2 + s, sizeof(uint32_t));
    if (old == NULL) {
        dyn_ring_free(r);
        return -ENOMEM;
    }
    uint32_t *dist = old + q, *count = dist + q;

    memcpy(r->members, in->members, k * sizeof(*r->members));
    r->members[k] = *m;
    memcpy(r->members + k + 1, in->members + k,
           (in->member_count - k) * sizeof(*r->members));
    for (uint32_t p = 0; p < q; p++) {
        uint32_t o = in->owner[p];
        old[p] = r->owner[p] = o >= k ? o + 1 : o;
        count[old[p]]++;
    }
    join_greedy(r, k, count, dist);
    return claim_finish(r, old, count, out);
}

/*
 * Greedy leave: the orphans (NONE) go, most constrained first, to the
 * least loaded member absent from the surrounding windows that is below
 * ceil(Q/S), while at most Q mod S members reach the ceiling.
 */
static void
leave_greedy(struct dyn_ring *r, uint32_t *count)
{
    uint32_t q = r->partitions, s = r->member_count;
    uint32_t w = claim_window(q, r->n, s);
    uint32_t hi = (q + s - 1) / s, full = 0, full_max = q % s ? q % s : s;

    for (uint32_t m = 0; m < s; m++)
        full += count[m] >= hi;
    for (;;) {
        uint32_t pick = NONE, pick_to = NONE, pick_choices = NONE;
        for (uint32_t p = 0; p < q; p++) {
            if (r->owner[p] != NONE)
                continue;
            uint32_t to = NONE, choices = 0;
            for (uint32_t m = 0; m < s; m++) {
                if (count[m] >= hi || (count[m] + 1 == hi && full >= full_max))
                    continue;
                if (!window_free(r->owner, q, w, p, m))
                    continue;
                choices++;
                if (to == NONE || count[m] < count[to])
                    to = m;
            }
            if (pick == NONE || choices < pick_choices) {
                pick = p;
                pick_to = to;
                pick_choices = choices;
            }
        }
        if (pick == NONE)
            return;
        if (pick_to == NONE) {
            /* Nobody fits: the least loaded; the fallback will see it. */
            pick_to = 0;
            for (uint32_t m = 1; m < s; m++)
                if (count[m] < count[pick_to])
                    pick_to = m;
        }
        r->owner[pick] = pick_to;
        count[pick_to]++;
        full += count[pick_to] == hi;
    }
}

int
dyn_claim_leave(const struct dyn_ring *in, uint64_t id, struct dyn_ring **out)
{
    *out = NULL;
    uint32_t k = dyn__ring_find_member(in, id);
    if (k >= in->member_count || in->members[k].id != id)
        return -DYN_ENOTFOUND;
    if (in->member_count == 1)
        return -DYN_EBADARG;

    uint32_t q = in->partitions, s = in->member_count - 1;
    struct dyn_ring *r;
    int rc = dyn__ring_alloc(&r, in->epoch + 1, q, in->n, s);
    if (rc < 0)
        return rc;
    uint32_t *old = calloc((size_t)q + s, sizeof(uint32_t));
    if (old == NULL) {
        dyn_ring_free(r);
        return -ENOMEM;
    }
    uint32_t *count = old + q;

    memcpy(r->members, in->members, k * sizeof(*r->members));
    memcpy(r->members + k, in->members + k + 1, (s - k) * sizeof(*r->members));
    for (uint32_t p = 0; p < q; p++) {
        uint32_t o = in->owner[p];
        old[p] = r->owner[p] = o == k ? NONE : o > k ? o - 1 : o;
        if (old[p] != NONE)
            count[old[p]]++;
    }
    leave_greedy(r, count);
    return claim_finish(r, old, count, out);
}
