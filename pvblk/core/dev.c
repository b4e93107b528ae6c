// SPDX-License-Identifier: GPL-2.0
/*
 * Devices and queues, backend changes, module-wide state of the core.
 */
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/workqueue.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include <pvblk/modinit.h>
#include "internal.h"

/* Sync and fallback work of the file backend, released barriers. */
struct workqueue_struct *pvblk_wq;
EXPORT_SYMBOL_IF_KUNIT(pvblk_wq);

/* Fault injection point for KUnit: true makes the next allocation fail. */
bool pvblk_fail_alloc(void)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_fail_alloc);
	return false;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_fail_alloc);

#define PVBLK_ALLOC(expr)	(pvblk_fail_alloc() ? NULL : (expr))

struct pvblk_dev *pvblk_dev_create(const char *name,
				   const struct pvblk_transport_ops *ops,
				   void *priv, unsigned int nr_queues)
{
	struct pvblk_dev *dev;
	unsigned int i;
	int ret = -ENOMEM;

	if (!ops || !ops->complete || !ops->notify || !ops->queue_work ||
	    !nr_queues || nr_queues > 256 || !name)
		return ERR_PTR(-EINVAL);

	dev = PVBLK_ALLOC(kzalloc(sizeof(*dev), GFP_KERNEL));
	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->ops = ops;
	dev->priv = priv;
	dev->nr_queues = nr_queues;
	mutex_init(&dev->lock);
	spin_lock_init(&dev->serial_lock);
	INIT_LIST_HEAD(&dev->node);

	dev->name = PVBLK_ALLOC(kstrdup(name, GFP_KERNEL));
	if (!dev->name)
		goto err_free_dev;
	dev->queues = PVBLK_ALLOC(kcalloc(nr_queues, sizeof(struct pvblk_queue),
					  GFP_KERNEL));
	if (!dev->queues)
		goto err_free_name;
	for (i = 0; i < nr_queues; i++) {
		struct pvblk_queue *q = &dev->queues[i];

		q->dev = dev;
		q->index = i;
		init_llist_head(&q->cq);
		atomic_set(&q->inflight, 0);
		q->stats = PVBLK_ALLOC(alloc_percpu(struct pvblk_stats));
		if (!q->stats)
			goto err_free_stats;
	}
	ret = pvblk_epochs_init(dev);
	if (ret)
		goto err_free_stats;
	pvblk_dev_debugfs_add(dev);
	return dev;

err_free_stats:
	for (i = 0; i < nr_queues; i++)
		free_percpu(dev->queues[i].stats);
	kfree(dev->queues);
err_free_name:
	kfree(dev->name);
err_free_dev:
	kfree(dev);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_GPL(pvblk_dev_create);

void pvblk_dev_destroy(struct pvblk_dev *dev)
{
	unsigned int i;

	if (IS_ERR_OR_NULL(dev))
		return;
	pvblk_dev_debugfs_remove(dev);
	pvblk_dev_set_backend(dev, NULL);	/* drains */
	/* Nothing is in flight: hand back what the worker did not drain. */
	for (i = 0; i < dev->nr_queues; i++)
		pvblk_queue_drain(&dev->queues[i], 0);
	pvblk_epochs_exit(dev);
	for (i = 0; i < dev->nr_queues; i++) {
		WARN_ON_ONCE(!llist_empty(&dev->queues[i].cq) ||
			     dev->queues[i].cq_backlog);
		free_percpu(dev->queues[i].stats);
	}
	kfree(dev->queues);
	kfree(dev->name);
	kfree(dev);
}
EXPORT_SYMBOL_GPL(pvblk_dev_destroy);

void *pvblk_dev_priv(struct pvblk_dev *dev)
{
	return dev->priv;
}
EXPORT_SYMBOL_GPL(pvblk_dev_priv);

struct pvblk_queue *pvblk_dev_queue(struct pvblk_dev *dev, unsigned int idx)
{
	if (idx >= dev->nr_queues)
		return NULL;
	return &dev->queues[idx];
}
EXPORT_SYMBOL_GPL(pvblk_dev_queue);

unsigned int pvblk_dev_nr_queues(struct pvblk_dev *dev)
{
	return dev->nr_queues;
}
EXPORT_SYMBOL_GPL(pvblk_dev_nr_queues);

void pvblk_dev_set_serial(struct pvblk_dev *dev, const char *serial,
			  size_t len)
{
	spin_lock(&dev->serial_lock);
	memset(dev->serial, 0, sizeof(dev->serial));
	memcpy(dev->serial, serial, min(len, sizeof(dev->serial)));
	spin_unlock(&dev->serial_lock);
}
EXPORT_SYMBOL_GPL(pvblk_dev_set_serial);

int pvblk_dev_set_backend(struct pvblk_dev *dev, struct pvblk_backend *be)
{
	struct pvblk_backend *old;

	mutex_lock(&dev->lock);
	spin_lock_irq(&dev->epoch_lock);
	old = dev->be;
	dev->be = be;
	spin_unlock_irq(&dev->epoch_lock);
	/* Requests that could have seen @old are in epochs closed here. */
	pvblk_dev_drain(dev);
	mutex_unlock(&dev->lock);
	if (old != be)
		pvblk_backend_close(old);
	return 0;
}
EXPORT_SYMBOL_GPL(pvblk_dev_set_backend);

/* Any context: the installed backend is closed only after being replaced. */
int pvblk_dev_info(struct pvblk_dev *dev, struct pvblk_backend_info *info)
{
	unsigned long flags;
	int ret = -ENODEV;

	spin_lock_irqsave(&dev->epoch_lock, flags);
	if (dev->be) {
		*info = dev->be->info;
		ret = 0;
	}
	spin_unlock_irqrestore(&dev->epoch_lock, flags);
	return ret;
}
EXPORT_SYMBOL_GPL(pvblk_dev_info);

int pvblk_dev_add_mcache(struct pvblk_dev *dev, struct pvblk_mcache *c)
{
	int i, free = -1, ret = -ENOSPC;

	mutex_lock(&dev->lock);
	for (i = 0; i < PVBLK_MAX_MCACHES; i++) {
		if (dev->mcaches[i] == c) {
			ret = -EEXIST;
			goto out;
		}
		if (!dev->mcaches[i] && free < 0)
			free = i;
	}
	if (free >= 0) {
		dev->mcaches[free] = c;
		ret = 0;
	}
out:
	mutex_unlock(&dev->lock);
	return ret;
}
EXPORT_SYMBOL_GPL(pvblk_dev_add_mcache);

void pvblk_dev_del_mcache(struct pvblk_dev *dev, struct pvblk_mcache *c)
{
	int i;

	mutex_lock(&dev->lock);
	for (i = 0; i < PVBLK_MAX_MCACHES; i++)
		if (dev->mcaches[i] == c)
			dev->mcaches[i] = NULL;
	mutex_unlock(&dev->lock);
}
EXPORT_SYMBOL_GPL(pvblk_dev_del_mcache);

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
