/*
 * tools/common/parse.h - the parsers coil's programs share: numbers with
 * an optional unit ("10k", "1.5M", "500ms", "64k" in binary units), plain
 * decimal numbers in a range, a whole file ("-" for stdin), an HTTP
 * token. One home
 * for what coil-bench, coil-get and coil-serve each wrote once.
 *
 * Header-only on purpose: each program, and each test that compiles a
 * program's cli.c in, gets these without another library or source file
 * in its build. tls/config.c reads its certificate files with its own
 * loop: the library cannot depend on tools/.
 */
#ifndef COIL_TOOLS_PARSE_H
#define COIL_TOOLS_PARSE_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A unit suffix and what it multiplies by; a table ends with name NULL. */
struct tools_unit {
	const char *name; /* matched case-insensitively */
	uint64_t mult;
};

/* tools_fail() - write a one-line message into @err (@len bytes; none when
 * @err is NULL or @len 0) for the caller to print.
 * Return: -EINVAL, so a parser can `return tools_fail(...)`. */
__attribute__((format(printf, 3, 4))) static inline int
tools_fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * tools_parse_scaled() - "<digits>[.<digits>][unit]" times the unit's
 * multiplier (@def_mult without a unit), in exact integer arithmetic.
 * @units: the suffixes allowed, or NULL for none.
 * @whole: fail with -EINVAL unless the result is an integer; otherwise
 *         drop the fraction.
 * Return: 0; -EINVAL (not a number, unknown unit); -ERANGE (over 2^64).
 */
static inline int tools_parse_scaled(const char *s,
				     const struct tools_unit *units,
				     uint64_t def_mult, int whole,
				     uint64_t *out)
{
	uint64_t ip = 0, frac = 0, pow10 = 1, mult = def_mult, r;
	int frac_digits = 0, frac_rest = 0;
	unsigned __int128 f;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (__builtin_mul_overflow(ip, 10, &ip) ||
		    __builtin_add_overflow(ip, (uint64_t)(*s - '0'), &ip))
			return -ERANGE;
	}
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (frac_digits < 18) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				pow10 *= 10;
				frac_digits++;
			} else if (*s != '0') {
				frac_rest = 1;
			}
		}
	}
	if (*s) {
		const struct tools_unit *u = units;
		while (u && u->name && strcasecmp(u->name, s) != 0)
			u++;
		if (!u || !u->name)
			return -EINVAL;
		mult = u->mult;
	}
	if (__builtin_mul_overflow(ip, mult, &r))
		return -ERANGE;
	f = (unsigned __int128)frac * mult;
	if (whole && (f % pow10 != 0 || frac_rest))
		return -EINVAL;
	if (__builtin_add_overflow(r, (uint64_t)(f / pow10), &r))
		return -ERANGE;
	*out = r;
	return 0;
}

/*
 * tools_parse_uint() - a plain decimal number (digits only: no sign,
 * space, base prefix or unit) in [@lo, @hi].
 * Return: 0; -EINVAL (not such a number); -ERANGE (outside the range).
 */
static inline int tools_parse_uint(const char *s, uint64_t lo, uint64_t hi,
				   uint64_t *out)
{
	uint64_t v = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return -ERANGE;
	}
	if (*s)
		return -EINVAL;
	if (v < lo || v > hi)
		return -ERANGE;
	*out = v;
	return 0;
}

/*
 * tools_read_file() - the whole of @path (regular or not; "-" is stdin)
 * into a malloc'd buffer, NUL-terminated (not counted in *@len); NULL
 * and 0 on failure.
 * @max: refuse more than this many bytes.
 * Return: 0; -errno from open/read; -EFBIG over @max; -ENOMEM.
 */
static inline int tools_read_file(const char *path, size_t max, char **out,
				  size_t *len)
{
	int in = !strcmp(path, "-");
	int fd = in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	char *buf;
	int err = 0;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	buf = malloc(cap + 1);
	if (!buf)
		err = -ENOMEM;
	while (!err) {
		ssize_t k;
		if (n == cap) {
			char *nb;
			if (cap >= max + 1 || cap > SIZE_MAX / 4) {
				err = -EFBIG;
				break;
			}
			nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		k = read(fd, buf + n, cap - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (!in)
		close(fd);
	if (!err && n > max)
		err = -EFBIG;
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/*
 * tools_next_line() - the next item of a list file, one a line (coil-bench
 * --urls, coil-get -i): blank lines and lines starting with '#' are
 * skipped, spaces and tabs around the item and a CR before the LF
 * dropped.
 * @p:      where to read on, in [*@p, @end); moved past the line.
 * @b, @e:  receive the item's first byte and the byte after its last.
 * Return: 1 with an item; 0 at @end.
 */
static inline int tools_next_line(const char **p, const char *end,
				  const char **b, const char **e)
{
	while (*p < end) {
		const char *eol = memchr(*p, '\n', (size_t)(end - *p));
		const char *s = *p, *t = eol ? eol : end;

		*p = eol ? eol + 1 : end;
		while (s < t && (*s == ' ' || *s == '\t'))
			s++;
		while (t > s &&
		       (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r'))
			t--;
		if (t > s && *s != '#') {
			*b = s;
			*e = t;
			return 1;
		}
	}
	return 0;
}

/* tools_is_token() - whether the @n bytes at @s are an HTTP token
 * (RFC 9110 section 5.6.2: 1*tchar), as a method or a field name must be.
 * Return: 1 or 0 (0 for an empty one). */
static inline int tools_is_token(const char *s, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') ||
		      (c && strchr("!#$%&'*+-.^_`|~", c))))
			return 0;
	}
	return 1;
}

#endif
