// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk: virtio-blk virtqueues served in the host kernel.
 *
 * /dev/vhost-blk speaks the standard vhost ioctls plus the few of
 * <uapi/linux/vhost_blk.h>.  Each virtqueue is one pvblk queue.  The kick
 * handler (on the virtqueue's worker) fetches chains, takes a request from
 * the core's pool for each, copies and checks the header, pins the data
 * pages through the core and hands the whole kick to the core under one
 * plug; a chain it cannot decode goes to the core pre-failed.  Completions
 * come back on the core's lockless completion list; the core asks us to run
 * our completion work on the same worker, where ops->complete() writes the
 * status byte (the only place that answers a chain), logs dirty pages when
 * a VMM migrates, and the batch is published in the used ring with one
 * signal.
 *
 * Guest memory is hostile: every header and segment is copied once and the
 * copy checked against the wire format (check.c); the core judges the rest.
 * Broken descriptor tables stop that virtqueue only.
 */
#define pr_fmt(fmt) "pvblk vhost: " fmt

#include <linux/compat.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kthread.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/sched/clock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_byteorder.h>
#include <linux/workqueue.h>

#include <pvblk/modinit.h>
#include <pvblk/pvblk.h>
#include "../../include/uapi/linux/vhost_blk.h"
#include "vhost.h"
#include "vhost_blk.h"

/*
 * /dev/vhost-blk gets a fixed minor from the "reserved for local use" range
 * of Documentation/admin-guide/devices.txt so that the devname alias below
 * autoloads the module on first open (like vhost-net and vhost-vsock).  If
 * the minor is taken on this machine we fall back to a dynamic one.
 */
#define VHOST_BLK_MINOR		243

/* Requests in flight per virtqueue (the core's pool). */
#define VHOST_BLK_QUEUE_DEPTH	256
/* Requests one kick may take before yielding to the other virtqueues. */
#define VHOST_BLK_WEIGHT	256
#define VHOST_BLK_BYTE_WEIGHT	(8 << 20)
/* Requests one completion run finishes before yielding. */
#define VHOST_BLK_DONE_BUDGET	64
/* Device-writable descriptors whose dirty log is kept inline. */
#define VHOST_BLK_INLINE_LOGS	4
/* How long a close waits for I/O in flight before finishing it later. */
#define VHOST_BLK_CLOSE_WAIT	(5 * HZ)

#define VHOST_BLK_FEATURES_BASE					\
	(BIT_ULL(VIRTIO_F_VERSION_1) |				\
	 BIT_ULL(VIRTIO_F_ANY_LAYOUT) |				\
	 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |			\
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |			\
	 BIT_ULL(VHOST_F_LOG_ALL) |				\
	 BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) |			\
	 BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |			\
	 BIT_ULL(VIRTIO_BLK_F_BLK_SIZE) |			\
	 BIT_ULL(VIRTIO_BLK_F_TOPOLOGY) |			\
	 BIT_ULL(VIRTIO_BLK_F_MQ) |				\
	 BIT_ULL(VIRTIO_BLK_F_FLUSH))

/* Everything a driver may ack; the backend decides what is offered. */
#define VHOST_BLK_FEATURES_ALL					\
	(VHOST_BLK_FEATURES_BASE |				\
	 BIT_ULL(VIRTIO_BLK_F_RO) |				\
	 BIT_ULL(VIRTIO_BLK_F_DISCARD) |			\
	 BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES))

struct vhost_blk;

/*
 * One virtqueue.  @throttled and @broken are protected by vq.mutex (the
 * kick handler and the completion work both hold it), and so are @nheads
 * and vq.heads, where completed requests wait for the batch's
 * vhost_add_used_n().
 */
struct vhost_blk_vq {
	struct vhost_virtqueue vq;
	struct vhost_blk *blk;
	struct pvblk_queue *pq;
	struct vhost_work done_work;	/* pvblk_queue_drain() on the worker */
	struct work_struct orphan_work;	/* same, once the worker is gone */
	unsigned int nheads;		/* used elements not yet published */
	bool throttled;			/* the core's pool was empty */
	bool broken;			/* descriptor error: stop until reset */
};

/*
 * One open /dev/vhost-blk.  @has_backend is protected by dev.mutex.  @ref:
 * the file, and the release work while it runs; the last one frees.
 * @mute is set once, with every vq.mutex taken in turn, when a close gave
 * up waiting for the I/O in flight: from then on nothing is written to
 * guest memory (the VMM may already serve the rings elsewhere); readers
 * hold a vq.mutex.
 */
struct vhost_blk {
	struct vhost_dev dev;
	struct vhost_blk_vq vqs[VHOST_BLK_MAX_QUEUES];
	struct vhost_virtqueue *vq_ptrs[VHOST_BLK_MAX_QUEUES];
	struct pvblk_dev *pdev;
	int id;
	bool has_backend;
	bool mute;
	refcount_t ref;
	struct work_struct release_work;	/* the drain of a close */
	struct completion released;		/* ... is done */
};

/* Runs the drains of closes (vhost_blk_release()); destroyed at exit. */
static struct workqueue_struct *vhost_blk_release_wq;

/*
 * One request, from the core's pool: what we need to answer it after the
 * chain's iovecs in vq->iov have long been reused.
 */
struct vhost_blk_req {
	struct pvblk_req preq;
	struct vhost_blk_vq *bvq;
	u8 __user *status;		/* last device-writable byte, or NULL */
	u32 in_len;			/* device-writable bytes of the chain */
	u32 ok_len;			/* of them written when it succeeds */
	u16 head;
	unsigned int log_num;
	struct vhost_log *log;		/* dirty log of the writable part */
	struct vhost_log inline_log[VHOST_BLK_INLINE_LOGS];
};

static DEFINE_IDA(vhost_blk_ida);

/* ------------------------------------------------------------------ */
/* Completion side                                                    */

/* Publish what the completions collected, one signal per batch. */
static void vhost_blk_flush_used(struct vhost_blk_vq *bvq)
{
	struct vhost_virtqueue *vq = &bvq->vq;

	if (!bvq->nheads)
		return;
	if (vhost_add_used_n(vq, vq->heads, bvq->nheads))
		pr_err_ratelimited("vq %u: cannot write the used ring\n",
				   bvq->pq->index);
	bvq->nheads = 0;
}

/*
 * Mark the pages of a chain's writable part dirty for a migrating VMM.  The
 * whole part is logged: read data, GET_ID data and status alike.
 */
static void vhost_blk_log(struct vhost_virtqueue *vq, struct vhost_log *log,
			  unsigned int log_num, u64 len)
{
	u64 logged = 0;
	unsigned int i;

	if (!vhost_has_feature(vq, VHOST_F_LOG_ALL) || !log_num)
		return;
	/* vhost_log_write() must not be asked for more than it has. */
	for (i = 0; i < log_num; i++)
		logged += log[i].len;
	if (vhost_log_write(vq, log, log_num, min(len, logged), NULL, 0))
		pr_err_ratelimited("cannot write the dirty log\n");
}

/*
 * Guest memory may only be touched from the owner's mm: the worker, the
 * owner itself, or a kworker of ours that borrowed the owner's mm
 * (vhost_blk_finish()).  Another process that inherited the fd just drops
 * the answers, and so does everyone once a close stopped waiting (@mute).
 * vq.mutex held.
 */
static bool vhost_blk_in_owner_mm(struct vhost_virtqueue *vq)
{
	struct vhost_blk_vq *bvq = container_of(vq, struct vhost_blk_vq, vq);

	return current->mm && current->mm == vq->dev->mm &&
	       !bvq->blk->mute;
}

/*
 * ops->complete: the one place a chain is answered.  vq.mutex held, in the
 * worker (or the orphan work).
 */
static void vhost_blk_complete(struct pvblk_req *preq)
{
	struct vhost_blk_req *req = container_of(preq, struct vhost_blk_req,
						 preq);
	struct vhost_blk_vq *bvq = req->bvq;
	struct vhost_virtqueue *vq = &bvq->vq;
	u8 status = vhost_blk_status(preq->status);
	u32 len = 0;

	lockdep_assert_held(&vq->mutex);

	if (likely(vhost_blk_in_owner_mm(vq))) {
		/* Without a device-writable byte there is nothing to say. */
		if (req->status && put_user(status, req->status)) {
			pr_err_ratelimited("vq %u: cannot write a status byte\n",
					   bvq->pq->index);
		} else if (req->status) {
			len = status == VIRTIO_BLK_S_OK ? req->ok_len : 1;
			vhost_blk_log(vq, req->log, req->log_num, req->in_len);
		}
		if (bvq->nheads >= vq->dev->iov_limit)
			vhost_blk_flush_used(bvq);
		vq->heads[bvq->nheads].id = cpu_to_vhost32(vq, req->head);
		vq->heads[bvq->nheads].len = cpu_to_vhost32(vq, len);
		bvq->nheads++;
	}

	if (req->log != req->inline_log)
		kfree(req->log);
}

/* ops->notify: once per drained batch, vq.mutex held. */
static void vhost_blk_notify(struct pvblk_queue *pq)
{
	struct vhost_blk_vq *bvq = pq->priv;
	struct vhost_virtqueue *vq = &bvq->vq;

	lockdep_assert_held(&vq->mutex);

	if (likely(vhost_blk_in_owner_mm(vq))) {
		vhost_blk_flush_used(bvq);
		vhost_signal(vq->dev, vq);
	}
	bvq->nheads = 0;

	/* The kick handler found the pool empty: requests are back. */
	if (bvq->throttled) {
		bvq->throttled = false;
		vhost_poll_queue(&vq->poll);
	}
}

/* ops->queue_work: any context. */
static void vhost_blk_queue_work(struct pvblk_queue *pq)
{
	struct vhost_blk_vq *bvq = pq->priv;

	/*
	 * The worker is gone once its owner was killed: finish the requests
	 * from a kworker so that teardown can drain them.
	 */
	if (!vhost_vq_work_queue(&bvq->vq, &bvq->done_work))
		queue_work(system_wq, &bvq->orphan_work);
}

/*
 * Finish up to @budget completed requests (0: all) under vq.mutex.
 *
 * From a kworker (the orphan work, the drain of a close) this borrows the
 * owner's mm, so that the answers still reach the used ring when the
 * worker is gone: a VMM killed with SIGKILL loses its vhost worker first,
 * then releases the fd from its exit path, where its own mm is already
 * detached.  dev.mm keeps that address space (and the guest memory it
 * maps) alive until vhost_dev_cleanup() or a reset of the owner, both of
 * which drain first.  Answering there matters: a vhost-user frontend that
 * reconnects (QEMU's reconnect=1) restarts every ring at its used index,
 * so a request we took must be in the used ring before the VMM's other
 * fds, the vhost-user socket among them, are closed.
 */
static void vhost_blk_finish(struct vhost_blk_vq *bvq, unsigned int budget)
{
	struct mm_struct *mm = bvq->blk->dev.mm;
	bool borrow = mm && !current->mm && (current->flags & PF_KTHREAD);

	if (borrow)
		kthread_use_mm(mm);
	scoped_guard(mutex, &bvq->vq.mutex)
		pvblk_queue_drain(bvq->pq, budget);
	if (borrow)
		kthread_unuse_mm(mm);
}

static void vhost_blk_handle_vq(struct vhost_blk_vq *bvq);
static bool vhost_blk_busy_poll(struct vhost_blk_vq *bvq);

/*
 * Answer a batch of completions.  With busy polling on, keep watching the
 * avail ring afterwards: a guest waiting for this answer often sends its
 * next request right away, and the worker is already running.
 */
static void vhost_blk_done_work(struct vhost_work *work)
{
	struct vhost_blk_vq *bvq = container_of(work, struct vhost_blk_vq,
						done_work);
	struct vhost_virtqueue *vq = &bvq->vq;

	guard(mutex)(&vq->mutex);
	if (!pvblk_queue_drain(bvq->pq, VHOST_BLK_DONE_BUDGET) ||
	    !READ_ONCE(vq->busyloop_timeout) || !vhost_vq_get_backend(vq) ||
	    bvq->broken || bvq->throttled)
		return;
	vhost_disable_notify(vq->dev, vq);
	if (vhost_blk_busy_poll(bvq) || vhost_enable_notify(vq->dev, vq))
		vhost_blk_handle_vq(bvq);
}

static void vhost_blk_orphan_work(struct work_struct *work)
{
	vhost_blk_finish(container_of(work, struct vhost_blk_vq, orphan_work),
			 0);
}

static const struct pvblk_transport_ops vhost_blk_ops = {
	.name		= "vhost",
	.complete	= vhost_blk_complete,
	.notify		= vhost_blk_notify,
	.queue_work	= vhost_blk_queue_work,
};

/* ------------------------------------------------------------------ */
/* Submission side                                                    */

/*
 * Keep the writable part's dirty log (vq->log is reused by the next chain).
 * Without memory for a long log, keep its tail, where the status byte is,
 * and fail the request: only that byte is written then.
 */
static int vhost_blk_save_log(struct vhost_blk_req *req,
			      const struct vhost_log *log,
			      unsigned int log_num)
{
	req->log_num = log_num;
	if (log_num > VHOST_BLK_INLINE_LOGS) {
		req->log = kmemdup_array(log, log_num, sizeof(*log),
					 GFP_KERNEL_ACCOUNT);
		if (req->log)
			return 0;
		req->log_num = VHOST_BLK_INLINE_LOGS;
	}
	req->log = req->inline_log;
	memcpy(req->log, log + log_num - req->log_num,
	       req->log_num * sizeof(*log));
	return req->log_num == log_num ? 0 : -ENOMEM;
}

/*
 * Decode the chain in vq->iov into @req for @op; @out_it stands right after
 * the header.  Return a virtio-blk status; on failure the core releases
 * whatever was pinned.
 */
static u8 vhost_blk_fill(struct vhost_blk_vq *bvq, struct vhost_blk_req *req,
			 enum pvblk_op op, u32 type, struct iov_iter *out_it,
			 unsigned int out, unsigned int in,
			 const struct vhost_blk_chain *c)
{
	struct virtio_blk_discard_write_zeroes seg;
	struct pvblk_req *preq = &req->preq;
	struct iov_iter in_it;
	int ret = 0;

	preq->op = op;
	if (op == PVBLK_OP_DISCARD || op == PVBLK_OP_WRITE_ZEROES) {
		if (!copy_from_iter_full(&seg, sizeof(seg), out_it))
			return VIRTIO_BLK_S_IOERR;
		preq->sector = le64_to_cpu(seg.sector);
		preq->nr_sectors = le32_to_cpu(seg.num_sectors);
		return vhost_blk_check_dwz(type, le32_to_cpu(seg.flags),
					   &preq->flags);
	}
	if (op == PVBLK_OP_WRITE) {
		ret = pvblk_req_pin_user(preq, out_it, VHOST_BLK_MAX_PAGES);
	} else if (op != PVBLK_OP_FLUSH) {
		/* Read data; of a GET_ID buffer only the serial's bytes. */
		iov_iter_init(&in_it, ITER_DEST, bvq->vq.iov + out, in,
			      c->in_bytes);
		iov_iter_truncate(&in_it, op == PVBLK_OP_READ ?
				  c->in_bytes - 1 : VHOST_BLK_SERIAL_BYTES);
		req->ok_len = iov_iter_count(&in_it) + 1;
		ret = pvblk_req_pin_user(preq, &in_it, VHOST_BLK_MAX_PAGES);
	}
	if (ret) {
		pr_debug_ratelimited("vq %u: cannot pin request data: %d\n",
				     bvq->pq->index, ret);
		return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/*
 * Turn one chain into request @req of @batch, pre-failed when it cannot
 * be decoded.  Return the chain's size for the byte weight.
 */
static size_t vhost_blk_handle_chain(struct vhost_blk_vq *bvq,
				     struct pvblk_batch *batch,
				     struct vhost_blk_req *req, u16 head,
				     unsigned int out, unsigned int in,
				     unsigned int log_num)
{
	struct vhost_virtqueue *vq = &bvq->vq;
	struct virtio_blk_outhdr hdr = {};
	struct vhost_blk_chain c;
	struct iov_iter out_it;
	enum pvblk_op op;
	u32 type;
	u8 status;

	vhost_blk_measure(vq->iov, out, in, &c);
	req->bvq = bvq;
	req->head = head;
	req->status = c.status;
	req->in_len = c.in_bytes;
	req->ok_len = 1;

	/* Copy the header once; only the copy is looked at. */
	iov_iter_init(&out_it, ITER_SOURCE, vq->iov, out, c.out_bytes);
	if (vhost_blk_save_log(req, vq->log, log_num) ||
	    (c.out_bytes >= sizeof(hdr) &&
	     !copy_from_iter_full(&hdr, sizeof(hdr), &out_it)))
		status = VIRTIO_BLK_S_IOERR;
	else
		status = vhost_blk_check(vhost32_to_cpu(vq, hdr.type), &c,
					 vq->acked_features, &op);
	type = vhost32_to_cpu(vq, hdr.type);
	req->preq.sector = vhost64_to_cpu(vq, hdr.sector);
	if (status == VIRTIO_BLK_S_OK)
		status = vhost_blk_fill(bvq, req, op, type, &out_it, out, in,
					&c);
	if (status == VIRTIO_BLK_S_OK) {
		pvblk_batch_add(batch, &req->preq);
	} else {
		if (status == VHOST_BLK_S_NONE)
			pr_warn_ratelimited("vq %u: head %u has no status byte\n",
					    bvq->pq->index, head);
		else
			pr_debug_ratelimited("vq %u: head %u type %u: status %u\n",
					     bvq->pq->index, head, type,
					     status);
		pvblk_batch_fail(batch, &req->preq,
				 status == VIRTIO_BLK_S_UNSUPP ?
				 BLK_STS_NOTSUPP : BLK_STS_IOERR);
	}
	return c.out_bytes + c.in_bytes;
}

/*
 * Busy polling (VHOST_SET_VRING_BUSYLOOP_TIMEOUT, handled by vhost itself:
 * vq->busyloop_timeout, in units of 1024 ns as vhost-net counts it; 0 is
 * off).  The worker keeps the CPU and watches the avail ring and the
 * core's completions of this queue, answering those as they come, until
 * the guest queued a chain or the timeout passed.  It polls only a CPU that
 * would otherwise idle: it gives up as soon as another task is runnable
 * there (the guest's own thread on a shared CPU, a softirq thread with the
 * device's completion) or the scheduler wants the CPU, as KVM's halt
 * polling does, and when a signal is pending (the owner is dying).  Other
 * virtqueues sharing the worker wait at most the timeout; the weight of vhost_blk_handle_vq()
 * bounds how long polling that finds work keeps the worker.
 */
static unsigned long vhost_blk_busy_clock(void)
{
	return local_clock() >> 10;
}

/* Return true when the guest queued a chain.  vq.mutex held. */
static bool vhost_blk_busy_poll(struct vhost_blk_vq *bvq)
{
	struct vhost_virtqueue *vq = &bvq->vq;
	u32 timeout = READ_ONCE(vq->busyloop_timeout);
	unsigned long end;

	if (!timeout)
		return false;
	end = vhost_blk_busy_clock() + timeout;
	for (;;) {
		if (pvblk_queue_drain_pending(bvq->pq))
			pvblk_queue_drain(bvq->pq, VHOST_BLK_DONE_BUDGET);
		/* A throttled queue waits for requests, not for chains. */
		if (!bvq->throttled && !vhost_vq_avail_empty(vq->dev, vq))
			return true;
		if (need_resched() || !single_task_running() ||
		    signal_pending(current) ||
		    time_after(vhost_blk_busy_clock(), end))
			return false;
		cpu_relax();
	}
}

/*
 * The kick loop of one virtqueue; vq.mutex held, backend attached.  When
 * the ring runs empty, poll it for a while if asked to (above), then ask
 * for a kick and sleep.
 */
static void vhost_blk_handle_vq(struct vhost_blk_vq *bvq)
{
	struct vhost_virtqueue *vq = &bvq->vq;
	struct vhost_blk *blk = bvq->blk;
	struct pvblk_batch batch;
	unsigned int out, in, log_num;
	struct pvblk_req *preq;
	int head, pkts = 0;
	size_t bytes = 0;
	bool empty;

	if (bvq->broken)
		return;

	vhost_disable_notify(&blk->dev, vq);
again:
	empty = false;
	pvblk_batch_start(&batch, bvq->pq);
	for (;;) {
		/* Always collect the log: LOG_ALL may be acked mid-flight. */
		head = vhost_get_vq_desc(vq, vq->iov, ARRAY_SIZE(vq->iov),
					 &out, &in, vq->log, &log_num);
		if (unlikely(head < 0)) {
			bvq->broken = true;
			vq_err(vq, "vhost-blk: bad descriptor chain: %d\n",
			       head);
			pr_warn_ratelimited("vq %u: bad descriptor chain (%d), queue stopped\n",
					    bvq->pq->index, head);
			break;
		}
		if (head == vq->num) {
			empty = true;
			break;
		}
		/* Bounded in flight: the chain waits for a free request. */
		preq = pvblk_req_get(bvq->pq);
		if (!preq) {
			vhost_discard_vq_desc(vq, 1);
			bvq->throttled = true;
			break;
		}
		bytes += vhost_blk_handle_chain(bvq, &batch,
						container_of(preq,
							     struct vhost_blk_req,
							     preq),
						head, out, in, log_num);
		if (vhost_exceeds_weight(vq, ++pkts,
					 min_t(size_t, bytes, INT_MAX)))
			break;
	}
	/* Submitted before polling: polling waits for their completions. */
	pvblk_batch_finish(&batch);
	if (!empty)
		return;
	if (vhost_blk_busy_poll(bvq))
		goto again;
	if (unlikely(vhost_enable_notify(&blk->dev, vq))) {
		vhost_disable_notify(&blk->dev, vq);
		goto again;
	}
}

static void vhost_blk_handle_kick(struct vhost_work *work)
{
	struct vhost_virtqueue *vq = container_of(work, struct vhost_virtqueue,
						  poll.work);

	guard(mutex)(&vq->mutex);
	if (vhost_vq_get_backend(vq))
		vhost_blk_handle_vq(container_of(vq, struct vhost_blk_vq, vq));
}

/* ------------------------------------------------------------------ */
/* Backend changes and teardown                                       */

/* Stop the kick handlers of every virtqueue; dev.mutex held. */
static void vhost_blk_stop_vqs(struct vhost_blk *blk)
{
	int i;

	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_virtqueue *vq = &blk->vqs[i].vq;

		guard(mutex)(&vq->mutex);
		vhost_vq_set_backend(vq, NULL);
	}
}

/*
 * Serve @bvq if a backend is attached and userspace finished setting the
 * ring up (addresses valid, kick fd installed).  Rings may be set up before
 * or after VHOST_BLK_SET_BACKEND; once a ring is served its size and base
 * are fixed (vhost answers -EBUSY) until the backend is detached or the
 * owner reset.  dev.mutex held.
 */
static int vhost_blk_start_vq(struct vhost_blk_vq *bvq)
{
	struct vhost_virtqueue *vq = &bvq->vq;
	int ret = 0;

	guard(mutex)(&vq->mutex);
	if (bvq->blk->has_backend && !vhost_vq_get_backend(vq) && vq->kick &&
	    vhost_vq_is_setup(vq)) {
		vhost_vq_set_backend(vq, bvq);
		ret = vhost_vq_init_access(vq);
		if (ret)
			vhost_vq_set_backend(vq, NULL);
		else	/* Pick up what the guest queued while we were off. */
			vhost_poll_queue(&vq->poll);
		bvq->broken = false;
		bvq->throttled = false;
	}
	return ret;
}

static int vhost_blk_start_vqs(struct vhost_blk *blk)
{
	int i, ret;

	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		ret = vhost_blk_start_vq(&blk->vqs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Finish every request in flight; dev.mutex held, virtqueues stopped.  The
 * completions run on the workers; whatever a dead worker left behind is
 * finished here, in the caller's context.
 */
static void vhost_blk_drain(struct vhost_blk *blk)
{
	int i;

	vhost_dev_flush(&blk->dev);
	pvblk_dev_drain(blk->pdev);
	vhost_dev_flush(&blk->dev);
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_blk_vq *bvq = &blk->vqs[i];

		flush_work(&bvq->orphan_work);
		vhost_blk_finish(bvq, 0);
		WARN_ON_ONCE(atomic_read(&bvq->pq->inflight));
	}
}

/* Detach the backend (NULL) or replace it; dev.mutex held. */
static int vhost_blk_switch_backend(struct vhost_blk *blk,
				    struct pvblk_backend *be)
{
	int ret;

	vhost_blk_stop_vqs(blk);
	vhost_blk_drain(blk);
	pvblk_dev_set_backend(blk->pdev, be);
	blk->has_backend = !!be;
	if (!be)
		return 0;

	ret = vhost_blk_start_vqs(blk);
	if (ret) {
		vhost_blk_stop_vqs(blk);
		vhost_blk_drain(blk);
		pvblk_dev_set_backend(blk->pdev, NULL);
		blk->has_backend = false;
	}
	return ret;
}

static long vhost_blk_set_backend(struct vhost_blk *blk,
				  struct vhost_vring_file __user *argp)
{
	struct pvblk_backend *be = NULL;
	struct vhost_vring_file b;
	long ret;

	if (copy_from_user(&b, argp, sizeof(b)))
		return -EFAULT;
	if (b.index != 0)
		return -EINVAL;

	guard(mutex)(&blk->dev.mutex);
	ret = vhost_dev_check_owner(&blk->dev);
	if (ret)
		return ret;
	if (b.fd != -1) {
		CLASS(fd, f)(b.fd);

		if (fd_empty(f))
			return -EBADF;
		be = pvblk_backend_open_file(fd_file(f),
					     !(fd_file(f)->f_mode & FMODE_WRITE),
					     blk);
		if (IS_ERR(be))
			return PTR_ERR(be);
	}
	return vhost_blk_switch_backend(blk, be);
}

static long vhost_blk_reset_owner(struct vhost_blk *blk)
{
	struct vhost_iotlb *umem;
	long ret;

	guard(mutex)(&blk->dev.mutex);
	ret = vhost_dev_check_owner(&blk->dev);
	if (ret)
		return ret;
	umem = vhost_dev_reset_owner_prepare();
	if (!umem)
		return -ENOMEM;
	vhost_blk_switch_backend(blk, NULL);
	vhost_dev_stop(&blk->dev);
	vhost_dev_reset_owner(&blk->dev, umem);
	return 0;
}

/* ------------------------------------------------------------------ */
/* ioctls                                                             */

/* What the backend the core has lets us offer; dev.mutex held. */
static u64 vhost_blk_offered(struct vhost_blk *blk)
{
	struct pvblk_backend_info info;
	u64 f = VHOST_BLK_FEATURES_BASE;

	if (pvblk_dev_info(blk->pdev, &info))
		return f;
	if (info.read_only)
		f |= BIT_ULL(VIRTIO_BLK_F_RO);
	if (info.max_discard_sectors && !info.read_only)
		f |= BIT_ULL(VIRTIO_BLK_F_DISCARD);
	if (info.max_write_zeroes_sectors && !info.read_only)
		f |= BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES);
	return f;
}

static long vhost_blk_set_features(struct vhost_blk *blk, u64 features)
{
	int i;

	if (features & ~VHOST_BLK_FEATURES_ALL)
		return -EOPNOTSUPP;

	guard(mutex)(&blk->dev.mutex);
	if ((features & BIT_ULL(VHOST_F_LOG_ALL)) &&
	    !vhost_log_access_ok(&blk->dev))
		return -EFAULT;
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_virtqueue *vq = &blk->vqs[i].vq;

		guard(mutex)(&vq->mutex);
		vq->acked_features = features;
	}
	return 0;
}

static long vhost_blk_set_serial(struct vhost_blk *blk,
				 struct vhost_blk_serial __user *argp)
{
	struct vhost_blk_serial s;

	if (copy_from_user(&s, argp, sizeof(s)))
		return -EFAULT;
	if (s.len > VHOST_BLK_SERIAL_BYTES || s.reserved)
		return -EINVAL;
	pvblk_dev_set_serial(blk->pdev, (const char *)s.id, s.len);
	return 0;
}

static long vhost_blk_set_qos(struct vhost_blk *blk,
			      struct vhost_blk_qos __user *argp)
{
	struct vhost_blk_qos u;
	struct pvblk_qos qos = {};

	if (copy_from_user(&u, argp, sizeof(u)))
		return -EFAULT;
	if (u.flags || u.reserved[0] || u.reserved[1])
		return -EINVAL;
	qos.iops[0] = u.read_iops;
	qos.iops[1] = u.write_iops;
	qos.bps[0] = u.read_bps;
	qos.bps[1] = u.write_bps;
	qos.burst_ms = u.burst_ms;
	return pvblk_dev_set_qos(blk->pdev, &qos);
}

static long vhost_blk_get_qos(struct vhost_blk *blk,
			      struct vhost_blk_qos __user *argp)
{
	struct vhost_blk_qos u = {};
	struct pvblk_qos qos;

	pvblk_dev_get_qos(blk->pdev, &qos);
	u.read_iops = qos.iops[0];
	u.write_iops = qos.iops[1];
	u.read_bps = qos.bps[0];
	u.write_bps = qos.bps[1];
	u.burst_ms = qos.burst_ms;
	if (copy_to_user(argp, &u, sizeof(u)))
		return -EFAULT;
	return 0;
}

static long vhost_blk_get_config(struct vhost_blk *blk,
				 struct virtio_blk_config __user *argp)
{
	struct pvblk_backend_info i, *info = &i;
	struct virtio_blk_config cfg = {};
	u64 capacity;
	u32 lbs, pbs;

	BUILD_BUG_ON(sizeof(cfg) != VHOST_BLK_CONFIG_SIZE);

	/* A VMM asks again after a resize: serve the disk's size now. */
	pvblk_dev_update_capacity(blk->pdev, &capacity);
	if (pvblk_dev_info(blk->pdev, info))
		return -ENODEV;
	lbs = info->logical_block_size ?: 512;
	pbs = max(info->physical_block_size, lbs);

	cfg.capacity = __cpu_to_virtio64(true, info->capacity);
	cfg.size_max = __cpu_to_virtio32(true, VHOST_BLK_SIZE_MAX);
	cfg.seg_max = __cpu_to_virtio32(true, VHOST_BLK_SEG_MAX);
	cfg.blk_size = __cpu_to_virtio32(true, lbs);
	cfg.physical_block_exp = ilog2(pbs / lbs);
	cfg.alignment_offset = 0;
	cfg.min_io_size = __cpu_to_virtio16(true, 1);
	cfg.opt_io_size = __cpu_to_virtio32(true, 0);
	cfg.num_queues = __cpu_to_virtio16(true, VHOST_BLK_MAX_QUEUES);
	if (!info->read_only && info->max_discard_sectors) {
		cfg.max_discard_sectors =
			__cpu_to_virtio32(true, info->max_discard_sectors);
		cfg.max_discard_seg =
			__cpu_to_virtio32(true, VHOST_BLK_DWZ_SEGS);
		cfg.discard_sector_alignment =
			__cpu_to_virtio32(true, max(info->discard_granularity,
						    lbs) >> SECTOR_SHIFT);
	}
	if (!info->read_only && info->max_write_zeroes_sectors) {
		cfg.max_write_zeroes_sectors =
			__cpu_to_virtio32(true,
					  info->max_write_zeroes_sectors);
		cfg.max_write_zeroes_seg =
			__cpu_to_virtio32(true, VHOST_BLK_DWZ_SEGS);
		cfg.write_zeroes_may_unmap = 1;
	}

	if (copy_to_user(argp, &cfg, sizeof(cfg)))
		return -EFAULT;
	return 0;
}

static long vhost_blk_ioctl(struct file *f, unsigned int ioctl,
			    unsigned long arg)
{
	struct vhost_blk *blk = f->private_data;
	void __user *argp = (void __user *)arg;
	u64 __user *featurep = argp;
	u64 features;
	long ret;

	switch (ioctl) {
	case VHOST_BLK_SET_BACKEND:
		return vhost_blk_set_backend(blk, argp);
	case VHOST_BLK_SET_SERIAL:
		return vhost_blk_set_serial(blk, argp);
	case VHOST_BLK_GET_CONFIG:
		return vhost_blk_get_config(blk, argp);
	case VHOST_BLK_SET_QOS:
		return vhost_blk_set_qos(blk, argp);
	case VHOST_BLK_GET_QOS:
		return vhost_blk_get_qos(blk, argp);
	case VHOST_GET_FEATURES:
		scoped_guard(mutex, &blk->dev.mutex)
			features = vhost_blk_offered(blk);
		if (copy_to_user(featurep, &features, sizeof(features)))
			return -EFAULT;
		return 0;
	case VHOST_SET_FEATURES:
		if (copy_from_user(&features, featurep, sizeof(features)))
			return -EFAULT;
		return vhost_blk_set_features(blk, features);
	case VHOST_RESET_OWNER:
		return vhost_blk_reset_owner(blk);
	case VHOST_NEW_WORKER:
	case VHOST_FREE_WORKER:
	case VHOST_ATTACH_VRING_WORKER:
	case VHOST_GET_VRING_WORKER: {
		guard(mutex)(&blk->dev.mutex);
		return vhost_worker_ioctl(&blk->dev, ioctl, argp);
	}
	}

	guard(mutex)(&blk->dev.mutex);
	ret = vhost_dev_ioctl(&blk->dev, ioctl, argp);
	if (ret == -ENOIOCTLCMD) {
		ret = vhost_vring_ioctl(&blk->dev, ioctl, argp);
		/* A ring may just have become ready to serve. */
		if (!ret)
			vhost_blk_start_vqs(blk);
	} else {
		vhost_dev_flush(&blk->dev);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* open / release                                                     */

static void vhost_blk_put(struct vhost_blk *blk)
{
	if (!refcount_dec_and_test(&blk->ref))
		return;
	vhost_dev_stop(&blk->dev);
	vhost_dev_cleanup(&blk->dev);
	pvblk_dev_destroy(blk->pdev);
	ida_free(&vhost_blk_ida, blk->id);
	kvfree(blk);
}

/* Detach the backend: stop the rings and drain, however long that takes. */
static void vhost_blk_release_work(struct work_struct *work)
{
	struct vhost_blk *blk = container_of(work, struct vhost_blk,
					     release_work);

	scoped_guard(mutex, &blk->dev.mutex)
		vhost_blk_switch_backend(blk, NULL);
	complete(&blk->released);
	vhost_blk_put(blk);
}

static int vhost_blk_open(struct inode *inode, struct file *f)
{
	char name[32];
	struct vhost_blk *blk;
	int i, ret;

	blk = kvzalloc(sizeof(*blk), GFP_KERNEL_ACCOUNT);
	if (!blk)
		return -ENOMEM;

	blk->id = ida_alloc(&vhost_blk_ida, GFP_KERNEL);
	if (blk->id < 0) {
		ret = blk->id;
		goto err_free;
	}
	snprintf(name, sizeof(name), "vhost-blk%d", blk->id);
	blk->pdev = pvblk_dev_create(name, &vhost_blk_ops, blk,
				     VHOST_BLK_MAX_QUEUES, VHOST_BLK_QUEUE_DEPTH,
				     PVBLK_REQ_SIZE(struct vhost_blk_req, preq));
	if (IS_ERR(blk->pdev)) {
		ret = PTR_ERR(blk->pdev);
		goto err_ida;
	}

	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_blk_vq *bvq = &blk->vqs[i];

		bvq->blk = blk;
		bvq->pq = pvblk_dev_queue(blk->pdev, i);
		bvq->pq->priv = bvq;
		bvq->vq.handle_kick = vhost_blk_handle_kick;
		vhost_work_init(&bvq->done_work, vhost_blk_done_work);
		INIT_WORK(&bvq->orphan_work, vhost_blk_orphan_work);
		blk->vq_ptrs[i] = &bvq->vq;
	}
	vhost_dev_init(&blk->dev, blk->vq_ptrs, VHOST_BLK_MAX_QUEUES,
		       UIO_MAXIOV, VHOST_BLK_WEIGHT, VHOST_BLK_BYTE_WEIGHT,
		       true, NULL);

	refcount_set(&blk->ref, 1);
	INIT_WORK(&blk->release_work, vhost_blk_release_work);
	init_completion(&blk->released);
	f->private_data = blk;
	return 0;

err_ida:
	ida_free(&vhost_blk_ida, blk->id);
err_free:
	kvfree(blk);
	return ret;
}

/*
 * A close waits VHOST_BLK_CLOSE_WAIT at most for the I/O in flight (a
 * backend may never answer).  Past that it returns and the release work
 * finishes alone: it frees the instance and closes the backend once the
 * last request has completed.  The guest pages of those requests are
 * pinned, so they stay valid until then whatever the VMM does.
 */
static int vhost_blk_release(struct inode *inode, struct file *f)
{
	struct vhost_blk *blk = f->private_data;

	refcount_inc(&blk->ref);
	queue_work(vhost_blk_release_wq, &blk->release_work);
	if (!wait_for_completion_timeout(&blk->released, VHOST_BLK_CLOSE_WAIT)) {
		int i;

		pr_warn("vhost-blk%d: I/O in flight at close; the disk stays open until it completes\n",
			blk->id);
		/* Late answers would land in rings the VMM moved on from. */
		for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
			guard(mutex)(&blk->vqs[i].vq.mutex);
			WRITE_ONCE(blk->mute, true);
		}
	}
	vhost_blk_put(blk);
	return 0;
}

static const struct file_operations vhost_blk_fops = {
	.owner		= THIS_MODULE,
	.open		= vhost_blk_open,
	.release	= vhost_blk_release,
	.unlocked_ioctl	= vhost_blk_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vhost_blk_misc = {
	.minor	= VHOST_BLK_MINOR,
	.name	= "vhost-blk",
	.fops	= &vhost_blk_fops,
};

int pvblk_vhost_init(void)
{
	int ret;

	vhost_blk_release_wq = alloc_workqueue("pvblk-vhost-release",
					       WQ_UNBOUND, 0);
	if (!vhost_blk_release_wq)
		return -ENOMEM;
	ret = misc_register(&vhost_blk_misc);
	if (ret == -EBUSY) {
		pr_warn("minor %d taken, using a dynamic minor (no autoload)\n",
			VHOST_BLK_MINOR);
		vhost_blk_misc.minor = MISC_DYNAMIC_MINOR;
		ret = misc_register(&vhost_blk_misc);
	}
	if (ret)
		destroy_workqueue(vhost_blk_release_wq);
	return ret;
}

void pvblk_vhost_exit(void)
{
	misc_deregister(&vhost_blk_misc);
	/* Waits for closes still draining I/O that never came back. */
	destroy_workqueue(vhost_blk_release_wq);
}

MODULE_ALIAS_MISCDEV(VHOST_BLK_MINOR);
MODULE_ALIAS("devname:vhost-blk");
