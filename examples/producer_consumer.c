/*
 * examples/producer_consumer.c - producers and consumers around a
 * bounded queue, and waiting until every item is processed
 * (asyncio.Queue(maxsize), q.task_done(), await q.join()):
 *
 *     q = asyncio.Queue(maxsize=8)
 *     ... await q.put(item) ... item = await q.get(); ...; q.task_done()
 *     await q.join()
 *
 * In coil: a coil_queue of capacity 8. Two producers put 50 items each;
 * a put waits while the queue is full (back-pressure). Three consumers
 * get items and "process" each with a 1 ms ring timer, then mark it done
 * with coil_queue_task_done(). coil_queue_join() completes once all 100
 * are done; then the queue is closed and the consumers' waiting gets end
 * with COIL_ECLOSED.
 *
 * Run: run-with-peer.sh none producer_consumer
 */
#include "example.h"

#define PER_PRODUCER 50

struct producer {
	struct coil_op put;
	int next, id;
};

struct consumer {
	struct coil_op get, work;
	void *item;
	int handled;
};

static struct coil_loop *loop;
static struct coil_queue q;
static int items[2][PER_PRODUCER];
static int max_len;

static void produce(struct producer *p);
static void all_done(struct coil_op *op, int res, unsigned flags);
static struct coil_op join;
static int producing = 2;

static void put_done(struct coil_op *op, int res, unsigned flags)
{
	struct producer *p = coil_container_of(op, struct producer, put);
	(void)flags;
	if (res < 0)
		return;
	if (coil_queue_len(&q) > (unsigned)max_len)
		max_len = (int)coil_queue_len(&q);
	produce(p);
}

static void produce(struct producer *p)
{
	if (p->next == PER_PRODUCER) {
		/* the last producer done: wait for the consumers to finish
		 * what is queued (join counts items put, not items got) */
		if (--producing == 0) {
			coil_op_init(&join, all_done);
			coil_queue_join(&q, &join);
		}
		return;
	}
	coil_op_init(&p->put, put_done);
	coil_queue_put(&q, &p->put, &items[p->id][p->next++]);
}

static void consume(struct consumer *c);

static void worked(struct coil_op *op, int res, unsigned flags)
{
	struct consumer *c = coil_container_of(op, struct consumer, work);
	(void)res;
	(void)flags;
	(*(int *)c->item)++; /* processed once */
	c->handled++;
	coil_queue_task_done(&q);
	consume(c);
}

static void got(struct coil_op *op, int res, unsigned flags)
{
	struct consumer *c = coil_container_of(op, struct consumer, get);
	(void)flags;
	if (res < 0) /* COIL_ECLOSED: no more work */
		return;
	coil_op_init(&c->work, worked);
	coil_timeout(loop, &c->work, 1 * MS, 0);
}

static void consume(struct consumer *c)
{
	coil_op_init(&c->get, got);
	coil_queue_get(&q, &c->get, &c->item);
}

static int joined;

static void all_done(struct coil_op *op, int res, unsigned flags)
{
	(void)op;
	(void)flags;
	joined = 1;
	printf("join: %s, %u unfinished\n", coil_strerror(res),
	       coil_queue_unfinished(&q));
	coil_queue_close(&q); /* let the consumers stop */
}

int main(void)
{
	struct producer p[2] = {{.id = 0}, {.id = 1}};
	struct consumer c[3] = {0};

	loop = ex_loop();
	coil_queue_init(&q, loop, 8);
	for (int i = 0; i < 2; i++)
		produce(&p[i]);
	for (int i = 0; i < 3; i++)
		consume(&c[i]);
	coil_loop_run(loop, COIL_RUN_DEFAULT);

	printf("consumers handled %d, %d, %d; queue never over %d\n",
	       c[0].handled, c[1].handled, c[2].handled, max_len);
	EX_CHECK(joined);
	EX_CHECK(c[0].handled + c[1].handled + c[2].handled ==
		 2 * PER_PRODUCER);
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < PER_PRODUCER; k++)
			EX_CHECK(items[i][k] == 1);
	EX_CHECK(max_len <= 8);
	coil_queue_destroy(&q);
	coil_loop_free(loop);
	return 0;
}
