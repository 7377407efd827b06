/*
 * tools/coil-bench/gen.h - the load generator: one coil_loop per thread,
 * the connections split across threads, pre-built request bytes written
 * on persistent connections and responses parsed with the project's HTTP
 * parser straight out of the ring's provided buffers.
 *
 * main() fills a struct cb_target (what to send, where) and a struct
 * cb_run (the options, the shared start time, the optional HdrHistogram
 * log), then calls cb_run_threads(), which starts the threads, lets them
 * connect, publishes one start time t0 to all of them, waits for them and
 * leaves each thread's struct cb_result in run->threads[k].r for main to
 * merge and print.
 */
#ifndef COIL_BENCH_GEN_H
#define COIL_BENCH_GEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "coil/async.h"
#include "cli.h"
#include "hdrlog.h"
#include "report.h"
#include "series.h"

struct coil_tls_config;
struct cb_script;

/* --targets: one server of the run (scheme, host and port) and the
 * requests that go to it, round robin on its connections. */
struct cb_host {
	int https;
	char host[256]; /* the URL's host: SNI and certificate check */
	uint16_t port;
	struct sockaddr_storage addrs[COIL_RESOLVE_MAX];
	unsigned naddrs;
	uint32_t *reqs; /* its requests: indices into cb_target's (owned) */
	size_t n_reqs;
};

/* What every connection talks to. Built once by main, read-only after. */
struct cb_target {
	int https;
	char host[256]; /* URL host: SNI and certificate check */
	uint16_t port;
	struct sockaddr_storage addrs[COIL_RESOLVE_MAX];
	unsigned naddrs;
	/* the requests, one per URL, back to back in @reqs; sent round
	 * robin (connection i starts at URL i mod n) */
	char *reqs;
	size_t *req_off;
	size_t *req_len;
	size_t n_reqs;
	unsigned parse_flags;	     /* COIL_HTTP_PARSE_HEAD for -m HEAD */
	struct coil_tls_config *tls; /* HTTPS client configuration */

	/*
	 * --targets (targets.c): the hosts (owned; n_hosts 0 without, and
	 * then the fields above say where every connection goes). The -c
	 * connections are dealt over the hosts in proportion to their
	 * targets: connection i goes to host slot_host[i % n_slots], where
	 * the slots interleave the hosts' targets round robin (A1 B1 A2 B2
	 * A3 ...), so -c >= n_hosts reaches every host. slot_rank: the
	 * connection's rank among its host's within one cycle of slots.
	 */
	struct cb_host *hosts;
	unsigned n_hosts;
	uint32_t *slot_host, *slot_rank;
	size_t n_slots;
	unsigned char *req_head; /* per request: 1 for HEAD (no body) */
};

struct cb_run;

/* One generator thread. Only the thread writes it while it runs, except
 * the live_* counters, which main reads for the progress line. */
struct cb_thread {
	struct cb_run *run;
	unsigned k;
	pthread_t tid;
	struct cb_result r;
	int fatal; /* nonzero: the thread could not run */
	char fatal_msg[512];
	_Atomic uint64_t live_requests; /* responses so far (warmup too) */
	_Atomic uint64_t live_errors;
};

/* The run, shared by main and the threads. */
struct cb_run {
	const struct cb_opts *o;
	const struct cb_target *t;
	uint64_t batch_wait_ns;	  /* coil_loop_opts.batch_wait_ns */
	struct cb_hdr *hdr;	  /* NULL without --hdr-log */
	struct cb_script *script; /* -s, or NULL */
	struct cb_series *series; /* the per-second series, fed by the
				   * threads (required) */
	unsigned threads;
	struct cb_thread *th; /* [threads] */
	/* the start gate: threads count themselves ready, then wait for
	 * go (1: run from t0_ns, -1: the run is off) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned ready, finished;
	int go;
	uint64_t t0_ns;
	uint64_t start_late_ns; /* --start-at: how late t0 came */
	/* set from a signal handler (SIGINT, SIGTERM): end the run now, as
	 * at the end of -d: no new request, the ones in flight awaited */
	atomic_int interrupted;
	/* a thread's script raised an error: every thread ends its run */
	atomic_int script_failed;
};

/*
 * cb_run_threads() - run the load: start run->threads threads (run->th
 * must be allocated and zeroed, run->o/t/threads set), each connecting
 * its share of the connections; once all have connected (or failed to),
 * set one t0 for all and let them go; wait for them. Each thread's result
 * is in run->th[k].r (cb_result_free() it), unless an error is returned.
 * @progress: called about every
 * @progress_ns on the calling thread while the threads run (NULL: none).
 *
 * Return: 0; -errno if a thread could not be started (then none runs).
 * A thread that fails on its own sets th->fatal and a message.
 */
int cb_run_threads(struct cb_run *run,
		   void (*progress)(struct cb_run *run, uint64_t elapsed_ns),
		   uint64_t progress_ns);

/* monotonic clock (ns) */
uint64_t cb_mono_ns(void);

/*
 * cb_ring_strerror() - why coil_loop_new() failed with @err: for EPERM and
 * ENOSYS from io_uring_setup(2), the likely cause (a container's seccomp
 * profile, kernel.io_uring_disabled, an old kernel) and the fix; else
 * coil_loop_strerror()'s text.
 */
const char *cb_ring_strerror(int err);

#endif
