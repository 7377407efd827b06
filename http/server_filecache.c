/*
 * http/server_filecache.c - the server's open-file cache (http/filecache.h):
 * a hash table of entries keyed by (root fd, path), an LRU list that caps
 * their number, and the contents of small files under a memory cap.
 * Only the loop's thread touches it. Descriptors are closed here with
 * close(2) when an entry goes (once per validity window or eviction, not
 * per request).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filecache.h"

struct fcache {
	struct fc_entry **tab;
	unsigned mask;
	struct fc_entry *head, *tail; /* LRU */
	struct fcache_limits lim;
	struct fcache_counts n;
};

static uint32_t key_hash(int root_fd, const char *path, size_t plen)
{
	uint32_t h = 2166136261u ^ (uint32_t)root_fd; /* FNV-1a */
	for (size_t i = 0; i < plen; i++) {
		h ^= (unsigned char)path[i];
		h *= 16777619u;
	}
	return h;
}

struct fcache *coil__fcache_new(const struct fcache_limits *lim)
{
	struct fcache *fc = calloc(1, sizeof(*fc));
	unsigned size = 16;

	if (!fc)
		return NULL;
	fc->lim = *lim;
	if (fc->lim.files == 0)
		fc->lim.files = 1;
	while (size < 2 * fc->lim.files && size < (1u << 24))
		size <<= 1;
	fc->tab = calloc(size, sizeof(*fc->tab));
	if (!fc->tab) {
		free(fc);
		return NULL;
	}
	fc->mask = size - 1;
	return fc;
}

static void drop_data(struct fcache *fc, struct fc_entry *e)
{
	if (!e->data)
		return;
	fc->n.mem_bytes -= (size_t)e->stx.stx_size;
	free(e->data);
	e->data = NULL;
}

static void destroy(struct fcache *fc, struct fc_entry *e)
{
	drop_data(fc, e);
	close(e->fd);
	free(e);
}

/* Out of the table and the LRU list; freed now or by its last release. */
static void unlink_entry(struct fcache *fc, struct fc_entry *e)
{
	struct fc_entry **pp = &fc->tab[e->hash & fc->mask];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		fc->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		fc->tail = e->prev;
	e->linked = 0;
	fc->n.files--;
	if (e->refs == 0)
		destroy(fc, e);
}

static void lru_front(struct fcache *fc, struct fc_entry *e)
{
	if (fc->head == e)
		return;
	e->prev->next = e->next; /* not the head: it has a prev */
	if (e->next)
		e->next->prev = e->prev;
	else
		fc->tail = e->prev;
	e->prev = NULL;
	e->next = fc->head;
	fc->head->prev = e;
	fc->head = e;
}

static struct fc_entry *lookup(const struct fcache *fc, uint32_t h, int root_fd,
			       const char *path, size_t plen)
{
	for (struct fc_entry *e = fc->tab[h & fc->mask]; e; e = e->hnext) {
		if (e->hash == h && e->root_fd == root_fd && e->plen == plen &&
		    memcmp(e->path, path, plen) == 0)
			return e;
	}
	return NULL;
}

void coil__fcache_free(struct fcache *fc)
{
	if (!fc)
		return;
	while (fc->head)
		unlink_entry(fc, fc->head);
	free(fc->tab);
	free(fc);
}

struct fc_entry *coil__fcache_get(struct fcache *fc, int root_fd,
				  const char *path, size_t plen,
				  uint64_t now_ns, int *fresh)
{
	uint32_t h = key_hash(root_fd, path, plen);
	struct fc_entry *e = lookup(fc, h, root_fd, path, plen);

	if (!e) {
		fc->n.misses++;
		return NULL;
	}
	*fresh = now_ns - e->checked_ns < fc->lim.valid_ns;
	if (*fresh)
		fc->n.hits++;
	lru_front(fc, e);
	e->refs++;
	return e;
}

/* The same file as when @old was checked? (a file rewritten in place
 * changes its mtime and ctime; one replaced by rename(2) its inode) */
static int same_file(const struct statx *a, const struct statx *b)
{
	return a->stx_ino == b->stx_ino &&
	       a->stx_dev_major == b->stx_dev_major &&
	       a->stx_dev_minor == b->stx_dev_minor &&
	       a->stx_size == b->stx_size &&
	       a->stx_mtime.tv_sec == b->stx_mtime.tv_sec &&
	       a->stx_mtime.tv_nsec == b->stx_mtime.tv_nsec &&
	       a->stx_ctime.tv_sec == b->stx_ctime.tv_sec &&
	       a->stx_ctime.tv_nsec == b->stx_ctime.tv_nsec;
}

int coil__fcache_recheck(struct fcache *fc, struct fc_entry *e,
			 const struct statx *stx, uint64_t now_ns)
{
	if (!e->linked || !same_file(&e->stx, stx)) {
		fc->n.misses++;
		return 0;
	}
	e->checked_ns = now_ns;
	fc->n.hits++;
	return 1;
}

struct fc_entry *coil__fcache_put(struct fcache *fc, int root_fd,
				  const char *path, size_t plen, int fd,
				  const struct statx *stx, uint64_t now_ns)
{
	uint32_t h = key_hash(root_fd, path, plen);
	struct fc_entry *old = lookup(fc, h, root_fd, path, plen);
	struct fc_entry *e = malloc(sizeof(*e) + plen + 1);

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->fd = fd;
	e->root_fd = root_fd;
	e->hash = h;
	e->stx = *stx;
	e->checked_ns = now_ns;
	e->refs = 1;
	e->linked = 1;
	e->plen = plen;
	memcpy(e->path, path, plen);
	e->path[plen] = '\0';
	if (old) {
		/* checked again and unchanged: its content goes on (when no
		 * exchange sends from it, else it is read anew) */
		if (old->data && old->refs == 0 && same_file(&old->stx, stx)) {
			e->data = old->data;
			old->data = NULL;
		}
		unlink_entry(fc, old);
	} else if (fc->n.files >= fc->lim.files) {
		unlink_entry(fc, fc->tail);
	}
	e->hnext = fc->tab[h & fc->mask];
	fc->tab[h & fc->mask] = e;
	e->next = fc->head;
	if (fc->head)
		fc->head->prev = e;
	else
		fc->tail = e;
	fc->head = e;
	fc->n.files++;
	return e;
}

void coil__fcache_forget(struct fcache *fc, int root_fd, const char *path,
			 size_t plen)
{
	uint32_t h = key_hash(root_fd, path, plen);
	struct fc_entry *e = lookup(fc, h, root_fd, path, plen);

	if (e)
		unlink_entry(fc, e);
}

int coil__fcache_fill(struct fcache *fc, struct fc_entry *e, const void *buf,
		      size_t len)
{
	if (e->data || !e->linked || len == 0 || len != e->stx.stx_size ||
	    len > fc->lim.file_bytes || len > fc->lim.mem_bytes)
		return 0;
	/* room: drop the least recently used contents nobody sends from */
	for (struct fc_entry *v = fc->tail;
	     v && fc->n.mem_bytes + len > fc->lim.mem_bytes; v = v->prev) {
		if (v->data && v->refs == 0)
			drop_data(fc, v);
	}
	if (fc->n.mem_bytes + len > fc->lim.mem_bytes)
		return 0;
	e->data = malloc(len);
	if (!e->data)
		return 0;
	memcpy(e->data, buf, len);
	fc->n.mem_bytes += len;
	return 1;
}

void coil__fcache_unref(struct fcache *fc, struct fc_entry *e)
{
	if (--e->refs == 0 && !e->linked)
		destroy(fc, e);
}

void coil__fcache_counts(const struct fcache *fc, struct fcache_counts *out)
{
	if (fc)
		*out = fc->n;
	else
		memset(out, 0, sizeof(*out));
}
