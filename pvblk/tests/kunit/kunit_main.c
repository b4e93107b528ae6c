// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk_kunit: the KUnit suites of pvblk in one module.  Each *_test.c
 * registers its own suites; this file carries the module metadata and the
 * helpers of the core suites (core_test.h).
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <kunit/resource.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include "core_test.h"

MODULE_DESCRIPTION("KUnit tests for pvblk");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);

static struct pt_ctx *pt_ctx_of(struct pvblk_queue *q)
{
	return pvblk_dev_priv(q->dev);
}

static void pt_complete(struct pvblk_req *req)
{
	struct pt_req *r = container_of(req, struct pt_req, req);
	struct pt_ctx *c = pt_ctx_of(req->q);

	KUNIT_EXPECT_FALSE(c->test, r->done);
	r->done = true;
	r->status = req->status;
	c->last_status = req->status;
	if (c->completed < PT_MAX_REQS)
		c->order[c->completed] = r->id;
	c->completed++;
}

static void pt_notify(struct pvblk_queue *q)
{
	pt_ctx_of(q)->notifies++;
}

static void pt_queue_work(struct pvblk_queue *q)
{
	struct pt_ctx *c = pt_ctx_of(q);

	WRITE_ONCE(c->kicks, c->kicks + 1);
	complete(&c->kicked);
}

static const struct pvblk_transport_ops pt_ops = {
	.complete = pt_complete,
	.notify = pt_notify,
	.queue_work = pt_queue_work,
};

static struct bio *pt_bio_alloc(struct block_device *bdev,
				unsigned short nr_vecs, blk_opf_t opf)
{
	struct pt_ctx *c = kunit_get_current_test()->priv;

	c->bio_allocs++;
	if (c->fail_alloc_at && c->bio_allocs == c->fail_alloc_at)
		return NULL;
	return bio_alloc(bdev, nr_vecs, opf, GFP_NOIO);
}

static void pt_submit_bio(struct bio *bio)
{
	struct pt_ctx *c = kunit_get_current_test()->priv;

	if (c->pass_through) {
		c->nr_bios++;
		submit_bio(bio);
		return;
	}
	if (c->nr_bios >= PT_MAX_BIOS) {
		KUNIT_FAIL(c->test, "too many bios");
		bio_io_error(bio);
		return;
	}
	c->bios[c->nr_bios++] = bio;
}

void pt_stub_bios(struct kunit *test)
{
	kunit_activate_static_stub(test, pvblk_bio_alloc, pt_bio_alloc);
	kunit_activate_static_stub(test, pvblk_submit_bio, pt_submit_bio);
}

void pt_end_bio(struct pt_ctx *c, unsigned int idx, blk_status_t status)
{
	struct bio *bio = c->bios[idx];

	KUNIT_ASSERT_NOT_NULL(c->test, bio);
	c->bios[idx] = NULL;
	bio->bi_status = status;
	c->bios_ended++;
	bio_endio(bio);		/* a chained bio completes into its parent */
}

void pt_end_all_bios(struct pt_ctx *c)
{
	unsigned int i;

	for (i = 0; i < c->nr_bios; i++)
		if (c->bios[i])
			pt_end_bio(c, i, BLK_STS_OK);
}

unsigned int pt_drain(struct pt_ctx *c)
{
	unsigned int i, n = 0;

	for (i = 0; i < pvblk_dev_nr_queues(c->dev); i++)
		n += pvblk_queue_drain(pvblk_dev_queue(c->dev, i), 0);
	return n;
}

static void pt_teardown(void *data)
{
	struct pt_ctx *c = data;
	unsigned int bios;

	if (!c->dev)
		return;		/* the test destroyed it */
	if (!c->pass_through) {
		/* End whatever the test left in flight, barriers included. */
		do {
			bios = c->nr_bios;
			pt_end_all_bios(c);
			pt_drain(c);
		} while (bios != c->nr_bios);
	}
	pvblk_dev_drain(c->dev);
	pt_drain(c);
	pvblk_dev_destroy(c->dev);
}

struct pt_ctx *pt_setup(struct kunit *test, unsigned int nr_queues)
{
	struct pt_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, c);
	c->test = test;
	init_completion(&c->kicked);
	test->priv = c;
	/* Stubs first: they are undone after the teardown below. */
	pt_stub_bios(test);
	c->dev = pvblk_dev_create(test->name, &pt_ops, c, nr_queues,
				  PT_MAX_REQS, PVBLK_REQ_SIZE(struct pt_req, req));
	KUNIT_ASSERT_FALSE(test, IS_ERR(c->dev));
	ret = kunit_add_action_or_reset(test, pt_teardown, c);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return c;
}

struct pvblk_backend *pt_fake_backend(struct kunit *test, u64 capacity,
				      u32 lbs, u32 max_segments,
				      u32 max_segment_size, u32 max_sectors)
{
	/* Not kunit_kzalloc: the device frees it (pvblk_backend_close). */
	struct pvblk_backend *be = kzalloc(sizeof(*be), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, be);
	be->info.capacity = capacity;
	be->info.logical_block_size = lbs;
	be->info.physical_block_size = lbs;
	be->info.max_segments = max_segments;
	be->info.max_segment_size = max_segment_size;
	be->info.max_sectors = max_sectors;
	be->info.max_discard_sectors = 256;
	be->info.max_write_zeroes_sectors = 128;
	be->info.flush = true;
	be->info.fua = true;
	/* A typical disk: DMA in sectors (bounce.c moves the rest). */
	be->mem_mask = SECTOR_SIZE - 1;
	be->len_mask = SECTOR_SIZE - 1;
	return be;
}

/* Install a fake backend made by pt_fake_backend(). */
void pt_set_fake(struct pt_ctx *c, u64 capacity, u32 lbs, u32 max_segments,
		 u32 max_segment_size, u32 max_sectors)
{
	struct pvblk_backend *be;

	be = pt_fake_backend(c->test, capacity, lbs, max_segments,
			     max_segment_size, max_sectors);
	pvblk_dev_set_backend(c->dev, be);
}

/*
 * A request from queue 0's pool.  The pool is a FIFO of PT_MAX_REQS: a
 * test that takes fewer never sees a finished request reused, so it may
 * look at its fields after completion.
 */
struct pt_req *pt_new_req(struct pt_ctx *c, enum pvblk_op op, sector_t sector)
{
	static unsigned int next_id;
	struct pvblk_req *req;
	struct pt_req *r;

	KUNIT_ASSERT_LT(c->test, c->nr_reqs, PT_MAX_REQS);
	req = pvblk_req_get(pvblk_dev_queue(c->dev, 0));
	KUNIT_ASSERT_NOT_NULL(c->test, req);
	r = container_of(req, struct pt_req, req);
	r->done = false;
	r->status = BLK_STS_OK;
	c->reqs[c->nr_reqs++] = r;
	r->req.op = op;
	r->req.sector = sector;
	r->id = ++next_id;
	return r;
}

/*
 * Append @nr segments of @len bytes at page @page + i * @stride (stride 2
 * leaves a hole between pages: never physically contiguous).
 */
void pt_add_pages(struct pt_ctx *c, struct pt_req *r, struct page *page,
		  unsigned int nr, unsigned int stride, unsigned int len)
{
	struct pvblk_req *req = &r->req;
	unsigned int i;

	if (req->nr_segs + nr > PVBLK_INLINE_SEGS &&
	    req->segs == req->inline_segs) {
		struct pvblk_seg *segs;

		segs = kunit_kcalloc(c->test, PVBLK_MAX_SEGS, sizeof(*segs),
				     GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(c->test, segs);
		memcpy(segs, req->inline_segs,
		       req->nr_segs * sizeof(*segs));
		req->segs = segs;
	}
	for (i = 0; i < nr; i++) {
		req->segs[req->nr_segs].page = page + i * stride;
		req->segs[req->nr_segs].offset = 0;
		req->segs[req->nr_segs].len = len;
		req->nr_segs++;
	}
}

void pt_submit(struct pt_ctx *c, struct pt_req *r)
{
	pvblk_batch_start(&c->batch, pvblk_dev_queue(c->dev, 0));
	pvblk_batch_add(&c->batch, &r->req);
	pvblk_batch_finish(&c->batch);
}

struct pt_pages {
	struct page *page;
	unsigned int order;
};

static void pt_free_pages(void *data)
{
	struct pt_pages *p = data;

	__free_pages(p->page, p->order);
}

/* 2^@order physically contiguous pages, freed when the test ends. */
struct page *pt_alloc_pages(struct kunit *test, unsigned int order)
{
	struct pt_pages *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	p->page = alloc_pages(GFP_KERNEL | __GFP_ZERO, order);
	KUNIT_ASSERT_NOT_NULL(test, p->page);
	p->order = order;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, pt_free_pages,
							p), 0);
	return p->page;
}
