/*
 * tools/coil-bench/targets.c - the --targets file (targets.h): read whole,
 * split into lines in place, parsed as vegeta's lib/targets.go does
 * (NewHTTPTargeter), with every error naming its line.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/parse.h"
#include "cli.h"
#include "gen.h"
#include "targets.h"

#define TARGETS_MAX_BYTES (64u << 20)
#define BODY_MAX_BYTES (64u << 20)

struct lines {
	char *p, *end; /* what is left of the text */
	unsigned no;   /* the current line's number */
};

/* The next line, trimmed of blanks and a CR, NUL-terminated in place;
 * NULL at the end. */
static char *next_line(struct lines *l)
{
	char *b, *e, *nl;
	if (l->p >= l->end)
		return NULL;
	nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	b = l->p;
	e = nl ? nl : l->end;
	l->p = nl ? nl + 1 : l->end;
	l->no++;
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return b;
}

static int bad(const struct cb_targets *ts, unsigned line, char *err,
	       size_t len, const char *what, const char *text)
{
	return tools_fail(err, len, "%s:%u: %s '%.80s'", ts->path, line, what,
			  text);
}

/* "Name: value" (vegeta: both sides non-empty once trimmed) */
static int header_line(struct cb_targets *ts, struct cb_tgt *t, char *s,
		       unsigned line, char *err, size_t len)
{
	char *colon = strchr(s, ':'), *v, *e;
	struct coil_http_header *h;
	size_t nn;

	if (!colon)
		return bad(ts, line, err, len,
			   "bad header (expected 'Name: value')", s);
	nn = (size_t)(colon - s);
	while (nn && (s[nn - 1] == ' ' || s[nn - 1] == '\t'))
		nn--;
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	e = v + strlen(v);
	if (!tools_is_token(s, nn) || v == e)
		return bad(ts, line, err, len,
			   "bad header (a name of letters, digits and "
			   "!#$%&'*+-.^_`|~, and a value)",
			   s);
	for (const char *p = v; p < e; p++) {
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return bad(ts, line, err, len,
				   "a control character in header", s);
	}
	if (t->n_headers == CB_MAX_TARGET_HEADERS)
		return tools_fail(err, len, "%s:%u: more than %d headers",
				  ts->path, line, CB_MAX_TARGET_HEADERS);
	h = &t->headers[t->n_headers++];
	h->name = s;
	h->name_len = nn;
	h->value = v;
	h->value_len = (size_t)(e - v);
	return 0;
}

/* "@path": the body, read now */
static int body_line(struct cb_targets *ts, struct cb_tgt *t, const char *s,
		     unsigned line, char *err, size_t len)
{
	int ret;
	if (!s[1])
		return bad(ts, line, err, len, "an empty body file name", s);
	ret = tools_read_file(s + 1, BODY_MAX_BYTES, &t->body, &t->body_len);
	if (ret == -ENOMEM) {
		tools_fail(err, len, "out of memory");
		return ret;
	}
	if (ret < 0)
		return tools_fail(
			err, len, "%s:%u: cannot read body file '%s': %s",
			ts->path, line, s + 1,
			ret == -EFBIG ? "larger than 64 MiB" : strerror(-ret));
	return 0;
}

/* A target from its "METHOD URL" line @s on, up to a blank line, the
 * body line, or the end. */
static int parse_target(struct cb_targets *ts, struct lines *l, char *s,
			char *err, size_t len)
{
	struct cb_tgt *t = &ts->v[ts->n];
	char *sp = strpbrk(s, " \t"), *u;
	int ret;

	memset(t, 0, sizeof(*t));
	t->line = l->no;
	if (!sp)
		return bad(ts, l->no, err, len,
			   "expected 'METHOD URL' to start a target, found", s);
	*sp = '\0';
	for (u = sp + 1; *u == ' ' || *u == '\t'; u++)
		;
	if (!tools_is_token(s, strlen(s)))
		return bad(ts, l->no, err, len, "bad method", s);
	if (strpbrk(u, " \t"))
		return bad(ts, l->no, err, len,
			   "a space in the URL (expected 'METHOD URL')", u);
	t->method = s;
	t->url = u;
	ts->n++; /* from here it is freed with the rest */
	while ((s = next_line(l))) {
		if (!*s)
			break;
		if (*s == '#')
			continue;
		if (*s == '@')
			return body_line(ts, t, s, l->no, err, len);
		if ((ret = header_line(ts, t, s, l->no, err, len)))
			return ret;
	}
	return 0;
}

int cb_targets_read(struct cb_targets *ts, const char *path, char *err,
		    size_t len)
{
	struct lines l;
	size_t n, cap = 0;
	char *s;
	int ret;

	memset(ts, 0, sizeof(*ts));
	ts->path = path;
	ret = tools_read_file(path, TARGETS_MAX_BYTES, &ts->text, &n);
	if (ret < 0) {
		tools_fail(err, len, "cannot read --targets '%s': %s", path,
			   ret == -EFBIG ? "larger than 64 MiB"
					 : strerror(-ret));
		return ret;
	}
	if (memchr(ts->text, '\0', n))
		return tools_fail(err, len, "--targets '%s' has a NUL byte",
				  path);
	l.p = ts->text;
	l.end = ts->text + n;
	l.no = 0;
	while ((s = next_line(&l))) {
		if (!*s || *s == '#')
			continue;
		if (ts->n == CB_MAX_TARGETS)
			return tools_fail(err, len,
					  "%s:%u: more than %d targets", path,
					  l.no, CB_MAX_TARGETS);
		if (ts->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct cb_tgt *nv = realloc(ts->v, nc * sizeof(*nv));
			if (!nv) {
				tools_fail(err, len, "out of memory");
				return -ENOMEM;
			}
			ts->v = nv;
			cap = nc;
		}
		if ((ret = parse_target(ts, &l, s, err, len)))
			return ret;
	}
	if (!ts->n)
		return tools_fail(err, len,
				  "--targets '%s' has no target (expected "
				  "'METHOD URL' lines)",
				  path);
	return 0;
}

void cb_targets_free(struct cb_targets *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		free(ts->v[i].body);
	free(ts->v);
	free(ts->text);
	memset(ts, 0, sizeof(*ts));
}

/* ---- the run's target from the targets -------------------------------- */

int cb_target_add_request(struct cb_target *t, size_t *cap, size_t *used,
			  size_t i, const struct coil_http_request_spec *spec)
{
	int n = 0;
	for (;;) {
		if (*cap - *used < 256 || n == -ENOSPC) {
			size_t nc = *cap ? *cap * 2 : 4096;
			char *nb;
			if (nc > ((size_t)1 << 31))
				return -E2BIG;
			nb = realloc(t->reqs, nc);
			if (!nb)
				return -ENOMEM;
			t->reqs = nb;
			*cap = nc;
		}
		n = coil_http_request_write(t->reqs + *used, *cap - *used,
					    spec);
		if (n != -ENOSPC)
			break;
	}
	if (n < 0)
		return n;
	t->req_off[i] = *used;
	t->req_len[i] = (size_t)n;
	*used += (size_t)n;
	return 0;
}

/* The host @u names in @t (scheme, host, port), added if new; its index,
 * or -ENOMEM. */
static int host_of(struct cb_target *t, const struct coil_url *u, size_t *cap)
{
	const char *name = coil_url_host(u);
	struct cb_host *h;
	for (unsigned k = 0; k < t->n_hosts; k++) {
		h = &t->hosts[k];
		if (h->https == u->https && h->port == u->port &&
		    !strcasecmp(h->host, name))
			return (int)k;
	}
	if (t->n_hosts == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct cb_host *nh = realloc(t->hosts, nc * sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		t->hosts = nh;
		*cap = nc;
	}
	h = &t->hosts[t->n_hosts];
	memset(h, 0, sizeof(*h));
	h->https = u->https;
	h->port = u->port;
	snprintf(h->host, sizeof(h->host), "%s", name);
	return (int)t->n_hosts++;
}

static int has_host(const struct coil_http_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (h[i].name_len == 4 && !strncasecmp(h[i].name, "host", 4))
			return 1;
	}
	return 0;
}

/* Target @i's request: -H's headers, then its own. */
static int target_request(const struct cb_tgt *tg, const struct coil_url *u,
			  const struct cb_opts *o,
			  const struct coil_http_header *hdrs, size_t n_hdrs,
			  struct coil_http_header *all, struct cb_target *t,
			  size_t *cap, size_t *used, size_t i)
{
	struct coil_http_request_spec spec = {0};
	if (n_hdrs)
		memcpy(all, hdrs, n_hdrs * sizeof(*all));
	memcpy(all + n_hdrs, tg->headers, tg->n_headers * sizeof(*all));
	spec.method = tg->method;
	spec.target = coil_url_target(u);
	spec.target_len = u->target_len;
	if (!has_host(all, n_hdrs + tg->n_headers)) {
		spec.host = coil_url_authority(u);
		spec.host_len = u->auth_len;
	}
	spec.headers = all;
	spec.nheaders = n_hdrs + tg->n_headers;
	spec.body = tg->body;
	spec.body_len = tg->body_len;
	spec.flags = o->keepalive ? 0 : COIL_HTTP_CLOSE;
	return cb_target_add_request(t, cap, used, i, &spec);
}

/* Each host's requests (indices), then the slots (gen.h). */
static int deal(struct cb_target *t, size_t n)
{
	size_t s = 0, most = 0;
	for (unsigned k = 0; k < t->n_hosts; k++) {
		t->hosts[k].reqs = malloc(n * sizeof(uint32_t));
		if (!t->hosts[k].reqs)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct cb_host *h = &t->hosts[t->slot_host[i]];
		h->reqs[h->n_reqs++] = (uint32_t)i;
		if (h->n_reqs > most)
			most = h->n_reqs;
	}
	/* A1 B1 A2 B2 A3 ...: round r takes each host's r-th target */
	for (size_t r = 0; r < most; r++) {
		for (unsigned k = 0; k < t->n_hosts; k++) {
			if (r >= t->hosts[k].n_reqs)
				continue;
			t->slot_host[s] = k;
			t->slot_rank[s++] = (uint32_t)r;
		}
	}
	t->n_slots = s;
	return 0;
}

int cb_targets_build(const struct cb_targets *ts, const struct cb_opts *o,
		     const struct coil_http_header *hdrs, size_t n_hdrs,
		     struct cb_target *t, char *err, size_t len)
{
	struct coil_url *u = malloc(sizeof(*u));
	struct coil_http_header *all =
		calloc(n_hdrs + CB_MAX_TARGET_HEADERS + 1, sizeof(*all));
	size_t cap = 0, used = 0, hcap = 0;
	int ret = 0;

	t->req_off = calloc(ts->n, sizeof(*t->req_off));
	t->req_len = calloc(ts->n, sizeof(*t->req_len));
	t->req_head = calloc(ts->n, 1);
	t->slot_host = calloc(ts->n, sizeof(*t->slot_host));
	t->slot_rank = calloc(ts->n, sizeof(*t->slot_rank));
	if (!u || !all || !t->req_off || !t->req_len || !t->req_head ||
	    !t->slot_host || !t->slot_rank) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ts->n; i++) {
		const struct cb_tgt *tg = &ts->v[i];
		int n = coil_url_parse(u, tg->url, strlen(tg->url)), k;
		if (n < 0) {
			ret = tools_fail(err, len, "%s:%u: bad URL '%s': %s",
					 ts->path, tg->line, tg->url,
					 n == -EPROTONOSUPPORT
						 ? "only http:// and https://"
					 : u->why ? u->why
						  : coil_strerror(n));
			goto out;
		}
		if ((k = host_of(t, u, &hcap)) < 0) {
			ret = k;
			goto out;
		}
		t->slot_host[i] = (uint32_t)k; /* until deal() */
		t->req_head[i] = !strcmp(tg->method, "HEAD");
		n = target_request(tg, u, o, hdrs, n_hdrs, all, t, &cap, &used,
				   i);
		if (n == -ENOMEM) {
			ret = n;
			goto out;
		}
		if (n < 0) {
			ret = tools_fail(
				err, len, "%s:%u: cannot build the request: %s",
				ts->path, tg->line,
				n == -EINVAL ? "a header or the method is "
					       "not allowed (no "
					       "Content-Length, "
					       "Transfer-Encoding)"
					     : coil_strerror(n));
			goto out;
		}
	}
	t->n_reqs = ts->n;
	if ((ret = deal(t, ts->n)) < 0)
		goto out;
	if (o->connections < t->n_hosts) {
		ret = tools_fail(err, len,
				 "-c %u is less than the %u hosts of --targets "
				 "'%s': each host needs a connection",
				 o->connections, t->n_hosts, ts->path);
		goto out;
	}
	t->port = t->hosts[0].port;
	snprintf(t->host, sizeof(t->host), "%s", t->hosts[0].host);
	for (unsigned k = 0; k < t->n_hosts; k++)
		t->https |= t->hosts[k].https;
out:
	if (ret == -ENOMEM)
		tools_fail(err, len, "out of memory");
	free(u);
	free(all);
	return ret;
}

void cb_target_hosts_free(struct cb_target *t)
{
	for (unsigned k = 0; k < t->n_hosts; k++)
		free(t->hosts[k].reqs);
	free(t->hosts);
	free(t->slot_host);
	free(t->slot_rank);
	free(t->req_head);
	t->hosts = NULL;
	t->n_hosts = 0;
}

uint64_t cb_target_host_conns(const struct cb_target *t, unsigned k,
			      uint64_t connections)
{
	uint64_t n = connections / t->n_slots * t->hosts[k].n_reqs;
	for (size_t s = 0; s < connections % t->n_slots; s++)
		n += t->slot_host[s] == k;
	return n;
}
