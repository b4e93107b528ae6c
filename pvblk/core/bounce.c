// SPDX-License-Identifier: GPL-2.0
/*
 * Bounce buffers: a READ/WRITE whose segments the backend cannot take
 * directly (pvblk_req_check() marked it PVBLK_RF_UNALIGNED) runs through
 * whole pages of the core's instead, the way QEMU bounces a misaligned
 * request for O_DIRECT.
 *
 * pvblk_bounce_start() runs at dispatch, in process context: it allocates
 * the pages, copies a WRITE's data into them and swaps req->segs for the
 * bounce segments, so the bio and file backends see an aligned request
 * and need no change.  pvblk_bounce_end() runs from pvblk_req_release(),
 * on the transport's worker (process context: never in bio end_io, which
 * may be an interrupt), before the guest pages are unpinned: it copies a
 * successful READ back, gives the transport its segments again and frees
 * everything.  Every request leaves through that release (completion,
 * error, reset and teardown drain through pvblk_queue_drain()), so a
 * bounce buffer cannot outlive its request.
 */
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <kunit/visibility.h>
#include "internal.h"

/**
 * struct pvblk_bounce - the bounce buffer of one request.
 * @segs: the transport's segments, given back by pvblk_bounce_end().
 * @nr_segs: their number.
 * @nr_pages: bounce pages allocated in @bsegs.
 * @bsegs: one segment per bounce page, each from offset 0; all full but
 *	the last, which holds the rest (a multiple of 512).
 */
struct pvblk_bounce {
	struct pvblk_seg *segs;
	unsigned int nr_segs;
	unsigned int nr_pages;
	struct pvblk_seg bsegs[] __counted_by(nr_pages);
};

/**
 * pvblk_copy_segs() - copy the data of one segment list into another.
 * @dst: destination segments.
 * @nr_dst: their number.
 * @src: source segments.
 * @nr_src: their number.
 * @flush_dst: flush_dcache_page() each destination page written (guest
 *	pages another mapping reads).
 *
 * Both lists are walked in order until either ends; a pvblk_req_check()ed
 * request and its bounce hold the same number of bytes.  Any context.
 */
void pvblk_copy_segs(const struct pvblk_seg *dst, unsigned int nr_dst,
		     const struct pvblk_seg *src, unsigned int nr_src,
		     bool flush_dst)
{
	unsigned int d = 0, s = 0, doff = 0, soff = 0, n;

	while (d < nr_dst && s < nr_src) {
		n = min(dst[d].len - doff, src[s].len - soff);
		memcpy_page(dst[d].page, dst[d].offset + doff,
			    src[s].page, src[s].offset + soff, n);
		doff += n;
		soff += n;
		if (doff == dst[d].len) {
			if (flush_dst)
				flush_dcache_page(dst[d].page);
			d++;
			doff = 0;
		}
		if (soff == src[s].len) {
			s++;
			soff = 0;
		}
	}
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_copy_segs);

static void pvblk_bounce_free(struct pvblk_bounce *b)
{
	unsigned int i;

	for (i = 0; i < b->nr_pages; i++)
		__free_page(b->bsegs[i].page);
	kvfree(b);
}

/*
 * Bounce pages for @bytes; NULL without memory.  The caller is the
 * submission path of a block device: no reclaim I/O from here (NOIO
 * scope), and the memory is charged like the rest of the request's.
 */
static struct pvblk_bounce *pvblk_bounce_alloc(u64 bytes)
{
	unsigned int i, n = DIV_ROUND_UP_ULL(bytes, PAGE_SIZE);
	struct pvblk_bounce *b = NULL;
	unsigned int noio = memalloc_noio_save();
	struct page *page;

	if (!pvblk_fail_alloc())
		b = kvmalloc(struct_size(b, bsegs, n), GFP_KERNEL_ACCOUNT);
	if (!b)
		goto out;
	b->nr_pages = 0;
	for (i = 0; i < n; i++) {
		page = pvblk_fail_alloc() ? NULL :
			alloc_page(GFP_KERNEL_ACCOUNT);
		if (!page) {
			pvblk_bounce_free(b);
			b = NULL;
			goto out;
		}
		b->nr_pages++;
		b->bsegs[i].page = page;
		b->bsegs[i].offset = 0;
		b->bsegs[i].len = min_t(u64, bytes, PAGE_SIZE);
		bytes -= b->bsegs[i].len;
	}
out:
	memalloc_noio_restore(noio);
	return b;
}

/**
 * pvblk_bounce_start() - run @req through a bounce buffer.
 * @req: a READ/WRITE that passed pvblk_req_check() (req->bytes set).
 *
 * Process context.  Return: BLK_STS_OK with req->segs on the bounce pages
 * (a WRITE's data copied in), or BLK_STS_RESOURCE and @req unchanged.
 */
blk_status_t pvblk_bounce_start(struct pvblk_req *req)
{
	struct pvblk_bounce *b = pvblk_bounce_alloc(req->bytes);

	if (!b)
		return BLK_STS_RESOURCE;
	if (req->op == PVBLK_OP_WRITE)
		pvblk_copy_segs(b->bsegs, b->nr_pages, req->segs, req->nr_segs,
				false);
	b->segs = req->segs;
	b->nr_segs = req->nr_segs;
	req->segs = b->bsegs;
	req->nr_segs = b->nr_pages;
	req->bounce = b;
	PVBLK_STAT_ADD(req->q, bounce_reqs, 1);
	PVBLK_STAT_ADD(req->q, bounce_bytes, req->bytes);
	return BLK_STS_OK;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_bounce_start);

/**
 * pvblk_bounce_end() - finish the bounce of a completed request.
 * @req: a request with req->bounce set, completed.
 *
 * Process context (pvblk_req_release()).  A READ that succeeded is copied
 * back to the transport's segments; the bounce is freed in every case and
 * req->segs / req->nr_segs are the transport's again.
 */
void pvblk_bounce_end(struct pvblk_req *req)
{
	struct pvblk_bounce *b = req->bounce;

	if (req->op == PVBLK_OP_READ && req->status == BLK_STS_OK)
		pvblk_copy_segs(b->segs, b->nr_segs, b->bsegs, b->nr_pages,
				true);
	req->segs = b->segs;
	req->nr_segs = b->nr_segs;
	req->bounce = NULL;
	pvblk_bounce_free(b);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_bounce_end);
