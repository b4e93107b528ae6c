// SPDX-License-Identifier: GPL-2.0
/*
 * pvv-io: a known workload through /dev/vhost-blk, for tests that check
 * what the kernel saw (tracepoints, stats).
 *
 *   pvv-io [-k DEV] -b BACKING [-q QUEUES] [-n N] [-s SECTOR] [-B BYTES]
 *          [-t SECONDS]
 *
 * On queue 0, one request at a time: N WRITEs of BYTES (a multiple of 512)
 * at SECTOR, SECTOR + BYTES/512, ..., then one FLUSH, then N READs of the
 * same blocks, each compared with what was written.  With -t, the same
 * writes and reads then go round every queue (a write then a read of one
 * block) until SECONDS have passed (a steady load for pvblk-stat).
 * Defaults: N 8, SECTOR 2048, BYTES 4096, QUEUES 1.
 * Prints "writes N flush 1 reads N" (and "loop R" with -t, R requests);
 * exit status 0 ok, 1 an I/O failed or read back wrong, 2 usage,
 * 3 the device or its backend refused.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/virtio_blk.h>

#include "pvv.h"

static void fill(uint8_t *p, size_t n, uint64_t sector)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(sector * 29 + i * 11 + (i >> 8));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Write the pattern of @sector there through @vq; 0, or -1 and a message. */
static int wr(struct pvv_vq *vq, uint8_t *buf, size_t bytes, uint64_t sector)
{
	int r;

	fill(buf, bytes, sector);
	r = pvv_sync(vq, VIRTIO_BLK_T_OUT, sector, buf, bytes);
	if (r) {
		fprintf(stderr, "pvv-io: write sector %llu: %d\n",
			(unsigned long long)sector, r);
		return -1;
	}
	return 0;
}

static int rd(struct pvv_vq *vq, uint8_t *buf, uint8_t *want, size_t bytes,
	      uint64_t sector)
{
	int r;

	memset(buf, 0, bytes);
	r = pvv_sync(vq, VIRTIO_BLK_T_IN, sector, buf, bytes);
	if (r) {
		fprintf(stderr, "pvv-io: read sector %llu: %d\n",
			(unsigned long long)sector, r);
		return -1;
	}
	fill(want, bytes, sector);
	if (memcmp(buf, want, bytes)) {
		fprintf(stderr, "pvv-io: sector %llu read back wrong\n",
			(unsigned long long)sector);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct pvv_opts o = { .kind = PVV_VHOST_KERNEL, .path = "/dev/vhost-blk",
			      .backing_fd = -1, .nqueues = 1 };
	unsigned long n = 8, i, loops = 0;
	unsigned long long sector = 2048;
	size_t bytes = 4096;
	double secs = 0, end;
	uint8_t *buf, *want;
	struct pvv_dev *d;
	int c, r, ret = 1;

	while ((c = getopt(argc, argv, "k:b:q:n:s:B:t:")) != -1) {
		switch (c) {
		case 'k': o.path = optarg; break;
		case 'b': o.backing = optarg; break;
		case 'q': o.nqueues = strtoul(optarg, NULL, 0); break;
		case 'n': n = strtoul(optarg, NULL, 0); break;
		case 's': sector = strtoull(optarg, NULL, 0); break;
		case 'B': bytes = strtoul(optarg, NULL, 0); break;
		case 't': secs = strtod(optarg, NULL); break;
		default: return 2;
		}
	}
	if (!o.backing || !n || !bytes || bytes % 512 || !o.nqueues) {
		fprintf(stderr, "usage: pvv-io [-k DEV] -b BACKING [-q QUEUES] [-n N] [-s SECTOR] [-B BYTES] [-t SECONDS]\n");
		return 2;
	}
	o.mem_size = 16 << 20;
	if (bytes > o.mem_size / 4) {
		fprintf(stderr, "pvv-io: -B %zu too large\n", bytes);
		return 2;
	}
	d = pvv_open(&o);
	if (!d)
		return 3;
	buf = pvv_alloc(d, bytes, 4096);
	want = malloc(bytes);
	if (!buf || !want)
		goto out;

	for (i = 0; i < n; i++)
		if (wr(pvv_vq(d, 0), buf, bytes, sector + i * (bytes / 512)))
			goto out;
	r = pvv_sync(pvv_vq(d, 0), VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	if (r) {
		fprintf(stderr, "pvv-io: flush: %d\n", r);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (rd(pvv_vq(d, 0), buf, want, bytes, sector + i * (bytes / 512)))
			goto out;
	printf("writes %lu flush 1 reads %lu\n", n, n);

	end = now_s() + secs;
	for (i = 0; secs > 0 && now_s() < end; i++) {
		struct pvv_vq *vq = pvv_vq(d, i % pvv_nqueues(d));
		uint64_t s = sector + (i % n) * (bytes / 512);

		if (wr(vq, buf, bytes, s) || rd(vq, buf, want, bytes, s))
			goto out;
		loops += 2;
	}
	if (secs > 0)
		printf("loop %lu\n", loops);
	ret = 0;
out:
	fflush(stdout);
	free(want);
	pvv_close(d);
	return ret;
}
