/*
 * tests/server/peer.h - running programs from tests: coil-serve itself
 * (started with -p 0; the port is read from its "listening" line) and the
 * peers (curl, wrk, ab, openssl), each with a time limit, output captured.
 * A peer test exits 77 when its program is not installed. Every process
 * started here is stopped and reaped before the test ends.
 */
#ifndef COIL_TEST_PEER_H
#define COIL_TEST_PEER_H

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "srv.h"

#ifndef COIL_SERVE_BIN
#error "COIL_SERVE_BIN must name the coil-serve binary"
#endif

extern char **environ;

/* Whether @prog is an executable on $PATH. */
static inline int have_prog(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		const char *e = strchr(path, ':');
		size_t n = e ? (size_t)(e - path) : strlen(path);
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
		if (access(buf, X_OK) == 0)
			return 1;
		path += n + (e ? 1 : 0);
	}
	return 0;
}

static inline void require_prog(const char *prog)
{
	if (!have_prog(prog)) {
		fprintf(stderr, "skip: %s is not installed\n", prog);
		exit(COIL_SKIP);
	}
}

/* Wait for @pid up to @ms; SIGKILL it after that. Return: the wait
 * status, or -1 if it had to be killed. */
static inline int reap(pid_t pid, unsigned ms)
{
	uint64_t end = tu_mono_ns() + (uint64_t)ms * MS;
	int st;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		if (tu_mono_ns() > end) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		poll(NULL, 0, 5);
	}
}

/*
 * Run @argv (stdin from @in_path or /dev/null), capture stdout and stderr
 * together into *out (malloc'd, NUL-terminated), kill it after @ms.
 * Return: its exit code (0-255), or -1 when killed or not run.
 */
static inline int run(char *const argv[], const char *in_path, char **out,
		      unsigned ms)
{
	posix_spawn_file_actions_t fa;
	int p[2], st;
	pid_t pid;
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	uint64_t end = tu_mono_ns() + (uint64_t)ms * MS;

	assert_non_null(buf);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(
		&fa, 0, in_path ? in_path : "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(p[0]);
		close(p[1]);
		free(buf);
		*out = NULL;
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	for (;;) {
		struct pollfd pf = {p[0], POLLIN, 0};
		uint64_t t = tu_mono_ns();
		ssize_t n;
		if (t > end)
			break;
		if (poll(&pf, 1, (int)((end - t) / MS) + 1) <= 0)
			continue;
		if (len + 4096 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = read(p[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	buf[len] = '\0';
	*out = buf;
	st = reap(pid, tu_mono_ns() > end ? 0 : 2000);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * curl -s @opts... -w @wfmt URL... (NULL-terminated lists), each URL's
 * body to /dev/null, in the order given on one connection where curl can
 * keep it: the -w lines in *out, as run() gives them, with its limit @ms.
 * Return: run()'s.
 */
static inline int curl_each(const char *const opts[], const char *wfmt,
			    const char *const urls[], char **out, unsigned ms)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)"curl";
	argv[argc++] = (char *)"-s";
	for (size_t i = 0; opts && opts[i]; i++)
		argv[argc++] = (char *)opts[i];
	for (size_t i = 0; urls[i]; i++) {
		argv[argc++] = (char *)"-o";
		argv[argc++] = (char *)"/dev/null";
	}
	argv[argc++] = (char *)"-w";
	argv[argc++] = (char *)wfmt;
	for (size_t i = 0; urls[i]; i++)
		argv[argc++] = (char *)urls[i];
	argv[argc] = NULL;
	assert_true(argc < 64);
	return run(argv, NULL, out, ms);
}

/* ---- coil-serve ---- */

/* Servers started and not yet stopped: killed by peer_cleanup() (run it
 * in a teardown; it is also registered with atexit()), so that a failing
 * test leaves no process behind. */
static pid_t peer_live[16];

static inline void peer_cleanup(void)
{
	for (size_t i = 0; i < sizeof(peer_live) / sizeof(peer_live[0]); i++) {
		if (peer_live[i] > 0) {
			kill(peer_live[i], SIGKILL);
			while (waitpid(peer_live[i], NULL, 0) < 0 &&
			       errno == EINTR)
				;
			peer_live[i] = 0;
		}
	}
}

static inline void peer_track(pid_t pid, int add)
{
	static int registered;
	if (!registered) {
		atexit(peer_cleanup);
		registered = 1;
	}
	for (size_t i = 0; i < sizeof(peer_live) / sizeof(peer_live[0]); i++) {
		if (add ? peer_live[i] == 0 : peer_live[i] == pid) {
			peer_live[i] = add ? pid : 0;
			return;
		}
	}
}

struct served {
	pid_t pid;
	unsigned short port;
	char url[64];
	char line[256]; /* the listening line */
};

/*
 * Start coil-serve -p 0 -b 127.0.0.1 with @args (NULL-terminated) and read
 * its listening line. Its stderr goes to @err_path (or is inherited).
 */
static inline void serve_start(struct served *sv, const char *err_path,
			       const char *const args[])
{
	posix_spawn_file_actions_t fa;
	char *argv[64];
	int argc = 0, p[2];
	size_t len = 0;
	uint64_t end = tu_mono_ns() + 10000 * MS;
	char scheme[8];
	unsigned port = 0;

	/* no io_uring here (seccomp, sysctl): skip rather than fail */
	coil_loop_free(tu_loop(NULL));
	argv[argc++] = (char *)COIL_SERVE_BIN;
	argv[argc++] = (char *)"-p";
	argv[argc++] = (char *)"0";
	argv[argc++] = (char *)"-b";
	argv[argc++] = (char *)"127.0.0.1";
	for (size_t i = 0; args && args[i]; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	if (err_path)
		posix_spawn_file_actions_addopen(
			&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(
		posix_spawn(&sv->pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	peer_track(sv->pid, 1);
	close(p[1]);
	while (!memchr(sv->line, '\n', len) && tu_mono_ns() < end &&
	       len < sizeof(sv->line) - 1) {
		struct pollfd pf = {p[0], POLLIN, 0};
		ssize_t n;
		if (poll(&pf, 1, 100) <= 0)
			continue;
		n = read(p[0], sv->line + len, sizeof(sv->line) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	sv->line[len] = '\0';
	if (sscanf(sv->line, "listening %7[^:]://127.0.0.1:%u threads", scheme,
		   &port) != 2 ||
	    port == 0 || port > 65535) {
		int st = reap(sv->pid, 2000);
		peer_track(sv->pid, 0);
		fail_msg("coil-serve did not start: '%s' (status %d)", sv->line,
			 st);
	}
	sv->port = (unsigned short)port;
	snprintf(sv->url, sizeof(sv->url), "%s://127.0.0.1:%u", scheme, port);
}

/* SIGTERM, and the exit status within @ms (-1: killed, not exited). */
static inline int serve_stop(struct served *sv, unsigned ms)
{
	int st;
	if (sv->pid <= 0)
		return -1;
	kill(sv->pid, SIGTERM);
	st = reap(sv->pid, ms);
	peer_track(sv->pid, 0);
	sv->pid = 0;
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* @sv's base URL + @path, in one of eight static buffers (an argv may
 * hold several). */
static inline char *serve_url(const struct served *sv, const char *path)
{
	static char buf[8][256];
	static int i;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", sv->url, path);
	return buf[i];
}

/* wrk's summary: the requests done; fails the test when there is no
 * summary or any socket error or non-2xx answer. */
static inline long check_wrk(const char *out)
{
	const char *p = strstr(out, " requests in ");
	if (!p)
		fail_msg("no summary in wrk output:\n%s", out);
	while (p > out && p[-1] >= '0' && p[-1] <= '9')
		p--;
	if (strstr(out, "Socket errors") || strstr(out, "Non-2xx"))
		fail_msg("wrk saw errors:\n%s", out);
	return strtol(p, NULL, 10);
}

/* Open descriptors of process @pid (/proc/PID/fd). */
static inline int proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;
	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Descriptors of @pid once the count has not changed for 300 ms (up to
 * 5 s): connections that just ended are closed by then. */
static inline int proc_fds_settled(pid_t pid)
{
	uint64_t end = tu_mono_ns() + 5000 * MS;
	int last = proc_fds(pid), same = 0;
	while (same < 6 && tu_mono_ns() < end) {
		int n;
		poll(NULL, 0, 50);
		n = proc_fds(pid);
		same = n == last ? same + 1 : 0;
		last = n;
	}
	return last;
}

/* Resident memory of @pid in KiB (VmRSS of /proc/PID/status). */
static inline long proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* A file of @len pseudo-random bytes at @path. */
static inline void make_file(const char *path, size_t len, unsigned seed)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char buf[65536];
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	assert_true(fd >= 0);
	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (char)x;
		}
		assert_int_equal(write(fd, buf, n), (ssize_t)n);
		len -= n;
	}
	close(fd);
}

/* Whether two files have the same bytes. */
static inline int same_file(const char *a, const char *b)
{
	int fa = open(a, O_RDONLY | O_CLOEXEC),
	    fb = open(b, O_RDONLY | O_CLOEXEC);
	char x[65536], y[65536];
	int same = fa >= 0 && fb >= 0;
	while (same) {
		ssize_t n = read(fa, x, sizeof(x)), m;
		size_t got = 0;
		if (n < 0) {
			same = 0;
			break;
		}
		while (got < (size_t)n) {
			m = read(fb, y + got, (size_t)n - got);
			if (m <= 0)
				break;
			got += (size_t)m;
		}
		if (got != (size_t)n || memcmp(x, y, (size_t)n) != 0) {
			same = 0;
			break;
		}
		if (n == 0) {
			same = read(fb, y, 1) == 0;
			break;
		}
	}
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return same;
}

/* A throwaway self-signed P-256 certificate for localhost and 127.0.0.1
 * (openssl req -x509), its key in @dir/key.pem and itself in
 * @dir/cert.pem, whose paths go to @key and @cert (@cap bytes each).
 * Exits 77 when openssl is not installed or cannot make one. */
static inline void make_cert(const char *dir, char *cert, char *key, size_t cap)
{
	char cmd[9000];
	require_prog("openssl");
	snprintf(cert, cap, "%s/cert.pem", dir);
	snprintf(key, cap, "%s/key.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:prime256v1 -nodes -keyout '%s' -out '%s' "
		 "-days 2 -subj /CN=localhost -addext "
		 "subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
		 key, cert);
	if (system(cmd) != 0) {
		fprintf(stderr, "skip: openssl could not make a certificate\n");
		exit(COIL_SKIP);
	}
}

/* Remove a test's temp dir and everything in it (flat, plus one level). */
static inline void rm_tree(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* A test group's teardown: stop @sv (SIGTERM, 10 s), kill what is left,
 * remove the temp dir @tmp and free it. Return: 0 when coil-serve exited
 * 0 (under AddressSanitizer: no leak), else -1. */
static inline int serve_teardown(struct served *sv, char *tmp)
{
	int rc = serve_stop(sv, 10000);
	peer_cleanup();
	rm_tree(tmp);
	free(tmp);
	return rc == 0 ? 0 : -1;
}

#endif
