// SPDX-License-Identifier: GPL-2.0
/*
 * Devices, their queues and request pools, backend changes, module-wide
 * state of the core.
 */
#include <linux/cache.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include <pvblk/modinit.h>
#include "internal.h"

/* Synchronous and fallback work of the file backend. */
struct workqueue_struct *pvblk_wq;
EXPORT_SYMBOL_IF_KUNIT(pvblk_wq);

/*
 * Requests one device may have out of its pools at once, over all its
 * queues: what a guest (16 queues of deep rings and a backend that never
 * answers) can pin of kernel memory.  Read at every pvblk_req_get().
 */
unsigned int pvblk_max_inflight = 1024;
EXPORT_SYMBOL_IF_KUNIT(pvblk_max_inflight);
module_param_named(max_inflight, pvblk_max_inflight, uint, 0644);
MODULE_PARM_DESC(max_inflight,
		 "requests in flight per device, all queues (0: pool sizes only; default 1024)");

/* Fault injection point for KUnit: true makes the next allocation fail. */
bool pvblk_fail_alloc(void)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_fail_alloc);
	return false;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_fail_alloc);

#if IS_ENABLED(CONFIG_KUNIT)
void pvblk_stall(struct pvblk_queue *q, enum pvblk_stall where)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_stall, q, where);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_stall);
#endif

#define PVBLK_ALLOC(expr)	(pvblk_fail_alloc() ? NULL : (expr))

/* Carve @q's pool into @depth requests of @size bytes, all free. */
static int pvblk_pool_init(struct pvblk_queue *q, unsigned int depth,
			   size_t size)
{
	size_t stride = ALIGN(size, L1_CACHE_BYTES);
	unsigned int i;

	spin_lock_init(&q->pool_lock);
	INIT_LIST_HEAD(&q->free);
	/*
	 * Hundreds of KiB per queue: may fall back to vmalloc and fail under
	 * memory pressure.  The caller reports -ENOMEM (xenbus_dev_fatal(),
	 * open()'s error), so no allocation-failure splat here.
	 */
	q->pool = PVBLK_ALLOC(kvcalloc(depth, stride,
				       GFP_KERNEL_ACCOUNT | __GFP_NOWARN));
	if (!q->pool)
		return -ENOMEM;
	for (i = 0; i < depth; i++) {
		struct pvblk_req *req = q->pool + i * stride;

		list_add_tail(&req->free_node, &q->free);
	}
	return 0;
}

/* One more request out of @dev's pools, unless @max are out already. */
static bool pvblk_dev_take_one(struct pvblk_dev *dev, unsigned int max)
{
	int old = atomic_read(&dev->reqs_out);

	do {
		if (max && old >= max)
			return false;
	} while (!atomic_try_cmpxchg(&dev->reqs_out, &old, old + 1));
	return true;
}

/*
 * Count one more request out of @dev's pools for @q; false over the cap.
 * A refused queue is marked before the count is checked again, so a
 * request freed meanwhile either sees the mark (and kicks @q) or leaves
 * room for us.
 */
static bool pvblk_dev_take(struct pvblk_dev *dev, struct pvblk_queue *q)
{
	unsigned int max = READ_ONCE(pvblk_max_inflight);

	if (pvblk_dev_take_one(dev, max))
		return true;
	if (!test_and_set_bit(PVBLK_QF_CAPPED, &q->flags))
		atomic_inc(&dev->capped);
	/* Mark, then count again: pairs with pvblk_dev_untake(). */
	smp_mb__after_atomic();
	/* The mark stays if this succeeds: one spurious kick at worst. */
	return pvblk_dev_take_one(dev, max);
}

/* A request went back: wake the queues the cap stopped. */
static void pvblk_dev_untake(struct pvblk_dev *dev)
{
	unsigned int i;

	atomic_dec(&dev->reqs_out);
	/* Uncount, then look for marks: pairs with pvblk_dev_take(). */
	smp_mb__after_atomic();
	if (likely(!atomic_read(&dev->capped)))
		return;
	for (i = 0; i < dev->nr_queues; i++) {
		struct pvblk_queue *q = &dev->queues[i];

		if (!test_and_clear_bit(PVBLK_QF_CAPPED, &q->flags))
			continue;
		atomic_dec(&dev->capped);
		/* Its worker calls ops->notify(), as when its pool refills. */
		set_bit(PVBLK_QF_WAKE, &q->flags);
		dev->ops->queue_work(q);
	}
}

struct pvblk_req *pvblk_req_get(struct pvblk_queue *q)
{
	struct pvblk_req *req;

	if (!pvblk_dev_take(q->dev, q)) {
		PVBLK_STAT_ADD(q, capped, 1);
		return NULL;
	}
	spin_lock(&q->pool_lock);
	req = list_first_entry_or_null(&q->free, struct pvblk_req, free_node);
	if (req)
		list_del(&req->free_node);
	spin_unlock(&q->pool_lock);
	if (!req) {
		pvblk_dev_untake(q->dev);
		PVBLK_STAT_ADD(q, pool_empty, 1);
		return NULL;
	}
	memset(req, 0, sizeof(*req));
	req->q = q;
	req->segs = req->inline_segs;
	return req;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_req_get);

/* Back to the pool's tail: a finished request rests before its reuse. */
void pvblk_req_put_free(struct pvblk_req *req)
{
	struct pvblk_queue *q = req->q;

	spin_lock(&q->pool_lock);
	list_add_tail(&req->free_node, &q->free);
	spin_unlock(&q->pool_lock);
	pvblk_dev_untake(q->dev);
}

static void pvblk_queues_free(struct pvblk_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nr_queues; i++) {
		free_percpu(dev->queues[i].stats);
		kvfree(dev->queues[i].pool);
	}
	kfree(dev->queues);
}

struct pvblk_dev *pvblk_dev_create(const char *name,
				   const struct pvblk_transport_ops *ops,
				   void *priv, unsigned int nr_queues,
				   unsigned int depth, size_t req_size)
{
	struct pvblk_dev *dev;
	unsigned int i;
	int ret = -ENOMEM;

	if (!ops || !ops->complete || !ops->notify || !ops->queue_work ||
	    !nr_queues || nr_queues > 256 || !name || !depth ||
	    depth > 65536 || req_size < sizeof(struct pvblk_req))
		return ERR_PTR(-EINVAL);

	/* Memory a VMM makes us allocate is charged to its memory cgroup. */
	dev = PVBLK_ALLOC(kzalloc(sizeof(*dev), GFP_KERNEL_ACCOUNT));
	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->ops = ops;
	dev->priv = priv;
	dev->nr_queues = nr_queues;
	mutex_init(&dev->lock);
	spin_lock_init(&dev->serial_lock);
	atomic_set(&dev->reqs_out, 0);
	atomic_set(&dev->capped, 0);
	INIT_LIST_HEAD(&dev->node);

	dev->name = PVBLK_ALLOC(kstrdup(name, GFP_KERNEL_ACCOUNT));
	if (!dev->name)
		goto err_free_dev;
	dev->queues = PVBLK_ALLOC(kcalloc(nr_queues, sizeof(struct pvblk_queue),
					  GFP_KERNEL_ACCOUNT));
	if (!dev->queues)
		goto err_free_name;
	for (i = 0; i < nr_queues; i++) {
		struct pvblk_queue *q = &dev->queues[i];

		q->dev = dev;
		q->index = i;
		init_llist_head(&q->cq);
		init_llist_head(&q->ready);
		atomic_set(&q->inflight, 0);
		q->stats = PVBLK_ALLOC(alloc_percpu_gfp(struct pvblk_stats,
							GFP_KERNEL_ACCOUNT));
		if (!q->stats || pvblk_pool_init(q, depth, req_size))
			goto err_free_queues;
	}
	ret = pvblk_epochs_init(dev);
	if (ret)
		goto err_free_queues;
	pvblk_qos_init(dev);
	pvblk_dev_debugfs_add(dev);
	return dev;

err_free_queues:
	pvblk_queues_free(dev);
err_free_name:
	kfree(dev->name);
err_free_dev:
	kfree(dev);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_create);

void pvblk_dev_destroy(struct pvblk_dev *dev)
{
	unsigned int i;

	if (IS_ERR_OR_NULL(dev))
		return;
	pvblk_dev_debugfs_remove(dev);
	pvblk_dev_set_backend(dev, NULL);	/* drains */
	pvblk_qos_exit(dev);
	/*
	 * Nothing is in flight: hand back what the worker did not drain.
	 * Nobody fetches any more, so no queue the cap stopped is kicked.
	 */
	for (i = 0; i < dev->nr_queues; i++)
		clear_bit(PVBLK_QF_CAPPED, &dev->queues[i].flags);
	atomic_set(&dev->capped, 0);
	for (i = 0; i < dev->nr_queues; i++)
		pvblk_queue_drain(&dev->queues[i], 0);
	pvblk_epochs_exit(dev);
	for (i = 0; i < dev->nr_queues; i++)
		WARN_ON_ONCE(!llist_empty(&dev->queues[i].cq) ||
			     dev->queues[i].cq_backlog);
	pvblk_queues_free(dev);
	kfree(dev->name);
	kfree(dev);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_destroy);

void *pvblk_dev_priv(struct pvblk_dev *dev)
{
	return dev->priv;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_priv);

struct pvblk_queue *pvblk_dev_queue(struct pvblk_dev *dev, unsigned int idx)
{
	if (idx >= dev->nr_queues)
		return NULL;
	return &dev->queues[idx];
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_queue);

unsigned int pvblk_dev_nr_queues(struct pvblk_dev *dev)
{
	return dev->nr_queues;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_nr_queues);

void pvblk_dev_set_serial(struct pvblk_dev *dev, const char *serial,
			  size_t len)
{
	spin_lock(&dev->serial_lock);
	memset(dev->serial, 0, sizeof(dev->serial));
	memcpy(dev->serial, serial, min(len, sizeof(dev->serial)));
	spin_unlock(&dev->serial_lock);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_set_serial);

void pvblk_dev_set_backend(struct pvblk_dev *dev, struct pvblk_backend *be)
{
	struct pvblk_backend *old;
	int err;

	mutex_lock(&dev->lock);
	old = dev->be;
	/* Everything that ran on @old, parked barriers included, ends on it. */
	pvblk_dev_drain(dev);
	if (old && old != be) {
		err = pvblk_backend_flush(old);
		if (err)
			pr_warn_ratelimited("pvblk %s: flushing the old backend: %d\n",
					    dev->name, err);
	}
	dev->be = be;
	pvblk_epoch_set_backend(dev, be);
	/* Requests that raced with the change and still saw @old. */
	pvblk_dev_drain(dev);
	mutex_unlock(&dev->lock);
	if (old != be)
		pvblk_backend_close(old);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_set_backend);

int pvblk_dev_info(struct pvblk_dev *dev, struct pvblk_backend_info *info)
{
	int ret = -ENODEV;

	mutex_lock(&dev->lock);
	if (dev->be) {
		*info = dev->be->info;
		ret = 0;
	}
	mutex_unlock(&dev->lock);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_info);

/**
 * pvblk_dev_update_capacity() - follow a backing device or file that grew
 * or shrank.
 * @dev: the device.
 * @capacity: set to the capacity now (512-byte sectors; 0 without backend).
 *
 * From the next request on, the range check uses the new size: after a
 * shrink, requests beyond the new end fail with BLK_STS_IOERR.
 * Return: true when the capacity changed.  Sleeps.
 */
bool pvblk_dev_update_capacity(struct pvblk_dev *dev, u64 *capacity)
{
	bool changed = false;
	u64 now = 0;

	mutex_lock(&dev->lock);
	if (dev->be) {
		now = pvblk_backend_size(dev->be);
		changed = now != dev->be->info.capacity;
		if (changed) {
			pr_info("pvblk %s: capacity %llu -> %llu sectors\n",
				dev->name, dev->be->info.capacity, now);
			WRITE_ONCE(dev->be->info.capacity, now);
		}
	}
	mutex_unlock(&dev->lock);
	*capacity = now;
	return changed;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_update_capacity);

int pvblk_core_init(void)
{
	pvblk_wq = alloc_workqueue("pvblk", WQ_MEM_RECLAIM | WQ_UNBOUND, 0);
	if (!pvblk_wq)
		return -ENOMEM;
	pvblk_debugfs_init();
	return 0;
}

void pvblk_core_exit(void)
{
	pvblk_debugfs_exit();
	destroy_workqueue(pvblk_wq);
}
