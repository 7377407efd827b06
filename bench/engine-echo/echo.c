/*
 * bench/engine-echo/echo.c - TCP ping-pong on 127.0.0.1: an echo server and
 * a client on the coil engine, against the same pair written the plain way
 * with epoll (epoll_wait(2) + read(2) + write(2) on non-blocking sockets).
 *
 * Each run sets up N connections (connect + accept, not measured), then the
 * server and the client each run on their own thread, pinned to different
 * CPUs when there are two. Every connection carries one message of --msg
 * bytes at a time: the client sends it, the server echoes it, the client
 * counts a round trip when the whole reply is in and sends the next, until
 * --secs have passed; then it half-closes and both sides drain.
 *
 * The coil pair uses what the engine offers for this: one multishot recv
 * per connection into the loop's provided buffer ring (kernel 6.0), sends
 * queued from callbacks and submitted together once per loop turn, and on
 * the server a per-connection output buffer that coalesces everything that
 * arrived while a send was in flight into the next send.
 *
 * Measured per side over its own window: CPU time (getrusage(2)
 * RUSAGE_THREAD, user and system apart), system calls counted by the kernel
 * (the raw_syscalls:sys_enter tracepoint through perf_event_open(2), see
 * bench/common/benchutil.h) and, for coil, the loop's self-reported enters.
 * An enabled syscall tracepoint sends every system call through the slow
 * tracing path, which would tax epoll (2+ calls per round trip) far more
 * than coil; so the timed rounds run uncounted, and one extra, shorter
 * counted run per implementation gives the system call figures.
 * Rounds alternate coil and epoll; the summary prints medians and ratios.
 */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "coil/engine.h"
#include "../common/benchutil.h"

#define OUT_CAP 65536
#define MAX_MSG 4096
#define MAX_ROUNDS 15

/* coil-b is coil with the loop's batched waiting (batch_wait_ns) on */
enum { MODE_COIL, MODE_COILB, MODE_EPOLL, MODE_N };
static const char *const mode_name[MODE_N] = {"coil", "coil-b", "epoll"};

struct opts {
	int conns, secs, rounds, msg;
	unsigned modes;	   /* bit per MODE_* */
	uint64_t batch_ns; /* coil-b's batch_wait_ns */
	int counted;	   /* this run counts system calls (and pays for it) */
};

/* What one side measured over its window. */
struct side_res {
	struct bu_cpu cpu;
	int64_t syscalls; /* kernel count, -1 if unavailable */
	uint64_t enters;  /* coil_loop_stats().enters, coil only */
	uint64_t turns;
	uint64_t wall_ns;
};

struct run_res {
	uint64_t rts;
	struct side_res side[2]; /* 0 server, 1 client */
};

struct side_arg {
	const struct opts *o;
	int *fds;
	int client;
	int cpu;
	uint64_t batch_ns; /* coil: the loop's batch_wait_ns */
	pthread_barrier_t *bar;
	struct run_res *res;
};

static char msg_bytes[MAX_MSG];

static void die(const char *what, int err)
{
	fprintf(stderr, "engine-echo: %s: %s\n", what, strerror(err));
	exit(1);
}

/* Window bookkeeping shared by both implementations. */
struct window {
	int sc_fd;
	struct bu_cpu cpu0;
	uint64_t t0;
};

static void window_open(struct window *w, int counted)
{
	w->sc_fd = counted ? bu_syscount_open() : -1;
	w->t0 = bu_mono_ns();
	w->cpu0 = bu_thread_cpu();
	bu_syscount_start(w->sc_fd);
}

static void window_close(struct window *w, struct side_res *r)
{
	r->syscalls = bu_syscount_stop(w->sc_fd);
	struct bu_cpu c = bu_thread_cpu();
	r->wall_ns = bu_mono_ns() - w->t0;
	r->cpu.user_ns = c.user_ns - w->cpu0.user_ns;
	r->cpu.sys_ns = c.sys_ns - w->cpu0.sys_ns;
	if (w->sc_fd >= 0)
		close(w->sc_fd);
}

/* ---- coil ---------------------------------------------------------------- */

struct cside {
	struct coil_loop *loop;
	const struct opts *o;
	uint64_t deadline_ns;
	uint64_t rts;
	int open;
};

struct cconn {
	int fd;
	struct cside *s;
	struct coil_op rd, wr;
	/* server: out[0, out_len) queued, the first `sending` bytes in flight
	 */
	unsigned out_len, sending;
	int eof;
	/* client: reply bytes of the current message, bytes left to send */
	unsigned got, unsent;
	int due; /* client: a message is due while a send is in flight */
	char out[];
};

static void cconn_closed(struct cconn *c)
{
	close(c->fd);
	c->fd = -1;
	c->s->open--;
}

static void srv_on_send(struct coil_op *op, int res, unsigned flags);

static void srv_kick(struct cconn *c)
{
	int ret;
	c->sending = c->out_len;
	ret = coil_send(c->s->loop, &c->wr, c->fd, c->out, c->sending, 0);
	if (ret < 0)
		die("coil_send", -ret);
}

static void srv_on_send(struct coil_op *op, int res, unsigned flags)
{
	struct cconn *c = coil_container_of(op, struct cconn, wr);
	(void)flags;
	if (res < 0)
		die("server send", -res);
	memmove(c->out, c->out + res, c->out_len - (unsigned)res);
	c->out_len -= (unsigned)res;
	c->sending = 0;
	if (c->out_len)
		srv_kick(c);
	else if (c->eof)
		cconn_closed(c);
}

static void srv_on_recv(struct coil_op *op, int res, unsigned flags)
{
	struct cconn *c = coil_container_of(op, struct cconn, rd);
	struct coil_loop *loop = c->s->loop;

	if (flags & COIL_BUFFER) {
		unsigned bid = coil_buf_id(flags);
		if (res > 0) {
			if (c->out_len + (unsigned)res > OUT_CAP)
				die("server output buffer", ENOBUFS);
			memcpy(c->out + c->out_len, coil_buf_ptr(loop, bid),
			       (size_t)res);
			c->out_len += (unsigned)res;
		}
		coil_buf_put(loop, bid);
	}
	if (res > 0) {
		if (!c->sending)
			srv_kick(c);
		if (!(flags & COIL_MORE)) { /* the kernel ended the multishot */
			int ret = coil_recv_multishot(loop, &c->rd, c->fd);
			if (ret < 0)
				die("coil_recv_multishot", -ret);
		}
		return;
	}
	if (flags & COIL_MORE)
		return;
	if (res < 0 && res != -ECONNRESET)
		die("server recv", -res);
	c->eof = 1;
	if (!c->sending)
		cconn_closed(c);
}

static void cli_send(struct cconn *c);

static void cli_on_send(struct coil_op *op, int res, unsigned flags)
{
	struct cconn *c = coil_container_of(op, struct cconn, wr);
	(void)flags;
	if (res < 0)
		die("client send", -res);
	c->unsent -= (unsigned)res;
	if (c->unsent || c->due)
		cli_send(c);
}

static void cli_send(struct cconn *c)
{
	const struct opts *o = c->s->o;
	int ret;
	if (coil_op_busy(&c->wr)) {
		c->due = 1;
		return;
	}
	if (!c->unsent) {
		c->unsent = (unsigned)o->msg;
		c->due = 0;
	}
	ret = coil_send(c->s->loop, &c->wr, c->fd,
			msg_bytes + (unsigned)o->msg - c->unsent, c->unsent, 0);
	if (ret < 0)
		die("coil_send", -ret);
}

static void cli_on_recv(struct coil_op *op, int res, unsigned flags)
{
	struct cconn *c = coil_container_of(op, struct cconn, rd);
	struct cside *s = c->s;
	unsigned msg = (unsigned)s->o->msg;

	if (flags & COIL_BUFFER)
		coil_buf_put(s->loop, coil_buf_id(flags));
	if (res > 0) {
		c->got += (unsigned)res;
		while (c->got >= msg) {
			c->got -= msg;
			s->rts++;
			if (coil_now(s->loop) < s->deadline_ns)
				cli_send(c);
			else
				shutdown(c->fd, SHUT_WR);
		}
		if (!(flags & COIL_MORE)) {
			int ret = coil_recv_multishot(s->loop, &c->rd, c->fd);
			if (ret < 0)
				die("coil_recv_multishot", -ret);
		}
		return;
	}
	if (flags & COIL_MORE)
		return;
	if (res < 0)
		die("client recv", -res);
	cconn_closed(c);
}

static void *coil_side(void *arg)
{
	struct side_arg *a = arg;
	const struct opts *o = a->o;
	struct side_res *r = &a->res->side[a->client];
	struct coil_loop_opts lo = {.sq_entries = 256,
				    .buf_count = 512,
				    .buf_size = 4096,
				    .batch_wait_ns = a->batch_ns};
	struct coil_loop_stats st0, st1;
	struct cside s = {.o = o, .open = o->conns};
	struct cconn **cs;
	struct window w;
	int ret;

	bu_pin(a->cpu);
	ret = coil_loop_new(&s.loop, &lo);
	if (ret < 0) {
		fprintf(stderr, "engine-echo: %s\n", coil_loop_strerror(ret));
		exit(1);
	}
	if (!(coil_loop_features(s.loop) & COIL_FEAT_MULTISHOT_RECV)) {
		fprintf(stderr, "engine-echo: kernel lacks multishot recv\n");
		exit(1);
	}
	cs = calloc((size_t)o->conns, sizeof(*cs));
	if (!cs)
		die("calloc", ENOMEM);
	for (int i = 0; i < o->conns; i++) {
		cs[i] = calloc(1, sizeof(*cs[i]) + (a->client ? 0 : OUT_CAP));
		if (!cs[i])
			die("calloc", ENOMEM);
		cs[i]->fd = a->fds[i];
		cs[i]->s = &s;
		coil_op_init(&cs[i]->rd, a->client ? cli_on_recv : srv_on_recv);
		coil_op_init(&cs[i]->wr, a->client ? cli_on_send : srv_on_send);
		ret = coil_recv_multishot(s.loop, &cs[i]->rd, cs[i]->fd);
		if (ret < 0)
			die("coil_recv_multishot", -ret);
	}
	/* settle the arming turn outside the window */
	coil_loop_run(s.loop, COIL_RUN_NOWAIT);
	pthread_barrier_wait(a->bar);

	coil_loop_stats(s.loop, &st0);
	window_open(&w, o->counted);
	s.deadline_ns =
		coil_now_update(s.loop) + (uint64_t)o->secs * 1000000000ull;
	if (a->client) {
		for (int i = 0; i < o->conns; i++)
			cli_send(cs[i]);
	}
	ret = coil_loop_run(s.loop, COIL_RUN_DEFAULT);
	if (ret < 0)
		die("coil_loop_run", -ret);
	window_close(&w, r);
	coil_loop_stats(s.loop, &st1);
	r->enters = st1.enters - st0.enters;
	r->turns = st1.turns - st0.turns;
	if (a->client)
		a->res->rts = s.rts;
	if (s.open != 0)
		die("connections left open", EBUSY);

	for (int i = 0; i < o->conns; i++)
		free(cs[i]);
	free(cs);
	coil_loop_free(s.loop);
	return NULL;
}

/* ---- epoll --------------------------------------------------------------- */

struct econn {
	int fd;
	unsigned out_off, out_len; /* unsent bytes out[out_off, out_len) */
	unsigned got;
	char out[MAX_MSG * 2];
};

/* Write what is queued; returns 1 if all of it went out, 0 if not, exits
 * on error. */
static int econn_flush(struct econn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off,
				  c->out_len - c->out_off);
		if (n < 0) {
			if (errno == EAGAIN)
				return 0;
			die("write", errno);
		}
		c->out_off += (unsigned)n;
	}
	c->out_off = c->out_len = 0;
	return 1;
}

static void epoll_mod(int epfd, struct econn *c, unsigned events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl", errno);
}

/* Queue @len bytes and write them (plain way: write at once, EPOLLOUT only
 * when the socket is full). */
static void econn_send(int epfd, struct econn *c, const char *p, unsigned len)
{
	int was_empty = c->out_len == 0;
	if (c->out_len + len > sizeof(c->out)) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_len + len > sizeof(c->out))
			die("epoll output buffer", ENOBUFS);
	}
	memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
	if (was_empty && !econn_flush(c))
		epoll_mod(epfd, c, EPOLLIN | EPOLLOUT);
}

static void *epoll_side(void *arg)
{
	struct side_arg *a = arg;
	const struct opts *o = a->o;
	struct side_res *r = &a->res->side[a->client];
	unsigned msg = (unsigned)o->msg;
	struct epoll_event evs[256];
	struct econn *cs;
	char buf[16384];
	uint64_t rts = 0, deadline;
	int open = o->conns, epfd;
	struct window w;

	bu_pin(a->cpu);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	cs = calloc((size_t)o->conns, sizeof(*cs));
	if (epfd < 0 || !cs)
		die("epoll set-up", errno ? errno : ENOMEM);
	for (int i = 0; i < o->conns; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
		cs[i].fd = a->fds[i];
		fcntl(cs[i].fd, F_SETFL, fcntl(cs[i].fd, F_GETFL) | O_NONBLOCK);
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0)
			die("epoll_ctl", errno);
	}
	pthread_barrier_wait(a->bar);

	window_open(&w, o->counted);
	deadline = bu_mono_ns() + (uint64_t)o->secs * 1000000000ull;
	if (a->client) {
		for (int i = 0; i < o->conns; i++)
			econn_send(epfd, &cs[i], msg_bytes, msg);
	}
	while (open > 0) {
		int n = epoll_wait(epfd, evs, 256, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait", errno);
		}
		uint64_t now = bu_mono_ns(); /* once per wake-up, as coil_now */
		for (int i = 0; i < n; i++) {
			struct econn *c = evs[i].data.ptr;
			if ((evs[i].events & EPOLLOUT) && econn_flush(c))
				epoll_mod(epfd, c, EPOLLIN);
			if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			ssize_t got = read(c->fd, buf, sizeof(buf));
			if (got < 0 && errno == EAGAIN)
				continue;
			if (got < 0 && !(errno == ECONNRESET && !a->client))
				die("read", errno);
			if (got <= 0) {
				close(c->fd); /* leaves the epoll set too */
				open--;
				continue;
			}
			if (!a->client) {
				econn_send(epfd, c, buf, (unsigned)got);
				continue;
			}
			c->got += (unsigned)got;
			while (c->got >= msg) {
				c->got -= msg;
				rts++;
				if (now < deadline)
					econn_send(epfd, c, msg_bytes, msg);
				else
					shutdown(c->fd, SHUT_WR);
			}
		}
	}
	window_close(&w, r);
	if (a->client)
		a->res->rts = rts;
	close(epfd);
	free(cs);
	return NULL;
}

/* ---- runs ---------------------------------------------------------------- */

/* N connected pairs over 127.0.0.1 with TCP_NODELAY; set-up, not measured. */
static void make_pairs(int n, int *srv, int *cli)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int one = 1;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) < 0)
		die("listen", errno);
	for (int i = 0; i < n; i++) {
		cli[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (cli[i] < 0 ||
		    connect(cli[i], (struct sockaddr *)&a, sizeof(a)) < 0)
			die("connect", errno);
		srv[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (srv[i] < 0)
			die("accept", errno);
		setsockopt(cli[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	close(lfd);
}

static void run_once(const struct opts *o, int mode, struct run_res *res)
{
	int *srv = calloc((size_t)o->conns, sizeof(int));
	int *cli = calloc((size_t)o->conns, sizeof(int));
	pthread_barrier_t bar;
	pthread_t th[2];
	struct side_arg args[2];
	void *(*fn)(void *) = mode == MODE_EPOLL ? epoll_side : coil_side;

	if (!srv || !cli)
		die("calloc", ENOMEM);
	memset(res, 0, sizeof(*res));
	make_pairs(o->conns, srv, cli);
	pthread_barrier_init(&bar, NULL, 2);
	for (int i = 0; i < 2; i++) {
		args[i] = (struct side_arg){
			.o = o,
			.fds = i ? cli : srv,
			.client = i,
			.cpu = i,
			.batch_ns = mode == MODE_COILB ? o->batch_ns : 0,
			.bar = &bar,
			.res = res};
		int ret = pthread_create(&th[i], NULL, fn, &args[i]);
		if (ret)
			die("pthread_create", ret);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	free(srv);
	free(cli);
}

/* Figures derived from one run. */
enum {
	F_RTS,	 /* round trips per second (client window) */
	F_RTCPU, /* round trips per CPU-second, both sides */
	F_SU,	 /* server user us/rt */
	F_SS,	 /* server sys us/rt */
	F_CU,	 /* client user us/rt */
	F_CS,	 /* client sys us/rt */
	F_SSC,	 /* server syscalls/rt (kernel count) */
	F_CSC,	 /* client syscalls/rt */
	F_SEN,	 /* server enters/rt (coil's own count) */
	F_CEN,	 /* client enters/rt */
	F_N
};
static const char *const f_name[F_N] = {
	"round trips/s",
	"round trips per CPU-s (both)",
	"server user CPU us/rt",
	"server sys CPU us/rt",
	"client user CPU us/rt",
	"client sys CPU us/rt",
	"server syscalls/rt (kernel)",
	"client syscalls/rt (kernel)",
	"server enters/rt (coil stats)",
	"client enters/rt (coil stats)",
};

static void figures(const struct run_res *r, double *f)
{
	double rts = r->rts ? (double)r->rts : 1;
	const struct side_res *s = &r->side[0], *c = &r->side[1];
	double cpu_ns = (double)(s->cpu.user_ns + s->cpu.sys_ns +
				 c->cpu.user_ns + c->cpu.sys_ns);
	f[F_RTS] = (double)r->rts * 1e9 / (double)c->wall_ns;
	f[F_RTCPU] = cpu_ns > 0 ? (double)r->rts * 1e9 / cpu_ns : 0;
	f[F_SU] = (double)s->cpu.user_ns / 1e3 / rts;
	f[F_SS] = (double)s->cpu.sys_ns / 1e3 / rts;
	f[F_CU] = (double)c->cpu.user_ns / 1e3 / rts;
	f[F_CS] = (double)c->cpu.sys_ns / 1e3 / rts;
	f[F_SSC] = s->syscalls < 0 ? -1 : (double)s->syscalls / rts;
	f[F_CSC] = c->syscalls < 0 ? -1 : (double)c->syscalls / rts;
	f[F_SEN] = (double)s->enters / rts;
	f[F_CEN] = (double)c->enters / rts;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: engine_echo [--conns N] [--secs S] [--rounds R] "
		"[--msg BYTES] [--batch-us US] [--only coil|coil-b|epoll] "
		"[--no-counted]\n"
		"  defaults: 50 connections, 5 s, 3 rounds, 64 bytes, 20 us\n"
		"  --no-counted: skip the runs that count system calls\n");
	exit(2);
}

static void print_run(const char *tag, int mode, const struct run_res *r,
		      const double *f)
{
	printf("%-8s %-6s: %8.0f rt/s %8.0f rt/CPU-s  us/rt srv usr %.2f "
	       "sys %.2f cli usr %.2f sys %.2f",
	       tag, mode_name[mode], f[F_RTS], f[F_RTCPU], f[F_SU], f[F_SS],
	       f[F_CU], f[F_CS]);
	if (f[F_SSC] >= 0)
		printf("  syscalls/rt srv %.3f cli %.3f (srv %lld cli %lld)",
		       f[F_SSC], f[F_CSC], (long long)r->side[0].syscalls,
		       (long long)r->side[1].syscalls);
	if (mode != MODE_EPOLL)
		printf("  enters/rt srv %.3f cli %.3f (srv %llu cli %llu)",
		       f[F_SEN], f[F_CEN],
		       (unsigned long long)r->side[0].enters,
		       (unsigned long long)r->side[1].enters);
	printf("  [%llu rt]\n", (unsigned long long)r->rts);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct opts o = {.conns = 50,
			 .secs = 5,
			 .rounds = 3,
			 .msg = 64,
			 .modes = (1u << MODE_N) - 1,
			 .batch_ns = 20000};
	static double fig[MODE_N][MAX_ROUNDS][F_N];
	double cfig[MODE_N][F_N] = {{0}};
	double med[MODE_N][F_N] = {{0}};
	int nrun[MODE_N] = {0};
	int no_counted = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-counted")) {
			no_counted = 1;
			continue;
		}
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (!strcmp(argv[i], "--conns"))
			o.conns = (int)bu_arg_long("--conns", v, 1, 10000);
		else if (!strcmp(argv[i], "--secs"))
			o.secs = (int)bu_arg_long("--secs", v, 1, 60);
		else if (!strcmp(argv[i], "--rounds"))
			o.rounds =
				(int)bu_arg_long("--rounds", v, 1, MAX_ROUNDS);
		else if (!strcmp(argv[i], "--msg"))
			o.msg = (int)bu_arg_long("--msg", v, 1, MAX_MSG);
		else if (!strcmp(argv[i], "--batch-us"))
			o.batch_ns = 1000 * (uint64_t)bu_arg_long("--batch-us",
								  v, 1, 100000);
		else if (!strcmp(argv[i], "--only")) {
			o.modes = 0;
			for (int m = 0; m < MODE_N; m++) {
				if (!strcmp(v, mode_name[m]))
					o.modes = 1u << m;
			}
			if (!o.modes)
				usage();
		} else
			usage();
		i++;
	}
	for (int i = 0; i < MAX_MSG; i++)
		msg_bytes[i] = (char)('a' + i % 26);

	printf("engine-echo: %d connections, %d-byte messages, %d s per run, "
	       "%d round(s), coil-b batch wait %llu us, %ld CPU(s), pid %d\n",
	       o.conns, o.msg, o.secs, o.rounds,
	       (unsigned long long)o.batch_ns / 1000,
	       sysconf(_SC_NPROCESSORS_ONLN), (int)getpid());
	for (int round = 0; round < o.rounds; round++) {
		for (int mode = 0; mode < MODE_N; mode++) {
			struct run_res r;
			char tag[32];
			if (!(o.modes & (1u << mode)))
				continue;
			run_once(&o, mode, &r);
			figures(&r, fig[mode][nrun[mode]]);
			snprintf(tag, sizeof(tag), "round %d", round + 1);
			print_run(tag, mode, &r, fig[mode][nrun[mode]++]);
		}
	}
	/* system calls, in their own (slower) runs */
	struct opts oc = o;
	oc.counted = 1;
	oc.secs = o.secs < 2 ? o.secs : 2;
	for (int mode = 0; mode < MODE_N; mode++) {
		struct run_res r;
		cfig[mode][F_SSC] = cfig[mode][F_CSC] = -1;
		if (!(o.modes & (1u << mode)) || no_counted)
			continue;
		run_once(&oc, mode, &r);
		figures(&r, cfig[mode]);
		print_run("counted", mode, &r, cfig[mode]);
	}

	for (int mode = 0; mode < MODE_N; mode++) {
		for (int k = 0; k < F_N; k++) {
			double v[MAX_ROUNDS];
			for (int j = 0; j < nrun[mode]; j++)
				v[j] = fig[mode][j][k];
			med[mode][k] = bu_median(v, nrun[mode]);
		}
		/* kernel counts come from the counted run only */
		med[mode][F_SSC] = cfig[mode][F_SSC];
		med[mode][F_CSC] = cfig[mode][F_CSC];
	}
	printf("\n%-30s | %10s | %10s | %10s | coil/epoll | coil-b/epoll\n",
	       "medians (syscalls: counted)", "coil", "coil-b", "epoll");
	for (int k = 0; k < F_N; k++) {
		int coil_only = k == F_SEN || k == F_CEN;
		printf("%-30s | %10.3f | %10.3f | %10.3f |", f_name[k],
		       med[MODE_COIL][k], med[MODE_COILB][k],
		       coil_only ? 0 : med[MODE_EPOLL][k]);
		for (int m = MODE_COIL; m <= MODE_COILB; m++) {
			if (nrun[m] && nrun[MODE_EPOLL] && !coil_only &&
			    med[MODE_EPOLL][k] > 0 && med[m][k] >= 0)
				printf(" %9.2fx |",
				       med[m][k] / med[MODE_EPOLL][k]);
		}
		printf("\n");
	}
	for (int m = MODE_COIL; m <= MODE_COILB; m++) {
		if (!nrun[m])
			continue;
		double sc = med[m][F_SSC] > med[m][F_CSC] ? med[m][F_SSC]
							  : med[m][F_CSC];
		if (sc < 0)
			printf("%s: kernel syscall count unavailable (tracefs, "
			       "perf_event_paranoid or --no-counted)\n",
			       mode_name[m]);
		else
			printf("goal, %s: <= 0.1 syscalls/rt on each side: "
			       "%.3f, %s\n",
			       mode_name[m], sc, sc <= 0.1 ? "met" : "NOT met");
		if (nrun[MODE_EPOLL]) {
			double ratio =
				med[m][F_RTCPU] / med[MODE_EPOLL][F_RTCPU];
			printf("goal, %s: >= 1.5x epoll round trips per CPU-s: "
			       "%.2fx, %s\n",
			       mode_name[m], ratio,
			       ratio >= 1.5 ? "met" : "NOT met");
		}
	}
	return 0;
}
