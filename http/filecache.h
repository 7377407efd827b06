/*
 * http/filecache.h - the server's open-file cache (http/server_filecache.c),
 * as nginx's open_file_cache: per path under a root, the open descriptor
 * and its statx(2) result, trusted for a validity window
 * (coil_http_server_opts.file_cache_valid_ns) and then checked again by a
 * statx of the path (the same file: trusted for another window; else the
 * path is opened anew and the entry replaced); for small files the content too,
 * so that a response leaves from memory with its head in one send. Private to
 * http/; used by server_file.c (lookups, fills) and server.c (release,
 * free, stats). Calls nothing else of http/.
 *
 * One cache per server, so per loop and thread: no locks. An entry is
 * counted (refs) by every exchange sending from it; an entry replaced
 * or evicted while in use is unlinked and freed by its last release.
 */
#ifndef COIL_HTTP_FILECACHE_H
#define COIL_HTTP_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct fc_entry {
	struct fc_entry *hnext;	      /* hash chain */
	struct fc_entry *prev, *next; /* LRU list, most recent first */
	uint64_t checked_ns;	      /* opened or checked at (coil_now()) */
	unsigned refs;		      /* exchanges using fd or data */
	unsigned linked;	      /* in the table (else freed at refs 0) */
	int fd;			      /* owned: closed when the entry goes */
	int root_fd;
	uint32_t hash;
	struct statx stx; /* as the open path's statx gave it */
	char *data;	  /* the whole file (stx_size bytes), or NULL */
	size_t plen;
	char path[]; /* NUL-terminated, plen bytes before the NUL */
};

struct fcache;

struct fcache_limits {
	uint64_t valid_ns; /* an entry is trusted this long after its check */
	unsigned files;	   /* entries at most (least recently used go) */
	size_t mem_bytes;  /* file contents held at most; 0: none */
	size_t file_bytes; /* the largest file whose content is kept */
};

struct fcache_counts {
	uint64_t hits;	  /* fresh entries, and stale ones found unchanged */
	uint64_t misses;  /* no entry, or one found changed: opened */
	unsigned files;	  /* entries in the table */
	size_t mem_bytes; /* content bytes allocated (in use included) */
};

/* A cache with these limits; NULL on -ENOMEM. */
struct fcache *coil__fcache_new(const struct fcache_limits *lim);
/* Close and free everything; no entry may be in use. NULL is a no-op. */
void coil__fcache_free(struct fcache *fc);

/* The entry of (@root_fd, @path), counted (release it with
 * coil__fcache_unref()), or NULL (a miss). *@fresh: 1 when it was checked
 * less than the window before @now_ns (a hit); 0 when it must be checked
 * again first (coil__fcache_recheck()). */
struct fc_entry *coil__fcache_get(struct fcache *fc, int root_fd,
				  const char *path, size_t plen,
				  uint64_t now_ns, int *fresh);

/* A stale entry's path, statx'ed anew (@stx): if it is still the same
 * file (inode, device, size, mtime and ctime) the entry is trusted for
 * another window from @now_ns and 1 is returned (a hit); else 0 (a miss:
 * the caller opens the path, and its put replaces the entry). */
int coil__fcache_recheck(struct fcache *fc, struct fc_entry *e,
			 const struct statx *stx, uint64_t now_ns);

/* A file just opened and statx'ed at (@root_fd, @path): the cache takes
 * @fd and returns its new entry, counted; it replaces an older entry of
 * the path (whose content it keeps when the file is the same: inode,
 * size, mtime and ctime equal). NULL (-ENOMEM): @fd stays the caller's. */
struct fc_entry *coil__fcache_put(struct fcache *fc, int root_fd,
				  const char *path, size_t plen, int fd,
				  const struct statx *stx, uint64_t now_ns);

/* The path could not be opened (gone, forbidden): drop its entry. */
void coil__fcache_forget(struct fcache *fc, int root_fd, const char *path,
			 size_t plen);

/* @e's whole content, @len bytes read at offset 0 in one read: kept when
 * the limits allow (the least recently used contents not in use are
 * dropped to make room). Return: 1 kept, 0 not. */
int coil__fcache_fill(struct fcache *fc, struct fc_entry *e, const void *buf,
		      size_t len);

/* An exchange is done with @e. */
void coil__fcache_unref(struct fcache *fc, struct fc_entry *e);

void coil__fcache_counts(const struct fcache *fc, struct fcache_counts *out);

#endif
