/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvblk core internals: shared between the core's .c files and the KUnit
 * suites, never included by a transport.
 */
#ifndef _PVBLK_CORE_INTERNAL_H
#define _PVBLK_CORE_INTERNAL_H

#include <linux/mempool.h>
#include <linux/mutex.h>
#include <linux/debugfs.h>
#include <pvblk/pvblk.h>

/*
 * Functions declared here are global (not static) so the KUnit suites can
 * call and stub them; they are exported only into the
 * EXPORTED_FOR_KUNIT_TESTING namespace, and only when KUnit is enabled.
 */

#define PVBLK_MAX_SEGS		4096	/* per request, from any transport */
#define PVBLK_MAX_MCACHES	8	/* attached per device for debugfs */

/* Every flag a request may carry; anything else is BLK_STS_NOTSUPP. */
#define PVBLK_REQ_ALL		(PVBLK_REQ_FUA | PVBLK_REQ_BARRIER | \
				 PVBLK_REQ_PREFLUSH | PVBLK_REQ_UNMAP | \
				 PVBLK_REQ_SECURE)

/* Internal core flags (struct pvblk_req.core_flags), above the public ones. */
#define PVBLK_RF_INFLIGHT	BIT(8)	/* counted in q->inflight */
#define PVBLK_RF_RETRIED	BIT(9)	/* file: direct I/O retried buffered */

/**
 * struct pvblk_bio_limits - what one bio may carry, derived from the queue
 * limits of the backing device.
 * @max_bvecs: soft cap on bvecs per bio (queue max_segments); exceeded
 *	only to reach a @lbs boundary.
 * @max_bytes: bytes per bio (max_sectors), a multiple of @lbs.
 * @max_bvec_bytes: bytes per bvec (max_segment_size).
 * @lbs: logical block size: every bio is a multiple of it.
 * @merge_pages: merge physically contiguous pages into one bvec.
 */
struct pvblk_bio_limits {
	unsigned int max_bvecs;
	unsigned int max_bytes;
	unsigned int max_bvec_bytes;
	unsigned int lbs;
	bool merge_pages;
};

/* Cursor into a request's segment array for the bio planner. */
struct pvblk_seg_pos {
	unsigned int seg;
	unsigned int off;
};

/**
 * struct pvblk_backend - an open block device or regular file.
 *
 * Immutable after open.  Owned by whoever opened it until it is handed to
 * pvblk_dev_set_backend(); from then on by the device, which closes it
 * only after every request that could have seen it has completed (epoch
 * drain).  Requests never take a reference: their epoch pins it.
 */
struct pvblk_backend {
	struct pvblk_backend_info info;
	struct pvblk_bio_limits lim;
	struct file *bdev_file;		/* block device, opened with holder */
	struct block_device *bdev;	/* file_bdev(bdev_file), or a fake */
	struct file *file;		/* regular file (reference held) */
	bool direct;			/* file: IOCB_DIRECT kiocbs */
};

/**
 * struct pvblk_epoch - requests submitted between two barriers.
 *
 * @count: requests counted in this epoch, plus one while it is the current
 *	epoch (the "open" bias).  Incremented only on dev->cur under
 *	dev->epoch_lock; decremented anywhere (completion, any context).
 * @node, @barrier: under dev->epoch_lock.  The epoch is retired (unlinked
 *	and freed) under that lock when it is the oldest, not current, and
 *	@count is zero; then @barrier (the request that closed it, if any)
 *	is released to run.
 */
struct pvblk_epoch {
	struct list_head node;
	atomic_t count;
	u64 seq;
	struct pvblk_req *barrier;
};

/**
 * struct pvblk_dev - one virtual disk.
 *
 * Owned by the transport: pvblk_dev_create() / pvblk_dev_destroy(), no
 * reference count.  The transport must stop submitting and drain its
 * queues' completion lists before destroy.
 *
 * Locks:
 * @lock (mutex): serialises backend changes (@be writers), @serial
 *	writers and @mcaches.
 * @epoch_lock (spinlock, irq-safe: taken from bio end_io): @epochs, @cur,
 *	(@ready is an llist: producers hold @epoch_lock, consumers do not)
 *	@epoch_seq, @retired_seq, @be (writes; readers take it too, so a
 *	request that entered an epoch sees the backend that epoch pins).
 * @serial_lock: @serial, read when GET_ID runs.
 * @queues, @nr_queues, @ops, @priv, @name: immutable.
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

	spinlock_t epoch_lock;		/* see above */
	struct list_head epochs;	/* oldest first; last is @cur */
	struct pvblk_epoch *cur;
	u64 epoch_seq;
	u64 retired_seq;
	mempool_t *epoch_pool;
	wait_queue_head_t drain_wq;
	struct llist_head ready;	/* released barriers to submit */
	atomic64_t parked;		/* barriers that had to wait */

	struct pvblk_mcache *mcaches[PVBLK_MAX_MCACHES];
	struct dentry *dbg_dir;
	struct list_head node;		/* pvblk_devs, under pvblk_devs_lock */
};

extern struct workqueue_struct *pvblk_wq;
bool pvblk_fail_alloc(void);

/* epoch.c */
int pvblk_epochs_init(struct pvblk_dev *dev);
void pvblk_epochs_exit(struct pvblk_dev *dev);
struct pvblk_backend *pvblk_epoch_enter(struct pvblk_dev *dev,
					struct pvblk_req *req);
struct pvblk_backend *pvblk_epoch_barrier(struct pvblk_dev *dev,
					  struct pvblk_req *req, bool *run);
void pvblk_epoch_put(struct pvblk_dev *dev, struct pvblk_epoch *e);
void pvblk_epoch_run_ready(struct pvblk_dev *dev);
unsigned int pvblk_epoch_count(struct pvblk_dev *dev, u64 *inflight);

/* cq.c */
void pvblk_req_put(struct pvblk_req *req, blk_status_t status);
void pvblk_req_set_status(struct pvblk_req *req, blk_status_t status);

/* backend.c */
void pvblk_req_dispatch(struct pvblk_req *req, struct pvblk_backend *be);
blk_status_t pvblk_req_check(struct pvblk_req *req, struct pvblk_backend *be);

/* bio.c */
void pvblk_bio_submit_req(struct pvblk_req *req, struct pvblk_backend *be);
unsigned int pvblk_bio_plan_next(const struct pvblk_seg *segs,
				 unsigned int nr_segs,
				 const struct pvblk_bio_limits *lim,
				 struct pvblk_seg_pos *pos,
				 struct bio_vec *bv, unsigned int cap,
				 unsigned int *nr_bv);
void pvblk_bio_limits_init(struct pvblk_bio_limits *lim,
			   const struct pvblk_backend_info *info);
struct bio *pvblk_bio_alloc(struct block_device *bdev, unsigned short nr_vecs,
			    blk_opf_t opf);
void pvblk_submit_bio(struct bio *bio);
void pvblk_get_id(struct pvblk_req *req);

/* file.c */
void pvblk_file_submit_req(struct pvblk_req *req, struct pvblk_backend *be);
struct bio_vec *pvblk_alloc_bvecs(unsigned int nr);
ssize_t pvblk_file_rw_iter(struct kiocb *iocb, struct iov_iter *iter,
			   bool write);
int pvblk_file_backend_init(struct pvblk_backend *be, struct file *file,
			    bool read_only);

/* cq.c, pinning */
struct pvblk_seg *pvblk_alloc_segs(unsigned int nr);
ssize_t pvblk_extract_pages(struct iov_iter *iter, struct page **pages,
			    size_t maxsize, unsigned int maxpages,
			    size_t *offset);
void pvblk_unpin_page(struct page *page, bool dirty);

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
