/*
 * http/date.c - HTTP-date parsing (RFC 9110 §5.6.7): the IMF-fixdate
 * senders use and the two obsolete forms recipients must still accept.
 * Used for Retry-After by the client (client_ref.c) and for the
 * conditional requests of the static file server (server_static.c); the
 * writer's coil_http_date() is the other direction.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "coil/http.h"

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr",
				       "May", "Jun", "Jul", "Aug",
				       "Sep", "Oct", "Nov", "Dec"};

static int num(const char **p, const char *end, int digits, int *out)
{
	int v = 0;
	for (int i = 0; i < digits; i++) {
		if (*p >= end || **p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

static int lit(const char **p, const char *end, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(end - *p) < n || memcmp(*p, s, n))
		return -1;
	*p += n;
	return 0;
}

static int month(const char **p, const char *end, int *out)
{
	if (end - *p < 3)
		return -1;
	for (int i = 0; i < 12; i++) {
		if (!memcmp(*p, months[i], 3)) {
			*out = i;
			*p += 3;
			return 0;
		}
	}
	return -1;
}

static int hms(const char **p, const char *end, struct tm *tm)
{
	if (num(p, end, 2, &tm->tm_hour) || lit(p, end, ":") ||
	    num(p, end, 2, &tm->tm_min) || lit(p, end, ":") ||
	    num(p, end, 2, &tm->tm_sec))
		return -1;
	return 0;
}

/* The weekday name before ", " (or " " for asctime); not checked against
 * the date: RFC 9110 §5.6.7 lets a recipient ignore it. */
static int skip_day(const char **p, const char *end)
{
	const char *s = *p;
	while (s < end && is_alpha(*s))
		s++;
	if (s - *p < 3)
		return -1;
	*p = s;
	return 0;
}

/* See include/coil/http_message.h. */
int64_t coil_http_date_parse(const char *s, size_t len, int64_t now_unix)
{
	const char *p = s, *end = s + len;
	struct tm tm;
	int year;

	memset(&tm, 0, sizeof(tm));
	if (skip_day(&p, end))
		return -1;
	if (!lit(&p, end, ", ")) {
		const char *q = p;
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		if (!num(&q, end, 2, &tm.tm_mday) && !lit(&q, end, " ") &&
		    !month(&q, end, &tm.tm_mon) && !lit(&q, end, " ") &&
		    !num(&q, end, 4, &year) && !lit(&q, end, " ") &&
		    !hms(&q, end, &tm) && !lit(&q, end, " GMT") && q == end) {
			tm.tm_year = year - 1900;
		} else {
			/* rfc850-date: Sunday, 06-Nov-94 08:49:37 GMT */
			q = p;
			if (num(&q, end, 2, &tm.tm_mday) || lit(&q, end, "-") ||
			    month(&q, end, &tm.tm_mon) || lit(&q, end, "-") ||
			    num(&q, end, 2, &year) || lit(&q, end, " ") ||
			    hms(&q, end, &tm) || lit(&q, end, " GMT") ||
			    q != end)
				return -1;
			/* two-digit years (RFC 9110 §5.6.7): more than 50
			 * years ahead of now means the century before */
			time_t now = (time_t)now_unix;
			struct tm nt;
			int cur;
			if (!gmtime_r(&now, &nt))
				return -1;
			cur = nt.tm_year + 1900;
			year += cur - cur % 100;
			if (year > cur + 50)
				year -= 100;
			tm.tm_year = year - 1900;
		}
	} else {
		/* asctime-date: Sun Nov  6 08:49:37 1994 */
		if (lit(&p, end, " ") || month(&p, end, &tm.tm_mon) ||
		    lit(&p, end, " "))
			return -1;
		if (p < end && *p == ' ') {
			p++;
			if (num(&p, end, 1, &tm.tm_mday))
				return -1;
		} else if (num(&p, end, 2, &tm.tm_mday)) {
			return -1;
		}
		if (lit(&p, end, " ") || hms(&p, end, &tm) ||
		    lit(&p, end, " ") || num(&p, end, 4, &year) || p != end)
			return -1;
		tm.tm_year = year - 1900;
	}
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	return (int64_t)timegm(&tm);
}
