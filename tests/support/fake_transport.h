/* SPDX-License-Identifier: MIT */
/*
 * fake_transport: a scripted server behind the transport seam, for unit
 * tests of the probes. Each step is server output that becomes readable once
 * the client has written `after_writes` commands (write calls), delivered in
 * pieces of at most `chunk` bytes per read (0: all at once) so tests can
 * prove that replies are reassembled across segments.
 */
#ifndef MH_FAKE_TRANSPORT_H
#define MH_FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "transport.h"

struct fake_step {
    const char *data; /* bytes the server sends (NUL-terminated) */
    int after_writes; /* readable after this many client writes */
};

/*
 * Creates a transport playing steps[0..n). When the client reads and no
 * step is readable, the read ends with at_end (MH_IO_EOF for a server that
 * closed, MH_IO_TIMEOUT for one that stays silent). start_tls always fails
 * with MH_IO_TLS. Free with mh_transport_free().
 */
struct mh_transport *fake_transport_new(const struct fake_step *steps, size_t n,
                                        size_t chunk, enum mh_io at_end);

/*
 * The same server for an event-driven client (transport.h try_* ops): the
 * test is the network. A read finds nothing (MH_IO_AGAIN, want POLLIN)
 * until fake_transport_arrive() has delivered the next piece: at most
 * `chunk` bytes (0: the rest of the step) of the next step the client's
 * writes have unlocked, or at_end (MH_IO_EOF; a silent server, at_end
 * MH_IO_TIMEOUT, delivers nothing). A write takes at most `wchunk` bytes
 * (0: all) and then waits for fake_transport_writable() (MH_IO_AGAIN,
 * want POLLOUT). The handshake fails with MH_IO_TLS. Writes are counted
 * per complete command line.
 */
struct mh_transport *fake_transport_new_events(const struct fake_step *steps,
                                               size_t n, size_t chunk,
                                               size_t wchunk,
                                               enum mh_io at_end);

/* Delivers the next piece; returns false when there is none (the server
 * waits for a command, or stays silent). */
bool fake_transport_arrive(struct mh_transport *t);

/* The socket may take more bytes. */
void fake_transport_writable(struct mh_transport *t);

/* Everything the client wrote so far, NUL-terminated. */
const char *fake_transport_written(struct mh_transport *t);

/* Number of write calls so far. */
int fake_transport_writes(struct mh_transport *t);

#endif
