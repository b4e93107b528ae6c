// SPDX-License-Identifier: GPL-2.0
/*
 * Block device backend.  A READ/WRITE is one bio, or a chain of bios
 * (bio_chain()) when it has more segments than a bio can hold; the block
 * layer splits bios to the device's limits.  A request of up to
 * PVBLK_INLINE_BVECS segments uses the bio embedded in struct pvblk_req
 * (no allocation).  req->pending counts the bios that complete into the
 * request (the last of a chain) plus the submitter's reference.
 */
#include <linux/slab.h>
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

/*
 * READ/WRITE: bio_add_page() merges what the block layer may merge (the
 * Xen rule for grant-mapped pages included), a full bio is chained to the
 * next one at a segment boundary, on a logical block as pvblk_req_check()
 * bounced a request whose segments could end off one (chain_mask), and
 * the block layer splits each to the device's limits.  Up to
 * PVBLK_INLINE_BVECS segments use the bio embedded in the request.
 */
static void pvblk_bio_rw(struct pvblk_req *req, struct pvblk_backend *be)
{
	unsigned int i, nr = req->nr_segs;
	struct bio *bio, *next;
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

	if (nr <= PVBLK_INLINE_BVECS) {
		bio = &req->inline_bio;
		bio_init(bio, be->bdev, req->inline_bvecs, PVBLK_INLINE_BVECS,
			 opf);
	} else {
		bio = pvblk_bio_alloc(be->bdev, min(nr, BIO_MAX_VECS), opf);
		if (!bio) {
			pvblk_req_put(req, BLK_STS_RESOURCE);
			return;
		}
	}
	bio->bi_iter.bi_sector = req->sector;
	for (i = 0; i < nr; i++) {
		const struct pvblk_seg *s = &req->segs[i];

		if (bio_add_page(bio, s->page, s->len, s->offset) == s->len)
			continue;
		/* Full: the next bio carries on where this one ends. */
		next = pvblk_bio_alloc(be->bdev, min(nr - i, BIO_MAX_VECS), opf);
		if (!next) {
			pvblk_req_set_status(req, BLK_STS_RESOURCE);
			break;
		}
		next->bi_iter.bi_sector = bio_end_sector(bio);
		bio_chain(bio, next);
		PVBLK_STAT_ADD(req->q, bios, 1);
		pvblk_submit_bio(bio);
		bio = next;
		i--;
	}
	pvblk_bio_go(req, bio, bio->bi_iter.bi_sector);
	pvblk_req_put(req, BLK_STS_OK);
}

/* DISCARD, SECURE_ERASE, WRITE_ZEROES: data-less bios of bounded size. */
static void pvblk_bio_range(struct pvblk_req *req, struct pvblk_backend *be,
			    blk_opf_t opf, u32 max_sectors)
{
	u32 lbs_sectors = max_t(u32, be->info.logical_block_size,
				SECTOR_SIZE) >> SECTOR_SHIFT;
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
