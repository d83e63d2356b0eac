/* SPDX-License-Identifier: MIT */
/*
 * transport_tcp: what the TCP + OpenSSL transport (transport_tcp.c) gives
 * the connect loop (transport_connect.c). Not for probes: they use
 * transport.h.
 */
#ifndef MH_TRANSPORT_TCP_H
#define MH_TRANSPORT_TCP_H

#include "transport.h"

/* Makes a transport of the connected socket fd (owned from here on: closed
 * by mh_transport_free, or at once when memory runs out). Returns NULL
 * when memory runs out. */
struct mh_transport *mh_tcp_transport_wrap(int fd);

/* Waits until fd is ready for events (POLLIN/POLLOUT) or dl passes:
 * MH_IO_OK, MH_IO_TIMEOUT, or MH_IO_ERROR (poll failed). */
enum mh_io mh_tcp_wait_fd(int fd, short events, const struct mh_deadline *dl);

#endif
