/*
 * tools/coil-bench/jitter.c - the idle-timer probe (jitter.h).
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "coil/engine.h"
#include "coil/hist.h"
#include "jitter.h"

struct probe {
	struct cb_jitter *j;
	struct coil_loop *loop;
	struct coil_hist *h;
	struct coil_op tmr;
	uint64_t at;
	int done;
};

static void wake_cb(struct coil_op *op, int res, unsigned flags)
{
	struct probe *p = coil_container_of(op, struct probe, tmr);
	uint64_t now = coil_now_update(p->loop);
	uint64_t late = now > p->at ? now - p->at : 0;
	(void)flags;

	if (res < 0) {
		p->done = 1;
		return;
	}
	p->j->wakes++;
	if (late > p->j->late_ns)
		p->j->late++;
	if (late > p->j->max_ns)
		p->j->max_ns = late;
	coil_hist_record(p->h, late ? late : 1);
	if (atomic_load_explicit(&p->j->stop, memory_order_relaxed)) {
		p->done = 1;
		return;
	}
	/* the next point of the grid after now: a late wake is not
	 * followed by a burst of catch-up wakes */
	do
		p->at += p->j->period_ns;
	while (p->at <= now);
	if (coil_timeout(p->loop, &p->tmr, p->at, COIL_TIMEOUT_ABS) < 0)
		p->done = 1;
}

static void *probe_main(void *arg)
{
	struct cb_jitter *j = arg;
	struct coil_loop_opts lo = {.sq_entries = 8};
	struct probe p = {.j = j};
	sigset_t sigs;

	sigfillset(&sigs); /* signals go to main */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (coil_loop_new(&p.loop, &lo) < 0)
		return NULL;
	if (coil_hist_new(&p.h, NULL) < 0) {
		coil_loop_free(p.loop);
		return NULL;
	}
	coil_op_init(&p.tmr, wake_cb);
	p.at = coil_now_update(p.loop) + j->period_ns;
	if (coil_timeout(p.loop, &p.tmr, p.at, COIL_TIMEOUT_ABS) < 0)
		p.done = 1;
	while (!p.done && coil_loop_run(p.loop, COIL_RUN_ONCE) >= 0)
		;
	if (j->wakes)
		j->p99_ns = coil_hist_value_at_percentile(p.h, 99.0);
	coil_hist_free(p.h);
	coil_loop_free(p.loop);
	return NULL;
}

int cb_jitter_start(struct cb_jitter *j)
{
	int ret;
	atomic_store(&j->stop, 0);
	ret = pthread_create(&j->tid, NULL, probe_main, j);
	if (ret)
		return -ret;
	j->started = 1;
	return 0;
}

void cb_jitter_stop(struct cb_jitter *j)
{
	if (!j->started)
		return;
	atomic_store(&j->stop, 1);
	pthread_join(j->tid, NULL);
	j->started = 0;
}
