/*
 * ringjson.h - a ring as JSON: the fields every ring document starts
 * with (dynctl ring --json), and the members with the partitions each
 * owns (dynctl tokens --json, which the shell's ring --json prints too).
 */
#ifndef DYN_CLI_RINGJSON_H
#define DYN_CLI_RINGJSON_H

#include <stdbool.h>

#include "ring.h"

struct json;

/* Start a ring's document on stdout: json_init `j`, open the object and
 * write "epoch", "partitions" and "n"; the caller adds the rest. */
void ringjson_begin(struct json *j, const struct dyn_ring *r);

/* True when NODE (a name or HOST:PORT; NULL: any) names member m. */
bool ringjson_match(const struct dyn_ring_member *m, const char *node);

/*
 * Print {"epoch", "partitions", "n", "nodes": [{"name", "address", "zone"
 * (null when none), "partitions", "ownership_pct"}]} on stdout, of the
 * members NODE names (NULL: all).
 */
void ringjson_print_members(const struct dyn_ring *r, const char *node);

#endif
