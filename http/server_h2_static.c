/*
 * http/server_h2_static.c - coil_http_serve_root() over HTTP/2: the
 * static file server's answers on a request stream, the same as
 * server_file.c gives over HTTP/1.1 (index.html, 301 to the directory's
 * '/', 403, 404 or the fallback, 405 with Allow, --autoindex listings,
 * ETag/Last-Modified, 304/412, single ranges 206/416 with If-Range, HEAD).
 * What to answer is decided in one place for both protocols
 * (server_static.c: coil__static_found(), coil__static_answer(); the
 * listing's page from server_dir.c); this file does the stream's I/O
 * around it: the open-file cache's entry (server_filecache.c: the
 * descriptor, statx and a small file's content, shared with HTTP/1.1),
 * else openat2 beneath the root and statx through the ring, then the
 * answer through server_h2_stream.c (coil__h2_respond() for answers from
 * memory, coil__h2_respond_file() for a file, whose body the session
 * pulls as the peer's flow-control window opens, read through the ring a
 * piece ahead). HTTP/2 has no connection-specific fields to drop here:
 * the fields are the HTTP/1.1 answer's, lowered (RFC 9113 §8.2).
 *
 * While the request is the server's (HS_INTERNAL) the handler's calls are
 * refused and its cancel hook does not run; a stream that the peer resets
 * meanwhile is let go when the op in flight completes.
 * Calls server_h2_stream.c, server_static.c, server_dir.c and
 * server_filecache.c; called by server_file.c (coil_http_serve_root()'s
 * HTTP/2 half, which makes the server's cache at its first use).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server_h2.h"
#include "static.h"

/* The request goes back from the server's hands: an answer follows
 * through the request API (whose owned() test it must pass). */
static void give_back(struct h2s *s)
{
	s->st &= ~HS_INTERNAL;
}

/* An answer without a file: "STATUS REASON\n" as text, with @extra fields
 * (Allow, Location, Content-Range ...). */
static void serve_status(struct h2s *s, int status,
			 const struct coil_http_header *extra, size_t nextra)
{
	struct coil_http_header h[1 + STATIC_FIELDS] = {
		{"Content-Type", 12, "text/plain; charset=utf-8", 25}};
	char body[64];
	int n = coil__static_status_body(body, status);

	for (size_t i = 0; i < nextra && i < STATIC_FIELDS; i++)
		h[i + 1] = extra[i];
	coil__h2s_file_close(s);
	give_back(s);
	coil__h2_respond(&s->req, status, h,
			 1 + (nextra < STATIC_FIELDS ? nextra : STATIC_FIELDS),
			 body, (size_t)n);
}

/* The stream went away while the server held the request: let it go
 * (the stream is freed once the op that just completed is not busy). */
static int serve_gone(struct h2s *s)
{
	if (h2s_live(s))
		return 0;
	coil__h2s_file_close(s);
	coil__h2s_release(s);
	return 1;
}

/* Nothing to send (404, or 403 for a directory without index.html): the
 * fallback's, if there is one, as over HTTP/1.1. */
static void serve_none(struct h2s *s, int status)
{
	struct aux *a = s->aux;

	coil__h2s_file_close(s);
	if (!a->o.fallback) {
		serve_status(s, status, NULL, 0);
		return;
	}
	give_back(s); /* the handler's again, as when it came */
	a->o.fallback(&s->req, a->o.fallback_arg);
}

/* 301 to the directory's path with its '/'. */
static void serve_redirect(struct h2s *s)
{
	struct sconn *c = s->hc->c;
	struct coil_http_header h = {"Location", 8, NULL, 0};
	char *loc = coil__static_location(
		&s->req, c->s == &c->tcp.s ? "http://" : "https://",
		&h.value_len);

	if (!loc) {
		serve_status(s, 500, NULL, 0);
		return;
	}
	h.value = loc;
	serve_status(s, 301, &h, 1);
	free(loc);
}

/* A regular file, open in s->ffd: server_static.c's answer, then the
 * file's body (or a HEAD's head alone) from the session's pull source. */
static void serve_regular(struct h2s *s)
{
	struct aux *a = s->aux;
	struct static_answer sa;
	int fd = s->ffd;

	coil__static_answer(&s->req, a->path, a->stx.stx_mtime.tv_sec,
			    a->stx.stx_size, (int64_t)time(NULL), &sa);
	if (sa.p.status == 304) {
		coil__h2s_file_close(s);
		give_back(s);
		coil__h2_respond(&s->req, 304, sa.h, sa.nh, NULL, 0);
		return;
	}
	if (sa.p.status == 412 || sa.p.status == 416) {
		serve_status(s, sa.p.status, sa.h, sa.nh);
		return;
	}
	s->ffd = -1; /* coil__h2_respond_file() takes it */
	give_back(s);
	coil__h2_respond_file(&s->req, sa.p.status, sa.h, sa.nh, fd, sa.p.off,
			      sa.p.len);
}

/* What was found at the path (open in s->ffd, its statx in aux), as
 * server_static.c decides; a regular file goes into the open-file cache
 * (which takes the descriptor) unless it came from there. */
static void serve_found(struct h2s *s)
{
	struct coil_http_server *srv = s->hc->srv;
	struct aux *a = s->aux;

	switch (coil__static_found(&s->req, a->stx.stx_mode, (int)a->slash)) {
	case 301:
		serve_redirect(s);
		break;
	case 405:
		serve_status(s, 405, &coil__static_allow, 1);
		break;
	case 403:
		serve_status(s, 403, NULL, 0);
		break;
	default:
		if (srv->fc && !s->fent)
			s->fent = coil__fcache_put(srv->fc, a->root_fd, a->path,
						   strlen(a->path), s->ffd,
						   &a->stx);
		serve_regular(s);
	}
}

static void statx_cb(struct coil_op *op, int res, unsigned flags)
{
	struct h2s *s = coil_container_of(op, struct h2s, fop);

	(void)flags;
	if (serve_gone(s))
		return;
	if (res < 0) {
		serve_status(s, 500, NULL, 0);
		return;
	}
	serve_found(s);
}

/* The directory's listing (index.html is not in it). */
static void dir_open_cb(struct coil_op *op, int res, unsigned flags)
{
	struct h2s *s = coil_container_of(op, struct h2s, fop);
	struct aux *a = s->aux;
	char *page;
	size_t len;
	int ret;

	(void)flags;
	if (res >= 0)
		s->ffd = res;
	if (serve_gone(s))
		return;
	if (res < 0) {
		int st = coil__http_open_status(res);
		if (st == 404)
			serve_none(s, 404);
		else
			serve_status(s, st, NULL, 0);
		return;
	}
	if (!coil__static_method_ok(&s->req)) {
		serve_status(s, 405, &coil__static_allow, 1);
		return;
	}
	if (!(a->o.flags & COIL_HTTP_SERVE_AUTOINDEX)) {
		serve_none(s, 403); /* nginx: directory index is forbidden */
		return;
	}
	if (a->plen == 0)
		a->path[0] = '\0';
	s->ffd = -1; /* coil__dir_page() closes it */
	ret = coil__dir_page(res, a->path, a->plen, &page, &len);
	if (ret < 0) {
		serve_status(s, ret == -ENOMEM ? 500 : 403, NULL, 0);
		return;
	}
	give_back(s);
	coil__h2_respond(&s->req, 200, &coil__dir_type, 1, page, len);
	free(page);
}

/* index.html is not there: list the directory, or find out whether it is
 * there itself (403) or not (404). */
static void serve_dir(struct h2s *s)
{
	struct aux *a = s->aux;

	if (a->o.fallback && !(a->o.flags & COIL_HTTP_SERVE_AUTOINDEX)) {
		serve_none(s, 404); /* either way the fallback's */
		return;
	}
	coil__static_dir_path(a->path, a->plen);
	a->how.flags = O_RDONLY | O_DIRECTORY | O_NOCTTY;
	s->fop.cb = dir_open_cb;
	if (coil_openat2(s->hc->srv->loop, &s->fop, a->root_fd, a->path,
			 &a->how) < 0)
		serve_status(s, 500, NULL, 0);
}

static void open_cb(struct coil_op *op, int res, unsigned flags)
{
	struct h2s *s = coil_container_of(op, struct h2s, fop);
	int st;

	(void)flags;
	if (res >= 0)
		s->ffd = res;
	if (serve_gone(s))
		return;
	if (res < 0) {
		st = coil__http_open_status(res);
		if (st == 404 && s->aux->slash)
			serve_dir(s);
		else if (st == 404)
			serve_none(s, 404);
		else
			serve_status(s, st, NULL, 0);
		return;
	}
	s->fop.cb = statx_cb;
	if (coil_statx(s->hc->srv->loop, &s->fop, s->ffd, "", AT_EMPTY_PATH,
		       STATX_BASIC_STATS, &s->aux->stx) < 0)
		serve_status(s, 500, NULL, 0);
}

int coil__h2_serve_root(struct coil_http_sreq *req, int root_fd,
			const struct coil_http_serve_opts *opts)
{
	struct h2s *s = h2s_of(req);
	struct coil_http_server *srv = s->hc->srv;
	struct aux *a;
	int n;

	if (!(s->st & HS_OWNED) || (s->st & (HS_INTERNAL | HS_BEGUN)))
		return -EINVAL;
	if (!s->aux && !(s->aux = malloc(sizeof(*s->aux)))) {
		coil__h2_respond(req, 500, NULL, 0, NULL, 0);
		return -ENOMEM;
	}
	a = s->aux;
	memset(&a->o, 0, sizeof(a->o));
	if (opts)
		a->o = *opts;
	a->root_fd = root_fd;
	s->st |= HS_INTERNAL;
	n = coil__static_target(req, a->path, sizeof(a->path), &a->plen,
				&a->slash);
	if (n) {
		serve_status(s, n, NULL, 0);
		return 0;
	}
	if (srv->fc && (s->fent = coil__fcache_get(srv->fc, root_fd, a->path,
						   strlen(a->path)))) {
		/* opened before and unchanged since: its descriptor and statx
		 * as if just opened, with no system call */
		s->ffd = s->fent->fd;
		a->stx = s->fent->stx;
		serve_found(s);
		return 0;
	}
	memset(&a->how, 0, sizeof(a->how));
	/* O_NONBLOCK: opening a FIFO must not block an io-wq worker */
	a->how.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY;
	a->how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	s->fop.cb = open_cb;
	if (coil_openat2(s->hc->srv->loop, &s->fop, root_fd, a->path, &a->how) <
	    0)
		serve_status(s, 500, NULL, 0);
	return 0;
}
