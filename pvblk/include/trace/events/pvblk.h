/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvblk tracepoints: the life of a request in the core, for both
 * transports, and the Xen frontend's grant mappings.
 *
 *   pvblk_req_queued      a request entered the core (pvblk_batch_add() or
 *                         pvblk_batch_fail())
 *   pvblk_req_submitted   it passed validation and goes to the backend
 *                         (bios, a kiocb, or GET_ID answered in place)
 *   pvblk_req_completed   the transport's worker picked it up to answer
 *                         the guest; lat_ns counts from queued
 *   pvblk_batch           requests taken from one ring kick
 *   pvblk_drain           requests answered by one run of the drain
 *   pvblk_barrier         a barrier starts after the older requests it
 *                         waited for; waited_ns from queued
 *   pvblk_flush           a FLUSH (or a PREFLUSH write) completed;
 *                         waited_ns from queued
 *   pvblk_xen_grant_map   grant references mapped (Xen frontend)
 *   pvblk_xen_grant_unmap grant mappings removed (Xen frontend)
 *   pvblk_xen_pgrant_evict persistent grants dropped from the cache: to
 *                         respect its caps, or idle for too long
 *
 * Only CREATE_TRACE_POINTS in core/trace.c expands the TP_fast_assign()
 * bodies: they may use the core's private structures (core/internal.h).
 * A disabled event costs one static branch at its call site; nothing is
 * computed for it.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM pvblk

#if !defined(_TRACE_PVBLK_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_PVBLK_H

#include <linux/blk_types.h>
#include <linux/ktime.h>
#include <linux/tracepoint.h>
#include <pvblk/pvblk.h>

TRACE_DEFINE_ENUM(PVBLK_OP_READ);
TRACE_DEFINE_ENUM(PVBLK_OP_WRITE);
TRACE_DEFINE_ENUM(PVBLK_OP_FLUSH);
TRACE_DEFINE_ENUM(PVBLK_OP_DISCARD);
TRACE_DEFINE_ENUM(PVBLK_OP_WRITE_ZEROES);
TRACE_DEFINE_ENUM(PVBLK_OP_GET_ID);

#define show_pvblk_op(op)					\
	__print_symbolic(op,					\
		{ PVBLK_OP_READ,		"read" },	\
		{ PVBLK_OP_WRITE,		"write" },	\
		{ PVBLK_OP_FLUSH,		"flush" },	\
		{ PVBLK_OP_DISCARD,		"discard" },	\
		{ PVBLK_OP_WRITE_ZEROES,	"write_zeroes" }, \
		{ PVBLK_OP_GET_ID,		"get_id" })

/* Only in TP_fast_assign() (core/trace.c sees struct pvblk_dev). */
#define pvblk_trace_transport(q)	((q)->dev->ops->name ?: "none")
#define pvblk_trace_dev(q)		((q)->dev->name)

TRACE_EVENT(pvblk_req_queued,
	    TP_PROTO(struct pvblk_req *req),
	    TP_ARGS(req),
	    TP_STRUCT__entry(__string(transport, pvblk_trace_transport(req->q))
			     __string(dev, pvblk_trace_dev(req->q))
			     __field(unsigned int, queue)
			     __field(unsigned int, op)
			     __field(unsigned int, flags)
			     __field(u64, sector)
			     __field(u64, nr_sectors)
			     __field(unsigned int, nr_segs)),
	    TP_fast_assign(__assign_str(transport);
			   __assign_str(dev);
			   __entry->queue = req->q->index;
			   __entry->op = req->op;
			   __entry->flags = req->flags;
			   __entry->sector = req->sector;
			   __entry->nr_sectors = req->nr_sectors;
			   __entry->nr_segs = req->nr_segs;),
	    TP_printk("transport=%s dev=%s queue=%u op=%s flags=%#x sector=%llu nr_sectors=%llu nr_segs=%u",
		      __get_str(transport), __get_str(dev), __entry->queue,
		      show_pvblk_op(__entry->op), __entry->flags,
		      __entry->sector, __entry->nr_sectors, __entry->nr_segs)
);

TRACE_EVENT(pvblk_req_submitted,
	    TP_PROTO(struct pvblk_req *req),
	    TP_ARGS(req),
	    TP_STRUCT__entry(__string(transport, pvblk_trace_transport(req->q))
			     __string(dev, pvblk_trace_dev(req->q))
			     __field(unsigned int, queue)
			     __field(unsigned int, op)
			     __field(u64, sector)
			     __field(u64, bytes)
			     __field(bool, file)
			     __field(bool, bounced)),
	    TP_fast_assign(__assign_str(transport);
			   __assign_str(dev);
			   __entry->queue = req->q->index;
			   __entry->op = req->op;
			   __entry->sector = req->sector;
			   /* data, or the range of a DISCARD/WRITE_ZEROES */
			   __entry->bytes = req->bytes ?: req->nr_sectors << 9;
			   __entry->file = req->be && req->be->file;
			   __entry->bounced = !!req->bounce;),
	    TP_printk("transport=%s dev=%s queue=%u op=%s sector=%llu bytes=%llu backend=%s bounced=%d",
		      __get_str(transport), __get_str(dev), __entry->queue,
		      show_pvblk_op(__entry->op), __entry->sector,
		      __entry->bytes, __entry->file ? "file" : "bdev",
		      __entry->bounced)
);

TRACE_EVENT(pvblk_req_completed,
	    TP_PROTO(struct pvblk_req *req, u64 lat_ns),
	    TP_ARGS(req, lat_ns),
	    TP_STRUCT__entry(__string(transport, pvblk_trace_transport(req->q))
			     __string(dev, pvblk_trace_dev(req->q))
			     __field(unsigned int, queue)
			     __field(unsigned int, op)
			     __field(unsigned int, flags)
			     __field(u64, sector)
			     __field(u64, bytes)
			     __field(int, status)
			     __field(u64, lat_ns)),
	    TP_fast_assign(__assign_str(transport);
			   __assign_str(dev);
			   __entry->queue = req->q->index;
			   __entry->op = req->op;
			   __entry->flags = req->flags;
			   __entry->sector = req->sector;
			   __entry->bytes = req->bytes ?: req->nr_sectors << 9;
			   __entry->status = blk_status_to_errno(req->status);
			   __entry->lat_ns = lat_ns;),
	    TP_printk("transport=%s dev=%s queue=%u op=%s flags=%#x sector=%llu bytes=%llu status=%d lat_ns=%llu",
		      __get_str(transport), __get_str(dev), __entry->queue,
		      show_pvblk_op(__entry->op), __entry->flags,
		      __entry->sector, __entry->bytes, __entry->status,
		      __entry->lat_ns)
);

DECLARE_EVENT_CLASS(pvblk_queue_count,
		    TP_PROTO(struct pvblk_queue *q, unsigned int nr),
		    TP_ARGS(q, nr),
		    TP_STRUCT__entry(__string(transport, pvblk_trace_transport(q))
				     __string(dev, pvblk_trace_dev(q))
				     __field(unsigned int, queue)
				     __field(unsigned int, nr)),
		    TP_fast_assign(__assign_str(transport);
				   __assign_str(dev);
				   __entry->queue = q->index;
				   __entry->nr = nr;),
		    TP_printk("transport=%s dev=%s queue=%u nr=%u",
			      __get_str(transport), __get_str(dev),
			      __entry->queue, __entry->nr)
);

DEFINE_EVENT(pvblk_queue_count, pvblk_batch,
	     TP_PROTO(struct pvblk_queue *q, unsigned int nr),
	     TP_ARGS(q, nr)
);

DEFINE_EVENT(pvblk_queue_count, pvblk_drain,
	     TP_PROTO(struct pvblk_queue *q, unsigned int nr),
	     TP_ARGS(q, nr)
);

DECLARE_EVENT_CLASS(pvblk_req_wait,
		    TP_PROTO(struct pvblk_req *req),
		    TP_ARGS(req),
		    TP_STRUCT__entry(__string(transport, pvblk_trace_transport(req->q))
				     __string(dev, pvblk_trace_dev(req->q))
				     __field(unsigned int, queue)
				     __field(unsigned int, op)
				     __field(u64, sector)
				     __field(u64, waited_ns)),
		    TP_fast_assign(__assign_str(transport);
				   __assign_str(dev);
				   __entry->queue = req->q->index;
				   __entry->op = req->op;
				   __entry->sector = req->sector;
				   __entry->waited_ns = ktime_get_ns() - req->start_ns;),
		    TP_printk("transport=%s dev=%s queue=%u op=%s sector=%llu waited_ns=%llu",
			      __get_str(transport), __get_str(dev),
			      __entry->queue, show_pvblk_op(__entry->op),
			      __entry->sector, __entry->waited_ns)
);

DEFINE_EVENT(pvblk_req_wait, pvblk_barrier,
	     TP_PROTO(struct pvblk_req *req),
	     TP_ARGS(req)
);

DEFINE_EVENT(pvblk_req_wait, pvblk_flush,
	     TP_PROTO(struct pvblk_req *req),
	     TP_ARGS(req)
);

DECLARE_EVENT_CLASS(pvblk_xen_grants,
		    TP_PROTO(struct pvblk_queue *q, unsigned int count,
			     unsigned int errors),
		    TP_ARGS(q, count, errors),
		    TP_STRUCT__entry(__string(dev, q ? pvblk_trace_dev(q) : "none")
				     __field(unsigned int, queue)
				     __field(unsigned int, count)
				     __field(unsigned int, errors)),
		    TP_fast_assign(__assign_str(dev);
				   __entry->queue = q ? q->index : 0;
				   __entry->count = count;
				   __entry->errors = errors;),
		    TP_printk("dev=%s queue=%u count=%u errors=%u",
			      __get_str(dev), __entry->queue, __entry->count,
			      __entry->errors)
);

DEFINE_EVENT(pvblk_xen_grants, pvblk_xen_grant_map,
	     TP_PROTO(struct pvblk_queue *q, unsigned int count,
		      unsigned int errors),
	     TP_ARGS(q, count, errors)
);

DEFINE_EVENT(pvblk_xen_grants, pvblk_xen_grant_unmap,
	     TP_PROTO(struct pvblk_queue *q, unsigned int count,
		      unsigned int errors),
	     TP_ARGS(q, count, errors)
);

TRACE_EVENT(pvblk_xen_pgrant_evict,
	    TP_PROTO(const char *cache, unsigned int count, bool idle),
	    TP_ARGS(cache, count, idle),
	    TP_STRUCT__entry(__string(cache, cache)
			     __field(unsigned int, count)
			     __field(bool, idle)),
	    TP_fast_assign(__assign_str(cache);
			   __entry->count = count;
			   __entry->idle = idle;),
	    TP_printk("cache=%s count=%u reason=%s", __get_str(cache),
		      __entry->count, __entry->idle ? "idle" : "full")
);

#endif /* _TRACE_PVBLK_H */

/* This part must be outside the include guard. */
#include <trace/define_trace.h>
