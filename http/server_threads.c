/*
 * http/server_threads.c - N servers on N loops on N threads sharing one
 * port (SO_REUSEPORT): coil_http_threads_*(). Only the public server API
 * is used here. Each thread owns its loop (created on that thread, so it
 * is the ring's single issuer); the others reach it only through
 * coil_loop_post_remote(), for the stop.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "coil/http.h"

struct worker {
	struct coil_http_threads *t;
	unsigned index;
	pthread_t th;
	int joined;
	struct coil_loop *loop;
	struct coil_http_server *srv;
	struct coil_op stop_op;
	struct coil_op done_op;
	int result; /* start result; 1 while starting */
	int cut;
	struct coil_http_server_stats stats;
	struct coil_loop_stats lstats;
};

struct coil_http_threads {
	struct coil_http_server_opts sopts;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct coil_http_threads_opts topts;
	struct coil_loop_opts lopts;
	int have_lopts;
	unsigned n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	int waited;
	uint64_t drain_ns;
	struct worker w[];
};

static void worker_done_cb(struct coil_op *op, int res, unsigned flags)
{
	struct worker *w = coil_container_of(op, struct worker, done_op);
	w->cut = res;
	if (w->t->topts.on_stop)
		w->t->topts.on_stop(w->srv, w->index, w->t->topts.arg);
}

static void worker_stop_cb(struct coil_op *op, int res, unsigned flags)
{
	struct worker *w = coil_container_of(op, struct worker, stop_op);
	uint64_t drain;
	pthread_mutex_lock(&w->t->mu);
	drain = w->t->drain_ns;
	pthread_mutex_unlock(&w->t->mu);
	if (coil_http_server_shutdown(w->srv, drain, &w->done_op) < 0)
		coil_loop_post(w->loop, &w->done_op, 0);
}

static void worker_report(struct worker *w, int result)
{
	pthread_mutex_lock(&w->t->mu);
	w->result = result;
	pthread_cond_broadcast(&w->t->cv);
	pthread_mutex_unlock(&w->t->mu);
}

static void worker_run(struct worker *w)
{
	int r;
	do {
		r = coil_loop_run(w->loop, COIL_RUN_DEFAULT);
	} while (r > 0);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct coil_http_threads *t = w->t;
	struct coil_http_server_opts so = t->sopts;
	int ret;

	ret = coil_loop_new(&w->loop, t->have_lopts ? &t->lopts : NULL);
	if (ret < 0) {
		worker_report(w, ret);
		return NULL;
	}
	so.addr = (const struct sockaddr *)&t->addr;
	so.addr_len = t->addr_len;
	ret = coil_http_server_new(&w->srv, w->loop, &so);
	if (ret < 0) {
		coil_loop_free(w->loop);
		w->loop = NULL;
		worker_report(w, ret);
		return NULL;
	}
	coil_op_init(&w->stop_op, worker_stop_cb);
	coil_op_init(&w->done_op, worker_done_cb);
	if (w->index == 0) {
		/* port 0: the others bind the port this one got */
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (coil_http_server_addr(w->srv, &ss, &len) == 0) {
			pthread_mutex_lock(&t->mu);
			memcpy(&t->addr, &ss, len);
			t->addr_len = len;
			pthread_mutex_unlock(&t->mu);
		}
	}
	if (t->topts.on_start) {
		ret = t->topts.on_start(w->srv, w->index, t->topts.arg);
		if (ret < 0) {
			/* shut down quietly: no on_stop for a failed start */
			coil_http_server_shutdown(w->srv, 0, NULL);
			worker_run(w);
			coil_http_server_free(w->srv);
			coil_loop_free(w->loop);
			w->srv = NULL;
			w->loop = NULL;
			worker_report(w, ret);
			return NULL;
		}
	}
	coil_loop_expect(w->loop, &w->stop_op);
	worker_report(w, 0);
	worker_run(w);
	coil_http_server_stats(w->srv, &w->stats);
	coil_loop_stats(w->loop, &w->lstats);
	coil_http_server_free(w->srv);
	coil_loop_free(w->loop);
	w->srv = NULL;
	w->loop = NULL;
	return NULL;
}

static void threads_stop_started(struct coil_http_threads *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = &t->w[i];
		if (w->result == 0 && w->loop)
			coil_loop_post_remote(w->loop, &w->stop_op, 0);
	}
}

/*
 * SO_REUSEPORT lets any socket of the same user join the port, so a second
 * server started by mistake would silently share it: try the port first
 * without SO_REUSEPORT (with SO_REUSEADDR, as the listeners, so sockets in
 * TIME_WAIT do not count) and refuse a port someone listens on.
 */
static int port_free(const struct sockaddr_storage *ss, socklen_t len)
{
	const struct sockaddr_in *a4 = (const void *)ss;
	const struct sockaddr_in6 *a6 = (const void *)ss;
	int one = 1, fd, ret = 0;

	if ((ss->ss_family == AF_INET && a4->sin_port == 0) ||
	    (ss->ss_family == AF_INET6 && a6->sin6_port == 0))
		return 0;
	if (ss->ss_family != AF_INET && ss->ss_family != AF_INET6)
		return -EAFNOSUPPORT;
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int coil_http_threads_start(struct coil_http_threads **out,
			    const struct coil_http_server_opts *sopts,
			    const struct coil_http_threads_opts *topts)
{
	struct coil_http_threads *t;
	unsigned n = topts && topts->threads ? topts->threads : 1;
	int ret = 0;

	if (!out || !sopts || !sopts->addr || !sopts->handler || n > 1024 ||
	    sopts->addr_len > sizeof(struct sockaddr_storage) ||
	    sopts->addr_len == 0)
		return -EINVAL;
	t = calloc(1, sizeof(*t) + n * sizeof(struct worker));
	if (!t)
		return -ENOMEM;
	t->sopts = *sopts;
	t->sopts.flags |= COIL_HTTP_SERVER_REUSEPORT;
	memcpy(&t->addr, sopts->addr, sopts->addr_len);
	t->addr_len = sopts->addr_len;
	if (topts) {
		t->topts = *topts;
		if (topts->loop) {
			t->lopts = *topts->loop;
			t->have_lopts = 1;
		}
	}
	t->n = n;
	ret = port_free(&t->addr, t->addr_len);
	if (ret < 0) {
		free(t);
		return ret;
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct worker *w = &t->w[i];
		w->t = t;
		w->index = i;
		w->result = 1;
		ret = -pthread_create(&w->th, NULL, worker_main, w);
		if (ret < 0) {
			w->result = ret;
			w->joined = 1;
			break;
		}
		/* one at a time: the first fixes the port */
		pthread_mutex_lock(&t->mu);
		while (w->result == 1)
			pthread_cond_wait(&t->cv, &t->mu);
		ret = w->result;
		pthread_mutex_unlock(&t->mu);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		pthread_mutex_lock(&t->mu);
		t->stopping = 1;
		t->drain_ns = 0;
		pthread_mutex_unlock(&t->mu);
		threads_stop_started(t, n);
		for (unsigned i = 0; i < n; i++) {
			if (!t->w[i].joined && t->w[i].result != 1) {
				pthread_join(t->w[i].th, NULL);
				t->w[i].joined = 1;
			}
		}
		pthread_mutex_destroy(&t->mu);
		pthread_cond_destroy(&t->cv);
		free(t);
		return ret;
	}
	*out = t;
	return 0;
}

int coil_http_threads_addr(const struct coil_http_threads *t,
			   struct sockaddr_storage *ss, socklen_t *len)
{
	if (!t || !ss || !len)
		return -EINVAL;
	memcpy(ss, &t->addr, t->addr_len);
	*len = t->addr_len;
	return 0;
}

int coil_http_threads_stop(struct coil_http_threads *t, uint64_t drain_ns)
{
	if (!t)
		return -EINVAL;
	pthread_mutex_lock(&t->mu);
	if (t->stopping) {
		pthread_mutex_unlock(&t->mu);
		return 0;
	}
	t->stopping = 1;
	t->drain_ns = drain_ns;
	pthread_mutex_unlock(&t->mu);
	threads_stop_started(t, t->n);
	return 0;
}

int coil_http_threads_wait(struct coil_http_threads *t,
			   struct coil_http_server_stats *stats)
{
	int cut = 0;
	if (!t)
		return -EINVAL;
	if (stats)
		memset(stats, 0, sizeof(*stats));
	for (unsigned i = 0; i < t->n; i++) {
		struct worker *w = &t->w[i];
		if (!w->joined) {
			pthread_join(w->th, NULL);
			w->joined = 1;
		}
		if (w->cut)
			cut = 1;
		if (stats) {
			stats->accepted += w->stats.accepted;
			stats->refused += w->stats.refused;
			stats->requests += w->stats.requests;
			stats->responses += w->stats.responses;
			stats->errors += w->stats.errors;
			stats->timeouts += w->stats.timeouts;
			stats->resets += w->stats.resets;
			stats->tls_failures += w->stats.tls_failures;
			stats->conns += w->stats.conns;
			stats->conns_max += w->stats.conns_max;
			stats->exchanges += w->stats.exchanges;
			stats->inbufs += w->stats.inbufs;
			stats->exchanges_max += w->stats.exchanges_max;
			stats->answers += w->stats.answers;
			stats->file_cache_hits += w->stats.file_cache_hits;
			stats->file_cache_misses += w->stats.file_cache_misses;
			stats->file_cache_files += w->stats.file_cache_files;
			stats->file_cache_bytes += w->stats.file_cache_bytes;
			stats->file_cache_drops += w->stats.file_cache_drops;
			stats->file_cache_overflows +=
				w->stats.file_cache_overflows;
			stats->file_cache_unwatched +=
				w->stats.file_cache_unwatched;
			stats->file_cache_pinned += w->stats.file_cache_pinned;
			stats->file_cache_pin_fails +=
				w->stats.file_cache_pin_fails;
			stats->trims += w->stats.trims;
			stats->answers_shared += w->stats.answers_shared;
			stats->quiet_trims += w->stats.quiet_trims;
			stats->load_trims += w->stats.load_trims;
			stats->conn_bytes = w->stats.conn_bytes;
			stats->answer_overhead_bytes =
				w->stats.answer_overhead_bytes;
		}
	}
	t->waited = 1;
	return cut;
}

void coil_http_threads_loop_stats(const struct coil_http_threads *t,
				  struct coil_loop_stats *st)
{
	if (!t || !st)
		return;
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < t->n; i++) {
		const struct coil_loop_stats *s = &t->w[i].lstats;
		st->turns += s->turns;
		st->enters += s->enters;
		st->sqes += s->sqes;
		st->cqes += s->cqes;
		st->overflow += s->overflow;
		st->queued += s->queued;
		st->nobufs += s->nobufs;
		st->batched += s->batched;
		st->sendfiles += s->sendfiles;
		st->sendfile_warms += s->sendfile_warms;
		st->buf_trims += s->buf_trims;
	}
}

void coil_http_threads_free(struct coil_http_threads *t)
{
	if (!t)
		return;
	if (!t->waited) {
		coil_http_threads_stop(t, 0);
		coil_http_threads_wait(t, NULL);
	}
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}
