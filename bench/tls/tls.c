/*
 * bench/tls/tls.c - TLS on loopback: handshakes per second (full and
 * resumed) with each side's CPU per handshake, bulk MB/s through one TLS
 * connection next to plain TCP, and what a full handshake costs the other
 * connections of its loop (echo round trips while `openssl s_time` makes
 * handshakes), with the handshake inline or on the offload pool.
 * bench/tls/run.sh runs it beside openssl s_server / s_time / speed and
 * prints everything docs/BENCHMARKS.md (section tls) shows.
 *
 *   tls_bench self  --certs DIR [--secs S] [--conc N] [--mib M] [--pool T]
 *       our client (this thread, CPU 1) against our server (a thread,
 *       CPU 0), in one process
 *   tls_bench serve --certs DIR [--pool T]
 *       our server on 127.0.0.1, port printed as "READY <port>", until
 *       stdin closes (for s_time)
 *   tls_bench client --certs DIR --port P [--secs S] [--conc N]
 *       our client against a server already running (s_server)
 *   tls_bench version
 *       the TLS library coil was built with ("Mbed TLS 3.6.6")
 *   tls_bench stall --certs DIR [--secs S] [--pool T]
 *       echo round trips on one connection of our server while s_time
 *       makes full handshakes with the same server loop
 *
 * Certificates: DIR/server.crt, server.key, ca.crt (tests/tls/mkcerts.sh);
 * --cert ec takes server-ec.crt, --cert rsa-rsa server-rsa.crt and
 * rsa-ca.crt (handshakes.sh makes them). --tls 1.2|1.3|1.2-1.3 holds both
 * sides to those versions; --full 1: the client mode makes full
 * handshakes only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/benchutil.h"
#include "coil/async.h"
#include "coil/stream.h"
#include "coil/tls.h"

#define MS 1000000ull

static const char *certs = ".";
static unsigned secs = 3, conc = 1, mib = 256, pool_threads;
static unsigned short ext_port;
/* --tls: the versions both sides allow (0: the library's range) */
static unsigned tls_min, tls_max;
/* --cert: the server's certificate: rsa (RSA-2048 signed by the P-256
 * CA, server.crt), ec (ECDSA P-256, server-ec.crt), rsa-rsa (RSA-2048
 * signed by an RSA-2048 CA: server-rsa.crt, made by run.sh) */
static const char *cert_kind = "rsa";
/* --full: the client mode measures full handshakes only */
static int full_only;

static const char *path(const char *name)
{
	static char b[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(b[i], sizeof(b[i]), "%s/%s", certs, name);
	return b[i];
}

static void die(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, coil_strerror(err));
	exit(1);
}

static struct coil_loop *new_loop(void)
{
	struct coil_loop *loop;
	int ret = coil_loop_new(&loop, NULL);
	if (ret < 0) {
		fprintf(stderr, "%s\n", coil_loop_strerror(ret));
		exit(1);
	}
	return loop;
}

static struct coil_pool *pool;

static struct coil_tls_config *config(int server)
{
	struct coil_tls_config_opts o = {0};
	struct coil_tls_config *cfg;
	char err[256];
	int ret;

	if (server) {
		int ec = !strcmp(cert_kind, "ec");
		o.flags = COIL_TLS_SERVER;
		o.cert_file =
			path(ec				 ? "server-ec.crt"
			     : !strcmp(cert_kind, "rsa") ? "server.crt"
							 : "server-rsa.crt");
		o.key_file = path(ec ? "server-ec.key" : "server.key");
	} else {
		o.ca_file = path(strcmp(cert_kind, "rsa-rsa") ? "ca.crt"
							      : "rsa-ca.crt");
	}
	o.min_version = tls_min;
	o.max_version = tls_max;
	o.handshake_pool = pool;
	ret = coil_tls_config_new(&cfg, &o, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "config: %s\n", err);
		exit(1);
	}
	return cfg;
}

/* ---- the server: handshake, then echo (or count) until the peer ends */

struct sconn {
	struct coil_tcp tcp;
	struct coil_tls tls;
	struct srv *srv;
	int tls_on;
	struct coil_stream *s;
	struct coil_stream_write shut;
};

struct srv {
	struct coil_loop *loop;
	struct coil_listener l;
	struct coil_tls_config *cfg; /* NULL: plain TCP */
	unsigned short port;
	volatile int stop;
	volatile int ready;
	struct coil_op stop_op;
	uint64_t handshakes, resumed, hs_cpu_ns, bytes, open;
	int cpu;
	struct bu_cpu cpu0, cpu1;
};

struct echo {
	struct coil_stream_write w;
	unsigned char b[];
};

static void echo_done(struct coil_stream_write *w, int status)
{
	(void)status;
	free(w->data);
}

static void sconn_closed(struct coil_stream *s)
{
	struct sconn *c = s->data;
	c->srv->open--;
	free(c);
}

static void sconn_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct sconn *c = s->data;
	if (n > 0) {
		struct echo *e;
		c->srv->bytes += (uint64_t)n;
		if (n > 256) /* bulk: count only */
			return;
		e = malloc(sizeof(*e) + (size_t)n);
		if (!e)
			return;
		memset(&e->w, 0, sizeof(e->w));
		e->w.data = e;
		memcpy(e->b, buf, (size_t)n);
		if (coil_stream_write(s, &e->w, e->b, (size_t)n, echo_done) < 0)
			free(e);
		return;
	}
	coil_stream_close(s, sconn_closed);
}

static void sconn_hs(struct coil_stream *s, int status)
{
	struct sconn *c = s->data;
	if (status < 0) {
		if (!(s->flags & COIL_STREAM_CLOSING)) {
			c->srv->open--;
			free(c);
		}
		return;
	}
	c->srv->handshakes++;
	c->srv->resumed += (uint64_t)coil_tls_info(&c->tls)->resumed;
	c->srv->hs_cpu_ns += coil_tls_info(&c->tls)->handshake_cpu_ns;
	coil_stream_read_start(s, sconn_read);
}

static void srv_conn(struct coil_listener *l, int fd)
{
	struct srv *srv = l->data;
	struct sconn *c;
	if (fd < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = srv;
	c->tcp.s.data = c;
	c->tls.s.data = c;
	if (coil_tcp_open(srv->loop, &c->tcp, fd, NULL) < 0) {
		close(fd);
		free(c);
		return;
	}
	srv->open++;
	if (!srv->cfg) {
		c->s = &c->tcp.s;
		coil_stream_read_start(c->s, sconn_read);
		return;
	}
	c->s = &c->tls.s;
	if (coil_tls_open(&c->tls, &c->tcp.s, srv->cfg, NULL, sconn_hs) < 0)
		coil_stream_close(&c->tcp.s, sconn_closed);
}

static void srv_stop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct srv *srv = coil_container_of(op, struct srv, stop_op);
	(void)res;
	(void)flags;
	srv->stop = 1;
	coil_listener_close(&srv->l, NULL);
}

static void *srv_main(void *arg)
{
	struct srv *srv = arg;
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct sockaddr_storage ss;
	socklen_t len;
	int ret;

	bu_pin(srv->cpu);
	srv->loop = new_loop();
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(srv->port);
	srv->l.data = srv;
	ret = coil_listener_open(srv->loop, &srv->l, (struct sockaddr *)&a,
				 sizeof(a), NULL, srv_conn);
	if (ret < 0)
		die("listen", ret);
	coil_listener_addr(&srv->l, &ss, &len);
	srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	coil_op_init(&srv->stop_op, srv_stop_cb);
	coil_loop_expect(srv->loop, &srv->stop_op);
	srv->cpu0 = bu_thread_cpu();
	__atomic_store_n(&srv->ready, 1, __ATOMIC_RELEASE);
	while (!srv->stop)
		coil_loop_run(srv->loop, COIL_RUN_ONCE);
	srv->cpu1 = bu_thread_cpu();
	/* connections still open end when their peers do */
	for (int i = 0; i < 100000 && coil_loop_inflight(srv->loop); i++)
		coil_loop_run(srv->loop, COIL_RUN_ONCE);
	coil_loop_free(srv->loop);
	return NULL;
}

static pthread_t srv_start(struct srv *srv, struct coil_tls_config *cfg,
			   int cpu)
{
	pthread_t th;
	srv->cfg = cfg;
	srv->cpu = cpu;
	pthread_create(&th, NULL, srv_main, srv);
	while (!__atomic_load_n(&srv->ready, __ATOMIC_ACQUIRE))
		sched_yield();
	return th;
}

static void srv_stop(struct srv *srv, pthread_t th)
{
	coil_loop_post_remote(srv->loop, &srv->stop_op, 0);
	pthread_join(th, NULL);
}

static double cpu_ms(struct bu_cpu a, struct bu_cpu b)
{
	return ((b.user_ns + b.sys_ns) - (a.user_ns + a.sys_ns)) / 1e6;
}

/* CPU time of another thread (pthread_getcpuclockid(3)), in ms. */
static double thread_cpu_ms(pthread_t th)
{
	clockid_t cid;
	struct timespec ts;
	if (pthread_getcpuclockid(th, &cid) != 0 ||
	    clock_gettime(cid, &ts) != 0)
		return 0;
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- the handshake client: @conc connections at a time, each closed as
 * soon as its handshake is done ---- */

struct cconn {
	struct coil_tcp tcp;
	struct coil_tls tls;
	struct hsc *h;
	int busy;
};

struct hsc {
	struct coil_loop *loop;
	struct coil_tls_config *cfg;
	struct coil_tls_cache *cache;
	struct sockaddr_storage addr;
	uint64_t end_ns;
	uint64_t done, resumed, fail, hs_cpu_ns;
	unsigned live;
	struct cconn *c;
	char version[16], group[16]; /* the last handshake's */
};

static void hs_next(struct cconn *c);

static void cconn_closed(struct coil_stream *s)
{
	struct cconn *c = coil_container_of(s, struct cconn, tls.s);
	hs_next(c);
}

static void cconn_ticket_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	struct cconn *c = coil_container_of(s, struct cconn, tls.s);
	(void)buf;
	if ((n <= 0 || coil_tls_info(&c->tls)->tickets) &&
	    !(s->flags & COIL_STREAM_CLOSING))
		coil_stream_close(s, cconn_closed);
}

static void cconn_hs(struct coil_stream *s, int status)
{
	struct cconn *c = coil_container_of(s, struct cconn, tls.s);
	struct hsc *h = c->h;
	if (status < 0) {
		h->fail++;
		if (h->fail < 3)
			fprintf(stderr, "handshake: %s: %s\n",
				coil_strerror(status), coil_tls_error(s));
		if (!(s->flags & COIL_STREAM_CLOSING))
			hs_next(c);
		return;
	}
	h->done++;
	h->resumed += (uint64_t)coil_tls_info(&c->tls)->resumed;
	h->hs_cpu_ns += coil_tls_info(&c->tls)->handshake_cpu_ns;
	snprintf(h->version, sizeof(h->version), "%s",
		 coil_tls_info(&c->tls)->version);
	snprintf(h->group, sizeof(h->group), "%s",
		 coil_tls_info(&c->tls)->group);
	/* TLS 1.3: the ticket comes after the handshake; read until it is
	 * here when the next connection is to resume with it */
	if (h->cache && !strcmp(h->version, "TLSv1.3") &&
	    !coil_tls_info(&c->tls)->tickets &&
	    coil_stream_read_start(s, cconn_ticket_read) == 0)
		return;
	coil_stream_close(s, cconn_closed);
}

static void hs_next(struct cconn *c)
{
	struct hsc *h = c->h;
	struct coil_tls_opts o = {0};
	int ret;

	if (coil_now_update(h->loop) >= h->end_ns) {
		c->busy = 0;
		h->live--;
		return;
	}
	o.host = "localhost";
	o.cache = h->cache;
	ret = coil_tls_connect(h->loop, &c->tls, &c->tcp, &h->addr, 1, NULL,
			       h->cfg, &o, cconn_hs);
	if (ret < 0)
		die("connect", ret);
}

/* Handshakes for @s seconds against 127.0.0.1:@port. */
static void hs_run(unsigned short port, int resume, unsigned n, unsigned s,
		   struct hsc *h)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	memset(h, 0, sizeof(*h));
	h->loop = new_loop();
	h->cfg = config(0);
	if (resume)
		coil_tls_cache_new(&h->cache, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	memcpy(&h->addr, &a, sizeof(a));
	h->c = calloc(n, sizeof(*h->c));
	/* a first handshake fills the cache, outside the window */
	if (resume) {
		h->end_ns = coil_now_update(h->loop) + 10000 * MS;
		h->c[0].h = h;
		h->live = 1;
		h->c[0].busy = 1;
		hs_next(&h->c[0]);
		while (!h->done && !h->fail)
			coil_loop_run(h->loop, COIL_RUN_ONCE);
		h->end_ns = 0;
		while (h->live)
			coil_loop_run(h->loop, COIL_RUN_ONCE);
		h->done = h->resumed = h->fail = h->hs_cpu_ns = 0;
	}
	h->end_ns = coil_now_update(h->loop) + (uint64_t)s * 1000 * MS;
	for (unsigned i = 0; i < n; i++) {
		h->c[i].h = h;
		h->c[i].busy = 1;
		h->live++;
		hs_next(&h->c[i]);
	}
	while (h->live)
		coil_loop_run(h->loop, COIL_RUN_ONCE);
	while (coil_loop_inflight(h->loop))
		coil_loop_run(h->loop, COIL_RUN_ONCE);
	coil_loop_free(h->loop);
	coil_tls_cache_free(h->cache);
	coil_tls_config_free(h->cfg);
	free(h->c);
}

static void print_hs(const char *what, const struct hsc *h, double wall_s,
		     double cli_cpu_ms, const struct srv *srv,
		     double srv_cpu_ms)
{
	printf("%-28s %s %-9s %8.0f hs/s  resumed %5.1f%%  client cpu %7.3f "
	       "ms/hs (in mbedTLS %7.3f)",
	       what, h->version, h->group, h->done / wall_s,
	       h->done ? 100.0 * (double)h->resumed / (double)h->done : 0,
	       h->done ? cli_cpu_ms / (double)h->done : 0,
	       h->done ? h->hs_cpu_ns / 1e6 / (double)h->done : 0);
	if (srv && srv->handshakes)
		printf("  server cpu %7.3f ms/hs (in mbedTLS %7.3f)",
		       srv_cpu_ms / (double)srv->handshakes,
		       srv->hs_cpu_ns / 1e6 / (double)srv->handshakes);
	if (h->fail)
		printf("  FAILED %llu", (unsigned long long)h->fail);
	printf("\n");
}

/* ---- bulk: one connection, @mib MiB client -> server ---- */

struct bulk {
	struct coil_loop *loop;
	struct coil_tcp tcp;
	struct coil_tls tls;
	struct coil_stream *s;
	int connected, ended;
	uint64_t queued, total;
	struct coil_stream_write w[4], shut;
	unsigned char *buf;
};

static struct bulk *bk;

static void bulk_more(void);

static void bulk_written(struct coil_stream_write *w, int status)
{
	(void)w;
	if (status < 0)
		die("bulk write", status);
	bulk_more();
}

static void bulk_more(void)
{
	const size_t chunk = 65536;
	for (int i = 0; i < 4 && bk->queued < bk->total; i++) {
		if (bk->w[i].flags & COIL_STREAM_W_QUEUED)
			continue;
		if (coil_stream_write(bk->s, &bk->w[i], bk->buf, chunk,
				      bulk_written) < 0)
			return;
		bk->queued += chunk;
	}
	if (bk->queued >= bk->total) {
		for (int i = 0; i < 4; i++)
			if (bk->w[i].flags & COIL_STREAM_W_QUEUED)
				return;
		if (!(bk->shut.flags & COIL_STREAM_W_QUEUED) && !bk->ended)
			coil_stream_shutdown(bk->s, &bk->shut, NULL);
	}
}

static void bulk_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	(void)s;
	(void)buf;
	if (n <= 0)
		bk->ended = 1;
}

static void bulk_connected(struct coil_stream *s, int status)
{
	(void)s;
	if (status < 0)
		die("bulk connect", status);
	bk->connected = 1;
}

static void bulk_closed(struct coil_stream *s)
{
	(void)s;
	bk->connected = 2;
}

/* MB/s; *cli_mbs, *srv_mbs: MB per CPU-second of each side's thread. */
static double bulk_run(struct srv *srv, pthread_t th, int tls, double *cli_mbs,
		       double *srv_mbs)
{
	struct bu_cpu c0, c1;
	double s0, s1;
	struct sockaddr_storage ss;
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct coil_tls_config *cfg = tls ? config(0) : NULL;
	struct coil_tls_opts o = {0};
	uint64_t t0, t1;
	int ret;

	bk = calloc(1, sizeof(*bk));
	bk->buf = malloc(65536);
	memset(bk->buf, 'x', 65536);
	bk->loop = new_loop();
	bk->total = (uint64_t)mib << 20;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(srv->port);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &a, sizeof(a));
	o.host = "localhost";
	if (tls) {
		bk->s = &bk->tls.s;
		ret = coil_tls_connect(bk->loop, &bk->tls, &bk->tcp, &ss, 1,
				       NULL, cfg, &o, bulk_connected);
	} else {
		bk->s = &bk->tcp.s;
		ret = coil_tcp_connect(bk->loop, &bk->tcp, &ss, 1, NULL,
				       bulk_connected);
	}
	if (ret < 0)
		die("connect", ret);
	while (!bk->connected)
		coil_loop_run(bk->loop, COIL_RUN_ONCE);
	coil_stream_read_start(bk->s, bulk_read);
	srv->bytes = 0;
	c0 = bu_thread_cpu();
	s0 = thread_cpu_ms(th);
	t0 = bu_mono_ns();
	bulk_more();
	/* the server closes once it read the end: then all arrived */
	while (!bk->ended)
		coil_loop_run(bk->loop, COIL_RUN_ONCE);
	t1 = bu_mono_ns();
	c1 = bu_thread_cpu();
	s1 = thread_cpu_ms(th);
	*cli_mbs = (double)bk->total / 1e6 / (cpu_ms(c0, c1) / 1e3);
	*srv_mbs = (double)bk->total / 1e6 / ((s1 - s0) / 1e3);
	if (srv->bytes != bk->total)
		fprintf(stderr, "bulk: server got %llu of %llu\n",
			(unsigned long long)srv->bytes,
			(unsigned long long)bk->total);
	coil_stream_close(bk->s, bulk_closed);
	while (bk->connected != 2)
		coil_loop_run(bk->loop, COIL_RUN_ONCE);
	while (coil_loop_inflight(bk->loop))
		coil_loop_run(bk->loop, COIL_RUN_ONCE);
	coil_loop_free(bk->loop);
	coil_tls_config_free(cfg);
	free(bk->buf);
	free(bk);
	return (double)((uint64_t)mib << 20) / ((t1 - t0) / 1e9) / 1e6;
}

static void mode_self(void)
{
	struct srv srv = {0};
	struct coil_tls_config *scfg = config(1);
	pthread_t th;

	bu_pin(1);
	th = srv_start(&srv, scfg, 0);
	for (int resume = 0; resume < 2; resume++) {
		unsigned cs[] = {1, conc};
		for (int k = 0; k < (conc > 1 ? 2 : 1); k++) {
			struct hsc h;
			struct bu_cpu c0, c1;
			double s0, s1;
			uint64_t t0, t1;
			char what[64];
			srv.handshakes = srv.resumed = srv.hs_cpu_ns = 0;
			c0 = bu_thread_cpu();
			s0 = thread_cpu_ms(th);
			t0 = bu_mono_ns();
			hs_run(srv.port, resume, cs[k], secs, &h);
			t1 = bu_mono_ns();
			c1 = bu_thread_cpu();
			s1 = thread_cpu_ms(th);
			snprintf(what, sizeof(what), "coil->coil %s conc %u",
				 resume ? "resumed" : "full", cs[k]);
			print_hs(what, &h, (t1 - t0) / 1e9, cpu_ms(c0, c1),
				 &srv, s1 - s0);
		}
	}
	{
		double cm, sm, r = bulk_run(&srv, th, 1, &cm, &sm);
		printf("%-28s %8.1f MB/s (%u MiB, one connection); per "
		       "CPU-second: sender %.1f MB, receiver %.1f MB\n",
		       "bulk coil->coil TLS", r, mib, cm, sm);
	}
	srv_stop(&srv, th);
	coil_tls_config_free(scfg);

	/* plain TCP, same program */
	memset(&srv, 0, sizeof(srv));
	th = srv_start(&srv, NULL, 0);
	{
		double cm, sm, r = bulk_run(&srv, th, 0, &cm, &sm);
		printf("%-28s %8.1f MB/s (%u MiB, one connection); per "
		       "CPU-second: sender %.1f MB, receiver %.1f MB\n",
		       "bulk coil->coil plain TCP", r, mib, cm, sm);
	}
	srv_stop(&srv, th);
}

static void mode_serve(void)
{
	struct srv srv = {0};
	struct coil_tls_config *scfg = config(1);
	pthread_t th = srv_start(&srv, scfg, 0);
	char b[64];

	printf("READY %u\n", srv.port);
	fflush(stdout);
	while (read(0, b, sizeof(b)) > 0)
		;
	srv_stop(&srv, th);
	printf("server: %llu handshakes (%llu resumed), %.3f ms/hs in "
	       "mbedTLS, thread cpu %.1f ms\n",
	       (unsigned long long)srv.handshakes,
	       (unsigned long long)srv.resumed,
	       srv.handshakes ? srv.hs_cpu_ns / 1e6 / (double)srv.handshakes
			      : 0,
	       cpu_ms(srv.cpu0, srv.cpu1));
	coil_tls_config_free(scfg);
}

static void mode_client(void)
{
	bu_pin(1);
	for (int resume = 0; resume < 2 - full_only; resume++) {
		struct hsc h;
		struct bu_cpu c0 = bu_thread_cpu(), c1;
		uint64_t t0 = bu_mono_ns(), t1;
		char what[64];
		hs_run(ext_port, resume, conc, secs, &h);
		t1 = bu_mono_ns();
		c1 = bu_thread_cpu();
		snprintf(what, sizeof(what), "coil->ext %s conc %u",
			 resume ? "resumed" : "full", conc);
		print_hs(what, &h, (t1 - t0) / 1e9, cpu_ms(c0, c1), NULL, 0);
	}
}

/* ---- stall: echo round trips while s_time makes handshakes ---- */

struct pinger {
	struct coil_loop *loop;
	struct coil_tcp tcp;
	struct coil_tls tls;
	struct coil_stream_write w;
	unsigned char msg[64];
	size_t got;
	uint64_t sent_ns, end_ns;
	double *rtt;
	size_t n, cap;
	int connected, done;
};

static struct pinger *pg;

static void ping_send(void)
{
	pg->sent_ns = bu_mono_ns();
	pg->got = 0;
	coil_stream_write(&pg->tls.s, &pg->w, pg->msg, sizeof(pg->msg), NULL);
}

static void ping_read(struct coil_stream *s, ssize_t n, const void *buf)
{
	uint64_t now;
	(void)s;
	(void)buf;
	if (n <= 0) {
		pg->done = 1;
		return;
	}
	pg->got += (size_t)n;
	if (pg->got < sizeof(pg->msg))
		return;
	now = bu_mono_ns();
	if (pg->n < pg->cap)
		pg->rtt[pg->n++] = (now - pg->sent_ns) / 1e3;
	if (now >= pg->end_ns) {
		pg->done = 1;
		return;
	}
	ping_send();
}

static void ping_connected(struct coil_stream *s, int status)
{
	(void)s;
	if (status < 0)
		die("ping connect", status);
	pg->connected = 1;
}

static void ping_closed(struct coil_stream *s)
{
	(void)s;
	pg->connected = 2;
}

static void mode_stall(void)
{
	struct srv srv = {0};
	struct coil_tls_config *scfg = config(1);
	struct coil_tls_config *ccfg = config(0);
	struct sockaddr_storage ss;
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct coil_tls_opts o = {0};
	pthread_t th = srv_start(&srv, scfg, 0);
	char port_arg[64], secs_arg[16];
	int out[2];
	pid_t pid;
	double p50, p99, max;
	char sbuf[4096];
	ssize_t sn = 0;

	bu_pin(1);
	pg = calloc(1, sizeof(*pg));
	pg->cap = 1u << 22;
	pg->rtt = malloc(pg->cap * sizeof(double));
	pg->loop = new_loop();
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(srv.port);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &a, sizeof(a));
	o.host = "localhost";
	if (coil_tls_connect(pg->loop, &pg->tls, &pg->tcp, &ss, 1, NULL, ccfg,
			     &o, ping_connected) < 0)
		die("connect", -EINVAL);
	while (!pg->connected)
		coil_loop_run(pg->loop, COIL_RUN_ONCE);
	coil_stream_read_start(&pg->tls.s, ping_read);

	/* s_time: full handshakes against the same server loop */
	snprintf(port_arg, sizeof(port_arg), "127.0.0.1:%u", srv.port);
	snprintf(secs_arg, sizeof(secs_arg), "%u", secs);
	if (pipe(out) < 0)
		die("pipe", -errno);
	pid = fork();
	if (pid == 0) {
		char *argv[] = {"openssl", "s_time", "-connect",
				port_arg,  "-new",   "-tls1_2",
				"-time",   secs_arg, NULL};
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	pg->end_ns = bu_mono_ns() + (uint64_t)secs * 1000 * MS;
	ping_send();
	while (!pg->done)
		coil_loop_run(pg->loop, COIL_RUN_ONCE);
	for (;;) {
		ssize_t r =
			read(out[0], sbuf + sn, sizeof(sbuf) - 1 - (size_t)sn);
		if (r <= 0)
			break;
		sn += r;
	}
	sbuf[sn] = 0;
	close(out[0]);
	waitpid(pid, NULL, 0);
	qsort(pg->rtt, pg->n, sizeof(double), bu_cmp_double);
	p50 = pg->n ? pg->rtt[pg->n / 2] : 0;
	p99 = pg->n ? pg->rtt[(size_t)(pg->n * 0.99)] : 0;
	max = pg->n ? pg->rtt[pg->n - 1] : 0;
	printf("stall, handshakes %-6s %zu round trips: p50 %.0f us, "
	       "p99 %.0f us, max %.0f us; server %llu handshakes; s_time:\n",
	       pool ? "pool" : "inline", pg->n, p50, p99, max,
	       (unsigned long long)srv.handshakes);
	for (char *line = strtok(sbuf, "\n"); line; line = strtok(NULL, "\n"))
		if (strstr(line, "connections"))
			printf("    %s\n", line);
	coil_stream_close(&pg->tls.s, ping_closed);
	while (pg->connected != 2)
		coil_loop_run(pg->loop, COIL_RUN_ONCE);
	while (coil_loop_inflight(pg->loop))
		coil_loop_run(pg->loop, COIL_RUN_ONCE);
	coil_loop_free(pg->loop);
	srv_stop(&srv, th);
	coil_tls_config_free(scfg);
	coil_tls_config_free(ccfg);
	free(pg->rtt);
	free(pg);
}

int main(int argc, char **argv)
{
	const char *mode;

	if (argc < 2) {
		fprintf(stderr, "usage: tls_bench self|serve|client|stall "
				"--certs DIR [--secs S] [--conc N] [--mib M] "
				"[--pool T] [--port P] [--tls 1.2|1.3|1.2-1.3] "
				"[--cert rsa|ec|rsa-rsa] [--full 0|1]\n");
		return 2;
	}
	mode = argv[1];
	if (!strcmp(mode, "version")) { /* the mbedTLS it was built with */
		printf("%s\n", coil_tls_version());
		return 0;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--certs"))
			certs = argv[i + 1];
		else if (!strcmp(argv[i], "--secs"))
			secs = (unsigned)bu_arg_long("--secs", argv[i + 1], 1,
						     600);
		else if (!strcmp(argv[i], "--conc"))
			conc = (unsigned)bu_arg_long("--conc", argv[i + 1], 1,
						     1000);
		else if (!strcmp(argv[i], "--mib"))
			mib = (unsigned)bu_arg_long("--mib", argv[i + 1], 1,
						    65536);
		else if (!strcmp(argv[i], "--pool"))
			pool_threads = (unsigned)bu_arg_long(
				"--pool", argv[i + 1], 0, 64);
		else if (!strcmp(argv[i], "--port"))
			ext_port = (unsigned short)bu_arg_long(
				"--port", argv[i + 1], 1, 65535);
		else if (!strcmp(argv[i], "--tls")) {
			if (coil_tls_parse_versions(argv[i + 1], &tls_min,
						    &tls_max) < 0) {
				fprintf(stderr, "bad --tls %s\n", argv[i + 1]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--cert"))
			cert_kind = argv[i + 1];
		else if (!strcmp(argv[i], "--full"))
			full_only =
				(int)bu_arg_long("--full", argv[i + 1], 0, 1);
		else {
			fprintf(stderr, "unknown option %s\n", argv[i]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (pool_threads) {
		struct coil_pool_opts po = {.threads = pool_threads};
		int ret = coil_pool_new(&pool, &po);
		if (ret < 0)
			die("pool", ret);
	}
	if (!strcmp(mode, "self"))
		mode_self();
	else if (!strcmp(mode, "serve"))
		mode_serve();
	else if (!strcmp(mode, "client"))
		mode_client();
	else if (!strcmp(mode, "stall"))
		mode_stall();
	else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	coil_pool_free(pool);
	return 0;
}
