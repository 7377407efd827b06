/*
 * tests/server/test_server_sendfile.c - file bodies (coil_http_respond_file)
 * against curl (peer), for both of the server's paths: by sendfile
 * (coil_sendfile(), bodies of at least opts.sendfile_min_bytes on plain
 * TCP) and by read + send (sendfile_min_bytes SIZE_MAX). Files of many
 * sizes and ranges of them, byte for byte, from the page cache and
 * dropped from it (posix_fadvise DONTNEED) before each download; a file
 * truncated while it is being sent (the response ends short, the
 * connection closes, the server goes on); descriptors come back. The
 * stalled reader is in test_server_http (test_server_file_stalled_reader).
 * Exits 77 without curl.
 */
#include "peer.h"

#define FILE_LEN (3u * 1024 * 1024 + 77)

static char *dir;
static char file_path[4200];

/* The byte at @i of the test file. */
static uint8_t byte_at(uint64_t i)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull;
	return (uint8_t)(x >> 56);
}

/* /r/OFF/LEN: @LEN bytes of the test file from @OFF; /big: the whole
 * file named big.bin. The handler opens the file anew per request. */
static void handler(struct coil_http_sreq *req, void *arg)
{
	unsigned long long off = 0, len = 0;
	char path[64];
	const char *name = file_path;
	char big[4300];
	int fd;

	(void)arg;
	snprintf(path, sizeof(path), "%.*s",
		 (int)(req->path_len < 63 ? req->path_len : 63), req->path);
	if (strcmp(path, "/big") == 0) {
		struct stat sb;
		snprintf(big, sizeof(big), "%s/big.bin", dir);
		name = big;
		if (stat(big, &sb) == 0)
			len = (unsigned long long)sb.st_size;
	} else if (sscanf(path, "/r/%llu/%llu", &off, &len) != 2) {
		coil_http_respond(req, 200, NULL, 0, "hello", 5);
		return;
	}
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		coil_http_respond(req, 404, NULL, 0, NULL, 0);
		return;
	}
	coil_http_respond_file(req, 200, NULL, 0, fd, off, len);
}

static void start(struct srv *s, size_t sendfile_min)
{
	struct coil_http_server_opts o;
	memset(&o, 0, sizeof(o));
	o.handler = handler;
	o.sendfile_min_bytes = sendfile_min;
	o.write_timeout_ns = 2000 * MS;
	srv_start(s, &o, NULL);
}

static int setup(void **state)
{
	int fd;
	uint8_t *b = malloc(FILE_LEN);

	(void)state;
	assert_non_null(b);
	dir = tu_tmpdir();
	snprintf(file_path, sizeof(file_path), "%s/data.bin", dir);
	for (size_t i = 0; i < FILE_LEN; i++)
		b[i] = byte_at(i);
	fd = open(file_path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, FILE_LEN), (ssize_t)FILE_LEN);
	/* clean pages, so that DONTNEED can drop them */
	assert_int_equal(fsync(fd), 0);
	close(fd);
	free(b);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_tree(dir);
	free(dir);
	dir = NULL;
	return 0;
}

static void drop_cache(void)
{
	int fd = open(file_path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
}

static const struct {
	uint64_t off, len;
} ranges[] = {
	{0, 1},
	{0, 4095},
	{1, 4096},
	{4095, 16383},
	{0, 16384},
	{7, 16385},
	{0, 65536},
	{12345, 70001},
	{0, 1024 * 1024},
	{3, 1024 * 1024 + 5},
	{100, 2u * 1024 * 1024 + 4097},
	{0, FILE_LEN},
	{FILE_LEN - 10, 10},
};
#define NRANGES (sizeof(ranges) / sizeof(ranges[0]))

/* Whether @path holds [off, off + len) of the test file. */
static int body_is(const char *path, uint64_t off, uint64_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t buf[65536];
	uint64_t at = 0;
	ssize_t n;
	int ok = fd >= 0;

	while (ok && (n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t k = 0; k < n && ok; k++)
			ok = at + (uint64_t)k < len &&
			     buf[k] == byte_at(off + at + (uint64_t)k);
		at += (uint64_t)n;
	}
	if (fd >= 0)
		close(fd);
	return ok && at == len;
}

/* curl -s URL -o OUT ... for ranges [@from, @to): one process, one
 * keep-alive connection. */
static void fetch(const struct srv *s, size_t from, size_t to)
{
	char *argv[4 + 3 * NRANGES], urls[NRANGES][96], outs[NRANGES][4300];
	char *out;
	int argc = 0, rc;

	argv[argc++] = (char *)"curl";
	argv[argc++] = (char *)"-s";
	for (size_t i = from; i < to; i++) {
		snprintf(urls[i], sizeof(urls[i]),
			 "http://127.0.0.1:%u/r/%llu/%llu", s->port,
			 (unsigned long long)ranges[i].off,
			 (unsigned long long)ranges[i].len);
		snprintf(outs[i], sizeof(outs[i]), "%s/out%zu", dir, i);
		argv[argc++] = urls[i];
		argv[argc++] = (char *)"-o";
		argv[argc++] = outs[i];
	}
	argv[argc] = NULL;
	rc = run(argv, NULL, &out, 30000);
	if (rc != 0)
		fail_msg("curl: %d: %s", rc, out);
	free(out);
	for (size_t i = from; i < to; i++)
		if (!body_is(outs[i], ranges[i].off, ranges[i].len))
			fail_msg("range %zu (%llu, %llu) differs", i,
				 (unsigned long long)ranges[i].off,
				 (unsigned long long)ranges[i].len);
}

static void check_ranges(size_t sendfile_min)
{
	int before = tu_count_fds();
	struct srv s;

	require_prog("curl");
	start(&s, sendfile_min);
	/* from the page cache: every range on one connection */
	fetch(&s, 0, NRANGES);
	/* dropped from it before each download */
	for (size_t i = 0; i < NRANGES; i++) {
		drop_cache();
		fetch(&s, i, i + 1);
	}
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	assert_int_equal(tu_count_fds(), before);
}

static void test_server_sendfile_ranges_byte_for_byte(void **state)
{
	(void)state;
	check_ranges(0); /* the default: sendfile from 16 KiB */
}

static void test_server_read_send_ranges_byte_for_byte(void **state)
{
	(void)state;
	check_ranges(SIZE_MAX);
}

/*
 * A 32 MiB file is truncated to 100 KiB while a client reads its body
 * slowly: the response ends short of its Content-Length and the
 * connection closes (no hang, no crash); the server answers the next
 * request; the descriptors come back.
 */
static void check_truncated(size_t sendfile_min)
{
	int before = tu_count_fds();
	char big[4300];
	struct srv s;
	struct resp r;

	snprintf(big, sizeof(big), "%s/big.bin", dir);
	start(&s, sendfile_min);
	cl_truncated_while_sent(s.port, "/big", big);
	/* the server goes on */
	assert_int_equal(
		cl_once(s.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	assert_int_equal(r.status, 200);
	free(r.body);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	assert_int_equal(tu_count_fds(), before);
}

static void test_server_sendfile_file_truncated_while_sent(void **state)
{
	(void)state;
	check_truncated(0);
}

static void test_server_read_send_file_truncated_while_sent(void **state)
{
	(void)state;
	check_truncated(SIZE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_sendfile_ranges_byte_for_byte),
		cmocka_unit_test(test_server_read_send_ranges_byte_for_byte),
		cmocka_unit_test(
			test_server_sendfile_file_truncated_while_sent),
		cmocka_unit_test(
			test_server_read_send_file_truncated_while_sent),
	};
	return cmocka_run_group_tests_name("server.sendfile", tests, setup,
					   teardown);
}
