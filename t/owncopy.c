/*
 * owncopy.c - what one node holds of keys in its own store, for the bats
 * tests: not a quorum read, but each node's copy as a replica reads it
 * for a peer (ReplicaGetReq with `direct`, or with hint_for the hint it
 * keeps for another node).
 *
 *   owncopy HOST:PORT KEY...   for each key, one line: the key, a space,
 *                              then its live values in dot order joined
 *                              by ',' (nothing after the space when the
 *                              node holds no live version of it)
 *   owncopy -p Q KEY...        for each key, its partition in a ring of
 *                              Q partitions (dynctl ring --json lists
 *                              each partition's replicas)
 *
 * Values are printed as they are: the tests write printable ones.
 * Exit 0; 2 for a bad argument; 3 when the node cannot be asked or
 * answers with an error (one line on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "dvv.h"
#include "err.h"
#include "ring.h"
#include "wire.h"

#define OWNCOPY_TIMEOUT_MS 5000
#define OWNCOPY_MAX_VALUE_BYTES (1u << 24)

static int
show_key(struct client *c, const char *key)
{
    Dynpb__ReplicaGetReq req = DYNPB__REPLICA_GET_REQ__INIT;
    req.key.data = (uint8_t *)key;
    req.key.len = strlen(key);
    req.direct = true;
    ProtobufCMessage *resp;
    int rc =
        client_call(c, &req.base, &dynpb__replica_get_resp__descriptor, &resp);
    if (rc < 0) {
        fprintf(stderr, "owncopy: %s: %s\n", key, c->err);
        return 3;
    }
    const Dynpb__ReplicaGetResp *r = (const Dynpb__ReplicaGetResp *)resp;
    struct dyn_object obj;
    dyn_object_init(&obj);
    rc = r->object.len == 0
             ? 0
             : dyn_object_decode(&obj, r->object.data, r->object.len,
                                 OWNCOPY_MAX_VALUE_BYTES);
    if (rc < 0) {
        fprintf(stderr, "owncopy: %s: the copy does not decode: %s\n", key,
                dyn_strerror(rc));
        dyn_wire_msg_free(resp);
        return 3;
    }
    printf("%s ", key);
    const char *sep = "";
    for (uint32_t i = 0; i < obj.sibling_count; i++) {
        const struct dyn_sibling *s = &obj.siblings[i];
        if (s->deleted)
            continue;
        printf("%s%.*s", sep, (int)s->value_len, (const char *)s->value);
        sep = ",";
    }
    printf("\n");
    dyn_object_free(&obj);
    dyn_wire_msg_free(resp);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: owncopy HOST:PORT KEY... | -p Q KEY...\n");
        return 2;
    }
    if (strcmp(argv[1], "-p") == 0) {
        long q = argc > 3 ? strtol(argv[2], NULL, 10) : 0;
        if (q < 1 || q > 65536 || (q & (q - 1)) != 0) {
            fprintf(stderr, "owncopy: -p Q: a power of two up to 65536\n");
            return 2;
        }
        for (int i = 3; i < argc; i++)
            printf("%s %u\n", argv[i],
                   dyn_ring_partition_of((const uint8_t *)argv[i],
                                         strlen(argv[i]), (uint32_t)q));
        return 0;
    }
    struct client c;
    if (client_connect(&c, argv[1], OWNCOPY_TIMEOUT_MS) < 0) {
        fprintf(stderr, "owncopy: %s: %s\n", argv[1], c.err);
        client_close(&c);
        return 3;
    }
    int rc = 0;
    for (int i = 2; i < argc && rc == 0; i++)
        rc = show_key(&c, argv[i]);
    client_close(&c);
    return rc;
}
