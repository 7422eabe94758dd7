/*
 * err.c - messages and names for the codes of err.h.
 *
 * Project codes come from DYN_ERRNO_MAP; anything else is -errno, for which
 * strerror_r's text is used.  libuv codes on Linux are -errno too, so the
 * same path covers them without linking libuv into lib/.
 */
#include "err.h"

#include <errno.h>
#include <string.h>

const char *
dyn_strerror(int code)
{
    switch (code) {
#define DYN_ERR_MSG(name, value, msg)                                          \
    case -(value):                                                                \
        return msg;
        DYN_ERRNO_MAP(DYN_ERR_MSG)
#undef DYN_ERR_MSG
    default:
        break;
    }
    if (code < 0 && code > -4096) {
        /* strerror() of glibc returns a static string for known errnos. */
        return strerror(-code);
    }
    return "unknown error";
}

const char *
dyn_err_name(int code)
{
    switch (code) {
#define DYN_ERR_NAME(name, value, msg)                                         \
    case -(value):                                                                \
        return "DYN_" #name;
        DYN_ERRNO_MAP(DYN_ERR_NAME)
#undef DYN_ERR_NAME
    default:
        break;
    }
    if (code < 0 && code > -4096) {
        const char *name = strerrorname_np(-code);
        if (name != NULL)
            return name;
    }
    return "UNKNOWN";
}
