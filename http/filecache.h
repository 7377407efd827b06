/*
 * http/filecache.h - the server's open-file cache (http/server_filecache.c):
 * per path under a root, the open descriptor and its statx(2) result, and
 * for small files the content too (larger ones: their pages pinned), so
 * that a response leaves from memory with its head in one send. An entry is
 * exact: it is trusted until inotify(7) reports a change to the file or to a
 * directory on its path from the root (then dropped, and the next request opens
 * the path anew), and a file that cannot be watched is not cached. Private to
 * http/; used by server_file.c (lookups, fills) and server.c (stop, free,
 * stats). Calls nothing else of http/.
 *
 * One cache per server, so per loop and thread: no locks. An entry is
 * counted (refs) by every exchange sending from it; an entry dropped or
 * evicted while in use is unlinked and freed by its last release.
 */
#ifndef COIL_HTTP_FILECACHE_H
#define COIL_HTTP_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct coil_loop;
struct coil_op;
struct fc_watch;
struct fc_entry;

/* An entry's link to one inotify watch: a directory on its path (the
 * component of the path that the directory holds: name_off, name_len) or
 * the file itself (name_len 0). */
struct fc_dep {
	struct fc_dep *prev, *next; /* in the watch's list */
	struct fc_watch *w;
	struct fc_entry *e;
	unsigned name_off, name_len;
};

struct fc_entry {
	struct fc_entry *hnext;	      /* hash chain */
	struct fc_entry *prev, *next; /* LRU list, most recent first */
	unsigned refs;		      /* exchanges using fd or data */
	unsigned linked;	      /* in the table (else freed at refs 0) */
	int fd;			      /* owned: closed when the entry goes */
	int root_fd;
	uint32_t hash;
	unsigned ndeps;	     /* watches held (deps[0..ndeps)) */
	struct fc_dep *deps; /* the directories from the root, the file */
	struct statx stx;    /* as the open path's statx gave it */
	char *data;	     /* the whole file (stx_size bytes), or NULL */
	char *map;	     /* or: the file mmap(2)ed and mlock(2)ed */
	unsigned nopin;	     /* mapping or locking it failed: not again */
	unsigned nocheck;    /* cachestat(2) cannot answer for it (EPERM) */
	size_t plen;
	char path[]; /* NUL-terminated, plen bytes before the NUL */
};

struct fcache;

struct fcache_limits {
	unsigned files;	   /* entries at most (least recently used go) */
	size_t mem_bytes;  /* file contents held at most; 0: none */
	size_t file_bytes; /* the largest file whose content is kept */
	/* larger files, up to mem_bytes each, are pinned instead: mapped
	 * and locked in memory (their pages stay in the page cache) */
};

struct fcache_counts {
	uint64_t hits;	    /* requests served from an entry */
	uint64_t misses;    /* no entry: the path was opened */
	uint64_t unwatched; /* files opened but not cached (no watch) */
	uint64_t drops;	    /* entries dropped by a change on disk */
	uint64_t overflows; /* inotify queue overflows (all dropped) */
	unsigned files;	    /* entries in the table */
	size_t mem_bytes;   /* content bytes allocated (in use included) */
	size_t pin_bytes;   /* of which pinned (mapped and locked) */
	uint64_t pins;	    /* files pinned */
	uint64_t pin_fails; /* mmap(2) or mlock(2) refused (RLIMIT_MEMLOCK) */
};

/* A cache with these limits on @loop, with its inotify descriptor and
 * its poll armed. NULL and *@err: -ENOMEM, or inotify_init1(2)'s error
 * (-EMFILE: fs.inotify.max_user_instances). */
struct fcache *coil__fcache_new(struct coil_loop *loop,
				const struct fcache_limits *lim, int *err);

/* Stop watching (before the loop's last turn): 0 when the cache's poll
 * is no longer in flight; 1 when it is being cancelled, and @done is
 * posted (coil_loop_post()) once it has ended. NULL is 0. */
int coil__fcache_stop(struct fcache *fc, struct coil_op *done);

/* Close and free everything; no entry may be in use, the cache stopped.
 * NULL is a no-op. */
void coil__fcache_free(struct fcache *fc);

/* The entry of (@root_fd, @path), counted (release it with
 * coil__fcache_unref()), or NULL (a miss). An entry is valid as long as
 * it is in the table. */
struct fc_entry *coil__fcache_get(struct fcache *fc, int root_fd,
				  const char *path, size_t plen);

/* A regular file just opened beneath @root_fd at @path, with @stx its
 * statx: watched (the directories from the root by path, the file
 * through its descriptor, then the path checked to lead to the same
 * inode without a symbolic link), the cache takes @fd and returns its new
 * entry, counted. NULL: not cached (a file system inotify cannot vouch
 * for, a symbolic link on the path, no watch to be had: ENOSPC from
 * fs.inotify.max_user_watches, -ENOMEM); @fd stays the caller's. */
struct fc_entry *coil__fcache_put(struct fcache *fc, int root_fd,
				  const char *path, size_t plen, int fd,
				  const struct statx *stx);

/* Would @e keep its content, if read whole? (the body is then read
 * rather than sent by sendfile, and kept from that read) */
int coil__fcache_wants(const struct fcache *fc, const struct fc_entry *e);

/* @e's whole content, @len bytes read at offset 0 in one read: kept when
 * the limits allow (the least recently used contents not in use are
 * dropped to make room). Return: 1 kept, 0 not. */
int coil__fcache_fill(struct fcache *fc, struct fc_entry *e, const void *buf,
		      size_t len);

/* Would @e be pinned (a file over lim.file_bytes, within mem_bytes, not
 * pinned nor refused before)? */
int coil__fcache_wants_pin(const struct fcache *fc, const struct fc_entry *e);

/* Pin @e's file if coil__fcache_wants_pin(): when every page of it is in
 * the page cache now (coil_file_cached(): the loop must not wait on the
 * disk; or @just_read: the caller has just read the whole file, so its
 * pages are), map it (mmap(2), read-only, shared) and lock it (mlock(2)),
 * so that its pages stay resident and a body goes from e->map with no
 * system call and no check. The least recently used contents not in use
 * are dropped to make room. An mmap(2) or mlock(2) that fails (EPERM, or
 * EAGAIN/ENOMEM under RLIMIT_MEMLOCK) leaves @e unpinned for good (it is
 * sent by sendfile). A cachestat(2) that cannot answer (EPERM for a file
 * the process neither owns nor may write, ENOSYS) is not asked again:
 * @e is pinned after a whole read then. Return: 1 pinned, 0 not. */
int coil__fcache_pin(struct fcache *fc, struct fc_entry *e, int just_read);

/* An exchange is done with @e. */
void coil__fcache_unref(struct fcache *fc, struct fc_entry *e);

void coil__fcache_counts(const struct fcache *fc, struct fcache_counts *out);

#endif
