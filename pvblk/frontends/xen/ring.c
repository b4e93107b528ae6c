// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk Xen blkif backend: the ring runtime.
 *
 * One work item per ring does everything on the hot path: it drains the
 * core's completions (ops->complete() writes the responses: the only
 * place that does), then fetches new requests (take one from the core's
 * pool, copy the slot once, validate the copy, map its grants, hand it to
 * the core under one plug, pre-failed if it could not be decoded), pushes
 * the responses and notifies the frontend.  The
 * event channel is bound with late EOI: the EOI is sent when the work has
 * looked at the ring, flagged spurious when the event brought nothing, so
 * a frontend storming events is throttled by Xen instead of hanging dom0.
 */
#include <linux/kernel.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/interrupt.h>
#include <linux/seq_file.h>
#include <xen/events.h>
#include <xen/grant_table.h>
#include <kunit/visibility.h>
#include <trace/events/pvblk.h>
#include "xen_blk.h"

/* Requests fetched per run of the work item before it yields. */
#define PVBLK_XEN_FETCH_BUDGET	64
#define PVBLK_XEN_DRAIN_BUDGET	256
/* Grant operations per hypercall batch (on the stack). */
#define PVBLK_XEN_GNT_BATCH	16

struct workqueue_struct *pvblk_xen_wq;
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_wq);

/* Grant handle of an entry that is not mapped. */
#define PVBLK_XEN_BAD_HANDLE	((u64)~0ULL)

/* ---- grant mapping through the grant table ---- */

static unsigned long gnt_vaddr(struct page *page)
{
	return (unsigned long)pfn_to_kaddr(page_to_pfn(page));
}

static int xen_gnt_map(struct pvblk_xen_ring *ring,
		       struct pvblk_mentry **ents, unsigned int n, bool ro)
{
	struct gnttab_map_grant_ref ops[PVBLK_XEN_GNT_BATCH];
	struct page *pages[PVBLK_XEN_GNT_BATCH];
	struct pvblk_mentry *batch[PVBLK_XEN_GNT_BATCH];
	u32 flags = GNTMAP_host_map | (ro ? GNTMAP_readonly : 0);
	unsigned int i, k, done = 0, mapped = 0;
	int ret = 0, r;

	while (done < n) {
		k = 0;
		for (i = done; i < n && k < PVBLK_XEN_GNT_BATCH; i++) {
			struct pvblk_mentry *e = ents[i];

			e->handle = PVBLK_XEN_BAD_HANDLE;
			e->page = NULL;
			if (gnttab_page_cache_get(&ring->page_cache, &pages[k])) {
				e->err = -ENOMEM;
				continue;
			}
			gnttab_set_map_op(&ops[k], gnt_vaddr(pages[k]), flags,
					  (grant_ref_t)e->key, ring->domid);
			batch[k++] = e;
		}
		done = i;
		if (!k)
			continue;
		r = gnttab_map_refs(ops, NULL, pages, k);
		if (r && !ret)
			ret = r;
		/* Every element's status is checked, whatever r says. */
		for (i = 0; i < k; i++) {
			struct pvblk_mentry *e = batch[i];

			if (ops[i].status != GNTST_okay) {
				pr_debug_ratelimited("pvblk-xen: map gref %llu from dom%u: %d\n",
						     e->key, ring->domid,
						     ops[i].status);
				gnttab_page_cache_put(&ring->page_cache,
						      &pages[i], 1);
				e->err = -EFAULT;
				continue;
			}
			e->page = pages[i];
			e->handle = ops[i].handle;
			e->err = 0;
			mapped++;
		}
	}
	trace_pvblk_xen_grant_map(ring->q, mapped, n - mapped);
	return ret;
}

static void xen_gnt_unmap(struct pvblk_xen_ring *ring,
			  struct pvblk_mentry **ents, unsigned int n)
{
	struct gnttab_unmap_grant_ref ops[PVBLK_XEN_GNT_BATCH];
	struct page *pages[PVBLK_XEN_GNT_BATCH];
	unsigned int i, k, done = 0, good, unmapped = 0, failed = 0;
	int r;

	while (done < n) {
		k = 0;
		for (i = done; i < n && k < PVBLK_XEN_GNT_BATCH; i++) {
			struct pvblk_mentry *e = ents[i];

			if (!e->page || e->handle == PVBLK_XEN_BAD_HANDLE)
				continue;
			gnttab_set_unmap_op(&ops[k], gnt_vaddr(e->page),
					    GNTMAP_host_map,
					    (grant_handle_t)e->handle);
			pages[k++] = e->page;
			e->page = NULL;
			e->handle = PVBLK_XEN_BAD_HANDLE;
		}
		done = i;
		if (!k)
			continue;
		r = gnttab_unmap_refs(ops, NULL, pages, k);
		for (i = 0, good = 0; i < k; i++) {
			if (!r && ops[i].status == GNTST_okay) {
				pages[good++] = pages[i];
				continue;
			}
			/* Never reuse a page whose mapping may remain. */
			pr_warn_ratelimited("pvblk-xen: unmap for dom%u failed (%d/%d), page leaked\n",
					    ring->domid, r, ops[i].status);
		}
		gnttab_page_cache_put(&ring->page_cache, pages, good);
		unmapped += good;
		failed += k - good;
	}
	if (unmapped || failed)
		trace_pvblk_xen_grant_unmap(ring->q, unmapped, failed);
}

const struct pvblk_xen_gnt_ops pvblk_xen_gnttab_ops = {
	.map = xen_gnt_map,
	.unmap = xen_gnt_unmap,
	.eoi = xen_irq_lateeoi,
	.notify = notify_remote_via_irq,
	.unbind = unbind_from_irqhandler,
};

/* Persistent grants: the mapping cache maps through the ring's gops. */
static int mcache_map(void *priv, struct pvblk_mentry **ents, unsigned int n)
{
	struct pvblk_xen_ring *ring = priv;

	return ring->gops->map(ring, ents, n, false);
}

/* Evictions, purges, over-cap transients: a held page is parked. */
static void mcache_unmap(void *priv, struct pvblk_mentry **ents,
			 unsigned int n)
{
	pvblk_xen_gnt_unmap(priv, ents, n, NULL);
}

const struct pvblk_mcache_ops pvblk_xen_mcache_ops = {
	.map = mcache_map,
	.unmap = mcache_unmap,
};
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_mcache_ops);

/* ---- responses ---- */

/*
 * Slot @idx of the shared ring.  The two ABIs share the ring header and
 * the back ring's indexes; only the size of a slot differs.
 */
static void *ring_slot(struct pvblk_xen_ring *ring, RING_IDX idx)
{
	return (u8 *)ring->rings.sring->ring +
		(idx & (ring->nr_ents - 1)) * ring->slot_size;
}

static void make_response(struct pvblk_xen_ring *ring, u64 id, u8 operation,
			  int status)
{
	/* Released early (pvblk_xen_ring_release()): nobody to answer. */
	if (unlikely(!ring->sring))
		return;
	pvblk_xen_write_rsp(ring->proto,
			    ring_slot(ring, ring->rings.rsp_prod_pvt), id,
			    operation, status);
	ring->rings.rsp_prod_pvt++;
	ring->rsp_pending = true;
}

static void push_responses(struct pvblk_xen_ring *ring)
{
	int notify, irq = READ_ONCE(ring->irq);

	if (!ring->rsp_pending || unlikely(!ring->sring))
		return;
	ring->rsp_pending = false;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&ring->rings, notify);
	if (notify && irq > 0)
		ring->gops->notify(irq);
}

/* Queue @work unless the ring was stopped for good.  Any context. */
static void ring_kick(struct pvblk_xen_ring *ring)
{
	unsigned long flags;

	spin_lock_irqsave(&ring->lock, flags);
	if (!ring->stopped)
		queue_work(pvblk_xen_wq, &ring->work);
	spin_unlock_irqrestore(&ring->lock, flags);
}

/* ---- unmapping grant pages that may still be referenced ---- */

/*
 * The page of a finished request may still be referenced: network-backed
 * storage can hold it past the end of the bio (an skb queued for
 * retransmission, a zero-copy send).  Unmapped, it would go back to the
 * page cache and to the next mapping while still read or written, and
 * the guest, once answered, would reuse a grant the holder still reads.
 * So a grant is unmapped only once nobody but us holds its page
 * (page_count() 1).  The ring does not wait for that: the held pages are
 * parked (struct pvblk_xen_parked) together with their request's
 * response, the ring serves on, and its work item retries them
 * (pvblk_xen_unpark()), kicked by @unpark_work with a backoff, the idea
 * of gnttab_unmap_refs_async() in xen-blkback.  Only teardown waits.
 */

/* Retry delays of parked unmaps: PVBLK_XEN_PARK_MS x (retries + 1). */
#define PVBLK_XEN_PARK_MS	5U
#define PVBLK_XEN_PARK_MAX_MS	100U
/* Entries unmapped per gops->unmap() call from a parked set (stack). */
#define PVBLK_XEN_PARK_BATCH	8

/**
 * struct pvblk_xen_parked - grant mappings whose pages were still held.
 * @node: in ring->parked.
 * @since: when they were first found held.
 * @respond: write @rsp once every one is unmapped.
 * @rsp: the response of their request.
 * @n: entries in @held.
 * @held: the mappings (what gops->unmap() needs of an entry).
 */
struct pvblk_xen_parked {
	struct list_head node;
	ktime_t since;
	bool respond;
	struct pvblk_xen_rsp rsp;
	unsigned int n;
	struct {
		struct page *page;
		u64 handle;
		u64 key;
	} held[] __counted_by(n);
};

static bool page_held(const struct page *page)
{
	return page && page_count(page) > 1;
}

/* Kick the ring's work in @ms, unless it was stopped for good. */
static void unpark_later(struct pvblk_xen_ring *ring, unsigned int ms)
{
	unsigned long flags;

	spin_lock_irqsave(&ring->lock, flags);
	/* No workqueue: the KUnit suite off Xen retries by hand. */
	if (!ring->stopped && pvblk_xen_wq)
		queue_delayed_work(pvblk_xen_wq, &ring->unpark_work,
				   msecs_to_jiffies(ms));
	spin_unlock_irqrestore(&ring->lock, flags);
}

static void unpark_work(struct work_struct *work)
{
	struct pvblk_xen_ring *ring = container_of(to_delayed_work(work),
						   struct pvblk_xen_ring,
						   unpark_work);

	ring_kick(ring);
}

/* Wait in place until none of @n entries' pages is held.  Sleeps. */
static void wait_unheld(struct pvblk_mentry **ents, unsigned int n)
{
	unsigned int i, delay = 100;	/* microseconds */

	for (i = 0; i < n; i++) {
		while (page_held(ents[i]->page)) {
			fsleep(delay);
			delay = min(2 * delay, 100000U);
		}
	}
}

static void count_wait(struct pvblk_xen_ring *ring, ktime_t since)
{
	atomic_long_add(ktime_us_delta(ktime_get(), since),
			&ring->unmap_wait_us);
}

/**
 * pvblk_xen_gnt_unmap() - unmap @n mapped entries, parking held ones.
 * @ring: the ring (ring->gops unmaps).
 * @ents: the entries; reordered, and the pages of those parked are
 *	cleared from them (the caller owns none of them afterwards).
 * @n: how many.
 * @rsp: the response to write once all are unmapped, or NULL.
 *
 * Entries whose page nobody else holds are unmapped now.  The others are
 * parked for pvblk_xen_unpark() (counted once in ring->unmap_waits), with
 * @rsp, which is then written only after them.  Without memory for that,
 * it waits for them in place, as it did before parking existed.  Every
 * unmap (transient, indirect, persistent) goes through here.  Process
 * context.
 *
 * Return: true if @rsp was parked: the caller must not answer.
 */
bool pvblk_xen_gnt_unmap(struct pvblk_xen_ring *ring,
			 struct pvblk_mentry **ents, unsigned int n,
			 const struct pvblk_xen_rsp *rsp)
{
	struct pvblk_xen_parked *p;
	unsigned int i, nr_free = 0, nr_held;
	ktime_t now;

	might_sleep();
	/*
	 * Look at each page once: free ones to the front, held ones to the
	 * back.  The holder drops its references meanwhile, so a second
	 * look could count differently (and leave parked slots unset).
	 */
	for (i = 0; i < n; i++) {
		if (page_held(ents[i]->page))
			continue;
		swap(ents[nr_free], ents[i]);
		nr_free++;
	}
	nr_held = n - nr_free;
	if (!nr_held) {
		if (n)
			ring->gops->unmap(ring, ents, n);
		return false;
	}
	now = ktime_get();
	atomic_long_inc(&ring->unmap_waits);
	p = kmalloc(struct_size(p, held, nr_held), GFP_NOIO | __GFP_NOWARN);
	if (unlikely(!p)) {
		wait_unheld(ents + nr_free, nr_held);
		count_wait(ring, now);
		ring->gops->unmap(ring, ents, n);
		return false;
	}
	p->n = nr_held;
	p->since = now;
	p->respond = !!rsp;
	if (rsp)
		p->rsp = *rsp;
	for (i = 0; i < nr_held; i++) {
		struct pvblk_mentry *e = ents[nr_free + i];

		p->held[i].page = e->page;
		p->held[i].handle = e->handle;
		p->held[i].key = e->key;
		e->page = NULL;
	}
	if (nr_free)
		ring->gops->unmap(ring, ents, nr_free);

	spin_lock(&ring->park_lock);
	list_add_tail(&p->node, &ring->parked);
	WRITE_ONCE(ring->nr_parked, ring->nr_parked + 1);
	if (rsp)
		WRITE_ONCE(ring->nr_parked_rsp, ring->nr_parked_rsp + 1);
	ring->park_age = 0;
	spin_unlock(&ring->park_lock);
	unpark_later(ring, PVBLK_XEN_PARK_MS);
	return !!rsp;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_gnt_unmap);

static bool parked_held(const struct pvblk_xen_parked *p)
{
	unsigned int i;

	for (i = 0; i < p->n; i++)
		if (page_held(p->held[i].page))
			return true;
	return false;
}

/* Unmap every mapping of @p (none held any more) and free it. */
static void parked_unmap(struct pvblk_xen_ring *ring,
			 struct pvblk_xen_parked *p)
{
	struct pvblk_mentry ents[PVBLK_XEN_PARK_BATCH];
	struct pvblk_mentry *batch[PVBLK_XEN_PARK_BATCH];
	unsigned int i, k;

	for (i = 0; i < p->n; i += k) {
		for (k = 0; k < PVBLK_XEN_PARK_BATCH && i + k < p->n; k++) {
			memset(&ents[k], 0, sizeof(ents[k]));
			ents[k].page = p->held[i + k].page;
			ents[k].handle = p->held[i + k].handle;
			ents[k].key = p->held[i + k].key;
			batch[k] = &ents[k];
		}
		ring->gops->unmap(ring, batch, k);
	}
	count_wait(ring, p->since);
	if (p->respond)
		make_response(ring, p->rsp.id, p->rsp.operation, p->rsp.status);
	kfree(p);
}

/**
 * pvblk_xen_unpark() - unmap the parked mappings no longer held.
 * @ring: the ring.
 * @wait: wait for every parked page to be free (teardown: the ring's
 *	work is cancelled for good, nothing else to serve); else retry the
 *	ones still held later (ring_kick() after a backoff).
 *
 * Writes the parked responses whose grants are all unmapped; the caller
 * pushes them.  Only the single writer of responses may call it: the
 * ring's work item, or whoever stopped it.  Process context, sleeps.
 */
void pvblk_xen_unpark(struct pvblk_xen_ring *ring, bool wait)
{
	struct pvblk_xen_parked *p, *tmp;
	unsigned int done = 0, done_rsp = 0, delay = 100;
	LIST_HEAD(list);

	spin_lock(&ring->park_lock);
	list_splice_init(&ring->parked, &list);
	spin_unlock(&ring->park_lock);
	if (list_empty(&list))
		return;

	list_for_each_entry_safe(p, tmp, &list, node) {
		while (wait && parked_held(p)) {
			fsleep(delay);
			delay = min(2 * delay, 100000U);
		}
		if (parked_held(p))
			continue;
		list_del(&p->node);
		done_rsp += p->respond;
		parked_unmap(ring, p);
		done++;
	}

	spin_lock(&ring->park_lock);
	list_splice(&list, &ring->parked);	/* still held, oldest first */
	WRITE_ONCE(ring->nr_parked, ring->nr_parked - done);
	WRITE_ONCE(ring->nr_parked_rsp, ring->nr_parked_rsp - done_rsp);
	if (done)
		ring->park_age = 0;
	else if (ring->park_age < PVBLK_XEN_PARK_MAX_MS / PVBLK_XEN_PARK_MS)
		ring->park_age++;
	delay = PVBLK_XEN_PARK_MS * (ring->park_age + 1);
	spin_unlock(&ring->park_lock);
	if (READ_ONCE(ring->nr_parked))
		unpark_later(ring, delay);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_unpark);

/* ---- requests of the core's pool ---- */

/* Bytes of a request with the per-segment arrays of @max_segs segments. */
size_t pvblk_xen_req_size(unsigned int max_segs)
{
	return PVBLK_REQ_SIZE(struct pvblk_xen_req, preq) +
		max_segs * (sizeof(struct pvblk_mentry *) +
			    sizeof(struct pvblk_mentry) +
			    sizeof(struct pvblk_seg) +
			    sizeof(struct blkif_request_segment) + sizeof(u64));
}

/* A request from the ring's queue, its arrays laid out in its tail. */
static struct pvblk_xen_req *req_get(struct pvblk_xen_ring *ring)
{
	struct pvblk_req *preq = pvblk_req_get(ring->q);
	unsigned int m = ring->max_segs;
	struct pvblk_xen_req *xr;

	if (!preq)
		return NULL;
	xr = container_of(preq, struct pvblk_xen_req, preq);
	xr->ring = ring;
	xr->tents = (void *)xr->mem;
	xr->ents = (void *)(xr->tents + m);
	xr->segs = (void *)(xr->ents + m);
	xr->keys = (void *)(xr->segs + m);
	xr->isegs = (void *)(xr->keys + m);
	return xr;
}

/* ---- the core's transport callbacks ---- */

static void xen_complete(struct pvblk_req *preq)
{
	struct pvblk_xen_req *xr = container_of(preq, struct pvblk_xen_req,
						preq);
	struct pvblk_xen_ring *ring = xr->ring;
	int status = pvblk_xen_rsp_status(preq->status);

	if (pvblk_xen_release(xr, status))
		return;		/* answered by pvblk_xen_unpark() */
	if (READ_ONCE(ring->nr_parked_rsp))
		atomic_long_inc(&ring->answered_while_parked);
	make_response(ring, xr->id, xr->operation, status);
}

static void xen_notify(struct pvblk_queue *q)
{
	if (q->priv)
		push_responses(q->priv);
}

static void xen_queue_work(struct pvblk_queue *q)
{
	if (q->priv)
		ring_kick(q->priv);
}

const struct pvblk_transport_ops pvblk_xen_transport_ops = {
	.name = "xen",
	.complete = xen_complete,
	.notify = xen_notify,
	.queue_work = xen_queue_work,
	.show = pvblk_xen_show,
};
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_transport_ops);

/* ---- fetching requests ---- */

/* Return true when requests are left for another run. */
static bool fetch_requests(struct pvblk_xen_ring *ring)
{
	struct blkif_back_ring *br = &ring->rings;
	union pvblk_xen_raw_req raw;
	struct pvblk_xen_breq r;
	struct pvblk_batch batch;
	unsigned int budget = PVBLK_XEN_FETCH_BUDGET;
	RING_IDX rc, rp;
	bool more = false;
	int more_to_do;
	int st;

	rc = br->req_cons;
	rp = READ_ONCE(br->sring->req_prod);
	virt_rmb(); /* see requests up to rp */

	if (pvblk_xen_prod_overflow(rp, br->rsp_prod_pvt, ring->nr_ents)) {
		pr_warn_ratelimited("pvblk-xen: dom%u ring %u: req_prod %u is more than a ring ahead of %u; ring disconnected\n",
				    ring->domid, ring->index, rp,
				    br->rsp_prod_pvt);
		ring->broken = true;
		return false;
	}

	pvblk_batch_start(&batch, ring->q);
	while (rc != rp) {
		struct pvblk_xen_req *xr;

		if (RING_REQUEST_CONS_OVERFLOW(br, rc))
			break;
		if (!budget--) {
			more = true;
			break;
		}
		xr = req_get(ring);
		if (!xr)
			break;	/* completions will re-run the work */
		/* The only read of guest ring memory for this request. */
		memcpy(&raw, ring_slot(ring, rc), ring->req_size);
		br->req_cons = ++rc;
		ring->found = true;

		pvblk_xen_decode_req(ring->proto, &raw, &r);
		st = pvblk_xen_prepare(ring, xr, &r);
		if (st) {
			pr_debug_ratelimited("pvblk-xen: dom%u ring %u: request op %u answered %d\n",
					     ring->domid, ring->index,
					     r.operation, st);
			/* answered back by pvblk_xen_rsp_status() */
			pvblk_batch_fail(&batch, &xr->preq,
					 st == BLKIF_RSP_EOPNOTSUPP ?
					 BLK_STS_NOTSUPP : BLK_STS_IOERR);
			continue;
		}
		pvblk_batch_add(&batch, &xr->preq);
	}
	pvblk_batch_finish(&batch);

	if (!more && rc == rp && !ring->broken) {
		RING_FINAL_CHECK_FOR_REQUESTS(br, more_to_do);
		more = more_to_do;
	}
	return more;
}

static void ring_work(struct work_struct *work)
{
	struct pvblk_xen_ring *ring = container_of(work, struct pvblk_xen_ring,
						   work);
	bool eoi = atomic_xchg(&ring->irq_pending, 0);
	bool more = false;

	if (ring->q)
		pvblk_queue_drain(ring->q, PVBLK_XEN_DRAIN_BUDGET);
	if (READ_ONCE(ring->nr_parked))
		pvblk_xen_unpark(ring, false);
	if (READ_ONCE(ring->active) && !ring->broken)
		more = fetch_requests(ring);
	push_responses(ring);

	/*
	 * A ring found hostile is never EOIed again: its event channel stays
	 * masked until the frontend disconnects.
	 */
	if (eoi && !ring->broken) {
		int irq = READ_ONCE(ring->irq);

		if (irq > 0) {
			/* Nothing new since the event: tell Xen so. */
			ring->gops->eoi(irq, ring->found ?
					0 : XEN_EOI_FLAG_SPURIOUS);
			ring->found = false;
		} else {
			/*
			 * Xen marks the port pending at bind time: the event
			 * can arrive before the binder stored the irq.  Keep
			 * the EOI owed; pvblk_xen_ring_start() re-runs us.
			 */
			atomic_set(&ring->irq_pending, 1);
		}
	}
	if (more)
		ring_kick(ring);
}

static irqreturn_t ring_interrupt(int irq, void *dev_id)
{
	struct pvblk_xen_ring *ring = dev_id;

	atomic_set(&ring->irq_pending, 1);
	ring_kick(ring);
	return IRQ_HANDLED;
}

static void purge_work(struct work_struct *work)
{
	struct pvblk_xen_ring *ring = container_of(to_delayed_work(work),
						   struct pvblk_xen_ring,
						   purge_work);

	pvblk_mcache_purge(ring->mcache, pvblk_xen_pgrant_idle_ms);
	queue_delayed_work(pvblk_xen_wq, &ring->purge_work,
			   msecs_to_jiffies(pvblk_xen_pgrant_idle_ms));
}

/* ---- life cycle ---- */

void pvblk_xen_ring_init(struct pvblk_xen_ring *ring,
			 struct xenbus_device *xdev, unsigned int index)
{
	memset(ring, 0, sizeof(*ring));
	ring->xdev = xdev;
	ring->domid = xdev->otherend_id;
	ring->index = index;
	ring->gops = &pvblk_xen_gnttab_ops;
	INIT_WORK(&ring->work, ring_work);
	spin_lock_init(&ring->lock);
	INIT_DELAYED_WORK(&ring->purge_work, purge_work);
	spin_lock_init(&ring->park_lock);
	INIT_LIST_HEAD(&ring->parked);
	INIT_DELAYED_WORK(&ring->unpark_work, unpark_work);
	gnttab_page_cache_init(&ring->page_cache);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_ring_init);

/*
 * pvblk_xen_ring_map() - map the shared ring of @ring->proto and remember
 * the event channel; nothing is served before pvblk_xen_ring_start().
 */
int pvblk_xen_ring_map(struct pvblk_xen_ring *ring, grant_ref_t *grefs,
		       unsigned int nr_grefs, unsigned int evtchn)
{
	struct xenbus_device *xdev = ring->xdev;
	size_t size = (size_t)XEN_PAGE_SIZE * nr_grefs;
	void *addr;
	int err;

	err = xenbus_map_ring_valloc(xdev, grefs, nr_grefs, &addr);
	if (err < 0)
		return err;
	ring->sring = addr;
	/* The native back ring's indexes serve both ABIs. */
	BACK_RING_INIT(&ring->rings, (struct blkif_sring *)addr, size);
	ring->nr_ents = RING_SIZE(&ring->rings);
	if (ring->proto == PVBLK_XEN_PROTO_X86_32) {
		ring->nr_ents = __CONST_RING_SIZE(pvblk_xen_x86_32, size);
		ring->slot_size = sizeof(union pvblk_xen_x86_32_sring_entry);
		ring->req_size = sizeof(struct pvblk_xen_x86_32_request);
	} else {
		ring->slot_size = sizeof(union blkif_sring_entry);
		ring->req_size = sizeof(struct blkif_request);
	}
	ring->rings.nr_ents = ring->nr_ents;
	ring->evtchn = evtchn;
	return 0;
}

/*
 * pvblk_xen_ring_start() - attach the ring to core queue @q, set up the
 * persistent grant cache when negotiated and bind the event channel.
 */
int pvblk_xen_ring_start(struct pvblk_xen_ring *ring, struct pvblk_queue *q,
			 bool persistent, const char *name)
{
	struct xenbus_device *xdev = ring->xdev;
	int irq;

	ring->q = q;
	q->priv = ring;
	ring->broken = false;
	ring->found = false;
	atomic_set(&ring->irq_pending, 0);
	if (persistent) {
		struct pvblk_mcache *c;

		/* Published only once valid: debugfs reads it (pvblk_xen_show). */
		c = pvblk_mcache_create(name, &pvblk_xen_mcache_ops, ring,
					pvblk_xen_max_pgrants);
		if (IS_ERR(c))
			return PTR_ERR(c);
		WRITE_ONCE(ring->mcache, c);
		queue_delayed_work(pvblk_xen_wq, &ring->purge_work,
				   msecs_to_jiffies(pvblk_xen_pgrant_idle_ms));
	}
	WRITE_ONCE(ring->active, true);
	irq = bind_interdomain_evtchn_to_irqhandler_lateeoi(xdev, ring->evtchn,
							    ring_interrupt, 0,
							    "pvblk-xen", ring);
	if (irq < 0) {
		WRITE_ONCE(ring->active, false);
		return irq;
	}
	WRITE_ONCE(ring->irq, irq);
	/* Requests, and the EOI of an early event, may be waiting. */
	ring_kick(ring);
	return 0;
}

/*
 * pvblk_xen_ring_quiesce() - stop fetching and unbind the event channel.
 * The work item EOIs and notifies through ring->irq: it is cleared and
 * the work flushed before the irq goes.  Requests in flight still
 * complete through the core and the work item (pvblk_dev_drain()).
 */
void pvblk_xen_ring_quiesce(struct pvblk_xen_ring *ring)
{
	int irq = ring->irq;

	WRITE_ONCE(ring->active, false);
	WRITE_ONCE(ring->irq, 0);
	flush_work(&ring->work);
	if (irq > 0)
		ring->gops->unbind(irq, ring);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_ring_quiesce);

/*
 * pvblk_xen_ring_stop() - once the device is drained: stop the work items
 * for good, before pvblk_dev_destroy() drains the queue itself (a late
 * ops->queue_work() is ignored from here on), then answer the parked
 * requests, waiting for the pages still held (pvblk_xen_unpark()): their
 * frontend waits for them, and nothing else is served any more.  The
 * grant cache and the shared ring stay: destroy's last completions use
 * them (pvblk_xen_ring_free()).  Sleeps.
 */
void pvblk_xen_ring_stop(struct pvblk_xen_ring *ring)
{
	spin_lock_irq(&ring->lock);
	ring->stopped = true;
	spin_unlock_irq(&ring->lock);
	cancel_work_sync(&ring->work);
	cancel_delayed_work_sync(&ring->purge_work);
	cancel_delayed_work_sync(&ring->unpark_work);
	/* Single writer of responses from here on. */
	pvblk_xen_unpark(ring, true);
	push_responses(ring);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_ring_stop);

/*
 * pvblk_xen_ring_release() - with nothing in flight on the ring's queue
 * and the ring stopped (pvblk_xen_ring_stop()): answer the completions the
 * work item did not drain (their grants go back), unmap every persistent
 * grant and the shared ring, as xen-blkback does before it reports Closed.
 * The frontend may reuse or free any of its pages from here on.  The
 * emptied mapping cache and the ring itself stay until
 * pvblk_xen_ring_free() (debugfs reads the cache while the device
 * exists); a completion that would still arrive releases its grants and
 * writes no response (make_response()).  Sleeps: what it unmaps and the
 * backing device still references is parked and waited for here
 * (pvblk_xen_unpark()), before the ring goes.
 */
void pvblk_xen_ring_release(struct pvblk_xen_ring *ring)
{
	/* Single consumer: the work item was cancelled for good. */
	if (ring->q)
		pvblk_queue_drain(ring->q, 0);
	if (ring->mcache)
		pvblk_mcache_purge(ring->mcache, 0);
	pvblk_xen_unpark(ring, true);
	push_responses(ring);
	if (ring->sring)
		xenbus_unmap_ring_vfree(ring->xdev, ring->sring);
	ring->sring = NULL;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_ring_release);

/* Per-ring counters: unmap waits, persistent grants (the debugfs file). */
void pvblk_xen_show(struct seq_file *m, struct pvblk_dev *dev)
{
	struct pvblk_mcache_stats ms;
	unsigned int i;

	for (i = 0; i < pvblk_dev_nr_queues(dev); i++) {
		struct pvblk_xen_ring *ring = pvblk_dev_queue(dev, i)->priv;
		struct pvblk_mcache *c = ring ? READ_ONCE(ring->mcache) : NULL;

		if (ring) {
			seq_printf(m, "q%u_unmap_waits %lu\nq%u_unmap_wait_us %lu\n",
				   i, atomic_long_read(&ring->unmap_waits), i,
				   atomic_long_read(&ring->unmap_wait_us));
			seq_printf(m, "q%u_unmap_parked %u\nq%u_answered_while_parked %lu\n",
				   i, READ_ONCE(ring->nr_parked), i,
				   atomic_long_read(&ring->answered_while_parked));
		}
		if (!c)
			continue;
		pvblk_mcache_get_stats(c, &ms);
		seq_printf(m, "mcache%u_hits %llu\nmcache%u_misses %llu\n",
			   i, ms.hits, i, ms.misses);
		seq_printf(m, "mcache%u_evictions %llu\nmcache%u_transient %llu\n",
			   i, ms.evictions, i, ms.transient);
		seq_printf(m, "mcache%u_map_errors %llu\nmcache%u_entries %u\nmcache%u_in_use %u\n",
			   i, ms.map_errors, i, ms.entries, i, ms.in_use);
	}
}

/*
 * Undo pvblk_xen_ring_map() and _start() (what pvblk_xen_ring_release()
 * did not already), once the device is destroyed.
 */
void pvblk_xen_ring_free(struct pvblk_xen_ring *ring)
{
	/* Parked by destroy's last completions, then by the cache's end. */
	pvblk_xen_unpark(ring, true);
	pvblk_mcache_destroy(ring->mcache);
	ring->mcache = NULL;
	pvblk_xen_unpark(ring, true);
	push_responses(ring);
	if (ring->sring)
		xenbus_unmap_ring_vfree(ring->xdev, ring->sring);
	ring->sring = NULL;
	gnttab_page_cache_shrink(&ring->page_cache, 0);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_ring_free);
