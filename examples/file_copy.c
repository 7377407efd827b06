/*
 * examples/file_copy.c - copy a file through the ring, several blocks in
 * flight (aiofiles; anyio.Path; asyncio with run_in_executor(shutil.copy)):
 *
 *     async with aiofiles.open(src, "rb") as i, aiofiles.open(dst, "wb") as o:
 *         while chunk := await i.read(1 << 16): await o.write(chunk)
 *
 * In coil: coil_openat() both files, then 4 blocks of 64 KiB each cycle
 * read -> write at their own offsets (coil_read()/coil_write() with an
 * explicit offset, so they need no ordering between them), each block's
 * write submitted from its read's callback; when every block is written,
 * coil_fsync() and coil_close(). No thread pool: the ring does the I/O
 * (regular files go to io-wq workers inside the kernel when they block).
 * The copy is then compared with the source.
 *
 * Run: run-with-peer.sh none file_copy
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "example.h"

#define BLOCK (64 * 1024)
#define INFLIGHT 4
#define SIZE (4 * 1024 * 1024 + 12345) /* not a multiple of BLOCK */

struct copy;

struct block {
	struct coil_op op;
	struct copy *cp;
	int64_t off;
	size_t len;
	char buf[BLOCK];
};

struct copy {
	struct coil_loop *loop;
	int in, out;
	int64_t next, size;
	int active, err, done;
	struct coil_op fin;
	struct block b[INFLIGHT];
};

static void start_read(struct block *b);

static void written(struct coil_op *op, int res, unsigned flags)
{
	struct block *b = coil_container_of(op, struct block, op);
	(void)flags;
	if (res < 0 || (size_t)res != b->len) { /* (short writes: no) */
		b->cp->err = res < 0 ? res : -EIO;
		b->cp->active--;
		return;
	}
	start_read(b);
}

static void read_done(struct coil_op *op, int res, unsigned flags)
{
	struct block *b = coil_container_of(op, struct block, op);
	(void)flags;
	if (res <= 0) {
		b->cp->err = res < 0 ? res : -EIO;
		b->cp->active--;
		return;
	}
	b->len = (size_t)res;
	coil_op_init(&b->op, written);
	coil_write(b->cp->loop, &b->op, b->cp->out, b->buf, b->len, b->off);
}

static void synced(struct coil_op *op, int res, unsigned flags)
{
	struct copy *cp = coil_container_of(op, struct copy, fin);
	(void)flags;
	cp->err = res;
	cp->done = 1;
}

/* Take the next block of the file, or finish when none is left. */
static void start_read(struct block *b)
{
	struct copy *cp = b->cp;
	if (cp->next >= cp->size || cp->err) {
		if (--cp->active == 0 && !cp->err) {
			coil_op_init(&cp->fin, synced);
			coil_fsync(cp->loop, &cp->fin, cp->out, 0);
		}
		return;
	}
	b->off = cp->next;
	cp->next += BLOCK;
	coil_op_init(&b->op, read_done);
	coil_read(cp->loop, &b->op, cp->in, b->buf, BLOCK, b->off);
}

/* open(2) through the ring, waiting here (set-up, not the pattern). */
struct opened {
	struct coil_op op;
	int done, res;
};

static void opened_cb(struct coil_op *op, int res, unsigned flags)
{
	struct opened *o = coil_container_of(op, struct opened, op);
	(void)flags;
	o->res = res;
	o->done = 1;
}

static int ring_open(struct coil_loop *loop, const char *path, int flags)
{
	struct opened o = {0};
	coil_op_init(&o.op, opened_cb);
	coil_openat(loop, &o.op, AT_FDCWD, path, flags, 0600);
	ex_run_until(loop, &o.done);
	return o.res;
}

int main(void)
{
	static struct copy cp;
	char dir[] = "/tmp/coil-copy-XXXXXX", src[64], dst[64];
	char *a = malloc(SIZE), *b = malloc(SIZE);
	FILE *f;

	if (!mkdtemp(dir) || !a || !b)
		return 1;
	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/dst", dir);
	for (size_t i = 0; i < SIZE; i++)
		a[i] = (char)(i * 2654435761u >> 13);
	f = fopen(src, "wb");
	fwrite(a, 1, SIZE, f);
	fclose(f);

	cp.loop = ex_loop();
	cp.in = ring_open(cp.loop, src, O_RDONLY | O_CLOEXEC);
	cp.out = ring_open(cp.loop, dst,
			   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
	EX_CHECK(cp.in >= 0 && cp.out >= 0);
	cp.size = SIZE;
	cp.active = INFLIGHT;
	for (int i = 0; i < INFLIGHT; i++) {
		cp.b[i].cp = &cp;
		start_read(&cp.b[i]);
	}
	ex_run_until(cp.loop, &cp.done);
	close(cp.in);
	close(cp.out);

	f = fopen(dst, "rb");
	size_t n = fread(b, 1, SIZE, f);
	fclose(f);
	printf("copied %zu bytes, %d blocks in flight: %s\n", n, INFLIGHT,
	       coil_strerror(cp.err));
	EX_CHECK(cp.err == 0 && n == SIZE && !memcmp(a, b, SIZE));
	unlink(src);
	unlink(dst);
	rmdir(dir);
	free(a);
	free(b);
	coil_loop_free(cp.loop);
	return 0;
}
