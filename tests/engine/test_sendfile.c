/* tests/engine/test_sendfile.c - coil_sendfile() over real TCP pairs on
 * 127.0.0.1 from real temp files: ranges byte for byte from the page cache
 * and from files dropped from it (posix_fadvise DONTNEED), the end of the
 * file, a reader that stalls (the wait limit), cancel, a peer that closes
 * (no SIGPIPE), a file truncated while it is being sent, bad fds; and
 * coil_file_cached(), which tells it what the page cache holds, and
 * COIL_SENDFILE_RESIDENT, which asks nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "engtest.h"

#define FILE_LEN (3u * 1024 * 1024 + 77)

static uint8_t byte_at(uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull;
	return (uint8_t)(x >> 56);
}

/* A temp file of @len pattern bytes, written back to disk (clean pages,
 * so that DONTNEED can drop them). Return: an O_RDONLY fd. */
static int make_file(size_t len, char **path_out)
{
	char *dir = te_tmpdir();
	char *path;
	uint8_t *b = malloc(len);
	int fd;

	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = byte_at(i);
	assert_true(asprintf(&path, "%s/data", dir) > 0);
	fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	assert_int_equal(fdatasync(fd), 0);
	free(b);
	if (path_out)
		*path_out = path;
	else
		free(path);
	return fd;
}

/* Pages of [0, len) the page cache holds, or -1 without cachestat(2). */
static long cached_pages(int fd, size_t len)
{
	struct {
		uint64_t off, len;
	} r = {0, len};
	uint64_t cs[5];
	if (syscall(451, fd, &r, cs, 0) < 0)
		return -1;
	return (long)cs[0];
}

/* Drop the file from the page cache; 1 if it is gone (as far as
 * cachestat tells), 0 if the file system kept it (tmpfs). */
static int drop_cache(int fd, size_t len)
{
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	return cached_pages(fd, len) == 0;
}

/* A thread reading @want bytes from @fd (blocking), or until EOF. */
struct reader {
	pthread_t th;
	int fd;
	uint8_t *buf;
	size_t want, got;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	while (r->got < r->want) {
		ssize_t n = read(r->fd, r->buf + r->got, r->want - r->got);
		if (n <= 0)
			break;
		r->got += (size_t)n;
	}
	return NULL;
}

static void reader_start(struct reader *r, int fd, size_t want)
{
	r->fd = fd;
	r->want = want;
	r->got = 0;
	r->buf = malloc(want ? want : 1);
	assert_non_null(r->buf);
	assert_int_equal(pthread_create(&r->th, NULL, reader_main, r), 0);
}

static void reader_join(struct reader *r)
{
	pthread_join(r->th, NULL);
}

/* A TCP pair whose sending side (fds[1]) is O_NONBLOCK. */
static void pair(int fds[2])
{
	tu_tcp_pair(fds);
	assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
}

struct sop {
	struct coil_sendfile sf;
	int calls;
	int res;
};

static void sop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sop *s = coil_container_of(op, struct sop, sf.op);
	(void)flags;
	s->calls++;
	s->res = res;
}

static void sop_init(struct sop *s)
{
	memset(s, 0, sizeof(*s));
	coil_op_init(&s->sf.op, sop_cb);
}

/* One op with @flags, run to its callback; the callback never runs
 * inline. */
static int sendfile_flags(struct coil_loop *loop, int out, int in, uint64_t off,
			  size_t len, uint64_t wait_ns, unsigned flags)
{
	struct sop s;
	sop_init(&s);
	if (wait_ns)
		coil_op_timeout(&s.sf.op, wait_ns);
	assert_int_equal(coil_sendfile(loop, &s.sf, out, in, off, len, flags),
			 0);
	assert_int_equal(s.calls, 0);
	assert_int_equal(te_run_calls(loop, &s.calls, 1, 10000 * MS), 1);
	assert_int_equal(coil_loop_inflight(loop), 0);
	return s.res;
}

static int sendfile_once(struct coil_loop *loop, int out, int in, uint64_t off,
			 size_t len, uint64_t wait_ns)
{
	return sendfile_flags(loop, out, in, off, len, wait_ns, 0);
}

/* Send [off, off + len) in as many ops as it takes. Return: bytes sent
 * (less than @len where the file ends), or the first error. */
static long long send_range(struct coil_loop *loop, int out, int in,
			    uint64_t off, size_t len)
{
	size_t done = 0;
	while (done < len) {
		int r = sendfile_once(loop, out, in, off + done, len - done, 0);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		assert_true((size_t)r <= len - done);
		assert_true(r <= 1024 * 1024);
		done += (size_t)r;
	}
	return (long long)done;
}

static const struct {
	uint64_t off;
	size_t len;
} ranges[] = {
	{0, 1},
	{0, 4096},
	{1, 4095},
	{4095, 2},
	{0, 65536},
	{12345, 70000},
	{0, 1024 * 1024},
	{3, 1024 * 1024 + 5},
	{0, FILE_LEN},
	{FILE_LEN - 10, 10},
	{FILE_LEN - 10, 100}, /* past the end: 10 */
	{100, 2u * 1024 * 1024 + 4097},
};

static void check_ranges(int uncached)
{
	struct coil_loop *loop = te_begin(NULL);
	struct coil_loop_stats st0, st1;
	int fd = make_file(FILE_LEN, NULL);
	int dropped = 0, cachestat = cached_pages(fd, FILE_LEN) >= 0;

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		uint64_t off = ranges[i].off;
		size_t len = ranges[i].len;
		size_t want = off + len > FILE_LEN ? FILE_LEN - off : len;
		struct reader rd;
		int fds[2];

		if (uncached) {
			dropped = drop_cache(fd, FILE_LEN);
			if (!dropped)
				print_message("range %zu: %ld pages cached\n",
					      i, cached_pages(fd, FILE_LEN));
		} else
			assert_int_equal(pread(fd, (char[1]){0}, 1, 0), 1);
		pair(fds);
		reader_start(&rd, fds[0], want);
		coil_loop_stats(loop, &st0);
		assert_int_equal(send_range(loop, fds[1], fd, off, len),
				 (long long)want);
		coil_loop_stats(loop, &st1);
		shutdown(fds[1], SHUT_WR);
		reader_join(&rd);
		assert_int_equal(rd.got, want);
		for (size_t k = 0; k < want; k++)
			if (rd.buf[k] != byte_at(off + k))
				fail_msg("range %zu: byte %zu differs", i, k);
		assert_true(st1.sendfiles > st0.sendfiles);
		/* from the cache: no warming read (where cachestat can tell);
		 * dropped: every range was read through the ring first */
		if (!uncached && cachestat && want == len)
			assert_int_equal(st1.sendfile_warms,
					 st0.sendfile_warms);
		if (uncached && dropped)
			assert_true(st1.sendfile_warms > st0.sendfile_warms);
		free(rd.buf);
		close(fds[0]);
		close(fds[1]);
	}
	close(fd);
	te_end(loop);
}

static void test_sendfile_ranges_from_cache_byte_for_byte(void **state)
{
	(void)state;
	check_ranges(0);
}

static void test_sendfile_ranges_not_cached_byte_for_byte(void **state)
{
	(void)state;
	check_ranges(1);
}

static void test_sendfile_end_of_file_gives_zero(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	int fd = make_file(5000, NULL);
	int fds[2];
	char buf[16];

	(void)state;
	pair(fds);
	assert_int_equal(sendfile_once(loop, fds[1], fd, 5000, 10, 0), 0);
	assert_int_equal(sendfile_once(loop, fds[1], fd, 9000, 10, 0), 0);
	assert_int_equal(sendfile_once(loop, fds[1], fd, 0, 0, 0), 0);
	drop_cache(fd, 5000);
	assert_int_equal(sendfile_once(loop, fds[1], fd, 6000, 10, 0), 0);
	/* the last bytes, asked for with room to spare */
	assert_int_equal(sendfile_once(loop, fds[1], fd, 4990, 100, 0), 10);
	assert_int_equal(read(fds[0], buf, sizeof(buf)), 10);
	for (int k = 0; k < 10; k++)
		assert_int_equal((uint8_t)buf[k], byte_at(4990 + (uint64_t)k));
	close(fds[0]);
	close(fds[1]);
	close(fd);
	te_end(loop);
}

/* COIL_SENDFILE_CACHED_ONLY: a range the page cache does not hold is
 * left to the caller (-EAGAIN, nothing read, nothing sent); a cached one
 * is sent as without the flag. */
static void test_sendfile_cached_only_leaves_uncached_ranges(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	size_t len = 256 * 1024;
	int fd = make_file(len, NULL);
	struct coil_loop_stats a, b;
	char *buf = malloc(len);
	int fds[2];

	(void)state;
	assert_non_null(buf);
	pair(fds);
	if (drop_cache(fd, len)) {
		coil_loop_stats(loop, &a);
		assert_int_equal(sendfile_flags(loop, fds[1], fd, 0, len, 0,
						COIL_SENDFILE_CACHED_ONLY),
				 -EAGAIN);
		coil_loop_stats(loop, &b);
		assert_int_equal(b.sendfiles, a.sendfiles);
		assert_int_equal(b.sendfile_warms, a.sendfile_warms);
	} else {
		print_message("the page cache kept the file: skipped\n");
	}
	assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
	if (cached_pages(fd, len) >= 0) {
		struct reader rd;
		reader_start(&rd, fds[0], len);
		assert_int_equal(sendfile_flags(loop, fds[1], fd, 0, len, 0,
						COIL_SENDFILE_CACHED_ONLY),
				 (int)len);
		reader_join(&rd);
		for (size_t k = 0; k < len; k++)
			if (rd.buf[k] != byte_at(k))
				fail_msg("byte %zu differs", k);
		free(rd.buf);
	}
	free(buf);
	close(fds[0]);
	close(fds[1]);
	close(fd);
	te_end(loop);
}

/* A pair with small buffers, so that a few hundred KiB fill it. */
static void small_pair(int fds[2])
{
	int small = 65536;
	tu_tcp_pair(fds);
	setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
}

/* Fill the socket pair until an op has to wait: @s is then in flight on
 * its POLLOUT wait. Return: bytes sent before it. */
static size_t fill_until_waiting(struct coil_loop *loop, struct sop *s, int out,
				 int in, uint64_t wait_ns)
{
	size_t sent = 0;
	for (;;) {
		struct coil_loop_stats a, b;
		sop_init(s);
		if (wait_ns)
			coil_op_timeout(&s->sf.op, wait_ns);
		coil_loop_stats(loop, &a);
		assert_int_equal(
			coil_sendfile(loop, &s->sf, out, in, sent, 1 << 20, 0),
			0);
		/* a few turns: a wait for room stays in flight */
		for (int i = 0; i < 3 && !s->calls; i++)
			assert_true(coil_loop_run(loop, COIL_RUN_NOWAIT) >= 0);
		coil_loop_stats(loop, &b);
		if (!s->calls)
			return sent;
		assert_true(s->res > 0);
		sent += (size_t)s->res;
		assert_true(sent < FILE_LEN); /* loopback buffers are smaller */
	}
}

static void test_sendfile_stalled_reader_times_out(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	int fd = make_file(FILE_LEN, NULL);
	int fds[2];
	struct sop s;
	uint64_t t0;

	(void)state;
	small_pair(fds);
	fill_until_waiting(loop, &s, fds[1], fd, 100 * MS);
	t0 = tu_mono_ns();
	assert_int_equal(te_run_calls(loop, &s.calls, 1, 5000 * MS), 1);
	assert_int_equal(s.res, -ETIMEDOUT);
	assert_true(tu_mono_ns() - t0 >= 90 * MS);
	assert_int_equal(coil_loop_inflight(loop), 0);
	close(fds[0]);
	close(fds[1]);
	close(fd);
	te_end(loop);
}

static void test_sendfile_cancel_while_waiting(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	int fd = make_file(FILE_LEN, NULL);
	int fds[2];
	struct sop s;

	(void)state;
	for (int by_fd = 0; by_fd < 2; by_fd++) {
		small_pair(fds);
		fill_until_waiting(loop, &s, fds[1], fd, 0);
		if (by_fd)
			assert_int_equal(coil_cancel_fd(loop, fds[1]), 0);
		else
			assert_int_equal(coil_cancel(loop, &s.sf.op), 0);
		assert_int_equal(te_run_calls(loop, &s.calls, 1, 5000 * MS), 1);
		assert_int_equal(s.res, -ECANCELED);
		assert_int_equal(te_drain(loop, 1000 * MS), 0);
		close(fds[0]);
		close(fds[1]);
	}
	close(fd);
	te_end(loop);
}

/* The peer resets the connection while the op waits for room: an error
 * through the callback, and no SIGPIPE, whether it is ignored or not. */
static void test_sendfile_peer_reset_no_sigpipe(void **state)
{
	int fd = make_file(FILE_LEN, NULL);
	struct linger lg = {1, 0};

	(void)state;
	for (int ignore = 0; ignore < 2; ignore++) {
		struct coil_loop *loop = te_begin(NULL);
		int fds[2];
		struct sop s;
		sigset_t pend;
		int r;

		signal(SIGPIPE, ignore ? SIG_IGN : SIG_DFL);
		small_pair(fds);
		fill_until_waiting(loop, &s, fds[1], fd, 0);
		setsockopt(fds[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fds[0]); /* RST */
		assert_int_equal(te_run_calls(loop, &s.calls, 1, 5000 * MS), 1);
		assert_true(s.res == -ECONNRESET || s.res == -EPIPE);
		/* on a reset socket sendfile(2) fails with EPIPE */
		r = sendfile_once(loop, fds[1], fd, 0, 4096, 0);
		assert_true(r == -EPIPE || r == -ECONNRESET);
		sigemptyset(&pend);
		assert_int_equal(sigpending(&pend), 0);
		assert_false(sigismember(&pend, SIGPIPE));
		close(fds[1]);
		te_end(loop);
	}
	signal(SIGPIPE, SIG_DFL);
	close(fd);
}

/* The file shrinks while an op waits for room: the op ends short with
 * what it sent, the next gives 0, and the bytes that did go are right. */
static void test_sendfile_file_truncated_while_sending(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	char *path;
	int fd = make_file(FILE_LEN, &path);
	int fds[2];
	struct reader rd;
	struct sop s;
	size_t before, cut;

	(void)state;
	small_pair(fds);
	before = fill_until_waiting(loop, &s, fds[1], fd, 0);
	cut = before + 1000;
	assert_int_equal(truncate(path, (off_t)cut), 0);
	reader_start(&rd, fds[0], FILE_LEN);
	assert_int_equal(te_run_calls(loop, &s.calls, 1, 5000 * MS), 1);
	/* the op had sent some of its bytes before the cut (those came
	 * from the longer file); it ends at the cut or where it was */
	assert_true(s.res >= 1000 && s.res < 1 << 20);
	before += (size_t)s.res;
	assert_int_equal(sendfile_once(loop, fds[1], fd, before, 1 << 20, 0),
			 0);
	shutdown(fds[1], SHUT_WR);
	reader_join(&rd);
	assert_int_equal(rd.got, before);
	/* up to the cut, the file's bytes; after it, bytes queued before
	 * the truncation: pages go by reference, and truncate(2) zeroed the
	 * rest of the page the cut falls in */
	for (size_t k = 0; k < rd.got; k++)
		if (rd.buf[k] != byte_at(k) && (k < cut || rd.buf[k] != 0))
			fail_msg("byte %zu differs", k);
	free(rd.buf);
	free(path);
	close(fds[0]);
	close(fds[1]);
	close(fd);
	te_end(loop);
}

static void test_sendfile_bad_fds(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	int fd = make_file(4096, NULL);
	int fds[2], closed;
	struct sop s;

	(void)state;
	pair(fds);
	sop_init(&s);
	assert_int_equal(coil_sendfile(loop, &s.sf, -1, fd, 0, 10, 0), -EBADF);
	assert_int_equal(coil_sendfile(loop, &s.sf, fds[1], -1, 0, 10, 0),
			 -EBADF);
	assert_int_equal(
		coil_sendfile(loop, &s.sf, fds[1], fd, 1ull << 63, 1, 0),
		-EINVAL);
	assert_int_equal(coil_loop_inflight(loop), 0);
	closed = dup(fd);
	close(closed);
	assert_int_equal(sendfile_once(loop, fds[1], closed, 0, 10, 0), -EBADF);
	/* a second submission of a busy op is refused */
	sop_init(&s);
	assert_int_equal(coil_sendfile(loop, &s.sf, fds[1], fd, 0, 10, 8),
			 -EINVAL);
	assert_int_equal(coil_sendfile(loop, &s.sf, fds[1], fd, 0, 10, 0), 0);
	assert_int_equal(coil_sendfile(loop, &s.sf, fds[1], fd, 0, 10, 0),
			 -EBUSY);
	assert_int_equal(te_run_calls(loop, &s.calls, 1, 1000 * MS), 1);
	assert_int_equal(s.res, 10);
	close(fds[0]);
	close(fds[1]);
	close(fd);
	te_end(loop);
}

/* COIL_SENDFILE_RESIDENT: the range is not checked; sent byte for byte
 * from a locked mapping's pages, and (where the file could be dropped)
 * even when not resident: no warming read, sendfile(2) reads it. */
static void test_sendfile_resident_is_not_checked(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	size_t len = 300 * 1024;
	int fd = make_file(len, NULL);
	struct coil_loop_stats a, b;
	struct reader rd;
	int fds[2];
	void *m;

	(void)state;
	pair(fds);
	for (int k = 0; k < 2; k++) {
		/* k 0: locked (where mlock is allowed); k 1: dropped */
		m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		assert_true(m != MAP_FAILED);
		if (k == 0)
			(void)mlock(m, len);
		else
			munmap(m, len);
		if (k == 1 && !drop_cache(fd, len))
			break; /* the page cache kept it */
		coil_loop_stats(loop, &a);
		reader_start(&rd, fds[0], len - 5);
		assert_int_equal(sendfile_flags(loop, fds[1], fd, 5, len - 5, 0,
						COIL_SENDFILE_RESIDENT),
				 (int)(len - 5));
		reader_join(&rd);
		for (size_t i = 0; i < len - 5; i++)
			if (rd.buf[i] != byte_at(i + 5))
				fail_msg("byte %zu differs (%d)", i, k);
		free(rd.buf);
		coil_loop_stats(loop, &b);
		assert_int_equal(b.sendfile_warms, a.sendfile_warms);
		assert_true(b.sendfiles > a.sendfiles);
		if (k == 0)
			munmap(m, len);
	}
	close(fds[0]);
	close(fds[1]);
	close(fd);
	te_end(loop);
}

/* coil_file_cached(): a file just written is cached, after DONTNEED it
 * is not (where the file system lets it go), nor bytes past its end or
 * an fd without pages; bad input is refused. Skipped without
 * cachestat(2) (before Linux 6.5). */
static void test_file_cached_tells_residency(void **state)
{
	int fd = make_file(65536 + 10, NULL);
	int fds[2], closed;

	(void)state;
	if (coil_file_cached(fd, 0, 1) == -ENOSYS) {
		close(fd);
		fprintf(stderr, "skip: no cachestat(2)\n");
		skip();
	}
	assert_int_equal(coil_file_cached(fd, 0, 65536 + 10), 1);
	assert_int_equal(coil_file_cached(fd, 4096, 100), 1);
	assert_int_equal(coil_file_cached(fd, 0, 0), 1);
	assert_int_equal(coil_file_cached(fd, 0, 1u << 20), 0); /* past EOF */
	if (drop_cache(fd, 65536 + 10)) {
		assert_int_equal(coil_file_cached(fd, 0, 65536 + 10), 0);
		assert_int_equal(coil_file_cached(fd, 8192, 1), 0);
	}
	pair(fds);
	assert_int_equal(coil_file_cached(fds[0], 0, 10), 0);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(coil_file_cached(-1, 0, 10), -EBADF);
	closed = dup(fd);
	close(closed);
	assert_int_equal(coil_file_cached(closed, 0, 10), -EBADF);
	assert_int_equal(coil_file_cached(fd, 1ull << 63, 1), -EINVAL);
	assert_int_equal(coil_file_cached(fd, INT64_MAX, 2), -EINVAL);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			test_sendfile_ranges_from_cache_byte_for_byte,
			te_rm_tmp),
		cmocka_unit_test_teardown(
			test_sendfile_ranges_not_cached_byte_for_byte,
			te_rm_tmp),
		cmocka_unit_test_teardown(test_sendfile_end_of_file_gives_zero,
					  te_rm_tmp),
		cmocka_unit_test_teardown(
			test_sendfile_cached_only_leaves_uncached_ranges,
			te_rm_tmp),
		cmocka_unit_test_teardown(
			test_sendfile_stalled_reader_times_out, te_rm_tmp),
		cmocka_unit_test_teardown(test_sendfile_cancel_while_waiting,
					  te_rm_tmp),
		cmocka_unit_test_teardown(test_sendfile_peer_reset_no_sigpipe,
					  te_rm_tmp),
		cmocka_unit_test_teardown(
			test_sendfile_file_truncated_while_sending, te_rm_tmp),
		cmocka_unit_test_teardown(test_sendfile_bad_fds, te_rm_tmp),
		cmocka_unit_test_teardown(test_file_cached_tells_residency,
					  te_rm_tmp),
		cmocka_unit_test_teardown(test_sendfile_resident_is_not_checked,
					  te_rm_tmp),
	};
	te_watchdog(60);
	return cmocka_run_group_tests_name("engine.sendfile", tests, NULL,
					   NULL);
}
