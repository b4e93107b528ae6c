// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-vlog: VHOST_F_LOG_ALL dirty-page logging and per-virtqueue workers
 * on /dev/vhost-blk.
 *
 *   pvblk-vlog BACKING
 *
 * Opens a 2-queue device on BACKING (a scratch block device: sectors
 * 64..95 are overwritten), then checks:
 *  - VHOST_NEW_WORKER, VHOST_ATTACH_VRING_WORKER on queue 1, and
 *    VHOST_GET_VRING_WORKER reporting that worker;
 *  - a write on queue 0 and on queue 1 (the latter served by the new worker);
 *  - with VHOST_F_LOG_ALL and a log bitmap (VHOST_SET_LOG_BASE), on each
 *    queue: every page a READ filled is logged, an untouched page is not,
 *    and the pages a WRITE only read from are not;
 *  - with VHOST_F_LOG_ALL acked off again: a READ logs nothing.
 * Prints ok/not ok lines and "N passed, N failed"; exits 1 on a failure.
 *
 * Log geometry.  libpvv's guest memory is one mmap'd region identity
 * mapped (guest physical address == process virtual address), so a guest
 * page's log bit is indexed by its virtual address / 4096.  pvv.h has no
 * accessor for the region, so it is recovered with pvv_in_mem(), which
 * only compares pointers: starting from a pvv_alloc() result, a binary
 * search finds the lowest page still inside the region (the mmap base,
 * page aligned); its size is pvv_opts.mem_size (set here, a multiple of
 * 4096), and the result is cross-checked (whole region inside, the pages
 * just below and just past it outside).  The bitmap covers exactly
 * [log_lo, region_end), where log_lo is region_start rounded down to
 * 8 pages so that bit 0 of bitmap byte 0 is page log_lo / 4096, and the
 * log base handed to the kernel is bitmap - log_lo / 4096 / 8.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include "pvv.h"

#define PAGE		4096UL
#define LOG_CHUNK	(8 * PAGE)	/* guest bytes per bitmap byte */
#define MEM_SIZE	(64UL << 20)
#define NPAGES		4		/* data pages per request */
#define BUF_LEN		(NPAGES * PAGE)
#define SECTOR		64

static int n_pass, n_fail;

static int check(int cond, const char *what, int q)
{
	if (q >= 0)
		printf("%s - %s (queue %d)\n", cond ? "ok" : "not ok", what, q);
	else
		printf("%s - %s\n", cond ? "ok" : "not ok", what);
	if (cond)
		n_pass++;
	else
		n_fail++;
	return cond;
}

static uint8_t *bitmap;
static size_t bitmap_len;
static uintptr_t log_lo;

static int page_logged(const void *p)
{
	uintptr_t pg = ((uintptr_t)p - log_lo) / PAGE;

	return (bitmap[pg / 8] >> (pg % 8)) & 1;
}

/* All NPAGES pages of buf logged (want = 1) or none of them (want = 0). */
static int pages_logged(const uint8_t *buf, int want)
{
	int i;

	for (i = 0; i < NPAGES; i++)
		if (page_logged(buf + i * PAGE) != want)
			return 0;
	return 1;
}

/* The region start: lowest page inside guest memory below a known pointer. */
static uintptr_t find_region_start(struct pvv_dev *d, const void *inside)
{
	uintptr_t top = (uintptr_t)inside & ~(PAGE - 1);
	size_t lo = 0, hi = MEM_SIZE / PAGE;	/* pages below top: lo in, hi out */

	if (hi * PAGE > top)
		hi = top / PAGE;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (pvv_in_mem(d, (const void *)(top - mid * PAGE), 1))
			lo = mid;
		else
			hi = mid;
	}
	return top - lo * PAGE;
}

static int set_features(int fd, uint64_t f)
{
	return ioctl(fd, VHOST_SET_FEATURES, &f) ? -errno : 0;
}

int main(int argc, char **argv)
{
	struct pvv_opts o = {
		.kind = PVV_VHOST_KERNEL, .path = "/dev/vhost-blk",
		.backing_fd = -1, .nqueues = 2, .mem_size = MEM_SIZE,
	};
	struct vhost_worker_state ws = { 0 };
	struct vhost_vring_worker vw = { 0 };
	uintptr_t mem_lo, mem_hi;
	uint8_t *rbuf, *wbuf, *quiet;
	struct pvv_dev *d;
	uint64_t base, f;
	int fd, q, r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s BACKING\n", argv[0]);
		return 2;
	}
	o.backing = argv[1];
	d = pvv_open(&o);
	if (!check(d != NULL, "open a 2-queue device", -1))
		goto out;
	if (!check(pvv_nqueues(d) == 2, "device has 2 queues", -1))
		goto out;
	fd = pvv_ctl_fd(d);

	/* Per-virtqueue worker for queue 1. */
	r = ioctl(fd, VHOST_NEW_WORKER, &ws);
	check(r == 0, "VHOST_NEW_WORKER", -1);
	vw.index = 1;
	vw.worker_id = ws.worker_id;
	r = ioctl(fd, VHOST_ATTACH_VRING_WORKER, &vw);
	check(r == 0, "VHOST_ATTACH_VRING_WORKER: new worker on queue 1", -1);
	vw.index = 1;
	vw.worker_id = ws.worker_id + 1000;
	r = ioctl(fd, VHOST_GET_VRING_WORKER, &vw);
	check(r == 0 && vw.worker_id == ws.worker_id,
	      "VHOST_GET_VRING_WORKER reports the new worker on queue 1", -1);

	/* Separate page-aligned buffers, plus a page no request touches. */
	rbuf = pvv_alloc(d, BUF_LEN, PAGE);
	wbuf = pvv_alloc(d, BUF_LEN, PAGE);
	quiet = pvv_alloc(d, PAGE, PAGE);
	if (!check(rbuf && wbuf && quiet, "allocate buffers in guest memory", -1))
		goto out;
	memset(wbuf, 0x5a, BUF_LEN);
	for (q = 0; q < 2; q++) {
		r = pvv_sync(pvv_vq(d, q), VIRTIO_BLK_T_OUT, SECTOR, wbuf, BUF_LEN);
		check(r == VIRTIO_BLK_S_OK, "write", q);
	}

	/* Log bitmap covering exactly the guest memory region. */
	mem_lo = find_region_start(d, rbuf);
	mem_hi = mem_lo + MEM_SIZE;
	if (!check(pvv_in_mem(d, (void *)mem_lo, MEM_SIZE) &&
		   !pvv_in_mem(d, (void *)(mem_lo - PAGE), 1) &&
		   !pvv_in_mem(d, (void *)mem_hi, 1),
		   "guest memory region found", -1))
		goto out;
	log_lo = mem_lo & ~(LOG_CHUNK - 1);
	bitmap_len = (mem_hi - log_lo + LOG_CHUNK - 1) / LOG_CHUNK;
	if (posix_memalign((void **)&bitmap, PAGE, bitmap_len)) {
		check(0, "allocate the log bitmap", -1);
		goto out;
	}
	memset(bitmap, 0, bitmap_len);
	printf("# guest memory %#lx..%#lx, bitmap %zu bytes from page %#lx\n",
	       (unsigned long)mem_lo, (unsigned long)mem_hi, bitmap_len,
	       (unsigned long)(log_lo / PAGE));
	base = (uint64_t)(uintptr_t)bitmap - log_lo / LOG_CHUNK;
	r = ioctl(fd, VHOST_SET_LOG_BASE, &base);
	check(r == 0, "VHOST_SET_LOG_BASE", -1);
	f = pvv_features(d) | (1ULL << VHOST_F_LOG_ALL);
	r = set_features(fd, f);
	check(r == 0, "VHOST_SET_FEATURES with VHOST_F_LOG_ALL", -1);

	for (q = 0; q < 2; q++) {
		memset(rbuf, 0, BUF_LEN);
		memset(bitmap, 0, bitmap_len);
		r = pvv_sync(pvv_vq(d, q), VIRTIO_BLK_T_IN, SECTOR, rbuf, BUF_LEN);
		check(r == VIRTIO_BLK_S_OK && !memcmp(rbuf, wbuf, BUF_LEN),
		      "LOG_ALL: read returns the written data", q);
		check(pages_logged(rbuf, 1),
		      "LOG_ALL: every page the read filled is logged", q);
		check(!page_logged(quiet), "LOG_ALL: untouched page not logged", q);

		memset(bitmap, 0, bitmap_len);
		r = pvv_sync(pvv_vq(d, q), VIRTIO_BLK_T_OUT, SECTOR, wbuf, BUF_LEN);
		check(r == VIRTIO_BLK_S_OK, "LOG_ALL: write", q);
		check(pages_logged(wbuf, 0),
		      "LOG_ALL: pages the write only read from not logged", q);
	}

	f &= ~(1ULL << VHOST_F_LOG_ALL);
	r = set_features(fd, f);
	check(r == 0, "VHOST_SET_FEATURES without VHOST_F_LOG_ALL", -1);
	for (q = 0; q < 2; q++) {
		size_t i;

		memset(bitmap, 0, bitmap_len);
		r = pvv_sync(pvv_vq(d, q), VIRTIO_BLK_T_IN, SECTOR, rbuf, BUF_LEN);
		for (i = 0; i < bitmap_len && !bitmap[i]; i++)
			;
		check(r == VIRTIO_BLK_S_OK && i == bitmap_len,
		      "LOG_ALL off: read logs nothing", q);
	}
out:
	if (d)
		pvv_close(d);
	free(bitmap);
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
