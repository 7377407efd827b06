/* tests/stream/test_listener.c - listeners: one port shared by two loops
 * on two threads (SO_REUSEPORT), stop/start, back-off on EMFILE, close */
#include <pthread.h>
#include <sys/resource.h>

#include "st.h"

#define NCONN 64

struct worker {
	pthread_t th;
	int id;
	unsigned short port; /* 0: pick one (first worker) */
	struct coil_loop *loop;
	struct coil_listener l;
	struct coil_tcp conns[NCONN];
	struct coil_stream_write w[NCONN];
	unsigned char byte;
	int accepted;
	int open_conns;
	int listener_closed;
	struct coil_op stop;
	int stopping;
	int setup_err;
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	int ready;
};

static void conn_closed(struct coil_stream *s)
{
	struct worker *w = s->data;
	w->open_conns--;
}

static void id_written(struct coil_stream_write *req, int status)
{
	struct coil_tcp *t = req->data;
	coil_stream_close(&t->s, conn_closed);
}

static void on_conn(struct coil_listener *l, int fd)
{
	struct worker *w = l->data;
	struct coil_tcp *t;
	if (fd < 0 || w->accepted >= NCONN) {
		if (fd >= 0)
			close(fd);
		return;
	}
	t = &w->conns[w->accepted];
	t->s.data = w;
	if (coil_tcp_open(w->loop, t, fd, NULL) < 0) {
		close(fd);
		return;
	}
	w->w[w->accepted].data = t;
	w->accepted++;
	w->open_conns++;
	coil_stream_write(&t->s, &w->w[w->accepted - 1], &w->byte, 1,
			  id_written);
}

static void worker_listener_closed(struct coil_listener *l)
{
	struct worker *w = l->data;
	w->listener_closed = 1;
}

static void stop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct worker *w = coil_container_of(op, struct worker, stop);
	w->stopping = 1;
	coil_listener_close(&w->l, worker_listener_closed);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_in a = tu_addr(w->port);
	struct coil_listener_opts o = {.flags = COIL_LISTEN_REUSEPORT};
	struct sockaddr_storage ss;
	socklen_t len;

	w->loop = tu_loop(NULL);
	w->l.data = w;
	w->byte = (unsigned char)('A' + w->id);
	w->setup_err = coil_listener_open(w->loop, &w->l, (struct sockaddr *)&a,
					  sizeof(a), &o, on_conn);
	if (w->setup_err == 0 && coil_listener_addr(&w->l, &ss, &len) == 0)
		w->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	coil_op_init(&w->stop, stop_cb);
	coil_loop_expect(w->loop, &w->stop);
	pthread_mutex_lock(w->mu);
	w->ready = 1;
	pthread_cond_broadcast(w->cv);
	pthread_mutex_unlock(w->mu);
	if (w->setup_err == 0) {
		while (!(w->stopping && w->listener_closed &&
			 w->open_conns == 0)) {
			if (coil_loop_run(w->loop, COIL_RUN_ONCE) < 0)
				break;
		}
	}
	while (coil_loop_inflight(w->loop))
		coil_loop_run(w->loop, COIL_RUN_ONCE);
	coil_loop_free(w->loop);
	return NULL;
}

static void wait_ready(struct worker *w)
{
	pthread_mutex_lock(w->mu);
	while (!w->ready)
		pthread_cond_wait(w->cv, w->mu);
	pthread_mutex_unlock(w->mu);
}

static void test_listener_reuseport_two_loops_two_threads(void **state)
{
	static struct worker w[2];
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	int per[2] = {0, 0};
	int fds0 = tu_count_fds();
	struct timeval tv = {.tv_sec = 10};

	memset(w, 0, sizeof(w));
	for (int i = 0; i < 2; i++) {
		w[i].id = i;
		w[i].mu = &mu;
		w[i].cv = &cv;
	}
	/* the first picks the port, the second joins it */
	assert_int_equal(pthread_create(&w[0].th, NULL, worker_main, &w[0]), 0);
	wait_ready(&w[0]);
	assert_int_equal(w[0].setup_err, 0);
	w[1].port = w[0].port;
	assert_int_equal(pthread_create(&w[1].th, NULL, worker_main, &w[1]), 0);
	wait_ready(&w[1]);
	assert_int_equal(w[1].setup_err, 0);
	assert_int_equal(w[1].port, w[0].port);

	for (int i = 0; i < NCONN; i++) {
		struct sockaddr_in a = tu_addr(w[0].port);
		unsigned char b = 0;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fd >= 0);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)),
				 0);
		/* the worker that accepted writes its letter */
		assert_int_equal(read(fd, &b, 1), 1);
		assert_true(b == 'A' || b == 'B');
		per[b - 'A']++;
		close(fd);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(
			coil_loop_post_remote(w[i].loop, &w[i].stop, 0), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i].th, NULL);
	print_message("connections per loop: %d and %d\n", per[0], per[1]);
	assert_int_equal(per[0] + per[1], NCONN);
	assert_int_equal(w[0].accepted, per[0]);
	assert_int_equal(w[1].accepted, per[1]);
	/* both accepted (all 64 on one socket: chance 2^-63) */
	assert_true(per[0] > 0);
	assert_true(per[1] > 0);
	assert_int_equal(tu_count_fds(), fds0);
}

/* Without SO_REUSEPORT the second listener on the port is refused. */
static void test_listener_without_reuseport_port_is_taken(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_listener l1 = {0}, l2 = {0};
	struct coil_listener_opts o = {.flags = COIL_LISTEN_REUSEPORT};
	struct sockaddr_in a = tu_addr(0);
	struct sockaddr_storage ss;
	socklen_t len;

	assert_int_equal(coil_listener_open(loop, &l1, (struct sockaddr *)&a,
					    sizeof(a), &o, st_on_conn),
			 0);
	assert_int_equal(coil_listener_addr(&l1, &ss, &len), 0);
	assert_int_equal(coil_listener_open(loop, &l2, (struct sockaddr *)&ss,
					    len, NULL, st_on_conn),
			 -EADDRINUSE);
	assert_int_equal(coil_listener_close(&l1, NULL), 0);
	st_loop_free(loop);
}

/* stop: connections wait in the kernel's backlog; start: they come. */
static void test_listener_stop_and_start(void **state)
{
	int fds0 = tu_count_fds();
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct sockaddr_in a;
	int fd;

	st_server_open(&srv, loop, NULL);
	coil_loop_run(loop, COIL_RUN_NOWAIT); /* the accept is armed */
	assert_int_equal(coil_listener_stop(&srv.l), 0);
	assert_int_equal(coil_listener_stop(&srv.l), 0); /* idempotent */
	assert_int_equal(st_quiesce(loop, 10000), 0);	 /* the cancel landed */
	a = tu_addr(srv.port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	/* give a stopped listener every chance to misbehave for 100 ms */
	ST_RUN_UNTIL(loop, 0, 100);
	assert_int_equal(srv.accepted, 0);
	assert_int_equal(coil_listener_start(&srv.l), 0);
	ST_RUN_UNTIL(loop, srv.accepted == 1, 10000);
	assert_int_equal(srv.accepted, 1);
	assert_int_equal(srv.l.accepted, 1);
	close(fd);
	st_server_close(&srv);
	st_loop_free(loop);
	assert_int_equal(tu_count_fds(), fds0);
}

/* EMFILE: reported to the callback, then accepting resumes after the
 * back-off once fds are available again. */
static void test_listener_emfile_backs_off_and_recovers(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct server srv = {0};
	struct rlimit old, low;
	struct sockaddr_in a;
	int fd, lowest = 0;

	st_server_open(&srv, loop, NULL);
	a = tu_addr(srv.port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	/* no fd left to allocate: the soft limit goes right at the lowest
	 * free fd number */
	while (fcntl(lowest, F_GETFD) >= 0)
		lowest++;
	low = old;
	low.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ST_RUN_UNTIL(loop, srv.accept_errors > 0, 10000);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_true(srv.accept_errors > 0);
	assert_int_equal(srv.accept_err, -EMFILE);
	assert_int_equal(srv.accepted, 0);
	/* the back-off timer re-arms the accept: the connection comes */
	ST_RUN_UNTIL(loop, srv.accepted == 1, 10000);
	assert_int_equal(srv.accepted, 1);
	close(fd);
	st_server_close(&srv);
	st_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listener_reuseport_two_loops_two_threads),
		cmocka_unit_test(test_listener_without_reuseport_port_is_taken),
		cmocka_unit_test(test_listener_stop_and_start),
		cmocka_unit_test(test_listener_emfile_backs_off_and_recovers),
	};
	return cmocka_run_group_tests_name("stream.listener", tests, NULL,
					   NULL);
}
