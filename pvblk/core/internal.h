/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvblk core internals: shared between the core's .c files and the KUnit
 * suites, never included by a transport.
 *
 * A request moves forward through the files: dev.c (pool) -> pin.c (user
 * pages) -> submit.c (batch, validation, dispatch) -> epoch.c (ordering)
 * -> bounce.c (only for segments the backend cannot take directly) ->
 * bio.c or file.c (the backend) -> complete.c (the one exit, the drain).
 *
 * Functions declared here are global (not static) so the KUnit suites can
 * call and stub them; they are exported only into the
 * EXPORTED_FOR_KUNIT_TESTING namespace, and only when KUnit is enabled.
 */
#ifndef _PVBLK_CORE_INTERNAL_H
#define _PVBLK_CORE_INTERNAL_H

#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/debugfs.h>
#include <linux/workqueue.h>
#include <pvblk/pvblk.h>

#define PVBLK_MAX_SEGS		4096	/* per request, from any transport */

/* Every flag a request may carry; anything else is BLK_STS_NOTSUPP. */
#define PVBLK_REQ_ALL		(PVBLK_REQ_FUA | PVBLK_REQ_BARRIER | \
				 PVBLK_REQ_PREFLUSH | PVBLK_REQ_UNMAP | \
				 PVBLK_REQ_SECURE | PVBLK_REQ_NOSPLIT)

/* struct pvblk_queue.flags (atomic bits) */
#define PVBLK_QF_CAPPED		0	/* pvblk_req_get() refused: device cap */
#define PVBLK_QF_WAKE		1	/* drain: ops->notify() even if idle */

/* struct pvblk_req.core_flags */
#define PVBLK_RF_PINNED		BIT(0)	/* segs pinned by pvblk_req_pin_user() */
#define PVBLK_RF_SEGS_ALLOC	BIT(1)	/* segs allocated by the core */
#define PVBLK_RF_INFLIGHT	BIT(2)	/* counted in q->inflight */
#define PVBLK_RF_RETRIED	BIT(3)	/* file: direct I/O retried buffered */
#define PVBLK_RF_BVECS_ALLOC	BIT(4)	/* file: file_bvecs allocated */
#define PVBLK_RF_UNALIGNED	BIT(5)	/* check: a segment needs the bounce */
#define PVBLK_RF_QOS_CSS	BIT(6)	/* released by the throttle: qos_css */
#define PVBLK_RF_FILE_CSS	BIT(7)	/* file: file_css holds a reference */

/**
 * struct pvblk_backend - an open block device or regular file.
 *
 * Immutable after open.  Owned by whoever opened it until it is handed to
 * pvblk_dev_set_backend(); from then on by the device, which closes it
 * only after every request that could have seen it has completed.
 * Requests never take a reference: their epoch pins it.
 */
struct pvblk_backend {
	struct pvblk_backend_info info;
	struct file *bdev_file;		/* block device, opened with holder */
	struct block_device *bdev;	/* file_bdev(bdev_file), or a fake */
	struct file *file;		/* regular file (reference held) */
	bool direct;			/* file: IOCB_DIRECT kiocbs */
	/*
	 * What the backend takes directly: a READ/WRITE segment with
	 * (offset & @mem_mask) or (len & @len_mask) is bounced.  Block
	 * device: its DMA alignment (at least 511) for both; direct-I/O
	 * file: the file system's memory and offset/length alignment;
	 * buffered file: 0 (any layout).
	 */
	u32 mem_mask;
	u32 len_mask;
	/*
	 * Block device: a READ/WRITE of more segments than one bio holds
	 * goes out as chained bios split at a segment boundary, which must
	 * fall on a logical block (the block layer cannot realign a bio
	 * that starts off one).  Such a request with a segment length off
	 * @chain_mask is bounced.  0: no chains (files, 512-byte blocks).
	 */
	u32 chain_mask;
};

/**
 * struct pvblk_epoch - requests of one queue submitted between two
 * barriers (or drains).
 *
 * @count: requests counted in this epoch, plus one while it is the
 *	queue's current epoch (the "open" bias).  Incremented only on q->cur
 *	under q->lock; decremented anywhere (completion, any context), but
 *	the decrement that reaches zero is made under q->lock.
 * @node, @wait: under q->lock.  The epoch is retired (unlinked and freed)
 *	under that lock when it is the oldest, not current, and @count is
 *	zero; then @wait (the barrier or drain that closed it) loses one.
 */
struct pvblk_epoch {
	struct list_head node;
	atomic_t count;
	struct pvblk_wait *wait;
};

/* qos.c: the buckets of a device, units per second of each. */
enum {
	PVBLK_QOS_RIOPS,		/* READ requests */
	PVBLK_QOS_WIOPS,		/* WRITE, DISCARD, WRITE_ZEROES */
	PVBLK_QOS_RBPS,			/* READ data, 512-byte units */
	PVBLK_QOS_WBPS,			/* WRITE data, 512-byte units */
	PVBLK_QOS_NR
};

/**
 * struct pvblk_qos_bucket - one token bucket.
 * @rate: units per second, 0: unlimited.
 * @tokens: units times NSEC_PER_SEC (so that a refill is elapsed ns times
 *	@rate, no division); negative after a request larger than @cap.
 * @cap: @rate times the burst in ns: the most @tokens holds.
 */
struct pvblk_qos_bucket {
	u64 rate;
	s64 tokens;
	s64 cap;
};

/**
 * struct pvblk_throttle - QoS state of a device (qos.c).
 *
 * @on: read without a lock by pvblk_req_dispatch(): false costs the data
 *	path one predictable branch.  Set when a limit is set; cleared, under
 *	@lock, only when no limit is set and @waiting is empty, so a request
 *	never overtakes a waiting one.
 * @lock (plain spinlock: process context only; the timer is a delayed
 *	work): @limits, @buckets, @last, @waiting, @nr_waiting, @draining.
 * @waiting: requests over a limit, oldest first (req->qos_node), each
 *	still counted in its flush epoch.
 * @draining: pvblk_dev_drain() calls running; while non-zero nothing
 *	waits longer than the drain's release (a request that finds others
 *	waiting queues behind them, and that release runs them all).
 * @work: releases @waiting in process context; armed for the time the
 *	oldest request can go.
 */
struct pvblk_throttle {
	bool on;
	spinlock_t lock;		/* see above */
	struct pvblk_qos limits;
	struct pvblk_qos_bucket buckets[PVBLK_QOS_NR];
	u64 last;			/* ns of the last refill */
	struct list_head waiting;
	unsigned int nr_waiting;
	unsigned int draining;
	struct delayed_work work;
};

/**
 * struct pvblk_dev - one virtual disk.
 *
 * Owned by the transport: pvblk_dev_create() / pvblk_dev_destroy(), no
 * reference count.
 *
 * Locks:
 * @lock (mutex): serialises backend changes, writers of @be and readers
 *	outside the data path (pvblk_dev_info(), debugfs).  The data path
 *	reads the backend from its queue (q->be, under q->lock).
 * @serial_lock: @serial, read when GET_ID runs.
 * @queues, @nr_queues, @ops, @priv, @name, @epoch_pool: immutable.
 * @drain_wq: woken when a barrier or drain loses its last epoch and when
 *	a barrier is released.
 * @reqs_out: requests taken from the pools of all queues, at most
 *	pvblk_max_inflight (dev.c); @capped: queues marked PVBLK_QF_CAPPED.
 *	Both atomic.
 * @thr: QoS limits and the requests waiting for them (own lock).
 */
struct pvblk_dev {
	const struct pvblk_transport_ops *ops;
	void *priv;
	char *name;
	unsigned int nr_queues;
	struct pvblk_queue *queues;

	struct mutex lock;		/* see above */
	struct pvblk_backend *be;

	spinlock_t serial_lock;		/* @serial */
	u8 serial[PVBLK_ID_BYTES];

	mempool_t *epoch_pool;
	wait_queue_head_t drain_wq;
	atomic64_t parked;		/* barriers that had to wait */
	atomic_t reqs_out;		/* out of the pools, all queues */
	atomic_t capped;		/* queues stopped by the cap */
	struct pvblk_throttle thr;

	struct dentry *dbg_dir;
	struct list_head node;		/* pvblk_devs, under pvblk_devs_lock */
};

extern struct workqueue_struct *pvblk_wq;
extern unsigned int pvblk_max_inflight;
bool pvblk_fail_alloc(void);

/*
 * KUnit stall points of the completion path: a stub may sleep there to
 * widen a race window.  Without KUnit they compile to nothing.
 */
enum pvblk_stall {
	PVBLK_STALL_EPOCH_PUT,		/* an epoch reference just dropped */
	PVBLK_STALL_QUEUE_WORK,		/* on q->cq, ops->queue_work() next */
};

#if IS_ENABLED(CONFIG_KUNIT)
void pvblk_stall(struct pvblk_queue *q, enum pvblk_stall where);
#else
static inline void pvblk_stall(struct pvblk_queue *q, enum pvblk_stall where)
{
}
#endif

/* dev.c */
void pvblk_req_put_free(struct pvblk_req *req);

/* epoch.c */
int pvblk_epochs_init(struct pvblk_dev *dev);
void pvblk_epochs_exit(struct pvblk_dev *dev);
void pvblk_epoch_enter(struct pvblk_req *req);
bool pvblk_epoch_barrier(struct pvblk_req *req);
void pvblk_epoch_put(struct pvblk_queue *q, struct pvblk_epoch *e);
void pvblk_epoch_run_ready(struct pvblk_queue *q);
void pvblk_epoch_set_backend(struct pvblk_dev *dev, struct pvblk_backend *be);
unsigned int pvblk_epoch_count(struct pvblk_dev *dev, u64 *inflight);

/* complete.c */
void pvblk_req_complete(struct pvblk_req *req, blk_status_t status);
void pvblk_req_put(struct pvblk_req *req, blk_status_t status);
void pvblk_req_set_status(struct pvblk_req *req, blk_status_t status);
void pvblk_req_release(struct pvblk_req *req);

/* submit.c */
void pvblk_req_dispatch(struct pvblk_req *req);
void pvblk_req_run(struct pvblk_req *req);
blk_status_t pvblk_req_check(struct pvblk_req *req, struct pvblk_backend *be);

/* backend.c */
int pvblk_backend_flush(struct pvblk_backend *be);
u64 pvblk_backend_size(struct pvblk_backend *be);

/* bounce.c */
blk_status_t pvblk_bounce_start(struct pvblk_req *req);
void pvblk_bounce_end(struct pvblk_req *req);
void pvblk_copy_segs(const struct pvblk_seg *dst, unsigned int nr_dst,
		     const struct pvblk_seg *src, unsigned int nr_src,
		     bool flush_dst);

/* bio.c */
void pvblk_bio_submit_req(struct pvblk_req *req, struct pvblk_backend *be);
struct bio *pvblk_bio_alloc(struct block_device *bdev, unsigned short nr_vecs,
			    blk_opf_t opf);
void pvblk_submit_bio(struct bio *bio);

/* file.c */
void pvblk_file_submit_req(struct pvblk_req *req, struct pvblk_backend *be);
struct bio_vec *pvblk_alloc_bvecs(unsigned int nr);
void pvblk_file_css_put(struct pvblk_req *req);
ssize_t pvblk_file_rw_iter(struct kiocb *iocb, struct iov_iter *iter,
			   bool write);
int pvblk_file_backend_init(struct pvblk_backend *be, struct file *file,
			    bool read_only);

/* pin.c */
struct pvblk_seg *pvblk_alloc_segs(unsigned int nr);
ssize_t pvblk_extract_pages(struct iov_iter *iter, struct page **pages,
			    size_t maxsize, unsigned int maxpages,
			    size_t *offset);
void pvblk_unpin_page(struct page *page, bool dirty);
void pvblk_unpin_segs(struct pvblk_seg *segs, unsigned int from,
		      unsigned int to, bool dirty);

/* qos.c */
void pvblk_qos_init(struct pvblk_dev *dev);
void pvblk_qos_exit(struct pvblk_dev *dev);
bool pvblk_qos_throttle(struct pvblk_req *req);
void pvblk_qos_release(struct pvblk_dev *dev, bool all);
void pvblk_qos_drain_begin(struct pvblk_dev *dev);
void pvblk_qos_drain_end(struct pvblk_dev *dev);
u64 pvblk_qos_now(void);
void pvblk_qos_arm(struct pvblk_dev *dev, unsigned long delay);
void pvblk_qos_show(struct seq_file *m, struct pvblk_dev *dev);

/* stats.c */
void pvblk_stats_add(struct pvblk_queue *q, size_t field, u64 v);
void pvblk_stats_max(struct pvblk_queue *q, size_t field, u64 v);
#define PVBLK_STAT_ADD(q, f, v) \
	pvblk_stats_add(q, offsetof(struct pvblk_stats, f), v)
void pvblk_dev_debugfs_add(struct pvblk_dev *dev);
void pvblk_dev_debugfs_remove(struct pvblk_dev *dev);
struct seq_file;
int pvblk_stats_show(struct seq_file *m, void *v);
void pvblk_debugfs_init(void);
void pvblk_debugfs_exit(void);

#endif /* _PVBLK_CORE_INTERNAL_H */
