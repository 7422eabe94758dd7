/*
 * ringjson.c - a ring's members as JSON (ringjson.h).
 */
#include "ringjson.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

void
ringjson_begin(struct json *j, const struct dyn_ring *r)
{
    json_init(j, stdout);
    json_begin_object(j);
    json_key(j, "epoch"), json_uint(j, r->epoch);
    json_key(j, "partitions"), json_uint(j, r->partitions);
    json_key(j, "n"), json_uint(j, r->n);
}

bool
ringjson_match(const struct dyn_ring_member *m, const char *node)
{
    return node == NULL || strcmp(m->name, node) == 0 ||
           strcmp(m->address, node) == 0;
}

void
ringjson_print_members(const struct dyn_ring *r, const char *node)
{
    struct json j;
    ringjson_begin(&j, r);
    json_key(&j, "nodes");
    json_begin_array(&j);
    for (uint32_t i = 0; i < r->member_count; i++) {
        const struct dyn_ring_member *m = &r->members[i];
        if (!ringjson_match(m, node))
            continue;
        uint32_t owned = dyn_ring_owned(r, i);
        json_begin_object(&j);
        json_key(&j, "name"), json_string(&j, m->name);
        json_key(&j, "address"), json_string(&j, m->address);
        json_key(&j, "zone");
        *m->zone ? json_string(&j, m->zone) : json_null(&j);
        json_key(&j, "partitions"), json_uint(&j, owned);
        json_key(&j, "ownership_pct");
        json_double(&j, 100.0 * owned / r->partitions, 2);
        json_end_object(&j);
    }
    json_end_array(&j);
    json_end_object(&j);
    json_finish(&j);
}
