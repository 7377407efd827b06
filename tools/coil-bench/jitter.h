/*
 * tools/coil-bench/jitter.h - the host's own timer lateness, measured
 * beside a run: a thread with an idle coil_loop whose only op is a timer
 * (IORING_OP_TIMEOUT, absolute, the pacer's kind) every period; each wake
 * records how late it came. On the development VM 1-3% of such wakes are
 * over 1 ms late with no load at all: the same lateness in a run's late
 * count is the host's, not the generator's (report.h).
 *
 * The thread inherits the process's CPU affinity (taskset), so it sees the
 * CPUs the generator runs on. It costs one wake per period, counted
 * nowhere in the run's CPU or system call figures (those are the
 * generator threads' own).
 */
#ifndef COIL_BENCH_JITTER_H
#define COIL_BENCH_JITTER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* The probe's period: 500 wakes/s, 1,000 samples in a 2 s run. */
#define CB_JITTER_PERIOD_NS 2000000ull /* 2 ms */

struct cb_jitter {
	/* set before cb_jitter_start() */
	uint64_t period_ns;
	uint64_t late_ns; /* a wake later than this counts in late */
	/* private while running */
	pthread_t tid;
	int started;
	atomic_int stop;
	/* the results, after cb_jitter_stop() */
	uint64_t wakes;
	uint64_t late;
	uint64_t p99_ns;
	uint64_t max_ns;
};

/*
 * cb_jitter_start() - start the probe thread (@j zeroed but for
 * period_ns and late_ns).
 * Return: 0; -errno if the thread could not start (then nothing runs and
 * cb_jitter_stop() is a no-op).
 */
int cb_jitter_start(struct cb_jitter *j);

/* cb_jitter_stop() - stop the probe (within one period), join it and
 * fill the results. */
void cb_jitter_stop(struct cb_jitter *j);

#endif
