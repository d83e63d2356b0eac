/* SPDX-License-Identifier: MIT */
/*
 * mhd_loader: libmicrohttpd, loaded when the exporter starts.
 *
 * Only `run --listen` serves HTTP, but linking libmicrohttpd into
 * check_mailhealth would make the dynamic loader map and initialise it and
 * GnuTLS with its dependencies (nettle, p11-kit, libtasn1, libidn2 ...) on
 * every one-shot check a Nagios or Icinga host runs, the same cost
 * probes/curl_loader.c avoids for libcurl. So the binary does not link
 * libmicrohttpd: this module defines the libmicrohttpd functions the
 * exporter calls and forwards them to the library loaded with dlopen() by
 * mh_mhd_available(). The API, its types and documentation stay
 * libmicrohttpd's (microhttpd.h); the packages list libmicrohttpd12 as a
 * dependency, so it is there when the exporter is used.
 */
#include "mhd_loader.h"

#include "../probes/dlload.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The ABI we load: SONAME of libmicrohttpd 0.9.x. */
#define MH_LIBMHD_SONAME "libmicrohttpd.so.12"

/* The functions the exporter calls, filled by mh_dl_load() (dlload.h). */
static struct {
    struct MHD_Daemon *(*start_daemon_va)(unsigned int, uint16_t,
                                          MHD_AcceptPolicyCallback, void *,
                                          MHD_AccessHandlerCallback, void *,
                                          va_list);
    void (*stop_daemon)(struct MHD_Daemon *);
    MHD_socket (*quiesce_daemon)(struct MHD_Daemon *);
    const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *,
                                                   enum MHD_DaemonInfoType,
                                                   ...);
    struct MHD_Response *(*create_from_buffer)(size_t, void *,
                                               enum MHD_ResponseMemoryMode);
    struct MHD_Response *(*create_with_free)(size_t, void *,
                                             MHD_ContentReaderFreeCallback);
    /* Since libmicrohttpd 0.9.73; NULL with an older library. */
    struct MHD_Response *(*create_from_iovec)(const struct MHD_IoVec *,
                                              unsigned int,
                                              MHD_ContentReaderFreeCallback,
                                              void *);
    void (*destroy_response)(struct MHD_Response *);
    enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *,
                                           const char *);
    enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int,
                                      struct MHD_Response *);
    const char *(*lookup_value)(struct MHD_Connection *, enum MHD_ValueKind,
                                const char *);
    int (*get_values)(struct MHD_Connection *, enum MHD_ValueKind,
                      MHD_KeyValueIterator, void *);
    const union MHD_ConnectionInfo *(*get_connection_info)(
        struct MHD_Connection *, enum MHD_ConnectionInfoType, ...);
    void (*suspend)(struct MHD_Connection *);
    void (*resume)(struct MHD_Connection *);
    char *(*basic_auth_get)(struct MHD_Connection *, char **);
    enum MHD_Result (*basic_auth_fail)(struct MHD_Connection *, const char *,
                                       struct MHD_Response *);
    void (*free)(void *);
} api;

static const struct mh_dl_symbol symbols[] = {
    {"MHD_start_daemon_va", &api.start_daemon_va, false},
    {"MHD_stop_daemon", &api.stop_daemon, false},
    {"MHD_quiesce_daemon", &api.quiesce_daemon, false},
    {"MHD_get_daemon_info", &api.get_daemon_info, false},
    {"MHD_create_response_from_buffer", &api.create_from_buffer, false},
    {"MHD_create_response_from_buffer_with_free_callback",
     &api.create_with_free, false},
    /* Optional: without it the exporter copies the parts into one
     * buffer. */
    {"MHD_create_response_from_iovec", &api.create_from_iovec, true},
    {"MHD_destroy_response", &api.destroy_response, false},
    {"MHD_add_response_header", &api.add_response_header, false},
    {"MHD_queue_response", &api.queue_response, false},
    {"MHD_lookup_connection_value", &api.lookup_value, false},
    {"MHD_get_connection_values", &api.get_values, false},
    {"MHD_get_connection_info", &api.get_connection_info, false},
    {"MHD_suspend_connection", &api.suspend, false},
    {"MHD_resume_connection", &api.resume, false},
    {"MHD_basic_auth_get_username_password", &api.basic_auth_get, false},
    {"MHD_queue_basic_auth_fail_response", &api.basic_auth_fail, false},
    {"MHD_free", &api.free, false},
};

static struct mh_dl_library lib =
    MH_DL_LIBRARY(MH_LIBMHD_SONAME, "libmicrohttpd", symbols);

bool
mh_mhd_available(char *errbuf, size_t errlen)
{
    return mh_dl_available(&lib, errbuf, errlen);
}

struct MHD_Daemon *
MHD_start_daemon(unsigned int flags, uint16_t port,
                 MHD_AcceptPolicyCallback apc, void *apc_cls,
                 MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    if (!mh_dl_load(&lib)) {
        return NULL;
    }
    va_list ap;
    va_start(ap, dh_cls);
    struct MHD_Daemon *d =
        api.start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return d;
}

void
MHD_stop_daemon(struct MHD_Daemon *daemon)
{
    if (mh_dl_is_loaded(&lib) && daemon != NULL) {
        api.stop_daemon(daemon);
    }
}

MHD_socket
MHD_quiesce_daemon(struct MHD_Daemon *daemon)
{
    return mh_dl_load(&lib) ? api.quiesce_daemon(daemon) : MHD_INVALID_SOCKET;
}

/* Only info types without further arguments are used (MHD_DAEMON_INFO_
 * BIND_PORT). */
const union MHD_DaemonInfo *
MHD_get_daemon_info(struct MHD_Daemon *daemon, enum MHD_DaemonInfoType type,
                    ...)
{
    return mh_dl_load(&lib) ? api.get_daemon_info(daemon, type) : NULL;
}

struct MHD_Response *
MHD_create_response_from_buffer(size_t size, void *buffer,
                                enum MHD_ResponseMemoryMode mode)
{
    return mh_dl_load(&lib) ? api.create_from_buffer(size, buffer, mode) : NULL;
}

struct MHD_Response *
MHD_create_response_from_buffer_with_free_callback(
    size_t size, void *buffer, MHD_ContentReaderFreeCallback crfc)
{
    return mh_dl_load(&lib) ? api.create_with_free(size, buffer, crfc) : NULL;
}

struct MHD_Response *
MHD_create_response_from_iovec(const struct MHD_IoVec *iov, unsigned int iovcnt,
                               MHD_ContentReaderFreeCallback free_cb, void *cls)
{
    return mh_dl_load(&lib) && api.create_from_iovec != NULL
               ? api.create_from_iovec(iov, iovcnt, free_cb, cls)
               : NULL;
}

void
MHD_destroy_response(struct MHD_Response *response)
{
    if (mh_dl_is_loaded(&lib) && response != NULL) {
        api.destroy_response(response);
    }
}

enum MHD_Result
MHD_add_response_header(struct MHD_Response *response, const char *header,
                        const char *content)
{
    return mh_dl_load(&lib) ? api.add_response_header(response, header, content)
                            : MHD_NO;
}

enum MHD_Result
MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                   struct MHD_Response *response)
{
    return mh_dl_load(&lib)
               ? api.queue_response(connection, status_code, response)
               : MHD_NO;
}

const char *
MHD_lookup_connection_value(struct MHD_Connection *connection,
                            enum MHD_ValueKind kind, const char *key)
{
    return mh_dl_load(&lib) ? api.lookup_value(connection, kind, key) : NULL;
}

int
MHD_get_connection_values(struct MHD_Connection *connection,
                          enum MHD_ValueKind kind,
                          MHD_KeyValueIterator iterator, void *iterator_cls)
{
    return mh_dl_load(&lib)
               ? api.get_values(connection, kind, iterator, iterator_cls)
               : -1;
}

/* Only info types without further arguments are used (CLIENT_ADDRESS,
 * CONNECTION_FD). */
const union MHD_ConnectionInfo *
MHD_get_connection_info(struct MHD_Connection *connection,
                        enum MHD_ConnectionInfoType type, ...)
{
    return mh_dl_load(&lib) ? api.get_connection_info(connection, type) : NULL;
}

void
MHD_suspend_connection(struct MHD_Connection *connection)
{
    if (mh_dl_load(&lib)) {
        api.suspend(connection);
    }
}

void
MHD_resume_connection(struct MHD_Connection *connection)
{
    if (mh_dl_load(&lib)) {
        api.resume(connection);
    }
}

char *
MHD_basic_auth_get_username_password(struct MHD_Connection *connection,
                                     char **password)
{
    if (!mh_dl_load(&lib)) {
        if (password != NULL) {
            *password = NULL;
        }
        return NULL;
    }
    return api.basic_auth_get(connection, password);
}

enum MHD_Result
MHD_queue_basic_auth_fail_response(struct MHD_Connection *connection,
                                   const char *realm,
                                   struct MHD_Response *response)
{
    return mh_dl_load(&lib) ? api.basic_auth_fail(connection, realm, response)
                            : MHD_NO;
}

void
MHD_free(void *ptr)
{
    if (mh_dl_is_loaded(&lib)) {
        api.free(ptr);
    }
}
