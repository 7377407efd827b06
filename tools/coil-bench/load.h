/*
 * tools/coil-bench/load.h - a --json result read back (Debian's jansson
 * parses it): the options it ran with and its result, histograms and
 * all, exactly as the run had them, for coil-bench merge.
 */
#ifndef COIL_BENCH_LOAD_H
#define COIL_BENCH_LOAD_H

#include <jansson.h>
#include <stdbool.h>

#include "cli.h"
#include "report.h"
#include "series.h"

struct cb_loaded {
	char label[128]; /* where it came from: "FILE", "FILE#2", "task 3" */
	json_t *root;	 /* the object (one reference owned); the strings
			  * of @o point into it */
	/*
	 * The whole test's options as its "config" says (the worker's share
	 * is in @seg): urls, headers, stages and slos owned (cb_cli_free()),
	 * method and header texts borrowed from @root.
	 */
	struct cb_opts o;
	struct cb_segment seg; /* "segment": index, count, source (0 count:
				* not a segment), and this worker's threads
				* and connections in @threads, @connections */
	uint32_t threads, connections;
	struct cb_result r; /* histograms decoded; r.series points into
			     * @series */
	struct cb_series_point *series; /* [nseries], hist texts owned */
	size_t nseries;
	bool saturated; /* the worker's own verdict ("saturation") */
};

/*
 * cb_load() - read the result object @root (a reference is taken).
 * @why: a one-line reason on failure.
 * Return: 0; -EINVAL for an object that is not a coil-bench --json result
 * with histograms (older versions wrote none), or whose histograms do
 * not decode; -ENOMEM. cb_loaded_free() @l either way.
 */
int cb_load(struct cb_loaded *l, json_t *root, char *why, size_t why_len);

void cb_loaded_free(struct cb_loaded *l);

#endif
