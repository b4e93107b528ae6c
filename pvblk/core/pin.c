// SPDX-License-Identifier: GPL-2.0
/*
 * User page pinning: a transport whose guest memory is a process's memory
 * (vhost: the VMM's) pins the pages of a request's data with FOLL_PIN;
 * the core unpins them when the request completes (complete.c).
 */
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include "internal.h"

struct pvblk_seg *pvblk_alloc_segs(unsigned int nr)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_alloc_segs, nr);
	return kmalloc_array(nr, sizeof(struct pvblk_seg), GFP_KERNEL_ACCOUNT);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_alloc_segs);

ssize_t pvblk_extract_pages(struct iov_iter *iter, struct page **pages,
			    size_t maxsize, unsigned int maxpages,
			    size_t *offset)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_extract_pages, iter, pages, maxsize,
				   maxpages, offset);
	return iov_iter_extract_pages(iter, &pages, maxsize, maxpages, 0,
				      offset);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_extract_pages);

void pvblk_unpin_page(struct page *page, bool dirty)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_unpin_page, page, dirty);
	unpin_user_pages_dirty_lock(&page, 1, dirty);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_unpin_page);

void pvblk_unpin_segs(struct pvblk_seg *segs, unsigned int from,
		      unsigned int to, bool dirty)
{
	unsigned int i;

	for (i = from; i < to; i++)
		pvblk_unpin_page(segs[i].page, dirty);
}

#define PVBLK_PIN_CHUNK	16

int pvblk_req_pin_user(struct pvblk_req *req, struct iov_iter *iter,
		       unsigned int max_segs)
{
	struct page *pages[PVBLK_PIN_CHUNK];
	struct pvblk_seg *old = req->segs, *segs = req->segs;
	unsigned int nr = req->nr_segs, start = req->nr_segs, need, i;
	int ret = 0;

	if (!segs)
		segs = req->inline_segs;
	if (nr && !(req->core_flags & PVBLK_RF_PINNED))
		return -EINVAL;	/* segments of other origin: cannot mix */
	if (!iov_iter_count(iter))
		return 0;
	max_segs = min_t(unsigned int, max_segs, PVBLK_MAX_SEGS);
	if (!user_backed_iter(iter) || !iov_iter_extract_will_pin(iter))
		return -EINVAL;
	need = iov_iter_npages(iter, max_segs + 1);
	if (need > max_segs || nr + need > PVBLK_MAX_SEGS ||
	    nr + need > max_segs)
		return -EINVAL;

	if (nr + need > PVBLK_INLINE_SEGS) {
		segs = pvblk_alloc_segs(nr + need);
		if (!segs)
			return -ENOMEM;
		if (nr)
			memcpy(segs, old, nr * sizeof(*segs));
	}

	while (iov_iter_count(iter) && nr < start + need) {
		size_t off, len;
		ssize_t got;
		unsigned int n;

		got = pvblk_extract_pages(iter, pages, iov_iter_count(iter),
					  min_t(unsigned int, PVBLK_PIN_CHUNK,
						start + need - nr), &off);
		if (got <= 0) {
			ret = got ? got : -EFAULT;
			goto err_unpin;
		}
		n = DIV_ROUND_UP(off + got, PAGE_SIZE);
		for (i = 0; i < n; i++) {
			len = min_t(size_t, got, PAGE_SIZE - off);
			segs[nr].page = pages[i];
			segs[nr].offset = off;
			segs[nr].len = len;
			nr++;
			got -= len;
			off = 0;
		}
	}
	if (iov_iter_count(iter)) {
		ret = -EINVAL;	/* more pages than iov_iter_npages() said */
		goto err_unpin;
	}

	if (segs != old && (req->core_flags & PVBLK_RF_SEGS_ALLOC))
		kfree(old);
	if (segs != req->inline_segs)
		req->core_flags |= PVBLK_RF_SEGS_ALLOC;
	req->segs = segs;
	req->nr_segs = nr;
	req->core_flags |= PVBLK_RF_PINNED;
	return 0;

err_unpin:
	pvblk_unpin_segs(segs, start, nr, false);
	if (segs != old && segs != req->inline_segs)
		kfree(segs);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_req_pin_user);
