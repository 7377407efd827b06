/*
 * tools/coil-bench/cli.h - coil-bench's command line, familiar to wrk and
 * wrk2 users: `coil-bench [options] URL`.
 *
 * cb_cli_parse() never prints and never exits: it fills a struct cb_opts or
 * returns an error code with a one-line message, and main() prints that
 * line and exits with CB_EXIT_USAGE (2).
 */
#ifndef COIL_BENCH_CLI_H
#define COIL_BENCH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/exit_status.h"
#include "segment.h"
#include "route.h"
#include "slo.h"
#include "stages.h"

/* Exit statuses (tools/common/exit_status.h, shared by the programs). */
#define CB_EXIT_OK COIL_EXIT_OK
#define CB_EXIT_FAILED                                                         \
	COIL_EXIT_FAILED	      /* no request succeeded, or an           \
				       * --slo condition failed */
#define CB_EXIT_USAGE COIL_EXIT_USAGE /* every command-line error */
#define CB_EXIT_START COIL_EXIT_START /* could not start */

/* What main() should do after a successful parse. */
enum cb_action {
	CB_RUN = 0,	/* run the test */
	CB_HELP = 1,	/* -h/--help: print cb_cli_usage() to stdout, exit 0 */
	CB_VERSION = 2, /* -V/-v/--version: print cb_cli_version(), exit 0 */
};

/* Defaults (wrk's where wrk has one). */
#define CB_DEFAULT_THREADS 2
#define CB_DEFAULT_CONNECTIONS 10
#define CB_DEFAULT_DURATION_NS 10000000000ull /* 10 s */
#define CB_DEFAULT_TIMEOUT_NS 2000000000ull   /* 2 s */

/* Limits: beyond them the parse fails with a message. */
#define CB_MAX_THREADS 1024
#define CB_MAX_CONNECTIONS 10000000u
#define CB_MAX_PIPELINE 1024
#define CB_MAX_BODY_BYTES (64u << 20)
#define CB_MAX_URLS 100000
#define CB_MAX_BATCH_WAIT_NS 1000000000ull
#define CB_MAX_SLOS 64
/* --batch-wait's default: on while responses carry kernel receive
 * timestamps (then batching costs no latency accuracy), off otherwise */
#define CB_DEFAULT_BATCH_WAIT_NS 100000ull /* 100 us */
/* ... and with --http2 and more than one stream per connection: a loop
 * with that many requests in flight per connection gathers five times as
 * long, so a wait reaps several connections' responses and sends their
 * next requests in one go (-c50 --max-streams 10 against nginx: about 0.04
 * instead of 0.08 system calls and 15% less CPU per request, requests/s
 * not lower; docs/BENCHMARKS.md, vs-h2load) */
#define CB_H2_BATCH_WAIT_NS 500000ull /* 500 us */
/* ... and otherwise with CB_WIDE_CONNS or more connections per thread:
 * each wake of a waiting loop costs 10-15 us of CPU on a VM (a timer
 * interrupt and a context switch, each a VM exit), and with that many
 * connections a longer wait still finds the server busy with the others'
 * requests; with fewer, a longer hold idles them. -t1 -c50 against nginx,
 * alternating 100 and 200 us, three A/Bs of 8 rounds at load 6-12:
 * 0.87-0.92x the CPU per request (docs/BENCHMARKS.md, vs-wrk) */
#define CB_WIDE_BATCH_WAIT_NS 200000ull /* 200 us */
#define CB_WIDE_CONNS 50
#define CB_MAX_RATE 1000000000ull
#define CB_DEFAULT_STEP_NS 10000000000ull /* --find-max-rate: 10 s */
#define CB_DEFAULT_SEARCH_RATE 1000	  /* ... from 1000/s */

/*
 * Everything the command line says. Strings marked "argv" point into the
 * argv given to cb_cli_parse() and live as long as it does; "owned" ones
 * are freed by cb_cli_free().
 */
struct cb_opts {
	enum cb_action action;

	/* target */
	const char *url; /* the positional URL (argv), or NULL when
			  * only --urls gave URLs */
	char **urls;	 /* every URL in round-robin order: url first,
			  * then --urls lines (owned); n_urls >= 1.
			  * Validated later by the HTTP layer. */
	size_t n_urls;
	const char *urls_file; /* --urls FILE (argv) or NULL */

	/* -s FILE (argv) or NULL; with it, the arguments after the URL
	 * (wrk: after "--") are passed to init() (argv, not owned) */
	const char *script;
	const char *const *script_args;
	size_t n_script_args;

	/* load */
	uint32_t threads;     /* -t, >= 1 */
	uint32_t connections; /* -c, total over all threads, >= threads */
	uint64_t duration_ns; /* -d; 0 only when -n was given without -d:
			       * then the run ends after -n requests */
	uint64_t warmup_ns;   /* --warmup: load sent, not measured; 0 = none */
	uint64_t timeout_ns;  /* --timeout, per request, > 0 */
	uint64_t connect_timeout_ns; /* --connect-timeout; 0: timeout_ns */
	uint64_t rate;	      /* -R, total requests/s; 0 = closed model */
	uint64_t requests;    /* -n, stop after this many; 0 = no limit */
	uint32_t pipeline;    /* -P, requests in flight per connection */
	bool keepalive;	      /* false with --no-keepalive */
	bool http2;	      /* --http2 (--http1.1 clears it) */
	uint32_t max_streams; /* --max-streams with --http2 (default 1) */
	uint32_t header_table_bytes; /* --header-table-size (0: none) */
	bool header_table_set;	     /* given; else nghttp2's 4096 */
	bool insecure;		     /* -k: no TLS certificate verification */
	const char *tls_versions;    /* --tls-version (argv): "1.2", "1.3",
				      * "1.2-1.3"; NULL = the library's range */
	uint64_t batch_wait_ns;	     /* --batch-wait: gather completions this
				      * long per wait (coil_loop_opts.batch_wait_ns,
				      * at most 1 s); 0 = off */
	bool batch_wait_set;	     /* --batch-wait given (else the default,
				      * dropped without receive timestamps) */
	bool reap_time;		     /* --reap-time: time responses when reaped,
				      * not by the kernel's receive timestamps */

	/* request */
	const char *method;   /* -m (argv), default "GET", or "POST" when a
			       * body is given without -m */
	const char **headers; /* -H values in order (argv); array owned */
	size_t n_headers;
	char *body;	       /* -b or --body-file contents (owned), or NULL */
	size_t body_len;       /* bytes; a body may hold NUL bytes */
	const char *body_file; /* --body-file FILE (argv) or NULL */

	/* output */
	bool latency;	     /* -L: latency distribution */
	bool uncorrected;    /* -U: uncorrected latency too (needs -R) */
	bool json;	     /* --json: one JSON object instead of text */
	const char *output;  /* --output FILE (argv): the report goes there
			      * instead of stdout; opened by main() */
	const char *hdr_log; /* --hdr-log FILE (argv) or NULL */

	/* verdicts */
	struct cb_slo *slos; /* --slo conditions in order (owned) */
	size_t n_slos;

	/*
	 * --stages (stages.h; owned; stages.n == 0 without). Open model
	 * (-R given, 0 allowed): the rate starts at -R, and rate becomes the
	 * stages' peak. Closed model: the number of sending connections
	 * starts at -c, and connections becomes the peak (opened up front).
	 * duration_ns is the stages' total length.
	 */
	struct cb_stages stages;
	const char *stages_spec; /* argv */

	/* --find-max-rate: open-model steps of step_ns each after a warmup
	 * of warmup_ns (default step / 5), starting at rate (-R; default
	 * CB_DEFAULT_SEARCH_RATE); needs --slo */
	bool find_max_rate;
	uint64_t step_ns; /* --step, default CB_DEFAULT_STEP_NS */

	const char *plot; /* --plot FILE.svg (argv) or NULL */

	/* one test over N workers (segment.h): --segment I/N or auto,
	 * --segments N; connections, threads and requests above are then
	 * this worker's share, seg holds the whole test's */
	struct cb_segment seg;
	uint64_t start_at_ns; /* --start-at: CLOCK_REALTIME ns; 0 = none */

	/* connections: TLS files and where connections go (curl's
	 * spellings; tools/common/tls_opts.h, route.h) */
	const char *cacert; /* --cacert FILE (argv) or NULL */
	const char *cert;   /* --cert FILE (argv) or NULL */
	const char *key;    /* --key FILE (argv) or NULL: the --cert file */
	struct cb_routes routes;  /* --connect-to, --resolve, --unix-socket */
	const char *targets_file; /* --targets FILE (argv) or NULL */
};

/*
 * cb_cli_parse() - parse a coil-bench command line.
 * @o:       filled on success (and on error, partly; always call
 *           cb_cli_free() afterwards).
 * @argc, @argv: as given to main(); getopt_long(3) may reorder @argv (GNU
 *           permutation: options and the URL in any order; "--" ends the
 *           options). Resets getopt's state, so it can run more than once.
 * @err:     receives a one-line message on failure (no newline, no program
 *           name); @err_len its size.
 *
 * -h and -V (-v) stop the parse at once with action CB_HELP / CB_VERSION.
 * Numbers accept wrk's suffixes k, M, G (10^3, 10^6, 10^9) and decimals
 * that come out whole ("1.5k"); times accept ns, us, ms, s, m, h, and a
 * plain number means seconds (cb_parse_duration()), microseconds for
 * --batch-wait (as coil-serve's; tools/common/cli.h).
 *
 * Return: 0; -EINVAL for a usage error (unknown option, missing value or
 * URL, bad number or time, -c below -t, -R below -t, zero duration, zero
 * count, bad header or method, conflicting options); -ENOENT, -EACCES,
 * -EISDIR, -EFBIG, ... when --body-file or --urls cannot be read; -ENOMEM.
 * For every error main() exits with CB_EXIT_USAGE.
 */
int cb_cli_parse(struct cb_opts *o, int argc, char **argv, char *err,
		 size_t err_len);

/*
 * cb_cli_add_slos() - --slo's value: conditions separated by commas, each
 * parsed (cb_slo_parse()) and appended to @o->slos.
 * Return: 0; -EINVAL with a message in @err; -ENOMEM.
 */
int cb_cli_add_slos(struct cb_opts *o, const char *arg, char *err, size_t len);

/* cb_cli_free() - free what cb_cli_parse() allocated; @o is zeroed. */
void cb_cli_free(struct cb_opts *o);

/* cb_cli_usage() - the --help text. */
void cb_cli_usage(FILE *f);

/* cb_cli_version() - "coil-bench X.Y.Z" (tools_print_version()). */
void cb_cli_version(FILE *f);

/*
 * cb_parse_duration() - "250ms", "10s", "1.5m", "2h", "100us", "10" (s).
 * @ns: receives the duration in ns (fractions below 1 ns are dropped).
 * Units are case-insensitive. Return: 0; -EINVAL for anything else
 * (empty, sign, junk, unknown unit); -ERANGE above 2^64-1 ns.
 */
int cb_parse_duration(const char *s, uint64_t *ns);

/*
 * cb_parse_count() - "100", "10k", "1.5M", "2G" (SI, case-insensitive).
 * Return: 0; -EINVAL for junk or a value that is not whole ("1.5");
 * -ERANGE above 2^64-1.
 */
int cb_parse_count(const char *s, uint64_t *n);

#endif
