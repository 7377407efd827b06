/*
 * tools/coil-bench/segment.c - this worker's share of a test split over N
 * workers, and the common start (see segment.h).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/parse.h"
#include "cli.h"
#include "schedule.h"
#include "segment.h"

const char *cb_segment_source_name(enum cb_seg_source s)
{
	switch (s) {
	case CB_SEG_FLAG:
		return "--segment";
	case CB_SEG_SLURM:
		return "SLURM_PROCID";
	case CB_SEG_K8S:
		return "JOB_COMPLETION_INDEX";
	default:
		return "none";
	}
}

/* A whole decimal number in [min, max] from @s (all of it). */
static int whole(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;
	if (!s || !*s || tools_parse_scaled(s, NULL, 1, 1, &v) < 0 || v < min ||
	    v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cb_segment_parse(struct cb_segment *s, const char *arg, char *err,
		     size_t err_len)
{
	char buf[32], *slash;
	uint64_t i, n;

	if (!strcmp(arg, "auto")) {
		s->source = CB_SEG_SLURM;
		return 0;
	}
	if (strlen(arg) >= sizeof(buf) || !(slash = strchr(arg, '/')))
		goto bad;
	memcpy(buf, arg, strlen(arg) + 1);
	slash = buf + (slash - arg);
	*slash = '\0';
	if (whole(slash + 1, 1, CB_MAX_SEGMENTS, &n) < 0 ||
	    whole(buf, 1, n, &i) < 0)
		goto bad;
	s->source = CB_SEG_FLAG;
	s->index = (uint32_t)i;
	s->count = (uint32_t)n;
	return 0;
bad:
	return tools_fail(err, err_len,
			  "bad --segment '%s' (expected I/N with 1 <= I <= N "
			  "<= %d, e.g. 2/4, or auto under srun)",
			  arg, CB_MAX_SEGMENTS);
}

/* I and N from the scheduler's environment. */
static int from_env(struct cb_segment *s, char *err, size_t err_len)
{
	const char *pid = getenv("SLURM_PROCID"), *nt = getenv("SLURM_NTASKS");
	const char *jci = getenv("JOB_COMPLETION_INDEX");
	uint64_t i, n;

	if (s->source == CB_SEG_SLURM) {
		if (!pid || !nt)
			return tools_fail(
				err, err_len,
				"--segment auto needs SLURM_PROCID and "
				"SLURM_NTASKS (srun sets them): run it "
				"under srun, or give --segment I/N");
		if (whole(nt, 1, CB_MAX_SEGMENTS, &n) < 0 ||
		    whole(pid, 0, n - 1, &i) < 0)
			return tools_fail(
				err, err_len,
				"--segment auto: SLURM_PROCID '%s' and "
				"SLURM_NTASKS '%s' are not a task of the job",
				pid, nt);
		s->index = (uint32_t)i + 1;
		s->count = (uint32_t)n;
		return 0;
	}
	if (!jci)
		return tools_fail(
			err, err_len,
			"--segments needs JOB_COMPLETION_INDEX (set in "
			"the pods of a Kubernetes Indexed Job): give "
			"--segment I/N elsewhere");
	if (whole(jci, 0, s->count - 1, &i) < 0)
		return tools_fail(err, err_len,
				  "--segments %u: JOB_COMPLETION_INDEX '%s' "
				  "is not in 0..%u",
				  s->count, jci, s->count - 1);
	s->index = (uint32_t)i + 1;
	return 0;
}

int cb_segment_apply(struct cb_opts *o, char *err, size_t err_len)
{
	struct cb_segment *s = &o->seg;
	uint64_t first, share;
	int ret;

	if (s->source == CB_SEG_NONE)
		return 0;
	if (s->source != CB_SEG_FLAG && (ret = from_env(s, err, err_len)))
		return ret;
	if (o->find_max_rate)
		return tools_fail(err, err_len,
				  "--find-max-rate runs on one machine: "
				  "leave out --segment");
	if (o->connections < s->count)
		return tools_fail(err, err_len,
				  "-c %u is less than the %u segments: every "
				  "worker needs a connection",
				  o->connections, s->count);
	s->connections = o->connections;
	s->threads = o->threads;
	s->requests = o->requests;
	cb_split(o->connections, s->count, s->index - 1, &first, &share);
	s->conn_first = first;
	o->connections = (uint32_t)share;
	if (o->threads > share)
		o->threads = (uint32_t)share;
	if (o->requests && !o->rate) {
		/* the closed model's budget; with -R the schedule's limit
		 * stays global and the lanes share it */
		cb_split(o->requests, s->count, s->index - 1, &first, &share);
		if (!share)
			return tools_fail(err, err_len,
					  "-n %llu is less than the %u "
					  "segments: every worker needs a "
					  "request",
					  (unsigned long long)o->requests,
					  s->count);
		o->requests = share;
	}
	return 0;
}

uint64_t cb_segment_share(const struct cb_segment *s, uint64_t v)
{
	uint64_t first, share;
	if (!s->count)
		return v;
	cb_split(v, s->count, s->index - 1, &first, &share);
	return share;
}

uint64_t cb_lanes(const struct cb_opts *o)
{
	return o->seg.count ? o->seg.connections : o->connections;
}

uint64_t cb_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cb_parse_start_at(const char *arg, uint64_t now_ns, uint64_t *at_ns,
		      char *err, size_t err_len)
{
	uint64_t at;
	if (tools_parse_scaled(arg, NULL, 1000000000ull, 0, &at) < 0)
		return tools_fail(
			err, err_len,
			"bad --start-at '%s' (expected UNIX seconds, e.g. "
			"$(date +%%s.%%N) plus a margin: 1767225600.25)",
			arg);
	if (at <= now_ns)
		return tools_fail(err, err_len,
				  "--start-at %s is %.3fs in the past (the "
				  "clock says %llu.%03llu)",
				  arg, (double)(now_ns - at) / 1e9,
				  (unsigned long long)(now_ns / 1000000000ull),
				  (unsigned long long)(now_ns % 1000000000ull /
						       1000000ull));
	*at_ns = at;
	return 0;
}

uint64_t cb_wait_until(uint64_t at_ns, const atomic_int *stop)
{
	struct timespec ts = {.tv_sec = (time_t)(at_ns / 1000000000ull),
			      .tv_nsec = (long)(at_ns % 1000000000ull)};
	uint64_t now;
	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) ==
		       EINTR &&
	       !(stop && atomic_load(stop)))
		;
	now = cb_realtime_ns();
	return now > at_ns ? now - at_ns : 0;
}
