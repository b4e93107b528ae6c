// SPDX-License-Identifier: GPL-2.0
/*
 * Per-cpu counters per queue, and the read-only debugfs view
 * /sys/kernel/debug/pvblk/<name>/stats.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <kunit/visibility.h>
#include "internal.h"

/* Every device, for unique debugfs names. */
static LIST_HEAD(pvblk_devs);
static DEFINE_MUTEX(pvblk_devs_lock);
static struct dentry *pvblk_debugfs_root;

#define PVBLK_NR_STATS	(sizeof(struct pvblk_stats) / sizeof(u64))

/*
 * Version of the stats file's format, its first line.  Lines are only ever
 * added; one that changes name or meaning, or goes, bumps it.
 */
#define PVBLK_STATS_VERSION	1

void pvblk_stats_add(struct pvblk_queue *q, size_t field, u64 v)
{
	struct pvblk_stats *s = get_cpu_ptr(q->stats);

	*(u64 *)((char *)s + field) += v;
	put_cpu_ptr(q->stats);
}

void pvblk_stats_max(struct pvblk_queue *q, size_t field, u64 v)
{
	struct pvblk_stats *s = get_cpu_ptr(q->stats);
	u64 *p = (u64 *)((char *)s + field);

	if (*p < v)
		*p = v;
	put_cpu_ptr(q->stats);
}

static void pvblk_stats_sum(struct pvblk_stats *out,
			    const struct pvblk_stats *in)
{
	const u64 *src = (const u64 *)in;
	u64 *dst = (u64 *)out;
	size_t i, max = offsetof(struct pvblk_stats, max_batch) / sizeof(u64);

	for (i = 0; i < PVBLK_NR_STATS; i++) {
		if (i == max)
			dst[i] = max_t(u64, dst[i], src[i]);
		else
			dst[i] += src[i];
	}
}

void pvblk_queue_stats(struct pvblk_queue *q, struct pvblk_stats *out)
{
	int cpu;

	memset(out, 0, sizeof(*out));
	for_each_possible_cpu(cpu)
		pvblk_stats_sum(out, per_cpu_ptr(q->stats, cpu));
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_queue_stats);

void pvblk_dev_stats(struct pvblk_dev *dev, struct pvblk_stats *out)
{
	struct pvblk_stats s;
	unsigned int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < dev->nr_queues; i++) {
		pvblk_queue_stats(&dev->queues[i], &s);
		pvblk_stats_sum(out, &s);
	}
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_stats);

static const char * const pvblk_op_names[PVBLK_OP_MAX] = {
	[PVBLK_OP_READ] = "read",
	[PVBLK_OP_WRITE] = "write",
	[PVBLK_OP_FLUSH] = "flush",
	[PVBLK_OP_DISCARD] = "discard",
	[PVBLK_OP_WRITE_ZEROES] = "write_zeroes",
	[PVBLK_OP_GET_ID] = "get_id",
};

static void pvblk_show_stats(struct seq_file *m, const char *pfx,
			     const struct pvblk_stats *s)
{
	int i;

	for (i = 0; i < PVBLK_OP_MAX; i++)
		seq_printf(m, "%s%s_reqs %llu\n%s%s_bytes %llu\n",
			   pfx, pvblk_op_names[i], s->reqs[i],
			   pfx, pvblk_op_names[i], s->bytes[i]);
	seq_printf(m, "%serrors %llu\n%sflushes %llu\n%sbarriers %llu\n",
		   pfx, s->errors, pfx, s->flushes, pfx, s->barriers);
	seq_printf(m, "%sbatches %llu\n%sbatch_reqs %llu\n%smax_batch %llu\n",
		   pfx, s->batches, pfx, s->batch_reqs, pfx, s->max_batch);
	seq_printf(m, "%sbios %llu\n%sdrains %llu\n%sdrained_reqs %llu\n",
		   pfx, s->bios, pfx, s->drains, pfx, s->drained_reqs);
	seq_printf(m, "%spool_empty %llu\n%scapped %llu\n", pfx,
		   s->pool_empty, pfx, s->capped);
	seq_printf(m, "%sbounce_reqs %llu\n%sbounce_bytes %llu\n", pfx,
		   s->bounce_reqs, pfx, s->bounce_bytes);
	seq_printf(m, "%slat_ns %llu\n%slat_hist", pfx, s->lat_ns, pfx);
	for (i = 0; i < PVBLK_LAT_BUCKETS; i++)
		seq_printf(m, " %llu", s->lat_hist[i]);
	seq_putc(m, '\n');
	seq_printf(m, "%sthrottled %llu\n%sthrottle_ns %llu\n", pfx,
		   s->throttled, pfx, s->throttle_ns);
}

int pvblk_stats_show(struct seq_file *m, void *v)
{
	struct pvblk_dev *dev = m->private;
	struct pvblk_stats s;
	unsigned int i, epochs, inflight = 0;
	char pfx[24];
	u64 counted;

	pvblk_dev_stats(dev, &s);
	for (i = 0; i < dev->nr_queues; i++)
		inflight += atomic_read(&dev->queues[i].inflight);
	epochs = pvblk_epoch_count(dev, &counted);

	/* The format's version: README "Tracing and stats" says what it keeps. */
	seq_printf(m, "version %u\n", PVBLK_STATS_VERSION);
	seq_printf(m, "queues %u\ninflight %u\nreqs_out %d\n", dev->nr_queues,
		   inflight, atomic_read(&dev->reqs_out));
	seq_printf(m, "epochs %u\nepoch_reqs %llu\nparked_barriers %lld\n",
		   epochs, counted, (long long)atomic64_read(&dev->parked));
	pvblk_show_stats(m, "", &s);
	pvblk_qos_show(m, dev);
	for (i = 0; i < dev->nr_queues; i++) {
		pvblk_queue_stats(&dev->queues[i], &s);
		snprintf(pfx, sizeof(pfx), "q%u_", i);
		seq_printf(m, "%sinflight %d\n", pfx,
			   atomic_read(&dev->queues[i].inflight));
		pvblk_show_stats(m, pfx, &s);
	}

	mutex_lock(&dev->lock);
	seq_printf(m, "backend %s\n", !dev->be ? "none" :
		   dev->be->file ? "file" : "bdev");
	if (dev->be)
		seq_printf(m, "capacity %llu\nread_only %d\n",
			   dev->be->info.capacity, dev->be->info.read_only);
	mutex_unlock(&dev->lock);
	if (dev->ops->show)
		dev->ops->show(m, dev);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_stats_show);
DEFINE_SHOW_ATTRIBUTE(pvblk_stats);

static bool pvblk_name_taken(const char *name)
{
	struct pvblk_dev *d;

	lockdep_assert_held(&pvblk_devs_lock);
	list_for_each_entry(d, &pvblk_devs, node)
		if (d->dbg_dir && !strcmp(d->dbg_dir->d_name.name, name))
			return true;
	return false;
}

/*
 * Create <root>/<name>/stats, or <name>-1, <name>-2, ... when taken.
 * debugfs is best effort: a failure leaves the device without the file.
 */
void pvblk_dev_debugfs_add(struct pvblk_dev *dev)
{
	char *name = NULL;
	unsigned int i;

	mutex_lock(&pvblk_devs_lock);
	list_add_tail(&dev->node, &pvblk_devs);
	if (IS_ERR_OR_NULL(pvblk_debugfs_root))
		goto out;
	for (i = 0; i < 1000; i++) {
		kfree(name);
		name = i ? kasprintf(GFP_KERNEL, "%s-%u", dev->name, i) :
			kstrdup(dev->name, GFP_KERNEL);
		if (!name)
			goto out;
		strreplace(name, '/', '_');	/* one path component */
		if (!pvblk_name_taken(name))
			break;
	}
	dev->dbg_dir = debugfs_create_dir(name, pvblk_debugfs_root);
	if (IS_ERR(dev->dbg_dir)) {
		dev->dbg_dir = NULL;
		goto out;
	}
	debugfs_create_file("stats", 0444, dev->dbg_dir, dev,
			    &pvblk_stats_fops);
out:
	mutex_unlock(&pvblk_devs_lock);
	kfree(name);
}

void pvblk_dev_debugfs_remove(struct pvblk_dev *dev)
{
	mutex_lock(&pvblk_devs_lock);
	list_del_init(&dev->node);
	debugfs_remove_recursive(dev->dbg_dir);
	dev->dbg_dir = NULL;
	mutex_unlock(&pvblk_devs_lock);
}

void pvblk_debugfs_init(void)
{
	pvblk_debugfs_root = debugfs_create_dir("pvblk", NULL);
}

void pvblk_debugfs_exit(void)
{
	debugfs_remove_recursive(pvblk_debugfs_root);
	pvblk_debugfs_root = NULL;
}
