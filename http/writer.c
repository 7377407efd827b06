/*
 * http/writer.c - HTTP/1.1 requests and responses into a caller buffer
 * (RFC 9112 §3, §4, §6, §7.1; RFC 9110 §5.5, §6.6.1, §8.6).
 *
 * Everything the caller hands in is checked before a byte is written, so a
 * header value with a CR or LF can never split the message (RFC 9110 §5.5,
 * response splitting). The framing fields (Content-Length,
 * Transfer-Encoding) are only ever the writer's.
 */
#include <limits.h>
#include <string.h>
#include <time.h>

#include "coil/http.h"
#include "chars.h"

struct out {
	char *p;
	char *end;
	char *start;
	int over;
	int big; /* the buffer is over INT_MAX bytes: running over is -E2BIG */
};

static inline void put(struct out *o, const void *s, size_t n)
{
	if (n == 0)
		return;
	if ((size_t)(o->end - o->p) < n) {
		o->over = 1;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

#define PUTS(o, lit) put(o, lit, sizeof(lit) - 1)

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, tmp + i, sizeof(tmp) - (size_t)i);
}

static void put_hex(struct out *o, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];
	int i = sizeof(tmp);
	do {
		tmp[--i] = digits[v & 15];
		v >>= 4;
	} while (v);
	put(o, tmp + i, sizeof(tmp) - (size_t)i);
}

static void out_init(struct out *o, char *buf, size_t cap)
{
	o->start = o->p = buf;
	o->big = cap > INT_MAX;
	o->end = buf + (o->big ? INT_MAX : cap);
	o->over = 0;
}

static int out_done(const struct out *o)
{
	if (o->over)
		return o->big ? -E2BIG : -ENOSPC;
	return (int)(o->p - o->start);
}

static int all(const char *s, size_t n, unsigned cls)
{
	for (size_t i = 0; i < n; i++) {
		if (!ch_is((unsigned char)s[i], cls))
			return 0;
	}
	return 1;
}

/* Fields the writer may send itself. */
#define F_HOST (1u << 0)
#define F_UA (1u << 1)
#define F_CONN (1u << 2)
#define F_DATE (1u << 3)
#define F_FRAMING (1u << 4)

static unsigned field_kind(const struct coil_http_header *h)
{
	switch (h->name_len) {
	case 4:
		if (ch_ieq(h->name, "host", 4))
			return F_HOST;
		if (ch_ieq(h->name, "date", 4))
			return F_DATE;
		return 0;
	case 10:
		if (ch_ieq(h->name, "user-agent", 10))
			return F_UA;
		if (ch_ieq(h->name, "connection", 10))
			return F_CONN;
		return 0;
	case 14:
		return ch_ieq(h->name, "content-length", 14) ? F_FRAMING : 0;
	case 17:
		return ch_ieq(h->name, "transfer-encoding", 17) ? F_FRAMING : 0;
	}
	return 0;
}

/* The checks a request and a response share: known @flags (of @known),
 * not both CLOSE and KEEP_ALIVE, no body with CHUNKED (the caller sends
 * the chunks), body bytes for a length unless HEAD_ONLY. Return 0 or
 * -EINVAL. */
static int check_message(unsigned flags, unsigned known, const void *body,
			 uint64_t body_len)
{
	if (flags & ~known)
		return -EINVAL;
	if ((flags & COIL_HTTP_CLOSE) && (flags & COIL_HTTP_KEEP_ALIVE))
		return -EINVAL;
	if ((flags & COIL_HTTP_CHUNKED) &&
	    (body || body_len || (flags & COIL_HTTP_HEAD_ONLY)))
		return -EINVAL;
	if (body_len && !body && !(flags & COIL_HTTP_HEAD_ONLY))
		return -EINVAL;
	return 0;
}

/* Check the caller's fields: tokens, clean values, and none of @taken
 * (nor Connection when @flags has the writer send one). Return 0 or
 * -EINVAL. */
static int check_fields(const struct coil_http_header *hs, size_t n,
			unsigned taken, unsigned flags)
{
	if (flags & (COIL_HTTP_CLOSE | COIL_HTTP_KEEP_ALIVE))
		taken |= F_CONN;
	if (n && !hs)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct coil_http_header *h = &hs[i];
		if (!h->name || h->name_len == 0 ||
		    !all(h->name, h->name_len, CH_TCHAR))
			return -EINVAL;
		if (h->value_len && !h->value)
			return -EINVAL;
		if (!all(h->value, h->value_len, CH_VALUE))
			return -EINVAL;
		if (field_kind(h) & taken)
			return -EINVAL;
	}
	return 0;
}

/* One field line: @head (the name and ": ", or the ": " alone after a
 * name already put), @value, CRLF. */
static void put_field(struct out *o, const char *head, size_t head_len,
		      const char *value, size_t value_len)
{
	put(o, head, head_len);
	put(o, value, value_len);
	PUTS(o, "\r\n");
}

#define PUT_FIELD(o, lit, value, len)                                          \
	put_field(o, lit, sizeof(lit) - 1, value, len)

static void put_fields(struct out *o, const struct coil_http_header *hs,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		put(o, hs[i].name, hs[i].name_len);
		put_field(o, ": ", 2, hs[i].value, hs[i].value_len);
	}
}

static void put_conn(struct out *o, unsigned flags)
{
	if (flags & COIL_HTTP_CLOSE)
		PUTS(o, "Connection: close\r\n");
	else if (flags & COIL_HTTP_KEEP_ALIVE)
		PUTS(o, "Connection: keep-alive\r\n");
}

/* The framing field (RFC 9112 §6.1, §6.2): Transfer-Encoding for
 * CHUNKED, else Content-Length if @length; then the empty line and the
 * body (none for HEAD_ONLY). Return: out_done(). */
static int put_tail(struct out *o, unsigned flags, int length, const void *body,
		    uint64_t body_len)
{
	if (flags & COIL_HTTP_CHUNKED) {
		PUTS(o, "Transfer-Encoding: chunked\r\n");
	} else if (length) {
		PUTS(o, "Content-Length: ");
		put_u64(o, body_len);
		PUTS(o, "\r\n");
	}
	PUTS(o, "\r\n");
	if (body_len && !(flags & COIL_HTTP_HEAD_ONLY)) {
		if (body_len > SIZE_MAX)
			o->over = 1;
		else
			put(o, body, (size_t)body_len);
	}
	return out_done(o);
}

/* Methods that define a meaning for enclosed content: send a length even
 * when it is 0 (RFC 9110 §8.6). */
static int wants_length(const char *m, size_t n)
{
	return (n == 4 && memcmp(m, "POST", 4) == 0) ||
	       (n == 3 && memcmp(m, "PUT", 3) == 0) ||
	       (n == 5 && memcmp(m, "PATCH", 5) == 0);
}

int coil_http_request_write(char *buf, size_t cap,
			    const struct coil_http_request_spec *r)
{
	const unsigned known = COIL_HTTP_CLOSE | COIL_HTTP_KEEP_ALIVE |
			       COIL_HTTP_CHUNKED | COIL_HTTP_HEAD_ONLY;
	unsigned f = r->flags, taken = F_FRAMING;
	size_t ml, ul = 0;
	struct out o;

	if (check_message(f, known, r->body, r->body_len))
		return -EINVAL;
	if (!r->method || !r->target)
		return -EINVAL;
	ml = strlen(r->method);
	if (ml == 0 || !all(r->method, ml, CH_TCHAR))
		return -EINVAL;
	if (r->target_len == 0 || !all(r->target, r->target_len, CH_TARGET))
		return -EINVAL;
	if (r->host) {
		if (!all(r->host, r->host_len, CH_TARGET))
			return -EINVAL;
		taken |= F_HOST;
	}
	if (r->user_agent) {
		ul = strlen(r->user_agent);
		if (!all(r->user_agent, ul, CH_VALUE))
			return -EINVAL;
		taken |= F_UA;
	}
	if (check_fields(r->headers, r->nheaders, taken, f))
		return -EINVAL;

	out_init(&o, buf, cap);
	put(&o, r->method, ml);
	PUTS(&o, " ");
	put(&o, r->target, r->target_len);
	PUTS(&o, " HTTP/1.1\r\n");
	if (r->host)
		PUT_FIELD(&o, "Host: ", r->host, r->host_len);
	if (r->user_agent)
		PUT_FIELD(&o, "User-Agent: ", r->user_agent, ul);
	put_fields(&o, r->headers, r->nheaders);
	put_conn(&o, f);
	return put_tail(&o, f, r->body_len || wants_length(r->method, ml),
			r->body, r->body_len);
}

/* IMF-fixdate: days to a civil date by the "days from civil" inverse
 * (proleptic Gregorian calendar), no locale, no libc time zone. */
int coil_http_date(char *out, size_t cap, int64_t unix_sec)
{
	static const char wd[7][4] = {"Thu", "Fri", "Sat", "Sun",
				      "Mon", "Tue", "Wed"};
	static const char mn[12][4] = {"Jan", "Feb", "Mar", "Apr",
				       "May", "Jun", "Jul", "Aug",
				       "Sep", "Oct", "Nov", "Dec"};
	if (cap < 30)
		return -ENOSPC;
	/* 9999-12-31T23:59:59Z */
	if (unix_sec < 0 || unix_sec > INT64_C(253402300799))
		return -EINVAL;
	int64_t days = unix_sec / 86400;
	int64_t secs = unix_sec % 86400;
	int64_t z = days + 719468;
	int64_t era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	int y = (int)(yoe + era * 400 + (m <= 2));
	int h = (int)(secs / 3600), mi = (int)(secs / 60 % 60),
	    s = (int)(secs % 60);
	const char *w = wd[days % 7];
	const char *mo = mn[m - 1];
	char *p = out;
	memcpy(p, w, 3);
	p[3] = ',';
	p[4] = ' ';
	p[5] = (char)('0' + d / 10);
	p[6] = (char)('0' + d % 10);
	p[7] = ' ';
	memcpy(p + 8, mo, 3);
	p[11] = ' ';
	p[12] = (char)('0' + y / 1000);
	p[13] = (char)('0' + y / 100 % 10);
	p[14] = (char)('0' + y / 10 % 10);
	p[15] = (char)('0' + y % 10);
	p[16] = ' ';
	p[17] = (char)('0' + h / 10);
	p[18] = (char)('0' + h % 10);
	p[19] = ':';
	p[20] = (char)('0' + mi / 10);
	p[21] = (char)('0' + mi % 10);
	p[22] = ':';
	p[23] = (char)('0' + s / 10);
	p[24] = (char)('0' + s % 10);
	memcpy(p + 25, " GMT", 5); /* with the NUL */
	return 29;
}

/* The Date value, formatted at most once per second per thread. */
static __thread int64_t date_cached_sec = -1;
static __thread char date_cached[30];

static const char *date_for(int64_t sec)
{
	if (sec != date_cached_sec) {
		if (coil_http_date(date_cached, sizeof(date_cached), sec) < 0)
			return NULL;
		date_cached_sec = sec;
	}
	return date_cached;
}

int coil_http_response_write(char *buf, size_t cap,
			     const struct coil_http_response_spec *r)
{
	const unsigned known = COIL_HTTP_CLOSE | COIL_HTTP_KEEP_ALIVE |
			       COIL_HTTP_CHUNKED | COIL_HTTP_HEAD_ONLY |
			       COIL_HTTP_NO_DATE;
	unsigned f = r->flags, taken = F_FRAMING;
	const char *reason, *date = NULL;
	size_t rl;
	struct out o;
	int st = r->status;

	if (check_message(f, known, r->body, r->body_len))
		return -EINVAL;
	if (st < 100 || st > 599)
		return -EINVAL;
	/* 1xx, 204, 304: no content and no length (RFC 9110 §8.6, §15) */
	int nobody = st < 200 || st == 204 || st == 304;
	if (nobody && (r->body_len || r->body || (f & COIL_HTTP_CHUNKED)))
		return -EINVAL;
	reason = r->reason ? r->reason : coil_http_reason(st);
	rl = strlen(reason);
	if (!all(reason, rl, CH_VALUE))
		return -EINVAL;
	if (!(f & COIL_HTTP_NO_DATE)) {
		int64_t sec = r->date_sec;
		if (sec == 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME_COARSE, &ts);
			sec = ts.tv_sec;
		}
		date = date_for(sec);
		if (!date)
			return -EINVAL;
		taken |= F_DATE;
	}
	if (check_fields(r->headers, r->nheaders, taken, f))
		return -EINVAL;

	out_init(&o, buf, cap);
	char sl[13];
	memcpy(sl, "HTTP/1.1 ", 9);
	sl[12] = ' ';
	sl[9] = (char)('0' + st / 100);
	sl[10] = (char)('0' + st / 10 % 10);
	sl[11] = (char)('0' + st % 10);
	put(&o, sl, sizeof(sl));
	put(&o, reason, rl);
	PUTS(&o, "\r\n");
	if (date)
		PUT_FIELD(&o, "Date: ", date, 29);
	put_conn(&o, f);
	put_fields(&o, r->headers, r->nheaders);
	/* nobody: CHUNKED was refused above */
	return put_tail(&o, f, !nobody, r->body, r->body_len);
}

int coil_http_chunk_head(char *buf, size_t cap, uint64_t len)
{
	struct out o;
	if (len == 0)
		return -EINVAL;
	out_init(&o, buf, cap);
	put_hex(&o, len);
	PUTS(&o, "\r\n");
	return out_done(&o);
}

int coil_http_chunk_tail(char *buf, size_t cap)
{
	struct out o;
	out_init(&o, buf, cap);
	PUTS(&o, "\r\n");
	return out_done(&o);
}

int coil_http_chunk_write(char *buf, size_t cap, const void *data, size_t len)
{
	struct out o;
	if (len == 0 || !data)
		return -EINVAL;
	out_init(&o, buf, cap);
	put_hex(&o, len);
	PUTS(&o, "\r\n");
	put(&o, data, len);
	PUTS(&o, "\r\n");
	return out_done(&o);
}

int coil_http_chunk_end(char *buf, size_t cap)
{
	struct out o;
	out_init(&o, buf, cap);
	PUTS(&o, "0\r\n\r\n");
	return out_done(&o);
}
