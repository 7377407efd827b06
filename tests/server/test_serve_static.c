/*
 * tests/server/test_serve_static.c - coil-serve as a static file server,
 * through curl (peer), beside nginx serving the same directory: index.html
 * over the built-in "/", the built-ins under /_coil; ETag and
 * Last-Modified equal to nginx's; 304 and 412 for the conditional
 * requests; single ranges (206, 416) byte for byte on both of the
 * server's paths (sendfile and read + send, from the page cache and not,
 * and from the open-file cache's descriptors and contents);
 * 405 with Allow; 301 with nginx's Location; 403 and 404 as nginx;
 * --autoindex listings; the access log in nginx's combined format, line
 * for line beside nginx's own. Exits 77 without curl or nginx.
 */
#include "peer.h"
#include "client/nginx.h"

static char *tmp;     /* our files: logs, downloads */
static struct ngx ng; /* nginx; its root is the root every server serves */
static struct served srv_a; /* --root, sendfile (default), access log */
/* --root --autoindex --sendfile-min off --file-cache on: read + send,
 * and the open-file cache's descriptors and small files' contents (on by
 * default: srv_a has it too) */
static struct served srv_b;
static char serve_log[4200], nginx_log[4200];

static void put_file(const char *name, size_t len, unsigned seed)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", ng.root, name);
	make_file(path, len, seed);
}

static void put_dir(const char *name)
{
	char path[1200];
	snprintf(path, sizeof(path), "%s/%s", ng.root, name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
	char extra[8192];
	const char *a_args[] = {"-t",		"1",	   "--root", ng.root,
				"--access-log", serve_log, NULL};
	const char *b_args[] = {"-t",	       "1",
				"--root",      ng.root,
				"--autoindex", "--sendfile-min",
				"off",	       "--file-cache",
				"on",	       "--file-cache-mem",
				"16m",	       NULL};

	(void)state;
	require_prog("curl");
	if (!ngx_bin()) {
		fprintf(stderr, "skip: nginx is not installed\n");
		exit(COIL_SKIP);
	}
	tmp = tu_tmpdir();
	snprintf(serve_log, sizeof(serve_log), "%s/serve.log", tmp);
	snprintf(nginx_log, sizeof(nginx_log), "%s/ngx.log", tmp);
	/* RFC 9110 §13.1.3's If-Modified-Since (not nginx's "exact"), a
	 * listing under /listing/ only, and the combined log */
	snprintf(extra, sizeof(extra),
		 "    if_modified_since before;\n"
		 "    access_log %s combined;\n"
		 "    location /listing/ { autoindex on; }\n",
		 nginx_log);
	ngx_start(&ng, extra);
	put_file("index.html", 1000, 1);
	put_file("small.txt", 100, 2);
	put_file("f4k.bin", 4096, 3);
	put_file("f64k.bin", 65536 + 13, 4);
	put_file("big.bin", (3u << 20) + 77, 5);
	put_file("empty.txt", 0, 6);
	put_dir("sub");
	put_file("sub/index.html", 321, 7);
	put_dir("noindex");
	put_file("noindex/a.txt", 10, 8);
	put_dir("listing");
	put_file("listing/a b.txt", 11, 9);
	put_file("listing/<tag>&amp;.html", 12, 10);
	put_file("listing/q\"uote's.txt", 13, 11);
	put_file("listing/\xc3\xbcnicode.txt", 14, 12);
	put_file("listing/100%.bin", 15, 13);
	put_file("listing/.hidden", 16, 14);
	put_file("listing/Zeta", 17, 15);
	put_dir("listing/zdir");
	put_dir("listing/adir");
	serve_start(&srv_a, NULL, a_args);
	serve_start(&srv_b, NULL, b_args);
	return 0;
}

static int teardown(void **state)
{
	int rc = serve_stop(&srv_b, 10000) == 0 ? 0 : -1;
	(void)state;
	ngx_clean(&ng);
	if (serve_teardown(&srv_a, tmp) != 0)
		rc = -1;
	return rc;
}

static char *ngx_url(const char *path)
{
	static char buf[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "http://127.0.0.1:%u%s",
		 (unsigned)ng.port, path);
	return buf[i];
}

/* ---- curl ---- */

struct got {
	int status;
	char *head; /* the last response head curl printed */
	char body_path[4300];
};

/* curl -s -D - -o BODY [args] URL: the status, head and body of the
 * answer (the last one, when curl followed redirects). */
static void fetch(struct got *g, const char *url, const char *const args[])
{
	char *argv[48];
	int n = 0;
	char *out, *last, *p;
	static int seq;

	snprintf(g->body_path, sizeof(g->body_path), "%s/body.%d", tmp, seq++);
	argv[n++] = "curl";
	argv[n++] = "-s";
	argv[n++] = "-D";
	argv[n++] = "-";
	argv[n++] = "-o";
	argv[n++] = g->body_path;
	for (size_t i = 0; args && args[i]; i++)
		argv[n++] = (char *)args[i];
	argv[n++] = (char *)url;
	argv[n] = NULL;
	assert_int_equal(run(argv, NULL, &out, 20000), 0);
	last = out;
	for (p = out; (p = strstr(p, "HTTP/1.")); p++)
		last = p;
	assert_int_equal(sscanf(last, "HTTP/1.%*d %d", &g->status), 1);
	g->head = strdup(last);
	free(out);
}

static void got_free(struct got *g)
{
	free(g->head);
	unlink(g->body_path);
}

/* The value of field @name in @g's head ("" when absent), in one of
 * four static buffers. */
static const char *hval(const struct got *g, const char *name)
{
	static char buf[4][1024];
	static int i;
	char want[128];
	const char *p = g->head;
	size_t n;

	i = (i + 1) % 4;
	buf[i][0] = '\0';
	snprintf(want, sizeof(want), "\n%s:", name);
	while ((p = strcasestr(p, want))) {
		p += strlen(want);
		while (*p == ' ')
			p++;
		n = strcspn(p, "\r\n");
		if (n >= sizeof(buf[i]))
			n = sizeof(buf[i]) - 1;
		memcpy(buf[i], p, n);
		buf[i][n] = '\0';
		break;
	}
	return buf[i];
}

/* @g's body as a string (malloc'd). */
static char *body_text(const struct got *g)
{
	int fd = open(g->body_path, O_RDONLY | O_CLOEXEC);
	char *b = calloc(1, 1 << 20);
	ssize_t n = fd >= 0 ? read(fd, b, (1 << 20) - 1) : 0;
	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	b[n] = '\0';
	return b;
}

/* Whether @g's body is @len bytes of file @name from @off. */
static int body_is_slice(const struct got *g, const char *name, uint64_t off,
			 uint64_t len)
{
	char path[1200];
	int f, b, same = 1;
	char x[65536], y[65536];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", ng.root, name);
	f = open(path, O_RDONLY | O_CLOEXEC);
	b = open(g->body_path, O_RDONLY | O_CLOEXEC);
	assert_true(f >= 0);
	if (b < 0) /* curl writes no file for an empty body */
		return len == 0;
	assert_int_equal(fstat(b, &st), 0);
	if ((uint64_t)st.st_size != len)
		same = 0;
	while (same && len) {
		size_t n = len < sizeof(x) ? (size_t)len : sizeof(x);
		if (pread(f, x, n, (off_t)off) != (ssize_t)n ||
		    read(b, y, n) != (ssize_t)n || memcmp(x, y, n) != 0)
			same = 0;
		off += n;
		len -= n;
	}
	close(f);
	close(b);
	return same;
}

static void drop_cache(const char *name)
{
	char path[1200];
	int fd;
	snprintf(path, sizeof(path), "%s/%s", ng.root, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	fdatasync(fd);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
}

/* ---- index.html, the built-ins ---- */

static void test_static_index_wins_builtins_under_prefix(void **state)
{
	struct got g;
	char *t, root2[1200];
	const char *c_args[] = {"-t", "1", "--root", root2, NULL};
	const char *d_args[] = {"-t", "1", NULL};
	struct served sc, sd;

	(void)state;
	/* index.html under --root wins over the built-in "/", as nginx */
	fetch(&g, serve_url(&srv_a, "/"), NULL);
	assert_int_equal(g.status, 200);
	assert_true(body_is_slice(&g, "index.html", 0, 1000));
	assert_string_equal(hval(&g, "Content-Type"),
			    "text/html; charset=utf-8");
	got_free(&g);
	fetch(&g, ngx_url("/"), NULL);
	assert_int_equal(g.status, 200);
	assert_true(body_is_slice(&g, "index.html", 0, 1000));
	got_free(&g);
	/* the built-ins under /_coil */
	fetch(&g, serve_url(&srv_a, "/_coil/"), NULL);
	t = body_text(&g);
	assert_string_equal(t, "Hello, World!");
	free(t);
	got_free(&g);
	fetch(&g, serve_url(&srv_a, "/_coil/bytes/10"), NULL);
	t = body_text(&g);
	assert_string_equal(t, "abcdefghij");
	free(t);
	got_free(&g);
	fetch(&g, serve_url(&srv_a, "/_coil/status/418"), NULL);
	assert_int_equal(g.status, 418);
	got_free(&g);
	fetch(&g, serve_url(&srv_a, "/_coil/nothing"), NULL);
	assert_int_equal(g.status, 404);
	got_free(&g);
	/* with --root, the old paths are the files' */
	fetch(&g, serve_url(&srv_a, "/bytes/10"), NULL);
	assert_int_equal(g.status, 404);
	got_free(&g);

	/* a root without index.html: "/" is the built-in page */
	snprintf(root2, sizeof(root2), "%s/noindex", ng.root);
	serve_start(&sc, NULL, c_args);
	fetch(&g, serve_url(&sc, "/"), NULL);
	t = body_text(&g);
	assert_string_equal(t, "Hello, World!");
	free(t);
	got_free(&g);
	fetch(&g, serve_url(&sc, "/a.txt"), NULL);
	assert_int_equal(g.status, 200);
	assert_true(body_is_slice(&g, "noindex/a.txt", 0, 10));
	got_free(&g);
	assert_int_equal(serve_stop(&sc, 10000), 0);

	/* no --root: the old paths and the prefixed ones */
	serve_start(&sd, NULL, d_args);
	fetch(&g, serve_url(&sd, "/bytes/3"), NULL);
	t = body_text(&g);
	assert_string_equal(t, "abc");
	free(t);
	got_free(&g);
	fetch(&g, serve_url(&sd, "/_coil/bytes/3"), NULL);
	t = body_text(&g);
	assert_string_equal(t, "abc");
	free(t);
	got_free(&g);
	fetch(&g, serve_url(&sd, "/"), NULL);
	t = body_text(&g);
	assert_string_equal(t, "Hello, World!");
	free(t);
	got_free(&g);
	assert_int_equal(serve_stop(&sd, 10000), 0);
}

/* ---- validators, conditional requests ---- */

static void test_static_validators_equal_nginx(void **state)
{
	static const char *const files[] = {"/index.html", "/small.txt",
					    "/f4k.bin",	   "/f64k.bin",
					    "/big.bin",	   "/empty.txt"};
	const char *head[] = {"-I", NULL};

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct got c, n;
		fetch(&c, serve_url(&srv_a, files[i]), head);
		fetch(&n, ngx_url(files[i]), head);
		assert_int_equal(c.status, 200);
		assert_int_equal(n.status, 200);
		if (strcmp(hval(&c, "ETag"), hval(&n, "ETag")) != 0 ||
		    hval(&c, "ETag")[0] != '"')
			fail_msg("%s: ETag %s, nginx %s", files[i],
				 hval(&c, "ETag"), hval(&n, "ETag"));
		assert_string_equal(hval(&c, "Last-Modified"),
				    hval(&n, "Last-Modified"));
		assert_string_equal(hval(&c, "Content-Length"),
				    hval(&n, "Content-Length"));
		assert_string_equal(hval(&c, "Accept-Ranges"), "bytes");
		assert_string_equal(hval(&n, "Accept-Ranges"), "bytes");
		got_free(&c);
		got_free(&n);
	}
}

/* Run curl with header @h1 (and @h2, may be NULL) against both servers:
 * the same status, which must be @want. */
static void cond_both(const char *path, const char *h1, const char *h2,
		      int want)
{
	const char *args[] = {"-H", h1, h2 ? "-H" : NULL, h2, NULL};
	struct got c, n;

	fetch(&c, serve_url(&srv_a, path), args);
	fetch(&n, ngx_url(path), args);
	if (c.status != want || n.status != want)
		fail_msg("%s with '%s' '%s': coil-serve %d, nginx %d, want %d",
			 path, h1, h2 ? h2 : "", c.status, n.status, want);
	if (want == 304) {
		/* no body; the validators again (RFC 9110 §15.4.5) */
		struct stat st;
		assert_true(stat(c.body_path, &st) != 0 || st.st_size == 0);
		assert_string_equal(hval(&c, "ETag"), hval(&n, "ETag"));
		assert_string_equal(hval(&c, "Last-Modified"),
				    hval(&n, "Last-Modified"));
	}
	got_free(&c);
	got_free(&n);
}

static void test_static_conditionals_304_412(void **state)
{
	const char *head[] = {"-I", NULL};
	char etag[256], lm[256], inm[300], weak[300], other[300], ims[300],
		old[300], ius_old[300], im[300];
	struct got g;

	(void)state;
	fetch(&g, serve_url(&srv_a, "/f4k.bin"), head);
	snprintf(etag, sizeof(etag), "%s", hval(&g, "ETag"));
	snprintf(lm, sizeof(lm), "%s", hval(&g, "Last-Modified"));
	got_free(&g);
	snprintf(inm, sizeof(inm), "If-None-Match: \"x\", %s", etag);
	snprintf(weak, sizeof(weak), "If-None-Match: W/%s", etag);
	snprintf(other, sizeof(other), "If-None-Match: \"1-2\"");
	snprintf(ims, sizeof(ims), "If-Modified-Since: %s", lm);
	snprintf(old, sizeof(old),
		 "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT");
	snprintf(ius_old, sizeof(ius_old),
		 "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT");
	snprintf(im, sizeof(im), "If-Match: \"1-2\"");

	cond_both("/f4k.bin", inm, NULL, 304);
	cond_both("/f4k.bin", weak, NULL, 304);
	cond_both("/f4k.bin", "If-None-Match: *", NULL, 304);
	cond_both("/f4k.bin", other, NULL, 200);
	cond_both("/f4k.bin", ims, NULL, 304);
	cond_both("/f4k.bin",
		  "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT", NULL,
		  304);
	cond_both("/f4k.bin", old, NULL, 200);
	cond_both("/f4k.bin", "If-Modified-Since: yesterday", NULL, 200);
	/* If-None-Match decides when both are there (a mismatch: 200) */
	cond_both("/f4k.bin", other, ims, 200);
	cond_both("/f4k.bin", im, NULL, 412);
	cond_both("/f4k.bin", ius_old, NULL, 412);
	snprintf(im, sizeof(im), "If-Match: %s", etag);
	cond_both("/f4k.bin", im, NULL, 200);
	/* RFC 9110 §13.2.2: If-None-Match matching gives 304 even with an
	 * older If-Modified-Since (nginx requires both to hold: 200) */
	{
		const char *args[] = {"-H", inm, "-H", old, NULL};
		fetch(&g, serve_url(&srv_a, "/f4k.bin"), args);
		assert_int_equal(g.status, 304);
		got_free(&g);
	}
	/* a HEAD is conditional too */
	{
		const char *args[] = {"-I", "-H", inm, NULL};
		fetch(&g, serve_url(&srv_a, "/f4k.bin"), args);
		assert_int_equal(g.status, 304);
		got_free(&g);
	}
}

/* ---- ranges ---- */

static const struct {
	const char *file;
	uint64_t size;
} rfiles[] = {
	{"/small.txt", 100},
	{"/f4k.bin", 4096},
	{"/f64k.bin", 65536 + 13},
	{"/big.bin", (3u << 20) + 77},
};

static const char *const rspecs[] = {
	"bytes=0-0",	   "bytes=0-99",   "bytes=10-",
	"bytes=-1",	   "bytes=-500",   "bytes=5-5000000",
	"bytes=4095-4096", "bytes=100-",   "bytes=99-99",
	"bytes=-99999999", "bytes=65536-", "bytes=1000-2999999",
	"bytes=3145800-",  "bytes=0-",	   "bytes= 7-8",
	"bytes=9999999-",
};

/* One range on coil-serve @sv: status and Content-Range as nginx's, and
 * the body the bytes Content-Range names. */
static void range_one(struct served *sv, const char *file, uint64_t size,
		      const char *spec)
{
	char h[128];
	const char *args[] = {"-H", h, NULL};
	struct got c, n;

	snprintf(h, sizeof(h), "Range: %s", spec);
	fetch(&c, serve_url(sv, file), args);
	fetch(&n, ngx_url(file), args);
	if (c.status != n.status ||
	    strcmp(hval(&c, "Content-Range"), hval(&n, "Content-Range")))
		fail_msg("%s %s: coil-serve %d '%s', nginx %d '%s'", file, spec,
			 c.status, hval(&c, "Content-Range"), n.status,
			 hval(&n, "Content-Range"));
	if (c.status == 206) {
		unsigned long long a, b, len;
		assert_int_equal(sscanf(hval(&c, "Content-Range"),
					"bytes %llu-%llu/%llu", &a, &b, &len),
				 3);
		assert_int_equal(len, size);
		if (!body_is_slice(&c, file + 1, a, b - a + 1))
			fail_msg("%s %s: body is not bytes %llu-%llu", file,
				 spec, a, b);
	} else if (c.status == 416) {
		char want[64];
		snprintf(want, sizeof(want), "bytes */%llu",
			 (unsigned long long)size);
		assert_string_equal(hval(&c, "Content-Range"), want);
	} else {
		assert_int_equal(c.status, 200);
		assert_true(body_is_slice(&c, file + 1, 0, size));
	}
	got_free(&c);
	got_free(&n);
}

static void test_static_ranges_byte_for_byte(void **state)
{
	(void)state;
	for (size_t f = 0; f < sizeof(rfiles) / sizeof(rfiles[0]); f++) {
		for (size_t r = 0; r < sizeof(rspecs) / sizeof(rspecs[0]);
		     r++) {
			/* sendfile from the page cache, then from the
			 * disk (read + send from where the cache ends) */
			range_one(&srv_a, rfiles[f].file, rfiles[f].size,
				  rspecs[r]);
			if (r % 4 == 0) {
				drop_cache(rfiles[f].file + 1);
				range_one(&srv_a, rfiles[f].file,
					  rfiles[f].size, rspecs[r]);
			}
			/* read + send only */
			range_one(&srv_b, rfiles[f].file, rfiles[f].size,
				  rspecs[r]);
		}
	}
}

static void test_static_ranges_known_answers(void **state)
{
	struct got g;
	char etag[256], ifr[300];
	const char *head[] = {"-I", NULL};

	(void)state;
	{
		const char *args[] = {"-H", "Range: bytes=-1", NULL};
		fetch(&g, serve_url(&srv_a, "/small.txt"), args);
		assert_int_equal(g.status, 206);
		assert_string_equal(hval(&g, "Content-Range"),
				    "bytes 99-99/100");
		assert_string_equal(hval(&g, "Content-Length"), "1");
		assert_true(body_is_slice(&g, "small.txt", 99, 1));
		got_free(&g);
	}
	{
		/* an empty file has no satisfiable range */
		const char *args[] = {"-H", "Range: bytes=0-", NULL};
		fetch(&g, serve_url(&srv_a, "/empty.txt"), args);
		assert_int_equal(g.status, 416);
		assert_string_equal(hval(&g, "Content-Range"), "bytes */0");
		got_free(&g);
	}
	{
		/* several ranges: the whole file, 200 (nginx sends
		 * multipart/byteranges) */
		const char *args[] = {"-H", "Range: bytes=0-1,5-6", NULL};
		fetch(&g, serve_url(&srv_a, "/small.txt"), args);
		assert_int_equal(g.status, 200);
		assert_true(body_is_slice(&g, "small.txt", 0, 100));
		got_free(&g);
	}
	{
		const char *args[] = {"-H", "Range: bytes=500-600,700-", NULL};
		fetch(&g, serve_url(&srv_a, "/small.txt"), args);
		assert_int_equal(g.status, 416);
		got_free(&g);
	}
	{
		/* not bytes, or not a range: ignored */
		const char *args[] = {"-H", "Range: lines=1-2", "-H", "X-A: b",
				      NULL};
		const char *bad[] = {"-H", "Range: bytes=5-1", NULL};
		fetch(&g, serve_url(&srv_a, "/small.txt"), args);
		assert_int_equal(g.status, 200);
		got_free(&g);
		fetch(&g, serve_url(&srv_a, "/small.txt"), bad);
		assert_int_equal(g.status, 200);
		assert_true(body_is_slice(&g, "small.txt", 0, 100));
		got_free(&g);
	}
	{
		/* HEAD: Range ignored (RFC 9110 §14.2: GET only) */
		const char *args[] = {"-I", "-H", "Range: bytes=0-9", NULL};
		fetch(&g, serve_url(&srv_a, "/small.txt"), args);
		assert_int_equal(g.status, 200);
		assert_string_equal(hval(&g, "Content-Length"), "100");
		got_free(&g);
	}
	/* If-Range: the current ETag or date lets the range apply, another
	 * gives the whole file; as nginx */
	fetch(&g, serve_url(&srv_a, "/f4k.bin"), head);
	snprintf(etag, sizeof(etag), "If-Range: %s", hval(&g, "ETag"));
	snprintf(ifr, sizeof(ifr), "If-Range: %s", hval(&g, "Last-Modified"));
	got_free(&g);
	{
		const char *const hs[] = {
			etag, ifr, "If-Range: \"0-0\"",
			"If-Range: Sun, 06 Nov 1994 08:49:37 GMT"};
		const int want[] = {206, 206, 200, 200};
		for (int i = 0; i < 4; i++) {
			const char *args[] = {"-H", "Range: bytes=10-19", "-H",
					      hs[i], NULL};
			struct got n;
			fetch(&g, serve_url(&srv_a, "/f4k.bin"), args);
			fetch(&n, ngx_url("/f4k.bin"), args);
			if (g.status != want[i] || n.status != want[i])
				fail_msg("%s: coil-serve %d nginx %d", hs[i],
					 g.status, n.status);
			if (want[i] == 206)
				assert_true(
					body_is_slice(&g, "f4k.bin", 10, 10));
			else
				assert_true(
					body_is_slice(&g, "f4k.bin", 0, 4096));
			got_free(&g);
			got_free(&n);
		}
	}
}

/* ---- methods, redirects, 403/404 ---- */

static void test_static_methods_405_with_allow(void **state)
{
	static const char *const methods[] = {"PUT",  "DELETE", "OPTIONS",
					      "POST", "PATCH",	"PROPFIND"};
	static const char *const paths[] = {"/small.txt", "/sub/", "/sub", "/"};

	(void)state;
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
		for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
			const char *args[] = {"-X", methods[m], NULL};
			struct got c, n;
			/* nginx redirects a POST to a directory without its
			 * '/' before it refuses the method */
			int nwant =
				strcmp(methods[m], "POST") == 0 &&
						strcmp(paths[p], "/sub") == 0
					? 301
					: 405;
			fetch(&c, serve_url(&srv_a, paths[p]), args);
			fetch(&n, ngx_url(paths[p]), args);
			if (c.status != 405 || n.status != nwant)
				fail_msg("%s %s: coil-serve %d, nginx %d",
					 methods[m], paths[p], c.status,
					 n.status);
			assert_string_equal(hval(&c, "Allow"), "GET, HEAD");
			got_free(&c);
			got_free(&n);
		}
	}
	/* a body with it is read and dropped; the connection goes on */
	{
		char *out;
		assert_int_equal(
			curl_each((const char *const[]){"--http1.1", "-X",
							"PUT", "--data",
							"hello", NULL},
				  "%{http_code} %{num_connects}\n",
				  (const char *const[]){
					  serve_url(&srv_a, "/small.txt"),
					  serve_url(&srv_a, "/f4k.bin"), NULL},
				  &out, 20000),
			0);
		assert_string_equal(out, "405 1\n405 0\n");
		free(out);
	}
}

static void test_static_redirect_301_as_nginx(void **state)
{
	static const char *const paths[] = {"/sub", "/sub?x=1&y=%20",
					    "/noindex", "/listing/zdir"};
	char want[512], nwant[512];

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct got c, n;
		const char *q = strchr(paths[i], '?');
		size_t plen = q ? (size_t)(q - paths[i]) : strlen(paths[i]);
		fetch(&c, serve_url(&srv_a, paths[i]), NULL);
		fetch(&n, ngx_url(paths[i]), NULL);
		assert_int_equal(c.status, 301);
		assert_int_equal(n.status, 301);
		/* the same but for the port */
		snprintf(want, sizeof(want), "%s%.*s/%s", srv_a.url, (int)plen,
			 paths[i], q ? q : "");
		snprintf(nwant, sizeof(nwant), "http://127.0.0.1:%u%.*s/%s",
			 (unsigned)ng.port, (int)plen, paths[i], q ? q : "");
		assert_string_equal(hval(&c, "Location"), want);
		assert_string_equal(hval(&n, "Location"), nwant);
		got_free(&c);
		got_free(&n);
	}
	/* followed: the directory's index.html */
	{
		const char *args[] = {"-L", NULL};
		struct got c;
		fetch(&c, serve_url(&srv_a, "/sub"), args);
		assert_int_equal(c.status, 200);
		assert_true(body_is_slice(&c, "sub/index.html", 0, 321));
		got_free(&c);
	}
	/* HTTP/1.0 without Host: a relative Location */
	{
		struct resp r;
		char v[256];
		assert_int_equal(
			cl_once(srv_a.port, "GET /sub HTTP/1.0\r\n\r\n", &r),
			0);
		assert_int_equal(r.status, 301);
		assert_string_equal(resp_field(&r, "Location", v, sizeof(v)),
				    "/sub/");
		free(r.body);
	}
}

static void test_static_403_404_as_nginx(void **state)
{
	static const struct {
		const char *path;
		int status;
	} cases[] = {
		{"/noindex/", 403},	 {"/missing", 404},
		{"/missing/", 404},	 {"/small.txt/", 404},
		{"/sub/", 200},		 {"/sub/index.html", 200},
		{"/noindex/a.txt", 200}, {"/noindex/b.txt", 404},
		{"/noindex", 301},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct got c, n;
		int want = cases[i].status;
		fetch(&c, serve_url(&srv_a, cases[i].path), NULL);
		fetch(&n, ngx_url(cases[i].path), NULL);
		if (c.status != want || n.status != want)
			fail_msg("%s: coil-serve %d, nginx %d", cases[i].path,
				 c.status, n.status);
		got_free(&c);
		got_free(&n);
	}
}

/* ---- --autoindex ---- */

/* The hrefs of a listing, decoded, one per line, in their order. */
static void hrefs(const char *html, char *out, size_t cap)
{
	const char *p = html;
	size_t n = 0;
	out[0] = '\0';
	while ((p = strstr(p, "<a href=\""))) {
		p += 9;
		while (*p && *p != '"' && n + 2 < cap) {
			if (*p == '%' && p[1] && p[2]) {
				char hx[3] = {p[1], p[2], 0};
				out[n++] = (char)strtol(hx, NULL, 16);
				p += 3;
			} else {
				out[n++] = *p++;
			}
		}
		out[n++] = '\n';
		out[n] = '\0';
	}
}

static void test_static_autoindex_listing(void **state)
{
	struct got c, n;
	char *ct, *nt, ch[4096], nh[4096];

	(void)state;
	fetch(&c, serve_url(&srv_b, "/listing/"), NULL);
	fetch(&n, ngx_url("/listing/"), NULL);
	assert_int_equal(c.status, 200);
	assert_int_equal(n.status, 200);
	assert_string_equal(hval(&c, "Content-Type"),
			    "text/html; charset=utf-8");
	ct = body_text(&c);
	nt = body_text(&n);
	/* the same entries in the same order: ../, directories, then the
	 * files by name; no dot files */
	hrefs(ct, ch, sizeof(ch));
	hrefs(nt, nh, sizeof(nh));
	assert_string_equal(ch, nh);
	assert_string_equal(ch, "../\nadir/\nzdir/\n100%.bin\n<tag>&amp;.html\n"
				"Zeta\na b.txt\nq\"uote's.txt\n"
				"\xc3\xbcnicode.txt\n");
	assert_null(strstr(ct, ".hidden"));
	/* names HTML-escaped in the text, percent-encoded in the href */
	assert_non_null(strstr(ct, ">&lt;tag&gt;&amp;amp;.html</a>"));
	assert_non_null(strstr(ct, "href=\"%3Ctag%3E%26amp;.html\""));
	assert_non_null(strstr(ct, "href=\"q%22uote%27s.txt\""));
	assert_non_null(strstr(ct, "href=\"100%25.bin\""));
	assert_non_null(strstr(ct, "href=\"a%20b.txt\""));
	assert_non_null(strstr(ct, "<title>Index of /listing/</title>"));
	/* sizes and a date as nginx shows them */
	assert_non_null(strstr(ct, "                 11\n"));
	{
		const char *z = strstr(ct, ">Zeta</a>");
		int d, y, hh, mm;
		char mon[4];
		unsigned long long size;
		assert_non_null(z);
		assert_int_equal(sscanf(z + 9, " %d-%3s-%d %d:%d %llu", &d, mon,
					&y, &hh, &mm, &size),
				 6);
		assert_int_equal(size, 17);
	}
	/* every href works */
	{
		const char *p = ct;
		int k = 0;
		while ((p = strstr(p, "<a href=\""))) {
			char path[160];
			struct got e;
			size_t len;
			p += 9;
			len = strcspn(p, "\"");
			if (strncmp(p, "../", 3) == 0)
				continue; /* ".." is refused (400) */
			snprintf(path, sizeof(path), "/listing/%.*s",
				 (int)(len < 140 ? len : 140), p);
			fetch(&e, serve_url(&srv_b, path), NULL);
			if (e.status != 200)
				fail_msg("%s: %d", path, e.status);
			got_free(&e);
			k++;
		}
		assert_int_equal(k, 8);
	}
	free(ct);
	free(nt);
	got_free(&c);
	got_free(&n);
	/* "/" lists the root (it has index.html: that wins) */
	fetch(&c, serve_url(&srv_b, "/noindex/"), NULL);
	ct = body_text(&c);
	assert_int_equal(c.status, 200);
	assert_non_null(strstr(ct, "<a href=\"a.txt\">a.txt</a>"));
	free(ct);
	got_free(&c);
	fetch(&c, serve_url(&srv_b, "/"), NULL);
	assert_true(body_is_slice(&c, "index.html", 0, 1000));
	got_free(&c);
}

/* ---- the access log ---- */

/* The line of @path holding @needle, waited for up to 5 s (coil-serve
 * writes its log at least once a second). */
static char *log_line(const char *path, const char *needle)
{
	uint64_t end = tu_mono_ns() + 5000 * MS;
	static char line[8192];
	do {
		FILE *f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			if (strstr(line, needle)) {
				fclose(f);
				return line;
			}
		}
		if (f)
			fclose(f);
		poll(NULL, 0, 50);
	} while (tu_mono_ns() < end);
	fail_msg("no line with '%s' in %s", needle, path);
	return NULL;
}

/* A line without its [time] field. */
static void untimed(const char *line, char *out, size_t cap)
{
	const char *a = strchr(line, '['), *b = a ? strchr(a, ']') : NULL;
	assert_non_null(b);
	snprintf(out, cap, "%.*s%s", (int)(a - line), line, b + 1);
}

static void test_static_access_log_combined_as_nginx(void **state)
{
	const char *args[] = {"-A", "agent \"quoted\" \\ back \xff end",
			      "-e", "http://ref.example/p?q=\"1\"",
			      "-H", "Range: bytes=0-9",
			      NULL};
	struct got c, n;
	char cl[8192], nl[8192], *l;
	int d, y, hh, mm, ss;
	char mon[4], zone[8];

	(void)state;
	fetch(&c, serve_url(&srv_a, "/small.txt?log=1"), args);
	fetch(&n, ngx_url("/small.txt?log=1"), args);
	got_free(&c);
	got_free(&n);
	l = log_line(serve_log, "/small.txt?log=1");
	/* $time_local: 05/Dec/2026:15:12:08 +0000 */
	assert_int_equal(sscanf(strchr(l, '['), "[%d/%3s/%d:%d:%d:%d %7[^]]]",
				&d, mon, &y, &hh, &mm, &ss, zone),
			 7);
	untimed(l, cl, sizeof(cl));
	untimed(log_line(nginx_log, "/small.txt?log=1"), nl, sizeof(nl));
	assert_string_equal(cl, nl);
	assert_string_equal(
		cl, "127.0.0.1 - -  \"GET /small.txt?log=1 HTTP/1.1\" 206 10 "
		    "\"http://ref.example/p?q=\\x221\\x22\" \"agent "
		    "\\x22quoted\\x22 \\x5C back \\xFF end\"\n");
	/* no Referer or User-Agent: "-", as nginx */
	{
		const char *bare[] = {"-A", "", NULL};
		fetch(&c, serve_url(&srv_a, "/f4k.bin?log=2"), bare);
		fetch(&n, ngx_url("/f4k.bin?log=2"), bare);
		got_free(&c);
		got_free(&n);
		untimed(log_line(serve_log, "/f4k.bin?log=2"), cl, sizeof(cl));
		untimed(log_line(nginx_log, "/f4k.bin?log=2"), nl, sizeof(nl));
		assert_string_equal(cl, nl);
		assert_non_null(strstr(cl, " 200 4096 \"-\" \"-\"\n"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_index_wins_builtins_under_prefix),
		cmocka_unit_test(test_static_validators_equal_nginx),
		cmocka_unit_test(test_static_conditionals_304_412),
		cmocka_unit_test(test_static_ranges_byte_for_byte),
		cmocka_unit_test(test_static_ranges_known_answers),
		cmocka_unit_test(test_static_methods_405_with_allow),
		cmocka_unit_test(test_static_redirect_301_as_nginx),
		cmocka_unit_test(test_static_403_404_as_nginx),
		cmocka_unit_test(test_static_autoindex_listing),
		cmocka_unit_test(test_static_access_log_combined_as_nginx),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("serve.static", tests, setup,
					   teardown);
}
