/*
 * tests/server/test_server_filecache.c - the open-file cache of
 * coil_http_serve_file() (on by default; http/filecache.h): files of many
 * sizes byte for byte against curl, from the page cache and dropped from
 * it before each download, on the sendfile and the read paths, served
 * again from the cache (its counters show the hits and the contents
 * held). With the defaults, a change on disk is seen by the next requests
 * (inotify), never a mix of old and new: a file rewritten in place (same
 * size too), replaced by rename, deleted, a directory renamed above it,
 * chmod 000 on it or on a directory above (as an unprivileged user);
 * more files than the entry cap and than the kernel's watch limit (in a
 * user namespace of our own, /proc/sys/user/max_inotify_watches); the
 * inotify queue overflowing while the loop is held by a handler; the
 * memory cap; a file truncated while it is sent, and a reader that
 * stalls; the same for a file over 64 KiB pinned (mapped and locked),
 * the cap on pins, and mlock(2) refused (RLIMIT_MEMLOCK, as user 65534:
 * sendfile instead); descriptors all come back when the server
 * ends. Exits 77
 * without curl (the byte-for-byte case); the cases that need root (the
 * server as another user), a user namespace (the watch limit) or a queue
 * short enough to fill are skipped alone (cmocka's skip()), with the
 * reason on stderr, so that the others still run.
 */
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "peer.h"

static char *dir;
static int root_fd = -1;
/* the handler of /stall holds the loop until stall_go[0] is readable */
static int stall_in[2] = {-1, -1}, stall_go[2] = {-1, -1};
/* opts.flags of the servers start() makes */
static unsigned start_flags;

static void handler(struct coil_http_sreq *req, void *arg)
{
	(void)arg;
	if (req->path_len == 6 && memcmp(req->path, "/stall", 6) == 0) {
		char b = 0;
		struct pollfd p = {stall_go[0], POLLIN, 0};
		if (write(stall_in[1], &b, 1) != 1 || poll(&p, 1, 20000) != 1)
			b = 1;
		coil_http_respond(req, b ? 500 : 200, NULL, 0, "ok", 2);
		return;
	}
	coil_http_serve_file(req, root_fd);
}

/* A server with the cache's defaults but for @sendfile_min, @mem and
 * @files (0: the default for each). */
static void start(struct srv *s, size_t sendfile_min, size_t mem,
		  unsigned files)
{
	struct coil_http_server_opts o;

	memset(&o, 0, sizeof(o));
	o.handler = handler;
	o.sendfile_min_bytes = sendfile_min;
	o.file_cache_mem_bytes = mem;
	o.file_cache_files = files;
	o.write_timeout_ns = 2000 * MS;
	o.flags = start_flags;
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

static void check_sizes(size_t sendfile_min, unsigned flags)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds();
	size_t held = 0, pinned = 0;
	struct srv s;

	require_prog("curl");
	for (size_t i = 0; i < NSIZES; i++) {
		char name[64];
		snprintf(name, sizeof(name), "s%zu.bin", sizes[i]);
		put_file(name, sizes[i], (char)('a' + i), 0);
		/* contents are kept for files up to 64 KiB (read whole, on
		 * the sendfile path too), with FILE_SENDFILE up to 16 KiB
		 * less one; larger ones are pinned once their pages are all
		 * in the page cache */
		if (sizes[i] && sizes[i] <= (flags ? 16383 : 64 * 1024))
			held += sizes[i];
		else if (sizes[i])
			pinned += sizes[i];
	}
	start_flags = flags;
	start(&s, sendfile_min, 0, 0);
	start_flags = 0;
	/* first dropped from the page cache before each download: nothing
	 * to pin, sendfile or read + send; then from the page cache: the
	 * large files pinned at their first download, sent from their
	 * pages */
	fetch_all(&s, 2, 1);
	fetch_all(&s, 3, 0);
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	/* one open per file (the first), every later download a hit */
	assert_int_equal(st.file_cache_misses, NSIZES);
	assert_int_equal(st.file_cache_hits, NSIZES * 4);
	assert_int_equal(st.file_cache_files, NSIZES);
	assert_int_equal(st.file_cache_bytes, held + pinned);
	assert_int_equal(st.file_cache_pinned, pinned);
	assert_int_equal(st.file_cache_pin_fails, 0);
	assert_int_equal(tu_count_fds(), before);
}

static void test_server_filecache_sizes_byte_for_byte(void **state)
{
	(void)state;
	check_sizes(0, 0); /* sendfile from 16 KiB */
}

static void test_server_filecache_sizes_read_path(void **state)
{
	(void)state;
	check_sizes(SIZE_MAX, 0); /* read + send */
}

/* COIL_HTTP_SERVER_FILE_SENDFILE: files of 16 KiB and more pinned and
 * sent by sendfile from their pages, smaller ones copied. */
static void test_server_filecache_sizes_file_sendfile(void **state)
{
	(void)state;
	check_sizes(0, COIL_HTTP_SERVER_FILE_SENDFILE);
}

/* GET /@name until @done(answer) holds, for up to 5 s: every answer
 * before must be @old_ok(answer) (the old state whole, never a mix).
 * Return: the answers before the new state. */
typedef int (*state_fn)(const struct resp *r, const void *arg);

static int wait_state(const struct srv *s, const char *name, state_fn done,
		      const void *done_arg, state_fn old_ok,
		      const void *old_arg)
{
	uint64_t t0 = tu_mono_ns();
	int old = 0;
	struct resp r;

	for (;;) {
		get(s, name, &r);
		if (done(&r, done_arg)) {
			free(r.body);
			return old;
		}
		if (!old_ok(&r, old_arg))
			fail_msg("%s: status %d, %zu bytes: neither the old "
				 "state nor the new",
				 name, r.status, r.body_len);
		free(r.body);
		old++;
		if (tu_mono_ns() - t0 > 5000 * MS)
			fail_msg(
				"%s: still the old state %llu ms after the "
				"change",
				name,
				(unsigned long long)((tu_mono_ns() - t0) / MS));
		poll(NULL, 0, 5); /* pace the requests, not a wait */
	}
}

struct want {
	int status;
	size_t len;
	char fill;
};

static int is_state(const struct resp *r, const void *arg)
{
	const struct want *w = arg;
	if (r->status != w->status)
		return 0;
	return w->status != 200 || body_all(r, w->len, w->fill);
}

/* GET /@name until it answers @now, every answer before @before. */
static int wait_for(const struct srv *s, const char *name, struct want now,
		    struct want before)
{
	return wait_state(s, name, is_state, &now, is_state, &before);
}

static void expect(const struct srv *s, const char *name, struct want w)
{
	struct resp r;
	get(s, name, &r);
	if (!is_state(&r, &w))
		fail_msg("%s: status %d, %zu bytes; expected %d, %zu bytes",
			 name, r.status, r.body_len, w.status, w.len);
	free(r.body);
}

#define W200(n, c) ((struct want){200, (n), (c)})
#define W404 ((struct want){404, 0, 0})
#define W403 ((struct want){403, 0, 0})

/*
 * @name (@len0 bytes of 'o') is served three times (cached), then
 * changed on disk to @len1 bytes of 'n' (in place or by rename): the
 * new file is served once the server has seen the change (polled), and
 * every answer before it is the old file whole; the entry was dropped.
 */
static void check_changed(const char *name, size_t len0, size_t len1,
			  int by_rename)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds();
	struct srv s;

	put_file(name, len0, 'o', 0);
	start(&s, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		expect(&s, name, W200(len0, 'o'));
	put_file(name, len1, 'n', by_rename);
	wait_for(&s, name, W200(len1, 'n'), W200(len0, 'o'));
	expect(&s, name, W200(len1, 'n')); /* and cached again */
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_true(st.file_cache_hits >= 3);
	assert_true(st.file_cache_drops >= 1);
	assert_int_equal(st.file_cache_unwatched, 0);
	assert_int_equal(tu_count_fds(), before);
}

/* Small files are sent from the cache's own copy; a 300 KiB one by
 * sendfile from the cached descriptor. */
static void test_server_filecache_changed_in_place(void **state)
{
	(void)state;
	check_changed("small.txt", 3000, 2500, 0);
	check_changed("small1.txt", 3000, 5000, 0);
	check_changed("small3.txt", 3000, 3000, 0); /* same size */
	check_changed("f64.bin", 65536, 65536, 0);  /* same size, 64 KiB */
	check_changed("big1.bin", 300 * 1024, 200 * 1024, 0);
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
	struct coil_http_server_stats st;
	int before = tu_count_fds();
	const char *names[] = {"gone.txt", "gone.bin"};
	const size_t lens[] = {1000, 100 * 1024};
	char path[4300];
	struct srv s;

	start(&s, 0, 0, 0);
	for (int i = 0; i < 2; i++) {
		put_file(names[i], lens[i], 'g', 0);
		expect(&s, names[i], W200(lens[i], 'g'));
		expect(&s, names[i], W200(lens[i], 'g'));
		path_of(path, sizeof(path), names[i]);
		assert_int_equal(unlink(path), 0);
		wait_for(&s, names[i], W404, W200(lens[i], 'g'));
		expect(&s, names[i], W404); /* and stays so */
		/* back again: served new */
		put_file(names[i], lens[i] / 2, 'h', 0);
		wait_for(&s, names[i], W200(lens[i] / 2, 'h'), W404);
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.file_cache_files, 2); /* the new ones */
	assert_true(st.file_cache_drops >= 2);
	assert_int_equal(tu_count_fds(), before);
}

static void mkdir_in(const char *name)
{
	char path[4300];
	path_of(path, sizeof(path), name);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void rename_in(const char *from, const char *to)
{
	char a[4300], b[4300];
	path_of(a, sizeof(a), from);
	path_of(b, sizeof(b), to);
	assert_int_equal(rename(a, b), 0);
}

/*
 * d1/d2/f.txt is cached; d1 is renamed away: 404; a new d1/d2/f.txt
 * appears: served; the first d1 is renamed back in its place (the new one
 * moved aside): its file again; the same one level down (d2 renamed).
 */
static void test_server_filecache_dir_renamed_above(void **state)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds();
	const char *f = "d1/d2/f.txt";
	struct srv s;

	(void)state;
	mkdir_in("d1");
	mkdir_in("d1/d2");
	put_file(f, 2000, 'o', 0);
	start(&s, 0, 0, 0);
	expect(&s, f, W200(2000, 'o'));
	expect(&s, f, W200(2000, 'o'));
	rename_in("d1", "d1.old");
	wait_for(&s, f, W404, W200(2000, 'o'));
	mkdir_in("d1");
	mkdir_in("d1/d2");
	put_file(f, 1000, 'n', 0);
	wait_for(&s, f, W200(1000, 'n'), W404);
	expect(&s, f, W200(1000, 'n'));
	rename_in("d1", "d1.new");
	rename_in("d1.old", "d1");
	wait_for(&s, f, W200(2000, 'o'), W200(1000, 'n'));
	/* one level down: d1/d2 swapped with d1.new/d2 through a third */
	expect(&s, f, W200(2000, 'o'));
	rename_in("d1/d2", "d2.tmp");
	rename_in("d1.new/d2", "d1/d2");
	wait_for(&s, f, W200(1000, 'n'), W200(2000, 'o'));
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_true(st.file_cache_drops >= 3);
	assert_int_equal(st.file_cache_unwatched, 0);
	assert_int_equal(tu_count_fds(), before);
}

/* Does mlock(2) of more than the limit @memlock succeed all the same?
 * (AddressSanitizer's interceptor makes it a no-op that returns 0.) */
static int mlock_ignored(rlim_t memlock)
{
	size_t n = (size_t)memlock * 2;
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r = p != MAP_FAILED && mlock(p, n) == 0;
	if (p != MAP_FAILED)
		munmap(p, n);
	return r;
}

/*
 * A server in a child process running as user and group 65534 (root
 * would open a file whatever its mode, and lock any memory): the child
 * writes its port, its stats' drops (with @memlock: RLIMIT_MEMLOCK that
 * many bytes, and its pins refused instead, then its bytes pinned) after
 * the parent closes @stop (-1 if it
 * could not become that user or start) and exits. No cmocka in the child.
 */
static pid_t nobody_server(unsigned short *port, int *stop, int *res,
			   rlim_t memlock)
{
	int a[2], b[2];
	long v = -1;
	pid_t pid;

	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct coil_http_server_opts o;
		struct coil_http_server_stats st;
		struct sockaddr_in sa = tu_addr(0);
		struct sockaddr_storage ss;
		struct coil_http_threads *t = NULL;
		socklen_t len = sizeof(ss);
		char c;

		close(a[0]);
		close(b[1]);
		memset(&o, 0, sizeof(o));
		o.handler = handler;
		o.addr = (const struct sockaddr *)&sa;
		o.addr_len = sizeof(sa);
		if ((!memlock ||
		     setrlimit(RLIMIT_MEMLOCK,
			       &(struct rlimit){memlock, memlock}) == 0) &&
		    setgroups(0, NULL) == 0 &&
		    setresgid(65534, 65534, 65534) == 0 &&
		    setresuid(65534, 65534, 65534) == 0 &&
		    !(memlock && mlock_ignored(memlock)) &&
		    coil_http_threads_start(&t, &o, NULL) == 0 &&
		    coil_http_threads_addr(t, &ss, &len) == 0)
			v = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		if (write(a[1], &v, sizeof(v)) != sizeof(v) || v < 0)
			_exit(1);
		while (read(b[0], &c, 1) < 0 && errno == EINTR)
			;
		coil_http_threads_stop(t, 1000 * MS);
		v = coil_http_threads_wait(t, &st) != 0 ? -1
		    : memlock ? (long)st.file_cache_pin_fails
			      : (long)st.file_cache_drops;
		coil_http_threads_free(t);
		if (write(a[1], &v, sizeof(v)) != sizeof(v))
			_exit(1);
		v = (long)st.file_cache_pinned;
		_exit(!memlock || write(a[1], &v, sizeof(v)) == sizeof(v) ? 0
									  : 1);
	}
	close(a[1]);
	close(b[0]);
	assert_int_equal(read(a[0], &v, sizeof(v)), sizeof(v));
	*res = a[0];
	*stop = b[1];
	if (v < 0) {
		waitpid(pid, NULL, 0);
		close(a[0]);
		close(b[1]);
		fprintf(stderr, "skip: no server as user 65534%s\n",
			memlock ? " with RLIMIT_MEMLOCK, or mlock(2) is not "
				  "real here (a sanitizer's interceptor)"
				: "");
		skip();
	}
	*port = (unsigned short)v;
	return pid;
}

static void chmod_in(const char *name, mode_t mode)
{
	char path[4300];
	path_of(path, sizeof(path), name);
	assert_int_equal(chmod(path, mode), 0);
}

/* @name served (cached) as @ok, then @what (it, or a directory above)
 * made chmod 000: 403; then @back: @ok again. */
static void chmod_cycle(const struct srv *s, const char *name, const char *what,
			mode_t back, struct want ok)
{
	expect(s, name, ok);
	expect(s, name, ok);
	chmod_in(what, 0);
	wait_for(s, name, W403, ok);
	chmod_in(what, back);
	wait_for(s, name, ok, W403);
}

/* chmod 000 on a cached file, then on a directory above one: 403 (as
 * user 65534), and back. */
static void test_server_filecache_chmod_000(void **state)
{
	struct srv s = {NULL, 0};
	int stop, res, st;
	long drops = -1;
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "skip: needs root to run a server as another "
				"user\n");
		skip();
	}
	assert_int_equal(chmod(dir, 0755), 0);
	put_file("c.txt", 1500, 'c', 0);
	mkdir_in("p");
	put_file("p/c.bin", 100000, 'p', 0);
	pid = nobody_server(&s.port, &stop, &res, 0);
	chmod_cycle(&s, "c.txt", "c.txt", 0644, W200(1500, 'c'));
	chmod_cycle(&s, "p/c.bin", "p", 0755, W200(100000, 'p'));
	close(stop);
	assert_int_equal(read(res, &drops, sizeof(drops)), sizeof(drops));
	close(res);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(drops >= 2); /* the file's entry, twice */
}

static int write_proc(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

#define WATCHES 6 /* the root's and five files' */

/*
 * In a user namespace of its own, whose inotify watch limit is WATCHES:
 * with the entry cap at 3, ten files in turn are all cached (a file
 * evicted gives its watch back); without it, five files are cached (the
 * root directory holds one watch), the others opened each time (not
 * watched), every answer right; a file that is not cached is seen new at
 * once.
 */
static void watch_limit_steps(void)
{
	struct coil_http_server_stats st;
	struct srv s;
	char name[32];

	start(&s, 0, 0, 3);
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 10; i++) {
			snprintf(name, sizeof(name), "w%d.txt", i);
			expect(&s, name, W200(500, (char)('a' + i)));
		}
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.file_cache_unwatched, 0);
	assert_int_equal(st.file_cache_files, 3);
	assert_int_equal(st.file_cache_misses, 20);
	start(&s, 0, 0, 0);
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 10; i++) {
			snprintf(name, sizeof(name), "w%d.txt", i);
			expect(&s, name, W200(500, (char)('a' + i)));
		}
	}
	put_file("w9.txt", 700, 'z', 0); /* not cached: new at once */
	expect(&s, "w9.txt", W200(700, 'z'));
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.file_cache_files, WATCHES - 1);
	assert_int_equal(st.file_cache_hits, WATCHES - 1);
	assert_int_equal(st.file_cache_unwatched, 2 * (10 - (WATCHES - 1)) + 1);
}

static void test_server_filecache_over_watch_limit(void **state)
{
	int before = tu_count_fds(), st;
	char name[32];
	pid_t pid;

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "w%d.txt", i);
		put_file(name, 500, (char)('a' + i), 0);
	}
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char map[64];
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)geteuid());
		if (unshare(CLONE_NEWUSER) < 0 ||
		    write_proc("/proc/self/setgroups", "deny") < 0 ||
		    write_proc("/proc/self/uid_map", map) < 0 ||
		    write_proc("/proc/sys/user/max_inotify_watches", "6") < 0)
			_exit(COIL_SKIP);
		watch_limit_steps();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == COIL_SKIP) {
		fprintf(stderr, "skip: no user namespace with its own "
				"max_inotify_watches\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(tu_count_fds(), before);
}

/*
 * The inotify queue overflows while a handler holds the loop: more
 * events than fs.inotify.max_queued_events (files created and deleted
 * in the root), then a cached file rewritten in place, whose own event
 * is lost. IN_Q_OVERFLOW drops every entry: the file is served new.
 */
static void test_server_filecache_queue_overflow(void **state)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds(), c;
	long maxq = 0;
	char path[4300], b;
	struct resp r;
	struct srv s;
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");

	(void)state;
	if (!f || fscanf(f, "%ld", &maxq) != 1 || maxq > 200000) {
		fprintf(stderr,
			"skip: fs.inotify.max_queued_events %ld: too "
			"many events to make here\n",
			maxq);
		if (f)
			fclose(f);
		skip();
	}
	fclose(f);
	assert_int_equal(pipe2(stall_in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(stall_go, O_CLOEXEC), 0);
	put_file("q.txt", 2000, 'o', 0);
	start(&s, 0, 0, 0);
	expect(&s, "q.txt", W200(2000, 'o'));
	expect(&s, "q.txt", W200(2000, 'o'));
	c = cl_connect(s.port);
	cl_sends(c, "GET /stall HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read(stall_in[0], &b, 1), 1); /* the loop is held */
	for (long i = 0; i < maxq / 2 + 64; i++) {
		int fd;
		snprintf(path, sizeof(path), "%s/e%ld", dir, i);
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(unlink(path), 0);
	}
	put_file("q.txt", 2000, 'n', 0); /* its event does not fit */
	assert_int_equal(write(stall_go[1], "g", 1), 1);
	{
		struct cl_in *in = calloc(1, sizeof(*in));
		assert_non_null(in);
		assert_int_equal(cl_response(c, in, &r, 0, 0), 0);
		assert_int_equal(r.status, 200);
		free(r.body);
		free(in);
	}
	close(c);
	wait_for(&s, "q.txt", W200(2000, 'n'), W200(2000, 'o'));
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_true(st.file_cache_overflows >= 1);
	for (int i = 0; i < 2; i++) {
		close(stall_in[i]);
		close(stall_go[i]);
		stall_in[i] = stall_go[i] = -1;
	}
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
	start(&s, 0, 10000, 0);
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
	start(&s, 0, 0, 3);
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
 * closes; the file is then served at its new length.
 */
static void test_server_filecache_truncated_while_sent(void **state)
{
	int before = tu_count_fds();
	char big[4300];
	struct srv s;
	struct resp r;
	uint64_t t0;

	path_of(big, sizeof(big), "trunc.bin");
	start(&s, 0, 0, 0);
	cl_truncated_while_sent(s.port, "/trunc.bin", big);
	/* the new length, whole, once the change is seen */
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
		assert_true(tu_mono_ns() - t0 < 5000 * MS);
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
	int before = tu_count_fds(), fd, c;
	char path[4300];
	struct resp r;
	struct srv s;

	path_of(path, sizeof(path), "stall.bin");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8 << 20), 0);
	close(fd);
	start(&s, 0, 0, 0);
	get(&s, "stall.bin", &r); /* into the cache */
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 8 << 20);
	free(r.body);
	c = cl_stalled_reader(s.port,
			      "GET /stall.bin HTTP/1.1\r\nHost: x\r\n\r\n");
	/* the drain waits for it: the write limit must end it */
	assert_int_equal(srv_stop(&s, 10000, &st), 0);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.file_cache_hits, 1);
	close(c);
	assert_int_equal(tu_count_fds(), before);
}

/* A file of @len bytes of a pattern at @name, flushed (its pages in the
 * page cache, clean). */
static void put_pattern(const char *name, size_t len)
{
	char path[4300];
	path_of(path, sizeof(path), name);
	make_file(path, len, 3);
}

/*
 * An 8 MiB file, pinned at its first download (its pages just written),
 * is truncated to 100 KiB while a slow client reads it: the send from
 * its pages fails where they are gone (EFAULT, not SIGBUS), the response
 * ends short and the connection closes; the file is then served at its
 * new length, pinned again.
 */
static void test_server_filecache_pinned_truncated_while_sent(void **state)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds();
	char path[4300];
	struct resp r;
	struct srv s;
	uint64_t t0;

	(void)state;
	put_pattern("ptrunc.bin", 8 << 20);
	path_of(path, sizeof(path), "ptrunc.bin");
	start(&s, 0, 0, 0);
	get(&s, "ptrunc.bin", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 8 << 20);
	free(r.body);
	cl_truncate_while_sent(s.port, "/ptrunc.bin", path, 8u << 20);
	t0 = tu_mono_ns();
	for (;;) {
		get(&s, "ptrunc.bin", &r);
		assert_int_equal(r.status, 200);
		free(r.body);
		if (r.body_len == 100 << 10)
			break;
		assert_true(tu_mono_ns() - t0 < 5000 * MS);
		poll(NULL, 0, 20);
	}
	get(&s, "ptrunc.bin", &r); /* from the new entry's pages */
	assert_int_equal(r.body_len, 100 << 10);
	free(r.body);
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.file_cache_pinned, 100 << 10);
	assert_true(st.file_cache_drops >= 1);
	assert_int_equal(tu_count_fds(), before);
}

/* A reader that never reads a pinned file's body is cut at the write
 * limit; the mapping and the descriptor go with the server. */
static void test_server_filecache_pinned_stalled_reader(void **state)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds(), c;
	struct resp r;
	struct srv s;

	(void)state;
	put_pattern("pstall.bin", 4 << 20);
	start(&s, 0, 0, 0);
	get(&s, "pstall.bin", &r); /* pinned */
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 4 << 20);
	free(r.body);
	c = cl_stalled_reader(s.port,
			      "GET /pstall.bin HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(srv_stop(&s, 10000, &st), 0);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.file_cache_hits, 1);
	assert_int_equal(st.file_cache_pinned, 4 << 20);
	close(c);
	assert_int_equal(tu_count_fds(), before);
}

/* Files over 64 KiB but over the memory cap are not pinned (sendfile);
 * one within it is, and the least recently used copies make room. */
static void test_server_filecache_pin_cap(void **state)
{
	struct coil_http_server_stats st;
	struct resp r;
	struct srv s;

	(void)state;
	put_pattern("pc1.bin", 300000);
	put_pattern("pc2.bin", 200000);
	put_file("pc3.txt", 60000, 'z', 0);
	start(&s, 0, 250000, 0);
	for (int k = 0; k < 2; k++) {
		get(&s, "pc3.txt", &r); /* a copy: 60,000 */
		assert_true(body_all(&r, 60000, 'z'));
		free(r.body);
		get(&s, "pc1.bin", &r); /* over the cap */
		assert_int_equal(r.body_len, 300000);
		free(r.body);
		get(&s, "pc2.bin", &r); /* pinned, the copy dropped */
		assert_int_equal(r.body_len, 200000);
		free(r.body);
	}
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	/* the copy came back in the second round and went again */
	assert_int_equal(st.file_cache_pinned, 200000);
	assert_int_equal(st.file_cache_bytes, 200000);
	assert_int_equal(st.file_cache_pin_fails, 0);
}

/* mlock(2) refused (RLIMIT_MEMLOCK 256 KiB, as user 65534, the file's
 * owner; the ring's own memory counts apart): a 500,000-byte file is sent
 * by sendfile, whole, every time; the refusal is counted once. A file of
 * root's cannot be asked about (cachestat's EPERM): read and sent whole,
 * then pinned (its pages just read), sent from them. */
static void test_server_filecache_pin_refused(void **state)
{
	struct srv s = {NULL, 0};
	int stop, res, st;
	long fails = -1, pinned = -1;
	char path[4300];
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "skip: needs root to run a server as another "
				"user\n");
		skip();
	}
	assert_int_equal(chmod(dir, 0755), 0);
	put_file("pr.bin", 500000, 'r', 0);
	/* its owner: cachestat(2) answers only a process that owns the file
	 * or may write to it (else EPERM, and nothing is pinned) */
	path_of(path, sizeof(path), "pr.bin");
	assert_int_equal(chown(path, 65534, 65534), 0);
	/* and one it does not own: cachestat(2) refuses (EPERM), so it is
	 * read + sent the first time and pinned once read whole (within
	 * the limit) */
	put_file("pq.bin", 200000, 'q', 0);
	pid = nobody_server(&s.port, &stop, &res, 256 * 1024);
	for (int k = 0; k < 3; k++) {
		expect(&s, "pr.bin", W200(500000, 'r'));
		expect(&s, "pq.bin", W200(200000, 'q'));
	}
	close(stop);
	assert_int_equal(read(res, &fails, sizeof(fails)), sizeof(fails));
	assert_int_equal(read(res, &pinned, sizeof(pinned)), sizeof(pinned));
	close(res);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(fails, 1);
	assert_int_equal(pinned, 200000);
}

/*
 * coil-serve over TLS, its cache on by default (contents up to 64 KiB are
 * kept): files fetched three times each by curl on one connection, byte
 * for byte; --stats shows one open per file, the rest hits.
 */
static void test_serve_filecache_tls_binary(void **state)
{
	static const size_t lens[] = {1, 4096, 20000, 65536, 70000};
	char cert[4300], key[4300], err[4300], *out;
	char outs[15][4300], paths[5][4300], urls[15][128];
	char *argv[64];
	struct served sv;
	int argc = 0, rc;
	FILE *f;
	char line[512] = "";

	(void)state;
	require_prog("openssl");
	require_prog("curl");
	make_cert(dir, cert, key, sizeof(cert));
	for (int i = 0; i < 5; i++) {
		char name[32];
		snprintf(name, sizeof(name), "t%zu.bin", lens[i]);
		path_of(paths[i], sizeof(paths[i]), name);
		make_file(paths[i], lens[i], (unsigned)i + 7);
	}
	path_of(err, sizeof(err), "serve.err");
	serve_start(&sv, err,
		    (const char *const[]){"-t", "1", "--root", dir, "--cert",
					  cert, "--key", key, "--stats", NULL});
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
			  "89633 bytes of contents held at exit; 0 dropped "
			  "by changes, 0 overflows, 0 files not watched"))
		fail_msg("--stats: '%s'", line);
}

/* Off (file_cache_files UINT_MAX): every request opens its file,
 * nothing is counted, and a change is seen at once. */
static void test_server_filecache_off(void **state)
{
	struct coil_http_server_stats st;
	int before = tu_count_fds();
	struct srv s;

	(void)state;
	put_file("off.txt", 10, 'x', 0);
	start(&s, 0, 0, UINT_MAX);
	for (int i = 0; i < 3; i++)
		expect(&s, "off.txt", W200(10, 'x'));
	put_file("off.txt", 10, 'y', 0);
	expect(&s, "off.txt", W200(10, 'y'));
	assert_int_equal(srv_stop(&s, 1000, &st), 0);
	assert_int_equal(st.file_cache_hits + st.file_cache_misses, 0);
	assert_int_equal(st.file_cache_files, 0);
	assert_int_equal(tu_count_fds(), before);
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
	o.file_cache_files = (1u << 20) + 1;
	assert_int_equal(coil_http_server_new(&srv, loop, &o), -EINVAL);
	o.file_cache_files = UINT_MAX - 1;
	assert_int_equal(coil_http_server_new(&srv, loop, &o), -EINVAL);
	coil_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_filecache_off),
		cmocka_unit_test(test_server_filecache_bad_options),
		cmocka_unit_test(test_server_filecache_changed_in_place),
		cmocka_unit_test(test_server_filecache_replaced_by_rename),
		cmocka_unit_test(test_server_filecache_deleted_is_404),
		cmocka_unit_test(test_server_filecache_dir_renamed_above),
		cmocka_unit_test(test_server_filecache_chmod_000),
		cmocka_unit_test(test_server_filecache_over_watch_limit),
		cmocka_unit_test(test_server_filecache_queue_overflow),
		cmocka_unit_test(test_server_filecache_caps_honoured),
		cmocka_unit_test(test_server_filecache_truncated_while_sent),
		cmocka_unit_test(test_server_filecache_stalled_reader),
		cmocka_unit_test(
			test_server_filecache_pinned_truncated_while_sent),
		cmocka_unit_test(test_server_filecache_pinned_stalled_reader),
		cmocka_unit_test(test_server_filecache_pin_cap),
		cmocka_unit_test(test_server_filecache_pin_refused),
		cmocka_unit_test(test_server_filecache_sizes_read_path),
		cmocka_unit_test(test_server_filecache_sizes_byte_for_byte),
		cmocka_unit_test(test_server_filecache_sizes_file_sendfile),
		cmocka_unit_test(test_serve_filecache_tls_binary),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("server.filecache", tests, setup,
					   teardown);
}
