/*
 * dvv_test.c - tests of lib/dvv.c: sibling sets under dotted version
 * vectors (Dynamo section 4.4 with DVVs).
 *
 * Unit tests pin each rule of dvv.h; the decoder tests feed every class of
 * malformed input plus seeded random, truncated and bit-flipped bytes; the
 * property tests run thousands of random histories (coordinators, clients
 * with stale contexts, replica messages reordered, duplicated and late)
 * against a model of which writes must survive.
 *
 * Random tests print their seed; set DYN_TEST_SEED to replay one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvv.h"
#include "err.h"

#define MAX_VALUE_BYTES (1u << 20) /* decode bound, as the daemon's default */
#define ENC_BUF_BYTES 4096         /* room for the small objects built here */

static const struct dyn_dvv_limits roomy = {1000, 1000};

/* ---- helpers ---- */

static struct dyn_dot
put_str(struct dyn_object *obj, const struct dyn_vv *ctx, uint64_t node,
        uint64_t now_ms, const char *value)
{
    struct dyn_dot dot;
    int rc = dyn_object_put(obj, ctx, node, 0, now_ms, (const uint8_t *)value,
                            (uint32_t)strlen(value), false, &roomy, &dot);
    assert_int_equal(rc, 0);
    return dot;
}

static int
dot_order(struct dyn_dot a, struct dyn_dot b)
{
    if (a.node != b.node)
        return a.node < b.node ? -1 : 1;
    return a.counter == b.counter ? 0 : a.counter < b.counter ? -1 : 1;
}

/* Binary search of the dot-sorted siblings. */
static const struct dyn_sibling *
find_dot(const struct dyn_object *obj, uint64_t node, uint64_t counter)
{
    struct dyn_dot want = {node, counter};
    uint32_t lo = 0, hi = obj->sibling_count;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int cmp = dot_order(obj->siblings[mid].dot, want);
        if (cmp == 0)
            return &obj->siblings[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
static bool
holds_value(const struct dyn_object *obj, const char *value)
{
    size_t len = strlen(value);

    for (uint32_t i = 0; i < obj->sibling_count; i++)
        if (obj->siblings[i].value_len == len &&
            (len == 0 || memcmp(obj->siblings[i].value, value, len) == 0))
            return true;
    return false;
}

/* True when the vv covers every sibling's dot: so it is, but for a put
 * given a dot floor above what the object knows (dvv.h). */
static bool
dots_covered(const struct dyn_object *obj)
{
    for (uint32_t i = 0; i < obj->sibling_count; i++)
        if (!dyn_vv_covers(&obj->vv, obj->siblings[i].dot))
            return false;
    return true;
}

/* Every invariant dvv.h states for an object. */
static bool
object_valid(const struct dyn_object *obj)
{
    const struct dyn_vv *vv = &obj->vv;

    if ((vv->len == 0) != (vv->entry == NULL))
        return false;
    for (uint32_t i = 0; i < vv->len; i++) {
        if (vv->entry[i].node == 0 || vv->entry[i].counter == 0)
            return false;
        if (i > 0 && vv->entry[i - 1].node >= vv->entry[i].node)
            return false;
    }
    for (uint32_t i = 0; i < obj->sibling_count; i++) {
        const struct dyn_sibling *s = &obj->siblings[i];
        if (s->dot.node == 0 || s->dot.counter == 0 ||
            (s->deleted && s->value_len > 0))
            return false;
        if (i > 0 && dot_order(obj->siblings[i - 1].dot, s->dot) >= 0)
            return false;
    }
    return true;
}

/* Encode, decode, compare; and the decoded object re-encodes the same. */
static void
assert_round_trip(const struct dyn_object *obj)
{
    size_t n = dyn_object_encoded_size(obj);
    uint8_t *buf = malloc(n), *again = malloc(n);
    struct dyn_object back;

    assert_non_null(buf);
    assert_non_null(again);
    assert_int_equal(dyn_object_encode(obj, buf), n);
    assert_int_equal(dyn_object_decode(&back, buf, n, MAX_VALUE_BYTES), 0);
    assert_true(dyn_object_equal(obj, &back));
    assert_int_equal(dyn_object_encode(&back, again), n);
    assert_memory_equal(buf, again, n);
    dyn_object_free(&back);
    free(buf);
    free(again);
}

/* ---- put ---- */

static void
put_without_context_on_existing_key_adds_sibling(void **state)
{
    struct dyn_object obj;
    (void)state;

    dyn_object_init(&obj);
    put_str(&obj, NULL, 7, 100, "one");
    struct dyn_vv empty;
    dyn_vv_init(&empty);
    struct dyn_dot d = put_str(&obj, &empty, 7, 101, "two");
    assert_int_equal(obj.sibling_count, 2);
    assert_int_equal(d.node, 7);
    assert_int_equal(d.counter, 2);
    assert_true(holds_value(&obj, "one") && holds_value(&obj, "two"));
    assert_int_equal(dyn_vv_get(&obj.vv, 7), 2);
    assert_true(object_valid(&obj));
    dyn_object_free(&obj);
}

static void
put_with_context_of_read_supersedes_what_was_read(void **state)
{
    struct dyn_object obj;
    struct dyn_vv ctx;
    (void)state;

    dyn_object_init(&obj);
    put_str(&obj, NULL, 1, 100, "a");
    put_str(&obj, NULL, 2, 100, "b");
    assert_int_equal(dyn_vv_copy(&ctx, &obj.vv), 0); /* the read */
    put_str(&obj, NULL, 3, 101, "unseen");
    struct dyn_dot d = put_str(&obj, &ctx, 1, 102, "merged");
    assert_int_equal(d.counter, 2);
    assert_int_equal(obj.sibling_count, 2);
    assert_true(holds_value(&obj, "merged") && holds_value(&obj, "unseen"));
    assert_false(holds_value(&obj, "a") || holds_value(&obj, "b"));
    assert_true(object_valid(&obj));
    dyn_vv_free(&ctx);
    dyn_object_free(&obj);
}

/* The case plain server-side vector clocks lose: both writes share a
 * coordinator and a context, so only the dots tell them apart. */
static void
stale_context_puts_through_one_coordinator_both_survive(void **state)
{
    struct dyn_object obj;
    struct dyn_vv ctx;
    (void)state;

    dyn_object_init(&obj);
    put_str(&obj, NULL, 1, 100, "v1");
    assert_int_equal(dyn_vv_copy(&ctx, &obj.vv), 0); /* both clients read */
    struct dyn_dot x = put_str(&obj, &ctx, 1, 101, "client-x");
    struct dyn_dot y = put_str(&obj, &ctx, 1, 102, "client-y");
    assert_int_equal(x.counter, 2);
    assert_int_equal(y.counter, 3);
    assert_int_equal(obj.sibling_count, 2);
    assert_true(holds_value(&obj, "client-x"));
    assert_true(holds_value(&obj, "client-y"));
    assert_false(holds_value(&obj, "v1"));
    dyn_vv_free(&ctx);
    dyn_object_free(&obj);
}

static void
put_counter_passes_context_counter_so_dots_are_never_reused(void **state)
{
    struct dyn_object ahead, behind;
    struct dyn_vv ctx;
    (void)state;

    dyn_object_init(&ahead);
    dyn_object_init(&behind);
    put_str(&ahead, NULL, 4, 100, "x1");
    put_str(&ahead, NULL, 4, 101, "x2");
    assert_int_equal(dyn_vv_copy(&ctx, &ahead.vv), 0);
    /* a replica of node 4's key that missed both writes gets the put */
    struct dyn_dot d = put_str(&behind, &ctx, 4, 102, "x3");
    assert_int_equal(d.counter, 3);
    assert_int_equal(dyn_vv_get(&behind.vv, 4), 3);
    dyn_vv_free(&ctx);
    dyn_object_free(&ahead);
    dyn_object_free(&behind);
}

static void
put_with_context_that_is_the_object_vv_itself_works(void **state)
{
    struct dyn_object obj;
    (void)state;

    dyn_object_init(&obj);
    put_str(&obj, NULL, 1, 100, "a");
    put_str(&obj, NULL, 2, 100, "b");
    put_str(&obj, &obj.vv, 1, 101, "c"); /* ctx aliases obj->vv */
    assert_int_equal(obj.sibling_count, 1);
    assert_true(holds_value(&obj, "c"));
    assert_true(object_valid(&obj));
    dyn_object_free(&obj);
}

static void
delete_makes_tombstone_and_live_count_zero(void **state)
{
    struct dyn_object obj;
    struct dyn_dot d;
    (void)state;

    dyn_object_init(&obj);
    put_str(&obj, NULL, 1, 100, "a");
    put_str(&obj, NULL, 2, 100, "b");
    assert_int_equal(dyn_object_live_count(&obj), 2);
    assert_int_equal(
        dyn_object_put(&obj, &obj.vv, 2, 0, 101, NULL, 0, true, &roomy, &d), 0);
    assert_int_equal(obj.sibling_count, 1);
    assert_true(obj.siblings[0].deleted);
    assert_int_equal(obj.siblings[0].value_len, 0);
    assert_int_equal(d.node, 2);
    assert_int_equal(dyn_object_live_count(&obj), 0);
    assert_round_trip(&obj);
    dyn_object_free(&obj);
}

static void
put_without_context_replaces_tombstones_but_not_values(void **state)
{
    struct dyn_object obj;
    (void)state;

    dyn_object_init(&obj);
    put_str(&obj, NULL, 1, 100, "a");
    assert_int_equal(
        dyn_object_put(&obj, &obj.vv, 1, 0, 101, NULL, 0, true, &roomy, NULL),
        0);
    put_str(&obj, NULL, 2, 102, "b");       /* a concurrent live version */
    assert_int_equal(obj.sibling_count, 1); /* the tombstone went */
    put_str(&obj, NULL, 1, 103, "c");
    assert_int_equal(obj.sibling_count, 2); /* values stay siblings */
    assert_true(holds_value(&obj, "b"));
    assert_true(holds_value(&obj, "c"));
    assert_true(object_valid(&obj));
    dyn_object_free(&obj);
}

static void
put_with_context_keeps_a_tombstone_it_did_not_see(void **state)
{
    struct dyn_object obj;
    struct dyn_vv ctx;
    (void)state;

    dyn_object_init(&obj);
    put_str(&obj, NULL, 1, 100, "a");
    assert_int_equal(dyn_vv_copy(&ctx, &obj.vv), 0);
    /* Another client deletes with the same read's context... */
    assert_int_equal(
        dyn_object_put(&obj, &ctx, 2, 0, 101, NULL, 0, true, &roomy, NULL), 0);
    /* ...and this one writes with it: a real conflict, both kept. */
    put_str(&obj, &ctx, 1, 102, "b");
    assert_int_equal(obj.sibling_count, 2);
    assert_int_equal(dyn_object_live_count(&obj), 1);
    dyn_vv_free(&ctx);
    dyn_object_free(&obj);
}

static void
put_past_max_siblings_is_refused_and_leaves_object_unchanged(void **state)
{
    const struct dyn_dvv_limits two = {2, 10};
    struct dyn_object obj, before;
    struct dyn_dot d = {99, 99};
    (void)state;

    dyn_object_init(&obj);
    assert_int_equal(dyn_object_put(&obj, NULL, 1, 0, 1, (const uint8_t *)"a",
                                    1, false, &two, NULL),
                     0);
    assert_int_equal(dyn_object_put(&obj, NULL, 1, 0, 2, (const uint8_t *)"b",
                                    1, false, &two, NULL),
                     0);
    assert_int_equal(dyn_object_copy(&before, &obj), 0);
    assert_int_equal(dyn_object_put(&obj, NULL, 1, 0, 3, (const uint8_t *)"c",
                                    1, false, &two, &d),
                     -DYN_ESIBLINGS);
    assert_true(dyn_object_equal(&obj, &before));
    assert_int_equal(d.node, 99); /* dot_out untouched on error */
    /* a put whose context covers the siblings fits again */
    assert_int_equal(dyn_object_put(&obj, &obj.vv, 1, 0, 4,
                                    (const uint8_t *)"d", 1, false, &two, NULL),
                     0);
    assert_int_equal(obj.sibling_count, 1);
    dyn_object_free(&before);
    dyn_object_free(&obj);
}

static void
put_rejects_node_zero_and_tombstone_with_value(void **state)
{
    struct dyn_object obj;
    (void)state;

    dyn_object_init(&obj);
    assert_int_equal(dyn_object_put(&obj, NULL, 0, 0, 1, (const uint8_t *)"a",
                                    1, false, &roomy, NULL),
                     -DYN_EBADARG);
    assert_int_equal(dyn_object_put(&obj, NULL, 1, 0, 1, (const uint8_t *)"a",
                                    1, true, &roomy, NULL),
                     -DYN_EBADARG);
    assert_int_equal(
        dyn_object_put(&obj, NULL, 1, 0, 1, NULL, 1, false, &roomy, NULL),
        -DYN_EBADARG);
    assert_int_equal(obj.sibling_count, 0);
    assert_int_equal(obj.vv.len, 0);
    dyn_object_free(&obj);
}

/* ---- contexts are client input ---- */

/* `vv` with node's entry raised to `counter`: a client's forgery. */
static void
forge_context(struct dyn_vv *ctx, const struct dyn_vv *vv, uint64_t node,
              uint64_t counter)
{
    struct dyn_vv_entry e = {node, counter, 1};
    struct dyn_vv one = {1, &e};

    assert_int_equal(dyn_vv_copy(ctx, vv), 0);
    assert_int_equal(dyn_vv_join(ctx, &one), 0);
}

/* A put's code, for the puts a test expects to be refused. */
static int
try_put(struct dyn_object *obj, const struct dyn_vv *ctx, uint64_t node,
        struct dyn_dot *dot)
{
    return dyn_object_put(obj, ctx, node, 0, 500, (const uint8_t *)"x", 1,
                          false, &roomy, dot);
}

static void
put_whose_context_leads_coordinator_past_bound_is_refused_unchanged(
    void **state)
{
    /* Just past the bound, the 2^64 - 2 that locked keys, the very end. */
    const uint64_t claims[] = {3 + DYN_DVV_MAX_CONTEXT_LEAD + 1, UINT64_MAX - 1,
                               UINT64_MAX};
    struct dyn_object obj, before, empty;
    struct dyn_vv ctx;
    (void)state;

    dyn_object_init(&obj);
    for (uint64_t i = 1; i <= 3; i++)
        put_str(&obj, &obj.vv, 1, 100 + i, "v");
    put_str(&obj, NULL, 2, 104, "other");
    assert_int_equal(dyn_vv_get(&obj.vv, 1), 3);
    assert_int_equal(dyn_object_copy(&before, &obj), 0);
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
        struct dyn_dot d = {99, 99};
        forge_context(&ctx, &obj.vv, 1, claims[i]);
        assert_int_equal(try_put(&obj, &ctx, 1, &d), -DYN_ECONTEXTAHEAD);
        assert_int_equal(
            dyn_object_put(&obj, &ctx, 1, 0, 500, NULL, 0, true, &roomy, &d),
            -DYN_ECONTEXTAHEAD); /* a delete too */
        assert_true(dyn_object_equal(&obj, &before));
        assert_int_equal(d.node, 99); /* dot_out untouched on error */
        dyn_vv_free(&ctx);
    }
    /* A key this node never wrote: the lead is the whole claim. */
    dyn_object_init(&empty);
    forge_context(&ctx, &empty.vv, 1, DYN_DVV_MAX_CONTEXT_LEAD + 1);
    assert_int_equal(try_put(&empty, &ctx, 1, NULL), -DYN_ECONTEXTAHEAD);
    assert_true(dyn_object_is_empty(&empty));
    /* The key stays writable: with the context of a read, or none. */
    put_str(&obj, &obj.vv, 1, 600, "after");
    put_str(&obj, NULL, 1, 601, "no-context");
    assert_int_equal(dyn_vv_get(&obj.vv, 1), 5);
    assert_true(object_valid(&obj));
    dyn_vv_free(&ctx);
    dyn_object_free(&before);
    dyn_object_free(&obj);
}

static void
put_whose_context_leads_coordinator_by_exactly_the_bound_is_accepted(
    void **state)
{
    struct dyn_object obj, fresh;
    struct dyn_vv ctx;
    (void)state;

    dyn_object_init(&obj);
    for (uint64_t i = 1; i <= 3; i++)
        put_str(&obj, NULL, 1, 100 + i, "v");
    forge_context(&ctx, &obj.vv, 1, 3 + DYN_DVV_MAX_CONTEXT_LEAD);
    struct dyn_dot d = put_str(&obj, &ctx, 1, 200, "ahead");
    /* Believed: the new dot is above every write the context names. */
    assert_int_equal(d.counter, 3 + DYN_DVV_MAX_CONTEXT_LEAD + 1);
    assert_int_equal(dyn_vv_get(&obj.vv, 1), d.counter);
    assert_int_equal(obj.sibling_count, 1);
    assert_true(holds_value(&obj, "ahead"));
    assert_true(object_valid(&obj));
    dyn_vv_free(&ctx);
    /* A key this node never wrote, read from a replica that has 2^20 of
     * its writes. */
    dyn_object_init(&fresh);
    forge_context(&ctx, &fresh.vv, 1, DYN_DVV_MAX_CONTEXT_LEAD);
    d = put_str(&fresh, &ctx, 1, 300, "v");
    assert_int_equal(d.counter, DYN_DVV_MAX_CONTEXT_LEAD + 1);
    dyn_vv_free(&ctx);
    dyn_object_free(&fresh);
    dyn_object_free(&obj);
}

/* Node 1 coordinates a put whose context claims nearly every write of
 * node 2 (a replica of the key) and all of node 3 (a stranger). */
static void
forged_context_entry_for_another_node_does_not_poison_it(void **state)
{
    struct dyn_object at_1, at_2, merged;
    struct dyn_vv ctx, more;
    (void)state;

    dyn_object_init(&at_2);
    put_str(&at_2, NULL, 2, 100, "from-2");
    assert_int_equal(dyn_object_copy(&at_1, &at_2), 0); /* replicated */
    forge_context(&more, &at_1.vv, 2, UINT64_MAX - 1);
    forge_context(&ctx, &more, 3, UINT64_MAX);
    put_str(&at_1, &ctx, 1, 200, "forged");
    /* Joined only the bound ahead; what the context covers is still
     * superseded. */
    assert_int_equal(dyn_vv_get(&at_1.vv, 2), 1 + DYN_DVV_MAX_CONTEXT_LEAD);
    assert_int_equal(dyn_vv_get(&at_1.vv, 3), DYN_DVV_MAX_CONTEXT_LEAD);
    assert_int_equal(at_1.sibling_count, 1);
    assert_true(holds_value(&at_1, "forged"));
    assert_true(object_valid(&at_1));
    /* Replication takes the vector to node 2, whose writes go on. */
    assert_int_equal(dyn_object_sync(&merged, &at_2, &at_1), 0);
    for (uint64_t i = 1; i <= 3; i++) {
        struct dyn_dot d = put_str(&merged, &merged.vv, 2, 300 + i, "v");
        assert_int_equal(d.counter, 1 + DYN_DVV_MAX_CONTEXT_LEAD + i);
    }
    assert_true(object_valid(&merged));
    dyn_vv_free(&ctx);
    dyn_vv_free(&more);
    dyn_object_free(&merged);
    dyn_object_free(&at_1);
    dyn_object_free(&at_2);
}

/* An object stored before the bound existed may hold UINT64_MAX for a
 * node.  A peer may send it (replica put, handoff, read repair): it
 * decodes and merges; that node's puts are refused with their own code,
 * changing nothing, and other nodes still write the key. */
static void
counter_at_its_end_refuses_that_nodes_puts_and_merges_as_any(void **state)
{
    struct dyn_object peer, local, merged, before;
    struct dyn_vv end;
    (void)state;

    dyn_object_init(&peer);
    put_str(&peer, NULL, 2, 100, "v");
    forge_context(&end, &peer.vv, 1, UINT64_MAX);
    dyn_vv_free(&peer.vv);
    peer.vv = end; /* {1: UINT64_MAX, 2: 1} */
    assert_round_trip(&peer);
    dyn_object_init(&local);
    put_str(&local, NULL, 3, 90, "mine");
    assert_int_equal(dyn_object_sync(&merged, &local, &peer), 0);
    assert_int_equal(dyn_vv_get(&merged.vv, 1), UINT64_MAX);
    assert_int_equal(merged.sibling_count, 2);
    assert_int_equal(dyn_object_copy(&before, &merged), 0);
    assert_int_equal(try_put(&merged, NULL, 1, NULL), -DYN_ECOUNTER);
    assert_int_equal(try_put(&merged, &merged.vv, 1, NULL), -DYN_ECOUNTER);
    assert_true(dyn_object_equal(&merged, &before));
    struct dyn_dot d = put_str(&merged, &merged.vv, 2, 200, "through-2");
    assert_int_equal(d.counter, 2);
    assert_int_equal(merged.sibling_count, 1);
    assert_true(object_valid(&merged));
    dyn_object_free(&before);
    dyn_object_free(&merged);
    dyn_object_free(&local);
    dyn_object_free(&peer);
}

/* ---- the dot floor ---- */

#define FLOOR 1000 /* a node's dot floor: it minted counters up to this */

/* A put at node 1 with dot floor `floor`; its code. */
static int
floor_put(struct dyn_object *obj, const struct dyn_vv *ctx, uint64_t floor,
          const char *value, struct dyn_dot *dot)
{
    return dyn_object_put(obj, ctx, 1, floor, 500, (const uint8_t *)value,
                          (uint32_t)strlen(value), false, &roomy, dot);
}

/* An object holding "v" from node 2 whose vv claims `counter` of node 1:
 * what a lost floor or a forged replica leaves behind. */
static void
object_claiming(struct dyn_object *obj, uint64_t counter)
{
    struct dyn_vv vv;
    dyn_object_init(obj);
    put_str(obj, NULL, 2, 100, "v");
    forge_context(&vv, &obj->vv, 1, counter);
    dyn_vv_free(&obj->vv);
    obj->vv = vv;
    assert_true(object_valid(obj));
}

static void
put_with_a_floor_mints_above_it_whatever_the_key_knows(void **state)
{
    struct dyn_object obj;
    struct dyn_vv ctx;
    struct dyn_dot d;
    (void)state;

    dyn_object_init(&obj);
    assert_int_equal(floor_put(&obj, NULL, FLOOR, "a", &d), 0);
    assert_int_equal(d.counter, FLOOR + 1); /* a key never written here */
    /* The vv does not claim node 1's dots up to the floor: they are of
     * other keys, or of this one and lost here. */
    assert_int_equal(dyn_vv_get(&obj.vv, 1), 0);
    assert_false(dots_covered(&obj));
    /* The context of a read covers the dot, and a put with it supersedes
     * it; its dot follows on, so the vv takes it. */
    assert_int_equal(dyn_object_context(&obj, &ctx), 0);
    assert_int_equal(dyn_vv_get(&ctx, 1), FLOOR + 1);
    assert_int_equal(floor_put(&obj, &ctx, FLOOR + 1, "b", &d), 0);
    assert_int_equal(d.counter, FLOOR + 2);
    assert_int_equal(dyn_vv_get(&obj.vv, 1), FLOOR + 2);
    assert_int_equal(obj.sibling_count, 1);
    assert_true(holds_value(&obj, "b"));
    dyn_vv_free(&ctx);
    /* A floor below what the key knows: the key's counter decides. */
    assert_int_equal(floor_put(&obj, NULL, 5, "c", &d), 0);
    assert_int_equal(d.counter, FLOOR + 3);
    assert_int_equal(obj.sibling_count, 2);
    assert_true(holds_value(&obj, "b") && holds_value(&obj, "c"));
    assert_true(dots_covered(&obj));
    assert_true(object_valid(&obj));
    dyn_object_free(&obj);
}

/* The data loss the floor ends: node 1 put v1 (dot (1, 1), replicated to
 * node 2), lost its copy (memory engine, restarted) and puts v2. */
static void
put_after_the_coordinator_lost_its_copy_survives_sync_given_a_floor(
    void **state)
{
    struct dyn_object replica, lost, merged;
    struct dyn_dot d;
    (void)state;

    dyn_object_init(&replica);
    assert_int_equal(floor_put(&replica, NULL, 0, "v1", &d), 0);
    assert_int_equal(d.counter, 1);
    /* No floor: (1, 1) again, and node 2 takes v2 for v1, seen. */
    dyn_object_init(&lost);
    assert_int_equal(floor_put(&lost, NULL, 0, "v2", &d), 0);
    assert_int_equal(d.counter, 1);
    assert_int_equal(dyn_object_sync(&merged, &replica, &lost), 0);
    assert_int_equal(merged.sibling_count, 1);
    dyn_object_free(&merged);
    dyn_object_free(&lost);
    /* With the floor it kept (1), v2 is a write of its own. */
    dyn_object_init(&lost);
    assert_int_equal(floor_put(&lost, NULL, 1, "v2", &d), 0);
    assert_int_equal(d.counter, 2);
    assert_int_equal(dyn_object_sync(&merged, &replica, &lost), 0);
    assert_int_equal(merged.sibling_count, 2);
    assert_true(holds_value(&merged, "v1") && holds_value(&merged, "v2"));
    dyn_object_free(&merged);
    dyn_object_free(&lost);
    dyn_object_free(&replica);
}

static void
put_with_a_floor_refuses_a_context_claiming_a_write_never_made(void **state)
{
    struct dyn_object obj, before;
    struct dyn_vv ctx;
    (void)state;

    dyn_object_init(&obj);
    put_str(&obj, NULL, 1, 100, "v");
    assert_int_equal(dyn_object_copy(&before, &obj), 0);
    /* One past the floor, and the end: no write of node 1 has them. */
    const uint64_t claims[] = {FLOOR + 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
        struct dyn_dot d = {99, 99};
        forge_context(&ctx, &obj.vv, 1, claims[i]);
        assert_int_equal(floor_put(&obj, &ctx, FLOOR, "x", &d),
                         -DYN_ECONTEXTAHEAD);
        assert_int_equal(dyn_object_put(&obj, &ctx, 1, FLOOR, 500, NULL, 0,
                                        true, &roomy, &d),
                         -DYN_ECONTEXTAHEAD); /* a delete too */
        assert_true(dyn_object_equal(&obj, &before));
        assert_int_equal(d.node, 99);
        dyn_vv_free(&ctx);
    }
    /* Up to the floor it names writes that were made, though not of
     * this key (or not known here), past the bound a floorless put
     * allows: taken, and the new dot is above them all. */
    forge_context(&ctx, &obj.vv, 1, FLOOR);
    struct dyn_dot d;
    assert_int_equal(floor_put(&obj, &ctx, FLOOR, "at-floor", &d), 0);
    assert_int_equal(d.counter, FLOOR + 1);
    assert_int_equal(obj.sibling_count, 1);
    dyn_vv_free(&ctx);
    forge_context(&ctx, &obj.vv, 1, FLOOR + 1 + DYN_DVV_MAX_CONTEXT_LEAD + 1);
    assert_int_equal(
        floor_put(&obj, &ctx, FLOOR + 2 * DYN_DVV_MAX_CONTEXT_LEAD, "far", &d),
        0);
    assert_int_equal(floor_put(&before, &ctx, 0, "far", NULL),
                     -DYN_ECONTEXTAHEAD); /* no floor: the bound */
    assert_true(object_valid(&obj));
    dyn_vv_free(&ctx);
    dyn_object_free(&before);
    dyn_object_free(&obj);
}

static void
put_with_a_floor_mints_above_an_object_that_leads_it(void **state)
{
    struct dyn_object obj;
    struct dyn_dot d;
    (void)state;

    /* The object claims node 1's writes up to the bound past the floor:
     * the new dot goes above them, so it is unique, also with the
     * context of a read (which repeats the claim). */
    object_claiming(&obj, FLOOR + DYN_DVV_MAX_CONTEXT_LEAD);
    assert_int_equal(floor_put(&obj, NULL, FLOOR, "a", &d), 0);
    assert_int_equal(d.counter, FLOOR + DYN_DVV_MAX_CONTEXT_LEAD + 1);
    dyn_object_free(&obj);
    object_claiming(&obj, FLOOR + 7);
    assert_int_equal(floor_put(&obj, &obj.vv, FLOOR, "b", &d), 0);
    assert_int_equal(d.counter, FLOOR + 8);
    assert_int_equal(obj.sibling_count, 1); /* the read's context covers v */
    assert_true(object_valid(&obj));
    dyn_object_free(&obj);
}

static void
put_with_a_floor_refuses_an_object_past_the_bound_for_that_key_only(
    void **state)
{
    struct dyn_object obj, before, other;
    struct dyn_dot d;
    (void)state;

    /* One past the bound, and the end (2^64 - 1 - FLOOR past it). */
    const uint64_t claims[] = {FLOOR + DYN_DVV_MAX_CONTEXT_LEAD + 1,
                               UINT64_MAX};
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
        object_claiming(&obj, claims[i]);
        assert_int_equal(dyn_object_copy(&before, &obj), 0);
        assert_int_equal(floor_put(&obj, NULL, FLOOR, "x", NULL),
                         -DYN_ECOUNTER);
        assert_int_equal(floor_put(&obj, &obj.vv, FLOOR, "x", NULL),
                         -DYN_ECOUNTER);
        assert_true(dyn_object_equal(&obj, &before));
        /* Other nodes still write the key. */
        put_str(&obj, &obj.vv, 2, 200, "through-2");
        assert_int_equal(obj.sibling_count, 1);
        dyn_object_free(&before);
        dyn_object_free(&obj);
    }
    /* Other keys go on from the floor, which nothing pushed. */
    dyn_object_init(&other);
    assert_int_equal(floor_put(&other, NULL, FLOOR, "y", &d), 0);
    assert_int_equal(d.counter, FLOOR + 1);
    dyn_object_free(&other);
}

/* A put without a context drops the tombstones it finds (add-wins); one
 * above the vv must stay known, or a replica still holding it would
 * bring the delete back as a sibling. */
static void
put_without_context_keeps_knowing_a_tombstone_above_the_vv(void **state)
{
    struct dyn_object obj, replica, merged;
    struct dyn_dot tomb;
    (void)state;

    /* Node 2's delete, then node 1's put; and node 1's own delete. */
    dyn_object_init(&obj);
    assert_int_equal(
        dyn_object_put(&obj, NULL, 2, FLOOR, 500, NULL, 0, true, &roomy, &tomb),
        0);
    assert_false(dots_covered(&obj));
    assert_int_equal(dyn_object_copy(&replica, &obj), 0); /* replicated */
    assert_int_equal(floor_put(&obj, NULL, FLOOR, "again", NULL), 0);
    assert_int_equal(obj.sibling_count, 1);
    assert_true(dyn_vv_covers(&obj.vv, tomb));
    assert_int_equal(dyn_object_sync(&merged, &replica, &obj), 0);
    assert_int_equal(merged.sibling_count, 1);
    assert_true(holds_value(&merged, "again"));
    dyn_object_free(&merged);
    dyn_object_free(&replica);
    dyn_object_free(&obj);

    dyn_object_init(&obj);
    assert_int_equal(
        dyn_object_put(&obj, NULL, 1, FLOOR, 500, NULL, 0, true, &roomy, &tomb),
        0);
    assert_int_equal(dyn_object_copy(&replica, &obj), 0);
    assert_int_equal(floor_put(&obj, NULL, 2 * FLOOR, "again", NULL), 0);
    assert_true(dyn_vv_covers(&obj.vv, tomb));
    assert_int_equal(dyn_object_sync(&merged, &replica, &obj), 0);
    assert_int_equal(merged.sibling_count, 1);
    dyn_object_free(&merged);
    dyn_object_free(&replica);
    dyn_object_free(&obj);
}

/* The context encodes as dyn_vv_encode() of dyn_object_context(), in
 * exactly the bytes it says, within the bound. */
static void
assert_context_encodes_as_its_vv(const struct dyn_object *obj)
{
    struct dyn_vv ctx;
    assert_int_equal(dyn_object_context(obj, &ctx), 0);
    size_t len = dyn_vv_encoded_size(&ctx);
    uint8_t *want = xmalloc(len), *got = xmalloc(len);
    dyn_vv_encode(&ctx, want);
    assert_int_equal(dyn_object_context_encoded_size(obj), len);
    assert_true(dyn_object_context_max_size(obj) >= len);
    assert_int_equal(dyn_object_context_encode(obj, got), len);
    assert_memory_equal(got, want, len);
    free(want);
    free(got);
    dyn_vv_free(&ctx);
}

static void
context_covers_every_sibling_and_encodes_as_a_vv(void **state)
{
    struct dyn_object obj;
    struct dyn_vv ctx;
    (void)state;

    /* vv {1: 3, 2: 1}; node 1's dot 1001 above it, node 3's with no
     * entry at all (a write made above the floor on a lost copy). */
    dyn_object_init(&obj);
    for (int i = 0; i < 3; i++)
        put_str(&obj, &obj.vv, 1, 100, "v");
    put_str(&obj, NULL, 2, 101, "two");
    assert_int_equal(floor_put(&obj, NULL, FLOOR, "above", NULL), 0);
    assert_int_equal(dyn_object_put(&obj, NULL, 3, FLOOR, 777,
                                    (const uint8_t *)"three", 5, false, &roomy,
                                    NULL),
                     0);
    assert_int_equal(dyn_object_context(&obj, &ctx), 0);
    assert_int_equal(ctx.len, 3);
    assert_int_equal(dyn_vv_get(&ctx, 1), FLOOR + 1);
    assert_int_equal(dyn_vv_get(&ctx, 2), 1);
    assert_int_equal(dyn_vv_get(&ctx, 3), FLOOR + 1);
    assert_int_equal(ctx.entry[2].ts_ms, 777); /* the sibling's write */
    for (uint32_t i = 0; i < obj.sibling_count; i++)
        assert_true(dyn_vv_covers(&ctx, obj.siblings[i].dot));
    assert_context_encodes_as_its_vv(&obj);
    dyn_vv_free(&ctx);
    /* 200 nodes: a count of two bytes. */
    for (uint64_t n = 10; n < 210; n++)
        assert_int_equal(dyn_object_put(&obj, NULL, n, FLOOR, 5,
                                        (const uint8_t *)"x", 1, false, &roomy,
                                        NULL),
                         0);
    assert_context_encodes_as_its_vv(&obj);
    dyn_object_free(&obj);
    dyn_object_init(&obj);
    assert_context_encodes_as_its_vv(&obj); /* the empty one */
}

static void
put_with_floor_zero_keeps_the_rule_without_one(void **state)
{
    struct dyn_object obj;
    struct dyn_vv ctx;
    struct dyn_dot d;
    (void)state;

    /* The counter is the key's own, and ctx[1] is bounded by the lead
     * past vv[1], not by a floor: an object far ahead of nothing is
     * written above, as before. */
    object_claiming(&obj, FLOOR + DYN_DVV_MAX_CONTEXT_LEAD + 1);
    assert_int_equal(floor_put(&obj, NULL, 0, "a", &d), 0);
    assert_int_equal(d.counter, FLOOR + DYN_DVV_MAX_CONTEXT_LEAD + 2);
    forge_context(&ctx, &obj.vv, 1, d.counter + DYN_DVV_MAX_CONTEXT_LEAD);
    assert_int_equal(floor_put(&obj, &ctx, 0, "b", &d), 0);
    assert_int_equal(d.counter, FLOOR + 2 * DYN_DVV_MAX_CONTEXT_LEAD + 3);
    dyn_vv_free(&ctx);
    forge_context(&ctx, &obj.vv, 1, d.counter + DYN_DVV_MAX_CONTEXT_LEAD + 1);
    assert_int_equal(floor_put(&obj, &ctx, 0, "c", NULL), -DYN_ECONTEXTAHEAD);
    assert_true(object_valid(&obj));
    dyn_vv_free(&ctx);
    dyn_object_free(&obj);
}

static void
put_at_a_floor_at_its_end_is_refused(void **state)
{
    struct dyn_object obj;
    (void)state;

    dyn_object_init(&obj);
    assert_int_equal(floor_put(&obj, NULL, UINT64_MAX, "x", NULL),
                     -DYN_ECOUNTER);
    assert_true(dyn_object_is_empty(&obj));
    struct dyn_dot d;
    assert_int_equal(floor_put(&obj, NULL, UINT64_MAX - 1, "x", &d), 0);
    assert_true(d.counter == UINT64_MAX);
    dyn_object_free(&obj);
}

/* ---- vv, sync, prune ---- */

static void
vv_join_takes_larger_counter_then_later_timestamp(void **state)
{
    struct dyn_vv_entry ea[] = {{1, 5, 10}, {2, 3, 50}, {4, 1, 1}};
    struct dyn_vv_entry eb[] = {{1, 4, 99}, {2, 3, 60}, {3, 7, 7}};
    struct dyn_vv a, b = {3, eb};
    (void)state;

    a.len = 3;
    a.entry = malloc(sizeof ea);
    assert_non_null(a.entry);
    memcpy(a.entry, ea, sizeof ea);
    assert_int_equal(dyn_vv_join(&a, &b), 0);
    assert_int_equal(a.len, 4);
    assert_int_equal(a.entry[0].counter, 5);
    assert_int_equal(a.entry[0].ts_ms, 10);
    assert_int_equal(a.entry[1].ts_ms, 60);
    assert_int_equal(a.entry[2].node, 3);
    assert_int_equal(a.entry[3].node, 4);
    assert_true(dyn_vv_covers(&a, (struct dyn_dot){3, 7}));
    assert_false(dyn_vv_covers(&a, (struct dyn_dot){3, 8}));
    assert_false(dyn_vv_covers(&a, (struct dyn_dot){9, 1}));
    dyn_vv_free(&a);
}

static void
sync_keeps_sibling_whose_dot_peer_never_saw(void **state)
{
    struct dyn_object a, b, out;
    (void)state;

    dyn_object_init(&a);
    put_str(&a, NULL, 1, 100, "base");
    assert_int_equal(dyn_object_copy(&b, &a), 0);
    put_str(&a, NULL, 1, 101, "only-on-a"); /* b never sees (1,2) */
    put_str(&b, NULL, 2, 101, "only-on-b");
    assert_int_equal(dyn_object_sync(&out, &a, &b), 0);
    assert_int_equal(out.sibling_count, 3);
    assert_true(holds_value(&out, "only-on-a"));
    assert_true(holds_value(&out, "only-on-b"));
    assert_true(holds_value(&out, "base")); /* held on both sides */
    assert_true(object_valid(&out));
    dyn_object_free(&out);
    dyn_object_free(&a);
    dyn_object_free(&b);
}

static void
sync_drops_sibling_peer_saw_and_superseded(void **state)
{
    struct dyn_object a, b, out;
    (void)state;

    dyn_object_init(&a);
    put_str(&a, NULL, 1, 100, "old");
    assert_int_equal(dyn_object_copy(&b, &a), 0);
    put_str(&b, &b.vv, 2, 101, "new"); /* b read "old" and replaced it */
    assert_int_equal(dyn_object_sync(&out, &a, &b), 0);
    assert_int_equal(out.sibling_count, 1);
    assert_true(holds_value(&out, "new"));
    dyn_object_free(&out);
    assert_int_equal(dyn_object_sync(&out, &b, &a), 0);
    assert_int_equal(out.sibling_count, 1);
    assert_true(holds_value(&out, "new"));
    dyn_object_free(&out);
    dyn_object_free(&a);
    dyn_object_free(&b);
}

static void
sync_keeps_one_copy_of_a_write_both_sides_hold(void **state)
{
    struct dyn_object a, b, out;
    (void)state;

    dyn_object_init(&a);
    put_str(&a, NULL, 3, 100, "same");
    assert_int_equal(dyn_object_copy(&b, &a), 0);
    assert_int_equal(dyn_object_sync(&out, &a, &b), 0);
    assert_true(dyn_object_equal(&out, &a));
    dyn_object_free(&out);
    dyn_object_free(&a);
    dyn_object_free(&b);
}

/* Only a reused node id (a restored disk) makes two writes share a dot;
 * sync must still pick the same one whichever side it starts from. */
static void
sync_is_commutative_even_for_a_dot_with_two_values(void **state)
{
    struct dyn_object a, b, ab, ba;
    (void)state;

    dyn_object_init(&a);
    dyn_object_init(&b);
    put_str(&a, NULL, 1, 100, "x");
    put_str(&b, NULL, 1, 100, "y");
    assert_int_equal(dyn_object_sync(&ab, &a, &b), 0);
    assert_int_equal(dyn_object_sync(&ba, &b, &a), 0);
    assert_int_equal(ab.sibling_count, 1);
    assert_true(dyn_object_equal(&ab, &ba));
    dyn_object_free(&a);
    dyn_object_free(&b);
    dyn_object_free(&ab);
    dyn_object_free(&ba);
}

/* Node n's entry gets ts_ms[n]; only node 5 holds a sibling at the end. */
static void
build_five_node_object(struct dyn_object *obj)
{
    static const uint64_t ts_ms[] = {0, 500, 300, 100, 200, 400};

    dyn_object_init(obj);
    for (uint64_t n = 1; n <= 5; n++)
        put_str(obj, &obj->vv, n, ts_ms[n], "v");
}

static void
prune_drops_oldest_but_never_local_or_sibling_nodes(void **state)
{
    struct dyn_object obj;
    (void)state;

    build_five_node_object(&obj);
    assert_int_equal(obj.vv.len, 5);
    assert_int_equal(dyn_object_prune(&obj, 1, 4), 1);
    assert_int_equal(dyn_vv_get(&obj.vv, 3), 0); /* ts 100: oldest */
    assert_int_equal(dyn_object_prune(&obj, 1, 3), 1);
    assert_int_equal(dyn_vv_get(&obj.vv, 4), 0); /* ts 200: next */
    assert_int_equal(dyn_object_prune(&obj, 1, 0), 1);
    assert_int_equal(obj.vv.len, 2); /* node 1: local; node 5: sibling */
    assert_int_equal(dyn_vv_get(&obj.vv, 1), 1);
    assert_int_equal(dyn_vv_get(&obj.vv, 5), 1);
    assert_true(object_valid(&obj));
    assert_int_equal(dyn_object_prune(&obj, 1, 0), 0);
    dyn_object_free(&obj);
}

static void
prune_of_an_object_with_nothing_to_keep_leaves_empty_vv(void **state)
{
    struct dyn_vv_entry e = {1, 1, 5};
    struct dyn_vv one = {1, &e};
    struct dyn_object obj;
    (void)state;

    dyn_object_init(&obj); /* a vv and no siblings: all was superseded */
    assert_int_equal(dyn_vv_join(&obj.vv, &one), 0);
    assert_int_equal(dyn_object_prune(&obj, 9, 0), 1);
    assert_int_equal(obj.vv.len, 0);
    assert_null(obj.vv.entry);
    dyn_object_free(&obj);
}

/* Pruning forgets that "old" was superseded, so sync brings it back as a
 * false sibling; it never removes the write that superseded it. */
static void
pruned_vector_makes_false_sibling_never_loses_write(void **state)
{
    struct dyn_object c, a, exact, pruned;
    (void)state;

    dyn_object_init(&c);
    put_str(&c, NULL, 3, 100, "old");
    assert_int_equal(dyn_object_copy(&a, &c), 0);
    put_str(&a, &a.vv, 1, 200, "new");
    assert_int_equal(dyn_object_sync(&exact, &a, &c), 0);
    assert_int_equal(exact.sibling_count, 1);

    assert_int_equal(dyn_object_prune(&a, 1, 1), 1);
    assert_int_equal(dyn_object_sync(&pruned, &a, &c), 0);
    assert_int_equal(pruned.sibling_count, 2);
    assert_true(holds_value(&pruned, "new"));
    assert_true(holds_value(&pruned, "old"));
    assert_true(object_valid(&pruned));
    dyn_object_free(&c);
    dyn_object_free(&a);
    dyn_object_free(&exact);
    dyn_object_free(&pruned);
}

static void
put_prunes_vector_to_max_entries_keeping_coordinator(void **state)
{
    const struct dyn_dvv_limits small = {100, 2};
    struct dyn_object obj;
    (void)state;

    dyn_object_init(&obj);
    for (uint64_t n = 1; n <= 6; n++)
        assert_int_equal(dyn_object_put(&obj, &obj.vv, n, 0, 10 * n,
                                        (const uint8_t *)"v", 1, false, &small,
                                        NULL),
                         0);
    /* 6: coordinator and sibling; 5: the newest of the rest */
    assert_int_equal(obj.vv.len, 2);
    assert_int_equal(dyn_vv_get(&obj.vv, 6), 1);
    assert_int_equal(dyn_vv_get(&obj.vv, 5), 1);
    assert_int_equal(obj.sibling_count, 1);
    dyn_object_free(&obj);
}

/* ---- encoding ---- */

static void
encode_decode_round_trips(void **state)
{
    struct dyn_object obj;
    struct dyn_dot d;
    uint8_t big[300];
    (void)state;

    dyn_object_init(&obj);
    assert_round_trip(&obj);
    memset(big, 0xab, sizeof big);
    assert_int_equal(dyn_object_put(&obj, NULL, UINT64_MAX, 0, UINT64_MAX, big,
                                    sizeof big, false, &roomy, &d),
                     0);
    put_str(&obj, NULL, 1, 0, "");
    put_str(&obj, NULL, 1u << 31, 1u << 20, "mid");
    assert_int_equal(
        dyn_object_put(&obj, NULL, 77, 0, 5, NULL, 0, true, &roomy, NULL), 0);
    assert_int_equal(obj.sibling_count, 4);
    assert_round_trip(&obj);

    uint8_t buf[ENC_BUF_BYTES];
    struct dyn_vv back;
    size_t n = dyn_vv_encode(&obj.vv, buf);
    assert_int_equal(n, dyn_vv_encoded_size(&obj.vv));
    assert_int_equal(dyn_vv_decode(&back, buf, n), 0);
    assert_int_equal(back.len, obj.vv.len);
    assert_memory_equal(back.entry, obj.vv.entry,
                        back.len * sizeof *back.entry);
    dyn_vv_free(&back);
    dyn_object_free(&obj);
}

static void
context_token_round_trips_including_empty_vv(void **state)
{
    struct dyn_object obj;
    struct dyn_vv back;
    char *tok;
    (void)state;

    dyn_object_init(&obj);
    tok = dyn_context_to_token(&obj.vv);
    assert_non_null(tok);
    assert_string_equal(tok, "cAA");
    assert_int_equal(dyn_context_from_token(&back, tok), 0);
    assert_int_equal(back.len, 0);
    free(tok);

    for (uint64_t n = 1; n <= 4; n++) {
        put_str(&obj, NULL, n * 1000003u, n << 40, "v");
        tok = dyn_context_to_token(&obj.vv);
        assert_non_null(tok);
        assert_int_equal(dyn_context_from_token(&back, tok), 0);
        assert_int_equal(back.len, obj.vv.len);
        assert_memory_equal(back.entry, obj.vv.entry,
                            back.len * sizeof *back.entry);
        dyn_vv_free(&back);
        free(tok);
    }
    dyn_object_free(&obj);
}

/* A raw object, written field by field without any validation, so each
 * malformed case is one small change to a valid baseline. */
struct raw_sibling {
    uint64_t node, counter, ts_ms;
    uint8_t flags;
    uint64_t value_len;     /* as declared */
    uint32_t value_present; /* bytes actually written */
};

struct raw_object {
    uint8_t format;
    uint64_t vv_len; /* as declared */
    uint32_t vv_present;
    struct dyn_vv_entry vv[3];
    uint64_t sibling_count; /* as declared */
    uint32_t siblings_present;
    struct raw_sibling sib[3];
    uint32_t trailing; /* zero bytes appended */
};

static const struct raw_object raw_baseline = {
    .format = 1,
    .vv_len = 2,
    .vv_present = 2,
    .vv = {{1, 2, 10}, {2, 1, 20}},
    .sibling_count = 2,
    .siblings_present = 2,
    .sib = {{1, 2, 10, 0, 3, 3}, {2, 1, 20, 1, 0, 0}},
};

static uint8_t *
raw_varint(uint8_t *p, uint64_t v)
{
    for (; v >= 0x80; v >>= 7)
        *p++ = (uint8_t)(v | 0x80);
    *p++ = (uint8_t)v;
    return p;
}

static size_t
raw_encode(const struct raw_object *o, uint8_t *buf)
{
    uint8_t *p = buf;

    *p++ = o->format;
    p = raw_varint(p, o->vv_len);
    for (uint32_t i = 0; i < o->vv_present; i++) {
        p = raw_varint(p, o->vv[i].node);
        p = raw_varint(p, o->vv[i].counter);
        p = raw_varint(p, o->vv[i].ts_ms);
    }
    p = raw_varint(p, o->sibling_count);
    for (uint32_t i = 0; i < o->siblings_present; i++) {
        const struct raw_sibling *s = &o->sib[i];
        p = raw_varint(raw_varint(raw_varint(p, s->node), s->counter),
                       s->ts_ms);
        *p++ = s->flags;
        p = raw_varint(p, s->value_len);
        memset(p, 'v', s->value_present);
        p += s->value_present;
    }
    memset(p, 0, o->trailing);
    return (size_t)(p - buf) + o->trailing;
}

#define MUTATION(name, body)                                                   \
    static void mut_##name(struct raw_object *o) { body; }

MUTATION(format_zero, o->format = 0)
MUTATION(format_two, o->format = 2)
MUTATION(vv_counter_zero, o->vv[1].counter = 0)
MUTATION(vv_node_zero, o->vv[0].node = 0)
MUTATION(vv_unsorted, o->vv[0].node = 3)
MUTATION(vv_duplicate_node, o->vv[1].node = 1)
MUTATION(vv_len_past_bytes_left, o->vv_len = 40)
MUTATION(vv_len_one_more_than_present, o->vv_len = 3)
MUTATION(sibling_counter_zero, o->sib[0].counter = 0)
MUTATION(sibling_node_zero, o->sib[0].node = 0)
/* Not malformed: dots above the vv (dvv.h), tested on their own. */
MUTATION(sibling_dot_not_covered, o->sib[1].counter = 2)
MUTATION(sibling_node_not_in_vv, o->sib[1].node = 9)
MUTATION(siblings_unsorted, o->sib[0].node = 2; o->sib[1].node = 1;
         o->sib[1].counter = 2)
MUTATION(siblings_duplicate_dot, o->sib[1] = o->sib[0])
MUTATION(sibling_count_past_bytes_left, o->sibling_count = 9)
MUTATION(sibling_count_one_more_than_present, o->sibling_count = 3)
MUTATION(tombstone_with_value, o->sib[1].value_len = 1;
         o->sib[1].value_present = 1)
MUTATION(unknown_flag_bit, o->sib[0].flags = 0x02)
MUTATION(high_flag_bit, o->sib[1].flags = 0x81)
MUTATION(value_len_past_bytes_left, o->sib[0].value_len = 4)
MUTATION(value_len_over_max_value_bytes, o->sib[0].value_len = 1u << 21)
MUTATION(value_len_over_32_bits, o->sib[0].value_len = 1ull << 32)
MUTATION(trailing_byte, o->trailing = 1)

struct mutation {
    const char *name;
    void (*apply)(struct raw_object *o);
};

#define MUT(name)                                                              \
    {                                                                          \
#name, mut_##name                                                      \
    }
static const struct mutation mutations[] = {
    MUT(format_zero),
    MUT(format_two),
    MUT(vv_counter_zero),
    MUT(vv_node_zero),
    MUT(vv_unsorted),
    MUT(vv_duplicate_node),
    MUT(vv_len_past_bytes_left),
    MUT(vv_len_one_more_than_present),
    MUT(sibling_counter_zero),
    MUT(sibling_node_zero),
    MUT(siblings_unsorted),
    MUT(siblings_duplicate_dot),
    MUT(sibling_count_past_bytes_left),
    MUT(sibling_count_one_more_than_present),
    MUT(tombstone_with_value),
    MUT(unknown_flag_bit),
    MUT(high_flag_bit),
    MUT(value_len_past_bytes_left),
    MUT(value_len_over_max_value_bytes),
    MUT(value_len_over_32_bits),
    MUT(trailing_byte),
};

static void
malformed_object_encodings_are_rejected(void **state)
{
    uint8_t buf[ENC_BUF_BYTES];
    struct dyn_object obj;
    size_t n;
    (void)state;

    n = raw_encode(&raw_baseline, buf);
    assert_int_equal(dyn_object_decode(&obj, buf, n, MAX_VALUE_BYTES), 0);
    dyn_object_free(&obj);
    /* the baseline's 3-byte value, against a 2-byte bound */
    assert_int_equal(dyn_object_decode(&obj, buf, n, 2), -DYN_EFORMAT);
    for (size_t i = 0; i < sizeof mutations / sizeof mutations[0]; i++) {
        struct raw_object raw = raw_baseline;
        mutations[i].apply(&raw);
        n = raw_encode(&raw, buf);
        int rc = dyn_object_decode(&obj, buf, n, MAX_VALUE_BYTES);
        if (rc != -DYN_EFORMAT)
            fail_msg("%s: decode returned %d", mutations[i].name, rc);
        assert_int_equal(obj.sibling_count, 0);
        assert_null(obj.vv.entry);
    }
}

/* A dot above the vv, of a node in it or not, is what a put above the
 * dot floor makes: it decodes, and re-encodes to the same bytes. */
static void
dots_above_the_vv_decode_and_round_trip(void **state)
{
    void (*const above[])(struct raw_object *) = {mut_sibling_dot_not_covered,
                                                  mut_sibling_node_not_in_vv};
    uint8_t buf[ENC_BUF_BYTES];
    (void)state;

    for (size_t i = 0; i < sizeof(above) / sizeof(above[0]); i++) {
        struct raw_object raw = raw_baseline;
        struct dyn_object obj;
        above[i](&raw);
        size_t n = raw_encode(&raw, buf);
        assert_int_equal(dyn_object_decode(&obj, buf, n, MAX_VALUE_BYTES), 0);
        assert_false(dots_covered(&obj));
        assert_round_trip(&obj);
        dyn_object_free(&obj);
    }
}

/* Whole encodings whose first varint (vv_len) is malformed. */
struct bad_bytes {
    const char *name;
    size_t len;
    uint8_t bytes[16];
};

static const struct bad_bytes bad_varints[] = {
    {"empty input", 0, {0}},
    {"truncated varint", 2, {1, 0x80}},
    {"varint of 11 bytes",
     12,
     {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}},
    {"varint over 64 bits",
     11,
     {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}},
    {"non-minimal varint", 4, {1, 0x80, 0x00, 0x00}},
};

static void
malformed_varints_are_rejected(void **state)
{
    struct dyn_object obj;
    struct dyn_vv vv;
    (void)state;

    for (size_t i = 0; i < sizeof bad_varints / sizeof bad_varints[0]; i++) {
        const struct bad_bytes *b = &bad_varints[i];
        int rc = dyn_object_decode(&obj, b->bytes, b->len, MAX_VALUE_BYTES);
        if (rc != -DYN_EFORMAT)
            fail_msg("%s: object decode returned %d", b->name, rc);
        if (b->len == 0)
            continue;
        /* the same bytes less the format byte, as a vv */
        rc = dyn_vv_decode(&vv, b->bytes + 1, b->len - 1);
        if (rc != -DYN_EFORMAT)
            fail_msg("%s: vv decode returned %d", b->name, rc);
    }
}

/* Every width of varint, read whole-word (8 bytes or more left) and byte
 * by byte (at the end of a buffer), and every non-minimal form. */
static void
varints_of_every_width_decode_in_both_paths(void **state)
{
    (void)state;
    struct rng g = {test_seed("dvv varint widths")};
    uint8_t buf[ENC_BUF_BYTES];
    for (unsigned bits = 0; bits <= 64; bits++) {
        for (int round = 0; round < 20; round++) {
            uint64_t v = bits == 0 ? 0 : rng_next(&g) >> (64 - bits);
            if (bits > 0)
                v |= UINT64_C(1) << (bits - 1); /* exactly `bits` wide */
            struct dyn_vv_entry e[2] = {{1, v == 0 ? 1 : v, v},
                                        {UINT64_MAX, 7, v}};
            struct dyn_vv vv = {2, e}, back;
            size_t n = dyn_vv_encode(&vv, buf);
            assert_int_equal(dyn_vv_decode(&back, buf, n), 0);
            assert_int_equal(back.len, 2);
            assert_memory_equal(back.entry, e, sizeof(e));
            dyn_vv_free(&back);
        }
    }
    /* A count of 2 entries written non-minimally (a zero last byte) in
     * 2..10 bytes, followed by two valid entries, so that only its form
     * is wrong, and 8 bytes or more follow it up to 8 bytes long (the
     * whole-word path); then one of 11 bytes and one past 64 bits. */
    static const uint8_t entries[] = {1, 1, 1, 2, 1, 1};
    struct dyn_vv back;
    buf[0] = 0x02;
    memcpy(buf + 1, entries, sizeof(entries));
    assert_int_equal(dyn_vv_decode(&back, buf, 1 + sizeof(entries)), 0);
    dyn_vv_free(&back);
    for (size_t len = 2; len <= 10; len++) {
        buf[0] = 0x82;
        memset(buf + 1, 0x80, len - 2);
        buf[len - 1] = 0x00;
        memcpy(buf + len, entries, sizeof(entries));
        if (dyn_vv_decode(&back, buf, len + sizeof(entries)) != -DYN_EFORMAT)
            fail_msg("non-minimal varint of %zu bytes was accepted", len);
    }
    /* One entry whose node is 11 bytes long, or 10 bytes with bit 64
     * set, then a valid counter and ts: only the node is wrong, and 10
     * bytes or more follow its start (the whole-word path). */
    uint8_t eleven[14] = {1}, wide[13] = {1};
    memset(eleven + 1, 0x80, 10);
    eleven[11] = 0x01;
    eleven[12] = 1;
    eleven[13] = 1;
    memset(wide + 1, 0xff, 9);
    wide[10] = 0x02;
    wide[11] = 1;
    wide[12] = 1;
    assert_int_equal(dyn_vv_decode(&back, eleven, sizeof(eleven)),
                     -DYN_EFORMAT);
    assert_int_equal(dyn_vv_decode(&back, wide, sizeof(wide)), -DYN_EFORMAT);
    wide[10] = 0x01; /* bit 63 only: valid, UINT64_MAX */
    assert_int_equal(dyn_vv_decode(&back, wide, sizeof(wide)), 0);
    assert_true(back.len == 1 && back.entry[0].node == UINT64_MAX);
    dyn_vv_free(&back);
}

/* An encoding of `n` vv entries (nodes 1..n) and `s` siblings of node 1. */
static uint8_t *
many_entries(uint32_t n, uint32_t s, size_t *len)
{
    uint8_t *buf = malloc(16 + (size_t)n * 6 + (size_t)s * 8), *p = buf;

    assert_non_null(buf);
    *p++ = 1;
    p = raw_varint(p, n);
    for (uint32_t i = 1; i <= n; i++)
        p = raw_varint(raw_varint(raw_varint(p, i), i == 1 ? s : 1), 0);
    p = raw_varint(p, s);
    for (uint32_t i = 1; i <= s; i++) {
        p = raw_varint(raw_varint(raw_varint(p, 1), i), 0);
        *p++ = 0;
        *p++ = 0;
    }
    *len = (size_t)(p - buf);
    return buf;
}

static void
counts_over_hard_limits_are_rejected(void **state)
{
    struct dyn_object obj;
    struct dyn_vv vv;
    size_t len;
    uint8_t *buf;
    (void)state;

    buf = many_entries(DYN_DVV_MAX_ENTRIES_LIMIT, 1, &len);
    assert_int_equal(dyn_object_decode(&obj, buf, len, 0), 0);
    assert_int_equal(obj.vv.len, DYN_DVV_MAX_ENTRIES_LIMIT);
    dyn_object_free(&obj);
    free(buf);
    buf = many_entries(DYN_DVV_MAX_ENTRIES_LIMIT + 1, 1, &len);
    assert_int_equal(dyn_object_decode(&obj, buf, len, 0), -DYN_EFORMAT);
    assert_int_equal(dyn_vv_decode(&vv, buf + 1, len - 1 - 6), -DYN_EFORMAT);
    free(buf);

    buf = many_entries(1, DYN_DVV_MAX_SIBLINGS_LIMIT, &len);
    assert_int_equal(dyn_object_decode(&obj, buf, len, 0), 0);
    assert_int_equal(obj.sibling_count, DYN_DVV_MAX_SIBLINGS_LIMIT);
    dyn_object_free(&obj);
    free(buf);
    buf = many_entries(1, DYN_DVV_MAX_SIBLINGS_LIMIT + 1, &len);
    assert_int_equal(dyn_object_decode(&obj, buf, len, 0), -DYN_EFORMAT);
    free(buf);
}

/* 'c' and base64url of `len` bytes, written independently of dvv.c. */
static void
token_of(char *out, const uint8_t *bytes, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                              "vwxyz0123456789-_";
    uint32_t acc = 0;
    unsigned bits = 0;

    *out++ = 'c';
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | bytes[i];
        for (bits += 8; bits >= 6; bits -= 6)
            *out++ = b64[(acc >> (bits - 6)) & 0x3f];
    }
    if (bits > 0)
        *out++ = b64[(acc << (6 - bits)) & 0x3f];
    *out = '\0';
}

static void
malformed_context_tokens_are_rejected(void **state)
{
    static const char *const bad_text[] = {
        "",     /* empty */
        "c",    /* no body: no vv encodes to nothing */
        "AA",   /* no version prefix */
        "dAA",  /* unknown version */
        "cA",   /* 1 char mod 4: 6 bits are no byte */
        "cAA=", /* padding */
        "cA+A", /* base64, not base64url */
        "cA/A", /* idem */
        "cA A", /* space */
        "cAB",  /* non-zero unused bits */
    };
    /* well-formed base64url of a vv encoding that dyn_vv_decode rejects */
    static const struct bad_bytes bad_vv[] = {
        {"trailing byte", 2, {0, 0}},
        {"count past bytes", 4, {2, 1, 1, 1}},
        {"node 0", 4, {1, 0, 1, 1}},
        {"counter 0", 4, {1, 1, 0, 1}},
        {"unsorted", 7, {2, 2, 1, 1, 1, 1, 1}},
        {"duplicate", 7, {2, 1, 1, 1, 1, 1, 1}},
        {"non-minimal varint", 2, {0x80, 0}},
    };
    char tok[64];
    struct dyn_vv vv;
    char *huge;
    (void)state;

    for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++) {
        int rc = dyn_context_from_token(&vv, bad_text[i]);
        if (rc != -DYN_EBADCONTEXT)
            fail_msg("token \"%s\": returned %d", bad_text[i], rc);
        assert_int_equal(vv.len, 0);
    }
    for (size_t i = 0; i < sizeof bad_vv / sizeof bad_vv[0]; i++) {
        token_of(tok, bad_vv[i].bytes, bad_vv[i].len);
        int rc = dyn_context_from_token(&vv, tok);
        if (rc != -DYN_EBADCONTEXT)
            fail_msg("%s (%s): returned %d", bad_vv[i].name, tok, rc);
    }
    token_of(tok, (const uint8_t[]){1, 5, 2, 9}, 4); /* the same, valid */
    assert_int_equal(dyn_context_from_token(&vv, tok), 0);
    assert_int_equal(dyn_vv_get(&vv, 5), 2);
    dyn_vv_free(&vv);
    assert_int_equal(dyn_context_from_token(&vv, NULL), -DYN_EBADCONTEXT);
    huge = malloc(100002);
    assert_non_null(huge);
    huge[0] = 'c';
    memset(huge + 1, 'A', 100000);
    huge[100001] = '\0';
    assert_int_equal(dyn_context_from_token(&vv, huge), -DYN_EBADCONTEXT);
    free(huge);
}

/* A decoded object must be valid and re-encode to exactly its input. */
static void
check_decoded_is_canonical(const uint8_t *buf, size_t len)
{
    struct dyn_object obj;
    struct dyn_vv vv;
    int rc = dyn_object_decode(&obj, buf, len, MAX_VALUE_BYTES);

    assert_true(rc == 0 || rc == -DYN_EFORMAT);
    if (rc == 0) {
        uint8_t *again = malloc(len);
        assert_non_null(again);
        assert_true(object_valid(&obj));
        assert_int_equal(dyn_object_encoded_size(&obj), len);
        assert_int_equal(dyn_object_encode(&obj, again), len);
        assert_memory_equal(again, buf, len);
        free(again);
        dyn_object_free(&obj);
    }
    rc = dyn_vv_decode(&vv, buf, len);
    assert_true(rc == 0 || rc == -DYN_EFORMAT);
    if (rc == 0)
        assert_int_equal(dyn_vv_encoded_size(&vv), len);
    dyn_vv_free(&vv);
}

static void
check_token_is_canonical(const char *tok)
{
    struct dyn_vv vv;
    int rc = dyn_context_from_token(&vv, tok);

    assert_true(rc == 0 || rc == -DYN_EBADCONTEXT);
    if (rc == 0) {
        char *again = dyn_context_to_token(&vv);
        assert_non_null(again);
        assert_string_equal(again, tok);
        free(again);
        dyn_vv_free(&vv);
    }
}

#define FUZZ_INPUTS 4000  /* random inputs per decoder */
#define FUZZ_MAX_BYTES 48 /* longest random input */
#define FUZZ_FLIPS 3000   /* bit-flipped copies of valid encodings */

static void
random_bytes_never_crash_decoders(void **state)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                   "qrstuvwxyz0123456789-_+/= \x01\xff";
    struct rng rng = {test_seed("random_bytes_never_crash_decoders")};
    uint8_t buf[FUZZ_MAX_BYTES];
    char tok[FUZZ_MAX_BYTES + 2];
    (void)state;

    for (int i = 0; i < FUZZ_INPUTS; i++) {
        size_t len = rng_below(&rng, FUZZ_MAX_BYTES + 1);
        /* mostly small bytes after a valid format byte, to get deep */
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)(rng_percent(&rng, 70) ? rng_below(&rng, 4)
                                                     : rng_next(&rng));
        if (len > 0 && rng_percent(&rng, 80))
            buf[0] = 1;
        check_decoded_is_canonical(buf, len);

        tok[0] = rng_percent(&rng, 90) ? 'c' : (char)rng_next(&rng);
        for (size_t j = 1; j <= len; j++)
            tok[j] = rng_percent(&rng, 97)
                         ? alphabet[rng_below(&rng, 64)]
                         : alphabet[rng_below(&rng, sizeof alphabet - 1)];
        tok[len + 1] = '\0';
        check_token_is_canonical(tok);
    }
}

/* A few valid objects with varied shapes, from seeded puts. */
static void
build_random_object(struct rng *rng, struct dyn_object *obj)
{
    uint8_t value[40];
    uint32_t puts = 1 + rng_below(rng, 8);

    dyn_object_init(obj);
    for (uint32_t i = 0; i < puts; i++) {
        uint64_t node =
            rng_percent(rng, 50) ? 1 + rng_below(rng, 4) : rng_next(rng) | 1;
        uint32_t len = rng_below(rng, sizeof value);
        bool del = rng_percent(rng, 20);
        for (uint32_t j = 0; j < len; j++)
            value[j] = (uint8_t)rng_next(rng);
        assert_int_equal(
            dyn_object_put(obj, rng_percent(rng, 50) ? &obj->vv : NULL, node, 0,
                           rng_next(rng) >> rng_below(rng, 64), value,
                           del ? 0 : len, del, &roomy, NULL),
            0);
    }
}

static void
truncated_and_flipped_encodings_fail_cleanly(void **state)
{
    struct rng rng = {test_seed("truncated_and_flipped_encodings")};
    uint8_t buf[ENC_BUF_BYTES], flipped[ENC_BUF_BYTES];
    (void)state;

    for (int round = 0; round < 20; round++) {
        struct dyn_object obj, back;
        build_random_object(&rng, &obj);
        size_t n = dyn_object_encode(&obj, buf);
        char *tok = dyn_context_to_token(&obj.vv);
        assert_non_null(tok);
        for (size_t len = 0; len < n; len++)
            assert_int_equal(
                dyn_object_decode(&back, buf, len, MAX_VALUE_BYTES),
                -DYN_EFORMAT);
        for (size_t len = strlen(tok); len-- > 0;) {
            struct dyn_vv vv;
            tok[len] = '\0';
            assert_int_equal(dyn_context_from_token(&vv, tok),
                             -DYN_EBADCONTEXT);
        }
        free(tok);
        for (int i = 0; i < FUZZ_FLIPS / 20; i++) {
            memcpy(flipped, buf, n);
            for (uint32_t f = 1 + rng_below(&rng, 3); f > 0; f--)
                flipped[rng_below(&rng, (uint32_t)n)] ^=
                    (uint8_t)(1u << rng_below(&rng, 8));
            check_decoded_is_canonical(flipped, n);
        }
        dyn_object_free(&obj);
    }
}

/* ---- property tests on random histories ---- */

#define SIM_MAX_NODES 6           /* replicas (each a coordinator) */
#define SIM_MAX_CLIENTS 4         /* clients holding contexts */
#define SIM_MAX_WRITES 64         /* puts per history */
#define SIM_MAX_MSGS 24           /* replica messages in flight */
#define SIM_STEPS 64              /* actions per history */
#define SIM_MAX_ROUNDS 4          /* full exchange rounds: 3 suffice unpruned */
#define SIM_NODE_INDEX_MASK 0xffu /* low byte of a simulated node id */
#define SIM_VALUE_BYTES 12        /* longest value a simulated client writes */
#define SIM_FLOOR_STEP 3          /* floor mode: other keys' dots, per put */
/* Highest counter a history mints: every put adds at most the step. */
#define SIM_MAX_COUNTER (SIM_MAX_WRITES * (SIM_FLOOR_STEP + 1))

struct sim_write {
    struct dyn_dot dot;             /* the write's dot, unique */
    struct dyn_vv ctx;              /* the context it carried */
    bool deleted;                   /* a tombstone */
    bool covered;                   /* a later put's context covers it */
    uint32_t value_len;             /* bytes in value */
    uint8_t value[SIM_VALUE_BYTES]; /* what the client wrote */
};

struct sim_client {
    bool has_ctx;         /* has read at least once */
    struct dyn_vv ctx;    /* context of its last read */
    uint32_t seen_count;  /* dots in seen */
    struct dyn_dot *seen; /* sibling dots of its last read */
};

struct sim_msg {
    uint32_t to;  /* replica index */
    size_t len;   /* bytes */
    uint8_t *buf; /* dyn_object_encode() of the sender's object */
};

/* How a history mints dots. */
enum sim_floors {
    SIM_NO_FLOOR,  /* floor 0: the key's own counters, as before floors */
    SIM_FLOOR,     /* each node's dot floor, moved by other keys too */
    SIM_LOST_COPY, /* floors, and nodes that lose their copy (memory
                      engine restarted) but keep their id and floor */
};

struct sim {
    struct rng rng;
    uint64_t seed; /* this history's seed, printed on failure */
    bool pruning;  /* max_vv_entries small: extra siblings allowed */
    enum sim_floors floors;
    uint64_t floor[SIM_MAX_NODES]; /* each node's dot floor */
    uint32_t overclaims;           /* writes a context or a dropped tombstone
                                      claimed, that the replica did not know
                                      (SIM_LOST_COPY only) */
    struct dyn_dvv_limits limits;
    uint64_t now_ms;
    uint32_t nodes;
    uint64_t node_id[SIM_MAX_NODES];
    uint64_t skew_ms[SIM_MAX_NODES]; /* each node's clock offset */
    struct dyn_object replica[SIM_MAX_NODES];
    uint32_t clients;
    struct sim_client client[SIM_MAX_CLIENTS];
    uint32_t writes;
    struct sim_write write[SIM_MAX_WRITES];
    /* 1 + index in write[] of dot (node_id[i], counter), 0 if none */
    uint8_t by_dot[SIM_MAX_NODES][SIM_MAX_COUNTER + 1];
    uint32_t msgs;
    struct sim_msg msg[SIM_MAX_MSGS];
};

#define SIM_CHECK(sim, cond)                                                   \
    do {                                                                       \
        if (!(cond))                                                           \
            fail_msg("history seed %" PRIu64 ": %s", (sim)->seed, #cond);      \
    } while (0)

static void
sim_init(struct sim *sim, uint64_t seed, bool pruning, enum sim_floors floors)
{
    memset(sim, 0, sizeof *sim);
    sim->seed = seed;
    sim->rng.state = seed;
    sim->pruning = pruning;
    sim->floors = floors;
    sim->limits.max_siblings = 1000;
    sim->limits.max_vv_entries = pruning ? 2 : 1000;
    sim->now_ms = rng_next(&sim->rng) >> 20;
    sim->nodes =
        pruning ? 5 + rng_below(&sim->rng, 2) : 3 + rng_below(&sim->rng, 3);
    sim->clients = 2 + rng_below(&sim->rng, SIM_MAX_CLIENTS - 1);
    for (uint32_t i = 0; i < sim->nodes; i++) {
        /* random 64-bit ids as dynamod makes them, whose low byte is
         * 1 + the replica index, so the model finds a dot's write fast */
        sim->node_id[i] =
            (rng_next(&sim->rng) & ~SIM_NODE_INDEX_MASK) | (i + 1);
        sim->skew_ms[i] = rng_below(&sim->rng, 5);
        dyn_object_init(&sim->replica[i]);
    }
}

static void
sim_free(struct sim *sim)
{
    for (uint32_t i = 0; i < sim->nodes; i++)
        dyn_object_free(&sim->replica[i]);
    for (uint32_t i = 0; i < sim->clients; i++) {
        dyn_vv_free(&sim->client[i].ctx);
        free(sim->client[i].seen);
    }
    for (uint32_t i = 0; i < sim->writes; i++)
        dyn_vv_free(&sim->write[i].ctx);
    for (uint32_t i = 0; i < sim->msgs; i++)
        free(sim->msg[i].buf);
}

static struct sim_write *
sim_find_write(struct sim *sim, struct dyn_dot dot)
{
    uint64_t i = (dot.node & SIM_NODE_INDEX_MASK) - 1;

    if (i >= sim->nodes || sim->node_id[i] != dot.node ||
        dot.counter > SIM_MAX_COUNTER || sim->by_dot[i][dot.counter] == 0)
        return NULL;
    return &sim->write[sim->by_dot[i][dot.counter] - 1];
}
static void sim_deliver(struct sim *sim, uint32_t m, bool may_duplicate);

/* Queue the whole object of replica `from` for replica `to`. */
static void
sim_send(struct sim *sim, uint32_t from, uint32_t to)
{
    struct sim_msg *msg;

    if (sim->msgs == SIM_MAX_MSGS)
        sim_deliver(sim, rng_below(&sim->rng, sim->msgs), false);
    msg = &sim->msg[sim->msgs++];
    msg->to = to;
    msg->len = dyn_object_encoded_size(&sim->replica[from]);
    msg->buf = malloc(msg->len);
    assert_non_null(msg->buf);
    dyn_object_encode(&sim->replica[from], msg->buf);
}

/* What a replica does with an object: sync, prune, store.  True when
 * that changed the replica. */
static bool
sim_merge(struct sim *sim, uint32_t to, const struct dyn_object *in)
{
    struct dyn_object out;
    bool changed;

    SIM_CHECK(sim, dyn_object_sync(&out, &sim->replica[to], in) == 0);
    dyn_object_prune(&out, sim->node_id[to], sim->limits.max_vv_entries);
    changed = !dyn_object_equal(&out, &sim->replica[to]);
    dyn_object_free(&sim->replica[to]);
    sim->replica[to] = out;
    return changed;
}

/* Deliver message m; sometimes keep it to deliver again later. */
static void
sim_deliver(struct sim *sim, uint32_t m, bool may_duplicate)
{
    struct sim_msg *msg = &sim->msg[m];
    struct dyn_object in;

    SIM_CHECK(sim,
              dyn_object_decode(&in, msg->buf, msg->len, MAX_VALUE_BYTES) == 0);
    sim_merge(sim, msg->to, &in);
    dyn_object_free(&in);
    if (may_duplicate && rng_percent(&sim->rng, 20))
        return; /* a duplicate stays in the pool */
    free(msg->buf);
    sim->msg[m] = sim->msg[--sim->msgs];
}

/* True when replica r knows write w: holds it, or its vv covers it. */
static bool
sim_knows(struct sim *sim, uint32_t r, const struct sim_write *w)
{
    const struct dyn_object *obj = &sim->replica[r];
    return dyn_vv_covers(&obj->vv, w->dot) ||
           find_dot(obj, w->dot.node, w->dot.counter) != NULL;
}

static void
sim_client_read(struct sim *sim, struct sim_client *c, uint32_t r)
{
    const struct dyn_object *obj = &sim->replica[r];

    dyn_vv_free(&c->ctx);
    SIM_CHECK(sim, dyn_object_context(obj, &c->ctx) == 0);
    /* The context claims only what the replica knows, unless a copy was
     * lost (dvv.h: a context is a vv). */
    for (uint32_t i = 0; i < sim->writes; i++) {
        const struct sim_write *w = &sim->write[i];
        if (!dyn_vv_covers(&c->ctx, w->dot) || sim_knows(sim, r, w))
            continue;
        SIM_CHECK(sim, sim->floors == SIM_LOST_COPY);
        sim->overclaims++;
    }
    free(c->seen);
    c->seen = calloc(obj->sibling_count + 1, sizeof *c->seen);
    assert_non_null(c->seen);
    for (uint32_t i = 0; i < obj->sibling_count; i++)
        c->seen[i] = obj->siblings[i].dot;
    c->seen_count = obj->sibling_count;
    c->has_ctx = true;
}

/* Record a new write in the model: its dot must be new, and every write
 * its context covers is superseded. */
static struct sim_write *
sim_record_write(struct sim *sim, struct dyn_dot dot, const struct dyn_vv *ctx)
{
    struct sim_write *w = &sim->write[sim->writes];

    SIM_CHECK(sim, sim_find_write(sim, dot) == NULL); /* never reused */
    for (uint32_t i = 0; i < sim->writes; i++)
        if (dyn_vv_covers(ctx, sim->write[i].dot))
            sim->write[i].covered = true;
    w->dot = dot;
    SIM_CHECK(sim, dot.counter <= SIM_MAX_COUNTER);
    sim->by_dot[(dot.node & SIM_NODE_INDEX_MASK) - 1][dot.counter] =
        (uint8_t)(sim->writes + 1);
    SIM_CHECK(sim, !dyn_vv_covers(ctx, dot));
    SIM_CHECK(sim, dyn_vv_copy(&w->ctx, ctx) == 0);
    sim->writes++;
    return w;
}

static void
sim_client_write(struct sim *sim, struct sim_client *c, uint32_t r)
{
    static const struct dyn_vv none = {0, NULL};
    const struct dyn_vv *ctx =
        c->has_ctx && rng_percent(&sim->rng, 80) ? &c->ctx : &none;
    bool del = rng_percent(&sim->rng, 15);
    uint8_t value[SIM_VALUE_BYTES];
    uint32_t len = del ? 0 : rng_below(&sim->rng, SIM_VALUE_BYTES + 1);
    struct dyn_object *obj = &sim->replica[r];
    struct dyn_dot dot;

    /* A put without a context supersedes the tombstones it finds. */
    struct dyn_dot tombs[SIM_MAX_WRITES];
    uint32_t tomb_count = 0;
    for (uint32_t i = 0; ctx->len == 0 && i < obj->sibling_count; i++)
        if (obj->siblings[i].deleted && tomb_count < SIM_MAX_WRITES)
            tombs[tomb_count++] = obj->siblings[i].dot;

    /* Dropping a tombstone above the vv claims its node's writes below it
     * (dvv.h): only those the replica lost are news, and superseded. */
    for (uint32_t i = 0; i < tomb_count; i++) {
        for (uint32_t j = 0; j < sim->writes; j++) {
            struct sim_write *l = &sim->write[j];
            if (l->dot.node != tombs[i].node ||
                l->dot.counter > tombs[i].counter || sim_knows(sim, r, l))
                continue;
            SIM_CHECK(sim, sim->floors == SIM_LOST_COPY);
            sim->overclaims++;
            l->covered = true;
        }
    }

    for (uint32_t i = 0; i < len; i++)
        value[i] = (uint8_t)(sim->writes * 7 + i);
    if (sim->floors != SIM_NO_FLOOR) /* the node's puts of other keys */
        sim->floor[r] += rng_below(&sim->rng, SIM_FLOOR_STEP + 1);
    SIM_CHECK(sim, dyn_object_put(obj, ctx, sim->node_id[r], sim->floor[r],
                                  sim->now_ms + sim->skew_ms[r], value, len,
                                  del, &sim->limits, &dot) == 0);
    SIM_CHECK(sim, dot.node == sim->node_id[r]);
    if (sim->floors != SIM_NO_FLOOR) {
        SIM_CHECK(sim, dot.counter > sim->floor[r]);
        sim->floor[r] = dot.counter;
    }
    SIM_CHECK(sim, find_dot(obj, dot.node, dot.counter) != NULL);
    for (uint32_t i = 0; ctx == &c->ctx && i < c->seen_count; i++)
        SIM_CHECK(sim,
                  find_dot(obj, c->seen[i].node, c->seen[i].counter) == NULL);
    for (uint32_t i = 0; i < tomb_count; i++) {
        SIM_CHECK(sim, find_dot(obj, tombs[i].node, tombs[i].counter) == NULL);
        struct sim_write *t = sim_find_write(sim, tombs[i]);
        SIM_CHECK(sim, t != NULL);
        t->covered = true;
    }
    struct sim_write *w = sim_record_write(sim, dot, ctx);
    w->deleted = del;
    w->value_len = len;
    memcpy(w->value, value, len);
    /* the coordinator replicates its whole object to some replicas */
    for (uint32_t i = 0; i < sim->nodes; i++)
        if (i != r && rng_percent(&sim->rng, 60))
            sim_send(sim, r, i);
    if (rng_percent(&sim->rng, 40))
        sim_client_read(sim, c, r); /* a put that returns the new context */
}

/* (a): sync is commutative, associative and idempotent on these states. */
static void
sim_check_algebra(struct sim *sim)
{
    const struct dyn_object *a =
        &sim->replica[rng_below(&sim->rng, sim->nodes)];
    const struct dyn_object *b =
        &sim->replica[rng_below(&sim->rng, sim->nodes)];
    const struct dyn_object *c =
        &sim->replica[rng_below(&sim->rng, sim->nodes)];
    struct dyn_object ab, ba, ab_c, bc, a_bc, aa;

    SIM_CHECK(sim, dyn_object_sync(&ab, a, b) == 0);
    SIM_CHECK(sim, dyn_object_sync(&ba, b, a) == 0);
    SIM_CHECK(sim, dyn_object_equal(&ab, &ba));
    SIM_CHECK(sim, object_valid(&ab));
    SIM_CHECK(sim, dyn_object_sync(&ab_c, &ab, c) == 0);
    SIM_CHECK(sim, dyn_object_sync(&bc, b, c) == 0);
    SIM_CHECK(sim, dyn_object_sync(&a_bc, a, &bc) == 0);
    SIM_CHECK(sim, dyn_object_equal(&ab_c, &a_bc));
    SIM_CHECK(sim, dyn_object_sync(&aa, a, a) == 0);
    SIM_CHECK(sim, dyn_object_equal(&aa, a));
    dyn_object_free(&ab);
    dyn_object_free(&ba);
    dyn_object_free(&ab_c);
    dyn_object_free(&bc);
    dyn_object_free(&a_bc);
    dyn_object_free(&aa);
}

static bool
sibling_matches_write(const struct dyn_sibling *s, const struct sim_write *w)
{
    return s->deleted == w->deleted && s->value_len == w->value_len &&
           (s->value_len == 0 || memcmp(s->value, w->value, w->value_len) == 0);
}

/*
 * (b) at every step: each sibling is a real write with its own value, and
 * no maximal write is missing: any replica whose vv covers a maximal
 * write holds it, so its coordinator always does and it is never lost.
 */
static void
sim_check_replicas(struct sim *sim)
{
    for (uint32_t r = 0; r < sim->nodes; r++) {
        const struct dyn_object *obj = &sim->replica[r];
        SIM_CHECK(sim, object_valid(obj));
        SIM_CHECK(sim, sim->floors != SIM_NO_FLOOR || dots_covered(obj));
        for (uint32_t i = 0; i < obj->sibling_count; i++) {
            const struct sim_write *w =
                sim_find_write(sim, obj->siblings[i].dot);
            SIM_CHECK(sim, w != NULL);
            SIM_CHECK(sim, sibling_matches_write(&obj->siblings[i], w));
        }
        for (uint32_t i = 0; i < sim->writes; i++) {
            const struct sim_write *w = &sim->write[i];
            if (!w->covered && dyn_vv_covers(&obj->vv, w->dot))
                SIM_CHECK(sim, find_dot(obj, w->dot.node, w->dot.counter));
        }
    }
}

/* Every replica syncs every other's object until nothing changes. */
static bool
sim_full_exchange(struct sim *sim)
{
    for (int round = 0; round < SIM_MAX_ROUNDS; round++) {
        bool changed = false;
        for (uint32_t to = 0; to < sim->nodes; to++) {
            for (uint32_t from = 0; from < sim->nodes; from++)
                if (from != to)
                    changed |= sim_merge(sim, to, &sim->replica[from]);
        }
        if (!changed)
            return true;
    }
    return false;
}

/* (b) and (c) after the exchange. */
static void
sim_check_final(struct sim *sim, bool converged)
{
    uint32_t maximal = 0;

    sim_check_replicas(sim);
    for (uint32_t i = 0; i < sim->writes; i++) {
        const struct sim_write *w = &sim->write[i];
        maximal += !w->covered;
        for (uint32_t r = 0; r < sim->nodes && !w->covered; r++)
            SIM_CHECK(sim, find_dot(&sim->replica[r], w->dot.node,
                                    w->dot.counter) != NULL);
    }
    if (sim->pruning)
        return; /* false siblings are allowed; nothing more to hold */
    SIM_CHECK(sim, converged);
    for (uint32_t r = 0; r < sim->nodes; r++) {
        SIM_CHECK(sim, sim->replica[r].sibling_count == maximal);
        SIM_CHECK(sim, dyn_object_equal(&sim->replica[r], &sim->replica[0]));
    }
}

static void
sim_step(struct sim *sim)
{
    uint32_t pick = rng_below(&sim->rng, 100);
    uint32_t r = rng_below(&sim->rng, sim->nodes);
    struct sim_client *c = &sim->client[rng_below(&sim->rng, sim->clients)];

    sim->now_ms += rng_below(&sim->rng, 4);
    if (sim->floors == SIM_LOST_COPY && pick < 3) {
        /* A restart of the memory engine: the copy is gone, the id and
         * the floor stay.  What it held is sent first, as replication
         * had, so that no write is lost with it. */
        uint32_t to = (r + 1) % sim->nodes;
        struct dyn_object copy;
        SIM_CHECK(sim, dyn_object_copy(&copy, &sim->replica[r]) == 0);
        sim_merge(sim, to, &copy);
        dyn_object_free(&copy);
        dyn_object_free(&sim->replica[r]);
    } else if (pick < 20) {
        sim_client_read(sim, c, r);
    } else if (pick < 50 && sim->writes < SIM_MAX_WRITES) {
        sim_client_write(sim, c, r);
    } else if (pick < 80 && sim->msgs > 0) {
        sim_deliver(sim, rng_below(&sim->rng, sim->msgs), true);
    } else if (pick < 92) {
        uint32_t to = rng_below(&sim->rng, sim->nodes);
        if (to != r)
            sim_send(sim, r, to); /* anti-entropy push */
    } else {
        sim_check_algebra(sim);
    }
    sim_check_replicas(sim);
}

/* Returns the history's overclaims (sim->overclaims). */
static uint32_t
run_history(uint64_t seed, bool pruning, enum sim_floors floors)
{
    struct sim *sim = malloc(sizeof *sim);

    assert_non_null(sim);
    sim_init(sim, seed, pruning, floors);
    for (int step = 0; step < SIM_STEPS; step++)
        sim_step(sim);
    sim_check_algebra(sim);
    while (sim->msgs > 0) /* late messages, some twice */
        sim_deliver(sim, rng_below(&sim->rng, sim->msgs), true);
    sim_check_replicas(sim);
    sim_check_algebra(sim);
    sim_check_final(sim, sim_full_exchange(sim));
    uint32_t overclaims = sim->overclaims;
    sim_free(sim);
    free(sim);
    return overclaims;
}

#define EXACT_HISTORIES 1500  /* no pruning: exact survivors */
#define PRUNED_HISTORIES 1000 /* max_vv_entries 2: nothing lost */
#define FLOOR_HISTORIES 1000  /* each floor mode */

static void
random_histories_converge_to_exactly_the_maximal_writes(void **state)
{
    uint64_t seed = test_seed("exact histories");
    struct rng rng = {seed};
    (void)state;

    for (int i = 0; i < EXACT_HISTORIES; i++)
        run_history(rng_next(&rng), false, SIM_NO_FLOOR);
}

static void
random_histories_with_pruning_never_lose_a_maximal_write(void **state)
{
    uint64_t seed = test_seed("pruned histories");
    struct rng rng = {seed ^ 0xa5a5a5a5u};
    (void)state;

    for (int i = 0; i < PRUNED_HISTORIES; i++)
        run_history(rng_next(&rng), true, SIM_NO_FLOOR);
}

/* Dots minted above each node's floor, which other keys move too: dots
 * above the vv are everywhere, and still exactly the maximal writes
 * survive, and a read's context claims only what its replica knows. */
static void
random_histories_with_dot_floors_converge_to_exactly_the_maximal_writes(
    void **state)
{
    uint64_t seed = test_seed("floor histories");
    struct rng rng = {seed ^ 0x5a5a5a5au};
    (void)state;

    for (int i = 0; i < FLOOR_HISTORIES; i++) {
        run_history(rng_next(&rng), false, SIM_FLOOR);
        run_history(rng_next(&rng), true, SIM_FLOOR);
    }
}

/* Nodes that lose their copy and keep their floor mint no dot twice, and
 * lose no write that no context claimed (without a floor the first put
 * after the loss reuses a dot).  A context, or a put dropping a tombstone,
 * may claim writes the replica lost (dvv.h): counted. */
static void
random_histories_with_lost_copies_never_reuse_a_dot_or_lose_a_write(
    void **state)
{
    uint64_t seed = test_seed("lost-copy histories");
    struct rng rng = {seed ^ 0x3c3c3c3cu};
    uint32_t overclaimed = 0;
    (void)state;

    for (int i = 0; i < FLOOR_HISTORIES; i++)
        overclaimed += run_history(rng_next(&rng), false, SIM_LOST_COPY) > 0;
    print_message("%u of %d histories claimed a write a replica lost\n",
                  overclaimed, FLOOR_HISTORIES);
}

/* ---- borrowed values ---- */

/* An object of three siblings (one a tombstone) and its encoding. */
static size_t
three_siblings(struct dyn_object *obj, uint8_t *buf)
{
    dyn_object_init(obj);
    put_str(obj, NULL, 1, 10, "one");
    put_str(obj, NULL, 2, 20, "a longer second value");
    assert_int_equal(
        dyn_object_put(obj, NULL, 3, 0, 30, NULL, 0, true, &roomy, NULL), 0);
    assert_int_equal(obj->sibling_count, 3);
    return dyn_object_encode(obj, buf);
}

static bool
points_into(const struct dyn_object *obj, const uint8_t *buf, size_t len)
{
    for (uint32_t i = 0; i < obj->sibling_count; i++) {
        const struct dyn_sibling *s = &obj->siblings[i];
        if (s->value_len == 0)
            continue;
        if (!s->borrowed || s->value < buf || s->value + s->value_len > buf + len)
            return false;
    }
    return true;
}

static void
borrowed_decode_points_into_the_buffer_until_owned(void **state)
{
    (void)state;
    struct dyn_object obj, owned, view;
    uint8_t buf[ENC_BUF_BYTES];
    size_t len = three_siblings(&obj, buf);

    assert_int_equal(dyn_object_decode(&owned, buf, len, MAX_VALUE_BYTES), 0);
    assert_int_equal(dyn_object_decode_borrowed(&view, buf, len,
                                                MAX_VALUE_BYTES),
                     0);
    assert_true(dyn_object_equal(&view, &owned));
    assert_true(points_into(&view, buf, len));
    for (uint32_t i = 0; i < owned.sibling_count; i++)
        assert_false(owned.siblings[i].borrowed);

    assert_int_equal(dyn_object_own(&view), 0);
    memset(buf, 0xAA, sizeof(buf)); /* what it borrowed from is gone */
    assert_true(dyn_object_equal(&view, &owned));
    for (uint32_t i = 0; i < view.sibling_count; i++)
        assert_false(view.siblings[i].borrowed);
    dyn_object_free(&view); /* frees what own copied, nothing of buf */
    dyn_object_free(&owned);
    dyn_object_free(&obj);
}

static void
rebase_moves_borrowed_values_to_a_copy_of_their_buffer(void **state)
{
    (void)state;
    struct dyn_object obj, owned, view;
    uint8_t buf[ENC_BUF_BYTES], copy[ENC_BUF_BYTES];
    size_t len = three_siblings(&obj, buf);
    const uint8_t other[] = "elsewhere";

    assert_int_equal(dyn_object_decode(&owned, buf, len, MAX_VALUE_BYTES), 0);
    assert_int_equal(dyn_object_decode_borrowed(&view, buf, len,
                                                MAX_VALUE_BYTES),
                     0);
    /* A value borrowed from somewhere else is left where it is. */
    struct dyn_sibling *last = &view.siblings[view.sibling_count - 1];
    size_t last_at = (size_t)(last->value - buf);
    uint32_t last_len = last->value_len;
    last->value = (uint8_t *)other;
    last->value_len = sizeof(other);

    memcpy(copy, buf, len);
    dyn_object_rebase(&view, buf, len, copy);
    memset(buf, 0xAA, sizeof(buf)); /* the original is gone */
    assert_ptr_equal(last->value, other);
    last->value = copy + last_at;
    last->value_len = last_len;
    assert_true(points_into(&view, copy, len));
    assert_true(dyn_object_equal(&view, &owned));

    assert_false(dyn_object_is_empty(&view));
    struct dyn_object empty;
    dyn_object_init(&empty);
    assert_true(dyn_object_is_empty(&empty));
    dyn_object_free(&view);
    dyn_object_free(&owned);
    dyn_object_free(&obj);
}

static void
put_on_a_borrowed_object_keeps_what_it_did_not_supersede(void **state)
{
    (void)state;
    struct dyn_object obj, owned, view;
    uint8_t buf[ENC_BUF_BYTES], out_a[ENC_BUF_BYTES], out_b[ENC_BUF_BYTES];
    size_t len = three_siblings(&obj, buf);
    struct dyn_vv ctx = {0, NULL};
    const char *value = "new";
    struct dyn_dot dot_a, dot_b;

    /* A context naming node 1's write only: siblings 2 and 3 stay. */
    struct dyn_vv_entry e = {1, 1, 10};
    ctx.len = 1;
    ctx.entry = &e;
    assert_int_equal(dyn_object_decode(&owned, buf, len, MAX_VALUE_BYTES), 0);
    assert_int_equal(dyn_object_decode_borrowed(&view, buf, len,
                                                MAX_VALUE_BYTES),
                     0);
    assert_int_equal(dyn_object_put(&owned, &ctx, 9, 0, 40,
                                    (const uint8_t *)value, 3, false, &roomy,
                                    &dot_a),
                     0);
    assert_int_equal(dyn_object_put_borrowed(&view, &ctx, 9, 0, 40,
                                             (const uint8_t *)value, 3, false,
                                             &roomy, &dot_b),
                     0);
    assert_int_equal(dot_a.counter, dot_b.counter);
    assert_true(dyn_object_equal(&view, &owned));
    const struct dyn_sibling *fresh = find_dot(&view, 9, dot_b.counter);
    assert_non_null(fresh);
    assert_true(fresh->borrowed);
    assert_ptr_equal(fresh->value, value);
    const struct dyn_sibling *kept = find_dot(&view, 2, 1);
    assert_non_null(kept); /* kept as read: still in buf, not copied */
    assert_true(kept->borrowed && kept->value >= buf &&
                kept->value + kept->value_len <= buf + len);
    /* Encoded the same: the borrowed object is a full object. */
    size_t na = dyn_object_encode(&owned, out_a);
    size_t nb = dyn_object_encode(&view, out_b);
    assert_int_equal(na, nb);
    assert_memory_equal(out_a, out_b, na);
    dyn_object_free(&view);
    dyn_object_free(&owned);
    dyn_object_free(&obj);
}

static void
borrowed_sync_equals_copying_sync(void **state)
{
    (void)state;
    struct dyn_object a, b, copied, borrowed;
    dyn_object_init(&a);
    dyn_object_init(&b);
    put_str(&a, NULL, 1, 10, "from a");
    put_str(&b, NULL, 2, 20, "from b");
    put_str(&b, NULL, 2, 21, "b again");

    assert_int_equal(dyn_object_sync(&copied, &a, &b), 0);
    assert_int_equal(dyn_object_sync_borrowed(&borrowed, &a, &b), 0);
    assert_true(dyn_object_equal(&copied, &borrowed));
    assert_int_equal(borrowed.sibling_count, 3);
    for (uint32_t i = 0; i < borrowed.sibling_count; i++) {
        assert_true(borrowed.siblings[i].borrowed);
        assert_false(copied.siblings[i].borrowed);
    }
    dyn_object_free(&borrowed); /* a and b still own their values */
    assert_true(holds_value(&a, "from a"));
    assert_true(holds_value(&b, "b again"));
    dyn_object_free(&copied);
    dyn_object_free(&a);
    dyn_object_free(&b);
}

static void
encode_rebind_moves_every_value_into_the_encoding(void **state)
{
    (void)state;
    struct dyn_object obj, want, view;
    uint8_t buf[ENC_BUF_BYTES], again[ENC_BUF_BYTES], other[ENC_BUF_BYTES];
    size_t len = three_siblings(&obj, buf);

    /* Mixed: some values borrowed from `buf`, one owned. */
    assert_int_equal(dyn_object_decode_borrowed(&view, buf, len,
                                                MAX_VALUE_BYTES),
                     0);
    put_str(&view, NULL, 4, 40, "owned");
    assert_int_equal(dyn_object_copy(&want, &view), 0);

    size_t n = dyn_object_encode_rebind(&view, again);
    assert_int_equal(n, dyn_object_encoded_size(&want));
    assert_true(points_into(&view, again, n));
    memset(buf, 0x55, sizeof(buf)); /* the first buffer is not needed */
    assert_true(dyn_object_equal(&view, &want));
    assert_int_equal(dyn_object_encode(&view, other), n);
    assert_memory_equal(other, again, n);
    dyn_object_free(&view);
    dyn_object_free(&want);
    dyn_object_free(&obj);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(put_without_context_on_existing_key_adds_sibling),
        cmocka_unit_test(put_with_context_of_read_supersedes_what_was_read),
        cmocka_unit_test(
            stale_context_puts_through_one_coordinator_both_survive),
        cmocka_unit_test(
            put_counter_passes_context_counter_so_dots_are_never_reused),
        cmocka_unit_test(put_with_context_that_is_the_object_vv_itself_works),
        cmocka_unit_test(delete_makes_tombstone_and_live_count_zero),
        cmocka_unit_test(
            put_without_context_replaces_tombstones_but_not_values),
        cmocka_unit_test(put_with_context_keeps_a_tombstone_it_did_not_see),
        cmocka_unit_test(
            put_past_max_siblings_is_refused_and_leaves_object_unchanged),
        cmocka_unit_test(put_rejects_node_zero_and_tombstone_with_value),
        cmocka_unit_test(
            put_whose_context_leads_coordinator_past_bound_is_refused_unchanged),
        cmocka_unit_test(
            put_whose_context_leads_coordinator_by_exactly_the_bound_is_accepted),
        cmocka_unit_test(
            forged_context_entry_for_another_node_does_not_poison_it),
        cmocka_unit_test(
            counter_at_its_end_refuses_that_nodes_puts_and_merges_as_any),
        cmocka_unit_test(
            put_with_a_floor_mints_above_it_whatever_the_key_knows),
        cmocka_unit_test(
            put_after_the_coordinator_lost_its_copy_survives_sync_given_a_floor),
        cmocka_unit_test(
            put_with_a_floor_refuses_a_context_claiming_a_write_never_made),
        cmocka_unit_test(put_with_a_floor_mints_above_an_object_that_leads_it),
        cmocka_unit_test(
            put_with_a_floor_refuses_an_object_past_the_bound_for_that_key_only),
        cmocka_unit_test(
            put_without_context_keeps_knowing_a_tombstone_above_the_vv),
        cmocka_unit_test(put_with_floor_zero_keeps_the_rule_without_one),
        cmocka_unit_test(context_covers_every_sibling_and_encodes_as_a_vv),
        cmocka_unit_test(put_at_a_floor_at_its_end_is_refused),
        cmocka_unit_test(vv_join_takes_larger_counter_then_later_timestamp),
        cmocka_unit_test(sync_keeps_sibling_whose_dot_peer_never_saw),
        cmocka_unit_test(sync_drops_sibling_peer_saw_and_superseded),
        cmocka_unit_test(sync_keeps_one_copy_of_a_write_both_sides_hold),
        cmocka_unit_test(sync_is_commutative_even_for_a_dot_with_two_values),
        cmocka_unit_test(prune_drops_oldest_but_never_local_or_sibling_nodes),
        cmocka_unit_test(
            prune_of_an_object_with_nothing_to_keep_leaves_empty_vv),
        cmocka_unit_test(pruned_vector_makes_false_sibling_never_loses_write),
        cmocka_unit_test(put_prunes_vector_to_max_entries_keeping_coordinator),
        cmocka_unit_test(encode_decode_round_trips),
        cmocka_unit_test(context_token_round_trips_including_empty_vv),
        cmocka_unit_test(malformed_object_encodings_are_rejected),
        cmocka_unit_test(dots_above_the_vv_decode_and_round_trip),
        cmocka_unit_test(malformed_varints_are_rejected),
        cmocka_unit_test(varints_of_every_width_decode_in_both_paths),
        cmocka_unit_test(counts_over_hard_limits_are_rejected),
        cmocka_unit_test(malformed_context_tokens_are_rejected),
        cmocka_unit_test(random_bytes_never_crash_decoders),
        cmocka_unit_test(truncated_and_flipped_encodings_fail_cleanly),
        cmocka_unit_test(
            random_histories_converge_to_exactly_the_maximal_writes),
        cmocka_unit_test(
            random_histories_with_pruning_never_lose_a_maximal_write),
        cmocka_unit_test(
            random_histories_with_dot_floors_converge_to_exactly_the_maximal_writes),
        cmocka_unit_test(
            random_histories_with_lost_copies_never_reuse_a_dot_or_lose_a_write),
        cmocka_unit_test(borrowed_decode_points_into_the_buffer_until_owned),
        cmocka_unit_test(
            rebase_moves_borrowed_values_to_a_copy_of_their_buffer),
        cmocka_unit_test(
            put_on_a_borrowed_object_keeps_what_it_did_not_supersede),
        cmocka_unit_test(borrowed_sync_equals_copying_sync),
        cmocka_unit_test(encode_rebind_moves_every_value_into_the_encoding),
    };

    return cmocka_run_group_tests_name("dvv", tests, NULL, NULL);
}
