/*
 * http/client_response.c - what both exchanges (HTTP/1.1 in
 * client_exchange.c, HTTP/2 in client_exchange_h2.c) do with a response
 * once its framing is taken off: the final head's decisions (a redirect
 * to follow, a status to retry, the body limit, the buffer's size) and
 * the body's way to the caller (on_body, or the buffer). One piece of
 * code, so that limits, retries and redirects behave the same over both
 * protocols.
 *
 * Below the exchanges in the client's layers (docs/ARCHITECTURE.md): it
 * reads and writes the request's exchange state (req->x) and returns what
 * happened; ending the exchange stays the caller's, as the connection's
 * fate differs between the protocols. It calls only the pure helpers
 * (client_policy.c, client_ref.c) and the caller's on_body.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/grow.h"
#include "client_internal.h"

static int is_redirect(int status)
{
	return status == 301 || status == 302 || status == 303 ||
	       status == 307 || status == 308;
}

/* A redirect to follow: 1 (req->next_url set), 0 (deliver the 3xx as
 * the final response), or -ELOOP. */
static int want_redirect(struct coil_http_req *req)
{
	const struct coil_http_header *loc;
	char *buf;
	int n, ret;

	if (!req->max_redirects || !is_redirect(req->x.msg.status) ||
	    (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")))
		return 0;
	loc = coil_http_header_find(&req->x.msg, "location", NULL);
	if (!loc || !loc->value_len)
		return 0;
	if (req->redirects >= req->max_redirects)
		return -ELOOP;
	if (!req->next_url) {
		req->next_url = malloc(sizeof(*req->next_url));
		if (!req->next_url)
			return 0;
	}
	buf = malloc(COIL_URL_MAX_LEN + 1);
	if (!buf)
		return 0;
	n = coil__url_join(buf, COIL_URL_MAX_LEN + 1, &req->url, loc->value,
			   loc->value_len);
	ret = n > 0 ? coil_url_parse(req->next_url, buf, (size_t)n) : n;
	free(buf);
	return ret == 0;
}

/* A status this attempt would be retried for. */
static int want_retry(struct coil_http_req *req)
{
	const struct coil_http_header *ra;
	int64_t d = 0;

	if (!coil__req_retryable(req, req->x.msg.status))
		return 0;
	ra = coil_http_header_find(&req->x.msg, "retry-after", NULL);
	if (ra) {
		d = coil__retry_after(ra->value, ra->value_len,
				      (int64_t)time(NULL));
		if (d < 0)
			d = 0;
	}
	req->x.retry_after_ns = (uint64_t)d;
	if (!coil__req_may_retry(req, req->x.retry_after_ns))
		return 0;
	req->x.out = XO_RETRY;
	return 1;
}

int coil__resp_head(struct coil_http_req *req)
{
	int status = req->x.msg.status, r;

	req->x.status_pending = status;
	r = want_redirect(req);
	if (r < 0) {
		coil__req_why(req, r, "more than %u redirects",
			      req->max_redirects);
		return r;
	}
	if (r > 0) {
		req->x.sink = SINK_REDIRECT;
		req->x.out = XO_REDIRECT;
		return 0;
	}
	if (want_retry(req)) {
		req->x.sink = SINK_RETRY;
		return 0;
	}
	if (req->x.msg.body == COIL_HTTP_BODY_LENGTH &&
	    req->x.msg.content_length > req->max_body) {
		coil__req_why(
			req, COIL_ELIMIT,
			"Content-Length %llu over the limit of %llu bytes",
			(unsigned long long)req->x.msg.content_length,
			(unsigned long long)req->max_body);
		return COIL_ELIMIT;
	}
	if (!req->on_body && req->x.msg.body == COIL_HTTP_BODY_LENGTH &&
	    req->x.msg.content_length > req->bcap) {
		char *b = realloc(req->bbuf, (size_t)req->x.msg.content_length);
		if (b) {
			req->bbuf = b;
			req->bcap = (size_t)req->x.msg.content_length;
		}
	}
	req->x.have_head = 1;
	req->x.status = status;
	return 0;
}

int coil__resp_body(struct coil_http_req *req, const void *p, size_t len)
{
	if (req->x.body.received > req->max_body) {
		coil__req_why(req, COIL_ELIMIT, "response body over %llu bytes",
			      (unsigned long long)req->max_body);
		return COIL_ELIMIT;
	}
	if (req->on_body) {
		req->on_body(req, p, len);
		return 0;
	}
	if (req->x.blen + len > req->bcap) {
		char *b = coil__grow(req->bbuf, &req->bcap, req->x.blen + len,
				     16384);
		if (!b) {
			coil__req_why(req, -ENOMEM, "body buffer");
			return -ENOMEM;
		}
		req->bbuf = b;
	}
	memcpy(req->bbuf + req->x.blen, p, len);
	req->x.blen += len;
	return 0;
}
