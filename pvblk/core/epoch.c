// SPDX-License-Identifier: GPL-2.0
/*
 * Flush epochs.
 *
 * The device keeps a list of epochs, oldest first; the last one is current
 * and carries an "open" bias in its count.  A normal request is counted in
 * the current epoch.  A barrier (or flush) closes the current epoch: a new
 * one becomes current, the barrier itself is counted in the new one and is
 * parked on the closed one.  The oldest epoch that is not current and has
 * no request left is retired; retiring releases its barrier, so a barrier
 * runs exactly when its epoch and every older one have drained, while
 * newer requests keep flowing.  pvblk_dev_drain() closes an epoch without
 * a barrier and waits until it is retired.
 *
 * Epochs come from a per-device mempool (GFP_NOIO, process context): an
 * allocation waits for a retired epoch instead of failing, and epochs are
 * retired by I/O completion alone, so the wait cannot deadlock.
 */
#include <linux/slab.h>
#include <kunit/visibility.h>
#include "internal.h"

#define PVBLK_EPOCH_RESERVE	4

int pvblk_epochs_init(struct pvblk_dev *dev)
{
	struct pvblk_epoch *e;

	spin_lock_init(&dev->epoch_lock);
	INIT_LIST_HEAD(&dev->epochs);
	init_waitqueue_head(&dev->drain_wq);
	init_llist_head(&dev->ready);
	dev->epoch_pool = pvblk_fail_alloc() ? NULL :
		mempool_create_kmalloc_pool(PVBLK_EPOCH_RESERVE, sizeof(*e));
	if (!dev->epoch_pool)
		return -ENOMEM;
	e = pvblk_fail_alloc() ? NULL : mempool_alloc(dev->epoch_pool,
						      GFP_KERNEL);
	if (!e) {
		mempool_destroy(dev->epoch_pool);
		return -ENOMEM;
	}
	atomic_set(&e->count, 1);
	e->seq = 1;			/* retired_seq 0: nothing retired yet */
	dev->epoch_seq = 1;
	e->barrier = NULL;
	list_add_tail(&e->node, &dev->epochs);
	dev->cur = e;
	return 0;
}

/* The device is drained and idle: only the current epoch is left. */
void pvblk_epochs_exit(struct pvblk_dev *dev)
{
	struct pvblk_epoch *e, *tmp;

	WARN_ON_ONCE(!llist_empty(&dev->ready));
	list_for_each_entry_safe(e, tmp, &dev->epochs, node) {
		WARN_ON_ONCE(e != dev->cur);
		list_del(&e->node);
		mempool_free(e, dev->epoch_pool);
	}
	mempool_destroy(dev->epoch_pool);
}

/*
 * Retire every drained epoch from the head of the list.  Barriers whose
 * epoch retired go to dev->ready and their queue's worker is kicked
 * (pvblk_queue_drain() submits them), except @inline_req which the caller
 * runs itself (*run set).  Everything is done under the lock, so
 * pvblk_dev_drain() may free the device as soon as it can take it.
 */
static void pvblk_epoch_retire_locked(struct pvblk_dev *dev,
				      struct pvblk_req *inline_req, bool *run)
{
	struct pvblk_epoch *e;
	bool retired = false;

	lockdep_assert_held(&dev->epoch_lock);
	while (!list_empty(&dev->epochs)) {
		e = list_first_entry(&dev->epochs, struct pvblk_epoch, node);
		if (e == dev->cur || atomic_read(&e->count))
			break;
		list_del(&e->node);
		dev->retired_seq = e->seq;
		retired = true;
		if (e->barrier && e->barrier == inline_req) {
			*run = true;
		} else if (e->barrier) {
			llist_add(&e->barrier->cq_node, &dev->ready);
			dev->ops->queue_work(e->barrier->q);
		}
		mempool_free(e, dev->epoch_pool);
	}
	if (retired)
		wake_up_all(&dev->drain_wq);
}

void pvblk_epoch_put(struct pvblk_dev *dev, struct pvblk_epoch *e)
{
	unsigned long flags;

	if (!atomic_dec_and_test(&e->count))
		return;
	spin_lock_irqsave(&dev->epoch_lock, flags);
	pvblk_epoch_retire_locked(dev, NULL, NULL);
	spin_unlock_irqrestore(&dev->epoch_lock, flags);
}

/* Count @req in the current epoch; return the backend that epoch pins. */
struct pvblk_backend *pvblk_epoch_enter(struct pvblk_dev *dev,
					struct pvblk_req *req)
{
	struct pvblk_backend *be;
	unsigned long flags;

	spin_lock_irqsave(&dev->epoch_lock, flags);
	req->epoch = dev->cur;
	atomic_inc(&dev->cur->count);
	be = dev->be;
	spin_unlock_irqrestore(&dev->epoch_lock, flags);
	return be;
}

/*
 * Close the current epoch.  @req (NULL for a drain) is counted in the new
 * epoch and parked on the closed one.  Returns the closed epoch's sequence
 * number; *run is set when it retired at once (nothing older in flight),
 * and then the caller runs @req itself.
 */
static u64 pvblk_epoch_close(struct pvblk_dev *dev, struct pvblk_req *req,
			     bool *run, struct pvblk_backend **be)
{
	struct pvblk_epoch *new, *old;
	unsigned long flags;
	u64 seq;

	might_sleep();
	/* Process context, GFP_NOIO: waits for a retired epoch, never fails. */
	new = mempool_alloc(dev->epoch_pool, GFP_NOIO);
	atomic_set(&new->count, req ? 2 : 1);
	new->barrier = NULL;

	spin_lock_irqsave(&dev->epoch_lock, flags);
	old = dev->cur;
	seq = old->seq;
	new->seq = ++dev->epoch_seq;
	list_add_tail(&new->node, &dev->epochs);
	dev->cur = new;
	old->barrier = req;
	if (req)
		req->epoch = new;
	if (be)
		*be = dev->be;
	if (atomic_dec_and_test(&old->count))
		pvblk_epoch_retire_locked(dev, req, run);
	spin_unlock_irqrestore(&dev->epoch_lock, flags);
	return seq;
}

struct pvblk_backend *pvblk_epoch_barrier(struct pvblk_dev *dev,
					  struct pvblk_req *req, bool *run)
{
	struct pvblk_backend *be = NULL;

	*run = false;
	pvblk_epoch_close(dev, req, run, &be);
	if (!*run)
		atomic64_inc(&dev->parked);
	return be;
}

/*
 * Submit the barriers released by retired epochs, in process context:
 * called by pvblk_queue_drain() (the transport's worker) and by
 * pvblk_dev_drain() while it waits, whichever comes first.
 */
void pvblk_epoch_run_ready(struct pvblk_dev *dev)
{
	struct pvblk_req *req, *tmp;
	struct pvblk_backend *be;
	struct llist_node *list;
	struct blk_plug plug;
	unsigned long flags;

	if (llist_empty(&dev->ready))
		return;
	list = llist_reverse_order(llist_del_all(&dev->ready));
	blk_start_plug(&plug);
	llist_for_each_entry_safe(req, tmp, list, cq_node) {
		/*
		 * The request's own epoch pins whatever backend is installed
		 * now: a backend change drains it before closing the old one.
		 */
		spin_lock_irqsave(&dev->epoch_lock, flags);
		be = dev->be;
		spin_unlock_irqrestore(&dev->epoch_lock, flags);
		pvblk_req_dispatch(req, be);
	}
	blk_finish_plug(&plug);
}

/**
 * pvblk_dev_drain() - wait for every request submitted before the call.
 * @dev: the device.
 *
 * Returns when every such request has passed pvblk_req_complete() (it may
 * still sit on its queue's completion list for the transport's worker).
 * Barriers released meanwhile are submitted from here if the transport's
 * worker has not done it yet.  Sleeps.
 */
void pvblk_dev_drain(struct pvblk_dev *dev)
{
	u64 seq;

	seq = pvblk_epoch_close(dev, NULL, NULL, NULL);
	for (;;) {
		wait_event(dev->drain_wq,
			   READ_ONCE(dev->retired_seq) >= seq ||
			   !llist_empty(&dev->ready));
		if (READ_ONCE(dev->retired_seq) >= seq)
			break;
		/* Released barriers we wait for: do not rely on the worker. */
		pvblk_epoch_run_ready(dev);
	}
	/* The retiring side wakes us under the lock: let it finish. */
	spin_lock_irq(&dev->epoch_lock);
	spin_unlock_irq(&dev->epoch_lock);
}
EXPORT_SYMBOL_GPL(pvblk_dev_drain);

/* For debugfs and tests: live epochs, and requests counted in them. */
unsigned int pvblk_epoch_count(struct pvblk_dev *dev, u64 *inflight)
{
	struct pvblk_epoch *e;
	unsigned int n = 0;
	u64 reqs = 0;

	spin_lock_irq(&dev->epoch_lock);
	list_for_each_entry(e, &dev->epochs, node) {
		n++;
		reqs += atomic_read(&e->count) - (e == dev->cur);
	}
	spin_unlock_irq(&dev->epoch_lock);
	if (inflight)
		*inflight = reqs;
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_epoch_count);
