// SPDX-License-Identifier: GPL-2.0
/*
 * xen_hostile: a hostile blkif frontend for testing a "vbd" backend.
 *
 * Loaded in a PV guest instead of xen-blkfront, it binds every vbd of the
 * guest and does nothing on its own: guest userspace writes a case name
 * to /sys/kernel/debug/xen_hostile/<devid>/run, the case runs at once
 * (negotiating, pushing requests, reading responses) and
 * /sys/kernel/debug/xen_hostile/<devid>/result then holds one line per
 * assertion, "ok DESC" or "not ok DESC", and "# TEXT" comments.  The
 * scenario script turns those into TAP lines (tests/xen/hostile.domu.sh).
 *
 * A case that needs a connection makes one with the default parameters
 * (one queue, one ring page, persistent grants as offered); a case that
 * breaks the connection (ring halted, backend Closing) ends by going
 * through Closed and negotiating again.  Most cases end with a good
 * write + read back, verified, on the same connection.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/delay.h>
#include <linux/wait.h>
#include <linux/debugfs.h>
#include <linux/uaccess.h>
#include <linux/interrupt.h>
#include <linux/random.h>
#include <linux/vmalloc.h>
#include <xen/xen.h>
#include <xen/xenbus.h>
#include <xen/events.h>
#include <xen/grant_table.h>
#include <xen/page.h>
#include <xen/interface/io/ring.h>
#include <xen/interface/io/blkif.h>
#include <xen/interface/io/protocols.h>

#define HF_NDATA	32	/* data pages granted per connection */
#define HF_NIPAGES	(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST + 1)
#define HF_MAXQ		4
#define HF_MAX_RING	XENBUS_MAX_RING_GRANTS
#define HF_RES_SIZE	8192
#define HF_SEGS_PER_IPAGE (XEN_PAGE_SIZE / sizeof(struct blkif_request_segment))
/* Grant references no dom0 can map: beyond any grant table. */
#define HF_BAD_GREF	0x7ffffff0U
/* A domain id that is neither dom0 nor this guest. */
#define HF_OTHER_DOMID	1234
#define HF_RSP_TIMEOUT	(-1000)

struct hf_dev;
struct hf_fz;

/* One ring (queue) of the current connection. */
struct hf_ring {
	struct hf_dev *d;
	void *va;
	struct blkif_front_ring fr;
	unsigned int nr_pages;
	grant_ref_t refs[HF_MAX_RING];
	evtchn_port_t port;
	int irq;
	atomic_t events;
	wait_queue_head_t wq;
};

/* How to negotiate; the zero value is the default connection. */
struct hf_params {
	unsigned int order;		/* log2 of ring pages */
	bool order_key;			/* write ring-page-order */
	unsigned int nq;		/* rings to set up (0: 1) */
	bool nq_key;			/* write multi-queue-num-queues */
	unsigned int nq_val;		/* ... with this value */
	const char *protocol;		/* NULL: XEN_IO_PROTO_ABI_NATIVE */
	bool no_protocol;
	int persistent;			/* -1: do not write, else 0/1 */
	bool no_ring_ref;
	bool no_evtchn;
	bool bogus_evtchn;		/* a port that is not bound */
	bool bad_ring_ref;		/* a grant that does not exist */
	bool skip_last_queue;		/* no queue-N directory for the last */
	bool direct_connected;		/* Connected without Initialised */
	int bogus_state;		/* write this state instead */
};

struct hf_dev {
	struct xenbus_device *xdev;
	struct mutex lock;		/* one case at a time */
	struct dentry *dir;
	struct hf_ring rings[HF_MAXQ];
	unsigned int nr_rings;
	bool rings_alloced;
	bool connected;
	bool persistent;		/* negotiated on this connection */
	struct page *data[HF_NDATA];
	grant_ref_t dref[HF_NDATA];
	struct page *ipage[HF_NIPAGES];
	grant_ref_t iref[HF_NIPAGES];
	bool granted;
	u64 sectors;
	unsigned int info;
	bool discard;
	unsigned int max_indirect;
	unsigned int max_order;
	unsigned int max_queues;
	u64 next_id;
	char *res;
	size_t res_len;
	unsigned int nok, nfail;
	struct hf_fz *fz;		/* the fuzz run in progress, under lock */
};

static struct dentry *hf_root;

/* ---- result lines ---- */

/* Append one line "PREFIX TEXT" to the result buffer. */
static __printf(3, 0) void hf_vline(struct hf_dev *d, const char *prefix,
				    const char *fmt, va_list ap)
{
	size_t room = HF_RES_SIZE - 1 - d->res_len;

	if (room < 2)
		return;
	d->res_len += scnprintf(d->res + d->res_len, room, "%s ", prefix);
	room = HF_RES_SIZE - 1 - d->res_len;
	d->res_len += vscnprintf(d->res + d->res_len, room, fmt, ap);
	if (d->res_len < HF_RES_SIZE - 1)
		d->res[d->res_len++] = '\n';
	d->res[d->res_len] = '\0';
}

/* One assertion: "ok TEXT" when @cond holds, else "not ok TEXT". */
static __printf(3, 4) void hf_check(struct hf_dev *d, bool cond,
				    const char *fmt, ...)
{
	va_list ap;

	if (cond)
		d->nok++;
	else
		d->nfail++;
	va_start(ap, fmt);
	hf_vline(d, cond ? "ok" : "not ok", fmt, ap);
	va_end(ap);
}

/* A comment line "# TEXT". */
static __printf(2, 3) void hf_note(struct hf_dev *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hf_vline(d, "#", fmt, ap);
	va_end(ap);
}

#define hf_ok(d, ...)	hf_check(d, true, __VA_ARGS__)
#define hf_fail(d, ...)	hf_check(d, false, __VA_ARGS__)

static const char *rsp_name(int st)
{
	switch (st) {
	case BLKIF_RSP_OKAY: return "OKAY";
	case BLKIF_RSP_ERROR: return "ERROR";
	case BLKIF_RSP_EOPNOTSUPP: return "EOPNOTSUPP";
	case HF_RSP_TIMEOUT: return "no response";
	default: return "bad status";
	}
}

/* ---- xenbus states ---- */

static int be_state(struct hf_dev *d)
{
	return xenbus_read_driver_state(d->xdev->otherend);
}

/* Wait until the backend is in one of the states of @mask; return it. */
static int wait_be(struct hf_dev *d, unsigned int mask, unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);
	int st;

	for (;;) {
		st = be_state(d);
		if (mask & BIT(st))
			return st;
		if (time_after(jiffies, end))
			return -st - 100;
		msleep(20);
	}
}

static void set_state(struct hf_dev *d, enum xenbus_state s)
{
	int err = xenbus_switch_state(d->xdev, s);

	if (err)
		hf_note(d, "switching to state %d: %d", s, err);
}

/* ---- rings ---- */

static irqreturn_t hf_irq(int irq, void *dev_id)
{
	struct hf_ring *r = dev_id;

	atomic_inc(&r->events);
	wake_up(&r->wq);
	return IRQ_HANDLED;
}

/* End @ref unless the backend maps it; true once ended. */
static bool end_one(grant_ref_t *ref)
{
	if (*ref == INVALID_GRANT_REF)
		return true;
	if (!gnttab_try_end_foreign_access(*ref))
		return false;
	*ref = INVALID_GRANT_REF;
	return true;
}

static void ring_free(struct hf_ring *r)
{
	unsigned int i;

	if (r->irq > 0)
		unbind_from_irqhandler(r->irq, r);
	else if (r->port)
		xenbus_free_evtchn(r->d->xdev, r->port);
	r->irq = 0;
	r->port = 0;
	if (!r->va)
		return;
	/*
	 * A ring grant that cannot end is still mapped by the backend: its
	 * pages are leaked rather than reused (the deferred end of
	 * xenbus_teardown_ring() would free them at once).
	 */
	for (i = 0; i < r->nr_pages; i++)
		if (!end_one(&r->refs[i]))
			r->va = NULL;
	xenbus_teardown_ring(&r->va, r->nr_pages, r->refs);
	r->va = NULL;
}

static int ring_alloc(struct hf_dev *d, struct hf_ring *r,
		      unsigned int nr_pages)
{
	struct blkif_sring *s;
	int err;

	r->d = d;
	r->nr_pages = nr_pages;
	init_waitqueue_head(&r->wq);
	err = xenbus_setup_ring(d->xdev, GFP_KERNEL, &r->va, nr_pages, r->refs);
	if (err)
		return err;
	s = r->va;
	SHARED_RING_INIT(s);
	FRONT_RING_INIT(&r->fr, s, (size_t)XEN_PAGE_SIZE * nr_pages);
	err = xenbus_alloc_evtchn(d->xdev, &r->port);
	if (err)
		return err;
	err = bind_evtchn_to_irqhandler(r->port, hf_irq, 0, "xen-hostile", r);
	if (err < 0)
		return err;
	r->irq = err;
	return 0;
}

static void rings_free(struct hf_dev *d)
{
	unsigned int i;

	for (i = 0; i < HF_MAXQ; i++)
		ring_free(&d->rings[i]);
	d->rings_alloced = false;
	d->nr_rings = 0;
}

/* A zeroed request in the next free slot (not yet pushed). */
static struct blkif_request *next_req(struct hf_ring *r)
{
	struct blkif_request *req = RING_GET_REQUEST(&r->fr, r->fr.req_prod_pvt);

	memset(req, 0, sizeof(*req));
	r->fr.req_prod_pvt++;
	return req;
}

static void push(struct hf_ring *r)
{
	/* Always kick, whatever req_event says: the backend's business. */
	RING_PUSH_REQUESTS(&r->fr);
	notify_remote_via_irq(r->irq);
}

/* Collect up to @n responses into @rsp within @ms; return how many. */
static unsigned int collect(struct hf_ring *r, struct blkif_response *rsp,
			    unsigned int n, unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);
	struct blkif_sring *s = r->va;
	unsigned int got = 0;
	RING_IDX rp;

	for (;;) {
		rp = READ_ONCE(s->rsp_prod);
		virt_rmb();	/* responses up to rp */
		while (r->fr.rsp_cons != rp && got < n) {
			rsp[got++] = *RING_GET_RESPONSE(&r->fr, r->fr.rsp_cons);
			r->fr.rsp_cons++;
		}
		if (got >= n || time_after(jiffies, end))
			return got;
		s->rsp_event = r->fr.rsp_cons + 1;
		virt_mb();	/* rsp_event before the re-read of rsp_prod */
		if (READ_ONCE(s->rsp_prod) != r->fr.rsp_cons)
			continue;
		wait_event_timeout(r->wq, READ_ONCE(s->rsp_prod) != r->fr.rsp_cons,
				   msecs_to_jiffies(20));
	}
}

/* Push @req (already in the ring) and wait for its answer. */
static int do_one(struct hf_ring *r, u64 id, u8 op, unsigned int ms,
		  struct hf_dev *d)
{
	struct blkif_response rsp;

	push(r);
	if (!collect(r, &rsp, 1, ms))
		return HF_RSP_TIMEOUT;
	if (rsp.id != id || rsp.operation != op)
		hf_note(d, "response id %llu op %u, expected id %llu op %u",
			rsp.id, rsp.operation, id, op);
	if (rsp.id != id)
		return -2000;
	if (rsp.operation != op)
		return -3000 - rsp.operation;
	return rsp.status;
}

/* ---- data pages ---- */

static int grant_all(struct hf_dev *d)
{
	domid_t be = d->xdev->otherend_id;
	unsigned int i;
	int ref;

	if (d->granted)
		return 0;
	for (i = 0; i < HF_NDATA; i++) {
		ref = gnttab_grant_foreign_access(be, xen_page_to_gfn(d->data[i]), 0);
		if (ref < 0)
			return ref;
		d->dref[i] = ref;
	}
	for (i = 0; i < HF_NIPAGES; i++) {
		ref = gnttab_grant_foreign_access(be, xen_page_to_gfn(d->ipage[i]), 0);
		if (ref < 0)
			return ref;
		d->iref[i] = ref;
	}
	d->granted = true;
	return 0;
}

/*
 * End a data grant (INVALID_GRANT_REF: end_grants() ended it already); one
 * still mapped by the backend goes to the deferred list with its page,
 * which is replaced.  Return 1 for such a grant.
 */
static unsigned int revoke_page(struct page **pg, grant_ref_t ref)
{
	if (ref == INVALID_GRANT_REF || gnttab_try_end_foreign_access(ref))
		return 0;
	gnttab_end_foreign_access(ref, *pg);
	*pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	return 1;
}

static unsigned int revoke_all(struct hf_dev *d)
{
	unsigned int i, busy = 0;

	if (!d->granted)
		return 0;
	for (i = 0; i < HF_NDATA; i++)
		busy += revoke_page(&d->data[i], d->dref[i]);
	for (i = 0; i < HF_NIPAGES; i++)
		busy += revoke_page(&d->ipage[i], d->iref[i]);
	d->granted = false;
	return busy;
}

/*
 * End every grant the backend could map: the rings' pages, the data pages
 * (persistent grants among them) and the indirect pages.  Those still
 * mapped are tried again every 20 ms for @ms.  Return how many are still
 * mapped, @ring_busy of them ring pages; they are left to ring_free() and
 * revoke_all().  gnttab_try_end_foreign_access() ends a grant only when
 * no domain maps it: the frontend's own view of "still mapped by dom0".
 */
static unsigned int end_grants(struct hf_dev *d, unsigned int ms,
			       unsigned int *ring_busy)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);
	unsigned int i, q, busy, rbusy;

	for (;;) {
		busy = 0;
		rbusy = 0;
		for (q = 0; q < HF_MAXQ; q++) {
			struct hf_ring *r = &d->rings[q];

			for (i = 0; r->va && i < r->nr_pages; i++)
				rbusy += !end_one(&r->refs[i]);
		}
		for (i = 0; d->granted && i < HF_NDATA; i++)
			busy += !end_one(&d->dref[i]);
		for (i = 0; d->granted && i < HF_NIPAGES; i++)
			busy += !end_one(&d->iref[i]);
		busy += rbusy;
		if (!busy || time_after(jiffies, end))
			break;
		msleep(20);
	}
	*ring_busy = rbusy;
	return busy;
}

/*
 * Nothing in flight on any ring: everything pushed was answered (req_prod
 * published up to what was written, rsp_prod up to req_prod).  A backend
 * writes a response only once the request let go of its grants.
 */
static bool hf_idle(struct hf_dev *d)
{
	unsigned int q;

	for (q = 0; q < HF_MAXQ; q++) {
		struct hf_ring *r = &d->rings[q];
		struct blkif_sring *s = r->va;

		if (!s)
			continue;
		if (READ_ONCE(s->req_prod) != r->fr.req_prod_pvt ||
		    READ_ONCE(s->rsp_prod) != r->fr.req_prod_pvt)
			return false;
	}
	return true;
}

static void fill(struct page *pg, u64 sector, u32 seed)
{
	u64 *p = page_address(pg);
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i++)
		p[i] = (sector << 32) ^ ((u64)seed << 8) ^ i;
}

static bool same(struct page *a, struct page *b)
{
	return !memcmp(page_address(a), page_address(b), PAGE_SIZE);
}

/* ---- connection ---- */

static void rm_keys(struct hf_dev *d)
{
	static const char * const keys[] = {
		"multi-queue-num-queues", "ring-page-order", "ring-ref",
		"event-channel", "protocol", "feature-persistent",
		"queue-0", "queue-1", "queue-2", "queue-3",
	};
	const char *node = d->xdev->nodename;
	char name[16];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(keys); i++)
		xenbus_rm(XBT_NIL, node, keys[i]);
	for (i = 0; i < HF_MAX_RING; i++) {
		snprintf(name, sizeof(name), "ring-ref%u", i);
		xenbus_rm(XBT_NIL, node, name);
	}
}

static int write_ring_keys(struct hf_dev *d, struct xenbus_transaction xbt,
			   const struct hf_params *p, unsigned int q)
{
	const char *node = d->xdev->nodename;
	struct hf_ring *r = &d->rings[q];
	char dir[24] = "", key[48];
	unsigned int i;
	int err;

	if (d->nr_rings > 1)
		snprintf(dir, sizeof(dir), "queue-%u/", q);
	if (!p->no_ring_ref) {
		for (i = 0; i < r->nr_pages; i++) {
			if (p->order_key)
				snprintf(key, sizeof(key), "%sring-ref%u", dir, i);
			else
				snprintf(key, sizeof(key), "%sring-ref", dir);
			err = xenbus_printf(xbt, node, key, "%u",
					    p->bad_ring_ref ? HF_BAD_GREF :
					    r->refs[i]);
			if (err)
				return err;
		}
	}
	if (!p->no_evtchn) {
		snprintf(key, sizeof(key), "%sevent-channel", dir);
		/* Ports near the top of the 2-level ABI are never ours. */
		err = xenbus_printf(xbt, node, key, "%u",
				    p->bogus_evtchn ? 4000 : r->port);
		if (err)
			return err;
	}
	return 0;
}

static int write_keys(struct hf_dev *d, const struct hf_params *p)
{
	const char *node = d->xdev->nodename;
	struct xenbus_transaction xbt;
	unsigned int q, nw;
	int err;

again:
	err = xenbus_transaction_start(&xbt);
	if (err)
		return err;
	if (p->nq_key || d->nr_rings > 1) {
		err = xenbus_printf(xbt, node, "multi-queue-num-queues", "%u",
				    p->nq_key ? p->nq_val : d->nr_rings);
		if (err)
			goto abort;
	}
	if (p->order_key) {
		err = xenbus_printf(xbt, node, "ring-page-order", "%u", p->order);
		if (err)
			goto abort;
	}
	nw = d->nr_rings - (p->skip_last_queue ? 1 : 0);
	for (q = 0; q < nw; q++) {
		err = write_ring_keys(d, xbt, p, q);
		if (err)
			goto abort;
	}
	if (!p->no_protocol) {
		err = xenbus_printf(xbt, node, "protocol", "%s",
				    p->protocol ?: XEN_IO_PROTO_ABI_NATIVE);
		if (err)
			goto abort;
	}
	if (p->persistent >= 0) {
		err = xenbus_printf(xbt, node, "feature-persistent", "%d",
				    p->persistent);
		if (err)
			goto abort;
	}
	err = xenbus_transaction_end(xbt, 0);
	if (err == -EAGAIN)
		goto again;
	return err;
abort:
	xenbus_transaction_end(xbt, 1);
	return err;
}

/*
 * Go through Closing and Closed, check that the backend released every
 * grant (rings, data pages with the persistent grants, indirect pages),
 * free the rings, and come back to Initialising with the backend in
 * InitWait.  Return 0 when the backend followed.
 *
 * With nothing in flight when the frontend closes (judged before it
 * leaves Connected: a case that closed on its own counts as in flight),
 * xen-blkback unmaps every grant before it reports Closed: then not one
 * may still be mapped when Closed is seen, checked at once.  With
 * requests in flight a backend may report Closed first and let go of
 * their grants when they complete: then every grant must be released
 * within 30 s.
 */
static int hf_disconnect(struct hf_dev *d, bool report)
{
	/* Already closing (a case's own doing): in flight, as far as we know. */
	bool idle = d->xdev->state != XenbusStateClosing &&
		d->xdev->state != XenbusStateClosed && hf_idle(d);
	unsigned int busy, rbusy;
	int st, ret = 0;

	if (d->xdev->state != XenbusStateClosed) {
		set_state(d, XenbusStateClosing);
		wait_be(d, BIT(XenbusStateClosing) | BIT(XenbusStateClosed), 10000);
		set_state(d, XenbusStateClosed);
	}
	st = wait_be(d, BIT(XenbusStateClosed), 30000);
	if (st != XenbusStateClosed) {
		hf_fail(d, "backend reaches Closed after the frontend closed (state %d)",
			st < 0 ? -st - 100 : st);
		ret = -ETIMEDOUT;
		idle = false;	/* nothing to say about the moment of Closed */
	}
	d->connected = false;
	busy = end_grants(d, idle ? 0 : 30000, &rbusy);
	if (busy || report)
		hf_check(d, !busy, "%s: backend %s (%u still mapped, %u of them ring pages)",
			 idle ? "nothing in flight" : "requests in flight",
			 idle ? "unmapped every grant before it reported Closed" :
			 "released every grant within 30 s of Closed",
			 busy, rbusy);
	rings_free(d);
	revoke_all(d);
	set_state(d, XenbusStateInitialising);
	st = wait_be(d, BIT(XenbusStateInitWait), 10000);
	if (st != XenbusStateInitWait) {
		hf_fail(d, "backend back in InitWait after the frontend reinitialised (state %d)",
			st < 0 ? -st - 100 : st);
		ret = -ETIMEDOUT;
	}
	return ret;
}

/* Negotiate with @p; return the backend state reached (4 when connected). */
static int hf_connect(struct hf_dev *d, const struct hf_params *p)
{
	unsigned int i, nq = p->nq ?: 1;
	int st, err;

	st = be_state(d);
	if (st != XenbusStateInitWait) {
		if (st == XenbusStateClosing || st == XenbusStateClosed ||
		    st == XenbusStateConnected)
			hf_disconnect(d, false);
		st = wait_be(d, BIT(XenbusStateInitWait), 30000);
		if (st != XenbusStateInitWait) {
			hf_note(d, "backend not in InitWait (%d)", st);
			return st;
		}
	}
	d->max_order = xenbus_read_unsigned(d->xdev->otherend, "max-ring-page-order", 0);
	d->max_queues = xenbus_read_unsigned(d->xdev->otherend, "multi-queue-max-queues", 1);
	d->max_indirect = xenbus_read_unsigned(d->xdev->otherend,
					       "feature-max-indirect-segments", 0);
	rm_keys(d);
	rings_free(d);
	d->nr_rings = nq;
	d->rings_alloced = true;
	for (i = 0; i < nq; i++) {
		err = ring_alloc(d, &d->rings[i], 1U << p->order);
		if (err) {
			hf_note(d, "ring %u: setting up: %d", i, err);
			return err;
		}
	}
	err = grant_all(d);
	if (err)
		return err;
	err = write_keys(d, p);
	if (err) {
		hf_note(d, "writing xenstore keys: %d", err);
		return err;
	}
	if (p->bogus_state)
		xenbus_printf(XBT_NIL, d->xdev->nodename, "state", "%d",
			      p->bogus_state);
	else
		set_state(d, p->direct_connected ? XenbusStateConnected :
			  XenbusStateInitialised);
	st = wait_be(d, BIT(XenbusStateConnected) | BIT(XenbusStateClosing) |
		     BIT(XenbusStateClosed), 15000);
	if (st != XenbusStateConnected)
		return st;
	d->sectors = xenbus_read_unsigned(d->xdev->otherend, "sectors", 0);
	d->info = xenbus_read_unsigned(d->xdev->otherend, "info", 0);
	d->discard = xenbus_read_unsigned(d->xdev->otherend, "feature-discard", 0);
	d->persistent = p->persistent == 1 &&
		xenbus_read_unsigned(d->xdev->otherend, "feature-persistent", 0);
	set_state(d, XenbusStateConnected);
	d->connected = true;
	return st;
}

static const struct hf_params hf_default = { .persistent = 1 };

/* ---- request builders ---- */

static bool ro_vbd(struct hf_dev *d)
{
	return d->info & VDISK_READONLY;
}

/* A sector for test data, page aligned, well inside the disk. */
static u64 pick_sector(struct hf_dev *d, unsigned int nr_pages)
{
	u64 span = min_t(u64, d->sectors, 1ULL << 17);	/* 64 MiB */
	u64 pages = span / 8;

	if (pages <= nr_pages)
		return 0;
	return (get_random_u64() % (pages - nr_pages)) * 8;
}

/* Direct read/write of data pages [first, first + n), full pages. */
static struct blkif_request *rw_req(struct hf_ring *r, u8 op, u64 sector,
				    unsigned int first, unsigned int n, u64 id)
{
	struct hf_dev *d = r->d;
	struct blkif_request *req = next_req(r);
	unsigned int i;

	req->operation = op;
	req->u.rw.nr_segments = n;
	req->u.rw.handle = 0;
	req->u.rw.id = id;
	req->u.rw.sector_number = sector;
	for (i = 0; i < n && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		req->u.rw.seg[i].gref = d->dref[(first + i) % HF_NDATA];
		req->u.rw.seg[i].first_sect = 0;
		req->u.rw.seg[i].last_sect = 7;
	}
	return req;
}

/* Indirect request: segments describe data pages [first, first + n). */
static struct blkif_request *ind_req(struct hf_ring *r, u8 inner, u64 sector,
				     unsigned int first, unsigned int n, u64 id)
{
	struct hf_dev *d = r->d;
	struct blkif_request *req = next_req(r);
	struct blkif_request_segment *seg;
	unsigned int i, npg = DIV_ROUND_UP(n, HF_SEGS_PER_IPAGE);

	req->operation = BLKIF_OP_INDIRECT;
	req->u.indirect.indirect_op = inner;
	req->u.indirect.nr_segments = n;
	req->u.indirect.id = id;
	req->u.indirect.sector_number = sector;
	for (i = 0; i < npg && i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		req->u.indirect.indirect_grefs[i] = d->iref[i];
	for (i = 0; i < n && i < HF_NIPAGES * HF_SEGS_PER_IPAGE; i++) {
		seg = (struct blkif_request_segment *)
			page_address(d->ipage[i / HF_SEGS_PER_IPAGE]) +
			i % HF_SEGS_PER_IPAGE;
		seg->gref = d->dref[(first + i) % HF_NDATA];
		seg->first_sect = 0;
		seg->last_sect = 7;
	}
	return req;
}

static struct hf_ring *ring0(struct hf_dev *d)
{
	return &d->rings[0];
}

/*
 * A good write of @n pages at @sector (pages 0..n-1, patterned) and a read
 * back into pages 16..16+n-1; return 0 when verified.
 */
static int good_io_on(struct hf_dev *d, struct hf_ring *r, bool indirect,
		      char *why, size_t len)
{
	unsigned int i, n = 8;
	u64 id, sector = pick_sector(d, 16);
	u32 seed = get_random_u32();
	int st;

	if (indirect && d->max_indirect < 16) {
		snprintf(why, len, "no indirect");
		return 0;
	}
	if (indirect)
		n = 16;
	for (i = 0; i < n; i++) {
		fill(d->data[i], sector + i * 8, seed);
		memset(page_address(d->data[16 + i]), 0xa5, PAGE_SIZE);
	}
	if (!ro_vbd(d)) {
		id = ++d->next_id;
		if (indirect)
			ind_req(r, BLKIF_OP_WRITE, sector, 0, n, id);
		else
			rw_req(r, BLKIF_OP_WRITE, sector, 0, n, id);
		st = do_one(r, id, BLKIF_OP_WRITE, 10000, d);
		if (st != BLKIF_RSP_OKAY) {
			snprintf(why, len, "write at %llu: %s (%d)", sector,
				 rsp_name(st), st);
			return -EIO;
		}
	}
	id = ++d->next_id;
	if (indirect)
		ind_req(r, BLKIF_OP_READ, sector, 16, n, id);
	else
		rw_req(r, BLKIF_OP_READ, sector, 16, n, id);
	st = do_one(r, id, BLKIF_OP_READ, 10000, d);
	if (st != BLKIF_RSP_OKAY) {
		snprintf(why, len, "read at %llu: %s (%d)", sector,
			 rsp_name(st), st);
		return -EIO;
	}
	if (ro_vbd(d))
		return 0;
	for (i = 0; i < n; i++) {
		if (!same(d->data[i], d->data[16 + i])) {
			snprintf(why, len, "data of page %u at %llu differs", i,
				 sector);
			return -EIO;
		}
	}
	return 0;
}

/* The check after a hostile case: good I/O on every ring. */
static void good_after(struct hf_dev *d, const char *name)
{
	char why[96] = "";
	unsigned int q;
	int err = 0;

	if (!d->connected) {
		hf_fail(d, "after %s: no connection for good I/O", name);
		return;
	}
	for (q = 0; q < d->nr_rings && !err; q++) {
		err = good_io_on(d, &d->rings[q], false, why, sizeof(why));
		if (!err)
			err = good_io_on(d, &d->rings[q], true, why, sizeof(why));
	}
	hf_check(d, !err, "after %s: good %s on %u ring(s) %s%s", name,
		 ro_vbd(d) ? "read" : "write + read back verified",
		 d->nr_rings, err ? ": " : "", why);
}

/* Reconnect with the defaults and do good I/O. */
static void reconnect_after(struct hf_dev *d, const char *name)
{
	int st;

	hf_disconnect(d, false);
	st = hf_connect(d, &hf_default);
	if (st != XenbusStateConnected) {
		hf_fail(d, "after %s: reconnect (backend state %d)", name, st);
		return;
	}
	good_after(d, name);
}

static void expect(struct hf_dev *d, const char *what, int got, int want)
{
	hf_check(d, got == want, "%s: backend answers %s (got %s, %d)", what,
		 rsp_name(want), rsp_name(got), got);
}

/* ---- cases on a connected ring ---- */

struct hf_case {
	const char *name;
	void (*fn)(struct hf_dev *d, const struct hf_case *c);
	int arg;
	bool raw;	/* manages the connection itself */
	bool np;	/* on a connection without persistent grants */
};

static void c_good(struct hf_dev *d, const struct hf_case *c)
{
	good_after(d, c->name);
}

/* A direct read or write with a hand-made segment table. */
static void c_seg(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	struct blkif_request *req;
	u64 id = ++d->next_id;
	u8 op = BLKIF_OP_READ;
	int want = BLKIF_RSP_ERROR;
	unsigned int i;

	req = rw_req(r, op, pick_sector(d, 16), 0, 2, id);
	switch (c->arg) {
	case 0:	/* nr_segments 0, read */
		req->u.rw.nr_segments = 0;
		break;
	case 1:	/* nr_segments 0, write */
		op = BLKIF_OP_WRITE;
		req->operation = op;
		req->u.rw.nr_segments = 0;
		break;
	case 2:	/* one above the maximum */
		req->u.rw.nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
		break;
	case 3:
		req->u.rw.nr_segments = 255;
		break;
	case 4:	/* first_sect > last_sect */
		req->u.rw.seg[1].first_sect = 5;
		req->u.rw.seg[1].last_sect = 2;
		break;
	case 5:	/* last_sect beyond the page */
		req->u.rw.seg[0].last_sect = 8;
		break;
	case 6:
		req->u.rw.seg[0].first_sect = 200;
		req->u.rw.seg[0].last_sect = 255;
		break;
	case 7:	/* a good one-sector segment at the end of a page */
		req->u.rw.seg[0].first_sect = 7;
		req->u.rw.seg[0].last_sect = 7;
		req->u.rw.nr_segments = 1;
		want = BLKIF_RSP_OKAY;
		break;
	case 8:	/* write with first_sect > last_sect */
		op = BLKIF_OP_WRITE;
		req->operation = op;
		req->u.rw.seg[0].first_sect = 7;
		req->u.rw.seg[0].last_sect = 0;
		break;
	case 9:	/* the maximum: 11 segments */
		req->u.rw.nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST;
		for (i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
			req->u.rw.seg[i].gref = d->dref[16 + i];
			req->u.rw.seg[i].first_sect = 0;
			req->u.rw.seg[i].last_sect = 7;
		}
		want = BLKIF_RSP_OKAY;
		break;
	}
	expect(d, c->name, do_one(r, id, op, 10000, d), want);
	good_after(d, c->name);
}

/* Sector ranges. */
static void c_range(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	u64 id = ++d->next_id, sector = 0;
	u8 op = c->arg & 1 ? BLKIF_OP_WRITE : BLKIF_OP_READ;
	int want = BLKIF_RSP_ERROR;

	if (op == BLKIF_OP_WRITE && ro_vbd(d))
		op = BLKIF_OP_READ;
	switch (c->arg >> 1) {
	case 0:	/* starts at the last sector, 8 long */
		sector = d->sectors - 1;
		break;
	case 1:	/* starts past the end */
		sector = d->sectors + 8;
		break;
	case 2:	/* wraps around */
		sector = ~0ULL - 3;
		break;
	case 3:	/* the last page, good */
		sector = d->sectors - 8;
		want = BLKIF_RSP_OKAY;
		break;
	}
	rw_req(r, op, sector, 0, 1, id);
	expect(d, c->name, do_one(r, id, op, 10000, d), want);
	good_after(d, c->name);
}

/* Hostile grant references in a direct request. */
static void c_gref(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	struct blkif_request *req;
	struct page *pg = NULL;
	u64 id = ++d->next_id;
	u8 op = c->arg & 1 ? BLKIF_OP_WRITE : BLKIF_OP_READ;
	int want = BLKIF_RSP_ERROR, st, ref = -1;
	bool revoked = false;

	if (op == BLKIF_OP_WRITE && ro_vbd(d)) {
		hf_ok(d, "%s # SKIP read-only vbd", c->name);
		return;
	}
	req = rw_req(r, op, pick_sector(d, 16), 0, 3, id);
	switch (c->arg >> 1) {
	case 0:	/* beyond any grant table */
		req->u.rw.seg[1].gref = HF_BAD_GREF;
		break;
	case 1:	/* a grant that was ended */
		pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
		ref = gnttab_grant_foreign_access(d->xdev->otherend_id,
						  xen_page_to_gfn(pg), 0);
		gnttab_end_foreign_access_ref(ref);
		gnttab_free_grant_reference(ref);
		req->u.rw.seg[2].gref = ref;
		ref = -1;
		break;
	case 2:	/* granted to another domain */
		pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
		ref = gnttab_grant_foreign_access(HF_OTHER_DOMID,
						  xen_page_to_gfn(pg), 0);
		req->u.rw.seg[0].gref = ref;
		break;
	case 3:	/* granted read-only */
		pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
		ref = gnttab_grant_foreign_access(d->xdev->otherend_id,
						  xen_page_to_gfn(pg), 1);
		req->u.rw.seg[0].gref = ref;
		/*
		 * A write only reads the page: a transient mapping may be
		 * read-only, a persistent one is always writable (blkback too).
		 */
		if (op == BLKIF_OP_WRITE && !d->persistent)
			want = BLKIF_RSP_OKAY;
		break;
	case 4:	/* revoked right after the push (in flight) */
		pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
		ref = gnttab_grant_foreign_access(d->xdev->otherend_id,
						  xen_page_to_gfn(pg), 0);
		req->u.rw.seg[1].gref = ref;
		push(r);
		revoked = gnttab_try_end_foreign_access(ref);
		break;
	}
	if (revoked || c->arg >> 1 == 4) {
		struct blkif_response rsp;

		st = collect(r, &rsp, 1, 10000) ? rsp.status : HF_RSP_TIMEOUT;
		hf_note(d, "%s: grant %s before the backend mapped it, answered %s",
			c->name, revoked ? "ended" : "still in use",
			rsp_name(st));
		/*
		 * Ending a grant succeeds only while nobody maps it: after
		 * that every map fails.  OKAY therefore means the backend
		 * mapped (and, transiently, unmapped) it before; both are
		 * right, what matters is an answer and a healthy backend.
		 */
		hf_check(d, st == BLKIF_RSP_ERROR || st == BLKIF_RSP_OKAY,
			 "%s: backend answers ERROR, or OKAY if it used the grant before it was ended (got %s)",
			 c->name, rsp_name(st));
		if (revoked) {
			put_page(pg);
			pg = NULL;
		}
	} else {
		expect(d, c->name, do_one(r, id, op, 10000, d), want);
	}
	if (ref >= 0 && pg) {
		gnttab_end_foreign_access(ref, pg);	/* frees pg later */
		pg = NULL;
	}
	if (pg)
		put_page(pg);
	good_after(d, c->name);
}

/* Indirect requests. */
static const u8 bad_inner[] = {
	BLKIF_OP_DISCARD, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_INDIRECT, 99,
};

static void c_ind(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	struct blkif_request *req;
	struct blkif_request_segment *seg = page_address(d->ipage[0]);
	u64 id = ++d->next_id;
	u8 op = BLKIF_OP_READ, echo = BLKIF_OP_READ;
	int want = BLKIF_RSP_ERROR;

	if (!d->max_indirect) {
		hf_ok(d, "%s # SKIP no feature-max-indirect-segments", c->name);
		return;
	}
	req = ind_req(r, op, pick_sector(d, 16), 16, 4, id);
	switch (c->arg) {
	case 0:	/* nr_segments 0 */
		req->u.indirect.nr_segments = 0;
		break;
	case 1:	/* one above what the backend offered */
		r->fr.req_prod_pvt--;
		req = ind_req(r, op, pick_sector(d, 512), 0, d->max_indirect + 1, id);
		break;
	case 2:	/* more indirect pages than a request has */
		r->fr.req_prod_pvt--;
		req = ind_req(r, op, 0, 0,
			      BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * HF_SEGS_PER_IPAGE + 1,
			      id);
		break;
	case 3:	/* garbage in the indirect page */
		get_random_bytes(seg, 4 * sizeof(*seg));
		seg[0].first_sect = 6;
		seg[0].last_sect = 1;
		break;
	case 4:	/* last_sect 8 in the indirect page */
		seg[3].last_sect = 8;
		break;
	case 5:	/* an invalid data grant in the indirect page */
		seg[2].gref = HF_BAD_GREF;
		break;
	case 6:	/* an invalid indirect page grant */
		req->u.indirect.indirect_grefs[0] = HF_BAD_GREF;
		break;
	case 7:	/* inner op not read/write */
	case 8:
	case 9:
	case 10:
		echo = bad_inner[c->arg - 7];
		req->u.indirect.indirect_op = echo;
		break;
	case 11:	/* the indirect page granted to another domain */
		req->u.indirect.indirect_grefs[0] = 0;
		break;
	case 12:	/* good: the maximum the backend offered */
		r->fr.req_prod_pvt--;
		req = ind_req(r, op, pick_sector(d, 512), 0,
			      min_t(unsigned int, d->max_indirect, 512), id);
		want = BLKIF_RSP_OKAY;
		break;
	}
	if (c->arg == 11) {
		struct page *pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
		int ref = gnttab_grant_foreign_access(HF_OTHER_DOMID,
						      xen_page_to_gfn(pg), 0);

		memcpy(page_address(pg), seg, PAGE_SIZE);
		req->u.indirect.indirect_grefs[0] = ref;
		expect(d, c->name, do_one(r, id, echo, 10000, d), want);
		gnttab_end_foreign_access(ref, pg);
	} else {
		expect(d, c->name, do_one(r, id, echo, 10000, d), want);
	}
	good_after(d, c->name);
}

/* Operations other than read/write. */
static void c_op(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	struct blkif_request *req;
	u64 id = ++d->next_id;
	int want = BLKIF_RSP_EOPNOTSUPP;
	u8 op;

	req = next_req(r);
	switch (c->arg) {
	case 0:					/* BLKIF_OP_RESERVED_1 */
		op = 4;
		break;
	case 1:
		op = 7;
		break;
	case 2:
		op = 99;
		break;
	case 3:
		op = 255;
		break;
	case 4:					/* flush, no data */
		op = BLKIF_OP_FLUSH_DISKCACHE;
		want = BLKIF_RSP_OKAY;
		break;
	default:				/* barrier, no data */
		op = BLKIF_OP_WRITE_BARRIER;
		want = BLKIF_RSP_OKAY;
		break;
	}
	req->operation = op;
	if (op <= BLKIF_OP_FLUSH_DISKCACHE) {
		req->u.rw.id = id;
		req->u.rw.nr_segments = 0;
	} else {
		req->u.other.id = id;
	}
	expect(d, c->name, do_one(r, id, op, 10000, d), want);
	good_after(d, c->name);
}

/* Discard. */
static void c_discard(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	struct blkif_request *req;
	u64 id = ++d->next_id;
	int want;

	req = next_req(r);
	req->operation = BLKIF_OP_DISCARD;
	req->u.discard.id = id;
	req->u.discard.sector_number = pick_sector(d, 16);
	req->u.discard.nr_sectors = 64;
	switch (c->arg) {
	case 0:	/* inside the disk */
		want = BLKIF_RSP_OKAY;
		break;
	case 1:	/* past the end */
		req->u.discard.sector_number = d->sectors - 8;
		req->u.discard.nr_sectors = 64;
		want = BLKIF_RSP_ERROR;
		break;
	case 2:	/* wrapping */
		req->u.discard.sector_number = 8;
		req->u.discard.nr_sectors = ~0ULL - 2;
		want = BLKIF_RSP_ERROR;
		break;
	default: /* secure flag although discard-secure is not offered */
		req->u.discard.flag = BLKIF_DISCARD_SECURE;
		want = BLKIF_RSP_OKAY;
		if (xenbus_read_unsigned(d->xdev->otherend, "discard-secure", 0))
			hf_note(d, "discard-secure offered");
		break;
	}
	/* Without feature-discard every discard is unsupported. */
	if (!d->discard)
		want = BLKIF_RSP_EOPNOTSUPP;
	/* On a read-only vbd, a supported discard is a write: refused. */
	else if (ro_vbd(d) && want == BLKIF_RSP_OKAY)
		want = BLKIF_RSP_ERROR;
	hf_note(d, "%s: feature-discard %d, read-only %d", c->name, d->discard,
		ro_vbd(d));
	expect(d, c->name, do_one(r, id, BLKIF_OP_DISCARD, 10000, d), want);
	good_after(d, c->name);
}

/* Writes to a read-only vbd (also a direct check of the info bit). */
static void c_rowrite(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	u64 id = ++d->next_id;

	hf_check(d, ro_vbd(d), "%s: backend reports VDISK_READONLY in info (%#x)",
		 c->name, d->info);
	if (c->arg)
		ind_req(r, BLKIF_OP_WRITE, pick_sector(d, 16), 0, 16, id);
	else
		rw_req(r, BLKIF_OP_WRITE, pick_sector(d, 16), 0, 4, id);
	expect(d, c->name, do_one(r, id, BLKIF_OP_WRITE, 10000, d),
	       BLKIF_RSP_ERROR);
	good_after(d, c->name);
}

/* A whole ring of requests at once, every one answered. */
static void c_fullring(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	unsigned int i, n = RING_SIZE(&r->fr), got, good = 0;
	struct blkif_response *rsp;
	struct blkif_request *req;
	u64 base = d->next_id + 1;

	rsp = kcalloc(n, sizeof(*rsp), GFP_KERNEL);
	if (!rsp)
		return;
	for (i = 0; i < n; i++) {
		req = next_req(r);
		if (c->arg) {	/* mixed: reads of one page */
			r->fr.req_prod_pvt--;
			req = rw_req(r, BLKIF_OP_READ, pick_sector(d, 16),
				     i % HF_NDATA, 1, base + i);
		} else {
			req->operation = 99;
			req->u.other.id = base + i;
		}
	}
	d->next_id += n;
	push(r);
	got = collect(r, rsp, n, 20000);
	for (i = 0; i < got; i++)
		if (rsp[i].id >= base && rsp[i].id < base + n &&
		    rsp[i].status == (c->arg ? BLKIF_RSP_OKAY : BLKIF_RSP_EOPNOTSUPP))
			good++;
	hf_check(d, got == n && good == n,
		 "%s: all %u requests of a full ring answered %s (%u answered, %u as expected)",
		 c->name, n, c->arg ? "OKAY" : "EOPNOTSUPP", got, good);
	kfree(rsp);
	good_after(d, c->name);
}

/* req_prod lies: the backend must stop serving the ring, then reconnect. */
static void c_prod(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	struct blkif_sring *s = r->va;
	struct blkif_response rsp;
	unsigned int got;
	int st;

	rw_req(r, BLKIF_OP_READ, pick_sector(d, 16), 0, 1, ++d->next_id);
	push(r);
	collect(r, &rsp, 1, 10000);
	switch (c->arg) {
	case 0:	/* more than a ring ahead */
		WRITE_ONCE(s->req_prod, r->fr.req_prod_pvt + RING_SIZE(&r->fr) + 1);
		break;
	case 1:	/* far ahead */
		WRITE_ONCE(s->req_prod, r->fr.req_prod_pvt + 0x40000000U);
		break;
	default: /* backwards */
		WRITE_ONCE(s->req_prod, r->fr.req_prod_pvt - 1);
		break;
	}
	virt_wmb();	/* the bogus req_prod before the event */
	notify_remote_via_irq(r->irq);
	got = collect(r, &rsp, 1, 2000);
	st = be_state(d);
	hf_check(d, !got, "%s: backend stops serving the ring (no response; %u seen)",
		 c->name, got);
	hf_note(d, "%s: backend state %d after the bogus req_prod", c->name, st);
	hf_check(d, st == XenbusStateConnected || st == XenbusStateClosing,
		 "%s: backend halts the ring or goes Closing, as blkback (state %d)",
		 c->name, st);
	reconnect_after(d, c->name);
}

/* An event-channel storm, without and with requests in flight. */
static void c_storm(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	struct blkif_response rsp[8];
	unsigned int i, n = 0, got = 0;
	unsigned long t0 = jiffies;

	if (c->arg) {
		for (i = 0; i < 8; i++)
			rw_req(r, BLKIF_OP_READ, pick_sector(d, 16), i, 1,
			       ++d->next_id);
		n = 8;
		RING_PUSH_REQUESTS(&r->fr);
	}
	for (i = 0; i < 20000; i++) {
		notify_remote_via_irq(r->irq);
		if (!(i % 256))
			cond_resched();
	}
	if (n)
		got = collect(r, rsp, n, 20000);
	hf_note(d, "%s: 20000 events in %u ms", c->name,
		jiffies_to_msecs(jiffies - t0));
	hf_check(d, got == n, "%s: %u requests in flight answered (%u)", c->name,
		 n, got);
	good_after(d, c->name);
}

/* Close with requests in flight, then reconnect. */
static void c_close_inflight(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_ring *r = ring0(d);
	unsigned int i, n = RING_SIZE(&r->fr);
	int st;

	for (i = 0; i < n; i++) {
		if (ro_vbd(d) || (i & 1))
			rw_req(r, BLKIF_OP_READ, pick_sector(d, 16), i % HF_NDATA,
			       4, ++d->next_id);
		else
			rw_req(r, BLKIF_OP_WRITE, pick_sector(d, 16), i % HF_NDATA,
			       4, ++d->next_id);
	}
	push(r);
	if (c->arg)	/* straight to Closed, no Closing */
		set_state(d, XenbusStateClosed);
	hf_disconnect(d, true);
	st = hf_connect(d, &hf_default);
	hf_check(d, st == XenbusStateConnected,
		 "%s: reconnect after closing with %u requests in flight (state %d)",
		 c->name, n, st);
	if (st == XenbusStateConnected)
		good_after(d, c->name);
}

/* ---- negotiation cases (manage the connection themselves) ---- */

static void c_nego(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_params p = hf_default;
	bool good = false;
	int st;

	/* The backend writes its maxima once, at probe. */
	d->max_order = xenbus_read_unsigned(d->xdev->otherend, "max-ring-page-order", 0);
	d->max_queues = xenbus_read_unsigned(d->xdev->otherend,
					     "multi-queue-max-queues", 1);
	switch (c->arg) {
	case 0:	/* ring-page-order above the maximum */
		p.order = d->max_order + 1;
		p.order_key = true;
		break;
	case 1:	/* ring-page-order way above */
		p.order = 4;
		p.order_key = true;
		p.nq = 1;
		break;
	case 2:	/* multi-queue-num-queues 0 */
		p.nq_key = true;
		p.nq_val = 0;
		break;
	case 3:	/* multi-queue-num-queues huge */
		p.nq_key = true;
		p.nq_val = 1000000;
		break;
	case 4:	/* one above multi-queue-max-queues */
		p.nq_key = true;
		p.nq_val = d->max_queues + 1;
		break;
	case 5:	/* unknown protocol */
		p.protocol = "sparc64-abi";
		break;
	case 6:	/* missing ring-ref */
		p.no_ring_ref = true;
		break;
	case 7:	/* missing event-channel */
		p.no_evtchn = true;
		break;
	case 8:	/* an event channel that is not bound */
		p.bogus_evtchn = true;
		break;
	case 9:	/* a ring grant that does not exist */
		p.bad_ring_ref = true;
		break;
	case 10: /* two queues announced, the second one missing */
		p.nq = 2;
		p.skip_last_queue = true;
		break;
	case 11: /* ring-ref0.. missing with ring-page-order */
		p.order = 1;
		p.order_key = true;
		p.no_ring_ref = true;
		break;
	case 12: /* a frontend state that does not exist */
		p.bogus_state = 9;
		break;
	case 13: /* good: the most ring pages offered */
		p.order = d->max_order;
		p.order_key = true;
		good = true;
		break;
	case 14: /* good: two queues */
		p.nq = 2;
		good = true;
		break;
	case 15: /* good: the most queues offered */
		p.nq = min_t(unsigned int, d->max_queues, HF_MAXQ);
		p.order = min_t(unsigned int, d->max_order, 1);
		p.order_key = true;
		good = true;
		break;
	case 16: /* good: no protocol node (native) */
		p.no_protocol = true;
		good = true;
		break;
	case 17: /* good: explicit x86_64-abi */
		p.protocol = XEN_IO_PROTO_ABI_X86_64;
		good = true;
		break;
	case 18: /* good: Connected without Initialised */
		p.direct_connected = true;
		good = true;
		break;
	case 19: /* good: ring-page-order 0 written explicitly */
		p.order = 0;
		p.order_key = true;
		good = true;
		break;
	}
	if (d->connected || be_state(d) != XenbusStateInitWait)
		hf_disconnect(d, false);
	st = hf_connect(d, &p);
	if (good) {
		hf_check(d, st == XenbusStateConnected,
			 "%s: backend connects (state %d)", c->name, st);
		if (st == XenbusStateConnected)
			good_after(d, c->name);
		return;
	}
	hf_check(d, st == XenbusStateClosing || st == XenbusStateClosed,
		 "%s: backend refuses the connection, goes Closing (state %d)",
		 c->name, st);
	if (st == XenbusStateConnected)
		d->connected = true;
	reconnect_after(d, c->name);
}

/* feature-persistent flipped between connections; data survives. */
static void c_persist_flip(struct hf_dev *d, const struct hf_case *c)
{
	struct hf_params p = hf_default;
	static const int seq[] = { 1, 0, 1, 0 };
	unsigned int k, i, n = 8;
	u64 id, sector = 0;
	u32 seed = 0;
	int st, err = 0;

	for (k = 0; k < ARRAY_SIZE(seq); k++) {
		hf_disconnect(d, false);
		p.persistent = seq[k];
		st = hf_connect(d, &p);
		if (st != XenbusStateConnected) {
			hf_fail(d, "%s: connect %u with feature-persistent=%d (state %d)",
				c->name, k, seq[k], st);
			return;
		}
		/* Read back what the previous connection wrote. */
		if (k) {
			id = ++d->next_id;
			rw_req(ring0(d), BLKIF_OP_READ, sector, 16, n, id);
			st = do_one(ring0(d), id, BLKIF_OP_READ, 10000, d);
			err = st;
			for (i = 0; i < n && !err; i++) {
				fill(d->data[i], sector + i * 8, seed);
				if (!same(d->data[i], d->data[16 + i]))
					err = -EIO;
			}
			hf_check(d, !err,
				 "%s: connection %u (feature-persistent=%d) reads what %u (%d) wrote (%d)",
				 c->name, k, seq[k], k - 1, seq[k - 1], err);
		}
		sector = pick_sector(d, 16);
		seed = get_random_u32();
		for (i = 0; i < n; i++)
			fill(d->data[i], sector + i * 8, seed);
		id = ++d->next_id;
		rw_req(ring0(d), BLKIF_OP_WRITE, sector, 0, n, id);
		st = do_one(ring0(d), id, BLKIF_OP_WRITE, 10000, d);
		if (st) {
			hf_fail(d, "%s: write on connection %u: %s", c->name, k,
				rsp_name(st));
			return;
		}
	}
	good_after(d, c->name);
	hf_disconnect(d, false);
	hf_connect(d, &hf_default);
}

/* Plain frontend reconnect, several times. */
static void c_reconnect(struct hf_dev *d, const struct hf_case *c)
{
	unsigned int k;
	int st;

	for (k = 0; k < 3; k++) {
		hf_disconnect(d, k == 0);
		st = hf_connect(d, &hf_default);
		if (st != XenbusStateConnected) {
			hf_fail(d, "%s: reconnect %u (state %d)", c->name, k, st);
			return;
		}
	}
	good_after(d, c->name);
}

/*
 * Close and leave the vbd unconnected (backend in InitWait) until a later
 * case: the scenario changes something in dom0 meanwhile.
 */
static void c_close(struct hf_dev *d, const struct hf_case *c)
{
	hf_check(d, !hf_disconnect(d, true),
		 "%s: frontend closed, backend back in InitWait", c->name);
}

/*
 * Close with nothing in flight, right after good I/O (direct and indirect:
 * persistent grants and indirect pages mapped, every request answered):
 * when the backend reports Closed, not one grant may still be mapped.
 * Leaves the vbd in InitWait, as swap-close.  close-idle-now (arg 1) does
 * no I/O of its own: it follows a good-io while the scenario holds the
 * backing device suspended, which stalls any teardown that waits for the
 * device (a cache flush) before it unmaps: such a backend is caught every
 * time, not only when its worker happens to be slow.
 */
static void c_close_idle(struct hf_dev *d, const struct hf_case *c)
{
	if (!c->arg)
		good_after(d, c->name);
	hf_check(d, hf_idle(d), "%s: every request answered before closing",
		 c->name);
	hf_note(d, "%s: closing a connection with persistent grants %s",
		c->name, d->persistent ? "on" : "off");
	hf_check(d, !hf_disconnect(d, true),
		 "%s: frontend closed, backend back in InitWait", c->name);
}

/*
 * The disk behind the vbd was deleted while the frontend was away and
 * another disk now has its dev_t: the backend must not serve that one.
 */
static void c_connect_refused(struct hf_dev *d, const struct hf_case *c)
{
	int st = hf_connect(d, &hf_default);

	hf_check(d, st != XenbusStateConnected,
		 "%s: backend refuses to connect (state %d)", c->name,
		 st < 0 ? -st - 100 : st);
	if (st == XenbusStateConnected)
		hf_note(d, "connected to a disk of %llu sectors", d->sectors);
}

static const struct hf_case hf_cases[] = {
	{ "good-io", c_good },
	{ "seg-nr0-read", c_seg, 0 },
	{ "seg-nr0-write", c_seg, 1 },
	{ "seg-nr-max+1", c_seg, 2 },
	{ "seg-nr-255", c_seg, 3 },
	{ "seg-first>last", c_seg, 4 },
	{ "seg-last-sect-8", c_seg, 5 },
	{ "seg-sect-200-255", c_seg, 6 },
	{ "seg-one-sector-ok", c_seg, 7 },
	{ "seg-write-first>last", c_seg, 8 },
	{ "seg-nr-max-ok", c_seg, 9 },
	{ "range-read-last-sector", c_range, 0 },
	{ "range-write-last-sector", c_range, 1 },
	{ "range-read-past-end", c_range, 2 },
	{ "range-write-past-end", c_range, 3 },
	{ "range-read-wrap", c_range, 4 },
	{ "range-read-last-page-ok", c_range, 6 },
	{ "gref-invalid-read", c_gref, 0 },
	{ "gref-invalid-write", c_gref, 1 },
	{ "gref-ended-read", c_gref, 2 },
	{ "gref-other-domid-read", c_gref, 4 },
	{ "gref-other-domid-write", c_gref, 5 },
	{ "gref-readonly-read", c_gref, 6 },
	{ "gref-readonly-write", c_gref, 7 },
	{ "gref-revoked-inflight-write", c_gref, 9 },
	{ "gref-revoked-inflight-read", c_gref, 8 },
	{ "ind-nr0", c_ind, 0 },
	{ "ind-nr-max+1", c_ind, 1 },
	{ "ind-too-many-pages", c_ind, 2 },
	{ "ind-garbage-segs", c_ind, 3 },
	{ "ind-last-sect-8", c_ind, 4 },
	{ "ind-invalid-data-gref", c_ind, 5 },
	{ "ind-invalid-page-gref", c_ind, 6 },
	{ "ind-op-discard", c_ind, 7 },
	{ "ind-op-flush", c_ind, 8 },
	{ "ind-op-indirect", c_ind, 9 },
	{ "ind-op-99", c_ind, 10 },
	{ "ind-page-other-domid", c_ind, 11 },
	{ "ind-max-ok", c_ind, 12 },
	{ "op-reserved-4", c_op, 0 },
	{ "op-7", c_op, 1 },
	{ "op-99", c_op, 2 },
	{ "op-255", c_op, 3 },
	{ "op-flush-ok", c_op, 4 },
	{ "op-barrier-ok", c_op, 5 },
	{ "discard-ok", c_discard, 0 },
	{ "discard-past-end", c_discard, 1 },
	{ "discard-wrap", c_discard, 2 },
	{ "discard-secure-flag", c_discard, 3 },
	{ "ro-write", c_rowrite, 0 },
	{ "ro-write-indirect", c_rowrite, 1 },
	{ "full-ring-unknown-ops", c_fullring, 0 },
	{ "full-ring-reads", c_fullring, 1 },
	{ "storm-idle", c_storm, 0 },
	{ "storm-inflight", c_storm, 1 },
	{ "prod-ring-ahead", c_prod, 0 },
	{ "prod-far-ahead", c_prod, 1 },
	{ "prod-backwards", c_prod, 2 },
	{ "close-inflight", c_close_inflight, 0 },
	{ "closed-inflight-no-closing", c_close_inflight, 1 },
	{ "close-idle", c_close_idle, 0 },
	{ "close-idle-now", c_close_idle, 1 },
	{ "xs-order-max+1", c_nego, 0, true },
	{ "xs-order-4", c_nego, 1, true },
	{ "xs-queues-0", c_nego, 2, true },
	{ "xs-queues-huge", c_nego, 3, true },
	{ "xs-queues-max+1", c_nego, 4, true },
	{ "xs-protocol-unknown", c_nego, 5, true },
	{ "xs-no-ring-ref", c_nego, 6, true },
	{ "xs-no-event-channel", c_nego, 7, true },
	{ "xs-evtchn-unbound", c_nego, 8, true },
	{ "xs-ring-ref-invalid", c_nego, 9, true },
	{ "xs-queue1-missing", c_nego, 10, true },
	{ "xs-order1-no-ring-refs", c_nego, 11, true },
	{ "xs-state-bogus", c_nego, 12, true },
	{ "xs-order-max-ok", c_nego, 13, true },
	{ "xs-queues-2-ok", c_nego, 14, true },
	{ "xs-queues-max-ok", c_nego, 15, true },
	{ "xs-no-protocol-ok", c_nego, 16, true },
	{ "xs-protocol-x86_64-ok", c_nego, 17, true },
	{ "xs-direct-connected-ok", c_nego, 18, true },
	{ "xs-order0-key-ok", c_nego, 19, true },
	{ "np-good-io", c_good, 0, false, true },
	{ "np-gref-readonly-write", c_gref, 7, false, true },
	{ "np-gref-readonly-read", c_gref, 6, false, true },
	{ "np-gref-other-domid-write", c_gref, 5, false, true },
	{ "np-gref-revoked-inflight-write", c_gref, 9, false, true },
	{ "np-ind-garbage-segs", c_ind, 3, false, true },
	{ "np-ind-page-other-domid", c_ind, 11, false, true },
	{ "persistent-flip", c_persist_flip, 0, true },
	{ "reconnect", c_reconnect, 0, true },
	{ "swap-close", c_close, 0, true },
	{ "swap-connect-refused", c_connect_refused, 0, true },
};

/* ---- fuzz mode ---- */

/*
 * Writing "SEED SECONDS [FROM [ROUNDS]]" to .../<devid>/fuzz runs the
 * fuzzer on that vbd for SECONDS (or ROUNDS rounds), starting at round
 * FROM.  Round N of seed S draws everything from its own generator (seeded
 * from S and N), so the same seed gives the same sequence of requests, and
 * "S 0 N 1" replays round N alone (from the default connection).
 *
 * A round is two batches on one ring, each of random and mutated requests
 * with one valid request among them: a write of patterned pages to the
 * verification region (the first HF_FZ_SLOTS pages of the disk, which no
 * fuzzed request may touch), then a read of it, compared.  At a lower rate
 * a round instead lies about req_prod, closes with requests in flight,
 * reconnects with random ring-page-order / num-queues / protocol /
 * feature-persistent values or with values the backend must refuse.
 * Every request needs an answer within HF_FZ_RSP_MS (else: a hang).
 * Failures are "not ok" lines naming the seed and round; the counts end
 * as "ok" lines in .../result.
 */
#define HF_FZ_VSRC	0	/* data[0..7]: valid write source */
#define HF_FZ_VDST	8	/* data[8..15]: valid read destination */
#define HF_FZ_POOL	16	/* data[16..31]: fuzzed requests' pages */
#define HF_FZ_VMAX	8	/* pages per valid request */
#define HF_FZ_SLOTS	256	/* verification region, pages */
#define HF_FZ_VSECT	(HF_FZ_SLOTS * 8)
#define HF_FZ_MAXB	24	/* fuzzed requests per batch at most */
#define HF_FZ_NSPEC	48	/* special grants per batch */
#define HF_FZ_NOUT	64	/* requests in flight at most */
#define HF_FZ_MAXFAIL	24	/* failure lines kept */
#define HF_FZ_RSP_MS	20000
/* Grant references at and above this are beyond any grant table. */
#define HF_FZ_BAD_MIN	0x10000000U

enum { FZ_OKAY, FZ_ERROR, FZ_EOPNOTSUPP, FZ_OTHER };

struct hf_spec {
	int ref;
	struct page *pg;
	bool revoke;		/* end access right after the push */
};

struct hf_fz {
	u64 seed, round, s;
	u64 reqs, fuzzed, valid, verified, rsp[4];
	u64 reconnects, refused, lies, storms, closes, proto32, stale;
	u64 mutated, indirect, specials, batches;
	u64 hangs, unknown_ids, bad_valid, mismatches, failures;
	u32 tag[HF_FZ_SLOTS];
	struct hf_spec spec[HF_FZ_NSPEC];
	unsigned int nspec;
	u64 out[HF_FZ_NOUT];	/* ids of the slots pushed, not answered */
	unsigned int nout;
	u64 vid;		/* id of this batch's valid request */
	u8 vop;
	int vst;		/* its status, HF_RSP_TIMEOUT until answered */
	bool abort;
};

static u64 fz_mix(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static u64 fz_next(struct hf_fz *z)
{
	z->s ^= z->s >> 12;
	z->s ^= z->s << 25;
	z->s ^= z->s >> 27;
	return z->s * 0x2545f4914f6cdd1dULL;
}

static u32 fz_below(struct hf_fz *z, u32 n)
{
	return n ? (u32)(fz_next(z) >> 32) % n : 0;
}

static bool fz_pct(struct hf_fz *z, u32 pct)
{
	return fz_below(z, 100) < pct;
}

static __printf(2, 3) void fz_fail(struct hf_dev *d, const char *fmt, ...)
{
	struct hf_fz *z = d->fz;
	char buf[160];
	va_list ap;

	z->failures++;
	if (z->failures > HF_FZ_MAXFAIL)
		return;
	va_start(ap, fmt);
	vscnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	hf_fail(d,
		"fuzz seed %llu round %llu: %s (replay: FUZZ_SEED=%llu FUZZ_FROM=%llu FUZZ_ROUNDS=1)",
		z->seed, z->round, buf, z->seed, z->round);
	pr_warn("xen_hostile: fuzz seed %llu round %llu: %s\n", z->seed, z->round, buf);
}

/* Is @ref one a fuzzed request may name (never a ring, valid or toolstack page)? */
static bool fz_allowed(struct hf_dev *d, u32 ref)
{
	struct hf_fz *z = d->fz;
	unsigned int i;

	if (ref >= HF_FZ_BAD_MIN)
		return true;
	for (i = HF_FZ_POOL; i < HF_NDATA; i++)
		if (ref == d->dref[i])
			return true;
	for (i = 1; i < HF_NIPAGES; i++)
		if (ref == d->iref[i])
			return true;
	for (i = 0; i < z->nspec; i++)
		if (ref == (u32)z->spec[i].ref)
			return true;
	return false;
}

static u32 fz_pool_ref(struct hf_dev *d, struct hf_fz *z)
{
	return d->dref[HF_FZ_POOL + fz_below(z, HF_NDATA - HF_FZ_POOL)];
}

/*
 * The pool grant standing in for a reference a fuzzed request may not
 * name.  Whether one may depends on the grant numbers of this boot, so
 * the replacement draws nothing from the generator: the sequence stays
 * the seed's.
 */
static u32 fz_replace_ref(struct hf_dev *d, u32 ref)
{
	return d->dref[HF_FZ_POOL + ref % (HF_NDATA - HF_FZ_POOL)];
}

/* A page granted for one batch: read-only, to another domain, or revoked. */
static u32 fz_special(struct hf_dev *d, struct hf_fz *z, unsigned int kind)
{
	domid_t be = d->xdev->otherend_id;
	struct hf_spec *sp;
	struct page *pg;
	int ref;

	if (z->nspec >= HF_FZ_NSPEC)
		return HF_BAD_GREF;
	pg = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!pg)
		return HF_BAD_GREF;
	ref = gnttab_grant_foreign_access(kind == 2 ? HF_OTHER_DOMID : be,
					  xen_page_to_gfn(pg), kind == 1);
	if (ref < 0) {
		__free_page(pg);
		return HF_BAD_GREF;
	}
	z->specials++;
	if (kind == 0) {	/* ended before the push */
		gnttab_end_foreign_access_ref(ref);
		gnttab_free_grant_reference(ref);
		__free_page(pg);
		pg = NULL;
	}
	sp = &z->spec[z->nspec++];
	sp->ref = ref;
	sp->pg = pg;
	sp->revoke = kind == 3;
	return ref;
}

static u32 fz_gref(struct hf_dev *d, struct hf_fz *z)
{
	u32 k = fz_below(z, 100);

	if (k < 80)
		return fz_pool_ref(d, z);
	if (k < 86)
		return HF_FZ_BAD_MIN + fz_below(z, 0x6fffffff);
	return fz_special(d, z, (k - 86) % 4);
}

static void fz_seg(struct hf_dev *d, struct hf_fz *z, struct blkif_request_segment *seg)
{
	seg->gref = fz_gref(d, z);
	if (fz_pct(z, 85)) {
		seg->first_sect = fz_below(z, 8);
		seg->last_sect = seg->first_sect + fz_below(z, 8 - seg->first_sect);
	} else {
		seg->first_sect = fz_below(z, 256);
		seg->last_sect = fz_below(z, 256);
	}
}

/* A start sector: mostly in range (past the verification region), else not. */
static u64 fz_sector(struct hf_dev *d, struct hf_fz *z)
{
	u64 room = d->sectors > HF_FZ_VSECT + 1024 ? d->sectors - HF_FZ_VSECT - 1024 : 1;
	u32 k = fz_below(z, 100);

	if (k < 70)
		return HF_FZ_VSECT + fz_next(z) % room;
	if (k < 78)
		return d->sectors - 1 - fz_below(z, 16);
	if (k < 86)
		return d->sectors + fz_below(z, 4096);
	if (k < 93)
		return fz_next(z);
	return ~0ULL - fz_below(z, 16);
}

static u8 fz_other_op(struct hf_fz *z)
{
	static const u8 ops[] = { 4, 7, 8, 9, 16, 99, 127, 128, 255 };
	u32 k = fz_below(z, ARRAY_SIZE(ops) + 1);

	return k < ARRAY_SIZE(ops) ? ops[k] : fz_below(z, 256);
}

/* Fill fuzzed indirect page @i with segments, valid-looking or garbage. */
static void fz_ipage(struct hf_dev *d, struct hf_fz *z, unsigned int i)
{
	struct blkif_request_segment *seg = page_address(d->ipage[i]);
	unsigned int k, n = HF_SEGS_PER_IPAGE;

	if (fz_pct(z, 20)) {
		for (k = 0; k < n; k++) {
			u64 v = fz_next(z);

			memcpy(&seg[k], &v, sizeof(seg[k]));
			if (!fz_allowed(d, seg[k].gref))
				seg[k].gref = fz_replace_ref(d, seg[k].gref);
		}
		return;
	}
	/* Only the first entries vary: keep a batch cheap under TCG. */
	for (k = 0; k < 32; k++)
		fz_seg(d, z, &seg[k]);
}

/* Segments of every fuzzed indirect page point at pool pages. */
static void fz_ipages_reset(struct hf_dev *d)
{
	struct blkif_request_segment *seg;
	unsigned int i, k;

	for (i = 1; i < HF_NIPAGES; i++) {
		seg = page_address(d->ipage[i]);
		for (k = 0; k < HF_SEGS_PER_IPAGE; k++) {
			seg[k].gref = d->dref[HF_FZ_POOL + k % (HF_NDATA - HF_FZ_POOL)];
			seg[k].first_sect = 0;
			seg[k].last_sect = 7;
		}
	}
}

/* One fuzzed request in the next slot of @r. */
static void fz_request(struct hf_dev *d, struct hf_fz *z, struct hf_ring *r)
{
	struct blkif_request *req = next_req(r);
	u32 k = fz_below(z, 100), i, n, npg;
	u8 *b = (u8 *)req;

	z->fuzzed++;
	req->u.rw.id = ++d->next_id;
	req->u.rw.sector_number = fz_sector(d, z);
	if (k < 50 || k >= 90) {		/* direct read, write, barrier */
		u32 o = fz_below(z, 10);

		req->operation = o < 5 ? BLKIF_OP_READ : o < 9 ? BLKIF_OP_WRITE :
				 BLKIF_OP_WRITE_BARRIER;
		n = fz_pct(z, 85) ? 1 + fz_below(z, BLKIF_MAX_SEGMENTS_PER_REQUEST) :
		    fz_below(z, 256);
		req->u.rw.nr_segments = n;
		for (i = 0; i < n && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
			fz_seg(d, z, &req->u.rw.seg[i]);
	} else if (k < 57) {			/* flush or barrier, no data */
		req->operation = fz_pct(z, 60) ? BLKIF_OP_FLUSH_DISKCACHE :
				 BLKIF_OP_WRITE_BARRIER;
		req->u.rw.nr_segments = fz_pct(z, 80) ? 0 : fz_below(z, 12);
		for (i = 0; i < req->u.rw.nr_segments && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
			fz_seg(d, z, &req->u.rw.seg[i]);
	} else if (k < 65) {			/* discard */
		req->operation = BLKIF_OP_DISCARD;
		req->u.discard.flag = fz_pct(z, 80) ? 0 : fz_below(z, 256);
		req->u.discard.nr_sectors = fz_pct(z, 80) ? 1 + fz_below(z, 4096) :
					    fz_next(z);
	} else if (k < 82) {			/* indirect */
		u32 o = fz_below(z, 10);

		z->indirect++;
		req->operation = BLKIF_OP_INDIRECT;
		req->u.indirect.indirect_op = o < 4 ? BLKIF_OP_READ : o < 8 ? BLKIF_OP_WRITE :
					      fz_other_op(z);
		n = fz_pct(z, 80) ? 1 + fz_below(z, max(d->max_indirect, 1U)) :
		    fz_pct(z, 50) ? d->max_indirect + fz_below(z, 8) : fz_below(z, 65536);
		req->u.indirect.nr_segments = n;
		npg = min_t(u32, DIV_ROUND_UP(n, HF_SEGS_PER_IPAGE),
			    BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
		for (i = 0; i < npg; i++) {
			if (fz_pct(z, 90)) {
				req->u.indirect.indirect_grefs[i] = d->iref[1 + i];
				fz_ipage(d, z, 1 + i);
			} else {
				req->u.indirect.indirect_grefs[i] = fz_gref(d, z);
			}
		}
	} else {				/* unknown operation, random body */
		req->operation = fz_other_op(z);
		for (i = 16; i < sizeof(*req); i++)
			b[i] = fz_below(z, 256);
	}
	if (fz_pct(z, 10)) {			/* mutation: 1-4 bytes, not the id */
		z->mutated++;
		for (n = 1 + fz_below(z, 4); n; n--) {
			i = fz_below(z, sizeof(*req) - 8);
			i = i < 8 ? i : i + 8;
			b[i] ^= 1 + fz_below(z, 255);
		}
	}
}

/*
 * Before a push: what the backend will read in slot @idx (a fuzzed or
 * stale request) must not touch the verification region, the valid pages
 * or pages that are not ours to lend.  Whatever it holds, by the layout
 * its operation byte selects.  Its id joins those awaited.
 */
static void fz_guard(struct hf_dev *d, struct hf_ring *r, RING_IDX idx, bool fuzzed)
{
	struct hf_fz *z = d->fz;
	struct blkif_request *req = RING_GET_REQUEST(&r->fr, idx);
	unsigned int i;

	if (fuzzed) {
		if (req->u.rw.sector_number < HF_FZ_VSECT)
			req->u.rw.sector_number += HF_FZ_VSECT;
		if (req->operation == BLKIF_OP_INDIRECT) {
			for (i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
				if (!fz_allowed(d, req->u.indirect.indirect_grefs[i]))
					req->u.indirect.indirect_grefs[i] = d->iref[1 + i];
		} else {
			for (i = 0; i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
				if (!fz_allowed(d, req->u.rw.seg[i].gref))
					req->u.rw.seg[i].gref =
						fz_replace_ref(d, req->u.rw.seg[i].gref);
		}
	}
	if (z->nout < HF_FZ_NOUT)
		z->out[z->nout++] = req->u.rw.id;
	z->reqs++;
}

/* Guard every slot of the ring (before a req_prod lie). */
static void fz_guard_ring(struct hf_dev *d, struct hf_ring *r)
{
	RING_IDX i;

	for (i = 0; i < RING_SIZE(&r->fr); i++)
		fz_guard(d, r, r->fr.req_prod_pvt + i, true);
	d->fz->nout = 0;
	d->fz->reqs -= RING_SIZE(&r->fr);
}

/* End this batch's special grants (the backend may still map some). */
static void fz_specials_end(struct hf_fz *z, bool revoke_only)
{
	struct hf_spec *sp;
	unsigned int i;

	for (i = 0; i < z->nspec; i++) {
		sp = &z->spec[i];
		if (!sp->pg || (revoke_only && !sp->revoke))
			continue;
		if (revoke_only) {
			if (gnttab_try_end_foreign_access(sp->ref)) {
				__free_page(sp->pg);
				sp->pg = NULL;
			}
			continue;
		}
		gnttab_end_foreign_access(sp->ref, sp->pg);
		sp->pg = NULL;
	}
	if (!revoke_only)
		z->nspec = 0;
}

/* Wait for every pushed slot's response; false on a hang. */
static bool fz_collect(struct hf_dev *d, struct hf_ring *r)
{
	unsigned long end = jiffies + msecs_to_jiffies(HF_FZ_RSP_MS);
	struct hf_fz *z = d->fz;
	struct blkif_sring *s = r->va;
	struct blkif_response rsp;
	unsigned int i, unknown = 0;
	RING_IDX rp;

	while (z->nout) {
		rp = READ_ONCE(s->rsp_prod);
		virt_rmb();	/* responses up to rp */
		if (rp - r->fr.rsp_cons > RING_SIZE(&r->fr)) {
			fz_fail(d, "rsp_prod %u is more than a ring ahead of %u", rp,
				r->fr.rsp_cons);
			return false;
		}
		while (r->fr.rsp_cons != rp) {
			rsp = *RING_GET_RESPONSE(&r->fr, r->fr.rsp_cons);
			r->fr.rsp_cons++;
			for (i = 0; i < z->nout && z->out[i] != rsp.id; i++)
				;
			if (i == z->nout) {
				z->unknown_ids++;
				if (!unknown++)
					fz_fail(d,
						"response id %llu op %u status %d was never sent",
						rsp.id, rsp.operation, rsp.status);
				continue;
			}
			z->out[i] = z->out[--z->nout];
			switch (rsp.status) {
			case BLKIF_RSP_OKAY:
				z->rsp[FZ_OKAY]++;
				break;
			case BLKIF_RSP_ERROR:
				z->rsp[FZ_ERROR]++;
				break;
			case BLKIF_RSP_EOPNOTSUPP:
				z->rsp[FZ_EOPNOTSUPP]++;
				break;
			default:
				z->rsp[FZ_OTHER]++;
				fz_fail(d, "response id %llu has status %d", rsp.id, rsp.status);
			}
			if (z->vid && rsp.id == z->vid) {
				z->vst = rsp.status;
				if (rsp.operation != z->vop)
					fz_fail(d,
						"valid request id %llu answered with op %u, sent %u",
						rsp.id, rsp.operation, z->vop);
			}
		}
		if (!z->nout)
			break;
		if (time_after(jiffies, end)) {
			z->hangs++;
			fz_fail(d,
				"hang: %u request(s) unanswered after %u ms on ring %ld (first id %llu)",
				z->nout, HF_FZ_RSP_MS, (long)(r - d->rings), z->out[0]);
			z->nout = 0;
			return false;
		}
		s->rsp_event = r->fr.rsp_cons + 1;
		virt_mb();	/* rsp_event before the re-read of rsp_prod */
		if (READ_ONCE(s->rsp_prod) != r->fr.rsp_cons)
			continue;
		wait_event_timeout(r->wq, READ_ONCE(s->rsp_prod) != r->fr.rsp_cons,
				   msecs_to_jiffies(20));
	}
	return true;
}

/* Connect with random valid parameters; on failure once more with the defaults. */
static int fz_connect(struct hf_dev *d, struct hf_fz *z, bool random)
{
	struct hf_params p = hf_default;
	int st;

	if (random) {
		p.order = fz_below(z, min(d->max_order, 4U) + 1);
		p.order_key = p.order || fz_pct(z, 50);
		p.nq = 1 + fz_below(z, clamp(d->max_queues, 1U, (unsigned int)HF_MAXQ));
		switch (fz_below(z, 4)) {
		case 0:
			p.protocol = XEN_IO_PROTO_ABI_X86_64;
			break;
		case 1:
			p.no_protocol = true;
			break;
		}
		p.persistent = (int)fz_below(z, 3) - 1;
		p.direct_connected = fz_pct(z, 15);
	}
	hf_disconnect(d, false);
	st = hf_connect(d, &p);
	if (st == XenbusStateConnected) {
		z->reconnects++;
		fz_ipages_reset(d);
		return 0;
	}
	fz_fail(d, "connect (order %u, %u queue(s), protocol %s, persistent %d): state %d",
		p.order, p.nq ?: 1, p.no_protocol ? "none" : p.protocol ?: "native",
		p.persistent, st);
	if (!random) {
		z->abort = true;
		return -EIO;
	}
	return fz_connect(d, z, false);
}

/* Negotiation with a value the backend must refuse, then a good one. */
static void fz_refused(struct hf_dev *d, struct hf_fz *z)
{
	struct hf_params p = hf_default;
	unsigned int k = fz_below(z, 11);
	int st;

	switch (k) {
	case 0:	/* ring-page-order above the maximum */
		p.order = d->max_order + 1;
		p.order_key = true;
		break;
	case 1:
	case 2:
	case 3:	/* 0, huge or one above multi-queue-max-queues */
		p.nq_key = true;
		p.nq_val = k == 1 ? 0 : k == 2 ? 1000000 + fz_below(z, 1000) :
			   d->max_queues + 1;
		break;
	case 4:
		p.protocol = "sparc64-abi";
		break;
	case 5:
		p.no_ring_ref = true;
		break;
	case 6:
		p.no_evtchn = true;
		break;
	case 7:
		p.bogus_evtchn = true;
		break;
	case 8:
		p.bad_ring_ref = true;
		break;
	case 9:	/* ring-page-order 1 without ring-ref0/1 */
		p.order = 1;
		p.order_key = true;
		p.no_ring_ref = true;
		break;
	default:
		p.bogus_state = 9;
		break;
	}
	hf_disconnect(d, false);
	st = hf_connect(d, &p);
	if (st == XenbusStateConnected) {
		d->connected = true;
		fz_fail(d, "bogus negotiation %u accepted", k);
	} else if (st != XenbusStateClosing && st != XenbusStateClosed) {
		fz_fail(d, "bogus negotiation %u: backend state %d, not Closing", k, st);
	} else {
		z->refused++;
	}
	fz_connect(d, z, true);
}

/*
 * A connection that says x86_32-abi: every 32-bit word of the requests
 * pushed is a pool grant (the 32-bit layout's requests straddle ours), so
 * whatever the backend reads, its sectors are beyond the disk and its
 * pages are the pool's.  Nothing is asserted but the
 * backend's health (and the verification region afterwards).
 */
static void fz_proto32(struct hf_dev *d, struct hf_fz *z)
{
	struct hf_params p = hf_default;
	struct hf_ring *r;
	unsigned int i, k, n;
	u32 *w;

	p.protocol = XEN_IO_PROTO_ABI_X86_32;
	hf_disconnect(d, false);
	if (hf_connect(d, &p) == XenbusStateConnected) {
		z->proto32++;
		r = ring0(d);
		n = 1 + fz_below(z, 16);
		for (i = 0; i < n; i++) {
			w = (u32 *)next_req(r);
			/* The operation is the low byte of a grant: any. */
			for (k = 0; k < sizeof(struct blkif_request) / 4; k++)
				w[k] = fz_pool_ref(d, z);
		}
		z->reqs += n;
		z->fuzzed += n;
		push(r);
		msleep(300);
	}
	fz_connect(d, z, true);
}

/* req_prod more than a ring ahead, or backwards: the ring must stop. */
static void fz_lie(struct hf_dev *d, struct hf_fz *z, struct hf_ring *r)
{
	struct blkif_sring *s = r->va;
	int st;

	z->lies++;
	fz_guard_ring(d, r);
	if (fz_pct(z, 70))
		WRITE_ONCE(s->req_prod, r->fr.req_prod_pvt + RING_SIZE(&r->fr) + 1 +
			   fz_below(z, 0x10000));
	else
		WRITE_ONCE(s->req_prod, r->fr.req_prod_pvt - 1 - fz_below(z, 8));
	virt_wmb();	/* the bogus req_prod before the event */
	notify_remote_via_irq(r->irq);
	msleep(100);
	st = be_state(d);
	if (st != XenbusStateConnected && st != XenbusStateClosing && st != XenbusStateClosed)
		fz_fail(d, "backend state %d after a req_prod lie", st);
	fz_connect(d, z, true);
}

/* Slots of the verification region a valid request covers. */
static void fz_pick(struct hf_fz *z, unsigned int *slot, unsigned int *n)
{
	*n = 1 + fz_below(z, HF_FZ_VMAX);
	*slot = fz_below(z, HF_FZ_SLOTS - *n + 1);
}

/* The valid request of a batch, in the next slot. */
static void fz_valid(struct hf_dev *d, struct hf_fz *z, struct hf_ring *r, bool write,
		     unsigned int slot, unsigned int n, u32 tag)
{
	u64 id = ++d->next_id;
	unsigned int i;

	z->valid++;
	z->vid = id;
	z->vop = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
	z->vst = HF_RSP_TIMEOUT;
	for (i = 0; i < n; i++) {
		if (write)
			fill(d->data[HF_FZ_VSRC + i], (u64)(slot + i) * 8, tag);
		else
			memset(page_address(d->data[HF_FZ_VDST + i]), 0x5a, PAGE_SIZE);
	}
	if (d->max_indirect >= n && fz_pct(z, 30))
		ind_req(r, z->vop, (u64)slot * 8, write ? HF_FZ_VSRC : HF_FZ_VDST, n, id);
	else
		rw_req(r, z->vop, (u64)slot * 8, write ? HF_FZ_VSRC : HF_FZ_VDST, n, id);
}

/*
 * One batch on @r: fuzzed requests around one valid one, sometimes stale
 * slots, an event storm or a close with everything in flight.  Return
 * false when the connection was dropped (the round ends).
 */
static bool fz_batch(struct hf_dev *d, struct hf_fz *z, struct hf_ring *r, bool write,
		     unsigned int slot, unsigned int n, u32 tag)
{
	unsigned int room = RING_SIZE(&r->fr) - 2, i, nf, at, stale = 0;
	RING_IDX first = r->fr.req_prod_pvt, idx;
	u64 vid;

	z->batches++;
	nf = 1 + fz_below(z, min_t(unsigned int, HF_FZ_MAXB, room - 1));
	at = fz_below(z, nf + 1);
	for (i = 0; i <= nf; i++) {
		if (i == at)
			fz_valid(d, z, r, write, slot, n, tag);
		else
			fz_request(d, z, r);
	}
	/* Stale slots: left as the ring holds them (old requests, responses). */
	if (fz_pct(z, 5) && room > nf + 1) {
		stale = 1 + fz_below(z, min(room - nf - 1, 8U));
		r->fr.req_prod_pvt += stale;
		z->stale += stale;
	}
	for (idx = first, i = 0; idx != r->fr.req_prod_pvt; idx++, i++)
		fz_guard(d, r, idx, i != at);
	vid = z->vid;
	push(r);
	fz_specials_end(z, true);
	if (fz_pct(z, 4)) {
		unsigned int k = 100 + fz_below(z, 4000);

		z->storms++;
		while (k--) {
			notify_remote_via_irq(r->irq);
			if (!(k % 256))
				cond_resched();
		}
	}
	if (fz_below(z, 1000) < 3) {	/* Closed (or Closing), all in flight */
		z->closes++;
		if (fz_pct(z, 50))
			set_state(d, XenbusStateClosed);
		z->nout = 0;
		z->vid = 0;
		if (write)
			memset(&z->tag[slot], 0, n * sizeof(z->tag[0]));
		fz_specials_end(z, false);
		fz_connect(d, z, true);
		return false;
	}
	if (!fz_collect(d, r)) {
		z->vid = 0;
		memset(z->tag, 0, sizeof(z->tag));
		fz_specials_end(z, false);
		fz_connect(d, z, false);
		return false;
	}
	fz_specials_end(z, false);
	z->vid = 0;
	if (z->vst != BLKIF_RSP_OKAY) {
		z->bad_valid++;
		fz_fail(d, "valid %s id %llu of %u page(s) at sector %u: %s (%d)",
			write ? "write" : "read", vid, n, slot * 8, rsp_name(z->vst), z->vst);
		if (write)
			memset(&z->tag[slot], 0, n * sizeof(z->tag[0]));
		return true;
	}
	if (write) {
		for (i = 0; i < n; i++)
			z->tag[slot + i] = tag;
		return true;
	}
	for (i = 0; i < n; i++) {
		if (!z->tag[slot + i])
			continue;
		fill(d->data[HF_FZ_VSRC], (u64)(slot + i) * 8, z->tag[slot + i]);
		if (same(d->data[HF_FZ_VSRC], d->data[HF_FZ_VDST + i])) {
			z->verified++;
			continue;
		}
		z->mismatches++;
		fz_fail(d, "data mismatch at sector %u (written with tag %#x)",
			(slot + i) * 8, z->tag[slot + i]);
	}
	return true;
}

static void fz_round(struct hf_dev *d, struct hf_fz *z)
{
	unsigned int ev, slot, n, rslot, rn;
	struct hf_ring *r;
	u32 tag;

	z->s = fz_mix(z->seed ^ fz_mix(z->round)) | 1;
	tag = (u32)fz_next(z) | 1;
	r = &d->rings[fz_below(z, d->nr_rings)];
	/* A reconnect costs seconds under TCG: about 2 % of the rounds. */
	ev = fz_below(z, 1000);
	if (ev < 5) {
		fz_refused(d, z);
		return;
	}
	if (ev < 9) {
		fz_connect(d, z, true);
		return;
	}
	if (ev < 12) {
		fz_proto32(d, z);
		return;
	}
	if (ev < 15) {
		fz_lie(d, z, r);
		return;
	}
	fz_pick(z, &slot, &n);
	if (!fz_batch(d, z, r, true, slot, n, tag))
		return;
	/* Mostly read back what was just written, else anywhere. */
	rslot = slot;
	rn = n;
	if (fz_pct(z, 25))
		fz_pick(z, &rslot, &rn);
	fz_batch(d, z, r, false, rslot, rn, tag);
}

static void fz_run(struct hf_dev *d, struct hf_fz *z, u64 from, u64 rounds,
		   unsigned int seconds)
{
	unsigned long t0 = jiffies, end = t0 + (unsigned long)seconds * HZ;
	unsigned long next_note = t0 + 10 * HZ;
	unsigned int secs;

	hf_note(d, "fuzz seed %llu: from round %llu, %u s, %llu rounds (0: no limit)",
		z->seed, from, seconds, rounds);
	if (!d->connected && fz_connect(d, z, false))
		return;
	fz_ipages_reset(d);
	for (z->round = from; !z->abort; z->round++) {
		if (rounds && z->round >= from + rounds)
			break;
		if (seconds && time_after(jiffies, end))
			break;
		if (!d->connected && fz_connect(d, z, false))
			break;
		fz_round(d, z);
		if (time_after(jiffies, next_note)) {
			next_note += 10 * HZ;
			pr_info("xen_hostile: fuzz %s seed %llu round %llu: %llu requests, %llu reconnects, %llu failures\n",
				d->xdev->nodename, z->seed, z->round, z->reqs, z->reconnects,
				z->failures);
		}
		cond_resched();
	}
	secs = jiffies_to_msecs(jiffies - t0) / 1000;
	hf_note(d,
		"fuzz-counts seed=%llu rounds=%llu seconds=%u requests=%llu fuzzed=%llu valid=%llu mutated=%llu indirect=%llu stale=%llu specials=%llu okay=%llu error=%llu eopnotsupp=%llu verified=%llu reconnects=%llu refused=%llu lies=%llu storms=%llu closes=%llu proto32=%llu",
		z->seed, z->round - from, secs, z->reqs, z->fuzzed, z->valid, z->mutated,
		z->indirect, z->stale, z->specials, z->rsp[FZ_OKAY], z->rsp[FZ_ERROR],
		z->rsp[FZ_EOPNOTSUPP], z->verified, z->reconnects, z->refused, z->lies,
		z->storms, z->closes, z->proto32);
	if (z->failures > HF_FZ_MAXFAIL)
		hf_fail(d, "fuzz seed %llu: %llu more failures not shown", z->seed,
			z->failures - HF_FZ_MAXFAIL);
	hf_check(d, !z->abort,
		 "fuzz seed %llu: %llu rounds, %llu requests (%llu fuzzed, %llu valid) in %u s",
		 z->seed, z->round - from, z->reqs, z->fuzzed, z->valid, secs);
	hf_check(d, !z->rsp[FZ_OTHER] && !z->unknown_ids,
		 "fuzz seed %llu: responses OKAY %llu, ERROR %llu, EOPNOTSUPP %llu; %llu bad statuses, %llu unknown ids",
		 z->seed, z->rsp[FZ_OKAY], z->rsp[FZ_ERROR], z->rsp[FZ_EOPNOTSUPP],
		 z->rsp[FZ_OTHER], z->unknown_ids);
	hf_check(d, !z->hangs, "fuzz seed %llu: every request answered within %u ms (%llu hangs)",
		 z->seed, HF_FZ_RSP_MS, z->hangs);
	hf_check(d, !z->bad_valid && !z->mismatches && (z->verified || rounds),
		 "fuzz seed %llu: %llu valid requests answered OKAY, %llu pages read back verified, %llu mismatches",
		 z->seed, z->valid - z->bad_valid, z->verified, z->mismatches);
	hf_ok(d,
	      "fuzz seed %llu: %llu reconnects (random ring-page-order, queues, protocol, feature-persistent), %llu bogus negotiations refused, %llu req_prod lies, %llu event storms, %llu closes in flight, %llu x86_32-abi connections",
	      z->seed, z->reconnects, z->refused, z->lies, z->storms, z->closes, z->proto32);
	if (d->connected)
		good_after(d, "fuzz");
	else
		hf_fail(d, "fuzz seed %llu: connected at the end", z->seed);
}

static ssize_t fuzz_write(struct file *f, const char __user *ubuf, size_t len,
			  loff_t *ppos)
{
	struct hf_dev *d = file_inode(f)->i_private;
	unsigned long long seed, from = 0, rounds = 0;
	unsigned int seconds = 0;
	struct hf_fz *z;
	char buf[96];
	int n;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	n = sscanf(buf, "%llu %u %llu %llu", &seed, &seconds, &from, &rounds);
	if (n < 2 || (!seconds && !rounds))
		return -EINVAL;
	/* fz_guard and fz_request rely on one place for id and sector. */
	BUILD_BUG_ON(offsetof(struct blkif_request, u.rw.id) != 8);
	BUILD_BUG_ON(offsetof(struct blkif_request, u.discard.id) != 8);
	BUILD_BUG_ON(offsetof(struct blkif_request, u.indirect.id) != 8);
	BUILD_BUG_ON(offsetof(struct blkif_request, u.other.id) != 8);
	BUILD_BUG_ON(offsetof(struct blkif_request, u.discard.sector_number) != 16);
	BUILD_BUG_ON(offsetof(struct blkif_request, u.indirect.sector_number) != 16);
	z = vzalloc(sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->seed = seed;
	mutex_lock(&d->lock);
	d->res_len = 0;
	d->res[0] = '\0';
	d->nok = 0;
	d->nfail = 0;
	d->fz = z;
	fz_run(d, z, from, rounds, seconds);
	fz_specials_end(z, false);
	d->fz = NULL;
	mutex_unlock(&d->lock);
	vfree(z);
	return len;
}

static const struct file_operations fuzz_fops = {
	.owner = THIS_MODULE,
	.write = fuzz_write,
};

/* ---- debugfs ---- */

static void run_case(struct hf_dev *d, const struct hf_case *c)
{
	d->res_len = 0;
	d->res[0] = '\0';
	d->nok = 0;
	d->nfail = 0;
	if (!c->raw && d->connected && d->persistent == c->np &&
	    xenbus_read_unsigned(d->xdev->otherend, "feature-persistent", 0))
		hf_disconnect(d, false);
	if (!c->raw && !d->connected) {
		struct hf_params p = hf_default;
		int st;

		p.persistent = !c->np;
		st = hf_connect(d, &p);
		if (st != XenbusStateConnected) {
			hf_fail(d, "%s: connection (backend state %d)", c->name, st);
			return;
		}
	}
	c->fn(d, c);
}

static ssize_t run_write(struct file *f, const char __user *ubuf, size_t len,
			 loff_t *ppos)
{
	struct hf_dev *d = file_inode(f)->i_private;
	char name[48];
	unsigned int i;

	if (len >= sizeof(name))
		return -EINVAL;
	if (copy_from_user(name, ubuf, len))
		return -EFAULT;
	name[len] = '\0';
	strim(name);
	for (i = 0; i < ARRAY_SIZE(hf_cases); i++)
		if (!strcmp(name, hf_cases[i].name))
			break;
	if (i == ARRAY_SIZE(hf_cases))
		return -ENOENT;
	mutex_lock(&d->lock);
	run_case(d, &hf_cases[i]);
	mutex_unlock(&d->lock);
	return len;
}

static ssize_t result_read(struct file *f, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	struct hf_dev *d = file_inode(f)->i_private;
	ssize_t ret;

	mutex_lock(&d->lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, d->res, d->res_len);
	mutex_unlock(&d->lock);
	return ret;
}

/* The case names, one per line. */
static ssize_t cases_read(struct file *f, char __user *ubuf, size_t len,
			  loff_t *ppos)
{
	char *buf = kmalloc(4096, GFP_KERNEL);
	size_t n = 0;
	unsigned int i;
	ssize_t ret;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < ARRAY_SIZE(hf_cases); i++)
		n += scnprintf(buf + n, 4096 - n, "%s\n", hf_cases[i].name);
	ret = simple_read_from_buffer(ubuf, len, ppos, buf, n);
	kfree(buf);
	return ret;
}

static const struct file_operations run_fops = {
	.owner = THIS_MODULE,
	.write = run_write,
};

static const struct file_operations result_fops = {
	.owner = THIS_MODULE,
	.read = result_read,
};

static const struct file_operations cases_fops = {
	.owner = THIS_MODULE,
	.read = cases_read,
};

/* ---- xenbus driver ---- */

static void hf_free(struct hf_dev *d)
{
	unsigned int i;

	debugfs_remove_recursive(d->dir);
	rings_free(d);
	revoke_all(d);
	for (i = 0; i < HF_NDATA; i++)
		if (d->data[i])
			__free_page(d->data[i]);
	for (i = 0; i < HF_NIPAGES; i++)
		if (d->ipage[i])
			__free_page(d->ipage[i]);
	kfree(d->res);
	kfree(d);
}

static int hf_probe(struct xenbus_device *dev, const struct xenbus_device_id *id)
{
	const char *devid = strrchr(dev->nodename, '/') + 1;
	struct hf_dev *d;
	unsigned int i;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	d->xdev = dev;
	mutex_init(&d->lock);
	d->res = kzalloc(HF_RES_SIZE, GFP_KERNEL);
	if (!d->res)
		goto nomem;
	for (i = 0; i < HF_NDATA; i++) {
		d->data[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!d->data[i])
			goto nomem;
	}
	for (i = 0; i < HF_NIPAGES; i++) {
		d->ipage[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!d->ipage[i])
			goto nomem;
	}
	dev_set_drvdata(&dev->dev, d);
	d->dir = debugfs_create_dir(devid, hf_root);
	debugfs_create_file("run", 0200, d->dir, d, &run_fops);
	debugfs_create_file("result", 0400, d->dir, d, &result_fops);
	debugfs_create_file("cases", 0400, d->dir, d, &cases_fops);
	debugfs_create_file("fuzz", 0200, d->dir, d, &fuzz_fops);
	dev_info(&dev->dev, "xen_hostile: vbd %s, backend %s\n", devid,
		 dev->otherend);
	return 0;
nomem:
	hf_free(d);
	return -ENOMEM;
}

static void hf_remove(struct xenbus_device *dev)
{
	struct hf_dev *d = dev_get_drvdata(&dev->dev);

	if (!d)
		return;
	mutex_lock(&d->lock);
	mutex_unlock(&d->lock);
	hf_free(d);
	dev_set_drvdata(&dev->dev, NULL);
}

static void hf_otherend_changed(struct xenbus_device *dev,
				enum xenbus_state state)
{
	/* The cases poll the backend's state themselves. */
}

static const struct xenbus_device_id hf_ids[] = {
	{ "vbd" },
	{ "" }
};

static struct xenbus_driver hf_driver = {
	.name = "xen_hostile",
	.ids = hf_ids,
	.probe = hf_probe,
	.remove = hf_remove,
	.otherend_changed = hf_otherend_changed,
	/* Not a boot disk: do not make the loading guest wait for it. */
	.not_essential = true,
};

static int __init hf_init(void)
{
	int err;

	if (!xen_domain() || xen_initial_domain())
		return -ENODEV;
	hf_root = debugfs_create_dir("xen_hostile", NULL);
	err = xenbus_register_frontend(&hf_driver);
	if (err)
		debugfs_remove_recursive(hf_root);
	return err;
}

static void __exit hf_exit(void)
{
	xenbus_unregister_driver(&hf_driver);
	debugfs_remove_recursive(hf_root);
}

module_init(hf_init);
module_exit(hf_exit);
MODULE_DESCRIPTION("Hostile blkif frontend for testing Xen vbd backends");
MODULE_LICENSE("GPL");
