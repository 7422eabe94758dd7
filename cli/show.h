/*
 * show.h - a key's versions as the shell shows them to people: each
 * sibling numbered, its value (text as it is, or a preview of binary and
 * long values), its dot with the node's name, tombstones marked, and the
 * causal context the get returned, in node:counter form.
 */
#ifndef DYN_CLI_SHOW_H
#define DYN_CLI_SHOW_H

#include "shell.h"
#include "wire.h"

#define SHOW_TEXT_MAX 200   /* longer text is cut, with its length */
#define SHOW_HEX_PREVIEW 16 /* bytes shown of a binary value */

/* Print the siblings of `resp` for KEY to stdout. */
void show_versions(struct shell *sh, const char *key,
                   const Dynpb__GetResp *resp);

/* Print the value of one sibling on one line (no newline). */
void show_value(const uint8_t *data, size_t len);

#endif
