/*
 * transfer_test.c - tests of daemon/mechanisms/transfer.c (cmocka), the
 * partition transfers of a ring change (Dynamo 4.9, 6.2), on node n1 of
 * a 3-member ring with N = 3 that grows to 5 members (t/daemon_harness.h):
 * every partition was replicated here, and the new members n4 and n5,
 * played by the fake transport, become replicas of some of them.
 *
 * Partitions go in batches, in key order, to each new replica; a failed
 * target gets the batch again after the pause; a handoff deletes a key
 * here only after every target took it, and only if it still holds the
 * versions sent; the transfers file lists what is not done.  The engine's
 * timer never runs: the tests call transfers_tick() and move the clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_harness.h"
#include "err.h"
#include "fake_peer.h"
#include "testutil.h"
#include "transfer.h"
#include "transfer_file.h"
#include "wire.h"

#define TEST_Q 16
#define TEST_N 3
#define TEST_MEMBERS 5 /* after the change: n4 and n5 joined */
#define TEST_KEYS 3    /* keys put in a partition */
#define TEST_SLOTS 64  /* transfers at once: all of them */
#define TEST_KEY_BYTES 32
#define TEST_VALUE_BYTES 16  /* values put, unless a test says */
#define TEST_MAX_TURNS 10000 /* drive() gives up after this many */

/* What one target received of one partition. */
struct stream {
    uint32_t batches;          /* TransferReqs, the last one included */
    uint32_t entries;          /* keys, over every batch */
    bool last;                 /* the last batch (last = true) came */
    char prev[TEST_KEY_BYTES]; /* the last key received */
    size_t prev_len;
};

struct fixture {
    struct harness h;
    struct dyn_ring *old; /* the ring before the change; owned */
    struct stream got[TEST_Q][TEST_MEMBERS + 1]; /* by member id */
};

/* What the change should start for one partition. */
struct expected {
    uint64_t target[DYN_RING_MAX_N]; /* member ids */
    uint32_t count;                  /* 0: no transfer */
    bool handoff;
};

static int
setup(void **state)
{
    struct fixture *f = xmalloc(sizeof(*f));
    memset(f, 0, sizeof(*f));
    struct harness_options o = {.members = 3,
                                .n = TEST_N,
                                .partitions = TEST_Q,
                                .self = 1,
                                .transfers = true};
    harness_init(&f->h, &o);
    f->h.cfg.transfer_slots = TEST_SLOTS;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    harness_free(&f->h);
    dyn_ring_free(f->old);
    free(f);
    return 0;
}

/* n4 and n5 join: the node adopts the ring of five. */
static void
change_ring(struct fixture *f)
{
    struct server *srv = &f->h.srv;
    assert_int_equal(dyn_ring_copy(srv->ring, &f->old), 0);
    struct dyn_ring *four = harness_ring_join(srv->ring, 4);
    struct dyn_ring *five = harness_ring_join(four, 5);
    dyn_ring_free(four);
    harness_adopt(&f->h, five);
}

static bool
in_list(const struct preflist_target *t, uint32_t n, uint64_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (t[i].id == id)
            return true;
    return false;
}

/*
 * What transfer.h promises for partition p, this node holding data in
 * it: a transfer to each replica of the new ring that was not one of the
 * old; none left and this node not a replica any more: a handoff to every
 * new replica, which confirms.
 */
static struct expected
expected_for(const struct fixture *f, uint32_t p)
{
    struct preflist_target was[DYN_RING_MAX_N], now[DYN_RING_MAX_N];
    bool was_in, now_in;
    uint32_t nw = preflist_of_ring(f->old, 1, p, was, &was_in);
    uint32_t nn = preflist_of_ring(f->h.srv.ring, 1, p, now, &now_in);
    struct expected e = {.handoff = !now_in};
    assert_true(was_in); /* N = 3 of 3 members */
    for (uint32_t i = 0; i < nn; i++)
        if (!now[i].local && !in_list(was, nw, now[i].id))
            e.target[e.count++] = now[i].id;
    if (e.count == 0 && !now_in)
        for (uint32_t i = 0; i < nn; i++)
            e.target[e.count++] = now[i].id;
    return e;
}

/* The first partition whose transfer is (or is not) a handoff, with at
 * least `min_targets` targets. */
static uint32_t
partition_where(const struct fixture *f, bool handoff, uint32_t min_targets)
{
    for (uint32_t p = 0; p < TEST_Q; p++) {
        struct expected e = expected_for(f, p);
        if (e.handoff == handoff && e.count >= min_targets)
            return p;
    }
    fail_msg("no partition of the test rings is a %s with %u targets",
             handoff ? "handoff" : "transfer", min_targets);
    return 0;
}

/* The partition's `nth` key. */
static void
key_of(struct fixture *f, uint32_t p, uint32_t nth, char *key)
{
    harness_key_in(&f->h, p, nth, key, TEST_KEY_BYTES);
}

/* Put `count` keys of `value_bytes` bytes each into partition p. */
static void
put_keys(struct fixture *f, uint32_t p, uint32_t count, size_t value_bytes)
{
    char *value = xmalloc(value_bytes + 1);
    memset(value, 'v', value_bytes);
    value[value_bytes] = '\0';
    for (uint32_t i = 0; i < count; i++) {
        char key[TEST_KEY_BYTES];
        key_of(f, p, i, key);
        harness_store_put(&f->h, key, value);
    }
    free(value);
}

/* How many of the partition's first `count` keys this node holds. */
static uint32_t
keys_here(struct fixture *f, uint32_t p, uint32_t count)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < count; i++) {
        char key[TEST_KEY_BYTES];
        struct dyn_object obj;
        key_of(f, p, i, key);
        int rc = harness_store_get(&f->h, key, &obj);
        assert_true(rc == 0 || rc == -DYN_ENOTFOUND);
        n += rc == 0;
        dyn_object_free(&obj);
    }
    return n;
}

static const Dynpb__TransferReq *
batch_of(const struct fake_call *c)
{
    assert_int_equal(c->code, DYN_MSG_TRANSFER_REQ);
    return (const Dynpb__TransferReq *)c->req;
}

/* The pending batch of partition p to member `id`, or NULL. */
static struct fake_call *
batch_to(struct fixture *f, uint32_t p, uint64_t id)
{
    struct fake_call *found = NULL;
    for (uint32_t i = 0; i < fake_peer_count(&f->h.srv); i++) {
        struct fake_call *c = fake_peer_call(&f->h.srv, i);
        if (c->done || c->code != DYN_MSG_TRANSFER_REQ ||
            batch_of(c)->partition != p ||
            strcmp(c->address, harness_address(id)) != 0)
            continue;
        assert_null(found); /* one batch in flight to a target */
        found = c;
    }
    return found;
}

static uint64_t
target_id(const struct fake_call *c)
{
    for (uint64_t id = 1; id <= TEST_MEMBERS; id++)
        if (strcmp(c->address, harness_address(id)) == 0)
            return id;
    fail_msg("a batch went to %s, not a test member", c->address);
    return 0;
}

/*
 * Change the ring and pick the first partition whose transfer is (or is
 * not) a handoff, to at least `min_targets` targets (*e: what is expected
 * of it); put `keys` keys of `value_bytes` bytes into it.
 */
static uint32_t
pick(struct fixture *f, bool handoff, uint32_t min_targets, uint32_t keys,
     size_t value_bytes, struct expected *e)
{
    change_ring(f);
    uint32_t p = partition_where(f, handoff, min_targets);
    *e = expected_for(f, p);
    put_keys(f, p, keys, value_bytes);
    return p;
}

static int
key_order(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/*
 * Note what a batch carries in f->got, checking as it goes: a batch of
 * at most TRANSFER_BATCH_KEYS keys of partition p, in key order after the
 * previous batch's, each object whole; a batch that says it is the
 * last (the sender held a whole copy) is empty and the last to come.
 */
static void
note_batch(struct fixture *f, const struct fake_call *c)
{
    const Dynpb__TransferReq *req = batch_of(c);
    assert_true(req->partition < TEST_Q);
    struct stream *s = &f->got[req->partition][target_id(c)];
    assert_false(s->last); /* nothing after the last batch */
    assert_true(req->n_entries <= TRANSFER_BATCH_KEYS);
    for (size_t i = 0; i < req->n_entries; i++) {
        const Dynpb__TransferEntry *e = req->entries[i];
        assert_int_equal(dyn_ring_partition_of(e->key.data, e->key.len, TEST_Q),
                         req->partition);
        assert_true(e->key.len < sizeof(s->prev));
        if (s->entries > 0)
            assert_true(key_order((const uint8_t *)s->prev, s->prev_len,
                                  e->key.data, e->key.len) < 0);
        memcpy(s->prev, e->key.data, e->key.len);
        s->prev_len = e->key.len;
        struct dyn_object obj;
        assert_int_equal(dyn_object_decode(&obj, e->object.data, e->object.len,
                                           DYN_MAX_VALUE_BYTES_LIMIT),
                         0);
        assert_true(dyn_object_live_count(&obj) >= 1);
        dyn_object_free(&obj);
        s->entries++;
    }
    if (req->last)
        assert_int_equal(req->n_entries, 0);
    s->last = req->last;
    s->batches++;
}

/* Take and acknowledge the batch `c`. */
static void
ack_batch(struct fixture *f, struct fake_call *c)
{
    note_batch(f, c);
    fake_peer_ack(c);
}

/* Every target of partition p but the last takes the batch in flight. */
static void
ack_but_the_last(struct fixture *f, uint32_t p, const struct expected *e)
{
    for (uint32_t i = 0; i + 1 < e->count; i++)
        ack_batch(f, batch_to(f, p, e->target[i]));
}

/* Run the engine and let every target take every batch, until no
 * transfer is left. */
static void
drive(struct fixture *f)
{
    struct server *srv = &f->h.srv;
    for (uint32_t turn = 0; turn < TEST_MAX_TURNS; turn++) {
        transfers_tick(srv);
        harness_run_writes(&f->h);
        struct fake_call *c = fake_peer_next(srv, NULL, DYN_MSG_TRANSFER_REQ);
        if (c == NULL && transfers_count(srv) == 0)
            return;
        if (c != NULL)
            ack_batch(f, c);
    }
    fail_msg("transfers not done after %u turns", TEST_MAX_TURNS);
}

/* The one transfer of partition p, as dynctl handoff shows it. */
static struct transfer_info
info_of(struct fixture *f, uint32_t p)
{
    struct transfer_info all[TEST_Q];
    uint32_t n = transfers_report(&f->h.srv, all, TEST_Q);
    for (uint32_t i = 0; i < n; i++)
        if (all[i].partition == p)
            return all[i];
    fail_msg("no transfer of partition %u", p);
    return all[0];
}

static void
ring_change_sends_each_replicated_partition_to_each_new_replica(void **state)
{
    struct fixture *f = *state;
    for (uint32_t p = 0; p < TEST_Q; p++)
        put_keys(f, p, TEST_KEYS, TEST_VALUE_BYTES);
    change_ring(f);
    drive(f);
    for (uint32_t p = 0; p < TEST_Q; p++) {
        struct expected e = expected_for(f, p);
        for (uint64_t id = 2; id <= TEST_MEMBERS; id++) {
            bool target = false;
            for (uint32_t i = 0; i < e.count; i++)
                target |= e.target[i] == id;
            assert_int_equal(f->got[p][id].entries, target ? TEST_KEYS : 0);
            assert_int_equal(f->got[p][id].last, target);
        }
        assert_int_equal(keys_here(f, p, TEST_KEYS), e.handoff ? 0 : TEST_KEYS);
    }
}

static void
partition_of_more_keys_than_a_batch_goes_in_batches_in_key_order(void **state)
{
    struct fixture *f = *state;
    struct expected e;
    uint32_t p = pick(f, false, 1, TRANSFER_BATCH_KEYS + 1, 1, &e);
    uint64_t to = e.target[0];
    drive(f); /* note_batch checks the order and the size */
    assert_int_equal(f->got[p][to].entries, TRANSFER_BATCH_KEYS + 1);
    assert_int_equal(f->got[p][to].batches, 3); /* 512, 1, the last */
}

static void
batches_hold_at_most_transfer_batch_bytes(void **state)
{
    struct fixture *f = *state;
    /* Two values fit in a batch, not three. */
    struct expected e;
    uint32_t p = pick(f, false, 1, 3, TRANSFER_BATCH_BYTES * 2 / 5, &e);
    uint64_t to = e.target[0];
    transfers_tick(&f->h.srv);
    struct fake_call *c = batch_to(f, p, to);
    assert_int_equal(batch_of(c)->n_entries, 2);
    drive(f);
    assert_int_equal(f->got[p][to].entries, 3);
    assert_int_equal(f->got[p][to].batches, 3); /* 2, 1, the last */
}

static void
empty_partition_gets_only_its_last_batch(void **state)
{
    struct fixture *f = *state;
    struct expected e;
    uint32_t p = pick(f, false, 1, 0, 0, &e);
    uint64_t to = e.target[0];
    drive(f);
    assert_int_equal(f->got[p][to].batches, 1);
    assert_true(f->got[p][to].last); /* the target holds all of it */
}

static void
failed_target_gets_the_batch_again_after_the_pause_and_only_it(void **state)
{
    struct fixture *f = *state;
    struct expected e;
    uint32_t p = pick(f, false, 2, TEST_KEYS, TEST_VALUE_BYTES, &e);
    struct server *srv = &f->h.srv;
    transfers_tick(srv);
    ack_batch(f, batch_to(f, p, e.target[0]));
    struct fake_call *failed = batch_to(f, p, e.target[1]);
    fake_peer_fail(failed, -ECONNREFUSED);
    struct transfer_info info = info_of(f, p);
    assert_string_equal(info.state, "retrying");
    assert_non_null(strstr(info.why, "unreachable"));
    assert_non_null(strstr(info.why, harness_member(e.target[1]).name));

    uint32_t calls = fake_peer_count(srv);
    harness_advance(&f->h, TRANSFER_RETRY_MS - 1);
    transfers_tick(srv);
    assert_int_equal(fake_peer_count(srv), calls); /* still pausing */
    harness_advance(&f->h, 1);
    transfers_tick(srv);
    assert_int_equal(fake_peer_count(srv), calls + 1);
    struct fake_call *again = batch_to(f, p, e.target[1]);
    assert_non_null(again);
    assert_null(batch_to(f, p, e.target[0])); /* it has the batch */
    assert_int_equal(batch_of(again)->n_entries, TEST_KEYS);
    assert_string_equal(info_of(f, p).state, "sending");
    drive(f);
    assert_int_equal(f->got[p][e.target[0]].entries, TEST_KEYS);
    assert_int_equal(f->got[p][e.target[1]].entries, TEST_KEYS);
}

static void
target_refusing_at_once_is_tried_again_after_the_pause(void **state)
{
    struct fixture *f = *state;
    struct expected e;
    uint32_t p = pick(f, false, 1, 0, 0, &e);
    uint64_t to = e.target[0];
    struct server *srv = &f->h.srv;
    fake_peer_refuse(srv, harness_address(to), -ECONNREFUSED);
    transfers_tick(srv);
    assert_null(batch_to(f, p, to));
    assert_string_equal(info_of(f, p).state, "retrying");
    fake_peer_refuse(srv, harness_address(to), 0);
    transfers_tick(srv);
    assert_null(batch_to(f, p, to));
    harness_advance(&f->h, TRANSFER_RETRY_MS);
    transfers_tick(srv);
    assert_non_null(batch_to(f, p, to));
}

static void
handoff_deletes_keys_only_after_every_target_took_them(void **state)
{
    struct fixture *f = *state;
    struct expected e;
    uint32_t p = pick(f, true, 2, TEST_KEYS, TEST_VALUE_BYTES, &e);
    transfers_tick(&f->h.srv);
    ack_but_the_last(f, p, &e);
    harness_run_writes(&f->h);
    assert_int_equal(keys_here(f, p, TEST_KEYS), TEST_KEYS);
    ack_batch(f, batch_to(f, p, e.target[e.count - 1]));
    harness_run_writes(&f->h);
    assert_int_equal(keys_here(f, p, TEST_KEYS), 0);
}

static void
handoff_failed_by_one_target_deletes_nothing(void **state)
{
    struct fixture *f = *state;
    struct expected e;
    uint32_t p = pick(f, true, 1, TEST_KEYS, TEST_VALUE_BYTES, &e);
    transfers_tick(&f->h.srv);
    ack_but_the_last(f, p, &e);
    fake_peer_fail(batch_to(f, p, e.target[e.count - 1]), -DYN_ETIMEDOUT);
    harness_run_writes(&f->h);
    assert_int_equal(keys_here(f, p, TEST_KEYS), TEST_KEYS);
}

static void
handoff_deletes_nothing_once_this_node_replicates_the_partition_again(
    void **state)
{
    struct fixture *f = *state;
    struct expected e;
    uint32_t p = pick(f, true, 1, TEST_KEYS, TEST_VALUE_BYTES, &e);
    transfers_tick(&f->h.srv);
    /* Before the targets answer, the ring goes back to the three (a newer
     * epoch), in which this node replicates every partition again. */
    struct dyn_ring *back;
    assert_int_equal(dyn_ring_copy(f->old, &back), 0);
    back->epoch = f->h.srv.ring->epoch + 1;
    harness_adopt(&f->h, back);
    drive(f);
    assert_int_equal(keys_here(f, p, TEST_KEYS), TEST_KEYS);
}

static void
key_written_during_a_handoff_is_kept_then_handed_off_by_the_next_sweep(
    void **state)
{
    struct fixture *f = *state;
    struct expected e;
    uint32_t p = pick(f, true, 1, TEST_KEYS, TEST_VALUE_BYTES, &e);
    struct server *srv = &f->h.srv;
    transfers_tick(srv);
    char key[TEST_KEY_BYTES];
    key_of(f, p, 0, key);
    harness_store_put(&f->h, key, "written meanwhile");
    drive(f);
    assert_int_equal(keys_here(f, p, TEST_KEYS), 1);
    struct dyn_object kept;
    assert_int_equal(harness_store_get(&f->h, key, &kept), 0);
    assert_int_equal(kept.sibling_count, 2); /* the write and the old */
    dyn_object_free(&kept);

    memset(f->got[p], 0, sizeof(f->got[p]));
    harness_advance(&f->h, TRANSFER_SWEEP_MS);
    drive(f);
    for (uint32_t i = 0; i < e.count; i++)
        assert_int_equal(f->got[p][e.target[i]].entries, 1);
    assert_int_equal(keys_here(f, p, TEST_KEYS), 0);
}

static uint32_t
transfers_expected(const struct fixture *f)
{
    uint32_t n = 0;
    for (uint32_t p = 0; p < TEST_Q; p++)
        n += expected_for(f, p).count > 0;
    return n;
}

struct file_seen {
    uint32_t lines;
    bool bad; /* a line that is not what expected_for says */
    const struct fixture *f;
};

static void
file_line(void *arg, const struct transfer_file_entry *line)
{
    struct file_seen *seen = arg;
    struct expected e = expected_for(seen->f, line->partition);
    unsigned flags =
        TRANSFER_FILE_WHOLE | (e.handoff ? TRANSFER_FILE_HANDOFF : 0);
    seen->lines++;
    seen->bad |=
        line->flags != flags || line->target_count != e.count ||
        memcmp(line->target, e.target, e.count * sizeof(e.target[0])) != 0;
}

/* The lines of the transfers file, each checked against expected_for;
 * -ENOENT when there is no file. */
static int
file_lines(struct fixture *f)
{
    struct file_seen seen = {.f = f};
    uint32_t bad;
    int rc = transfer_file_read(f->h.data_dir, TEST_Q, file_line, &seen, &bad);
    assert_int_equal(bad, 0);
    assert_false(seen.bad);
    return rc < 0 ? rc : (int)seen.lines;
}

static void
transfers_file_lists_the_transfers_until_they_are_done(void **state)
{
    struct fixture *f = *state;
    put_keys(f, 0, TEST_KEYS, TEST_VALUE_BYTES);
    assert_int_equal(file_lines(f), -ENOENT);
    change_ring(f);
    /* Written before the ring is adopted, so a crash loses none. */
    assert_int_equal(file_lines(f), (int)transfers_expected(f));
    drive(f);
    assert_int_equal(file_lines(f), 0);
}

static void
transfers_not_started_resume_from_the_file_after_a_restart(void **state)
{
    struct fixture *f = *state;
    struct expected e;
    uint32_t p = pick(f, false, 1, TEST_KEYS, TEST_VALUE_BYTES, &e);
    uint64_t to = e.target[0];
    struct server *srv = &f->h.srv;
    uint32_t queued = transfers_count(srv);
    assert_int_equal(queued, transfers_expected(f));
    /* The engine stops with nothing in flight, and starts again. */
    transfers_stop(srv);
    assert_int_equal(transfers_init(srv), 0);
    assert_int_equal(transfers_count(srv), queued);
    drive(f);
    assert_int_equal(f->got[p][to].entries, TEST_KEYS);
}

static void
transfer_slots_bound_the_transfers_running_at_once(void **state)
{
    struct fixture *f = *state;
    f->h.cfg.transfer_slots = 1;
    change_ring(f);
    struct server *srv = &f->h.srv;
    transfers_tick(srv);
    uint32_t sending = 0;
    struct transfer_info all[TEST_Q];
    uint32_t n = transfers_report(srv, all, TEST_Q);
    for (uint32_t i = 0; i < n; i++)
        sending += strcmp(all[i].state, "waiting") != 0;
    assert_int_equal(sending, 1);
    uint32_t p =
        batch_of(fake_peer_next(srv, NULL, DYN_MSG_TRANSFER_REQ))->partition;
    for (uint32_t i = 0; i < fake_peer_count(srv); i++)
        assert_int_equal(batch_of(fake_peer_call(srv, i))->partition, p);
    drive(f); /* one after another, to the end */
    assert_int_equal(transfers_count(srv), 0);
}

static void
transfer_slots_zero_pauses_every_transfer(void **state)
{
    struct fixture *f = *state;
    f->h.cfg.transfer_slots = 0;
    change_ring(f);
    transfers_tick(&f->h.srv);
    assert_int_equal(fake_peer_count(&f->h.srv), 0);
    struct transfer_info info = info_of(f, partition_where(f, false, 1));
    assert_string_equal(info.state, "waiting");
    assert_non_null(strstr(info.why, "paused"));
}

#define TRANSFER_TEST(name)                                                    \
    cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TRANSFER_TEST(
            ring_change_sends_each_replicated_partition_to_each_new_replica),
        TRANSFER_TEST(
            partition_of_more_keys_than_a_batch_goes_in_batches_in_key_order),
        TRANSFER_TEST(batches_hold_at_most_transfer_batch_bytes),
        TRANSFER_TEST(empty_partition_gets_only_its_last_batch),
        TRANSFER_TEST(
            failed_target_gets_the_batch_again_after_the_pause_and_only_it),
        TRANSFER_TEST(target_refusing_at_once_is_tried_again_after_the_pause),
        TRANSFER_TEST(handoff_deletes_keys_only_after_every_target_took_them),
        TRANSFER_TEST(handoff_failed_by_one_target_deletes_nothing),
        TRANSFER_TEST(
            handoff_deletes_nothing_once_this_node_replicates_the_partition_again),
        TRANSFER_TEST(
            key_written_during_a_handoff_is_kept_then_handed_off_by_the_next_sweep),
        TRANSFER_TEST(transfers_file_lists_the_transfers_until_they_are_done),
        TRANSFER_TEST(
            transfers_not_started_resume_from_the_file_after_a_restart),
        TRANSFER_TEST(transfer_slots_bound_the_transfers_running_at_once),
        TRANSFER_TEST(transfer_slots_zero_pauses_every_transfer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
