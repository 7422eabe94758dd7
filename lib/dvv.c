/*
 * dvv.c - sibling sets versioned by dotted version vectors (dvv.h).
 *
 * Paper: Dynamo section 4.4, with vector clocks replaced by DVVs (Almeida,
 * Baquero et al.; Riak 2.0's DVVSet).  Called from any thread on objects
 * that thread owns; no clock reads, no I/O, no globals.
 *
 * Design:
 * - vv entries are sorted by node and siblings by dot, so join, sync and
 *   equality are linear merges and equal objects encode to equal bytes.
 * - put and sync build their result in fresh arrays and install it only
 *   once nothing can fail any more, so an error leaves inputs unchanged.
 * - decode is strict and canonical: anything our encoder would not write
 *   (non-minimal varints, unsorted or duplicate entries, a tombstone with a
 *   value, trailing bytes) is -DYN_EFORMAT, so
 *   a successful decode re-encodes to the same bytes.  Every count is
 *   checked against the bytes present and the hard limits before it sizes
 *   an allocation.
 * - Codes from helpers are tested with `!= 0`, never `< 0`, so no check
 *   depends on the sign convention of err.h's values.
 *
 * Caveats: prune is quadratic in the vv length (it may not allocate, so it
 * cannot sort); vectors are meant to stay near max_vv_entries.  A token
 * made from a vv over DYN_DVV_MAX_ENTRIES_LIMIT does not decode.
 */
#include "dvv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"
#include "text.h"
#include "varint.h"

#define DVV_FORMAT_V1 1        /* first byte of an object encoding */
#define DVV_FLAG_DELETED 0x01u /* sibling flags: a tombstone */
#define DVV_FLAGS_KNOWN 0x01u  /* every flag bit this version knows */
#define VV_ENTRY_MIN_BYTES 3   /* node, counter, ts: a byte each at least */
#define SIBLING_MIN_BYTES 5    /* node, counter, ts, flags, value_len */
#define TOKEN_VERSION 'c'      /* first char of every context token */
#define PUT_VV_STACK_ENTRIES 4 /* put_vv's extra entries before it mallocs */
#define B64_BITS 6             /* bits per base64 character */
/* Largest vv encoding a token may carry, and so its longest body. */
#define TOKEN_MAX_VV_BYTES                                                     \
    (DYN_VARINT_MAX_BYTES * (1 + 3 * (size_t)DYN_DVV_MAX_ENTRIES_LIMIT))
#define TOKEN_MAX_BODY_CHARS                                                   \
    ((TOKEN_MAX_VV_BYTES * 8 + B64_BITS - 1) / B64_BITS)

/* The context of a put made without one. */
static const struct dyn_vv empty_vv = {0, NULL};

void
dyn_vv_init(struct dyn_vv *vv)
{
    vv->len = 0;
    vv->entry = NULL;
}

void
dyn_vv_free(struct dyn_vv *vv)
{
    if (vv == NULL)
        return;
    dyn_free(vv->entry);
    dyn_vv_init(vv);
}

int
dyn_vv_copy(struct dyn_vv *dst, const struct dyn_vv *src)
{
    dyn_vv_init(dst);
    if (src->len == 0)
        return 0;
    dst->entry = dyn_alloc_array(src->len, sizeof *dst->entry);
    if (dst->entry == NULL)
        return -ENOMEM;
    memcpy(dst->entry, src->entry, src->len * sizeof *dst->entry);
    dst->len = src->len;
    return 0;
}

uint64_t
dyn_vv_get(const struct dyn_vv *vv, uint64_t node)
{
    uint32_t lo = 0, hi = vv->len;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (vv->entry[mid].node == node)
            return vv->entry[mid].counter;
        if (vv->entry[mid].node < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

bool
dyn_vv_covers(const struct dyn_vv *vv, struct dyn_dot dot)
{
    return dot.counter <= dyn_vv_get(vv, dot.node);
}

/*
 * The later of two entries for one node: larger counter, then later ts.
 * A lexicographic max keeps join commutative and associative.
 */
static struct dyn_vv_entry
entry_max(struct dyn_vv_entry a, struct dyn_vv_entry b)
{
    if (a.counter != b.counter)
        return a.counter > b.counter ? a : b;
    return a.ts_ms >= b.ts_ms ? a : b;
}

/* `e` with its counter lowered to at most `base` + `lead`. */
static struct dyn_vv_entry
entry_bounded(struct dyn_vv_entry e, uint64_t base, uint64_t lead)
{
    if (e.counter > base && e.counter - base > lead)
        e.counter = base + lead; /* < e.counter, so no overflow */
    return e;
}

/* An empty `out` with room for `cap` entries (none when 0): 0,
 * -EOVERFLOW or -ENOMEM. */
static int
vv_alloc(struct dyn_vv *out, size_t cap)
{
    dyn_vv_init(out);
    if (cap == 0)
        return 0;
    if (cap > UINT32_MAX)
        return -EOVERFLOW;
    out->entry = dyn_alloc_array(cap, sizeof *out->entry);
    return out->entry == NULL ? -ENOMEM : 0;
}

/*
 * The highest dot of `node` among obj's siblings from *k on, or 0; *k
 * moves past the siblings of nodes up to `node` (siblings are sorted by
 * dot, so by node: ask for nodes in increasing order).
 */
static uint64_t
sibling_top(const struct dyn_object *obj, uint32_t *k, uint64_t node)
{
    uint64_t top = 0;

    for (; *k < obj->sibling_count && obj->siblings[*k].dot.node <= node;
         (*k)++)
        if (obj->siblings[*k].dot.node == node)
            top = obj->siblings[*k].dot.counter;
    return top;
}

/*
 * Pointwise max of a and b into a fresh `out`, where an entry of b counts
 * for at most `lead` (> 0) more than what is known of its node (UINT64_MAX:
 * no bound): a's entry, raised to the node's top dot among the siblings
 * of `sibs` when it is not NULL, or 0.  0 or -ENOMEM.
 */
static int
vv_merge_bounded(struct dyn_vv *out, const struct dyn_vv *a,
                 const struct dyn_vv *b, uint64_t lead,
                 const struct dyn_object *sibs)
{
    uint32_t i = 0, j = 0, k = 0, n = 0;
    int rc = vv_alloc(out, (size_t)a->len + b->len);

    if (rc != 0)
        return rc;
    while (i < a->len || j < b->len) {
        if (j == b->len ||
            (i < a->len && a->entry[i].node < b->entry[j].node)) {
            out->entry[n++] = a->entry[i++];
            continue;
        }
        struct dyn_vv_entry e = b->entry[j++];
        bool both = i < a->len && a->entry[i].node == e.node;
        uint64_t base = both ? a->entry[i].counter : 0;
        if (sibs != NULL) {
            uint64_t top = sibling_top(sibs, &k, e.node);
            base = top > base ? top : base;
        }
        e = entry_bounded(e, base, lead);
        out->entry[n++] = both ? entry_max(a->entry[i++], e) : e;
    }
    out->len = n;
    return 0;
}

/* Pointwise max of a and b into a fresh `out`.  0 or -ENOMEM. */
static int
vv_merge(struct dyn_vv *out, const struct dyn_vv *a, const struct dyn_vv *b)
{
    return vv_merge_bounded(out, a, b, UINT64_MAX, NULL);
}

int
dyn_vv_join(struct dyn_vv *dst, const struct dyn_vv *src)
{
    struct dyn_vv joined;
    int rc = vv_merge(&joined, dst, src);

    if (rc != 0)
        return rc;
    dyn_vv_free(dst);
    *dst = joined;
    return 0;
}

static int
dot_cmp(struct dyn_dot a, struct dyn_dot b)
{
    if (a.node != b.node)
        return a.node < b.node ? -1 : 1;
    if (a.counter != b.counter)
        return a.counter < b.counter ? -1 : 1;
    return 0;
}

/* Total order on sibling contents (not the dot), for equal and sync. */
static int
sibling_content_cmp(const struct dyn_sibling *a, const struct dyn_sibling *b)
{
    if (a->ts_ms != b->ts_ms)
        return a->ts_ms < b->ts_ms ? -1 : 1;
    if (a->deleted != b->deleted)
        return a->deleted ? 1 : -1;
    if (a->value_len != b->value_len)
        return a->value_len < b->value_len ? -1 : 1;
    if (a->value_len == 0)
        return 0;
    return memcmp(a->value, b->value, a->value_len);
}

static int
sibling_copy(struct dyn_sibling *dst, const struct dyn_sibling *src)
{
    *dst = *src;
    dst->value = NULL;
    dst->borrowed = false;
    if (src->value_len == 0)
        return 0;
    dst->value = malloc(src->value_len);
    if (dst->value == NULL)
        return -ENOMEM;
    memcpy(dst->value, src->value, src->value_len);
    return 0;
}

void
dyn_object_init(struct dyn_object *obj)
{
    dyn_vv_init(&obj->vv);
    obj->sibling_count = 0;
    obj->siblings = NULL;
}

void
dyn_object_free(struct dyn_object *obj)
{
    if (obj == NULL)
        return;
    dyn_vv_free(&obj->vv);
    for (uint32_t i = 0; i < obj->sibling_count; i++)
        if (!obj->siblings[i].borrowed)
            free(obj->siblings[i].value);
    dyn_free(obj->siblings);
    dyn_object_init(obj);
}

int
dyn_object_own(struct dyn_object *obj)
{
    for (uint32_t i = 0; i < obj->sibling_count; i++) {
        struct dyn_sibling *s = &obj->siblings[i];
        struct dyn_sibling copy;
        if (!s->borrowed)
            continue;
        if (sibling_copy(&copy, s) != 0)
            return -ENOMEM;
        *s = copy;
    }
    return 0;
}

int
dyn_object_owned(struct dyn_object *obj, int rc)
{
    if (rc == 0 && dyn_object_own(obj) != 0) {
        dyn_object_free(obj);
        rc = -ENOMEM;
    }
    return rc;
}

int
dyn_object_copy(struct dyn_object *dst, const struct dyn_object *src)
{
    int rc;

    dyn_object_init(dst);
    rc = dyn_vv_copy(&dst->vv, &src->vv);
    if (rc != 0)
        return rc;
    if (src->sibling_count == 0)
        return 0;
    dst->siblings = calloc(src->sibling_count, sizeof *dst->siblings);
    if (dst->siblings == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    /* sibling_count grows with each copy so a failure frees only those. */
    for (uint32_t i = 0; i < src->sibling_count; i++) {
        rc = sibling_copy(&dst->siblings[i], &src->siblings[i]);
        if (rc != 0)
            goto fail;
        dst->sibling_count++;
    }
    return 0;
fail:
    dyn_object_free(dst);
    return rc;
}

bool
dyn_object_is_empty(const struct dyn_object *obj)
{
    return obj->sibling_count == 0 && obj->vv.len == 0;
}

uint32_t
dyn_object_live_count(const struct dyn_object *obj)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < obj->sibling_count; i++)
        n += !obj->siblings[i].deleted;
    return n;
}

/*
 * The sibling array of a put: the siblings `ctx` does not cover, plus
 * `fresh` in dot order.  Values are borrowed; the caller moves ownership
 * only once nothing else can fail.  NULL on -ENOMEM.
 */
/*
 * True when a put with `ctx` supersedes sibling `s`: ctx covers its dot,
 * or the put has no context and `s` is a tombstone.  A write made without
 * reading (or after reading "not found") has nothing to lose by replacing
 * a delete, and keeping the tombstone as a sibling would make every
 * "delete, then write again" read back as a conflict.  Concurrent deletes
 * and writes thus resolve add-wins; values are never dropped this way.
 */
static bool
put_supersedes(const struct dyn_vv *ctx, const struct dyn_sibling *s)
{
    return dyn_vv_covers(ctx, s->dot) || (ctx->len == 0 && s->deleted);
}

static struct dyn_sibling *
put_siblings(const struct dyn_object *obj, const struct dyn_vv *ctx,
             const struct dyn_sibling *fresh, uint32_t count)
{
    struct dyn_sibling *sib = dyn_alloc_array(count, sizeof *sib);
    uint32_t n = 0;
    bool placed = false;

    if (sib == NULL)
        return NULL;
    for (uint32_t i = 0; i < obj->sibling_count; i++) {
        const struct dyn_sibling *s = &obj->siblings[i];
        if (put_supersedes(ctx, s))
            continue;
        /* fresh never ties: its counter beats every dot of its node. */
        if (!placed && dot_cmp(fresh->dot, s->dot) < 0) {
            sib[n++] = *fresh;
            placed = true;
        }
        sib[n++] = *s;
    }
    if (!placed)
        sib[n++] = *fresh;
    return sib;
}

/*
 * The entries a put adds to the vv besides ctx's (put_vv), into `extra`
 * (room for obj->sibling_count + 1 entries), in node order, where `own`
 * is max(vv[dot.node], ctx[dot.node]) (put_counter).  The new dot,
 * when it follows on what is known of its node: one that does not (it is
 * above the floor, with writes of its node in between that obj may not
 * know) stays a dot of its sibling only, since joining it would claim
 * those writes too.  And with no context the tombstones the put drops
 * (put_supersedes): their writes must stay known, or a replica that still
 * holds one would bring it back.
 */
static void
put_vv_extra(struct dyn_vv *extra, const struct dyn_object *obj,
             const struct dyn_vv *ctx, struct dyn_dot dot, uint64_t own,
             uint64_t now_ms)
{
    bool placed = false;

    for (uint32_t i = 0; ctx->len == 0 && i < obj->sibling_count; i++) {
        const struct dyn_sibling *s = &obj->siblings[i];
        if (!s->deleted)
            continue;
        if (s->dot.node == dot.node) {
            own = s->dot.counter > own ? s->dot.counter : own;
            continue;
        }
        /* Past the coordinator's node: its tombstones are all seen. */
        if (!placed && s->dot.node > dot.node) {
            placed = true;
            if (dot.counter == own + 1)
                own = dot.counter;
            if (own > 0)
                extra->entry[extra->len++] =
                    (struct dyn_vv_entry){dot.node, own, now_ms};
        }
        struct dyn_vv_entry *last =
            extra->len > 0 ? &extra->entry[extra->len - 1] : NULL;
        if (last != NULL && last->node == s->dot.node)
            *last = (struct dyn_vv_entry){s->dot.node, s->dot.counter,
                                          s->ts_ms}; /* dots ascend */
        else
            extra->entry[extra->len++] =
                (struct dyn_vv_entry){s->dot.node, s->dot.counter, s->ts_ms};
    }
    if (placed)
        return;
    if (dot.counter == own + 1)
        own = dot.counter;
    if (own > 0)
        extra->entry[extra->len++] =
            (struct dyn_vv_entry){dot.node, own, now_ms};
}

/*
 * vv after a put: the old vv joined with ctx, each entry at most
 * DYN_DVV_MAX_CONTEXT_LEAD ahead of what obj knows of its node (dvv.h)
 * but the coordinator's own, which put_counter has checked; and
 * put_vv_extra()'s entries (`own` as there).
 */
static int
put_vv(struct dyn_vv *out, const struct dyn_object *obj,
       const struct dyn_vv *ctx, struct dyn_dot dot, uint64_t own,
       uint64_t now_ms)
{
    struct dyn_vv_entry stack[PUT_VV_STACK_ENTRIES];
    struct dyn_vv extra = {0, stack};
    size_t cap = ctx->len == 0 ? (size_t)obj->sibling_count + 1 : 1;
    struct dyn_vv known;
    int rc;

    if (cap > PUT_VV_STACK_ENTRIES &&
        (extra.entry = dyn_alloc_array(cap, sizeof *extra.entry)) == NULL)
        return -ENOMEM;
    put_vv_extra(&extra, obj, ctx, dot, own, now_ms);
    rc = vv_merge_bounded(&known, &obj->vv, ctx, DYN_DVV_MAX_CONTEXT_LEAD, obj);
    if (rc == 0) {
        rc = vv_merge(out, &known, &extra);
        dyn_vv_free(&known);
    }
    if (extra.entry != stack)
        dyn_free(extra.entry);
    return rc;
}

/* Refuse what dyn_object_put documents as -DYN_EBADARG. */
static bool
put_args_ok(uint64_t node, const uint8_t *value, uint32_t value_len,
            bool deleted, const struct dyn_dvv_limits *limits)
{
    if (node == 0 || limits == NULL)
        return false;
    if (deleted && value_len > 0)
        return false;
    return value != NULL || value_len == 0;
}

/*
 * The counter of the dot a put at `node` makes (dvv.h, "put(ctx) at
 * coordinator A"): 0 with *counter set, and *own to max(vv[node],
 * ctx[node]) for put_vv; -DYN_ECONTEXTAHEAD or -DYN_ECOUNTER.
 */
static int
put_counter(const struct dyn_object *obj, const struct dyn_vv *ctx,
            uint64_t node, uint64_t floor, uint64_t *counter, uint64_t *own)
{
    uint32_t k = 0;
    uint64_t known = dyn_vv_get(&obj->vv, node);
    uint64_t top = sibling_top(obj, &k, node);
    uint64_t claimed = ctx->len == 0 ? 0 : dyn_vv_get(ctx, node);

    *own = claimed > known ? claimed : known;
    if (top > known)
        known = top; /* a dot above the vv (dvv.h) */

    if (floor == 0) {
        /* No floor: ctx[node] counts too, since the client may have read
         * a replica ahead of this one, but only so far ahead, or one
         * forged context could use the counter up. */
        if (claimed > known && claimed - known > DYN_DVV_MAX_CONTEXT_LEAD)
            return -DYN_ECONTEXTAHEAD;
    } else {
        /* The object claims dots of node above the floor (a lost floor,
         * a forged replica's object): the new dot goes above them, but
         * only so far above, or one object could push the node-wide
         * floor to the end and lock every key. */
        if (known > floor && known - floor > DYN_DVV_MAX_CONTEXT_LEAD)
            return -DYN_ECOUNTER;
        /* A claim of a write node never made, which the object does not
         * make either: believing it is all a forged context needs. */
        if (claimed > floor && claimed > known)
            return -DYN_ECONTEXTAHEAD;
        if (floor > known)
            known = floor;
    }
    if (claimed > known)
        known = claimed;
    if (known == UINT64_MAX)
        return -DYN_ECOUNTER;
    *counter = known + 1;
    return 0;
}

static int
object_put(struct dyn_object *obj, const struct dyn_vv *ctx, uint64_t node,
           uint64_t floor, uint64_t now_ms, const uint8_t *value,
           uint32_t value_len, bool deleted,
           const struct dyn_dvv_limits *limits, struct dyn_dot *dot_out,
           bool borrow)
{
    struct dyn_sibling fresh = {{node, 0}, now_ms, deleted,
                                value_len, NULL,   borrow};
    struct dyn_sibling *sib = NULL;
    struct dyn_vv vv;
    uint64_t kept = 0, own;
    uint32_t count;
    int rc;

    if (!put_args_ok(node, value, value_len, deleted, limits))
        return -DYN_EBADARG;
    if (ctx == NULL)
        ctx = &empty_vv;
    rc = put_counter(obj, ctx, node, floor, &fresh.dot.counter, &own);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < obj->sibling_count; i++)
        kept += !put_supersedes(ctx, &obj->siblings[i]);
    if (kept + 1 > limits->max_siblings)
        return -DYN_ESIBLINGS;
    count = (uint32_t)(kept + 1); /* fits: max_siblings is a uint32_t */

    if (borrow) {
        fresh.value = (uint8_t *)value;
    } else if (value_len > 0) {
        fresh.value = malloc(value_len);
        if (fresh.value == NULL)
            return -ENOMEM;
        memcpy(fresh.value, value, value_len);
    }
    rc = put_vv(&vv, obj, ctx, fresh.dot, own, now_ms);
    if (rc == 0 && (sib = put_siblings(obj, ctx, &fresh, count)) == NULL) {
        dyn_vv_free(&vv);
        rc = -ENOMEM;
    }
    if (rc != 0) {
        if (!borrow)
            free(fresh.value);
        return rc;
    }

    /* Commit.  ctx may alias obj->vv, so use it before freeing obj->vv. */
    for (uint32_t i = 0; i < obj->sibling_count; i++)
        if (put_supersedes(ctx, &obj->siblings[i]) &&
            !obj->siblings[i].borrowed)
            free(obj->siblings[i].value);
    dyn_free(obj->siblings);
    dyn_vv_free(&obj->vv);
    obj->vv = vv;
    obj->siblings = sib;
    obj->sibling_count = count;
    dyn_object_prune(obj, node, limits->max_vv_entries);
    if (dot_out != NULL)
        *dot_out = fresh.dot;
    return 0;
}

int
dyn_object_put(struct dyn_object *obj, const struct dyn_vv *ctx, uint64_t node,
               uint64_t floor, uint64_t now_ms, const uint8_t *value,
               uint32_t value_len, bool deleted,
               const struct dyn_dvv_limits *limits, struct dyn_dot *dot_out)
{
    return object_put(obj, ctx, node, floor, now_ms, value, value_len, deleted,
                      limits, dot_out, false);
}

int
dyn_object_put_borrowed(struct dyn_object *obj, const struct dyn_vv *ctx,
                        uint64_t node, uint64_t floor, uint64_t now_ms,
                        const uint8_t *value, uint32_t value_len, bool deleted,
                        const struct dyn_dvv_limits *limits,
                        struct dyn_dot *dot_out)
{
    return object_put(obj, ctx, node, floor, now_ms, value, value_len, deleted,
                      limits, dot_out, true);
}

/*
 * Of two siblings with one dot (the same write, so normally equal), the
 * one with the smaller content: a fixed choice keeps sync commutative even
 * if a reused node id ever made two different writes share a dot.
 */
static const struct dyn_sibling *
same_dot_pick(const struct dyn_sibling *a, const struct dyn_sibling *b)
{
    return sibling_content_cmp(a, b) <= 0 ? a : b;
}

/*
 * Merge the sibling lists of a and b into out->siblings (sized for both):
 * a sibling both hold survives, and one held by a single side survives
 * when the other side's vv does not cover its dot (it never saw it).
 */
static void
sync_siblings(struct dyn_object *out, const struct dyn_object *a,
              const struct dyn_object *b)
{
    uint32_t i = 0, j = 0;

    while (i < a->sibling_count || j < b->sibling_count) {
        const struct dyn_sibling *s;
        bool keep = true;
        int cmp = i == a->sibling_count ? 1
                  : j == b->sibling_count
                      ? -1
                      : dot_cmp(a->siblings[i].dot, b->siblings[j].dot);
        if (cmp < 0) {
            s = &a->siblings[i++];
            keep = !dyn_vv_covers(&b->vv, s->dot);
        } else if (cmp > 0) {
            s = &b->siblings[j++];
            keep = !dyn_vv_covers(&a->vv, s->dot);
        } else {
            s = same_dot_pick(&a->siblings[i++], &b->siblings[j++]);
        }
        if (!keep)
            continue;
        struct dyn_sibling *dst = &out->siblings[out->sibling_count++];
        *dst = *s;
        dst->borrowed = true;
    }
}

int
dyn_object_sync_borrowed(struct dyn_object *out, const struct dyn_object *a,
                         const struct dyn_object *b)
{
    size_t cap = (size_t)a->sibling_count + b->sibling_count;
    int rc;

    dyn_object_init(out);
    if (cap > UINT32_MAX)
        return -EOVERFLOW;
    rc = vv_merge(&out->vv, &a->vv, &b->vv);
    if (rc != 0)
        return rc;
    if (cap > 0) {
        out->siblings = calloc(cap, sizeof *out->siblings);
        if (out->siblings == NULL) {
            dyn_object_free(out);
            return -ENOMEM;
        }
    }
    sync_siblings(out, a, b);
    return 0;
}

int
dyn_object_sync(struct dyn_object *out, const struct dyn_object *a,
                const struct dyn_object *b)
{
    return dyn_object_owned(out, dyn_object_sync_borrowed(out, a, b));
}

/* Binary search of the (dot-sorted, so node-sorted) siblings for a node. */
static bool
names_sibling_node(const struct dyn_object *obj, uint64_t node)
{
    uint32_t lo = 0, hi = obj->sibling_count;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (obj->siblings[mid].dot.node == node)
            return true;
        if (obj->siblings[mid].dot.node < node)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/*
 * The prunable entry with the oldest ts (lowest node on a tie, so pruning
 * is deterministic).  False when every entry is protected.
 */
static bool
prune_victim(const struct dyn_object *obj, uint64_t local_node,
             uint32_t *victim)
{
    bool found = false;

    for (uint32_t i = 0; i < obj->vv.len; i++) {
        const struct dyn_vv_entry *e = &obj->vv.entry[i];
        if (e->node == local_node || names_sibling_node(obj, e->node))
            continue;
        if (!found || e->ts_ms < obj->vv.entry[*victim].ts_ms) {
            *victim = i;
            found = true;
        }
    }
    return found;
}

uint32_t
dyn_object_prune(struct dyn_object *obj, uint64_t local_node,
                 uint32_t max_entries)
{
    struct dyn_vv *vv = &obj->vv;
    uint32_t removed = 0, victim = 0; /* set by prune_victim() */

    while (vv->len > max_entries && prune_victim(obj, local_node, &victim)) {
        memmove(&vv->entry[victim], &vv->entry[victim + 1],
                (vv->len - victim - 1) * sizeof *vv->entry);
        vv->len--;
        removed++;
    }
    if (vv->len == 0)
        dyn_vv_free(vv); /* dvv.h promises entry == NULL when empty */
    return removed;
}

static bool
vv_equal(const struct dyn_vv *a, const struct dyn_vv *b)
{
    if (a->len != b->len)
        return false;
    for (uint32_t i = 0; i < a->len; i++) {
        const struct dyn_vv_entry *x = &a->entry[i], *y = &b->entry[i];
        if (x->node != y->node || x->counter != y->counter ||
            x->ts_ms != y->ts_ms)
            return false;
    }
    return true;
}

bool
dyn_object_equal(const struct dyn_object *a, const struct dyn_object *b)
{
    if (!vv_equal(&a->vv, &b->vv) || a->sibling_count != b->sibling_count)
        return false;
    for (uint32_t i = 0; i < a->sibling_count; i++) {
        const struct dyn_sibling *x = &a->siblings[i], *y = &b->siblings[i];
        if (dot_cmp(x->dot, y->dot) != 0 || sibling_content_cmp(x, y) != 0)
            return false;
    }
    return true;
}

/* ---- encoding ---- */

size_t
dyn_vv_encoded_size(const struct dyn_vv *vv)
{
    size_t n = dyn_varint_size(vv->len);

    for (uint32_t i = 0; i < vv->len; i++)
        n += dyn_varint_size(vv->entry[i].node) +
             dyn_varint_size(vv->entry[i].counter) +
             dyn_varint_size(vv->entry[i].ts_ms);
    return n;
}

static uint8_t *
vv_put(uint8_t *p, const struct dyn_vv *vv)
{
    p = dyn_varint_put(p, vv->len);
    for (uint32_t i = 0; i < vv->len; i++) {
        p = dyn_varint_put(p, vv->entry[i].node);
        p = dyn_varint_put(p, vv->entry[i].counter);
        p = dyn_varint_put(p, vv->entry[i].ts_ms);
    }
    return p;
}

size_t
dyn_vv_encode(const struct dyn_vv *vv, uint8_t *buf)
{
    return (size_t)(vv_put(buf, vv) - buf);
}

/*
 * The next entry of obj's context (dvv.h): the nodes of its vv and of its
 * siblings' dots in node order, each at the higher of its vv entry and
 * its top dot (with that sibling's ts when the dot is higher).  *i and *k
 * walk the vv and the siblings from 0; false at the end.
 */
static inline bool
context_next(const struct dyn_object *obj, uint32_t *i, uint32_t *k,
             struct dyn_vv_entry *e)
{
    const struct dyn_vv *vv = &obj->vv;
    bool in_vv = *i < vv->len, in_sibs = *k < obj->sibling_count;

    if (!in_vv && !in_sibs)
        return false;
    if (in_vv && (!in_sibs || vv->entry[*i].node <= obj->siblings[*k].dot.node))
        *e = vv->entry[(*i)++];
    else
        *e = (struct dyn_vv_entry){obj->siblings[*k].dot.node, 0, 0};
    for (; *k < obj->sibling_count && obj->siblings[*k].dot.node == e->node;
         (*k)++) {
        const struct dyn_sibling *s = &obj->siblings[*k];
        if (s->dot.counter > e->counter) {
            e->counter = s->dot.counter;
            e->ts_ms = s->ts_ms;
        }
    }
    return true;
}

size_t
dyn_object_context_encoded_size(const struct dyn_object *obj)
{
    struct dyn_vv_entry e;
    uint32_t i = 0, k = 0, n = 0;
    size_t bytes = 0;

    while (context_next(obj, &i, &k, &e)) {
        n++;
        bytes += dyn_varint_size(e.node) + dyn_varint_size(e.counter) +
                 dyn_varint_size(e.ts_ms);
    }
    return dyn_varint_size(n) + bytes;
}

size_t
dyn_object_context_encode(const struct dyn_object *obj, uint8_t *buf)
{
    struct dyn_vv_entry e;
    uint32_t i = 0, k = 0, n = 0;
    uint8_t *p = buf + 1; /* after the count, taken to be one byte */

    while (context_next(obj, &i, &k, &e)) {
        n++;
        p = dyn_varint_put(p, e.node);
        p = dyn_varint_put(p, e.counter);
        p = dyn_varint_put(p, e.ts_ms);
    }
    size_t count_bytes = dyn_varint_size(n), len = (size_t)(p - buf) - 1;
    if (count_bytes > 1) /* 128 entries or more: make room */
        memmove(buf + count_bytes, buf + 1, len);
    dyn_varint_put(buf, n);
    return count_bytes + len;
}

int
dyn_object_context(const struct dyn_object *obj, struct dyn_vv *out)
{
    struct dyn_vv_entry e;
    uint32_t i = 0, k = 0;
    int rc = vv_alloc(out, (size_t)obj->vv.len + obj->sibling_count);

    if (rc != 0)
        return rc;
    while (context_next(obj, &i, &k, &e))
        out->entry[out->len++] = e; /* each step takes an entry or more */
    return 0;
}

/* Bytes before the first sibling: format, vv, sibling count. */
static size_t
object_head_size(const struct dyn_object *obj)
{
    return 1 + dyn_vv_encoded_size(&obj->vv) +
           dyn_varint_size(obj->sibling_count);
}

/* Bytes of a sibling before its value: dot, ts_ms, flags, value_len. */
static size_t
sibling_head_size(const struct dyn_sibling *s)
{
    return dyn_varint_size(s->dot.node) + dyn_varint_size(s->dot.counter) +
           dyn_varint_size(s->ts_ms) + 1 + dyn_varint_size(s->value_len);
}

size_t
dyn_object_encoded_size(const struct dyn_object *obj)
{
    size_t n = object_head_size(obj);

    for (uint32_t i = 0; i < obj->sibling_count; i++)
        n += sibling_head_size(&obj->siblings[i]) + obj->siblings[i].value_len;
    return n;
}

size_t
dyn_object_encode(const struct dyn_object *obj, uint8_t *buf)
{
    uint8_t *p = buf;

    *p++ = DVV_FORMAT_V1;
    p = vv_put(p, &obj->vv);
    p = dyn_varint_put(p, obj->sibling_count);
    for (uint32_t i = 0; i < obj->sibling_count; i++) {
        const struct dyn_sibling *s = &obj->siblings[i];
        p = dyn_varint_put(p, s->dot.node);
        p = dyn_varint_put(p, s->dot.counter);
        p = dyn_varint_put(p, s->ts_ms);
        *p++ = s->deleted ? DVV_FLAG_DELETED : 0;
        p = dyn_varint_put(p, s->value_len);
        if (s->value_len > 0)
            memcpy(p, s->value, s->value_len);
        p += s->value_len;
    }
    return (size_t)(p - buf);
}

size_t
dyn_object_encode_rebind(struct dyn_object *obj, uint8_t *buf)
{
    size_t len = dyn_object_encode(obj, buf);
    uint8_t *p = buf + object_head_size(obj);

    for (uint32_t i = 0; i < obj->sibling_count; i++) {
        struct dyn_sibling *s = &obj->siblings[i];
        p += sibling_head_size(s);
        if (!s->borrowed)
            free(s->value);
        s->value = s->value_len > 0 ? p : NULL;
        s->borrowed = true;
        p += s->value_len;
    }
    return len;
}

void
dyn_object_rebase(struct dyn_object *obj, const uint8_t *from, size_t len,
                  const uint8_t *to)
{
    uintptr_t lo = (uintptr_t)from, hi = lo + len;
    for (uint32_t i = 0; i < obj->sibling_count; i++) {
        struct dyn_sibling *s = &obj->siblings[i];
        uintptr_t v = (uintptr_t)s->value;
        if (s->borrowed && s->value_len > 0 && v >= lo && v < hi)
            s->value = (uint8_t *)to + (v - lo);
    }
}

/* ---- decoding ---- */

struct reader {
    const uint8_t *p; /* next unread byte */
    size_t left;      /* bytes after p */
};

static int
read_byte(struct reader *r, uint8_t *out)
{
    if (r->left == 0)
        return -DYN_EFORMAT;
    *out = *r->p++;
    r->left--;
    return 0;
}

/* A minimal LEB128 varint of at most 64 bits.  Three of them start every
 * vv entry and sibling, so this runs several times per object decoded:
 * one byte (counters, counts) is taken at once, and with 10 bytes left
 * the rest (timestamps, lengths, random 64-bit node ids) are read as one
 * word; only the last bytes of a buffer go byte by byte. */
static int
read_varint(struct reader *r, uint64_t *out)
{
    const uint8_t *p = r->p;
    if (r->left > 0 && p[0] < 0x80) { /* counters and counts: one byte */
        *out = p[0];
        r->p++;
        r->left--;
        return 0;
    }
    size_t len = 0;
    if (r->left >= DYN_VARINT_MAX_BYTES) {
        len = dyn_varint_word(p, out);
        if (len == 0)
            return -DYN_EFORMAT;
    } else {
        /* Fewer than 10 bytes left, so at most 9 (63 bits) to read. */
        uint64_t v = 0;
        for (size_t i = 0; i < r->left && len == 0; i++) {
            v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
            if ((p[i] & 0x80) == 0)
                len = i + 1;
        }
        if (len == 0)
            return -DYN_EFORMAT; /* truncated */
        *out = v;
    }
    if (len > 1 && p[len - 1] == 0)
        return -DYN_EFORMAT; /* non-minimal: not our encoding */
    r->p += len;
    r->left -= len;
    return 0;
}

/* A count of items of at least min_bytes each, within `limit`. */
static int
read_count(struct reader *r, size_t min_bytes, uint32_t limit, uint32_t *out)
{
    uint64_t n;

    if (read_varint(r, &n) != 0)
        return -DYN_EFORMAT;
    if (n > limit || n > r->left / min_bytes)
        return -DYN_EFORMAT;
    *out = (uint32_t)n;
    return 0;
}

/* Entries into a fresh `vv`; on error the caller frees what was read. */
static int
read_vv(struct reader *r, struct dyn_vv *vv)
{
    uint32_t n;

    if (read_count(r, VV_ENTRY_MIN_BYTES, DYN_DVV_MAX_ENTRIES_LIMIT, &n) != 0)
        return -DYN_EFORMAT;
    if (n > 0 && (vv->entry = dyn_alloc_array(n, sizeof *vv->entry)) == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct dyn_vv_entry *e = &vv->entry[i];
        if (read_varint(r, &e->node) != 0 || read_varint(r, &e->counter) != 0 ||
            read_varint(r, &e->ts_ms) != 0)
            return -DYN_EFORMAT;
        if (e->node == 0 || e->counter == 0)
            return -DYN_EFORMAT;
        if (i > 0 && e->node <= vv->entry[i - 1].node)
            return -DYN_EFORMAT; /* unsorted or duplicate */
        vv->len++;
    }
    return 0;
}

/* One sibling's fields; its value points into the buffer. */
static int
read_sibling(struct reader *r, struct dyn_sibling *s, uint32_t max_value_bytes)
{
    uint64_t len;
    uint8_t flags;

    if (read_varint(r, &s->dot.node) != 0 ||
        read_varint(r, &s->dot.counter) != 0 ||
        read_varint(r, &s->ts_ms) != 0 || read_byte(r, &flags) != 0 ||
        read_varint(r, &len) != 0)
        return -DYN_EFORMAT;
    if (s->dot.node == 0 || s->dot.counter == 0)
        return -DYN_EFORMAT;
    if ((flags & ~DVV_FLAGS_KNOWN) != 0)
        return -DYN_EFORMAT;
    s->deleted = (flags & DVV_FLAG_DELETED) != 0;
    if ((s->deleted && len > 0) || len > max_value_bytes || len > r->left)
        return -DYN_EFORMAT;
    s->value_len = (uint32_t)len;
    s->borrowed = true;
    s->value = NULL;
    if (len == 0)
        return 0;
    s->value = (uint8_t *)r->p;
    r->p += len;
    r->left -= len;
    return 0;
}

static int
read_siblings(struct reader *r, struct dyn_object *obj,
              uint32_t max_value_bytes)
{
    uint32_t n;
    int rc;

    if (read_count(r, SIBLING_MIN_BYTES, DYN_DVV_MAX_SIBLINGS_LIMIT, &n) != 0)
        return -DYN_EFORMAT;
    if (n > 0 &&
        (obj->siblings = dyn_alloc_array(n, sizeof *obj->siblings)) == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct dyn_sibling *s = &obj->siblings[i];
        rc = read_sibling(r, s, max_value_bytes);
        if (rc != 0)
            return rc;
        obj->sibling_count++;
        if (i > 0 && dot_cmp(obj->siblings[i - 1].dot, s->dot) >= 0)
            return -DYN_EFORMAT; /* unsorted or duplicate */
    }
    return 0;
}

int
dyn_object_decode_borrowed(struct dyn_object *out, const uint8_t *buf,
                           size_t len, uint32_t max_value_bytes)
{
    struct reader r = {buf, len};
    uint8_t format;
    int rc;

    dyn_object_init(out);
    if (read_byte(&r, &format) != 0 || format != DVV_FORMAT_V1)
        return -DYN_EFORMAT;
    rc = read_vv(&r, &out->vv);
    if (rc == 0)
        rc = read_siblings(&r, out, max_value_bytes);
    if (rc == 0 && r.left != 0)
        rc = -DYN_EFORMAT;
    if (rc != 0)
        dyn_object_free(out);
    return rc;
}

int
dyn_object_decode(struct dyn_object *out, const uint8_t *buf, size_t len,
                  uint32_t max_value_bytes)
{
    return dyn_object_owned(
        out, dyn_object_decode_borrowed(out, buf, len, max_value_bytes));
}

int
dyn_vv_decode(struct dyn_vv *out, const uint8_t *buf, size_t len)
{
    struct reader r = {buf, len};
    int rc;

    dyn_vv_init(out);
    rc = read_vv(&r, out);
    if (rc == 0 && r.left != 0)
        rc = -DYN_EFORMAT;
    if (rc != 0)
        dyn_vv_free(out);
    return rc;
}

/* ---- context tokens ---- */

char *
dyn_context_to_token(const struct dyn_vv *vv)
{
    size_t n = dyn_vv_encoded_size(vv);
    uint8_t *bin = malloc(n);
    char *tok = malloc(1 + dyn_text_base64url_size(n));

    if (bin == NULL || tok == NULL) {
        free(bin);
        free(tok);
        return NULL;
    }
    dyn_vv_encode(vv, bin);
    tok[0] = TOKEN_VERSION;
    dyn_text_base64url_encode(tok + 1, bin, n);
    free(bin);
    return tok;
}

int
dyn_context_from_token(struct dyn_vv *out, const char *token)
{
    size_t n;
    uint8_t *bin;
    int rc;

    dyn_vv_init(out);
    if (token == NULL || token[0] != TOKEN_VERSION)
        return -DYN_EBADCONTEXT;
    token++;
    /* No vv encodes to nothing, and one character is only 6 bits. */
    n = strnlen(token, TOKEN_MAX_BODY_CHARS + 1);
    if (n == 0 || n > TOKEN_MAX_BODY_CHARS || n % 4 == 1)
        return -DYN_EBADCONTEXT;
    bin = malloc(n * B64_BITS / 8);
    if (bin == NULL)
        return -ENOMEM;
    int64_t bin_len = dyn_text_base64url_decode(bin, token, n);
    rc = bin_len < 0 ? -DYN_EBADCONTEXT
                     : dyn_vv_decode(out, bin, (size_t)bin_len);
    free(bin);
    return rc == -DYN_EFORMAT ? -DYN_EBADCONTEXT : rc;
}

int
dyn_object_encode_alloc(const struct dyn_object *obj, uint8_t **out,
                        size_t *len)
{
    size_t size = dyn_object_encoded_size(obj);
    *out = malloc(size);
    if (*out == NULL)
        return -ENOMEM;
    *len = dyn_object_encode(obj, *out);
    return 0;
}
