// SPDX-License-Identifier: GPL-2.0
/*
 * Block device backend: requests become as few bios as the queue limits
 * allow.  A request that fits PVBLK_INLINE_BVECS bvecs uses the bio and
 * bvecs embedded in struct pvblk_req (no allocation); larger ones get
 * bio_alloc()ed bios counted in req->pending.
 */
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/slab.h>
#include <xen/xen.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include "internal.h"

struct bio *pvblk_bio_alloc(struct block_device *bdev, unsigned short nr_vecs,
			    blk_opf_t opf)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_bio_alloc, bdev, nr_vecs, opf);
	return bio_alloc(bdev, nr_vecs, opf, GFP_NOIO);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_bio_alloc);

void pvblk_submit_bio(struct bio *bio)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_submit_bio, bio);
	submit_bio(bio);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_submit_bio);

void pvblk_bio_limits_init(struct pvblk_bio_limits *lim,
			   const struct pvblk_backend_info *info)
{
	u64 bytes;

	lim->lbs = max_t(u32, info->logical_block_size, SECTOR_SIZE);
	lim->max_bvecs = clamp_t(u32, info->max_segments, 1, BIO_MAX_VECS);
	bytes = (u64)(info->max_sectors ? info->max_sectors : UINT_MAX)
		<< SECTOR_SHIFT;
	bytes = min_t(u64, bytes, UINT_MAX);
	lim->max_bytes = max_t(u32, round_down((u32)bytes, lim->lbs),
			       lim->lbs);
	lim->max_bvec_bytes = info->max_segment_size ?
		max_t(u32, info->max_segment_size, SECTOR_SIZE) : UINT_MAX;
	/* Grant-mapped pages may be contiguous as pfns, never as mfns. */
	lim->merge_pages = !xen_domain();
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_bio_limits_init);

static bool pvblk_bvec_contig(const struct bio_vec *bv, struct page *page,
			      unsigned int off, bool merge_pages)
{
	if (bv->bv_page == page && bv->bv_offset + bv->bv_len == off)
		return true;
	if (!merge_pages || is_zone_device_page(page) ||
	    is_zone_device_page(bv->bv_page))
		return false;
	return page_to_phys(bv->bv_page) + bv->bv_offset + bv->bv_len ==
		page_to_phys(page) + off;
}

/**
 * pvblk_bio_plan_next() - fill the bvecs of the next bio of a request.
 * @segs: the request's segments (validated).
 * @nr_segs: number of @segs.
 * @lim: per-bio limits.
 * @pos: where the previous bio ended; advanced past this one.
 * @bv: bvec table to fill.
 * @cap: entries in @bv (hard limit).
 * @nr_bv: bvecs used.
 *
 * Pure: no allocation, no side effect besides @pos and @bv.  Physically
 * contiguous segments share a bvec up to @lim->max_bvec_bytes.  A bio ends
 * at @lim->max_bytes or @lim->max_bvecs, always on a logical block
 * boundary (the bvec limit is exceeded, within @cap, to reach one).
 *
 * Return: bytes in the bio; 0 when @pos is at the end or nothing fits.
 */
unsigned int pvblk_bio_plan_next(const struct pvblk_seg *segs,
				 unsigned int nr_segs,
				 const struct pvblk_bio_limits *lim,
				 struct pvblk_seg_pos *pos,
				 struct bio_vec *bv, unsigned int cap,
				 unsigned int *nr_bv)
{
	struct pvblk_seg_pos p = *pos, cut = *pos;
	unsigned int n = 0, bytes = 0, cut_n = 0, cut_bytes = 0, cut_len = 0;

	while (p.seg < nr_segs) {
		const struct pvblk_seg *s = &segs[p.seg];
		unsigned int off = s->offset + p.off;
		unsigned int chunk = min(s->len - p.off, lim->max_bytes - bytes);

		if (!chunk)
			break;
		if (n && bv[n - 1].bv_len < lim->max_bvec_bytes &&
		    pvblk_bvec_contig(&bv[n - 1], s->page, off,
				      lim->merge_pages)) {
			chunk = min(chunk, lim->max_bvec_bytes - bv[n - 1].bv_len);
			bv[n - 1].bv_len += chunk;
		} else {
			/* Over the soft cap: stop, backing up if needed. */
			if (n == cap || (n >= lim->max_bvecs &&
					 (!(bytes % lim->lbs) || cut_bytes)))
				break;
			chunk = min(chunk, lim->max_bvec_bytes);
			bvec_set_page(&bv[n++], s->page, chunk, off);
		}
		bytes += chunk;
		p.off += chunk;
		if (p.off == s->len) {
			p.seg++;
			p.off = 0;
		}
		if (!(bytes % lim->lbs)) {
			cut = p;
			cut_n = n;
			cut_bytes = bytes;
			cut_len = bv[n - 1].bv_len;
		}
	}
	if (bytes % lim->lbs && cut_bytes) {
		/* Stopped inside a logical block: end at the last boundary. */
		p = cut;
		n = cut_n;
		bytes = cut_bytes;
		bv[n - 1].bv_len = cut_len;
	}
	*pos = p;
	*nr_bv = n;
	return bytes;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_bio_plan_next);

static void pvblk_bio_end_io(struct bio *bio)
{
	struct pvblk_req *req = bio->bi_private;
	blk_status_t status = bio->bi_status;

	if (bio == &req->inline_bio)
		bio_uninit(bio);
	else
		bio_put(bio);
	pvblk_req_put(req, status);
}

static void pvblk_bio_go(struct pvblk_req *req, struct bio *bio,
			 sector_t sector)
{
	bio->bi_iter.bi_sector = sector;
	bio->bi_private = req;
	bio->bi_end_io = pvblk_bio_end_io;
	atomic_inc(&req->pending);
	PVBLK_STAT_ADD(req->q, bios, 1);
	pvblk_submit_bio(bio);
}

static void pvblk_bio_rw(struct pvblk_req *req, struct pvblk_backend *be)
{
	const struct pvblk_bio_limits *lim = &be->lim;
	struct pvblk_seg_pos pos = { 0, 0 };
	sector_t sector = req->sector;
	unsigned int bytes, n, cap, per_seg;
	struct bio *bio;
	blk_opf_t opf;

	if (req->op == PVBLK_OP_WRITE) {
		opf = REQ_OP_WRITE | REQ_SYNC | REQ_IDLE;
		if (req->flags & PVBLK_REQ_FUA)
			opf |= REQ_FUA;
		if (req->flags & PVBLK_REQ_PREFLUSH)
			opf |= REQ_PREFLUSH;
	} else {
		opf = REQ_OP_READ;
	}
	atomic_set(&req->pending, 1);

	bytes = pvblk_bio_plan_next(req->segs, req->nr_segs, lim, &pos,
				    req->inline_bvecs, PVBLK_INLINE_BVECS, &n);
	if (bytes && pos.seg == req->nr_segs) {
		bio = &req->inline_bio;
		bio_init(bio, be->bdev, req->inline_bvecs, PVBLK_INLINE_BVECS,
			 opf);
		bio->bi_vcnt = n;
		bio->bi_iter.bi_size = bytes;
		pvblk_bio_go(req, bio, sector);
		goto out;
	}

	pos.seg = 0;
	pos.off = 0;
	/* A segment needs more than one bvec only under a small seg size. */
	per_seg = DIV_ROUND_UP(PAGE_SIZE,
			       min_t(u32, lim->max_bvec_bytes, PAGE_SIZE));
	while (pos.seg < req->nr_segs) {
		cap = min_t(u64, (u64)(req->nr_segs - pos.seg) * per_seg,
			    lim->max_bvecs + lim->lbs / SECTOR_SIZE);
		cap = min_t(unsigned int, cap, BIO_MAX_VECS);
		bio = pvblk_bio_alloc(be->bdev, cap, opf);
		if (!bio) {
			pvblk_req_set_status(req, BLK_STS_RESOURCE);
			break;
		}
		bytes = pvblk_bio_plan_next(req->segs, req->nr_segs, lim, &pos,
					    bio->bi_io_vec, cap, &n);
		if (!bytes || bytes % lim->lbs) {
			/* Limits that cannot carry one block: not from here. */
			bio_put(bio);
			pvblk_req_set_status(req, BLK_STS_IOERR);
			break;
		}
		bio->bi_vcnt = n;
		bio->bi_iter.bi_size = bytes;
		pvblk_bio_go(req, bio, sector);
		sector += bytes >> SECTOR_SHIFT;
	}
out:
	pvblk_req_put(req, BLK_STS_OK);
}

/* DISCARD, SECURE_ERASE, WRITE_ZEROES: data-less bios of bounded size. */
static void pvblk_bio_range(struct pvblk_req *req, struct pvblk_backend *be,
			    blk_opf_t opf, u32 max_sectors)
{
	u32 lbs_sectors = be->lim.lbs >> SECTOR_SHIFT;
	sector_t sector = req->sector;
	u64 left = req->nr_sectors;
	struct bio *bio;
	u32 max, n;

	max = min_t(u32, max_sectors, UINT_MAX >> SECTOR_SHIFT);
	max = round_down(max, lbs_sectors);
	atomic_set(&req->pending, 1);
	if (!max) {
		pvblk_req_set_status(req, BLK_STS_NOTSUPP);
		left = 0;
	}
	while (left) {
		n = min_t(u64, left, max);
		bio = pvblk_bio_alloc(be->bdev, 0, opf);
		if (!bio) {
			pvblk_req_set_status(req, BLK_STS_RESOURCE);
			break;
		}
		bio->bi_iter.bi_size = n << SECTOR_SHIFT;
		pvblk_bio_go(req, bio, sector);
		sector += n;
		left -= n;
	}
	pvblk_req_put(req, BLK_STS_OK);
}

void pvblk_get_id(struct pvblk_req *req)
{
	struct pvblk_dev *dev = req->q->dev;
	u8 id[PVBLK_ID_BYTES];
	unsigned int i, done = 0, n;
	void *p;

	spin_lock(&dev->serial_lock);
	memcpy(id, dev->serial, sizeof(id));
	spin_unlock(&dev->serial_lock);

	for (i = 0; i < req->nr_segs && done < sizeof(id); i++) {
		n = min_t(unsigned int, req->segs[i].len, sizeof(id) - done);
		p = kmap_local_page(req->segs[i].page);
		memcpy(p + req->segs[i].offset, id + done, n);
		kunmap_local(p);
		flush_dcache_page(req->segs[i].page);
		done += n;
	}
	pvblk_req_complete(req, BLK_STS_OK);
}

void pvblk_bio_submit_req(struct pvblk_req *req, struct pvblk_backend *be)
{
	struct bio *bio;

	switch (req->op) {
	case PVBLK_OP_READ:
	case PVBLK_OP_WRITE:
		pvblk_bio_rw(req, be);
		break;
	case PVBLK_OP_FLUSH:
		if (!be->info.flush) {
			pvblk_req_complete(req, BLK_STS_OK);
			break;
		}
		atomic_set(&req->pending, 1);
		bio = &req->inline_bio;
		bio_init(bio, be->bdev, NULL, 0, REQ_OP_WRITE | REQ_PREFLUSH);
		pvblk_bio_go(req, bio, 0);
		pvblk_req_put(req, BLK_STS_OK);
		break;
	case PVBLK_OP_DISCARD:
		if (req->flags & PVBLK_REQ_SECURE)
			pvblk_bio_range(req, be, REQ_OP_SECURE_ERASE,
					be->bdev ?
					bdev_max_secure_erase_sectors(be->bdev) :
					be->info.max_discard_sectors);
		else
			pvblk_bio_range(req, be, REQ_OP_DISCARD,
					be->info.max_discard_sectors);
		break;
	case PVBLK_OP_WRITE_ZEROES:
		pvblk_bio_range(req, be, REQ_OP_WRITE_ZEROES |
				(req->flags & PVBLK_REQ_UNMAP ? 0 : REQ_NOUNMAP),
				be->info.max_write_zeroes_sectors);
		break;
	default:
		pvblk_req_complete(req, BLK_STS_NOTSUPP);
		break;
	}
}
