/*
 * tests/testutil.h - helpers every test shares: a loop or a skip (exit 77),
 * TCP pairs on 127.0.0.1, temp dirs, running the loop until a flag is set.
 */
#ifndef COIL_TESTUTIL_H
#define COIL_TESTUTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <ftw.h>
#include <unistd.h>

#include "coil/engine.h"
#include "coil/tls.h"

#define COIL_SKIP 77

/* A loop with default options, or exit 77 when io_uring is unavailable. */
static inline struct coil_loop *tu_loop(const struct coil_loop_opts *o)
{
	struct coil_loop *loop = NULL;
	int ret = coil_loop_new(&loop, o);
	if (ret == -ENOSYS || ret == -EPERM || ret == -ENOMEM) {
		fprintf(stderr, "skip: %s\n", coil_loop_strerror(ret));
		exit(COIL_SKIP);
	}
	if (ret < 0) {
		fprintf(stderr, "coil_loop_new: %s\n", coil_loop_strerror(ret));
		abort();
	}
	return loop;
}

/* Exit 77 unless the loop has every feature in @feat. */
static inline void tu_require(struct coil_loop *loop, unsigned feat,
			      const char *what)
{
	if ((coil_loop_features(loop) & feat) != feat) {
		fprintf(stderr, "skip: kernel or forced fallback lacks %s\n",
			what);
		exit(COIL_SKIP);
	}
}

/* A listening TCP socket on 127.0.0.1, port 0; *port receives the port. */
static inline int tu_listen(unsigned short *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		abort();
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	*port = ntohs(a.sin_port);
	return fd;
}

static inline struct sockaddr_in tu_addr(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	return a;
}

/* A port of 127.0.0.1 nobody listened on a moment ago (bound to port 0,
 * read back, let go): for a peer that must be told its port. */
static inline unsigned short tu_free_port(void)
{
	unsigned short port;
	close(tu_listen(&port));
	return port;
}

/* A listener on 127.0.0.1 whose accept queue is full (backlog 0, one
 * connection nobody accepts, *filler): further SYNs are dropped
 * (tcp_conn_request: "listen queue overflow"), so connects to it hang
 * until a timeout. Returns its port; close *filler and *lfd after. */
static inline unsigned short tu_syn_sink(int *lfd, int *filler)
{
	struct sockaddr_in a = tu_addr(0);
	socklen_t len = sizeof(a);
	*lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*lfd < 0 || bind(*lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(*lfd, 0) < 0 ||
	    getsockname(*lfd, (struct sockaddr *)&a, &len) < 0)
		abort();
	*filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*filler < 0 ||
	    connect(*filler, (struct sockaddr *)&a, sizeof(a)) < 0)
		abort();
	return ntohs(a.sin_port);
}

/* A connected TCP pair over 127.0.0.1 (blocking sockets). */
static inline void tu_tcp_pair(int fds[2])
{
	unsigned short port;
	int lfd = tu_listen(&port);
	struct sockaddr_in a = tu_addr(port);
	int one = 1;
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof(a)) < 0)
		abort();
	fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fds[1] < 0)
		abort();
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(lfd);
}

static inline uint64_t tu_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Run turns until *flag is nonzero or @limit_ns passes; returns *flag. */
static inline int tu_run_until(struct coil_loop *loop, volatile int *flag,
			       uint64_t limit_ns)
{
	uint64_t end = tu_mono_ns() + limit_ns;
	while (!*flag && tu_mono_ns() < end) {
		if (coil_loop_inflight(loop) == 0)
			coil_loop_run(loop, COIL_RUN_NOWAIT);
		else
			coil_loop_run(loop, COIL_RUN_ONCE);
	}
	return *flag;
}

/* Temp dirs this process made, removed with what is in them at exit:
 * a test that fails between tu_tmpdir() and its own cleanup (cmocka jumps
 * out of the test) would otherwise leave the dir behind. */
#define TU_MAX_TMPDIRS 64
static char tu_tmpdirs[TU_MAX_TMPDIRS][256];
static unsigned tu_ntmpdirs;
static pid_t tu_tmpdirs_pid;

static inline int tu_rm_entry(const char *path, const struct stat *sb, int type,
			      struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static inline void tu_tmpdirs_cleanup(void)
{
	/* only in the process that made them, not in a child that exits */
	if (getpid() != tu_tmpdirs_pid)
		return;
	for (unsigned i = 0; i < tu_ntmpdirs; i++)
		nftw(tu_tmpdirs[i], tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temp dir under $TMPDIR or /tmp; caller frees the string. The
 * caller may remove it; whatever is left is removed at exit. */
static inline char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p = NULL;
	if (asprintf(&p, "%s/coil-test-XXXXXX", base ? base : "/tmp") < 0 ||
	    !mkdtemp(p))
		abort();
	if (tu_ntmpdirs < TU_MAX_TMPDIRS && strlen(p) < 256) {
		if (tu_ntmpdirs == 0 || tu_tmpdirs_pid != getpid()) {
			tu_ntmpdirs = 0;
			tu_tmpdirs_pid = getpid();
			static int registered;
			if (!registered && atexit(tu_tmpdirs_cleanup) == 0)
				registered = 1;
		}
		strcpy(tu_tmpdirs[tu_ntmpdirs++], p);
	}
	return p;
}

/* The whole file @path, NUL-terminated, in a malloc'd buffer (the caller
 * frees it); its length into *@len unless @len is NULL. Return: NULL when
 * the file cannot be opened or read whole. */
static inline char *tu_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n = -1;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	if (n >= 0 && fseek(f, 0, SEEK_SET) == 0)
		buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	return buf;
}

/* tests/tls/mkcerts.sh (@script) run into @dir: the test CA and the
 * certificates and keys signed by it. Exits 77 when openssl is not
 * installed (the script's 77); aborts when it fails otherwise. */
static inline void tu_mkcerts(const char *script, const char *dir)
{
	char cmd[4200];
	int rc;
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s' >/dev/null", script, dir);
	rc = system(cmd);
	if (WIFEXITED(rc) && WEXITSTATUS(rc) == COIL_SKIP) {
		fprintf(stderr, "skip: openssl is not installed\n");
		exit(COIL_SKIP);
	}
	if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
		fprintf(stderr, "%s failed (%d)\n", script, rc);
		abort();
	}
}

/* Start a test peer of the tests' own, `python3 @script @args...` (@args
 * NULL-terminated, at most 9), which prints the port it listens on as its
 * first line; the child dies with this process (PR_SET_PDEATHSIG). Exits
 * 77 when python3 is not installed. Return: the port, 0 if the peer
 * printed none (the caller asserts); the child's pid into *@pid. */
static inline unsigned short tu_py_peer(const char *script,
					const char *const *args, pid_t *pid)
{
	const char *argv[12];
	char line[32];
	int fds[2], n = 0;
	ssize_t r;

	if (access("/usr/bin/python3", X_OK)) {
		fprintf(stderr, "skip: python3 is not installed\n");
		exit(COIL_SKIP);
	}
	argv[n++] = "python3";
	argv[n++] = script;
	while (*args && n < 11)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe2(fds, O_CLOEXEC))
		abort();
	*pid = fork();
	if (*pid < 0)
		abort();
	if (*pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], 1);
		execv("/usr/bin/python3", (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	r = read(fds[0], line, sizeof(line) - 1); /* the port, one line */
	close(fds[0]);
	if (r <= 0)
		return 0;
	line[r] = 0;
	return (unsigned short)atoi(line);
}

/* Open file descriptors of this process (leak checks). */
static inline int tu_count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 65536; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	}
	return n;
}

/* Does this build speak TLS 1.3 (mbedTLS 3.x)? */
static inline int tu_have_tls13(void)
{
	struct coil_tls_config_opts o = {0};
	struct coil_tls_config *cfg = NULL;
	o.flags = COIL_TLS_INSECURE;
	o.min_version = COIL_TLS_V1_3;
	if (coil_tls_config_new(&cfg, &o, NULL, 0) < 0)
		return 0;
	coil_tls_config_free(cfg);
	return 1;
}

#endif
