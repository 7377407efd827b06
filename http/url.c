/*
 * http/url.c - absolute http(s) URLs (RFC 3986 §3, RFC 9110 §4.2) into a
 * struct coil_url: scheme, host, port, request target.
 *
 * The struct keeps NUL-terminated copies (host for the resolver and SNI,
 * authority for Host, target for the request line) in its own buffer and
 * refers to them by offset, so it can be copied and the input freed.
 * Anything the client could not send verbatim is refused here with a
 * reason, so that later layers never see it.
 */
#include <arpa/inet.h>
#include <string.h>

#include "coil/http.h"
#include "chars.h"

/* Bytes refused anywhere in a URL: C0 controls, space, DEL and non-ASCII
 * (RFC 3986 §2: a URI is ASCII; the rest must be percent-encoded). */
static inline int url_bad_byte(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f;
}

static inline int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline int is_alnum(unsigned char c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static int fail(struct coil_url *u, int err, const char *why)
{
	u->why = why;
	return err;
}

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static size_t scheme_len(const char *s, size_t len)
{
	size_t i = 0;
	if (len == 0 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
		return 0;
	while (i < len &&
	       (is_alnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
		i++;
	return i < len && s[i] == ':' ? i : 0;
}

/* A dotted-quad, RFC 3986 §3.2.2 dec-octet: 0-255 without leading zeros. */
static int valid_ipv4(const char *h, size_t n)
{
	int parts = 0;
	size_t i = 0;
	while (i <= n) {
		size_t st = i;
		unsigned v = 0;
		while (i < n && is_digit(h[i]) && i - st < 4)
			v = v * 10 + (unsigned)(h[i++] - '0');
		size_t dl = i - st;
		if (dl == 0 || dl > 3 || v > 255 || (dl > 1 && h[st] == '0'))
			return 0;
		parts++;
		if (i == n)
			break;
		if (h[i] != '.' || parts == 4)
			return 0;
		i++;
	}
	return parts == 4;
}

/* Host name rules: labels of letters, digits, '-' and '_' (seen in real
 * names though not in RFC 1123), 1-63 bytes each, 253 in all, with an
 * optional final dot. */
static const char *check_name(const char *h, size_t n, int *ipv4)
{
	size_t label = 0;
	int last_numeric = 1;
	*ipv4 = 0;
	if (n - (h[n - 1] == '.') > 253)
		return "host name longer than 253 bytes";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (c == '.') {
			if (label == 0)
				return "empty label in host name";
			if (i + 1 < n) {
				label = 0;
				last_numeric = 1;
			}
			continue;
		}
		if (c == '%')
			return "percent-encoded host names are not supported";
		if (!is_alnum(c) && c != '-' && c != '_')
			return "invalid character in host";
		if (!is_digit(c))
			last_numeric = 0;
		if (++label > 63)
			return "host name label longer than 63 bytes";
	}
	/* WHATWG and RFC 3986 §3.2.2 agree that a host ending in a numeric
	 * label is meant as an IPv4 address: it must then be a valid one. */
	if (last_numeric) {
		if (h[n - 1] == '.' || !valid_ipv4(h, n))
			return "bad IPv4 address";
		*ipv4 = 1;
	}
	return NULL;
}

int coil_url_parse(struct coil_url *u, const char *s, size_t len)
{
	size_t i, sl, auth_start, auth_end, host_start, host_end;
	size_t path_start, path_end;
	int port = -1, ipv4;
	const char *why;

	u->why = NULL;
	u->https = 0;
	u->host_kind = COIL_URL_HOST_NAME;
	u->port = 0;
	u->host_off = u->host_len = u->auth_off = u->auth_len = 0;
	u->target_off = u->target_len = 0;
	u->buf[0] = '\0';

	if (len > COIL_URL_MAX_LEN)
		return fail(u, COIL_ELIMIT, "URL longer than 8000 bytes");
	if (len == 0)
		return fail(u, -EINVAL, "empty URL");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (url_bad_byte(c)) {
			if (c == ' ')
				return fail(u, -EINVAL,
					    "space in URL (percent-encode it "
					    "as %20)");
			if (c >= 0x80)
				return fail(u, -EINVAL,
					    "non-ASCII byte in URL "
					    "(percent-encode it)");
			return fail(u, -EINVAL, "control character in URL");
		}
		if (c == '%' && (i + 2 >= len || !ch_is(s[i + 1], CH_HEX) ||
				 !ch_is(s[i + 2], CH_HEX)))
			return fail(u, -EINVAL,
				    "'%' not followed by two hex digits");
	}

	sl = scheme_len(s, len);
	if (sl == 0)
		return fail(u, -EINVAL, "missing scheme (http:// or https://)");
	if (sl == 4 && ch_ieq(s, "http", 4)) {
		u->https = 0;
	} else if (sl == 5 && ch_ieq(s, "https", 5)) {
		u->https = 1;
	} else {
		return fail(u, -EPROTONOSUPPORT,
			    "unsupported scheme (only http and https)");
	}
	if (len < sl + 3 || s[sl + 1] != '/' || s[sl + 2] != '/')
		return fail(u, -EINVAL, "expected \"//\" after the scheme");

	/* RFC 3986 §3.2: the authority ends at the next '/', '?' or '#'. */
	auth_start = sl + 3;
	auth_end = auth_start;
	while (auth_end < len && s[auth_end] != '/' && s[auth_end] != '?' &&
	       s[auth_end] != '#')
		auth_end++;
	if (memchr(s + auth_start, '@', auth_end - auth_start))
		return fail(u, -EINVAL,
			    "credentials (user@) in URLs are not supported");

	host_start = auth_start;
	if (host_start < auth_end && s[host_start] == '[') {
		const char *rb =
			memchr(s + host_start, ']', auth_end - host_start);
		char tmp[64];
		unsigned char a6[16];
		if (!rb)
			return fail(u, -EINVAL, "unterminated IPv6 literal");
		host_end = (size_t)(rb - s) + 1;
		size_t n = host_end - host_start - 2;
		if (memchr(s + host_start + 1, '%', n))
			return fail(u, -EINVAL,
				    "IPv6 zone identifiers are not supported");
		if (n > 0 && (s[host_start + 1] | 0x20) == 'v')
			return fail(u, -EINVAL,
				    "IPvFuture literals are not supported");
		if (n == 0 || n >= sizeof(tmp))
			return fail(u, -EINVAL, "bad IPv6 address");
		memcpy(tmp, s + host_start + 1, n);
		tmp[n] = '\0';
		if (inet_pton(AF_INET6, tmp, a6) != 1)
			return fail(u, -EINVAL, "bad IPv6 address");
		u->host_kind = COIL_URL_HOST_IPV6;
		if (host_end < auth_end && s[host_end] != ':')
			return fail(u, -EINVAL,
				    "unexpected character after IPv6 literal");
	} else {
		host_end = host_start;
		while (host_end < auth_end && s[host_end] != ':')
			host_end++;
		if (host_end == host_start)
			return fail(u, -EINVAL, "empty host");
		why = check_name(s + host_start, host_end - host_start, &ipv4);
		if (why)
			return fail(u, -EINVAL, why);
		u->host_kind = ipv4 ? COIL_URL_HOST_IPV4 : COIL_URL_HOST_NAME;
	}

	/* RFC 3986 §3.2.3: port = *DIGIT; empty means the default. */
	if (host_end < auth_end) {
		size_t p = host_end + 1;
		unsigned long v = 0;
		if (p == auth_end) {
			port = -1;
		} else {
			for (; p < auth_end; p++) {
				if (!is_digit(s[p]))
					return fail(u, -EINVAL,
						    "port is not a number");
				v = v * 10 + (unsigned long)(s[p] - '0');
				if (v > 65535)
					return fail(u, -EINVAL,
						    "port out of range "
						    "(1-65535)");
			}
			if (v == 0)
				return fail(u, -EINVAL,
					    "port out of range (1-65535)");
			port = (int)v;
		}
	}
	int dflt = u->https ? 443 : 80;
	u->port = (uint16_t)(port > 0 ? port : dflt);

	/* path-abempty and query, up to the fragment. */
	path_start = auth_end;
	path_end = path_start;
	while (path_end < len && s[path_end] != '#')
		path_end++;

	/* Lay out host\0authority\0target\0 in buf. */
	size_t hlen = host_end - host_start;
	size_t hskip = 0;
	if (u->host_kind == COIL_URL_HOST_IPV6) {
		hskip = 1;
		hlen -= 2;
	}
	size_t alen = host_end - host_start;
	int keep_port = port > 0 && port != dflt;
	size_t portlen = keep_port ? auth_end - host_end : 0;
	size_t tlen = path_end - path_start;
	int slash = tlen == 0 || s[path_start] != '/';
	size_t need = hlen + 1 + alen + portlen + 1 + slash + tlen + 1;
	if (need > sizeof(u->buf))
		return fail(u, COIL_ELIMIT, "URL too long");

	char *o = u->buf;
	u->host_off = 0;
	u->host_len = (uint16_t)hlen;
	memcpy(o, s + host_start + hskip, hlen);
	o += hlen;
	*o++ = '\0';
	u->auth_off = (uint16_t)(o - u->buf);
	memcpy(o, s + host_start, alen);
	o += alen;
	memcpy(o, s + host_end, portlen);
	o += portlen;
	u->auth_len = (uint16_t)(alen + portlen);
	*o++ = '\0';
	u->target_off = (uint16_t)(o - u->buf);
	if (slash)
		*o++ = '/';
	memcpy(o, s + path_start, tlen);
	o += tlen;
	u->target_len = (uint16_t)(tlen + slash);
	*o = '\0';
	return 0;
}
