/*
 * http/client_policy.c - pure helpers the client's layers share: whether
 * a result is one the request's retry policy retries (RFC 9110 §9.2.2:
 * only idempotent requests are sent again after a transport failure),
 * whether another attempt may start, and failures in words. They read
 * the request and write only the buffer they are given; they call no other
 * file of the client, so every layer may call them.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client_internal.h"

int coil__req_retryable(const struct coil_http_req *req, int res)
{
	if (res == -ECANCELED || res == COIL__RETRY_STOP)
		return 0;
	/* a transport failure after the request may have reached the
	 * server: only idempotent requests may be sent again */
	if (res < 0 && req->sent && !req->idempotent)
		return 0;
	for (unsigned i = 0; i < req->policy.retry_on_len; i++) {
		if (req->policy.retry_on[i] == res)
			return 1;
	}
	return 0;
}

int coil__req_may_retry(const struct coil_http_req *req,
			uint64_t retry_after_ns)
{
	uint64_t lo, hi, wait, now;

	if (req->cancelled || req->c->shutting ||
	    req->retry.attempts >= req->policy.max_attempts)
		return 0;
	if (coil_retry_delay_bounds(&req->policy, req->retry.attempts, &lo,
				    &hi) < 0)
		return 0;
	if (retry_after_ns > req->policy.cap_ns)
		return 0;
	wait = retry_after_ns > lo ? retry_after_ns : lo;
	now = coil_now(req->c->loop);
	if (req->retry_max_time_ns &&
	    now + wait > req->start_ns + req->retry_max_time_ns)
		return 0;
	return 1;
}

static void vwhy(char *buf, size_t cap, int res, const char *fmt, va_list ap)
{
	int n = vsnprintf(buf, cap, fmt, ap);

	if (res && n >= 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, ": %s",
			 res == -ELOOP ? "too many redirects"
				       : coil_strerror(res));
}

void coil__why(char *buf, size_t cap, int res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwhy(buf, cap, res, fmt, ap);
	va_end(ap);
}

void coil__req_why(struct coil_http_req *req, int res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwhy(req->errbuf, sizeof(req->errbuf), res, fmt, ap);
	va_end(ap);
}

int coil__header_dropped(const struct coil_http_req *req,
			 const struct coil_http_header *h)
{
	static const char *const names[] = {"authorization", "cookie",
					    "proxy-authorization"};

	if (!req->strip_auth)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (h->name_len == strlen(names[i]) &&
		    !strncasecmp(h->name, names[i], h->name_len))
			return 1;
	}
	return 0;
}
