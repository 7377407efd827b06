/*
 * tools/coil-bench/report.h - what a run measured (struct cb_result, filled
 * by the load generator) and how it is shown: wrk's text layout with
 * coil's extras, or one JSON object (--json).
 *
 * Each generator thread fills its own struct cb_result (nothing shared, no
 * atomics); when the threads are done, the main thread merges them into
 * one with cb_result_merge(), sets runtime_ns, and prints it.
 */
#ifndef COIL_BENCH_REPORT_H
#define COIL_BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "coil/hist.h"
#include "cli.h"

/*
 * Error classes. wrk's "Socket errors: connect A, read B, write C,
 * timeout D" line folds them as wrk counts: connect = CONNECT + TLS (wrk
 * counts a failed handshake as a connect error), read = READ + RESET +
 * PARSE (wrk counts a parse failure as a read error), write = WRITE,
 * timeout = TIMEOUT.
 */
enum cb_err_class {
	CB_ERR_CONNECT, /* socket/connect failed (-ECONNREFUSED, ...) */
	CB_ERR_TLS,	/* TLS handshake failed (COIL_ETLS, ...) */
	CB_ERR_READ,	/* receiving failed (-EIO, ...) */
	CB_ERR_WRITE,	/* sending failed (-EPIPE, ...) */
	CB_ERR_RESET,	/* the peer reset or closed mid-response
			 * (-ECONNRESET, COIL_ETRUNC) */
	CB_ERR_TIMEOUT, /* the request's --timeout expired (-ETIMEDOUT) */
	CB_ERR_PARSE,	/* malformed response (COIL_EPARSE, COIL_ELIMIT) */
	CB_ERR_SCRIPT,	/* -s: request() gave a non-string (-EINVAL) or a
			 * malformed request (COIL_EPARSE); never sent */
	/* --http2 (wrk's line counts them as read errors): */
	CB_ERR_H2_RESET, /* the server reset the stream (RST_STREAM; the
			  * code is CB_H2_CODE(its error code)) */
	CB_ERR_GOAWAY,	 /* refused by the server's GOAWAY (COIL_EH2_GOAWAY):
			  * not processed */
	CB_ERR_FLOW,	 /* the send window stayed closed (COIL_EH2_FLOW) */
	CB_ERR_CLASSES
};

/* An HTTP/2 error code (RFC 9113 §7) among a class's codes: positive,
 * where -errno and COIL_E* codes are negative. */
#define CB_H2_CODE(c) ((int)(0x10000u | ((c)&0xffffu)))

/* Distinct result codes kept per class; further codes count in "other". */
#define CB_ERR_CODES 8

struct cb_err_stats {
	uint64_t count; /* every error of the class */
	struct {
		int code; /* -errno or COIL_E*; 0 marks an unused slot */
		uint64_t count;
	} codes[CB_ERR_CODES]; /* in the order first seen */
	uint64_t other;	       /* errors whose code found no slot */
};

/* Status codes counted one by one: 0 .. CB_STATUS_MAX - 1. */
#define CB_STATUS_MAX 600

/* The --json layout's version ("schema"): 1 is the first versioned one
 * (a schema version and start_time, null for figures without samples,
 * thread_requests_per_sec for wrk's per-thread Req/Sec). */
#define CB_JSON_SCHEMA 1

struct cb_series_point;

/* What one --stage measured: the responses whose intended send time (the
 * send time in the closed model) fell in it, the errors counted during it. */
struct cb_stage_result {
	uint64_t requests;	   /* complete responses */
	uint64_t non_2xx_3xx;	   /* of those */
	uint64_t errors;	   /* errors of every class */
	struct coil_hist *latency; /* as cb_result.latency */
};

/* --targets: what one host's connections measured (gen.c), as a stage's
 * figures are counted; its name and share of -c set by main. */
struct cb_host_result {
	char name[300];		   /* "http://host:port" */
	uint64_t connections;	   /* its share of -c */
	uint64_t requests;	   /* complete responses */
	uint64_t non_2xx_3xx;	   /* of those */
	uint64_t errors;	   /* errors of every class */
	struct coil_hist *latency; /* as cb_result.latency */
};

/*
 * The open model's late requests (sent more than late_ns after their
 * intended time) by cause, as the pacer saw them (pacer.c):
 *  held:  due at an earlier wake, where no connection had room for it
 *         (every connection had its answers outstanding: the server's
 *         pace, or connections reconnecting);
 *  busy:  due since the latest wake, and the wake came late because the
 *         loop's previous wake worked past its time (the generator);
 *  timer: due since the latest wake, and the host woke the loop late
 *         (compare the idle timer's lateness: the platform). A long turn
 *         between two wakes counts here too; with the default batched
 *         wait the loop sleeps from wake to wake and has none.
 */
struct cb_late_causes {
	uint64_t held;
	uint64_t busy;
	uint64_t timer;
};

/* One run's (or one thread's) measurements. */
struct cb_result {
	/* time */
	uint64_t runtime_ns; /* the measured period (after --warmup) */

	/* traffic, counted in the measured period only */
	uint64_t requests;	/* complete responses */
	uint64_t bytes_read;	/* received bytes, headers included (wrk) */
	uint64_t bytes_written; /* sent bytes */
	uint64_t status[CB_STATUS_MAX]; /* responses by status code */
	uint64_t status_other;		/* codes >= CB_STATUS_MAX */
	uint64_t connections_opened;	/* successful connects, reconnects
					 * included */
	struct cb_err_stats errors[CB_ERR_CLASSES];

	/*
	 * Histograms, allocated by cb_result_init() (ns; req/s for
	 * req_per_sec). latency: from the intended send time with -R
	 * (corrected), from the actual send otherwise. latency_uncorrected:
	 * from the actual send, filled with -R only. req_per_sec: one sample
	 * per thread per interval (wrk: every 100 ms), in requests/s.
	 */
	struct coil_hist *latency;
	struct coil_hist *latency_uncorrected;
	struct coil_hist *req_per_sec;

	/* what generating the load cost */
	uint64_t syscalls;    /* system calls made by the generator threads
			       * (io_uring_enter(2) and others) */
	uint64_t cpu_user_ns; /* getrusage(2) user time of the generator */
	uint64_t cpu_sys_ns;  /* ... and system time */

	/* HTTPS: completed handshakes, how many resumed a saved session,
	 * and their total time from connect start to handshake done */
	uint64_t tls_handshakes;
	uint64_t tls_resumed;
	uint64_t tls_handshake_ns;
	/* what was negotiated (the first handshake's; "" without one) */
	char tls_version[16]; /* "TLSv1.3" */
	char tls_cipher[64];  /* "TLS1-3-AES-128-GCM-SHA256" */
	char tls_group[16];   /* "x25519" */
	/* the first failed handshake's reason as mbedTLS gives it
	 * (coil_tls_error(): "certificate verification failed: ..."), or ""
	 * (merge keeps the first) */
	char tls_error[192];
	/* when the run started (CLOCK_REALTIME, ns since 1970; 0: not
	 * recorded): "start_time" in the JSON */
	uint64_t start_unix_ns;
	/* the protocol the connections spoke: "http/1.1", "h2" (TLS, ALPN)
	 * or "h2c" (prior knowledge); and HTTP/2 sessions started */
	char protocol[16];
	uint64_t h2_sessions;

	/* open model (-R): from struct cb_sched, summed over lanes */
	uint64_t late;	     /* sent more than late_ns after the intended
			      * time */
	uint64_t unsent;     /* due by the end but never sent */
	uint64_t max_lag_ns; /* the largest send lag */
	uint64_t late_ns;    /* the lateness bound used */
	struct cb_late_causes late_by; /* ... @late by cause, summed */

	/* why the run stopped before its end ("script error: f.lua:3: ..."),
	 * or "" (merge keeps the first) */
	char stopped[256];
	/* ... from the pacer (pacer.c), the largest over threads: the
	 * longest stretch during which the oldest due request not yet handed
	 * out was over late_ns old at every wake; and the wakes, summed */
	uint64_t backlog_max_ns;
	uint64_t pacer_wakes;
	/* ... of which the loop slept to from the last one, gathering the
	 * responses between (pacer.c); the grid (the largest over threads) */
	uint64_t pacer_gathered;
	uint64_t pacer_grid_ns;
	/* ... and the platform's own timer lateness, measured on an idle
	 * loop's timer beside the run (jitter.c): wakes, those over late_ns
	 * late, the 99th percentile and the largest lateness */
	uint64_t timer_wakes;
	uint64_t timer_late;
	uint64_t timer_p99_ns;
	uint64_t timer_max_ns;

	/* phases, the largest over threads: opening the connections before
	 * the measured window (--warmup aside), and awaiting the requests in
	 * flight after it (runtime_ns covers neither) */
	uint64_t connect_ns;
	uint64_t drain_ns;
	/* the slowest of those connects (TCP connect start to connected): a
	 * SYN the server's full accept queue dropped costs a second here */
	uint64_t connect_max_ns;
	/* requests answered before the window, one per connection, when many
	 * connections were opened (gen.c: the server's answer proves it
	 * accepted the connection); summed over threads */
	uint64_t connect_requests;

	/* response times: reads of responses in the measured period and
	 * how many carried the kernel's receive timestamp (the rest were
	 * timed when reaped); the batched wait in effect; why reap time */
	uint64_t rx_reads;
	uint64_t rx_stamped;
	uint64_t batch_wait_ns;
	int rx_fallback; /* enum cb_rx_fallback */
	/* the loop's reads of the clocks' offset that found CLOCK_REALTIME
	 * stepped, and the kernel timestamps not used because of them (those
	 * reads timed when reaped): coil_loop_stats() rt_steps, rt_fallbacks,
	 * the whole run */
	uint64_t rx_clock_steps;
	uint64_t rx_step_fallbacks;
	/* the loop's waits that used the batched wait (coil_loop_stats()
	 * batched) in the measured period: the adaptive rule keeps them off
	 * while each wake finds one completion */
	uint64_t batched_waits;

	/* --stages: one entry per stage (cb_result_stages()), or none */
	struct cb_stage_result *stage;
	unsigned nstages;

	/* --targets: one entry per host (cb_result_hosts()), or none */
	struct cb_host_result *by_host;
	unsigned nhosts;

	/* the per-second series (series.h), borrowed: set on the merged
	 * result by main, NULL in the threads' */
	const struct cb_series_point *series;
	size_t nseries;

	/* where (segment.h): the host's name (gethostname(2), set by main;
	 * "" unknown); with --start-at, how late the start came after it
	 * (the largest in a merge; start_unix_ns above is the start) */
	char host[72];
	uint64_t start_late_ns;

	/* coil-bench merge: one line per worker, borrowed (NULL otherwise) */
	const struct cb_worker *workers;
	size_t nworkers;
};

/* What coil-bench merge says of each worker of a merged result. */
struct cb_worker {
	uint32_t index, count; /* its segment */
	char host[72];
	char label[128]; /* the input it came from */
	uint64_t requests, errors, runtime_ns;
	uint64_t late, unsent;	/* open model */
	uint64_t start_late_ns; /* --start-at */
	bool saturated;
};

/* Why responses are timed when reaped (the larger wins in a merge). */
enum cb_rx_fallback {
	CB_RX_KERNEL,	   /* no fallback: kernel receive timestamps */
	CB_RX_ASKED,	   /* --reap-time */
	CB_RX_NO_STAMPS,   /* the sockets delivered no timestamps */
	CB_RX_NO_MULTISHOT /* no multishot recv (kernel, COIL_FALLBACK) */
};

/* A backlog of due requests that persists this long marks the run
 * saturated: longer than any lone late wake of a timer on the development
 * VM (3 ms at most over 60 s on an idle loop), far shorter than a run. */
#define CB_BACKLOG_PERSIST_NS 100000000ull /* 100 ms */

/* cb_result_errors() - errors of every class. */
static inline uint64_t cb_result_errors(const struct cb_result *r)
{
	uint64_t n = 0;
	for (int c = 0; c < CB_ERR_CLASSES; c++)
		n += r->errors[c].count;
	return n;
}

/* cb_result_non_2xx_3xx() - complete responses whose status is not 2xx or
 * 3xx (wrk's "Non-2xx or 3xx responses"). */
static inline uint64_t cb_result_non_2xx_3xx(const struct cb_result *r)
{
	uint64_t n = r->status_other;
	for (int i = 0; i < CB_STATUS_MAX; i++) {
		if (i < 200 || i > 399)
			n += r->status[i];
	}
	return n;
}

/*
 * cb_result_init() - a zeroed result with its three histograms: latency
 * and latency_uncorrected 1 us .. 1 h (coil_hist_new(NULL)), req_per_sec
 * 0 .. 10^10 requests/s, all with 3 significant digits.
 * Return: 0; -ENOMEM (nothing is left allocated then).
 */
int cb_result_init(struct cb_result *r);

/* cb_result_stages() - room for @n stages' figures (latency histograms as
 * cb_result_init()'s). Return: 0; -ENOMEM. */
int cb_result_stages(struct cb_result *r, unsigned n);

/* cb_result_hosts() - room for @n hosts' figures (--targets; latency
 * histograms as cb_result_init()'s). Return: 0; -ENOMEM. */
int cb_result_hosts(struct cb_result *r, unsigned n);

/* cb_result_free() - free the histograms (a zeroed @r is fine too). */
void cb_result_free(struct cb_result *r);

/*
 * cb_result_error() - count one error of @cls with result code @code
 * (-errno or COIL_E*, as the op's callback got it). O(CB_ERR_CODES), no
 * allocation. A @cls out of range is counted nowhere.
 */
void cb_result_error(struct cb_result *r, enum cb_err_class cls, int code);

/* cb_result_status() - count one complete response with status @code. */
void cb_result_status(struct cb_result *r, unsigned code);

/*
 * cb_result_merge() - add @src (one thread's result) into @dst: counters
 * and histograms are added, error codes merged by code, max_lag_ns and
 * runtime_ns take the larger, late_ns the larger.
 * Return: 0; -EINVAL if @dst == @src.
 */
int cb_result_merge(struct cb_result *dst, const struct cb_result *src);

/*
 * cb_result_saturated() - whether the generator, not the server, limited
 * the run, so the numbers describe coil-bench: its CPU time (user +
 * system) was at least 90% of runtime x threads, or (with -R) its backlog
 * of due requests persisted (backlog_max_ns >= CB_BACKLOG_PERSIST_NS).
 * Late sends alone do not count: a host's timer jitter makes some late on
 * an idle generator (timer_late says how many an idle timer had).
 */
bool cb_result_saturated(const struct cb_opts *o, const struct cb_result *r);

/* cb_result_cpu_pct() - the generator's CPU time (user + system) as a
 * percentage of runtime x threads; cb_result_backlogged() - with -R, the
 * backlog of due requests persisted (the two causes of saturation). */
double cb_result_cpu_pct(const struct cb_opts *o, const struct cb_result *r);
bool cb_result_backlogged(const struct cb_opts *o, const struct cb_result *r);

/*
 * cb_report_header() - the lines wrk prints when a test starts:
 *   "Running 10s test @ URL" / "  2 threads and 10 connections",
 * and, when set, coil's line on -R, -n and --warmup.
 */
void cb_report_header(FILE *f, const struct cb_opts *o);

/*
 * cb_report_text() - the final report in wrk's layout ("Thread Stats",
 * Latency / Req/Sec rows, "Latency Distribution" with -L (50/75/90/99% as
 * wrk, then 99.9/99.99/99.999% and 100%), "N requests in T, B read",
 * "Socket errors", "Non-2xx or 3xx responses", "Requests/sec",
 * "Transfer/sec"), wrk's unit formatting, then coil's extras: uncorrected
 * latency (-U), responses by status, errors by class with their errno
 * names and texts, the open model's late and unsent requests, system calls
 * and CPU time per request, and a warning when the generator saturated.
 */
void cb_report_text(FILE *f, const struct cb_opts *o,
		    const struct cb_result *r);

/*
 * cb_report_slo_text() - one line per --slo condition: the expression, the
 * value found, the limit and "pass" or "FAIL", then a summary line
 * (nothing without --slo). Latency units as in the condition's metric.
 */
void cb_report_slo_text(FILE *f, const struct cb_opts *o,
			const struct cb_result *r);

/*
 * cb_report_json() - the whole result and configuration as one JSON object
 * (RFC 8259) and a newline. Strings are escaped; bytes that are not UTF-8
 * become U+FFFD. Latencies are in ns. With --segment, "config" is the
 * whole test's and "segment" this worker's share; "histograms" carries
 * every histogram exactly (hdrlog.h), for coil-bench merge.
 * Return: 0; -EIO if writing to @f failed; -ENOMEM (a histogram could not
 * be encoded: written as null).
 */
int cb_report_json(FILE *f, const struct cb_opts *o, const struct cb_result *r);

/*
 * cb_report_verdict() - the exit status a finished run (or a merged one)
 * earns: CB_EXIT_FAILED when no request succeeded (no 2xx or 3xx
 * response) or an --slo condition failed, each said in one line on
 * stderr; else CB_EXIT_OK.
 */
int cb_report_verdict(const struct cb_opts *o, const struct cb_result *r);

/* ---- what the text report (report.c) and the JSON (report_json.c) share */

/* The -L percentiles: "50" .. "100" and their values. */
#define CB_NPCT 8
extern const char *const cb_pct_labels[CB_NPCT];
extern const double cb_pct_values[CB_NPCT];
/* The error classes' names ("connect", "tls", ...). */
extern const char *const cb_err_class_names[CB_ERR_CLASSES];
/* Why responses were timed when reaped, by enum cb_rx_fallback. */
extern const char *const cb_rx_why[4];

/* cb_code_name() - a result code's symbolic name: "ECONNREFUSED",
 * "COIL_EPARSE", or "unknown". */
const char *cb_code_name(int code);

/* cb_rx_source() - "kernel", "reap" or "mixed": where the response times
 * came from. */
const char *cb_rx_source(const struct cb_result *r);

/* cb_within_stdev_pct() - the share of values within mean +/- stdev, in %
 * (wrk's "+/- Stdev" column). */
double cb_within_stdev_pct(const struct coil_hist *h);

/* Percentile ticks of the latency curves (JSON "curve", the plot). */
#define CB_CURVE_MAX 128

/*
 * cb_curve_percentiles() - HdrHistogram's percentile ticks, 5 per halving
 * of 1 - p (0, 10, 20, 30, 40, 50, 55, ... 99.9, ...), ending with 99.999.
 * Return: how many were written to @out (at most @max).
 */
size_t cb_curve_percentiles(double *out, size_t max);

/*
 * cb_json_string() - write @s (@len bytes) as a JSON string literal with
 * its quotes: '"' and '\\' escaped, control characters as \n, \t, ... or
 * \u00XX, valid UTF-8 passed through, each invalid byte as \ufffd.
 */
void cb_json_string(FILE *f, const char *s, size_t len);

#endif
