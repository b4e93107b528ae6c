// SPDX-License-Identifier: GPL-2.0
/*
 * Flush epochs, per queue.
 *
 * Each queue keeps a list of epochs, oldest first; the last one is current
 * and carries an "open" bias in its count.  A request is counted in its
 * queue's current epoch (one uncontended per-queue lock: nothing on the
 * data path is device-wide).  A barrier closes the current epoch of every
 * queue of the device: a new one becomes current on each, the barrier is
 * counted in the new one of its own queue and waits in a struct pvblk_wait
 * for the closed ones.  The oldest epoch of a queue that is not current and
 * has no request left is retired, and its wait loses one; the barrier runs
 * when its wait reaches zero, i.e. when every request submitted before it,
 * on any queue, has completed, while newer requests keep flowing.
 * pvblk_dev_drain() closes epochs the same way without a barrier and
 * sleeps until its wait reaches zero.
 *
 * Epochs come from a per-device mempool (GFP_NOIO, process context): an
 * allocation waits for a retired epoch instead of failing, and epochs are
 * retired by I/O completion alone, so the wait cannot deadlock.
 */
#include <linux/slab.h>
#include <kunit/visibility.h>
#include <trace/events/pvblk.h>
#include "internal.h"

static struct pvblk_epoch *pvblk_epoch_new(struct pvblk_dev *dev, int count)
{
	struct pvblk_epoch *e = mempool_alloc(dev->epoch_pool,
					       GFP_NOIO | __GFP_ACCOUNT);

	atomic_set(&e->count, count);
	e->wait = NULL;
	return e;
}

int pvblk_epochs_init(struct pvblk_dev *dev)
{
	unsigned int i;

	init_waitqueue_head(&dev->drain_wq);
	dev->epoch_pool = pvblk_fail_alloc() ? NULL :
		mempool_create_kmalloc_pool(2 * dev->nr_queues + 2,
					    sizeof(struct pvblk_epoch));
	if (!dev->epoch_pool)
		return -ENOMEM;
	for (i = 0; i < dev->nr_queues; i++) {
		struct pvblk_queue *q = &dev->queues[i];

		spin_lock_init(&q->lock);
		INIT_LIST_HEAD(&q->epochs);
		q->cur = pvblk_epoch_new(dev, 1);
		list_add_tail(&q->cur->node, &q->epochs);
	}
	return 0;
}

/* The device is drained and idle: only the current epochs are left. */
void pvblk_epochs_exit(struct pvblk_dev *dev)
{
	struct pvblk_epoch *e, *tmp;
	unsigned int i;

	for (i = 0; i < dev->nr_queues; i++) {
		struct pvblk_queue *q = &dev->queues[i];

		WARN_ON_ONCE(!llist_empty(&q->ready));
		list_for_each_entry_safe(e, tmp, &q->epochs, node) {
			WARN_ON_ONCE(e != q->cur);
			list_del(&e->node);
			mempool_free(e, dev->epoch_pool);
		}
	}
	mempool_destroy(dev->epoch_pool);
}

/*
 * One closed epoch of @w retired.  The last one releases the barrier to
 * its queue's ready list (the worker submits it) and wakes drainers.
 */
static void pvblk_wait_put(struct pvblk_dev *dev, struct pvblk_wait *w)
{
	struct pvblk_req *req = w->req;

	if (!atomic_dec_and_test(&w->left))
		return;
	if (req) {
		llist_add(&req->cq_node, &req->q->ready);
		dev->ops->queue_work(req->q);
	}
	wake_up_all(&dev->drain_wq);
}

/*
 * Retire every drained epoch from the head of @q's list.  Done under the
 * lock, so that pvblk_dev_drain() may free the device as soon as it can
 * take every queue's lock.
 */
static void pvblk_epoch_retire_locked(struct pvblk_queue *q)
{
	struct pvblk_epoch *e;

	lockdep_assert_held(&q->lock);
	while (!list_empty(&q->epochs)) {
		e = list_first_entry(&q->epochs, struct pvblk_epoch, node);
		if (e == q->cur || atomic_read(&e->count))
			break;
		list_del(&e->node);
		if (e->wait)
			pvblk_wait_put(q->dev, e->wait);
		mempool_free(e, q->dev->epoch_pool);
	}
}

/*
 * Drop one request of @e.  The last one drops it under q->lock: a count
 * that reaches zero outside the lock could let another CPU retire @e, wake
 * the drain and free the device before this CPU takes the lock.  Under
 * the lock, the drain's final pass over the queue locks waits for us, and
 * nothing of @q is touched after the unlock.
 */
void pvblk_epoch_put(struct pvblk_queue *q, struct pvblk_epoch *e)
{
	unsigned long flags;

	if (atomic_dec_and_lock_irqsave(&e->count, &q->lock, flags)) {
		pvblk_epoch_retire_locked(q);
		spin_unlock_irqrestore(&q->lock, flags);
	}
	/* @q may be freed from here on. */
	pvblk_stall(q, PVBLK_STALL_EPOCH_PUT);
}

/* Count @req in its queue's current epoch and give it the queue's backend. */
void pvblk_epoch_enter(struct pvblk_req *req)
{
	struct pvblk_queue *q = req->q;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	req->epoch = q->cur;
	atomic_inc(&q->cur->count);
	req->be = q->be;
	spin_unlock_irqrestore(&q->lock, flags);
}

/*
 * Close the current epoch of every queue and hang @w on the closed ones.
 * @req (NULL for a drain) is counted in the new epoch of its queue.
 * @w->left must hold nr_queues + 1: the caller drops the last one itself.
 */
static void pvblk_epoch_close_all(struct pvblk_dev *dev, struct pvblk_wait *w,
				  struct pvblk_req *req)
{
	struct pvblk_epoch *new, *old;
	unsigned long flags;
	unsigned int i;

	might_sleep();
	for (i = 0; i < dev->nr_queues; i++) {
		struct pvblk_queue *q = &dev->queues[i];
		bool own = req && req->q == q;

		new = pvblk_epoch_new(dev, own ? 2 : 1);
		spin_lock_irqsave(&q->lock, flags);
		old = q->cur;
		list_add_tail(&new->node, &q->epochs);
		q->cur = new;
		old->wait = w;
		if (own) {
			req->epoch = new;
			req->be = q->be;
		}
		if (atomic_dec_and_test(&old->count))
			pvblk_epoch_retire_locked(q);
		spin_unlock_irqrestore(&q->lock, flags);
	}
}

/*
 * Order barrier @req after every older request.  Return true when nothing
 * older is in flight: the caller runs @req now.  Otherwise it is parked and
 * pvblk_epoch_run_ready() runs it once released.
 */
bool pvblk_epoch_barrier(struct pvblk_req *req)
{
	struct pvblk_dev *dev = req->q->dev;
	struct pvblk_wait *w = &req->wait;

	atomic_set(&w->left, dev->nr_queues + 1);
	w->req = req;
	pvblk_epoch_close_all(dev, w, req);
	if (atomic_dec_and_test(&w->left))
		return true;
	atomic64_inc(&dev->parked);
	return false;
}

/*
 * Submit the barriers of @q released by retired epochs, in process
 * context: called by pvblk_queue_drain() (the transport's worker) and by
 * pvblk_dev_drain() while it waits, whichever comes first.
 */
void pvblk_epoch_run_ready(struct pvblk_queue *q)
{
	struct pvblk_req *req, *tmp;
	struct llist_node *list;
	struct blk_plug plug;

	if (llist_empty(&q->ready))
		return;
	list = llist_reverse_order(llist_del_all(&q->ready));
	blk_start_plug(&plug);
	llist_for_each_entry_safe(req, tmp, list, cq_node) {
		trace_pvblk_barrier(req);
		pvblk_req_dispatch(req);
	}
	blk_finish_plug(&plug);
}

static bool pvblk_any_ready(struct pvblk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nr_queues; i++)
		if (!llist_empty(&dev->queues[i].ready))
			return true;
	return false;
}

/**
 * pvblk_dev_drain() - wait for every request submitted before the call.
 * @dev: the device.
 *
 * Returns when every such request has passed pvblk_req_complete(), its
 * ops->queue_work() call included, and no CPU touches the device for it
 * any more (it may still sit on its queue's completion list for the
 * transport's worker).
 * Barriers released meanwhile are submitted from here if the transport's
 * worker has not done it yet, and requests waiting for QoS tokens run at
 * once, as does every request throttled while the drain runs.  Sleeps.
 */
void pvblk_dev_drain(struct pvblk_dev *dev)
{
	struct pvblk_wait w = { .req = NULL };
	unsigned int i;

	/* Nothing waits for QoS tokens while we drain (qos.c). */
	pvblk_qos_drain_begin(dev);
	atomic_set(&w.left, dev->nr_queues + 1);
	pvblk_epoch_close_all(dev, &w, NULL);
	if (!atomic_dec_and_test(&w.left)) {
		for (;;) {
			wait_event(dev->drain_wq, !atomic_read(&w.left) ||
				   pvblk_any_ready(dev));
			if (!atomic_read(&w.left))
				break;
			/* Released barriers we wait for: do not rely on the worker. */
			for (i = 0; i < dev->nr_queues; i++)
				pvblk_epoch_run_ready(&dev->queues[i]);
		}
	}
	/*
	 * The retiring side finishes under a queue lock (the last epoch put
	 * included): let it.
	 */
	for (i = 0; i < dev->nr_queues; i++) {
		spin_lock_irq(&dev->queues[i].lock);
		spin_unlock_irq(&dev->queues[i].lock);
	}
	pvblk_qos_drain_end(dev);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_drain);

/* Every queue's data path uses @be from now on; dev->lock held. */
void pvblk_epoch_set_backend(struct pvblk_dev *dev, struct pvblk_backend *be)
{
	unsigned int i;

	lockdep_assert_held(&dev->lock);
	for (i = 0; i < dev->nr_queues; i++) {
		spin_lock_irq(&dev->queues[i].lock);
		dev->queues[i].be = be;
		spin_unlock_irq(&dev->queues[i].lock);
	}
}

/* For debugfs and tests: live epochs, and requests counted in them. */
unsigned int pvblk_epoch_count(struct pvblk_dev *dev, u64 *inflight)
{
	struct pvblk_epoch *e;
	unsigned int i, n = 0;
	u64 reqs = 0;

	for (i = 0; i < dev->nr_queues; i++) {
		struct pvblk_queue *q = &dev->queues[i];

		spin_lock_irq(&q->lock);
		list_for_each_entry(e, &q->epochs, node) {
			n++;
			reqs += atomic_read(&e->count) - (e == q->cur);
		}
		spin_unlock_irq(&q->lock);
	}
	if (inflight)
		*inflight = reqs;
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_epoch_count);
