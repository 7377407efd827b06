/*
 * tests/bench/test_slurm.c - a real distributed run: a one-node Slurm
 * cluster on this machine (deploy/slurm/local-cluster.sh: munged,
 * slurmctld, slurmd of Debian's slurm-wlm and munge), then
 *
 *   srun -l -n 4 coil-bench --segment auto --start-at T -R 4000 -d 3s --json
 *
 * against coil-serve with an access log, and `coil-bench merge -` of what
 * srun printed. Checked: the merged request count is the access log's
 * line count, the merged rate is 4000/s within 2%, and the merged
 * percentiles are those of the four workers' latencies taken together:
 * each worker also wrote its latencies to an --hdr-log (recorded apart
 * from its result's histogram), the test decodes the four logs with its
 * own decoder (hdrlog_decode.h), adds them and takes the percentiles of
 * the sum. Exits 77 where Slurm cannot start (not root, packages missing);
 * the daemons are stopped at the end whatever happened.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

#include "hdrlog_decode.h"
#include "serveutil.h"

static char dir[64] = "/tmp/coil-slurm-XXXXXX";
static int cluster_up;

/* Run the script with @what ("start", "stop"); its exit status. */
static int cluster(const char *what)
{
	char *argv[] = {"sh", LOCAL_CLUSTER, (char *)what, dir, NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "sh", &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void stop_cluster(void)
{
	char cmd[128];
	if (!cluster_up)
		return;
	cluster_up = 0;
	cluster("stop");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Run @argv with stdout into @out_path; the exit status. */
static int run_to(char **argv, const char *out_path)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out_path,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* HdrHistogram's slot layout for 3 digits, lowestDiscernibleValue 1: the
 * lowest value of slot @idx (valueFromIndex()), written apart from the
 * tool's. */
static uint64_t slot_lo(uint64_t idx)
{
	const unsigned half_mag = 10; /* 2048 sub-buckets for 3 digits */
	int64_t bucket = (int64_t)(idx >> half_mag) - 1;
	uint64_t sub = (idx & 1023) + 1024;
	if (bucket < 0) {
		sub -= 1024;
		bucket = 0;
	}
	return sub << bucket;
}

/* Counts by slot of every interval line of the --hdr-log @path added into
 * @sum (@cap slots). */
static void add_log(const char *path, uint64_t *sum, size_t cap)
{
	char *text = slurp(path), *line, *save = NULL;
	int lines = 0;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct dec_hist d;
		char *b64 = strrchr(line, ',');
		if (line[0] == '#' || line[0] == '"' ||
		    !strncmp(line, "Tag=", 4))
			continue;
		assert_non_null(b64);
		assert_int_equal(dec_hist_parse(&d, b64 + 1, strlen(b64 + 1)),
				 0);
		assert_int_equal(d.digits, 3);
		assert_true(d.len <= cap);
		for (size_t i = 0; i < d.len; i++)
			sum[i] += d.counts[i];
		dec_hist_free(&d);
		lines++;
	}
	assert_true(lines >= 3);
	free(text);
}

/* The percentile @p of @sum as coil_hist_value_at_percentile() defines
 * it (nearest rank; the slot's highest value, bounded by min and max). */
static uint64_t pct(const uint64_t *sum, size_t n, double p, uint64_t min,
		    uint64_t max)
{
	uint64_t total = 0, seen = 0, rank;
	double frac;
	for (size_t i = 0; i < n; i++)
		total += sum[i];
	frac = p / 100.0 * (double)total;
	frac -= frac * 1e-12;
	rank = (uint64_t)frac;
	if ((double)rank < frac)
		rank++;
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < n; i++) {
		seen += sum[i];
		if (seen >= rank) {
			uint64_t v = slot_lo(i + 1) - 1;
			return v > max ? max : v < min ? min : v;
		}
	}
	return max;
}

#define SLOTS (1u << 16)

/* One srun -n 4 run against a fresh coil-serve, merged: the merged JSON
 * and the access log (both freed by the caller). */
static void srun_and_merge(char **text, char **log)
{
	struct serve srv;
	char start[64], out[96], merged[96], hdrarg[128];
	int st;

	serve_start(&srv, "2");
	/* srun's launch takes a second or so on a busy machine */
	snprintf(start, sizeof(start), "%.3f", (double)real_ns() / 1e9 + 3.0);
	snprintf(out, sizeof(out), "%s/srun.out", dir);
	snprintf(merged, sizeof(merged), "%s/merged.json", dir);
	snprintf(hdrarg, sizeof(hdrarg),
		 "exec \"$0\" \"$@\" --hdr-log %s/hdr-$SLURM_PROCID.log", dir);
	{
		char *argv[] = {"srun",
				"-l",
				"-n",
				"4",
				"--overcommit",
				"--kill-on-bad-exit=1",
				"sh",
				"-c",
				hdrarg,
				COIL_BENCH_BIN,
				"--segment",
				"auto",
				"--start-at",
				start,
				"-t",
				"1",
				"-c",
				"8",
				"-R",
				"4000",
				"-d",
				"3s",
				"--json",
				serve_url(&srv, "/"),
				NULL};
		st = run_to(argv, out);
	}
	*log = serve_stop(&srv);
	if (st != 0) {
		*text = slurp(out);
		fprintf(stderr, "srun exit %d:\n%s\n", st, *text);
		free(*text);
	}
	assert_int_equal(st, 0);
	{
		char *argv[] = {COIL_BENCH_BIN, "merge", "--json", "-", NULL};
		posix_spawn_file_actions_t fa;
		pid_t pid;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, out, O_RDONLY, 0);
		posix_spawn_file_actions_addopen(
			&fa, 1, merged, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		assert_int_equal(posix_spawn(&pid, COIL_BENCH_BIN, &fa, NULL,
					     argv, environ),
				 0);
		posix_spawn_file_actions_destroy(&fa);
		waitpid(pid, &st, 0);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	*text = slurp(merged);
}

static void test_slurm_srun_four_workers_merge_exactly(void **state)
{
	char out[96], *text, *log, *p;
	uint64_t *sum = calloc(SLOTS, sizeof(*sum)), lines = 0;
	uint64_t min = UINT64_MAX, max = 0;
	static const char *const labels[] = {"50", "90", "99", "99.9", "100"};
	static const double pcts[] = {50, 90, 99, 99.9, 100};
	double requests, rate;
	(void)state;

	/* a host so loaded that the generators could not send what was due
	 * (they say so: "unsent") measures the host, not the merge: run
	 * again, up to three times */
	for (int attempt = 1;; attempt++) {
		srun_and_merge(&text, &log);
		if (jnum(text, "\"open_model\"", "unsent") == 0 || attempt == 3)
			break;
		fprintf(stderr,
			"attempt %d: the generators left %.0f requests unsent "
			"(host load): again\n",
			attempt, jnum(text, "\"open_model\"", "unsent"));
		free(text);
		free(log);
	}
	snprintf(out, sizeof(out), "%s/srun.out", dir);
	for (p = log; (p = strchr(p, '\n')); p++)
		lines++;
	requests = j_requests(text);
	rate = jnum(text, "\"runtime_ns\"", "requests_per_sec");
	fprintf(stderr,
		"merged: %.0f requests, %.1f/s; access log: %llu lines; "
		"workers started late by at most %.3f ms\n",
		requests, rate, (unsigned long long)lines,
		jnum(text, "\"start\"", "late_ns") / 1e6);
	assert_true(requests == (double)lines);
	{
		/* the merged rate is the merged count over the one window;
		 * with what the workers could not send (a loaded host, after
		 * three attempts) it is the schedule's 4000/s */
		double secs = jnum(text, NULL, "runtime_ns") / 1e9;
		double sched =
			requests + jnum(text, "\"open_model\"", "unsent");
		fprintf(stderr, "window %.3f s, scheduled %.0f\n", secs, sched);
		assert_true(secs >= 2.99 && secs <= 3.01);
		assert_true(rate >= requests / secs * 0.999 &&
			    rate <= requests / secs * 1.001);
		assert_true(sched / secs >= 4000 * 0.98 &&
			    sched / secs <= 4000 * 1.02);
	}
	assert_true(jnum(text, "\"workers\"", "count") == 4);

	/* the four workers' latencies together, from their --hdr-logs */
	for (int k = 0; k < 4; k++) {
		char path[128], *w, *obj;
		snprintf(path, sizeof(path), "%s/hdr-%d.log", dir, k);
		add_log(path, sum, SLOTS);
		/* each worker's exact min and max, from srun's output */
		w = slurp(out);
		snprintf(path, sizeof(path), "%d: {", k);
		obj = strstr(w, path);
		assert_non_null(obj);
		snprintf(path, sizeof(path), "%d:     \"min\": ", k);
		/* the first "min"/"max" of the task's lines are latency_ns' */
		{
			char *m = strstr(obj, path);
			uint64_t v;
			assert_non_null(m);
			v = strtoull(m + strlen(path), NULL, 10);
			min = v < min ? v : min;
			snprintf(path, sizeof(path), "%d:     \"max\": ", k);
			m = strstr(obj, path);
			assert_non_null(m);
			v = strtoull(m + strlen(path), NULL, 10);
			max = v > max ? v : max;
		}
		free(w);
	}
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		double got = jnum(text, "\"percentiles\"", labels[i]);
		uint64_t want = pct(sum, SLOTS, pcts[i], min, max);
		fprintf(stderr, "  p%s: merged %.0f ns, the union %llu ns\n",
			labels[i], got, (unsigned long long)want);
		assert_true(got == (double)want);
	}
	free(text);
	free(log);
	free(sum);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slurm_srun_four_workers_merge_exactly),
	};
	int ret;
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	ret = cluster("start");
	cluster_up = 1; /* whatever started is stopped */
	atexit(stop_cluster);
	if (ret != 0) {
		fprintf(stderr,
			"skip: the local Slurm cluster did not start "
			"(deploy/slurm/local-cluster.sh: exit %d)\n",
			ret);
		stop_cluster();
		return 77;
	}
	{
		char conf[96];
		snprintf(conf, sizeof(conf), "%s/slurm.conf", dir);
		setenv("SLURM_CONF", conf, 1);
	}
	ret = cmocka_run_group_tests_name("bench.slurm", tests, NULL, NULL);
	stop_cluster();
	return ret;
}
