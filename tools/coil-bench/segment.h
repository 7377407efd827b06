/*
 * tools/coil-bench/segment.h - one test over N workers (--segment,
 * --segments, --start-at): what share of the test this worker runs, and
 * when it starts.
 *
 * A segmented worker runs the test's connections first .. first + count - 1
 * of the whole test's -c (cb_split(): the first c % N workers get one
 * more), and those connections keep their global index. So:
 *
 *  - the open model (-R, --stages with -R, -n with -R) needs no scaling at
 *    all: a connection is a lane of the one global schedule (schedule.h),
 *    so the N workers' lanes together are exactly the schedule one
 *    generator would follow (requests i = lane, lane + L, ... with L the
 *    whole test's connections), and -n stays the schedule's global limit;
 *  - URLs (--urls) go round robin from the connection's global index, as
 *    they would in one generator;
 *  - the closed model's -n is split (cb_split()), and its --stages value
 *    (the sending connections) is split at every moment the same way.
 *
 * Workers start together with --start-at: each opens its connections,
 * then waits for that wall-clock moment (CLOCK_REALTIME) before its first
 * request, and reports how late it actually started.
 */
#ifndef COIL_BENCH_SEGMENT_H
#define COIL_BENCH_SEGMENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CB_MAX_SEGMENTS 100000

/* Where the segment came from. */
enum cb_seg_source {
	CB_SEG_NONE = 0,
	CB_SEG_FLAG,  /* --segment I/N */
	CB_SEG_SLURM, /* --segment auto: SLURM_PROCID, SLURM_NTASKS */
	CB_SEG_K8S,   /* --segments N: JOB_COMPLETION_INDEX */
};

struct cb_segment {
	enum cb_seg_source source;
	uint32_t index; /* 1 .. count; 0 without a segment */
	uint32_t count;
	/* the whole test, as one generator would run it (set by
	 * cb_segment_apply()) */
	uint32_t connections; /* -c of the whole test: the lanes */
	uint32_t threads;     /* -t as given */
	uint64_t requests;    /* -n of the whole test (0: none) */
	uint64_t conn_first;  /* this worker's first connection */
};

struct cb_opts;

/* cb_segment_source_name() - "--segment", "SLURM_PROCID", ... */
const char *cb_segment_source_name(enum cb_seg_source s);

/*
 * cb_segment_parse() - the value of --segment: "I/N" (1 <= I <= N <=
 * CB_MAX_SEGMENTS) or "auto". Return: 0; -EINVAL with a message in @err.
 */
int cb_segment_parse(struct cb_segment *s, const char *arg, char *err,
		     size_t err_len);

/*
 * cb_segment_apply() - after the rest of the command line is parsed: take
 * I and N from the environment for "auto" (SLURM_PROCID, SLURM_NTASKS)
 * and --segments (JOB_COMPLETION_INDEX), keep the whole test's figures in
 * @o->seg and cut @o down to this worker's share (connections, threads
 * when fewer connections than threads are left, the closed model's -n).
 * Nothing happens without a segment.
 * Return: 0; -EINVAL with a message in @err (a variable missing or not a
 * number, I out of 1..N, fewer connections or -n requests than workers,
 * --find-max-rate).
 */
int cb_segment_apply(struct cb_opts *o, char *err, size_t err_len);

/* cb_segment_share() - this worker's part of a closed-model value @v
 * (sending connections) that the whole test would have; @v itself
 * without a segment. */
uint64_t cb_segment_share(const struct cb_segment *s, uint64_t v);

/* cb_lanes() - the lanes of the open model's schedule: the whole test's
 * connections. */
uint64_t cb_lanes(const struct cb_opts *o);

/*
 * cb_parse_start_at() - --start-at's value: UNIX seconds with an optional
 * fraction ("1767225600.25"; digits past nanoseconds dropped).
 * @now_ns: the current CLOCK_REALTIME time; a moment before it is an
 *          error ("in the past").
 * Return: 0 with *@at_ns set; -EINVAL with a message in @err.
 */
int cb_parse_start_at(const char *arg, uint64_t now_ns, uint64_t *at_ns,
		      char *err, size_t err_len);

/* cb_realtime_ns() - CLOCK_REALTIME in ns since the epoch. */
uint64_t cb_realtime_ns(void);

/*
 * cb_wait_until() - sleep until CLOCK_REALTIME reaches @at_ns
 * (clock_nanosleep(2), TIMER_ABSTIME), or until *@stop becomes nonzero
 * (checked after each signal). Return: how late the wake was, in ns
 * (0 if it was on time or early).
 */
uint64_t cb_wait_until(uint64_t at_ns, const atomic_int *stop);

#endif
