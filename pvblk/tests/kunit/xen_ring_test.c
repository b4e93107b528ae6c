// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite pvblk_xen_ring: request parsing of the Xen blkif backend
 * (frontends/xen/parse.c) without Xen.  Grant mapping goes through a fake
 * struct pvblk_xen_gnt_ops that hands out kernel pages (and preset pages
 * for indirect descriptors), counting live mappings so every case can
 * check that nothing leaks; persistent grants go through the frontend's
 * mapping cache (frontends/xen/mcache.c) with the same fake underneath.
 *
 * Only the blkif wire format is judged here.  Range, read-only and backend
 * support are the core's (pvblk_req_check(), suite pvblk_backend): a
 * request that is well formed on the wire is passed on as it came.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <pvblk/pvblk.h>

#include "../../frontends/xen/xen_blk.h"

#define FAKE_BAD_GREF		0xbad0U	/* map fails for this grant */
#define FAKE_IPAGE_GREF		0x1000U	/* + i: preset indirect page i */
#define FAKE_NR_IPAGES		2
#define FAKE_CAPACITY		2048ULL	/* a disk size the frontend never sees */
#define FAKE_MAX_SEGS		128

/*
 * @xr is built by hand (its arrays are kunit allocations, not its tail):
 * it comes last because struct pvblk_xen_req ends in a flexible array.
 */
struct fake_ring {
	struct pvblk_xen_ring ring;
	struct page *ipages[FAKE_NR_IPAGES];
	unsigned int live;		/* mapped, not unmapped */
	unsigned int maps;		/* successful single mappings */
	unsigned int map_calls;
	unsigned int unmaps;
	unsigned int busy_unmaps;	/* unmapped while someone held the page */
	bool last_ro;
	/* event channel fakes (one ring at a time: fake_cur) */
	unsigned int eois, notifies, unbinds;
	unsigned int eoi_unbinds;	/* unbinds seen while an EOI ran */
	bool eoi_blocks;		/* an EOI waits for @eoi_release */
	struct completion eoi_entered, eoi_release;
	struct pvblk_xen_req xr;
};

static struct fake_ring *fake_cur;

static int fake_map(struct pvblk_xen_ring *ring, struct pvblk_mentry **ents,
		    unsigned int n, bool ro)
{
	struct fake_ring *f = container_of(ring, struct fake_ring, ring);
	unsigned int i;

	f->map_calls++;
	f->last_ro = ro;
	for (i = 0; i < n; i++) {
		struct pvblk_mentry *e = ents[i];
		u64 k = e->key;

		e->page = NULL;
		if (k == FAKE_BAD_GREF) {
			e->err = -EFAULT;
			continue;
		}
		/* A page of our own per mapping, as the grant table's. */
		e->page = alloc_page(GFP_KERNEL);
		if (!e->page) {
			e->err = -ENOMEM;
			continue;
		}
		if (k >= FAKE_IPAGE_GREF && k < FAKE_IPAGE_GREF + FAKE_NR_IPAGES)
			memcpy(page_address(e->page),
			       page_address(f->ipages[k - FAKE_IPAGE_GREF]),
			       PAGE_SIZE);
		e->handle = k ^ 0x5a5aU;
		e->err = 0;
		f->live++;
		f->maps++;
	}
	return 0;
}

static void fake_unmap(struct pvblk_xen_ring *ring, struct pvblk_mentry **ents,
		       unsigned int n)
{
	struct fake_ring *f = container_of(ring, struct fake_ring, ring);
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!ents[i]->page)
			continue;
		if (page_count(ents[i]->page) > 1)
			f->busy_unmaps++;
		put_page(ents[i]->page);
		ents[i]->page = NULL;
		f->live--;
		f->unmaps++;
	}
}

static void fake_eoi(unsigned int irq, unsigned int flags)
{
	struct fake_ring *f = fake_cur;
	unsigned int unbinds = READ_ONCE(f->unbinds);

	f->eois++;
	if (f->eoi_blocks) {
		complete(&f->eoi_entered);
		wait_for_completion_timeout(&f->eoi_release, 5 * HZ);
	}
	f->eoi_unbinds += READ_ONCE(f->unbinds) - unbinds;
}

static void fake_notify(int irq)
{
	fake_cur->notifies++;
}

static void fake_unbind(unsigned int irq, void *dev_id)
{
	WRITE_ONCE(fake_cur->unbinds, fake_cur->unbinds + 1);
}

static const struct pvblk_xen_gnt_ops fake_gops = {
	.map = fake_map,
	.unmap = fake_unmap,
	.eoi = fake_eoi,
	.notify = fake_notify,
	.unbind = fake_unbind,
};

static struct fake_ring *fake_ring_new(struct kunit *test)
{
	struct fake_ring *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	struct xenbus_device *xdev = kunit_kzalloc(test, sizeof(*xdev),
						   GFP_KERNEL);
	struct pvblk_xen_req *xr;
	unsigned int i, m = FAKE_MAX_SEGS;

	KUNIT_ASSERT_NOT_NULL(test, f);
	KUNIT_ASSERT_NOT_NULL(test, xdev);
	/* Locks, work items and the parked list (no Xen is touched). */
	pvblk_xen_ring_init(&f->ring, xdev, 0);
	f->ring.gops = &fake_gops;
	init_completion(&f->eoi_entered);
	init_completion(&f->eoi_release);
	fake_cur = f;
	f->ring.max_segs = m;
	f->ring.nr_ents = 32;
	f->ring.lim = (struct pvblk_xen_limits) {
		.max_indirect_segs = m,
		.discard = true,
	};
	xr = &f->xr;
	xr->ring = &f->ring;
	xr->ents = kunit_kcalloc(test, m, sizeof(*xr->ents), GFP_KERNEL);
	xr->tents = kunit_kcalloc(test, m, sizeof(*xr->tents), GFP_KERNEL);
	xr->segs = kunit_kcalloc(test, m, sizeof(*xr->segs), GFP_KERNEL);
	xr->isegs = kunit_kcalloc(test, m, sizeof(*xr->isegs), GFP_KERNEL);
	xr->keys = kunit_kcalloc(test, m, sizeof(*xr->keys), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, xr->ents);
	KUNIT_ASSERT_NOT_NULL(test, xr->tents);
	KUNIT_ASSERT_NOT_NULL(test, xr->segs);
	KUNIT_ASSERT_NOT_NULL(test, xr->isegs);
	KUNIT_ASSERT_NOT_NULL(test, xr->keys);
	for (i = 0; i < FAKE_NR_IPAGES; i++) {
		f->ipages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		KUNIT_ASSERT_NOT_NULL(test, f->ipages[i]);
	}
	test->priv = f;
	return f;
}

/* A fake ring with persistent grants: a 64-entry mapping cache. */
static struct fake_ring *fake_ring_cached(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);

	f->ring.mcache = pvblk_mcache_create("xen-test", &pvblk_xen_mcache_ops,
					     &f->ring, 64);
	KUNIT_ASSERT_FALSE(test, IS_ERR_OR_NULL(f->ring.mcache));
	return f;
}

static void xen_ring_exit(struct kunit *test)
{
	struct fake_ring *f = test->priv;
	unsigned int i;

	if (!f)
		return;
	/* A case that failed may leave unmaps parked: nothing leaks. */
	cancel_delayed_work_sync(&f->ring.unpark_work);
	pvblk_xen_unpark(&f->ring, true);
	if (f->ring.mcache)
		pvblk_mcache_destroy(f->ring.mcache);
	pvblk_xen_unpark(&f->ring, true);
	fake_cur = NULL;
	for (i = 0; i < FAKE_NR_IPAGES; i++)
		if (f->ipages[i])
			__free_page(f->ipages[i]);
}

/* Segment descriptor as the ABI lays it out: gref, first, last, pad. */
static void put_seg(u8 *p, u32 gref, u8 first, u8 last)
{
	memcpy(p, &gref, 4);
	p[4] = first;
	p[5] = last;
	p[6] = 0;
	p[7] = 0;
}

static void put64(u8 *p, u64 v)
{
	memcpy(p, &v, 8);
}

static void put16(u8 *p, u16 v)
{
	memcpy(p, &v, 2);
}

/* ---- layout of the ABIs: x86_32 and native (= x86_64 on 64-bit) ---- */

static void xen_ring_abi_sizes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, sizeof(struct pvblk_xen_x86_32_request), 108);
	KUNIT_EXPECT_EQ(test, sizeof(struct blkif_request), 112);
	KUNIT_EXPECT_EQ(test, sizeof(struct pvblk_xen_x86_32_response), 12);
	KUNIT_EXPECT_EQ(test, sizeof(struct blkif_response), 16);
	KUNIT_EXPECT_EQ(test, offsetof(struct blkif_request, u.rw.id), 8);
	KUNIT_EXPECT_EQ(test, offsetof(struct blkif_request, u.indirect.indirect_grefs), 28);
	KUNIT_EXPECT_EQ(test, __CONST_RING_SIZE(pvblk_xen_x86_32, XEN_PAGE_SIZE), 32);
	KUNIT_EXPECT_EQ(test, __CONST_RING_SIZE(blkif, XEN_PAGE_SIZE), 32);
}

static void xen_ring_decode_x86_32_rw(struct kunit *test)
{
	union pvblk_xen_raw_req raw;
	struct pvblk_xen_breq r;
	u8 *b = (u8 *)&raw;

	memset(&raw, 0, sizeof(raw));
	b[0] = BLKIF_OP_WRITE;
	b[1] = 2;				/* nr_segments */
	put16(b + 2, 0x51);			/* handle */
	put64(b + 4, 0x1122334455667788ULL);	/* id: 4-byte aligned */
	put64(b + 12, 40);			/* sector_number */
	put_seg(b + 20, 7, 0, 7);
	put_seg(b + 28, 9, 2, 3);
	pvblk_xen_decode_req(PVBLK_XEN_PROTO_X86_32, &raw, &r);

	KUNIT_EXPECT_EQ(test, r.operation, BLKIF_OP_WRITE);
	KUNIT_EXPECT_EQ(test, r.op, BLKIF_OP_WRITE);
	KUNIT_EXPECT_EQ(test, r.id, 0x1122334455667788ULL);
	KUNIT_EXPECT_EQ(test, r.sector, 40);
	KUNIT_EXPECT_EQ(test, r.nr_segs, 2);
	KUNIT_EXPECT_FALSE(test, r.indirect);
	KUNIT_EXPECT_EQ(test, r.seg[0].gref, 7);
	KUNIT_EXPECT_EQ(test, r.seg[1].gref, 9);
	KUNIT_EXPECT_EQ(test, r.seg[1].first_sect, 2);
	KUNIT_EXPECT_EQ(test, r.seg[1].last_sect, 3);
}

/* "x86_64-abi": the native layout of a 64-bit dom0. */
static void xen_ring_decode_x86_64_rw(struct kunit *test)
{
	union pvblk_xen_raw_req raw;
	struct pvblk_xen_breq r;
	u8 *b = (u8 *)&raw;

	memset(&raw, 0, sizeof(raw));
	b[0] = BLKIF_OP_READ;
	b[1] = 1;
	put64(b + 8, 0xabcdef);			/* id: 8-byte aligned */
	put64(b + 16, 1000);
	put_seg(b + 24, 33, 1, 6);
	pvblk_xen_decode_req(PVBLK_XEN_PROTO_NATIVE, &raw, &r);

	KUNIT_EXPECT_EQ(test, r.op, BLKIF_OP_READ);
	KUNIT_EXPECT_EQ(test, r.id, 0xabcdef);
	KUNIT_EXPECT_EQ(test, r.sector, 1000);
	KUNIT_EXPECT_EQ(test, r.nr_segs, 1);
	KUNIT_EXPECT_EQ(test, r.seg[0].gref, 33);
	KUNIT_EXPECT_EQ(test, r.seg[0].first_sect, 1);
	KUNIT_EXPECT_EQ(test, r.seg[0].last_sect, 6);
}

static void xen_ring_decode_native(struct kunit *test)
{
	union pvblk_xen_raw_req raw;
	struct pvblk_xen_breq r;

	memset(&raw, 0, sizeof(raw));
	raw.native.operation = BLKIF_OP_FLUSH_DISKCACHE;
	raw.native.u.rw.nr_segments = 0;
	raw.native.u.rw.id = 77;
	pvblk_xen_decode_req(PVBLK_XEN_PROTO_NATIVE, &raw, &r);
	KUNIT_EXPECT_EQ(test, r.op, BLKIF_OP_FLUSH_DISKCACHE);
	KUNIT_EXPECT_EQ(test, r.id, 77);
	KUNIT_EXPECT_EQ(test, r.nr_segs, 0);
}

static void xen_ring_decode_indirect(struct kunit *test)
{
	union pvblk_xen_raw_req raw;
	struct pvblk_xen_breq r;
	u8 *b = (u8 *)&raw;
	u32 g = 0x1234;

	/* x86_32: id at 4, sector at 12, handle at 20, grefs at 24 */
	memset(&raw, 0, sizeof(raw));
	b[0] = BLKIF_OP_INDIRECT;
	b[1] = BLKIF_OP_READ;
	put16(b + 2, 300);
	put64(b + 4, 5);
	put64(b + 12, 64);
	memcpy(b + 24, &g, 4);
	pvblk_xen_decode_req(PVBLK_XEN_PROTO_X86_32, &raw, &r);
	KUNIT_EXPECT_TRUE(test, r.indirect);
	KUNIT_EXPECT_EQ(test, r.operation, BLKIF_OP_INDIRECT);
	KUNIT_EXPECT_EQ(test, r.op, BLKIF_OP_READ);
	KUNIT_EXPECT_EQ(test, r.nr_segs, 300);
	KUNIT_EXPECT_EQ(test, r.nr_ipages, 1);
	KUNIT_EXPECT_EQ(test, r.id, 5);
	KUNIT_EXPECT_EQ(test, r.sector, 64);
	KUNIT_EXPECT_EQ(test, r.indirect_grefs[0], 0x1234);

	/* x86_64: id at 8, sector at 16, handle at 24, grefs at 28 */
	memset(&raw, 0, sizeof(raw));
	b[0] = BLKIF_OP_INDIRECT;
	b[1] = BLKIF_OP_WRITE;
	put16(b + 2, 513);
	put64(b + 8, 6);
	put64(b + 16, 128);
	memcpy(b + 28 + 4, &g, 4);
	pvblk_xen_decode_req(PVBLK_XEN_PROTO_NATIVE, &raw, &r);
	KUNIT_EXPECT_EQ(test, r.op, BLKIF_OP_WRITE);
	KUNIT_EXPECT_EQ(test, r.nr_segs, 513);
	KUNIT_EXPECT_EQ(test, r.nr_ipages, 2);
	KUNIT_EXPECT_EQ(test, r.id, 6);
	KUNIT_EXPECT_EQ(test, r.sector, 128);
	KUNIT_EXPECT_EQ(test, r.indirect_grefs[1], 0x1234);
}

static void xen_ring_decode_discard(struct kunit *test)
{
	union pvblk_xen_raw_req raw;
	struct pvblk_xen_breq r;
	u8 *b = (u8 *)&raw;

	memset(&raw, 0, sizeof(raw));
	b[0] = BLKIF_OP_DISCARD;
	b[1] = BLKIF_DISCARD_SECURE;
	put64(b + 4, 9);
	put64(b + 12, 100);
	put64(b + 20, 50);
	pvblk_xen_decode_req(PVBLK_XEN_PROTO_X86_32, &raw, &r);
	KUNIT_EXPECT_EQ(test, r.op, BLKIF_OP_DISCARD);
	KUNIT_EXPECT_EQ(test, r.id, 9);
	KUNIT_EXPECT_EQ(test, r.sector, 100);
	KUNIT_EXPECT_EQ(test, r.nr_sectors, 50);
	KUNIT_EXPECT_EQ(test, r.discard_flag, BLKIF_DISCARD_SECURE);

	memset(&raw, 0, sizeof(raw));
	b[0] = BLKIF_OP_DISCARD;
	put64(b + 8, 10);
	put64(b + 16, 200);
	put64(b + 24, 8);
	pvblk_xen_decode_req(PVBLK_XEN_PROTO_NATIVE, &raw, &r);
	KUNIT_EXPECT_EQ(test, r.id, 10);
	KUNIT_EXPECT_EQ(test, r.sector, 200);
	KUNIT_EXPECT_EQ(test, r.nr_sectors, 8);
	KUNIT_EXPECT_EQ(test, r.discard_flag, 0);
}

/* Responses: zeroed padding (XSA-216), i386 and x86_64 layouts. */
static void xen_ring_write_rsp(struct kunit *test)
{
	u8 slot[112];
	s16 st;
	u64 id;

	memset(slot, 0xff, sizeof(slot));
	pvblk_xen_write_rsp(PVBLK_XEN_PROTO_X86_32, slot, 0x42, BLKIF_OP_READ,
			    BLKIF_RSP_ERROR);
	memcpy(&id, slot, 8);
	memcpy(&st, slot + 10, 2);
	KUNIT_EXPECT_EQ(test, id, 0x42);
	KUNIT_EXPECT_EQ(test, slot[8], BLKIF_OP_READ);
	KUNIT_EXPECT_EQ(test, slot[9], 0);
	KUNIT_EXPECT_EQ(test, st, BLKIF_RSP_ERROR);

	memset(slot, 0xff, sizeof(slot));
	pvblk_xen_write_rsp(PVBLK_XEN_PROTO_NATIVE, slot, 0x43, BLKIF_OP_INDIRECT,
			    BLKIF_RSP_EOPNOTSUPP);
	memcpy(&id, slot, 8);
	memcpy(&st, slot + 10, 2);
	KUNIT_EXPECT_EQ(test, id, 0x43);
	KUNIT_EXPECT_EQ(test, slot[8], BLKIF_OP_INDIRECT);
	KUNIT_EXPECT_EQ(test, slot[9], 0);
	KUNIT_EXPECT_EQ(test, st, BLKIF_RSP_EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, slot[12] | slot[13] | slot[14] | slot[15], 0);

	memset(slot, 0xff, sizeof(slot));
	pvblk_xen_write_rsp(PVBLK_XEN_PROTO_NATIVE, slot, 1, BLKIF_OP_WRITE,
			    BLKIF_RSP_OKAY);
	memcpy(&st, slot + offsetof(struct blkif_response, status), 2);
	KUNIT_EXPECT_EQ(test, st, BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, slot[9], 0);
}

static void xen_ring_status_map(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, pvblk_xen_rsp_status(BLK_STS_OK), BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, pvblk_xen_rsp_status(BLK_STS_NOTSUPP),
			BLKIF_RSP_EOPNOTSUPP);
	KUNIT_EXPECT_EQ(test, pvblk_xen_rsp_status(BLK_STS_IOERR),
			BLKIF_RSP_ERROR);
	KUNIT_EXPECT_EQ(test, pvblk_xen_rsp_status(BLK_STS_RESOURCE),
			BLKIF_RSP_ERROR);
}

/* req_prod more than a ring ahead of our responses, with index wrap. */
static void xen_ring_prod_overflow(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, pvblk_xen_prod_overflow(32, 0, 32));
	KUNIT_EXPECT_TRUE(test, pvblk_xen_prod_overflow(33, 0, 32));
	KUNIT_EXPECT_FALSE(test, pvblk_xen_prod_overflow(10, 0xfffffff0U, 32));
	KUNIT_EXPECT_TRUE(test, pvblk_xen_prod_overflow(17, 0xfffffff0U, 32));
	/* A producer behind the consumer is a huge distance: overflow. */
	KUNIT_EXPECT_TRUE(test, pvblk_xen_prod_overflow(5, 10, 32));
}

/* ---- the whole preparation, with fake grant mapping ---- */

static void rw_req(struct pvblk_xen_breq *r, u8 op, u64 sector,
		   unsigned int nr)
{
	unsigned int i;

	memset(r, 0, sizeof(*r));
	r->operation = op;
	r->op = op;
	r->id = 0x77;
	r->sector = sector;
	r->nr_segs = nr;
	for (i = 0; i < nr && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		r->seg[i].gref = 100 + i;
		r->seg[i].first_sect = 0;
		r->seg[i].last_sect = 7;
	}
}

static void xen_ring_prepare_read(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct pvblk_xen_breq r;
	struct pvblk_req *p = &f->xr.preq;

	rw_req(&r, BLKIF_OP_READ, 8, 3);
	r.seg[1].first_sect = 2;
	r.seg[1].last_sect = 5;
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r),
			BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, p->op, PVBLK_OP_READ);
	KUNIT_EXPECT_EQ(test, p->sector, 8);
	KUNIT_EXPECT_EQ(test, p->nr_segs, 3);
	KUNIT_EXPECT_EQ(test, p->segs[1].offset, 1024);
	KUNIT_EXPECT_EQ(test, p->segs[1].len, 2048);
	KUNIT_EXPECT_EQ(test, p->segs[2].len, 4096);
	KUNIT_EXPECT_PTR_EQ(test, p->segs[0].page, f->xr.ents[0]->page);
	KUNIT_EXPECT_EQ(test, f->live, 3);
	KUNIT_EXPECT_EQ(test, f->map_calls, 1);	/* one batch */
	KUNIT_EXPECT_FALSE(test, f->last_ro);
	KUNIT_EXPECT_EQ(test, f->xr.id, 0x77);
	pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, f->live, 0);
}

static void xen_ring_prepare_write_ro_map(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct pvblk_xen_breq r;

	rw_req(&r, BLKIF_OP_WRITE, 0, 11);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r),
			BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, f->xr.preq.op, PVBLK_OP_WRITE);
	KUNIT_EXPECT_TRUE(test, f->last_ro);	/* host only reads the data */
	KUNIT_EXPECT_EQ(test, f->live, 11);
	pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, f->live, 0);
}

static void xen_ring_prepare_flush_barrier(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct pvblk_xen_breq r;
	struct pvblk_req *p = &f->xr.preq;

	rw_req(&r, BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_EXPECT_EQ(test, p->op, PVBLK_OP_FLUSH);
	KUNIT_EXPECT_EQ(test, p->nr_segs, 0);

	/* blkfront's FUA write: FLUSH_DISKCACHE with data */
	rw_req(&r, BLKIF_OP_FLUSH_DISKCACHE, 16, 2);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_EXPECT_EQ(test, p->op, PVBLK_OP_WRITE);
	KUNIT_EXPECT_EQ(test, p->flags, PVBLK_REQ_PREFLUSH | PVBLK_REQ_FUA);
	pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY);

	rw_req(&r, BLKIF_OP_WRITE_BARRIER, 0, 0);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_EXPECT_EQ(test, p->op, PVBLK_OP_FLUSH);
	KUNIT_EXPECT_TRUE(test, p->flags & PVBLK_REQ_BARRIER);

	rw_req(&r, BLKIF_OP_WRITE_BARRIER, 0, 1);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_EXPECT_EQ(test, p->op, PVBLK_OP_WRITE);
	KUNIT_EXPECT_EQ(test, p->flags, PVBLK_REQ_BARRIER |
			PVBLK_REQ_PREFLUSH | PVBLK_REQ_FUA);
	pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, f->live, 0);
}

static void xen_ring_prepare_discard(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct pvblk_xen_breq r = {
		.operation = BLKIF_OP_DISCARD, .op = BLKIF_OP_DISCARD,
		.sector = 8, .nr_sectors = 64,
		.discard_flag = BLKIF_DISCARD_SECURE,
	};
	struct pvblk_req *p = &f->xr.preq;

	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_EXPECT_EQ(test, p->op, PVBLK_OP_DISCARD);
	KUNIT_EXPECT_EQ(test, p->nr_sectors, 64);
	KUNIT_EXPECT_EQ(test, p->flags, 0);	/* no discard-secure offered */

	f->ring.lim.secure_discard = true;
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_EXPECT_EQ(test, p->flags, PVBLK_REQ_SECURE);
	KUNIT_EXPECT_EQ(test, f->map_calls, 0);
}

/* Bad grant among good ones: error, and every good mapping undone. */
static void xen_ring_bad_gref(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct pvblk_xen_breq r;

	rw_req(&r, BLKIF_OP_READ, 0, 5);
	r.seg[3].gref = FAKE_BAD_GREF;
	KUNIT_EXPECT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r),
			BLKIF_RSP_ERROR);
	KUNIT_EXPECT_EQ(test, f->maps, 4);
	KUNIT_EXPECT_EQ(test, f->unmaps, 4);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, f->xr.nr_ents, 0);
	KUNIT_EXPECT_EQ(test, f->xr.id, 0x77);	/* still answerable */
}

static void fill_ipage(struct fake_ring *f, unsigned int page,
		       unsigned int from, unsigned int n)
{
	struct blkif_request_segment *s = page_address(f->ipages[page]);
	unsigned int i;

	for (i = 0; i < n; i++) {
		s[i].gref = 500 + from + i;
		s[i].first_sect = i % 8;
		s[i].last_sect = 7;
	}
}

static void indirect_req(struct pvblk_xen_breq *r, u8 op, unsigned int nr)
{
	memset(r, 0, sizeof(*r));
	r->operation = BLKIF_OP_INDIRECT;
	r->op = op;
	r->indirect = true;
	r->id = 0x99;
	r->sector = 0;
	r->nr_segs = nr;
	r->nr_ipages = DIV_ROUND_UP(nr, PVBLK_XEN_SEGS_PER_IPAGE);
	r->indirect_grefs[0] = FAKE_IPAGE_GREF;
	r->indirect_grefs[1] = FAKE_IPAGE_GREF + 1;
}

static void xen_ring_indirect(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct pvblk_req *p = &f->xr.preq;
	struct pvblk_xen_breq r;

	fill_ipage(f, 0, 0, 100);
	indirect_req(&r, BLKIF_OP_WRITE, 100);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_EXPECT_EQ(test, p->op, PVBLK_OP_WRITE);
	KUNIT_EXPECT_EQ(test, f->xr.operation, BLKIF_OP_WRITE);
	KUNIT_EXPECT_EQ(test, p->nr_segs, 100);
	KUNIT_EXPECT_EQ(test, p->segs[3].offset, 3 * 512);
	KUNIT_EXPECT_EQ(test, p->segs[3].len, 5 * 512);
	KUNIT_EXPECT_EQ(test, f->xr.ents[99]->key, 599);
	/* the indirect page is unmapped once its descriptors are copied */
	KUNIT_EXPECT_EQ(test, f->live, 100);
	KUNIT_EXPECT_EQ(test, f->map_calls, 2);
	pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, f->live, 0);
}

/* Garbage in the indirect page: error, indirect page unmapped, no data map. */
static void xen_ring_indirect_garbage(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct blkif_request_segment *s = page_address(f->ipages[0]);
	struct pvblk_xen_breq r;

	fill_ipage(f, 0, 0, 40);
	s[17].last_sect = 9;
	indirect_req(&r, BLKIF_OP_READ, 40);
	KUNIT_EXPECT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r),
			BLKIF_RSP_ERROR);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, f->map_calls, 1);

	fill_ipage(f, 0, 0, 40);
	s[39].first_sect = 6;
	s[39].last_sect = 5;
	KUNIT_EXPECT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r),
			BLKIF_RSP_ERROR);

	/* bad indirect page grant */
	fill_ipage(f, 0, 0, 40);
	r.indirect_grefs[0] = FAKE_BAD_GREF;
	KUNIT_EXPECT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r),
			BLKIF_RSP_ERROR);
	KUNIT_EXPECT_EQ(test, f->live, 0);
}

/* Persistent grants through the frontend's mapping cache. */
static void xen_ring_persistent(struct kunit *test)
{
	struct fake_ring *f = fake_ring_cached(test);
	struct pvblk_mcache_stats st;
	struct pvblk_xen_breq r;

	rw_req(&r, BLKIF_OP_WRITE, 0, 3);		/* grefs 100..102 */
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_EXPECT_TRUE(test, f->xr.cached);
	KUNIT_EXPECT_FALSE(test, f->last_ro);	/* persistent: always rw */
	pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, f->live, 3);		/* still cached */

	rw_req(&r, BLKIF_OP_READ, 0, 4);		/* 100..103: one new */
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_EXPECT_EQ(test, f->maps, 4);
	pvblk_mcache_get_stats(f->ring.mcache, &st);
	KUNIT_EXPECT_EQ(test, st.hits, 3);
	KUNIT_EXPECT_EQ(test, st.in_use, 4);
	pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY);
	pvblk_mcache_get_stats(f->ring.mcache, &st);
	KUNIT_EXPECT_EQ(test, st.in_use, 0);

	/* a bad grant: error, nothing held, the cache keeps serving */
	rw_req(&r, BLKIF_OP_READ, 0, 3);
	r.seg[1].gref = FAKE_BAD_GREF;
	KUNIT_EXPECT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r),
			BLKIF_RSP_ERROR);
	pvblk_mcache_get_stats(f->ring.mcache, &st);
	KUNIT_EXPECT_EQ(test, st.in_use, 0);

	/* everything unmapped on disconnect */
	pvblk_mcache_destroy(f->ring.mcache);
	f->ring.mcache = NULL;
	KUNIT_EXPECT_EQ(test, f->live, 0);
}

/* ---- teardown: grant pages still referenced, the irq, late kicks ---- */

/* Network-backed storage holding a page after its bio ended. */
struct page_holder {
	struct delayed_work work;
	struct page *page;
};

static void page_holder_put(struct work_struct *work)
{
	struct page_holder *h = container_of(to_delayed_work(work),
					     struct page_holder, work);

	put_page(h->page);
}

static void hold_page(struct page_holder *h, struct page *page,
		      unsigned int ms)
{
	h->page = page;
	get_page(page);
	INIT_DELAYED_WORK(&h->work, page_holder_put);
	schedule_delayed_work(&h->work, msecs_to_jiffies(ms));
}

/* A response slot of the fake ring (native ABI). */
static struct blkif_response *rsp_slot(struct fake_ring *f, RING_IDX i)
{
	return (struct blkif_response *)((u8 *)f->ring.rings.sring->ring +
					 (i % f->ring.nr_ents) *
					 f->ring.slot_size);
}

/* A shared ring of our own so that responses can be written and read. */
static void fake_sring(struct kunit *test, struct fake_ring *f)
{
	void *page = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, page);
	f->ring.proto = PVBLK_XEN_PROTO_NATIVE;
	f->ring.sring = page;
	BACK_RING_INIT(&f->ring.rings, (struct blkif_sring *)page, PAGE_SIZE);
	f->ring.nr_ents = RING_SIZE(&f->ring.rings);
	f->ring.slot_size = sizeof(union blkif_sring_entry);
	f->ring.req_size = sizeof(struct blkif_request);
}

/* Prepare request @id (2 segments) and complete it with @status. */
static void run_req(struct kunit *test, struct fake_ring *f, u64 id,
		    blk_status_t status, struct page **held)
{
	struct pvblk_xen_breq r;

	rw_req(&r, BLKIF_OP_WRITE, 0, 2);
	r.id = id;
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	if (held) {
		*held = f->xr.preq.segs[1].page;
		get_page(*held);	/* the network still sends it */
	}
	f->xr.preq.status = status;
	pvblk_xen_transport_ops.complete(&f->xr.preq);
}

/*
 * A transient grant is unmapped only once its page is free again, and
 * nobody waits for that: the unmap is parked and retried.
 */
static void xen_ring_unmap_waits_transient(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct pvblk_xen_breq r;
	struct page *page;

	/* nobody holds the pages: nothing parked, no wait counted */
	rw_req(&r, BLKIF_OP_READ, 0, 2);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_EXPECT_FALSE(test, pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY));
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->ring.unmap_waits), 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->ring.unmap_wait_us), 0);

	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	page = f->xr.preq.segs[1].page;
	get_page(page);
	/* The release returns at once: the free page unmapped, one parked. */
	KUNIT_EXPECT_TRUE(test, pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY));
	KUNIT_EXPECT_EQ(test, f->xr.nr_ents, 0);
	KUNIT_EXPECT_EQ(test, f->live, 1);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 1);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked_rsp, 1);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->ring.unmap_waits), 1);

	/* A retry while it is still held unmaps nothing. */
	pvblk_xen_unpark(&f->ring, false);
	KUNIT_EXPECT_EQ(test, f->live, 1);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 1);

	msleep(20);
	put_page(page);			/* the network let it go */
	pvblk_xen_unpark(&f->ring, false);
	KUNIT_EXPECT_EQ(test, f->busy_unmaps, 0);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 0);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked_rsp, 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->ring.unmap_waits), 1);
	/* parked for 20 ms at least: the time is counted */
	KUNIT_EXPECT_GE(test, atomic_long_read(&f->ring.unmap_wait_us), 20000);
}

/*
 * Held and free pages mixed in one request: each page is looked at once,
 * the free ones are unmapped at once, exactly the held ones are parked.
 */
static void xen_ring_park_mixed(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct pvblk_xen_breq r;
	struct page *held[2];

	rw_req(&r, BLKIF_OP_WRITE, 0, 4);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	KUNIT_ASSERT_EQ(test, f->live, 4);
	held[0] = f->xr.preq.segs[0].page;
	held[1] = f->xr.preq.segs[2].page;
	get_page(held[0]);
	get_page(held[1]);
	KUNIT_EXPECT_TRUE(test, pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY));
	KUNIT_EXPECT_EQ(test, f->live, 2);		/* segments 1 and 3 */
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 1);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->ring.unmap_waits), 1);

	put_page(held[0]);
	pvblk_xen_unpark(&f->ring, false);	/* one still held: stays */
	KUNIT_EXPECT_EQ(test, f->live, 2);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 1);
	put_page(held[1]);
	pvblk_xen_unpark(&f->ring, false);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 0);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked_rsp, 0);
}

/*
 * A held page does not block the ring: the next request (here the same
 * request of the pool, reused at once) is answered while the first one's
 * response stays parked; that one is answered, with its own status, only
 * once its grant is unmapped.
 */
static void xen_ring_park_serves_next(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct blkif_response *rsp;
	struct page *page;

	fake_sring(test, f);
	run_req(test, f, 0xa, BLK_STS_IOERR, &page);
	KUNIT_EXPECT_EQ(test, f->ring.rings.rsp_prod_pvt, 0);	/* parked */
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked_rsp, 1);

	run_req(test, f, 0xb, BLK_STS_OK, NULL);
	KUNIT_ASSERT_EQ(test, f->ring.rings.rsp_prod_pvt, 1);
	rsp = rsp_slot(f, 0);
	KUNIT_EXPECT_EQ(test, rsp->id, 0xb);
	KUNIT_EXPECT_EQ(test, rsp->status, BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->ring.answered_while_parked),
			1);
	KUNIT_EXPECT_EQ(test, f->live, 1);	/* only the held page */

	put_page(page);
	pvblk_xen_unpark(&f->ring, false);	/* what the ring's work does */
	KUNIT_ASSERT_EQ(test, f->ring.rings.rsp_prod_pvt, 2);
	rsp = rsp_slot(f, 1);
	KUNIT_EXPECT_EQ(test, rsp->id, 0xa);
	KUNIT_EXPECT_EQ(test, rsp->operation, BLKIF_OP_WRITE);
	KUNIT_EXPECT_EQ(test, rsp->status, BLKIF_RSP_ERROR);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, f->busy_unmaps, 0);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 0);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked_rsp, 0);
}

/* Nobody retries by hand: the delayed work kicks the ring's work. */
static void xen_ring_park_retried(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct workqueue_struct *wq = NULL;
	struct page_holder h;
	struct page *page;
	unsigned int i;

	if (!pvblk_xen_wq) {	/* not a Xen dom0: the module made none */
		wq = alloc_workqueue("pvblk_xen_kunit", WQ_UNBOUND, 0);
		KUNIT_ASSERT_NOT_NULL(test, wq);
		pvblk_xen_wq = wq;
	}
	fake_sring(test, f);
	run_req(test, f, 0xc, BLK_STS_OK, &page);
	hold_page(&h, page, 50);
	put_page(page);		/* the holder's reference stays */
	KUNIT_EXPECT_EQ(test, f->ring.rings.rsp_prod_pvt, 0);
	/* 10 s at most: a bound for a stuck retry, not a speed. */
	for (i = 0; i < 500 && READ_ONCE(f->ring.nr_parked); i++)
		msleep(20);
	flush_delayed_work(&h.work);
	flush_work(&f->ring.work);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 0);
	KUNIT_EXPECT_EQ(test, f->ring.rings.rsp_prod_pvt, 1);
	KUNIT_EXPECT_EQ(test, rsp_slot(f, 0)->id, 0xc);
	/* pushed to the frontend by the work */
	KUNIT_EXPECT_EQ(test, f->ring.rings.sring->rsp_prod, 1);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, f->busy_unmaps, 0);
	pvblk_xen_ring_stop(&f->ring);
	if (wq) {
		pvblk_xen_wq = NULL;
		destroy_workqueue(wq);
	}
}

/*
 * Teardown with a request parked: stopping the ring waits for the page,
 * unmaps it, answers the request and pushes the response.
 */
static void xen_ring_park_teardown(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct page_holder h;
	struct page *page;

	fake_sring(test, f);
	run_req(test, f, 0xd, BLK_STS_OK, &page);
	hold_page(&h, page, 100);
	put_page(page);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 1);
	pvblk_xen_ring_stop(&f->ring);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 0);
	KUNIT_EXPECT_EQ(test, f->busy_unmaps, 0);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, f->ring.rings.sring->rsp_prod, 1);
	KUNIT_EXPECT_EQ(test, rsp_slot(f, 0)->id, 0xd);
	flush_delayed_work(&h.work);
	/* A completion after the stop parks; freeing the ring finishes it. */
	run_req(test, f, 0xe, BLK_STS_OK, &page);
	hold_page(&h, page, 50);
	put_page(page);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 1);
	f->ring.sring = NULL;	/* ours, not a mapped ring */
	pvblk_xen_ring_free(&f->ring);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 0);
	KUNIT_EXPECT_EQ(test, f->busy_unmaps, 0);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	flush_delayed_work(&h.work);
}

/*
 * The same for a persistent grant purged from the cache: the purge does
 * not wait (no response hangs on it), the final release does.
 */
static void xen_ring_unmap_waits_persistent(struct kunit *test)
{
	struct fake_ring *f = fake_ring_cached(test);
	struct page_holder h;
	struct pvblk_xen_breq r;

	rw_req(&r, BLKIF_OP_WRITE, 0, 1);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	hold_page(&h, f->xr.preq.segs[0].page, 100);
	/* idle in the cache, still held */
	KUNIT_EXPECT_FALSE(test, pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY));
	KUNIT_EXPECT_EQ(test, pvblk_mcache_purge(f->ring.mcache, 0), 1);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 1);
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked_rsp, 0);
	KUNIT_EXPECT_EQ(test, atomic_long_read(&f->ring.unmap_waits), 1);
	pvblk_xen_ring_release(&f->ring);	/* waits: the ring goes */
	KUNIT_EXPECT_EQ(test, f->ring.nr_parked, 0);
	KUNIT_EXPECT_EQ(test, f->busy_unmaps, 0);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	flush_delayed_work(&h.work);
}

/*
 * Closed with nothing in flight: pvblk_xen_ring_release() unmaps every
 * persistent grant at once (the frontend may reuse its pages as soon as
 * it sees Closed) and leaves the emptied cache to debugfs until
 * pvblk_xen_ring_free().  A completion arriving after that still gives
 * its grants back and writes no response into the unmapped ring.
 */
static void xen_ring_release_unmaps_idle(struct kunit *test)
{
	struct fake_ring *f = fake_ring_cached(test);
	struct pvblk_mcache_stats st;
	struct pvblk_xen_breq r;

	rw_req(&r, BLKIF_OP_WRITE, 0, 4);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY);	/* answered: idle in the cache */
	KUNIT_EXPECT_EQ(test, f->live, 4);

	pvblk_xen_ring_release(&f->ring);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, f->unmaps, 4);
	KUNIT_ASSERT_NOT_NULL(test, f->ring.mcache);
	pvblk_mcache_get_stats(f->ring.mcache, &st);
	KUNIT_EXPECT_EQ(test, st.entries, 0);
	KUNIT_EXPECT_EQ(test, st.in_use, 0);
	pvblk_xen_ring_release(&f->ring);	/* nothing left: a no-op */
	KUNIT_EXPECT_EQ(test, f->unmaps, 4);

	/* A late completion: grants back, no response written. */
	rw_req(&r, BLKIF_OP_READ, 0, 2);
	KUNIT_ASSERT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r), 0);
	pvblk_xen_transport_ops.complete(&f->xr.preq);
	pvblk_mcache_get_stats(f->ring.mcache, &st);
	KUNIT_EXPECT_EQ(test, st.in_use, 0);
	KUNIT_EXPECT_EQ(test, f->xr.nr_ents, 0);
	KUNIT_EXPECT_EQ(test, f->ring.rings.rsp_prod_pvt, 0);
	KUNIT_EXPECT_FALSE(test, f->ring.rsp_pending);
}

static int quiesce_thread(void *data)
{
	struct fake_ring *f = data;

	pvblk_xen_ring_quiesce(&f->ring);
	return 0;
}

/*
 * The work item is in its EOI when the ring is quiesced: the irq must not
 * be unbound (and possibly reused) before that EOI has returned.
 */
static void xen_ring_quiesce_flushes_before_unbind(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct xenbus_device *xdev = kunit_kzalloc(test, sizeof(*xdev),
						   GFP_KERNEL);
	struct task_struct *t;

	KUNIT_ASSERT_NOT_NULL(test, xdev);
	pvblk_xen_ring_init(&f->ring, xdev, 0);
	f->ring.gops = &fake_gops;
	f->ring.irq = 42;
	f->eoi_blocks = true;
	atomic_set(&f->ring.irq_pending, 1);
	queue_work(system_unbound_wq, &f->ring.work);
	KUNIT_ASSERT_TRUE(test, wait_for_completion_timeout(&f->eoi_entered,
							    5 * HZ));
	t = kthread_run(quiesce_thread, f, "pvblk-kunit-quiesce");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	msleep(200);		/* an unbind racing the EOI happens now */
	complete(&f->eoi_release);
	flush_work(&f->ring.work);
	while (!READ_ONCE(f->unbinds))
		msleep(20);
	KUNIT_EXPECT_EQ(test, f->eois, 1);
	KUNIT_EXPECT_EQ(test, f->eoi_unbinds, 0);
	KUNIT_EXPECT_EQ(test, f->unbinds, 1);
	KUNIT_EXPECT_EQ(test, READ_ONCE(f->ring.irq), 0);
}

/* A completion's ops->queue_work() after the ring stopped queues nothing. */
static void xen_ring_no_kick_after_stop(struct kunit *test)
{
	struct fake_ring *f = fake_ring_new(test);
	struct xenbus_device *xdev = kunit_kzalloc(test, sizeof(*xdev),
						   GFP_KERNEL);
	struct pvblk_queue *q = kunit_kzalloc(test, sizeof(*q), GFP_KERNEL);
	struct workqueue_struct *wq = NULL;

	KUNIT_ASSERT_NOT_NULL(test, xdev);
	KUNIT_ASSERT_NOT_NULL(test, q);
	if (!pvblk_xen_wq) {	/* not a Xen dom0: the module made none */
		wq = alloc_workqueue("pvblk_xen_kunit", WQ_UNBOUND, 0);
		KUNIT_ASSERT_NOT_NULL(test, wq);
		pvblk_xen_wq = wq;
	}
	pvblk_xen_ring_init(&f->ring, xdev, 0);
	f->ring.gops = &fake_gops;
	q->priv = &f->ring;
	pvblk_xen_ring_stop(&f->ring);
	pvblk_xen_transport_ops.queue_work(q);	/* a late completion */
	KUNIT_EXPECT_FALSE(test, work_pending(&f->ring.work));
	cancel_work_sync(&f->ring.work);
	if (wq) {
		pvblk_xen_wq = NULL;
		destroy_workqueue(wq);
	}
}

/* ---- hostile requests: each answers a status, nothing leaks ---- */

/**
 * struct hostile_case - one request and what the frontend makes of it.
 * @name: description; "(core judges)" marks a request this frontend used
 *	to refuse for a reason that is now the core's (range, read-only,
 *	flush or barrier support): it must be passed on unchanged.
 * @make: builds the request, and may change what we advertised.
 * @status: expected return of pvblk_xen_prepare().
 * @op: expected core operation when @status is BLKIF_RSP_OKAY.
 * @flags: expected PVBLK_REQ_* flags when @status is BLKIF_RSP_OKAY.
 */
struct hostile_case {
	const char *name;
	void (*make)(struct pvblk_xen_breq *r, struct pvblk_xen_limits *lim);
	int status;
	enum pvblk_op op;
	unsigned int flags;
};

#define H_FUA_WRITE	(PVBLK_REQ_PREFLUSH | PVBLK_REQ_FUA)

static void h_zero_segs(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_READ, 0, 0);
}

static void h_too_many_segs(struct pvblk_xen_breq *r,
			    struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_WRITE, 0, BLKIF_MAX_SEGMENTS_PER_REQUEST);
	r->nr_segs = 200;	/* direct requests carry at most 11 */
}

static void h_first_gt_last(struct pvblk_xen_breq *r,
			    struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_READ, 0, 4);
	r->seg[2].first_sect = 5;
	r->seg[2].last_sect = 4;
}

static void h_last_gt_7(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_READ, 0, 2);
	r->seg[1].last_sect = 8;
}

static void h_first_gt_7(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_READ, 0, 1);
	r->seg[0].first_sect = 200;
	r->seg[0].last_sect = 255;
}

static void h_unknown_op(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, 4, 0, 1);	/* BLKIF_OP_RESERVED_1 */
}

static void h_op_ff(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, 0xff, 0, 1);
}

/* Ranges: the frontend does not know the disk size, the core judges. */
static void h_past_end(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_READ, FAKE_CAPACITY, 1);
}

static void h_crossing_end(struct pvblk_xen_breq *r,
			   struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_WRITE, FAKE_CAPACITY - 8, 2);
}

static void h_sector_wrap(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_READ, U64_MAX - 3, 1);
}

/* Read-only: not part of the limits any more, the core judges. */
static void h_write_ro(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_WRITE, 0, 1);
}

static void h_flush_ro(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_FLUSH_DISKCACHE, 0, 1);
}

static void h_read_ro(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_READ, 0, 1);
}

static void h_discard(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	memset(r, 0, sizeof(*r));
	r->operation = BLKIF_OP_DISCARD;
	r->op = BLKIF_OP_DISCARD;
	r->nr_sectors = 8;
}

static void h_discard_unsup(struct pvblk_xen_breq *r,
			    struct pvblk_xen_limits *l)
{
	h_discard(r, l);
	l->discard = false;	/* feature-discard not advertised */
}

static void h_discard_past_end(struct pvblk_xen_breq *r,
			       struct pvblk_xen_limits *l)
{
	h_discard(r, l);
	r->sector = FAKE_CAPACITY - 4;
}

static void h_discard_wrap(struct pvblk_xen_breq *r,
			   struct pvblk_xen_limits *l)
{
	h_discard(r, l);
	r->sector = 8;
	r->nr_sectors = U64_MAX - 4;
}

static void h_discard_zero(struct pvblk_xen_breq *r,
			   struct pvblk_xen_limits *l)
{
	h_discard(r, l);
	r->nr_sectors = 0;
}

/* Flush and barrier are always advertised; backend support is the core's. */
static void h_barrier(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_WRITE_BARRIER, 0, 1);
}

static void h_flush(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
}

static void h_indirect_too_many(struct pvblk_xen_breq *r,
				struct pvblk_xen_limits *l)
{
	indirect_req(r, BLKIF_OP_READ, FAKE_MAX_SEGS + 1);
}

static void h_indirect_zero(struct pvblk_xen_breq *r,
			    struct pvblk_xen_limits *l)
{
	indirect_req(r, BLKIF_OP_READ, 0);
}

static void h_indirect_bad_op(struct pvblk_xen_breq *r,
			      struct pvblk_xen_limits *l)
{
	indirect_req(r, BLKIF_OP_DISCARD, 8);
}

static void h_indirect_nested(struct pvblk_xen_breq *r,
			      struct pvblk_xen_limits *l)
{
	indirect_req(r, BLKIF_OP_INDIRECT, 8);
}

static void h_indirect_unsup(struct pvblk_xen_breq *r,
			     struct pvblk_xen_limits *l)
{
	indirect_req(r, BLKIF_OP_READ, 8);
	l->max_indirect_segs = 0;
}

static void h_indirect_max_pages(struct pvblk_xen_breq *r,
				 struct pvblk_xen_limits *l)
{
	indirect_req(r, BLKIF_OP_READ, 0xffff);
	l->max_indirect_segs = 0xffff;	/* would need 128 indirect pages */
}

static void h_ok_read(struct pvblk_xen_breq *r, struct pvblk_xen_limits *l)
{
	rw_req(r, BLKIF_OP_READ, FAKE_CAPACITY - 8, 1);
}

static const struct hostile_case hostile_cases[] = {
	{ "nr_segments 0", h_zero_segs, BLKIF_RSP_ERROR },
	{ "nr_segments 200 direct", h_too_many_segs, BLKIF_RSP_ERROR },
	{ "first_sect > last_sect", h_first_gt_last, BLKIF_RSP_ERROR },
	{ "last_sect 8", h_last_gt_7, BLKIF_RSP_ERROR },
	{ "first_sect 200", h_first_gt_7, BLKIF_RSP_ERROR },
	{ "unknown op 4", h_unknown_op, BLKIF_RSP_EOPNOTSUPP },
	{ "unknown op 0xff", h_op_ff, BLKIF_RSP_EOPNOTSUPP },
	{ "sector past the disk (core judges)", h_past_end, BLKIF_RSP_OKAY,
	  PVBLK_OP_READ, 0 },
	{ "range crossing the end (core judges)", h_crossing_end,
	  BLKIF_RSP_OKAY, PVBLK_OP_WRITE, 0 },
	{ "sector wraps (core judges)", h_sector_wrap, BLKIF_RSP_OKAY,
	  PVBLK_OP_READ, 0 },
	{ "write to read-only (core judges)", h_write_ro, BLKIF_RSP_OKAY,
	  PVBLK_OP_WRITE, 0 },
	{ "flush+data to read-only (core judges)", h_flush_ro,
	  BLKIF_RSP_OKAY, PVBLK_OP_WRITE, H_FUA_WRITE },
	{ "read from read-only (core judges)", h_read_ro, BLKIF_RSP_OKAY,
	  PVBLK_OP_READ, 0 },
	{ "discard on read-only (core judges)", h_discard, BLKIF_RSP_OKAY,
	  PVBLK_OP_DISCARD, 0 },
	{ "discard unsupported", h_discard_unsup, BLKIF_RSP_EOPNOTSUPP },
	{ "discard past the end (core judges)", h_discard_past_end,
	  BLKIF_RSP_OKAY, PVBLK_OP_DISCARD, 0 },
	{ "discard length wraps (core judges)", h_discard_wrap,
	  BLKIF_RSP_OKAY, PVBLK_OP_DISCARD, 0 },
	{ "discard of 0 sectors (core judges)", h_discard_zero,
	  BLKIF_RSP_OKAY, PVBLK_OP_DISCARD, 0 },
	{ "barrier unsupported (core judges)", h_barrier, BLKIF_RSP_OKAY,
	  PVBLK_OP_WRITE, PVBLK_REQ_BARRIER | H_FUA_WRITE },
	{ "flush unsupported (core judges)", h_flush, BLKIF_RSP_OKAY,
	  PVBLK_OP_FLUSH, 0 },
	{ "indirect above max", h_indirect_too_many, BLKIF_RSP_ERROR },
	{ "indirect 0 segments", h_indirect_zero, BLKIF_RSP_ERROR },
	{ "indirect op discard", h_indirect_bad_op, BLKIF_RSP_ERROR },
	{ "indirect op indirect", h_indirect_nested, BLKIF_RSP_ERROR },
	{ "indirect not offered", h_indirect_unsup, BLKIF_RSP_EOPNOTSUPP },
	{ "indirect > 8 pages", h_indirect_max_pages, BLKIF_RSP_ERROR },
	{ "valid last block", h_ok_read, BLKIF_RSP_OKAY, PVBLK_OP_READ, 0 },
};

static void hostile_desc(const struct hostile_case *c, char *desc)
{
	strscpy(desc, c->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(hostile, hostile_cases, hostile_desc);

static void xen_ring_hostile(struct kunit *test)
{
	const struct hostile_case *c = test->param_value;
	struct fake_ring *f = fake_ring_new(test);
	struct pvblk_req *p = &f->xr.preq;
	struct pvblk_xen_breq r;

	c->make(&r, &f->ring.lim);
	KUNIT_EXPECT_EQ(test, pvblk_xen_prepare(&f->ring, &f->xr, &r),
			c->status);
	KUNIT_EXPECT_EQ(test, f->xr.id, r.id);
	KUNIT_EXPECT_EQ(test, f->xr.operation,
			r.indirect ? r.op : r.operation);
	if (c->status != BLKIF_RSP_OKAY) {
		KUNIT_EXPECT_EQ(test, f->live, 0);
		KUNIT_EXPECT_EQ(test, f->xr.nr_ents, 0);
	} else {
		/* Passed on as it came: the core judges range and support. */
		KUNIT_EXPECT_EQ(test, p->op, c->op);
		KUNIT_EXPECT_EQ(test, p->flags, c->flags);
		KUNIT_EXPECT_EQ(test, p->sector, r.sector);
		KUNIT_EXPECT_EQ(test, p->nr_sectors, r.nr_sectors);
		KUNIT_EXPECT_EQ(test, p->nr_segs, r.nr_segs);
		KUNIT_EXPECT_EQ(test, f->live, r.nr_segs);
	}
	pvblk_xen_release(&f->xr, BLKIF_RSP_OKAY);
	KUNIT_EXPECT_EQ(test, f->live, 0);
}

static struct kunit_case xen_ring_cases[] = {
	KUNIT_CASE(xen_ring_abi_sizes),
	KUNIT_CASE(xen_ring_decode_x86_32_rw),
	KUNIT_CASE(xen_ring_decode_x86_64_rw),
	KUNIT_CASE(xen_ring_decode_native),
	KUNIT_CASE(xen_ring_decode_indirect),
	KUNIT_CASE(xen_ring_decode_discard),
	KUNIT_CASE(xen_ring_write_rsp),
	KUNIT_CASE(xen_ring_status_map),
	KUNIT_CASE(xen_ring_prod_overflow),
	KUNIT_CASE(xen_ring_prepare_read),
	KUNIT_CASE(xen_ring_prepare_write_ro_map),
	KUNIT_CASE(xen_ring_prepare_flush_barrier),
	KUNIT_CASE(xen_ring_prepare_discard),
	KUNIT_CASE(xen_ring_bad_gref),
	KUNIT_CASE(xen_ring_indirect),
	KUNIT_CASE(xen_ring_indirect_garbage),
	KUNIT_CASE(xen_ring_persistent),
	KUNIT_CASE(xen_ring_unmap_waits_transient),
	KUNIT_CASE(xen_ring_park_mixed),
	KUNIT_CASE(xen_ring_park_serves_next),
	KUNIT_CASE(xen_ring_park_retried),
	KUNIT_CASE(xen_ring_park_teardown),
	KUNIT_CASE(xen_ring_unmap_waits_persistent),
	KUNIT_CASE(xen_ring_release_unmaps_idle),
	KUNIT_CASE(xen_ring_quiesce_flushes_before_unbind),
	KUNIT_CASE(xen_ring_no_kick_after_stop),
	KUNIT_CASE_PARAM(xen_ring_hostile, hostile_gen_params),
	{}
};

static struct kunit_suite xen_ring_suite = {
	.name = "pvblk_xen_ring",
	.exit = xen_ring_exit,
	.test_cases = xen_ring_cases,
};

kunit_test_suite(xen_ring_suite);
