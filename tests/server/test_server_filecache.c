/*
 * tests/server/test_server_filecache.c - the open-file cache of
 * coil_http_serve_file() (opts.file_cache_valid_ns, http/filecache.h):
 * files of many sizes byte for byte against curl, from the page cache and
 * dropped from it before each download, on the sendfile and the read
 * paths, served again from the cache (its counters show the hits and the
 * contents held); a file changed on disk (rewritten in place, or replaced
 * by rename) is served new once the validity window has passed and every
 * answer before is the old file or the new one whole, never a mix; a
 * file deleted is 404 after the window; the memory cap and the entry cap
 * are honoured; a file truncated while it is sent, and a reader that
 * stalls, are still handled; descriptors all come back when the server
 * ends. Exits 77 without curl (the byte-for-byte case).
 */
#include "peer.h"

static char *dir;
static int root_fd = -1;

static void handler(struct coil_http_sreq *req, void *arg)
{
	(void)arg;
	coil_http_serve_file(req, root_fd);
}

static void start(struct srv *s, uint64_t valid_ms, size_t sendfile_min,
		  size_t mem, unsigned files)
{
	struct coil_http_server_opts o;

	memset(&o, 0, sizeof(o));
	o.handler = handler;
	o.file_cache_valid_ns = valid_ms * MS;
	o.sendfile_min_bytes = sendfile_min;
	o.file_cache_mem_bytes = mem;
	o.file_cache_files = files;
	o.write_timeout_ns = 2000 * MS;
	srv_start(s, &o, NULL);
}

static int setup(void **state)
{
	(void)state;
	dir = tu_tmpdir();
	root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(root_fd >= 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	close(root_fd);
	root_fd = -1;
	rm_tree(dir);
	free(dir);
	dir = NULL;
	return 0;
}

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* Write @len bytes of @fill at @name: in place (O_TRUNC), or to a temp
 * file renamed over it; flushed, so that the page cache can drop it. */
static void put_file(const char *name, size_t len, char fill, int by_rename)
{
	char path[4300], tmp[4310];
	char *b = malloc(len + 1);
	int fd;

	assert_non_null(b);
	memset(b, fill, len);
	path_of(path, sizeof(path), name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(by_rename ? tmp : path,
		  O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	assert_int_equal(fsync(fd), 0);
	close(fd);
	if (by_rename)
		assert_int_equal(rename(tmp, path), 0);
	free(b);
}

static void drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
}

/* GET /@name on a fresh connection. */
static void get(const struct srv *s, const char *name, struct resp *r)
{
	char req[256];
	snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", name);
	assert_int_equal(cl_once(s->port, req, r), 0);
}

/* A body all of @fill, @len long? */
static int body_all(const struct resp *r, size_t len, char fill)
{
	if (r->body_len != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (r->body[i] != fill)
			return 0;
	return 1;
}

static const size_t sizes[] = {
	0,     1,     100,   4095,  4096,  4097,  8000,
	16383, 16384, 16385, 65535, 65536, 65537, 1024 * 1024 + 3,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* curl fetching every file @rounds times on one connection, bodies
 * compared with the files; @drop: each file dropped from the page cache
 * before each of its downloads (one curl per download then). */
static void fetch_all(const struct srv *s, int rounds, int drop)
{
	for (size_t i = 0; i < NSIZES; i++) {
		for (int k = 0; k < rounds; k++) {
			char url[128], name[64], path[4300], out[4300];
			char *argv[8], *o;
			int rc;

			snprintf(name, sizeof(name), "s%zu.bin", sizes[i]);
			path_of(path, sizeof(path), name);
			path_of(out, sizeof(out), "out.bin");
			if (drop)
				drop_cache(path);
			snprintf(url, sizeof(url), "http://127.0.0.1:%u/%s",
				 s->port, name);
			argv[0] = (char *)"curl";
			argv[1] = (char *)"-sf";
			argv[2] = url;
			argv[3] = (char *)"-o";
			argv[4] = out;
			argv[5] = NULL;
			rc = run(argv, NULL, &o, 30000);
			if (rc != 0)
				fail_msg("curl %s: %d: %s", name, rc, o);
			free(o);
			if (!same_file(path, out))
				fail_msg("%s (round %d, %s) differs", name, k,
					 drop ? "uncached" : "cached");
		}
	}
}

static void check_sizes(size_t sendfile_min)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds();
	size_t held = 0;
	struct srv s;

	require_prog("curl");
	for (size_t i = 0; i < NSIZES; i++) {
		char name[64];
		snprintf(name, sizeof(name), "s%zu.bin", sizes[i]);
		put_file(name, sizes[i], (char)('a' + i), 0);
		/* contents are kept for files read whole in one read */
		if (sizes[i] &&
		    sizes[i] < (sendfile_min ? sendfile_min : 16 * 1024) &&
		    sizes[i] <= 64 * 1024)
			held += sizes[i];
	}
	start(&s, 60000, sendfile_min, 0, 0);
	fetch_all(&s, 3, 0);
	fetch_all(&s, 2, 1);
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	/* one open per file (the first), every later download a hit */
	assert_int_equal(st.file_cache_misses, NSIZES);
	assert_int_equal(st.file_cache_hits, NSIZES * 4);
	assert_int_equal(st.file_cache_files, NSIZES);
	assert_int_equal(st.file_cache_bytes, held);
	assert_int_equal(tu_count_fds(), before);
}

static void test_server_filecache_sizes_byte_for_byte(void **state)
{
	(void)state;
	check_sizes(0); /* sendfile from 16 KiB */
}

static void test_server_filecache_sizes_read_path(void **state)
{
	(void)state;
	check_sizes(SIZE_MAX); /* read + send: contents up to 64 KiB */
}

/*
 * @name (@len0 bytes of 'o') is served, then changed on disk to @len1
 * bytes of 'n' (in place or by rename): every answer is the old file or
 * the new one, whole; the new one comes within the window (plus slack
 * for a loaded machine), and not before the change.
 */
static void check_changed(const char *name, size_t len0, size_t len1,
			  int by_rename)
{
	const uint64_t valid_ms = 200;
	struct coil_http_server_stats st;
	int before = tu_count_fds(), old_seen = 0;
	uint64_t t0;
	struct resp r;
	struct srv s;

	put_file(name, len0, 'o', 0);
	start(&s, valid_ms, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		get(&s, name, &r);
		assert_int_equal(r.status, 200);
		assert_true(body_all(&r, len0, 'o'));
		free(r.body);
	}
	put_file(name, len1, 'n', by_rename);
	t0 = tu_mono_ns();
	for (;;) {
		get(&s, name, &r);
		assert_int_equal(r.status, 200);
		if (body_all(&r, len1, 'n')) {
			free(r.body);
			break;
		}
		if (!body_all(&r, len0, 'o'))
			fail_msg("%s: a body of %zu bytes, neither old nor new",
				 name, r.body_len);
		free(r.body);
		old_seen++;
		if (tu_mono_ns() - t0 > (valid_ms + 5000) * MS)
			fail_msg(
				"%s: still old %llu ms after the change", name,
				(unsigned long long)((tu_mono_ns() - t0) / MS));
		poll(NULL, 0, 10); /* pace the requests, not a wait */
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	/* the old file was served from the cache (the window is long against
	 * a request on this machine, but a stalled test may miss it) */
	assert_true(st.file_cache_hits >= 2);
	(void)old_seen;
	assert_int_equal(tu_count_fds(), before);
}

/* A small file's content is the cache's own copy: rewritten in place,
 * it is sent old and whole until the window ends. (A file sent from the
 * cached descriptor and rewritten in place within the window is read at
 * the cached length, as with nginx's open_file_cache: not checked here;
 * files are published by rename(2), below.) */
static void test_server_filecache_changed_in_place(void **state)
{
	(void)state;
	check_changed("small.txt", 3000, 2500, 0);
	check_changed("small1.txt", 3000, 5000, 0);
	check_changed("small3.txt", 3000, 3000, 0); /* mtime, ctime tell */
}

static void test_server_filecache_replaced_by_rename(void **state)
{
	(void)state;
	check_changed("small2.txt", 3000, 3000, 1); /* content cached */
	check_changed("big2.bin", 300 * 1024, 300 * 1024, 1); /* sendfile */
	check_changed("big3.bin", 300 * 1024, 200 * 1024, 1);
}

static void test_server_filecache_deleted_is_404(void **state)
{
	const uint64_t valid_ms = 200;
	struct coil_http_server_stats st;
	int before = tu_count_fds();
	const char *names[] = {"gone.txt", "gone.bin"};
	const size_t lens[] = {1000, 100 * 1024};
	char path[4300];
	uint64_t t0;
	struct resp r;
	struct srv s;

	start(&s, valid_ms, 0, 0, 0);
	for (int i = 0; i < 2; i++) {
		put_file(names[i], lens[i], 'g', 0);
		get(&s, names[i], &r);
		assert_int_equal(r.status, 200);
		free(r.body);
		path_of(path, sizeof(path), names[i]);
		assert_int_equal(unlink(path), 0);
		t0 = tu_mono_ns();
		for (;;) {
			get(&s, names[i], &r);
			if (r.status == 404) {
				free(r.body);
				break;
			}
			assert_int_equal(r.status, 200);
			assert_true(body_all(&r, lens[i], 'g'));
			free(r.body);
			assert_true(tu_mono_ns() - t0 < (valid_ms + 5000) * MS);
			poll(NULL, 0, 10);
		}
		/* and stays so */
		get(&s, names[i], &r);
		assert_int_equal(r.status, 404);
		free(r.body);
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.file_cache_files, 0); /* both entries dropped */
	assert_int_equal(tu_count_fds(), before);
}

/* Contents under a 10,000-byte cap: files of 4,000 bytes, at most two
 * held, the least recently used dropped; entries capped at 3. */
static void test_server_filecache_caps_honoured(void **state)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds();
	struct resp r;
	struct srv s;
	char name[32];

	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "m%d.txt", i);
		put_file(name, 4000, (char)('A' + i), 0);
	}
	/* memory: 5 entries, two contents */
	start(&s, 60000, 0, 10000, 0);
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 5; i++) {
			snprintf(name, sizeof(name), "m%d.txt", i);
			get(&s, name, &r);
			assert_int_equal(r.status, 200);
			assert_true(body_all(&r, 4000, (char)('A' + i)));
			free(r.body);
		}
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.file_cache_files, 5);
	assert_int_equal(st.file_cache_bytes, 8000);
	assert_int_equal(st.file_cache_hits, 10);
	assert_int_equal(tu_count_fds(), before);
	/* entries: at most 3 open, the others opened again each time */
	start(&s, 60000, 0, 0, 3);
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 5; i++) {
			snprintf(name, sizeof(name), "m%d.txt", i);
			get(&s, name, &r);
			assert_int_equal(r.status, 200);
			assert_true(body_all(&r, 4000, (char)('A' + i)));
			free(r.body);
		}
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.file_cache_files, 3);
	assert_int_equal(st.file_cache_hits, 0); /* LRU over 5 in turn */
	assert_int_equal(st.file_cache_misses, 10);
	assert_true(st.file_cache_bytes <= 3 * 4000);
	assert_int_equal(tu_count_fds(), before);
}

/*
 * A 32 MiB file, served once (cached), is truncated to 100 KiB while a
 * client reads it slowly: the response ends short and the connection
 * closes; within the window the server goes on; after it, the file is
 * served at its new length.
 */
static void test_server_filecache_truncated_while_sent(void **state)
{
	const uint64_t valid_ms = 300;
	int before = tu_count_fds(), fd, c, small = 4096;
	char big[4300], head[4096];
	size_t got = 0;
	struct srv s;
	struct resp r;
	ssize_t n;
	uint64_t t0;

	path_of(big, sizeof(big), "trunc.bin");
	fd = open(big, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 32 << 20), 0);
	close(fd);
	start(&s, valid_ms, 0, 0, 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	{
		struct sockaddr_in a = tu_addr(s.port);
		struct timeval tv = {5, 0};
		assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)),
				 0);
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	cl_sends(c, "GET /trunc.bin HTTP/1.1\r\nHost: x\r\n\r\n");
	while (got < 65536) {
		n = recv(c, head, sizeof(head), 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(truncate(big, 100 << 10), 0);
	t0 = tu_mono_ns();
	while ((n = recv(c, head, sizeof(head), 0)) > 0)
		got += (size_t)n;
	assert_true(n == 0 || errno == ECONNRESET);
	assert_true(tu_mono_ns() - t0 < 5000 * MS);
	assert_true(got < (32u << 20));
	close(c);
	/* after the window: the new length, whole */
	t0 = tu_mono_ns();
	for (;;) {
		struct cl_in *in = calloc(1, sizeof(*in));
		int fd2 = cl_connect(s.port), ret;
		assert_non_null(in);
		cl_sends(fd2, "GET /trunc.bin HTTP/1.1\r\nHost: x\r\n\r\n");
		ret = cl_response(fd2, in, &r, 0, 0);
		close(fd2);
		free(in);
		if (ret == 0 && r.status == 200 && r.body_len == 100 << 10) {
			free(r.body);
			break;
		}
		if (ret == 0)
			free(r.body); /* (cut short: the cached length) */
		assert_true(tu_mono_ns() - t0 < (valid_ms + 5000) * MS);
		poll(NULL, 0, 20);
	}
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	assert_int_equal(tu_count_fds(), before);
}

/* A reader that never reads a cached file's body is cut at the write
 * limit; the cache's descriptor is closed with the server. */
static void test_server_filecache_stalled_reader(void **state)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds(), fd, c, small = 2048;
	char path[4300], buf[64];
	struct resp r;
	struct srv s;
	ssize_t n;

	path_of(path, sizeof(path), "stall.bin");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8 << 20), 0);
	close(fd);
	start(&s, 60000, 0, 0, 0);
	get(&s, "stall.bin", &r); /* into the cache */
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 8 << 20);
	free(r.body);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	{
		struct sockaddr_in a = tu_addr(s.port);
		assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)),
				 0);
	}
	cl_sends(c, "GET /stall.bin HTTP/1.1\r\nHost: x\r\n\r\n");
	do
		n = recv(c, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	assert_true(n > 0);
	/* the drain waits for it: the write limit must end it */
	assert_int_equal(srv_stop(&s, 10000, &st), 0);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.file_cache_hits, 1);
	close(c);
	assert_int_equal(tu_count_fds(), before);
}

/* Past the window an unchanged file is checked by a statx of its path and
 * served from its entry again: one open in all (misses), the content
 * kept. */
static void test_server_filecache_unchanged_rechecked(void **state)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds();
	struct resp r;
	struct srv s;

	(void)state;
	put_file("same.txt", 3000, 's', 0);
	put_file("same.bin", 100 * 1024, 'S', 0);
	start(&s, 50, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		get(&s, "same.txt", &r);
		assert_true(body_all(&r, 3000, 's'));
		free(r.body);
		get(&s, "same.bin", &r);
		assert_true(body_all(&r, 100 * 1024, 'S'));
		free(r.body);
		poll(NULL, 0, 120); /* the window passes */
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.file_cache_misses, 2);
	assert_int_equal(st.file_cache_hits, 4);
	assert_int_equal(st.file_cache_files, 2);
	assert_int_equal(st.file_cache_bytes, 3000);
	assert_int_equal(tu_count_fds(), before);
}

/*
 * coil-serve --file-cache over TLS (contents up to 64 KiB are kept there,
 * no sendfile): files fetched three times each by curl on one connection,
 * byte for byte; --stats shows one open per file, the rest hits.
 */
static void test_serve_filecache_tls_binary(void **state)
{
	static const size_t lens[] = {1, 4096, 20000, 65536, 70000};
	char cert[4300], key[4300], cmd[9000], err[4300], *out;
	char outs[15][4300], paths[5][4300], urls[15][128];
	char *argv[64];
	struct served sv;
	int argc = 0, rc;
	FILE *f;
	char line[512] = "";

	(void)state;
	require_prog("openssl");
	require_prog("curl");
	path_of(cert, sizeof(cert), "cert.pem");
	path_of(key, sizeof(key), "key.pem");
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
	for (int i = 0; i < 5; i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%zu.bin", lens[i]);
		path_of(paths[i], sizeof(paths[i]), name);
		make_file(paths[i], lens[i], (unsigned)i + 7);
	}
	path_of(err, sizeof(err), "serve.err");
	serve_start(&sv, err,
		    (const char *const[]){"-t", "1", "--root", dir, "--cert",
					  cert, "--key", key, "--file-cache",
					  "1m", "--stats", NULL});
	argv[argc++] = (char *)"curl";
	argv[argc++] = (char *)"-sf";
	argv[argc++] = (char *)"--cacert";
	argv[argc++] = cert;
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 5; i++) {
			int j = k * 5 + i;
			snprintf(urls[j], sizeof(urls[j]), "%s/t%zu.bin",
				 sv.url, lens[i]);
			snprintf(outs[j], sizeof(outs[j]), "%s/tout%d", dir, j);
			argv[argc++] = urls[j];
			argv[argc++] = (char *)"-o";
			argv[argc++] = outs[j];
		}
	}
	argv[argc] = NULL;
	rc = run(argv, NULL, &out, 30000);
	if (rc != 0)
		fail_msg("curl: %d: %s", rc, out);
	free(out);
	for (int j = 0; j < 15; j++)
		if (!same_file(paths[j % 5], outs[j]))
			fail_msg("%s differs", urls[j]);
	assert_int_equal(serve_stop(&sv, 10000), 0);
	f = fopen(err, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) && !strstr(line, "file cache:"))
		;
	fclose(f);
	if (!strstr(line, "file cache: 10 hits, 5 misses; 5 files and "
			  "89633 bytes"))
		fail_msg("--stats: '%s'", line);
}

/* Off by default: every request opens its file, nothing is counted. */
static void test_server_filecache_off_by_default(void **state)
{
	struct coil_http_server_stats st;
	struct resp r;
	struct srv s;

	(void)state;
	put_file("off.txt", 10, 'x', 0);
	start(&s, 0, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		get(&s, "off.txt", &r);
		assert_int_equal(r.status, 200);
		free(r.body);
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.file_cache_hits + st.file_cache_misses, 0);
	assert_int_equal(st.file_cache_files, 0);
}

static void test_server_filecache_bad_options(void **state)
{
	struct coil_http_server_opts o;
	struct sockaddr_in a = tu_addr(0);
	struct coil_loop *loop;
	struct coil_http_server *srv;

	(void)state;
	loop = tu_loop(NULL);
	memset(&o, 0, sizeof(o));
	o.handler = handler;
	o.addr = (const struct sockaddr *)&a;
	o.addr_len = sizeof(a);
	o.file_cache_valid_ns = 86401ull * 1000000000ull;
	assert_int_equal(coil_http_server_new(&srv, loop, &o), -EINVAL);
	o.file_cache_valid_ns = MS;
	o.file_cache_files = (1u << 20) + 1;
	assert_int_equal(coil_http_server_new(&srv, loop, &o), -EINVAL);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_filecache_off_by_default),
		cmocka_unit_test(test_server_filecache_bad_options),
		cmocka_unit_test(test_server_filecache_changed_in_place),
		cmocka_unit_test(test_server_filecache_replaced_by_rename),
		cmocka_unit_test(test_server_filecache_deleted_is_404),
		cmocka_unit_test(test_server_filecache_unchanged_rechecked),
		cmocka_unit_test(test_server_filecache_caps_honoured),
		cmocka_unit_test(test_server_filecache_truncated_while_sent),
		cmocka_unit_test(test_server_filecache_stalled_reader),
		cmocka_unit_test(test_server_filecache_sizes_read_path),
		cmocka_unit_test(test_server_filecache_sizes_byte_for_byte),
		cmocka_unit_test(test_serve_filecache_tls_binary),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("server.filecache", tests, setup,
					   teardown);
}
