/*
 * tests/stream/test_stream_rxtime.c - receive timestamps on TCP streams
 * (COIL_TCP_RX_TIME, coil_stream_rx_time()): a read reaped late carries
 * the kernel's arrival time, not the reap time; a batched wait does not
 * shift it; EOF and large transfers through the stamped recvmsg arrive
 * intact; without multishot recv (forced fallbacks) the time is the reap
 * time and no read counts as stamped; a CLOCK_REALTIME step or a slew
 * beyond NTP's 500 ppm (fed through the loop's test hook, never
 * clock_settime) makes the reads of that turn fall back to reap times,
 * counted in the loop's stats. On an incremental ring a stamped stream
 * meets the tail another stream's reads left in a buffer, too short for
 * the recvmsg header or just as long: no error, no false end, every byte.
 */
#include "st.h"
#include "../../engine/internal.h"

#include <linux/net_tstamp.h>
#include <pthread.h>

struct rx {
	struct coil_tcp t;
	int peer; /* the other end, a plain blocking socket */
	size_t got;
	unsigned char *in;
	size_t cap;
	int eof, err, reads;
	uint64_t rx_ns, reap_ns; /* of the first read */
	int kernel;		 /* COIL_STREAM_RX_KERNEL on the first read */
	int last_kernel;	 /* ... and on the latest one */
	int pause_every;	 /* read_stop after every Nth read */
	int paused;
};

static void rx_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct rx *r = coil_container_of(s, struct rx, t.s);
	if (n <= 0) {
		if (n == 0)
			r->eof = 1;
		else
			r->err = (int)n;
		return;
	}
	if (!r->reads++) {
		r->rx_ns = coil_stream_rx_time(s);
		r->reap_ns = coil_now(s->loop);
		r->kernel = (s->flags & COIL_STREAM_RX_KERNEL) != 0;
	}
	r->last_kernel = (s->flags & COIL_STREAM_RX_KERNEL) != 0;
	if (r->in && r->got + (size_t)n <= r->cap)
		memcpy(r->in + r->got, buf, (size_t)n);
	r->got += (size_t)n;
	if (r->pause_every && r->reads % r->pause_every == 0) {
		coil_stream_read_stop(s);
		r->paused = 1;
	}
}

static void rx_closed(struct coil_stream *s)
{
	(void)s;
}

/* A stream with options @flags reading from its pair's other end. */
static void rx_open_as(struct coil_loop *loop, struct rx *r, unsigned flags)
{
	int fds[2];
	struct coil_tcp_opts o = {.flags = flags};
	tu_tcp_pair(fds);
	r->peer = fds[1];
	assert_int_equal(coil_tcp_open(loop, &r->t, fds[0], &o), 0);
	assert_int_equal(coil_stream_read_start(&r->t.s, rx_read), 0);
	/* the recv goes in on the turn after the kick */
	coil_loop_run(loop, COIL_RUN_NOWAIT);
	coil_loop_run(loop, COIL_RUN_NOWAIT);
}

static void rx_open(struct coil_loop *loop, struct rx *r)
{
	rx_open_as(loop, r, COIL_TCP_RX_TIME);
}

static void rx_close(struct coil_loop *loop, struct rx *r)
{
	close(r->peer);
	coil_stream_close(&r->t.s, rx_closed);
	assert_int_equal(st_quiesce(loop, 2000), 0);
	free(r->in);
}

static int stamped(struct coil_loop *loop)
{
	return (coil_loop_features(loop) & COIL_FEAT_MULTISHOT_RECV) != 0;
}

static void spin_ms(unsigned ms)
{
	/* not waiting for an event: the gap between arrival and reap is
	 * what the test measures */
	struct timespec ts = {0, (long)ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* Bytes arrive; the loop reaps them 30 ms later: the read carries the
 * arrival time (between the write's start and end), the reap time only
 * without multishot recv. */
static void test_rxtime_late_reap(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct rx r = {0};
	uint64_t t0, t1;
	(void)state;

	rx_open(loop, &r);
	t0 = tu_mono_ns();
	assert_int_equal(write(r.peer, "abc", 3), 3);
	t1 = tu_mono_ns();
	spin_ms(30);
	ST_RUN_UNTIL(loop, r.got >= 3, 2000);
	assert_int_equal(r.got, 3);
	print_message("arrival %+.1f us from the write, reaped %.1f us later; "
		      "stamped reads %llu\n",
		      ((double)r.rx_ns - (double)t0) / 1e3,
		      ((double)r.reap_ns - (double)r.rx_ns) / 1e3,
		      (unsigned long long)r.t.s.stats.rx_stamped);
	if (stamped(loop)) {
		assert_int_equal(r.t.s.stats.rx_stamped, 1);
		assert_true(r.kernel);
		assert_true(r.rx_ns >= t0 - 1000 && r.rx_ns <= t1 + 2 * MS);
		assert_true(r.reap_ns >= r.rx_ns + 25 * MS);
	} else {
		assert_int_equal(r.t.s.stats.rx_stamped, 0);
		assert_false(r.kernel);
		assert_true(r.rx_ns == (r.reap_ns & ~1ull));
		assert_true(r.rx_ns >= t1 + 25 * MS);
	}
	rx_close(loop, &r);
	coil_loop_free(loop);
}

static void tmo_cb(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)res;
	(void)flags;
}

struct late {
	int fd;
	uint64_t t0, t1;
};

static void *late_write(void *arg)
{
	struct late *lw = arg;
	spin_ms(2);
	lw->t0 = tu_mono_ns();
	if (write(lw->fd, "hello", 5) != 5)
		abort();
	lw->t1 = tu_mono_ns();
	return NULL;
}

/* A batched wait (50 ms) reaps the read when the wait ends; its time is
 * still the arrival. */
static void test_rxtime_batched_wait(void **state)
{
	struct coil_loop_opts lo = {.batch_wait_ns = 50 * MS};
	struct coil_loop *loop = tu_loop(&lo);
	struct coil_loop_stats st0, st1;
	struct coil_op tmo;
	struct late lw;
	pthread_t th;
	struct rx r = {0};
	uint64_t t0, t1;
	(void)state;

	if (!(coil_loop_features(loop) & COIL_FEAT_MIN_WAIT)) {
		print_message("skip: no min-wait (kernel 6.12)\n");
		coil_loop_free(loop);
		skip();
	}
	rx_open(loop, &r);
	/* a second op in flight: the wait asks for two completions and
	 * settles for one once the 50 ms have passed */
	coil_op_init(&tmo, tmo_cb);
	assert_int_equal(coil_timeout(loop, &tmo, 10000 * MS, 0), 0);
	coil_loop_run(loop, COIL_RUN_NOWAIT);
	coil_loop_stats(loop, &st0);
	/* the bytes come 2 ms into the turn's wait, which gathers for 50 */
	lw.fd = r.peer;
	assert_int_equal(pthread_create(&th, NULL, late_write, &lw), 0);
	coil_loop_run(loop, COIL_RUN_ONCE);
	pthread_join(th, NULL);
	t0 = lw.t0;
	t1 = lw.t1;
	ST_RUN_UNTIL(loop, r.got >= 5, 2000);
	coil_loop_stats(loop, &st1);
	print_message("batched waits %llu; arrival %+.1f us from the write, "
		      "reaped %.1f us later\n",
		      (unsigned long long)(st1.batched - st0.batched),
		      ((double)r.rx_ns - (double)t0) / 1e3,
		      ((double)r.reap_ns - (double)r.rx_ns) / 1e3);
	assert_int_equal(r.got, 5);
	assert_true(st1.batched > st0.batched);
	if (stamped(loop)) {
		assert_true(r.rx_ns >= t0 - 1000 && r.rx_ns <= t1 + 2 * MS);
		/* without COOP/DEFER_TASKRUN the recv's task work
		 * interrupts the wait (-EINTR) and ends it early */
		if (coil_loop_features(loop) &
		    (COIL_FEAT_COOP_TASKRUN | COIL_FEAT_DEFER_TASKRUN))
			assert_true(r.reap_ns >= t1 + 5 * MS);
	} else {
		assert_true(r.rx_ns == (r.reap_ns & ~1ull));
	}
	coil_timeout_remove(loop, &tmo);
	rx_close(loop, &r);
	coil_loop_free(loop);
}

/* Data then FIN: every byte, then one EOF (the stamped recvmsg reports
 * the end as a header-only buffer, which the engine turns into 0). */
static void test_rxtime_eof(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	struct rx r = {0};
	(void)state;

	rx_open(loop, &r);
	assert_int_equal(write(r.peer, "last words", 10), 10);
	shutdown(r.peer, SHUT_WR);
	ST_RUN_UNTIL(loop, r.eof || r.err, 2000);
	assert_int_equal(r.got, 10);
	assert_int_equal(r.eof, 1);
	assert_int_equal(r.err, 0);
	rx_close(loop, &r);
	coil_loop_free(loop);
}

struct writer {
	int fd;
	const unsigned char *p;
	size_t len;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;
	while (off < w->len) {
		size_t n = w->len - off > 7000 ? 7000 : w->len - off;
		ssize_t k = write(w->fd, w->p + off, n);
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

/* 4 MB through stamped reads, pausing after every third read: the bytes
 * (payloads after the recvmsg header, held and spilled while paused)
 * arrive whole and in order, every read stamped. */
static void test_rxtime_bulk_paused(void **state)
{
	const size_t len = 4u << 20;
	struct coil_loop_opts lo = {.buf_count = 64, .buf_size = 4096};
	struct coil_loop *loop = tu_loop(&lo);
	unsigned char *out = malloc(len);
	struct writer w;
	pthread_t th;
	struct rx r = {0};
	struct coil_loop_stats st;
	uint64_t end;
	(void)state;

	assert_non_null(out);
	for (size_t i = 0; i < len; i++)
		out[i] = (unsigned char)(i * 131 + (i >> 12));
	r.in = malloc(len);
	r.cap = len;
	r.pause_every = 3;
	rx_open(loop, &r);
	w = (struct writer){.fd = r.peer, .p = out, .len = len};
	assert_int_equal(pthread_create(&th, NULL, writer_main, &w), 0);
	end = tu_mono_ns() + 20000 * MS;
	while (!r.eof && !r.err && tu_mono_ns() < end) {
		ST_RUN_UNTIL(loop, r.paused || r.eof || r.err, 100);
		if (r.paused) {
			r.paused = 0;
			coil_stream_read_start(&r.t.s, rx_read);
		}
	}
	pthread_join(th, NULL);
	print_message("%d reads, %llu stamped, held max %llu, spilled %llu\n",
		      r.reads, (unsigned long long)r.t.s.stats.rx_stamped,
		      (unsigned long long)r.t.s.stats.held_max,
		      (unsigned long long)r.t.s.stats.spilled);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.eof, 1);
	assert_int_equal(r.got, len);
	assert_memory_equal(r.in, out, len);
	coil_loop_stats(loop, &st);
	print_message("%llu short tails taken unstamped\n",
		      (unsigned long long)st.rx_tails);
	/* every read stamped but those of a buffer's tail too short for
	 * the recvmsg header (incremental consumption only) */
	if (stamped(loop))
		assert_true(r.t.s.stats.recvs - r.t.s.stats.rx_stamped <=
			    st.rx_tails);
	else
		assert_int_equal(r.t.s.stats.rx_stamped, 0);
	if (!(coil_loop_features(loop) & COIL_FEAT_BUF_INC))
		assert_int_equal(st.rx_tails, 0);
	free(out);
	rx_close(loop, &r);
	coil_loop_free(loop);
}

/*
 * One tail of an incremental buffer: a plain stream's reads take all of
 * buffer 0 but @tail bytes, then a stamped stream receives 10,000 bytes.
 * Under 80 bytes (the recvmsg's header and control) the kernel refuses
 * the tail with -EFAULT; at exactly 80 it reads nothing into it and
 * reports an end. Neither reaches the stream: every byte arrives, in
 * order, with no error and no end; the tail's bytes come unstamped
 * (rx_tails), and the reads after it are stamped again.
 */
static void bufinc_tail(unsigned tail)
{
	enum { BUF = 4096, LEN = 10000, MORE = 100 };
	struct coil_loop_opts lo = {
		.buf_count = 4, .buf_size = BUF, .flags = COIL_LOOP_BUF_INC};
	struct coil_loop *loop = tu_loop(&lo);
	struct rx a = {0}, b = {0};
	unsigned char *fill = calloc(1, BUF), *out = malloc(LEN + MORE);
	struct coil_loop_stats st;

	assert_non_null(fill);
	assert_non_null(out);
	if ((coil_loop_features(loop) &
	     (COIL_FEAT_BUF_INC | COIL_FEAT_MULTISHOT_RECV)) !=
	    (COIL_FEAT_BUF_INC | COIL_FEAT_MULTISHOT_RECV)) {
		free(fill);
		free(out);
		coil_loop_free(loop);
		skip(); /* before 6.12, or a forced fallback */
	}
	for (size_t i = 0; i < LEN + MORE; i++)
		out[i] = (unsigned char)(i * 7 + (i >> 8));
	rx_open_as(loop, &a, 0);
	assert_int_equal(write(a.peer, fill, BUF - tail), BUF - tail);
	ST_RUN_UNTIL(loop, a.got == BUF - tail || a.err || a.eof, 2000);
	assert_int_equal(a.got, BUF - tail);

	b.in = malloc(LEN + MORE);
	b.cap = LEN + MORE;
	rx_open(loop, &b);
	assert_int_equal(write(b.peer, out, LEN), LEN);
	ST_RUN_UNTIL(loop, b.got == LEN || b.err || b.eof, 2000);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.eof, 0);
	assert_int_equal(b.got, LEN);
	/* the reads after the tail's: stamped again */
	assert_int_equal(write(b.peer, out + LEN, MORE), MORE);
	ST_RUN_UNTIL(loop, b.got == LEN + MORE || b.err || b.eof, 2000);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.eof, 0);
	assert_int_equal(b.got, LEN + MORE);
	assert_memory_equal(b.in, out, LEN + MORE);
	assert_true(b.last_kernel);
	coil_loop_stats(loop, &st);
	print_message("tail %u: %d reads, %llu stamped, %llu tails\n", tail,
		      b.reads, (unsigned long long)b.t.s.stats.rx_stamped,
		      (unsigned long long)st.rx_tails);
	if (tail < 80) {
		assert_true(st.rx_tails >= 1);
		assert_true(b.t.s.stats.rx_stamped >= 2);
		assert_true(b.t.s.stats.recvs - b.t.s.stats.rx_stamped <=
			    st.rx_tails);
	} else {
		assert_int_equal(st.rx_tails, 0);
		assert_int_equal(b.t.s.stats.rx_stamped, b.t.s.stats.recvs);
	}
	/* the plain stream is still reading, undisturbed */
	assert_int_equal(a.err, 0);
	assert_int_equal(a.eof, 0);
	free(fill);
	free(out);
	close(a.peer);
	coil_stream_close(&a.t.s, rx_closed);
	rx_close(loop, &b);
	coil_loop_free(loop);
}

static void test_rxtime_bufinc_short_tail(void **state)
{
	(void)state;
	bufinc_tail(40);
	bufinc_tail(1);
	bufinc_tail(79);
}

static void test_rxtime_bufinc_header_tail(void **state)
{
	(void)state;
	bufinc_tail(80);
}

/* The offset check alone: what a slew of NTP's 500 ppm and the reads'
 * margin allow, and what they do not, in both directions. */
static void test_rxtime_step_rule(void **state)
{
	const uint64_t m = 1000 * MS, unc = 100;
	const int64_t off = 1700000000000000000ll;
	(void)state;

	/* unmoved, moved within the margin */
	assert_false(coil__rt_stepped(off, m, unc, off, m + MS, unc));
	assert_false(coil__rt_stepped(off, m, 0, off + 2000, m + 1000, 0));
	/* 1 ms apart: 500 ns of slew + 2 us margin + the brackets */
	assert_false(coil__rt_stepped(off, m, unc, off + 2700, m + MS, unc));
	assert_true(coil__rt_stepped(off, m, unc, off + 2800, m + MS, unc));
	assert_true(coil__rt_stepped(off, m, unc, off - 2800, m + MS, unc));
	/* 1 s apart: 400 us of slew is NTP's, 600 us is a step */
	assert_false(
		coil__rt_stepped(off, m, 0, off + 400000, m + 1000 * MS, 0));
	assert_true(
		coil__rt_stepped(off, m, 0, off - 600000, m + 1000 * MS, 0));
	/* the 486 us seen under ASan, 2 ms after the previous read */
	assert_true(
		coil__rt_stepped(off, m, unc, off + 486000, m + 2 * MS, unc));
	/* a wide bracket (a preempted read) widens the allowance */
	assert_false(coil__rt_stepped(off, m, 0, off + 30000, m + MS, 30000));
}

/* The test hook's CLOCK_REALTIME: the real one moved by rt_step_ns, and
 * by rt_ppm parts per million of the time since rt_t0 (a slew). */
static int64_t rt_step_ns;
static uint64_t rt_ppm, rt_t0;

static uint64_t fake_realtime(void)
{
	struct timespec ts;
	uint64_t r;
	clock_gettime(CLOCK_REALTIME, &ts);
	r = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	if (rt_ppm)
		r += (tu_mono_ns() - rt_t0) * rt_ppm / 1000000;
	return r + (uint64_t)rt_step_ns;
}

/* A loop whose CLOCK_REALTIME reads go through fake_realtime() with no
 * step and rt_ppm of slew from now, and a stamped stream open on it;
 * skips the test (loop freed) where the kernel gives no stamps. */
static struct coil_loop *fake_clock_open(struct rx *r, uint64_t ppm)
{
	struct coil_loop *loop = tu_loop(NULL);

	if (!stamped(loop)) {
		print_message("skip: no multishot recv, no stamps\n");
		coil_loop_free(loop);
		skip();
	}
	rt_step_ns = 0;
	rt_ppm = ppm;
	rt_t0 = tu_mono_ns();
	loop->rt_clock = fake_realtime;
	rx_open(loop, r);
	return loop;
}

/* One write of @n bytes, run until they are read: whether the read
 * carried the kernel's time, and that time (or the reap time). */
static int rx_one(struct coil_loop *loop, struct rx *r, uint64_t *t0,
		  uint64_t *t1)
{
	size_t want = r->got + 1;
	r->reads = 0;
	*t0 = tu_mono_ns();
	assert_int_equal(write(r->peer, "x", 1), 1);
	*t1 = tu_mono_ns();
	ST_RUN_UNTIL(loop, r->got >= want, 2000);
	assert_int_equal(r->got, want);
	return r->kernel;
}

/* CLOCK_REALTIME stepped 1 ms forward, then back: each of the two turns
 * that read the offset after a step times its read when reaped, and the
 * loop counts both; the next read has the kernel's time again. */
static void test_rxtime_clock_step(void **state)
{
	struct coil_loop_stats st;
	struct rx r = {0};
	struct coil_loop *loop = fake_clock_open(&r, 0);
	uint64_t t0, t1;
	(void)state;

	assert_true(rx_one(loop, &r, &t0, &t1));
	assert_true(r.rx_ns >= t0 - 1000 && r.rx_ns <= t1 + 2 * MS);

	rt_step_ns = 1000 * 1000; /* forward */
	assert_false(rx_one(loop, &r, &t0, &t1));
	assert_true(r.rx_ns == (r.reap_ns & ~1ull));
	coil_loop_stats(loop, &st);
	assert_int_equal(st.rt_steps, 1);
	assert_int_equal(st.rt_fallbacks, 1);

	rt_step_ns = 0; /* and back */
	assert_false(rx_one(loop, &r, &t0, &t1));
	assert_true(r.rx_ns == (r.reap_ns & ~1ull));
	coil_loop_stats(loop, &st);
	assert_int_equal(st.rt_steps, 2);
	assert_int_equal(st.rt_fallbacks, 2);

	/* steady again: stamped */
	assert_true(rx_one(loop, &r, &t0, &t1));
	assert_true(r.rx_ns >= t0 - 1000 && r.rx_ns <= t1 + 2 * MS);
	coil_loop_stats(loop, &st);
	assert_int_equal(st.rt_steps, 2);
	assert_int_equal(st.rt_fallbacks, 2);
	assert_int_equal(r.t.s.stats.rx_stamped, 2);
	rx_close(loop, &r);
	coil_loop_free(loop);
}

/* CLOCK_REALTIME slewing at 5,000 ppm (what this VM's clock did once):
 * reads 40 ms apart see the offset move 200 us, ten times what a 500 ppm
 * slew allows; those reads fall back to reap times, counted. */
static void test_rxtime_fast_slew(void **state)
{
	struct coil_loop_stats st;
	struct rx r = {0};
	struct coil_loop *loop = fake_clock_open(&r, 5000);
	uint64_t t0, t1;
	(void)state;

	rx_one(loop, &r, &t0, &t1); /* the first read of the offset */
	for (int i = 0; i < 3; i++) {
		spin_ms(40);
		assert_false(rx_one(loop, &r, &t0, &t1));
		assert_true(r.rx_ns == (r.reap_ns & ~1ull));
	}
	coil_loop_stats(loop, &st);
	print_message("offset reads that saw a step %llu, stamps dropped "
		      "%llu\n",
		      (unsigned long long)st.rt_steps,
		      (unsigned long long)st.rt_fallbacks);
	assert_int_equal(st.rt_steps, 3);
	assert_int_equal(st.rt_fallbacks, 3);
	rt_ppm = 0;
	rx_close(loop, &r);
	coil_loop_free(loop);
}

static void test_rxtime_set_batch_wait(void **state)
{
	struct coil_loop *loop = tu_loop(NULL);
	(void)state;
	assert_int_equal(coil_loop_set_batch_wait(loop, 2000000000ull),
			 -EINVAL);
	assert_int_equal(coil_loop_set_batch_wait(loop, 100000), 0);
	assert_int_equal(coil_loop_set_batch_wait(loop, 0), 0);
	assert_int_equal(coil_stream_rx_time(NULL), 0);
	coil_loop_free(loop);
}

/*
 * The kernel turns packet timestamps on from a workqueue when the first
 * socket asks (net_enable_timestamp()), so the first packets after that
 * can come unstamped. One socket that keeps them on for the whole run,
 * after a packet showed they are on (bounded: 2 s), makes every test
 * start with them on.
 */
static int keep[2];

static void stamps_on(void)
{
	int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	uint64_t end = tu_mono_ns() + 2000 * MS;
	tu_tcp_pair(keep);
	if (setsockopt(keep[1], SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts)))
		return;
	while (tu_mono_ns() < end) {
		char b, ctl[256];
		struct iovec iov = {&b, 1};
		struct msghdr m = {.msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl,
				   .msg_controllen = sizeof(ctl)};
		if (write(keep[0], "x", 1) != 1 || recvmsg(keep[1], &m, 0) != 1)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c;
		     c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_TIMESTAMPING)
				return;
		spin_ms(1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rxtime_late_reap),
		cmocka_unit_test(test_rxtime_batched_wait),
		cmocka_unit_test(test_rxtime_eof),
		cmocka_unit_test(test_rxtime_bulk_paused),
		cmocka_unit_test(test_rxtime_bufinc_short_tail),
		cmocka_unit_test(test_rxtime_bufinc_header_tail),
		cmocka_unit_test(test_rxtime_set_batch_wait),
		cmocka_unit_test(test_rxtime_step_rule),
		cmocka_unit_test(test_rxtime_clock_step),
		cmocka_unit_test(test_rxtime_fast_slew),
	};
	int ret;
	stamps_on();
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	close(keep[0]);
	close(keep[1]);
	return ret;
}
