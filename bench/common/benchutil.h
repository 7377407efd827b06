/*
 * bench/common/benchutil.h - what the engine benchmarks share: a kernel-side
 * system call counter for the calling thread, per-thread CPU time, CPU
 * pinning, medians and small parsing helpers.
 *
 * The syscall counter is the raw_syscalls:sys_enter tracepoint opened with
 * perf_event_open(2) for the calling thread only (pid 0, cpu -1): the kernel
 * counts every system call entry of that thread, so the figure does not rely
 * on what the engine says about itself (coil_loop_stats().enters is printed
 * beside it as a cross-check). It needs tracefs (mounted here if missing and
 * we are allowed to) and perf_event_paranoid <= 1 or CAP_PERFMON; without
 * them the count reads as unavailable (-1) and the benchmark says so.
 */
#ifndef COIL_BENCHUTIL_H
#define COIL_BENCHUTIL_H

#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t bu_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The tracepoint id of raw_syscalls:sys_enter, or -1. */
static inline long bu_sys_enter_id(void)
{
	static const char *const paths[] = {
		"/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
		"/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
	};
	for (int attempt = 0; attempt < 2; attempt++) {
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			FILE *f = fopen(paths[i], "r");
			long id = -1;
			if (!f)
				continue;
			if (fscanf(f, "%ld", &id) != 1)
				id = -1;
			fclose(f);
			if (id >= 0)
				return id;
		}
		/* tracefs is often mounted only on first use (perf does it);
		 * a failure (EBUSY: another thread won) is checked by reading
		 * again */
		if (attempt == 0)
			(void)mount("tracefs", "/sys/kernel/tracing", "tracefs",
				    0, NULL);
	}
	return -1;
}

/* A disabled syscall counter for the calling thread, or -1. */
static inline int bu_syscount_open(void)
{
	struct perf_event_attr a;
	long id = bu_sys_enter_id();
	if (id < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof(a);
	a.config = (uint64_t)id;
	a.disabled = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1,
			    PERF_FLAG_FD_CLOEXEC);
}

static inline void bu_syscount_start(int fd)
{
	if (fd >= 0) {
		ioctl(fd, PERF_EVENT_IOC_RESET, 0);
		ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	}
}

/* Stop the counter and return its value, or -1 if unavailable. */
static inline int64_t bu_syscount_stop(int fd)
{
	uint64_t v;
	if (fd < 0)
		return -1;
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return -1;
	return (int64_t)v;
}

/* User and system CPU time of the calling thread, in ns. */
struct bu_cpu {
	uint64_t user_ns, sys_ns;
};

static inline struct bu_cpu bu_thread_cpu(void)
{
	struct rusage ru;
	struct bu_cpu c = {0, 0};
	if (getrusage(RUSAGE_THREAD, &ru) == 0) {
		c.user_ns = (uint64_t)ru.ru_utime.tv_sec * 1000000000ull +
			    (uint64_t)ru.ru_utime.tv_usec * 1000ull;
		c.sys_ns = (uint64_t)ru.ru_stime.tv_sec * 1000000000ull +
			   (uint64_t)ru.ru_stime.tv_usec * 1000ull;
	}
	return c;
}

/* Pin the calling thread to @cpu if the machine has more than one CPU. */
static inline void bu_pin(int cpu)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	if (n < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu % (int)n, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static inline int bu_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of @n values (sorted in place). */
static inline double bu_median(double *v, int n)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), bu_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Parse an integer option in [lo, hi]; exits with a message otherwise. */
static inline long bu_arg_long(const char *name, const char *s, long lo,
			       long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr,
			"%s: expected an integer in [%ld, %ld], got %s\n", name,
			lo, hi, s);
		exit(2);
	}
	return v;
}

#endif
