/*
 * tools/coil-serve/app.h - what coil-serve serves: the built-in endpoints
 * for load tools, static files under a root, and the access log. Kept
 * apart from main() so that tests can run the same handler in-process.
 */
#ifndef COIL_SERVE_APP_H
#define COIL_SERVE_APP_H

#include <stdint.h>

#include "coil/http.h"

/* Where the built-in endpoints always are (/_coil/bytes/N ...): with
 * --root, every other path is the file tree's. */
#define SERVE_PREFIX "/_coil"

/* The body of "/": the same 13 bytes nginx returns in bench/serve. */
#define SERVE_HELLO "Hello, World!"

/* Largest N of /bytes/N (1 TiB) and MS of /delay/MS (10 minutes). */
#define SERVE_BYTES_MAX (1ull << 40)
#define SERVE_DELAY_MAX_MS 600000ull

/* Byte @i of every /bytes/N body: the alphabet, repeated. */
static inline char serve_byte_at(uint64_t i)
{
	return (char)('a' + i % 26);
}

/* Shared by every thread, read-only once serving. */
struct serve_app {
	int root_fd;   /* O_PATH directory of --root, or -1 */
	int log_fd;    /* --access-log, O_APPEND, or -1 */
	int autoindex; /* --autoindex: list directories without index.html */
	/* lines dropped because the log could not keep up (all threads) */
	uint64_t log_dropped;
};

/* The request handler (coil_http_handler); @arg is the struct serve_app. */
void serve_handler(struct coil_http_sreq *req, void *arg);

/* The access log hook (coil_http_done_fn); @arg is the struct serve_app.
 * Does nothing without a log. */
void serve_on_done(struct coil_http_sreq *req, int status, uint64_t bytes,
		   void *arg);

/* Per-thread set-up and tear-down (coil_http_threads_opts hooks): the
 * access log's buffers, written through the thread's ring. */
int serve_on_start(struct coil_http_server *srv, unsigned index, void *arg);
void serve_on_stop(struct coil_http_server *srv, unsigned index, void *arg);

#endif
