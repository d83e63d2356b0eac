/* SPDX-License-Identifier: MIT */
/*
 * fs_transcript.c - the transcript of mh_faultserver.
 *
 * One line per event, prefixed by the session number:
 *   N C: <client line>       N S: <line sent>
 *   N EVENT <name> ...       N VIOLATION <text>
 * Session 0 is the listener itself. Bytes outside 0x20..0x7e, and the
 * backslash, are written as \xNN so that every record is one printable line.
 *
 * The forked session children share the file: it is opened with O_APPEND and
 * every line is built in memory and written with a single write(2), so lines
 * of concurrent sessions never interleave and a reader (a test doing grep)
 * sees each line complete as soon as it is written. Nothing is buffered.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* One transcript line at most; longer data is cut with a byte count. */
#define TR_LINE_MAX 20480
/* Room kept at the end of a line for the "...[N more bytes]" marker. */
#define TR_TAIL_ROOM 48

static int tr_fd = -1;
static bool tr_own_fd;
static bool tr_mirror;

int
fs_tr_open(const char *path, bool mirror_stderr)
{
    tr_mirror = mirror_stderr;
    if (path == NULL)
        return 0;
    if (strcmp(path, "-") == 0) {
        tr_fd = STDERR_FILENO;
        tr_own_fd = false;
        tr_mirror = false;
        return 0;
    }
    tr_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (tr_fd < 0)
        return -1;
    tr_own_fd = true;
    return 0;
}

void
fs_tr_close(void)
{
    if (tr_fd >= 0 && tr_own_fd)
        (void)close(tr_fd);
    tr_fd = -1;
}

static void
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

static void
tr_emit(const char *line, size_t len)
{
    if (tr_fd >= 0)
        write_all(tr_fd, line, len);
    if (tr_mirror)
        write_all(STDERR_FILENO, line, len);
}

size_t
fs_escape(char *dst, size_t cap, const void *src, size_t len, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = src;
    size_t out = 0;
    size_t i;

    if (cap == 0) {
        if (used != NULL)
            *used = 0;
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c >= 0x20 && c <= 0x7e && c != '\\') {
            if (out + 1 >= cap)
                break;
            dst[out++] = (char)c;
        } else {
            if (out + 4 >= cap)
                break;
            dst[out++] = '\\';
            dst[out++] = 'x';
            dst[out++] = hex[c >> 4];
            dst[out++] = hex[c & 0x0f];
        }
    }
    dst[out] = '\0';
    if (used != NULL)
        *used = i;
    return out;
}

const char *
fs_esc(char *dst, size_t cap, const void *src, size_t len)
{
    size_t used = 0;
    size_t out = fs_escape(dst, cap, src, len, &used);

    /* Mark a cut with "..." when there is room for it. */
    if (used < len && cap > 4) {
        if (out > cap - 4)
            out = cap - 4;
        memcpy(dst + out, "...", 4);
    }
    return dst;
}

void
fs_tr_data(unsigned long sid, const char *tag, const void *data, size_t len)
{
    char buf[TR_LINE_MAX];
    size_t pos;
    size_t used = 0;
    int n = snprintf(buf, sizeof buf, "%lu %s: ", sid, tag);

    if (n < 0 || (size_t)n >= sizeof buf - TR_TAIL_ROOM)
        return;
    pos = (size_t)n;
    pos +=
        fs_escape(buf + pos, sizeof buf - pos - TR_TAIL_ROOM, data, len, &used);
    if (used < len) {
        n = snprintf(buf + pos, sizeof buf - pos, "...[%zu more bytes]",
                     len - used);
        if (n > 0 && (size_t)n < sizeof buf - pos)
            pos += (size_t)n;
    }
    buf[pos++] = '\n';
    tr_emit(buf, pos);
}

/* Formats "<sid> <kind> <text>\n" and writes it; control characters that a
 * caller let through are replaced so that a record stays on one line. */
static void tr_vformat(unsigned long sid, const char *kind, const char *fmt,
                       va_list ap) FS_PRINTF(3, 0);

static void
tr_vformat(unsigned long sid, const char *kind, const char *fmt, va_list ap)
{
    char buf[TR_LINE_MAX];
    size_t pos;
    size_t i;
    int n = snprintf(buf, sizeof buf, "%lu %s ", sid, kind);

    if (n < 0 || (size_t)n >= sizeof buf - 2)
        return;
    pos = (size_t)n;
    n = vsnprintf(buf + pos, sizeof buf - pos - 1, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf - pos - 1)
        pos = sizeof buf - 2; /* cut */
    else
        pos += (size_t)n;
    for (i = 0; i < pos; i++) {
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = '?';
    }
    buf[pos++] = '\n';
    tr_emit(buf, pos);
}

void
fs_tr_event(unsigned long sid, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tr_vformat(sid, "EVENT", fmt, ap);
    va_end(ap);
}

void
fs_tr_violation(unsigned long sid, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tr_vformat(sid, "VIOLATION", fmt, ap);
    va_end(ap);
}
