/*
 * http/server_file.c - file bodies: coil_http_respond_file() and
 * coil_http_serve_file() (openat2 beneath a root, statx, content type).
 * Small bodies are read in FCHUNK pieces into a buffer from a server-wide
 * cache and each piece sent as a stream write (the first one with the
 * head); larger ones on plain TCP go by coil_sendfile() once the head is
 * sent (sendfile(2) from the loop, the page cache's pages handed to the
 * socket without a copy) while the page cache holds them; from the first
 * piece it does not hold (COIL_SENDFILE_CACHED_ONLY), the rest of the body
 * is read through the ring and sent from a buffer, so the loop never
 * waits on the disk.
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

void coil__file_end(struct sconn *c)
{
	file_close(c);
	if (c->fb) {
		fbuf_put(c->srv, c->fb);
		c->fb = NULL;
	}
	c->st &= ~(C_FILE | C_HOLD | C_SENDFILE);
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
	if (c->fleft)
		file_read(c);
	else
		coil__file_end(c);
}

/* ---- sendfile: file -> socket ---- */

static void sendfile_fail(struct sconn *c, int err)
{
	if (err == -ETIMEDOUT)
		c->srv->stats.timeouts++; /* a reader that stalled */
	coil__file_end(c);
	coil__sconn_fail(c, err);
	coil__sconn_release(c);
}

/*
 * The next piece, once every stream write before it (the head) has been
 * sent: coil_sendfile() sends up to 1 MiB, as much as the socket takes at
 * a time, and waits for room under the write time limit, so that a
 * stalled reader is cut there.
 */
void coil__sendfile_next(struct sconn *c)
{
	int ret;

	if ((c->st & C_DEAD) || c->fleft == 0) {
		coil__file_end(c);
		return;
	}
	if (c->slot_busy || c->heap_slots) {
		c->fwait = 1; /* the slot callback calls again */
		return;
	}
	coil_op_timeout(&c->fsf.op, c->srv->o.write_timeout_ns);
	ret = coil_sendfile(c->srv->loop, &c->fsf, coil_stream_fd(c->s), c->ffd,
			    c->foff,
			    c->fleft < SIZE_MAX ? (size_t)c->fleft : SIZE_MAX,
			    COIL_SENDFILE_CACHED_ONLY);
	if (ret < 0)
		sendfile_fail(c, ret);
}

void coil__file_sendfile_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sconn, fsf.op);

	(void)flags;
	if (c->st & C_DEAD) {
		coil__file_end(c);
		coil__sconn_release(c);
		return;
	}
	if (res == -EAGAIN) {
		/* not in the page cache: the rest of this body is read through
		 * the ring and sent from a buffer (as cheap as sendfile's
		 * warming read, and one system call less) */
		c->st &= ~C_SENDFILE;
		c->fb = fbuf_get(c->srv);
		if (!c->fb) {
			sendfile_fail(c, -ENOMEM);
			return;
		}
		file_read(c);
		return;
	}
	if (res <= 0) {
		/* 0: the file shrank under the announced length */
		sendfile_fail(c, res ? res : COIL_ETRUNC);
		return;
	}
	c->foff += (uint64_t)res;
	c->fleft -= (uint64_t)res;
	c->rbytes += (uint64_t)res;
	coil__sconn_progress(c, TL_WRITE);
	coil__sendfile_next(c);
	if (c->st & C_DONE) {
		coil__sconn_retime(c);
		coil__sconn_process(c);
	}
}

/* Send this body by sendfile? Plain TCP only (TLS needs the bytes), and
 * bodies of at least opts.sendfile_min_bytes. The head goes first. */
static int sendfile_start(struct sconn *c)
{
	int fd, fl;

	if (c->s != &c->tcp.s || c->fleft < c->srv->o.sendfile_min_bytes)
		return 0;
	fd = coil_stream_fd(c->s);
	if (!(c->st & C_NONBLOCK)) {
		/* io_uring's own recv and send poll either way */
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return 0;
		c->st |= C_NONBLOCK;
	}
	c->st |= C_SENDFILE;
	/* the head, held back by the kernel (MSG_MORE) until the body's
	 * first pages join it: one segment instead of a small one first */
	if (c->olen > c->oq && !(c->st & (C_HOLD | C_DEAD)))
		coil__out_send(c, SK_MORE, NULL, NULL, 0);
	coil__sendfile_next(c);
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
	if (sendfile_start(c)) {
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
