// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite pvblk_backend: request validation (every check and the
 * status it answers), the regular-file backend on an internal shmem file,
 * and, when the module is loaded with nullb=, ram= or file= paths (the
 * debug-kernel VM does), the full core path against real backends:
 * pattern write + read back, odd segments through the bounce, flush,
 * discard / write-zeroes where the device supports them, bio counts
 * against the device's real limits.
 */
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include "core_test.h"

static char *nullb;
module_param(nullb, charp, 0444);
MODULE_PARM_DESC(nullb, "null_blk device (memory_backed=1) for real-device cases");
static char *ram;
module_param(ram, charp, 0444);
MODULE_PARM_DESC(ram, "brd RAM disk for real-device cases");
static char *file;
module_param(file, charp, 0444);
MODULE_PARM_DESC(file, "regular file (on a real filesystem) for real-device cases");

/* -- validation -------------------------------------------------------------- */

struct check_case {
	const char *name;
	unsigned int op;
	unsigned int flags;
	sector_t sector;
	u64 nr_sectors;
	unsigned int nsegs, seg_off, seg_len;
	bool ro, no_be, no_discard;
	u32 lbs;
	blk_status_t want;
};

static const struct check_case check_cases[] = {
	{ "read ok", PVBLK_OP_READ, 0, 0, 0, 1, 0, 4096, .want = BLK_STS_OK },
	{ "read last block", PVBLK_OP_READ, 0, 2040, 0, 1, 0, 4096,
	  .want = BLK_STS_OK },
	{ "unknown op", PVBLK_OP_MAX, 0, 0, 0, 1, 0, 4096,
	  .want = BLK_STS_NOTSUPP },
	{ "unknown op 200", 200, 0, 0, 0, 1, 0, 4096, .want = BLK_STS_NOTSUPP },
	{ "unknown flag", PVBLK_OP_READ, BIT(7), 0, 0, 1, 0, 4096,
	  .want = BLK_STS_NOTSUPP },
	{ "no backend", PVBLK_OP_READ, 0, 0, 0, 1, 0, 4096, .no_be = true,
	  .want = BLK_STS_IOERR },
	{ "beyond capacity", PVBLK_OP_READ, 0, 2041, 0, 1, 0, 4096,
	  .want = BLK_STS_IOERR },
	{ "sector overflow", PVBLK_OP_WRITE, 0, U64_MAX - 3, 0, 1, 0, 4096,
	  .want = BLK_STS_IOERR },
	{ "segment crosses page", PVBLK_OP_READ, 0, 0, 0, 1, 3584, 1024,
	  .want = BLK_STS_IOERR },
	{ "segment offset past page", PVBLK_OP_READ, 0, 0, 0, 1, 4096, 512,
	  .want = BLK_STS_IOERR },
	/* Any segment layout whose total is whole blocks (bounce.c). */
	{ "total not whole sectors (1000)", PVBLK_OP_READ, 0, 0, 0, 1, 0, 1000,
	  .want = BLK_STS_IOERR },
	{ "segment offset not 512 (bounced)", PVBLK_OP_READ, 0, 0, 0, 1, 100,
	  512, .want = BLK_STS_OK },
	{ "2 x 256 at offset 100 (bounced)", PVBLK_OP_WRITE, 0, 0, 0, 2, 100,
	  256, .want = BLK_STS_OK },
	{ "2 x 300: total not whole sectors", PVBLK_OP_WRITE, 0, 0, 0, 2, 0,
	  300, .want = BLK_STS_IOERR },
	{ "lbs 4K, 2 x 2048 at offset 7 (bounced)", PVBLK_OP_READ, 0, 8, 0, 2,
	  7, 2048, .lbs = 4096, .want = BLK_STS_OK },
	{ "lbs 4K, 3 x 512: not whole blocks", PVBLK_OP_READ, 0, 8, 0, 3, 0,
	  512, .lbs = 4096, .want = BLK_STS_IOERR },
	{ "segment len 0", PVBLK_OP_READ, 0, 0, 0, 1, 0, 0,
	  .want = BLK_STS_IOERR },
	{ "no segments", PVBLK_OP_READ, 0, 0, 0, 0, 0, 0,
	  .want = BLK_STS_IOERR },
	{ "write on read-only", PVBLK_OP_WRITE, 0, 0, 0, 1, 0, 4096, .ro = true,
	  .want = BLK_STS_IOERR },
	{ "read on read-only", PVBLK_OP_READ, 0, 0, 0, 1, 0, 4096, .ro = true,
	  .want = BLK_STS_OK },
	{ "lbs 4K, sector 1", PVBLK_OP_READ, 0, 1, 0, 1, 0, 4096, .lbs = 4096,
	  .want = BLK_STS_IOERR },
	{ "lbs 4K, 512 bytes", PVBLK_OP_READ, 0, 0, 0, 1, 0, 512, .lbs = 4096,
	  .want = BLK_STS_IOERR },
	{ "lbs 4K ok", PVBLK_OP_WRITE, PVBLK_REQ_FUA, 8, 0, 2, 0, 4096,
	  .lbs = 4096, .want = BLK_STS_OK },
	{ "flush on read-only", PVBLK_OP_FLUSH, 0, U64_MAX, 0, 0, 0, 0,
	  .ro = true, .want = BLK_STS_OK },
	{ "discard ok", PVBLK_OP_DISCARD, 0, 0, 100, 0, 0, 0,
	  .want = BLK_STS_OK },
	{ "discard unsupported", PVBLK_OP_DISCARD, 0, 0, 8, 0, 0, 0,
	  .no_discard = true, .want = BLK_STS_NOTSUPP },
	{ "secure discard unsupported", PVBLK_OP_DISCARD, PVBLK_REQ_SECURE, 0,
	  8, 0, 0, 0, .want = BLK_STS_NOTSUPP },
	{ "discard length 0", PVBLK_OP_DISCARD, 0, 0, 0, 0, 0, 0,
	  .want = BLK_STS_IOERR },
	{ "discard beyond capacity", PVBLK_OP_DISCARD, 0, 2000, 49, 0, 0, 0,
	  .want = BLK_STS_IOERR },
	{ "discard on read-only", PVBLK_OP_DISCARD, 0, 0, 8, 0, 0, 0,
	  .ro = true, .want = BLK_STS_IOERR },
	{ "write zeroes huge", PVBLK_OP_WRITE_ZEROES, 0, 8, U64_MAX, 0, 0, 0,
	  .want = BLK_STS_IOERR },
	{ "write zeroes unsupported", PVBLK_OP_WRITE_ZEROES, 0, 0, 8, 0, 0, 0,
	  .no_discard = true, .want = BLK_STS_NOTSUPP },
	{ "get id without segments", PVBLK_OP_GET_ID, 0, 0, 0, 0, 0, 0,
	  .want = BLK_STS_IOERR },
	{ "get id", PVBLK_OP_GET_ID, 0, U64_MAX, 0, 1, 0, 512,
	  .want = BLK_STS_OK },
};

static void check_desc(const struct check_case *t, char *desc)
{
	strscpy(desc, t->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(check, check_cases, check_desc);

static void pvblk_backend_validation(struct kunit *test)
{
	const struct check_case *t = test->param_value;
	struct pvblk_backend *be = kunit_kzalloc(test, sizeof(*be), GFP_KERNEL);
	struct pvblk_req *req = kunit_kzalloc(test, sizeof(*req), GFP_KERNEL);
	struct page *pg = pt_alloc_pages(test, 1);
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, be);
	KUNIT_ASSERT_NOT_NULL(test, req);
	be->info.capacity = 2048;
	be->info.logical_block_size = t->lbs ? t->lbs : 512;
	be->info.max_segments = 128;
	be->info.max_sectors = 256;
	be->info.read_only = t->ro;
	if (!t->no_discard) {
		be->info.max_discard_sectors = 64;
		be->info.max_write_zeroes_sectors = 64;
	}
	req->segs = req->inline_segs;
	req->op = t->op;
	req->flags = t->flags;
	req->sector = t->sector;
	req->nr_sectors = t->nr_sectors;
	for (i = 0; i < t->nsegs; i++) {
		req->segs[i].page = pg + i;
		req->segs[i].offset = t->seg_off;
		req->segs[i].len = t->seg_len;
	}
	req->nr_segs = t->nsegs;
	KUNIT_EXPECT_EQ(test, pt_sts(pvblk_req_check(req, t->no_be ? NULL : be)),
			pt_sts(t->want));
}

/* A refused request completes through the queue like any other. */
static void pvblk_backend_refused_completes(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct pt_req *r;
	struct pvblk_stats st;

	pt_set_fake(c, 2048, 512, 128, 65536, 256);
	r = pt_new_req(c, PVBLK_OP_READ, 4096);	/* no segments, too far */
	pt_submit(c, r);
	r = pt_new_req(c, 77, 0);
	pt_submit(c, r);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 0);
	KUNIT_EXPECT_EQ(test, pt_drain(c), 2);
	KUNIT_EXPECT_EQ(test, c->notifies, 1);
	KUNIT_EXPECT_EQ(test, pt_sts(r->status), pt_sts(BLK_STS_NOTSUPP));
	pvblk_dev_stats(c->dev, &st);
	KUNIT_EXPECT_EQ(test, st.errors, 2);
	KUNIT_EXPECT_EQ(test, st.reqs[PVBLK_OP_READ], 1);
	KUNIT_EXPECT_EQ(test, st.batches, 2);
	KUNIT_EXPECT_EQ(test, st.drained_reqs, 2);
	KUNIT_EXPECT_EQ(test, atomic_read(&pvblk_dev_queue(c->dev, 0)->inflight),
			0);
}

/* -- full path helpers ------------------------------------------------------ */

static void bt_wait(struct pt_ctx *c, struct pt_req *r)
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

static blk_status_t bt_run(struct pt_ctx *c, enum pvblk_op op,
			   unsigned int flags, sector_t sector, u64 nr_sectors,
			   struct page *pages, unsigned int nr, unsigned int stride)
{
	struct pt_req *r = pt_new_req(c, op, sector);

	r->req.flags = flags;
	r->req.nr_sectors = nr_sectors;
	if (nr)
		pt_add_pages(c, r, pages, nr, stride, PAGE_SIZE);
	pt_submit(c, r);
	bt_wait(c, r);
	return r->status;
}

static void bt_fill(struct page *pages, unsigned int nr, unsigned int stride,
		    u8 seed)
{
	unsigned int i, j;

	for (i = 0; i < nr; i++) {
		u8 *p = kmap_local_page(pages + i * stride);

		for (j = 0; j < PAGE_SIZE; j++)
			p[j] = seed + i * 7 + j / 512;
		kunmap_local(p);
	}
}

static bool bt_same(struct page *a, struct page *b, unsigned int nr,
		    unsigned int stride)
{
	unsigned int i;
	bool same = true;

	for (i = 0; i < nr && same; i++) {
		void *pa = kmap_local_page(a + i * stride);
		void *pb = kmap_local_page(b + i * stride);

		same = !memcmp(pa, pb, PAGE_SIZE);
		kunmap_local(pb);
		kunmap_local(pa);
	}
	return same;
}

static bool bt_zero(struct page *a, unsigned int nr, unsigned int stride)
{
	unsigned int i;
	bool zero = true;

	for (i = 0; i < nr && zero; i++) {
		void *pa = kmap_local_page(a + i * stride);

		zero = !memchr_inv(pa, 0, PAGE_SIZE);
		kunmap_local(pa);
	}
	return zero;
}

#define BT_PAGES	64	/* per request, every other page: no merging */

/* Write, read back, flush, discard, write-zeroes through @be. */
static void bt_exercise(struct kunit *test, struct pvblk_backend *be)
{
	struct pt_ctx *c = pt_setup(test, 1);
	struct page *wr = pt_alloc_pages(test, 7), *rd = pt_alloc_pages(test, 7);
	struct pvblk_backend_info info;
	unsigned int bios;
	sector_t sector;
	blk_status_t st;

	c->pass_through = true;
	pvblk_dev_set_backend(c->dev, be);
	KUNIT_ASSERT_EQ(test, pvblk_dev_info(c->dev, &info), 0);
	kunit_info(test, "capacity %llu lbs %u max_segments %u max_sectors %u seg %u discard %u wz %u flush %d file %d\n",
		   info.capacity, info.logical_block_size, info.max_segments,
		   info.max_sectors, info.max_segment_size,
		   info.max_discard_sectors, info.max_write_zeroes_sectors,
		   info.flush, info.is_file);
	KUNIT_ASSERT_GE(test, info.capacity, 8192);
	sector = 2048;

	bt_fill(wr, BT_PAGES, 2, 0x5a);
	bios = c->nr_bios;
	st = bt_run(c, PVBLK_OP_WRITE, 0, sector, 0, wr, BT_PAGES, 2);
	KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
	if (!info.is_file) {
		/* One bio: the block layer splits it to the limits. */
		KUNIT_EXPECT_EQ(test, c->nr_bios - bios, 1);
	}
	st = bt_run(c, PVBLK_OP_READ, 0, sector, 0, rd, BT_PAGES, 2);
	KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bt_same(wr, rd, BT_PAGES, 2));

	/* FUA + PREFLUSH write and a real flush. */
	bt_fill(wr, 4, 2, 0x11);
	st = bt_run(c, PVBLK_OP_WRITE, PVBLK_REQ_FUA | PVBLK_REQ_PREFLUSH,
		    sector, 0, wr, 4, 2);
	KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_EQ(test, pt_sts(bt_run(c, PVBLK_OP_FLUSH, 0, 0, 0, NULL, 0, 0)),
			pt_sts(BLK_STS_OK));
	st = bt_run(c, PVBLK_OP_READ, 0, sector, 0, rd, 4, 2);
	KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bt_same(wr, rd, 4, 2));

	/* One batch: 16 writes, a flush barrier, 16 more; then read back. */
	{
		struct pt_req *rs[33];
		unsigned int i;

		bt_fill(wr, 32, 2, 0x77);
		pvblk_batch_start(&c->batch, pvblk_dev_queue(c->dev, 0));
		for (i = 0; i < 33; i++) {
			unsigned int k = i > 16 ? i - 1 : i;

			if (i == 16) {
				rs[i] = pt_new_req(c, PVBLK_OP_FLUSH, 0);
			} else {
				rs[i] = pt_new_req(c, PVBLK_OP_WRITE,
						   sector + 256 + k * 8);
				pt_add_pages(c, rs[i], wr + 2 * k, 1, 1,
					     PAGE_SIZE);
			}
			pvblk_batch_add(&c->batch, &rs[i]->req);
		}
		pvblk_batch_finish(&c->batch);
		for (i = 0; i < 33; i++) {
			bt_wait(c, rs[i]);
			KUNIT_EXPECT_EQ(test, pt_sts(rs[i]->status),
					pt_sts(BLK_STS_OK));
		}
		st = bt_run(c, PVBLK_OP_READ, 0, sector + 256, 0, rd, 32, 2);
		KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
		KUNIT_EXPECT_TRUE(test, bt_same(wr, rd, 32, 2));
	}

	/* Odd segments (bounced) both ways, against aligned ones. */
	pt_odd_round_trip(c, sector + 1024);

	/* Out of range is refused, the device keeps serving. */
	st = bt_run(c, PVBLK_OP_READ, 0, info.capacity - 1, 0, rd, 1, 1);
	KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_IOERR));

	if (info.max_write_zeroes_sectors) {
		st = bt_run(c, PVBLK_OP_WRITE_ZEROES, 0, sector, 32, NULL,
			    0, 0);
		if (info.is_file && st == BLK_STS_NOTSUPP) {
			kunit_info(test, "file system without ZERO_RANGE\n");
		} else {
			KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
			bt_fill(rd, 4, 2, 0xff);
			st = bt_run(c, PVBLK_OP_READ, 0, sector, 0, rd, 4, 2);
			KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
			KUNIT_EXPECT_TRUE(test, bt_zero(rd, 4, 2));
		}
	}
	if (info.max_discard_sectors) {
		st = bt_run(c, PVBLK_OP_DISCARD, 0, sector + 64, 64, NULL,
			    0, 0);
		KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
	}
	KUNIT_EXPECT_EQ(test, atomic_read(&pvblk_dev_queue(c->dev, 0)->inflight),
			0);
}

/* Regular file backend on an internal shmem file (no parameter needed). */
static void pvblk_backend_shmem_file(struct kunit *test)
{
	struct file *f = shmem_file_setup("pvblk-kunit", 8 << 20, 0);
	struct pvblk_backend *be;

	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	be = pvblk_backend_open_file(f, false, NULL);
	fput(f);
	KUNIT_ASSERT_FALSE(test, IS_ERR(be));
	KUNIT_EXPECT_TRUE(test, be->info.is_file);
	KUNIT_EXPECT_EQ(test, be->info.capacity, (8 << 20) >> SECTOR_SHIFT);
	bt_exercise(test, be);
}

/* A read-only open refuses writes; a file not open for writing -EBADF. */
static void pvblk_backend_file_read_only(struct kunit *test)
{
	struct file *f = shmem_file_setup("pvblk-kunit-ro", 1 << 20, 0);
	struct pvblk_backend *be;
	struct pt_ctx *c = pt_setup(test, 1);
	struct page *pg = pt_alloc_pages(test, 0);

	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	be = pvblk_backend_open_file(f, true, NULL);
	KUNIT_ASSERT_FALSE(test, IS_ERR(be));
	KUNIT_EXPECT_TRUE(test, be->info.read_only);
	KUNIT_EXPECT_EQ(test, be->info.max_discard_sectors, 0);
	pvblk_dev_set_backend(c->dev, be);
	KUNIT_EXPECT_EQ(test, pt_sts(bt_run(c, PVBLK_OP_WRITE, 0, 0, 0, pg, 1, 1)),
			pt_sts(BLK_STS_IOERR));
	KUNIT_EXPECT_EQ(test, pt_sts(bt_run(c, PVBLK_OP_READ, 0, 0, 0, pg, 1, 1)),
			pt_sts(BLK_STS_OK));

	f->f_mode &= ~FMODE_WRITE;
	be = pvblk_backend_open_file(f, false, NULL);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(be), -EBADF);
	f->f_mode |= FMODE_WRITE;
	fput(f);
}

/*
 * A resize: the range check follows the file once the device re-read its
 * size, in both directions; a second look reports no change.
 */
static void pvblk_backend_resize(struct kunit *test)
{
	struct file *f = shmem_file_setup("pvblk-kunit-resize", 1 << 20, 0);
	struct pt_ctx *c = pt_setup(test, 1);
	struct page *pg = pt_alloc_pages(test, 0);
	const sector_t end = (1 << 20) >> SECTOR_SHIFT;
	struct pvblk_backend *be;
	u64 cap;

	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	be = pvblk_backend_open_file(f, false, NULL);
	KUNIT_ASSERT_FALSE(test, IS_ERR(be));
	pvblk_dev_set_backend(c->dev, be);
	KUNIT_EXPECT_EQ(test, pt_sts(bt_run(c, PVBLK_OP_WRITE, 0, end, 0, pg, 1, 1)),
			pt_sts(BLK_STS_IOERR));
	KUNIT_EXPECT_FALSE(test, pvblk_dev_update_capacity(c->dev, &cap));
	KUNIT_EXPECT_EQ(test, cap, (u64)end);

	KUNIT_ASSERT_EQ(test, vfs_truncate(&f->f_path, 2 << 20), 0);
	KUNIT_EXPECT_TRUE(test, pvblk_dev_update_capacity(c->dev, &cap));
	KUNIT_EXPECT_EQ(test, cap, (u64)end * 2);
	KUNIT_EXPECT_EQ(test, pt_sts(bt_run(c, PVBLK_OP_WRITE, 0, end, 0, pg, 1, 1)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_FALSE(test, pvblk_dev_update_capacity(c->dev, &cap));

	KUNIT_ASSERT_EQ(test, vfs_truncate(&f->f_path, 1 << 20), 0);
	KUNIT_EXPECT_TRUE(test, pvblk_dev_update_capacity(c->dev, &cap));
	KUNIT_EXPECT_EQ(test, cap, (u64)end);
	KUNIT_EXPECT_EQ(test, pt_sts(bt_run(c, PVBLK_OP_READ, 0, end, 0, pg, 1, 1)),
			pt_sts(BLK_STS_IOERR));
	fput(f);
}

static struct bio_vec *bt_no_bvecs(unsigned int nr)
{
	return NULL;
}

/* The kiocb path: bvec allocation failure answers RESOURCE, frees all. */
static void pvblk_backend_file_aio_alloc_failure(struct kunit *test)
{
	struct file *f = shmem_file_setup("pvblk-kunit-aio", 1 << 20, 0);
	struct page *wr = pt_alloc_pages(test, 4), *rd = pt_alloc_pages(test, 4);
	struct pvblk_backend *be;
	struct pt_ctx *c = pt_setup(test, 1);
	blk_status_t st;

	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	be = pvblk_backend_open_file(f, false, NULL);
	fput(f);
	KUNIT_ASSERT_FALSE(test, IS_ERR(be));
	/* shmem completes "direct" kiocbs synchronously, in this thread. */
	be->direct = true;
	pvblk_dev_set_backend(c->dev, be);

	bt_fill(wr, 8, 1, 0x33);
	st = bt_run(c, PVBLK_OP_WRITE, PVBLK_REQ_FUA, 0, 0, wr, 8, 1);
	KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_EQ(test, pt_sts(bt_run(c, PVBLK_OP_READ, 0, 0, 0, rd, 8, 1)),
			pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bt_same(wr, rd, 8, 1));

	kunit_activate_static_stub(test, pvblk_alloc_bvecs, bt_no_bvecs);
	KUNIT_EXPECT_EQ(test, pt_sts(bt_run(c, PVBLK_OP_READ, 0, 0, 0, rd, 8, 1)),
			pt_sts(BLK_STS_RESOURCE));
	/* Inline bvecs need no allocation. */
	KUNIT_EXPECT_EQ(test, pt_sts(bt_run(c, PVBLK_OP_READ, 0, 0, 0, rd, 4, 1)),
			pt_sts(BLK_STS_OK));
}

/*
 * A file system that wants blocking (-EAGAIN for IOCB_NOWAIT) or refuses
 * direct I/O (-EINVAL).  The stub only acts in the test's thread: the
 * reissue and the buffered retry run in pvblk_wq and reach shmem.
 */
struct bt_fs {
	unsigned int eagain, einval, passed;
	bool refuse_direct;
};

static ssize_t bt_rw_iter(struct kiocb *iocb, struct iov_iter *iter,
			  bool write)
{
	struct pt_ctx *c = kunit_get_current_test()->priv;
	struct bt_fs *fs = c->extra;

	if (iocb->ki_flags & IOCB_NOWAIT) {
		fs->eagain++;
		return -EAGAIN;
	}
	if (fs->refuse_direct && (iocb->ki_flags & IOCB_DIRECT)) {
		fs->einval++;
		return -EINVAL;
	}
	fs->passed++;
	if (write)
		return iocb->ki_filp->f_op->write_iter(iocb, iter);
	return iocb->ki_filp->f_op->read_iter(iocb, iter);
}

/* NOWAIT -EAGAIN reissues blocking; direct -EINVAL retries buffered. */
static void pvblk_backend_file_retries(struct kunit *test)
{
	struct file *f = shmem_file_setup("pvblk-kunit-retry", 1 << 20, 0);
	struct page *wr = pt_alloc_pages(test, 4), *rd = pt_alloc_pages(test, 4);
	struct pt_ctx *c = pt_setup(test, 1);
	struct pvblk_backend *be;
	struct bt_fs *fs;
	blk_status_t st;

	KUNIT_ASSERT_FALSE(test, IS_ERR(f));
	f->f_mode |= FMODE_NOWAIT;
	be = pvblk_backend_open_file(f, false, NULL);
	fput(f);
	KUNIT_ASSERT_FALSE(test, IS_ERR(be));
	be->direct = true;
	pvblk_dev_set_backend(c->dev, be);
	fs = kunit_kzalloc(test, sizeof(*fs), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, fs);
	c->extra = fs;
	kunit_activate_static_stub(test, pvblk_file_rw_iter, bt_rw_iter);

	bt_fill(wr, 8, 1, 0x42);
	st = bt_run(c, PVBLK_OP_WRITE, 0, 16, 0, wr, 8, 1);
	KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_EQ(test, fs->eagain, 1);
	KUNIT_EXPECT_EQ(test, fs->passed, 0);	/* reissued from pvblk_wq */

	st = bt_run(c, PVBLK_OP_READ, 0, 16, 0, rd, 8, 1);
	KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, bt_same(wr, rd, 8, 1));

	/* No NOWAIT: the direct read is refused here, retried buffered. */
	f->f_mode &= ~FMODE_NOWAIT;
	fs->refuse_direct = true;
	bt_fill(rd, 8, 1, 0x99);
	st = bt_run(c, PVBLK_OP_READ, 0, 16, 0, rd, 8, 1);
	KUNIT_EXPECT_EQ(test, pt_sts(st), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_EQ(test, fs->einval, 1);
	KUNIT_EXPECT_EQ(test, fs->eagain, 2);
	KUNIT_EXPECT_TRUE(test, bt_same(wr, rd, 8, 1));
}

static void bt_real(struct kunit *test, const char *path)
{
	struct pvblk_backend *be;
	struct file *f;

	if (!path || !*path)
		kunit_skip(test, "no device given (module parameter)");
	f = filp_open(path, O_RDWR | O_LARGEFILE, 0);
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(f), "open %s: %ld", path,
			       PTR_ERR(f));
	be = pvblk_backend_open_file(f, false, NULL);
	fput(f);
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(be), "backend %s: %ld", path,
			       PTR_ERR(be));
	bt_exercise(test, be);
}

static void pvblk_backend_real_nullb(struct kunit *test)
{
	bt_real(test, nullb);
}

static void pvblk_backend_real_ram(struct kunit *test)
{
	bt_real(test, ram);
}

static void pvblk_backend_real_file(struct kunit *test)
{
	bt_real(test, file);
}

/*
 * A writer's claim ends in pvblk_backend_close(), even here, in a kthread,
 * where a plain fput() is deferred to a work item: another writer, a reader
 * and a writer again each open the disk at once after the last one closed.
 */
static void pvblk_backend_real_claim(struct kunit *test)
{
	static u8 holders[2];
	struct pvblk_backend *be;
	unsigned int i;
	struct file *f;
	dev_t devt;

	if (!ram || !*ram)
		kunit_skip(test, "no device given (module parameter)");
	f = filp_open(ram, O_RDONLY | O_LARGEFILE, 0);
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(f), "open %s: %ld", ram,
			       PTR_ERR(f));
	devt = file_inode(f)->i_rdev;
	fput(f);
	for (i = 0; i < 8; i++) {
		/* writer A, writer B, reader, writer A, ... */
		bool ro = i % 3 == 2;

		be = pvblk_backend_open_dev(devt, ro, &holders[i & 1]);
		KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(be), "open %u (%s): %ld",
				       i, ro ? "reader" : "writer",
				       PTR_ERR(be));
		pvblk_backend_close(be);
	}
	/* A transport's extra reference keeps the claim until it is put. */
	be = pvblk_backend_open_dev(devt, false, &holders[0]);
	KUNIT_ASSERT_FALSE(test, IS_ERR(be));
	f = pvblk_backend_file(be);
	pvblk_backend_close(be);
	be = pvblk_backend_open_dev(devt, false, &holders[1]);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(be), -EBUSY);
	if (!IS_ERR(be))
		pvblk_backend_close(be);
	pvblk_backend_put_file(f);
	be = pvblk_backend_open_dev(devt, false, &holders[1]);
	KUNIT_EXPECT_FALSE(test, IS_ERR(be));
	if (!IS_ERR(be))
		pvblk_backend_close(be);
}

static void bt_destroy(void *data)
{
	pvblk_dev_destroy(data);
}

/* Same name twice: unique debugfs directories; every counter shown. */
static void pvblk_backend_debugfs(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 2);
	struct seq_file m = { };
	struct pvblk_dev *dup;
	struct pt_req *r;

	dup = pvblk_dev_create(test->name, c->dev->ops, c, 1, 4,
			       PVBLK_REQ_SIZE(struct pt_req, req));
	KUNIT_ASSERT_FALSE(test, IS_ERR(dup));
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, bt_destroy, dup),
			0);
	if (!c->dev->dbg_dir)
		kunit_skip(test, "no debugfs");
	KUNIT_ASSERT_NOT_NULL(test, dup->dbg_dir);
	KUNIT_EXPECT_STRNEQ(test, c->dev->dbg_dir->d_name.name,
			    dup->dbg_dir->d_name.name);

	pt_set_fake(c, 2048, 512, 128, 65536, 256);
	r = pt_new_req(c, PVBLK_OP_FLUSH, 0);
	pt_submit(c, r);			/* in flight: bio captured */

	m.size = 16384;
	m.buf = kunit_kzalloc(test, m.size, GFP_KERNEL);
	m.private = c->dev;
	KUNIT_ASSERT_NOT_NULL(test, m.buf);
	KUNIT_ASSERT_EQ(test, pvblk_stats_show(&m, NULL), 0);
	KUNIT_ASSERT_LT(test, m.count, m.size);
	m.buf[m.count] = 0;
	KUNIT_EXPECT_NOT_NULL(test, strstr(m.buf, "\ninflight 1\n"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(m.buf, "q0_inflight 1\n"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(m.buf, "q0_flush_reqs 1\n"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(m.buf, "q1_read_reqs 0\n"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(m.buf, "\nbios 1\n"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(m.buf, "capacity 2048\n"));
	/* One current epoch per queue; the flush is counted in q0's. */
	KUNIT_EXPECT_NOT_NULL(test, strstr(m.buf, "epochs 2\nepoch_reqs 1\n"));
	KUNIT_EXPECT_NOT_NULL(test, strstr(m.buf, "q0_pool_empty 0\n"));
}

static struct kunit_case pvblk_backend_cases[] = {
	KUNIT_CASE_PARAM(pvblk_backend_validation, check_gen_params),
	KUNIT_CASE(pvblk_backend_refused_completes),
	KUNIT_CASE(pvblk_backend_shmem_file),
	KUNIT_CASE(pvblk_backend_file_read_only),
	KUNIT_CASE(pvblk_backend_resize),
	KUNIT_CASE(pvblk_backend_file_aio_alloc_failure),
	KUNIT_CASE(pvblk_backend_file_retries),
	KUNIT_CASE(pvblk_backend_debugfs),
	KUNIT_CASE_SLOW(pvblk_backend_real_nullb),
	KUNIT_CASE_SLOW(pvblk_backend_real_ram),
	KUNIT_CASE_SLOW(pvblk_backend_real_file),
	KUNIT_CASE_SLOW(pvblk_backend_real_claim),
	{}
};

static struct kunit_suite pvblk_backend_suite = {
	.name = "pvblk_backend",
	.test_cases = pvblk_backend_cases,
};

kunit_test_suite(pvblk_backend_suite);
