// SPDX-License-Identifier: GPL-2.0
/*
 * Backends (block device first, regular file on -ENOTBLK), request
 * validation and the batch submission path.
 */
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <kunit/visibility.h>
#include "internal.h"

static void pvblk_bdev_info(struct pvblk_backend *be)
{
	struct block_device *bdev = be->bdev;
	struct pvblk_backend_info *info = &be->info;

	info->capacity = bdev_nr_sectors(bdev);
	info->logical_block_size = bdev_logical_block_size(bdev);
	info->physical_block_size = bdev_physical_block_size(bdev);
	info->max_segments = bdev_max_segments(bdev);
	info->max_segment_size = queue_max_segment_size(bdev_get_queue(bdev));
	info->max_sectors = queue_max_sectors(bdev_get_queue(bdev));
	info->flush = bdev_write_cache(bdev);
	info->fua = bdev_fua(bdev);
	if (!info->read_only) {
		info->max_discard_sectors = bdev_max_discard_sectors(bdev);
		info->discard_granularity = bdev_discard_granularity(bdev);
		info->discard_alignment = bdev_discard_alignment(bdev);
		info->max_write_zeroes_sectors = bdev_write_zeroes_sectors(bdev);
		info->secure_discard = bdev_max_secure_erase_sectors(bdev) > 0;
	}
}

/**
 * pvblk_backend_open_dev() - open a block device exclusively.
 * @devt: the device.
 * @read_only: open with BLK_OPEN_READ only and refuse writes.
 *
 * The backend itself is the holder.  Return: the backend or an ERR_PTR().
 */
struct pvblk_backend *pvblk_backend_open_dev(dev_t devt, bool read_only)
{
	blk_mode_t mode = BLK_OPEN_READ | (read_only ? 0 : BLK_OPEN_WRITE);
	struct pvblk_backend *be;
	struct file *bf;

	be = kzalloc(sizeof(*be), GFP_KERNEL);
	if (!be)
		return ERR_PTR(-ENOMEM);
	bf = bdev_file_open_by_dev(devt, mode, be, NULL);
	if (IS_ERR(bf)) {
		kfree(be);
		return ERR_CAST(bf);
	}
	be->bdev_file = bf;
	be->bdev = file_bdev(bf);
	be->info.read_only = read_only || bdev_read_only(be->bdev);
	pvblk_bdev_info(be);
	pvblk_bio_limits_init(&be->lim, &be->info);
	return be;
}
EXPORT_SYMBOL_GPL(pvblk_backend_open_dev);

/**
 * pvblk_backend_open_file() - open the backend behind an open file.
 * @file: a block device node (re-opened by dev_t, exclusively) or a
 *	regular file (a reference is taken).  Either must be open for
 *	reading, and for writing unless @read_only: -EBADF otherwise.
 * @read_only: refuse writes.
 *
 * Return: the backend or an ERR_PTR(); -ENOTBLK never escapes: a file that
 * is not a block device is used as a regular file, or -EINVAL.
 */
struct pvblk_backend *pvblk_backend_open_file(struct file *file, bool read_only)
{
	struct inode *inode = file_inode(file);
	struct pvblk_backend *be;
	int ret;

	if (S_ISBLK(inode->i_mode)) {
		/* The re-open must not grant more than the caller's file. */
		if (!(file->f_mode & FMODE_READ) ||
		    (!read_only && !(file->f_mode & FMODE_WRITE)))
			return ERR_PTR(-EBADF);
		return pvblk_backend_open_dev(inode->i_rdev, read_only);
	}

	be = kzalloc(sizeof(*be), GFP_KERNEL);
	if (!be)
		return ERR_PTR(-ENOMEM);
	ret = pvblk_file_backend_init(be, file, read_only);
	if (ret) {
		kfree(be);
		return ERR_PTR(ret);
	}
	pvblk_bio_limits_init(&be->lim, &be->info);
	return be;
}
EXPORT_SYMBOL_GPL(pvblk_backend_open_file);

void pvblk_backend_close(struct pvblk_backend *be)
{
	if (!be)
		return;
	if (be->bdev_file)
		fput(be->bdev_file);
	if (be->file)
		fput(be->file);
	kfree(be);
}
EXPORT_SYMBOL_GPL(pvblk_backend_close);

void pvblk_backend_get_info(struct pvblk_backend *be,
			    struct pvblk_backend_info *info)
{
	*info = be->info;
}
EXPORT_SYMBOL_GPL(pvblk_backend_get_info);

/* Sector range within capacity and on logical block boundaries. */
static blk_status_t pvblk_check_range(sector_t sector, u64 nr_sectors,
				      const struct pvblk_backend *be)
{
	u64 lbs_mask = (be->lim.lbs >> SECTOR_SHIFT) - 1;

	if (!nr_sectors || nr_sectors > be->info.capacity ||
	    sector > be->info.capacity - nr_sectors)
		return BLK_STS_IOERR;
	if ((sector | nr_sectors) & lbs_mask)
		return BLK_STS_IOERR;
	return BLK_STS_OK;
}

static blk_status_t pvblk_check_segs(struct pvblk_req *req, bool sectors)
{
	unsigned int i;
	u64 bytes = 0;

	if (!req->nr_segs || req->nr_segs > PVBLK_MAX_SEGS || !req->segs)
		return BLK_STS_IOERR;
	for (i = 0; i < req->nr_segs; i++) {
		const struct pvblk_seg *s = &req->segs[i];

		if (!s->page || !s->len || s->offset >= PAGE_SIZE ||
		    s->len > PAGE_SIZE - s->offset)
			return BLK_STS_IOERR;
		/* Data moves in sectors; a GET_ID buffer is any size. */
		if (sectors && ((s->offset | s->len) & (SECTOR_SIZE - 1)))
			return BLK_STS_IOERR;
		bytes += s->len;
	}
	req->bytes = bytes;
	return BLK_STS_OK;
}

/**
 * pvblk_req_check() - validate a request against a backend.
 * @req: the request, every number in it hostile.
 * @be: the backend (NULL: none installed).
 *
 * Return: the status documented in pvblk.h above pvblk_batch_add().
 */
blk_status_t pvblk_req_check(struct pvblk_req *req, struct pvblk_backend *be)
{
	const struct pvblk_backend_info *info;
	blk_status_t st;

	if (req->op >= PVBLK_OP_MAX || (req->flags & ~PVBLK_REQ_ALL))
		return BLK_STS_NOTSUPP;
	if (!be)
		return BLK_STS_IOERR;
	info = &be->info;

	switch (req->op) {
	case PVBLK_OP_READ:
	case PVBLK_OP_WRITE:
		if (req->op == PVBLK_OP_WRITE && info->read_only)
			return BLK_STS_IOERR;
		st = pvblk_check_segs(req, true);
		if (st)
			return st;
		return pvblk_check_range(req->sector,
					 req->bytes >> SECTOR_SHIFT, be);
	case PVBLK_OP_FLUSH:
		return BLK_STS_OK;
	case PVBLK_OP_DISCARD:
		if (!info->max_discard_sectors)
			return BLK_STS_NOTSUPP;
		if ((req->flags & PVBLK_REQ_SECURE) && !info->secure_discard)
			return BLK_STS_NOTSUPP;
		if (info->read_only)
			return BLK_STS_IOERR;
		return pvblk_check_range(req->sector, req->nr_sectors, be);
	case PVBLK_OP_WRITE_ZEROES:
		if (!info->max_write_zeroes_sectors)
			return BLK_STS_NOTSUPP;
		if (info->read_only)
			return BLK_STS_IOERR;
		return pvblk_check_range(req->sector, req->nr_sectors, be);
	case PVBLK_OP_GET_ID:
		return pvblk_check_segs(req, false);
	default:
		return BLK_STS_NOTSUPP;
	}
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_req_check);

/* Run a request that holds its epoch reference. */
void pvblk_req_dispatch(struct pvblk_req *req, struct pvblk_backend *be)
{
	blk_status_t st = pvblk_req_check(req, be);

	if (st) {
		if (st != BLK_STS_NOTSUPP || req->op >= PVBLK_OP_MAX)
			pr_warn_ratelimited("pvblk %s: refused op %u flags %#x sector %llu nr_sectors %llu nr_segs %u: %d\n",
					    req->q->dev->name, req->op,
					    req->flags,
					    (unsigned long long)req->sector,
					    req->nr_sectors, req->nr_segs,
					    blk_status_to_errno(st));
		pvblk_req_complete(req, st);
		return;
	}
	if (req->bytes)
		PVBLK_STAT_ADD(req->q, bytes[req->op], req->bytes);
	if (req->op == PVBLK_OP_GET_ID)
		pvblk_get_id(req);
	else if (be->file)
		pvblk_file_submit_req(req, be);
	else
		pvblk_bio_submit_req(req, be);
}

void pvblk_batch_start(struct pvblk_batch *b, struct pvblk_queue *q)
{
	b->q = q;
	b->nr = 0;
	blk_start_plug(&b->plug);
}
EXPORT_SYMBOL_GPL(pvblk_batch_start);

void pvblk_batch_add(struct pvblk_batch *b, struct pvblk_req *req)
{
	struct pvblk_queue *q;
	struct pvblk_dev *dev;
	struct pvblk_backend *be;
	bool run;

	if (WARN_ON_ONCE(!req->q))
		req->q = b->q;
	q = req->q;
	dev = q->dev;
	b->nr++;
	atomic_inc(&q->inflight);
	req->core_flags |= PVBLK_RF_INFLIGHT;
	req->status = BLK_STS_OK;
	req->epoch = NULL;

	if (req->op >= PVBLK_OP_MAX || (req->flags & ~PVBLK_REQ_ALL)) {
		pvblk_req_dispatch(req, NULL);	/* refuses it: NOTSUPP */
		return;
	}
	PVBLK_STAT_ADD(q, reqs[req->op], 1);
	if (req->op == PVBLK_OP_FLUSH)
		PVBLK_STAT_ADD(q, flushes, 1);

	if (req->op == PVBLK_OP_FLUSH || (req->flags & PVBLK_REQ_BARRIER)) {
		PVBLK_STAT_ADD(q, barriers, 1);
		be = pvblk_epoch_barrier(dev, req, &run);
		if (!run)
			return;	/* parked: pvblk_epoch_run_ready() runs it */
	} else {
		be = pvblk_epoch_enter(dev, req);
	}
	pvblk_req_dispatch(req, be);
	/* @req may be completed and gone already. */
}
EXPORT_SYMBOL_GPL(pvblk_batch_add);

void pvblk_batch_finish(struct pvblk_batch *b)
{
	blk_finish_plug(&b->plug);
	if (!b->nr)
		return;
	PVBLK_STAT_ADD(b->q, batches, 1);
	PVBLK_STAT_ADD(b->q, batch_reqs, b->nr);
	pvblk_stats_max(b->q, offsetof(struct pvblk_stats, max_batch), b->nr);
}
EXPORT_SYMBOL_GPL(pvblk_batch_finish);
