// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite pvblk_cq: the single completion exit, batched drains with a
 * budget, and user page pinning with stubbed extraction (pages of the
 * test, counted pins and unpins) and injected allocation failures.
 */
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/uio.h>
#include "core_test.h"

static struct pt_req *cq_done_req(struct pt_ctx *c, blk_status_t st)
{
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 0);

	pvblk_req_complete(&r->req, st);
	return r;
}

/* N completions, one drain: N ->complete() calls and one ->notify(). */
static void pvblk_cq_batch_one_notify(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 2);
	unsigned int i, first = 0;
	struct pt_req *r;

	for (i = 0; i < 10; i++) {
		r = cq_done_req(c, BLK_STS_OK);
		if (!i)
			first = r->id;
	}
	KUNIT_EXPECT_EQ(test, c->kicks, 10);
	KUNIT_EXPECT_EQ(test, c->completed, 0);
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(pvblk_dev_queue(c->dev, 0), 0),
			10);
	KUNIT_EXPECT_EQ(test, c->completed, 10);
	KUNIT_EXPECT_EQ(test, c->notifies, 1);
	/* FIFO: the llist is reversed back into submission order. */
	for (i = 0; i < 10; i++)
		KUNIT_EXPECT_EQ(test, c->order[i], first + i);
	/* An empty drain notifies nobody. */
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(pvblk_dev_queue(c->dev, 1), 0),
			0);
	KUNIT_EXPECT_EQ(test, c->notifies, 1);
}

/* A budget bounds each drain; the rest asks for another run. */
static void pvblk_cq_budget(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_queue *q = pvblk_dev_queue(c->dev, 0);
	unsigned int i, kicks, first = 0;
	struct pt_req *r;

	for (i = 0; i < 10; i++) {
		r = cq_done_req(c, BLK_STS_OK);
		if (!i)
			first = r->id;
	}
	kicks = c->kicks;
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(q, 4), 4);
	KUNIT_EXPECT_EQ(test, c->kicks, kicks + 1);
	KUNIT_EXPECT_EQ(test, c->notifies, 1);
	cq_done_req(c, BLK_STS_OK);		/* arrives meanwhile */
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(q, 4), 4);
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(q, 4), 3);
	KUNIT_EXPECT_EQ(test, c->notifies, 3);
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(q, 4), 0);
	KUNIT_EXPECT_EQ(test, c->notifies, 3);
	for (i = 0; i < 11; i++)
		KUNIT_EXPECT_EQ(test, c->order[i], first + i);
}

/* Batch counters: batches, requests per batch, largest batch. */
static void pvblk_cq_batch_stats(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_stats st;
	unsigned int i, n;

	pt_set_fake(c, 2048, 512, 128, 65536, 256);
	for (n = 1; n <= 3; n += 2) {
		pvblk_batch_start(&c->batch, pvblk_dev_queue(c->dev, 0));
		for (i = 0; i < n; i++)
			pvblk_batch_add(&c->batch,
					&pt_new_req(c, PVBLK_OP_FLUSH, 0)->req);
		pvblk_batch_finish(&c->batch);
	}
	/* Flushes are not barriers: all four run at once. */
	for (i = 0, n = 0; i < 8 && n < 4; i++) {
		pt_end_all_bios(c);
		n += pt_drain(c);
	}
	KUNIT_EXPECT_EQ(test, n, 4);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 4);
	pvblk_queue_stats(pvblk_dev_queue(c->dev, 0), &st);
	KUNIT_EXPECT_EQ(test, st.batches, 2);
	KUNIT_EXPECT_EQ(test, st.batch_reqs, 4);
	KUNIT_EXPECT_EQ(test, st.max_batch, 3);
	KUNIT_EXPECT_EQ(test, st.reqs[PVBLK_OP_FLUSH], 4);
	KUNIT_EXPECT_EQ(test, st.flushes, 4);
	KUNIT_EXPECT_EQ(test, st.barriers, 0);
	KUNIT_EXPECT_EQ(test, st.drained_reqs, 4);
	KUNIT_EXPECT_EQ(test, st.errors, 0);
}

/* The first error sticks; later OK or errors do not replace it. */
static void pvblk_cq_first_error_wins(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 0);

	atomic_set(&r->req.pending, 3);
	pvblk_req_put(&r->req, BLK_STS_OK);
	pvblk_req_put(&r->req, BLK_STS_MEDIUM);
	KUNIT_EXPECT_EQ(test, c->kicks, 0);
	pvblk_req_put(&r->req, BLK_STS_IOERR);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_MEDIUM));
}

/* Completion from hard-irq-like context (interrupts off) is fine. */
static void pvblk_cq_complete_irqs_off(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 0);
	unsigned long flags;

	local_irq_save(flags);
	pvblk_req_complete(&r->req, BLK_STS_IOERR);
	local_irq_restore(flags);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_IOERR));
	KUNIT_EXPECT_EQ(test, c->kicks, 1);
}

/* Destroy hands completions the worker never drained back. */
static void pvblk_cq_destroy_completes_leftovers(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_dev *dev = c->dev;
	struct pt_req *r;

	/* A second device on the same transport, destroyed by hand. */
	c->dev = pvblk_dev_create("pvblk-cq-leftover", dev->ops, c, 2, 4,
				  PVBLK_REQ_SIZE(struct pt_req, req));
	KUNIT_ASSERT_FALSE(test, IS_ERR(c->dev));
	r = pt_new_req(c, PVBLK_OP_READ, 0);
	r->req.q = pvblk_dev_queue(c->dev, 1);
	pvblk_req_complete(&r->req, BLK_STS_IOERR);
	pvblk_dev_destroy(c->dev);	/* frees @r with its pool */
	c->dev = dev;
	KUNIT_EXPECT_EQ(test, c->completed, 1);
	KUNIT_EXPECT_EQ(test, pt_sts(c->last_status), pt_sts(BLK_STS_IOERR));
	KUNIT_EXPECT_EQ(test, c->notifies, 1);
}

/* A pool of two: a third request waits until one comes back. */
static void pvblk_cq_pool_exhaustion(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_dev *dev = c->dev;
	struct pvblk_queue *q;
	struct pvblk_req *a, *b;
	struct pvblk_stats st;

	c->dev = pvblk_dev_create("pvblk-cq-pool", dev->ops, c, 1, 2,
				  PVBLK_REQ_SIZE(struct pt_req, req));
	KUNIT_ASSERT_FALSE(test, IS_ERR(c->dev));
	q = pvblk_dev_queue(c->dev, 0);
	a = pvblk_req_get(q);
	b = pvblk_req_get(q);
	KUNIT_EXPECT_NOT_NULL(test, a);
	KUNIT_EXPECT_NOT_NULL(test, b);
	KUNIT_EXPECT_PTR_NE(test, a, b);
	KUNIT_EXPECT_NULL(test, pvblk_req_get(q));
	pvblk_queue_stats(q, &st);
	KUNIT_EXPECT_EQ(test, st.pool_empty, 1);
	/* Handed back through the one exit, @a is free again. */
	pvblk_batch_start(&c->batch, q);
	pvblk_batch_fail(&c->batch, a, BLK_STS_IOERR);
	pvblk_batch_finish(&c->batch);
	KUNIT_EXPECT_NULL(test, pvblk_req_get(q));	/* not drained yet */
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(q, 0), 1);
	KUNIT_EXPECT_PTR_EQ(test, pvblk_req_get(q), a);
	container_of(a, struct pt_req, req)->done = false;
	pvblk_batch_start(&c->batch, q);
	pvblk_batch_fail(&c->batch, a, BLK_STS_IOERR);
	pvblk_batch_fail(&c->batch, b, BLK_STS_IOERR);
	pvblk_batch_finish(&c->batch);
	pvblk_dev_destroy(c->dev);
	c->dev = dev;
	KUNIT_EXPECT_EQ(test, c->completed, 3);
}

static void cq_restore_cap(void *data)
{
	pvblk_max_inflight = (uintptr_t)data;
}

/* Hand @req back through the one exit and drain its queue. */
static void cq_give_back(struct pt_ctx *c, struct pvblk_req *req)
{
	pvblk_batch_start(&c->batch, req->q);
	pvblk_batch_fail(&c->batch, req, BLK_STS_IOERR);
	pvblk_batch_finish(&c->batch);
	KUNIT_EXPECT_EQ(c->test, pvblk_queue_drain(req->q, 0), 1);
}

/*
 * max_inflight caps the requests out of all pools of a device: over it,
 * pvblk_req_get() refuses on every queue although the pools are not
 * empty; a request coming back on one queue wakes the others (their
 * drain calls ops->notify() with nothing completed).
 */
static void pvblk_cq_inflight_cap(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 2);
	struct pvblk_queue *q0 = pvblk_dev_queue(c->dev, 0);
	struct pvblk_queue *q1 = pvblk_dev_queue(c->dev, 1);
	struct pvblk_req *a, *b, *d, *e;
	void *saved = (void *)(uintptr_t)pvblk_max_inflight;
	unsigned int notifies;
	struct pvblk_stats st;

	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, cq_restore_cap,
							saved), 0);
	pvblk_max_inflight = 3;
	a = pvblk_req_get(q0);
	b = pvblk_req_get(q0);
	d = pvblk_req_get(q1);
	KUNIT_ASSERT_NOT_NULL(test, a);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_ASSERT_NOT_NULL(test, d);
	KUNIT_EXPECT_NULL(test, pvblk_req_get(q1));
	KUNIT_EXPECT_NULL(test, pvblk_req_get(q0));
	pvblk_queue_stats(q1, &st);
	KUNIT_EXPECT_EQ(test, st.capped, 1);
	KUNIT_EXPECT_EQ(test, st.pool_empty, 0);

	cq_give_back(c, a);			/* queue 0 */
	notifies = c->notifies;
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(q1, 0), 0);
	KUNIT_EXPECT_EQ(test, c->notifies, notifies + 1);
	e = pvblk_req_get(q1);
	KUNIT_EXPECT_NOT_NULL(test, e);
	KUNIT_EXPECT_NULL(test, pvblk_req_get(q0));

	/* Without a cap only the pools bound it. */
	pvblk_max_inflight = 0;
	a = pvblk_req_get(q0);
	KUNIT_EXPECT_NOT_NULL(test, a);
	if (a)
		cq_give_back(c, a);
	cq_give_back(c, b);
	cq_give_back(c, d);
	if (e)
		cq_give_back(c, e);
	KUNIT_EXPECT_EQ(test, c->completed, 5);
}

/* A request the transport could not decode leaves through ->complete(). */
static void pvblk_cq_prefailed(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_queue *q = pvblk_dev_queue(c->dev, 0);
	struct pt_req *r1, *r2;
	struct pvblk_stats st;

	pt_set_fake(c, 2048, 512, 128, 65536, 256);
	r1 = pt_new_req(c, PVBLK_OP_READ, 0);
	r2 = pt_new_req(c, PVBLK_OP_WRITE, 0);
	pvblk_batch_start(&c->batch, q);
	pvblk_batch_fail(&c->batch, &r1->req, BLK_STS_NOTSUPP);
	pvblk_batch_fail(&c->batch, &r2->req, BLK_STS_OK);	/* not OK */
	KUNIT_EXPECT_EQ(test, atomic_read(&q->inflight), 0);
	pvblk_batch_finish(&c->batch);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 0);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 2);
	KUNIT_EXPECT_EQ(test, c->notifies, 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r1->status), pt_sts(BLK_STS_NOTSUPP));
	KUNIT_EXPECT_EQ(test, pt_sts(r2->status), pt_sts(BLK_STS_IOERR));
	pvblk_queue_stats(q, &st);
	KUNIT_EXPECT_EQ(test, st.batch_reqs, 2);
	KUNIT_EXPECT_EQ(test, st.errors, 2);
	KUNIT_EXPECT_EQ(test, pvblk_epoch_count(c->dev, NULL), 1);
}

/* Sum of a latency histogram. */
static u64 cq_hist_sum(const struct pvblk_stats *st, unsigned int from)
{
	u64 n = 0;

	for (; from < PVBLK_LAT_BUCKETS; from++)
		n += st->lat_hist[from];
	return n;
}

/*
 * Latency stats: from entering the core to the drain.  Two requests wait
 * at least 3 ms before the drain: 3 ms >> 10 has 12 significant bits, so
 * both land in bucket 12 or above, and the histogram adds up to the
 * completions.
 */
static void pvblk_cq_latency_stats(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_queue *q = pvblk_dev_queue(c->dev, 0);
	struct pvblk_stats st;
	unsigned int i, n;
	u64 t0, elapsed;

	pt_set_fake(c, 2048, 512, 128, 65536, 256);
	t0 = ktime_get_ns();
	pvblk_batch_start(&c->batch, q);
	pvblk_batch_add(&c->batch, &pt_new_req(c, PVBLK_OP_FLUSH, 0)->req);
	pvblk_batch_fail(&c->batch, &pt_new_req(c, PVBLK_OP_READ, 0)->req,
			 BLK_STS_IOERR);
	pvblk_batch_finish(&c->batch);
	fsleep(3 * USEC_PER_MSEC);
	for (i = 0, n = 0; i < 8 && n < 2; i++) {
		pt_end_all_bios(c);
		n += pt_drain(c);
	}
	KUNIT_EXPECT_EQ(test, n, 2);
	elapsed = ktime_get_ns() - t0;
	pvblk_queue_stats(q, &st);
	KUNIT_EXPECT_EQ(test, st.drained_reqs, 2);
	KUNIT_EXPECT_EQ(test, cq_hist_sum(&st, 0), 2);
	KUNIT_EXPECT_EQ(test, cq_hist_sum(&st, 12), 2);
	KUNIT_EXPECT_GE(test, st.lat_ns, 2 * 3000000ULL);
	KUNIT_EXPECT_LE(test, st.lat_ns, 2 * elapsed);
}

static bool cq_fail_alloc(void)
{
	struct pt_ctx *c = kunit_get_current_test()->priv;

	return ++c->fail_calls == c->fail_call_at;
}

/* Each allocation of pvblk_dev_create() failing in turn: -ENOMEM. */
static void pvblk_cq_dev_create_alloc_failure(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_dev *dev = ERR_PTR(-ENOMEM);

	kunit_activate_static_stub(test, pvblk_fail_alloc, cq_fail_alloc);
	for (c->fail_call_at = 1; c->fail_call_at < 32; c->fail_call_at++) {
		c->fail_calls = 0;
		dev = pvblk_dev_create("pvblk-cq-nomem", c->dev->ops, c, 3, 8,
				       PVBLK_REQ_SIZE(struct pt_req, req));
		if (!IS_ERR(dev))
			break;
		KUNIT_EXPECT_EQ(test, PTR_ERR(dev), -ENOMEM);
	}
	/* dev, name, queues, 3 x (per-cpu stats, request pool), epoch pool. */
	KUNIT_EXPECT_EQ(test, c->fail_call_at, 11);
	KUNIT_ASSERT_FALSE(test, IS_ERR(dev));
	pvblk_dev_destroy(dev);
}

/* -- pinning ---------------------------------------------------------------- */

struct pin_fake {
	struct page *pages;		/* backing of the fake user buffer */
	unsigned int extracts;
	unsigned int fail_extract_at;	/* 1-based; 0: never */
	unsigned int pinned;
	unsigned int unpinned;
	unsigned int dirtied;
	unsigned int seg_allocs;
	bool fail_seg_alloc;
	unsigned long base;		/* fake user address of pages[0] */
};

static struct pin_fake *pin_fake_of(void)
{
	struct kunit *test = kunit_get_current_test();
	struct pt_ctx *c = test->priv;

	return c->extra;
}

/* Maps the user address range onto pf->pages, advancing the iterator. */
static ssize_t pin_extract(struct iov_iter *iter, struct page **pages,
			   size_t maxsize, unsigned int maxpages,
			   size_t *offset)
{
	struct pin_fake *pf = pin_fake_of();
	unsigned long addr = (unsigned long)iter_iov_addr(iter);
	size_t len = min(maxsize, iov_iter_count(iter));
	unsigned long first = (addr - pf->base) >> PAGE_SHIFT;
	unsigned int i, n;

	pf->extracts++;
	if (pf->fail_extract_at && pf->extracts == pf->fail_extract_at)
		return -EFAULT;
	*offset = offset_in_page(addr);
	n = DIV_ROUND_UP(*offset + len, PAGE_SIZE);
	if (n > maxpages) {
		n = maxpages;
		len = n * PAGE_SIZE - *offset;
	}
	for (i = 0; i < n; i++)
		pages[i] = pf->pages + first + i;
	pf->pinned += n;
	iov_iter_advance(iter, len);
	return len;
}

static void pin_unpin(struct page *page, bool dirty)
{
	struct pin_fake *pf = pin_fake_of();

	pf->unpinned++;
	if (dirty)
		pf->dirtied++;
}

static struct pvblk_seg *pin_alloc_segs(unsigned int nr)
{
	struct pin_fake *pf = pin_fake_of();

	pf->seg_allocs++;
	if (pf->fail_seg_alloc)
		return NULL;
	return kmalloc_array(nr, sizeof(struct pvblk_seg), GFP_KERNEL);
}

static struct pin_fake *pin_setup(struct kunit *test, struct pt_ctx **cp)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pin_fake *pf = kunit_kzalloc(test, sizeof(*pf), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, pf);
	pf->pages = pt_alloc_pages(test, 5);
	pf->base = 0x10000000UL;
	c->extra = pf;
	kunit_activate_static_stub(test, pvblk_extract_pages, pin_extract);
	kunit_activate_static_stub(test, pvblk_unpin_page, pin_unpin);
	kunit_activate_static_stub(test, pvblk_alloc_segs, pin_alloc_segs);
	*cp = c;
	return pf;
}

static void pin_iter(struct pin_fake *pf, struct iov_iter *iter, int dir,
		     unsigned long off, size_t len)
{
	iov_iter_ubuf(iter, dir, (void __user *)(pf->base + off), len);
}

/* Short buffers pin into the inline segments; drain unpins, dirtying. */
static void pvblk_cq_pin_inline(struct kunit *test)
{
	struct pt_ctx *c;
	struct pin_fake *pf = pin_setup(test, &c);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 0);
	struct iov_iter iter;

	pin_iter(pf, &iter, ITER_DEST, 512, 2 * PAGE_SIZE);	/* 3 pages */
	KUNIT_ASSERT_EQ(test, pvblk_req_pin_user(&r->req, &iter, 16), 0);
	KUNIT_EXPECT_EQ(test, r->req.nr_segs, 3);
	KUNIT_EXPECT_PTR_EQ(test, r->req.segs, &r->req.inline_segs[0]);
	KUNIT_EXPECT_EQ(test, r->req.segs[0].offset, 512);
	KUNIT_EXPECT_EQ(test, r->req.segs[0].len, PAGE_SIZE - 512);
	KUNIT_EXPECT_EQ(test, r->req.segs[2].len, 512);
	KUNIT_EXPECT_EQ(test, pf->pinned, 3);
	KUNIT_EXPECT_EQ(test, pf->seg_allocs, 0);

	pvblk_req_complete(&r->req, BLK_STS_OK);
	KUNIT_EXPECT_EQ(test, pf->unpinned, 0);	/* not before the drain */
	pt_drain(c);
	KUNIT_EXPECT_EQ(test, pf->unpinned, 3);
	KUNIT_EXPECT_EQ(test, pf->dirtied, 3);	/* a READ wrote them */
}

/* Long buffers: the core allocates the array and frees it on drain. */
static void pvblk_cq_pin_allocated(struct kunit *test)
{
	struct pt_ctx *c;
	struct pin_fake *pf = pin_setup(test, &c);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_WRITE, 0);
	struct iov_iter iter;

	pin_iter(pf, &iter, ITER_SOURCE, 0, 20 * PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, pvblk_req_pin_user(&r->req, &iter, 32), 0);
	KUNIT_EXPECT_EQ(test, r->req.nr_segs, 20);
	KUNIT_EXPECT_EQ(test, pf->seg_allocs, 1);
	KUNIT_EXPECT_TRUE(test, r->req.core_flags & PVBLK_RF_SEGS_ALLOC);
	KUNIT_EXPECT_GE(test, pf->extracts, 2);	/* chunks of 16 pages */

	/* Appending a second buffer reallocates and keeps the first. */
	pin_iter(pf, &iter, ITER_SOURCE, 20 * PAGE_SIZE, PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, pvblk_req_pin_user(&r->req, &iter, 32), 0);
	KUNIT_EXPECT_EQ(test, r->req.nr_segs, 21);
	KUNIT_EXPECT_PTR_EQ(test, r->req.segs[20].page, pf->pages + 20);
	KUNIT_EXPECT_PTR_EQ(test, r->req.segs[0].page, pf->pages);

	pvblk_req_complete(&r->req, BLK_STS_OK);
	pt_drain(c);
	KUNIT_EXPECT_EQ(test, pf->unpinned, 21);
	KUNIT_EXPECT_EQ(test, pf->dirtied, 0);	/* a WRITE only read them */
	KUNIT_EXPECT_FALSE(test, r->req.core_flags & PVBLK_RF_SEGS_ALLOC);
}

/* Segment array allocation failing: -ENOMEM, nothing pinned. */
static void pvblk_cq_pin_alloc_failure(struct kunit *test)
{
	struct pt_ctx *c;
	struct pin_fake *pf = pin_setup(test, &c);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_WRITE, 0);
	struct iov_iter iter;

	pf->fail_seg_alloc = true;
	pin_iter(pf, &iter, ITER_SOURCE, 0, 8 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, pvblk_req_pin_user(&r->req, &iter, 32), -ENOMEM);
	KUNIT_EXPECT_EQ(test, pf->pinned, 0);
	KUNIT_EXPECT_EQ(test, r->req.nr_segs, 0);
	KUNIT_EXPECT_PTR_EQ(test, r->req.segs, &r->req.inline_segs[0]);
}

/* Extraction failing half way: every page pinned so far is released. */
static void pvblk_cq_pin_extract_failure(struct kunit *test)
{
	struct pt_ctx *c;
	struct pin_fake *pf = pin_setup(test, &c);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 0);
	struct iov_iter iter;

	pf->fail_extract_at = 2;
	pin_iter(pf, &iter, ITER_DEST, 0, 24 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, pvblk_req_pin_user(&r->req, &iter, 32), -EFAULT);
	KUNIT_EXPECT_EQ(test, pf->pinned, 16);
	KUNIT_EXPECT_EQ(test, pf->unpinned, 16);
	KUNIT_EXPECT_EQ(test, pf->dirtied, 0);
	KUNIT_EXPECT_EQ(test, r->req.nr_segs, 0);
	KUNIT_EXPECT_PTR_EQ(test, r->req.segs, &r->req.inline_segs[0]);
	KUNIT_EXPECT_EQ(test, r->req.core_flags & PVBLK_RF_PINNED, 0);
}

/* More pages than the transport allows: refused before pinning. */
static void pvblk_cq_pin_too_many(struct kunit *test)
{
	struct pt_ctx *c;
	struct pin_fake *pf = pin_setup(test, &c);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 0);
	struct kvec kv = { .iov_base = page_address(pf->pages), .iov_len = 512 };
	struct iov_iter iter;

	pin_iter(pf, &iter, ITER_DEST, 512, 4 * PAGE_SIZE);	/* 5 pages */
	KUNIT_EXPECT_EQ(test, pvblk_req_pin_user(&r->req, &iter, 4), -EINVAL);
	KUNIT_EXPECT_EQ(test, pf->pinned, 0);
	KUNIT_EXPECT_EQ(test, pf->extracts, 0);

	/* Kernel iterators are refused: they are not pinned. */
	iov_iter_kvec(&iter, ITER_DEST, &kv, 1, 512);
	KUNIT_EXPECT_EQ(test, pvblk_req_pin_user(&r->req, &iter, 4), -EINVAL);
	KUNIT_EXPECT_EQ(test, pf->extracts, 0);
}

static struct kunit_case pvblk_cq_cases[] = {
	KUNIT_CASE(pvblk_cq_batch_one_notify),
	KUNIT_CASE(pvblk_cq_budget),
	KUNIT_CASE(pvblk_cq_batch_stats),
	KUNIT_CASE(pvblk_cq_first_error_wins),
	KUNIT_CASE(pvblk_cq_complete_irqs_off),
	KUNIT_CASE(pvblk_cq_destroy_completes_leftovers),
	KUNIT_CASE(pvblk_cq_dev_create_alloc_failure),
	KUNIT_CASE(pvblk_cq_pool_exhaustion),
	KUNIT_CASE(pvblk_cq_inflight_cap),
	KUNIT_CASE(pvblk_cq_prefailed),
	KUNIT_CASE(pvblk_cq_latency_stats),
	KUNIT_CASE(pvblk_cq_pin_inline),
	KUNIT_CASE(pvblk_cq_pin_allocated),
	KUNIT_CASE(pvblk_cq_pin_alloc_failure),
	KUNIT_CASE(pvblk_cq_pin_extract_failure),
	KUNIT_CASE(pvblk_cq_pin_too_many),
	{}
};

static struct kunit_suite pvblk_cq_suite = {
	.name = "pvblk_cq",
	.test_cases = pvblk_cq_cases,
};

kunit_test_suite(pvblk_cq_suite);
