/*
 * http/path.c - request paths made safe to open beneath a root
 * (coil_http_path_decode(), RFC 3986 §2.1) and Content-Type by file
 * extension (coil_http_content_type()). Pure functions, no I/O.
 */
#include <errno.h>
#include <string.h>

#include "coil/http.h"
#include "chars.h"

int coil_http_path_decode(const char *path, size_t len, char *out, size_t cap)
{
	size_t i = 1, o = 0;

	if (!path || !out || len == 0 || path[0] != '/')
		return -EINVAL;
	if (cap == 0)
		return -ENAMETOOLONG;
	for (;;) {
		/* one segment: up to the next raw '/' */
		size_t start = o, ndots = 0;
		int only_dots = 1;
		while (i < len && path[i] != '/') {
			unsigned char ch = (unsigned char)path[i];
			if (ch == '%') {
				int hi, lo;
				if (i + 2 >= len)
					return -EINVAL;
				hi = ch_hexval((unsigned char)path[i + 1]);
				lo = ch_hexval((unsigned char)path[i + 2]);
				if (hi < 0 || lo < 0)
					return -EINVAL;
				ch = (unsigned char)(hi * 16 + lo);
				/* an encoded separator would split a segment */
				if (ch == '/' || ch == '\\')
					return -EINVAL;
				i += 3;
			} else {
				i++;
			}
			if (ch < 0x20 || ch == 0x7f)
				return -EINVAL;
			if (ch == '.')
				ndots++;
			else
				only_dots = 0;
			if (o + 1 >= cap)
				return -ENAMETOOLONG;
			out[o++] = (char)ch;
		}
		if (o == start) {
			/* empty: only "/" itself or a trailing '/' */
			if (i < len)
				return -EINVAL; /* "//" */
			break;
		}
		if (only_dots && ndots <= 2)
			return -EINVAL; /* "." or ".." */
		if (i >= len)
			break;
		i++; /* the raw '/' */
		if (o + 1 >= cap)
			return -ENAMETOOLONG;
		out[o++] = '/';
	}
	out[o] = '\0';
	return (int)o;
}

static const struct {
	const char *ext;
	const char *type;
} ctypes[] = {
	{"html", "text/html; charset=utf-8"},
	{"htm", "text/html; charset=utf-8"},
	{"txt", "text/plain; charset=utf-8"},
	{"css", "text/css; charset=utf-8"},
	{"js", "text/javascript; charset=utf-8"},
	{"mjs", "text/javascript; charset=utf-8"},
	{"json", "application/json"},
	{"xml", "application/xml"},
	{"csv", "text/csv; charset=utf-8"},
	{"md", "text/markdown; charset=utf-8"},
	{"png", "image/png"},
	{"jpg", "image/jpeg"},
	{"jpeg", "image/jpeg"},
	{"gif", "image/gif"},
	{"webp", "image/webp"},
	{"svg", "image/svg+xml"},
	{"ico", "image/vnd.microsoft.icon"},
	{"pdf", "application/pdf"},
	{"wasm", "application/wasm"},
	{"woff", "font/woff"},
	{"woff2", "font/woff2"},
	{"mp4", "video/mp4"},
	{"webm", "video/webm"},
	{"mp3", "audio/mpeg"},
	{"gz", "application/gzip"},
	{"zip", "application/zip"},
	{"tar", "application/x-tar"},
};

const char *coil_http_content_type(const char *name, size_t len)
{
	size_t i = len;
	if (!name)
		return "application/octet-stream";
	while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
		i--;
	if (i == 0 || name[i - 1] != '.')
		return "application/octet-stream";
	for (size_t k = 0; k < sizeof(ctypes) / sizeof(ctypes[0]); k++) {
		size_t el = strlen(ctypes[k].ext);
		if (el == len - i && ch_ieq(name + i, ctypes[k].ext, el))
			return ctypes[k].type;
	}
	return "application/octet-stream";
}
