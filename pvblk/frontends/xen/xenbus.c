// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk Xen blkif backend: the xenbus "vbd" driver.
 *
 * State machine (backend side):
 *   probe            -> write limits, watch physical-device, InitWait
 *   physical-device  -> open the device (read-only for mode "r")
 *   frontend Initialised/Connected
 *                    -> read protocol, queues, ring refs; map the rings;
 *                       once the device is known too: create the pvblk_dev
 *                       (one queue per ring), start the rings, write the
 *                       disk properties and switch to Connected
 *   frontend Closing -> Closing
 *   frontend Closed  -> stop fetching, unbind the event channels; with
 *                       nothing in flight, stop the rings and unmap every
 *                       grant (persistent ones and the shared rings) at
 *                       once, as xen-blkback does; hand the rest (waiting
 *                       for the I/O in flight, destroying the device, which
 *                       flushes and closes the backend, unmapping what is
 *                       still mapped) to teardown_work(); Closed.  A
 *                       rebooted frontend going back to Initialising gets
 *                       InitWait and negotiates again.
 * All of this runs in the xenwatch thread and never waits for the backing
 * device; blkif->lock also serialises it against remove().
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/file.h>
#include <linux/kdev_t.h>
#include <linux/kref.h>
#include <linux/wait.h>
#include <xen/xen.h>
#include <xen/xenbus.h>
#include <xen/grant_table.h>
#include <pvblk/modinit.h>
#include "xen_blk.h"

static unsigned int max_queues = 4;
module_param_named(xen_max_queues, max_queues, uint, 0644);
MODULE_PARM_DESC(xen_max_queues, "Xen: most rings per vbd (multi-queue-max-queues)");

static unsigned int max_ring_order = 2;
module_param_named(xen_max_ring_order, max_ring_order, uint, 0644);
MODULE_PARM_DESC(xen_max_ring_order, "Xen: log2 of the most pages per ring (max-ring-page-order)");

static unsigned int max_indirect_segs = 128;
module_param_named(xen_max_indirect_segs, max_indirect_segs, uint, 0644);
MODULE_PARM_DESC(xen_max_indirect_segs, "Xen: feature-max-indirect-segments (0: no indirect descriptors)");

static bool feature_persistent = true;
module_param_named(xen_persistent, feature_persistent, bool, 0644);
MODULE_PARM_DESC(xen_persistent, "Xen: offer persistent grants");

unsigned int pvblk_xen_max_pgrants = 1056;
module_param_named(xen_max_pgrants, pvblk_xen_max_pgrants, uint, 0644);
MODULE_PARM_DESC(xen_max_pgrants, "Xen: most persistent grants per ring");

static unsigned int resize_poll_ms = 1000;
module_param_named(xen_resize_poll_ms, resize_poll_ms, uint, 0644);
MODULE_PARM_DESC(xen_resize_poll_ms, "Xen: look for a resized backing device this often (0: never; read at connect)");

unsigned int pvblk_xen_pgrant_idle_ms = 10000;
module_param_named(xen_pgrant_idle_ms, pvblk_xen_pgrant_idle_ms, uint, 0644);
MODULE_PARM_DESC(xen_pgrant_idle_ms, "Xen: unmap persistent grants idle this long");

/**
 * struct pvblk_xen_blkif - one vbd.
 * @xdev: the xenbus device (a reference).
 * @ref: remove() and every teardown_work() still running hold one.
 * @draining: teardown_work() items running.
 * @drained: woken when @draining drops to 0.
 * @lock: serialises the state machine and remove(); protects all below.
 * @watch: on backend/.../physical-device (registered: ->node is set).
 * @qos_watch: on backend/.../pvblk-qos, the toolstack's I/O limits
 *	(registered: ->node is set).
 * @qos: its last valid value, applied to the device at connect and
 *	whenever the node changes.
 * @devt: the physical device, 0 until the hotplug script wrote it.
 * @read_only: mode has no "w".
 * @cdrom: the frontend's device-type is "cdrom".
 * @be: opened backend not yet handed to a device (owned here).
 * @disk: the disk first opened, held open until remove(): a reconnect
 *	serves that disk again, never whatever has its dev_t by then.
 * @proto: negotiated ABI.
 * @persistent: persistent grants negotiated for this connection.
 * @nr_ring_pages: pages per ring.
 * @multi_ref: the frontend uses ring-refN nodes.
 * @max_indirect: feature-max-indirect-segments offered at probe,
 * @max_queues: multi-queue-max-queues offered,
 * @max_order: max-ring-page-order offered: what every connection of this
 *	vbd is held to, whatever the module parameters say by then.
 * @conn: the rings of the frontend, once it initialised (a failure
 *	disconnects at once); NULL while disconnected.
 * @name: debugfs name of the device.
 */
struct pvblk_xen_blkif {
	struct xenbus_device *xdev;
	struct kref ref;
	atomic_t draining;
	wait_queue_head_t drained;
	struct mutex lock;		/* the state machine, see above */
	struct xenbus_watch watch;
	struct xenbus_watch qos_watch;
	struct pvblk_qos qos;
	dev_t devt;
	bool read_only;
	bool cdrom;
	struct pvblk_backend *be;
	struct file *disk;
	enum pvblk_xen_proto proto;
	bool persistent;
	unsigned int nr_ring_pages;
	bool multi_ref;
	unsigned int max_indirect;
	unsigned int max_queues;
	unsigned int max_order;
	struct pvblk_xen_conn *conn;
	char name[32];
};

/**
 * struct pvblk_xen_conn - one connection: its rings and its device.
 * @teardown: teardown_work(), queued by disconnect().
 * @resize: resize_work(), polling the backend's size while connected.
 * @owner: the vbd (no reference: disconnect() stops @resize first).
 * @blkif: set (with a reference) when disconnected.
 * @pdev: core device, one queue per ring; exists while connected.
 * @nr_rings: rings (queues) negotiated.
 * @rings: all mapped once connect_rings() succeeded; with nothing in
 *	flight disconnect() stops them and unmaps their grants itself, else
 *	teardown_work() does once the I/O completed.  Freed (with the
 *	connection) only by teardown_work(), after the device: its debugfs
 *	file reads them.
 */
struct pvblk_xen_conn {
	struct work_struct teardown;
	struct delayed_work resize;
	struct pvblk_xen_blkif *owner;
	struct pvblk_xen_blkif *blkif;
	struct pvblk_dev *pdev;
	unsigned int nr_rings;
	struct pvblk_xen_ring rings[];
};

/* ---- disconnect ---- */

static void blkif_release(struct kref *ref)
{
	struct pvblk_xen_blkif *blkif = container_of(ref, struct pvblk_xen_blkif,
						     ref);

	put_device(&blkif->xdev->dev);
	kfree(blkif);
}

/*
 * Let everything in flight complete and be answered (for as long as the
 * backing device takes), stop the rings' work items (answering the
 * requests whose unmaps are parked, for as long as the backing device
 * holds their pages: pvblk_xen_ring_stop()), destroy the device
 * (it completes what is left, flushes and closes the backend: this too
 * may wait for the device), then unmap and free the rings.  After an idle
 * disconnect() the drain and the stop find nothing left to do and the
 * grants are unmapped already.
 */
static void teardown_work(struct work_struct *work)
{
	struct pvblk_xen_conn *c = container_of(work, struct pvblk_xen_conn,
						teardown);
	struct pvblk_xen_blkif *blkif = c->blkif;
	unsigned int i;

	if (c->pdev)
		pvblk_dev_drain(c->pdev);
	for (i = 0; i < c->nr_rings; i++)
		pvblk_xen_ring_stop(&c->rings[i]);
	pvblk_dev_destroy(c->pdev);
	for (i = 0; i < c->nr_rings; i++) {
		/* Its queue went with the device: the unmaps trace without. */
		c->rings[i].q = NULL;
		pvblk_xen_ring_free(&c->rings[i]);
	}
	kfree(c);
	if (atomic_dec_and_test(&blkif->draining))
		wake_up_all(&blkif->drained);
	kref_put(&blkif->ref, blkif_release);
}

/*
 * True when no request of @c is in flight and no grant unmap is parked
 * (a page the backing device still holds: pvblk_xen_gnt_unmap()).  Called
 * with every ring quiesced: nothing is fetched any more, so a queue's
 * count only falls, and a request it no longer counts is past everything
 * that can wait for the device (what is left of pvblk_req_complete() runs
 * on that CPU).  A parked unmap can wait as long as the network keeps the
 * page: teardown_work() waits for it, not the xenwatch thread.
 */
static bool conn_idle(struct pvblk_xen_conn *c)
{
	unsigned int i;

	for (i = 0; i < c->nr_rings; i++)
		if (READ_ONCE(c->rings[i].nr_parked))
			return false;
	if (!c->pdev)
		return true;
	for (i = 0; i < c->nr_rings; i++)
		if (atomic_read(&pvblk_dev_queue(c->pdev, i)->inflight))
			return false;
	return true;
}

/*
 * Stop fetching on every ring and unbind its event channel.  With nothing
 * in flight, stop the rings and unmap every grant now, as xen-blkback
 * does before it reports Closed: a frontend that sees Closed may free or
 * reuse its pages.  The rest (the device, whose destruction flushes the
 * backing device) and, with requests in flight or unmaps parked
 * (conn_idle()), everything goes to
 * teardown_work(): the xenwatch thread (every xenbus device of the host)
 * must not hang on a backing device whose I/O never completes.
 */
static void disconnect(struct pvblk_xen_blkif *blkif)
{
	struct pvblk_xen_conn *c = blkif->conn;
	unsigned int i;

	if (!c)
		return;
	cancel_delayed_work_sync(&c->resize);
	for (i = 0; i < c->nr_rings; i++)
		pvblk_xen_ring_quiesce(&c->rings[i]);
	if (conn_idle(c)) {
		/* Waits only for CPUs finishing a completion. */
		if (c->pdev)
			pvblk_dev_drain(c->pdev);
		for (i = 0; i < c->nr_rings; i++)
			pvblk_xen_ring_stop(&c->rings[i]);
		for (i = 0; i < c->nr_rings; i++)
			pvblk_xen_ring_release(&c->rings[i]);
	}
	blkif->conn = NULL;
	c->blkif = blkif;
	kref_get(&blkif->ref);
	atomic_inc(&blkif->draining);
	queue_work(pvblk_xen_wq, &c->teardown);
}

/* ---- connect ---- */

static int open_backend(struct pvblk_xen_blkif *blkif)
{
	struct pvblk_backend *be;

	if (blkif->be)
		return 0;
	if (blkif->disk) {
		/*
		 * A reconnect: the last connection may still be draining.
		 * Give it a while; a stuck one fails this one.  The disk is
		 * the one first opened (-ENXIO if its dev_t now names
		 * another), with blkif as the holder that may re-open it.
		 */
		if (!wait_event_timeout(blkif->drained,
					!atomic_read(&blkif->draining),
					10 * HZ))
			return -EBUSY;
		be = pvblk_backend_open_file(blkif->disk, blkif->read_only,
					     blkif);
	} else {
		be = pvblk_backend_open_dev(blkif->devt, blkif->read_only,
					    blkif);
		if (!IS_ERR(be))
			blkif->disk = pvblk_backend_file(be);
	}
	if (IS_ERR(be))
		return PTR_ERR(be);
	blkif->be = be;
	return 0;
}

/* One xenstore node we write, if @write. */
struct xen_node {
	const char *name;
	unsigned long long val;
	bool write;
};

/* Write @n nodes into @dir; every one is tried, the first error returned. */
static int write_nodes(struct xenbus_transaction xbt, const char *dir,
		       const struct xen_node *nodes, unsigned int n)
{
	int err = 0;

	for (; n--; nodes++)
		if (nodes->write)
			err = xenbus_printf(xbt, dir, nodes->name, "%llu",
					    nodes->val) ?: err;
	return err;
}

/* Write what the frontend needs to know about the disk, in one transaction. */
static int write_disk(struct pvblk_xen_blkif *blkif,
		      const struct pvblk_backend_info *i)
{
	const struct pvblk_xen_limits *lim = &blkif->conn->rings[0].lim;
	bool ro = i->read_only || blkif->read_only;
	const struct xen_node nodes[] = {
		{ "feature-flush-cache", 1, true },
		{ "feature-barrier", 1, true },
		{ "discard-granularity", i->discard_granularity ?:
		  i->logical_block_size, lim->discard },
		{ "discard-alignment", i->discard_alignment, lim->discard },
		{ "discard-secure", 1, lim->secure_discard },
		{ "feature-discard", 1, lim->discard },
		{ "feature-persistent", feature_persistent, true },
		{ "sectors", i->capacity, true },
		{ "info", (blkif->cdrom ? VDISK_CDROM : 0) |
		  (ro ? VDISK_READONLY : 0), true },
		{ "sector-size", i->logical_block_size, true },
		{ "physical-sector-size", i->physical_block_size, true },
	};
	struct xenbus_transaction xbt;
	int err;

again:
	err = xenbus_transaction_start(&xbt);
	if (err)
		return err;
	err = write_nodes(xbt, blkif->xdev->nodename, nodes,
			  ARRAY_SIZE(nodes));
	if (err) {
		xenbus_transaction_end(xbt, 1);
		return err;
	}
	err = xenbus_transaction_end(xbt, 0);
	if (err == -EAGAIN)
		goto again;
	return err;
}

/*
 * The backing device grew or shrank: tell the frontend as xen-blkback
 * does, the new "sectors" and the state node written again (blkfront
 * re-reads the size when it sees Connected while connected).
 */
static void write_sectors(struct xenbus_device *dev, u64 sectors)
{
	struct xenbus_transaction xbt;
	int err;

again:
	err = xenbus_transaction_start(&xbt);
	if (err)
		goto fail;
	err = xenbus_printf(xbt, dev->nodename, "sectors", "%llu", sectors);
	if (!err)
		err = xenbus_printf(xbt, dev->nodename, "state", "%d",
				    dev->state);
	if (err) {
		xenbus_transaction_end(xbt, 1);
		goto fail;
	}
	err = xenbus_transaction_end(xbt, 0);
	if (err == -EAGAIN)
		goto again;
	if (!err) {
		dev_info(&dev->dev, "resized: %llu sectors\n", sectors);
		return;
	}
fail:
	dev_warn(&dev->dev, "writing the new size (%llu sectors): %d\n",
		 sectors, err);
}

/*
 * While connected: follow the backing device's size.  The state may only
 * be written under the vbd's lock, which disconnect() holds while it
 * cancels this work: try it, and come back soon if it is taken.
 */
static void resize_work(struct work_struct *work)
{
	struct pvblk_xen_conn *c = container_of(to_delayed_work(work),
						struct pvblk_xen_conn, resize);
	struct pvblk_xen_blkif *blkif = c->owner;
	unsigned long next = msecs_to_jiffies(READ_ONCE(resize_poll_ms));
	u64 sectors;

	if (!next)
		return;
	if (!mutex_trylock(&blkif->lock)) {
		queue_delayed_work(pvblk_xen_wq, &c->resize, HZ / 10);
		return;
	}
	if (blkif->xdev->state == XenbusStateConnected &&
	    pvblk_dev_update_capacity(c->pdev, &sectors))
		write_sectors(blkif->xdev, sectors);
	mutex_unlock(&blkif->lock);
	queue_delayed_work(pvblk_xen_wq, &c->resize, next);
}

/*
 * Called whenever one of the two halves (device, rings) arrives: once both
 * are there, start serving and switch to Connected.
 */
static void maybe_connect(struct pvblk_xen_blkif *blkif)
{
	struct pvblk_xen_conn *c = blkif->conn;
	struct xenbus_device *dev = blkif->xdev;
	struct pvblk_backend_info info;
	struct pvblk_xen_limits lim = {};
	struct pvblk_dev *pdev;
	unsigned int i;
	char qname[48];
	int err;

	if (!blkif->devt || !c || c->pdev || dev->state == XenbusStateConnected)
		return;

	err = open_backend(blkif);
	if (err) {
		xenbus_dev_fatal(dev, err, "opening device %u:%u",
				 MAJOR(blkif->devt), MINOR(blkif->devt));
		return;
	}
	/* One pool per ring, a request per ring slot. */
	pdev = pvblk_dev_create(blkif->name, &pvblk_xen_transport_ops, blkif,
				c->nr_rings, c->rings[0].nr_ents,
				pvblk_xen_req_size(c->rings[0].max_segs));
	if (IS_ERR(pdev)) {
		xenbus_dev_fatal(dev, PTR_ERR(pdev), "creating pvblk device");
		return;
	}
	pvblk_dev_set_backend(pdev, blkif->be);
	blkif->be = NULL;	/* owned by pdev now */
	pvblk_dev_set_qos(pdev, &blkif->qos);	/* checked when read */
	c->pdev = pdev;
	pvblk_dev_info(pdev, &info);
	/* What we advertise for this backend (see write_disk()). */
	lim.max_indirect_segs = blkif->max_indirect;
	lim.discard = info.max_discard_sectors &&
		xenbus_read_unsigned(dev->nodename, "discard-enable", 1);
	lim.secure_discard = lim.discard && info.secure_discard;

	for (i = 0; i < c->nr_rings; i++) {
		struct pvblk_xen_ring *ring = &c->rings[i];

		ring->lim = lim;
		snprintf(qname, sizeof(qname), "%s-q%u", blkif->name, i);
		err = pvblk_xen_ring_start(ring, pvblk_dev_queue(pdev, i),
					   blkif->persistent, qname);
		if (err) {
			xenbus_dev_fatal(dev, err, "starting ring %u", i);
			goto fail;
		}
	}

	err = write_disk(blkif, &info);
	if (err) {
		xenbus_dev_fatal(dev, err, "writing disk properties");
		goto fail;
	}
	err = xenbus_switch_state(dev, XenbusStateConnected);
	if (err) {
		xenbus_dev_fatal(dev, err, "switching to Connected");
		goto fail;
	}
	dev_info(&dev->dev, "dom%u: %u queue(s), %u ring page(s), %s%s%s\n",
		 dev->otherend_id, c->nr_rings, blkif->nr_ring_pages,
		 blkif->proto == PVBLK_XEN_PROTO_X86_32 ? "x86_32-abi" : "native",
		 blkif->persistent ? ", persistent grants" : "",
		 blkif->read_only ? ", read-only" : "");
	if (READ_ONCE(resize_poll_ms))
		queue_delayed_work(pvblk_xen_wq, &c->resize,
				   msecs_to_jiffies(READ_ONCE(resize_poll_ms)));
	return;

fail:
	disconnect(blkif);
}

/* Map the ring whose event channel and grant references are in @dir. */
static int read_ring(struct pvblk_xen_blkif *blkif,
		     struct pvblk_xen_ring *ring, const char *dir)
{
	grant_ref_t grefs[XENBUS_MAX_RING_GRANTS];
	const char *node = "event-channel";
	char ref[20] = "ring-ref";
	unsigned int evtchn, i;
	bool bad;
	int err;

	bad = xenbus_scanf(XBT_NIL, dir, node, "%u", &evtchn) != 1;
	for (i = 0; i < blkif->nr_ring_pages && !bad; i++) {
		if (blkif->multi_ref)
			snprintf(ref, sizeof(ref), "ring-ref%u", i);
		node = ref;
		bad = xenbus_scanf(XBT_NIL, dir, node, "%u", &grefs[i]) != 1;
	}
	if (bad) {
		xenbus_dev_fatal(blkif->xdev, -EINVAL, "reading %s/%s", dir,
				 node);
		return -EINVAL;
	}
	err = pvblk_xen_ring_map(ring, grefs, blkif->nr_ring_pages, evtchn);
	if (err)
		xenbus_dev_fatal(blkif->xdev, err, "mapping ring of %s", dir);
	return err;
}

/* Negotiate with the frontend and map its rings. */
static int connect_rings(struct pvblk_xen_blkif *blkif)
{
	struct xenbus_device *dev = blkif->xdev;
	const char *fe = dev->otherend;
	char protocol[64] = XEN_IO_PROTO_ABI_NATIVE;
	struct pvblk_xen_conn *c;
	unsigned int nr, order, i;
	char *dir;
	int err;

	xenbus_scanf(XBT_NIL, fe, "protocol", "%63s", protocol);
	/* x86_64's layout is the native one (xen_blk.h). */
	blkif->proto = strcmp(protocol, XEN_IO_PROTO_ABI_X86_32) ?
		PVBLK_XEN_PROTO_NATIVE : PVBLK_XEN_PROTO_X86_32;
	if (blkif->proto == PVBLK_XEN_PROTO_NATIVE &&
	    strcmp(protocol, XEN_IO_PROTO_ABI_NATIVE) &&
	    strcmp(protocol, XEN_IO_PROTO_ABI_X86_64)) {
		xenbus_dev_fatal(dev, -EINVAL, "unknown protocol %s", protocol);
		return -EINVAL;
	}
	/* Re-negotiated on every connect. */
	blkif->persistent = feature_persistent &&
		xenbus_read_unsigned(fe, "feature-persistent", 0);
	nr = xenbus_read_unsigned(fe, "multi-queue-num-queues", 1);
	/* No ring-page-order: one page, its grant in "ring-ref". */
	order = xenbus_read_unsigned(fe, "ring-page-order", UINT_MAX);
	blkif->multi_ref = order != UINT_MAX;
	order = blkif->multi_ref ? order : 0;
	if (!nr || nr > blkif->max_queues || order > blkif->max_order) {
		xenbus_dev_fatal(dev, -EINVAL, "frontend asked for %u queues of 2^%u pages",
				 nr, order);
		return -EINVAL;
	}
	blkif->nr_ring_pages = 1U << order;

	c = kzalloc(struct_size(c, rings, nr), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	INIT_WORK(&c->teardown, teardown_work);
	INIT_DELAYED_WORK(&c->resize, resize_work);
	c->owner = blkif;
	c->nr_rings = nr;
	for (i = 0; i < nr; i++)
		pvblk_xen_ring_init(&c->rings[i], dev, i);
	blkif->conn = c;
	for (i = 0, err = 0; i < nr && !err; i++) {
		/* One ring in the frontend's directory, else queue-N/ each. */
		dir = nr == 1 ? kstrdup(fe, GFP_KERNEL) :
			kasprintf(GFP_KERNEL, "%s/queue-%u", fe, i);
		if (!dir)
			return -ENOMEM;
		c->rings[i].proto = blkif->proto;
		c->rings[i].max_segs = max_t(unsigned int,
					     BLKIF_MAX_SEGMENTS_PER_REQUEST,
					     blkif->max_indirect);
		err = read_ring(blkif, &c->rings[i], dir);
		kfree(dir);
	}
	return err;
}

/* ---- xenbus callbacks ---- */

static void physdev_changed(struct xenbus_watch *watch, const char *path,
			    const char *token)
{
	struct pvblk_xen_blkif *blkif = container_of(watch,
						     struct pvblk_xen_blkif,
						     watch);
	struct xenbus_device *dev = blkif->xdev;
	char mode[16] = "", type[16] = "";
	unsigned int major, minor;
	dev_t devt;
	int err;

	err = xenbus_scanf(XBT_NIL, dev->nodename, "physical-device", "%x:%x",
			   &major, &minor);
	if (XENBUS_EXIST_ERR(err))
		return;	/* fires once at registration: wait for hotplug */
	if (err != 2) {
		xenbus_dev_fatal(dev, err, "reading physical-device");
		return;
	}
	devt = MKDEV(major, minor);

	mutex_lock(&blkif->lock);
	if (blkif->devt) {
		if (blkif->devt != devt)
			dev_warn(&dev->dev, "changing physical device %u:%u to %u:%u is not supported\n",
				 MAJOR(blkif->devt), MINOR(blkif->devt),
				 major, minor);
		goto out;
	}

	err = xenbus_scanf(XBT_NIL, dev->nodename, "mode", "%15s", mode);
	if (err != 1) {
		xenbus_dev_fatal(dev, err < 0 ? err : -EINVAL, "reading mode");
		goto out;
	}
	blkif->read_only = !strchr(mode, 'w');
	xenbus_scanf(XBT_NIL, dev->otherend, "device-type", "%15s", type);
	blkif->cdrom = !strcmp(type, "cdrom");
	blkif->devt = devt;
	err = open_backend(blkif);
	if (err) {
		blkif->devt = 0;
		xenbus_dev_fatal(dev, err, "opening device %x:%x", major,
				 minor);
		goto out;
	}
	maybe_connect(blkif);
out:
	mutex_unlock(&blkif->lock);
}

/*
 * backend/vbd/<domid>/<dev>/pvblk-qos, written by the toolstack or an
 * admin ("riops=500,wbps=10M,burst=200", see pvblk_qos_parse()): the
 * vbd's limits from now on, also while connected.  A missing or empty
 * node means no limit; an invalid value is logged and ignored (the
 * limits stay as they were).  The frontend cannot write there.
 */
static void qos_changed(struct xenbus_watch *watch, const char *path,
			const char *token)
{
	struct pvblk_xen_blkif *blkif = container_of(watch,
						     struct pvblk_xen_blkif,
						     qos_watch);
	struct xenbus_device *dev = blkif->xdev;
	struct pvblk_qos qos = {};
	char *val;
	int err;

	val = xenbus_read(XBT_NIL, dev->nodename, "pvblk-qos", NULL);
	if (IS_ERR(val)) {
		if (PTR_ERR(val) != -ENOENT) {
			dev_warn(&dev->dev, "reading pvblk-qos: %ld\n",
				 PTR_ERR(val));
			return;
		}
		val = NULL;
	}
	err = val ? pvblk_qos_parse(val, &qos) : 0;
	if (err) {
		dev_warn_ratelimited(&dev->dev, "pvblk-qos \"%.64s\" is not valid (riops=N,wiops=N,rbps=N[KMGT],wbps=N[KMGT],burst=MS, within their maxima); limits unchanged\n",
				     val);
		goto out;
	}
	mutex_lock(&blkif->lock);
	blkif->qos = qos;
	if (blkif->conn && blkif->conn->pdev)
		pvblk_dev_set_qos(blkif->conn->pdev, &qos);	/* valid */
	mutex_unlock(&blkif->lock);
	dev_info(&dev->dev, "qos: riops %llu wiops %llu rbps %llu wbps %llu burst %u ms\n",
		 qos.iops[0], qos.iops[1], qos.bps[0], qos.bps[1],
		 qos.burst_ms ?: 1000);
out:
	kfree(val);
}

static void frontend_changed(struct xenbus_device *dev,
			     enum xenbus_state state)
{
	struct pvblk_xen_blkif *blkif = dev_get_drvdata(&dev->dev);

	mutex_lock(&blkif->lock);
	switch (state) {
	case XenbusStateInitialising:
		if (dev->state == XenbusStateClosed) {
			dev_info(&dev->dev, "frontend reconnecting\n");
			xenbus_switch_state(dev, XenbusStateInitWait);
		}
		break;

	case XenbusStateInitialised:
	case XenbusStateConnected:
		/* Two watches in a row may skip Initialised. */
		if (dev->state == XenbusStateConnected)
			break;
		disconnect(blkif);
		if (connect_rings(blkif))
			disconnect(blkif);
		else
			maybe_connect(blkif);
		break;

	case XenbusStateClosing:
		xenbus_switch_state(dev, XenbusStateClosing);
		break;

	case XenbusStateClosed:
		disconnect(blkif);
		xenbus_switch_state(dev, XenbusStateClosed);
		if (xenbus_dev_is_online(dev))
			break;
		fallthrough;
	case XenbusStateUnknown:
		mutex_unlock(&blkif->lock);
		device_unregister(&dev->dev);
		return;

	default:
		xenbus_dev_fatal(dev, -EINVAL, "frontend in state %d", state);
		break;
	}
	mutex_unlock(&blkif->lock);
}

static void pvblk_xen_remove(struct xenbus_device *dev)
{
	struct pvblk_xen_blkif *blkif = dev_get_drvdata(&dev->dev);

	if (!blkif)
		return;
	if (blkif->watch.node) {
		unregister_xenbus_watch(&blkif->watch);
		kfree(blkif->watch.node);
		blkif->watch.node = NULL;
	}
	if (blkif->qos_watch.node) {
		unregister_xenbus_watch(&blkif->qos_watch);
		kfree(blkif->qos_watch.node);
		blkif->qos_watch.node = NULL;
	}
	mutex_lock(&blkif->lock);
	disconnect(blkif);
	pvblk_backend_close(blkif->be);
	if (blkif->disk)
		pvblk_backend_put_file(blkif->disk);
	mutex_unlock(&blkif->lock);
	dev_set_drvdata(&dev->dev, NULL);
	kref_put(&blkif->ref, blkif_release);
}

static int pvblk_xen_probe(struct xenbus_device *dev,
			   const struct xenbus_device_id *id)
{
	/* What every connection of this vbd is held to: read once. */
	unsigned int indirect = min_t(unsigned int, READ_ONCE(max_indirect_segs),
				      PVBLK_XEN_MAX_INDIRECT_SEGS);
	unsigned int queues = clamp_t(unsigned int, READ_ONCE(max_queues), 1,
				      PVBLK_XEN_MAX_QUEUES);
	unsigned int order = min_t(unsigned int, READ_ONCE(max_ring_order),
				   XENBUS_MAX_RING_GRANT_ORDER);
	const struct xen_node nodes[] = {
		{ "feature-max-indirect-segments", indirect, indirect != 0 },
		{ "multi-queue-max-queues", queues, true },
		{ "max-ring-page-order", order, true },
	};
	struct pvblk_xen_blkif *blkif;
	int err;

	blkif = kzalloc(sizeof(*blkif), GFP_KERNEL);
	if (!blkif) {
		xenbus_dev_fatal(dev, -ENOMEM, "allocating backend");
		return -ENOMEM;
	}
	blkif->xdev = dev;
	get_device(&dev->dev);
	kref_init(&blkif->ref);
	init_waitqueue_head(&blkif->drained);
	mutex_init(&blkif->lock);
	snprintf(blkif->name, sizeof(blkif->name), "xen-%u-%s",
		 dev->otherend_id, strrchr(dev->nodename, '/') + 1);
	blkif->max_indirect = indirect;
	blkif->max_queues = queues;
	blkif->max_order = order;
	dev_set_drvdata(&dev->dev, blkif);

	/* What the frontend may negotiate; best effort, as xen-blkback. */
	err = write_nodes(XBT_NIL, dev->nodename, nodes, ARRAY_SIZE(nodes));
	if (err)
		dev_warn(&dev->dev, "writing the features offered: %d\n", err);

	err = xenbus_watch_pathfmt(dev, &blkif->watch, NULL, physdev_changed,
				   "%s/%s", dev->nodename, "physical-device");
	if (err)
		goto fail;
	err = xenbus_watch_pathfmt(dev, &blkif->qos_watch, NULL, qos_changed,
				   "%s/%s", dev->nodename, "pvblk-qos");
	if (err)
		goto fail;

	err = xenbus_switch_state(dev, XenbusStateInitWait);
	if (err)
		goto fail;
	return 0;

fail:
	pvblk_xen_remove(dev);
	return err;
}

static const struct xenbus_device_id pvblk_xen_ids[] = {
	{ "vbd" },
	{ "" }
};

static struct xenbus_driver pvblk_xen_driver = {
	.name = "pvblk",
	.ids = pvblk_xen_ids,
	.probe = pvblk_xen_probe,
	.remove = pvblk_xen_remove,
	.otherend_changed = frontend_changed,
	.allow_rebind = true,
};

int pvblk_xen_init(void)
{
	int err;

	if (!xen_domain() || !xen_initial_domain())
		return 0;

	pvblk_xen_wq = alloc_workqueue("pvblk_xen",
				       WQ_UNBOUND | WQ_MEM_RECLAIM | WQ_SYSFS,
				       0);
	if (!pvblk_xen_wq)
		return -ENOMEM;
	err = xenbus_register_backend(&pvblk_xen_driver);
	if (err) {
		destroy_workqueue(pvblk_xen_wq);
		pvblk_xen_wq = NULL;
	}
	return err;
}

void pvblk_xen_exit(void)
{
	if (!pvblk_xen_wq)
		return;
	xenbus_unregister_driver(&pvblk_xen_driver);
	/*
	 * Wait for every teardown_work() (however long its I/O takes) with a
	 * flush: bios still complete, and queue ring work, meanwhile.
	 */
	flush_workqueue(pvblk_xen_wq);
	destroy_workqueue(pvblk_xen_wq);
	pvblk_xen_wq = NULL;
}
