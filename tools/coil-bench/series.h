/*
 * tools/coil-bench/series.h - the per-second series of a run (the JSON's
 * "series", the plot's time panel): responses, errors, and the p50 and
 * p99 latency of the responses that completed in each second of the
 * measured period.
 *
 * Each generator thread keeps the current second's counts and histogram
 * to itself and hands them over when its clock passes the second's end
 * (cb_series_add(), under a mutex, once a second per thread: off the hot
 * path). Percentiles need the merged histogram, so a second stays pending
 * until every thread has handed in its part; then its percentiles are
 * taken, its histogram kept as text (hdrlog.h: coil-bench merge adds the
 * workers' seconds) and its memory reused for a later second. Only the few
 * seconds the threads are apart are pending at a time, whatever the run's
 * length; a second costs one allocation, its text.
 */
#ifndef COIL_BENCH_SERIES_H
#define COIL_BENCH_SERIES_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "coil/hist.h"
#include "hdrlog.h"

/* One second of the run. */
struct cb_series_point {
	uint64_t requests; /* responses completed in the second */
	uint64_t errors;   /* errors counted in the second */
	uint64_t p50_ns;   /* of those responses' latency (corrected with
			    * -R); 0 when none */
	uint64_t p99_ns;
	struct cb_hdr_text hist; /* the second's latencies, exactly (for
				  * coil-bench merge); hist.hdr NULL when
				  * none or out of memory */
};

struct cb_series_pending;

struct cb_series {
	pthread_mutex_t mu;
	unsigned threads;	    /* parts each second waits for */
	struct cb_series_point *pt; /* [n] */
	size_t n, cap;
	struct cb_series_pending *pending; /* seconds still being merged */
	struct cb_series_pending *spare;   /* settled ones, for reuse */
	struct cb_hdr_buf buf;		   /* the encoding's scratch space */
	int failed;			   /* out of memory: series cut short */
};

/* cb_series_init() - an empty series fed by @threads threads. */
int cb_series_init(struct cb_series *s, unsigned threads);

/*
 * cb_series_add() - a thread's part of second @sec: @requests, @errors,
 * and the latencies in @h (merged, not kept: reset it after). Thread-safe.
 * Return: 0; -ENOMEM (the series then ends before @sec).
 */
int cb_series_add(struct cb_series *s, uint64_t sec, uint64_t requests,
		  uint64_t errors, const struct coil_hist *h);

/* cb_series_finish() - take the percentiles of the seconds still pending
 * (a thread that stopped early never hands in the last ones). */
void cb_series_finish(struct cb_series *s);

void cb_series_free(struct cb_series *s);

#endif
