/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvblk - the shared core that both transports (vhost-blk, Xen blkback) feed.
 *
 * Shape (learned from nvmet and blk-mq): the core owns every request.  Each
 * queue has a pool of requests created with the device; a transport's
 * per-request struct starts with struct pvblk_req and its size is given at
 * pvblk_dev_create() (the blk-mq cmd_size idea).  The transport takes a
 * request from its queue (pvblk_req_get()), decodes its wire format into it
 * and hands it to the core in a batch under one blk_plug; a request whose
 * decoding failed is handed over pre-failed (pvblk_batch_fail()).  The core
 * validates it against the backend it has, runs it, and every request
 * leaves through one path: the queue's lockless completion list, drained by
 * the transport's worker with pvblk_queue_drain(), which calls
 * ops->complete() for each request (the only place a transport writes its
 * wire answer), ops->notify() once per batch, and puts the request back in
 * the pool.
 *
 * Ordering: a FLUSH is a cache flush of what has completed (a PREFLUSH bio);
 * it does not wait for requests still in flight.  A request flagged
 * PVBLK_REQ_BARRIER (Xen's WRITE_BARRIER) runs only once every request
 * submitted before it, on any queue of the device, has completed; newer
 * requests keep flowing meanwhile (flush epochs, per queue).
 * pvblk_dev_drain() waits the same way for everything in flight (reset,
 * teardown, backend change).
 */
#ifndef _PVBLK_PVBLK_H
#define _PVBLK_PVBLK_H

#include <linux/types.h>
#include <linux/bio.h>
#include <linux/blk_types.h>
#include <linux/blkdev.h>
#include <linux/build_bug.h>
#include <linux/cgroup.h>
#include <linux/fs.h>
#include <linux/llist.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

struct pvblk_dev;
struct pvblk_queue;
struct pvblk_backend;
struct pvblk_epoch;
struct pvblk_bounce;
struct seq_file;

/**
 * enum pvblk_op - what a request asks for.
 * @PVBLK_OP_READ: read segments from @sector.
 * @PVBLK_OP_WRITE: write segments at @sector.
 * @PVBLK_OP_FLUSH: make completed writes durable (no drain).
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
#define PVBLK_REQ_BARRIER	BIT(1)	/* wait for every older request */
#define PVBLK_REQ_PREFLUSH	BIT(2)	/* flush the cache before the write */
#define PVBLK_REQ_UNMAP		BIT(3)	/* write-zeroes may deallocate */
#define PVBLK_REQ_SECURE	BIT(4)	/* secure discard */
#define PVBLK_REQ_NOSPLIT	BIT(5)	/* refuse a range over the limit */

/* Length of the serial returned by PVBLK_OP_GET_ID (VIRTIO_BLK_ID_BYTES). */
#define PVBLK_ID_BYTES		20

/**
 * struct pvblk_seg - one data segment of a request.
 * @page: the page (pinned by the core or mapped by the transport).
 * @offset: byte offset in @page, any alignment.
 * @len: bytes, any length; @offset + @len <= PAGE_SIZE.  Only the sum
 *	over a READ/WRITE's segments must be whole logical blocks: segments
 *	the backend cannot take directly are bounced by the core.
 */
struct pvblk_seg {
	struct page *page;
	unsigned int offset;
	unsigned int len;
};

#define PVBLK_INLINE_SEGS	4
#define PVBLK_INLINE_BVECS	4

/* A barrier's wait for the epochs it closed (one per queue). */
struct pvblk_wait {
	atomic_t left;			/* closed epochs not retired + 1 */
	struct pvblk_req *req;		/* the barrier, NULL for a drain */
};

/**
 * struct pvblk_req - one block request, the head of a transport's request.
 *
 * No locks: a request has one owner at a time.  pvblk_req_get() hands it,
 * cleared, to the transport; pvblk_batch_add() or pvblk_batch_fail() to the
 * core, which counts it in an epoch of its queue and in @pending (one per
 * bio or kiocb in flight plus the submitter's); once it is on q->cq the
 * queue's worker owns it; ops->complete() lends it to the transport one
 * last time and the core puts it back in the pool.
 *
 * Fields above the marker are filled by the transport; the rest belongs
 * to the core.  @segs points at @inline_segs, at the core's array (pinned
 * user memory) or at the transport's own array.  While a bounced request
 * is in flight the core points @segs at its bounce pages (@bounce keeps
 * the transport's segments) and puts them back before ops->complete().
 */
struct pvblk_req {
	enum pvblk_op op;
	unsigned int flags;
	sector_t sector;		/* in 512-byte units */
	u64 nr_sectors;			/* DISCARD / WRITE_ZEROES length */
	struct pvblk_seg *segs;
	unsigned int nr_segs;
	struct pvblk_seg inline_segs[PVBLK_INLINE_SEGS];

	/* --- owned by the core --- */
	struct pvblk_queue *q;
	struct pvblk_backend *be;	/* pinned by @epoch */
	struct pvblk_epoch *epoch;	/* counted in it until completion */
	blk_status_t status;		/* first error wins */
	unsigned int core_flags;	/* PVBLK_RF_* (core/internal.h) */
	atomic_t pending;		/* bios/kiocbs outstanding + 1 */
	u64 bytes;			/* total data bytes */
	u64 start_ns;			/* ktime_get_ns() when it entered */
	struct pvblk_bounce *bounce;	/* bounce buffer (core/bounce.c) */
	struct llist_node cq_node;	/* q->ready (barrier), then q->cq */
	struct bio_vec inline_bvecs[PVBLK_INLINE_BVECS];
	union {
		struct list_head free_node;	/* in the pool */
		struct pvblk_wait wait;		/* parked barrier */
		struct bio inline_bio;		/* block device */
		struct {			/* regular file */
			struct kiocb iocb;
			struct bio_vec *file_bvecs;
			struct work_struct work;
			/* io cgroup its bios are charged to (a ref) */
			struct cgroup_subsys_state *file_css;
		};
		struct {			/* waiting in the throttle */
			struct list_head qos_node;
			u64 qos_start;		/* ns, when it began to wait */
			/* io cgroup of the task that queued it (a ref) */
			struct cgroup_subsys_state *qos_css;
		};
	};
};

/*
 * Size of a transport's request type @type whose struct pvblk_req member
 * @member comes first, for pvblk_dev_create().
 */
#define PVBLK_REQ_SIZE(type, member) \
	(sizeof(type) + BUILD_BUG_ON_ZERO(offsetof(type, member) != 0))

/**
 * struct pvblk_transport_ops - what a transport gives the core.
 * @complete: required. Process context, from pvblk_queue_drain(), once per
 *	request; req->status holds the result.  The only place the transport
 *	writes its wire answer (with its own status map); it releases what
 *	it mapped and must not keep @req afterwards.
 * @notify: required. Once after a drained batch that completed at least
 *	one request: signal the guest.  Also called with nothing completed
 *	when a queue that pvblk_req_get() refused for the device's
 *	in-flight cap may fetch again.
 * @queue_work: required. Any context (bio end_io included): make the
 *	transport's worker for @q run pvblk_queue_drain(@q) soon.
 * @show: optional. Extra lines of the device's debugfs stats file.
 * @name: optional. The transport's name in tracepoints ("vhost", "xen").
 */
struct pvblk_transport_ops {
	const char *name;
	void (*complete)(struct pvblk_req *req);
	void (*notify)(struct pvblk_queue *q);
	void (*queue_work)(struct pvblk_queue *q);
	void (*show)(struct seq_file *m, struct pvblk_dev *dev);
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
 * All fields are updated with the per-cpu helpers, never locked.
 *
 * debugfs /sys/kernel/debug/pvblk/<device>/stats shows each as a
 * "name value" line (per op: <op>_reqs, <op>_bytes), first summed over
 * the device, then per queue with a "q<N>_" prefix.  @bounce_reqs and
 * @bounce_bytes count the READs and WRITEs whose data went through a
 * bounce buffer because a segment's offset or length was not aligned
 * the way the backend can take directly (see pvblk_batch_add()).
 *
 * Latency: from pvblk_batch_add() / pvblk_batch_fail() until the
 * transport's worker picks the request up in pvblk_queue_drain() to answer
 * it.  @lat_ns sums it over the @drained_reqs completions; @lat_hist[k]
 * counts completions whose latency in ns shifted right by 10 has k
 * significant bits: k = 0 below 1024 ns, k in [2^(k+9), 2^(k+10)) ns,
 * the last bucket everything above.  Shown as one "lat_hist" line of
 * PVBLK_LAT_BUCKETS numbers.
 * @throttled and @throttle_ns count the requests that waited for the
 * device's QoS limits (pvblk_dev_set_qos()) and the time they waited.
 */
#define PVBLK_LAT_BUCKETS	32

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
	u64 pool_empty;			/* pvblk_req_get() found none */
	u64 capped;			/* ... refused: device over its cap */
	u64 bounce_reqs;		/* requests bounced */
	u64 bounce_bytes;		/* data bytes bounced */
	u64 lat_ns;			/* sum of completion latencies */
	u64 lat_hist[PVBLK_LAT_BUCKETS];	/* log2, see above */
	u64 throttled;			/* requests that waited for QoS */
	u64 throttle_ns;		/* ... total time they waited */
};

/**
 * struct pvblk_queue - one hardware-queue-like channel (a virtqueue, a blkif
 * ring), kcalloc'd with its device and freed with it.
 *
 * Locks:
 * @lock (irq-safe: taken from bio end_io when an epoch retires): @epochs,
 *	@cur, @be.
 * @pool_lock: @free.  pvblk_req_get() runs on the submitting side,
 *	pvblk_queue_drain() puts requests back.
 * @cq is an llist filled from any context and emptied only by the
 * transport's worker (single consumer: pvblk_queue_drain() calls for one
 * queue never overlap); @cq_backlog is touched only there.  @ready is
 * filled under @lock and emptied by pvblk_queue_drain() and
 * pvblk_dev_drain().  @dev, @index, @pool and @stats are immutable;
 * @priv belongs to the transport.  @inflight counts requests between
 * pvblk_batch_add() and their completion.  @flags holds atomic bits of
 * the core (PVBLK_QF_*, core/internal.h).
 */
struct pvblk_queue {
	struct pvblk_dev *dev;
	unsigned int index;
	void *priv;			/* transport's per-queue data */
	struct llist_head cq;
	struct llist_node *cq_backlog;	/* drained over budget: worker only */
	struct llist_head ready;	/* released barriers to submit */
	atomic_t inflight;
	unsigned long flags;		/* PVBLK_QF_*, atomic bitops */
	struct pvblk_stats __percpu *stats;

	spinlock_t lock;		/* see above */
	struct list_head epochs;	/* oldest first; last is @cur */
	struct pvblk_epoch *cur;
	struct pvblk_backend *be;

	spinlock_t pool_lock;		/* @free */
	struct list_head free;		/* FIFO: a freed request rests */
	void *pool;
};

/**
 * pvblk_dev_create() - allocate a device with @nr_queues queues.
 * @name: debugfs directory name (copied).
 * @ops: transport callbacks (must outlive the device).
 * @priv: transport data, returned by pvblk_dev_priv().
 * @nr_queues: 1..256.
 * @depth: requests in each queue's pool (1..65536).
 * @req_size: size of the transport's request (PVBLK_REQ_SIZE()).
 *
 * Return: the device or an ERR_PTR().  No backend yet: submitted requests
 * complete with BLK_STS_IOERR until pvblk_dev_set_backend().
 */
struct pvblk_dev *pvblk_dev_create(const char *name,
				   const struct pvblk_transport_ops *ops,
				   void *priv, unsigned int nr_queues,
				   unsigned int depth, size_t req_size);
/*
 * The device belongs to the transport that created it (no reference
 * count).  pvblk_dev_destroy(): the transport has stopped submitting and
 * its workers no longer drain; destroy drains everything in flight, hands
 * what is left on the completion lists to ops->complete()/ops->notify()
 * (so the callbacks must still work), closes the backend, removes debugfs
 * and frees the pools.  Sleeps.
 */
void pvblk_dev_destroy(struct pvblk_dev *dev);
void *pvblk_dev_priv(struct pvblk_dev *dev);
struct pvblk_queue *pvblk_dev_queue(struct pvblk_dev *dev, unsigned int idx);
unsigned int pvblk_dev_nr_queues(struct pvblk_dev *dev);
/* Serial for GET_ID; up to PVBLK_ID_BYTES, not NUL-terminated when full. */
void pvblk_dev_set_serial(struct pvblk_dev *dev, const char *serial, size_t len);

/*
 * Install @be (NULL detaches); the device takes ownership of it.  Drains
 * every request in flight, flushes the old backend's cache, installs @be,
 * waits for requests that entered meanwhile and closes the old backend.
 * The transport stops submitting first: requests that race with the change
 * may run on either backend.  Sleeps.
 */
void pvblk_dev_set_backend(struct pvblk_dev *dev, struct pvblk_backend *be);
/* Fill @info from the current backend; -ENODEV when there is none.  Sleeps. */
int pvblk_dev_info(struct pvblk_dev *dev, struct pvblk_backend_info *info);
/* Re-read the backend's size (a resize); true when it changed.  Sleeps. */
bool pvblk_dev_update_capacity(struct pvblk_dev *dev, u64 *capacity);
/*
 * Wait until every request submitted before the call has completed: passed
 * pvblk_req_complete(), its ops->queue_work() call returned, and no CPU
 * touches the device for it any more.  After a drain with submission
 * stopped, the transport may cancel its work and free its rings.
 */
void pvblk_dev_drain(struct pvblk_dev *dev);

/**
 * struct pvblk_qos - a device's I/O limits, token buckets in the core.
 * @iops: requests per second, [0] READs, [1] WRITEs (DISCARD and
 *	WRITE_ZEROES count as WRITEs); 0: unlimited.  At most
 *	PVBLK_QOS_MAX_IOPS.
 * @bps: data bytes per second of READs [0] and WRITEs [1], counted in
 *	512-byte units (a limit is rounded up to one); 0: unlimited.  At
 *	most PVBLK_QOS_MAX_BPS.
 * @burst_ms: what an idle device may send at once: @burst_ms worth of
 *	each limit (0: 1000, at most PVBLK_QOS_MAX_BURST_MS).
 *
 * FLUSH and GET_ID are never limited.  A request over a limit waits in
 * the core, in order (a request never overtakes an older waiting one of
 * its device), counted in its flush epoch (a barrier or drain waits for
 * it); a drain (reset, backend change, teardown) releases every waiting
 * request at once.
 */
struct pvblk_qos {
	u64 iops[2];
	u64 bps[2];
	u32 burst_ms;
};

#define PVBLK_QOS_MAX_IOPS	BIT_ULL(28)
#define PVBLK_QOS_MAX_BPS	BIT_ULL(37)
#define PVBLK_QOS_MAX_BURST_MS	10000

/*
 * Set @dev's limits (all zero: none); any time, also while I/O runs: the
 * requests waiting are judged against the new limits at once.  -EINVAL for
 * a value over its maximum.  Any context that may take a spinlock.
 */
int pvblk_dev_set_qos(struct pvblk_dev *dev, const struct pvblk_qos *qos);
void pvblk_dev_get_qos(struct pvblk_dev *dev, struct pvblk_qos *qos);
/*
 * Parse an admin's limits: "riops=N,wiops=N,rbps=N,wbps=N,burst=MS", keys
 * in any order, separated by commas or blanks, each at most once; a
 * missing key is 0 (unlimited); bps values take a K, M or G suffix (powers
 * of 1024).  An empty string means no limit.  -EINVAL on anything else,
 * a value over its maximum included.
 */
int pvblk_qos_parse(const char *s, struct pvblk_qos *qos);

/*
 * Backends.  pvblk_backend_open_file() takes a reference on @file: a block
 * device node (re-opened with bdev_file_open_by_dev(); -ENXIO when that
 * finds another disk than @file's, e.g. @file's disk was removed and its
 * dev_t reused) or, on -ENOTBLK, a regular file used through direct-I/O
 * kiocbs.  @file must be open for reading, and for writing unless
 * @read_only (-EBADF); O_APPEND files and other types are refused
 * (-EINVAL).  pvblk_backend_open_dev() checks no permission: its caller
 * vouches for @devt (e.g. a toolstack's xenstore node).
 * pvblk_backend_file() returns the file a backend serves (a reference), to
 * open the same disk again with pvblk_backend_open_file();
 * pvblk_backend_put_file() drops it.  The last reference to a block device
 * (that one or the backend's own, in pvblk_backend_close()) ends the claim
 * on the disk before it returns, whatever context it runs in.
 *
 * Sharing of a block device: read-only backends share the disk with each
 * other (two guests may serve it read-only); a writable one holds it
 * exclusively, with @holder (NULL: the backend)
 * as the holder, so the same holder may re-open a disk it is writing.  A
 * writer while readers hold the disk, a reader while a writer holds it,
 * and either while the disk is mounted get -EBUSY.
 */
struct pvblk_backend *pvblk_backend_open_file(struct file *file, bool read_only,
					      void *holder);
struct pvblk_backend *pvblk_backend_open_dev(dev_t devt, bool read_only,
					     void *holder);
struct file *pvblk_backend_file(struct pvblk_backend *be);
void pvblk_backend_put_file(struct file *file);
void pvblk_backend_close(struct pvblk_backend *be);

/**
 * pvblk_req_get() - a cleared request from @q's pool.
 * @q: the queue.
 *
 * Return: the request (req->q set, req->segs at its inline segments), or
 * NULL when every request of the pool is in use, or when the device has
 * max_inflight (module parameter) requests out of its pools over all its
 * queues: the transport stops fetching and resumes when ops->notify() is
 * called.  Process context; calls for one queue are serialised by the
 * transport.
 */
struct pvblk_req *pvblk_req_get(struct pvblk_queue *q);

/**
 * pvblk_req_pin_user() - pin the user memory of @iter into @req's segments.
 * @req: request from pvblk_req_get(); its segments are appended to.
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
 * through the normal path with an error status.  Process context.
 *
 * Checks, in order, and the status each failure completes with:
 *   op >= PVBLK_OP_MAX, or a flag outside PVBLK_REQ_*     BLK_STS_NOTSUPP
 *   no backend installed                                  BLK_STS_IOERR
 *   READ/WRITE/GET_ID: nr_segs 0 or > 4096, segs NULL, a segment with
 *     no page, len 0, offset + len > PAGE_SIZE; READ/WRITE: total bytes
 *     not a multiple of 512                               BLK_STS_IOERR
 *   WRITE on a read-only backend                          BLK_STS_IOERR
 *   READ/WRITE: sector + bytes/512 beyond capacity (overflow-safe), or
 *     sector / length not multiples of the logical block  BLK_STS_IOERR
 *   DISCARD without backend discard (or SECURE without secure erase),
 *     WRITE_ZEROES without backend write-zeroes           BLK_STS_NOTSUPP
 *   DISCARD/WRITE_ZEROES on read-only                     BLK_STS_IOERR
 *   DISCARD/WRITE_ZEROES: nr_sectors 0, beyond capacity or unaligned
 *                                                         BLK_STS_IOERR
 * FLUSH ignores sector and segments.  Segment offsets and lengths may
 * have any alignment (virtio lets a driver lay data out at any byte
 * boundary): a READ/WRITE with a segment the backend cannot take directly
 * (offset or length off the device's DMA alignment, or off a direct-I/O
 * file's memory / length alignment; each at least 512) runs through an
 * aligned bounce buffer, allocated here (BLK_STS_RESOURCE without
 * memory), copied from for a WRITE before it is submitted and, for a
 * READ, copied back to the segments in pvblk_queue_drain() before
 * ops->complete(); it is counted in bounce_reqs / bounce_bytes.  Aligned
 * requests never bounce.  Ranges longer than the device's
 * discard/write-zeroes limit are split, or refused with BLK_STS_IOERR
 * when PVBLK_REQ_NOSPLIT is set (the transport advertised that limit).
 * Flags that do not apply to an op (FUA on a READ) are ignored.
 */
void pvblk_batch_add(struct pvblk_batch *b, struct pvblk_req *req);
/*
 * Hand over a request the transport could not decode: it completes with
 * @status (not BLK_STS_OK) through ops->complete() like any other.
 */
void pvblk_batch_fail(struct pvblk_batch *b, struct pvblk_req *req,
		      blk_status_t status);
void pvblk_batch_finish(struct pvblk_batch *b);

/*
 * Transport worker: complete every request on @q->cq through ops->complete()
 * and call ops->notify() once if any were completed.  At most @budget
 * requests (0: no limit); returns the number completed.  If requests remain
 * it calls ops->queue_work() again.  Process context.  It also submits the
 * barriers of the queue whose older requests have completed (ops->queue_work()
 * is called when one is released), so the worker must keep running until
 * the device is drained (pvblk_dev_drain() submits them too if it waits).
 */
unsigned int pvblk_queue_drain(struct pvblk_queue *q, unsigned int budget);

/*
 * Transport worker: true when pvblk_queue_drain(@q) has something to do
 * (completed requests, released barriers).  A hint for a worker that polls
 * instead of waiting for ops->queue_work(); only the worker may ask.
 */
static inline bool pvblk_queue_drain_pending(struct pvblk_queue *q)
{
	return q->cq_backlog || !llist_empty(&q->cq) || !llist_empty(&q->ready);
}

/* Sum the per-cpu counters of @q (or of all queues of @dev). */
void pvblk_queue_stats(struct pvblk_queue *q, struct pvblk_stats *out);
void pvblk_dev_stats(struct pvblk_dev *dev, struct pvblk_stats *out);

#endif /* _PVBLK_PVBLK_H */
