// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite pvblk_bounce: data segments of any length and alignment
 * whose total is whole blocks.  The check accepts them (and refuses an
 * unaligned total), marks for the bounce only what the backend cannot
 * take directly; a bounced WRITE carries the segments' bytes in order in
 * aligned pages, a bounced READ lands in the segments and nowhere else,
 * an error or an allocation failure frees the bounce, and the aligned
 * path neither bounces nor allocates.  pt_odd_round_trip() runs the same
 * odd layout through a real backend (shmem here, the devices of
 * pvblk_backend on the debug kernel).
 */
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/bvec.h>
#include <linux/highmem.h>
#include <linux/shmem_fs.h>
#include "core_test.h"

struct bn_piece {
	unsigned int page, off, len;	/* page index of the test's pages */
};

/* 100 + 3996 + 412 + 100 = 4608 bytes (9 sectors) at odd offsets. */
static const struct bn_piece bn_odd[] = {
	{ 0, 3996, 100 }, { 2, 0, 3996 }, { 4, 100, 412 }, { 6, 7, 100 },
};

#define BN_ODD_BYTES	4608

/* The same 4608 bytes laid out the way every backend takes directly. */
static const struct bn_piece bn_aligned[] = {
	{ 0, 0, 4096 }, { 1, 0, 512 },
};

#define BN_GUARD	0xaa

static u8 bn_byte(u8 seed, unsigned int k)
{
	return seed + k * 13 + (k >> 9) * 7;
}

static void bn_set_segs(struct pt_req *r, struct page *pages,
			const struct bn_piece *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		r->req.segs[i].page = pages + p[i].page;
		r->req.segs[i].offset = p[i].off;
		r->req.segs[i].len = p[i].len;
	}
	r->req.nr_segs = n;
}

/* Write (@put) or compare the byte stream @seed into / with the pieces. */
static bool bn_stream(struct page *pages, const struct bn_piece *p,
		      unsigned int n, u8 seed, bool put)
{
	unsigned int i, j, k = 0;
	bool same = true;

	for (i = 0; i < n; i++) {
		u8 *v = kmap_local_page(pages + p[i].page);

		for (j = 0; j < p[i].len; j++, k++) {
			if (put)
				v[p[i].off + j] = bn_byte(seed, k);
			else if (v[p[i].off + j] != bn_byte(seed, k))
				same = false;
		}
		kunmap_local(v);
	}
	return same;
}

static void bn_guard(struct page *pages, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		memset_page(pages + i, 0, BN_GUARD, PAGE_SIZE);
}

/* Every byte of the @nr pages outside the pieces still holds the guard. */
static bool bn_guard_intact(struct page *pages, unsigned int nr,
			    const struct bn_piece *p, unsigned int n)
{
	unsigned int i, j, b;
	bool intact = true;

	for (i = 0; i < nr; i++) {
		u8 *v = kmap_local_page(pages + i);

		for (b = 0; b < PAGE_SIZE; b++) {
			bool in = false;

			for (j = 0; j < n; j++)
				if (p[j].page == i && b >= p[j].off &&
				    b < p[j].off + p[j].len)
					in = true;
			if (!in && v[b] != BN_GUARD)
				intact = false;
		}
		kunmap_local(v);
	}
	return intact;
}

/* Copy a captured bio's data out (WRITE) or fill it (READ) with @seed. */
static unsigned int bn_bio_stream(struct bio *bio, u8 seed, u8 *out)
{
	struct bvec_iter iter;
	struct bio_vec bv;
	unsigned int k = 0, j;

	bio_for_each_segment(bv, bio, iter) {
		u8 *v = bvec_kmap_local(&bv);

		for (j = 0; j < bv.bv_len; j++, k++) {
			if (out)
				out[k] = v[j];
			else
				v[j] = bn_byte(seed, k);
		}
		kunmap_local(v);
	}
	return k;
}

static bool bn_is_guest_page(struct bio *bio, struct page *pages,
			     unsigned int nr)
{
	struct bvec_iter iter;
	struct bio_vec bv;

	bio_for_each_segment(bv, bio, iter)
		if (bv.bv_page >= pages && bv.bv_page < pages + nr)
			return true;
	return false;
}

/* -- the check ----------------------------------------------------------- */

static blk_status_t bn_check(struct pvblk_req *req, struct pvblk_backend *be,
			     enum pvblk_op op, struct page *pages,
			     const struct bn_piece *p, unsigned int n)
{
	unsigned int i;

	memset(req, 0, sizeof(*req));
	req->op = op;
	req->segs = req->inline_segs;
	for (i = 0; i < n; i++) {
		req->segs[i].page = pages + p[i].page;
		req->segs[i].offset = p[i].off;
		req->segs[i].len = p[i].len;
	}
	req->nr_segs = n;
	return pvblk_req_check(req, be);
}

static bool bn_marked(struct pvblk_req *req)
{
	return req->core_flags & PVBLK_RF_UNALIGNED;
}

/*
 * Unaligned segments with an aligned total pass and are marked; an
 * unaligned total is refused; only what the backend cannot take is
 * marked (its DMA alignment, nothing for a buffered file).
 */
static void pvblk_bounce_check(struct kunit *test)
{
	static const struct bn_piece odd_total[] = {	/* 4508 bytes */
		{ 0, 3996, 100 }, { 2, 0, 3996 }, { 4, 100, 412 },
	};
	static const struct bn_piece sectors[] = {	/* 512-aligned */
		{ 0, 512, 1024 }, { 2, 0, 3072 },
	};
	struct pvblk_backend *be = kunit_kzalloc(test, sizeof(*be), GFP_KERNEL);
	struct pvblk_req *req = kunit_kzalloc(test, sizeof(*req), GFP_KERNEL);
	struct page *pg = pt_alloc_pages(test, 3);

	KUNIT_ASSERT_NOT_NULL(test, be);
	KUNIT_ASSERT_NOT_NULL(test, req);
	be->info.capacity = 2048;
	be->info.logical_block_size = 512;
	be->mem_mask = SECTOR_SIZE - 1;
	be->len_mask = SECTOR_SIZE - 1;

	KUNIT_EXPECT_EQ(test, pt_sts(bn_check(req, be, PVBLK_OP_WRITE,
					      pg, bn_odd, 4)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bn_marked(req));
	KUNIT_EXPECT_EQ(test, req->bytes, BN_ODD_BYTES);
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check(req, be, PVBLK_OP_READ,
					      pg, bn_odd, 4)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bn_marked(req));

	KUNIT_EXPECT_EQ(test, pt_sts(bn_check(req, be, PVBLK_OP_READ,
					      pg, odd_total, 3)),
			pt_sts(BLK_STS_IOERR));
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check(req, be, PVBLK_OP_WRITE,
					      pg, odd_total, 3)),
			pt_sts(BLK_STS_IOERR));

	KUNIT_EXPECT_EQ(test, pt_sts(bn_check(req, be, PVBLK_OP_READ,
					      pg, bn_aligned, 2)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_FALSE(test, bn_marked(req));
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check(req, be, PVBLK_OP_WRITE,
					      pg, sectors, 2)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_FALSE(test, bn_marked(req));

	/* A device that DMAs only whole pages: 512-aligned is not enough. */
	be->mem_mask = PAGE_SIZE - 1;
	be->len_mask = PAGE_SIZE - 1;
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check(req, be, PVBLK_OP_WRITE,
					      pg, sectors, 2)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bn_marked(req));

	/* Buffered file: any layout goes straight through. */
	be->mem_mask = 0;
	be->len_mask = 0;
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check(req, be, PVBLK_OP_READ,
					      pg, bn_odd, 4)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_FALSE(test, bn_marked(req));
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check(req, be, PVBLK_OP_READ,
					      pg, odd_total, 3)),
			pt_sts(BLK_STS_IOERR));

	/* GET_ID buffers are any size and never bounce. */
	be->mem_mask = SECTOR_SIZE - 1;
	be->len_mask = SECTOR_SIZE - 1;
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check(req, be, PVBLK_OP_GET_ID,
					      pg, odd_total, 3)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_FALSE(test, bn_marked(req));
}

/* pvblk_req_check() of @n segments of @segs as one @op request. */
static blk_status_t bn_check_many(struct pvblk_req *req,
				  struct pvblk_backend *be, enum pvblk_op op,
				  struct pvblk_seg *segs, unsigned int n)
{
	memset(req, 0, sizeof(*req));
	req->op = op;
	req->segs = segs;
	req->nr_segs = n;
	return pvblk_req_check(req, be);
}

/*
 * More segments than one bio holds: the chained bios split at a segment
 * boundary, so on a 4096-byte-block device a request of 512-byte pieces
 * bounces (a chain could start off a block), one that fits a bio or has
 * whole-block pieces does not.
 */
static void pvblk_bounce_chain_check(struct kunit *test)
{
	const unsigned int many = BIO_MAX_VECS + 8;
	struct pvblk_backend *be = kunit_kzalloc(test, sizeof(*be), GFP_KERNEL);
	struct pvblk_req *req = kunit_kzalloc(test, sizeof(*req), GFP_KERNEL);
	struct pvblk_seg *segs = kunit_kcalloc(test, many, sizeof(*segs),
					       GFP_KERNEL);
	struct page *pg = pt_alloc_pages(test, 1);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, be);
	KUNIT_ASSERT_NOT_NULL(test, req);
	KUNIT_ASSERT_NOT_NULL(test, segs);
	be->info.capacity = 1 << 20;
	be->info.logical_block_size = 4096;
	be->mem_mask = SECTOR_SIZE - 1;
	be->len_mask = SECTOR_SIZE - 1;
	be->chain_mask = 4096 - 1;

	for (i = 0; i < many; i++)
		segs[i] = (struct pvblk_seg){ .page = pg, .len = SECTOR_SIZE };
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check_many(req, be, PVBLK_OP_WRITE,
						   segs, many)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bn_marked(req));

	/* Eight of them fit one bio: the block layer splits on blocks. */
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check_many(req, be, PVBLK_OP_READ,
						   segs, 8)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_FALSE(test, bn_marked(req));

	for (i = 0; i < many; i++)
		segs[i].len = PAGE_SIZE;
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check_many(req, be, PVBLK_OP_READ,
						   segs, many)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_FALSE(test, bn_marked(req));

	/* 512-byte blocks: any chain boundary is on a block. */
	for (i = 0; i < many; i++)
		segs[i].len = SECTOR_SIZE;
	be->info.logical_block_size = SECTOR_SIZE;
	be->chain_mask = 0;
	KUNIT_EXPECT_EQ(test, pt_sts(bn_check_many(req, be, PVBLK_OP_WRITE,
						   segs, many)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_FALSE(test, bn_marked(req));
}

/* -- captured bios ------------------------------------------------------- */

static struct pt_ctx *bn_setup(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);

	pt_set_fake(c, 1 << 20, 512, 128, 65536, 256);
	return c;
}

static void bn_expect_bounced(struct kunit *test, struct pt_ctx *c,
			      u64 reqs, u64 bytes)
{
	struct pvblk_stats st;

	pvblk_dev_stats(c->dev, &st);
	KUNIT_EXPECT_EQ(test, st.bounce_reqs, reqs);
	KUNIT_EXPECT_EQ(test, st.bounce_bytes, bytes);
}

/* A WRITE of odd segments: the bio carries their bytes, in order. */
static void pvblk_bounce_write(struct kunit *test)
{
	struct pt_ctx *c = bn_setup(test);
	struct page *pg = pt_alloc_pages(test, 3);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_WRITE, 8);
	u8 *data = kunit_kzalloc(test, BN_ODD_BYTES, GFP_KERNEL);
	unsigned int k;
	bool same = true;

	KUNIT_ASSERT_NOT_NULL(test, data);
	bn_set_segs(r, pg, bn_odd, ARRAY_SIZE(bn_odd));
	bn_stream(pg, bn_odd, ARRAY_SIZE(bn_odd), 0x31, true);
	pt_submit(c, r);

	KUNIT_ASSERT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_NOT_NULL(test, r->req.bounce);
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_iter.bi_sector, 8);
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_iter.bi_size, BN_ODD_BYTES);
	KUNIT_EXPECT_FALSE(test, bn_is_guest_page(c->bios[0], pg, 8));
	/* Bounce pages from offset 0 (two, unless bio_add_page() merged). */
	KUNIT_EXPECT_LE(test, c->bios[0]->bi_vcnt, 2);
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_io_vec[0].bv_offset, 0);
	KUNIT_EXPECT_EQ(test, bn_bio_stream(c->bios[0], 0, data), BN_ODD_BYTES);
	for (k = 0; k < BN_ODD_BYTES; k++)
		if (data[k] != bn_byte(0x31, k))
			same = false;
	KUNIT_EXPECT_TRUE(test, same);
	bn_expect_bounced(test, c, 1, BN_ODD_BYTES);

	pt_end_all_bios(c);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_OK));
	/* Released: the transport's segments are back, the bounce gone. */
	KUNIT_EXPECT_NULL(test, r->req.bounce);
	KUNIT_EXPECT_PTR_EQ(test, r->req.segs, &r->req.inline_segs[0]);
	KUNIT_EXPECT_EQ(test, r->req.nr_segs, ARRAY_SIZE(bn_odd));
}

/* A READ of odd segments: the data lands in them and nowhere else. */
static void pvblk_bounce_read(struct kunit *test)
{
	struct pt_ctx *c = bn_setup(test);
	struct page *pg = pt_alloc_pages(test, 3);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 16);

	bn_guard(pg, 8);
	bn_set_segs(r, pg, bn_odd, ARRAY_SIZE(bn_odd));
	pt_submit(c, r);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_EQ(test, c->bios[0]->bi_iter.bi_size, BN_ODD_BYTES);
	KUNIT_EXPECT_FALSE(test, bn_is_guest_page(c->bios[0], pg, 8));
	/* The device fills the bounce pages ... */
	KUNIT_EXPECT_EQ(test, bn_bio_stream(c->bios[0], 0x47, NULL),
			BN_ODD_BYTES);
	pt_end_all_bios(c);
	/* ... and nothing reaches the guest before the worker's drain. */
	KUNIT_EXPECT_TRUE(test, bn_guard_intact(pg, 8, NULL, 0));
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bn_stream(pg, bn_odd, ARRAY_SIZE(bn_odd), 0x47,
					  false));
	KUNIT_EXPECT_TRUE(test, bn_guard_intact(pg, 8, bn_odd,
						ARRAY_SIZE(bn_odd)));
	KUNIT_EXPECT_NULL(test, r->req.bounce);
	bn_expect_bounced(test, c, 1, BN_ODD_BYTES);
}

/* A failed READ copies nothing back and still frees its bounce. */
static void pvblk_bounce_read_error(struct kunit *test)
{
	struct pt_ctx *c = bn_setup(test);
	struct page *pg = pt_alloc_pages(test, 3);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 16);

	bn_guard(pg, 8);
	bn_set_segs(r, pg, bn_odd, ARRAY_SIZE(bn_odd));
	pt_submit(c, r);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 1);
	bn_bio_stream(c->bios[0], 0x47, NULL);
	pt_end_bio(c, 0, BLK_STS_MEDIUM);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_MEDIUM));
	KUNIT_EXPECT_TRUE(test, bn_guard_intact(pg, 8, NULL, 0));
	KUNIT_EXPECT_NULL(test, r->req.bounce);
}

/* Aligned segments: the guest's own pages in the bio, no bounce. */
static void pvblk_bounce_aligned_direct(struct kunit *test)
{
	struct pt_ctx *c = bn_setup(test);
	struct page *pg = pt_alloc_pages(test, 3);
	struct pt_req *w = pt_new_req(c, PVBLK_OP_WRITE, 0);
	struct pt_req *r = pt_new_req(c, PVBLK_OP_READ, 0);

	bn_set_segs(w, pg, bn_aligned, ARRAY_SIZE(bn_aligned));
	pt_add_pages(c, r, pg + 4, 2, 2, 2048);
	pt_submit(c, w);
	pt_submit(c, r);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 2);
	KUNIT_EXPECT_FALSE(test, w->req.core_flags & PVBLK_RF_UNALIGNED);
	KUNIT_EXPECT_FALSE(test, r->req.core_flags & PVBLK_RF_UNALIGNED);
	KUNIT_EXPECT_NULL(test, w->req.bounce);
	KUNIT_EXPECT_NULL(test, r->req.bounce);
	KUNIT_EXPECT_PTR_EQ(test, c->bios[0]->bi_io_vec[0].bv_page, pg);
	KUNIT_EXPECT_PTR_EQ(test, c->bios[1]->bi_io_vec[0].bv_page, pg + 4);
	KUNIT_EXPECT_EQ(test, c->bio_allocs, 0);
	bn_expect_bounced(test, c, 0, 0);
	pt_end_all_bios(c);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 2);
	KUNIT_EXPECT_EQ(test, pt_sts(w->status), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_OK));
}

static bool bn_fail_alloc(void)
{
	struct pt_ctx *c = kunit_get_current_test()->priv;

	return ++c->fail_calls == c->fail_call_at;
}

/* Each bounce allocation failing in turn: RESOURCE, no bio, no leak. */
static void pvblk_bounce_alloc_failure(struct kunit *test)
{
	struct pt_ctx *c = bn_setup(test);
	struct page *pg = pt_alloc_pages(test, 3);
	struct pt_req *r;
	unsigned int at;

	kunit_activate_static_stub(test, pvblk_fail_alloc, bn_fail_alloc);
	/* The segment array, then the two pages. */
	for (at = 1; at <= 3; at++) {
		c->fail_calls = 0;
		c->fail_call_at = at;
		r = pt_new_req(c, at & 1 ? PVBLK_OP_WRITE : PVBLK_OP_READ, 8);
		bn_set_segs(r, pg, bn_odd, ARRAY_SIZE(bn_odd));
		pt_submit(c, r);
		KUNIT_EXPECT_EQ(test, c->nr_bios, 0);
		KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
		KUNIT_EXPECT_EQ(test, pt_sts(r->status),
				pt_sts(BLK_STS_RESOURCE));
		KUNIT_EXPECT_NULL(test, r->req.bounce);
		KUNIT_EXPECT_PTR_EQ(test, r->req.segs, &r->req.inline_segs[0]);
	}
	bn_expect_bounced(test, c, 0, 0);
	c->fail_calls = 0;
	c->fail_call_at = 0;
	r = pt_new_req(c, PVBLK_OP_WRITE, 8);
	bn_set_segs(r, pg, bn_odd, ARRAY_SIZE(bn_odd));
	pt_submit(c, r);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_EQ(test, c->fail_calls, 3);
	pt_end_all_bios(c);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_OK));
}

/* -- through a real backend ---------------------------------------------- */

static void bn_wait(struct pt_ctx *c, struct pt_req *r)
{
	while (!r->done) {
		/* A hang guard, not a timing assertion. */
		if (!wait_for_completion_timeout(&c->kicked, 120 * HZ)) {
			KUNIT_FAIL(c->test, "request %u never completed", r->id);
			return;
		}
		pt_drain(c);
	}
}

static blk_status_t bn_run(struct pt_ctx *c, enum pvblk_op op,
			   sector_t sector, struct page *pages,
			   const struct bn_piece *p, unsigned int n)
{
	struct pt_req *r = pt_new_req(c, op, sector);

	bn_set_segs(r, pages, p, n);
	pt_submit(c, r);
	bn_wait(c, r);
	return r->status;
}

/**
 * pt_odd_round_trip() - odd segments through the backend of @c, both ways.
 * @c: a context whose device has a real backend (pass-through bios).
 * @sector: where; 32 sectors from there are overwritten.
 *
 * Writes 100 + 3996 + 412 + 100 bytes from odd offsets and reads them
 * back through aligned segments, then the reverse; the odd read must not
 * touch a byte outside its segments.  Both odd requests bounce exactly
 * when the backend has an alignment (block device, direct-I/O file).
 */
void pt_odd_round_trip(struct pt_ctx *c, sector_t sector)
{
	struct kunit *test = c->test;
	struct page *odd = pt_alloc_pages(test, 3);
	struct page *al = pt_alloc_pages(test, 1);
	struct pvblk_stats before, after;
	struct pvblk_backend *be;
	unsigned int bounces;

	mutex_lock(&c->dev->lock);
	be = c->dev->be;
	bounces = be && (be->mem_mask | be->len_mask) ? 2 : 0;
	if (be && be->info.logical_block_size > SECTOR_SIZE) {
		mutex_unlock(&c->dev->lock);
		kunit_info(test, "logical block %u: no 4608-byte request\n",
			   be->info.logical_block_size);
		return;
	}
	mutex_unlock(&c->dev->lock);
	pvblk_dev_stats(c->dev, &before);

	bn_stream(odd, bn_odd, ARRAY_SIZE(bn_odd), 0x5c, true);
	KUNIT_EXPECT_EQ(test, pt_sts(bn_run(c, PVBLK_OP_WRITE, sector, odd,
					    bn_odd, ARRAY_SIZE(bn_odd))),
			pt_sts(BLK_STS_OK));
	bn_guard(al, 2);
	KUNIT_EXPECT_EQ(test, pt_sts(bn_run(c, PVBLK_OP_READ, sector, al,
					    bn_aligned,
					    ARRAY_SIZE(bn_aligned))),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bn_stream(al, bn_aligned,
					  ARRAY_SIZE(bn_aligned), 0x5c, false));

	bn_stream(al, bn_aligned, ARRAY_SIZE(bn_aligned), 0x6d, true);
	KUNIT_EXPECT_EQ(test, pt_sts(bn_run(c, PVBLK_OP_WRITE, sector + 16, al,
					    bn_aligned,
					    ARRAY_SIZE(bn_aligned))),
			pt_sts(BLK_STS_OK));
	bn_guard(odd, 8);
	KUNIT_EXPECT_EQ(test, pt_sts(bn_run(c, PVBLK_OP_READ, sector + 16, odd,
					    bn_odd, ARRAY_SIZE(bn_odd))),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bn_stream(odd, bn_odd, ARRAY_SIZE(bn_odd),
					  0x6d, false));
	KUNIT_EXPECT_TRUE(test, bn_guard_intact(odd, 8, bn_odd,
						ARRAY_SIZE(bn_odd)));

	pvblk_dev_stats(c->dev, &after);
	KUNIT_EXPECT_EQ(test, after.bounce_reqs - before.bounce_reqs, bounces);
	KUNIT_EXPECT_EQ(test, after.bounce_bytes - before.bounce_bytes,
			(u64)bounces * BN_ODD_BYTES);
}

/* A direct-I/O file (shmem standing in): bounced both ways. */
static void pvblk_bounce_file_round_trip(struct kunit *test)
{
	struct file *f = shmem_file_setup("pvblk-kunit-bounce", 1 << 20, 0);
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_backend *be;

	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	be = pvblk_backend_open_file(f, false, NULL);
	fput(f);
	KUNIT_ASSERT_FALSE(test, IS_ERR(be));
	/* shmem completes "direct" kiocbs synchronously, in this thread. */
	be->direct = true;
	be->mem_mask = SECTOR_SIZE - 1;
	be->len_mask = SECTOR_SIZE - 1;
	c->pass_through = true;
	pvblk_dev_set_backend(c->dev, be);
	pt_odd_round_trip(c, 64);
}

/* A buffered file takes any layout: the same round trip, no bounce. */
static void pvblk_bounce_buffered_file(struct kunit *test)
{
	struct file *f = shmem_file_setup("pvblk-kunit-buffered", 1 << 20, 0);
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_backend *be;

	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	be = pvblk_backend_open_file(f, false, NULL);
	fput(f);
	KUNIT_ASSERT_FALSE(test, IS_ERR(be));
	be->direct = false;
	be->mem_mask = 0;
	be->len_mask = 0;
	c->pass_through = true;
	pvblk_dev_set_backend(c->dev, be);
	pt_odd_round_trip(c, 128);
}

static struct kunit_case pvblk_bounce_cases[] = {
	KUNIT_CASE(pvblk_bounce_check),
	KUNIT_CASE(pvblk_bounce_chain_check),
	KUNIT_CASE(pvblk_bounce_write),
	KUNIT_CASE(pvblk_bounce_read),
	KUNIT_CASE(pvblk_bounce_read_error),
	KUNIT_CASE(pvblk_bounce_aligned_direct),
	KUNIT_CASE(pvblk_bounce_alloc_failure),
	KUNIT_CASE(pvblk_bounce_file_round_trip),
	KUNIT_CASE(pvblk_bounce_buffered_file),
	{}
};

static struct kunit_suite pvblk_bounce_suite = {
	.name = "pvblk_bounce",
	.test_cases = pvblk_bounce_cases,
};

kunit_test_suite(pvblk_bounce_suite);
