/*
 * examples/offload_cpu.c - CPU-bound work off the loop thread
 * (loop.run_in_executor(pool, fn); asyncio.to_thread(fn)):
 *
 *     results = await asyncio.gather(*(loop.run_in_executor(pool, count_primes,
 * n) for n in ranges))
 *
 * In coil: a coil_pool of 2 worker threads; each job counts the primes
 * in a range and returns the count as its result, which arrives as the
 * op's completion on the loop (by IORING_OP_MSG_RING). The loop stays
 * free meanwhile: a 10 ms ticker keeps firing while the workers compute.
 * The jobs are children of a collect-all group; one job with a 1 ms
 * timeout that is still queued behind the others ends with -ETIMEDOUT
 * without ever running.
 *
 * Run: run-with-peer.sh none offload_cpu
 */
#include "example.h"

#define JOBS 8

struct job {
	struct coil_group_child child;
	unsigned from, to;
	int count;
};

static int count_primes(void *arg)
{
	struct job *j = arg;
	int n = 0;
	for (unsigned x = j->from; x < j->to; x++) {
		int prime = x > 1;
		for (unsigned d = 2; d * d <= x && prime; d++)
			prime = x % d != 0;
		n += prime;
	}
	return n;
}

static void job_done(struct coil_op *op, int res, unsigned flags)
{
	struct job *j = coil_container_of(op, struct job, child.op);
	(void)flags;
	j->count = res;
}

static int ticks;
static struct coil_op tick;
static struct coil_loop *loop;
static int stop;

static void ticked(struct coil_op *op, int res, unsigned flags)
{
	(void)res;
	(void)flags;
	ticks++;
	if (!stop)
		coil_timeout(loop, op, 10 * MS, 0);
}

static void all_done(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)flags;
	printf("group: %d job(s) failed\n", res);
	stop = 1;
}

int main(void)
{
	struct coil_pool *pool;
	struct coil_pool_opts po = {.threads = 2};
	static struct job j[JOBS + 1];
	struct coil_group g;
	struct coil_op done;

	loop = ex_loop();
	coil_pool_new(&pool, &po);
	coil_group_init(&g, loop, COIL_GROUP_ALL);
	for (int i = 0; i < JOBS; i++) {
		j[i].from = (unsigned)i * 250000;
		j[i].to = j[i].from + 250000;
		coil_group_add(&g, &j[i].child, job_done);
		coil_pool_submit(loop, pool, &j[i].child.op, count_primes,
				 &j[i]);
	}
	/* queued behind 8 jobs on 2 workers: its 1 ms bound passes first */
	j[JOBS].from = 0;
	j[JOBS].to = 10;
	coil_group_add(&g, &j[JOBS].child, job_done);
	coil_op_timeout(&j[JOBS].child.op, 1 * MS);
	coil_pool_submit(loop, pool, &j[JOBS].child.op, count_primes, &j[JOBS]);
	coil_op_init(&done, all_done);
	coil_group_wait(&g, &done);
	coil_op_init(&tick, ticked);
	coil_timeout(loop, &tick, 10 * MS, 0);
	coil_loop_run(loop, COIL_RUN_DEFAULT);

	int total = 0;
	for (int i = 0; i < JOBS; i++)
		total += j[i].count;
	printf("primes below %u: %d; the loop ticked %d times meanwhile; "
	       "the late job: %s\n",
	       JOBS * 250000, total, ticks, coil_strerror(j[JOBS].count));
	EX_CHECK(total == 148933); /* pi(2,000,000) */
	EX_CHECK(j[JOBS].count == -ETIMEDOUT);
	coil_pool_free(pool);
	coil_loop_free(loop);
	return 0;
}
