/*
 * bench/engine-file/file.c - 4 KiB random reads at queue depth 32 from a
 * page-cached file: the coil engine, fio's io_uring engine and a plain
 * pread(2) loop (queue depth 1), side by side in one run.
 *
 * The file is created in a fresh temp dir (random bytes, fdatasync'ed so no
 * writeback runs during the measurement), read once to warm the page cache,
 * and its residency is checked with mincore(2). Rounds alternate coil, fio
 * and pread; the summary prints medians.
 *
 * coil: one loop, --qd reads in flight, each re-submitted from its own
 * callback at a new random 4 KiB-aligned offset until --secs have passed;
 * the batch goes out with one io_uring_enter(2) per loop turn.
 * fio: `fio --ioengine=io_uring --rw=randread --bs=4k --iodepth=QD` on the
 * same file, plus --invalidate=0 (fio otherwise drops the file's page cache
 * before the job) and --norandommap (coil and pread keep no map either);
 * IOPS and CPU come from fio's JSON report of its job.
 * fio-b: the same plus what lets fio batch like coil does and skips its
 * per-I/O clock reads: --iodepth_batch_submit=QD
 * --iodepth_batch_complete_max=QD --gtod_reduce=1 (the stronger peer).
 * CPU per I/O: coil and pread from getrusage(2) RUSAGE_THREAD of the reading
 * thread; fio from its job's usr_cpu/sys_cpu.
 * System calls per I/O: counted by the kernel in separate counted runs (see
 * bench/common/benchutil.h; the tracepoint taxes every call, so the timed
 * rounds run without it): coil and pread per thread, fio as a whole process
 * tree under `perf stat -e raw_syscalls:sys_enter` (set-up included).
 */

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "coil/engine.h"
#include "../common/benchutil.h"

#define BS 4096
#define MAX_QD 1024
#define MAX_ROUNDS 15

extern char **environ;

enum { M_COIL, M_FIO, M_FIOB, M_PREAD, M_N };
static const char *const m_name[M_N] = {"coil", "fio", "fio-b", "pread"};

struct opts {
	long size_mb;
	int secs, rounds, qd;
	const char *fio;
	int no_fio;
};

struct res {
	double iops;
	double usr_us, sys_us; /* per I/O */
	double syscalls;       /* per I/O, -1 unknown */
	double enters;	       /* coil's own count per I/O */
	uint64_t ios;
	int ok;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "engine-file: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void) /* xorshift64* */
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* ---- the file -------------------------------------------------------------
 */

static void make_file(const char *path, long size_mb)
{
	size_t chunk = 1 << 20;
	char *buf = malloc(chunk);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (!buf || fd < 0)
		die("create file", errno ? errno : ENOMEM);
	for (size_t i = 0; i < chunk / 8; i++)
		((uint64_t *)buf)[i] = rng_next();
	for (long i = 0; i < size_mb; i++) {
		((uint64_t *)buf)[0] = (uint64_t)i; /* no two chunks alike */
		if (write(fd, buf, chunk) != (ssize_t)chunk)
			die("write file", errno ? errno : EIO);
	}
	if (fdatasync(fd) < 0)
		die("fdatasync", errno);
	close(fd);
	free(buf);
}

/* Read the whole file once; return the percentage of its pages cached. */
static double warm_file(const char *path, size_t size)
{
	size_t chunk = 1 << 20, pages = (size + 4095) / 4096, in = 0;
	char *buf = malloc(chunk);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *vec = malloc(pages);
	if (!buf || !vec || fd < 0)
		die("warm file", errno ? errno : ENOMEM);
	for (size_t off = 0; off < size; off += chunk) {
		if (pread(fd, buf, chunk, (off_t)off) < 0)
			die("pread", errno);
	}
	void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map != MAP_FAILED && mincore(map, size, vec) == 0) {
		for (size_t i = 0; i < pages; i++)
			in += vec[i] & 1;
	}
	if (map != MAP_FAILED)
		munmap(map, size);
	close(fd);
	free(vec);
	free(buf);
	return 100.0 * (double)in / (double)pages;
}

/* ---- coil ---------------------------------------------------------------- */

struct fbench {
	struct coil_loop *loop;
	int fd;
	uint64_t blocks, deadline_ns, ios;
	int err;
};

struct rd {
	struct coil_op op;
	struct fbench *b;
	char *buf;
};

static void rd_submit(struct rd *r)
{
	struct fbench *b = r->b;
	int64_t off = (int64_t)(rng_next() % b->blocks) * BS;
	int ret = coil_read(b->loop, &r->op, b->fd, r->buf, BS, off);
	if (ret < 0)
		die("coil_read", -ret);
}

static void rd_done(struct coil_op *op, int res, unsigned flags)
{
	struct rd *r = coil_container_of(op, struct rd, op);
	struct fbench *b = r->b;
	(void)flags;
	if (res != BS) {
		b->err = res < 0 ? -res : EIO;
		return;
	}
	b->ios++;
	if (coil_now(b->loop) < b->deadline_ns)
		rd_submit(r);
}

static void run_coil(const struct opts *o, const char *path, size_t size,
		     int counted, struct res *out)
{
	struct coil_loop_opts lo = {
		.sq_entries = 64, .buf_count = 1, .buf_size = 4096};
	struct coil_loop_stats st0, st1;
	struct fbench b = {0};
	struct rd *rs = calloc((size_t)o->qd, sizeof(*rs));
	char *bufs = aligned_alloc(4096, (size_t)o->qd * BS);
	int ret, sc;

	if (!rs || !bufs)
		die("calloc", ENOMEM);
	ret = coil_loop_new(&b.loop, &lo);
	if (ret < 0) {
		fprintf(stderr, "engine-file: %s\n", coil_loop_strerror(ret));
		exit(1);
	}
	b.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b.fd < 0)
		die("open", errno);
	b.blocks = size / BS;
	memset(bufs, 0, (size_t)o->qd * BS);

	sc = counted ? bu_syscount_open() : -1;
	coil_loop_stats(b.loop, &st0);
	struct bu_cpu c0 = bu_thread_cpu();
	uint64_t t0 = bu_mono_ns();
	bu_syscount_start(sc);
	b.deadline_ns =
		coil_now_update(b.loop) + (uint64_t)o->secs * 1000000000ull;
	for (int i = 0; i < o->qd; i++) {
		rs[i].b = &b;
		rs[i].buf = bufs + (size_t)i * BS;
		coil_op_init(&rs[i].op, rd_done);
		rd_submit(&rs[i]);
	}
	ret = coil_loop_run(b.loop, COIL_RUN_DEFAULT);
	int64_t nsc = bu_syscount_stop(sc);
	uint64_t wall = bu_mono_ns() - t0;
	struct bu_cpu c1 = bu_thread_cpu();
	coil_loop_stats(b.loop, &st1);
	if (ret < 0)
		die("coil_loop_run", -ret);
	if (b.err)
		die("read", b.err);

	double ios = b.ios ? (double)b.ios : 1;
	out->ios = b.ios;
	out->iops = (double)b.ios * 1e9 / (double)wall;
	out->usr_us = (double)(c1.user_ns - c0.user_ns) / 1e3 / ios;
	out->sys_us = (double)(c1.sys_ns - c0.sys_ns) / 1e3 / ios;
	out->syscalls = nsc < 0 ? -1 : (double)nsc / ios;
	out->enters = (double)(st1.enters - st0.enters) / ios;
	out->ok = 1;
	if (sc >= 0)
		close(sc);
	close(b.fd);
	coil_loop_free(b.loop);
	free(bufs);
	free(rs);
}

/* ---- pread --------------------------------------------------------------- */

static void run_pread(const struct opts *o, const char *path, size_t size,
		      int counted, struct res *out)
{
	char *buf = aligned_alloc(4096, BS);
	uint64_t blocks = size / BS, ios = 0, deadline;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int sc = counted ? bu_syscount_open() : -1;

	if (!buf || fd < 0)
		die("pread set-up", errno ? errno : ENOMEM);
	struct bu_cpu c0 = bu_thread_cpu();
	uint64_t t0 = bu_mono_ns(), now = t0;
	bu_syscount_start(sc);
	deadline = t0 + (uint64_t)o->secs * 1000000000ull;
	while (now < deadline) {
		for (int i = 0; i < 256; i++) {
			off_t off = (off_t)(rng_next() % blocks) * BS;
			if (pread(fd, buf, BS, off) != BS)
				die("pread", errno ? errno : EIO);
		}
		ios += 256;
		now = bu_mono_ns();
	}
	int64_t nsc = bu_syscount_stop(sc);
	uint64_t wall = bu_mono_ns() - t0;
	struct bu_cpu c1 = bu_thread_cpu();

	out->ios = ios;
	out->iops = (double)ios * 1e9 / (double)wall;
	out->usr_us = (double)(c1.user_ns - c0.user_ns) / 1e3 / (double)ios;
	out->sys_us = (double)(c1.sys_ns - c0.sys_ns) / 1e3 / (double)ios;
	out->syscalls = nsc < 0 ? -1 : (double)nsc / (double)ios;
	out->enters = 0;
	out->ok = 1;
	if (sc >= 0)
		close(sc);
	close(fd);
	free(buf);
}

/* ---- fio ----------------------------------------------------------------- */

/* The number after "key" : at or after @from, or -1. */
static double json_num(const char *s, const char *from, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\" :", key);
	const char *p = strstr(from ? from : s, pat);
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	s = malloc((size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	if (s)
		s[n] = 0;
	fclose(f);
	return s;
}

static int spawn_wait(char **argv, const char *out_path)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, ret;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out_path,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ret = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret)
		return -ret;
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void run_fio(const struct opts *o, const char *dir, const char *path,
		    int batch, int counted, struct res *out)
{
	char a_file[4200], a_depth[32], a_rt[32], json[4200], perf_out[4200];
	char a_bs[48], a_bc[48];
	char *argv[32];
	int n = 0, ret;

	snprintf(a_file, sizeof(a_file), "--filename=%s", path);
	snprintf(a_depth, sizeof(a_depth), "--iodepth=%d", o->qd);
	snprintf(a_rt, sizeof(a_rt), "--runtime=%d", o->secs);
	snprintf(a_bs, sizeof(a_bs), "--iodepth_batch_submit=%d", o->qd);
	snprintf(a_bc, sizeof(a_bc), "--iodepth_batch_complete_max=%d", o->qd);
	snprintf(json, sizeof(json), "%s/fio.json", dir);
	snprintf(perf_out, sizeof(perf_out), "%s/perf.txt", dir);
	memset(out, 0, sizeof(*out));
	if (counted) {
		argv[n++] = "perf";
		argv[n++] = "stat";
		argv[n++] = "-x,";
		argv[n++] = "-e";
		argv[n++] = "raw_syscalls:sys_enter";
		argv[n++] = "-o";
		argv[n++] = perf_out;
		argv[n++] = "--";
	}
	argv[n++] = (char *)o->fio;
	argv[n++] = "--name=randread";
	argv[n++] = a_file;
	argv[n++] = "--ioengine=io_uring";
	argv[n++] = "--rw=randread";
	argv[n++] = "--bs=4k";
	argv[n++] = a_depth;
	argv[n++] = "--invalidate=0";
	argv[n++] = "--norandommap";
	argv[n++] = a_rt;
	argv[n++] = "--time_based";
	argv[n++] = "--output-format=json";
	if (batch) {
		argv[n++] = a_bs;
		argv[n++] = a_bc;
		argv[n++] = "--gtod_reduce=1";
	}
	argv[n] = NULL;
	ret = spawn_wait(argv, json);
	if (ret != 0) {
		fprintf(stderr, "engine-file: %s%s failed (%d); fio skipped\n",
			counted ? "perf stat -- " : "", o->fio, ret);
		return;
	}
	char *s = slurp(json);
	const char *rd = s ? strstr(s, "\"read\" : {") : NULL;
	if (!rd) {
		fprintf(stderr, "engine-file: no fio report in %s\n", json);
		free(s);
		return;
	}
	double ios = json_num(s, rd, "total_ios");
	double usr = json_num(s, NULL, "usr_cpu");
	double sys = json_num(s, NULL, "sys_cpu");
	double rt_ms = json_num(s, rd, "runtime");
	out->iops = json_num(s, rd, "iops");
	free(s);
	if (ios <= 0 || rt_ms <= 0)
		return;
	out->ios = (uint64_t)ios;
	out->usr_us = usr / 100 * rt_ms * 1e3 / ios;
	out->sys_us = sys / 100 * rt_ms * 1e3 / ios;
	out->syscalls = -1;
	out->ok = 1;
	if (counted) {
		/* perf -x, lines: value,unit,event,... */
		char *p = slurp(perf_out), *line;
		for (line = p ? strtok(p, "\n") : NULL; line;
		     line = strtok(NULL, "\n")) {
			if (strstr(line, "raw_syscalls:sys_enter") &&
			    line[0] >= '0' && line[0] <= '9')
				out->syscalls = strtod(line, NULL) / ios;
		}
		free(p);
	}
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: engine_file [--size-mb MB] [--secs S] [--rounds R] "
		"[--qd N] [--fio PATH] [--no-fio]\n"
		"  defaults: 1024 MiB file in $TMPDIR or /tmp, 5 s, 3 rounds, "
		"queue depth 32\n");
	exit(2);
}

static void print_res(const char *tag, int m, const struct res *r)
{
	if (!r->ok) {
		printf("%-8s %-5s: failed\n", tag, m_name[m]);
		return;
	}
	printf("%-8s %-5s: %9.0f IOPS  CPU us/IO usr %.3f sys %.3f", tag,
	       m_name[m], r->iops, r->usr_us, r->sys_us);
	if (r->syscalls >= 0)
		printf("  syscalls/IO %.4f", r->syscalls);
	if (m == M_COIL)
		printf("  enters/IO %.4f", r->enters);
	printf("  [%llu I/Os]\n", (unsigned long long)r->ios);
	fflush(stdout);
}

static void run_mode(const struct opts *o, int m, const char *dir,
		     const char *path, size_t size, int counted, struct res *r)
{
	memset(r, 0, sizeof(*r));
	if (m == M_COIL)
		run_coil(o, path, size, counted, r);
	else if (m == M_FIO || m == M_FIOB)
		run_fio(o, dir, path, m == M_FIOB, counted, r);
	else
		run_pread(o, path, size, counted, r);
}

int main(int argc, char **argv)
{
	struct opts o = {.size_mb = 1024,
			 .secs = 5,
			 .rounds = 3,
			 .qd = 32,
			 .fio = "fio"};
	static struct res rs[M_N][MAX_ROUNDS];
	struct res cnt[M_N];
	char dir[4096], path[4200];
	const char *tmp = getenv("TMPDIR");

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-fio")) {
			o.no_fio = 1;
			continue;
		}
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (!strcmp(argv[i], "--size-mb"))
			o.size_mb = bu_arg_long("--size-mb", v, 16, 65536);
		else if (!strcmp(argv[i], "--secs"))
			o.secs = (int)bu_arg_long("--secs", v, 1, 60);
		else if (!strcmp(argv[i], "--rounds"))
			o.rounds =
				(int)bu_arg_long("--rounds", v, 1, MAX_ROUNDS);
		else if (!strcmp(argv[i], "--qd"))
			o.qd = (int)bu_arg_long("--qd", v, 1, MAX_QD);
		else if (!strcmp(argv[i], "--fio"))
			o.fio = v;
		else
			usage();
		i++;
	}

	snprintf(dir, sizeof(dir), "%s/coil-engine-file-XXXXXX",
		 tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	snprintf(path, sizeof(path), "%s/data", dir);
	size_t size = (size_t)o.size_mb << 20;
	uint64_t t0 = bu_mono_ns();
	make_file(path, o.size_mb);
	double cached = warm_file(path, size);
	printf("engine-file: %ld MiB file %s (%.1f%% cached, made in %.1f s), "
	       "4 KiB random reads, queue depth %d, %d s per run, %d "
	       "round(s)\n",
	       o.size_mb, path, cached, (double)(bu_mono_ns() - t0) / 1e9, o.qd,
	       o.secs, o.rounds);

	for (int round = 0; round < o.rounds; round++) {
		for (int m = 0; m < M_N; m++) {
			char tag[32];
			if ((m == M_FIO || m == M_FIOB) && o.no_fio)
				continue;
			run_mode(&o, m, dir, path, size, 0, &rs[m][round]);
			snprintf(tag, sizeof(tag), "round %d", round + 1);
			print_res(tag, m, &rs[m][round]);
		}
	}
	struct opts oc = o;
	oc.secs = o.secs < 2 ? o.secs : 2;
	for (int m = 0; m < M_N; m++) {
		if ((m == M_FIO || m == M_FIOB) && o.no_fio) {
			memset(&cnt[m], 0, sizeof(cnt[m]));
			continue;
		}
		run_mode(&oc, m, dir, path, size, 1, &cnt[m]);
		print_res("counted", m, &cnt[m]);
	}

	printf("\n%-26s | %10s | %10s | %10s | %10s | coil/fio | "
	       "coil/fio-b\n",
	       "medians (syscalls: counted)", "coil", "fio", "fio-b", "pread");
	static const char *const rows[] = {"IOPS",
					   "CPU us/IO user",
					   "CPU us/IO sys",
					   "CPU us/IO total",
					   "syscalls/IO (kernel)",
					   "enters/IO (coil stats)"};
	double med[6][M_N];
	for (int m = 0; m < M_N; m++) {
		double v[6][MAX_ROUNDS];
		int n = 0;
		for (int j = 0; j < o.rounds; j++) {
			const struct res *r = &rs[m][j];
			if (!r->ok)
				continue;
			v[0][n] = r->iops;
			v[1][n] = r->usr_us;
			v[2][n] = r->sys_us;
			v[3][n] = r->usr_us + r->sys_us;
			v[5][n] = r->enters;
			n++;
		}
		for (int k = 0; k < 6; k++)
			med[k][m] = k == 4 ? (cnt[m].ok ? cnt[m].syscalls : -1)
					   : bu_median(v[k], n);
	}
	for (int k = 0; k < 6; k++) {
		printf("%-26s | %10.4g | %10.4g | %10.4g | %10.4g |", rows[k],
		       med[k][M_COIL], med[k][M_FIO], med[k][M_FIOB],
		       med[k][M_PREAD]);
		if (k < 5 && med[k][M_FIO] > 0)
			printf(" %8.2fx |", med[k][M_COIL] / med[k][M_FIO]);
		if (k < 5 && med[k][M_FIOB] > 0)
			printf(" %.2fx", med[k][M_COIL] / med[k][M_FIOB]);
		printf("\n");
	}
	for (int m = M_FIO; m <= M_FIOB; m++) {
		if (o.no_fio || med[0][m] <= 0)
			continue;
		printf("goal: coil IOPS >= %s IOPS: %.0f vs %.0f, %s\n",
		       m_name[m], med[0][M_COIL], med[0][m],
		       med[0][M_COIL] >= med[0][m] ? "met" : "NOT met");
	}

	char json[4200];
	snprintf(json, sizeof(json), "%s/fio.json", dir);
	unlink(json);
	snprintf(json, sizeof(json), "%s/perf.txt", dir);
	unlink(json);
	unlink(path);
	rmdir(dir);
	return 0;
}
