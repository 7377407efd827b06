/*
 * http/server_file.c - file bodies: coil_http_respond_file() and
 * coil_http_serve_file() (openat2 beneath a root, statx, content type).
 * Small bodies are read in FCHUNK pieces into a buffer from a server-wide
 * cache and each piece sent as a stream write (the first one with the
 * head); large ones on plain TCP go by splice(2), file -> pipe -> socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server_internal.h"

/* ---- file bodies -----------------------------------------------------------
 */

static struct fbuf *fbuf_get(struct coil_http_server *srv)
{
	struct fbuf *b = srv->fbufs;
	if (b) {
		srv->fbufs = b->next;
		srv->nfbufs--;
		return b;
	}
	return malloc(sizeof(*b));
}

static void fbuf_put(struct coil_http_server *srv, struct fbuf *b)
{
	if (srv->nfbufs < FBUF_CACHE && !(srv->st & S_SHUTDOWN)) {
		b->next = srv->fbufs;
		srv->fbufs = b;
		srv->nfbufs++;
	} else {
		free(b);
	}
}

static void file_close(struct sconn *c)
{
	int fd = c->ffd;
	c->ffd = -1;
	if (fd < 0)
		return;
	if (coil_op_busy(&c->cop) || coil_close(c->srv->loop, &c->cop, fd) < 0)
		close(fd);
}

void coil__file_close_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sconn, cop);
	if (c->st & C_DEAD)
		coil__sconn_release(c);
}

/* The file body is over (sent, or cut by a failure). */
static void pipe_put(struct sconn *c);

void coil__file_end(struct sconn *c)
{
	file_close(c);
	if (c->fb) {
		fbuf_put(c->srv, c->fb);
		c->fb = NULL;
	}
	pipe_put(c);
	c->st &= ~(C_FILE | C_HOLD | C_SPLICE);
	c->fstep = 0;
	c->fwait = 0;
	c->st |= C_DONE;
}

static void file_read(struct sconn *c)
{
	size_t n = c->fleft < FCHUNK ? (size_t)c->fleft : FCHUNK;
	int ret;

	c->fop.cb = coil__file_op_cb;
	ret = coil_read(c->srv->loop, &c->fop, c->ffd, c->fb->data, n,
			(int64_t)c->foff);
	if (ret < 0) {
		coil__file_end(c);
		coil__sconn_fail(c, ret);
	}
}

/* A file piece was sent (or failed): read the next or finish. */
void coil__file_step(struct sconn *c, int status)
{
	if (status < 0 || (c->st & C_DEAD)) {
		coil__file_end(c);
		return;
	}
	if (c->st & C_SPLICE)
		coil__splice_next(c);
	else if (c->fleft)
		file_read(c);
	else
		coil__file_end(c);
}

/* ---- splice: file -> pipe -> socket ---- */

static struct spipe *pipe_get(struct coil_http_server *srv)
{
	struct spipe *p = srv->pipes;
	int fds[2];
	if (p) {
		srv->pipes = p->next;
		srv->npipes--;
		return p;
	}
	p = malloc(sizeof(*p));
	if (!p)
		return NULL;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		free(p);
		return NULL;
	}
	p->r = fds[0];
	p->w = fds[1];
	/* 1 MiB where allowed (fs.pipe-max-size), else what the pipe has */
	(void)fcntl(p->w, F_SETPIPE_SZ, PIPE_SIZE);
	int sz = fcntl(p->w, F_GETPIPE_SZ);
	p->cap = sz > 0 ? (size_t)sz : 65536;
	return p;
}

/* Back to the cache if empty, else closed (it holds someone's bytes). */
static void pipe_put(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	struct spipe *p = c->pipe;
	if (!p)
		return;
	c->pipe = NULL;
	if (c->pbytes == 0 && srv->npipes < PIPE_CACHE &&
	    !(srv->st & S_SHUTDOWN)) {
		p->next = srv->pipes;
		srv->pipes = p;
		srv->npipes++;
	} else {
		close(p->r);
		close(p->w);
		free(p);
	}
	c->pbytes = 0;
}

static void splice_cb(struct coil_op *op, int res, unsigned flags);

static void splice_fail(struct sconn *c, int err)
{
	if (err == -ETIMEDOUT)
		c->srv->stats.timeouts++; /* a reader that stalled */
	coil__file_end(c);
	coil__sconn_fail(c, err);
	coil__sconn_release(c);
}

/*
 * The next step: fill the pipe from the file; or, once every stream write
 * before it has been sent (the head), empty it into the socket. When the
 * socket is full (-EAGAIN: it is O_NONBLOCK, so no io-wq worker waits on
 * a slow client) a poll for POLLOUT, under the write time limit, comes
 * first.
 */
void coil__splice_next(struct sconn *c)
{
	struct coil_loop *loop = c->srv->loop;
	int ret;

	if (c->st & C_DEAD) {
		coil__file_end(c);
		return;
	}
	c->fop.cb = splice_cb;
	if (c->pbytes == 0) {
		size_t n;
		if (c->fleft == 0) {
			coil__file_end(c);
			return;
		}
		n = c->fleft < c->pipe->cap ? (size_t)c->fleft : c->pipe->cap;
		c->fstep = FS_IN;
		ret = coil_splice(loop, &c->fop, c->ffd, (int64_t)c->foff,
				  c->pipe->w, -1, n, SPLICE_F_MOVE);
	} else if (c->slot_busy || c->heap_slots) {
		c->fwait = 1; /* slot_cb calls again */
		return;
	} else {
		c->fstep = FS_OUT;
		ret = coil_splice(loop, &c->fop, c->pipe->r, -1,
				  coil_stream_fd(c->s), -1, c->pbytes,
				  SPLICE_F_MOVE |
					  (c->fleft ? SPLICE_F_MORE : 0));
	}
	if (ret < 0)
		splice_fail(c, ret);
}

static void splice_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sconn, fop);
	unsigned step = c->fstep;

	c->fop.cb = coil__file_op_cb;
	c->fstep = 0;
	if (c->st & C_DEAD) {
		if (step == FS_IN && res > 0)
			c->pbytes += (size_t)res; /* the pipe is not empty */
		coil__file_end(c);
		coil__sconn_release(c);
		return;
	}
	switch (step) {
	case FS_IN:
		if (res <= 0) {
			/* the file shrank under the announced length */
			splice_fail(c, res ? res : COIL_ETRUNC);
			return;
		}
		c->pbytes += (size_t)res;
		c->foff += (uint64_t)res;
		c->fleft -= (uint64_t)res;
		break;
	case FS_OUT:
		if (res == -EAGAIN) {
			/* the socket is full: wait for room, but not forever */
			c->fstep = FS_POLL;
			c->fop.cb = splice_cb;
			coil_op_timeout(&c->fop, c->srv->o.write_timeout_ns);
			res = coil_poll(c->srv->loop, &c->fop,
					coil_stream_fd(c->s), POLLOUT);
			if (res < 0)
				splice_fail(c, res);
			return;
		}
		if (res <= 0) {
			splice_fail(c, res ? res : -EPIPE);
			return;
		}
		c->pbytes -= (size_t)res;
		c->rbytes += (uint64_t)res;
		coil__sconn_progress(c, TL_WRITE);
		break;
	case FS_POLL:
		if (res < 0) {
			splice_fail(c, res); /* -ETIMEDOUT: a stalled reader */
			return;
		}
		break;
	}
	coil__splice_next(c);
	if (c->st & C_DONE) {
		coil__sconn_retime(c);
		coil__sconn_process(c);
	}
}

/* Splice this body? Plain TCP only (TLS needs the bytes), large ones. */
static int splice_start(struct sconn *c)
{
	int fd, fl;

	if (c->s != &c->tcp.s || c->fleft < SPLICE_MIN)
		return 0;
	fd = coil_stream_fd(c->s);
	if (!(c->st & C_NONBLOCK)) {
		/* io_uring's own recv and send poll either way */
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return 0;
		c->st |= C_NONBLOCK;
	}
	c->pipe = pipe_get(c->srv);
	if (!c->pipe)
		return 0;
	c->pbytes = 0;
	c->st |= C_SPLICE;
	coil__splice_next(c);
	return 1;
}

void coil__file_op_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sconn, fop);

	if (c->st & C_DEAD) {
		coil__file_end(c);
		coil__sconn_release(c);
		return;
	}
	if (res == -EAGAIN) {
		/* an O_NONBLOCK file on a file system without async reads */
		int fl = fcntl(c->ffd, F_GETFL);
		if (fl >= 0 && (fl & O_NONBLOCK) &&
		    fcntl(c->ffd, F_SETFL, fl & ~O_NONBLOCK) == 0) {
			file_read(c);
			return;
		}
	}
	if (res <= 0) {
		/* the head announced more: the connection cannot go on */
		coil__file_end(c);
		coil__sconn_fail(c, res ? res : COIL_ETRUNC);
		coil__sconn_release(c);
		return;
	}
	c->st &= ~C_HOLD;
	c->foff += (uint64_t)res;
	c->fleft -= (uint64_t)res;
	c->rbytes += (uint64_t)res;
	{
		struct iovec v = {c->fb->data, (size_t)res};
		coil__out_send(c, SK_FILE, NULL, &v, 1);
	}
	if (c->st & C_DEAD) {
		coil__file_end(c);
		coil__sconn_release(c);
	}
}

static int respond_file(struct sconn *c, int status,
			const struct coil_http_header *headers, size_t nheaders,
			int fd, uint64_t off, uint64_t len)
{
	struct coil_http_response_spec sp = {0};
	int ret;

	c->ffd = fd;
	if (status < 200 || status > 599 || nobody_status(status) ||
	    (nheaders && !headers)) {
		file_close(c);
		if (!(c->st & C_DEAD))
			coil__respond_500(c);
		coil__sreq_complete(c);
		return -EINVAL;
	}
	c->st |= C_BEGUN;
	c->rstatus = status;
	if (c->st & C_DEAD) {
		file_close(c);
		coil__sreq_complete(c);
		return 0;
	}
	sp.status = status;
	sp.headers = headers;
	sp.nheaders = nheaders;
	sp.flags = coil__resp_conn_flags(c) | COIL_HTTP_HEAD_ONLY;
	sp.body_len = len;
	ret = coil__out_head(c, &sp);
	if (ret < 0) {
		file_close(c);
		if (ret == -EINVAL)
			coil__respond_500(c);
		else
			coil__sconn_fail(c, ret);
		coil__sreq_complete(c);
		return ret;
	}
	if (c->req.is_head || len == 0) {
		file_close(c);
		c->st |= C_DONE;
		coil__sreq_complete(c);
		return 0;
	}
	c->foff = off;
	c->fleft = len;
	c->st |= C_FILE;
	if (splice_start(c)) {
		coil__sreq_complete(c);
		return 0;
	}
	c->fb = fbuf_get(c->srv);
	if (!c->fb) {
		file_close(c);
		c->st &= ~C_FILE;
		coil__sconn_fail(c, -ENOMEM);
		coil__sreq_complete(c);
		return -ENOMEM;
	}
	c->st |= C_HOLD;
	file_read(c);
	coil__sreq_complete(c);
	return 0;
}

int coil_http_respond_file(struct coil_http_sreq *req, int status,
			   const struct coil_http_header *headers,
			   size_t nheaders, int fd, uint64_t off, uint64_t len)
{
	struct sconn *c;
	if (!sreq_owned(req)) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	c = sconn_of(req);
	if (c->st & C_BEGUN) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	if (fd < 0) {
		coil__respond_500(c);
		coil__sreq_complete(c);
		return -EBADF;
	}
	return respond_file(c, status, headers, nheaders, fd, off, len);
}

/* ---- static files -----------------------------------------------------------
 */

/* serve_file's answer without a file. */
static void serve_status(struct sconn *c, int status)
{
	char body[64];
	struct coil_http_header h = {"Content-Type", 12,
				     "text/plain; charset=utf-8", 25};
	int n = snprintf(body, sizeof(body), "%d %s\n", status,
			 coil_http_reason(status));
	c->st &= ~C_INTERNAL;
	coil__respond_mem(c, status, &h, 1, body, (size_t)n);
}

static void statx_cb(struct coil_op *op, int res, unsigned flags);

static void open_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sconn, fop);
	int ret;

	if (res >= 0)
		c->ffd = res;
	if (c->st & C_DEAD) {
		file_close(c);
		c->st &= ~C_INTERNAL;
		coil__sreq_complete(c);
		coil__sconn_release(c);
		return;
	}
	if (res < 0) {
		int st;
		switch (res) {
		case -ENOENT:
		case -ENOTDIR:
			st = 404;
			break;
		case -EACCES:
		case -EPERM:
		case -EXDEV:
		case -ELOOP:
			st = 403;
			break;
		case -ENAMETOOLONG:
			st = 414;
			break;
		default:
			st = 500;
		}
		serve_status(c, st);
		return;
	}
	c->fop.cb = statx_cb;
	ret = coil_statx(c->srv->loop, &c->fop, c->ffd, "", AT_EMPTY_PATH,
			 STATX_TYPE | STATX_SIZE, &c->aux->stx);
	if (ret < 0) {
		file_close(c);
		serve_status(c, 500);
	}
}

static void statx_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sconn, fop);
	struct aux *a = c->aux;
	struct coil_http_header h;
	const char *ct, *name;
	int fd;

	c->fop.cb = coil__file_op_cb;
	if (c->st & C_DEAD) {
		file_close(c);
		c->st &= ~C_INTERNAL;
		coil__sreq_complete(c);
		coil__sconn_release(c);
		return;
	}
	if (res < 0) {
		file_close(c);
		serve_status(c, 500);
		return;
	}
	if (!S_ISREG(a->stx.stx_mode)) {
		file_close(c);
		serve_status(c, 403);
		return;
	}
	name = a->path;
	ct = coil_http_content_type(name, strlen(name));
	h.name = "Content-Type";
	h.name_len = 12;
	h.value = ct;
	h.value_len = strlen(ct);
	fd = c->ffd;
	c->ffd = -1;
	c->st &= ~C_INTERNAL;
	respond_file(c, 200, &h, 1, fd, 0, a->stx.stx_size);
}

int coil_http_serve_file(struct coil_http_sreq *req, int root_fd)
{
	struct sconn *c;
	struct aux *a;
	int n, ret;

	if (!sreq_owned(req))
		return -EINVAL;
	c = sconn_of(req);
	if (c->st & C_BEGUN)
		return -EINVAL;
	if (!c->aux) {
		c->aux = malloc(sizeof(*c->aux));
		if (!c->aux) {
			serve_status(c, 500);
			return -ENOMEM;
		}
	}
	a = c->aux;
	n = coil_http_path_decode(req->path, req->path_len, a->path,
				  sizeof(a->path) - 16);
	if (n < 0) {
		serve_status(c, n == -ENAMETOOLONG ? 414 : 400);
		return 0;
	}
	if (n == 0 || a->path[n - 1] == '/')
		memcpy(a->path + n, "index.html", 11);
	memset(&a->how, 0, sizeof(a->how));
	/* O_NONBLOCK: opening a FIFO must not block an io-wq worker */
	a->how.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY;
	a->how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	c->st |= C_INTERNAL | C_BEGUN;
	c->fop.cb = open_cb;
	ret = coil_openat2(c->srv->loop, &c->fop, root_fd, a->path, &a->how);
	if (ret < 0) {
		c->fop.cb = coil__file_op_cb;
		c->st &= ~C_BEGUN;
		serve_status(c, 500);
		return 0;
	}
	return 0;
}
