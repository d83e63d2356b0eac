/* SPDX-License-Identifier: MIT */
/*
 * fake_transport: scripted server for unit tests (see fake_transport.h).
 */
#include "fake_transport.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fake {
    const struct fake_step *steps;
    size_t n;
    size_t step;   /* current step */
    size_t offset; /* bytes of the current step already delivered */
    size_t chunk;
    enum mh_io at_end;
    int writes;
    char *written;
    size_t wlen;
    /* Event-driven mode: */
    size_t wchunk;
    bool readable;    /* a piece has arrived and not been read */
    bool at_end_seen; /* the end arrived */
    bool writable;
};

/* The step the next read takes bytes from, or NULL (none unlocked). */
static const char *
next_bytes(struct fake *f)
{
    while (f->step < f->n && f->offset >= strlen(f->steps[f->step].data)) {
        f->step++;
        f->offset = 0;
    }
    if (f->step >= f->n || f->steps[f->step].after_writes > f->writes) {
        return NULL;
    }
    return f->steps[f->step].data + f->offset;
}

/* Hands out one piece of data (at most chunk and cap bytes). */
static enum mh_io
deliver(struct fake *f, const char *data, char *buf, size_t cap, size_t *got)
{
    size_t len = strlen(data);
    if (f->chunk > 0 && len > f->chunk) {
        len = f->chunk;
    }
    if (len > cap) {
        len = cap;
    }
    memcpy(buf, data, len);
    f->offset += len;
    *got = len;
    return MH_IO_OK;
}

static enum mh_io
fake_read(struct mh_transport *t, char *buf, size_t cap, size_t *got,
          const struct mh_deadline *dl)
{
    (void)dl;
    struct fake *f = t->impl;
    const char *data = next_bytes(f);
    if (data == NULL) {
        if (f->at_end == MH_IO_TIMEOUT) {
            snprintf(t->err, sizeof t->err, "fake: silent");
        }
        return f->at_end;
    }
    return deliver(f, data, buf, cap, got);
}

/* Appends n bytes to what the client wrote. */
static int
record(struct fake *f, const char *buf, size_t n)
{
    char *w = realloc(f->written, f->wlen + n + 1);
    if (w == NULL) {
        return -1;
    }
    memcpy(w + f->wlen, buf, n);
    f->wlen += n;
    w[f->wlen] = '\0';
    f->written = w;
    return 0;
}

static enum mh_io
fake_write(struct mh_transport *t, const char *buf, size_t len,
           const struct mh_deadline *dl)
{
    (void)dl;
    struct fake *f = t->impl;
    if (record(f, buf, len) != 0) {
        return MH_IO_ERROR;
    }
    f->writes++;
    return MH_IO_OK;
}

static enum mh_io
fake_start_tls(struct mh_transport *t, const struct mh_tls_params *p,
               const struct mh_deadline *dl)
{
    (void)p;
    (void)dl;
    snprintf(t->err, sizeof t->err, "fake: TLS handshake failed");
    return MH_IO_TLS;
}

static void
fake_close(struct mh_transport *t)
{
    struct fake *f = t->impl;
    if (f != NULL) {
        free(f->written);
        free(f);
    }
    t->impl = NULL;
}

static enum mh_io
fake_try_read(struct mh_transport *t, char *buf, size_t cap, size_t *got)
{
    struct fake *f = t->impl;
    if (f->at_end_seen) {
        return f->at_end;
    }
    if (!f->readable) {
        t->want = POLLIN;
        return MH_IO_AGAIN;
    }
    f->readable = false;
    const char *data = next_bytes(f);
    if (data == NULL) {
        f->at_end_seen = true;
        return f->at_end;
    }
    return deliver(f, data, buf, cap, got);
}

static enum mh_io
fake_try_write(struct mh_transport *t, const char *buf, size_t len,
               size_t *done)
{
    struct fake *f = t->impl;
    *done = 0;
    if (!f->writable) {
        t->want = POLLOUT;
        return MH_IO_AGAIN;
    }
    size_t n = f->wchunk > 0 && len > f->wchunk ? f->wchunk : len;
    if (record(f, buf, n) != 0) {
        return MH_IO_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        f->writes += buf[i] == '\n';
    }
    *done = n;
    if (f->wchunk > 0) {
        f->writable = false;
    }
    if (n < len) {
        t->want = POLLOUT;
        return MH_IO_AGAIN;
    }
    return MH_IO_OK;
}

static enum mh_io
fake_try_start_tls(struct mh_transport *t, const struct mh_tls_params *p)
{
    return fake_start_tls(t, p, NULL);
}

static const struct mh_transport_ops fake_ops = {
    .read = fake_read,
    .write = fake_write,
    .start_tls = fake_start_tls,
    .close = fake_close,
};

static struct fake *
fake_new(const struct fake_step *steps, size_t n, size_t chunk,
         enum mh_io at_end)
{
    struct fake *f = calloc(1, sizeof *f);
    if (f != NULL) {
        f->steps = steps;
        f->n = n;
        f->chunk = chunk;
        f->at_end = at_end;
    }
    return f;
}

struct mh_transport *
fake_transport_new(const struct fake_step *steps, size_t n, size_t chunk,
                   enum mh_io at_end)
{
    struct fake *f = fake_new(steps, n, chunk, at_end);
    return f != NULL ? mh_transport_new(&fake_ops, f) : NULL;
}

static const struct mh_transport_ops fake_event_ops = {
    .read = fake_read,
    .write = fake_write,
    .start_tls = fake_start_tls,
    .close = fake_close,
    .try_read = fake_try_read,
    .try_write = fake_try_write,
    .try_start_tls = fake_try_start_tls,
};

struct mh_transport *
fake_transport_new_events(const struct fake_step *steps, size_t n, size_t chunk,
                          size_t wchunk, enum mh_io at_end)
{
    struct fake *f = fake_new(steps, n, chunk, at_end);
    if (f == NULL) {
        return NULL;
    }
    f->wchunk = wchunk;
    f->writable = true;
    return mh_transport_new(&fake_event_ops, f);
}

bool
fake_transport_arrive(struct mh_transport *t)
{
    struct fake *f = t->impl;
    if (f->readable || f->at_end_seen) {
        return true; /* not read yet, or the end stays */
    }
    if (next_bytes(f) == NULL) {
        if (f->step < f->n || f->at_end == MH_IO_TIMEOUT) {
            return false; /* waits for a command, or silent */
        }
    }
    f->readable = true;
    return true;
}

void
fake_transport_writable(struct mh_transport *t)
{
    struct fake *f = t->impl;
    f->writable = true;
}

const char *
fake_transport_written(struct mh_transport *t)
{
    struct fake *f = t->impl;
    return f->written != NULL ? f->written : "";
}

int
fake_transport_writes(struct mh_transport *t)
{
    struct fake *f = t->impl;
    return f->writes;
}
