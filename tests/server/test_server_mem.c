/*
 * tests/server/test_server_mem.c - the server's memory per connection
 * (http/server_mem.c): an idle keep-alive connection holds no exchange
 * (request and response state) and no input buffer; a partly received
 * head or pipelined requests hold them only until they are answered; after
 * a burst the server gives memory back (its trim counter); a head longer
 * than an exchange holds itself arrives whole. Read from the
 * server's own counters (coil_http_server_stats()), asked for on the
 * loop's thread by a request to /stats, again until they show what is
 * expected or a deadline passes: nothing here is timed.
 */
#include <poll.h>
#include <sys/resource.h>

#include "srv.h"

/* AddressSanitizer's allocator is not glibc's: its mallinfo2(3) reports
 * no free bytes, so the server never trims under load there */
#if defined(__SANITIZE_ADDRESS__)
#define MALLINFO_BLIND 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MALLINFO_BLIND 1
#endif
#endif

/* /hold: the handler tells it is in (entered), then waits (release) */
static int entered[2] = {-1, -1}, release[2] = {-1, -1};

static void stats_handler(struct coil_http_sreq *req, void *arg)
{
	struct coil_http_server_stats st;
	struct coil_loop_stats ls;
	struct coil_loop *loop;
	char body[200];
	int n;

	(void)arg;
	if (req->path_len == 6 && memcmp(req->path, "/stats", 6) == 0) {
		coil_http_server_stats(req->server, &st);
		loop = coil_http_server_loop(req->server);
		coil_loop_stats(loop, &ls);
		/* taken before the answer is written: the asker's stream
		 * holds no extension yet */
		n = snprintf(body, sizeof(body),
			     "%u %u %u %llu %llu %zu %llu %d %u %u %zu %llu",
			     st.conns, st.exchanges, st.inbufs,
			     (unsigned long long)st.trims,
			     (unsigned long long)st.quiet_trims, st.conn_bytes,
			     (unsigned long long)ls.tcp_exts,
			     (coil_loop_features(loop) &
			      COIL_FEAT_MULTISHOT_RECV) != 0,
			     st.exchanges_max, st.answers,
			     st.answer_overhead_bytes,
			     (unsigned long long)st.load_trims);
		coil_http_respond(req, 200, NULL, 0, body, (size_t)n);
		return;
	}
	if (req->path_len == 5 && memcmp(req->path, "/echo", 5) == 0) {
		size_t len = 0;
		const char *v = coil_http_sreq_header(req, "x-long", &len);
		coil_http_respond(req, 200, NULL, 0, v, v ? len : 0);
		return;
	}
	if (req->path_len == 5 && memcmp(req->path, "/hold", 5) == 0) {
		/* the loop's thread waits here until the test has sent what
		 * it wants the next turn to find all at once */
		struct pollfd p = {.fd = release[0], .events = POLLIN};
		char b;
		if (write(entered[1], "h", 1) == 1 && poll(&p, 1, 10000) == 1 &&
		    read(release[0], &b, 1) == 1)
			coil_http_respond(req, 200, NULL, 0, "ok", 2);
		else
			coil_http_respond(req, 500, NULL, 0, NULL, 0);
		return;
	}
	coil_http_respond(req, 200, NULL, 0, "ok", 2);
}

struct memstat {
	unsigned conns, exchanges, inbufs;
	unsigned long long trims, quiet_trims;
	size_t conn_bytes;	       /* one connection's struct */
	unsigned long long tcp_exts;   /* streams holding their extension */
	int multishot;		       /* the loop reads by multishot recv */
	unsigned exchanges_max;	       /* the most exchanges held at once */
	unsigned answers;	       /* answers being sent from blocks */
	size_t answer_overhead;	       /* an answer block beside its bytes */
	unsigned long long load_trims; /* given back under load */
};

/* One /stats request on a new connection (which holds one exchange while
 * it is answered, and no input buffer: its head arrives whole). */
static void stats_get(unsigned short port, struct memstat *m)
{
	struct resp r;
	assert_int_equal(
		cl_once(port, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", &r), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(sscanf(r.body,
				"%u %u %u %llu %llu %zu %llu %d %u %u %zu %llu",
				&m->conns, &m->exchanges, &m->inbufs, &m->trims,
				&m->quiet_trims, &m->conn_bytes, &m->tcp_exts,
				&m->multishot, &m->exchanges_max, &m->answers,
				&m->answer_overhead, &m->load_trims),
			 12);
	free(r.body);
}

/* Ask until the counters show @conns open (the asking one included;
 * earlier askers may still be closing), @exchanges and @inbufs (the
 * asker's exchange included), or 5 s passed; returns the last. */
static struct memstat stats_wait(unsigned short port, unsigned conns,
				 unsigned exchanges, unsigned inbufs)
{
	uint64_t end = tu_mono_ns() + 5000 * MS;
	struct memstat m;
	do
		stats_get(port, &m);
	while ((m.conns != conns || m.exchanges != exchanges ||
		m.inbufs != inbufs) &&
	       tu_mono_ns() < end);
	return m;
}

static void request(int fd, struct cl_in *in, const char *req)
{
	struct resp r;
	cl_sends(fd, req);
	assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
	assert_int_equal(r.status, 200);
	free(r.body);
}

static void test_server_idle_conn_holds_no_buffer(void **state)
{
	enum { N = 32 };
	static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct coil_http_server_opts o = {.handler = stats_handler};
	struct cl_in *in = calloc(1, sizeof(*in));
	struct memstat m;
	struct srv s;
	int fds[N], part;

	(void)state;
	srv_start(&s, &o, NULL);
	for (int i = 0; i < N; i++) {
		fds[i] = cl_connect(s.port);
		request(fds[i], in, get);
	}
	/* N idle keep-alive connections: none holds anything */
	m = stats_wait(s.port, N + 1, 1, 0);
	assert_int_equal(m.conns, N + 1);
	assert_int_equal(m.exchanges, 1);
	assert_int_equal(m.inbufs, 0);
	/* ... but its own struct: 344 bytes on x86-64, malloc's 352-byte
	 * chunk with its header (nginx: 526 bytes a connection;
	 * docs/BENCHMARKS.md, the memory row) */
	assert_true(m.conn_bytes <= 352);
	/* ... of which the server's own part (beside the TCP stream's
	 * core) is its links, flag word, deadlines, one input pointer and
	 * a kick-list link: no input state, no op of its own */
	assert_true(m.conn_bytes - sizeof(struct coil_tcp) <= 112);
	/* ... and no stream extension: only the armed multishot read,
	 * which the stream's core holds (single-shot reads keep their
	 * buffer in it: one per open connection then). The answers of the
	 * asks before may still be going out: wait for them. */
	{
		uint64_t end = tu_mono_ns() + 5000 * MS;
		unsigned long long want;
		for (;;) {
			want = m.multishot ? 0 : m.conns;
			if (m.tcp_exts == want || tu_mono_ns() >= end)
				break;
			stats_get(s.port, &m);
		}
		assert_int_equal(m.tcp_exts, want);
	}

	/* a head partly received holds an exchange and an input buffer */
	part = cl_connect(s.port);
	cl_sends(part, "GET / HTTP/1.1\r\nHo");
	m = stats_wait(s.port, N + 2, 2, 1);
	assert_int_equal(m.exchanges, 2);
	assert_int_equal(m.inbufs, 1);
	/* ... until it is complete and answered */
	request(part, in, "st: x\r\n\r\n");
	m = stats_wait(s.port, N + 2, 1, 0);
	assert_int_equal(m.exchanges, 1);
	assert_int_equal(m.inbufs, 0);

	/* pipelined requests: answered in order, then nothing held */
	{
		struct resp r;
		cl_sends(fds[0], "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
				 "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
				 "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
		for (int k = 0; k < 3; k++) {
			assert_int_equal(cl_response(fds[0], in, &r, 0, 0), 0);
			assert_int_equal(r.status, 200);
			assert_int_equal(r.body_len, 2);
			free(r.body);
		}
	}
	m = stats_wait(s.port, N + 2, 1, 0);
	assert_int_equal(m.exchanges, 1);
	assert_int_equal(m.inbufs, 0);

	/* and every idle connection still serves */
	for (int i = 0; i < N; i++) {
		request(fds[i], in, get);
		close(fds[i]);
	}
	close(part);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(in);
}

static void test_server_burst_gives_memory_back(void **state)
{
	enum { N = 320 }; /* above the trim's peak of 256 connections */
	static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct coil_http_server_opts o = {.handler = stats_handler};
	struct cl_in *in = calloc(1, sizeof(*in));
	struct rlimit rl;
	struct memstat m;
	uint64_t end;
	struct srv s;
	int *fds = calloc(N, sizeof(*fds));

	(void)state;
	/* both ends of N connections in this process */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 2 * N + 64) {
		rl.rlim_cur =
			rl.rlim_max < 2 * N + 64 ? rl.rlim_max : 2 * N + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 2 * N + 64) {
			fprintf(stderr, "skip: open-file limit below %d\n",
				2 * N + 64);
			exit(COIL_SKIP);
		}
	}
	srv_start(&s, &o, NULL);
	for (int i = 0; i < N; i++) {
		fds[i] = cl_connect(s.port);
		request(fds[i], in, get);
	}
	m = stats_wait(s.port, N + 1, 1, 0);
	assert_int_equal(m.conns, N + 1);
	assert_int_equal(m.trims, 0);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	/* the connections end: the lists are cut and the pages given back */
	end = tu_mono_ns() + 5000 * MS;
	do
		stats_get(s.port, &m);
	while ((m.conns > 1 || m.trims == 0) && tu_mono_ns() < end);
	assert_int_equal(m.conns, 1);
	assert_true(m.trims >= 1);
	assert_int_equal(m.exchanges, 1);
	assert_int_equal(m.inbufs, 0);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(fds);
	free(in);
}

/*
 * A burst of requests on busy connections (what `wrk -c 5000` makes):
 * each is answered at once, and its answer leaves from a block of its
 * own, so the exchange goes back when the answer is queued, not when it
 * was sent: one exchange serves the whole burst. To make the burst
 * arrive in one turn of the server's loop, a request to /hold keeps the
 * loop's thread in its handler while the test sends N requests (each on
 * its own connection: in the server's socket when send() returns), then
 * lets it go: the next turn finds all N (the handler tells the test
 * through a pipe that it is in). Before, N exchanges were held
 * until the N sends completed.
 */
static void test_server_burst_needs_one_exchange(void **state)
{
	enum { N = 64 };
	static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct coil_http_server_opts o = {.handler = stats_handler};
	struct cl_in *in = calloc(1, sizeof(*in));
	struct memstat m;
	struct srv s;
	struct resp r;
	int fds[N], hold;

	(void)state;
	assert_int_equal(pipe(entered), 0);
	assert_int_equal(pipe(release), 0);
	srv_start(&s, &o, NULL);
	for (int i = 0; i < N; i++) {
		fds[i] = cl_connect(s.port);
		request(fds[i], in, get); /* accepted, reading */
	}
	hold = cl_connect(s.port);
	cl_sends(hold, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	{
		/* the loop's thread is in the handler ... */
		struct pollfd p = {.fd = entered[0], .events = POLLIN};
		char b;
		assert_int_equal(poll(&p, 1, 10000), 1);
		assert_int_equal(read(entered[0], &b, 1), 1);
	}
	/* ... while the burst arrives */
	for (int i = 0; i < N; i++)
		cl_sends(fds[i], get);
	assert_int_equal(write(release[1], "x", 1), 1);
	assert_int_equal(cl_response(hold, in, &r, 0, 0), 0);
	assert_int_equal(r.status, 200);
	free(r.body);
	for (int i = 0; i < N; i++) {
		assert_int_equal(cl_response(fds[i], in, &r, 0, 0), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, 2);
		free(r.body);
	}
	m = stats_wait(s.port, N + 2, 1, 0);
	assert_int_equal(m.exchanges, 1); /* the asker's */
	/* one at a time: each request's exchange went back before the next
	 * request of the burst was parsed (2: slack for a head that came in
	 * two reads) */
	assert_true(m.exchanges_max <= 2);
	/* every answer block was sent and given back (the asker's own answer
	 * is written after these counts were taken) */
	assert_int_equal(m.answers, 0);
	/* a block is the stream's write request, its chunk's address and
	 * the answer's bytes, nothing else */
	assert_true(m.answer_overhead <=
		    sizeof(struct coil_stream_write) + sizeof(void *));
	for (int i = 0; i < N; i++) {
		request(fds[i], in, get);
		close(fds[i]);
	}
	close(hold);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	for (int i = 0; i < 2; i++) {
		close(entered[i]);
		close(release[i]);
		entered[i] = release[i] = -1;
	}
	free(in);
}

/* Requests that go quiet for a tick of the server's timer (10 ms here:
 * a quarter of a 40 ms linger) give back what their reads touched, once
 * per quiet spell, while the connections stay open; they serve on after
 * it (the provided buffers fault in zeroed pages again). The gap between
 * two asks is what is tested: a quiet spell needs time without requests,
 * so the test leaves 100 ms (ten ticks) between them and counts trims. */
static void test_server_quiet_gives_memory_back(void **state)
{
	enum { N = 8 };
	static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct coil_http_server_opts o = {.handler = stats_handler,
					  .linger_ns = 40 * MS};
	struct cl_in *in = calloc(1, sizeof(*in));
	struct memstat m;
	uint64_t end;
	struct srv s;
	int fds[N];

	(void)state;
	srv_start(&s, &o, NULL);
	for (int i = 0; i < N; i++) {
		fds[i] = cl_connect(s.port);
		request(fds[i], in, get);
	}
	end = tu_mono_ns() + 10000 * MS;
	do {
		poll(NULL, 0, 100);
		stats_get(s.port, &m);
	} while (m.quiet_trims == 0 && tu_mono_ns() < end);
	assert_true(m.quiet_trims >= 1);
	assert_int_equal(m.trims, 0); /* no burst of connections ended */
	assert_int_equal(m.conns, N + 1);
	assert_int_equal(m.inbufs, 0);

	/* a quiet server does not trim again and again: only requests since
	 * the last trim make the next one (the asks are requests: at most
	 * one trim per ask) */
	{
		unsigned long long q = m.quiet_trims;
		for (int k = 0; k < 3; k++) {
			poll(NULL, 0, 100);
			stats_get(s.port, &m);
		}
		assert_true(m.quiet_trims <= q + 3);
	}
	for (int i = 0; i < N; i++) {
		request(fds[i], in, get);
		close(fds[i]);
	}
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(in);
}

/* Under load (requests every tick, so no quiet trim) with every
 * connection open (no burst of connections ended): N heads of 6 KB that
 * arrived in pieces, each held in an input buffer grown past the lists'
 * size and copied into a long head buffer, are answered, and those
 * buffers (about 16 KB a connection, 3 MB in all) are freed in the middle
 * of the heap; the server's tick sees the heap's free space grow by more
 * than 1 MiB and gives the pages back (load_trims), while the asks go on
 * every 20 ms. */
static void test_server_load_gives_memory_back(void **state)
{
	enum { N = 200 };
	struct coil_http_server_opts o = {.handler = stats_handler};
	struct cl_in *in;
	struct rlimit rl;
	char *pad;
	struct memstat m;
	uint64_t end;
	struct srv s;
	int fds[N];

	(void)state;
#ifdef MALLINFO_BLIND
	skip();
#endif
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 2 * N + 64) {
		fprintf(stderr, "skip: open-file limit below %d\n", 2 * N + 64);
		exit(COIL_SKIP);
	}
	in = calloc(1, sizeof(*in));
	pad = malloc(6001);
	assert_non_null(in);
	assert_non_null(pad);
	memset(pad, 'a', 6000);
	pad[6000] = '\0';
	srv_start(&s, &o, NULL);
	for (int i = 0; i < N; i++) {
		fds[i] = cl_connect(s.port);
		cl_sends(fds[i], "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ");
		cl_sends(fds[i], pad);
	}
	/* every head held in pieces */
	m = stats_wait(s.port, N + 1, N + 1, N);
	assert_int_equal(m.inbufs, N);
	for (int i = 0; i < N; i++)
		request(fds[i], in, "\r\n\r\n");
	end = tu_mono_ns() + 10000 * MS;
	do {
		poll(NULL, 0, 20);
		stats_get(s.port, &m);
	} while (m.load_trims == 0 && tu_mono_ns() < end);
	assert_true(m.load_trims >= 1);
	assert_int_equal(m.trims, 0); /* no burst of connections ended */
	assert_int_equal(m.conns, N + 1);
	assert_int_equal(m.inbufs, 0);
	for (int i = 0; i < N; i++) {
		request(fds[i], in, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
		close(fds[i]);
	}
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(pad);
	free(in);
}

/* A head longer than an exchange holds itself (2 KiB) goes into one of
 * max_head_bytes, on every request of a keep-alive connection, whole. */
static void test_server_long_head_kept_whole(void **state)
{
	struct coil_http_server_opts o = {.handler = stats_handler};
	struct cl_in *in = calloc(1, sizeof(*in));
	char *req = malloc(8192), *val = malloc(6000);
	struct srv s;
	struct resp r;
	int fd;

	(void)state;
	srv_start(&s, &o, NULL);
	fd = cl_connect(s.port);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 5999; i++)
			val[i] = (char)('a' + (i * 7 + round) % 26);
		val[5999] = 0;
		snprintf(req, 8192,
			 "GET /echo HTTP/1.1\r\nHost: x\r\nX-Long: %s\r\n\r\n",
			 val);
		cl_sends(fd, req);
		assert_int_equal(cl_response(fd, in, &r, 0, 0), 0);
		assert_int_equal(r.status, 200);
		assert_int_equal(r.body_len, 5999);
		assert_memory_equal(r.body, val, 5999);
		free(r.body);
		/* and a short one after it */
		request(fd, in, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	}
	close(fd);
	assert_int_equal(srv_stop(&s, 1000, NULL), 0);
	free(val);
	free(req);
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_idle_conn_holds_no_buffer),
		cmocka_unit_test(test_server_burst_gives_memory_back),
		cmocka_unit_test(test_server_burst_needs_one_exchange),
		cmocka_unit_test(test_server_quiet_gives_memory_back),
		cmocka_unit_test(test_server_load_gives_memory_back),
		cmocka_unit_test(test_server_long_head_kept_whole),
	};
	return cmocka_run_group_tests_name("server.mem", tests, NULL, NULL);
}
