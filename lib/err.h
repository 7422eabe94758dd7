/*
 * err.h - project error codes, names and messages.
 *
 * Every function in lib/ returns 0 (or a count) on success and a negative
 * code on failure.  System errors pass through as -errno, libuv errors as
 * their own negative UV_* codes; the project's own codes, returned as
 * -DYN_ENOTFOUND and so on (the enum values are positive, like errno
 * values), live in -1000..-1999 so that the three never collide.  One
 * table, DYN_ERRNO_MAP, yields the enum, dyn_strerror() and
 * dyn_err_name().
 *
 * Thread-safe: all functions here are pure.
 */
#ifndef DYN_ERR_H
#define DYN_ERR_H

/* XX(name, value, message) */
#define DYN_ERRNO_MAP(XX)                                                      \
    XX(ENOTFOUND, 1000, "not found")                                           \
    XX(EQUORUM, 1001, "quorum not reached")                                    \
    XX(ETIMEDOUT, 1002, "request timed out")                                   \
    XX(EFRAME, 1003, "malformed frame")                                        \
    XX(EFRAMESIZE, 1004, "frame larger than max_frame_bytes")                  \
    XX(EBADCODE, 1005, "unknown message code")                                 \
    XX(EDECODE, 1006, "message body does not decode")                          \
    XX(EKEYSIZE, 1007, "key empty or longer than max_key_bytes")               \
    XX(EVALUESIZE, 1008, "value longer than max_value_bytes")                  \
    XX(ESIBLINGS, 1009, "too many siblings")                                   \
    XX(ESTOREFULL, 1010, "store full (storage.max_bytes reached)")             \
    XX(ECHECKSUM, 1011, "stored object failed its checksum")                   \
    XX(EBADCONTEXT, 1012, "context token is not valid")                        \
    XX(ECONFIG, 1013, "configuration error")                                   \
    XX(EWRONGCLUSTER, 1014, "peer belongs to another cluster")                 \
    XX(ESHUTDOWN, 1015, "node is shutting down")                               \
    XX(EBUSY, 1016, "too many pending requests")                               \
    XX(EBADARG, 1017, "invalid argument")                                      \
    XX(EFORMAT, 1018, "stored data has an unknown format")                     \
    XX(EPROTO, 1019, "unexpected message")                                     \
    XX(EINTERNAL, 1020, "internal error")                                      \
    XX(EOBJECTSIZE, 1021, "object too large (max_object_bytes)")               \
    XX(EUNAVAILABLE, 1022, "no replica available")                             \
    XX(ENOTMEMBER, 1023, "not a member of this cluster")                       \
    XX(ECONTEXTAHEAD, 1024, "context names writes this node never made")       \
    XX(ECOUNTER, 1025, "this node's write counter for the key is used up")     \
    XX(EIDCLASH, 1026, "another node has this node's id")                      \
    XX(EFOREIGN, 1027, "the peer does not speak the dynamo protocol")          \
    XX(ECHANGING, 1040, "another membership change is in flight")              \
    XX(EMEMBERUP, 1041, "the member answers pings: it is up")

enum dyn_err {
#define DYN_ERR_ENUM(name, value, msg) DYN_##name = (value),
    DYN_ERRNO_MAP(DYN_ERR_ENUM)
#undef DYN_ERR_ENUM
};

/*
 * Return a static message for any negative code: a project code, -errno,
 * or a libuv code.  Never NULL.
 */
const char *dyn_strerror(int code);

/*
 * Return a static symbolic name ("DYN_ENOTFOUND", "ENOENT") for a code,
 * or "UNKNOWN".  Never NULL.
 */
const char *dyn_err_name(int code);

#endif
