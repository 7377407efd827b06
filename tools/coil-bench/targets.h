/*
 * tools/coil-bench/targets.h - --targets FILE in vegeta's HTTP format
 * (vegeta's README, "HTTP format"; lib/targets.go):
 *
 *   # a comment
 *   GET http://127.0.0.1:8080/a
 *   X-Account-ID: 8675309
 *
 *   POST http://127.0.0.1:8081/things
 *   Content-Type: application/json
 *   @/path/to/body.json
 *
 * A target is a "METHOD URL" line, then its header lines ("Name: value",
 * both sides non-empty, kept in order and case), then an optional
 * "@path" line naming a file whose bytes are the body (a relative path
 * is taken from the current directory, as vegeta does); a blank line or
 * the body line ends it. Lines are trimmed of surrounding blanks (and a
 * CR); '#' lines are comments anywhere; blank lines between targets are
 * skipped.
 *
 * Every error names the file and line ("t.txt:3: bad header 'X' ...").
 */
#ifndef COIL_BENCH_TARGETS_H
#define COIL_BENCH_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "coil/http.h"

#define CB_MAX_TARGETS 100000
#define CB_MAX_TARGET_HEADERS 64

/* One target; its strings point into the file's text (struct
 * cb_targets), NUL-terminated there. */
struct cb_tgt {
	const char *method;
	const char *url;
	struct coil_http_header headers[CB_MAX_TARGET_HEADERS];
	size_t n_headers;
	char *body; /* the @file's bytes (owned), or NULL */
	size_t body_len;
	unsigned line; /* of the "METHOD URL" line */
};

struct cb_targets {
	const char *path; /* the file (borrowed), for messages */
	char *text;	  /* the file's bytes (owned) */
	struct cb_tgt *v; /* in file order (owned) */
	size_t n;
};

/*
 * cb_targets_read() - read and parse the targets file @path.
 * @err: receives a one-line message on failure: "cannot read --targets
 *       'F': ...", or "F:LINE: what is wrong".
 * Return: 0 (at least one target); -EINVAL for a malformed file (a line
 * that is not "METHOD URL" where a target starts, a bad method or
 * header, a body file that cannot be read, no target at all, more than
 * CB_MAX_TARGETS targets or CB_MAX_TARGET_HEADERS headers in one);
 * -errno when the file cannot be read; -ENOMEM.
 * The URLs are checked later (main.c, with the HTTP layer's parser),
 * their errors named by the target's line.
 */
int cb_targets_read(struct cb_targets *ts, const char *path, char *err,
		    size_t len);

/* cb_targets_free() - what cb_targets_read() allocated; @ts is zeroed. */
void cb_targets_free(struct cb_targets *ts);

struct cb_target;
struct cb_opts;

/*
 * cb_target_add_request() - write request @i of @t (@spec) at the end of
 * t->reqs (*@used bytes of *@cap, grown as needed) and set
 * t->req_off[i], t->req_len[i]. Used for the URLs and for --targets.
 * Return: 0; -ENOMEM; -E2BIG past 2 GiB of requests; the writer's
 * -EINVAL (coil_http_request_write(): a header or method not allowed).
 */
int cb_target_add_request(struct cb_target *t, size_t *cap, size_t *used,
			  size_t i, const struct coil_http_request_spec *spec);

/*
 * cb_targets_build() - @t from the targets: one request per target (its
 * method, URL, headers after -H's @hdrs, body; Host from the URL unless
 * -H or the target sets one), grouped into hosts by scheme, host and
 * port (gen.h: struct cb_host, the slots dealing -c over them). The
 * hosts' addresses are left to the caller. t->host, t->port and
 * t->https are the first host's (t->https: 1 if any host is https).
 * @err: "F:LINE: bad URL 'u': ..." and the like.
 * Return: 0; -EINVAL with a message (a bad URL, a request the writer
 * refuses, -c below the number of hosts); -ENOMEM.
 */
int cb_targets_build(const struct cb_targets *ts, const struct cb_opts *o,
		     const struct coil_http_header *hdrs, size_t n_hdrs,
		     struct cb_target *t, char *err, size_t len);

/* cb_target_hosts_free() - the hosts and slots of @t (--targets). */
void cb_target_hosts_free(struct cb_target *t);

/* cb_target_host_conns() - how many of @connections go to host @k. */
uint64_t cb_target_host_conns(const struct cb_target *t, unsigned k,
			      uint64_t connections);

#endif
