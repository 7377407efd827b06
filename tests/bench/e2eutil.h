/*
 * tests/bench/e2eutil.h - what the end-to-end tests of coil-bench share:
 * a small HTTP/1.1 test server on 127.0.0.1 (a thread per connection,
 * blocking sockets: simple enough to be obviously right) that counts what
 * it served and can misbehave on purpose, and a runner that starts the
 * coil-bench binary, waits for it and reads numbers from its --json
 * report.
 *
 * Server paths:
 *   /            200, body "ok"
 *   /delay/MS    200 after MS milliseconds (per request)
 *   /once/MS     the first such request of the server's life is answered
 *                after MS milliseconds (its connection held), the rest at
 *                once
 *   /hang        never answers (the connection stays open)
 *   /garbage     answers with bytes that are not HTTP
 *   /close       200 with "Connection: close", then closes
 *   /eof         200 whose body ends when the server closes (no length)
 *   /slowhead    200 written 3 bytes at a time, 1 ms apart (split heads)
 *   /bighead     200 with 70 000 bytes of header fields (over the limit)
 * and, server-wide, stall_after_ms: the first request answered that long
 * after the server started holds every connection for stall_ms (once).
 */
#ifndef COIL_BENCH_E2EUTIL_H
#define COIL_BENCH_E2EUTIL_H

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

extern char **environ;

struct ts_server {
	int lfd;
	unsigned short port;
	pthread_t acceptor;
	pthread_mutex_t mu;	/* held while a response is written; the stall
				   holds it */
	atomic_ullong served;	/* responses written in full */
	atomic_ullong received; /* requests read */
	atomic_int stop;
	uint64_t start_ns;
	uint64_t stall_after_ns, stall_ns; /* 0: no stall */
	int stalled;
	/* connection threads (detached): accepted in all, and still running */
	atomic_int nconns;
	atomic_int once_taken; /* /once/MS: the first one was held */
	int active;
	pthread_cond_t idle; /* signalled, under mu, when active drops */
};

/*
 * ts_spawn() - start @path with @argv (NULL-terminated), its stdout on
 * @out and its stderr on @err (-1: the test's own). The child keeps no
 * other descriptor of the test (close_range(2)): none that a harness
 * holds a lock on; and it is killed when the test process ends
 * (PR_SET_PDEATHSIG, prctl(2)), so that a test that fails or is killed
 * half-way leaves no server running. Return: its pid (aborts if fork
 * fails).
 */
static inline pid_t ts_spawn(const char *path, char *const argv[], int out,
			     int err)
{
	pid_t parent = getpid(), pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(127); /* the test is gone already */
		if (out >= 0 && out != 1 && dup2(out, 1) < 0)
			_exit(127);
		if (err >= 0 && err != 2 && dup2(err, 2) < 0)
			_exit(127);
		close_range(3, ~0U, 0);
		execve(path, argv, environ);
		_exit(127);
	}
	return pid;
}

static inline uint64_t ts_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int ts_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct ts_conn_arg {
	struct ts_server *s;
	int fd;
};

/* Answer one request line's target; 1 to close the connection after. */
static inline int ts_answer(struct ts_server *s, int fd, const char *target)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				 "Content-Type: text/plain\r\n\r\nok";
	static const char closing[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				      "Connection: close\r\n\r\nok";
	int ret = 0;

	if (!strncmp(target, "/delay/", 7)) {
		long ms = strtol(target + 7, NULL, 10);
		struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&d, NULL);
	} else if (!strncmp(target, "/once/", 6) &&
		   !atomic_exchange(&s->once_taken, 1)) {
		long ms = strtol(target + 6, NULL, 10);
		struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&d, NULL);
	} else if (!strcmp(target, "/hang")) {
		return 2; /* read on, never answer */
	}
	pthread_mutex_lock(&s->mu);
	if (s->stall_ns && !s->stalled &&
	    ts_now() - s->start_ns >= s->stall_after_ns) {
		struct timespec d = {(time_t)(s->stall_ns / 1000000000ull),
				     (long)(s->stall_ns % 1000000000ull)};
		s->stalled = 1;
		nanosleep(&d, NULL); /* every connection waits on mu */
	}
	if (!strcmp(target, "/garbage"))
		ret = ts_write_all(fd, "NOT HTTP AT ALL\r\n\r\n", 19) ? 1 : 3;
	else if (!strcmp(target, "/slowhead")) {
		static const char r[] =
			"HTTP/1.1 200 OK\r\nContent-Length: 5"
			"\r\nX-Pad: some padding here\r\n\r\nhello";
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ret = 0;
		for (size_t i = 0; i < sizeof(r) - 1 && !ret; i += 3) {
			struct timespec d = {0, 1000000};
			size_t k =
				sizeof(r) - 1 - i < 3 ? sizeof(r) - 1 - i : 3;
			ret = ts_write_all(fd, r + i, k);
			nanosleep(&d, NULL);
		}
	} else if (!strcmp(target, "/bighead")) {
		char *h = malloc(80000);
		size_t n = (size_t)sprintf(h, "HTTP/1.1 200 OK\r\n");
		for (int i = 0; n < 70000; i++)
			n += (size_t)sprintf(h + n, "X-Big-%d: %0100d\r\n", i,
					     i);
		n += (size_t)sprintf(h + n, "Content-Length: 0\r\n\r\n");
		ret = ts_write_all(fd, h, n);
		free(h);
	} else if (!strcmp(target, "/eof"))
		ret = ts_write_all(fd, "HTTP/1.1 200 OK\r\n\r\nuntil the end",
				   32)
			      ? 1
			      : 3;
	else if (!strcmp(target, "/close"))
		ret = ts_write_all(fd, closing, sizeof(closing) - 1) ? 1 : 3;
	else
		ret = ts_write_all(fd, ok, sizeof(ok) - 1);
	if (ret == 0 || ret == 3)
		atomic_fetch_add(&s->served, 1);
	pthread_mutex_unlock(&s->mu);
	return ret ? 1 : 0;
}

/* A test server's read: more bytes from @fd after the @*len in @buf (of
 * @cap, kept NUL-terminated), waiting up to 50 ms. Return: 1 when some
 * came, 0 when none did in time, -1 at the end or on an error. */
static inline int ts_recv_more(int fd, char *buf, size_t cap, size_t *len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ssize_t n;
	if (poll(&p, 1, 50) == 0)
		return 0;
	n = recv(fd, buf + *len, cap - 1 - *len, 0);
	if (n <= 0)
		return -1;
	*len += (size_t)n;
	buf[*len] = '\0';
	return 1;
}

/* If @buf (@*len bytes, NUL-terminated) holds a whole request head, take
 * it out (the rest moves up) with its target in @target unless NULL
 * ("" if none), and return 1; else 0. */
static inline int ts_take_head(char *buf, size_t *len, char target[256])
{
	char *end = strstr(buf, "\r\n\r\n");
	size_t used;
	if (!end)
		return 0;
	used = (size_t)(end + 4 - buf);
	if (target) {
		target[0] = '\0';
		sscanf(buf, "%*s %255s", target);
	}
	memmove(buf, buf + used, *len - used);
	*len -= used;
	buf[*len] = '\0';
	return 1;
}

static inline void *ts_conn_main(void *arg)
{
	struct ts_conn_arg *a = arg;
	struct ts_server *s = a->s;
	int fd = a->fd, hang = 0, r;
	char buf[16384], target[256];
	size_t len = 0;

	buf[0] = '\0'; /* a first poll that times out looks at it */
	free(a);
	while (!atomic_load(&s->stop)) {
		r = ts_recv_more(fd, buf, sizeof(buf), &len);
		if (r < 0)
			break;
		while (!hang && ts_take_head(buf, &len, target)) {
			atomic_fetch_add(&s->received, 1);
			r = ts_answer(s, fd, target);
			if (r == 2)
				hang = 1;
			else if (r)
				goto out;
		}
		/* hung: count further pipelined requests, answer none */
		while (hang && ts_take_head(buf, &len, NULL))
			atomic_fetch_add(&s->received, 1);
	}
out:
	shutdown(fd, SHUT_RDWR);
	close(fd);
	pthread_mutex_lock(&s->mu);
	s->active--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static inline void *ts_accept_main(void *arg)
{
	struct ts_server *s = arg;
	for (;;) {
		struct pollfd p = {.fd = s->lfd, .events = POLLIN};
		int fd, i;
		if (atomic_load(&s->stop))
			break;
		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		struct ts_conn_arg *a = malloc(sizeof(*a));
		pthread_attr_t at;
		pthread_t tid;
		a->s = s;
		a->fd = fd;
		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, 256 * 1024);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_mutex_lock(&s->mu);
		s->active++;
		pthread_mutex_unlock(&s->mu);
		i = pthread_create(&tid, &at, ts_conn_main, a);
		pthread_attr_destroy(&at);
		if (i != 0) {
			free(a);
			close(fd);
			pthread_mutex_lock(&s->mu);
			s->active--;
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		atomic_fetch_add(&s->nconns, 1);
	}
	return NULL;
}

static inline struct ts_server *ts_start(uint64_t stall_after_ns,
					 uint64_t stall_ns)
{
	struct ts_server *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->lfd = tu_listen(&s->port);
	s->start_ns = ts_now();
	s->stall_after_ns = stall_after_ns;
	s->stall_ns = stall_ns;
	if (pthread_create(&s->acceptor, NULL, ts_accept_main, s) != 0)
		abort();
	return s;
}

static inline void ts_stop(struct ts_server *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->acceptor, NULL);
	pthread_mutex_lock(&s->mu);
	while (s->active)
		pthread_cond_wait(&s->idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
	close(s->lfd);
}

/* after ts_stop(): the counters stay readable until this */
static inline void ts_free(struct ts_server *s)
{
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->idle);
	free(s);
}

/* ---- nginx as the peer ------------------------------------------------
 */

/* Wait until something accepts on 127.0.0.1:@port, up to @ms.
 * Return: 1 once it does, 0 when the time ran out. */
static inline int port_accepting(unsigned short port, unsigned ms)
{
	for (unsigned i = 0; i < ms / 10 + 1; i++) {
		struct sockaddr_in a = tu_addr(port);
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = connect(c, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(c);
		if (ok)
			return 1;
		struct timespec d = {0, 10000000};
		nanosleep(&d, NULL);
	}
	return 0;
}

/* Exit 77 unless nginx is at @bin; then make its prefix from the
 * mkdtemp() template @dir (readable by nginx's worker user), and return
 * a port that is free now, for it to listen on. */
static inline unsigned short ngx_prepare(const char *bin, char *dir)
{
	unsigned short port;
	int fd;
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "skip: %s not installed\n", bin);
		exit(COIL_SKIP);
	}
	if (!mkdtemp(dir))
		abort();
	chmod(dir, 0755);
	fd = tu_listen(&port);
	close(fd); /* nginx takes the free port */
	return port;
}

/* Start @bin -p @dir -c @conf in the foreground (a child of the test)
 * and wait (up to 5 s) until it accepts on @port. Return: its pid. */
static inline pid_t ngx_spawn(const char *bin, const char *dir,
			      const char *conf, unsigned short port)
{
	char *argv[] = {(char *)bin, "-p",	   (char *)dir,
			"-c",	     (char *)conf, NULL};
	pid_t pid;
	if (posix_spawn(&pid, bin, NULL, NULL, argv, environ) != 0)
		abort();
	port_accepting(port, 5000);
	return pid;
}

/* Write @text to the file @name in @dir (readable by nginx's worker). */
static inline void ngx_put(const char *dir, const char *name, const char *text)
{
	char p[300];
	FILE *f;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	chmod(p, 0644);
}

/* Write @dir/nginx.conf and start @bin on it (ngx_spawn()): one worker
 * (master process on), its pid, error log and temp paths in @dir, @conns
 * worker_connections; @top: more top-level lines ("" for none); @http:
 * the lines inside http {}, the server block included.
 * Return: nginx's pid. */
static inline pid_t ngx_start(const char *bin, const char *dir,
			      unsigned short port, const char *top,
			      unsigned conns, const char *http)
{
	char conf[8192], cpath[300];
	snprintf(conf, sizeof(conf),
		 "daemon off;\nmaster_process on;\nworker_processes 1;\n%s"
		 "pid %s/nginx.pid;\nerror_log %s/error.log;\n"
		 "events { worker_connections %u; }\n"
		 "http {\n"
		 "  client_body_temp_path %s;\n  proxy_temp_path %s;\n"
		 "  fastcgi_temp_path %s;\n  uwsgi_temp_path %s;\n"
		 "  scgi_temp_path %s;\n%s}\n",
		 top, dir, dir, conns, dir, dir, dir, dir, dir, http);
	ngx_put(dir, "nginx.conf", conf);
	snprintf(cpath, sizeof(cpath), "%s/nginx.conf", dir);
	return ngx_spawn(bin, dir, cpath, port);
}

/* SIGTERM nginx @pid, reap it, remove its prefix @dir.
 * Return: 0, or -1 when the prefix could not be removed. */
static inline int ngx_stop_rm(pid_t pid, const char *dir)
{
	char cmd[512];
	int st;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- running coil-bench ---------------------------------------------------
 */

struct cb_out {
	int status; /* exit status, or 128 + signal */
	char *out;  /* stdout */
	char *err;  /* stderr */
};

/* The file @path (tu_slurp()), or "" when there is none; free it. */
static inline char *slurp(const char *path)
{
	char *buf = tu_slurp(path, NULL);
	return buf ? buf : strdup("");
}

/* Lines in the file @path so far (nginx's access log). */
static inline uint64_t ngx_count_lines(const char *path)
{
	char *text = slurp(path);
	uint64_t n = 0;
	for (char *c = text; *c; c++)
		n += *c == '\n';
	free(text);
	return n;
}

/* coil-bench started with NULL-terminated @argv (argv[0] is replaced by
 * the binary's path), stdout and stderr to temp files; cb_join() waits
 * for it and reads them. Two at once share the host's noise of the same
 * moments. */
struct cb_job {
	pid_t pid;
	char o[32], e[32];
};

static inline void cb_start(struct cb_job *j, char **argv)
{
	int ofd, efd;
	strcpy(j->o, "/tmp/coil-bench-out-XXXXXX");
	strcpy(j->e, "/tmp/coil-bench-err-XXXXXX");
	ofd = mkstemp(j->o);
	efd = mkstemp(j->e);
	if (ofd < 0 || efd < 0)
		abort();
	argv[0] = (char *)COIL_BENCH_BIN;
	j->pid = ts_spawn(COIL_BENCH_BIN, argv, ofd, efd);
	close(ofd);
	close(efd);
}

static inline struct cb_out cb_join(struct cb_job *j)
{
	struct cb_out r = {0};
	int st;
	while (waitpid(j->pid, &st, 0) < 0 && errno == EINTR)
		;
	r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r.out = slurp(j->o);
	r.err = slurp(j->e);
	unlink(j->o);
	unlink(j->e);
	return r;
}

/* Run coil-bench with @argv (cb_start()) and wait for it. */
static inline struct cb_out cb_exec(char **argv)
{
	struct cb_job j;
	cb_start(&j, argv);
	return cb_join(&j);
}

static inline void cb_out_free(struct cb_out *r)
{
	free(r->out);
	free(r->err);
}

/* Run coil-bench with the arguments given: RUN("-t1", "-c2", url). */
#define RUN(...)                                                               \
	({                                                                     \
		char *av_[] = {NULL, __VA_ARGS__, NULL};                       \
		cb_exec(av_);                                                  \
	})

/* coil-bench exited 0; if not, what it said is shown (ctest
 * --output-on-failure) before the test fails. */
static inline void cb_expect_ok(const struct cb_out *r)
{
	if (r->status != 0)
		fprintf(stderr,
			"coil-bench exit %d\nstdout:\n%s\nstderr:\n%s\n",
			r->status, r->out, r->err);
	assert_int_equal(r->status, 0);
}

/* coil-bench ran but no request succeeded: exit 1 (the work failed,
 * tools/common/exit_status.h) with that said on stderr, the report
 * printed all the same. */
static inline void cb_expect_none_succeeded(const struct cb_out *r)
{
	if (r->status != 1 || !strstr(r->err, "no request succeeded"))
		fprintf(stderr,
			"coil-bench exit %d\nstdout:\n%s\nstderr:\n%s\n",
			r->status, r->out, r->err);
	assert_int_equal(r->status, 1);
	assert_non_null(strstr(r->err, "no request succeeded"));
}

/* "http://127.0.0.1:PORT" + @path of the test server, in one of four
 * static buffers (several may be used in one call). */
static inline char *ts_url(const struct ts_server *s, const char *path)
{
	static char buf[4][128];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "http://127.0.0.1:%u%s", s->port,
		 path);
	return buf[i];
}

/* The number after "@key": in @json, looking from the first @anchor
 * (NULL: the start). -1 when absent. */
static inline double jnum(const char *json, const char *anchor, const char *key)
{
	const char *p = json;
	char k[128];
	if (anchor && !(p = strstr(json, anchor)))
		return -1;
	snprintf(k, sizeof(k), "\"%s\": ", key);
	if (!(p = strstr(p, k)))
		return -1;
	return strtod(p + strlen(k), NULL);
}

/* The run's response count (the top-level "requests", after the config) */
static inline double j_requests(const char *json)
{
	return jnum(json, "\"runtime_ns\"", "requests");
}

/* every error class summed */
static inline double j_errors(const char *json)
{
	static const char *cls[] = {"connect", "read", "write", "timeout"};
	double n = 0;
	for (int i = 0; i < 4; i++)
		n += jnum(json, "\"socket_errors\"", cls[i]);
	return n;
}

/*
 * What a run's figures guarantee whatever the host's load (a machine at
 * load 10-20 makes a run late, never wrong): bounds taken from the run's
 * own measured figures, in place of bounds on time.
 */

/*
 * j_expect_latency_fits() - the closed model (no -R): each of @conns
 * connections has one request out at a time, so the latencies of its
 * requests add up to no more than the time it had, the window and the
 * drain (Little's law: requests x mean latency <= connections x (runtime
 * + drain)). A late host makes the requests fewer, never their measured
 * latencies longer than the time they took; a latency measured too long
 * (a wrong start or end) breaks it. 1% for the histogram's rounding.
 */
static inline void j_expect_latency_fits(const char *json, unsigned conns)
{
	double n = jnum(json, "\"latency_ns\"", "count");
	double mean = jnum(json, "\"latency_ns\"", "mean");
	double had = (double)conns * (jnum(json, NULL, "runtime_ns") +
				      jnum(json, NULL, "drain_ns"));
	fprintf(stderr,
		"latencies add up to %.1f ms of the %.1f ms the connections "
		"had\n",
		n * mean / 1e6, had / 1e6);
	assert_true(n >= 1 && mean > 0);
	assert_true(n * mean <= had * 1.01);
}

/*
 * j_expect_backlog_explained() - the open model's backlog (the longest
 * stretch of pacer wakes that were all behind, open_model.backlog_max_ns,
 * what marks a run saturated) is covered by the run's late requests: a
 * wake is behind only when its thread's oldest due request waits over the
 * late bound, and that request then goes out late (or never); the wakes
 * that found a given one behind lie within its lag, and the next wake
 * comes at most @gap_ns (the longest gap between one thread's requests,
 * lanes / rate, plus the pacer's grid step) plus its lateness later.
 * So backlog <= (late + unsent) x (gap + max lag). A wake that counts
 * other lanes' requests as its own backlog is behind all the time while
 * no request is late.
 */
static inline void j_expect_backlog_explained(const char *json, double gap_ns)
{
	double backlog = jnum(json, "\"open_model\"", "backlog_max_ns");
	double late = jnum(json, "\"open_model\"", "late");
	double unsent = jnum(json, "\"open_model\"", "unsent");
	double lag = jnum(json, "\"open_model\"", "max_lag_ns");
	assert_true(backlog >= 0 && late >= 0 && unsent >= 0 && lag >= 0);
	if (backlog > (late + unsent) * (gap_ns + lag))
		fprintf(stderr,
			"backlog %.3f ms, yet %.0f late and %.0f unsent "
			"requests (max lag %.3f ms) cover %.3f ms\n",
			backlog / 1e6, late, unsent, lag / 1e6,
			(late + unsent) * (gap_ns + lag) / 1e6);
	assert_true(backlog <= (late + unsent) * (gap_ns + lag));
}

/*
 * j_expect_unsent_explained() - the open model with -d: a scheduled
 * request is never sent only if, from when it fell due to the end, its
 * thread was held back (the requests handed out after that show the
 * stall in their corrected latencies, from the intended send times; past
 * the end, in the drain) or every connection waited for an answer (as
 * long as that answer's latency). So the unsent fall due within the
 * largest corrected latency plus the drain (and a grid step) before the
 * end: at most @rate requests/s of that, and one more per connection.
 */
static inline void j_expect_unsent_explained(const char *json, double rate,
					     unsigned conns)
{
	double unsent = jnum(json, "\"open_model\"", "unsent");
	double span = jnum(json, "\"latency_ns\"", "max") +
		      jnum(json, NULL, "drain_ns") + 2e6;
	double most = rate * span / 1e9 + conns;
	fprintf(stderr, "%.0f never sent; the run's stalls allow %.0f\n",
		unsent, most);
	assert_true(unsent >= 0 && unsent <= most);
}

#endif
