/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvblk - the shared core that both transports (vhost-blk, Xen blkback) feed.
 *
 * Shape (learned from nvmet): a transport embeds struct pvblk_req in its own
 * per-request struct, fills op/sector/segments, and hands a batch of requests
 * picked up from one ring kick to the core under one blk_plug.  Every request
 * leaves the core through exactly one path: pvblk_req_complete() pushes it on
 * its queue's lockless completion list (any context, including bio end_io in
 * interrupt context) and asks the transport to run its worker; the worker
 * calls pvblk_queue_drain(), which calls ops->complete() for each request in
 * process context and ops->notify() once per drained batch.
 *
 * Flush epochs: every submitted request holds a reference on the device's
 * current epoch.  A request flagged PVBLK_REQ_BARRIER (and every FLUSH) closes
 * the current epoch and is parked until that epoch and all older ones have no
 * request left in flight; new requests keep flowing in the next epoch.
 * pvblk_dev_drain() uses the same mechanism to wait for everything in flight
 * (reset, teardown, backend change).
 */
#ifndef _PVBLK_PVBLK_H
#define _PVBLK_PVBLK_H

#include <linux/types.h>
#include <linux/bio.h>
#include <linux/blk_types.h>
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/llist.h>
#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/percpu.h>

struct pvblk_dev;
struct pvblk_queue;
struct pvblk_mcache;
struct pvblk_backend;
struct pvblk_epoch;

/**
 * enum pvblk_op - what a request asks for.
 * @PVBLK_OP_READ: read segments from @sector.
 * @PVBLK_OP_WRITE: write segments at @sector.
 * @PVBLK_OP_FLUSH: make completed writes durable (always a barrier).
 * @PVBLK_OP_DISCARD: discard @nr_sectors at @sector (no segments).
 * @PVBLK_OP_WRITE_ZEROES: zero @nr_sectors at @sector (no segments).
 * @PVBLK_OP_GET_ID: copy the device serial into the segments.
 */
enum pvblk_op {
	PVBLK_OP_READ,
	PVBLK_OP_WRITE,
	PVBLK_OP_FLUSH,
	PVBLK_OP_DISCARD,
	PVBLK_OP_WRITE_ZEROES,
	PVBLK_OP_GET_ID,
	PVBLK_OP_MAX
};

/* Request flags (struct pvblk_req.flags). */
#define PVBLK_REQ_FUA		BIT(0)	/* write through (REQ_FUA) */
#define PVBLK_REQ_BARRIER	BIT(1)	/* drain older epochs before running */
#define PVBLK_REQ_PREFLUSH	BIT(2)	/* flush the cache before the write */
#define PVBLK_REQ_UNMAP		BIT(3)	/* write-zeroes may deallocate */
#define PVBLK_REQ_SECURE	BIT(4)	/* secure discard */

/* Length of the serial returned by PVBLK_OP_GET_ID (VIRTIO_BLK_ID_BYTES). */
#define PVBLK_ID_BYTES		20

/**
 * struct pvblk_seg - one data segment of a request.
 * @page: the page (pinned or mapped by the transport or the mapping cache).
 * @offset: byte offset in @page.
 * @len: bytes; @offset + @len <= PAGE_SIZE.
 */
struct pvblk_seg {
	struct page *page;
	unsigned int offset;
	unsigned int len;
};

#define PVBLK_INLINE_SEGS	4
#define PVBLK_INLINE_BVECS	4

/**
 * struct pvblk_req - one block request, embedded in the transport's struct.
 *
 * No locks: a request has one owner at a time.  The transport owns it until
 * pvblk_batch_add() (or a direct pvblk_req_complete()); then the core, which
 * counts it in an epoch (req->epoch holds that reference until completion)
 * and in @pending (one per bio or kiocb in flight plus the submitter's);
 * from the moment it is pushed on q->cq the queue's worker owns it, and
 * ops->complete() hands it back to the transport.
 *
 * Fields above the marker are filled by the transport before submission
 * (pvblk_req_init() clears the whole struct first); the rest belongs to the
 * core until ops->complete() is called.  The transport may point @segs at
 * @inline_segs (up to PVBLK_INLINE_SEGS) or at its own array.
 */
struct pvblk_req {
	enum pvblk_op op;
	unsigned int flags;
	sector_t sector;		/* in 512-byte units */
	u64 nr_sectors;			/* DISCARD / WRITE_ZEROES length */
	struct pvblk_seg *segs;
	unsigned int nr_segs;
	struct pvblk_seg inline_segs[PVBLK_INLINE_SEGS];

	/* --- owned by the core from submission to ops->complete() --- */
	struct pvblk_queue *q;
	blk_status_t status;		/* first error wins */
	atomic_t pending;		/* bios/kiocbs outstanding + 1 */
	struct pvblk_epoch *epoch;	/* epoch this request is counted in */
	struct list_head wait_node;	/* unused: barriers park via cq_node */
	struct llist_node cq_node;	/* dev ready list (released barrier), then q->cq */
	u64 bytes;			/* total data bytes */
	struct bio inline_bio;		/* small I/O: one bio, no allocation */
	struct bio_vec inline_bvecs[PVBLK_INLINE_BVECS];
	struct kiocb iocb;		/* file backend */
	struct bio_vec *file_bvecs;	/* file backend, > PVBLK_INLINE_BVECS */
	unsigned int core_flags;	/* PVBLK_RF_* */
	struct work_struct work;	/* file backend: sync ops, fallbacks */
};

/* struct pvblk_req.core_flags */
#define PVBLK_RF_PINNED		BIT(0)	/* segs pinned by pvblk_req_pin_user() */
#define PVBLK_RF_SEGS_ALLOC	BIT(1)	/* segs allocated by the core */

/**
 * struct pvblk_transport_ops - what a transport gives the core.
 * @complete: required. Process context, called from pvblk_queue_drain() for
 *	each finished request; req->status holds the result.  The transport
 *	writes its wire response (map the status with its own function),
 *	releases the pages it pinned or mapped and frees its request.
 * @notify: required. Called once after a drained batch that completed at
 *	least one request: signal the guest.
 * @queue_work: required. Any context (bio end_io included): make the
 *	transport's worker for @q run pvblk_queue_drain(@q) soon.
 */
struct pvblk_transport_ops {
	void (*complete)(struct pvblk_req *req);
	void (*notify)(struct pvblk_queue *q);
	void (*queue_work)(struct pvblk_queue *q);
};

/**
 * struct pvblk_backend_info - what a backend reports at open.
 */
struct pvblk_backend_info {
	u64 capacity;			/* 512-byte sectors */
	u32 logical_block_size;
	u32 physical_block_size;
	u32 max_segments;		/* per bio */
	u32 max_segment_size;
	u32 max_sectors;		/* per bio */
	u32 max_discard_sectors;	/* 0: no discard */
	u32 discard_granularity;	/* bytes */
	u32 discard_alignment;		/* bytes */
	u32 max_write_zeroes_sectors;	/* 0: no write-zeroes */
	bool read_only;
	bool flush;			/* volatile write cache present */
	bool fua;
	bool secure_discard;
	bool is_file;			/* regular-file backend */
};

/**
 * struct pvblk_stats - counters, per queue; summed per device in debugfs.
 * All fields are updated with the per-cpu helpers below, never locked.
 */
struct pvblk_stats {
	u64 reqs[PVBLK_OP_MAX];
	u64 bytes[PVBLK_OP_MAX];
	u64 errors;
	u64 flushes;
	u64 barriers;
	u64 batches;
	u64 batch_reqs;			/* batch_reqs / batches = mean batch */
	u64 max_batch;
	u64 bios;
	u64 drains;			/* completion batches */
	u64 drained_reqs;
};

/**
 * struct pvblk_queue - one hardware-queue-like channel (a virtqueue, a blkif
 * ring).  Lock-free: @cq is an llist filled from any context and emptied
 * only by the transport's worker (single consumer).
 *
 * Lifetime: embedded in its device, created and freed with it; @dev,
 * @index and @stats are immutable.  @priv belongs to the transport.
 * @cq_backlog is touched only inside pvblk_queue_drain() (the worker).
 * @inflight counts requests between pvblk_batch_add() and
 * pvblk_req_complete().  @stats are per-cpu, written with preemption off.
 */
struct pvblk_queue {
	struct pvblk_dev *dev;
	unsigned int index;
	void *priv;			/* transport's per-queue data */
	struct llist_head cq;
	atomic_t inflight;
	struct pvblk_stats __percpu *stats;
	struct llist_node *cq_backlog;	/* drained over budget: worker only */
};

/**
 * pvblk_dev_create() - allocate a device with @nr_queues queues.
 * @name: debugfs directory name (copied).
 * @ops: transport callbacks (must outlive the device).
 * @priv: transport data, returned by pvblk_dev_priv().
 *
 * Return: the device or an ERR_PTR().  No backend yet: submitted requests
 * complete with BLK_STS_IOERR until pvblk_dev_set_backend().
 */
struct pvblk_dev *pvblk_dev_create(const char *name,
				   const struct pvblk_transport_ops *ops,
				   void *priv, unsigned int nr_queues);
/*
 * Ownership: the device belongs to the transport that created it (no
 * reference count).  pvblk_dev_destroy(): the transport must have stopped
 * submitting; destroy drains everything in flight (submitting released
 * barriers itself), completes whatever is still on the queues' completion
 * lists through ops->complete()/ops->notify() (so the transport's
 * callbacks must still work), closes the backend, removes debugfs and
 * frees.  Sleeps.
 */
void pvblk_dev_destroy(struct pvblk_dev *dev);
void *pvblk_dev_priv(struct pvblk_dev *dev);
struct pvblk_queue *pvblk_dev_queue(struct pvblk_dev *dev, unsigned int idx);
unsigned int pvblk_dev_nr_queues(struct pvblk_dev *dev);
/* Serial for GET_ID; up to PVBLK_ID_BYTES, not NUL-terminated when full. */
void pvblk_dev_set_serial(struct pvblk_dev *dev, const char *serial, size_t len);

/*
 * Install @be (NULL detaches).  Drains every request in flight on the old
 * backend first; the device takes ownership of @be and closes the old one.
 * Sleeps.
 */
int pvblk_dev_set_backend(struct pvblk_dev *dev, struct pvblk_backend *be);
/* Fill @info from the current backend; -ENODEV when there is none.  Any context. */
int pvblk_dev_info(struct pvblk_dev *dev, struct pvblk_backend_info *info);
/* Wait until every request submitted before the call has completed. */
void pvblk_dev_drain(struct pvblk_dev *dev);

/*
 * Backends.  pvblk_backend_open_file() takes a reference on @file: a block
 * device node (re-opened with bdev_file_open_by_dev()) or, on -ENOTBLK, a
 * regular file used through direct-I/O kiocbs.  @file must be open for
 * reading, and for writing unless @read_only (-EBADF); O_APPEND files and
 * other types are refused (-EINVAL).  pvblk_backend_open_dev() checks no
 * permission: its caller vouches for @devt (e.g. a toolstack's xenstore
 * node).  Both open exclusively (holder: the backend; -EBUSY if mounted).
 */
struct pvblk_backend *pvblk_backend_open_file(struct file *file, bool read_only);
struct pvblk_backend *pvblk_backend_open_dev(dev_t devt, bool read_only);
void pvblk_backend_close(struct pvblk_backend *be);
void pvblk_backend_get_info(struct pvblk_backend *be,
			    struct pvblk_backend_info *info);

/**
 * pvblk_req_init() - clear @req and set its queue.  Call before filling it.
 */
void pvblk_req_init(struct pvblk_req *req, struct pvblk_queue *q);

/**
 * pvblk_req_pin_user() - pin the user memory of @iter into @req's segments.
 * @req: initialised request; its segments are appended to.
 * @iter: ITER_UBUF/ITER_IOVEC over the current task's memory (for vhost:
 *	the VMM's, since the vhost worker runs in its mm).
 * @max_segs: refuse (-EINVAL) chains that need more segments than this.
 *
 * Uses iov_iter_extract_pages() (FOLL_PIN); allocates the segment array
 * when more than PVBLK_INLINE_SEGS are needed.  The core unpins (dirtying
 * pages a READ wrote into) and frees the array before ops->complete().
 * On error everything this call pinned is released again.
 */
int pvblk_req_pin_user(struct pvblk_req *req, struct iov_iter *iter,
		       unsigned int max_segs);

/**
 * struct pvblk_batch - requests picked up from one ring kick.
 * Everything submitted between pvblk_batch_start() and pvblk_batch_finish()
 * goes out under one blk_plug.
 */
struct pvblk_batch {
	struct pvblk_queue *q;
	struct blk_plug plug;
	unsigned int nr;
};

void pvblk_batch_start(struct pvblk_batch *b, struct pvblk_queue *q);
/*
 * Validate @req against the backend (range, alignment, read-only, support)
 * and submit it.  Never fails synchronously: an invalid request is completed
 * through the normal path with an error status.  Process context (may sleep
 * briefly for an epoch allocation).  @req->q must be set (pvblk_req_init()).
 *
 * Checks, in order, and the status each failure completes with:
 *   op >= PVBLK_OP_MAX, or a flag outside PVBLK_REQ_*     BLK_STS_NOTSUPP
 *   no backend installed                                  BLK_STS_IOERR
 *   READ/WRITE/GET_ID: nr_segs 0 or > 4096, segs NULL, a segment with
 *     no page, len 0, offset + len > PAGE_SIZE, offset or len not a
 *     multiple of 512                                     BLK_STS_IOERR
 *   WRITE on a read-only backend                          BLK_STS_IOERR
 *   READ/WRITE: sector + bytes/512 beyond capacity (overflow-safe), or
 *     sector / length not multiples of the logical block  BLK_STS_IOERR
 *   DISCARD without backend discard (or SECURE without secure erase),
 *     WRITE_ZEROES without backend write-zeroes           BLK_STS_NOTSUPP
 *   DISCARD/WRITE_ZEROES on read-only                     BLK_STS_IOERR
 *   DISCARD/WRITE_ZEROES: nr_sectors 0, beyond capacity or unaligned
 *                                                         BLK_STS_IOERR
 * FLUSH ignores sector and segments.  Ranges longer than the device's
 * discard/write-zeroes limit are split, not refused.  Flags that do not
 * apply to an op (FUA on a READ) are ignored.  Allocation failure while
 * submitting completes with BLK_STS_RESOURCE.
 */
void pvblk_batch_add(struct pvblk_batch *b, struct pvblk_req *req);
void pvblk_batch_finish(struct pvblk_batch *b);

/*
 * The single exit.  Any context.  The first non-OK status sticks.
 */
void pvblk_req_complete(struct pvblk_req *req, blk_status_t status);

/*
 * Transport worker: complete every request on @q->cq through ops->complete()
 * and call ops->notify() once if any were completed.  At most @budget
 * requests (0: no limit); returns the number completed.  If requests remain
 * it calls ops->queue_work() again.  Process context.  It also submits the
 * barriers of the device whose older epochs have drained (ops->queue_work()
 * is called when one is released), so the worker must keep running until
 * the device is drained (pvblk_dev_drain() submits them too if it waits).
 */
unsigned int pvblk_queue_drain(struct pvblk_queue *q, unsigned int budget);

/*
 * Show the counters of a mapping cache in the device's debugfs stats file.
 * Up to 8 caches per device; -ENOSPC beyond, -EEXIST if attached already.
 * Detach before pvblk_mcache_destroy(); destroy detaches what is left.
 */
int pvblk_dev_add_mcache(struct pvblk_dev *dev, struct pvblk_mcache *c);
void pvblk_dev_del_mcache(struct pvblk_dev *dev, struct pvblk_mcache *c);

/* Sum the per-cpu counters of @q (or of all queues of @dev). */
void pvblk_queue_stats(struct pvblk_queue *q, struct pvblk_stats *out);
void pvblk_dev_stats(struct pvblk_dev *dev, struct pvblk_stats *out);

/* ------------------------------------------------------------------ */
/* Mapping cache: persistent grants (Xen) or pinned guest pages (vhost). */

struct pvblk_mcache;

/**
 * struct pvblk_mentry - one cached mapping.
 * @key: transport key (grant reference, guest address).
 * @page: filled by ops->map.
 * @handle: transport data (grant handle, ...), opaque to the core.
 * @err: set by ops->map for this entry (0 on success).
 * The rest is the cache's.
 */
struct pvblk_mentry {
	u64 key;
	struct page *page;
	u64 handle;
	int err;

	/* cache-private */
	struct rb_node node;
	struct list_head lru;
	unsigned int users;
	unsigned long last_used;	/* jiffies */
	bool transient;			/* not cached: unmapped on put */
};

/**
 * struct pvblk_mcache_ops - batch mapping callbacks of a transport.
 * @map: map @n entries (each has @key set); set ->page and ->handle, or
 *	->err on failure, for each.  Return 0 or a global error.  Sleeps.
 * @unmap: unmap @n entries that were mapped.  Sleeps.
 */
struct pvblk_mcache_ops {
	int (*map)(void *priv, struct pvblk_mentry **ents, unsigned int n);
	void (*unmap)(void *priv, struct pvblk_mentry **ents, unsigned int n);
};

struct pvblk_mcache_stats {
	u64 hits;
	u64 misses;
	u64 evictions;
	u64 transient;		/* mapped but not cached (over a cap) */
	u64 map_errors;
	unsigned int entries;
	unsigned int in_use;
};

/*
 * A cache of at most @max_entries (0: the module default) mappings; a global
 * cap across all caches is a module parameter.  Over a cap the least recently
 * used idle entries are purged; if none is idle the new mapping is transient.
 */
struct pvblk_mcache *pvblk_mcache_create(const char *name,
					 const struct pvblk_mcache_ops *ops,
					 void *priv, unsigned int max_entries);
/* Unmap everything.  Entries still in use are a caller bug: WARN, unmap. */
void pvblk_mcache_destroy(struct pvblk_mcache *c);
/*
 * Look up @n keys, map every miss in one ops->map batch, take an in-use
 * reference on each and store them in @out.  On error nothing is held.
 */
int pvblk_mcache_get(struct pvblk_mcache *c, const u64 *keys, unsigned int n,
		     struct pvblk_mentry **out);
/* Drop in-use references; transient entries are unmapped in one batch. */
void pvblk_mcache_put(struct pvblk_mcache *c, struct pvblk_mentry **ents,
		      unsigned int n);
/* Unmap idle entries unused for @idle_ms (0: all idle); returns count. */
unsigned int pvblk_mcache_purge(struct pvblk_mcache *c, unsigned int idle_ms);
void pvblk_mcache_get_stats(struct pvblk_mcache *c,
			    struct pvblk_mcache_stats *out);

#endif /* _PVBLK_PVBLK_H */
