/*
 * tools/coil-bench/gen.c - the load generator (see gen.h): the threads,
 * their loops and timers, the run's phases. A connection's own work is in
 * conn.c (gen_internal.h).
 *
 * Per thread: one coil_loop, its share of the connections (cb_split()),
 * one tick timer (req/s samples, the --timeout sweep, the progress
 * counters, --hdr-log intervals) and one end timer. Per connection: a TCP
 * stream (coil/stream.h), a ring of the requests in flight with their
 * intended and actual start times, one write request per pipeline slot,
 * and with -R a lane of the global schedule (schedule.h), handed its due
 * requests by the thread's pacer (pacer.c); what a busy connection has no
 * room for goes to a free one (conn.c, lend_due()).
 *
 * The hot path allocates nothing: requests are pre-built bytes written as
 * they are; responses are parsed where the kernel put them (the loop's
 * provided buffers, multishot recv); only a head split across two reads
 * is copied into a small per-connection buffer, allocated the first time
 * that happens. Every write of a turn leaves in one sendmsg per
 * connection (the stream coalesces), and every send of a turn in one
 * io_uring_enter(2) (the loop batches).
 *
 * Accounting: every request sent ends as exactly one of: a response
 * (counted in requests and its status), or an error of the class that
 * lost it (a connection failure with N requests in flight counts N
 * errors; a failure with none in flight, one). Requests the server
 * refused to read because it closed the connection after an earlier
 * response ("Connection: close") were not served: they are sent again on
 * the next connection. At the end no new request goes out and those in
 * flight are awaited, each bounded by --timeout, so the request count is
 * what the server answered.
 */

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gen_internal.h"
#include "jitter.h"

#define TICK_MAX_NS 100000000ull /* 100 ms: wrk's req/s sample */
#define CONNECT_INFLIGHT 64	 /* connects in flight before the run */

const char *cb_ring_strerror(int err)
{
	switch (err) {
	case -EPERM:
	case -ENOSYS:
		/* Docker's and containerd's default seccomp profiles (the
		 * Kubernetes RuntimeDefault) deny io_uring_setup(2) with
		 * EPERM; other filters answer ENOSYS */
		return err == -EPERM
			       ? "io_uring_setup(2) refused (EPERM): in a "
				 "container the runtime's default seccomp "
				 "profile blocks io_uring; run it with seccomp "
				 "Unconfined (docker run --security-opt "
				 "seccomp=unconfined; Kubernetes: "
				 "securityContext.seccompProfile.type: "
				 "Unconfined, as "
				 "deploy/k8s/coil-bench-job.yaml) "
				 "or a profile that allows io_uring_setup, "
				 "io_uring_enter and io_uring_register; "
				 "outside "
				 "one, check sysctl kernel.io_uring_disabled"
			       : "io_uring_setup(2) refused (ENOSYS): a "
				 "seccomp "
				 "filter that blocks io_uring (run with "
				 "seccomp "
				 "Unconfined or a profile that allows "
				 "io_uring_setup, io_uring_enter and "
				 "io_uring_register: deploy/k8s/"
				 "coil-bench-job.yaml) or a kernel without it "
				 "(Linux 5.19 or later)";
	default:
		return coil_loop_strerror(err);
	}
}

uint64_t cb_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t thread_cpu(uint64_t *sys)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	*sys = (uint64_t)ru.ru_stime.tv_sec * 1000000000ull +
	       (uint64_t)ru.ru_stime.tv_usec * 1000ull;
	return (uint64_t)ru.ru_utime.tv_sec * 1000000000ull +
	       (uint64_t)ru.ru_utime.tv_usec * 1000ull;
}

static void stop_all(struct cb_gen *g)
{
	if (g->stopping)
		return;
	if (g->o->rate)
		cb_pacer_end(g);
	g->stopping = 1;
	for (unsigned i = 0; i < g->n; i++) {
		struct cb_conn *c = &g->conns[i];
		if (g->o->rate && g->measuring)
			g->th->r.unsent +=
				cb_sched_backlog(&c->sched, g->end - 1);
		if (coil_op_busy(&c->tmr))
			coil_timeout_remove(g->loop, &c->tmr);
		switch (c->state) {
		case C_IDLE:
			if (coil_op_busy(&c->retry)) {
				coil_timeout_remove(g->loop, &c->retry);
			} else {
				if (g->o->rate && c->unsent)
					g->th->r.unsent += c->unsent;
				c->count = c->unsent = 0;
				c->state = C_DONE;
				g->live--;
			}
			break;
		case C_CONNECTING:
		case C_HANDSHAKE:
			coil_stream_close(c->s, NULL);
			break;
		case C_OPEN:
			if (c->count == c->unsent)
				cb_conn_close(c);
			break;
		default:
			break;
		}
	}
	maybe_finish(g);
}

/* The --timeout sweep: the oldest request of each connection. */
static void sweep(struct cb_gen *g, uint64_t now)
{
	uint64_t to = g->o->timeout_ns;
	for (unsigned i = 0; i < g->n; i++) {
		struct cb_conn *c = &g->conns[i];
		struct cb_slot *sl;
		if (c->state != C_OPEN || c->count == c->unsent)
			continue;
		sl = &c->ring[c->head];
		if (sl->start && now - sl->start >= to)
			cb_conn_fail(c, CB_ERR_TIMEOUT, -ETIMEDOUT);
	}
}

static void begin_measuring(struct cb_gen *g)
{
	struct coil_loop_stats st;
	g->measuring = 1;
	coil_loop_stats(g->loop, &st);
	g->enters0 = st.enters;
	g->batched0 = st.batched;
	g->outside_syscalls = 0;
	g->cpu_u0 = thread_cpu(&g->cpu_s0);
	g->last_sample = g->measure;
	g->sample_done = g->responses;
	g->sec = 0;
	g->sec_end = g->measure + 1000000000ull;
}

/* Closed --stages: how many connections send at @now (by rank), and a
 * start for those that just became active. */
static void update_active(struct cb_gen *g, uint64_t now)
{
	const struct cb_stages *st = &g->o->stages;
	double v = cb_stages_value(st, now > g->t0 ? now - g->t0 : 0);
	uint64_t was = g->active;
	/* with --segment, this worker's share of the whole test's value */
	uint64_t n = cb_segment_share(&g->o->seg, (uint64_t)llround(v));

	g->active = n;
	if (n <= was)
		return; /* fewer: the others finish what they sent and wait */
	for (unsigned i = 0; i < g->n; i++) {
		struct cb_conn *c = &g->conns[i];
		if (c->rank >= was && c->rank < n && c->state == C_OPEN)
			cb_conn_send_more(c);
	}
}

static void tick_cb(struct coil_op *op, int res, unsigned flags)
{
	struct cb_gen *g = coil_container_of(op, struct cb_gen, tick);
	uint64_t now = coil_now(g->loop);
	(void)flags;

	if (res < 0 || g->finished)
		return;
	if (!g->measuring && now >= g->measure)
		begin_measuring(g);
	if (!g->stopping &&
	    (atomic_load_explicit(&g->run->interrupted, memory_order_relaxed) ||
	     atomic_load_explicit(&g->run->script_failed,
				  memory_order_relaxed))) {
		if (!g->measuring)
			begin_measuring(g);
		if (now + 1 < g->end)
			g->end = now + 1; /* the run ends here */
		stop_all(g);
		if (g->finished)
			return;
	}
	sweep(g, now);
	if (g->measuring)
		cb_track_roll(g, now);
	if (g->o->stages.n && !g->o->rate && !g->stopping)
		update_active(g, now);
	if (g->measuring && now - g->last_sample >= TICK_MAX_NS) {
		uint64_t d = now - g->last_sample;
		coil_hist_record(g->th->r.req_per_sec,
				 (g->responses - g->sample_done) *
					 1000000000ull / d);
		g->last_sample = now;
		g->sample_done = g->responses;
	}
	if (g->run->hdr && g->measuring &&
	    now >= g->measure + (g->hdr_interval + 1) * CB_HDR_INTERVAL_NS) {
		cb_hdr_add(g->run->hdr, g->hdr_interval,
			   (g->hdr_interval + 1) * CB_HDR_INTERVAL_NS, g->ih,
			   g->ihu);
		coil_hist_reset(g->ih);
		if (g->ihu)
			coil_hist_reset(g->ihu);
		g->hdr_interval++;
	}
	atomic_store_explicit(&g->th->live_requests, g->responses,
			      memory_order_relaxed);
	atomic_store_explicit(&g->th->live_errors, g->errors,
			      memory_order_relaxed);
	while (g->next_tick <= now)
		g->next_tick += g->tick_ns;
	coil_timeout(g->loop, &g->tick, g->next_tick, COIL_TIMEOUT_ABS);
}

/* The run ends now (-d's end, or a halt): what was not measured yet is
 * measured from here, and every connection stops. */
static void end_now(struct cb_gen *g)
{
	if (!g->measuring)
		begin_measuring(g);
	stop_all(g);
}

static void end_cb(struct coil_op *op, int res, unsigned flags)
{
	(void)flags;
	if (res >= 0)
		end_now(coil_container_of(op, struct cb_gen, endt));
}

/* thread:stop() or a script error (script.h): no new request from now;
 * the run ends on the next turn as at the end of -d. */
static void halt(void *arg)
{
	struct cb_gen *g = arg;
	uint64_t now = coil_now(g->loop);
	if (g->script->error[0] && !g->th->r.stopped[0]) {
		snprintf(g->th->r.stopped, sizeof(g->th->r.stopped),
			 "script error: %.*s",
			 (int)sizeof(g->th->r.stopped) - 16, g->script->error);
		atomic_store(&g->run->script_failed, 1);
	}
	if (g->halted || g->stopping)
		return;
	g->halted = 1;
	if (now + 1 < g->end)
		g->end = now + 1; /* the open model's schedule ends too */
	coil_timeout(g->loop, &g->halt_op, 0, 0);
}

static void halt_cb(struct coil_op *op, int res, unsigned flags)
{
	(void)flags;
	if (res >= 0)
		end_now(coil_container_of(op, struct cb_gen, halt_op));
}

static void gen_free(struct cb_gen *g)
{
	if (!g)
		return;
	if (g->conns) {
		for (unsigned i = 0; i < g->n; i++) {
			free(g->conns[i].acc);
			free(g->conns[i].rb);
			for (unsigned j = 0; j < g->pipeline; j++)
				free(g->conns[i].ring[j].buf);
		}
		free(g->conns[0].ring);
		free(g->conns[0].ws);
	}
	if (g->h2)
		g->h2->free(g);
	free(g->conns);
	free(g->due);
	coil_hist_free(g->ih);
	coil_hist_free(g->ihu);
	cb_track_free(g);
	coil_tls_cache_free(g->tls_cache);
	if (g->loop)
		coil_loop_free(g->loop);
	free(g);
}

/* --targets: the connection's host and its first request (gen.h). */
static void conn_host(struct cb_conn *c, const struct cb_target *t)
{
	size_t slot = (size_t)(c->idx % t->n_slots);
	c->host_k = t->slot_host[slot];
	c->host = &t->hosts[c->host_k];
	c->url_next =
		(c->idx / t->n_slots) * c->host->n_reqs + t->slot_rank[slot];
}

static int gen_setup(struct cb_thread *th, struct cb_gen **out)
{
	struct cb_run *run = th->run;
	const struct cb_opts *o = run->o;
	struct coil_loop_opts lo = {0};
	struct cb_gen *g;
	struct cb_slot *rings;
	struct cb_wslot *ws;
	uint64_t first, count;
	int ret;

	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->th = th;
	g->run = run;
	g->o = o;
	g->t = run->t;
	g->pipeline = o->pipeline ? o->pipeline : 1;
	if (o->http2) {
		g->h2 = &cb_h2_proto;
		g->pipeline = o->max_streams ? o->max_streams : 1;
	}
	snprintf(th->r.protocol, sizeof(th->r.protocol), "%s",
		 !o->http2	 ? "http/1.1"
		 : run->t->https ? "h2"
				 : "h2c");
	g->reqs = run->t->reqs;
	g->req_off = run->t->req_off;
	g->req_len = run->t->req_len;
	g->n_reqs = run->t->n_reqs;
	g->parse_flags = run->t->parse_flags;
	g->addrs = run->t->addrs;
	g->naddrs = run->t->naddrs;
	if (run->script) {
		struct cb_script_thread *st =
			cb_script_thread(run->script, th->k);
		g->script = st;
		g->dynamic = st->dynamic;
		g->want_response = st->want_response;
		g->has_delay = st->has_delay && !o->rate;
		g->reqs = st->req; /* the static request */
		g->req_off = &g->zero_off;
		g->req_len = &st->req_len;
		g->n_reqs = 1;
		g->parse_flags = st->req_len > 5 && !memcmp(st->req, "HEAD ", 5)
					 ? COIL_HTTP_PARSE_HEAD
					 : 0;
		if (st->has_addr) {
			g->addrs = &st->addr;
			g->naddrs = 1;
		}
	}
	cb_split(o->connections, run->threads, th->k, &first, &count);
	g->n = (unsigned)count;
	lo.batch_wait_ns = run->batch_wait_ns;
	/* enough SQ for one send and one timer per connection per turn */
	lo.sq_entries = g->n * 2 + 64 > 4096 ? 4096 : g->n * 2 + 64;
	ret = coil_loop_new(&g->loop, &lo);
	if (ret < 0) {
		snprintf(th->fatal_msg, sizeof(th->fatal_msg), "%s",
			 cb_ring_strerror(ret));
		free(g);
		return ret;
	}
	/* Responses timed by the kernel's receive timestamps need
	 * multishot recv; without them the default batched wait goes (the
	 * reap times would carry it). */
	if (o->reap_time)
		th->r.rx_fallback = CB_RX_ASKED;
	else if (!(coil_loop_features(g->loop) & COIL_FEAT_MULTISHOT_RECV))
		th->r.rx_fallback = CB_RX_NO_MULTISHOT;
	else
		g->tcp_flags = COIL_TCP_RX_TIME;
	if (th->r.rx_fallback && !o->batch_wait_set)
		coil_loop_set_batch_wait(g->loop, 0);
	else if (coil_loop_features(g->loop) & COIL_FEAT_MIN_WAIT)
		th->r.batch_wait_ns = o->batch_wait_ns;
	g->conns = calloc(g->n, sizeof(*g->conns));
	g->due = calloc(g->pipeline, sizeof(*g->due));
	rings = calloc((size_t)g->n * g->pipeline, sizeof(*rings));
	ws = calloc((size_t)g->n * g->pipeline, sizeof(*ws));
	if (!g->conns || !g->due || !rings || !ws) {
		free(rings);
		free(ws);
		gen_free(g);
		return -ENOMEM;
	}
	if ((run->hdr && (coil_hist_new(&g->ih, NULL) < 0 ||
			  (o->rate && coil_hist_new(&g->ihu, NULL) < 0)))) {
		free(rings);
		free(ws);
		gen_free(g);
		return -ENOMEM;
	}
	if (cb_track_setup(g) < 0 ||
	    (o->stages.n && !th->r.nstages &&
	     cb_result_stages(&th->r, o->stages.n) < 0) ||
	    (run->t->n_hosts && !th->r.nhosts &&
	     cb_result_hosts(&th->r, run->t->n_hosts) < 0)) {
		free(rings);
		free(ws);
		gen_free(g);
		return -ENOMEM;
	}
	if (run->t->https &&
	    (ret = coil_tls_cache_new(&g->tls_cache, 16)) < 0) {
		free(rings);
		free(ws);
		gen_free(g);
		return ret;
	}
	for (unsigned i = 0; i < g->n; i++) {
		struct cb_conn *c = &g->conns[i];
		c->g = g;
		c->idx = o->seg.conn_first + first + i; /* global: the lane */
		/* closed --stages: the i-th connection of each thread before
		 * the (i+1)-th of any, so a ramp loads the threads evenly */
		c->rank = (uint64_t)i * run->threads + th->k;
		c->url_next = c->idx;
		if (run->t->n_hosts)
			conn_host(c, run->t);
		c->ring = rings + (size_t)i * g->pipeline;
		c->ws = ws + (size_t)i * g->pipeline;
		for (unsigned j = 0; j < g->pipeline; j++)
			c->ws[j].c = c;
		coil_http_msg_init(&c->msg, g->headers, MAX_HEADERS);
		coil_op_init(&c->tmr, cb_conn_sched_cb);
		coil_op_init(&c->retry, cb_conn_retry_cb);
		c->head_ref = CB_SCRIPT_NOREF;
		c->state = C_IDLE;
	}
	if (g->h2 && g->want_response) {
		snprintf(th->fatal_msg, sizeof(th->fatal_msg),
			 "--http2 does not run a script's response() yet");
		gen_free(g);
		return -ENOTSUP;
	}
	if (g->h2 && (ret = g->h2->setup(g)) < 0) {
		snprintf(th->fatal_msg, sizeof(th->fatal_msg),
			 "--http2: the request cannot be sent as HTTP/2: %s",
			 coil_strerror(ret));
		gen_free(g);
		return ret;
	}
	if (o->rate)
		cb_pacer_init(g);
	coil_op_init(&g->tick, tick_cb);
	coil_op_init(&g->endt, end_cb);
	coil_op_init(&g->halt_op, halt_cb);
	if (o->requests && !o->rate) {
		uint64_t f, share;
		cb_split(o->requests, run->threads, th->k, &f, &share);
		g->limited = 1;
		g->budget = share;
	}
	g->tick_ns = o->timeout_ns / 10;
	if (g->tick_ns > TICK_MAX_NS)
		g->tick_ns = TICK_MAX_NS;
	if (g->tick_ns < 1000000)
		g->tick_ns = 1000000;
	*out = g;
	return 0;
}

/* The run proper, from t0. */
static int gen_run(struct cb_gen *g)
{
	const struct cb_opts *o = g->o;
	struct coil_loop_stats st;
	uint64_t u, s, end_real;
	int ret;

	g->t0 = g->run->t0_ns;
	coil_now_update(g->loop); /* >= t0: the first requests count */
	g->measure = g->t0 + o->warmup_ns;
	g->end = o->duration_ns ? g->measure + o->duration_ns : UINT64_MAX;
	g->preconnect = 0;
	g->live = g->n;
	if (!o->warmup_ns)
		begin_measuring(g);
	if (g->script) {
		g->script->halt_arg = g;
		g->script->halt = halt;
		if (g->script->stop_early)
			halt(g);
	}
	if (o->stages.n && !o->rate)
		update_active(g, g->t0);
	for (unsigned i = 0; i < g->n; i++) {
		struct cb_conn *c = &g->conns[i];
		if (o->rate) {
			ret = cb_sched_init(&c->sched, g->t0, o->rate, c->idx,
					    cb_lanes(o), o->requests,
					    CB_SCHED_LATE_NS);
			if (ret < 0)
				return ret;
			if (o->stages.n)
				cb_sched_use_stages(&c->sched, &o->stages);
		}
		if (c->state == C_OPEN) {
			cb_conn_send_more(c);
		} else if (c->state == C_IDLE && !coil_op_busy(&c->retry)) {
			if (!o->keepalive && o->rate)
				cb_conn_next(c, 0);
			else
				cb_conn_connect(c);
		}
	}
	if (o->rate)
		cb_pacer_start(g);
	g->next_tick = g->t0 + g->tick_ns;
	coil_timeout(g->loop, &g->tick, g->next_tick, COIL_TIMEOUT_ABS);
	if (g->end != UINT64_MAX)
		coil_timeout(g->loop, &g->endt, g->end, COIL_TIMEOUT_ABS);
	maybe_finish(g);

	ret = coil_loop_run(g->loop, COIL_RUN_DEFAULT);
	if (g->script)
		g->script->halt = NULL; /* main's done() may call stop() */
	if (ret < 0)
		return ret;

	end_real = coil_now_update(g->loop);
	if (!g->measuring)
		begin_measuring(g);
	coil_loop_stats(g->loop, &st);
	u = thread_cpu(&s);
	/* the window: from the measure start to the end of sending (-d,
	 * a signal); the wait for the requests in flight after it apart */
	if (g->end != UINT64_MAX && end_real > g->end) {
		g->th->r.runtime_ns = g->end - g->measure;
		g->th->r.drain_ns = end_real - g->end;
	} else {
		g->th->r.runtime_ns =
			end_real > g->measure ? end_real - g->measure : 0;
	}
	g->th->r.syscalls = st.enters - g->enters0 + g->outside_syscalls + 1;
	g->th->r.rx_clock_steps = st.rt_steps;
	g->th->r.rx_step_fallbacks = st.rt_fallbacks;
	g->th->r.batched_waits = st.batched - g->batched0;
	g->th->r.cpu_user_ns = u - g->cpu_u0;
	g->th->r.cpu_sys_ns = s - g->cpu_s0;
	g->th->r.late_ns = CB_SCHED_LATE_NS;
	if (o->rate) {
		for (unsigned i = 0; i < g->n; i++) {
			const struct cb_sched *sc = &g->conns[i].sched;
			g->th->r.late += sc->late;
			if (sc->max_lag_ns > g->th->r.max_lag_ns)
				g->th->r.max_lag_ns = sc->max_lag_ns;
		}
		g->th->r.late_by = g->pacer.late;
		g->th->r.backlog_max_ns = g->pacer.behind_max_ns;
		g->th->r.pacer_wakes = g->pacer.wakes;
		g->th->r.pacer_gathered = g->pacer.gathered;
		g->th->r.pacer_grid_ns = g->pacer.grid_ns;
	}
	if (g->run->hdr)
		cb_hdr_add(g->run->hdr, g->hdr_interval, end_real - g->measure,
			   g->ih, g->ihu);
	cb_track_end(g, end_real);
	atomic_store_explicit(&g->th->live_requests, g->responses,
			      memory_order_relaxed);
	atomic_store_explicit(&g->th->live_errors, g->errors,
			      memory_order_relaxed);
	return 0;
}

/* Before t0: open the keep-alive connections, so the run measures
 * requests, not the connect storm; at a bounded pace, at most
 * CONNECT_INFLIGHT over all threads in flight. All of them in one
 * submission overflowed the accept queue of nginx (listen backlog 511) at
 * -c 8000: the kernel drops the SYNs that find it full, they come back a
 * second later, as request timeouts. A connect completes when the
 * handshake does, before the server accept()s it, so a cap on connects
 * alone still overflows a server that accepts slower than the loop
 * connects (nginx on a busy CPU, listen backlog 128: 384 SYNs dropped at
 * -c 8000, docs/BENCHMARKS.md "Opening many connections"). With more
 * connections than the cap, a connection is in flight until it answered
 * one request (sent before the window, reported apart): the server's
 * answer proves it accepted it, so at most CONNECT_INFLIGHT wait in its
 * accept queue. A TLS handshake is that proof already; a Lua script that
 * makes requests or reads responses keeps them all to itself. */
static int gen_preconnect(struct cb_gen *g)
{
	unsigned cap = CONNECT_INFLIGHT / g->run->threads, next = 0;
	int seed;
	uint64_t start;
	int ret;

	if (!g->o->keepalive)
		return 0;
	if (!cap)
		cap = 1;
	start = coil_now_update(g->loop);
	g->confirm = g->o->connections > CONNECT_INFLIGHT && !g->t->https &&
		     !g->dynamic && !g->want_response;
	g->preconnect = 1;
	g->connecting = 0;
	/* over TLS the first connection's handshake ends before the others
	 * start, so they find its session in the thread's cache (tls/cache.c)
	 * and resume it (RFC 5077) instead of each paying the public-key
	 * work of a full one */
	seed = g->t->https && g->tls_cache;
	while (next < g->n || g->connecting) {
		while (next < g->n && (unsigned)g->connecting < cap) {
			if (seed && next == 1 && g->connecting)
				break; /* the first handshake alone */
			g->connecting++;
			cb_conn_connect(&g->conns[next++]);
		}
		if (!g->connecting)
			continue;
		ret = coil_loop_run(g->loop, COIL_RUN_ONCE);
		if (ret < 0)
			return ret;
	}
	g->preconnect = 0;
	g->th->r.connect_ns = coil_now_update(g->loop) - start;
	return 0;
}

/* Tell main this thread is ready, wait for t0 (0: the run is off). */
static int gate(struct cb_run *run)
{
	int go;
	pthread_mutex_lock(&run->mu);
	run->ready++;
	pthread_cond_broadcast(&run->cv);
	while (!run->go)
		pthread_cond_wait(&run->cv, &run->mu);
	go = run->go > 0;
	pthread_mutex_unlock(&run->mu);
	return go;
}

static void *thread_main(void *arg)
{
	struct cb_thread *th = arg;
	struct cb_run *run = th->run;
	struct cb_gen *g = NULL;
	sigset_t sigs;
	int ret;

	/* SIGINT and SIGTERM go to main, which tells the threads */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	ret = gen_setup(th, &g);
	if (ret == 0)
		ret = gen_preconnect(g);
	if (ret < 0 && !th->fatal) {
		th->fatal = ret;
		if (!th->fatal_msg[0])
			snprintf(th->fatal_msg, sizeof(th->fatal_msg), "%s",
				 coil_strerror(ret));
	}
	if (gate(run) && !th->fatal) {
		ret = gen_run(g);
		if (ret < 0) {
			th->fatal = ret;
			snprintf(th->fatal_msg, sizeof(th->fatal_msg),
				 "loop failed: %s", coil_strerror(ret));
		}
	}
	gen_free(g);
	pthread_mutex_lock(&run->mu);
	run->finished++;
	pthread_cond_broadcast(&run->cv);
	pthread_mutex_unlock(&run->mu);
	return NULL;
}

int cb_run_threads(struct cb_run *run,
		   void (*progress)(struct cb_run *run, uint64_t elapsed_ns),
		   uint64_t progress_ns)
{
	struct cb_jitter jit = {.period_ns = CB_JITTER_PERIOD_NS,
				.late_ns = CB_SCHED_LATE_NS};
	unsigned started = 0;
	int ret = 0;

	pthread_mutex_init(&run->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&run->cv, &ca);
	pthread_condattr_destroy(&ca);
	run->ready = run->finished = 0;
	run->go = 0;
	for (unsigned k = 0; k < run->threads; k++) {
		struct cb_thread *th = &run->th[k];
		th->run = run;
		th->k = k;
		ret = cb_result_init(&th->r);
		if (ret < 0)
			break;
		ret = -pthread_create(&th->tid, NULL, thread_main, th);
		if (ret < 0) {
			cb_result_free(&th->r);
			break;
		}
		started++;
	}

	pthread_mutex_lock(&run->mu);
	while (run->ready < started)
		pthread_cond_wait(&run->cv, &run->mu);
	/* the open model: the host's own timer lateness beside the run (a
	 * probe that cannot start leaves the figures at 0) */
	if (run->o->rate && started == run->threads)
		cb_jitter_start(&jit);
	if (run->o->start_at_ns && started == run->threads) {
		/* --start-at: connected; now wait for the common start */
		pthread_mutex_unlock(&run->mu);
		run->start_late_ns =
			cb_wait_until(run->o->start_at_ns, &run->interrupted);
		pthread_mutex_lock(&run->mu);
	}
	run->t0_ns = cb_mono_ns();
	run->go = started == run->threads ? 1 : -1;
	pthread_cond_broadcast(&run->cv);
	while (run->finished < started) {
		struct timespec ts;
		uint64_t at;
		if (!progress || run->go < 0) {
			pthread_cond_wait(&run->cv, &run->mu);
			continue;
		}
		at = cb_mono_ns() + progress_ns;
		ts.tv_sec = (time_t)(at / 1000000000ull);
		ts.tv_nsec = (long)(at % 1000000000ull);
		if (pthread_cond_timedwait(&run->cv, &run->mu, &ts) ==
			    ETIMEDOUT &&
		    run->finished < started) {
			pthread_mutex_unlock(&run->mu);
			progress(run, cb_mono_ns() - run->t0_ns);
			pthread_mutex_lock(&run->mu);
		}
	}
	pthread_mutex_unlock(&run->mu);
	for (unsigned k = 0; k < started; k++)
		pthread_join(run->th[k].tid, NULL);
	cb_jitter_stop(&jit);
	if (started) {
		struct cb_result *r = &run->th[0].r;
		r->timer_wakes = jit.wakes;
		r->timer_late = jit.late;
		r->timer_p99_ns = jit.p99_ns;
		r->timer_max_ns = jit.max_ns;
		r->start_late_ns = run->start_late_ns;
	}
	pthread_cond_destroy(&run->cv);
	pthread_mutex_destroy(&run->mu);
	if (started < run->threads) {
		for (unsigned k = 0; k < started; k++)
			cb_result_free(&run->th[k].r);
		return ret;
	}
	return 0;
}
