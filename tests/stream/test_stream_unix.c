/* tests/stream/test_stream_unix.c - coil_tcp_connect() to a Unix stream
 * socket (unix(7)): bytes both ways, a missing path and a path nobody
 * listens on fail through the callback, AF_UNIX mixed with AF_INET is
 * refused. */
#include "st.h"

#include <sys/un.h>

struct uclient {
	struct coil_tcp t;
	int connected; /* 1 ok, < 0 the error */
	char in[64];
	size_t got;
	int closed;
};

static void u_connect_cb(struct coil_stream *s, int status)
{
	struct uclient *c = s->data;
	c->connected = status == 0 ? 1 : status;
}

static void u_read_cb(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct uclient *c = s->data;
	if (n > 0 && c->got + (size_t)n <= sizeof(c->in)) {
		memcpy(c->in + c->got, buf, (size_t)n);
		c->got += (size_t)n;
	}
}

static void u_closed(struct coil_stream *s)
{
	struct uclient *c = s->data;
	c->closed = 1;
}

static int wdone;

static void u_write_cb(struct coil_stream_write *w, int status)
{
	(void)w;
	wdone = status == 0 ? 1 : status;
}

static struct sockaddr_storage u_addr(const char *path)
{
	struct sockaddr_storage ss;
	struct sockaddr_un *un = (struct sockaddr_un *)&ss;
	memset(&ss, 0, sizeof(ss));
	un->sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(un->sun_path));
	memcpy(un->sun_path, path, strlen(path) + 1);
	return ss;
}

static void test_stream_unix_connect_both_ways(void **state)
{
	int fds0 = tu_count_fds();
	char dir[] = "/tmp/coil-unix-XXXXXX", path[128], buf[8];
	struct coil_loop *loop = tu_loop(NULL);
	struct uclient c;
	struct coil_stream_write w = {0};
	struct sockaddr_storage a;
	int lfd, sfd;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	a = u_addr(path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(
		bind(lfd, (struct sockaddr *)&a, sizeof(struct sockaddr_un)),
		0);
	assert_int_equal(listen(lfd, 8), 0);

	memset(&c, 0, sizeof(c));
	c.t.s.data = &c;
	assert_int_equal(
		coil_tcp_connect(loop, &c.t, &a, 1, NULL, u_connect_cb), 0);
	ST_RUN_UNTIL(loop, c.connected, 5000);
	assert_int_equal(c.connected, 1);
	sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(sfd >= 0);

	assert_int_equal(coil_stream_read_start(&c.t.s, u_read_cb), 0);
	assert_int_equal(coil_stream_write(&c.t.s, &w, "ping", 4, u_write_cb),
			 0);
	ST_RUN_UNTIL(loop, wdone, 5000);
	assert_int_equal(wdone, 1);
	assert_int_equal(recv(sfd, buf, 4, MSG_WAITALL), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(send(sfd, "pong", 4, 0), 4);
	ST_RUN_UNTIL(loop, c.got >= 4, 5000);
	assert_int_equal(c.got, 4);
	assert_memory_equal(c.in, "pong", 4);

	assert_int_equal(coil_stream_close(&c.t.s, u_closed), 0);
	ST_RUN_UNTIL(loop, c.closed, 5000);
	assert_true(c.closed);
	close(sfd);
	close(lfd);
	unlink(path);
	rmdir(dir);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

static void test_stream_unix_errors(void **state)
{
	char dir[] = "/tmp/coil-unix-XXXXXX", path[128];
	struct coil_loop *loop = tu_loop(NULL);
	struct sockaddr_storage a[2];
	struct uclient c;
	int fd;
	(void)state;

	assert_non_null(mkdtemp(dir));
	/* no such path: connect(2)'s -ENOENT, through the callback */
	snprintf(path, sizeof(path), "%s/missing.sock", dir);
	a[0] = u_addr(path);
	memset(&c, 0, sizeof(c));
	c.t.s.data = &c;
	assert_int_equal(coil_tcp_connect(loop, &c.t, a, 1, NULL, u_connect_cb),
			 0);
	ST_RUN_UNTIL(loop, c.connected, 5000);
	assert_int_equal(c.connected, -ENOENT);

	/* a socket file nobody listens on any more: refused */
	snprintf(path, sizeof(path), "%s/dead.sock", dir);
	a[0] = u_addr(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(
		bind(fd, (struct sockaddr *)&a[0], sizeof(struct sockaddr_un)),
		0);
	close(fd);
	memset(&c, 0, sizeof(c));
	c.t.s.data = &c;
	assert_int_equal(coil_tcp_connect(loop, &c.t, a, 1, NULL, u_connect_cb),
			 0);
	ST_RUN_UNTIL(loop, c.connected, 5000);
	assert_int_equal(c.connected, -ECONNREFUSED);
	unlink(path);

	/* AF_UNIX beside AF_INET: refused at once, nothing held */
	a[1] = st_v4(1);
	assert_int_equal(coil_tcp_connect(loop, &c.t, a, 2, NULL, u_connect_cb),
			 -EAFNOSUPPORT);
	a[1] = a[0];
	a[0] = st_v4(1);
	assert_int_equal(coil_tcp_connect(loop, &c.t, a, 2, NULL, u_connect_cb),
			 -EAFNOSUPPORT);
	rmdir(dir);
	st_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_unix_connect_both_ways),
		cmocka_unit_test(test_stream_unix_errors),
	};
	return cmocka_run_group_tests_name("stream.unix", tests, NULL, NULL);
}
