#define _GNU_SOURCE  /* pthread_setname_np */
#include "CScopeGateShims.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

/// Keeps the request path exactly as the client sent it: ScopeGate canonicalises paths itself and must
/// see percent-escapes (%2F, %2e, ...) to refuse ambiguous targets. MHD's default unescaper decodes them.
static size_t scopegate_keep_raw(void *context, struct MHD_Connection *connection, char *string) {
    (void)context;
    (void)connection;
    return strlen(string);
}

struct MHD_Daemon *CScopeGateShims_start_daemon(unsigned int flags,
                                                uint16_t port,
                                                MHD_AccessHandlerCallback handler,
                                                void *handler_context,
                                                MHD_RequestCompletedCallback completed,
                                                void *completed_context,
                                                const struct MHD_OptionItem *options) {
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_context,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_context,
                            MHD_OPTION_UNESCAPE_CALLBACK, scopegate_keep_raw, NULL,
                            MHD_OPTION_ARRAY, options,
                            MHD_OPTION_END);
}

uint16_t CScopeGateShims_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

int CScopeGateShims_client_ip(struct MHD_Connection *connection, uint8_t *out) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL) {
        return 0;
    }
    const struct sockaddr *address = info->client_addr;
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;
        memcpy(out, &v4->sin_addr, 4);
        return 4;
    }
    if (address->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;
        memcpy(out, &v6->sin6_addr, 16);
        return 16;
    }
    return 0;
}

size_t CScopeGateShims_request_head_size(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    return info == NULL ? 0 : info->header_size;
}

int CScopeGateShims_set_thread_niceness(int niceness) {
#ifdef __linux__
    /* On Linux a nice value belongs to a thread, named by its kernel thread id. */
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), niceness);
#else
    (void)niceness;
    return 0;
#endif
}

int CScopeGateShims_set_thread_name(const char *name) {
#ifdef __linux__
    return pthread_setname_np(pthread_self(), name);
#else
    (void)name;
    return 0;
#endif
}

int CScopeGateShims_thread_slot(void) {
    static _Atomic int next = 0;
    static _Thread_local int slot = -1;
    if (slot < 0) slot = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
    return slot;
}
