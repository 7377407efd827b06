/*
 * tests/tools/test_tools_cli.c - the command-line convention of the three
 * programs (tools/common/cli.h), end to end through the binaries: the
 * same -V line, the exit-status table and the duration rule in every
 * --help, durations with and without units doing what they say, the exit
 * statuses against a refusing port, a server that answers only 500, a
 * TLS failure (with mbedTLS's reason in both clients), a bad command line
 * and a port that cannot be had, and the one "missing scheme" message.
 *
 * Each program runs as a child with its output in temp files, bounded by
 * a pidfd deadline (killed past it, which fails the test).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "coil/version.h"
#include "testutil.h"

extern char **environ;

struct out {
	int status; /* exit status, or 128 + signal */
	uint64_t ms;
	char *out, *err;
};

static char *slurp_fd(int fd)
{
	off_t n = lseek(fd, 0, SEEK_END);
	char *buf = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	if (!buf || n < 0 || pread(fd, buf, (size_t)n, 0) != n)
		abort();
	close(fd);
	return buf;
}

/* Wait for @pid up to @timeout_ms (pidfd_open(2), Linux 5.3); kill it
 * past that. Return: the exit status, or 128 + signal. */
static int wait_bounded(pid_t pid, int timeout_ms)
{
	int st, pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		if (poll(&p, 1, timeout_ms) == 0) {
			fprintf(stderr, "pid %d still running after %d ms\n",
				(int)pid, timeout_ms);
			kill(pid, SIGKILL);
		}
		close(pfd);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run @bin with the NULL-terminated arguments after it. */
static struct out run_v(const char *bin, int timeout_ms, va_list ap)
{
	char *argv[32], o[] = "/tmp/coil-cli-out-XXXXXX",
			e[] = "/tmp/coil-cli-err-XXXXXX";
	int argc = 0, ofd = mkstemp(o), efd = mkstemp(e);
	posix_spawn_file_actions_t fa;
	struct out r = {0};
	uint64_t t0 = tu_mono_ns();
	pid_t pid;

	argv[argc++] = (char *)bin;
	for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
		argv[argc++] = a;
	argv[argc] = NULL;
	if (ofd < 0 || efd < 0)
		abort();
	unlink(o);
	unlink(e);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ofd, 1);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0)
		abort();
	posix_spawn_file_actions_destroy(&fa);
	r.status = wait_bounded(pid, timeout_ms);
	r.ms = (tu_mono_ns() - t0) / 1000000;
	r.out = slurp_fd(ofd);
	r.err = slurp_fd(efd);
	return r;
}

static struct out run(const char *bin, ...)
{
	va_list ap;
	struct out r;
	va_start(ap, bin);
	r = run_v(bin, 30000, ap);
	va_end(ap);
	return r;
}

static void out_free(struct out *r)
{
	free(r->out);
	free(r->err);
}

/* Exit status @want, and @text (if not NULL) in stdout or stderr. */
static void expect(struct out *r, int want, const char *text)
{
	if (r->status != want ||
	    (text && !strstr(r->out, text) && !strstr(r->err, text))) {
		fprintf(stderr,
			"exit %d (want %d, '%s')\nstdout:\n%s\nstderr:\n%s\n",
			r->status, want, text ? text : "", r->out, r->err);
		fail();
	}
	out_free(r);
}

/* ---- servers ------------------------------------------------------------- */

struct serve {
	pid_t pid;
	unsigned port;
	char url[128]; /* "http://127.0.0.1:PORT" or https */
};

/* coil-serve with @extra arguments (NULL-terminated), its port read
 * from its first line. */
static void serve_start(struct serve *s, const char *const *extra)
{
	char *argv[24] = {COIL_SERVE_BIN, "-p", "0", "-t", "1"};
	posix_spawn_file_actions_t fa;
	char line[256] = "", scheme[8];
	int argc = 5, p[2];
	FILE *f;

	for (; extra && *extra; extra++)
		argv[argc++] = (char *)*extra;
	argv[argc] = NULL;
	if (pipe(p) != 0)
		abort();
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	if (posix_spawn(&s->pid, COIL_SERVE_BIN, &fa, NULL, argv, environ))
		abort();
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	f = fdopen(p[0], "r");
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "listening %7[a-z]://127.0.0.1:%u", scheme,
		   &s->port) != 2) {
		fprintf(stderr, "coil-serve said: %s\n", line);
		abort();
	}
	fclose(f);
	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%u", scheme, s->port);
}

static void serve_stop(struct serve *s)
{
	kill(s->pid, SIGTERM);
	assert_int_equal(wait_bounded(s->pid, 10000), 0);
}

static char *url(const struct serve *s, const char *path)
{
	static char buf[4][192];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", s->url, path);
	return buf[i];
}

/* A port that refuses: a bound socket that does not listen (kept bound,
 * so nothing else takes the port). */
static int refusing_port(unsigned *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	*port = ntohs(a.sin_port);
	return fd;
}

/* ---- version and help ------------------------------------------------------
 */

static void test_tools_version_same_on_all_three(void **state)
{
	static const char *const bins[] = {COIL_BENCH_BIN, COIL_GET_BIN,
					   COIL_SERVE_BIN};
	static const char *const names[] = {"coil-bench", "coil-get",
					    "coil-serve"};
	for (int i = 0; i < 3; i++) {
		char want[64];
		snprintf(want, sizeof(want), "%s %s\n", names[i],
			 COIL_VERSION_STRING);
		for (int v = 0; v < 2; v++) {
			struct out r =
				run(bins[i], v ? "--version" : "-V", NULL);
			assert_int_equal(r.status, 0);
			assert_string_equal(r.out, want);
			out_free(&r);
		}
	}
	/* wrk's -v too */
	struct out r = run(COIL_BENCH_BIN, "-v", NULL);
	assert_int_equal(r.status, 0);
	assert_memory_equal(r.out, "coil-bench " COIL_VERSION_STRING "\n",
			    strlen("coil-bench " COIL_VERSION_STRING "\n"));
	out_free(&r);
}

static void test_tools_help_has_exit_table_and_units(void **state)
{
	static const char *const bins[] = {COIL_BENCH_BIN, COIL_GET_BIN,
					   COIL_SERVE_BIN};
	for (int i = 0; i < 3; i++) {
		struct out r = run(bins[i], "--help", NULL);
		assert_int_equal(r.status, 0);
		assert_non_null(strstr(r.out, "Exit status:\n  0  success\n"
					      "  1  "));
		assert_non_null(strstr(r.out,
				       "  2  bad command line or input\n"
				       "  3  could not start (no io_uring, "
				       "out of memory, no thread)\n"));
		assert_non_null(strstr(r.out, "a plain number"));
		assert_non_null(strstr(r.out, "-V, "));
		out_free(&r);
	}
}

/* The flags the two clients share are spelled alike in both. */
static void test_tools_shared_flags_spelled_alike(void **state)
{
	static const char *const shared[] = {
		"--timeout T",	  "--connect-timeout T",
		"-k, --insecure", "-H, --header",
		"--json",	  "--cacert FILE",
		"--cert FILE",	  "--key FILE",
	};
	static const char *const bins[] = {COIL_BENCH_BIN, COIL_GET_BIN};
	for (int i = 0; i < 2; i++) {
		struct out r = run(bins[i], "--help", NULL);
		assert_int_equal(r.status, 0);
		for (size_t k = 0; k < sizeof(shared) / sizeof(shared[0]); k++)
			if (!strstr(r.out, shared[k]))
				fail_msg("%s --help lacks '%s'", bins[i],
					 shared[k]);
		out_free(&r);
	}
}

/* ---- exit statuses ------------------------------------------------------ */

static void test_tools_bad_command_line_exits_2(void **state)
{
	expect((struct out[]){run(COIL_BENCH_BIN, "--nope", "http://h/", NULL)},
	       2, "unknown option");
	expect((struct out[]){run(COIL_GET_BIN, "--nope", "http://h/", NULL)},
	       2, "unknown option");
	expect((struct out[]){run(COIL_SERVE_BIN, "--nope", NULL)}, 2,
	       "unknown option");
	/* a duration that is not one, in each program's words alike */
	expect((struct out[]){run(COIL_BENCH_BIN, "--timeout", "2x",
				  "http://h/", NULL)},
	       2, "bad time for --timeout: '2x' (expected e.g. 500ms");
	expect((struct out[]){run(COIL_GET_BIN, "--timeout", "2x", "http://h/",
				  NULL)},
	       2, "bad time for --timeout: '2x' (expected e.g. 500ms");
	expect((struct out[]){run(COIL_SERVE_BIN, "--idle-timeout", "2x",
				  NULL)},
	       2, "bad time for --idle-timeout: '2x' (expected e.g. 500ms");
}

static void test_tools_missing_scheme_same_message(void **state)
{
	unsigned port;
	int fd = refusing_port(&port);
	char u[64];
	snprintf(u, sizeof(u), "127.0.0.1:%u/x", port);
	char want[128];
	snprintf(want, sizeof(want),
		 "bad URL '%s': missing scheme (http:// or https://)", u);
	expect((struct out[]){run(COIL_BENCH_BIN, "-d", "100ms", u, NULL)}, 2,
	       want);
	expect((struct out[]){run(COIL_GET_BIN, "-q", "--json", u, NULL)}, 1,
	       want);
	close(fd);
}

static void test_tools_refused_port_exits_1(void **state)
{
	unsigned port;
	int fd = refusing_port(&port);
	char u[64];
	snprintf(u, sizeof(u), "http://127.0.0.1:%u/", port);
	expect((struct out[]){run(COIL_BENCH_BIN, "-t1", "-c1", "-d", "300ms",
				  u, NULL)},
	       1, "no request succeeded");
	expect((struct out[]){run(COIL_GET_BIN, "-q", "--json", u, NULL)}, 1,
	       "refused");
	close(fd);
}

static void test_tools_500_only_exits_1(void **state)
{
	struct serve s;
	serve_start(&s, NULL);
	expect((struct out[]){run(COIL_BENCH_BIN, "-t1", "-c2", "-d", "300ms",
				  url(&s, "/status/500"), NULL)},
	       1, "none 2xx or 3xx");
	expect((struct out[]){run(COIL_GET_BIN, "-q", "--json",
				  url(&s, "/status/500"), NULL)},
	       1, "\"error\":\"HTTP status 500\"");
	/* and 0 when it answers 200 */
	expect((struct out[]){run(COIL_BENCH_BIN, "-t1", "-c1", "-d", "200ms",
				  url(&s, "/"), NULL)},
	       0, NULL);
	expect((struct out[]){run(COIL_GET_BIN, "-q", url(&s, "/"), NULL)}, 0,
	       NULL);
	serve_stop(&s);
}

/* A server whose certificate no one here trusts: both clients exit 1 and
 * say why as mbedTLS does. */
static void test_tools_tls_failure_exits_1_with_reason(void **state)
{
	char *dir = tu_tmpdir(), cmd[512], crt[300], key[300];
	struct serve s;
	int ret;

	snprintf(cmd, sizeof(cmd), "%s %s >/dev/null 2>&1", COIL_TLS_MKCERTS,
		 dir);
	ret = system(cmd);
	if (WIFEXITED(ret) && WEXITSTATUS(ret) == 77) {
		fprintf(stderr, "skip: no openssl\n");
		exit(COIL_SKIP);
	}
	assert_int_equal(ret, 0);
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	const char *extra[] = {"--cert", crt, "--key", key, NULL};
	serve_start(&s, extra);
	assert_memory_equal(s.url, "https", 5);

	struct out r = run(COIL_BENCH_BIN, "-t1", "-c1", "-d", "300ms",
			   url(&s, "/"), NULL);
	/* the reason: mbedTLS's words, on the last line and in the report */
	expect((struct out[]){r}, 1, "TLS: certificate verification failed");
	r = run(COIL_BENCH_BIN, "-t1", "-c1", "-d", "300ms", "--json",
		url(&s, "/"), NULL);
	expect((struct out[]){r}, 1,
	       "\"reason\": \"certificate verification failed");
	expect((struct out[]){run(COIL_GET_BIN, "-q", "--json", url(&s, "/"),
				  NULL)},
	       1, "certificate verification failed");
	/* trusted (-k), both succeed */
	expect((struct out[]){run(COIL_BENCH_BIN, "-k", "-t1", "-c1", "-d",
				  "200ms", url(&s, "/"), NULL)},
	       0, NULL);
	expect((struct out[]){run(COIL_GET_BIN, "-k", "-q", url(&s, "/"),
				  NULL)},
	       0, NULL);
	serve_stop(&s);
	free(dir);
}

/* coil-serve on a port someone listens on: could not start, 3 */
static void test_tools_serve_busy_port_exits_3(void **state)
{
	unsigned short port;
	int fd = tu_listen(&port);
	char p[16];
	snprintf(p, sizeof(p), "%u", port);
	expect((struct out[]){run(COIL_SERVE_BIN, "-p", p, "-t", "1", NULL)}, 3,
	       "cannot serve on 127.0.0.1 port");
	close(fd);
}

/* ---- durations, end to end -------------------------------------------------
 */

/* coil-serve --idle-timeout T: a kept-alive connection is closed about T
 * after its last response; "300ms" and "300" (ms) alike. */
static void test_tools_serve_idle_timeout_units(void **state)
{
	static const char *const forms[] = {"300ms", "300", "0.3s"};
	for (int i = 0; i < 3; i++) {
		const char *extra[] = {"--idle-timeout", forms[i], NULL};
		struct sockaddr_in a;
		char buf[512];
		struct serve s;
		uint64_t t0, ms;
		int fd;
		ssize_t n;

		serve_start(&s, extra);
		a = tu_addr((unsigned short)s.port);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)),
				 0);
		static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
		assert_int_equal(write(fd, req, sizeof(req) - 1),
				 sizeof(req) - 1);
		n = read(fd, buf, sizeof(buf));
		assert_true(n > 0 && !memcmp(buf, "HTTP/1.1 200", 12));
		t0 = tu_mono_ns();
		struct timeval tv = {.tv_sec = 10};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		n = read(fd, buf, sizeof(buf)); /* 0: closed by the server */
		ms = (tu_mono_ns() - t0) / 1000000;
		assert_int_equal(n, 0);
		if (ms < 250 || ms > 5000)
			fail_msg("--idle-timeout %s closed after %llu ms",
				 forms[i], (unsigned long long)ms);
		close(fd);
		serve_stop(&s);
	}
}

/* coil-get -m/--timeout and coil-bench --timeout against /delay/3000:
 * "300ms" and "0.3" (seconds, as curl and wrk) both cut it short. */
static void test_tools_client_timeouts_units(void **state)
{
	static const char *const forms[] = {"300ms", "0.3"};
	struct serve s;
	serve_start(&s, NULL);
	for (int i = 0; i < 2; i++) {
		struct out r = run(COIL_GET_BIN, "-q", "--json", "--timeout",
				   forms[i], url(&s, "/delay/3000"), NULL);
		if (r.ms > 2500)
			fail_msg("coil-get --timeout %s took %llu ms", forms[i],
				 (unsigned long long)r.ms);
		expect(&r, 1, "timed out");
		r = run(COIL_GET_BIN, "-q", "-m", forms[i],
			url(&s, "/delay/10"), NULL);
		expect(&r, 0, NULL);
		r = run(COIL_BENCH_BIN, "-t1", "-c1", "-d", "200ms",
			"--timeout", forms[i], "--json", url(&s, "/delay/3000"),
			NULL);
		expect(&r, 1, "\"timeout_ns\": 300000000");
	}
	/* -d with and without a unit: the sending window in the JSON */
	expect((struct out[]){run(COIL_BENCH_BIN, "-t1", "-c1", "-d", "700ms",
				  "--json", url(&s, "/"), NULL)},
	       0, "\"duration_ns\": 700000000");
	expect((struct out[]){run(COIL_BENCH_BIN, "-t1", "-c1", "-d", "1",
				  "--json", url(&s, "/"), NULL)},
	       0, "\"duration_ns\": 1000000000");
	/* --batch-wait: a plain number is microseconds, as coil-serve's */
	expect((struct out[]){run(COIL_BENCH_BIN, "-t1", "-c1", "-d", "200ms",
				  "--batch-wait", "30", "--json", url(&s, "/"),
				  NULL)},
	       0, "\"batch_wait_ns\": 30000");
	serve_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tools_version_same_on_all_three),
		cmocka_unit_test(test_tools_help_has_exit_table_and_units),
		cmocka_unit_test(test_tools_shared_flags_spelled_alike),
		cmocka_unit_test(test_tools_bad_command_line_exits_2),
		cmocka_unit_test(test_tools_missing_scheme_same_message),
		cmocka_unit_test(test_tools_refused_port_exits_1),
		cmocka_unit_test(test_tools_500_only_exits_1),
		cmocka_unit_test(test_tools_tls_failure_exits_1_with_reason),
		cmocka_unit_test(test_tools_serve_busy_port_exits_3),
		cmocka_unit_test(test_tools_serve_idle_timeout_units),
		cmocka_unit_test(test_tools_client_timeouts_units),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("tools.cli", tests, NULL, NULL);
}
