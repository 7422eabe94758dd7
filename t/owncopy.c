/*
 * owncopy.c - read one node's own copy of keys, for the bats tests: a
 * ReplicaGetReq with `direct` set (dynamo.proto), as a peer sends it, so
 * neither a quorum nor a previous replica is consulted.
 *
 *   owncopy get HOST:PORT KEY...       for each KEY, one line: the key,
 *                                      then the value of each live
 *                                      sibling, in dot order, separated
 *                                      by single spaces; a key the node
 *                                      holds nothing live of: the key
 *   owncopy replicas HOST:PORT KEY...  for each KEY, one line: the key,
 *                                      then the addresses of its replicas
 *                                      in the ring the node holds
 *
 * Keys and values are printed as they are (the tests use plain words).
 * One connection for all the keys.
 * Exit 0; 2 for a bad argument; 3 when the node does not answer.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "dvv.h"
#include "err.h"
#include "ring.h"
#include "wire.h"

#define OWNCOPY_TIMEOUT_MS 5000
#define OWNCOPY_MAX_VALUE_BYTES (16u << 20)
#define OWNCOPY_EXIT_USAGE 2
#define OWNCOPY_EXIT_UNAVAILABLE 3

/* Print KEY and its live values; false when the node failed to answer. */
static bool
print_copy(struct client *c, const char *key)
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
        return false;
    }
    const Dynpb__ReplicaGetResp *r = (const Dynpb__ReplicaGetResp *)resp;
    struct dyn_object obj;
    dyn_object_init(&obj);
    if (r->object.len > 0 &&
        (rc = dyn_object_decode(&obj, r->object.data, r->object.len,
                                OWNCOPY_MAX_VALUE_BYTES)) < 0) {
        fprintf(stderr, "owncopy: %s: object does not decode: %s\n", key,
                dyn_strerror(rc));
        dyn_wire_msg_free(resp);
        return false;
    }
    fputs(key, stdout);
    for (uint32_t i = 0; i < obj.sibling_count; i++)
        if (!obj.siblings[i].deleted)
            printf(" %.*s", (int)obj.siblings[i].value_len,
                   (const char *)obj.siblings[i].value);
    putchar('\n');
    dyn_object_free(&obj);
    dyn_wire_msg_free(resp);
    return true;
}

/* Print each key's replicas in the node's ring; false on failure. */
static bool
print_replicas(struct client *c, char **keys, int count)
{
    Dynpb__RingReq req = DYNPB__RING_REQ__INIT;
    ProtobufCMessage *resp;
    struct dyn_ring *ring;
    int rc = client_call(c, &req.base, &dynpb__ring_resp__descriptor, &resp);
    if (rc < 0) {
        fprintf(stderr, "owncopy: ring: %s\n", c->err);
        return false;
    }
    const Dynpb__RingResp *r = (const Dynpb__RingResp *)resp;
    rc = dyn_ring_decode(r->ring.data, r->ring.len, &ring);
    dyn_wire_msg_free(resp);
    if (rc < 0) {
        fprintf(stderr, "owncopy: ring: %s\n", dyn_strerror(rc));
        return false;
    }
    for (int i = 0; i < count; i++) {
        uint32_t idx[DYN_RING_MAX_N];
        uint32_t p = dyn_ring_partition_of((const uint8_t *)keys[i],
                                           strlen(keys[i]), ring->partitions);
        int n = dyn_ring_preflist(ring, p, idx, DYN_RING_MAX_N);
        fputs(keys[i], stdout);
        for (int k = 0; k < n; k++)
            printf(" %s", ring->members[idx[k]].address);
        putchar('\n');
    }
    dyn_ring_free(ring);
    return true;
}

int
main(int argc, char **argv)
{
    bool get = argc >= 4 && strcmp(argv[1], "get") == 0;
    if (!get && (argc < 4 || strcmp(argv[1], "replicas") != 0)) {
        fprintf(stderr, "usage: owncopy get|replicas HOST:PORT KEY...\n");
        return OWNCOPY_EXIT_USAGE;
    }
    struct client c;
    int rc = client_connect(&c, argv[2], OWNCOPY_TIMEOUT_MS);
    if (rc < 0) {
        fprintf(stderr, "owncopy: %s: %s\n", argv[2], c.err);
        return rc == -DYN_EBADARG ? OWNCOPY_EXIT_USAGE
                                  : OWNCOPY_EXIT_UNAVAILABLE;
    }
    int status = 0;
    if (!get && !print_replicas(&c, argv + 3, argc - 3))
        status = OWNCOPY_EXIT_UNAVAILABLE;
    for (int i = 3; get && i < argc && status == 0; i++)
        if (!print_copy(&c, argv[i]))
            status = OWNCOPY_EXIT_UNAVAILABLE;
    client_close(&c);
    return status;
}
