#ifndef CSCOPEGATESHIMS_H
#define CSCOPEGATESHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>

/// Starts a daemon. MHD_start_daemon is variadic, which Swift cannot call; this passes the caller's
/// option array through MHD_OPTION_ARRAY and adds the completion notifier and a raw-path unescaper.
struct MHD_Daemon *CScopeGateShims_start_daemon(unsigned int flags,
                                                uint16_t port,
                                                MHD_AccessHandlerCallback handler,
                                                void *handler_context,
                                                MHD_RequestCompletedCallback completed,
                                                void *completed_context,
                                                const struct MHD_OptionItem *options);

/// The port the daemon listens on (useful after binding port 0). MHD_get_daemon_info is variadic.
uint16_t CScopeGateShims_bound_port(struct MHD_Daemon *daemon);

/// Copies the peer's IP address into `out` (16 bytes) and returns its length: 4 (IPv4), 16 (IPv6), or 0
/// when the peer is not an IP socket. MHD_get_connection_info is variadic.
int CScopeGateShims_client_ip(struct MHD_Connection *connection, uint8_t *out);

/// The length of the request's head as libmicrohttpd read it, from the request line's first byte to the
/// blank line's last, or 0 when unknown. MHD_get_connection_info is variadic.
size_t CScopeGateShims_request_head_size(struct MHD_Connection *connection);

/// Lowers (or raises, as root) the calling thread's scheduling priority to `niceness`; 0 on success.
int CScopeGateShims_set_thread_niceness(int niceness);

/// Names the calling thread for the kernel (at most 15 bytes are kept); 0 on success.
int CScopeGateShims_set_thread_name(const char *name);

/// A small number of the calling thread's own, handed out in order of first call (0, 1, 2, …): threads
/// that record statistics pick their shard by it.
int CScopeGateShims_thread_slot(void);

#endif
