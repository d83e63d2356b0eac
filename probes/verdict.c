/* SPDX-License-Identifier: MIT */
/*
 * verdict: states, categories and reasons (see verdict.h).
 */
#include "verdict.h"

#include <stddef.h>
#include <string.h>

static const char *const state_names[] = {"OK", "WARNING", "CRITICAL",
                                          "UNKNOWN"};

static const char *const category_names[] = {
    "",         "connection", "timeout",   "auth",
    "response", "relay",      "blacklist", "tls"};
_Static_assert(sizeof(category_names) / sizeof(category_names[0]) ==
                   (size_t)MH_CAT_LAST,
               "category_names out of sync with enum mh_category");

struct reason_row {
    const char *name;
    enum mh_category category;
    const char *doc;
};

static const struct reason_row reasons[] = {
#define MH_REASON_ROW(id, name, cat, doc) {name, MH_CAT_##cat, doc},
    MH_REASON_TABLE(MH_REASON_ROW)
#undef MH_REASON_ROW
};
_Static_assert(sizeof(reasons) / sizeof(reasons[0]) == (size_t)MH_REASON_LAST,
               "reasons out of sync with enum mh_reason");

const char *
mh_state_name(enum mh_state state)
{
    if ((int)state < 0 || (int)state > 3) {
        return "UNKNOWN";
    }
    return state_names[state];
}

int
mh_state_rank(enum mh_state state)
{
    switch (state) {
    case MH_STATE_OK:
        return 0;
    case MH_STATE_UNKNOWN:
        return 1;
    case MH_STATE_WARNING:
        return 2;
    case MH_STATE_CRITICAL:
        return 3;
    }
    return 1;
}

enum mh_state
mh_state_worst(enum mh_state a, enum mh_state b)
{
    return mh_state_rank(a) >= mh_state_rank(b) ? a : b;
}

const char *
mh_category_name(enum mh_category cat)
{
    if ((int)cat < 0 || cat >= MH_CAT_LAST) {
        return "";
    }
    return category_names[cat];
}

enum mh_category
mh_category_from_name(const char *name)
{
    for (int i = 1; i < (int)MH_CAT_LAST; i++) {
        if (name != NULL && strcmp(name, category_names[i]) == 0) {
            return (enum mh_category)i;
        }
    }
    return MH_CAT_NONE;
}

static const struct reason_row *
reason_row(enum mh_reason reason)
{
    if ((int)reason < 0 || reason >= MH_REASON_LAST) {
        return NULL;
    }
    return &reasons[reason];
}

const char *
mh_reason_name(enum mh_reason reason)
{
    const struct reason_row *row = reason_row(reason);
    return row != NULL ? row->name : "";
}

enum mh_category
mh_reason_category(enum mh_reason reason)
{
    const struct reason_row *row = reason_row(reason);
    return row != NULL ? row->category : MH_CAT_NONE;
}

const char *
mh_reason_doc(enum mh_reason reason)
{
    const struct reason_row *row = reason_row(reason);
    return row != NULL ? row->doc : "";
}

enum mh_reason
mh_reason_from_name(const char *name)
{
    if (name == NULL || name[0] == '\0') {
        return MH_REASON_NONE;
    }
    for (int i = 1; i < (int)MH_REASON_LAST; i++) {
        if (strcmp(name, reasons[i].name) == 0) {
            return (enum mh_reason)i;
        }
    }
    return MH_REASON_NONE;
}
