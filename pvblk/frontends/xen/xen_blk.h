/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvblk Xen blkif backend: internal definitions shared by the xenbus glue
 * (xenbus.c), the ring runtime (ring.c), the pure request parsing
 * (parse.c) and the KUnit suite pvblk_xen_ring.
 *
 * Objects:
 *  - struct pvblk_xen_blkif: one "vbd" backend device (xenbus device,
 *    physical device, negotiated features, the pvblk_dev with one queue
 *    per ring).
 *  - struct pvblk_xen_ring: one blkif ring (shared ring mapping, event
 *    channel, worker, grant page cache, mapping cache).
 *  - struct pvblk_xen_req: one request of the core's pool for the ring's
 *    queue; starts with struct pvblk_req, its per-segment arrays follow.
 *
 * Everything a ring touches on its hot path (responses, back ring indexes,
 * taking requests from the core's pool) is used only by the ring's work
 * item, which never runs concurrently with itself: no lock is needed there.
 * The mapping cache has its own locking (the periodic purge runs from
 * another work item).
 */
#ifndef _PVBLK_XEN_BLK_H
#define _PVBLK_XEN_BLK_H

#include <linux/types.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/xenbus.h>
#include <xen/page.h>
#include <xen/interface/io/ring.h>
#include <xen/interface/io/blkif.h>
#include <xen/interface/io/protocols.h>
#include <kunit/visibility.h>
#include <pvblk/pvblk.h>
#include "mcache.h"

/*
 * ---- the x86_32 request layout (the ABI, from blkif.h) ----
 * The x86_64 layout is the native one of every 64-bit dom0 (Kconfig: the
 * Xen part depends on 64BIT; parse.c checks the sizes at build time).
 */

struct pvblk_xen_x86_32_rw {
	u8 nr_segments;
	u16 handle;
	u64 id;
	u64 sector_number;
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
} __packed;

struct pvblk_xen_x86_32_discard {
	u8 flag;
	u16 _pad1;
	u64 id;
	u64 sector_number;
	u64 nr_sectors;
} __packed;

struct pvblk_xen_x86_32_other {
	u8 _pad1;
	u16 _pad2;
	u64 id;
} __packed;

struct pvblk_xen_x86_32_indirect {
	u8 indirect_op;
	u16 nr_segments;
	u64 id;
	u64 sector_number;
	u16 handle;
	u16 _pad1;
	u32 indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	u64 _pad2;
} __packed;

struct pvblk_xen_x86_32_request {
	u8 operation;
	union {
		struct pvblk_xen_x86_32_rw rw;
		struct pvblk_xen_x86_32_discard discard;
		struct pvblk_xen_x86_32_other other;
		struct pvblk_xen_x86_32_indirect indirect;
	} u;
} __packed;

/* i386 layout of struct blkif_response: 12 bytes, 4-byte aligned id. */
struct pvblk_xen_x86_32_response {
	u64 id;
	u8 operation;
	u8 _pad;
	s16 status;
} __packed;

DEFINE_RING_TYPES(pvblk_xen_x86_32, struct pvblk_xen_x86_32_request,
		  struct pvblk_xen_x86_32_response);

/* "x86_64-abi" is native (see above). */
enum pvblk_xen_proto {
	PVBLK_XEN_PROTO_NATIVE,
	PVBLK_XEN_PROTO_X86_32,
};

/* Largest request slot of the two ABIs (the private copy's size). */
union pvblk_xen_raw_req {
	struct blkif_request native;
	struct pvblk_xen_x86_32_request x86_32;
};

/* Segment descriptors in one indirect page. */
#define PVBLK_XEN_SEGS_PER_IPAGE \
	(XEN_PAGE_SIZE / sizeof(struct blkif_request_segment))
#define PVBLK_XEN_SECTS_PER_PAGE	(XEN_PAGE_SIZE >> 9)
/* Hard upper bound of feature-max-indirect-segments we accept as a param. */
#define PVBLK_XEN_MAX_INDIRECT_SEGS	512
#define PVBLK_XEN_MAX_QUEUES		16

/**
 * struct pvblk_xen_breq - the validated private copy of one ring request.
 * @id: guest cookie, echoed in the response.
 * @sector: start sector (512 bytes).
 * @nr_sectors: discard length.
 * @operation: operation on the wire (the response carries @op for an
 *	indirect request: see pvblk_xen_prepare()).
 * @op: effective operation (the indirect_op of BLKIF_OP_INDIRECT).
 * @discard_flag: BLKIF_DISCARD_SECURE or 0.
 * @indirect: the request is BLKIF_OP_INDIRECT.
 * @nr_segs: number of data segments announced.
 * @nr_ipages: indirect pages the request carries (indirect only).
 * @indirect_grefs: grants of the indirect pages.
 * @seg: the direct segments (not indirect).
 */
struct pvblk_xen_breq {
	u64 id;
	u64 sector;
	u64 nr_sectors;
	u8 operation;
	u8 op;
	u8 discard_flag;
	bool indirect;
	u16 nr_segs;
	u16 nr_ipages;
	u32 indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	struct blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

/**
 * struct pvblk_xen_limits - what we advertised in xenstore; requests are
 * checked against it before any grant is touched.  What the backend can do
 * (range, read-only, support) is the core's to judge.
 */
struct pvblk_xen_limits {
	unsigned int max_indirect_segs;	/* 0: no indirect descriptors */
	bool discard;			/* feature-discard */
	bool secure_discard;		/* discard-secure */
};

/**
 * struct pvblk_xen_plan - what a checked request will become.
 */
struct pvblk_xen_plan {
	enum pvblk_op op;
	unsigned int flags;		/* PVBLK_REQ_* */
	bool map_ro;			/* data only read by the host */
	bool has_data;
};

struct pvblk_xen_ring;

/**
 * struct pvblk_xen_gnt_ops - grant mapping and event channel operations,
 * replaced by fakes in KUnit.
 * @map: map @n entries (->key is the grant reference); set ->page and
 *	->handle, or ->err, for each entry.  Return 0 or an error when the
 *	batch as a whole failed (entries with ->err == 0 are still mapped and
 *	must be unmapped by the caller).
 * @unmap: unmap @n mapped entries and give their pages back; called only
 *	through pvblk_xen_gnt_unmap() and pvblk_xen_unpark(), once nothing
 *	else holds the pages.
 * @eoi: xen_irq_lateeoi().
 * @notify: notify_remote_via_irq().
 * @unbind: unbind_from_irqhandler().
 */
struct pvblk_xen_gnt_ops {
	int (*map)(struct pvblk_xen_ring *ring, struct pvblk_mentry **ents,
		   unsigned int n, bool ro);
	void (*unmap)(struct pvblk_xen_ring *ring, struct pvblk_mentry **ents,
		      unsigned int n);
	void (*eoi)(unsigned int irq, unsigned int flags);
	void (*notify)(int irq);
	void (*unbind)(unsigned int irq, void *dev_id);
};

/**
 * struct pvblk_xen_req - one request of the core's pool for a ring.
 * @preq: the core's request (first: PVBLK_REQ_SIZE()).
 * @ring: owner.
 * @id: guest cookie.
 * @operation: wire operation for the response.
 * @nr_ents: data grants held in @ents.
 * @cached: @ents come from the mapping cache (else transient in @tents).
 * @ents: held mappings, [ring->max_segs].
 * @tents: storage of transient mappings, [ring->max_segs].
 * @segs: the core's segment array, [ring->max_segs].
 * @isegs: private copy of the indirect segment descriptors.
 * @keys: grant references being looked up.
 * @ients: indirect page mappings (held only while parsing).
 * @itents: storage of transient indirect page mappings.
 * @mem: the five arrays above, ring->max_segs entries each.
 */
struct pvblk_xen_req {
	struct pvblk_req preq;
	struct pvblk_xen_ring *ring;
	u64 id;
	u8 operation;
	unsigned int nr_ents;
	bool cached;
	struct pvblk_mentry **ents;
	struct pvblk_mentry *tents;
	struct pvblk_seg *segs;
	struct blkif_request_segment *isegs;
	u64 *keys;
	struct pvblk_mentry *ients[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	struct pvblk_mentry itents[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	u64 mem[];
};

/**
 * struct pvblk_xen_ring - one blkif ring.
 *
 * @rings, @rsp_pending, @found are owned by @work.  @irq_pending is set by
 * the interrupt handler.  @work reads @irq to EOI and notify:
 * pvblk_xen_ring_quiesce() clears it and flushes @work before it unbinds.
 * @lock (irq-safe) protects @stopped: once pvblk_xen_ring_stop() set it,
 * nothing queues @work again (ring_kick()).  Connect and disconnect run
 * under blkif->lock.  @sring is the shared ring while mapped: after
 * pvblk_xen_ring_stop(), pvblk_xen_ring_release() (nothing in flight) or
 * pvblk_xen_ring_free() unmaps it and sets it NULL, and no response is
 * written from then on (the single consumer of the queue has stopped, so
 * nothing races with that).  @mcache is set at start and freed only by
 * pvblk_xen_ring_free(), after the device (debugfs reads it); release
 * only empties it.
 *
 * Parked unmaps: a grant page still referenced by someone else when it
 * is to be unmapped (network-backed storage holding a bio's page past its
 * end) is not waited for: pvblk_xen_gnt_unmap() moves it to a struct
 * pvblk_xen_parked on @parked, with the response of its request when
 * that was the request's last grant to go (the guest must not see the
 * answer, and reuse the grant, before it is unmapped).  @park_lock (any
 * process context: ring work, purge work, xenbus, teardown) protects
 * @parked, @nr_parked, @nr_parked_rsp and @park_age.  @work retries them
 * (pvblk_xen_unpark()), kicked by @unpark_work with a backoff; once the
 * ring is stopped (@work cancelled), pvblk_xen_ring_stop(),
 * pvblk_xen_ring_release() and pvblk_xen_ring_free() finish them,
 * waiting.  @nr_parked and @nr_parked_rsp are read without the lock
 * (debugfs, conn_idle(), counters).  @unmap_waits counts the unmaps that
 * found a page still referenced (parked, or waited for in place)
 * (debugfs qN_unmap_waits), @unmap_wait_us the microseconds from then
 * until they were unmapped, in all (qN_unmap_wait_us);
 * @answered_while_parked the requests answered while another one's
 * response was parked (qN_answered_while_parked): the ring kept serving.
 */
struct pvblk_xen_ring {
	struct xenbus_device *xdev;
	unsigned int index;
	enum pvblk_xen_proto proto;
	struct blkif_back_ring rings;	/* indexes; slots sized per ABI */
	void *sring;
	unsigned int nr_ents;
	size_t slot_size;		/* request/response slot of the ABI */
	size_t req_size;		/* request of the ABI (the copy) */
	unsigned int evtchn;
	int irq;
	bool active;			/* fetch requests */
	bool broken;			/* hostile producer: stop serving */
	struct pvblk_queue *q;		/* NULL once the device is destroyed */
	struct work_struct work;
	spinlock_t lock;		/* @stopped */
	bool stopped;
	struct delayed_work purge_work;
	atomic_t irq_pending;
	bool found;			/* requests seen since the last EOI */
	bool rsp_pending;		/* responses not yet pushed */
	struct pvblk_xen_limits lim;
	unsigned int max_segs;		/* per request, direct or indirect */

	struct pvblk_mcache *mcache;	/* persistent grants, or NULL */
	struct gnttab_page_cache page_cache;
	const struct pvblk_xen_gnt_ops *gops;
	domid_t domid;

	spinlock_t park_lock;		/* see above */
	struct list_head parked;	/* struct pvblk_xen_parked */
	unsigned int nr_parked;
	unsigned int nr_parked_rsp;	/* of those, with a response owed */
	unsigned int park_age;		/* retries that freed nothing */
	struct delayed_work unpark_work;
	atomic_long_t unmap_waits;
	atomic_long_t unmap_wait_us;
	atomic_long_t answered_while_parked;
};

/**
 * struct pvblk_xen_rsp - the response a parked unmap writes once done.
 * @id: guest cookie.
 * @operation: operation echoed.
 * @status: BLKIF_RSP_*.
 */
struct pvblk_xen_rsp {
	u64 id;
	u8 operation;
	int status;
};

/* ---- parse.c: pure functions ---- */

void pvblk_xen_decode_req(enum pvblk_xen_proto proto,
			  const union pvblk_xen_raw_req *raw,
			  struct pvblk_xen_breq *out);
int pvblk_xen_rsp_status(blk_status_t status);
bool pvblk_xen_prod_overflow(RING_IDX req_prod,
			     RING_IDX rsp_prod_pvt,
			     unsigned int ring_size);
void pvblk_xen_write_rsp(enum pvblk_xen_proto proto,
			 void *slot, u64 id, u8 operation,
			 int status);

int pvblk_xen_prepare(struct pvblk_xen_ring *ring, struct pvblk_xen_req *xr,
		      const struct pvblk_xen_breq *r);
bool pvblk_xen_release(struct pvblk_xen_req *xr, int status);

/* ---- ring.c ---- */

extern const struct pvblk_xen_gnt_ops pvblk_xen_gnttab_ops;
extern const struct pvblk_mcache_ops pvblk_xen_mcache_ops;
extern const struct pvblk_transport_ops pvblk_xen_transport_ops;
extern struct workqueue_struct *pvblk_xen_wq;
extern unsigned int pvblk_xen_max_pgrants;
extern unsigned int pvblk_xen_pgrant_idle_ms;

size_t pvblk_xen_req_size(unsigned int max_segs);
bool pvblk_xen_gnt_unmap(struct pvblk_xen_ring *ring,
			 struct pvblk_mentry **ents, unsigned int n,
			 const struct pvblk_xen_rsp *rsp);
void pvblk_xen_unpark(struct pvblk_xen_ring *ring, bool wait);
int pvblk_xen_ring_map(struct pvblk_xen_ring *ring, grant_ref_t *grefs,
		       unsigned int nr_grefs, unsigned int evtchn);
int pvblk_xen_ring_start(struct pvblk_xen_ring *ring, struct pvblk_queue *q,
			 bool persistent, const char *name);
void pvblk_xen_ring_quiesce(struct pvblk_xen_ring *ring);
void pvblk_xen_ring_stop(struct pvblk_xen_ring *ring);
void pvblk_xen_ring_release(struct pvblk_xen_ring *ring);
void pvblk_xen_ring_free(struct pvblk_xen_ring *ring);
void pvblk_xen_show(struct seq_file *m, struct pvblk_dev *dev);
void pvblk_xen_ring_init(struct pvblk_xen_ring *ring,
			 struct xenbus_device *xdev, unsigned int index);

#endif /* _PVBLK_XEN_BLK_H */
