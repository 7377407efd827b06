/*
 * tools/coil-bench/gen_internal.h - what the generator's files share:
 * the per-thread generator (struct cb_gen, gen.c: the loop, the timers,
 * the run's phases), its open-model pacer (struct cb_pacer, pacer.c: one
 * timer per loop that hands due requests to their connections) and its
 * connections (struct cb_conn, conn.c: connect, TLS, writing requests,
 * parsing responses, reconnecting). Calls run one way: gen.c calls the
 * cb_pacer_*() and cb_conn_*() functions, pacer.c calls cb_conn_due();
 * conn.c reaches back only through the small inline helpers below.
 */
#ifndef COIL_BENCH_GEN_INTERNAL_H
#define COIL_BENCH_GEN_INTERNAL_H

#include <stdint.h>

#include "coil/engine.h"
#include "coil/hist.h"
#include "coil/http.h"
#include "coil/stream.h"
#include "coil/tls.h"
#include "gen.h"
#include "schedule.h"
#include "script.h"

#define MAX_HEADERS 256

enum cb_conn_state {
	C_IDLE,	      /* no stream; maybe a reconnect timer */
	C_CONNECTING, /* TCP connect in flight */
	C_HANDSHAKE,  /* TLS handshake in flight */
	C_OPEN,
	C_CLOSING, /* close called, waiting for its callback */
	C_DONE,	   /* finished for good */
};

/* A request taken from the schedule (or the closed model's budget). */
struct cb_slot {
	uint64_t intended; /* latency is measured from here */
	uint64_t start;	   /* sent (or connect start without keep-alive);
			      0 = not sent yet */
	uint32_t url;	   /* index into the thread's requests */
	uint16_t nreq;	   /* responses this slot's bytes ask for (a
			      script's request() may pipeline several) */
	uint16_t left;	   /* ... still due */
	int head_req;	   /* request(): the request is HEAD */
	char *buf;	   /* request(): this slot's bytes (owned) */
	size_t len, cap;
	int32_t sid;	 /* --http2: the slot's stream */
	uint16_t status; /* --http2: its final :status, once seen */
};

struct cb_wslot {
	struct coil_stream_write w;
	struct cb_conn *c;
	int busy;
};

struct cb_conn {
	struct cb_gen *g;
	const struct cb_host *host; /* --targets: where it goes, else NULL */
	unsigned host_k;	    /* ... its index */
	struct coil_tcp tcp;
	struct coil_tls tls;
	struct coil_stream *s; /* &tcp.s or &tls.s */
	enum cb_conn_state state;
	uint64_t idx; /* global connection index: the lane */
	uint64_t url_next;

	/* requests taken, oldest first: ring of P */
	struct cb_slot *ring;
	unsigned head, count, unsent;
	struct cb_wslot *ws; /* P write requests, used round robin */
	unsigned wnext;
	int wblocked; /* a send waits for a write slot */
	int no_more;  /* the server said close: send nothing more here */
	int warming;  /* before the run: its confirming request is out */
	int used;     /* --no-keepalive: the one request was taken */

	/* response parsing */
	struct coil_http_msg msg;
	struct coil_http_body body;
	int in_body;
	char *acc; /* a head split across reads */
	unsigned acc_len, acc_cap;

	/* -s with response(): the head's fields as a Lua table (a registry
	 * reference) and the body so far */
	int head_ref;
	int keep_body; /* this response's body goes to rb */
	char *rb;
	size_t rb_len, rb_cap;
	/* -s with delay(): 1 waiting on tmr, 2 waited: send one */
	int delay_state;
	uint64_t rank; /* closed --stages: sends while rank < g->active */

	/* open model: the connection's lane; the pacer says when it is due */
	struct cb_sched sched;
	struct coil_op tmr; /* closed model: delay(), a request() retry */
	/* reconnect back-off */
	struct coil_op retry;
	unsigned fails;
	uint64_t connect_ns;
	uint64_t rx_ns; /* the latest read's receive time */
	/* --http2 (conn_h2.c): the session, a script's request as fields,
	 * the stream's byte counters at the last look */
	struct coil_h2 *h2;
	struct cb_h2req *h2req;
	uint64_t h2_in, h2_out;
};

/*
 * A protocol other than HTTP/1.1 on a connection (conn_h2.c: HTTP/2),
 * registered by gen.c in g->h2; conn.c calls through it.
 *  setup/free: the thread's part (gen_setup(), gen_free());
 *  start: the stream is connected (and TLS done): take it over; 0 or an
 *         error (-EPROTONOSUPPORT: TLS did not choose the protocol);
 *  room:  requests that may be opened now (unsent ones included);
 *  submit: send the slot's request; 0, -EAGAIN (no room), or an error;
 *  close: close the connection; cb_conn_next() follows (0), else -errno.
 */
struct cb_proto {
	int (*setup)(struct cb_gen *g);
	void (*free)(struct cb_gen *g);
	int (*start)(struct cb_conn *c);
	unsigned (*room)(const struct cb_conn *c);
	int (*submit)(struct cb_conn *c, struct cb_slot *sl);
	int (*close)(struct cb_conn *c);
};
extern const struct cb_proto cb_h2_proto;

/*
 * The open model's pacer: one timer per loop instead of one per request.
 * Each wake hands every request that became due since the last one to its
 * connection (intended times stay exact: latency is measured from them);
 * the next wake is the next intended time of the thread's lanes, but no
 * sooner than one grid step after this one, the step adapted to the rate.
 */
struct cb_pacer {
	struct coil_op tmr;
	uint64_t grid_ns; /* least time between two wakes */
	uint64_t wake_at; /* when the armed wake is due */
	uint64_t seen;	  /* global requests due at the last wake */
	uint64_t first;	  /* the thread's lanes: first .. first + n - 1 */
	uint64_t lanes;	  /* of all lanes (-c) */
	/* saturation: the oldest due request the pacer had not handed out
	 * yet, at a wake, was over late_ns old ("behind"); the current and
	 * the longest stretch of wakes that were all behind */
	uint64_t behind_since;
	uint64_t behind_max_ns;
	uint64_t wakes;
	uint64_t gathered;    /* wakes the loop slept to from the last one */
	int gathering;	      /* the loop waits from wake to wake (pacer.c) */
	unsigned held;	      /* lanes with a due request no connection took */
	uint64_t held_oldest; /* ... the oldest such request (global index) */
	/* why requests went out late (cb_late_cause()): the time of the
	 * latest wake, and the clock when its work ended */
	uint64_t last_wake;
	uint64_t work_end;
	struct cb_late_causes late;
};

struct cb_gen {
	struct cb_thread *th;
	struct cb_run *run;
	const struct cb_opts *o;
	const struct cb_target *t;
	struct coil_loop *loop;
	struct cb_conn *conns;
	unsigned n;
	unsigned pipeline;	   /* requests in flight per connection: -P, or
				    * --max-streams with --http2 */
	const struct cb_proto *h2; /* --http2: &cb_h2_proto, else NULL */
	void *h2reqs;		   /* conn_h2.c's requests as fields */
	struct coil_http_header headers[MAX_HEADERS];
	uint64_t *due; /* scratch for cb_sched_due(), [pipeline] */

	uint64_t t0, measure, end; /* end: no new request from here */
	uint64_t budget;	   /* closed model with -n: requests left */
	int limited;		   /* budget applies */
	int stopping;
	int connecting; /* pre-connect phase: connects outstanding */
	int preconnect;
	int confirm;   /* pre-connect: a connection is up once it answered
			* one request (gen_preconnect()) */
	unsigned live; /* connections not C_DONE */
	int finished;

	struct cb_pacer pacer; /* -R only */
	struct coil_op tick, endt;
	uint64_t tick_ns, next_tick, last_sample, sample_done;
	uint64_t responses; /* every response, warmup included */
	uint64_t errors;
	uint64_t next_hdr;
	uint64_t hdr_interval;
	struct coil_hist *ih, *ihu; /* this interval's histograms */
	uint64_t outside_syscalls;
	uint64_t enters0, batched0, cpu_u0, cpu_s0;
	int measuring;

	struct coil_tls_cache *tls_cache;

	/* what is sent: the target's requests, or the static request of the
	 * thread's script; where to: the target's addresses, or the one the
	 * script's setup() gave the thread */
	const char *reqs;
	const size_t *req_off, *req_len;
	size_t n_reqs;
	size_t zero_off;
	unsigned parse_flags;
	const struct sockaddr_storage *addrs;
	unsigned naddrs;
	/* -s: the thread's Lua state, or NULL */
	struct cb_script_thread *script;
	int dynamic;	   /* request() per request */
	int want_response; /* response() per response */
	int has_delay;	   /* delay() before each request (closed model) */
	int halted;	   /* thread:stop() or a script error: no new request */
	struct coil_op halt_op;

	/* response times (see cb_rx_read()) */
	unsigned tcp_flags;    /* COIL_TCP_RX_TIME, or 0 */
	uint64_t rx_reads_all; /* reads, warmup included */
	uint64_t rx_stamped_all;
	int rx_checked; /* the first reads were looked at */
	/* track.c: the per-second series and the stages */
	uint64_t sec, sec_end; /* the current second, its end (abs ns) */
	uint64_t sec_requests, sec_errors;
	struct coil_hist *sec_hist;
	uint64_t active; /* closed --stages: connections that send */
};

static inline int measured(const struct cb_gen *g, uint64_t t)
{
	return g->measuring && t >= g->measure;
}

/*
 * The open model: a request due at @intended is handed out now (at the
 * schedule's time: the run's end at the latest, as cb_sched_due() has it).
 * Over the late bound, count why (report.h, struct cb_late_causes): it was
 * due at an earlier wake of the pacer, which found no connection with room
 * for it (held); or it became due since the latest wake and the wake that
 * hands it out came late, because the loop's previous wake worked past
 * this one's time (busy) or because the host woke the loop late (timer).
 */
static inline void cb_late_cause(struct cb_gen *g, uint64_t intended)
{
	struct cb_pacer *p = &g->pacer;
	uint64_t now = coil_now(g->loop);
	if (g->preconnect)
		return; /* a connection's confirming request: not scheduled */
	if (now >= g->end)
		now = g->end - 1;
	if (now <= intended || now - intended <= CB_SCHED_LATE_NS)
		return;
	if (intended <= p->last_wake)
		p->late.held++;
	else if (p->work_end > p->wake_at)
		p->late.busy++;
	else
		p->late.timer++;
}

/* ---- track.c ---------------------------------------------------------------
 * What a measured response or error adds to the per-second series and to
 * its stage.
 */

/* A measured response: intended send time, now, latency, status. */
void cb_track_response(struct cb_gen *g, uint64_t intended, uint64_t now,
		       uint64_t lat, unsigned status);
/* @n measured errors at @now. */
void cb_track_error(struct cb_gen *g, uint64_t now, uint64_t n);
/* Hand in the seconds that ended by @now (from the tick). */
void cb_track_roll(struct cb_gen *g, uint64_t now);
/* The run ended at @now: hand in the last, partial second. */
void cb_track_end(struct cb_gen *g, uint64_t now);
int cb_track_setup(struct cb_gen *g);
void cb_track_free(struct cb_gen *g);

/* closed --stages: whether @c may take a request now */
static inline int conn_active(const struct cb_conn *c)
{
	return !c->g->o->stages.n || c->g->o->rate || c->rank < c->g->active;
}

static inline void count_error(struct cb_gen *g, enum cb_err_class cls,
			       int code, uint64_t n)
{
	g->errors += n;
	if (!measured(g, coil_now(g->loop)))
		return;
	cb_track_error(g, coil_now(g->loop), n);
	for (uint64_t i = 0; i < n; i++)
		cb_result_error(&g->th->r, cls, code);
}

/* An error on connection @c: counted as count_error() does, and for its
 * host too (--targets). */
static inline void count_conn_error(struct cb_conn *c, enum cb_err_class cls,
				    int code, uint64_t n)
{
	struct cb_gen *g = c->g;
	if (c->host && measured(g, coil_now(g->loop)))
		g->th->r.by_host[c->host_k].errors += n;
	count_error(g, cls, code, n);
}

/* Whether @c speaks TLS, and the name it checks the certificate for. */
static inline int conn_https(const struct cb_conn *c)
{
	return c->host ? c->host->https : c->g->t->https;
}

static inline const char *conn_server_name(const struct cb_conn *c)
{
	return c->host ? c->host->host : c->g->t->host;
}

/* The thread is done once no connection is live: stop its timers. */
static inline void maybe_finish(struct cb_gen *g)
{
	if (g->live || g->finished)
		return;
	g->finished = 1;
	if (coil_op_busy(&g->tick))
		coil_timeout_remove(g->loop, &g->tick);
	if (coil_op_busy(&g->endt))
		coil_timeout_remove(g->loop, &g->endt);
	if (coil_op_busy(&g->pacer.tmr))
		coil_timeout_remove(g->loop, &g->pacer.tmr);
}

/* Reads looked at before deciding that the sockets give no timestamps */
#define CB_RX_PROBE_READS 16

/*
 * A read (@nread bytes, or an end) arrived on @s: its time becomes the
 * connection's response time. Counts kernel-stamped reads; when the first
 * CB_RX_PROBE_READS reads of the thread carried no timestamp, the default
 * batched wait is dropped (reap times would carry it) until a stamped read
 * comes.
 */
static inline void cb_rx_read(struct cb_conn *c, const struct coil_stream *s,
			      ssize_t nread)
{
	struct cb_gen *g = c->g;
	int kernel = (s->flags & COIL_STREAM_RX_KERNEL) != 0;
	c->rx_ns = coil_stream_rx_time(s);
	if (nread <= 0)
		return; /* an end: no read to count */
	if (measured(g, coil_now(g->loop))) {
		g->th->r.rx_reads++;
		g->th->r.rx_stamped += (uint64_t)kernel;
	}
	if (!g->tcp_flags)
		return;
	if (g->rx_checked) {
		/* The kernel turns stamping on from a workqueue when the first
		 * socket asks (net_enable_timestamp()): on a busy host the
		 * first reads of a run can all come unstamped. Stamps that
		 * come later undo the fallback. */
		if (kernel && g->th->r.rx_fallback == CB_RX_NO_STAMPS) {
			g->th->r.rx_fallback = CB_RX_KERNEL;
			if (!g->o->batch_wait_set &&
			    (coil_loop_features(g->loop) &
			     COIL_FEAT_MIN_WAIT)) {
				g->th->r.batch_wait_ns = g->o->batch_wait_ns;
				coil_loop_set_batch_wait(g->loop,
							 g->o->batch_wait_ns);
			}
		}
		return;
	}
	g->rx_reads_all++;
	g->rx_stamped_all += (uint64_t)kernel;
	if (g->rx_stamped_all) {
		g->rx_checked = 1;
	} else if (g->rx_reads_all >= CB_RX_PROBE_READS) {
		g->rx_checked = 1;
		g->th->r.rx_fallback = CB_RX_NO_STAMPS;
		if (!g->o->batch_wait_set) {
			coil_loop_set_batch_wait(g->loop, 0);
			g->th->r.batch_wait_ns = 0;
		}
	}
}

/* ---- conn.c ---------------------------------------------------------------
 */

/* Open the connection (TCP, then TLS for https); on success it starts
 * sending what the model allows. */
void cb_conn_connect(struct cb_conn *c);
/* Close an open (or handshaking) connection; cb_conn_next() follows. */
void cb_conn_close(struct cb_conn *c);
/* The connection failed with requests in flight: count them as errors of
 * class @cls, keep the unsent ones for the next connection, close. */
void cb_conn_fail(struct cb_conn *c, enum cb_err_class cls, int code);
/* Take and send what the model allows now. */
void cb_conn_send_more(struct cb_conn *c);
/* A response with @status to the request in @sl, timed at c->rx_ns:
 * counted and recorded (latency, status, series). */
void cb_record(struct cb_conn *c, struct cb_slot *sl, int status);
/* The connection's confirming answer came (pre-connect): it is up. */
void cb_conn_warmed(struct cb_conn *c);
/* After a failed connect (@failed) or a close: connect again, or finish. */
void cb_conn_next(struct cb_conn *c, int failed);
/* The open model: requests of the connection's lane are due (the pacer
 * saw them become due): send them, or connect for one. */
void cb_conn_due(struct cb_conn *c);
/* The op callbacks of a connection's closed-model timer (delay()) and
 * reconnect timer. */
void cb_conn_sched_cb(struct coil_op *op, int res, unsigned flags);
void cb_conn_retry_cb(struct coil_op *op, int res, unsigned flags);

/* ---- pacer.c --------------------------------------------------------------
 */

/* Set the pacer up for the thread's lanes (-R only; before the run). */
void cb_pacer_init(struct cb_gen *g);
/* From t0: arm the first wake. */
void cb_pacer_start(struct cb_gen *g);
/* The run ends (-d, a signal): hand out what is due before the end, stop
 * waking. */
void cb_pacer_end(struct cb_gen *g);
/* The grid step the pacer uses at @rate requests/s over @lanes lanes of
 * which the thread has @mine. */
uint64_t cb_pacer_grid_ns(uint64_t rate, uint64_t lanes, uint64_t mine);

#endif
