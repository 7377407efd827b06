/*
 * tests/server/serve_h2.h - what the HTTP/2 tests of coil-serve share
 * (test_serve_h2.c, test_serve_h2_static.c): the fixture's temp dir and
 * teardown, the access log's line count once the server wrote it out, and
 * h2load's summary checked.
 */
#ifndef COIL_TEST_SERVE_H2_H
#define COIL_TEST_SERVE_H2_H

#include "peer.h"

/* What both files' setup does first: the peers they need (exit 77
 * without curl, h2load, nghttp or openssl), a temp dir (*@tmp: freed by
 * serve_h2_teardown()) with a certificate for localhost (@cert, @key),
 * and the paths of an empty root/ (@root) and of the access log (@logp),
 * each @cap bytes. Return: 0; -1 if root/ cannot be made. */
static inline int serve_h2_prepare(char **tmp, char *cert, char *key,
				   char *root, char *logp, size_t cap)
{
	require_prog("curl");
	require_prog("h2load");
	require_prog("nghttp");
	require_prog("openssl");
	*tmp = tu_tmpdir();
	make_cert(*tmp, cert, key, cap);
	snprintf(root, cap, "%s/root", *tmp);
	snprintf(logp, cap, "%s/access.log", *tmp);
	return mkdir(root, 0755) != 0 ? -1 : 0;
}

/* Both files' teardown: the h2c and the TLS server stopped, the temp dir
 * @tmp removed and freed. Return: 0 when each exited 0 after SIGTERM
 * (under AddressSanitizer: nothing leaked), else -1. */
static inline int serve_h2_teardown(struct served *h2c, struct served *h2s,
				    char *tmp)
{
	int a = serve_stop(h2c, 10000);

	return serve_teardown(h2s, tmp) == 0 && a == 0 ? 0 : -1;
}

/* Lines in a file. */
static inline long count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int ch;
	if (!f)
		return -1;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* The access log @path holds @want lines, once the server wrote them (it
 * writes at least once a second): wait up to 5 s. */
static inline long log_lines_settled(const char *path, long want)
{
	uint64_t end = tu_mono_ns() + 5000 * MS;
	long n;
	while ((n = count_lines(path)) < want && tu_mono_ns() < end)
		poll(NULL, 0, 50);
	return n;
}

/* The access log's line count once the server has written out what it
 * holds: it writes at least once a second, so lines of the tests before
 * can still be on their way; the count unchanged for 1.2 s (5 s at
 * most). */
static inline long log_lines_flushed(const char *path)
{
	uint64_t end = tu_mono_ns() + 5000 * MS, since = tu_mono_ns();
	long n = count_lines(path), m;
	while (tu_mono_ns() < end && tu_mono_ns() - since < 1200 * MS) {
		poll(NULL, 0, 100);
		m = count_lines(path);
		if (m != n) {
			n = m;
			since = tu_mono_ns();
		}
	}
	return n;
}

/* h2load's "requests: N total, N started, N done, N succeeded" and its
 * "status codes: N 2xx" line: every request done and 2xx. */
static inline long check_h2load(const char *out, long want)
{
	long total = -1, done = -1, ok = -1, s2 = -1;
	const char *p = strstr(out, "requests: ");
	if (!p || sscanf(p,
			 "requests: %ld total, %*d started, %ld done, %ld "
			 "succeeded",
			 &total, &done, &ok) != 3)
		fail_msg("no summary in h2load output:\n%s", out);
	p = strstr(out, "status codes: ");
	if (!p || sscanf(p, "status codes: %ld 2xx", &s2) != 1)
		fail_msg("no status codes in h2load output:\n%s", out);
	if (total != want || done != want || ok != want || s2 != want)
		fail_msg("h2load: %ld total %ld done %ld succeeded %ld 2xx, "
			 "want %ld:\n%s",
			 total, done, ok, s2, want, out);
	if (!strstr(out, "Application protocol: h2"))
		fail_msg("h2load did not speak h2:\n%s", out);
	return done;
}

#endif
