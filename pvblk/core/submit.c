// SPDX-License-Identifier: GPL-2.0
/*
 * Submission: the batch a transport fills from one ring kick, the one
 * validation of every request against the backend it will run on, the
 * QoS limits (qos.c) and the dispatch to the backend (GET_ID is answered here; a request with
 * segments the backend cannot take directly is bounced first).
 */
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <kunit/visibility.h>
#include <trace/events/pvblk.h>
#include "internal.h"

/* Sector range within capacity and on logical block boundaries. */
static blk_status_t pvblk_check_range(sector_t sector, u64 nr_sectors,
				      const struct pvblk_backend *be)
{
	u32 lbs = max_t(u32, be->info.logical_block_size, SECTOR_SIZE);
	u64 lbs_mask = (lbs >> SECTOR_SHIFT) - 1;

	if (!nr_sectors || nr_sectors > be->info.capacity ||
	    sector > be->info.capacity - nr_sectors)
		return BLK_STS_IOERR;
	if ((sector | nr_sectors) & lbs_mask)
		return BLK_STS_IOERR;
	return BLK_STS_OK;
}

static blk_status_t pvblk_check_dwz(struct pvblk_req *req, u32 max,
				    const struct pvblk_backend *be)
{
	if ((req->flags & PVBLK_REQ_NOSPLIT) && req->nr_sectors > max)
		return BLK_STS_IOERR;
	return pvblk_check_range(req->sector, req->nr_sectors, be);
}

/*
 * Segments, each within its page.  A segment the backend cannot take
 * directly (@mem_mask on its offset, @len_mask on its length) marks the
 * request for the bounce: no branch per segment, the aligned path costs
 * what it did when such a segment was refused.  A request of more
 * segments than one bio holds is also bounced when a segment length is
 * off @chain_mask (see struct pvblk_backend).  GET_ID passes 0 masks.
 */
static blk_status_t pvblk_check_segs(struct pvblk_req *req, u32 mem_mask,
				     u32 len_mask, u32 chain_mask)
{
	unsigned int i, odd = 0, lens = 0;
	u64 bytes = 0;

	if (!req->nr_segs || req->nr_segs > PVBLK_MAX_SEGS || !req->segs)
		return BLK_STS_IOERR;
	for (i = 0; i < req->nr_segs; i++) {
		const struct pvblk_seg *s = &req->segs[i];

		if (!s->page || !s->len || s->offset >= PAGE_SIZE ||
		    s->len > PAGE_SIZE - s->offset)
			return BLK_STS_IOERR;
		odd |= (s->offset & mem_mask) | (s->len & len_mask);
		lens |= s->len;
		bytes += s->len;
	}
	if (req->nr_segs > BIO_MAX_VECS)
		odd |= lens & chain_mask;
	req->bytes = bytes;
	if (odd)
		req->core_flags |= PVBLK_RF_UNALIGNED;
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
		st = pvblk_check_segs(req, be->mem_mask, be->len_mask,
				      be->chain_mask);
		if (st)
			return st;
		/* Data moves in sectors: in total, not per segment. */
		if (req->bytes & (SECTOR_SIZE - 1))
			return BLK_STS_IOERR;
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
		return pvblk_check_dwz(req, info->max_discard_sectors, be);
	case PVBLK_OP_WRITE_ZEROES:
		if (!info->max_write_zeroes_sectors)
			return BLK_STS_NOTSUPP;
		if (info->read_only)
			return BLK_STS_IOERR;
		return pvblk_check_dwz(req, info->max_write_zeroes_sectors, be);
	case PVBLK_OP_GET_ID:
		return pvblk_check_segs(req, 0, 0, 0);	/* any size */
	default:
		return BLK_STS_NOTSUPP;
	}
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_req_check);

/* Copy the serial (zero-padded) into the request's buffer. */
static void pvblk_get_id(struct pvblk_req *req)
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

/* Run a request that holds its epoch reference, on the backend it pins. */
void pvblk_req_dispatch(struct pvblk_req *req)
{
	struct pvblk_backend *be = req->be;
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
	/* QoS: one branch while no limit is set (core/qos.c). */
	if (unlikely(READ_ONCE(req->q->dev->thr.on)) &&
	    pvblk_qos_throttle(req))
		return;	/* waits: pvblk_qos_release() runs it */
	pvblk_req_run(req);
}

/* Run a valid request (after the QoS limits let it go). */
void pvblk_req_run(struct pvblk_req *req)
{
	struct pvblk_backend *be = req->be;
	blk_status_t st;

	/* Only what the backend cannot take directly. */
	if (unlikely(req->core_flags & PVBLK_RF_UNALIGNED)) {
		st = pvblk_bounce_start(req);
		if (st) {
			pvblk_req_complete(req, st);
			return;
		}
	}
	trace_pvblk_req_submitted(req);
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
EXPORT_SYMBOL_IF_KUNIT(pvblk_batch_start);

static void pvblk_batch_count(struct pvblk_batch *b, struct pvblk_req *req)
{
	if (WARN_ON_ONCE(!req->q))
		req->q = b->q;
	b->nr++;
	atomic_inc(&req->q->inflight);
	req->core_flags |= PVBLK_RF_INFLIGHT;
	req->epoch = NULL;
	/* The one clock read per request: latency stats and tracepoints. */
	req->start_ns = ktime_get_ns();
	trace_pvblk_req_queued(req);
}

void pvblk_batch_add(struct pvblk_batch *b, struct pvblk_req *req)
{
	struct pvblk_queue *q;

	pvblk_batch_count(b, req);
	q = req->q;
	req->status = BLK_STS_OK;
	if (req->op >= PVBLK_OP_MAX || (req->flags & ~PVBLK_REQ_ALL)) {
		pvblk_req_dispatch(req);	/* refuses it: NOTSUPP */
		return;
	}
	PVBLK_STAT_ADD(q, reqs[req->op], 1);
	if (req->op == PVBLK_OP_FLUSH)
		PVBLK_STAT_ADD(q, flushes, 1);

	if (req->flags & PVBLK_REQ_BARRIER) {
		PVBLK_STAT_ADD(q, barriers, 1);
		if (!pvblk_epoch_barrier(req))
			return;	/* parked: pvblk_epoch_run_ready() runs it */
		trace_pvblk_barrier(req);
	} else {
		pvblk_epoch_enter(req);
	}
	pvblk_req_dispatch(req);
	/* @req may be completed and gone already. */
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_batch_add);

void pvblk_batch_fail(struct pvblk_batch *b, struct pvblk_req *req,
		      blk_status_t status)
{
	pvblk_batch_count(b, req);
	pvblk_req_complete(req, status != BLK_STS_OK ? status : BLK_STS_IOERR);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_batch_fail);

void pvblk_batch_finish(struct pvblk_batch *b)
{
	blk_finish_plug(&b->plug);
	if (!b->nr)
		return;
	trace_pvblk_batch(b->q, b->nr);
	PVBLK_STAT_ADD(b->q, batches, 1);
	PVBLK_STAT_ADD(b->q, batch_reqs, b->nr);
	pvblk_stats_max(b->q, offsetof(struct pvblk_stats, max_batch), b->nr);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_batch_finish);
