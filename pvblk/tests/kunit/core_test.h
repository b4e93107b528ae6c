/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the core suites (pvblk_bio, pvblk_epoch, pvblk_cq,
 * pvblk_backend): a test transport that records completions, a fake
 * backend without a device, and static stubs on bio allocation/submission
 * that capture bios so a test decides when and how each one completes.
 */
#ifndef _PVBLK_CORE_TEST_H
#define _PVBLK_CORE_TEST_H

#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <kunit/test-bug.h>
#include <pvblk/pvblk.h>
#include "../../core/internal.h"

#if !IS_ENABLED(CONFIG_KUNIT)
/* Compile checks against headers of a kernel without KUnit (Debian's). */
#define kunit_activate_static_stub(test, real_fn, repl_fn) \
	do { (void)(test); (void)(real_fn); (void)(repl_fn); } while (0)
#endif

#define PT_MAX_REQS	256
#define PT_MAX_BIOS	512

struct pt_req {
	struct pvblk_req req;
	unsigned int id;
	bool done;
	blk_status_t status;
};

/* One per test case, in test->priv. */
struct pt_ctx {
	struct kunit *test;
	struct pvblk_dev *dev;
	struct pvblk_batch batch;

	/* transport */
	unsigned int completed;
	unsigned int notifies;
	unsigned int kicks;
	unsigned int order[PT_MAX_REQS];	/* ids in completion order */
	blk_status_t last_status;		/* of the last completion */
	struct completion kicked;		/* real devices: queue_work */

	/* bios (stubs) */
	struct bio *bios[PT_MAX_BIOS];		/* captured, in submit order */
	unsigned int nr_bios;
	unsigned int bios_ended;
	unsigned int bio_allocs;
	unsigned int fail_alloc_at;		/* 1-based; 0: never */
	bool pass_through;			/* really submit_bio() */
	void *extra;				/* per-suite fakes */
	unsigned int fail_calls;		/* pvblk_fail_alloc() stub */
	unsigned int fail_call_at;
	struct pt_req *reqs[PT_MAX_REQS];	/* taken from the pool */
	unsigned int nr_reqs;
};

/* Bitwise types as plain integers for KUNIT_EXPECT_EQ (sparse-clean). */
static inline int pt_sts(blk_status_t st)
{
	return (__force int)st;
}

static inline u32 pt_op(struct bio *bio)
{
	return (__force u32)bio_op(bio);
}

static inline bool pt_has(struct bio *bio, blk_opf_t flag)
{
	return (__force u32)(bio->bi_opf & flag) != 0;
}

struct pt_ctx *pt_setup(struct kunit *test, unsigned int nr_queues);
struct pvblk_backend *pt_fake_backend(struct kunit *test, u64 capacity,
				      u32 lbs, u32 max_segments,
				      u32 max_segment_size, u32 max_sectors);
void pt_set_fake(struct pt_ctx *c, u64 capacity, u32 lbs, u32 max_segments,
		 u32 max_segment_size, u32 max_sectors);
void pt_stub_bios(struct kunit *test);
struct pt_req *pt_new_req(struct pt_ctx *c, enum pvblk_op op,
			  sector_t sector);
void pt_add_pages(struct pt_ctx *c, struct pt_req *r, struct page *page,
		  unsigned int nr, unsigned int stride, unsigned int len);
void pt_submit(struct pt_ctx *c, struct pt_req *r);
void pt_end_bio(struct pt_ctx *c, unsigned int idx, blk_status_t status);
void pt_end_all_bios(struct pt_ctx *c);
unsigned int pt_drain(struct pt_ctx *c);
struct page *pt_alloc_pages(struct kunit *test, unsigned int order);
/* bounce_test.c: odd segments written and read through a real backend. */
void pt_odd_round_trip(struct pt_ctx *c, sector_t sector);

#endif /* _PVBLK_CORE_TEST_H */
