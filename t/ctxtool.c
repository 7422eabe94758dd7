/*
 * ctxtool.c - read and forge context tokens (lib/dvv.h) for the bats
 * tests, as any client could with the token's documented encoding.
 *
 *   ctxtool show TOKEN                 "NODE COUNTER" per entry, NODE in
 *                                      hex as 'dyn get --json' shows dots
 *   ctxtool raise TOKEN NODE COUNTER   TOKEN with NODE's entry raised to
 *                                      COUNTER (added if it has none)
 *
 * Exit 0; 2 with one line on stderr for a bad argument, 1 out of memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvv.h"
#include "err.h"

#define CTXTOOL_EXIT_USAGE 2

/* A whole string as an unsigned 64-bit number in `base`, or false. */
static bool
parse_u64(const char *s, int base, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        return false;
    *out = v;
    return true;
}

static int
usage(void)
{
    fprintf(stderr, "usage: ctxtool show TOKEN | raise TOKEN NODE COUNTER\n");
    return CTXTOOL_EXIT_USAGE;
}

static int
raise_entry(struct dyn_vv *vv, const char *node_hex, const char *counter)
{
    struct dyn_vv_entry e = {0, 0, 1};
    struct dyn_vv one = {1, &e};
    if (!parse_u64(node_hex, 16, &e.node) || e.node == 0 ||
        !parse_u64(counter, 10, &e.counter) || e.counter == 0) {
        fprintf(stderr, "ctxtool: bad NODE '%s' or COUNTER '%s'\n", node_hex,
                counter);
        return CTXTOOL_EXIT_USAGE;
    }
    char *token = NULL;
    if (dyn_vv_join(vv, &one) != 0 ||
        (token = dyn_context_to_token(vv)) == NULL) {
        fprintf(stderr, "ctxtool: out of memory\n");
        return EXIT_FAILURE;
    }
    printf("%s\n", token);
    free(token);
    return 0;
}

int
main(int argc, char **argv)
{
    bool show = argc == 3 && strcmp(argv[1], "show") == 0;
    bool forge = argc == 5 && strcmp(argv[1], "raise") == 0;
    if (!show && !forge)
        return usage();
    struct dyn_vv vv;
    int rc = dyn_context_from_token(&vv, argv[2]);
    if (rc != 0) {
        fprintf(stderr, "ctxtool: %s: %s\n", argv[2], dyn_strerror(rc));
        return CTXTOOL_EXIT_USAGE;
    }
    if (show)
        for (uint32_t i = 0; i < vv.len; i++)
            printf("%016" PRIx64 " %" PRIu64 "\n", vv.entry[i].node,
                   vv.entry[i].counter);
    else
        rc = raise_entry(&vv, argv[3], argv[4]);
    dyn_vv_free(&vv);
    return rc;
}
