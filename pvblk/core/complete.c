// SPDX-License-Identifier: GPL-2.0
/*
 * The single exit of a request: pvblk_req_complete() puts it on its
 * queue's completion list from any context; the transport's worker runs
 * pvblk_queue_drain(), which releases what the core took, hands the
 * request to ops->complete(), notifies once per batch and returns the
 * request to its pool.
 */
#include <linux/slab.h>
#include <kunit/visibility.h>
#include <trace/events/pvblk.h>
#include "internal.h"

/* First error wins; a racing second error may be lost, never an error. */
void pvblk_req_set_status(struct pvblk_req *req, blk_status_t status)
{
	if (status != BLK_STS_OK && READ_ONCE(req->status) == BLK_STS_OK)
		WRITE_ONCE(req->status, status);
}

/**
 * pvblk_req_complete() - the single exit of a request.
 * @req: a request handed over by pvblk_batch_add() or pvblk_batch_fail().
 * @status: BLK_STS_OK or an error; the first error recorded sticks.
 *
 * Any context.  Releases the request's epoch reference and queues it for
 * pvblk_queue_drain().  The transport must not touch @req afterwards until
 * ops->complete() is called for it.
 */
void pvblk_req_complete(struct pvblk_req *req, blk_status_t status)
{
	struct pvblk_queue *q = req->q;
	struct pvblk_epoch *e = req->epoch;

	pvblk_req_set_status(req, status);
	if (req->core_flags & PVBLK_RF_INFLIGHT)
		atomic_dec(&q->inflight);
	llist_add(&req->cq_node, &q->cq);
	pvblk_stall(q, PVBLK_STALL_QUEUE_WORK);
	q->dev->ops->queue_work(q);
	/*
	 * Last: the epoch reference is what a drain waits for, so holding it
	 * across ops->queue_work() means no drain returns (and no transport
	 * cancels its work and frees its rings) before that call returned.
	 * Once it is dropped the device may be torn down, and the worker may
	 * already have recycled @req.
	 */
	if (e)
		pvblk_epoch_put(q, e);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_req_complete);

/* Drop one part (bio, kiocb or the submitter's reference) of @req. */
void pvblk_req_put(struct pvblk_req *req, blk_status_t status)
{
	pvblk_req_set_status(req, status);
	if (atomic_dec_and_test(&req->pending))
		pvblk_req_complete(req, BLK_STS_OK);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_req_put);

/* Give back what the core took for @req; process context. */
void pvblk_req_release(struct pvblk_req *req)
{
	bool dirty = req->op == PVBLK_OP_READ || req->op == PVBLK_OP_GET_ID;

	/* First: a READ's data goes back into the pages still pinned. */
	if (unlikely(req->bounce))
		pvblk_bounce_end(req);
	if (req->core_flags & PVBLK_RF_PINNED)
		pvblk_unpin_segs(req->segs, 0, req->nr_segs, dirty);
	if (req->core_flags & PVBLK_RF_SEGS_ALLOC) {
		kfree(req->segs);
		req->segs = req->inline_segs;
		req->nr_segs = 0;
	}
	if (req->core_flags & PVBLK_RF_BVECS_ALLOC)
		kfree(req->file_bvecs);
	if (req->core_flags & PVBLK_RF_FILE_CSS)
		pvblk_file_css_put(req);
	req->core_flags &= ~(PVBLK_RF_PINNED | PVBLK_RF_SEGS_ALLOC |
			     PVBLK_RF_BVECS_ALLOC | PVBLK_RF_FILE_CSS);
}

/* -- completion drain ----------------------------------------------------- */

/* Bucket of struct pvblk_stats.lat_hist for a latency in ns. */
static unsigned int pvblk_lat_bucket(u64 ns)
{
	return min_t(unsigned int, fls64(ns >> 10), PVBLK_LAT_BUCKETS - 1);
}

/*
 * Account one completion picked up at @now (one clock read per pick-up
 * from q->cq, not per request): latency histogram, tracepoints.
 */
static u64 pvblk_req_account(struct pvblk_queue *q, struct pvblk_req *req,
			     u64 now)
{
	u64 lat = now - req->start_ns;

	this_cpu_inc(q->stats->lat_hist[pvblk_lat_bucket(lat)]);
	trace_pvblk_req_completed(req, lat);
	if (trace_pvblk_flush_enabled() &&
	    (req->op == PVBLK_OP_FLUSH || (req->flags & PVBLK_REQ_PREFLUSH)))
		trace_pvblk_flush(req);
	return lat;
}

unsigned int pvblk_queue_drain(struct pvblk_queue *q, unsigned int budget)
{
	const struct pvblk_transport_ops *ops = q->dev->ops;
	struct llist_node *node, *list = q->cq_backlog;
	struct pvblk_req *req;
	unsigned int done = 0, errors = 0;
	u64 now, lat = 0;

	pvblk_epoch_run_ready(q);
	if (!list)
		list = llist_reverse_order(llist_del_all(&q->cq));
	now = ktime_get_ns();
	while (list && (!budget || done < budget)) {
		node = list;
		list = list->next;
		req = llist_entry(node, struct pvblk_req, cq_node);
		if (req->status != BLK_STS_OK)
			errors++;
		pvblk_req_release(req);
		lat += pvblk_req_account(q, req, now);
		ops->complete(req);
		pvblk_req_put_free(req);
		done++;
		/* Backlog used up: pick up what arrived meanwhile. */
		if (!list && (!budget || done < budget)) {
			list = llist_reverse_order(llist_del_all(&q->cq));
			if (list)
				now = ktime_get_ns();
		}
	}
	q->cq_backlog = list;

	if (done) {
		trace_pvblk_drain(q, done);
		PVBLK_STAT_ADD(q, drains, 1);
		PVBLK_STAT_ADD(q, drained_reqs, done);
		PVBLK_STAT_ADD(q, lat_ns, lat);
		if (errors)
			PVBLK_STAT_ADD(q, errors, errors);
	}
	/* A queue stopped by the device's cap may fetch again. */
	if (test_and_clear_bit(PVBLK_QF_WAKE, &q->flags) || done)
		ops->notify(q);
	if (list || !llist_empty(&q->cq))
		ops->queue_work(q);
	return done;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_queue_drain);
