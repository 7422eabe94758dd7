/*
 * shcmd.h - what the shell's commands share.
 */
#ifndef DYN_CLI_SHCMD_H
#define DYN_CLI_SHCMD_H

#include "cmd.h"
#include "kvops.h"

/*
 * Put or delete wr->key with -C's context, or else the one the shell
 * remembers for the key, and report it for people ("superseded the N
 * versions shown"), or with --json as dyn put --json does.  Reads -w.
 * `what` is "put" or "del".  Exit code.
 */
int shcmd_write(struct cli *cli, struct cli_args *args, const char *what,
                struct kv_write *wr);

#endif
