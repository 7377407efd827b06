/*
 * http/server_dir.c - a directory listing for coil_http_serve_root() with
 * COIL_HTTP_SERVE_AUTOINDEX, in the layout of nginx's autoindex module:
 * "../", then subdirectories, then the other entries, each group sorted
 * by name (bytes, strcmp(3)); names starting with '.' left out; each name
 * percent-encoded in its href and HTML-escaped in its text, with its
 * modification time (UTC) and size. io_uring has no getdents, so the
 * directory is read with getdents64(2) (readdir(3)) and each entry's
 * type and size taken with fstatat(2) on the loop's thread, as nginx
 * does in its worker: listings are opt-in, and a directory's entries are
 * in the dentry cache once it was opened. Makes the page only: each
 * protocol sends it (server_file.c, server_h2_stream.c); calls
 * server_static.c for the escaping.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server_internal.h"
#include "static.h"

/* Entries listed at most: a larger directory's listing is cut there (and
 * says so), bounding the memory and time one request can take. */
#define DIR_MAX_ENTRIES 20000

struct dent {
	char *name;
	size_t len;
	int dir;
	uint64_t size;
	int64_t mtime;
};

static int dent_cmp(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;
	if (x->dir != y->dir)
		return y->dir - x->dir;
	return strcmp(x->name, y->name);
}

struct obuf {
	char *p;
	size_t len, cap;
	int fail;
};

static char *ob_room(struct obuf *b, size_t n)
{
	if (b->fail)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;
		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->fail = 1;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

static void ob_put(struct obuf *b, const char *s, size_t n)
{
	char *o = ob_room(b, n);
	if (o) {
		memcpy(o, s, n);
		b->len += n;
	}
}

#define PUT(b, lit) ob_put(b, lit, sizeof(lit) - 1)

static void ob_html(struct obuf *b, const char *s, size_t n)
{
	char *o = ob_room(b, 6 * n);
	if (o)
		b->len += coil__html_escape(o, s, n);
}

static void ob_url(struct obuf *b, const char *s, size_t n)
{
	char *o = ob_room(b, 3 * n);
	if (o)
		b->len += coil__url_escape(o, s, n);
}

/* Read @dfd's entries (closing it). Return: the count (>= 0), with
 * *more set when DIR_MAX_ENTRIES cut the list; -errno. */
static int read_dir(int dfd, struct dent **out, int *more)
{
	struct dent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d = fdopendir(dfd);

	*more = 0;
	if (!d) {
		int err = -errno;
		close(dfd);
		return err;
	}
	while ((e = readdir(d))) {
		struct stat sb;
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), e->d_name, &sb, 0) != 0 &&
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* gone since, or unreadable */
		if (n == DIR_MAX_ENTRIES) {
			*more = 1;
			break;
		}
		if (n == cap) {
			struct dent *nv;
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				goto nomem;
			v = nv;
		}
		v[n].len = strlen(e->d_name);
		v[n].name = strdup(e->d_name);
		if (!v[n].name)
			goto nomem;
		v[n].dir = S_ISDIR(sb.st_mode);
		v[n].size = (uint64_t)sb.st_size;
		v[n].mtime = (int64_t)sb.st_mtime;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), dent_cmp);
	*out = v;
	return (int)n;
nomem:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return -ENOMEM;
}

static void put_entry(struct obuf *b, const struct dent *d)
{
	static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr",
					    "May", "Jun", "Jul", "Aug",
					    "Sep", "Oct", "Nov", "Dec"};
	char tail[96];
	struct tm tm;
	time_t t = (time_t)d->mtime;
	size_t shown = d->len + (size_t)d->dir;
	int n;

	PUT(b, "<a href=\"");
	ob_url(b, d->name, d->len);
	ob_put(b, d->dir ? "/\">" : "\">", d->dir ? 3 : 2);
	ob_html(b, d->name, d->len);
	ob_put(b, d->dir ? "/</a>" : "</a>", d->dir ? 5 : 4);
	for (size_t i = shown; i < 50; i++)
		PUT(b, " ");
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	if (d->dir)
		n = snprintf(tail, sizeof(tail), " %02d-%s-%d %02d:%02d %19s\n",
			     tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900,
			     tm.tm_hour, tm.tm_min, "-");
	else
		n = snprintf(tail, sizeof(tail),
			     " %02d-%s-%d %02d:%02d %19llu\n", tm.tm_mday,
			     mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
			     tm.tm_min, (unsigned long long)d->size);
	if (n > 0 && (size_t)n < sizeof(tail))
		ob_put(b, tail, (size_t)n);
}

/* The page for directory @path (decoded, relative to the root: "" or
 * ending in '/') and its entries. */
static void put_page(struct obuf *b, const char *path, size_t plen,
		     const struct dent *v, int n, int more)
{
	PUT(b, "<html>\n<head><title>Index of /");
	ob_html(b, path, plen);
	PUT(b, "</title></head>\n<body>\n<h1>Index of /");
	ob_html(b, path, plen);
	PUT(b, "</h1><hr><pre>");
	if (plen > 0)
		PUT(b, "<a href=\"../\">../</a>\n");
	for (int i = 0; i < n; i++)
		put_entry(b, &v[i]);
	if (more)
		PUT(b, "(listing cut at 20000 entries)\n");
	PUT(b, "</pre><hr></body>\n</html>\n");
}

const struct coil_http_header coil__dir_type = {"Content-Type", 12,
						"text/html; charset=utf-8", 24};

int coil__dir_page(int dfd, const char *path, size_t plen, char **page,
		   size_t *len)
{
	struct obuf b = {0};
	struct dent *v = NULL;
	int more, n = read_dir(dfd, &v, &more);

	if (n < 0)
		return n;
	put_page(&b, path, plen, v, n, more);
	for (int i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	if (b.fail) {
		free(b.p);
		return -ENOMEM;
	}
	*page = b.p;
	*len = b.len;
	return 0;
}
