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

/* Everything the client wrote so far, NUL-terminated. */
const char *fake_transport_written(struct mh_transport *t);

/* Number of write calls so far. */
int fake_transport_writes(struct mh_transport *t);

#endif
