/* SPDX-License-Identifier: MIT */
/*
 * result: the check result model shared by every probe and every renderer.
 *
 * A probe fills one struct mh_result: the Nagios state, one primary error
 * category, a one-line summary, and three lists of facts:
 *   - items: one per MX host, SMTP phase, chain element or DNSBL zone; each
 *     has its own state and category and becomes a long-output line in the
 *     Nagios renderer and an object in JSON;
 *   - perfdata: numbers with units and thresholds (Nagios perfdata);
 *   - samples: Prometheus samples of the families of metric_names.h, named
 *     with MH_METRIC(ID) (this header includes it).
 * Results may have children (domain mode: one child per MX address; the
 * runner: one child per check).
 *
 * Probes never print; renderers never decide states. All strings stored in a
 * result are copies owned by the result, made printable on the way in (see
 * mh_text_printable()), and freed by mh_result_free().
 *
 * Out-of-memory handling: every adder returns 0 on success and -1 when an
 * allocation failed; the result then also remembers the failure
 * (mh_result.oom) and mh_result_finish() turns it into UNKNOWN, so a caller
 * that ignores the return value still cannot report a wrong OK.
 */
#ifndef MH_RESULT_H
#define MH_RESULT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "metric_names.h"
#include "verdict.h"

/* A typed attribute of an item (JSON field, long-output detail). */
struct mh_attr {
    char *key;
    char *str;  /* NULL for numbers */
    double num; /* used when str is NULL */
};

/* One detail line: an SMTP phase, an MX address, a chain element, a zone. */
struct mh_item {
    char *kind; /* "phase", "mx", "cert", "zone", "note", ... */
    char *name; /* e.g. "ehlo", "zen.spamhaus.org", "depth 0" */
    enum mh_state state;
    enum mh_reason reason;     /* MH_REASON_NONE for OK items and notes */
    enum mh_category category; /* the reason's category */
    char *text;                /* human message, printable ASCII */
    struct mh_attr *attrs;
    size_t nattrs;
};

/* Units of perfdata values (Nagios UOM). */
enum mh_unit { MH_UNIT_NONE = 0, MH_UNIT_SECONDS, MH_UNIT_BYTES };

/* The UOM of a unit in Nagios perfdata and in JSON: "s", "B", "" (none). */
const char *mh_unit_uom(enum mh_unit u);

/* One perfdata value: 'label'=value[UOM];warn;crit;min;max */
struct mh_perf {
    char *label; /* [a-z0-9_] by convention; sanitised again on output */
    double value;
    bool unknown; /* value could not be determined: rendered "U" */
    enum mh_unit unit;
    char *warn; /* threshold range text as given by the user, or NULL */
    char *crit;
    bool has_min, has_max;
    double min, max;
};

/* One Prometheus sample; the renderer adds target (and check) labels. */
struct mh_sample {
    char *family;  /* metric family name, e.g. mailhealth_smtp_reply_code */
    char **labels; /* key, value, key, value, ... (2 * nlabels strings) */
    size_t nlabels;
    double value;
};

struct mh_result {
    char *check;  /* subcommand: "smtp", "tls", "dnsbl", "domain", ... */
    char *target; /* "host:port", the address, or the domain */
    enum mh_state state;
    enum mh_reason reason;     /* of the failure the summary tells */
    enum mh_category category; /* the reason's category */
    char *summary;             /* one line, printable ASCII */
    double duration_s;         /* wall time of the whole check, seconds */
    bool oom; /* an allocation failed while building the result */

    struct mh_item *items;
    size_t nitems;
    struct mh_perf *perf;
    size_t nperf;
    struct mh_sample *samples;
    size_t nsamples;
    struct mh_result **children;
    size_t nchildren;
};

/*
 * Allocates an empty result (state OK, no category) for the check name and
 * target given (both copied). Returns NULL on allocation failure. Free with
 * mh_result_free().
 */
struct mh_result *mh_result_new(const char *check, const char *target);

/* Frees a result, its children and every string it owns. NULL is fine. */
void mh_result_free(struct mh_result *r);

/*
 * Raises the result to at least `state`. When the state becomes strictly
 * worse than before, `reason` (and with it its category, verdict.h) becomes
 * the result's and `summary` (printf-style, copied and made printable) the
 * summary; an equal state keeps the first summary, so the first failure
 * found is the one reported. Returns 0, or -1 on allocation failure.
 */
int mh_result_raise(struct mh_result *r, enum mh_state state,
                    enum mh_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Sets state and reason (and the reason's category) whatever they were,
 * and the summary when fmt is not NULL (else the summary stays): for the
 * few places where a later fact changes what an earlier failure means (a
 * connection closed before the greeting, a session broken by STARTTLS).
 * Returns 0 or -1.
 */
int mh_result_override(struct mh_result *r, enum mh_state state,
                       enum mh_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Replaces the summary (printf-style). Returns 0 or -1. */
int mh_result_set_summary(struct mh_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Appends an item with its state and reason (the item's category is the
 * reason's; MH_REASON_NONE for OK items and notes); text is printf-style.
 * Returns the item (owned by the result, valid until the next
 * mh_result_add_item on the same result) or NULL on allocation failure.
 */
struct mh_item *mh_result_add_item(struct mh_result *r, const char *kind,
                                   const char *name, enum mh_state state,
                                   enum mh_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Adds a string / number attribute to an item. Returns 0 or -1. */
int mh_item_set_str(struct mh_result *r, struct mh_item *it, const char *key,
                    const char *value);
int mh_item_set_num(struct mh_result *r, struct mh_item *it, const char *key,
                    double value);

/*
 * Appends a perfdata value. warn/crit are range strings (copied) or NULL.
 * Returns 0 or -1.
 */
int mh_result_add_perf(struct mh_result *r, const char *label, double value,
                       enum mh_unit unit, const char *warn, const char *crit,
                       const double *min, const double *max);

/*
 * Appends a Prometheus sample of `family`, a name of metric_names.h
 * (MH_METRIC(ID)): a name outside that table is never rendered. The variadic
 * part is a NULL-terminated list of label key/value string pairs (values copied
 * and made printable). Returns 0 or -1.
 */
int mh_result_add_sample(struct mh_result *r, const char *family, double value,
                         ...) __attribute__((sentinel));

/* Takes ownership of child (appends it). Returns 0 or -1 (child freed). */
int mh_result_add_child(struct mh_result *r, struct mh_result *child);

/*
 * Moves everything `from` holds into r as if it had been added when r had
 * `pos` items and the state `before`: from's items are inserted at
 * position pos, its perfdata and samples appended, and its state raised
 * into r with the summary rule of mh_result_raise() applied in that order
 * (from's summary wins a tie at the worst state when r only reached that
 * state after pos). Frees `from` (also on failure). Returns 0, or -1 on
 * allocation failure (r->oom is set, from's items are lost).
 */
int mh_result_merge_at(struct mh_result *r, struct mh_result *from, size_t pos,
                       enum mh_state before);

/*
 * Final step of every check: an allocation failure turns the result into
 * UNKNOWN ("out of memory", reason internal_error); an OK result drops its
 * category and reason; a non-OK result without summary gets a generic one.
 */
void mh_result_finish(struct mh_result *r);

/*
 * Copies the `len` bytes of untrusted text (server replies, TXT records,
 * certificate subjects; NUL bytes included, so pass strlen() for a C
 * string) into a new string of printable ASCII: bytes outside 0x20..0x7e
 * become "\xNN", so the text is safe for every renderer and the
 * output stays deterministic whatever the peer sends. Returns NULL on
 * allocation failure. The caller frees the string.
 */
char *mh_text_printable(const char *text, size_t len);

/*
 * snprintf for messages that are cut on purpose when too long: every buffer
 * is bounded and the result model caps text again, so callers need no
 * return value (and get no truncation warning). buf is "" on an encoding
 * error.
 */
void mh_textf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mh_textf with a va_list (for functions that take a format). */
void mh_vtextf(char *buf, size_t len, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Replaces LC_NUMERIC's decimal point in a number printf formatted into buf
 * by '.': perfdata, metrics and JSON use '.' in every locale (Icinga sets
 * LC_NUMERIC=C, Nagios does not). A no-op in the C locale.
 */
void mh_c_decimal_point(char *buf);

/*
 * Formats x with at most `decimals` fraction digits, trailing zeros removed,
 * '.' as decimal point whatever LC_NUMERIC says. Returns buf.
 */
char *mh_fmt_decimal(char *buf, size_t len, double x, int decimals);

/* ---- Operations for code that completes or relabels a result -------- */

/* Like mh_result_add_perf() for a value that could not be determined
 * (rendered "U", as the Nagios plugin guidelines define). Returns 0 or
 * -1. */
int mh_result_add_perf_unknown(struct mh_result *r, const char *label,
                               enum mh_unit unit, const double *min,
                               const double *max);

/* Like mh_result_add_perf(), but inserts the entry before all others. */
int mh_result_add_perf_first(struct mh_result *r, const char *label,
                             double value, enum mh_unit unit, const char *warn,
                             const char *crit, const double *min,
                             const double *max);

/*
 * Gives the perfdata entries named label the threshold texts warn/crit
 * (either may be NULL) where they have none yet. Returns 0 or -1.
 */
int mh_result_set_perf_thresholds(struct mh_result *r, const char *label,
                                  const char *warn, const char *crit);

/* Puts prefix before every perfdata label of r ("mx0_" + "time"), so the
 * labels of several results stay unique on one line. Returns 0 or -1. */
int mh_result_prefix_perf(struct mh_result *r, const char *prefix);

/* Replaces the target (copied, made printable). Returns 0 or -1. */
int mh_result_set_target(struct mh_result *r, const char *target);

/* Sets the wall time of the whole check, in seconds. */
void mh_result_set_duration(struct mh_result *r, double seconds);

/* Records an allocation failure of the caller's own: mh_result_finish()
 * turns the result into UNKNOWN "out of memory". */
void mh_result_mark_oom(struct mh_result *r);

/*
 * Frees r's items and perfdata, and its children's (the runner keeps a
 * round's results for the Prometheus renderers, which read neither: a
 * tenth of a result's memory each). State, summary, samples and children
 * stay.
 */
void mh_result_drop_details(struct mh_result *r);

#endif
