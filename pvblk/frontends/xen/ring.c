// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk Xen blkif backend: the ring runtime.
 *
 * One work item per ring does everything on the hot path: it drains the
 * core's completions (writing responses), then fetches new requests (copy
 * the slot once, validate the copy, map its grants, hand it to the core
 * under one plug), pushes the responses and notifies the frontend.  The
 * event channel is bound with late EOI: the EOI is sent when the work has
 * looked at the ring, flagged spurious when the event brought nothing, so
 * a frontend storming events is throttled by Xen instead of hanging dom0.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/interrupt.h>
#include <xen/events.h>
#include <xen/grant_table.h>
#include <kunit/visibility.h>
#include "xen_blk.h"

/* Requests fetched per run of the work item before it yields. */
#define PVBLK_XEN_FETCH_BUDGET	64
#define PVBLK_XEN_DRAIN_BUDGET	256
/* Grant operations per hypercall batch (on the stack). */
#define PVBLK_XEN_GNT_BATCH	16

struct workqueue_struct *pvblk_xen_wq;

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
	unsigned int i, k, done = 0;
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
		}
	}
	return ret;
}

static void xen_gnt_unmap(struct pvblk_xen_ring *ring,
			  struct pvblk_mentry **ents, unsigned int n)
{
	struct gnttab_unmap_grant_ref ops[PVBLK_XEN_GNT_BATCH];
	struct page *pages[PVBLK_XEN_GNT_BATCH];
	unsigned int i, k, done = 0, good;
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
	}
}

const struct pvblk_xen_gnt_ops pvblk_xen_gnttab_ops = {
	.map = xen_gnt_map,
	.unmap = xen_gnt_unmap,
};

/* Persistent grants: the mapping cache maps through the ring's gops. */
static int mcache_map(void *priv, struct pvblk_mentry **ents, unsigned int n)
{
	struct pvblk_xen_ring *ring = priv;

	return ring->gops->map(ring, ents, n, false);
}

static void mcache_unmap(void *priv, struct pvblk_mentry **ents,
			 unsigned int n)
{
	struct pvblk_xen_ring *ring = priv;

	ring->gops->unmap(ring, ents, n);
}

const struct pvblk_mcache_ops pvblk_xen_mcache_ops = {
	.map = mcache_map,
	.unmap = mcache_unmap,
};
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_mcache_ops);

/* ---- responses ---- */

static void *rsp_slot(struct pvblk_xen_ring *ring)
{
	union pvblk_xen_back_rings *br = &ring->rings;

	switch (ring->proto) {
	case PVBLK_XEN_PROTO_X86_32:
		return RING_GET_RESPONSE(&br->x86_32, br->x86_32.rsp_prod_pvt);
	case PVBLK_XEN_PROTO_X86_64:
		return RING_GET_RESPONSE(&br->x86_64, br->x86_64.rsp_prod_pvt);
	default:
		return RING_GET_RESPONSE(&br->native, br->native.rsp_prod_pvt);
	}
}

static void make_response(struct pvblk_xen_ring *ring, u64 id, u8 operation,
			  int status)
{
	pvblk_xen_write_rsp(ring->proto, rsp_slot(ring), id, operation, status);
	/* rsp_prod_pvt sits at the same place in the three back rings. */
	ring->rings.native.rsp_prod_pvt++;
	ring->rsp_pending = true;
	if (status)
		ring->st_errors++;
}

static void push_responses(struct pvblk_xen_ring *ring)
{
	int notify;

	if (!ring->rsp_pending)
		return;
	ring->rsp_pending = false;
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&ring->rings.native, notify);
	if (notify && ring->irq > 0)
		notify_remote_via_irq(ring->irq);
}

/* ---- the request pool ---- */

static struct pvblk_xen_req *req_get(struct pvblk_xen_ring *ring)
{
	struct pvblk_xen_req *xr;

	xr = list_first_entry_or_null(&ring->free_reqs, struct pvblk_xen_req,
				      free_node);
	if (xr) {
		list_del(&xr->free_node);
		ring->inflight++;
	}
	return xr;
}

static void req_put(struct pvblk_xen_ring *ring, struct pvblk_xen_req *xr)
{
	list_add(&xr->free_node, &ring->free_reqs);
	if (!--ring->inflight)
		wake_up_all(&ring->idle_wq);
}

int pvblk_xen_ring_alloc_pool(struct pvblk_xen_ring *ring)
{
	unsigned int n = ring->nr_ents, m = ring->max_segs, i;
	struct pvblk_mentry **ents;
	struct pvblk_mentry *tents;
	struct pvblk_seg *segs;
	struct blkif_request_segment *isegs;
	u64 *keys;

	ring->pool = kvcalloc(n, sizeof(*ring->pool), GFP_KERNEL);
	ents = kvcalloc(n * m, sizeof(*ents), GFP_KERNEL);
	tents = kvcalloc(n * m, sizeof(*tents), GFP_KERNEL);
	segs = kvcalloc(n * m, sizeof(*segs), GFP_KERNEL);
	isegs = kvcalloc(n * m, sizeof(*isegs), GFP_KERNEL);
	keys = kvcalloc(n * m, sizeof(*keys), GFP_KERNEL);
	ring->pool_mem[0] = ents;
	ring->pool_mem[1] = tents;
	ring->pool_mem[2] = segs;
	ring->pool_mem[3] = isegs;
	ring->pool_mem[4] = keys;
	if (!ring->pool || !ents || !tents || !segs || !isegs || !keys)
		return -ENOMEM;

	ring->pool_size = n;
	INIT_LIST_HEAD(&ring->free_reqs);
	for (i = 0; i < n; i++) {
		struct pvblk_xen_req *xr = &ring->pool[i];

		xr->ring = ring;
		xr->ents = ents + i * m;
		xr->tents = tents + i * m;
		xr->segs = segs + i * m;
		xr->isegs = isegs + i * m;
		xr->keys = keys + i * m;
		list_add_tail(&xr->free_node, &ring->free_reqs);
	}
	return 0;
}

static void ring_free_pool(struct pvblk_xen_ring *ring)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ring->pool_mem); i++) {
		kvfree(ring->pool_mem[i]);
		ring->pool_mem[i] = NULL;
	}
	kvfree(ring->pool);
	ring->pool = NULL;
	ring->pool_size = 0;
	INIT_LIST_HEAD(&ring->free_reqs);
}

/* ---- the core's transport callbacks ---- */

static void xen_complete(struct pvblk_req *preq)
{
	struct pvblk_xen_req *xr = container_of(preq, struct pvblk_xen_req,
						preq);
	struct pvblk_xen_ring *ring = xr->ring;

	pvblk_xen_release(xr);
	make_response(ring, xr->id, xr->operation,
		      pvblk_xen_rsp_status(preq->status));
	req_put(ring, xr);
}

static void xen_notify(struct pvblk_queue *q)
{
	if (q->priv)
		push_responses(q->priv);
}

static void xen_queue_work(struct pvblk_queue *q)
{
	struct pvblk_xen_ring *ring = q->priv;

	if (ring)
		queue_work(pvblk_xen_wq, &ring->work);
}

const struct pvblk_transport_ops pvblk_xen_transport_ops = {
	.complete = xen_complete,
	.notify = xen_notify,
	.queue_work = xen_queue_work,
};

/* ---- fetching requests ---- */

static void copy_slot(struct pvblk_xen_ring *ring, RING_IDX rc,
		      union pvblk_xen_raw_req *raw)
{
	union pvblk_xen_back_rings *br = &ring->rings;

	/* The only read of guest ring memory for this request. */
	switch (ring->proto) {
	case PVBLK_XEN_PROTO_X86_32:
		memcpy(&raw->x86_32, RING_GET_REQUEST(&br->x86_32, rc),
		       sizeof(raw->x86_32));
		break;
	case PVBLK_XEN_PROTO_X86_64:
		memcpy(&raw->x86_64, RING_GET_REQUEST(&br->x86_64, rc),
		       sizeof(raw->x86_64));
		break;
	default:
		memcpy(&raw->native, RING_GET_REQUEST(&br->native, rc),
		       sizeof(raw->native));
		break;
	}
}

/* Return true when requests are left for another run. */
static bool fetch_requests(struct pvblk_xen_ring *ring)
{
	struct blkif_back_ring *br = &ring->rings.native;
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
		if (!xr) {
			/* Completions will re-run the work. */
			ring->st_oo_req++;
			break;
		}
		copy_slot(ring, rc, &raw);
		br->req_cons = ++rc;
		ring->found = true;

		pvblk_xen_decode_req(ring->proto, &raw, &r);
		st = pvblk_xen_prepare(ring, xr, &r);
		if (st) {
			pr_debug_ratelimited("pvblk-xen: dom%u ring %u: request op %u answered %d\n",
					     ring->domid, ring->index,
					     r.operation, st);
			make_response(ring, xr->id, xr->operation, st);
			req_put(ring, xr);
			continue;
		}
		pvblk_batch_add(&batch, &xr->preq);
	}
	pvblk_batch_finish(&batch);

	if (!more && rc == rp && !ring->broken) {
		RING_FINAL_CHECK_FOR_REQUESTS(br, more_to_do);
		more = more_to_do && ring->inflight < ring->pool_size;
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
			xen_irq_lateeoi(irq, ring->found ?
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
		queue_work(pvblk_xen_wq, &ring->work);
}

static irqreturn_t ring_interrupt(int irq, void *dev_id)
{
	struct pvblk_xen_ring *ring = dev_id;

	atomic_set(&ring->irq_pending, 1);
	queue_work(pvblk_xen_wq, &ring->work);
	return IRQ_HANDLED;
}

static void purge_work(struct work_struct *work)
{
	struct pvblk_xen_ring *ring = container_of(to_delayed_work(work),
						   struct pvblk_xen_ring,
						   purge_work);

	if (!ring->mcache)
		return;
	pvblk_mcache_purge(ring->mcache, pvblk_xen_pgrant_idle_ms);
	queue_delayed_work(pvblk_xen_wq, &ring->purge_work,
			   msecs_to_jiffies(pvblk_xen_pgrant_idle_ms));
}

/* ---- life cycle ---- */

void pvblk_xen_ring_init(struct pvblk_xen_ring *ring,
			 struct pvblk_xen_blkif *blkif,
			 struct xenbus_device *xdev, unsigned int index)
{
	memset(ring, 0, sizeof(*ring));
	ring->blkif = blkif;
	ring->xdev = xdev;
	ring->domid = xdev->otherend_id;
	ring->index = index;
	ring->gops = &pvblk_xen_gnttab_ops;
	INIT_WORK(&ring->work, ring_work);
	INIT_DELAYED_WORK(&ring->purge_work, purge_work);
	INIT_LIST_HEAD(&ring->free_reqs);
	init_waitqueue_head(&ring->idle_wq);
	gnttab_page_cache_init(&ring->page_cache);
}

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
	switch (ring->proto) {
	case PVBLK_XEN_PROTO_X86_32: {
		struct pvblk_xen_x86_32_sring *s = addr;

		BACK_RING_INIT(&ring->rings.x86_32, s, size);
		ring->nr_ents = RING_SIZE(&ring->rings.x86_32);
		break;
	}
	case PVBLK_XEN_PROTO_X86_64: {
		struct pvblk_xen_x86_64_sring *s = addr;

		BACK_RING_INIT(&ring->rings.x86_64, s, size);
		ring->nr_ents = RING_SIZE(&ring->rings.x86_64);
		break;
	}
	default: {
		struct blkif_sring *s = addr;

		BACK_RING_INIT(&ring->rings.native, s, size);
		ring->nr_ents = RING_SIZE(&ring->rings.native);
		break;
	}
	}
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
		ring->mcache = pvblk_mcache_create(name, &pvblk_xen_mcache_ops,
						   ring, pvblk_xen_max_pgrants);
		if (IS_ERR(ring->mcache)) {
			int err = PTR_ERR(ring->mcache);

			ring->mcache = NULL;
			return err;
		}
		/* debugfs shows at most a few caches per device: optional */
		if (pvblk_dev_add_mcache(q->dev, ring->mcache))
			pr_debug("pvblk-xen: %s: cache not shown in debugfs\n",
				 name);
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
	queue_work(pvblk_xen_wq, &ring->work);
	return 0;
}

/*
 * pvblk_xen_ring_stop() - stop serving: unbind the event channel, wait
 * until every request taken from the ring has been answered, unmap every
 * persistent grant.  The shared ring stays mapped (pvblk_xen_ring_free()).
 */
void pvblk_xen_ring_stop(struct pvblk_xen_ring *ring)
{
	WRITE_ONCE(ring->active, false);
	if (ring->irq > 0) {
		unbind_from_irqhandler(ring->irq, ring);
		ring->irq = 0;
	}
	flush_work(&ring->work);
	/* In-flight requests complete through the core and our work. */
	while (!wait_event_timeout(ring->idle_wq, !READ_ONCE(ring->inflight),
				   10 * HZ))
		pr_warn("pvblk-xen: dom%u ring %u: waiting for %u requests\n",
			ring->domid, ring->index, READ_ONCE(ring->inflight));
	cancel_work_sync(&ring->work);
	if (ring->q) {
		/* Anything the last completions left behind. */
		pvblk_queue_drain(ring->q, 0);
		push_responses(ring);
	}
	cancel_delayed_work_sync(&ring->purge_work);
	if (ring->mcache) {
		if (ring->q)
			pvblk_dev_del_mcache(ring->q->dev, ring->mcache);
		pvblk_mcache_destroy(ring->mcache);
		ring->mcache = NULL;
	}
	if (ring->q)
		ring->q->priv = NULL;
	ring->q = NULL;
}

/* Undo pvblk_xen_ring_map() and pvblk_xen_ring_alloc_pool(). */
void pvblk_xen_ring_free(struct pvblk_xen_ring *ring)
{
	struct xenbus_device *xdev = ring->xdev;

	if (ring->sring) {
		xenbus_unmap_ring_vfree(xdev, ring->sring);
		ring->sring = NULL;
	}
	ring_free_pool(ring);
	gnttab_page_cache_shrink(&ring->page_cache, 0);
}
