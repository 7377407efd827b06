/*
 * http/server_file.c - file bodies: coil_http_respond_file() and
 * coil_http_serve_root() (openat2 beneath a root, statx, then the answer:
 * 405, 301, a listing from server_dir.c, or the file with the validators,
 * 304/412 and ranges server_static.c decides).
 * Small bodies are read in FCHUNK pieces into a buffer from a server-wide
 * cache and each piece sent as a stream write (the first one with the
 * head); larger ones on plain TCP go by coil_sendfile() once the head is
 * sent (sendfile(2) from the loop, the page cache's pages handed to the
 * socket without a copy) while the page cache holds them; from the first
 * piece it does not hold (COIL_SENDFILE_CACHED_ONLY), the rest of the body
 * is read through the ring and sent from a buffer, so the loop never
 * waits on the disk.
 * With the open-file cache (on unless opts.file_cache_files is UINT_MAX;
 * http/filecache.h), coil_http_serve_root() takes a path's descriptor and
 * statx from the cache (no openat2, statx or close: inotify tells when
 * they are no longer the path's), and a body of up to 64 KiB from the
 * cache's copy of the file, sent with its head in one write (no read, no
 * sendfile: one copy into the socket, as sendfile's from the page cache;
 * the copy into the cache is made once per entry, from the one read
 * of the first request). Larger bodies, and small ones the memory cap
 * leaves out, go by sendfile or read + send as above.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "filecache.h"
#include "server_internal.h"
#include "static.h"

/* ---- file bodies -----------------------------------------------------------
 */

/* bytes per send from a pinned file's pages */
#define MAP_PIECE (1024u * 1024)

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
	int fd = c->x->ffd;
	c->x->ffd = -1;
	if (c->x->fent) {
		/* the cache's descriptor: it stays open there */
		coil__fcache_unref(c->srv->fc, c->x->fent);
		c->x->fent = NULL;
		return;
	}
	if (fd < 0)
		return;
	if (coil_op_busy(&c->x->cop) ||
	    coil_close(c->srv->loop, &c->x->cop, fd) < 0)
		close(fd);
}

void coil__file_close_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sexch, cop)->c;
	coil__sconn_kick(c); /* the exchange may rest now, or be released */
}

/* The file body is over (sent, or cut by a failure). */
static void file_end(struct sconn *c)
{
	file_close(c);
	if (c->x->fb) {
		fbuf_put(c->srv, c->x->fb);
		c->x->fb = NULL;
	}
	c->st &= ~(C_FILE | C_HOLD | C_SENDFILE);
	c->x->fwait = 0;
	c->st |= C_DONE;
}

static void file_read(struct sconn *c)
{
	size_t n = c->x->fleft < FCHUNK ? (size_t)c->x->fleft : FCHUNK;
	int ret;

	c->x->fop.cb = coil__file_op_cb;
	ret = coil_read(c->srv->loop, &c->x->fop, c->x->ffd, c->x->fb->data, n,
			(int64_t)c->x->foff);
	if (ret < 0) {
		file_end(c);
		coil__sconn_fail(c, ret);
	}
}

/* The next piece of a pinned file's body, from its pages (the entry is
 * held, so its mapping stays): pieces of MAP_PIECE, so that the write
 * limit slides with each one a slow reader takes, as with reads. */
static void map_send(struct sconn *c)
{
	size_t n = c->x->fleft < MAP_PIECE ? (size_t)c->x->fleft : MAP_PIECE;
	struct iovec v = {(void *)(c->x->fent->map + c->x->foff), n};

	c->x->foff += n;
	c->x->fleft -= n;
	c->x->rbytes += n;
	coil__out_send(c, SK_FILE, NULL, &v, 1);
	if (c->st & C_DEAD) {
		file_end(c);
		coil__sconn_kick(c);
	}
}

/* A file piece was sent (or failed): send or read the next, or finish. */
static void file_step(struct sconn *c)
{
	if (c->st & C_DEAD) {
		file_end(c);
		return;
	}
	if (c->x->fleft && !c->x->fb && c->x->fent && c->x->fent->map)
		map_send(c);
	else if (c->x->fleft)
		file_read(c);
	else
		file_end(c);
}

/* ---- sendfile: file -> socket ---- */

static void sendfile_next(struct sconn *c);

static void sendfile_fail(struct sconn *c, int err)
{
	if (err == -ETIMEDOUT)
		c->srv->stats.timeouts++; /* a reader that stalled */
	file_end(c);
	coil__sconn_fail(c, err);
	coil__sconn_kick(c);
}

/*
 * The next piece, once every stream write before it (the head) has been
 * sent: coil_sendfile() sends up to 1 MiB, as much as the socket takes at
 * a time, and waits for room under the write time limit, so that a
 * stalled reader is cut there.
 */
static void sendfile_next(struct sconn *c)
{
	int ret;

	if ((c->st & C_DEAD) || c->x->fleft == 0) {
		file_end(c);
		return;
	}
	if (sconn_out_busy(c)) {
		c->x->fwait = 1; /* coil__file_resume() calls again */
		return;
	}
	coil_op_timeout(&c->x->fsf.op, c->srv->o.write_timeout_ns);
	ret = coil_sendfile(
		c->srv->loop, &c->x->fsf, coil_stream_fd(c->s), c->x->ffd,
		c->x->foff,
		c->x->fleft < SIZE_MAX ? (size_t)c->x->fleft : SIZE_MAX,
		c->x->fent && c->x->fent->map ? COIL_SENDFILE_RESIDENT
					      : COIL_SENDFILE_CACHED_ONLY);
	if (ret < 0)
		sendfile_fail(c, ret);
}

void coil__file_sendfile_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sexch, fsf.op)->c;

	(void)flags;
	if (c->st & C_DEAD) {
		file_end(c);
		coil__sconn_kick(c);
		return;
	}
	if (res == -EAGAIN) {
		/* not in the page cache: the rest of this body is read through
		 * the ring and sent from a buffer (as cheap as sendfile's
		 * warming read, and one system call less) */
		c->st &= ~C_SENDFILE;
		c->x->fb = fbuf_get(c->srv);
		if (!c->x->fb) {
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
	c->x->foff += (uint64_t)res;
	c->x->fleft -= (uint64_t)res;
	c->x->rbytes += (uint64_t)res;
	coil__sconn_progress(c, TL_WRITE);
	sendfile_next(c);
	if (c->st & C_DONE)
		coil__sconn_kick(c);
}

/* Send this body by sendfile? Plain TCP only (TLS needs the bytes), and
 * bodies of at least opts.sendfile_min_bytes. The head goes first. */
static int sendfile_start(struct sconn *c)
{
	int fd, fl;

	if (c->s != &c->tcp.s || c->x->fleft < c->srv->o.sendfile_min_bytes)
		return 0;
	/* a file the cache would keep: read it whole, kept from that read */
	if (c->x->fent && coil__fcache_wants(c->srv->fc, c->x->fent))
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
	if (c->x->olen > c->x->oq && !(c->st & (C_HOLD | C_DEAD)))
		coil__out_send(c, SK_MORE, NULL, NULL, 0);
	sendfile_next(c);
	return 1;
}

/* The read path's last piece: a body that was the whole file has just
 * been read (or sent by sendfile while resident), so its pages are in the
 * page cache: the cache may pin it now, where cachestat(2) could not say
 * (a file the server does not own). */
static void file_pin_read(struct sconn *c)
{
	struct fc_entry *e = c->x->fent;

	if (e && e->nocheck && !e->map && c->s == &c->tcp.s &&
	    c->x->fleft == 0 && c->x->rbytes == e->stx.stx_size &&
	    c->x->foff == e->stx.stx_size)
		coil__fcache_pin(c->srv->fc, e, 1);
}

void coil__file_op_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sexch, fop)->c;

	if (c->st & C_DEAD) {
		file_end(c);
		coil__sconn_kick(c);
		return;
	}
	if (res == -EAGAIN) {
		/* an O_NONBLOCK file on a file system without async reads */
		int fl = fcntl(c->x->ffd, F_GETFL);
		if (fl >= 0 && (fl & O_NONBLOCK) &&
		    fcntl(c->x->ffd, F_SETFL, fl & ~O_NONBLOCK) == 0) {
			file_read(c);
			return;
		}
	}
	if (res <= 0) {
		/* the head announced more: the connection cannot go on */
		file_end(c);
		coil__sconn_fail(c, res ? res : COIL_ETRUNC);
		coil__sconn_kick(c);
		return;
	}
	c->st &= ~C_HOLD;
	if (c->x->fent && c->x->foff == 0)
		coil__fcache_fill(c->srv->fc, c->x->fent, c->x->fb->data,
				  (size_t)res); /* the whole file, or nothing */
	c->x->foff += (uint64_t)res;
	c->x->fleft -= (uint64_t)res;
	c->x->rbytes += (uint64_t)res;
	file_pin_read(c);
	{
		struct iovec v = {c->x->fb->data, (size_t)res};
		coil__out_send(c, SK_FILE, NULL, &v, 1);
	}
	if (c->st & C_DEAD) {
		file_end(c);
		coil__sconn_kick(c);
	}
}

/*
 * From the pump, after stream writes completed: a file piece was sent
 * (C_FSENT: read the next, or end), or the writes a sendfile waits for
 * (the head) are all sent (fwait: send the body). On a dead connection
 * both end the body.
 */
void coil__file_resume(struct sconn *c)
{
	struct sexch *x = c->x;

	if (c->st & C_FSENT) {
		c->st &= ~C_FSENT;
		file_step(c);
	}
	if (x->fwait && !sconn_out_busy(c)) {
		x->fwait = 0;
		if (c->st & C_DEAD)
			file_end(c);
		else
			sendfile_next(c);
	}
}

/*
 * The body from the open-file cache's copy of the file, if it holds one:
 * one stream write with the head (no read, no sendfile); the entry is
 * held until the write completed (file_end()).
 */
static int file_from_cache(struct sconn *c)
{
	struct fc_entry *e = c->x->fent;
	const char *src;
	struct iovec v;

	if (!e)
		return 0;
	/* a pinned file's pages, on plain TCP only: the kernel's copy of a
	 * page the file lost since (truncated) fails the send (EFAULT),
	 * where a copy in user space (TLS) would raise SIGBUS */
	if (e->map && c->s == &c->tcp.s &&
	    !(c->srv->o.flags & COIL_HTTP_SERVER_FILE_SENDFILE))
		src = e->map;
	else
		src = e->data;
	if (!src || c->x->foff > e->stx.stx_size ||
	    c->x->fleft > e->stx.stx_size - c->x->foff)
		return 0;
	if (src == e->map) {
		map_send(c); /* the first piece, with the head */
		return 1;
	}
	v.iov_base = (void *)(src + c->x->foff);
	v.iov_len = (size_t)c->x->fleft;
	c->x->foff += c->x->fleft;
	c->x->rbytes += c->x->fleft;
	c->x->fleft = 0;
	coil__out_send(c, SK_FILE, NULL, &v, 1);
	if (c->st & C_DEAD) {
		file_end(c);
		coil__sconn_kick(c);
	}
	return 1;
}

/* A cached file too large for a copy, sent on plain TCP: the cache pins
 * it if its pages are resident (mapped and locked), and this body and the
 * next go from its pages with the head in one send, as a small file's. */
static void file_pin(struct sconn *c)
{
	struct fc_entry *e = c->x->fent;

	if (e && !e->map && c->s == &c->tcp.s &&
	    coil__fcache_wants_pin(c->srv->fc, e))
		coil__fcache_pin(c->srv->fc, e, 0);
}

static int respond_file(struct sconn *c, int status,
			const struct coil_http_header *headers, size_t nheaders,
			int fd, uint64_t off, uint64_t len)
{
	struct coil_http_response_spec sp = {0};
	int ret;

	c->x->ffd = fd;
	if (status < 200 || status > 599 || nobody_status(status) ||
	    (nheaders && !headers)) {
		file_close(c);
		if (!(c->st & C_DEAD))
			coil__respond_500(c);
		coil__sreq_complete(c);
		return -EINVAL;
	}
	c->st |= C_BEGUN;
	c->x->rstatus = status;
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
	if (c->x->req.is_head || len == 0) {
		file_close(c);
		c->st |= C_DONE;
		coil__sreq_complete(c);
		return 0;
	}
	c->x->foff = off;
	c->x->fleft = len;
	c->st |= C_FILE;
	file_pin(c);
	if (file_from_cache(c) || sendfile_start(c)) {
		coil__sreq_complete(c);
		return 0;
	}
	c->x->fb = fbuf_get(c->srv);
	if (!c->x->fb) {
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
	if (sreq_h2(req))
		return coil__h2_respond_file(req, status, headers, nheaders, fd,
					     off, len);
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

/* serve_root's answer without a file: "STATUS REASON\n" as text, with
 * @extra fields (Allow, Location, Content-Range ...). */
static void serve_status(struct sconn *c, int status,
			 const struct coil_http_header *extra, size_t nextra)
{
	struct coil_http_header h[4] = {
		{"Content-Type", 12, "text/plain; charset=utf-8", 25}};
	char body[64];
	int n = coil__static_status_body(body, status);
	for (size_t i = 0; i < nextra && i < 3; i++)
		h[i + 1] = extra[i];
	c->st &= ~C_INTERNAL;
	coil__respond_mem(c, status, h, 1 + (nextra < 3 ? nextra : 3), body,
			  (size_t)n);
}

/* The connection went away while serve_root held the request. */
static int serve_dead(struct sconn *c)
{
	if (!(c->st & C_DEAD))
		return 0;
	file_close(c);
	c->x->fop.cb = coil__file_op_cb;
	c->st &= ~C_INTERNAL;
	coil__sreq_complete(c);
	coil__sconn_kick(c);
	return 1;
}

/* Nothing to send (404, or 403 for a directory without index.html): the
 * fallback's, if there is one. */
static void serve_none(struct sconn *c, int status)
{
	struct aux *a = c->x->aux;

	file_close(c);
	c->x->fop.cb = coil__file_op_cb;
	if (!a->o.fallback) {
		serve_status(c, status, NULL, 0);
		return;
	}
	/* the request is the handler's again, as when it came */
	c->st &= ~(C_INTERNAL | C_BEGUN);
	a->o.fallback(&c->x->req, a->o.fallback_arg);
}

/* GET and HEAD only, once something was found (RFC 9110 §15.5.6). */
static int method_refused(struct sconn *c)
{
	if (coil__static_method_ok(&c->x->req))
		return 0;
	file_close(c);
	serve_status(c, 405, &coil__static_allow, 1);
	return 1;
}

/* 301 to the directory's path with its '/' (server_static.c builds
 * Location as nginx does). */
static void serve_redirect(struct sconn *c)
{
	struct coil_http_header h = {"Location", 8, NULL, 0};
	char *loc = coil__static_location(
		&c->x->req, c->s == &c->tcp.s ? "http://" : "https://",
		&h.value_len);

	file_close(c);
	if (!loc) {
		serve_status(c, 500, NULL, 0);
		return;
	}
	h.value = loc;
	serve_status(c, 301, &h, 1);
	free(loc);
}

static void dir_open_cb(struct coil_op *op, int res, unsigned flags);
static void statx_cb(struct coil_op *op, int res, unsigned flags);
static void serve_found(struct sconn *c);

/* index.html is not in the directory: list it, or find out whether the
 * directory itself is there (403) or not (404). */
static void serve_dir(struct sconn *c)
{
	struct aux *a = c->x->aux;
	int ret;

	if (a->o.fallback && !(a->o.flags & COIL_HTTP_SERVE_AUTOINDEX)) {
		serve_none(c, 404); /* either way the fallback's */
		return;
	}
	coil__static_dir_path(a->path, a->plen);
	a->how.flags = O_RDONLY | O_DIRECTORY | O_NOCTTY;
	c->x->fop.cb = dir_open_cb;
	ret = coil_openat2(c->srv->loop, &c->x->fop, a->root_fd, a->path,
			   &a->how);
	if (ret < 0) {
		c->x->fop.cb = coil__file_op_cb;
		serve_status(c, 500, NULL, 0);
	}
}

static void dir_open_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sexch, fop)->c;
	struct aux *a = c->x->aux;
	char *page;
	size_t len;
	int ret;

	if (res >= 0)
		c->x->ffd = res;
	if (serve_dead(c))
		return;
	c->x->fop.cb = coil__file_op_cb;
	if (res < 0) {
		int st = coil__http_open_status(res);
		if (st == 404)
			serve_none(c, 404);
		else
			serve_status(c, st, NULL, 0);
		return;
	}
	if (method_refused(c))
		return;
	if (!(a->o.flags & COIL_HTTP_SERVE_AUTOINDEX)) {
		serve_none(c, 403); /* nginx: directory index is forbidden */
		return;
	}
	if (a->plen == 0)
		a->path[0] = '\0';
	c->x->ffd = -1;
	ret = coil__dir_page(res, a->path, a->plen, &page, &len);
	if (ret < 0) {
		serve_status(c, ret == -ENOMEM ? 500 : 403, NULL, 0);
		return;
	}
	c->st &= ~C_INTERNAL;
	coil__respond_mem(c, 200, &coil__dir_type, 1, page, len);
	free(page);
}

static void open_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sexch, fop)->c;
	int ret;

	if (res >= 0)
		c->x->ffd = res;
	if (serve_dead(c))
		return;
	if (res < 0) {
		int st = coil__http_open_status(res);
		c->x->fop.cb = coil__file_op_cb;
		if (st == 404 && c->x->aux->slash)
			serve_dir(c);
		else if (st == 404)
			serve_none(c, 404);
		else
			serve_status(c, st, NULL, 0);
		return;
	}
	c->x->fop.cb = statx_cb;
	ret = coil_statx(c->srv->loop, &c->x->fop, c->x->ffd, "", AT_EMPTY_PATH,
			 STATX_BASIC_STATS, &c->x->aux->stx);
	if (ret < 0) {
		c->x->fop.cb = coil__file_op_cb;
		file_close(c);
		serve_status(c, 500, NULL, 0);
	}
}

/* A regular file, found: its answer as server_static.c decides it
 * (validators, preconditions, range), then sent. */
static void serve_regular(struct sconn *c)
{
	struct aux *a = c->x->aux;
	struct static_answer sa;
	int fd;

	coil__static_answer(&c->x->req, a->path, a->stx.stx_mtime.tv_sec,
			    a->stx.stx_size, (int64_t)time(NULL), &sa);
	if (sa.p.status == 304) {
		file_close(c);
		c->st &= ~C_INTERNAL;
		coil__respond_mem(c, 304, sa.h, sa.nh, NULL, 0);
		return;
	}
	if (sa.p.status == 412 || sa.p.status == 416) {
		file_close(c);
		serve_status(c, sa.p.status, sa.h, sa.nh);
		return;
	}
	fd = c->x->ffd;
	c->x->ffd = -1;
	c->st &= ~C_INTERNAL;
	respond_file(c, sa.p.status, sa.h, sa.nh, fd, sa.p.off, sa.p.len);
}

static void statx_cb(struct coil_op *op, int res, unsigned flags)
{
	struct sconn *c = coil_container_of(op, struct sexch, fop)->c;
	struct aux *a = c->x->aux;

	if (serve_dead(c))
		return;
	c->x->fop.cb = coil__file_op_cb;
	if (res < 0) {
		file_close(c);
		serve_status(c, 500, NULL, 0);
		return;
	}
	switch (coil__static_found(&c->x->req, a->stx.stx_mode, a->slash)) {
	case 301:
		serve_redirect(c);
		return;
	case 403:
		file_close(c);
		serve_status(c, 403, NULL, 0);
		return;
	case 405:
		method_refused(c);
		return;
	}
	if (c->srv->fc)
		/* the cache takes the descriptor (else it stays ours) */
		c->x->fent =
			coil__fcache_put(c->srv->fc, a->root_fd, a->path,
					 strlen(a->path), c->x->ffd, &a->stx);
	serve_found(c);
}

/* The server's open-file cache, made at its first use; NULL when off or
 * when it cannot be made (no inotify instance left: EMFILE, from
 * fs.inotify.max_user_instances): the server then opens every file. */
static struct fcache *file_cache(struct coil_http_server *srv)
{
	struct fcache_limits lim;
	int err;

	if (srv->fc || srv->o.file_cache_files == UINT_MAX)
		return srv->fc;
	lim.files = srv->o.file_cache_files;
	lim.mem_bytes = srv->o.file_cache_mem_bytes == SIZE_MAX
				? 0
				: srv->o.file_cache_mem_bytes;
	/* contents are taken from the read path's one read of a whole
	 * file: up to one file buffer */
	lim.file_bytes = FCHUNK;
	if ((srv->o.flags & COIL_HTTP_SERVER_FILE_SENDFILE) &&
	    srv->o.sendfile_min_bytes <= FCHUNK)
		/* copies only of what sendfile would not take */
		lim.file_bytes = srv->o.sendfile_min_bytes - 1;
	srv->fc = coil__fcache_new(srv->loop, &lim, &err);
	if (!srv->fc)
		srv->o.file_cache_files = UINT_MAX; /* not again */
	return srv->fc;
}

/*
 * The path's entry in the open-file cache: its descriptor and statx as if
 * just opened, with no system call. Safe without RESOLVE_BENEATH: only
 * the inode that the entry's own beneath-the-root open found is ever
 * served from it, and the entry goes as soon as the path may lead
 * elsewhere.
 */
static int serve_cached(struct sconn *c)
{
	struct aux *a = c->x->aux;
	struct fcache *fc = file_cache(c->srv);
	struct fc_entry *e;

	if (!fc)
		return 0;
	e = coil__fcache_get(fc, a->root_fd, a->path, strlen(a->path));
	if (!e)
		return 0;
	c->x->fent = e;
	c->st |= C_INTERNAL | C_BEGUN;
	c->x->ffd = e->fd;
	a->stx = e->stx;
	serve_found(c);
	return 1;
}

static void serve_open(struct sconn *c);

/* A regular file, open in x->ffd (maybe the cache's), its statx in aux:
 * GET and HEAD only, then the answer. */
static void serve_found(struct sconn *c)
{
	if (!method_refused(c))
		serve_regular(c);
}

int coil_http_serve_root(struct coil_http_sreq *req, int root_fd,
			 const struct coil_http_serve_opts *opts)
{
	struct sconn *c;
	struct aux *a;
	int n;

	if (sreq_h2(req)) {
		/* the same answers over HTTP/2, the same file cache */
		file_cache(req->server);
		return coil__h2_serve_root(req, root_fd, opts);
	}
	if (!sreq_owned(req))
		return -EINVAL;
	c = sconn_of(req);
	if (c->st & C_BEGUN)
		return -EINVAL;
	if (!c->x->aux) {
		c->x->aux = malloc(sizeof(*c->x->aux));
		if (!c->x->aux) {
			serve_status(c, 500, NULL, 0);
			return -ENOMEM;
		}
	}
	a = c->x->aux;
	memset(&a->o, 0, sizeof(a->o));
	if (opts)
		a->o = *opts;
	a->root_fd = root_fd;
	n = coil__static_target(req, a->path, sizeof(a->path), &a->plen,
				&a->slash);
	if (n) {
		serve_status(c, n, NULL, 0);
		return 0;
	}
	if (!serve_cached(c))
		serve_open(c);
	return 0;
}

/* Open aux->path beneath the root through the ring (open_cb goes on). */
static void serve_open(struct sconn *c)
{
	struct aux *a = c->x->aux;
	int ret;

	memset(&a->how, 0, sizeof(a->how));
	/* O_NONBLOCK: opening a FIFO must not block an io-wq worker */
	a->how.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY;
	a->how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	c->st |= C_INTERNAL | C_BEGUN;
	c->x->fop.cb = open_cb;
	ret = coil_openat2(c->srv->loop, &c->x->fop, a->root_fd, a->path,
			   &a->how);
	if (ret < 0) {
		c->x->fop.cb = coil__file_op_cb;
		c->st &= ~C_BEGUN;
		serve_status(c, 500, NULL, 0);
	}
}

int coil_http_serve_file(struct coil_http_sreq *req, int root_fd)
{
	return coil_http_serve_root(req, root_fd, NULL);
}
