/*
 * http/client_ref.c - the two header values the client acts on: Location (a URI
 * reference resolved against the request's URL, RFC 3986 §5.2) and
 * Retry-After (RFC 9110 §10.2.3: seconds or an HTTP-date).
 */

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "client_internal.h"

/* ---- Location --------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t cap, len;
	int over;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->over || n > b->cap - b->len) {
		b->over = 1;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ),
 * followed by ':' before any '/', '?' or '#'. */
static int has_scheme(const char *s, size_t n)
{
	if (!n || !is_alpha(s[0]))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (c == ':')
			return 1;
		if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' &&
		    c != '-' && c != '.')
			return 0;
	}
	return 0;
}

/*
 * RFC 3986 §5.2.4 remove_dot_segments, on @in (a path, no query) into @b.
 * Works segment by segment on the input; the output is built in @b and
 * the last segment is dropped by scanning back to the previous '/'.
 */
static void remove_dots(struct sbuf *b, const char *in, size_t n)
{
	size_t start = b->len, i = 0;

	while (i < n) {
		size_t rest = n - i;
		const char *s = in + i;

		if (rest >= 3 && !memcmp(s, "../", 3)) {
			i += 3; /* A */
		} else if (rest >= 2 && !memcmp(s, "./", 2)) {
			i += 2;
		} else if (rest >= 3 && !memcmp(s, "/./", 3)) {
			i += 2; /* B: "/./" -> "/" */
		} else if (rest == 2 && !memcmp(s, "/.", 2)) {
			put(b, "/", 1);
			i += 2;
		} else if ((rest >= 4 && !memcmp(s, "/../", 4)) ||
			   (rest == 3 && !memcmp(s, "/..", 3))) {
			/* C: drop the last output segment */
			while (b->len > start && b->p[b->len - 1] != '/')
				b->len--;
			if (b->len > start)
				b->len--;
			if (rest == 3) {
				put(b, "/", 1);
				i += 3;
			} else {
				i += 3; /* leave the '/' of "/../" as input */
			}
		} else if ((rest == 1 && s[0] == '.') ||
			   (rest == 2 && !memcmp(s, "..", 2))) {
			i = n; /* D */
		} else {
			/* E: move the first segment, with its leading '/' */
			size_t j = (s[0] == '/') ? 1 : 0;
			while (j < rest && s[j] != '/')
				j++;
			put(b, s, j);
			i += j;
		}
	}
}

/* Copy @s into @b, percent-encoding what a URL may not hold. */
static void put_clean(struct sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f) {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			put(b, e, 3);
		} else {
			put(b, (const char *)&c, 1);
		}
	}
}

int coil__url_join(char *out, size_t cap, const struct coil_url *base,
		   const char *ref, size_t len)
{
	char tmp[COIL_URL_MAX_LEN + 1];
	struct sbuf r = {tmp, sizeof(tmp) - 1, 0, 0};
	struct sbuf b = {out, cap ? cap - 1 : 0, 0, 0};
	const char *scheme = base->https ? "https:" : "http:";
	const char *path, *query, *bt = coil_url_target(base);
	size_t plen, qlen, n, i;

	if (!cap)
		return -ENOSPC;
	/* trim surrounding whitespace (the parser already did), encode the
	 * rest; drop the fragment (RFC 9110 §10.2.2: a Location fragment
	 * would apply to the new URL, but it is never sent) */
	while (len && (ref[len - 1] == ' ' || ref[len - 1] == '\t'))
		len--;
	put_clean(&r, ref, len);
	if (r.over)
		return -ENOSPC;
	n = r.len;
	for (i = 0; i < n && tmp[i] != '#'; i++)
		;
	n = i;
	tmp[n] = 0;
	if (!n)
		return -EINVAL;

	if (has_scheme(tmp, n)) {
		put(&b, tmp, n);
		goto done;
	}
	if (n >= 2 && tmp[0] == '/' && tmp[1] == '/') {
		put(&b, scheme, strlen(scheme));
		put(&b, tmp, n);
		goto done;
	}
	put(&b, scheme, strlen(scheme));
	put(&b, "//", 2);
	put(&b, coil_url_authority(base), base->auth_len);

	/* split the reference into path and query */
	for (plen = 0; plen < n && tmp[plen] != '?'; plen++)
		;
	path = tmp;
	query = tmp + plen;
	qlen = n - plen;

	if (plen == 0) {
		/* same path, the reference's query (it has one: n > 0) */
		size_t bp = 0;
		while (bp < base->target_len && bt[bp] != '?')
			bp++;
		put(&b, bt, bp);
		put(&b, query, qlen);
		goto done;
	}
	if (path[0] == '/') {
		remove_dots(&b, path, plen);
	} else {
		/* merge (§5.2.3): the base path up to its last '/', then the
		 * reference's path; the base target always starts with '/' */
		char m[COIL_URL_MAX_LEN * 2 + 2];
		size_t bp = 0, last = 0;
		while (bp < base->target_len && bt[bp] != '?') {
			if (bt[bp] == '/')
				last = bp;
			bp++;
		}
		if (last + 1 + plen > sizeof(m))
			return -ENOSPC;
		memcpy(m, bt, last + 1);
		memcpy(m + last + 1, path, plen);
		remove_dots(&b, m, last + 1 + plen);
	}
	put(&b, query, qlen);
done:
	if (b.over)
		return -ENOSPC;
	out[b.len] = 0;
	return (int)b.len;
}

/* ---- Retry-After -------------------------------------------------------- */

#define RA_MAX_NS (1ll << 62)

int64_t coil__retry_after(const char *v, size_t len, int64_t now_unix)
{
	int64_t t;

	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (!len)
		return -EINVAL;
	if (v[0] >= '0' && v[0] <= '9') {
		int64_t s = 0;
		for (size_t i = 0; i < len; i++) {
			if (v[i] < '0' || v[i] > '9')
				return -EINVAL;
			if (s < RA_MAX_NS / 1000000000ll)
				s = s * 10 + (v[i] - '0');
		}
		if (s >= RA_MAX_NS / 1000000000ll)
			return RA_MAX_NS;
		return s * 1000000000ll;
	}
	t = coil_http_date_parse(v, len, now_unix);
	if (t < 0)
		return -EINVAL;
	if (t <= now_unix)
		return 0;
	if (t - now_unix >= RA_MAX_NS / 1000000000ll)
		return RA_MAX_NS;
	return (t - now_unix) * 1000000000ll;
}
