/*
 * tools/coil-bench/pacer.c - the open model's pacer (gen_internal.h): one
 * timer per generator loop in place of one per request.
 *
 * A kernel timeout per request cost 15% of the generator's profile at 40k
 * requests/s on the development VM (a timer interrupt and MSR writes per
 * request, each a VM exit). The pacer wakes instead on a grid: each wake
 * walks the global requests that became due since the last one (the lanes
 * interleave, schedule.h: request i belongs to lane i mod L) and hands the
 * thread's ones to their connections; a connection that cannot send at once
 * (pipeline full, reconnecting) takes its due requests when it can. The
 * intended send times stay those of the schedule, and latency is measured
 * from them, so pacing adds at most one grid step to a request's latency,
 * never an error to it. The next wake is the thread's next intended time,
 * but no sooner than one grid step after this wake: at low rates every
 * request leaves on time; at high rates several leave per wake.
 *
 * The pacer also tells whether the generator keeps up: at each wake, the
 * oldest request it has not handed out yet was due some time ago; over
 * late_ns (1 ms) the wake is "behind". A loop that cannot keep up stays
 * behind wake after wake; the platform's timer jitter makes lone wakes late
 * (1-3% over 1 ms on the development VM, measured on an idle timer: see
 * jitter.c). The longest stretch of wakes that were all behind is reported
 * (cb_result.backlog_max_ns), and one of CB_BACKLOG_PERSIST_NS or more
 * marks the run saturated (report.h).
 *
 * A due request no connection has room for (every one has its answer
 * outstanding) is "held": each wake hands the held requests out again
 * before the new ones, oldest lanes first, onto the connections the
 * answers since have freed, whatever lane those connections' own requests
 * are of; and while any is held, the next wake comes GRID_HELD_NS after
 * this one. (Left to their lane, they waited for its connection or its
 * next request: at -R 40000 -c100, a lane's requests are 2.5 ms apart.)
 * Each late request counts its cause (gen_internal.h, cb_late_cause()):
 * held, or due since the latest wake and that wake late, because the
 * previous wake's work ran past its time or the host's timer woke it late.
 */

#include <string.h>

#include "gen_internal.h"

/* The grid: about GRID_REQS of the thread's requests per wake, within
 * [GRID_MIN_NS, GRID_MAX_NS]. Each wake costs 13-15 us of CPU on the
 * development VM (a timer interrupt and a context switch, each a VM exit),
 * and each sends at most one grid late: at -R 20000 -c100 against nginx,
 * sleeping from wake to wake, a 250 us grid cost 15.5-16.4 us of CPU per
 * request and a 500 us one 11.8-12.0 us, for a mean latency 285 against
 * 445 us (2026-12-05, docs/BENCHMARKS.md "vs-wrk2"); 400 us sits between. */
#define GRID_REQS 4
#define GRID_MIN_NS 400000ull  /* 400 us */
#define GRID_MAX_NS 1000000ull /* 1 ms: never more than the late bound */
/* While a due request waits for a connection with room (every one has
 * its answer outstanding), the next wake comes after this step instead,
 * so that a connection an answer frees takes it soon; but only while the
 * oldest such request can still go out in time, then one grid step after
 * the last (late anyway:
 * against a server that cannot keep up, the wakes would only cost CPU;
 * at -R 40000 against an overloaded nginx they had tripled the system
 * calls per request), and not without keep-alive (a lane's request waits
 * for its own connection there). */
#define GRID_HELD_NS 100000ull /* 100 us */

uint64_t cb_pacer_grid_ns(uint64_t rate, uint64_t lanes, uint64_t mine)
{
	/* the thread's rate: rate * mine / lanes requests/s */
	unsigned __int128 r = (unsigned __int128)rate * mine;
	unsigned __int128 g;
	if (!r || !lanes)
		return GRID_MAX_NS;
	g = (unsigned __int128)GRID_REQS * 1000000000ull * lanes / r;
	if (g < GRID_MIN_NS)
		return GRID_MIN_NS;
	return g > GRID_MAX_NS ? GRID_MAX_NS : (uint64_t)g;
}

/* The first global request index >= @i whose lane is the thread's. */
static uint64_t next_mine(const struct cb_pacer *p, uint64_t n, uint64_t i)
{
	uint64_t r = i % p->lanes;
	if (r >= p->first && r < p->first + n)
		return i;
	if (r < p->first)
		return i + (p->first - r);
	return i + (p->lanes - r) + p->first;
}

/* Whether the lane has a request among the first @due of the global
 * schedule that it has not handed out yet: due at a wake, and no
 * connection had room for it. */
static int lane_held(const struct cb_sched *s, uint64_t due)
{
	return s->lane + (unsigned __int128)s->next * s->lanes < due;
}

/* Hand @c's lane's held requests out again; 0 once one stays held with no
 * connection of its host to take it (none has room: stop looking). */
static int retry_held(struct cb_gen *g, struct cb_conn *c)
{
	if (!lane_held(&c->sched, g->pacer.seen))
		return 1;
	cb_conn_due(c);
	return !lane_held(&c->sched, g->pacer.seen) || c->host;
}

/* Whether the oldest held request can still go out in time at @now. */
static int held_in_time(const struct cb_gen *g, uint64_t now)
{
	const struct cb_pacer *p = &g->pacer;
	uint64_t t = cb_sched_time(&g->conns[0].sched, p->held_oldest);
	return t + CB_SCHED_LATE_NS > now;
}

/*
 * With the default batched wait and kernel receive timestamps, the loop
 * sleeps from one pacer wake to the next (COIL_BATCH_WAIT_TIMER): the
 * responses that arrive meanwhile are timed by the kernel, not by when they
 * are reaped, and a connection takes its next request only when one is
 * due, at a wake; so one wake-up per grid step serves them all, where the
 * 100 us min-wait batch woke two to three times per step (-R 20000 -c100:
 * 0.43 system calls per request, and 19.6 us of system CPU).
 */
static void gather(struct cb_gen *g, int on)
{
	int want = on && !g->o->batch_wait_set && !g->th->r.rx_fallback &&
		   g->tcp_flags;
	if (want == g->pacer.gathering)
		return;
	g->pacer.gathering = want;
	coil_loop_set_batch_wait(g->loop, want ? COIL_BATCH_WAIT_TIMER
					       : g->th->r.batch_wait_ns);
}

/* The wake is the loop's alarm (no timeout op, no CQE: the wait's own
 * timeout), or a timeout op on kernels without IORING_ENTER_EXT_ARG. */
static void arm(struct cb_gen *g, uint64_t at)
{
	g->pacer.wake_at = at;
	if (coil_loop_alarm(g->loop, &g->pacer.tmr, at) == 0)
		gather(g, 1);
	else
		coil_timeout(g->loop, &g->pacer.tmr, at, COIL_TIMEOUT_ABS);
}

/* Arm the wake after the one at @from: the thread's next intended time,
 * no sooner than a grid step after @from; none past the run's end. */
static void arm_next(struct cb_gen *g, uint64_t from)
{
	struct cb_pacer *p = &g->pacer;
	const struct cb_sched *s = &g->conns[0].sched;
	uint64_t i = next_mine(p, g->n, p->seen), at;

	if (i >= s->limit || g->stopping) {
		gather(g, 0);
		return;
	}
	at = cb_sched_time(s, i);
	if (p->held) /* retried at each wake: see GRID_HELD_NS */
		at = from + (held_in_time(g, from) ? GRID_HELD_NS : p->grid_ns);
	else if (at < from + p->grid_ns)
		at = from + p->grid_ns;
	if (at >= g->end) {
		gather(g, 0);
		return; /* the end hands out the rest: cb_pacer_end() */
	}
	arm(g, at);
}

/* Hand every request due by @now (by the end at most) that the last wake
 * left to its connection. */
static void hand_out(struct cb_gen *g, uint64_t now)
{
	struct cb_pacer *p = &g->pacer;
	const struct cb_sched *s = &g->conns[0].sched;
	uint64_t due = cb_sched_total_due(s, now < g->end ? now : g->end - 1);

	p->wakes++;
	p->gathered += (uint64_t)p->gathering;
	if (next_mine(p, g->n, p->seen) < due) {
		/* the thread's oldest request not handed out yet: how far
		 * behind (the requests of other threads' lanes, or other
		 * --segment workers', are not its backlog: with one lane of
		 * several, the one before its own is always a gap ago) */
		uint64_t oldest = cb_sched_time(s, next_mine(p, g->n, p->seen));
		uint64_t lag = now > oldest ? now - oldest : 0;
		if (lag > CB_SCHED_LATE_NS) {
			/* from this wake, not from the oldest request: one
			 * late wake (a host that stalled the thread) hands out
			 * everything due and is a stretch of 0; a loop that
			 * cannot keep up stays behind wake after wake */
			if (!p->behind_since)
				p->behind_since = now;
			if (now - p->behind_since > p->behind_max_ns)
				p->behind_max_ns = now - p->behind_since;
		} else {
			p->behind_since = 0;
		}
	}
	if (due - p->seen >= p->lanes) {
		/* every lane has something due */
		for (unsigned k = 0; k < g->n && !g->stopping; k++)
			cb_conn_due(&g->conns[k]);
	} else {
		/* the oldest first: what earlier wakes could not place, on
		 * the connections the answers since have freed, then what
		 * became due since the last wake */
		for (unsigned k = 0; p->held && k < g->n && !g->stopping; k++)
			if (!retry_held(g, &g->conns[k]))
				break;
		for (uint64_t i = next_mine(p, g->n, p->seen);
		     i < due && !g->stopping; i = next_mine(p, g->n, i + 1))
			cb_conn_due(&g->conns[i % p->lanes - p->first]);
	}
	if (due > p->seen)
		p->seen = due;
	p->last_wake = now;
	p->held = 0;
	p->held_oldest = UINT64_MAX;
	for (unsigned k = 0; k < g->n && g->o->keepalive; k++) {
		const struct cb_sched *sc = &g->conns[k].sched;
		if (lane_held(sc, p->seen)) {
			uint64_t i = sc->lane + sc->next * sc->lanes;
			p->held++;
			if (i < p->held_oldest)
				p->held_oldest = i;
		}
	}
}

static void wake_cb(struct coil_op *op, int res, unsigned flags)
{
	struct cb_pacer *p = coil_container_of(op, struct cb_pacer, tmr);
	struct cb_gen *g = coil_container_of(p, struct cb_gen, pacer);
	uint64_t now = coil_now(g->loop);
	(void)flags;

	if (res < 0 || g->stopping || g->finished) {
		gather(g, 0);
		return;
	}
	hand_out(g, now);
	arm_next(g, p->wake_at < now ? p->wake_at : now);
	p->work_end = cb_mono_ns();
}

void cb_pacer_init(struct cb_gen *g)
{
	struct cb_pacer *p = &g->pacer;
	memset(p, 0, sizeof(*p));
	coil_op_init(&p->tmr, wake_cb);
	p->first = g->n ? g->conns[0].idx : 0;
	p->lanes = cb_lanes(g->o); /* --segment: the whole test's */
	p->grid_ns = cb_pacer_grid_ns(g->o->rate, p->lanes, g->n);
}

void cb_pacer_start(struct cb_gen *g)
{
	struct cb_pacer *p = &g->pacer;
	if (!g->n || g->stopping)
		return;
	/* the requests due at once went out with the first sends */
	p->seen = cb_sched_total_due(
		&g->conns[0].sched,
		coil_now(g->loop) < g->end ? coil_now(g->loop) : g->end - 1);
	p->wake_at = coil_now(g->loop);
	p->last_wake = p->wake_at;
	arm_next(g, p->wake_at);
}

void cb_pacer_end(struct cb_gen *g)
{
	gather(g, 0);
	coil_loop_alarm_cancel(g->loop);
	if (!g->n || g->stopping)
		return;
	hand_out(g, coil_now(g->loop));
	if (coil_op_busy(&g->pacer.tmr))
		coil_timeout_remove(g->loop, &g->pacer.tmr);
}
