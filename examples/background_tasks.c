/*
 * examples/background_tasks.c - fire-and-forget tasks that are still
 * accounted for, and a clean shutdown (the asyncio idiom of a set of
 * tasks with add_done_callback(set.discard); anyio/Trio task groups):
 *
 *     tasks = set()
 *     t = asyncio.create_task(job()); tasks.add(t);
 * t.add_done_callback(tasks.discard)
 *     ... on shutdown: wait up to 0.2 s, then cancel what is left
 *
 * In coil: a coil_taskset. Tasks are added at any time (here: a new one
 * every 5 ms from a ticker), each leaves the set as it ends (its memory
 * may go in its end callback), and a failing one reaches the set's error
 * hook instead of vanishing. coil_taskset_shutdown(200 ms) stops new
 * adds, gives the live tasks 200 ms, then cancels the rest (here: the
 * "pollers" that never end on their own) and reports how many it cut.
 *
 * Run: run-with-peer.sh none background_tasks
 */
#include "example.h"

struct job {
	struct coil_task task;
	struct coil_op tmr;
	struct coil_loop *loop;
	int poller; /* runs until cancelled */
	int stop;
};

static int added, ended, failed;

static void job_end(struct coil_op *op, int res, unsigned flags)
{
	struct job *j = coil_container_of(op, struct job, task.op);
	(void)res;
	(void)flags;
	ended++;
	free(j); /* out of the set already */
}

static void job_tick(struct coil_op *op, int res, unsigned flags)
{
	struct job *j = coil_container_of(op, struct job, tmr);
	(void)flags;
	if (res < 0 || j->stop) { /* cancelled */
		coil_task_done(&j->task, -ECANCELED);
		return;
	}
	if (j->poller) { /* poll again in 10 ms, forever */
		coil_timeout(j->loop, op, 10 * MS, 0);
		return;
	}
	/* one job in seven fails */
	coil_task_done(&j->task, added % 7 == 0 ? -EIO : 0);
}

static void job_cancel(struct coil_task *t)
{
	struct job *j = coil_container_of(t, struct job, task);
	j->stop = 1;
	coil_cancel(j->loop, &j->tmr);
}

static void on_error(struct coil_task *t, int res)
{
	(void)t;
	failed++;
	fprintf(stderr, "background task failed: %s\n", coil_strerror(res));
}

static struct coil_taskset set;
static struct coil_loop *loop;
static struct coil_op ticker, shut;
static int ticks, cut = -1;

static void spawn(int poller)
{
	struct job *j = calloc(1, sizeof(*j));
	j->loop = loop;
	j->poller = poller;
	if (coil_taskset_add_task(&set, &j->task, job_cancel, job_end) < 0) {
		free(j);
		return;
	}
	added++;
	coil_op_init(&j->tmr, job_tick);
	coil_timeout(loop, &j->tmr, (uint64_t)(1 + added % 20) * MS, 0);
}

static void shut_done(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)flags;
	cut = res;
}

static void tick(struct coil_op *op, int res, unsigned flags)
{
	(void)res;
	(void)flags;
	spawn(ticks % 10 == 0); /* every tenth is a poller */
	if (++ticks < 40) {
		coil_timeout(loop, op, 5 * MS, 0);
		return;
	}
	coil_op_init(&shut, shut_done);
	coil_taskset_shutdown(&set, 200 * MS, &shut);
}

int main(void)
{
	struct coil_taskset_stats st;

	loop = ex_loop();
	coil_taskset_init(&set, loop, on_error);
	coil_op_init(&ticker, tick);
	coil_timeout(loop, &ticker, 5 * MS, 0);
	coil_loop_run(loop, COIL_RUN_DEFAULT);

	coil_taskset_stats(&set, &st);
	printf("added %d, ended %d, failed %d, cut at shutdown %d\n", added,
	       ended, failed, cut);
	EX_CHECK(ended == added && coil_taskset_live(&set) == 0);
	EX_CHECK(cut == 4); /* the four pollers */
	EX_CHECK(st.failed == (uint64_t)failed && failed > 0);
	coil_loop_free(loop);
	return 0;
}
