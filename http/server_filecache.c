/*
 * http/server_filecache.c - the server's open-file cache (http/filecache.h):
 * a hash table of entries keyed by (root fd, path), an LRU list that caps
 * their number, the contents of small files under a memory cap (copied)
 * and of larger ones under the same cap (pinned: mapped and locked), and
 * the inotify(7) watches that make an entry exact.
 *
 * Why inotify, not a time window or a check per request: a window (nginx's
 * open_file_cache_valid) serves a changed file for up to its length, and a
 * statx(2) per request costs a system call or, through the ring, an io-wq
 * hand-off (IORING_OP_STATX is always punted to a worker: io_statx_prep()
 * sets REQ_F_FORCE_ASYNC). A watch costs nothing per request: the kernel
 * queues an event when the file or a directory on its path changes, and
 * the loop drops the entries it names. The events of a change made before
 * a request is sent are read before that request: the poll's completion is
 * queued when the event is, ahead of the request's receive.
 *
 * What is watched, per entry: each directory from the root down to the
 * file's own (IN_CREATE, IN_DELETE, IN_MOVED_FROM/TO: a name replaced or
 * gone; IN_ATTRIB: permissions; IN_DELETE_SELF, IN_MOVE_SELF), added by
 * path through /proc/self/fd/ROOT without following a symbolic link, and
 * the file through its own descriptor (IN_MODIFY, IN_CLOSE_WRITE,
 * IN_ATTRIB, IN_DELETE_SELF, IN_MOVE_SELF). Then the path is statx'ed once
 * more: if it still leads to the inode that was opened, the chain of
 * watches is the path's, and a change after that raises an event (a
 * change between the open and the watches is caught by that check, or
 * by the event of a watch added before it). Watches are shared (the
 * kernel gives one per inode) and counted; the last entry to let go of
 * one removes it. A file system whose changes inotify may not see (NFS,
 * FUSE, anything not on the list in local_fs()) is not cached, nor a
 * file a watch cannot be added for (ENOSPC: fs.inotify.max_user_watches),
 * nor one reached through a symbolic link, nor any without /proc
 * mounted (the watches are added through it). IN_Q_OVERFLOW (events lost:
 * fs.inotify.max_queued_events) drops every entry. Not seen: writes
 * through a shared mmap(2) (inotify(7) reports none); such a writer must
 * publish by rename(2) or close it (IN_CLOSE_WRITE).
 *
 * The inotify descriptor is O_NONBLOCK, polled through the ring
 * (IORING_OP_POLL_ADD, re-armed) and read with read(2) when it is ready:
 * a system call only when files changed. (A ring read of it waits for an
 * event without an io-wq worker on 6.18, measured; where a kernel cannot
 * read it without blocking, a ring read would end at once with -EAGAIN
 * or hold a worker, and the poll works the same on all of them.)
 *
 * Only the loop's thread touches it. Descriptors are closed here with
 * close(2), and watches removed with inotify_rm_watch(2), when an entry
 * goes (per change or eviction, not per request).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "coil/engine.h"
#include "filecache.h"

#define FILE_MASK                                                              \
	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF)
#define DIR_MASK                                                               \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |     \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define EVBUF (16 * 1024)

/* One inotify watch descriptor, shared by the entries that depend on it. */
struct fc_watch {
	struct fc_watch *hnext; /* by wd */
	struct fc_dep *deps;	/* entries' links to it */
	unsigned refs;		/* deps, and a pin while its events run */
	int wd;
	unsigned gone; /* the kernel removed it (IN_IGNORED) */
};

struct fcache {
	struct coil_loop *loop;
	struct fc_entry **tab;
	struct fc_watch **wtab;
	unsigned mask;
	struct fc_entry *head, *tail; /* LRU */
	struct fcache_limits lim;
	struct fcache_counts n;
	int ifd;	      /* inotify */
	int broken;	      /* reading events failed: caches nothing */
	struct coil_op pop;   /* the poll on ifd */
	struct coil_op *done; /* posted when stopped */
	union {
		struct inotify_event align;
		char buf[EVBUF];
	} ev;
};

static void poll_cb(struct coil_op *op, int res, unsigned flags);

static uint32_t key_hash(int root_fd, const char *path, size_t plen)
{
	uint32_t h = 2166136261u ^ (uint32_t)root_fd; /* FNV-1a */
	for (size_t i = 0; i < plen; i++) {
		h ^= (unsigned char)path[i];
		h *= 16777619u;
	}
	return h;
}

static int arm(struct fcache *fc)
{
	fc->pop.cb = poll_cb;
	return coil_poll(fc->loop, &fc->pop, fc->ifd, POLLIN);
}

struct fcache *coil__fcache_new(struct coil_loop *loop,
				const struct fcache_limits *lim, int *err)
{
	struct fcache *fc = calloc(1, sizeof(*fc));
	unsigned size = 16;

	*err = -ENOMEM;
	if (!fc)
		return NULL;
	fc->loop = loop;
	fc->lim = *lim;
	if (fc->lim.files == 0)
		fc->lim.files = 1;
	while (size < 2 * fc->lim.files && size < (1u << 24))
		size <<= 1;
	fc->tab = calloc(size, sizeof(*fc->tab));
	fc->wtab = calloc(size, sizeof(*fc->wtab));
	fc->mask = size - 1;
	fc->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fc->ifd < 0)
		*err = -errno;
	else if (fc->tab && fc->wtab && (*err = arm(fc)) == 0)
		return fc;
	if (fc->ifd >= 0)
		close(fc->ifd);
	free(fc->tab);
	free(fc->wtab);
	free(fc);
	return NULL;
}

/* ---- watches --------------------------------------------------------- */

static struct fc_watch *watch_find(const struct fcache *fc, int wd)
{
	struct fc_watch *w = fc->wtab[(unsigned)wd & fc->mask];
	while (w && w->wd != wd)
		w = w->hnext;
	return w;
}

static void watch_release(struct fcache *fc, struct fc_watch *w)
{
	struct fc_watch **pp = &fc->wtab[(unsigned)w->wd & fc->mask];

	if (--w->refs)
		return;
	while (*pp != w)
		pp = &(*pp)->hnext;
	*pp = w->hnext;
	if (!w->gone) /* its IN_IGNORED comes later and finds no watch */
		inotify_rm_watch(fc->ifd, w->wd);
	free(w);
}

/* Watch @path (a /proc/self/fd path) with @mask and link @d of @e to it.
 * Return: 0, or -errno from inotify_add_watch(2) (ENOTDIR: a symbolic
 * link where a directory was asked for; ENOSPC: no watches left). */
static int dep_add(struct fcache *fc, struct fc_entry *e, struct fc_dep *d,
		   const char *path, uint32_t mask)
{
	int wd = inotify_add_watch(fc->ifd, path, mask);
	struct fc_watch *w;

	if (wd < 0)
		return -errno;
	w = watch_find(fc, wd);
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w) {
			inotify_rm_watch(fc->ifd, wd);
			return -ENOMEM;
		}
		w->wd = wd;
		w->hnext = fc->wtab[(unsigned)wd & fc->mask];
		fc->wtab[(unsigned)wd & fc->mask] = w;
	}
	w->refs++;
	d->w = w;
	d->e = e;
	d->prev = NULL;
	d->next = w->deps;
	if (w->deps)
		w->deps->prev = d;
	w->deps = d;
	e->ndeps++;
	return 0;
}

static void deps_release(struct fcache *fc, struct fc_entry *e)
{
	for (unsigned i = 0; i < e->ndeps; i++) {
		struct fc_dep *d = &e->deps[i];
		if (d->prev)
			d->prev->next = d->next;
		else
			d->w->deps = d->next;
		if (d->next)
			d->next->prev = d->prev;
		watch_release(fc, d->w);
	}
	e->ndeps = 0;
}

/* File systems whose every change goes through this kernel's VFS, so
 * that inotify sees it (statfs(2)'s f_type). Network and FUSE file
 * systems change under it unseen. */
static int local_fs(int fd)
{
	static const long magic[] = {
		0xEF53,	    /* ext2, ext3, ext4 */
		0x58465342, /* xfs */
		0x9123683E, /* btrfs */
		0x01021994, /* tmpfs */
		0x858458F6, /* ramfs */
		0xF2F52010, /* f2fs */
		0x2FC12FC1, /* zfs */
		0xCA451A4E, /* bcachefs */
		0x794C7630, /* overlayfs (changes through the overlay) */
		0x73717368, /* squashfs (read-only) */
		0x9660,	    /* iso9660 (read-only) */
	};
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if ((long)sf.f_type == magic[i])
			return 1;
	return 0;
}

/* Watch @e's directories from the root and the file (see the top of the
 * file), then check that its path leads to the inode opened. */
static int watch_entry(struct fcache *fc, struct fc_entry *e)
{
	char p[4200];
	int n = snprintf(p, sizeof(p), "/proc/self/fd/%d", e->root_fd);
	size_t start = 0, end;
	struct fc_dep *d;
	struct stat st;
	int ret;

	if (e->plen + (size_t)n + 2 > sizeof(p))
		return -ENAMETOOLONG;
	/* the directory holding each component: the root (through its
	 * /proc magic link), then each one below it, not followed if it is
	 * a symbolic link (IN_DONT_FOLLOW | IN_ONLYDIR: ENOTDIR) */
	for (;;) {
		for (end = start; end < e->plen && e->path[end] != '/'; end++)
			;
		p[n] = '\0';
		if (start) {
			p[n] = '/';
			memcpy(p + n + 1, e->path, start - 1);
			p[n + start] = '\0';
		}
		d = &e->deps[e->ndeps];
		d->name_off = (unsigned)start;
		d->name_len = (unsigned)(end - start);
		ret = dep_add(fc, e, d, p,
			      DIR_MASK | (start ? IN_DONT_FOLLOW : 0));
		if (ret < 0)
			return ret;
		if (end >= e->plen)
			break;
		start = end + 1;
	}
	/* the file, through its descriptor: the inode opened */
	snprintf(p, sizeof(p), "/proc/self/fd/%d", e->fd);
	d = &e->deps[e->ndeps];
	d->name_off = 0;
	d->name_len = 0;
	ret = dep_add(fc, e, d, p, FILE_MASK);
	if (ret < 0)
		return ret;
	if (fstatat(e->root_fd, e->path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (st.st_ino != e->stx.stx_ino ||
	    st.st_dev != makedev(e->stx.stx_dev_major, e->stx.stx_dev_minor))
		return -ESTALE; /* changed since the open, or a link */
	return 0;
}

/* ---- entries ---------------------------------------------------------- */

static void drop_data(struct fcache *fc, struct fc_entry *e)
{
	if (e->map) {
		/* munmap(2) unlocks the pages too */
		fc->n.mem_bytes -= (size_t)e->stx.stx_size;
		fc->n.pin_bytes -= (size_t)e->stx.stx_size;
		munmap(e->map, (size_t)e->stx.stx_size);
		e->map = NULL;
	}
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

/* Out of the table, the LRU list and the watches; freed now or by its
 * last release. */
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
	deps_release(fc, e);
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

static void drop_all(struct fcache *fc)
{
	while (fc->head)
		unlink_entry(fc, fc->head);
}

int coil__fcache_stop(struct fcache *fc, struct coil_op *done)
{
	if (!fc || !coil_op_busy(&fc->pop))
		return 0;
	if (!fc->done) {
		fc->done = done;
		coil_cancel(fc->loop, &fc->pop);
	}
	return 1;
}

void coil__fcache_free(struct fcache *fc)
{
	if (!fc)
		return;
	drop_all(fc);
	close(fc->ifd);
	free(fc->tab);
	free(fc->wtab);
	free(fc);
}

struct fc_entry *coil__fcache_get(struct fcache *fc, int root_fd,
				  const char *path, size_t plen)
{
	uint32_t h = key_hash(root_fd, path, plen);
	struct fc_entry *e = lookup(fc, h, root_fd, path, plen);

	if (!e) {
		fc->n.misses++;
		return NULL;
	}
	fc->n.hits++;
	lru_front(fc, e);
	e->refs++;
	return e;
}

static struct fc_entry *entry_new(int root_fd, const char *path, size_t plen,
				  int fd, const struct statx *stx)
{
	unsigned ndeps = 2; /* the root, the file */
	size_t off = (sizeof(struct fc_entry) + plen + 1 + 15) & ~(size_t)15;
	struct fc_entry *e;

	for (size_t i = 0; i < plen; i++)
		ndeps += path[i] == '/';
	e = malloc(off + ndeps * sizeof(struct fc_dep));
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->deps = (struct fc_dep *)((char *)e + off);
	e->fd = fd;
	e->root_fd = root_fd;
	e->hash = key_hash(root_fd, path, plen);
	e->stx = *stx;
	e->refs = 1;
	e->plen = plen;
	memcpy(e->path, path, plen);
	e->path[plen] = '\0';
	return e;
}

struct fc_entry *coil__fcache_put(struct fcache *fc, int root_fd,
				  const char *path, size_t plen, int fd,
				  const struct statx *stx)
{
	struct fc_entry *e, *old;

	if (fc->broken || !local_fs(fd))
		goto unwatched;
	e = entry_new(root_fd, path, plen, fd, stx);
	if (!e)
		return NULL;
	if (watch_entry(fc, e) < 0) {
		deps_release(fc, e);
		free(e);
		goto unwatched;
	}
	/* two requests opened the path at once: the later entry stays */
	old = lookup(fc, e->hash, root_fd, path, plen);
	if (old)
		unlink_entry(fc, old);
	else if (fc->n.files >= fc->lim.files)
		unlink_entry(fc, fc->tail);
	e->linked = 1;
	e->hnext = fc->tab[e->hash & fc->mask];
	fc->tab[e->hash & fc->mask] = e;
	e->next = fc->head;
	if (fc->head)
		fc->head->prev = e;
	else
		fc->tail = e;
	fc->head = e;
	fc->n.files++;
	return e;
unwatched:
	fc->n.unwatched++;
	return NULL;
}

int coil__fcache_wants(const struct fcache *fc, const struct fc_entry *e)
{
	return !e->data && !e->map && e->linked && e->stx.stx_size > 0 &&
	       e->stx.stx_size <= fc->lim.file_bytes &&
	       e->stx.stx_size <= fc->lim.mem_bytes;
}

/* Room for @len more bytes of contents: the least recently used contents
 * nobody sends from go. Return: 1 there is room, 0 not. */
static int make_room(struct fcache *fc, size_t len)
{
	for (struct fc_entry *v = fc->tail;
	     v && fc->n.mem_bytes + len > fc->lim.mem_bytes; v = v->prev) {
		if ((v->data || v->map) && v->refs == 0)
			drop_data(fc, v);
	}
	return fc->n.mem_bytes + len <= fc->lim.mem_bytes;
}

int coil__fcache_fill(struct fcache *fc, struct fc_entry *e, const void *buf,
		      size_t len)
{
	if (!coil__fcache_wants(fc, e) || len != e->stx.stx_size)
		return 0;
	if (!make_room(fc, len))
		return 0;
	e->data = malloc(len);
	if (!e->data)
		return 0;
	memcpy(e->data, buf, len);
	fc->n.mem_bytes += len;
	return 1;
}

int coil__fcache_wants_pin(const struct fcache *fc, const struct fc_entry *e)
{
	return !e->data && !e->map && !e->nopin && e->linked &&
	       e->stx.stx_size > fc->lim.file_bytes &&
	       e->stx.stx_size <= fc->lim.mem_bytes;
}

int coil__fcache_pin(struct fcache *fc, struct fc_entry *e, int just_read)
{
	size_t len = (size_t)e->stx.stx_size;
	void *p;
	int ret = 1;

	if (!coil__fcache_wants_pin(fc, e) || (!just_read && e->nocheck))
		return 0;
	if (!just_read)
		ret = coil_file_cached(e->fd, 0, len);
	if (ret < 0) {
		/* no answer for this file, ever (EPERM: cachestat(2) answers
		 * only a process that owns the file or may write to it;
		 * ENOSYS: before Linux 6.5): pinned after a whole read */
		e->nocheck = 1;
		return 0;
	}
	if (ret == 0 || !make_room(fc, len))
		return 0;
	/* the pages are resident: mlock(2) only maps them (a page evicted
	 * in between would be read, the one wait on the disk left) */
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, e->fd, 0);
	if (p == MAP_FAILED) {
		e->nopin = 1;
		fc->n.pin_fails++;
		return 0;
	}
	if (mlock(p, len) < 0) {
		munmap(p, len);
		e->nopin = 1;
		fc->n.pin_fails++;
		return 0;
	}
	e->map = p;
	fc->n.mem_bytes += len;
	fc->n.pin_bytes += len;
	fc->n.pins++;
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

/* ---- events ------------------------------------------------------------ */

/* Does event @ev on @d's watch concern @d's entry? An event with a name
 * on a directory concerns the entry whose path holds that name there;
 * one without a name (the watched inode itself) concerns them all. */
static int dep_hit(const struct fc_dep *d, const struct inotify_event *ev)
{
	if (ev->len == 0 || d->name_len == 0)
		return 1;
	return strnlen(ev->name, ev->len) == d->name_len &&
	       memcmp(ev->name, d->e->path + d->name_off, d->name_len) == 0;
}

static void on_event(struct fcache *fc, const struct inotify_event *ev)
{
	struct fc_watch *w;
	struct fc_dep *d;

	if (ev->mask & IN_Q_OVERFLOW) {
		fc->n.overflows++;
		fc->n.drops += fc->n.files;
		drop_all(fc);
		return;
	}
	w = watch_find(fc, ev->wd);
	if (!w)
		return;
	if (ev->mask & IN_IGNORED)
		w->gone = 1; /* every entry on it goes below */
	w->refs++;	     /* pinned while its entries are unlinked */
	for (;;) {
		for (d = w->deps; d && !dep_hit(d, ev); d = d->next)
			;
		if (!d)
			break;
		fc->n.drops++;
		unlink_entry(fc, d->e);
	}
	watch_release(fc, w);
}

/* Read every queued event, non-blocking; then poll again. A read or a
 * poll that fails leaves the cache empty and caching nothing. */
static void poll_cb(struct coil_op *op, int res, unsigned flags)
{
	struct fcache *fc = coil_container_of(op, struct fcache, pop);
	ssize_t n = 0;

	(void)flags;
	if (fc->done) { /* stopped */
		coil_loop_post(fc->loop, fc->done, 0);
		return;
	}
	while (res >= 0 && (n = read(fc->ifd, fc->ev.buf, EVBUF)) > 0) {
		for (char *p = fc->ev.buf; p < fc->ev.buf + n;) {
			const struct inotify_event *ev = (void *)p;
			on_event(fc, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (res >= 0 && n < 0 && errno == EAGAIN && arm(fc) == 0)
		return;
	fc->broken = 1;
	drop_all(fc);
}
