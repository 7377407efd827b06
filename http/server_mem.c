/*
 * http/server_mem.c - the server's memory per connection: connection
 * structs, exchanges (struct sexch: a request and its response, with the
 * head buffer, header array and output buffer in one allocation) and
 * input buffers, each from a free list with a cap, and the pages given
 * back to the system after a burst.
 *
 * An idle keep-alive connection holds its struct sconn only (the TCP
 * stream reads into the loop's provided buffers); an exchange is taken
 * when a request's first bytes arrive and an input buffer only when
 * bytes must outlive the read callback (a head or body partly received,
 * pipelined requests); an answer, once queued whole, leaves from a block
 * of its own, so that the exchange goes back before it is sent. The
 * lists make serving allocation-free once warm;
 * their caps bound what a quiet server keeps, and after a burst (the open
 * connections fell to a quarter of a peak of at least TRIM_PEAK) they are
 * cut to FREE_KEEP, malloc_trim(3) returns the free pages (glibc frees
 * whole pages inside the heap too, not only its top) and coil_loop_trim()
 * those of the provided buffers that a burst's reads touched. The numbers:
 * docs/BENCHMARKS.md, section "serve", the memory row. This file calls no
 * other file of the server.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

/* ---- connection structs ---- */

struct sconn *coil__conn_new(struct coil_http_server *srv)
{
	struct sconn *c = srv->free;
	if (c) {
		srv->free = c->all_next;
		srv->nfree--;
		return c;
	}
	c = calloc(1, srv->conn_bytes);
	if (!c)
		return NULL;
	c->srv = srv;
	return c;
}

void coil__conn_put(struct sconn *c)
{
	struct coil_http_server *srv = c->srv;
	if (srv->nfree < FREE_CONNS_MAX && !(srv->st & S_SHUTDOWN)) {
		c->all_next = srv->free;
		srv->free = c;
		srv->nfree++;
	} else {
		free(c);
	}
}

/* ---- exchanges ---- */

static void x_count(struct coil_http_server *srv)
{
	if (++srv->stats.exchanges > srv->stats.exchanges_max)
		srv->stats.exchanges_max = srv->stats.exchanges;
}

struct sexch *coil__x_new(struct coil_http_server *srv)
{
	struct sexch *x = srv->xfree;

	if (x) {
		srv->xfree = x->next_free;
		srv->nxfree--;
		x_count(srv);
		return x;
	}
	x = calloc(1, srv->x_bytes);
	if (!x)
		return NULL;
	/* what a small request and its answer touch comes first: the
	 * struct, the first header fields, the head, the output's start */
	x->hdrs = (struct coil_http_header *)(void *)(x + 1);
	x->hbuf = (char *)(x->hdrs + srv->hdrs_inline);
	x->obuf = x->hbuf + srv->hbuf_inline;
	x_count(srv);
	return x;
}

static void x_free(struct sexch *x)
{
	free(x->bbuf);
	free(x->aux);
	free(x->xhdrs);
	free(x->xhbuf);
	free(x);
}

void coil__x_put(struct coil_http_server *srv, struct sexch *x)
{
	srv->stats.exchanges--;
	free(x->xhdrs);
	x->xhdrs = NULL;
	free(x->xhbuf);
	x->xhbuf = NULL;
	if (srv->nxfree >= FREE_X_MAX || (srv->st & S_SHUTDOWN)) {
		x_free(x);
		return;
	}
	/* keep a small body buffer; drop a big one */
	if (x->bcap > 65536) {
		free(x->bbuf);
		x->bbuf = NULL;
		x->bcap = 0;
	}
	x->c = NULL;
	x->next_free = srv->xfree;
	srv->xfree = x;
	srv->nxfree++;
}

/* ---- answer blocks ----
 *
 * An answer that leaves the exchange (coil__out_detach()) is copied into
 * a block carved from the current chunk: the blocks of a turn's answers
 * lie side by side (a hello answer of 130 bytes with its write request
 * and chunk pointer: 224 bytes, 8-byte aligned, eighteen a chunk). Chunks
 * from aligned_alloc(3), aligned to their size to drop the pointer, were
 * measured and cost more than the 8 bytes: the RSS after a 5,000-connection
 * load stayed at 123-128% of the start, against 111-112% with malloc(3)
 * (docs/BENCHMARKS.md, the memory row). A chunk goes back once every
 * answer carved from it was sent. So a burst of N first requests
 * holds N answers' bytes while they are sent, not N exchanges; and when
 * they are the same bytes (a hello answer, its Date of the same second),
 * each after the first in a chunk holds only its block's 88 bytes and
 * points its write at the first one's copy (a memcmp(3) of the bytes
 * against the last copy, which is all an unequal answer pays). */

static struct achunk *achunk_new(struct coil_http_server *srv)
{
	struct achunk *ch = srv->afree;
	if (ch) {
		srv->afree = ch->next;
		srv->nafree--;
	} else {
		ch = malloc(ACHUNK_BYTES);
		if (!ch)
			return NULL;
	}
	ch->next = NULL;
	ch->refs = 0;
	ch->used = 0;
	return ch;
}

static void achunk_put(struct coil_http_server *srv, struct achunk *ch)
{
	if (srv->nafree >= FREE_ACHUNK_MAX || (srv->st & S_SHUTDOWN)) {
		free(ch);
		return;
	}
	ch->next = srv->afree;
	srv->afree = ch;
	srv->nafree++;
}

struct answer *coil__ans_new(struct coil_http_server *srv, const void *bytes,
			     size_t n, const char **at)
{
	const size_t cap = ACHUNK_BYTES - sizeof(struct achunk);
	struct achunk *ch = srv->acur;
	struct answer *a;
	size_t need;
	int share;

	if (n > ANS_MAX)
		return NULL;
	if (ch && ch->refs == 0) {
		ch->used = 0; /* every answer of it was sent: start again */
		srv->alast = NULL;
	}
	share = srv->alast && srv->alast_len == n &&
		memcmp(srv->alast, bytes, n) == 0;
	need = (sizeof(struct answer) + (share ? 0 : n) + 7) & ~(size_t)7;
	if (!ch || cap - ch->used < need) {
		/* the full chunk goes back when its last answer is sent; the
		 * bytes an answer shares must lie in its own chunk */
		struct achunk *nc = achunk_new(srv);
		if (!nc)
			return NULL;
		srv->acur = ch = nc;
		srv->alast = NULL;
		share = 0;
		need = (sizeof(struct answer) + n + 7) & ~(size_t)7;
	}
	a = (struct answer *)(void *)(ch->data + ch->used);
	ch->used += (unsigned)need;
	ch->refs++;
	memset(&a->w, 0, sizeof(a->w));
	a->ch = ch;
	if (share) {
		srv->stats.answers_shared++;
	} else {
		memcpy(a->data, bytes, n);
		srv->alast = a->data;
		srv->alast_len = n;
	}
	*at = srv->alast;
	srv->stats.answers++;
	return a;
}

void coil__ans_put(struct coil_http_server *srv, struct answer *a)
{
	struct achunk *ch = a->ch;

	srv->stats.answers--;
	if (--ch->refs == 0 && ch != srv->acur)
		achunk_put(srv, ch);
}

/* ---- input buffers (IBUF_INIT bytes; bigger ones are not kept) ---- */

struct ibuf *coil__ibuf_new(struct coil_http_server *srv)
{
	struct ibuf *b = srv->ifree;
	if (b) {
		srv->ifree = *(struct ibuf **)(void *)b;
		srv->nifree--;
	} else {
		b = malloc(IBUF_INIT);
		if (!b)
			return NULL;
		b->cap = IBUF_INIT;
	}
	srv->stats.inbufs++;
	b->v.base = b->data;
	b->v.len = b->v.pos = 0;
	return b;
}

void coil__ibuf_put(struct coil_http_server *srv, struct ibuf *b)
{
	srv->stats.inbufs--;
	if (b->cap != IBUF_INIT || srv->nifree >= FREE_IBUF_MAX ||
	    (srv->st & S_SHUTDOWN)) {
		free(b);
		return;
	}
	*(struct ibuf **)(void *)b = srv->ifree;
	srv->ifree = b;
	srv->nifree++;
}

/* ---- after a burst, and at the end ---- */

/* Cut the lists to @keep entries each (file buffers too). */
static void lists_cut(struct coil_http_server *srv, unsigned keep)
{
	while (srv->nfree > keep) {
		struct sconn *c = srv->free;
		srv->free = c->all_next;
		srv->nfree--;
		free(c);
	}
	while (srv->nxfree > keep) {
		struct sexch *x = srv->xfree;
		srv->xfree = x->next_free;
		srv->nxfree--;
		x_free(x);
	}
	while (srv->nifree > keep) {
		struct ibuf *b = srv->ifree;
		srv->ifree = *(struct ibuf **)(void *)b;
		srv->nifree--;
		free(b);
	}
	while (srv->nfbufs > keep) {
		struct fbuf *b = srv->fbufs;
		srv->fbufs = b->next;
		srv->nfbufs--;
		free(b);
	}
	while (srv->nafree > keep) {
		struct achunk *ch = srv->afree;
		srv->afree = ch->next;
		srv->nafree--;
		free(ch);
	}
	if (!keep && srv->acur && srv->acur->refs == 0) {
		free(srv->acur); /* the server ends: nothing is being sent */
		srv->acur = NULL;
		srv->alast = NULL;
	}
}

/* A connection opened: the peak the next trim is measured against. */
void coil__mem_opened(struct coil_http_server *srv)
{
	if (srv->stats.conns > srv->peak)
		srv->peak = srv->stats.conns;
}

static void give_back(struct coil_http_server *srv)
{
	lists_cut(srv, FREE_KEEP);
	/* the loop's blocks for its streams at once, the pages of its
	 * provided buffers at its next turn (-EOPNOTSUPP: a ring where that
	 * is not safe keeps them) ... */
	coil_loop_trim(srv->loop);
	/* ... then the heap's free pages: after the blocks, which pinned
	 * the pages around them (1,024 of them kept 4 MB after a burst) */
	malloc_trim(0);
	srv->trim_req = srv->stats.requests;
}

/*
 * Under load: the heap's free bytes (mallinfo2(3): every arena, with the
 * pages malloc_trim(3) gave back still counted as free) are followed
 * from their low since the last trim (0 when the server starts, so a
 * burst before the first tick counts); a growth of LOAD_TRIM_BYTES means
 * a burst's memory was freed in the middle of the heap, where free(3)
 * does not give it back: trim. A steady load frees what it allocates
 * again and never trims; one mallinfo2 a tick (a quarter of the shortest
 * time limit) is all it pays. Measured: under wrk -c5000 the RSS a busy
 * connection holds fell from about 1,190 to 790-800 bytes
 * (docs/BENCHMARKS.md, the memory row).
 */
static void load_trim(struct coil_http_server *srv)
{
	struct mallinfo2 mi = mallinfo2();

	if (mi.fordblks < srv->heap_free_low)
		srv->heap_free_low = mi.fordblks;
	if (mi.fordblks - srv->heap_free_low < LOAD_TRIM_BYTES)
		return;
	malloc_trim(0);
	srv->heap_free_low = mi.fordblks;
	srv->stats.load_trims++;
}

static void trim(struct coil_http_server *srv)
{
	give_back(srv);
	srv->stats.trims++;
}

/* A connection ended: after a burst, give the memory back. Each trim
 * sets the peak to what is open, so a burst winding down trims a few
 * times (at 1/4, 1/16 ... of it), never per connection, and once more
 * when its last connection closed. */
void coil__mem_closed(struct coil_http_server *srv)
{
	if (srv->peak >= TRIM_PEAK && srv->stats.conns <= srv->peak / 4) {
		trim(srv);
		srv->peak = srv->stats.conns;
		srv->trim_last = 1;
	} else if (srv->trim_last && srv->stats.conns == 0) {
		trim(srv);
		srv->trim_last = 0;
	}
}

/*
 * The server's tick (http/server_time.c: a quarter of the shortest time
 * limit, 500 ms with the defaults, while any connection waits on one):
 * once a whole tick went by without a request after some came since the
 * last trim, the reads went quiet, and what their bursts touched goes
 * back as after a burst of connections: the provided buffers' pages
 * (1,024 of them are touched by as many requests, however few the
 * connections: 4 MB), the lists' extra entries, the heap's free pages.
 * nginx frees an idle keep-alive connection's buffer the same way. At
 * most one trim per quiet spell: no system call per request.
 */
void coil__mem_tick(struct coil_http_server *srv)
{
	uint64_t n = srv->stats.requests;

	if (n != srv->tick_req) {
		srv->tick_req = n;
		load_trim(srv);
		return;
	}
	if (n == srv->trim_req)
		return;
	give_back(srv);
	srv->stats.quiet_trims++;
}

void coil__mem_free(struct coil_http_server *srv)
{
	lists_cut(srv, 0);
}
