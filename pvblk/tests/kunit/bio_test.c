// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite pvblk_bio: the block device submission path with captured
 * bios: page layouts through bio_add_page() and bio_chain(), inline vs
 * allocated bios, completion of a chain, flags, allocation failure,
 * discard / write-zeroes splitting, GET_ID.
 */
#include <kunit/test.h>
#include <linux/highmem.h>
#include "core_test.h"

struct bio_layout_case {
	const char *name;
	unsigned int nr_segs;
	unsigned int stride;	/* pages between segments; 0: one page */
	unsigned int seg_len;
	unsigned int bios, first_bvecs;
	bool inline_bio;
};

static const struct bio_layout_case bio_layout_cases[] = {
	{ "4x4K contiguous: one bvec", 4, 1, 4096, 1, 1, true },
	{ "4x4K scattered", 4, 2, 4096, 1, 4, true },
	{ "2x2K in one page: one bvec", 2, 0, 2048, 1, 1, true },
	{ "8x512 in one page, allocated bio", 8, 0, 512, 1, 1, false },
	{ "5x4K scattered, allocated bio", 5, 2, 4096, 1, 5, false },
	{ "64x4K contiguous: one bvec", 64, 1, 4096, 1, 1, false },
	{ "300x4K scattered: a chain of two", 300, 2, 4096, 2, BIO_MAX_VECS,
	  false },
};

static void bio_layout_desc(const struct bio_layout_case *t, char *desc)
{
	strscpy(desc, t->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(bio_layout, bio_layout_cases, bio_layout_desc);

/*
 * Segments become bios through bio_add_page(): what may be merged is, a
 * full bio is chained to the next, all data is carried once in order.
 */
static void pvblk_bio_layouts(struct kunit *test)
{
	const struct bio_layout_case *t = test->param_value;
	struct pt_ctx *c = pt_setup(test, 1);
	struct page *pages = pt_alloc_pages(test, 10);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_WRITE, 8);
	struct pvblk_req *req = &r->req;
	unsigned int i, b;
	u64 total = 0;

	pt_set_fake(c, 1 << 20, 512, 128, 65536, 256);
	if (t->stride) {
		pt_add_pages(c, r, pages, t->nr_segs, t->stride, t->seg_len);
	} else {
		pt_add_pages(c, r, pages, t->nr_segs, 0, t->seg_len);
		for (i = 0; i < t->nr_segs; i++)
			req->segs[i].offset = i * t->seg_len;
	}
	pt_submit(c, r);
	KUNIT_ASSERT_EQ(test, c->nr_bios, t->bios);
	KUNIT_EXPECT_EQ(test, c->bios[0] == &req->inline_bio, t->inline_bio);
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_vcnt, t->first_bvecs);
	KUNIT_EXPECT_PTR_EQ(test, c->bios[0]->bi_io_vec[0].bv_page,
			    req->segs[0].page);
	for (b = 0; b < c->nr_bios; b++) {
		KUNIT_EXPECT_EQ(test, c->bios[b]->bi_iter.bi_sector,
				8 + (total >> SECTOR_SHIFT));
		total += c->bios[b]->bi_iter.bi_size;
	}
	KUNIT_EXPECT_EQ(test, total, (u64)t->nr_segs * t->seg_len);
	pt_end_all_bios(c);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_OK));
}

static struct pt_ctx *bio_setup(struct kunit *test, u32 max_segments)
{
	struct pt_ctx *c = pt_setup(test, 1);

	pt_set_fake(c, 1 << 20, 512, max_segments, 65536, 2048);
	return c;
}

/* Small requests use the embedded bio and allocate nothing. */
static void pvblk_bio_inline(struct kunit *test)
{
	struct pt_ctx *c = bio_setup(test, 128);
	struct page *pg = pt_alloc_pages(test, 3);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_WRITE, 64);

	pt_add_pages(c, r, pg, 3, 2, PAGE_SIZE);
	pt_submit(c, r);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_PTR_EQ(test, c->bios[0], &r->req.inline_bio);
	KUNIT_EXPECT_EQ(test, c->bio_allocs, 0);
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_vcnt, 3);
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_iter.bi_size, 3 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_iter.bi_sector, 64);
	KUNIT_EXPECT_EQ(test, pt_op(c->bios[0]), (__force u32)REQ_OP_WRITE);
	pt_end_bio(c, 0, BLK_STS_OK);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_TRUE(test, r->done);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_EQ(test, c->notifies, 1);
}

/* A chain: the request ends when every bio did, with the first error. */
static void pvblk_bio_allocated_pending(struct kunit *test)
{
	struct pt_ctx *c = bio_setup(test, 16);
	struct page *pg = pt_alloc_pages(test, 10);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 1000);

	pt_add_pages(c, r, pg, 300, 2, PAGE_SIZE);
	pt_submit(c, r);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 2);
	KUNIT_EXPECT_EQ(test, c->bio_allocs, 2);
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_vcnt, BIO_MAX_VECS);
	KUNIT_EXPECT_EQ(test, c->bios[1]->bi_vcnt, 300 - BIO_MAX_VECS);
	KUNIT_EXPECT_EQ(test, c->bios[1]->bi_iter.bi_sector,
			1000 + BIO_MAX_VECS * 8);
	KUNIT_EXPECT_EQ(test, pt_op(c->bios[1]), (__force u32)REQ_OP_READ);

	pt_end_bio(c, 1, BLK_STS_OK);		/* the last one first */
	KUNIT_EXPECT_EQ(test, pt_drain(c), 0);
	KUNIT_EXPECT_FALSE(test, r->done);
	pt_end_bio(c, 0, BLK_STS_MEDIUM);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_MEDIUM));
}

/* FUA / PREFLUSH become REQ_FUA / REQ_PREFLUSH on writes only. */
static void pvblk_bio_flags(struct kunit *test)
{
	struct pt_ctx *c = bio_setup(test, 128);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pt_req *w = pt_new_req(c, PVBLK_OP_WRITE, 0);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 0);

	w->req.flags = PVBLK_REQ_FUA | PVBLK_REQ_PREFLUSH;
	pt_add_pages(c, w, pg, 1, 1, PAGE_SIZE);
	pt_submit(c, w);
	r->req.flags = PVBLK_REQ_FUA;
	pt_add_pages(c, r, pg, 1, 1, PAGE_SIZE);
	pt_submit(c, r);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 2);
	KUNIT_EXPECT_TRUE(test, pt_has(c->bios[0], REQ_FUA));
	KUNIT_EXPECT_TRUE(test, pt_has(c->bios[0], REQ_PREFLUSH));
	KUNIT_EXPECT_FALSE(test, pt_has(c->bios[1], REQ_FUA));
	KUNIT_EXPECT_FALSE(test, pt_has(c->bios[1], REQ_PREFLUSH));
}

/* bio_alloc failing half way: what went out completes, nothing leaks. */
static void pvblk_bio_alloc_failure(struct kunit *test)
{
	struct pt_ctx *c = bio_setup(test, 16);
	struct page *pg = pt_alloc_pages(test, 10);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_WRITE, 0);

	c->fail_alloc_at = 2;
	pt_add_pages(c, r, pg, 300, 2, PAGE_SIZE);
	pt_submit(c, r);
	KUNIT_EXPECT_EQ(test, c->bio_allocs, 2);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 0);	/* waits for bio 0 */
	pt_end_bio(c, 0, BLK_STS_OK);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_RESOURCE));
	KUNIT_EXPECT_EQ(test, atomic_read(&r->req.pending), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&pvblk_dev_queue(c->dev, 0)->inflight), 0);

	/* First allocation failing: no bio at all, completes at once. */
	c->fail_alloc_at = c->bio_allocs + 1;
	r = pt_new_req(c, PVBLK_OP_WRITE, 0);
	pt_add_pages(c, r, pg, 300, 2, PAGE_SIZE);
	pt_submit(c, r);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_RESOURCE));
}

/* Discards longer than the limit are split into several bios. */
static void pvblk_bio_discard_split(struct kunit *test)
{
	struct pt_ctx *c = bio_setup(test, 128);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_DISCARD, 100);
	unsigned int i;

	r->req.nr_sectors = 1000;	/* limit 256 */
	pt_submit(c, r);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 4);
	for (i = 0; i < 4; i++) {
		KUNIT_EXPECT_EQ(test, pt_op(c->bios[i]), (__force u32)REQ_OP_DISCARD);
		KUNIT_EXPECT_EQ(test, c->bios[i]->bi_iter.bi_sector,
				100 + i * 256);
		KUNIT_EXPECT_EQ(test, c->bios[i]->bi_iter.bi_size,
				(i < 3 ? 256 : 232) << SECTOR_SHIFT);
	}
	pt_end_all_bios(c);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_OK));
}

/* Secure discard: SECURE_ERASE bios when the backend has secure erase. */
static void pvblk_bio_secure_discard(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_backend *be;
	struct pt_req *r;

	be = pt_fake_backend(test, 1 << 20, 4096, 128, 65536, 256);
	be->info.secure_discard = true;
	be->info.max_discard_sectors = 100;	/* rounded down to 96 */
	pvblk_dev_set_backend(c->dev, be);
	r = pt_new_req(c, PVBLK_OP_DISCARD, 8);
	r->req.flags = PVBLK_REQ_SECURE;
	r->req.nr_sectors = 200;
	pt_submit(c, r);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 3);
	KUNIT_EXPECT_EQ(test, pt_op(c->bios[0]),
			(__force u32)REQ_OP_SECURE_ERASE);
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_iter.bi_size, 96 << SECTOR_SHIFT);
	KUNIT_EXPECT_EQ(test, c->bios[2]->bi_iter.bi_size, 8 << SECTOR_SHIFT);
	KUNIT_EXPECT_EQ(test, c->bios[2]->bi_iter.bi_sector, 8 + 192);
	pt_end_bio(c, 1, BLK_STS_NOTSUPP);
	pt_end_all_bios(c);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_NOTSUPP));
}

/* WRITE_ZEROES: NOUNMAP unless the request allows unmapping. */
static void pvblk_bio_write_zeroes(struct kunit *test)
{
	struct pt_ctx *c = bio_setup(test, 128);
	struct pt_req *a = pt_new_req(c, PVBLK_OP_WRITE_ZEROES, 0);
	struct pt_req *b = pt_new_req(c, PVBLK_OP_WRITE_ZEROES, 512);

	a->req.nr_sectors = 200;	/* limit 128 */
	pt_submit(c, a);
	b->req.nr_sectors = 8;
	b->req.flags = PVBLK_REQ_UNMAP;
	pt_submit(c, b);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 3);
	KUNIT_EXPECT_EQ(test, pt_op(c->bios[0]), (__force u32)REQ_OP_WRITE_ZEROES);
	KUNIT_EXPECT_TRUE(test, pt_has(c->bios[0], REQ_NOUNMAP));
	KUNIT_EXPECT_EQ(test, c->bios[1]->bi_iter.bi_size, 72 << SECTOR_SHIFT);
	KUNIT_EXPECT_FALSE(test, pt_has(c->bios[2], REQ_NOUNMAP));
}

/* GET_ID copies the serial, zero padded, at most 20 bytes. */
static void pvblk_bio_get_id(struct kunit *test)
{
	struct pt_ctx *c = bio_setup(test, 128);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_GET_ID, 0);
	u8 *p;

	memset(page_address(pg), 0xee, PAGE_SIZE);
	pvblk_dev_set_serial(c->dev, "abc", 3);
	pt_add_pages(c, r, pg, 1, 1, 512);
	pt_submit(c, r);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 0);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_OK));
	p = page_address(pg);
	KUNIT_EXPECT_MEMEQ(test, p, "abc\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
			   PVBLK_ID_BYTES);
	KUNIT_EXPECT_EQ(test, p[PVBLK_ID_BYTES], 0xee);

	pvblk_dev_set_serial(c->dev, "0123456789abcdefghijKLMN", 24);
	r = pt_new_req(c, PVBLK_OP_GET_ID, 0);
	pt_add_pages(c, r, pg, 1, 1, 512);
	pt_submit(c, r);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_MEMEQ(test, p, "0123456789abcdefghij", PVBLK_ID_BYTES);
	KUNIT_EXPECT_EQ(test, p[PVBLK_ID_BYTES], 0xee);
}

/* FLUSH: one PREFLUSH bio with a write cache, none without. */
static void pvblk_bio_flush(struct kunit *test)
{
	struct pt_ctx *c = bio_setup(test, 128);
	struct pvblk_backend *be;
	struct pt_req *r = pt_new_req(c, PVBLK_OP_FLUSH, 0);

	pt_submit(c, r);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_EQ(test, pt_op(c->bios[0]), (__force u32)REQ_OP_WRITE);
	KUNIT_EXPECT_TRUE(test, pt_has(c->bios[0], REQ_PREFLUSH));
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_iter.bi_size, 0);
	pt_end_bio(c, 0, BLK_STS_OK);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);

	be = pt_fake_backend(test, 1 << 20, 512, 128, 65536, 256);
	be->info.flush = false;
	pvblk_dev_set_backend(c->dev, be);
	r = pt_new_req(c, PVBLK_OP_FLUSH, 0);
	pt_submit(c, r);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_OK));
}

static struct kunit_case pvblk_bio_cases[] = {
	KUNIT_CASE_PARAM(pvblk_bio_layouts, bio_layout_gen_params),
	KUNIT_CASE(pvblk_bio_inline),
	KUNIT_CASE(pvblk_bio_allocated_pending),
	KUNIT_CASE(pvblk_bio_flags),
	KUNIT_CASE(pvblk_bio_alloc_failure),
	KUNIT_CASE(pvblk_bio_discard_split),
	KUNIT_CASE(pvblk_bio_secure_discard),
	KUNIT_CASE(pvblk_bio_write_zeroes),
	KUNIT_CASE(pvblk_bio_get_id),
	KUNIT_CASE(pvblk_bio_flush),
	{}
};

static struct kunit_suite pvblk_bio_suite = {
	.name = "pvblk_bio",
	.test_cases = pvblk_bio_cases,
};

kunit_test_suite(pvblk_bio_suite);
