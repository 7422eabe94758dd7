/*
 * err.c - messages and names for the codes of err.h.
 *
 * Project codes come from DYN_ERRNO_MAP; anything else is taken as -errno
 * (glibc's static descriptions).  Most libuv codes on Linux are -errno;
 * the few that are not (UV_EOF, UV_EAI_*) read as "unknown error" here,
 * and code that holds a libuv code uses uv_strerror() instead.
 */
#include "err.h"

#include <errno.h>
#include <string.h>

const char *
dyn_strerror(int code)
{
    switch (code) {
#define DYN_ERR_MSG(name, value, msg)                                          \
    case -(value):                                                             \
        return msg;
        DYN_ERRNO_MAP(DYN_ERR_MSG)
#undef DYN_ERR_MSG
    default:
        break;
    }
    if (code < 0 && code > -4096) {
        /* Unlike strerror(), a static string or NULL, never a buffer that
         * a later call reuses. */
        const char *desc = strerrordesc_np(-code);
        if (desc != NULL)
            return desc;
    }
    return "unknown error";
}

const char *
dyn_err_name(int code)
{
    switch (code) {
#define DYN_ERR_NAME(name, value, msg)                                         \
    case -(value):                                                             \
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
