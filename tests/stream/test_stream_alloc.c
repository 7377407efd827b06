/* tests/stream/test_stream_alloc.c - the data path allocates nothing: 200
 * streams ping-pong through an echo that pauses reading while its write is
 * in flight, and malloc/calloc/realloc are not called once the streams are
 * up. This binary counts allocator calls by defining them over glibc's
 * (__libc_malloc ...); under AddressSanitizer, which owns the allocator,
 * it exits 77. */
#include "st.h"

#include "alloccount.h"

#define NS 200
#define MSG 64
#define ROUNDS 300

/* server side: echo with back-pressure, one write request per stream */
struct echo {
	struct coil_tcp t;
	struct coil_stream_write w;
	unsigned char buf[4096];
	int closed;
};

/* client side */
struct pinger {
	struct coil_tcp t;
	struct coil_stream_write w;
	unsigned char out[MSG];
	size_t got;
	int rounds;
	int bad;
	int closed;
};

static struct echo echos[NS];
static struct pinger pingers[NS];
static int naccepted, rounds_done, failures;
static struct coil_loop *g_loop;

static void echo_resume(struct coil_stream_write *w, int status);

static void echo_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct echo *e = coil_container_of(s, struct echo, t.s);
	if (n <= 0)
		return;
	memcpy(e->buf, buf, (size_t)n);
	/* no second write while one is out: pause until it is sent */
	coil_stream_read_stop(s);
	if (coil_stream_write(s, &e->w, e->buf, (size_t)n, echo_resume) < 0)
		failures++;
}

static void echo_resume(struct coil_stream_write *w, int status)
{
	struct echo *e = coil_container_of(w, struct echo, w);
	if (status < 0) {
		failures++;
		return;
	}
	if (coil_stream_read_start(&e->t.s, echo_read) < 0)
		failures++;
}

static void on_conn(struct coil_listener *l, int fd)
{
	struct echo *e;
	if (fd < 0 || naccepted >= NS) {
		if (fd >= 0)
			close(fd);
		failures++;
		return;
	}
	e = &echos[naccepted++];
	assert_int_equal(coil_tcp_open(g_loop, &e->t, fd, NULL), 0);
	assert_int_equal(coil_stream_read_start(&e->t.s, echo_read), 0);
}

static void ping(struct pinger *p);

static void ping_written(struct coil_stream_write *w, int status)
{
	if (status < 0)
		failures++;
}

static void ping_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct pinger *p = coil_container_of(s, struct pinger, t.s);
	if (n <= 0) {
		failures++;
		return;
	}
	if (memcmp(buf, p->out + p->got, (size_t)n) != 0)
		p->bad++;
	p->got += (size_t)n;
	if (p->got < MSG)
		return;
	p->got = 0;
	rounds_done++;
	if (++p->rounds < ROUNDS)
		ping(p);
}

static void ping(struct pinger *p)
{
	for (int i = 0; i < MSG; i++)
		p->out[i] = (unsigned char)(p->rounds + i);
	if (coil_stream_write(&p->t.s, &p->w, p->out, MSG, ping_written) < 0)
		failures++;
}

static int nconnected;

static void connected(struct coil_stream *s, int status)
{
	if (status < 0)
		failures++;
	else
		nconnected++;
}

static void echo_closed(struct coil_stream *s)
{
	coil_container_of(s, struct echo, t.s)->closed = 1;
}

static void pinger_closed(struct coil_stream *s)
{
	coil_container_of(s, struct pinger, t.s)->closed = 1;
}

static int all_closed(void)
{
	for (int i = 0; i < NS; i++)
		if (!pingers[i].closed || !echos[i].closed)
			return 0;
	return 1;
}

static void test_stream_data_path_allocates_nothing(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct coil_listener l = {0};
	struct sockaddr_in a = tu_addr(0);
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned long before, during;

	g_loop = loop;
	assert_int_equal(coil_listener_open(loop, &l, (struct sockaddr *)&a,
					    sizeof(a), NULL, on_conn),
			 0);
	assert_int_equal(coil_listener_addr(&l, &ss, &len), 0);
	for (int i = 0; i < NS; i++)
		assert_int_equal(coil_tcp_connect(loop, &pingers[i].t, &ss, 1,
						  NULL, connected),
				 0);
	ST_RUN_UNTIL(loop, (nconnected == NS && naccepted == NS) || failures,
		     10000);
	assert_int_equal(failures, 0);
	for (int i = 0; i < NS; i++)
		assert_int_equal(
			coil_stream_read_start(&pingers[i].t.s, ping_read), 0);
	/* warm up: a few rounds (the loop's SQE queue and the like) */
	for (int i = 0; i < NS; i++)
		ping(&pingers[i]);
	ST_RUN_UNTIL(loop, rounds_done >= NS * 5 || failures, 10000);

	before = alloc_calls();
	assert_true(before > 0); /* the counter counts: set-up allocated */
	ST_RUN_UNTIL(loop, rounds_done >= NS * ROUNDS || failures, 30000);
	during = alloc_calls() - before;
	print_message("%d round trips through %d stream pairs: %lu "
		      "allocator calls\n",
		      rounds_done, NS, during);
	assert_int_equal(failures, 0);
	assert_int_equal(rounds_done, NS * ROUNDS);
	for (int i = 0; i < NS; i++)
		assert_int_equal(pingers[i].bad, 0);
	assert_int_equal(during, 0);

	for (int i = 0; i < NS; i++) {
		assert_int_equal(
			coil_stream_close(&pingers[i].t.s, pinger_closed), 0);
		assert_int_equal(coil_stream_close(&echos[i].t.s, echo_closed),
				 0);
	}
	assert_int_equal(coil_listener_close(&l, NULL), 0);
	ST_RUN_UNTIL(loop, all_closed(), 10000);
	assert_true(all_closed());
	st_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_data_path_allocates_nothing),
	};
#ifdef ALLOC_NO_COUNT
	fprintf(stderr, "skip: the sanitizer owns the allocator\n");
	return COIL_SKIP;
#endif
	return cmocka_run_group_tests_name("stream.alloc", tests, NULL, NULL);
}
