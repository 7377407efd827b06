/* tests/engine/test_file.c - file ops on real temp files: openat, read and
 * write at offsets, readv/writev, fsync, statx, close. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "engtest.h"

/* Submit through @submit_ret (the submitting call's return), run until the
 * op completed, check it ran once and return its result. */
static int wait_op(struct coil_loop *loop, struct cop *c, int submit_ret)
{
	assert_int_equal(submit_ret, 0);
	assert_int_equal(c->calls, 0); /* never inline */
	assert_int_equal(te_drain(loop, 5000 * MS), 0);
	assert_int_equal(c->calls, 1);
	return c->res;
}

static void test_file_open_write_read_fsync_statx_close(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	char *dir = te_tmpdir();
	char *path;
	struct cop c;
	char buf[64];

	assert_true(asprintf(&path, "%s/data", dir) > 0);
	cop_init(&c);
	int fd = wait_op(loop, &c,
			 coil_openat(loop, &c.op, AT_FDCWD, path,
				     O_CREAT | O_RDWR | O_EXCL, 0600));
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	/* two writes at explicit offsets leave a hole between them */
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c,
			coil_write(loop, &c.op, fd, "0123456789", 10, 0)),
		10);
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c, coil_write(loop, &c.op, fd, "tail", 4, 100)),
		4);

	/* read at an offset */
	cop_init(&c);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(
		wait_op(loop, &c, coil_read(loop, &c.op, fd, buf + 0, 6, 4)),
		6);
	assert_memory_equal(buf, "456789", 6);
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c, coil_read(loop, &c.op, fd, buf, 16, 98)), 6);
	assert_memory_equal(buf, "\0\0tail", 6);

	/* off = -1: the file position, which explicit offsets left at 0 */
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c, coil_read(loop, &c.op, fd, buf, 3, -1)), 3);
	assert_memory_equal(buf, "012", 3);
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c, coil_read(loop, &c.op, fd, buf, 3, -1)), 3);
	assert_memory_equal(buf, "345", 3);

	/* reading past the end gives 0 */
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c, coil_read(loop, &c.op, fd, buf, 8, 4096)), 0);

	/* writev at 200, readv back into differently split buffers */
	struct iovec wv[3] = {{.iov_base = "alpha", .iov_len = 5},
			      {.iov_base = "-", .iov_len = 1},
			      {.iov_base = "omega", .iov_len = 5}};
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c, coil_writev(loop, &c.op, fd, wv, 3, 200)),
		11);
	char r1[4], r2[7];
	struct iovec rv[2] = {{.iov_base = r1, .iov_len = sizeof(r1)},
			      {.iov_base = r2, .iov_len = sizeof(r2)}};
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c, coil_readv(loop, &c.op, fd, rv, 2, 200)), 11);
	assert_memory_equal(r1, "alph", 4);
	assert_memory_equal(r2, "a-omega", 7);

	/* fsync, both flavours */
	cop_init(&c);
	assert_int_equal(wait_op(loop, &c, coil_fsync(loop, &c.op, fd, 0)), 0);
	cop_init(&c);
	assert_int_equal(wait_op(loop, &c, coil_fsync(loop, &c.op, fd, 1)), 0);

	/* statx: the size is the end of the last write */
	struct statx stx;
	memset(&stx, 0, sizeof(stx));
	cop_init(&c);
	assert_int_equal(wait_op(loop, &c,
				 coil_statx(loop, &c.op, AT_FDCWD, path, 0,
					    STATX_SIZE | STATX_MODE, &stx)),
			 0);
	assert_true(stx.stx_mask & STATX_SIZE);
	assert_int_equal(stx.stx_size, 211);
	assert_int_equal(stx.stx_mode & 0777, 0600);
	assert_true(S_ISREG(stx.stx_mode));

	/* close, and the fd is gone */
	cop_init(&c);
	assert_int_equal(wait_op(loop, &c, coil_close(loop, &c.op, fd)), 0);
	assert_true(fcntl(fd, F_GETFD) < 0 && errno == EBADF);

	/* O_EXCL on the existing file fails */
	cop_init(&c);
	assert_int_equal(wait_op(loop, &c,
				 coil_openat(loop, &c.op, AT_FDCWD, path,
					     O_CREAT | O_RDWR | O_EXCL, 0600)),
			 -EEXIST);

	/* a read on the closed fd fails through the callback */
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c, coil_read(loop, &c.op, fd, buf, 8, 0)),
		-EBADF);

	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	te_end(loop);
}

static void test_file_open_missing_gives_enoent(void **state)
{
	struct coil_loop *loop = te_begin(NULL);
	char *dir = te_tmpdir();
	char *path;
	struct cop c;
	struct statx stx;

	assert_true(asprintf(&path, "%s/no-such-file", dir) > 0);
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c,
			coil_openat(loop, &c.op, AT_FDCWD, path, O_RDONLY, 0)),
		-ENOENT);
	cop_init(&c);
	assert_int_equal(wait_op(loop, &c,
				 coil_statx(loop, &c.op, AT_FDCWD, path, 0,
					    STATX_SIZE, &stx)),
			 -ENOENT);

	/* openat relative to a directory fd */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	cop_init(&c);
	assert_int_equal(
		wait_op(loop, &c,
			coil_openat(loop, &c.op, dfd, "missing", O_RDONLY, 0)),
		-ENOENT);
	cop_init(&c);
	int fd = wait_op(loop, &c,
			 coil_openat(loop, &c.op, dfd, "made",
				     O_CREAT | O_WRONLY, 0644));
	assert_true(fd >= 0);
	cop_init(&c);
	assert_int_equal(wait_op(loop, &c, coil_close(loop, &c.op, fd)), 0);
	assert_int_equal(unlinkat(dfd, "made", 0), 0);
	close(dfd);

	assert_int_equal(rmdir(dir), 0);
	free(path);
	te_end(loop);
}

/* Many file ops in one batch: each completes once, with its own data. */
static void test_file_batch_of_writes_then_reads(void **state)
{
	enum { N = 64, SZ = 512 };
	struct coil_loop *loop = te_begin(NULL);
	char *dir = te_tmpdir();
	char *path;
	static struct cop ops[N];
	static char wbuf[N][SZ], rbuf[N][SZ];

	assert_true(asprintf(&path, "%s/batch", dir) > 0);
	int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	for (int i = 0; i < N; i++) {
		memset(wbuf[i], 'A' + i % 26, SZ);
		cop_init(&ops[i]);
		assert_int_equal(coil_write(loop, &ops[i].op, fd, wbuf[i], SZ,
					    (int64_t)i * SZ),
				 0);
	}
	assert_int_equal(coil_loop_inflight(loop), N);
	assert_int_equal(te_drain(loop, 10000 * MS), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ops[i].calls, 1);
		assert_int_equal(ops[i].res, SZ);
		cop_init(&ops[i]);
		assert_int_equal(coil_read(loop, &ops[i].op, fd, rbuf[i], SZ,
					   (int64_t)(N - 1 - i) * SZ),
				 0);
	}
	assert_int_equal(te_drain(loop, 10000 * MS), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ops[i].calls, 1);
		assert_int_equal(ops[i].res, SZ);
		assert_memory_equal(rbuf[i], wbuf[N - 1 - i], SZ);
	}
	close(fd);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	te_end(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			test_file_open_write_read_fsync_statx_close, te_rm_tmp),
		cmocka_unit_test_teardown(test_file_open_missing_gives_enoent,
					  te_rm_tmp),
		cmocka_unit_test_teardown(test_file_batch_of_writes_then_reads,
					  te_rm_tmp),
	};
	te_watchdog(60);
	return cmocka_run_group_tests_name("engine.file", tests, NULL, NULL);
}
