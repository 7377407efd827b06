/*
 * tests/client/test_coil_get.c - coil-get end to end: the real program,
 * run as a child, against the test server (fsrv.h, in this process's
 * threads) and against nginx (nginx.h; those cases skip without it).
 * Checks exit statuses, the JSON lines, files written under -o (names
 * made unique, contents, no partial file left by a failure), -O, -i -,
 * retries, deadlines, --rate and --per-host as the server sees them.
 */
#include "cl.h"
#include "fsrv.h"
#include "nginx.h"

/* one source, two test programs (see main): each uses part of it */
#pragma GCC diagnostic ignored "-Wunused-function"

#ifndef COIL_GET_BIN
#error "COIL_GET_BIN must name the coil-get binary"
#endif

struct run {
	int status; /* exit status, or 128 + signal */
	char *out, *err;
	size_t out_len, err_len;
	double ms;
};

/* Run coil-get with @args (NULL-terminated), @in as stdin (or NULL). */
static void run(struct run *r, const char *in, const char *const *args)
{
	char *dir = tu_tmpdir(), out[512], err[512], inp[512];
	const char *argv[64];
	int n = 0, st;
	uint64_t t0;
	pid_t pid;

	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(err, sizeof(err), "%s/err", dir);
	snprintf(inp, sizeof(inp), "%s/in", dir);
	ngx_write(inp, in ? in : "", in ? strlen(in) : 0);
	argv[n++] = COIL_GET_BIN;
	for (; *args; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	t0 = tu_mono_ns();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int i = open(inp, O_RDONLY), o = creat(out, 0600),
		    e = creat(err, 0600);
		if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 ||
		    dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	r->ms = (double)(tu_mono_ns() - t0) / 1e6;
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->out = cl_slurp(out, &r->out_len);
	r->err = cl_slurp(err, &r->err_len);
	unlink(out);
	unlink(err);
	unlink(inp);
	rmdir(dir);
	free(dir);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static int lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The JSON line whose url ends with @suffix. */
static const char *json_for(const char *out, const char *suffix)
{
	char key[256];
	snprintf(key, sizeof(key), "%s\",", suffix);
	return strstr(out, key);
}

static char surl[4][256];
static const char *su(struct fsrv *s, int i, const char *path)
{
	snprintf(surl[i], sizeof(surl[i]), "http://127.0.0.1:%u%s",
		 (unsigned)s->port, path);
	return surl[i];
}

static void test_coil_get_usage_errors(void **state)
{
	struct run r;
	const char *bogus[] = {"--bogus", "http://127.0.0.1/", NULL};
	const char *none[] = {"-q", NULL};
	const char *both[] = {"-O", "--json", "http://127.0.0.1/", NULL};
	const char *help[] = {"--help", NULL};

	run(&r, NULL, bogus);
	assert_int_equal(r.status, 2);
	assert_int_equal(lines(r.err), 1);
	assert_non_null(strstr(r.err, "coil-get: unknown option '--bogus'"));
	assert_int_equal(r.out_len, 0);
	run_free(&r);
	run(&r, NULL, none);
	assert_int_equal(r.status, 2);
	assert_int_equal(lines(r.err), 1);
	run_free(&r);
	run(&r, NULL, both);
	assert_int_equal(r.status, 2);
	run_free(&r);
	run(&r, NULL, help);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "--per-host"));
	run_free(&r);
}

static void test_coil_get_json_and_status(void **state)
{
	struct fsrv s;
	struct run r;
	const char *j;
	fsrv_start(&s);
	{
		const char *args[] = {"--json",
				      su(&s, 0, "/ok?n=7"),
				      su(&s, 1, "/status?s=404"),
				      su(&s, 2, "/close-mid-body"),
				      "ftp://x/",
				      NULL};
		run(&r, NULL, args);
	}
	fsrv_stop(&s);
	print_message("%s%s", r.out, r.err);
	assert_int_equal(r.status, 1);
	assert_int_equal(lines(r.out), 4);
	j = json_for(r.out, "/ok?n=7");
	assert_non_null(j);
	assert_true(strstr(j, "\"status\":200,\"bytes\":7,\"time_ns\":") ==
		    strchr(j, ',') + 1);
	assert_true(strstr(j, "\"attempts\":1,\"error\":null}") <
		    strchr(j, '\n'));
	j = json_for(r.out, "/status?s=404");
	assert_true(strstr(j, "\"error\":\"HTTP status 404\"}") <
		    strchr(j, '\n'));
	j = json_for(r.out, "/close-mid-body");
	assert_true(strstr(j, "before the last chunk") < strchr(j, '\n'));
	j = json_for(r.out, "ftp://x/");
	assert_true(strstr(j, "\"status\":0,") < strchr(j, '\n'));
	assert_true(strstr(j, "bad URL 'ftp://x/': unsupported scheme") <
		    strchr(j, '\n'));
	/* the summary */
	assert_non_null(strstr(r.err, "4 URLs, 1 ok, 3 failed"));
	run_free(&r);

	/* all good: exit 0 */
	fsrv_start(&s);
	{
		const char *args[] = {"-q", su(&s, 0, "/ok"),
				      su(&s, 1, "/chunked?n=5000&c=64"), NULL};
		run(&r, NULL, args);
	}
	fsrv_stop(&s);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.err_len, 0);
	run_free(&r);
}

static int file_is(const char *dir, const char *name, const char *want,
		   size_t n)
{
	char p[1024];
	size_t len;
	char *b;
	int ok;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (access(p, F_OK))
		return 0;
	b = cl_slurp(p, &len);
	ok = len == n && (!want || !memcmp(b, want, n));
	free(b);
	return ok;
}

static void test_coil_get_output_dir(void **state)
{
	char *dir = tu_tmpdir(), od[600];
	struct fsrv s;
	struct run r;

	snprintf(od, sizeof(od), "%s/out", dir);
	fsrv_start(&s);
	{
		const char *args[] = {"-q",
				      "-o",
				      od,
				      su(&s, 0, "/ok?n=10"),
				      su(&s, 1, "/ok?n=20"),
				      su(&s, 2, "/short-cl"),
				      su(&s, 3, "/"),
				      NULL};
		run(&r, NULL, args);
	}
	fsrv_stop(&s);
	assert_int_equal(r.status, 1); /* /short-cl and / (404) failed */
	/* "ok" twice: ok and ok.1 (which got which depends on timing) */
	assert_true((file_is(od, "ok", "abcdefghij", 10) &&
		     file_is(od, "ok.1", NULL, 20)) ||
		    (file_is(od, "ok.1", "abcdefghij", 10) &&
		     file_is(od, "ok", NULL, 20)));
	/* no partial file for the truncated body, none for the 404 */
	assert_false(file_is(od, "short-cl", NULL, 10));
	{
		char p[700];
		snprintf(p, sizeof(p), "%s/short-cl", od);
		assert_int_equal(access(p, F_OK), -1);
		snprintf(p, sizeof(p), "%s/index.html", od);
		assert_int_equal(access(p, F_OK), -1);
	}
	ngx_rm(dir);
	free(dir);
	run_free(&r);
}

static void test_coil_get_stdin_stdout_post(void **state)
{
	char list[600];
	struct fsrv s;
	struct run r;

	fsrv_start(&s);
	snprintf(list, sizeof(list), "%s\n\n%s\n", su(&s, 0, "/echo"),
		 su(&s, 1, "/ok?n=3"));
	{
		const char *args[] = {"-q",	 "-O", "-d",
				      "hello=1", "-H", "X-Probe: yes",
				      "-i",	 "-",  NULL};
		run(&r, list, args);
	}
	fsrv_stop(&s);
	assert_int_equal(r.status, 0);
	/* both bodies, each whole */
	assert_non_null(strstr(r.out, "POST /echo HTTP/1.1\r\n"));
	assert_non_null(strstr(r.out, "X-Probe: yes\r\n"));
	assert_non_null(strstr(r.out, "Content-Length: 7\r\n"));
	assert_non_null(strstr(r.out, "\r\n\r\nhello=1"));
	assert_non_null(strstr(r.out, "abc"));
	run_free(&r);
}

static void test_coil_get_retry_and_deadline(void **state)
{
	struct fsrv s;
	struct run r;
	const char *j;

	fsrv_start(&s);
	{
		const char *args[] = {"--json", "--retry", "2",
				      su(&s, 0, "/flaky?k=g&f=1"), NULL};
		run(&r, NULL, args);
	}
	assert_int_equal(r.status, 0);
	j = json_for(r.out, "/flaky?k=g&f=1");
	assert_non_null(j);
	assert_non_null(strstr(j, "\"status\":200"));
	assert_non_null(strstr(j, "\"attempts\":2"));
	assert_int_equal(fsrv_hits(&s, "g", NULL), 2);
	run_free(&r);
	{
		const char *args[] = {"--json", "--timeout", "0.3",
				      su(&s, 0, "/never"), NULL};
		run(&r, NULL, args);
	}
	fsrv_stop(&s);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.out, "deadline of 0.300 s passed"));
	assert_true(r.ms >= 290 && r.ms < 5000);
	run_free(&r);
}

/* --rate 20/s: 8 requests take at least 7 intervals of 50 ms; --per-host 2
 * with --parallel 20: the server never sees more than 2 connections */
static void test_coil_get_rate_and_per_host(void **state)
{
	const char *args[16];
	struct fsrv s;
	struct run r;
	int peak, n = 0;

	fsrv_start(&s);
	args[n++] = "-q";
	args[n++] = "--rate";
	args[n++] = "20/s";
	for (int i = 0; i < 8; i++)
		args[n++] = su(&s, 0, "/ok");
	args[n] = NULL;
	run(&r, NULL, args);
	assert_int_equal(r.status, 0);
	print_message("8 requests at 20/s: %.0f ms\n", r.ms);
	assert_true(r.ms >= 340);
	run_free(&r);
	fsrv_stop(&s);

	fsrv_start(&s);
	{
		char list[8192] = "";
		for (int i = 0; i < 30; i++) {
			strcat(list, su(&s, 0, "/slow?ms=20"));
			strcat(list, "\n");
		}
		const char *a2[] = {"-q", "--parallel", "20", "--per-host",
				    "2",  "-i",		"-",  NULL};
		run(&r, list, a2);
	}
	fsrv_get(&s, &peak, NULL, NULL);
	fsrv_stop(&s);
	assert_int_equal(r.status, 0);
	print_message("--per-host 2: server peak %d\n", peak);
	assert_int_equal(peak, 2);
	run_free(&r);
}

/* against nginx: 300 files and a 24 MiB one, written under -o and
 * compared byte for byte */
static void test_coil_get_nginx_files(void **state)
{
	struct ngx g;
	struct run r;
	char od[600], *list;
	size_t cap = 300 * 80 + 200, n = 0;

	ngx_start(&g, NULL);
	for (int i = 0; i < 300; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%03d.bin", i);
		ngx_file(&g, name, 50 + (size_t)i * 37, (unsigned)i);
	}
	ngx_file(&g, "big.bin", 24 << 20, 4242);
	list = malloc(cap);
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(list + n, cap - n,
				      "http://127.0.0.1:%u/f%03d.bin\n",
				      (unsigned)g.port, i);
	snprintf(list + n, cap - n, "http://127.0.0.1:%u/big.bin\n",
		 (unsigned)g.port);
	snprintf(od, sizeof(od), "%s/out", g.dir);
	{
		const char *args[] = {"--parallel", "40", "-o", od,
				      "-i",	    "-",  NULL};
		run(&r, list, args);
	}
	print_message("%s", r.err);
	assert_int_equal(r.status, 0);
	for (int i = 0; i < 301; i++) {
		char name[32], a[700], b[700];
		size_t la, lb;
		char *x, *y;
		if (i < 300)
			snprintf(name, sizeof(name), "f%03d.bin", i);
		else
			snprintf(name, sizeof(name), "big.bin");
		snprintf(a, sizeof(a), "%s/%s", g.root, name);
		snprintf(b, sizeof(b), "%s/%s", od, name);
		x = cl_slurp(a, &la);
		y = cl_slurp(b, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(x, y, la);
		free(x);
		free(y);
	}
	free(list);
	run_free(&r);
	ngx_clean(&g);
}

/* Built twice: test_coil_get (the test server) and, with COIL_GET_PEER,
 * test_coil_get_nginx (label peer, 77 without nginx). */
int main(void)
{
#ifdef COIL_GET_PEER
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_coil_get_nginx_files,
					  ngx_teardown),
	};
	if (!ngx_bin()) {
		fprintf(stderr, "skip: nginx is not installed\n");
		return 77;
	}
	return cmocka_run_group_tests_name("coil-get.nginx", tests, NULL, NULL);
#else
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coil_get_usage_errors),
		cmocka_unit_test(test_coil_get_json_and_status),
		cmocka_unit_test(test_coil_get_output_dir),
		cmocka_unit_test(test_coil_get_stdin_stdout_post),
		cmocka_unit_test(test_coil_get_retry_and_deadline),
		cmocka_unit_test(test_coil_get_rate_and_per_host),
	};
	return cmocka_run_group_tests_name("coil-get", tests, NULL, NULL);
#endif
}
