// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk Xen blkif backend: request parsing.
 *
 * The shared ring is guest memory that may change under us.  The ring
 * runtime copies a slot once into a private union pvblk_xen_raw_req; all
 * functions here work on private copies only and never trust a value more
 * than once.  They judge what the blkif wire format tells (operations,
 * segment fields, what we advertised); range, read-only and backend
 * support are left to the core.  They do not touch Xen: grant mapping goes
 * through ring->gops (or the mapping cache, whose ops call ring->gops), so
 * the KUnit suite pvblk_xen_ring runs them with fake mappings.
 */
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <kunit/visibility.h>
#include "xen_blk.h"

#define DECODE_REQ(_out, _req) do {					\
	struct pvblk_xen_breq *__o = (_out);				\
	typeof(_req) __r = (_req);					\
									\
	__o->operation = __r->operation;				\
	switch (__r->operation) {					\
	case BLKIF_OP_READ:						\
	case BLKIF_OP_WRITE:						\
	case BLKIF_OP_WRITE_BARRIER:					\
	case BLKIF_OP_FLUSH_DISKCACHE:					\
		__o->op = __r->operation;				\
		__o->id = __r->u.rw.id;					\
		__o->sector = __r->u.rw.sector_number;			\
		__o->nr_segs = __r->u.rw.nr_segments;			\
		memcpy(__o->seg, __r->u.rw.seg,				\
		       sizeof(__o->seg));				\
		break;							\
	case BLKIF_OP_DISCARD:						\
		__o->op = BLKIF_OP_DISCARD;				\
		__o->id = __r->u.discard.id;				\
		__o->sector = __r->u.discard.sector_number;		\
		__o->nr_sectors = __r->u.discard.nr_sectors;		\
		__o->discard_flag = __r->u.discard.flag;		\
		break;							\
	case BLKIF_OP_INDIRECT:						\
		__o->indirect = true;					\
		__o->op = __r->u.indirect.indirect_op;			\
		__o->id = __r->u.indirect.id;				\
		__o->sector = __r->u.indirect.sector_number;		\
		__o->nr_segs = __r->u.indirect.nr_segments;		\
		memcpy(__o->indirect_grefs,				\
		       __r->u.indirect.indirect_grefs,			\
		       sizeof(__o->indirect_grefs));			\
		break;							\
	default:							\
		__o->op = __r->operation;				\
		__o->id = __r->u.other.id;				\
		break;							\
	}								\
} while (0)

/**
 * pvblk_xen_decode_req() - decode a private copy of a ring slot.
 * @proto: the ABI negotiated with the frontend.
 * @raw: private copy (never the ring itself).
 * @out: decoded request; nothing in it is validated yet.
 */
void pvblk_xen_decode_req(enum pvblk_xen_proto proto,
			  const union pvblk_xen_raw_req *raw,
			  struct pvblk_xen_breq *out)
{
	/* A 64-bit dom0's native layout is x86_64's (blkif.h). */
	BUILD_BUG_ON(sizeof(struct blkif_request) != 112 ||
		     offsetof(struct blkif_request, u.rw.id) != 8 ||
		     sizeof(struct blkif_response) != 16);
	memset(out, 0, sizeof(*out));
	if (proto == PVBLK_XEN_PROTO_X86_32)
		DECODE_REQ(out, &raw->x86_32);
	else
		DECODE_REQ(out, &raw->native);
	if (out->indirect)
		out->nr_ipages = DIV_ROUND_UP(out->nr_segs,
					      PVBLK_XEN_SEGS_PER_IPAGE);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_decode_req);

static int check_rw(const struct pvblk_xen_breq *r,
		    const struct pvblk_xen_limits *lim,
		    struct pvblk_xen_plan *plan)
{
	unsigned int max = BLKIF_MAX_SEGMENTS_PER_REQUEST;

	if (r->indirect) {
		if (r->op != BLKIF_OP_READ && r->op != BLKIF_OP_WRITE)
			return BLKIF_RSP_ERROR;
		max = lim->max_indirect_segs;
		if (r->nr_ipages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
			return BLKIF_RSP_ERROR;
	}
	if (r->nr_segs > max)
		return BLKIF_RSP_ERROR;
	plan->has_data = r->nr_segs != 0;
	/* The host only reads what it writes. */
	plan->map_ro = r->op != BLKIF_OP_READ;

	switch (r->op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		plan->op = r->op == BLKIF_OP_READ ? PVBLK_OP_READ :
			PVBLK_OP_WRITE;
		return plan->has_data ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR;
	case BLKIF_OP_WRITE_BARRIER:
		plan->flags = PVBLK_REQ_BARRIER;
		fallthrough;
	case BLKIF_OP_FLUSH_DISKCACHE:
		/* With data: a FUA write (blkfront sends them this way). */
		plan->op = plan->has_data ? PVBLK_OP_WRITE : PVBLK_OP_FLUSH;
		if (plan->has_data)
			plan->flags |= PVBLK_REQ_PREFLUSH | PVBLK_REQ_FUA;
		return BLKIF_RSP_OKAY;
	}
	return BLKIF_RSP_ERROR;
}

/**
 * check_req() - validate a decoded request's wire fields.
 * @r: private copy.
 * @lim: what we advertised.
 * @plan: filled with the core operation on success.
 *
 * Segment contents are checked later by check_segs() (indirect
 * segments are only known after the indirect pages are read).
 *
 * Return: BLKIF_RSP_OKAY, or the status to answer.
 */
static int check_req(const struct pvblk_xen_breq *r,
		     const struct pvblk_xen_limits *lim,
		     struct pvblk_xen_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	if (r->indirect && !lim->max_indirect_segs)
		return BLKIF_RSP_EOPNOTSUPP;
	if (r->indirect || r->op <= BLKIF_OP_FLUSH_DISKCACHE)
		return check_rw(r, lim, plan);
	if (r->op != BLKIF_OP_DISCARD || !lim->discard)
		return BLKIF_RSP_EOPNOTSUPP;
	plan->op = PVBLK_OP_DISCARD;
	if ((r->discard_flag & BLKIF_DISCARD_SECURE) && lim->secure_discard)
		plan->flags = PVBLK_REQ_SECURE;
	return BLKIF_RSP_OKAY;
}

/**
 * check_segs() - validate data segments (private copies).
 * @segs: segment descriptors.
 * @n: how many.
 *
 * Return: BLKIF_RSP_OKAY or BLKIF_RSP_ERROR.
 */
static int check_segs(const struct blkif_request_segment *segs,
		      unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (segs[i].first_sect > segs[i].last_sect ||
		    segs[i].last_sect >= PVBLK_XEN_SECTS_PER_PAGE)
			return BLKIF_RSP_ERROR;
	return BLKIF_RSP_OKAY;
}

/**
 * copy_indirect() - copy segment descriptors out of indirect
 * pages (guest memory) into @out, reading every descriptor once.
 * @ipages: kernel addresses of the mapped indirect pages.
 * @nr_segs: descriptors to copy (the pages must cover them).
 * @out: private copy, validated by check_segs() afterwards.
 */
static void copy_indirect(void * const *ipages, unsigned int nr_segs,
			  struct blkif_request_segment *out)
{
	unsigned int i, n;

	for (i = 0; i < nr_segs; i += n) {
		n = min_t(unsigned int, nr_segs - i, PVBLK_XEN_SEGS_PER_IPAGE);
		memcpy(&out[i], ipages[i / PVBLK_XEN_SEGS_PER_IPAGE],
		       n * sizeof(*out));
	}
}

/**
 * build_segs() - core segments from checked descriptors and
 * their mappings.
 * @segs: checked descriptors.
 * @ents: their mappings.
 * @n: how many.
 * @out: core segments.
 */
static void build_segs(const struct blkif_request_segment *segs,
		       struct pvblk_mentry * const *ents, unsigned int n,
		       struct pvblk_seg *out)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		out[i].page = ents[i]->page;
		out[i].offset = segs[i].first_sect << 9;
		out[i].len = (segs[i].last_sect - segs[i].first_sect + 1) << 9;
	}
}

/* The one mapping of a core status to a wire status. */
int pvblk_xen_rsp_status(blk_status_t status)
{
	if (status == BLK_STS_OK)
		return BLKIF_RSP_OKAY;
	if (status == BLK_STS_NOTSUPP)
		return BLKIF_RSP_EOPNOTSUPP;
	return BLKIF_RSP_ERROR;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_rsp_status);

/* A producer more than a ring ahead of our responses is lying. */
bool pvblk_xen_prod_overflow(RING_IDX req_prod,
			     RING_IDX rsp_prod_pvt,
			     unsigned int ring_size)
{
	return req_prod - rsp_prod_pvt > ring_size;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_prod_overflow);

/**
 * pvblk_xen_write_rsp() - write one response into a ring slot.
 * @proto: ABI of the ring.
 * @slot: the response slot (guest memory).
 * @id: guest cookie.
 * @operation: operation echoed.
 * @status: BLKIF_RSP_*.
 *
 * The response is built zeroed (XSA-216: no stale padding reaches the
 * guest) and copied in one go.
 */
void pvblk_xen_write_rsp(enum pvblk_xen_proto proto,
			 void *slot, u64 id, u8 operation,
			 int status)
{
	/* id, operation and status sit at the same offsets in both. */
	struct blkif_response rsp;

	BUILD_BUG_ON(offsetof(struct pvblk_xen_x86_32_response, status) !=
		     offsetof(struct blkif_response, status));
	memset(&rsp, 0, sizeof(rsp));
	rsp.id = id;
	rsp.operation = operation;
	rsp.status = status;
	memcpy(slot, &rsp, proto == PVBLK_XEN_PROTO_X86_32 ?
	       sizeof(struct pvblk_xen_x86_32_response) :
	       sizeof(struct blkif_response));
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_write_rsp);

/**
 * map_grants() - map @n grants for one request.
 * @ring: the ring (its mapping cache when persistent grants are on, else
 *	transient mappings through ring->gops).
 * @keys: grant references.
 * @n: how many (at most ring->max_segs).
 * @ro: the host only reads the data (ignored by the cache: persistent
 *	grants are always mapped writable).
 * @ents: out, the mappings held.
 * @tents: storage for transient mappings.
 *
 * Return: 0, or an error with nothing held.
 */
static int map_grants(struct pvblk_xen_ring *ring, const u64 *keys,
		      unsigned int n, bool ro, struct pvblk_mentry **ents,
		      struct pvblk_mentry *tents)
{
	unsigned int i, ok;
	int ret;

	if (ring->mcache)
		return pvblk_mcache_get(ring->mcache, keys, n, ents);

	for (i = 0; i < n; i++) {
		memset(&tents[i], 0, sizeof(tents[i]));
		tents[i].key = keys[i];
		ents[i] = &tents[i];
	}
	ret = ring->gops->map(ring, ents, n, ro);
	/* Keep the mapped ones at the front so they can be unmapped. */
	for (i = 0, ok = 0; i < n; i++) {
		if (tents[i].err) {
			if (!ret)
				ret = tents[i].err;
			continue;
		}
		ents[ok++] = &tents[i];
	}
	if (!ret)
		return 0;
	/* Pages nobody else saw yet: unmapped at once (never parked). */
	pvblk_xen_gnt_unmap(ring, ents, ok, NULL);
	return ret < 0 ? ret : -EFAULT;
}

/*
 * Drop @n mappings.  Transient ones whose page is still referenced are
 * parked, with @rsp if given (see pvblk_xen_gnt_unmap()); cached ones go
 * back to the cache (whose own unmaps park without a response: the
 * frontend keeps reusing a persistent grant's page anyway).
 * Return: true if @rsp was parked (the caller must not answer).
 */
static bool unmap_grants(struct pvblk_xen_ring *ring,
			 struct pvblk_mentry **ents, unsigned int n, bool cached,
			 const struct pvblk_xen_rsp *rsp)
{
	if (!n)
		return false;
	if (cached) {
		pvblk_mcache_put(ring->mcache, ents, n);
		return false;
	}
	return pvblk_xen_gnt_unmap(ring, ents, n, rsp);
}

static int read_indirect(struct pvblk_xen_ring *ring, struct pvblk_xen_req *xr,
			 const struct pvblk_xen_breq *r)
{
	void *addr[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	u64 keys[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	unsigned int i, n = r->nr_ipages;
	int ret;

	for (i = 0; i < n; i++)
		keys[i] = r->indirect_grefs[i];
	ret = map_grants(ring, keys, n, true, xr->ients, xr->itents);
	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		addr[i] = page_address(xr->ients[i]->page);
	copy_indirect(addr, r->nr_segs, xr->isegs);
	/* Only read here: nothing else can hold these pages. */
	unmap_grants(ring, xr->ients, n, ring->mcache, NULL);
	return 0;
}

/**
 * pvblk_xen_prepare() - turn a decoded request into a core request.
 * @ring: the ring (limits, mappings).
 * @xr: a free request of the pool; on success it holds the mappings.
 * @r: decoded private copy.
 *
 * Return: BLKIF_RSP_OKAY with @xr->preq ready for pvblk_batch_add(), or the
 * status to hand it pre-failed with (nothing held).
 */
int pvblk_xen_prepare(struct pvblk_xen_ring *ring, struct pvblk_xen_req *xr,
		      const struct pvblk_xen_breq *r)
{
	const struct blkif_request_segment *segs = r->seg;
	struct pvblk_xen_plan plan;
	struct pvblk_req *preq = &xr->preq;
	unsigned int i;
	int st;

	xr->id = r->id;
	/* blkfront expects the indirect_op back, not BLKIF_OP_INDIRECT. */
	xr->operation = r->indirect ? r->op : r->operation;
	xr->nr_ents = 0;
	xr->cached = false;

	st = check_req(r, &ring->lim, &plan);
	if (st)
		return st;
	if (r->nr_segs > ring->max_segs)
		return BLKIF_RSP_ERROR;

	preq->op = plan.op;
	preq->flags = plan.flags;
	preq->sector = r->sector;
	preq->nr_sectors = 0;
	preq->nr_segs = 0;
	if (plan.op == PVBLK_OP_DISCARD) {
		preq->nr_sectors = r->nr_sectors;
		return BLKIF_RSP_OKAY;
	}
	if (!plan.has_data)
		return BLKIF_RSP_OKAY;

	if (r->indirect) {
		if (read_indirect(ring, xr, r))
			return BLKIF_RSP_ERROR;
		segs = xr->isegs;
	}
	st = check_segs(segs, r->nr_segs);
	if (st)
		return st;

	for (i = 0; i < r->nr_segs; i++)
		xr->keys[i] = segs[i].gref;
	if (map_grants(ring, xr->keys, r->nr_segs, plan.map_ro, xr->ents,
		       xr->tents))
		return BLKIF_RSP_ERROR;
	xr->nr_ents = r->nr_segs;
	xr->cached = ring->mcache;
	build_segs(segs, xr->ents, r->nr_segs, xr->segs);
	preq->segs = xr->segs;
	preq->nr_segs = r->nr_segs;
	return BLKIF_RSP_OKAY;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_prepare);

/**
 * pvblk_xen_release() - drop the mappings a prepared request holds.
 * @xr: the request, finished.
 * @status: BLKIF_RSP_* it is to be answered with.
 *
 * When a transient grant's page is still referenced (the backing device
 * holds it past the request's end), the response is parked with that
 * grant and written by pvblk_xen_unpark() once it is unmapped; @xr itself
 * is free for reuse either way.  Process context.
 *
 * Return: true if the response was parked (do not answer now).
 */
bool pvblk_xen_release(struct pvblk_xen_req *xr, int status)
{
	struct pvblk_xen_rsp rsp = {
		.id = xr->id,
		.operation = xr->operation,
		.status = status,
	};
	bool parked;

	parked = unmap_grants(xr->ring, xr->ents, xr->nr_ents, xr->cached,
			      &rsp);
	xr->nr_ents = 0;
	return parked;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_xen_release);
