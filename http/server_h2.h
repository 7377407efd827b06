/*
 * http/server_h2.h - what the two files of the server's HTTP/2 side share:
 * a request stream (struct h2s) and a connection (struct h2conn).
 * server_h2.c (the connection: the session's callbacks, request heads,
 * time limit, hand-over and end) calls server_h2_stream.c (a stream: its
 * answers, its body, its events for the handler, its memory), never the
 * other way: a stream that is freed tells its connection through
 * h2conn.stream_freed. Private to http/.
 */
#ifndef COIL_HTTP_SERVER_H2_H
#define COIL_HTTP_SERVER_H2_H

#include "filecache.h"
#include "server_internal.h"

#define H2_MAX_STREAMS 128
#define H2_MEM_INLINE 64      /* answer bodies kept in the stream itself */
#define H2_FCHUNK (64 * 1024) /* file piece */
#define H2_FIELD_COST 32      /* per field (RFC 9113 §6.5.2) */
#define H2_SPARE 16	      /* stream structs a connection keeps */
/* RFC 9113 §7 error codes */
#define H2_INTERNAL_ERROR 0x2
#define H2_REFUSED_STREAM 0x7

/* struct h2conn.st */
#define HC_CLOSING (1u << 0)  /* GOAWAY sent: no new streams */
#define HC_DEAD (1u << 1)     /* the session is gone */
#define HC_GONE (1u << 2)     /* server.c was told */
#define HC_CLOSE (1u << 3)    /* coil_h2_close() called */
#define HC_SHUTDOWN (1u << 4) /* the server shuts down */

/* struct h2s.st */
#define HS_OWNED (1u << 0)     /* the handler (or serve_root) holds req */
#define HS_BEGUN (1u << 1)     /* a response was begun */
#define HS_DONE (1u << 2)      /* the response's last byte went out */
#define HS_CLOSED (1u << 3)    /* the session ended the stream */
#define HS_CANCELLED (1u << 4) /* the cancel hook ran */
#define HS_REPORTED (1u << 5)  /* on_done ran */
#define HS_LENT (1u << 6)      /* a body piece is lent to the handler */
#define HS_WBUSY (1u << 7)     /* a respond_write is outstanding */
#define HS_WDONE (1u << 8)     /* ... and its bytes went to the session */
#define HS_ENDED (1u << 9)     /* respond_end: EOF once drained */
#define HS_NOBODY (1u << 10)   /* HEAD / 204 / 304 */
#define HS_FILE (1u << 11)     /* the body comes from a file */
#define HS_IN_END (1u << 12)   /* the request's END_STREAM came */
#define HS_INTERNAL (1u << 13) /* serve_root holds req, not the handler */
#define HS_DEFERRED (1u << 14) /* the body source said -EAGAIN */
#define HS_HEADERR (1u << 15)  /* the head broke a limit: 431 */

/* A piece of request body kept for the handler. */
struct bpiece {
	struct bpiece *next;
	size_t len;
	char data[];
};

struct h2conn;

/* One request stream. */
struct h2s {
	struct coil_http_sreq req;
	struct h2conn *hc;
	struct h2s *prev, *next; /* the connection's streams */
	int32_t id;
	unsigned st;
	/* the head: the fields, then the bytes they point to, in one
	 * allocation of hdrs_bytes kept when the struct is reused */
	struct coil_http_header *hdrs;
	size_t hdrs_bytes;
	/* the request body */
	unsigned bmode, bstate;
	int berr;
	struct bpiece *bq, *bq_tail; /* received, not yet handed over */
	char *bbuf;		     /* B_BUFFER: the whole body */
	size_t blen, bcap;
	uint64_t brecv;
	coil_http_body_fn bcb;
	coil_http_chunk_fn ccb;
	void *barg;
	/* the response */
	int rstatus;
	uint64_t rbytes;
	uint64_t rleft;	 /* streamed or file: bytes still due */
	const char *out; /* streamed: bytes the session has still to take */
	size_t olen;
	char *heap; /* a copy of an answer from memory */
	char inl[H2_MEM_INLINE];
	coil_http_sent_fn wcb;
	void *warg;
	int wstatus;
	/* a file body */
	int ffd;
	uint64_t foff;
	char *fbuf;
	size_t fpos, flen;
	struct coil_op fop;    /* reads, open, statx */
	struct coil_op cop;    /* close */
	struct aux *aux;       /* serve_root's scratch (server_h2_static.c) */
	struct fc_entry *fent; /* ffd is this open-file cache entry's */
	/* events for the handler, run from the loop */
	struct coil_op ev;
	void (*cancel_fn)(struct coil_http_sreq *req, void *arg);
	void *cancel_arg;
};

struct h2conn {
	struct sconn *c;
	struct coil_http_server *srv;
	struct coil_h2 *h2; /* NULL once the session is gone */
	struct h2s *streams;
	unsigned nstreams; /* structs alive */
	struct h2s *spare; /* freed structs kept for reuse (H2_SPARE) */
	unsigned nspare;
	unsigned nreq; /* streams begun */
	unsigned st;
	int err;
	struct coil_op tmr; /* idle / first-request limit */
	uint64_t active_ns; /* last time a stream began or ended */
	void (*gone)(struct sconn *c, int err);
	/* a stream struct was freed (server_h2.c: the end may be due) */
	void (*stream_freed)(struct h2conn *hc);
	int64_t date_sec;
	char date[32];
};

static inline struct h2s *h2s_of(struct coil_http_sreq *req)
{
	return coil_container_of(req, struct h2s, req);
}

/* The session still carries the stream (not closed, not closing). */
static inline int h2s_live(const struct h2s *s)
{
	return !(s->st & HS_CLOSED) && s->hc->h2 &&
	       !(s->hc->st & (HC_DEAD | HC_CLOSE));
}

/* ---- server_h2_stream.c ---- */

/* A stream struct for request stream @id (from the connection's spares). */
struct h2s *coil__h2s_new(struct h2conn *hc, int32_t id);
/* Post the stream's pump: its events for the handler run from the loop. */
void coil__h2s_kick(struct h2s *s);
/* The request body failed with @err (reported from the pump). */
void coil__h2s_body_fail(struct h2s *s, int err);
/* Room for @need bytes in the stream's whole-body buffer. */
int coil__h2s_body_grow(struct h2s *s, size_t need);
/* An answer of the server's own, an error (431, 413, 400, 500). */
void coil__h2s_refuse(struct h2s *s, int status);
/* The handler (or serve_root) let go of the request. */
void coil__h2s_release(struct h2s *s);
/* Close the stream's file (s->ffd) through the ring, if one is open; a
 * descriptor of the open-file cache's (s->fent) is let go instead. */
void coil__h2s_file_close(struct h2s *s);
/* RST_STREAM with @code, if the session still carries the stream. */
void coil__h2s_rst(struct h2s *s, uint32_t code);

#endif
