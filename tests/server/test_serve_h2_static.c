/*
 * tests/server/test_serve_h2_static.c - coil-serve --root over HTTP/2
 * (h2c with prior knowledge and TLS with ALPN h2) answers as it does over
 * HTTP/1.1 (peer): files of 0, 1, 4095, 16384, 65536 and 1 MiB + 1 bytes
 * byte for byte through curl (over TLS all on one connection); HEAD; the
 * same fields as the HTTP/1.1 answer less the connection-specific ones
 * (RFC 9113 §8.2.2); ETag/Last-Modified with 304 and 412; single ranges
 * (206, 416) and If-Range; 405 with Allow; 301 to the directory's '/'
 * (http:// and https://); index.html; the --autoindex listing equal to
 * HTTP/1.1's; h2load -m10 on a file: every answer 200 and exactly as many
 * access log lines with "HTTP/2.0"; nghttp -v with a 16 KiB stream window:
 * three files on three streams at once, no DATA frame over the window and
 * every byte counted (the server waits for WINDOW_UPDATE). In-process,
 * over raw frames: a file truncated while it is sent (the stream reset
 * after the bytes the file still had; the connection serves the next
 * stream) and a reader whose window stays closed (the stream reset at
 * the write limit, the other streams served); the open-file cache shared
 * with HTTP/1.1 (a small file served from its copy, then new once
 * rewritten in place). Descriptors all come back;
 * each coil-serve exits 0 (under AddressSanitizer: nothing leaked).
 * Exits 77 without curl, h2load, nghttp or openssl.
 */
#include <ctype.h>
#include <limits.h>
#include <strings.h>

#include "serve_h2.h"

static char *tmp;
static char cert[4200], key[4200], root[4200], logp[4200];
static struct served h2c, h2s;
static int fds_start;

static const size_t sizes[] = {0, 1, 4095, 16384, 65536, (1u << 20) + 1};

static void put(const char *name, size_t len, unsigned seed)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s", root, name);
	make_file(path, len, seed);
}

static void put_dir(const char *name)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/%s", root, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
	char name[64];
	/* h2c: --file-cache off, files opened each time (its descriptors
	 * counted at the end: the cache would keep the files open); TLS:
	 * the open-file cache (the default), over HTTP/2 as over HTTP/1.1 */
	const char *a1[] = {"-t",	    "1",  "--http2",
			    "--root",	    root, "--autoindex",
			    "--access-log", logp, "--file-cache",
			    "off",	    NULL};
	const char *a2[] = {"-t", "1",		 "--http2", "--cert",
			    cert, "--key",	 key,	    "--root",
			    root, "--autoindex", NULL};

	(void)state;
	if (serve_h2_prepare(&tmp, cert, key, root, logp, sizeof(cert)) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "s%zu.bin", sizes[i]);
		put(name, sizes[i], 20 + (unsigned)i);
	}
	put("index.html", 1000, 30);
	put("tr.bin", (1u << 20) + 1, 31);
	put_dir("sub");
	put("sub/index.html", 321, 32);
	put_dir("listing");
	put("listing/a b.txt", 11, 33);
	put("listing/<tag>&amp;.html", 12, 34);
	put_dir("listing/inner");
	serve_start(&h2c, NULL, a1);
	serve_start(&h2s, NULL, a2);
	fds_start = proc_fds_settled(h2c.pid);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return serve_h2_teardown(&h2c, &h2s, tmp);
}

/* curl -s @opts... URL over h2c (prior knowledge) or TLS (ALPN h2, the
 * certificate verified): -w's line in *out. */
static int curl2(const struct served *sv, const char *const opts[],
		 const char *w, const char *path, char **out)
{
	char *argv[40];
	int n = 0;

	argv[n++] = "curl";
	argv[n++] = "-s";
	if (sv == &h2c) {
		argv[n++] = "--http2-prior-knowledge";
	} else {
		argv[n++] = "--http2";
		argv[n++] = "--cacert";
		argv[n++] = cert;
	}
	argv[n++] = "--path-as-is";
	for (size_t i = 0; opts && opts[i]; i++)
		argv[n++] = (char *)opts[i];
	if (w) {
		argv[n++] = "-w";
		argv[n++] = (char *)w;
	}
	argv[n++] = serve_url(sv, path);
	argv[n] = NULL;
	assert_true(n < 40);
	return run(argv, NULL, out, 30000);
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The fields of a head printed by curl -sI (lines "name: value"), as
 * "name: value\n" lines with lower-case names, sorted, minus the date. */
static void head_fields(const char *head, char *out, size_t cap)
{
	char *lines[32];
	size_t nl = 0, o = 0;
	const char *p = strchr(head, '\n');

	while (p && *++p && nl < 32) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *colon = memchr(p, ':', n);
		if (n && p[n - 1] == '\r')
			n--;
		if (colon && strncasecmp(p, "date:", 5) != 0) {
			char *l = strndup(p, n);
			assert_non_null(l);
			for (size_t i = 0; i < (size_t)(colon - p); i++)
				l[i] = (char)tolower((unsigned char)l[i]);
			lines[nl++] = l;
		}
		p = e;
	}
	qsort(lines, nl, sizeof(lines[0]), line_cmp);
	for (size_t i = 0; i < nl; i++) {
		o += (size_t)snprintf(out + o, cap - o, "%s\n", lines[i]);
		assert_true(o < cap);
		free(lines[i]);
	}
	out[o] = '\0';
}

/* Every size byte for byte over h2c, one curl each. */
static void test_h2_static_sizes_h2c(void **state)
{
	char outp[4300], file[4400], want[64], path[64];
	const char *const o[] = {"-o", outp, NULL};
	char *out;

	(void)state;
	snprintf(outp, sizeof(outp), "%s/dl.out", tmp);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(path, sizeof(path), "/s%zu.bin", sizes[i]);
		snprintf(file, sizeof(file), "%s%s", root, path);
		snprintf(want, sizeof(want), "2 200 %zu", sizes[i]);
		unlink(outp);
		assert_int_equal(curl2(&h2c, o,
				       "%{http_version} %{http_code} "
				       "%{size_download}",
				       path, &out),
				 0);
		if (strcmp(out, want) != 0)
			fail_msg("%s: '%s', want '%s'", path, out, want);
		free(out);
		if (sizes[i])
			assert_true(same_file(file, outp));
	}
}

/* Every size byte for byte over TLS, all on one connection (streams). */
static void test_h2_static_sizes_tls_one_connection(void **state)
{
	size_t n = sizeof(sizes) / sizeof(sizes[0]);
	char outs[8][4300], file[4400], want[512], *out;
	char *argv[64];
	int k = 0;
	size_t w = 0;

	(void)state;
	argv[k++] = "curl";
	argv[k++] = "-s";
	argv[k++] = "--http2";
	argv[k++] = "--cacert";
	argv[k++] = cert;
	argv[k++] = "-w";
	argv[k++] = "%{http_version} %{http_code} %{size_download} "
		    "%{num_connects}\n";
	for (size_t i = 0; i < n; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/s%zu.bin", sizes[i]);
		snprintf(outs[i], sizeof(outs[i]), "%s/tls%zu.out", tmp, i);
		argv[k++] = "-o";
		argv[k++] = outs[i];
		argv[k++] = strdup(serve_url(&h2s, path));
		w += (size_t)snprintf(want + w, sizeof(want) - w,
				      "2 200 %zu %d\n", sizes[i], i == 0);
	}
	argv[k] = NULL;
	assert_int_equal(run(argv, NULL, &out, 60000), 0);
	assert_string_equal(out, want);
	free(out);
	for (size_t i = 0; i < n; i++) {
		free(argv[7 + 3 * i + 2]);
		snprintf(file, sizeof(file), "%s/s%zu.bin", root, sizes[i]);
		if (sizes[i])
			assert_true(same_file(file, outs[i]));
	}
}

/* HEAD: the head only, with the HTTP/1.1 answer's fields (the same names
 * and values, less the connection-specific ones); the validators give
 * 304 and 412 as over HTTP/1.1. */
static void test_h2_static_head_fields_validators(void **state)
{
	const char *const head[] = {"-I", NULL};
	char *h1[] = {"curl", "-sI", "--http1.1",
		      serve_url(&h2c, "/s65536.bin"), NULL};
	char f2[2048], f1[2048], etag[128], lm[128], hdr[300];
	const char *const inm[] = {"-o", "/dev/null", "-H", hdr, NULL};
	char *out, *o1, *p;

	(void)state;
	assert_int_equal(curl2(&h2c, head, NULL, "/s65536.bin", &out), 0);
	assert_non_null(strstr(out, "HTTP/2 200"));
	head_fields(out, f2, sizeof(f2));
	free(out);
	assert_int_equal(run(h1, NULL, &o1, 20000), 0);
	assert_non_null(strstr(o1, "HTTP/1.1 200"));
	head_fields(o1, f1, sizeof(f1));
	free(o1);
	/* HTTP/1.1's connection-specific fields are not sent over h2 */
	assert_null(strstr(f2, "connection:"));
	assert_null(strstr(f2, "keep-alive:"));
	assert_null(strstr(f2, "transfer-encoding:"));
	if ((p = strstr(f1, "connection: keep-alive\n")))
		memmove(p, p + 23, strlen(p + 23) + 1);
	assert_string_equal(f2, f1);
	assert_non_null(strstr(f2, "content-length: 65536\n"));
	assert_non_null(strstr(f2, "accept-ranges: bytes\n"));
	assert_non_null(strstr(f2, "content-type: application/octet-stream\n"));
	p = strstr(f2, "etag: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "etag: %127[^\n]", etag), 1);
	p = strstr(f2, "last-modified: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "last-modified: %127[^\n]", lm), 1);

	snprintf(hdr, sizeof(hdr), "If-None-Match: %s", etag);
	assert_int_equal(curl2(&h2c, inm, "%{http_code} %{size_download}",
			       "/s65536.bin", &out),
			 0);
	assert_string_equal(out, "304 0");
	free(out);
	snprintf(hdr, sizeof(hdr), "If-Modified-Since: %s", lm);
	assert_int_equal(curl2(&h2s, inm, "%{http_code} %{size_download}",
			       "/s65536.bin", &out),
			 0);
	assert_string_equal(out, "304 0");
	free(out);
	snprintf(hdr, sizeof(hdr), "If-Match: \"0-0\"");
	assert_int_equal(curl2(&h2c, inm, "%{http_code} %{size_download}",
			       "/s65536.bin", &out),
			 0);
	assert_string_equal(out, "412 24"); /* "412 Precondition Failed\n" */
	free(out);
	snprintf(hdr, sizeof(hdr), "If-Match: %s", etag);
	assert_int_equal(curl2(&h2c, inm, "%{http_code} %{size_download}",
			       "/s65536.bin", &out),
			 0);
	assert_string_equal(out, "200 65536");
	free(out);
}

/* Whether @got holds @len bytes of @file from @off. */
static int same_range(const char *file, uint64_t off, const char *got,
		      size_t len)
{
	char *a = malloc(len + 1), *b = malloc(len + 1);
	FILE *f = fopen(file, "rb"), *g = fopen(got, "rb");
	int ok = a && b && f && g && fseek(f, (long)off, SEEK_SET) == 0 &&
		 fread(a, 1, len, f) == len && fread(b, 1, len + 1, g) == len &&
		 memcmp(a, b, len) == 0;
	if (f)
		fclose(f);
	if (g)
		fclose(g);
	free(a);
	free(b);
	return ok;
}

/* Single ranges: 206 with Content-Range and the bytes, on h2c and TLS,
 * in a small and a large file; 416 with "bytes * /size"; If-Range with
 * the ETag applies the range, with another tag gives the whole file. */
static void test_h2_static_ranges(void **state)
{
	char outp[4300], big[4400], mid[4400], hdr[300], etag[128];
	const char *const r1[] = {"-D", "-", "-o", outp, "-H", hdr, NULL};
	const char *const ir[] = {"-o", outp, "-H", "Range: bytes=10-19",
				  "-H", hdr,  NULL};
	char *out, *p;

	(void)state;
	snprintf(outp, sizeof(outp), "%s/range.out", tmp);
	snprintf(big, sizeof(big), "%s/s%zu.bin", root, (size_t)(1u << 20) + 1);
	snprintf(mid, sizeof(mid), "%s/s65536.bin", root);

	snprintf(hdr, sizeof(hdr), "Range: bytes=100-4195");
	assert_int_equal(curl2(&h2c, r1, NULL, "/s65536.bin", &out), 0);
	assert_non_null(strstr(out, "HTTP/2 206"));
	assert_non_null(strstr(out, "content-range: bytes 100-4195/65536"));
	assert_non_null(strstr(out, "content-length: 4096"));
	p = strstr(out, "etag: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "etag: %127[^\r\n]", etag), 1);
	free(out);
	assert_true(same_range(mid, 100, outp, 4096));

	snprintf(hdr, sizeof(hdr), "Range: bytes=1000000-");
	assert_int_equal(curl2(&h2s, r1, NULL, "/s1048577.bin", &out), 0);
	assert_non_null(strstr(out, "HTTP/2 206"));
	assert_non_null(
		strstr(out, "content-range: bytes 1000000-1048576/1048577"));
	free(out);
	assert_true(same_range(big, 1000000, outp, 48577));

	snprintf(hdr, sizeof(hdr), "Range: bytes=-7");
	assert_int_equal(curl2(&h2c, r1, NULL, "/s1048577.bin", &out), 0);
	assert_non_null(strstr(out, "HTTP/2 206"));
	free(out);
	assert_true(same_range(big, 1048570, outp, 7));

	snprintf(hdr, sizeof(hdr), "Range: bytes=70000-");
	assert_int_equal(curl2(&h2c, r1, NULL, "/s65536.bin", &out), 0);
	assert_non_null(strstr(out, "HTTP/2 416"));
	assert_non_null(strstr(out, "content-range: bytes */65536"));
	free(out);

	/* If-Range: the current tag lets the range apply, another does not */
	snprintf(hdr, sizeof(hdr), "If-Range: %s", etag);
	assert_int_equal(curl2(&h2s, ir, "%{http_code} %{size_download}",
			       "/s65536.bin", &out),
			 0);
	assert_string_equal(out, "206 10");
	free(out);
	assert_true(same_range(mid, 10, outp, 10));
	snprintf(hdr, sizeof(hdr), "If-Range: \"1-1\"");
	assert_int_equal(curl2(&h2c, ir, "%{http_code} %{size_download}",
			       "/s65536.bin", &out),
			 0);
	assert_string_equal(out, "200 65536");
	free(out);
	assert_true(same_file(mid, outp));
}

/* 405 with Allow for POST; 301 with Location to the directory's '/'
 * (the scheme the connection's, the query kept); index.html; 404. */
static void test_h2_static_405_301_index(void **state)
{
	const char *const post[] = {"-D", "-", "-o", "/dev/null",
				    "-d", "x", NULL};
	const char *const hd[] = {"-D", "-", "-o", "/dev/null", NULL};
	const char *const quiet[] = {"-o", "/dev/null", NULL};
	char want[200], *out;

	(void)state;
	assert_int_equal(curl2(&h2c, post, NULL, "/s4095.bin", &out), 0);
	assert_non_null(strstr(out, "HTTP/2 405"));
	assert_non_null(strstr(out, "allow: GET, HEAD"));
	free(out);
	assert_int_equal(curl2(&h2s, post, NULL, "/sub", &out), 0);
	assert_non_null(strstr(out, "HTTP/2 405"));
	free(out);

	assert_int_equal(curl2(&h2c, hd, NULL, "/sub?a=1", &out), 0);
	assert_non_null(strstr(out, "HTTP/2 301"));
	snprintf(want, sizeof(want), "location: http://127.0.0.1:%u/sub/?a=1",
		 h2c.port);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	free(out);
	assert_int_equal(curl2(&h2s, hd, NULL, "/sub", &out), 0);
	snprintf(want, sizeof(want), "location: https://127.0.0.1:%u/sub/",
		 h2s.port);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	free(out);

	assert_int_equal(curl2(&h2c, quiet, "%{http_code} %{size_download}",
			       "/sub/", &out),
			 0);
	assert_string_equal(out, "200 321");
	free(out);
	assert_int_equal(
		curl2(&h2s, quiet, "%{http_code} %{size_download}", "/", &out),
		0);
	assert_string_equal(out, "200 1000");
	free(out);
	assert_int_equal(curl2(&h2c, quiet, "%{http_code}", "/nothing", &out),
			 0);
	assert_string_equal(out, "404");
	free(out);
}

/* --autoindex: the listing over HTTP/2 is HTTP/1.1's, byte for byte. */
static void test_h2_static_autoindex(void **state)
{
	char o2[4300], o1[4300];
	const char *const a2[] = {"-o", o2, NULL};
	char *h1[] = {"curl", "-s", "--http1.1",
		      "-o",   o1,   serve_url(&h2c, "/listing/"),
		      NULL};
	char *out;
	FILE *f;
	char page[4096];
	size_t n;

	(void)state;
	snprintf(o2, sizeof(o2), "%s/list2.out", tmp);
	snprintf(o1, sizeof(o1), "%s/list1.out", tmp);
	h1[4] = o1;
	assert_int_equal(curl2(&h2c, a2, "%{http_code} %{content_type}",
			       "/listing/", &out),
			 0);
	assert_string_equal(out, "200 text/html; charset=utf-8");
	free(out);
	assert_int_equal(run(h1, NULL, &out, 20000), 0);
	free(out);
	assert_true(same_file(o1, o2));
	f = fopen(o2, "r");
	assert_non_null(f);
	n = fread(page, 1, sizeof(page) - 1, f);
	fclose(f);
	page[n] = '\0';
	assert_non_null(strstr(page, "<a href=\"a%20b.txt\">a b.txt</a>"));
	assert_non_null(strstr(page, "&lt;tag&gt;&amp;amp;.html</a>"));
	assert_non_null(strstr(page, "<a href=\"inner/\">inner/</a>"));
}

/* Lines of the access log holding @s. */
static long log_count(const char *s)
{
	FILE *f = fopen(logp, "r");
	char line[8192];
	long n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, s) != NULL;
	fclose(f);
	return n;
}

/* h2load -c2 -m10 on a 64 KiB file: every answer 200 and the access log
 * holds exactly as many lines, each as nginx writes an HTTP/2 request. */
static void test_h2_static_h2load_access_log(void **state)
{
	static const char line[] = "\"GET /s65536.bin HTTP/2.0\" 200 65536 ";
	char *argv[] = {"h2load", "-n", "2000", "-c",
			"2",	  "-m", "10",	serve_url(&h2c, "/s65536.bin"),
			NULL};
	long before, lines, after;
	char *out;

	(void)state;
	lines = log_lines_flushed(logp);
	before = log_count(line);
	assert_int_equal(run(argv, NULL, &out, 120000), 0);
	check_h2load(out, 2000);
	assert_non_null(strstr(out, "status codes: 2000 2xx"));
	free(out);
	assert_int_equal(log_lines_settled(logp, lines + 2000) - lines, 2000);
	after = log_count(line);
	assert_int_equal(after - before, 2000);
}

/* h2load -c1 -m10 over TLS on the 1 MiB + 1 file: ten large bodies at
 * once on one connection, every one complete. */
static void test_h2_static_h2load_large_tls(void **state)
{
	char *argv[] = {"h2load", "-n", "60", "-c",
			"1",	  "-m", "10", serve_url(&h2s, "/s1048577.bin"),
			NULL};
	const char *p;
	char *out;

	(void)state;
	assert_int_equal(run(argv, NULL, &out, 120000), 0);
	check_h2load(out, 60);
	/* "traffic: ... headers (...), 60.00MB (62914620) data": every
	 * body's bytes */
	p = strstr(out, ") data");
	assert_non_null(p);
	while (p > out && p[-1] != '(')
		p--;
	assert_int_equal(strtoull(p, NULL, 10), 60ull * ((1u << 20) + 1));
	free(out);
}

/* nghttp -v with a 16383-byte stream window (-w 14): three files on three
 * streams of one connection at once; no DATA frame is larger than the
 * window, each stream's DATA adds up to its file (so the server waited
 * for the WINDOW_UPDATEs nghttp sent), each head has its fields. */
static void test_h2_static_nghttp_window(void **state)
{
	char *argv[] = {"nghttp",
			"-v",
			"-n",
			"-w",
			"14",
			serve_url(&h2c, "/s1048577.bin"),
			serve_url(&h2c, "/s65536.bin"),
			serve_url(&h2c, "/s4095.bin"),
			NULL};
	unsigned long sum[3] = {0, 0, 0}, maxlen = 0, updates = 0;
	const unsigned long want[3] = {1048577, 65536, 4095};
	char *out;
	const char *p;

	(void)state;
	assert_int_equal(run(argv, NULL, &out, 60000), 0);
	for (p = out; (p = strstr(p, "recv DATA frame <length=")); p++) {
		unsigned long len, flags, sid;
		if (sscanf(p,
			   "recv DATA frame <length=%lu, flags=0x%lx, "
			   "stream_id=%lu>",
			   &len, &flags, &sid) != 3)
			fail_msg("unreadable: %.80s", p);
		if (sid < 13 || sid > 17 || sid % 2 == 0)
			fail_msg("DATA on stream %lu", sid);
		sum[(sid - 13) / 2] += len;
		if (len > maxlen)
			maxlen = len;
	}
	for (p = out; (p = strstr(p, "send WINDOW_UPDATE frame")); p++)
		updates++;
	for (int i = 0; i < 3; i++)
		if (sum[i] != want[i])
			fail_msg("stream %d: %lu bytes, want %lu", 13 + 2 * i,
				 sum[i], want[i]);
	assert_true(maxlen <= 16383);
	assert_true(updates >= 60); /* 1 MiB through a 16 KiB window */
	assert_non_null(strstr(out, "(stream_id=13) :status: 200"));
	assert_non_null(strstr(out, "(stream_id=13) content-length: 1048577"));
	assert_non_null(strstr(out, "(stream_id=15) content-length: 65536"));
	assert_non_null(strstr(out, "(stream_id=17) content-length: 4095"));
	assert_non_null(strstr(out, "(stream_id=17) etag: "));
	assert_null(strstr(out, ") connection: "));
	free(out);
}

/* ---- in-process, over raw frames (RFC 9113 §4.1) ---- */

static int root_fd = -1;

static void handler(struct coil_http_sreq *req, void *arg)
{
	struct coil_http_serve_opts so = {.flags = COIL_HTTP_SERVE_AUTOINDEX};
	(void)arg;
	coil_http_serve_root(req, root_fd, &so);
}

/* An in-process h2c server on the root, with a write limit of @wt_ms,
 * with the open-file cache (the default) or without (@cache 0). */
static void raw_start(struct srv *s, unsigned wt_ms, int cache)
{
	struct coil_http_server_opts o;

	memset(&o, 0, sizeof(o));
	o.handler = handler;
	o.flags = COIL_HTTP_SERVER_H2;
	o.write_timeout_ns = wt_ms * MS;
	o.file_cache_files = cache ? 0 : UINT_MAX;
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(root_fd >= 0);
	srv_start(s, &o, NULL);
}

static void raw_stop(struct srv *s)
{
	assert_int_equal(srv_stop(s, 2000, NULL), 0);
	close(root_fd);
	root_fd = -1;
}

struct frame {
	unsigned type, flags;
	uint32_t sid, len;
	unsigned char p[16384];
};

static void frame_send(int fd, unsigned type, unsigned flags, uint32_t sid,
		       const void *p, size_t len)
{
	unsigned char h[9] = {
		(unsigned char)(len >> 16), (unsigned char)(len >> 8),
		(unsigned char)len,	    (unsigned char)type,
		(unsigned char)flags,	    (unsigned char)(sid >> 24),
		(unsigned char)(sid >> 16), (unsigned char)(sid >> 8),
		(unsigned char)sid};
	cl_send(fd, h, 9);
	if (len)
		cl_send(fd, p, len);
}

static void recv_all(int fd, void *buf, size_t len)
{
	char *b = buf;
	while (len) {
		ssize_t n = recv(fd, b, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail_msg("connection ended or timed out (%zd, %s)", n,
				 strerror(errno));
		b += n;
		len -= (size_t)n;
	}
}

static void window_update(int fd, uint32_t sid, uint32_t inc)
{
	unsigned char p[4] = {(unsigned char)(inc >> 24),
			      (unsigned char)(inc >> 16),
			      (unsigned char)(inc >> 8), (unsigned char)inc};
	frame_send(fd, 8, 0, sid, p, 4);
}

/* The next frame that is not SETTINGS, PING or WINDOW_UPDATE (those are
 * acknowledged or taken), within the socket's receive timeout (10 s). */
static void frame_next(int fd, struct frame *f)
{
	unsigned char h[9];
	for (;;) {
		recv_all(fd, h, 9);
		f->len = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
		f->type = h[3];
		f->flags = h[4];
		f->sid = ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 |
			  (uint32_t)h[7] << 8 | h[8]) &
			 0x7fffffffu;
		assert_true(f->len <= sizeof(f->p));
		recv_all(fd, f->p, f->len);
		if (f->type == 4 && !(f->flags & 1))
			frame_send(fd, 4, 1, 0, NULL, 0);
		else if (f->type == 6 && !(f->flags & 1))
			frame_send(fd, 6, 1, 0, f->p, 8);
		else if (f->type != 4 && f->type != 6 && f->type != 8)
			return;
	}
}

/* The preface, empty SETTINGS (a stream window of 65535), and a
 * connection window opened wide: only the stream's window holds. */
static int raw_open(unsigned short port)
{
	static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	int fd = cl_connect(port);
	cl_send(fd, pre, sizeof(pre) - 1);
	frame_send(fd, 4, 0, 0, NULL, 0);
	window_update(fd, 0, 1u << 30);
	return fd;
}

/* GET @path on stream @sid (HPACK: static :method GET, :scheme http,
 * literal :authority and :path without indexing, RFC 7541 §6.2.2). */
static void raw_get(int fd, uint32_t sid, const char *path)
{
	unsigned char b[300];
	size_t n = 0, pl = strlen(path);
	b[n++] = 0x82;
	b[n++] = 0x86;
	b[n++] = 0x01;
	b[n++] = 9;
	memcpy(b + n, "127.0.0.1", 9);
	n += 9;
	b[n++] = 0x04;
	b[n++] = (unsigned char)pl;
	memcpy(b + n, path, pl);
	n += pl;
	frame_send(fd, 1, 0x5, sid, b, n); /* END_STREAM | END_HEADERS */
}

/* Read stream @sid's whole answer (other streams' frames counted into
 * @other_bytes): HEADERS with :status 200 (HPACK static index 8), then
 * DATA up to END_STREAM, its first @cap bytes into @body (if not NULL).
 * Return: the body's bytes. */
static size_t raw_body(int fd, uint32_t sid, size_t *other_bytes, char *body,
		       size_t cap)
{
	struct frame *f = malloc(sizeof(*f));
	size_t got = 0;
	int head = 0;

	assert_non_null(f);
	for (;;) {
		frame_next(fd, f);
		if (f->sid != sid) {
			if (f->type == 0 && other_bytes)
				*other_bytes += f->len;
			continue;
		}
		if (f->type == 1) {
			assert_int_equal(f->p[0], 0x88);
			head = 1;
		} else if (f->type == 0) {
			if (body && got < cap)
				memcpy(body + got, f->p,
				       f->len < cap - got ? f->len : cap - got);
			got += f->len;
		} else {
			fail_msg("frame type %u on stream %u", f->type, sid);
		}
		if (f->flags & 1)
			break;
	}
	free(f);
	assert_true(head);
	return got;
}

static size_t raw_answer(int fd, uint32_t sid, size_t *other_bytes)
{
	return raw_body(fd, sid, other_bytes, NULL, 0);
}

/* A file truncated while it is sent: the bytes it still has arrive, then
 * the stream is reset (INTERNAL_ERROR: the body is short of its
 * content-length, RFC 9113 §8.1.1); the connection serves the next
 * stream; no descriptor is left. */
static void test_h2_static_truncated_during_send(void **state)
{
	struct frame *f = malloc(sizeof(*f));
	char path[4400];
	size_t got = 0;
	uint32_t code = 0;
	int before = tu_count_fds(), fd, head = 0;
	struct srv s;

	(void)state;
	assert_non_null(f);
	snprintf(path, sizeof(path), "%s/tr.bin", root);
	raw_start(&s, 60000, 1); /* no stall of the test's cut it */
	fd = raw_open(s.port);
	raw_get(fd, 1, "/tr.bin");
	/* the stream's window (65535) is all it may send */
	while (got < 65535) {
		frame_next(fd, f);
		assert_int_equal(f->sid, 1);
		if (f->type == 1)
			head = 1;
		else if (f->type == 0)
			got += f->len;
		else
			fail_msg("frame type %u", f->type);
	}
	assert_true(head);
	assert_int_equal(got, 65535);
	assert_int_equal(truncate(path, 100000), 0);
	window_update(fd, 1, 1u << 30);
	for (;;) {
		frame_next(fd, f);
		assert_int_equal(f->sid, 1);
		if (f->type == 0) {
			assert_false(f->flags & 1); /* never a clean end */
			got += f->len;
			continue;
		}
		assert_int_equal(f->type, 3); /* RST_STREAM */
		code = (uint32_t)f->p[0] << 24 | (uint32_t)f->p[1] << 16 |
		       (uint32_t)f->p[2] << 8 | f->p[3];
		break;
	}
	assert_int_equal(code, 2); /* INTERNAL_ERROR */
	assert_int_equal(got, 100000);
	raw_get(fd, 3, "/s4095.bin");
	assert_int_equal(raw_answer(fd, 3, NULL), 4095);
	close(fd);
	free(f);
	raw_stop(&s);
	put("tr.bin", (1u << 20) + 1, 31);
	assert_int_equal(tu_count_fds(), before);
}

/* A reader whose stream window stays closed: the other streams are
 * served meanwhile, and the stalled one is reset at the write limit (1 s)
 * instead of holding its file forever; the connection goes on. */
static void test_h2_static_stalled_reader_reset(void **state)
{
	struct frame *f = malloc(sizeof(*f));
	size_t stalled = 0;
	uint32_t code = 0;
	int before = tu_count_fds(), fd;
	struct srv s;

	(void)state;
	assert_non_null(f);
	raw_start(&s, 1000, 1);
	fd = raw_open(s.port);
	raw_get(fd, 1, "/s1048577.bin");
	raw_get(fd, 3, "/s16384.bin");
	assert_int_equal(raw_answer(fd, 3, &stalled), 16384);
	for (;;) {
		frame_next(fd, f);
		assert_int_equal(f->sid, 1);
		if (f->type == 0 || f->type == 1) {
			assert_false(f->flags & 1);
			stalled += f->type == 0 ? f->len : 0;
			continue;
		}
		assert_int_equal(f->type, 3);
		code = (uint32_t)f->p[0] << 24 | (uint32_t)f->p[1] << 16 |
		       (uint32_t)f->p[2] << 8 | f->p[3];
		break;
	}
	assert_int_equal(stalled, 65535);
	assert_int_equal(code, 8); /* CANCEL */
	raw_get(fd, 5, "/s4095.bin");
	assert_int_equal(raw_answer(fd, 5, NULL), 4095);
	close(fd);
	free(f);
	raw_stop(&s);
	assert_int_equal(tu_count_fds(), before);
}

/* A reader that stops reading the socket with its windows wide open:
 * the server's send makes no progress, and at the write limit (1 s) the
 * connection is cut (its descriptor closed: counted in this process,
 * where the server runs), as over HTTP/1.1. */
static void test_h2_static_stalled_socket_cut(void **state)
{
	static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const unsigned char win[6] = {0, 4, 0x7f, 0xff, 0xff, 0xff};
	struct sockaddr_in a;
	int before, base, fd, small = 4096;
	uint64_t end;
	struct srv s;

	(void)state;
	before = tu_count_fds();
	raw_start(&s, 1000, 0); /* no descriptor kept by a cache */
	base = tu_count_fds();
	a = tu_addr(s.port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cl_send(fd, pre, sizeof(pre) - 1);
	frame_send(fd, 4, 0, 0, win, sizeof(win)); /* INITIAL_WINDOW_SIZE */
	window_update(fd, 0, 0x7fffffffu - 65535);
	/* ours and the server's end of the connection */
	end = tu_mono_ns() + 10000 * MS;
	while (tu_count_fds() < base + 2 && tu_mono_ns() < end)
		poll(NULL, 0, 10);
	assert_int_equal(tu_count_fds(), base + 2);
	/* 8 MiB asked for, never read: more than the socket buffers hold */
	for (uint32_t sid = 1; sid <= 15; sid += 2)
		raw_get(fd, sid, "/s1048577.bin");
	/* cut: the server's end and its files closed, ours left */
	end = tu_mono_ns() + 15000 * MS;
	while (tu_count_fds() != base + 1 && tu_mono_ns() < end)
		poll(NULL, 0, 20);
	assert_int_equal(tu_count_fds(), base + 1);
	close(fd);
	raw_stop(&s);
	assert_int_equal(tu_count_fds(), before);
}

/* The open-file cache over HTTP/2 (on by default, shared with HTTP/1.1):
 * a small file is served again from the cache's copy; rewritten in place
 * (the same size), it is served new once inotify told the cache. */
static void test_h2_static_file_cache(void **state)
{
	struct coil_http_server_stats st;
	char path[4400], body[4000], want[4000];
	uint64_t end;
	uint32_t sid = 1;
	int before = tu_count_fds(), fd, wfd, fresh = 0;
	struct srv s;

	(void)state;
	snprintf(path, sizeof(path), "%s/c.bin", root);
	wfd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(wfd >= 0);
	memset(want, 'A', sizeof(want));
	assert_int_equal(pwrite(wfd, want, sizeof(want), 0), sizeof(want));
	raw_start(&s, 60000, 1);
	fd = raw_open(s.port);
	for (int i = 0; i < 3; i++, sid += 2) {
		raw_get(fd, sid, "/c.bin");
		assert_int_equal(raw_body(fd, sid, NULL, body, sizeof(body)),
				 sizeof(body));
		assert_memory_equal(body, want, sizeof(body));
	}
	memset(want, 'B', sizeof(want));
	assert_int_equal(pwrite(wfd, want, sizeof(want), 0), sizeof(want));
	close(wfd);
	/* the change reaches the cache through its inotify poll: the old
	 * content whole until then, the new one whole after */
	end = tu_mono_ns() + 5000 * MS;
	while (!fresh && tu_mono_ns() < end && sid < 1000) {
		raw_get(fd, sid, "/c.bin");
		assert_int_equal(raw_body(fd, sid, NULL, body, sizeof(body)),
				 sizeof(body));
		fresh = !memcmp(body, want, sizeof(body));
		if (!fresh) {
			memset(want, 'A', sizeof(want));
			assert_memory_equal(body, want, sizeof(body));
			memset(want, 'B', sizeof(want));
			poll(NULL, 0, 10);
		}
		sid += 2;
	}
	assert_true(fresh);
	close(fd);
	assert_int_equal(srv_stop(&s, 2000, &st), 0);
	close(root_fd);
	root_fd = -1;
	assert_true(st.file_cache_hits >= 2);
	assert_true(st.file_cache_drops >= 1);
	/* the new content, read whole once and kept for the next */
	assert_int_equal(st.file_cache_bytes, sizeof(body));
	unlink(path);
	assert_int_equal(tu_count_fds(), before);
}

/* coil-serve holds as many descriptors as before all the tests. */
static void test_h2_static_fds_back(void **state)
{
	(void)state;
	assert_int_equal(proc_fds_settled(h2c.pid), fds_start);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_h2_static_sizes_h2c),
		cmocka_unit_test(test_h2_static_sizes_tls_one_connection),
		cmocka_unit_test(test_h2_static_head_fields_validators),
		cmocka_unit_test(test_h2_static_ranges),
		cmocka_unit_test(test_h2_static_405_301_index),
		cmocka_unit_test(test_h2_static_autoindex),
		cmocka_unit_test(test_h2_static_h2load_access_log),
		cmocka_unit_test(test_h2_static_h2load_large_tls),
		cmocka_unit_test(test_h2_static_nghttp_window),
		cmocka_unit_test(test_h2_static_truncated_during_send),
		cmocka_unit_test(test_h2_static_stalled_reader_reset),
		cmocka_unit_test(test_h2_static_stalled_socket_cut),
		cmocka_unit_test(test_h2_static_file_cache),
		cmocka_unit_test(test_h2_static_fds_back),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("serve.h2_static", tests, setup,
					   teardown);
}
