/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the reply classification table (probes/reply_rules.h):
 * the table's own consistency, whole-word matching with the look-alike
 * words that fooled substring lists, enhanced codes about the address or
 * the mailbox never read as blocklists, the README's rule table row by
 * row, and the catalogue of real server replies
 * (tests/unit/reply_catalogue.tsv; MH_SOURCE_DIR names the source tree).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reply.h"
#include "reply_rules.h"

static const struct mh_reply_rule *
find_rule(const char *id)
{
    size_t n;
    const struct mh_reply_rule *t = mh_reply_rules(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].id, id) == 0) {
            return &t[i];
        }
    }
    return NULL;
}

/* Every row is well formed: unique snake_case id, a reason with one of the
 * seven categories, lower-case single-spaced phrases, parsable patterns;
 * the last row matches every negative reply. */
static void
test_table(void **state)
{
    (void)state;
    size_t n;
    const struct mh_reply_rule *t = mh_reply_rules(&n);
    assert_true(n >= 60);
    for (size_t i = 0; i < n; i++) {
        const struct mh_reply_rule *r = &t[i];
        assert_true(r->id[0] >= 'a' && r->id[0] <= 'z');
        for (const char *c = r->id; *c != '\0'; c++) {
            assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                        *c == '_');
        }
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(r->id, t[j].id);
        }
        enum mh_category cat = mh_reason_category(r->reason);
        assert_true(cat > MH_CAT_NONE && cat < MH_CAT_LAST);
        if (r->words != NULL) {
            const char *w = r->words;
            assert_true(*w >= 'a' || (*w >= '0' && *w <= '9'));
            for (; *w != '\0'; w++) {
                bool ok = (*w >= 'a' && *w <= 'z') ||
                          (*w >= '0' && *w <= '9') || *w == ' ' || *w == '|';
                if (!ok || ((*w == ' ' || *w == '|') &&
                            (w[1] == ' ' || w[1] == '|' || w[1] == '\0'))) {
                    fail_msg("rule %s: bad phrase list at \"%s\"", r->id, w);
                }
            }
        }
        if (r->codes != NULL) {
            /* Every alternative is three characters of digits or 'x'. */
            size_t cl = strlen(r->codes);
            assert_int_equal(cl % 4, 3);
        }
    }
    assert_null(t[n - 1].words);
    assert_null(t[n - 1].codes);
    assert_null(t[n - 1].enhanced);
    assert_int_equal(t[n - 1].phases, 0);
}

static void
test_codes_and_patterns(void **state)
{
    (void)state;
    assert_true(mh_codes_match(451, "4xx"));
    assert_false(mh_codes_match(551, "4xx"));
    assert_true(mh_codes_match(538, "534,538"));
    assert_false(mh_codes_match(535, "534,538"));
    assert_true(mh_codes_match(999, NULL));
    assert_false(mh_codes_match(4510, "4xx"));

    assert_true(mh_enhanced_match("5.7.1", "X.7.1"));
    assert_true(mh_enhanced_match("4.7.1", "X.7.1"));
    assert_false(mh_enhanced_match("5.7.10", "X.7.1"));
    assert_true(mh_enhanced_match("5.7.10", "X.7.*"));
    assert_true(mh_enhanced_match("5.7.606", "X.7.606-649"));
    assert_false(mh_enhanced_match("5.7.650", "5.7.606-649"));
    assert_false(mh_enhanced_match("4.7.606", "5.7.606-649"));
    assert_true(mh_enhanced_match("", "-,X.7.1"));
    assert_true(mh_enhanced_match(NULL, "-"));
    assert_true(mh_enhanced_match("5.x.1", "-")); /* invalid: none */
    assert_true(mh_enhanced_match("5.7.1234", "-"));
    assert_false(mh_enhanced_match("5.1.1", "-,X.0.*,X.7.*"));
    assert_true(mh_enhanced_match("5.1.1", NULL));
}

/* Whole words only: each look-alike is checked against the phrase that a
 * substring list would have found in it. */
static void
test_whole_words(void **state)
{
    (void)state;
    assert_true(mh_words_match("blocked using zen.spamhaus.org", "spamhaus"));
    assert_true(mh_words_match("Blocked  USING\nRBL", "blocked using"));
    assert_true(mh_words_match("(dnsbl.sorbs.net)", "sorbs"));
    assert_true(mh_words_match("listed", "listed"));
    assert_false(mh_words_match("Greylisted, try again", "listed"));
    assert_false(mh_words_match("Message garbled", "rbl"));
    assert_false(mh_words_match("herbal remedies", "rbl"));
    assert_false(mh_words_match("the pipe absorbs it", "sorbs"));
    assert_false(mh_words_match("you are whitelisted", "listed"));
    assert_false(mh_words_match("you are whitelisted", "blacklisted"));
    assert_false(mh_words_match("Unlisted sender", "listed"));
    assert_false(mh_words_match("blocked by policy", "blocked using"));
    assert_false(mh_words_match("blockedusing zen", "blocked using"));
    assert_false(mh_words_match("relayaccess denied", "relay access denied"));
    assert_false(mh_words_match("blocked", "blocked using"));
    assert_false(mh_words_match("blocked ", "blocked using"));
    assert_false(mh_words_match("rbls", "rbl"));
    assert_false(mh_words_match("xrbl", "rbl"));
    assert_true(mh_words_match("x rbl", "y|rbl"));
    assert_false(mh_words_match(NULL, "rbl"));
    assert_false(mh_words_match("rbl", NULL));
    assert_false(mh_words_match("", "rbl"));
    assert_true(mh_words_match("doesn't exist", "doesn t exist"));

    /* Through the classifier: none of these is a blocklist. */
    static const char *const lookalikes[] = {
        "Message garbled",          "herbal supplements rejected",
        "the filter absorbs spam",  "sender whitelisted, try later",
        "Unlisted sender",          "blocked by policy",
        "blockedusing zen",         "Greylisted, see the help page",
        "Recipient not listed here"};
    for (size_t i = 0; i < sizeof lookalikes / sizeof lookalikes[0]; i++) {
        enum mh_state st;
        enum mh_reason reason;
        const char *id = mh_reply_classify(MH_PHASE_RCPT, 550, "5.7.1",
                                           lookalikes[i], &st, &reason);
        if (mh_reason_category(reason) == MH_CAT_BLACKLIST) {
            fail_msg("\"%s\" became blacklist by rule %s", lookalikes[i], id);
        }
    }
}

/* A code that speaks of the address (X.1.x) or the mailbox (X.2.x) is never
 * turned into a blocklist by its text. */
static void
test_address_codes_never_blocklist(void **state)
{
    (void)state;
    static const char *const codes[] = {
        "5.1.0", "5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.7", "5.1.8", "5.1.10",
        "4.1.8", "5.2.0", "5.2.1", "5.2.2", "4.2.2", "5.2.3", "4.2.0", "5.2.4"};
    static const char *const texts[] = {
        "blocked using zen.spamhaus.org", "listed on a blacklist",
        "your IP is listed in RBL", "banned sending IP, poor reputation"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        for (size_t j = 0; j < sizeof texts / sizeof texts[0]; j++) {
            for (int ph = 0; ph < (int)MH_PHASE_LAST; ph++) {
                enum mh_state st;
                enum mh_reason reason;
                int code = codes[i][0] == '4' ? 450 : 550;
                const char *id = mh_reply_classify(
                    (enum mh_phase)ph, code, codes[i], texts[j], &st, &reason);
                if (mh_reason_category(reason) == MH_CAT_BLACKLIST) {
                    fail_msg("%s \"%s\" in %s became blacklist (rule %s)",
                             codes[i], texts[j],
                             mh_phase_name((enum mh_phase)ph), id);
                }
            }
        }
    }
}

/* The README row of a rule, as the test expects it. */
static void
readme_row(const struct mh_reply_rule *r, char *buf, size_t len)
{
    char phases[200] = "";
    if (r->phases == 0) {
        snprintf(phases, sizeof phases, "any");
    }
    for (int p = 0; p < (int)MH_PHASE_LAST; p++) {
        if (r->phases & MH_RULE_PHASE(p)) {
            size_t o = strlen(phases);
            snprintf(phases + o, sizeof phases - o, "%s%s", o > 0 ? ", " : "",
                     mh_phase_name((enum mh_phase)p));
        }
    }
    char words[1200] = "";
    if (r->words == NULL) {
        snprintf(words, sizeof words, "-");
    } else {
        size_t o = 0;
        for (const char *w = r->words; *w != '\0' && o + 4 < sizeof words;
             w++) {
            if (*w == '|') {
                memcpy(words + o, " / ", 3);
                o += 3;
            } else {
                words[o++] = *w;
            }
        }
        words[o] = '\0';
    }
    snprintf(buf, len, "| `%s` | %s | %s | %s | %s | %s | `%s` | %s |\n", r->id,
             phases, r->codes != NULL ? r->codes : "any",
             r->enhanced != NULL ? r->enhanced : "any", words,
             mh_category_name(mh_reason_category(r->reason)),
             mh_reason_name(r->reason),
             r->state == MH_RULE_CRITICAL ? "CRITICAL" : "by code");
}

static void
test_readme(void **state)
{
    (void)state;
    const char *dir = getenv("MH_SOURCE_DIR");
    if (dir == NULL) {
        skip();
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/README.md", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n;
    const struct mh_reply_rule *t = mh_reply_rules(&n);
    char line[2048], want[2048];
    bool in = false;
    size_t rows = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strstr(line, "<!-- rules:begin -->") != NULL) {
            in = true;
            continue;
        }
        if (strstr(line, "<!-- rules:end -->") != NULL) {
            break;
        }
        if (!in || strncmp(line, "| `", 3) != 0) {
            continue;
        }
        assert_true(rows < n);
        readme_row(&t[rows], want, sizeof want);
        if (strcmp(line, want) != 0) {
            fclose(f);
            fail_msg("README rule row %zu is\n%swanted\n%s", rows + 1, line,
                     want);
        }
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, n);
}

static enum mh_phase
phase_from_name(const char *name)
{
    for (int p = 0; p < (int)MH_PHASE_LAST; p++) {
        if (strcmp(name, mh_phase_name((enum mh_phase)p)) == 0) {
            return (enum mh_phase)p;
        }
    }
    fail_msg("unknown phase \"%s\"", name);
    return MH_PHASE_LAST;
}

/*
 * Splits a catalogue line into its tab-separated fields (in place).
 * Returns the number of fields.
 */
static size_t
split_tabs(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *tab = strchr(p, '\t');
        if (tab == NULL) {
            break;
        }
        *tab = '\0';
        p = tab + 1;
    }
    return n;
}

/* Feeds the reply's lines ("\n" written as the two characters backslash
 * and n) through the reply parser. */
static void
parse_reply(const char *raw, struct mh_reply *r, size_t lineno)
{
    mh_reply_init(r);
    const char *p = raw;
    for (;;) {
        const char *end = strstr(p, "\\n");
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        enum mh_reply_status st = mh_reply_feed(r, p, len);
        if (st == MH_REPLY_BAD || (end == NULL) != (st == MH_REPLY_DONE)) {
            fail_msg("catalogue line %zu: reply does not parse: %s", lineno,
                     r->error);
        }
        if (end == NULL) {
            return;
        }
        p = end + 2;
    }
}

/*
 * The catalogue: one real reply per line, fields separated by tabs:
 *   source  phase  reply  state  reason  rule
 * Every reply gives its expected state, reason and rule; every rule of the
 * table has at least one line.
 */
static void
test_catalogue(void **state)
{
    (void)state;
    const char *dir = getenv("MH_SOURCE_DIR");
    if (dir == NULL) {
        skip();
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/unit/reply_catalogue.tsv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n;
    const struct mh_reply_rule *t = mh_reply_rules(&n);
    size_t *hits = calloc(n, sizeof *hits);
    assert_non_null(hits);
    static char line[8192];
    size_t lineno = 0, replies = 0, failures = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        char *fld[8];
        if (split_tabs(line, fld, 8) != 6) {
            fail_msg("catalogue line %zu: not 6 tab-separated fields", lineno);
        }
        enum mh_phase ph = phase_from_name(fld[1]);
        struct mh_reply r;
        parse_reply(fld[2], &r, lineno);
        enum mh_state st;
        enum mh_reason reason;
        const char *id =
            mh_reply_classify(ph, r.code, r.enhanced, r.text, &st, &reason);
        replies++;
        if (strcmp(mh_state_name(st), fld[3]) != 0 ||
            strcmp(mh_reason_name(reason), fld[4]) != 0 ||
            strcmp(id, fld[5]) != 0) {
            print_error("catalogue line %zu (%s): %s %s %s, wanted %s %s %s\n",
                        lineno, fld[0], mh_state_name(st),
                        mh_reason_name(reason), id, fld[3], fld[4], fld[5]);
            failures++;
        }
        const struct mh_reply_rule *rule = find_rule(fld[5]);
        if (rule == NULL) {
            print_error("catalogue line %zu: no rule %s\n", lineno, fld[5]);
            failures++;
        } else {
            hits[rule - t]++;
        }
    }
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        if (hits[i] == 0) {
            print_error("rule %s has no catalogue line\n", t[i].id);
            failures++;
        }
    }
    free(hits);
    print_message("catalogue: %zu replies, %zu rules\n", replies, n);
    assert_int_equal(failures, 0);
    assert_true(replies >= 150);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_codes_and_patterns),
        cmocka_unit_test(test_whole_words),
        cmocka_unit_test(test_address_codes_never_blocklist),
        cmocka_unit_test(test_readme),
        cmocka_unit_test(test_catalogue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
