/*
 * tools/coil-bench/plot.h - what a run measured, drawn as one
 * self-contained SVG file (--plot, `coil-bench plot`): no script, no
 * external resource, so it can be committed, attached to a CI job or
 * opened in any browser.
 *
 * Two panels, one above the other:
 *  (a) latency by percentile on HdrHistogram's percentile axis: x is
 *      log10(1 / (1 - p)), labelled 0%, 90%, 99%, 99.9%, 99.99%, 99.999%;
 *      y is the latency in ms. A solid line per run for the latency as
 *      measured (corrected in -R runs), a dashed one for the uncorrected
 *      latency when the run has it.
 *  (b) over time, one point per second: requests/s (solid, left axis) and
 *      p99 in ms (dashed, right axis), --stages boundaries as vertical
 *      dotted lines.
 * Several runs overlay in distinct colours with a legend (before/after).
 */
#ifndef COIL_BENCH_PLOT_H
#define COIL_BENCH_PLOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A latency curve: @n points (percentile 0..100, latency in ns). */
struct cb_plot_curve {
	double *pct;
	double *ns;
	size_t n;
};

/* One second of a run. */
struct cb_plot_sec {
	double requests, p99_ns;
};

struct cb_plot_run {
	char label[128];
	struct cb_plot_curve corrected;	  /* as measured */
	struct cb_plot_curve uncorrected; /* n == 0 when the run has none */
	struct cb_plot_sec *sec;	  /* [nsec] */
	size_t nsec;
	double *bounds_s; /* stage boundaries, s from the start */
	size_t nbounds;
};

/*
 * cb_plot_svg() - write the SVG of @n runs (1 .. CB_PLOT_MAX_RUNS) to @f.
 * @title: the heading (escaped here), or NULL.
 * Polylines carry class names ("lat corrected r0", "lat uncorrected r0",
 * "rps r0", "p99 r0") and one point per data point, so a reader can
 * check what was drawn. Return: 0; -EIO if writing failed; -EINVAL for
 * no run or too many.
 */
#define CB_PLOT_MAX_RUNS 8
int cb_plot_svg(FILE *f, const struct cb_plot_run *runs, size_t n,
		const char *title);

/* cb_plot_run_free() - free what a run's arrays hold; zeroes it. */
void cb_plot_run_free(struct cb_plot_run *r);

#endif
