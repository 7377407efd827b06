/*
 * tools/coil-bench/plotdata.h - where the plot's data comes from: the run
 * just measured (--plot), or saved --json results read back with jansson
 * (`coil-bench plot RESULT.json... -o FILE.svg`).
 */
#ifndef COIL_BENCH_PLOTDATA_H
#define COIL_BENCH_PLOTDATA_H

#include "cli.h"
#include "plot.h"
#include "report.h"

/*
 * cb_plot_from_result() - @run (zeroed by the caller) from a merged result:
 * the latency curves at cb_curve_percentiles(), the per-second series,
 * the stage boundaries of @o. @label: the legend's text.
 * Return: 0; -ENOMEM (free @run with cb_plot_run_free() either way).
 */
int cb_plot_from_result(struct cb_plot_run *run, const struct cb_opts *o,
			const struct cb_result *r, const char *label);

/*
 * cb_plot_from_json() - @run from the text of a --json result.
 * @why: a one-line reason on failure.
 * Return: 0; -EINVAL for text that is not a coil-bench result; -ENOMEM.
 */
int cb_plot_from_json(struct cb_plot_run *run, const char *json,
		      const char *label, char *why, size_t why_len);

/*
 * cb_plot_main() - `coil-bench plot RESULT.json... -o FILE.svg [--title
 * T]`: @argv[0] is "plot". Each file's name (without directory and
 * ".json") labels its run. Return: the exit status (0; 2 for a bad
 * command line or unreadable input; 3 when FILE cannot be written).
 */
int cb_plot_main(int argc, char **argv);

#endif
