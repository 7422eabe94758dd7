/*
 * idclash.c - two live nodes with one id (idclash.h).
 *
 * Loop thread; no I/O.
 */
#include "idclash.h"

#include <string.h>

void
idclash_init(struct idclash_table *t)
{
    memset(t, 0, sizeof(*t));
}

/* The slot of `id`, else a free one, else the least recently heard. */
static struct idclash_slot *
slot_for(struct idclash_table *t, uint64_t id)
{
    struct idclash_slot *oldest = &t->slot[0];
    for (unsigned i = 0; i < IDCLASH_SLOTS; i++) {
        struct idclash_slot *s = &t->slot[i];
        if (s->heard_ms != 0 && s->who.id == id)
            return s;
        if (s->heard_ms < oldest->heard_ms)
            oldest = s;
    }
    return oldest;
}

bool
idclash_heard(struct idclash_table *t, const struct idclash_identity *who,
              uint64_t now_ms, struct idclash_identity *other, bool *report)
{
    struct idclash_slot *s = slot_for(t, who->id);
    bool same_id = s->heard_ms != 0 && s->who.id == who->id;
    bool clash = same_id && strcmp(s->who.address, who->address) != 0 &&
                 now_ms - s->heard_ms <= IDCLASH_WINDOW_MS;
    *report = false;
    if (!same_id)
        s->reported_ms = 0;
    if (clash) {
        *other = s->who;
        *report =
            s->reported_ms == 0 || now_ms - s->reported_ms > IDCLASH_WINDOW_MS;
        if (*report)
            s->reported_ms = now_ms > 0 ? now_ms : 1;
    }
    s->who = *who;
    s->heard_ms = now_ms > 0 ? now_ms : 1; /* 0 marks a free slot */
    return clash;
}

bool
idclash_is_newer(const struct idclash_identity *self,
                 const struct idclash_identity *other)
{
    if (self->started_ms != other->started_ms)
        return self->started_ms > other->started_ms;
    return strcmp(self->address, other->address) > 0;
}
