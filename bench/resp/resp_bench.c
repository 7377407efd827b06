/*
 * bench/resp/resp_bench.c - the Redis client (coil/resp.h) beside
 * redis-benchmark (Debian's redis-tools) against the same redis-server,
 * alternating in one run: SET then GET of a 3-byte value on
 * "key:__rand_int__" (redis-benchmark's defaults without -r), C
 * connections, P commands in flight per connection (-P), N requests per
 * test. For each side: requests per second of wall time, requests per
 * CPU-second of the client (user + system), system calls per request.
 *
 * coil's figures are its own thread's (getrusage(RUSAGE_THREAD), the
 * raw_syscalls:sys_enter tracepoint for this thread); redis-benchmark's
 * are its process's (wait4(2)'s rusage, the same tracepoint on the child
 * with inherit, enabled at exec). Pin this program (and so its child) to
 * one CPU and the server to another: bench/resp/run.sh does.
 *
 * usage: resp_bench -p PORT [-c 50] [-P 16] [-n 200000] [-r 3]
 *                   [-b /usr/bin/redis-benchmark]
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "benchutil.h"
#include "coil/coil.h"
#include "coil/resp.h"

struct worker {
	struct coil_op acq;
	struct coil_pconn *pc;
	struct coil_resp_conn *conn;
	struct coil_resp_cmd *cmds;
	unsigned pending;
	struct bench *b;
};

struct bench {
	struct coil_loop *loop;
	struct coil_resp_client *client;
	struct worker *w;
	unsigned c, p;
	long n, issued, done;
	int acquired;
	int errors;
};

static void batch(struct worker *w);

static void cmd_cb(struct coil_op *op, int res, unsigned flags)
{
	struct coil_resp_cmd *cmd =
		coil_container_of(op, struct coil_resp_cmd, op);
	struct worker *w = cmd->data;
	(void)flags;
	if (res < 0 || cmd->reply->type == COIL_RESP_ERROR)
		w->b->errors++;
	w->b->done++;
	if (--w->pending == 0)
		batch(w);
}

static void batch(struct worker *w)
{
	struct bench *b = w->b;
	for (unsigned i = 0; i < b->p && b->issued < b->n; i++) {
		if (coil_resp_send(w->conn, &w->cmds[i]) < 0) {
			b->errors++;
			return;
		}
		b->issued++;
		w->pending++;
	}
}

static void acq_cb(struct coil_op *op, int res, unsigned flags)
{
	struct worker *w = coil_container_of(op, struct worker, acq);
	(void)flags;
	if (res < 0) {
		fprintf(stderr, "connect: %s\n", coil_strerror(res));
		exit(1);
	}
	w->conn = coil_resp_conn(w->pc);
	w->b->acquired++;
}

static void set_args(struct bench *b, int get)
{
	static const char *const set[] = {"SET", "key:__rand_int__", "xxx"};
	static const char *const getc[] = {"GET", "key:__rand_int__"};
	for (unsigned i = 0; i < b->c; i++)
		for (unsigned j = 0; j < b->p; j++) {
			struct coil_resp_cmd *cmd = &b->w[i].cmds[j];
			if (get)
				coil_resp_cmd_args(cmd, 2, getc, NULL);
			else
				coil_resp_cmd_args(cmd, 3, set, NULL);
		}
}

struct result {
	double rps, per_cpu_s, sys_per_req, cpu_us_per_req;
};

static struct result run_coil(struct bench *b, int get, int scfd)
{
	struct result r;
	set_args(b, get);
	b->issued = b->done = 0;
	struct bu_cpu c0 = bu_thread_cpu();
	uint64_t t0 = bu_mono_ns();
	bu_syscount_start(scfd);
	for (unsigned i = 0; i < b->c; i++)
		batch(&b->w[i]);
	while (b->done < b->n)
		coil_loop_run(b->loop, COIL_RUN_ONCE);
	int64_t sc = bu_syscount_stop(scfd);
	uint64_t t1 = bu_mono_ns();
	struct bu_cpu c1 = bu_thread_cpu();
	double cpu =
		(double)(c1.user_ns - c0.user_ns + c1.sys_ns - c0.sys_ns) / 1e9;
	r.rps = (double)b->n / ((double)(t1 - t0) / 1e9);
	r.per_cpu_s = (double)b->n / cpu;
	r.cpu_us_per_req = cpu * 1e6 / (double)b->n;
	r.sys_per_req = sc < 0 ? -1 : (double)sc / (double)b->n;
	return r;
}

static struct result run_peer(const char *bin, unsigned port, struct bench *b,
			      int get)
{
	struct result r = {0};
	int go[2];
	char sport[16], sc[16], sp[16], sn[32];
	pid_t pid;
	struct rusage ru;
	int st, fd = -1;
	long id = bu_sys_enter_id();
	uint64_t t0, t1, v = 0;

	snprintf(sport, sizeof(sport), "%u", port);
	snprintf(sc, sizeof(sc), "%u", b->c);
	snprintf(sp, sizeof(sp), "%u", b->p);
	snprintf(sn, sizeof(sn), "%ld", b->n);
	if (pipe(go) < 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		char x;
		int nul = open("/dev/null", O_WRONLY);
		dup2(nul, 1);
		close(go[1]);
		if (read(go[0], &x, 1) != 1)
			_exit(1);
		execl(bin, bin, "-h", "127.0.0.1", "-p", sport, "-c", sc, "-P",
		      sp, "-n", sn, "-t", get ? "get" : "set", "-q",
		      (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	if (id >= 0) {
		struct perf_event_attr a;
		memset(&a, 0, sizeof(a));
		a.type = PERF_TYPE_TRACEPOINT;
		a.size = sizeof(a);
		a.config = (uint64_t)id;
		a.disabled = 1;
		a.enable_on_exec = 1;
		a.inherit = 1;
		fd = (int)syscall(SYS_perf_event_open, &a, pid, -1, -1,
				  PERF_FLAG_FD_CLOEXEC);
	}
	t0 = bu_mono_ns();
	if (write(go[1], "g", 1) != 1)
		exit(1);
	close(go[1]);
	wait4(pid, &st, 0, &ru);
	t1 = bu_mono_ns();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "redis-benchmark failed\n");
		exit(1);
	}
	double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	if (fd >= 0 && read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		v = 0;
	if (fd >= 0)
		close(fd);
	r.rps = (double)b->n / ((double)(t1 - t0) / 1e9);
	r.per_cpu_s = (double)b->n / cpu;
	r.cpu_us_per_req = cpu * 1e6 / (double)b->n;
	r.sys_per_req = fd < 0 ? -1 : (double)v / (double)b->n;
	return r;
}

static void print(const char *who, const char *test, struct result r)
{
	printf("%-15s %-3s %10.0f req/s %10.0f req/cpu-s %7.3f cpu-us/req "
	       "%6.3f syscalls/req\n",
	       who, test, r.rps, r.per_cpu_s, r.cpu_us_per_req, r.sys_per_req);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct bench b = {.c = 50, .p = 16, .n = 200000};
	struct coil_resp_opts o = {0};
	const char *bin = "/usr/bin/redis-benchmark";
	unsigned port = 0, rounds = 3;
	int opt, scfd;
	double ratio[2][16];

	while ((opt = getopt(argc, argv, "p:c:P:n:r:b:")) != -1) {
		switch (opt) {
		case 'p':
			port = (unsigned)atoi(optarg);
			break;
		case 'c':
			b.c = (unsigned)atoi(optarg);
			break;
		case 'P':
			b.p = (unsigned)atoi(optarg);
			break;
		case 'n':
			b.n = atol(optarg);
			break;
		case 'r':
			rounds = (unsigned)atoi(optarg);
			break;
		case 'b':
			bin = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: %s -p PORT [-c C] [-P P] "
				"[-n N] [-r ROUNDS] [-b BIN]\n",
				argv[0]);
			return 2;
		}
	}
	if (!port || !b.c || !b.p || b.n <= 0 || rounds > 16)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (coil_loop_new(&b.loop, NULL) < 0)
		return 1;
	struct sockaddr_in *a = (struct sockaddr_in *)&o.addr;
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	o.max_conns = b.c;
	o.check_idle_ns = UINT64_MAX;
	if (coil_resp_client_new(&b.client, b.loop, &o) < 0)
		return 1;
	b.w = calloc(b.c, sizeof(*b.w));
	for (unsigned i = 0; i < b.c; i++) {
		b.w[i].b = &b;
		b.w[i].cmds = calloc(b.p, sizeof(*b.w[i].cmds));
		for (unsigned j = 0; j < b.p; j++) {
			b.w[i].cmds[j].data = &b.w[i];
			coil_resp_cmd_init(&b.w[i].cmds[j], cmd_cb);
		}
		coil_op_init(&b.w[i].acq, acq_cb);
		coil_resp_acquire(b.client, &b.w[i].acq, &b.w[i].pc);
	}
	while (b.acquired < (int)b.c)
		coil_loop_run(b.loop, COIL_RUN_ONCE);
	scfd = bu_syscount_open();
	printf("connections %u, pipeline %u, %ld requests per test, %u "
	       "rounds\n",
	       b.c, b.p, b.n, rounds);
	for (unsigned r = 0; r < rounds; r++) {
		for (int get = 0; get < 2; get++) {
			struct result rc = run_coil(&b, get, scfd);
			struct result rp = run_peer(bin, port, &b, get);
			print("coil", get ? "GET" : "SET", rc);
			print("redis-benchmark", get ? "GET" : "SET", rp);
			ratio[get][r] = rc.per_cpu_s / rp.per_cpu_s;
		}
	}
	for (int get = 0; get < 2; get++)
		printf("%s: coil / redis-benchmark requests per CPU-second, "
		       "median of %u: %.2fx\n",
		       get ? "GET" : "SET", rounds,
		       bu_median(ratio[get], (int)rounds));
	if (b.errors)
		printf("errors: %d\n", b.errors);
	return b.errors ? 1 : 0;
}
