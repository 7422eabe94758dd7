/*
 * wire_parse.h - hand-written decoders of the messages received once per
 * request (GetReq, PutReq, GetResp, PutResp and the four Replica*
 * messages), several times faster than protobuf-c's.
 *
 * They decode into the same protobuf-c structs, but every bytes field
 * points into the body given (nothing is copied), and every struct is
 * taken from an arena.  They take only what they are sure protobuf-c
 * would decode to the same struct: a well-formed body of known fields,
 * each present at most once, one-byte tags, bools 0 or 1, varints that
 * fit 64 bits, length prefixes of at most 5 bytes.  Anything
 * else (an unknown field, a field twice, a truncated body, another
 * message type) is declined, and the caller decodes it with protobuf-c,
 * which then accepts or rejects it by its own rules.  So these decoders
 * never reject anything themselves, and never change what is accepted.
 *
 * wire.c's dyn_wire_decode_borrowed() uses them.  dyn_wire_peek_answer()
 * below is of another kind: it reads two fields of an answer and skips
 * the rest unchecked, for a client that wants only those (dyn bench).
 * No allocation outside the arena; thread-safe with separate arenas.
 */
#ifndef DYN_WIRE_PARSE_H
#define DYN_WIRE_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "dynamo.pb-c.h"

struct dyn_arena;

enum dyn_wire_parse_result {
    DYN_WIRE_PARSED,   /* *out is the message */
    DYN_WIRE_DECLINED, /* not taken: decode with protobuf-c */
    DYN_WIRE_NOMEM,    /* the arena is out of memory */
};

/*
 * Decode `body` (len bytes) of message `code` (wire.h).  On
 * DYN_WIRE_PARSED, *out lives in `arena` and borrows from `body`: it is
 * valid until the arena is reset or the body goes, whichever is first.  On
 * DYN_WIRE_DECLINED the arena may hold a few unused bytes.
 */
enum dyn_wire_parse_result dyn_wire_parse(uint8_t code, const uint8_t *body,
                                          size_t len, struct dyn_arena *arena,
                                          ProtobufCMessage **out);

/*
 * The id and the context of a GetResp or PutResp body, the rest of it
 * skipped unread: what a client that keeps only each answer's causal
 * context needs (dyn bench, whose answers to redis are skipped alike).
 * The body's top level is held to dyn_wire_parse()'s rules (false when
 * it would decline it, or for another code), but its submessages are
 * not looked into: true does not mean protobuf-c would take the body,
 * only that when it does, it reads this id and this context.  *context
 * borrows from body.
 */
bool dyn_wire_peek_answer(uint8_t code, const uint8_t *body, size_t len,
                          uint64_t *id, ProtobufCBinaryData *context);

#endif
