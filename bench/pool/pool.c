/*
 * bench/pool/pool.c - the offload pool: jobs per second and the latency
 * from coil_pool_submit() to the op's callback on the loop, with results
 * delivered by IORING_OP_MSG_RING from each worker's ring, and by the
 * eventfd inbox (COIL_POOL_NO_MSG_RING), in alternating rounds of one run.
 *
 * Each configuration runs twice: with one job in flight (the round trip:
 * submit, a worker wakes, runs fn, posts the result, the loop wakes) and
 * with a window of W jobs in flight (throughput: workers stay busy and
 * the loop reaps results in batches). A job's fn spins for --work-ns
 * (default 0: the cost measured is the pool's own).
 *
 * Reported per configuration (medians of the rounds): jobs/s, latency
 * p50 / p99 / p99.9 in microseconds (every job's latency, sorted), the
 * loop thread's CPU per job and its io_uring_enter(2) calls per job
 * (coil_loop_stats().enters).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "coil/async.h"

struct ctx;

struct bjob {
	struct coil_op op;
	uint64_t t_submit;
	struct ctx *c;
};

struct ctx {
	struct coil_loop *loop;
	struct coil_pool *pool;
	long total, submitted, done;
	uint64_t *lat; /* ns, one per job */
	uint64_t work_ns;
	int err;
};

static int job_fn(void *arg)
{
	struct ctx *c = arg;
	if (c->work_ns) {
		uint64_t end = bu_mono_ns() + c->work_ns;
		while (bu_mono_ns() < end)
			;
	}
	return 0;
}

static void submit_one(struct bjob *j)
{
	struct ctx *c = j->c;
	coil_op_init(&j->op, j->op.cb);
	j->t_submit = bu_mono_ns();
	int ret = coil_pool_submit(c->loop, c->pool, &j->op, job_fn, c);
	if (ret < 0) {
		fprintf(stderr, "coil_pool_submit: %s\n", coil_strerror(ret));
		c->err = ret;
		return;
	}
	c->submitted++;
}

static void job_cb(struct coil_op *op, int res, unsigned flags)
{
	struct bjob *j = coil_container_of(op, struct bjob, op);
	struct ctx *c = j->c;
	(void)flags;
	if (res < 0) {
		c->err = res;
		return;
	}
	c->lat[c->done++] = bu_mono_ns() - j->t_submit;
	if (c->submitted < c->total && !c->err)
		submit_one(j);
}

struct result {
	double jobs_s, p50_us, p99_us, p999_us, cpu_us, enters;
	uint64_t via_msg, via_efd, bells;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static double pct(const uint64_t *v, long n, double p)
{
	long i = (long)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

static int run(int msg_ring, long jobs, long window, unsigned threads,
	       uint64_t work_ns, struct result *out)
{
	struct coil_pool_opts po = {.threads = threads,
				    .queue_max = (unsigned)window + 16,
				    .flags = msg_ring ? 0
						      : COIL_POOL_NO_MSG_RING};
	struct coil_loop *loop;
	struct coil_pool *pool;
	struct coil_loop_stats s0, s1;
	struct coil_pool_stats ps;
	struct ctx c = {0};
	struct bjob *js = calloc((size_t)window, sizeof(*js));
	int ret;

	ret = coil_loop_new(&loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "coil_loop_new: %s\n", coil_loop_strerror(ret));
		return ret;
	}
	if (msg_ring && !(coil_loop_features(loop) & COIL_FEAT_MSG_RING)) {
		fprintf(stderr, "kernel lacks IORING_OP_MSG_RING\n");
		coil_loop_free(loop);
		return -EOPNOTSUPP;
	}
	ret = coil_pool_new(&pool, &po);
	if (ret < 0) {
		coil_loop_free(loop);
		return ret;
	}
	c.loop = loop;
	c.pool = pool;
	c.work_ns = work_ns;
	c.lat = calloc((size_t)jobs, sizeof(*c.lat));
	if (!c.lat || !js) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}

	/* warm-up: wake every worker, fault the memory in */
	c.total = window * 20 < 20000 ? window * 20 : 20000;
	if (c.total > jobs)
		c.total = jobs;
	for (long i = 0; i < window; i++) {
		js[i].c = &c;
		coil_op_init(&js[i].op, job_cb);
		submit_one(&js[i]);
	}
	coil_loop_run(loop, COIL_RUN_DEFAULT);

	c.total = jobs;
	c.submitted = c.done = 0;
	coil_loop_stats(loop, &s0);
	struct bu_cpu cpu0 = bu_thread_cpu();
	uint64_t t0 = bu_mono_ns();
	for (long i = 0; i < window && i < jobs; i++)
		submit_one(&js[i]);
	ret = coil_loop_run(loop, COIL_RUN_DEFAULT);
	uint64_t t1 = bu_mono_ns();
	struct bu_cpu cpu1 = bu_thread_cpu();
	coil_loop_stats(loop, &s1);
	coil_pool_shutdown(pool, COIL_POOL_DRAIN);
	coil_pool_stats(pool, &ps);
	if (ret < 0 || c.err || c.done != jobs) {
		fprintf(stderr, "run failed: %s (%ld of %ld done)\n",
			coil_strerror(ret < 0 ? ret : c.err), c.done, jobs);
		exit(1);
	}

	qsort(c.lat, (size_t)jobs, sizeof(*c.lat), cmp_u64);
	out->jobs_s = (double)jobs / ((double)(t1 - t0) / 1e9);
	out->p50_us = pct(c.lat, jobs, 0.50);
	out->p99_us = pct(c.lat, jobs, 0.99);
	out->p999_us = pct(c.lat, jobs, 0.999);
	out->cpu_us = (double)(cpu1.user_ns + cpu1.sys_ns - cpu0.user_ns -
			       cpu0.sys_ns) /
		      1000.0 / (double)jobs;
	out->enters = (double)(s1.enters - s0.enters) / (double)jobs;
	out->via_msg = ps.via_msg_ring;
	out->via_efd = ps.via_eventfd;
	out->bells = ps.doorbells;

	coil_pool_free(pool);
	coil_loop_free(loop);
	free(c.lat);
	free(js);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: pool_bench [--jobs N] [--window W] "
			"[--threads T] [--rounds R] [--work-ns NS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long jobs = 200000, window = 64, rounds = 3, threads = 4, work = 0;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--jobs"))
			jobs = bu_arg_long("--jobs", argv[++i], 1000,
					   100000000);
		else if (!strcmp(argv[i], "--window"))
			window = bu_arg_long("--window", argv[++i], 2, 100000);
		else if (!strcmp(argv[i], "--threads"))
			threads = bu_arg_long("--threads", argv[++i], 1, 1024);
		else if (!strcmp(argv[i], "--rounds"))
			rounds = bu_arg_long("--rounds", argv[++i], 1, 100);
		else if (!strcmp(argv[i], "--work-ns"))
			work = bu_arg_long("--work-ns", argv[++i], 0,
					   1000000000);
		else
			usage();
	}

	/* [mode][window index][round] */
	static const char *const names[2] = {"msg_ring", "eventfd"};
	long windows[2] = {1, window};
	struct result *res = calloc((size_t)(4 * rounds), sizeof(*res));
	long win_jobs[2] = {jobs / 10 < 1000 ? 1000 : jobs / 10, jobs};

	printf("pool: %ld threads, %ld jobs (window %ld), %ld jobs (window 1), "
	       "%ld round(s), work %ld ns\n",
	       threads, jobs, window, win_jobs[0], rounds, work);
	for (long r = 0; r < rounds; r++) {
		for (int w = 0; w < 2; w++) {
			for (int m = 0; m < 2; m++) {
				struct result *o =
					&res[(m * 2 + w) * rounds + r];
				if (run(m == 0, win_jobs[w], windows[w],
					(unsigned)threads, (uint64_t)work,
					o) < 0)
					return 1;
				printf("round %ld %-8s window %-5ld %9.0f "
				       "jobs/s "
				       "p50 %7.1f us p99 %7.1f us p99.9 %8.1f "
				       "us cpu %.2f us/job enters %.3f/job "
				       "(msg %llu efd %llu, %llu doorbells)\n",
				       r, names[m], windows[w], o->jobs_s,
				       o->p50_us, o->p99_us, o->p999_us,
				       o->cpu_us, o->enters,
				       (unsigned long long)o->via_msg,
				       (unsigned long long)o->via_efd,
				       (unsigned long long)o->bells);
				fflush(stdout);
			}
		}
	}

	printf("\nmedians of %ld round(s):\n\n", rounds);
	printf("| window | delivery | jobs/s | p50 us | p99 us | p99.9 us | "
	       "loop CPU us/job | enters/job |\n");
	printf("|-------:|----------|-------:|-------:|-------:|---------:|"
	       "----------------:|-----------:|\n");
	for (int w = 0; w < 2; w++) {
		for (int m = 0; m < 2; m++) {
			double v[6][100];
			for (long r = 0; r < rounds; r++) {
				struct result *o =
					&res[(m * 2 + w) * rounds + r];
				v[0][r] = o->jobs_s;
				v[1][r] = o->p50_us;
				v[2][r] = o->p99_us;
				v[3][r] = o->p999_us;
				v[4][r] = o->cpu_us;
				v[5][r] = o->enters;
			}
			printf("| %6ld | %-8s | %6.0f | %6.1f | %6.1f | %8.1f "
			       "| "
			       "%16.2f | %10.3f |\n",
			       windows[w], names[m],
			       bu_median(v[0], (int)rounds),
			       bu_median(v[1], (int)rounds),
			       bu_median(v[2], (int)rounds),
			       bu_median(v[3], (int)rounds),
			       bu_median(v[4], (int)rounds),
			       bu_median(v[5], (int)rounds));
		}
	}
	free(res);
	return 0;
}
