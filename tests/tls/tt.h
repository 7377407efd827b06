/*
 * tests/tls/tt.h - what the TLS tests share: certificates made by
 * mkcerts.sh in a temp dir (removed at exit), configurations, outside
 * programs run as children (output captured by a thread, killed at exit,
 * SIGKILLed by the kernel if the test dies: PR_SET_PDEATHSIG), openssl
 * s_server as a peer, a TLS client on coil streams, a byte generator whose
 * output both ends can check, and the tests' fixture. The small TLS server
 * on coil streams is tt_srv.h's.
 */
#ifndef COIL_TEST_TT_H
#define COIL_TEST_TT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testutil.h"
#include "coil/stream.h"
#include "coil/tls.h"

#define MS (1000000ull)

/* Run loop turns until @cond holds or @ms milliseconds passed. */
#define TT_RUN_UNTIL(loop, cond, ms)                                           \
	do {                                                                   \
		uint64_t end_ = tu_mono_ns() + (uint64_t)(ms)*MS;              \
		while (!(cond) && tu_mono_ns() < end_)                         \
			coil_loop_run((loop), coil_loop_inflight(loop)         \
						      ? COIL_RUN_ONCE          \
						      : COIL_RUN_NOWAIT);      \
	} while (0)

/* ---- certificates ---------------------------------------------------- */

static char *tt_dir;

static inline int tt_rm_one(const char *path, const struct stat *st, int flag,
			    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void tt_rm_dir(void)
{
	if (tt_dir) {
		nftw(tt_dir, tt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
		free(tt_dir);
		tt_dir = NULL;
	}
}

/* A path in the certificate dir (a few rotating static buffers). */
static inline const char *tt_file(const char *name)
{
	static char bufs[8][512];
	static unsigned i;
	char *b = bufs[i++ % 8];
	snprintf(b, sizeof(bufs[0]), "%s/%s", tt_dir, name);
	return b;
}

/* Make the certificates once per process; exit 77 without openssl. */
static inline void tt_certs(void)
{
	if (tt_dir)
		return;
	tt_dir = tu_tmpdir();
	atexit(tt_rm_dir);
	tu_mkcerts(COIL_TLS_MKCERTS, tt_dir);
}

static inline struct coil_tls_config *
tt_config(const struct coil_tls_config_opts *o)
{
	struct coil_tls_config *cfg = NULL;
	char err[256];
	int ret = coil_tls_config_new(&cfg, o, err, sizeof(err));
	if (ret < 0)
		fprintf(stderr, "coil_tls_config_new: %d %s\n", ret, err);
	assert_int_equal(ret, 0);
	return cfg;
}

/* A server with server.crt (or @cert/@key). */
static inline struct coil_tls_config *
tt_server_config(const char *cert, const char *key, unsigned flags)
{
	struct coil_tls_config_opts o = {0};
	o.flags = COIL_TLS_SERVER | flags;
	o.cert_file = tt_file(cert ? cert : "server.crt");
	o.key_file = tt_file(key ? key : "server.key");
	if (flags & COIL_TLS_VERIFY_CLIENT)
		o.ca_file = tt_file("ca.crt");
	return tt_config(&o);
}

/* A client trusting the test CA. */
static inline struct coil_tls_config *tt_client_config(unsigned flags)
{
	struct coil_tls_config_opts o = {0};
	o.flags = flags;
	if (!(flags & COIL_TLS_INSECURE))
		o.ca_file = tt_file("ca.crt");
	return tt_config(&o);
}

/* The version two coil peers negotiate by default. */
static inline const char *tt_newest(void)
{
	return tu_have_tls13() ? "TLSv1.3" : "TLSv1.2";
}

/* ---- deterministic bytes ------------------------------------------------ */

/* Byte @i of the stream seeded by @seed (checkable without storing). */
static inline unsigned char tt_byte(uint64_t seed, uint64_t i)
{
	uint64_t x = (i / 8) * 0x9e3779b97f4a7c15ull + seed;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 29;
	return (unsigned char)(x >> ((i % 8) * 8));
}

static inline void tt_fill(unsigned char *p, size_t n, uint64_t seed,
			   uint64_t from)
{
	for (size_t k = 0; k < n; k++)
		p[k] = tt_byte(seed, from + k);
}

/* FNV-1a, 64 bit: the "hash both ends" of the bulk tests. */
static inline uint64_t tt_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	if (!h)
		h = 0xcbf29ce484222325ull;
	for (size_t k = 0; k < n; k++) {
		h ^= b[k];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- child processes ------------------------------------------------------
 */

struct tt_proc {
	pid_t pid;
	int out; /* the child's stdout+stderr, read by th */
	int in;	 /* the child's stdin (write end), or -1 */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf;
	size_t len, cap;
	int eof;
	int running;
};

#define TT_MAX_PROCS 8
static struct tt_proc *tt_procs[TT_MAX_PROCS];

static inline void *tt_reader(void *arg)
{
	struct tt_proc *p = arg;
	char tmp[4096];
	for (;;) {
		ssize_t n = read(p->out, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		pthread_mutex_lock(&p->mu);
		if (n <= 0) {
			p->eof = 1;
			pthread_cond_broadcast(&p->cv);
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		if (p->len + (size_t)n + 1 > p->cap) {
			p->cap = (p->len + (size_t)n + 1) * 2;
			p->buf = realloc(p->buf, p->cap);
			if (!p->buf)
				abort();
		}
		memcpy(p->buf + p->len, tmp, (size_t)n);
		p->len += (size_t)n;
		p->buf[p->len] = 0;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

static inline void tt_proc_reap(struct tt_proc *p, int sig)
{
	int status;
	if (!p->running)
		return;
	if (sig)
		kill(p->pid, sig);
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (p->in >= 0)
		close(p->in);
	p->in = -1;
	pthread_join(p->th, NULL);
	close(p->out);
	p->running = 0;
	for (int i = 0; i < TT_MAX_PROCS; i++) {
		if (tt_procs[i] == p)
			tt_procs[i] = NULL;
	}
}

static inline void tt_kill_all(void)
{
	for (int i = 0; i < TT_MAX_PROCS; i++) {
		if (tt_procs[i])
			tt_proc_reap(tt_procs[i], SIGKILL);
	}
}

/* Is @prog on PATH? */
static inline int tt_have(const char *prog)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/*
 * Start argv[0] (PATH search) in @cwd (or here), stdout and stderr captured,
 * stdin a pipe if @want_stdin else /dev/null.
 */
static inline void tt_spawn(struct tt_proc *p, char *const argv[],
			    const char *cwd, int want_stdin)
{
	int out[2], in[2] = {-1, -1};
	static int registered;

	memset(p, 0, sizeof(*p));
	p->in = -1;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	if (want_stdin)
		assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(127);
		dup2(want_stdin ? in[0] : devnull, 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		if (cwd && chdir(cwd) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	if (want_stdin) {
		close(in[0]);
		p->in = in[1];
	}
	p->out = out[0];
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	assert_int_equal(pthread_create(&p->th, NULL, tt_reader, p), 0);
	p->running = 1;
	if (!registered) {
		atexit(tt_kill_all);
		registered = 1;
	}
	for (int i = 0; i < TT_MAX_PROCS; i++) {
		if (!tt_procs[i]) {
			tt_procs[i] = p;
			break;
		}
	}
}

/* CLOCK_REALTIME @ms from now: a deadline for pthread_cond_timedwait(). */
static inline struct timespec tt_deadline(unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

/* Wait until @needle shows up in the output (1), or EOF/@ms passed (0). */
static inline int tt_proc_wait_for(struct tt_proc *p, const char *needle,
				   unsigned ms)
{
	struct timespec ts;
	int found = 0;
	ts = tt_deadline(ms);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->buf && strstr(p->buf, needle)) {
			found = 1;
			break;
		}
		if (p->eof)
			break;
		if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&p->mu);
	return found;
}

/* Wait for a whole output line that starts with @prefix; a copy of the
 * rest of it (to free), or NULL after EOF / @ms. */
static inline char *tt_proc_wait_line(struct tt_proc *p, const char *prefix,
				      unsigned ms)
{
	struct timespec ts;
	char *line = NULL;
	ts = tt_deadline(ms);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		char *at = p->buf ? strstr(p->buf, prefix) : NULL;
		char *nl = at ? strchr(at, '\n') : NULL;
		if (nl) {
			at += strlen(prefix);
			line = strndup(at, (size_t)(nl - at));
			break;
		}
		if (p->eof)
			break;
		if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&p->mu);
	return line;
}

/* Wait for the child to exit by itself within @ms (its output closing
 * marks it); its exit status, or -1 when it had to be killed. */
static inline int tt_proc_exit(struct tt_proc *p, unsigned ms)
{
	int status = 0;
	if (p->in >= 0) {
		close(p->in);
		p->in = -1;
	}
	tt_proc_wait_for(p, "\x01\x02never", ms); /* returns at EOF */
	pthread_mutex_lock(&p->mu);
	if (!p->eof) {
		pthread_mutex_unlock(&p->mu);
		tt_proc_reap(p, SIGKILL);
		return -1;
	}
	pthread_mutex_unlock(&p->mu);
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	pthread_join(p->th, NULL);
	close(p->out);
	p->running = 0;
	for (int i = 0; i < TT_MAX_PROCS; i++) {
		if (tt_procs[i] == p)
			tt_procs[i] = NULL;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The captured output so far (a copy, to free). */
static inline char *tt_proc_output(struct tt_proc *p)
{
	char *s;
	pthread_mutex_lock(&p->mu);
	s = strdup(p->buf ? p->buf : "");
	pthread_mutex_unlock(&p->mu);
	return s;
}

static inline void tt_proc_free(struct tt_proc *p)
{
	tt_proc_reap(p, SIGKILL);
	free(p->buf);
	p->buf = NULL;
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
}

/* ---- a TLS client ----------------------------------------------------- */

struct tt_cli {
	struct coil_tcp tcp;
	struct coil_tls tls;
	int connected; /* 1 ok, -1 failed */
	int status;
	int closed;
	int eof;
	int err;
	int cbs_after_close;
	size_t got;
	unsigned char *in;
	size_t in_cap;
	int collect;   /* keep the bytes in @in */
	uint64_t seed; /* check bytes against tt_byte(seed, ...) if nonzero */
	size_t bad;    /* bytes that did not match */
	uint64_t hash;
};

static inline struct tt_cli *tt_cli_of(struct coil_stream *s)
{
	return coil_container_of(s, struct tt_cli, tls.s);
}

static inline void tt_cli_connected(struct coil_stream *s, int status)
{
	struct tt_cli *c = tt_cli_of(s);
	if (c->closed)
		c->cbs_after_close++;
	c->status = status;
	c->connected = status == 0 ? 1 : -1;
}

static inline void tt_cli_closed(struct coil_stream *s)
{
	struct tt_cli *c = tt_cli_of(s);
	if (c->closed)
		c->cbs_after_close++;
	c->closed = 1;
}

static inline void tt_cli_read(struct coil_stream *s, ssize_t n,
			       const void *buf)
{
	struct tt_cli *c = tt_cli_of(s);
	if (c->closed)
		c->cbs_after_close++;
	if (n > 0) {
		if (c->seed) {
			const unsigned char *b = buf;
			for (ssize_t k = 0; k < n; k++)
				c->bad += b[k] != tt_byte(c->seed, c->got + k);
		}
		c->hash = tt_hash(c->hash, buf, (size_t)n);
		if (c->collect) {
			if (c->got + (size_t)n + 1 > c->in_cap) {
				c->in_cap = (c->got + (size_t)n + 1) * 2;
				c->in = realloc(c->in, c->in_cap);
				assert_non_null(c->in);
			}
			memcpy(c->in + c->got, buf, (size_t)n);
			c->in[c->got + (size_t)n] = 0;
		}
		c->got += (size_t)n;
	} else if (n == 0) {
		c->eof = 1;
	} else {
		c->err = (int)n;
	}
}

/* Connect to 127.0.0.1:@port with TLS and wait: the handshake's status. */
static inline int tt_cli_connect(struct coil_loop *loop, struct tt_cli *c,
				 unsigned short port,
				 const struct coil_tls_config *cfg,
				 const struct coil_tls_opts *o)
{
	static struct sockaddr_storage ss;
	struct sockaddr_in a = tu_addr(port);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &a, sizeof(a));
	c->connected = 0;
	assert_int_equal(coil_tls_connect(loop, &c->tls, &c->tcp, &ss, 1, NULL,
					  cfg, o, tt_cli_connected),
			 0);
	TT_RUN_UNTIL(loop, c->connected, 20000);
	assert_true(c->connected != 0);
	if (getenv("TT_VERBOSE") && c->status < 0)
		fprintf(stderr, "tt_cli_connect: %d %s\n", c->status,
			coil_tls_error(&c->tls.s));
	return c->status;
}

/* After a TLS 1.3 handshake, read until the server's session ticket came
 * (it follows the handshake, RFC 8446 section 4.6.1); nothing to wait for
 * in TLS 1.2, where it is part of the handshake. */
static inline void tt_cli_wait_ticket(struct coil_loop *loop, struct tt_cli *c)
{
	const struct coil_tls_info *in = coil_tls_info(&c->tls);

	if (strcmp(in->version, "TLSv1.3") != 0)
		return;
	coil_stream_read_start(&c->tls.s, tt_cli_read);
	TT_RUN_UNTIL(loop, in->tickets > 0 || c->err || c->eof, 5000);
	assert_true(in->tickets > 0);
}

/* Close (also fine after a failed handshake) and wait for the callback. */
static inline void tt_cli_close(struct coil_loop *loop, struct tt_cli *c)
{
	assert_int_equal(coil_stream_close(&c->tls.s, tt_cli_closed), 0);
	TT_RUN_UNTIL(loop, c->closed, 10000);
	assert_true(c->closed);
	assert_int_equal(c->cbs_after_close, 0);
	free(c->in);
	c->in = NULL;
}

/* Certificates a client must refuse against a server presenting @cert
 * (with server.key), asked for @host: the bit it reports and its words. */
struct tt_refusal {
	const char *cert;
	const char *host;
	unsigned bit;
	const char *text;
};

static const struct tt_refusal tt_refusals[] = {
	{"wrong.crt", "localhost", COIL_TLS_BAD_HOST, "host name mismatch"},
	{"server.crt", "wrong.example", COIL_TLS_BAD_HOST,
	 "host name mismatch"},
	{"server.crt", "127.0.0.2", COIL_TLS_BAD_HOST, "host name mismatch"},
	{"rogue.crt", "localhost", COIL_TLS_BAD_UNKNOWN_CA, "unknown CA"},
	{"expired.crt", "localhost", COIL_TLS_BAD_EXPIRED, "expired"},
};
#define TT_NREFUSALS (sizeof(tt_refusals) / sizeof(tt_refusals[0]))

/* @c's connection (@ret: how it ended) was refused as @r says. */
static inline void tt_expect_refused(struct tt_cli *c, int ret,
				     const struct tt_refusal *r)
{
	print_message("%s as %s: %d %s\n", r->cert, r->host, ret,
		      coil_tls_error(&c->tls.s));
	assert_int_equal(ret, COIL_ETLS);
	assert_true(coil_tls_info(&c->tls)->verify & r->bit);
	assert_non_null(strstr(coil_tls_error(&c->tls.s), r->text));
}

/* Connect @c to @port, send @req, read until the end (c->in collects).
 * Return: the handshake's status. */
static inline int tt_exchange(struct coil_loop *loop, struct tt_cli *c,
			      unsigned short port,
			      const struct coil_tls_config *cfg,
			      const struct coil_tls_opts *o, const char *req)
{
	struct coil_stream_write w = {0};
	int ret;

	c->collect = 1;
	ret = tt_cli_connect(loop, c, port, cfg, o);
	if (ret < 0)
		return ret;
	assert_int_equal(coil_stream_read_start(&c->tls.s, tt_cli_read), 0);
	assert_int_equal(
		coil_stream_write(&c->tls.s, &w, req, strlen(req), NULL), 0);
	TT_RUN_UNTIL(loop, c->eof || c->err, 10000);
	return 0;
}

/* ---- openssl s_server as the peer ------------------------------------ */

struct tt_ss {
	struct tt_proc p;
	unsigned short port;
};

/* openssl s_server on 127.0.0.1, port 0 (it prints the one it got),
 * with @cert and @key from the certificate dir, TLS 1.2 unless @extra
 * (more arguments, NULL-terminated, may be NULL) names a version. */
static inline void tt_ss_start(struct tt_ss *s, const char *cert,
			       const char *key, const char *const extra[])
{
	char *argv[32];
	int n = 0, version = 0;
	char *line;

	argv[n++] = "openssl";
	argv[n++] = "s_server";
	argv[n++] = "-accept";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "-cert";
	argv[n++] = (char *)tt_file(cert);
	argv[n++] = "-key";
	argv[n++] = (char *)tt_file(key);
	for (int i = 0; extra && extra[i]; i++) {
		if (!strncmp(extra[i], "-tls1", 5))
			version = 1;
		argv[n++] = (char *)extra[i];
	}
	if (!version)
		argv[n++] = "-tls1_2";
	argv[n] = NULL;
	tt_spawn(&s->p, argv, tt_dir, 0);
	line = tt_proc_wait_line(&s->p, "ACCEPT 127.0.0.1:", 10000);
	if (!line) {
		char *out = tt_proc_output(&s->p);
		fprintf(stderr, "s_server did not start: %s\n", out);
		free(out);
		fail();
	}
	s->port = (unsigned short)atoi(line);
	free(line);
	assert_true(s->port > 0);
}

static inline void tt_ss_stop(struct tt_ss *s)
{
	tt_proc_free(&s->p);
}

static inline void tt_loop_free(struct coil_loop *loop)
{
	for (int i = 0; i < 1000 && coil_loop_inflight(loop); i++)
		coil_loop_run(loop, COIL_RUN_ONCE);
	assert_int_equal(coil_loop_inflight(loop), 0);
	coil_loop_free(loop);
}

/* A test's fixture on one loop: *@fds0 counts the descriptors open
 * before it, *@loop is new. */
static inline void tt_fixture_open(struct coil_loop **loop, int *fds0)
{
	*fds0 = tu_count_fds();
	*loop = tu_loop(NULL);
}

/* Its end: the loop runs dry and is freed, peer programs still running
 * are killed, and the descriptors are those before it. */
static inline void tt_fixture_close(struct coil_loop **loop, int fds0)
{
	tt_loop_free(*loop);
	*loop = NULL;
	tt_kill_all();
	assert_int_equal(tu_count_fds(), fds0);
}

/* A test group's setup() and teardown() over the file's statics @loop
 * and @fds0: tt_fixture_open() and tt_fixture_close(). */
#define TT_FIXTURE(loop, fds0)                                                 \
	static int setup(void **state)                                         \
	{                                                                      \
		(void)state;                                                   \
		tt_fixture_open(&(loop), &(fds0));                             \
		return 0;                                                      \
	}                                                                      \
	static int teardown(void **state)                                      \
	{                                                                      \
		(void)state;                                                   \
		tt_fixture_close(&(loop), (fds0));                             \
		return 0;                                                      \
	}

#endif
