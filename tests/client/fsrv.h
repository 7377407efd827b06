/*
 * tests/client/fsrv.h - a small HTTP/1.1 server for the client tests,
 * written with plain blocking sockets and one thread per connection, so
 * that it shares no code with coil. It serves well-behaved responses and,
 * by request path, every kind of misbehaviour the client must survive:
 *
 *   /ok?n=N[&close=1]      200, N body bytes (pattern), keep-alive
 *   /chunked?n=N&c=C       200, N bytes in chunks of C
 *   /slow?ms=M             200 after M ms (connections pile up)
 *   /status?s=S            status S (204/304: no body; others 3 bytes)
 *   /echo                  200, the request (head and body) as body
 *   /redirect?to=URL&s=S   S (default 302) with Location: URL
 *   /close-mid-headers     half a head, then close
 *   /close-mid-body        chunked, half a chunk, then close
 *   /short-cl              Content-Length: 100, 10 bytes, then close
 *   /reset                 reads the request, answers with a TCP RST
 *   /drip                  the head one byte every 100 ms
 *   /never                 reads the request, never answers
 *   /bighead               a 1 MiB header field
 *   /badchunk              an invalid chunk size ("zz")
 *   /flaky?k=K&f=F&s=S     the first F requests with key K get S (503),
 *                          then 200; fsrv_hits(K) counts them
 *   /retry-after?k=K&v=V   the first request with key K gets 503 with
 *                          Retry-After: V, later ones 200
 *   /conn?ms=M             after M ms, "<connection number> <request
 *                          number on it>"
 *   /once-per-conn         200 on a connection's first request; a second
 *                          request on it is read and the connection closed
 *                          without an answer (a keep-alive timeout race)
 *
 * The server counts connections open now, the most ever open at once,
 * and requests; fsrv_stop() joins every thread and closes every socket.
 * The peak is taken at each accept, over the connections whose client has
 * not closed its side yet (poll's POLLRDHUP: the FIN has arrived), so a
 * connection the client closed counts as gone even before its thread
 * notices: on loopback the FIN is delivered within the client's close().
 */
#ifndef COIL_TEST_FSRV_H
#define COIL_TEST_FSRV_H

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define FSRV_MAX_KEYS 64

struct fsrv {
	int lfd;
	unsigned short port;
	int stop[2]; /* a pipe: readable once stopping */
	pthread_t acceptor;
	pthread_mutex_t mu;
	pthread_t *threads;
	size_t nthreads, cap;
	int cfds[1024]; /* sockets of connections being served */
	int ncfds;
	int open, peak, accepted, requests;
	struct {
		char key[32];
		int hits;
		uint64_t at_ns[8];
	} keys[FSRV_MAX_KEYS];
};

struct fsrv_conn {
	struct fsrv *s;
	int fd;
	int id; /* accept order, from 1 */
};

static inline void fsrv_send(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static inline void fsrv_sendf(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void fsrv_sendf(int fd, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		fsrv_send(fd, buf,
			  (size_t)n < sizeof(buf) ? (size_t)n
						  : sizeof(buf) - 1);
}

/* Wait up to @ms (-1: forever) for @fd readable; 0 when stopping or on
 * timeout with @fd not readable. */
static inline int fsrv_wait(struct fsrv *s, int fd, int ms)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
			      {.fd = s->stop[0], .events = POLLIN}};
	int n = poll(p, 2, ms);
	if (n <= 0 || (p[1].revents & POLLIN))
		return 0;
	return (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/* Pause @ms unless stopping; 0 when stopping. */
static inline int fsrv_pause(struct fsrv *s, int ms)
{
	struct pollfd p = {.fd = s->stop[0], .events = POLLIN};
	return poll(&p, 1, ms) == 0;
}

static inline long fsrv_param(const char *path, const char *name, long def)
{
	size_t n = strlen(name);
	const char *q = strchr(path, '?');
	while (q) {
		q++;
		if (!strncmp(q, name, n) && q[n] == '=')
			return strtol(q + n + 1, NULL, 10);
		q = strchr(q, '&');
	}
	return def;
}

static inline void fsrv_param_str(const char *path, const char *name, char *out,
				  size_t cap)
{
	size_t n = strlen(name);
	const char *q = strchr(path, '?');
	out[0] = 0;
	while (q) {
		q++;
		if (!strncmp(q, name, n) && q[n] == '=') {
			size_t i = 0;
			q += n + 1;
			/* "to" takes the rest of the query */
			while (q[i] && (q[i] != '&' || !strcmp(name, "to")) &&
			       i + 1 < cap) {
				out[i] = q[i];
				i++;
			}
			out[i] = 0;
			return;
		}
		q = strchr(q, '&');
	}
}

/* Count a hit for @key; return the hit number (1 = first). */
static inline int fsrv_hit(struct fsrv *s, const char *key)
{
	int n = 0;
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < FSRV_MAX_KEYS; i++) {
		if (!s->keys[i].key[0]) {
			snprintf(s->keys[i].key, sizeof(s->keys[i].key), "%s",
				 key);
		}
		if (!strcmp(s->keys[i].key, key)) {
			n = ++s->keys[i].hits;
			if (n <= 8)
				s->keys[i].at_ns[n - 1] = tu_mono_ns();
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

static inline int fsrv_hits(struct fsrv *s, const char *key, uint64_t *at)
{
	int n = 0;
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < FSRV_MAX_KEYS; i++) {
		if (!strcmp(s->keys[i].key, key)) {
			n = s->keys[i].hits;
			if (at)
				memcpy(at, s->keys[i].at_ns,
				       sizeof(s->keys[i].at_ns));
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

static inline void fsrv_body(int fd, size_t n)
{
	char buf[16384];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	while (n) {
		size_t k = n < sizeof(buf) ? n : sizeof(buf);
		fsrv_send(fd, buf, k);
		n -= k;
	}
}

/* Serve one request; 1 to keep the connection, 0 to close it. */
static inline int fsrv_serve(struct fsrv *s, int fd, const char *head,
			     size_t head_len, const char *body, size_t blen,
			     int nth, int cid)
{
	char method[16], path[2048], str[1024];
	if (sscanf(head, "%15s %2047s", method, path) != 2)
		return 0;
	int is_head = !strcmp(method, "HEAD");

	if (!strncmp(path, "/ok", 3)) {
		long n = fsrv_param(path, "n", 5);
		int close_ = (int)fsrv_param(path, "close", 0);
		fsrv_sendf(fd,
			   "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n%s\r\n",
			   n, close_ ? "Connection: close\r\n" : "");
		if (!is_head)
			fsrv_body(fd, (size_t)n);
		return !close_;
	}
	if (!strncmp(path, "/chunked", 8)) {
		long n = fsrv_param(path, "n", 100),
		     c = fsrv_param(path, "c", 7);
		char buf[65536];
		fsrv_sendf(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
			       "chunked\r\n\r\n");
		for (long off = 0; off < n; off += c) {
			long k = n - off < c ? n - off : c;
			for (long i = 0; i < k && i < (long)sizeof(buf); i++)
				buf[i] = (char)('a' + (off + i) % 26);
			fsrv_sendf(fd, "%lx\r\n", k);
			fsrv_send(fd, buf, (size_t)k);
			fsrv_send(fd, "\r\n", 2);
		}
		fsrv_send(fd, "0\r\n\r\n", 5);
		return 1;
	}
	if (!strncmp(path, "/slow", 5)) {
		if (!fsrv_pause(s, (int)fsrv_param(path, "ms", 50)))
			return 0;
		fsrv_sendf(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"
			       "slow");
		return 1;
	}
	if (!strncmp(path, "/status", 7)) {
		long st = fsrv_param(path, "s", 200);
		if (st == 204 || st == 304)
			fsrv_sendf(fd, "HTTP/1.1 %ld X\r\n\r\n", st);
		else
			fsrv_sendf(fd,
				   "HTTP/1.1 %ld X\r\nContent-Length: 3\r\n\r\n"
				   "%s",
				   st, is_head ? "" : "abc");
		return 1;
	}
	if (!strncmp(path, "/echo", 5)) {
		/* @head lost its last '\n' to the NUL that ends it */
		fsrv_sendf(fd, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
			   head_len + 1 + blen);
		fsrv_send(fd, head, head_len);
		fsrv_send(fd, "\n", 1);
		fsrv_send(fd, body, blen);
		return 1;
	}
	if (!strncmp(path, "/redirect", 9)) {
		fsrv_param_str(path, "to", str, sizeof(str));
		fsrv_sendf(fd,
			   "HTTP/1.1 %ld Moved\r\nLocation: %s\r\n"
			   "Content-Length: 5\r\n\r\nmoved",
			   fsrv_param(path, "s", 302), str);
		return 1;
	}
	if (!strcmp(path, "/close-mid-headers")) {
		fsrv_sendf(fd, "HTTP/1.1 200 OK\r\nContent-Le");
		return 0;
	}
	if (!strcmp(path, "/close-mid-body")) {
		fsrv_sendf(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\n10\r\nhalf");
		return 0;
	}
	if (!strcmp(path, "/short-cl")) {
		fsrv_sendf(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
			       "0123456789");
		return 0;
	}
	if (!strcmp(path, "/reset")) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		return 0;
	}
	if (!strcmp(path, "/drip")) {
		const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				"X-Slow: 0123456789012345678901234567890123456"
				"789\r\n\r\nok";
		for (const char *p = h; *p; p++) {
			if (send(fd, p, 1, MSG_NOSIGNAL) != 1 ||
			    !fsrv_pause(s, 100))
				return 0;
		}
		return 1;
	}
	if (!strcmp(path, "/never")) {
		char b[256];
		/* until the client closes, or the test ends */
		while (fsrv_wait(s, fd, -1) && recv(fd, b, sizeof(b), 0) > 0)
			;
		return 0;
	}
	if (!strcmp(path, "/bighead")) {
		char line[1024];
		memset(line, 'x', sizeof(line));
		fsrv_sendf(fd, "HTTP/1.1 200 OK\r\nX-Big: ");
		for (int i = 0; i < 1024; i++) {
			if (send(fd, line, sizeof(line), MSG_NOSIGNAL) < 0)
				return 0;
		}
		fsrv_sendf(fd, "\r\nContent-Length: 0\r\n\r\n");
		return 1;
	}
	if (!strcmp(path, "/badchunk")) {
		fsrv_sendf(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			       "\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
		return 1;
	}
	if (!strncmp(path, "/flaky", 6)) {
		fsrv_param_str(path, "k", str, sizeof(str));
		int hit = fsrv_hit(s, str);
		if (hit <= fsrv_param(path, "f", 1)) {
			fsrv_sendf(fd,
				   "HTTP/1.1 %ld Busy\r\nContent-Length: 4"
				   "\r\n\r\nbusy",
				   fsrv_param(path, "s", 503));
			return 1;
		}
		fsrv_sendf(fd,
			   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		return 1;
	}
	if (!strncmp(path, "/retry-after", 12)) {
		char v[64];
		fsrv_param_str(path, "k", str, sizeof(str));
		fsrv_param_str(path, "v", v, sizeof(v));
		for (char *p = v; *p; p++) {
			if (*p == '_')
				*p = ' ';
		}
		if (fsrv_hit(s, str) == 1) {
			fsrv_sendf(fd,
				   "HTTP/1.1 503 Busy\r\nRetry-After: %s\r\n"
				   "Content-Length: 4\r\n\r\nbusy",
				   v);
			return 1;
		}
		fsrv_sendf(fd,
			   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		return 1;
	}
	if (!strncmp(path, "/conn", 5)) {
		char b[64];
		int n = snprintf(b, sizeof(b), "%d %d", cid, nth);
		if (!fsrv_pause(s, (int)fsrv_param(path, "ms", 0)))
			return 0;
		fsrv_sendf(fd,
			   "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", n,
			   b);
		return 1;
	}
	if (!strcmp(path, "/once-per-conn")) {
		if (nth > 1)
			return 0;
		fsrv_sendf(fd,
			   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		return 1;
	}
	fsrv_sendf(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	return 1;
}

static inline void *fsrv_conn_main(void *arg)
{
	struct fsrv_conn *fc = arg;
	struct fsrv *s = fc->s;
	int fd = fc->fd, nth = 0, cid = fc->id;
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);

	free(fc);
	if (!buf)
		abort();
	for (;;) {
		char *end = NULL;
		size_t hlen, blen = 0;
		const char *cl;
		int keep;
		while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
			ssize_t n;
			if (len == cap || !fsrv_wait(s, fd, -1))
				goto out;
			n = recv(fd, buf + len, cap - len, 0);
			if (n <= 0)
				goto out;
			len += (size_t)n;
		}
		hlen = (size_t)(end - buf) + 4;
		cl = memmem(buf, hlen, "Content-Length: ", 16);
		if (cl)
			blen = strtoul(cl + 16, NULL, 10);
		while (len < hlen + blen && len < cap) {
			ssize_t n;
			if (!fsrv_wait(s, fd, -1))
				goto out;
			n = recv(fd, buf + len, cap - len, 0);
			if (n <= 0)
				goto out;
			len += (size_t)n;
		}
		if (len < hlen + blen)
			goto out;
		buf[hlen - 1] = 0; /* sscanf stops there */
		pthread_mutex_lock(&s->mu);
		s->requests++;
		pthread_mutex_unlock(&s->mu);
		keep = fsrv_serve(s, fd, buf, hlen - 1, buf + hlen, blen, ++nth,
				  cid);
		memmove(buf, buf + hlen + blen, len - hlen - blen);
		len -= hlen + blen;
		if (!keep)
			break;
	}
out:
	free(buf);
	pthread_mutex_lock(&s->mu);
	s->open--;
	for (int i = 0; i < s->ncfds; i++) {
		if (s->cfds[i] == fd) {
			s->cfds[i] = s->cfds[--s->ncfds];
			break;
		}
	}
	close(fd);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static inline void *fsrv_accept_main(void *arg)
{
	struct fsrv *s = arg;
	for (;;) {
		struct fsrv_conn *fc;
		int fd;
		if (!fsrv_wait(s, s->lfd, -1))
			return NULL;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		fc = malloc(sizeof(*fc));
		if (!fc)
			abort();
		fc->s = s;
		fc->fd = fd;
		pthread_mutex_lock(&s->mu);
		if (s->nthreads == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->threads = realloc(s->threads,
					     s->cap * sizeof(*s->threads));
			if (!s->threads)
				abort();
		}
		s->open++;
		s->accepted++;
		fc->id = s->accepted;
		if (s->ncfds == (int)(sizeof(s->cfds) / sizeof(s->cfds[0])))
			abort();
		s->cfds[s->ncfds++] = fd;
		{
			int live = 0;
			for (int i = 0; i < s->ncfds; i++) {
				struct pollfd p = {.fd = s->cfds[i],
						   .events = POLLRDHUP};
				if (poll(&p, 1, 0) == 0)
					live++;
			}
			if (live > s->peak)
				s->peak = live;
		}
		if (pthread_create(&s->threads[s->nthreads], NULL,
				   fsrv_conn_main, fc))
			abort();
		s->nthreads++;
		pthread_mutex_unlock(&s->mu);
	}
}

static inline void fsrv_start(struct fsrv *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	if (pipe2(s->stop, O_CLOEXEC))
		abort();
	s->lfd = tu_listen(&s->port);
	if (pthread_create(&s->acceptor, NULL, fsrv_accept_main, s))
		abort();
}

static inline void fsrv_stop(struct fsrv *s)
{
	if (write(s->stop[1], "x", 1) != 1)
		abort();
	pthread_join(s->acceptor, NULL);
	for (size_t i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	free(s->threads);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->mu);
}

static inline int fsrv_get(struct fsrv *s, int *peak, int *accepted,
			   int *requests)
{
	int open;
	pthread_mutex_lock(&s->mu);
	open = s->open;
	if (peak)
		*peak = s->peak;
	if (accepted)
		*accepted = s->accepted;
	if (requests)
		*requests = s->requests;
	pthread_mutex_unlock(&s->mu);
	return open;
}

#endif
