// SPDX-License-Identifier: GPL-2.0
/*
 * Request lifetime: init, user page pinning, the single completion exit
 * and the batched drain that hands requests back to the transport.
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include "internal.h"

void pvblk_req_init(struct pvblk_req *req, struct pvblk_queue *q)
{
	memset(req, 0, sizeof(*req));
	req->q = q;
	req->segs = req->inline_segs;
}
EXPORT_SYMBOL_GPL(pvblk_req_init);

/* First error wins; a racing second error may be lost, never an error. */
void pvblk_req_set_status(struct pvblk_req *req, blk_status_t status)
{
	if (status != BLK_STS_OK && READ_ONCE(req->status) == BLK_STS_OK)
		WRITE_ONCE(req->status, status);
}

/**
 * pvblk_req_complete() - the single exit of a request.
 * @req: the request; may be one the transport never submitted.
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
	struct pvblk_dev *dev = q->dev;

	pvblk_req_set_status(req, status);
	if (req->core_flags & PVBLK_RF_INFLIGHT)
		atomic_dec(&q->inflight);
	llist_add(&req->cq_node, &q->cq);
	dev->ops->queue_work(q);
	/* Last: once the epoch retires the device may be torn down. */
	if (e)
		pvblk_epoch_put(dev, e);
}
EXPORT_SYMBOL_GPL(pvblk_req_complete);

/* Drop one part (bio, kiocb or the submitter's reference) of @req. */
void pvblk_req_put(struct pvblk_req *req, blk_status_t status)
{
	pvblk_req_set_status(req, status);
	if (atomic_dec_and_test(&req->pending))
		pvblk_req_complete(req, BLK_STS_OK);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_req_put);

/* -- user page pinning -------------------------------------------------- */

struct pvblk_seg *pvblk_alloc_segs(unsigned int nr)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_alloc_segs, nr);
	return kmalloc_array(nr, sizeof(struct pvblk_seg), GFP_KERNEL);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_alloc_segs);

ssize_t pvblk_extract_pages(struct iov_iter *iter, struct page **pages,
			    size_t maxsize, unsigned int maxpages,
			    size_t *offset)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_extract_pages, iter, pages, maxsize,
				   maxpages, offset);
	return iov_iter_extract_pages(iter, &pages, maxsize, maxpages, 0,
				      offset);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_extract_pages);

void pvblk_unpin_page(struct page *page, bool dirty)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_unpin_page, page, dirty);
	unpin_user_pages_dirty_lock(&page, 1, dirty);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_unpin_page);

static void pvblk_unpin_segs(struct pvblk_seg *segs, unsigned int from,
			     unsigned int to, bool dirty)
{
	unsigned int i;

	for (i = from; i < to; i++)
		pvblk_unpin_page(segs[i].page, dirty);
}

#define PVBLK_PIN_CHUNK	16

int pvblk_req_pin_user(struct pvblk_req *req, struct iov_iter *iter,
		       unsigned int max_segs)
{
	struct page *pages[PVBLK_PIN_CHUNK];
	struct pvblk_seg *old = req->segs, *segs = req->segs;
	unsigned int nr = req->nr_segs, start = req->nr_segs, need, i;
	int ret = 0;

	if (!segs)
		segs = req->inline_segs;
	if (nr && !(req->core_flags & PVBLK_RF_PINNED))
		return -EINVAL;	/* segments of other origin: cannot mix */
	if (!iov_iter_count(iter))
		return 0;
	max_segs = min_t(unsigned int, max_segs, PVBLK_MAX_SEGS);
	if (!user_backed_iter(iter) || !iov_iter_extract_will_pin(iter))
		return -EINVAL;
	need = iov_iter_npages(iter, max_segs + 1);
	if (need > max_segs || nr + need > PVBLK_MAX_SEGS ||
	    nr + need > max_segs)
		return -EINVAL;

	if (nr + need > PVBLK_INLINE_SEGS) {
		segs = pvblk_alloc_segs(nr + need);
		if (!segs)
			return -ENOMEM;
		if (nr)
			memcpy(segs, old, nr * sizeof(*segs));
	}

	while (iov_iter_count(iter) && nr < start + need) {
		size_t off, len;
		ssize_t got;
		unsigned int n;

		got = pvblk_extract_pages(iter, pages, iov_iter_count(iter),
					  min_t(unsigned int, PVBLK_PIN_CHUNK,
						start + need - nr), &off);
		if (got <= 0) {
			ret = got ? got : -EFAULT;
			goto err_unpin;
		}
		n = DIV_ROUND_UP(off + got, PAGE_SIZE);
		for (i = 0; i < n; i++) {
			len = min_t(size_t, got, PAGE_SIZE - off);
			segs[nr].page = pages[i];
			segs[nr].offset = off;
			segs[nr].len = len;
			nr++;
			got -= len;
			off = 0;
		}
	}
	if (iov_iter_count(iter)) {
		ret = -EINVAL;	/* more pages than iov_iter_npages() said */
		goto err_unpin;
	}

	if (segs != old && (req->core_flags & PVBLK_RF_SEGS_ALLOC))
		kfree(old);
	if (segs != req->inline_segs)
		req->core_flags |= PVBLK_RF_SEGS_ALLOC;
	req->segs = segs;
	req->nr_segs = nr;
	req->core_flags |= PVBLK_RF_PINNED;
	return 0;

err_unpin:
	pvblk_unpin_segs(segs, start, nr, false);
	if (segs != old && segs != req->inline_segs)
		kfree(segs);
	return ret;
}
EXPORT_SYMBOL_GPL(pvblk_req_pin_user);

/* Give back what the core took for @req; process context. */
static void pvblk_req_release(struct pvblk_req *req)
{
	bool dirty = req->op == PVBLK_OP_READ || req->op == PVBLK_OP_GET_ID;

	if (req->core_flags & PVBLK_RF_PINNED)
		pvblk_unpin_segs(req->segs, 0, req->nr_segs, dirty);
	if (req->core_flags & PVBLK_RF_SEGS_ALLOC) {
		kfree(req->segs);
		req->segs = req->inline_segs;
		req->nr_segs = 0;
	}
	kfree(req->file_bvecs);
	req->file_bvecs = NULL;
	req->core_flags &= ~(PVBLK_RF_PINNED | PVBLK_RF_SEGS_ALLOC);
}

/* -- completion drain ----------------------------------------------------- */

unsigned int pvblk_queue_drain(struct pvblk_queue *q, unsigned int budget)
{
	const struct pvblk_transport_ops *ops = q->dev->ops;
	struct llist_node *node, *list = q->cq_backlog;
	struct pvblk_req *req;
	unsigned int done = 0, errors = 0;

	pvblk_epoch_run_ready(q->dev);
	if (!list)
		list = llist_reverse_order(llist_del_all(&q->cq));
	while (list && (!budget || done < budget)) {
		node = list;
		list = list->next;
		req = llist_entry(node, struct pvblk_req, cq_node);
		if (req->status != BLK_STS_OK)
			errors++;
		pvblk_req_release(req);
		ops->complete(req);
		done++;
		/* Backlog used up: pick up what arrived meanwhile. */
		if (!list && (!budget || done < budget))
			list = llist_reverse_order(llist_del_all(&q->cq));
	}
	q->cq_backlog = list;

	if (done) {
		PVBLK_STAT_ADD(q, drains, 1);
		PVBLK_STAT_ADD(q, drained_reqs, done);
		if (errors)
			PVBLK_STAT_ADD(q, errors, errors);
		ops->notify(q);
	}
	if (list || !llist_empty(&q->cq))
		ops->queue_work(q);
	return done;
}
EXPORT_SYMBOL_GPL(pvblk_queue_drain);
