/* SPDX-License-Identifier: MIT */
/*
 * render: the three output formats of a result: Nagios plugin output,
 * JSON and the Prometheus text format (README "Prometheus metrics").
 *
 * Renderers only format: the state, category and texts were decided by the
 * probe and by the threshold evaluation. Every renderer escapes again what
 * it prints, so even text that bypassed mh_text_printable() cannot break the
 * format (no '|' or control characters in Nagios output, cJSON escaping in
 * JSON, \\ \" \n escaping in Prometheus label values).
 *
 * All functions write to a FILE* and return 0, or -1 on a write or
 * allocation failure.
 */
#ifndef MH_RENDER_H
#define MH_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "../probes/metric_names.h"
#include "../probes/result.h"

/*
 * Nagios plugin output: "MAILHEALTH <STATE> - [<category>] <summary> |
 * perfdata" (no category when OK), then one long-output line per item and
 * per child result. Numbers use '.' as decimal point in every locale.
 */
int mh_render_nagios(FILE *out, const struct mh_result *r);

/*
 * JSON (cJSON): one object with check, target, state, exit_code, category
 * (null when OK), summary, duration_seconds, the items grouped by kind
 * (phases, chain, zones, hosts, notes, ...), perfdata, and "results" with
 * the children when there are any.
 */
int mh_render_json(FILE *out, const struct mh_result *r);

/*
 * Writes the "# HELP" and "# TYPE" lines of family fam (metric_names.h);
 * note (may be NULL) follows the HELP text after a space. Returns 0, or
 * -1 when writing failed.
 */
int mh_prom_put_header(FILE *out, enum mh_metric fam, const char *note);

/*
 * Prometheus text exposition format 0.0.4 of results[0..n) and their
 * children: the core families for each result (probe_success, status, one
 * probe_error series per category, duration) and every sample, grouped by
 * family with one HELP and TYPE each, no timestamps, final newline.
 * extra_build_info adds mailhealth_build_info and
 * mailhealth_last_run_timestamp_seconds (Unix time now_unix).
 */
int mh_render_prometheus(FILE *out, const struct mh_result *const *results,
                         size_t n, double now_unix, double round_seconds);

/*
 * mh_render_prometheus with two choices: writer_families false leaves out
 * mailhealth_last_run_timestamp_seconds,
 * mailhealth_runner_round_duration_seconds and mailhealth_build_info,
 * which describe the writer rather than a check (the exporter's /probe
 * answer, as blackbox_exporter's carries only the probe's families);
 * help_note (may be NULL) is appended, after a space, to the HELP text of
 * the checks' families (the exporter's /metrics says they come from the
 * last round, as the Prometheus guide "Writing exporters" asks of cached
 * values). Same returns.
 */
int mh_render_prometheus_with(FILE *out, const struct mh_result *const *results,
                              size_t n, double now_unix, double round_seconds,
                              bool writer_families, const char *help_note);

/*
 * Writes the Prometheus exposition atomically to path: a temporary file in
 * the same directory (name not ending in .prom, so node_exporter ignores
 * it), fsync, mode 0644, rename over path. A reader never sees half a file.
 * round_seconds < 0 omits mailhealth_runner_round_duration_seconds.
 * Returns 0, or -1 with a reason in errbuf (the temporary file is removed).
 */
int mh_write_textfile(const char *path, const struct mh_result *const *results,
                      size_t n, double now_unix, double round_seconds,
                      char *errbuf, size_t errlen);

#endif
