// SPDX-License-Identifier: GPL-2.0
/*
 * pvv-basic: functional checks of a virtio-blk device through libpvv.
 *
 *   pvv-basic -k /dev/vhost-blk -b BACKING [-r] [-s SERIAL] [-q N] [-z] [-p T]
 *   pvv-basic -u SOCKET [-q N] [-z] [-p T]
 *
 * -r: backing opened read-only (writes must fail with IOERR)
 * -s: set this serial and expect it from GET_ID
 * -z: the backend reads discarded ranges back as zeroes
 * -p: poll: the driver polls the used ring, and (kernel) every virtqueue
 *     gets busy-poll timeout T (VHOST_SET_VRING_BUSYLOOP_TIMEOUT); checks
 *     its SET/GET round trip and the refusal of a bad index, then runs
 *     every I/O check with polling on both sides
 * Prints TAP-style lines and "N passed, N failed".
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_blk.h>

#include "pvv.h"

static int npass, nfail;

static void check(int ok, const char *fmt, const char *what)
{
	printf("%s - %s%s\n", ok ? "ok" : "not ok", fmt, what ? what : "");
	if (ok)
		npass++;
	else
		nfail++;
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static int all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Busy-poll timeout ioctls (-p T): round trip, bad index; 0 restores T. */
static void busyloop_checks(struct pvv_dev *d, unsigned int t)
{
	unsigned int q, num, bad = 0;
	int r;

	for (q = 0; q < pvv_nqueues(d); q++) {
		num = ~0u;
		if (pvv_get_busyloop(d, q, &num) || num != t)
			bad++;
	}
	check(!bad, "every virtqueue reports the busy-poll timeout it was set to",
	      NULL);
	r = pvv_set_busyloop(d, 0, t + 7);
	num = 0;
	r = r ? r : pvv_get_busyloop(d, 0, &num);
	check(!r && num == t + 7, "busy-poll timeout SET/GET round trip", NULL);
	r = pvv_set_busyloop(d, 0, 0);
	num = 1;
	r = r ? r : pvv_get_busyloop(d, 0, &num);
	check(!r && num == 0, "busy-poll timeout 0 (off) round trip", NULL);
	check(!pvv_set_busyloop(d, 0, t), "busy-poll timeout restored", NULL);
	/* VHOST_BLK_MAX_QUEUES virtqueues: index 16 is past the last. */
	r = pvv_set_busyloop(d, 16, t);
	check(r == -ENOBUFS, "busy-poll SET on a bad vq index is refused (ENOBUFS)",
	      NULL);
	r = pvv_get_busyloop(d, 16, &num);
	check(r == -ENOBUFS, "busy-poll GET on a bad vq index is refused (ENOBUFS)",
	      NULL);
	r = pvv_set_busyloop(d, ~0u, t);
	check(r == -ENOBUFS, "busy-poll SET on vq index 0xffffffff is refused",
	      NULL);
}

/*
 * 64 reads in flight at once, reaped as they come (with -p, by polling
 * while the device polls too), then one more after a pause long enough
 * for a polling worker to have gone back to sleep.
 */
static void inflight_checks(struct pvv_vq *vq, uint8_t *rd)
{
	struct pvv_done done[64];
	struct iovec iov;
	int i, n = 0, bad = 0, r = 0;

	for (i = 0; i < 64 && !r; i++) {
		iov.iov_base = rd + i * 4096;
		iov.iov_len = 4096;
		r = pvv_submit(vq, VIRTIO_BLK_T_IN, i * 8, &iov, 1, NULL, 0);
	}
	while (!r && n < 64) {
		int got = pvv_reap(vq, done, 64 - n);

		for (i = 0; i < got; i++)
			bad += done[i].status != VIRTIO_BLK_S_OK;
		n += got;
		if (!got && pvv_wait(vq, 10000) == -ETIMEDOUT)
			break;
	}
	check(!r && n == 64 && !bad, "64 reads in flight all complete", NULL);
	usleep(20000);
	r = pvv_sync(vq, VIRTIO_BLK_T_IN, 0, rd, 4096);
	check(r == VIRTIO_BLK_S_OK, "a read after 20 ms idle completes", NULL);
}

static int dwz(struct pvv_vq *vq, uint32_t type, uint64_t sector,
	       uint32_t n, uint32_t flags, struct virtio_blk_discard_write_zeroes *seg)
{
	seg->sector = sector;
	seg->num_sectors = n;
	seg->flags = flags;
	return pvv_sync(vq, type, 0, seg, sizeof(*seg));
}

int main(int argc, char **argv)
{
	struct pvv_opts o = { .kind = PVV_VHOST_KERNEL, .backing_fd = -1 };
	const char *serial = NULL;
	int ro = 0, dz = 0, c, r;
	unsigned int busy = 0;
	struct virtio_blk_discard_write_zeroes *seg;
	const struct pvv_config *cfg;
	struct pvv_dev *d;
	struct pvv_vq *vq;
	uint8_t *buf, *rd;
	uint64_t f;
	unsigned int q;
	char name[64];

	while ((c = getopt(argc, argv, "k:u:b:rs:q:zp:")) != -1) {
		switch (c) {
		case 'k': o.kind = PVV_VHOST_KERNEL; o.path = optarg; break;
		case 'u': o.kind = PVV_VHOST_USER; o.path = optarg; break;
		case 'b': o.backing = optarg; break;
		case 'r': ro = o.read_only = 1; break;
		case 's': serial = o.serial = optarg; break;
		case 'q': o.nqueues = atoi(optarg); break;
		case 'z': dz = 1; break;
		case 'p': o.poll = 1; busy = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: see the source\n");
			return 2;
		}
	}
	o.mem_size = 32 << 20;
	if (o.kind == PVV_VHOST_KERNEL)
		o.busyloop = busy;
	d = pvv_open(&o);
	check(d != NULL, "device opens and negotiates", NULL);
	if (!d)
		goto out;
	cfg = pvv_config(d);
	f = pvv_features(d);
	check(cfg->capacity >= 2048, "capacity >= 1 MiB", NULL);
	check(!!(f & (1ULL << VIRTIO_BLK_F_RO)) == ro, "RO feature matches", NULL);
	buf = pvv_alloc(d, 1 << 20, 4096);
	rd = pvv_alloc(d, 1 << 20, 4096);
	seg = pvv_alloc(d, sizeof(*seg), 64);
	if (!buf || !rd || !seg)
		goto out;
	if (o.busyloop)
		busyloop_checks(d, o.busyloop);
	inflight_checks(pvv_vq(d, 0), rd);

	for (q = 0; q < pvv_nqueues(d); q++) {
		uint64_t sec = 8 + q * 256;

		vq = pvv_vq(d, q);
		snprintf(name, sizeof(name), " (queue %u)", q);
		fill(buf, 65536, sec);
		r = pvv_sync(vq, VIRTIO_BLK_T_OUT, sec, buf, 65536);
		check(r == (ro ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK),
		      ro ? "write to RO backend fails with IOERR" :
		      "64 KiB write", name);
		memset(rd, 0xaa, 65536);
		r = pvv_sync(vq, VIRTIO_BLK_T_IN, sec, rd, 65536);
		check(r == VIRTIO_BLK_S_OK, "64 KiB read", name);
		if (!ro)
			check(!memcmp(buf, rd, 65536), "read returns written data",
			      name);
	}
	vq = pvv_vq(d, 0);

	/* multi-segment write, single-segment read back */
	if (!ro) {
		struct iovec iov[8];
		struct pvv_done done;
		int i;

		fill(buf, 8 * 4096, 99);
		for (i = 0; i < 8; i++) {
			iov[i].iov_base = buf + (7 - i) * 4096;
			iov[i].iov_len = 4096;
		}
		r = pvv_submit(vq, VIRTIO_BLK_T_OUT, 4096, iov, 8, NULL, 0);
		while (!r && pvv_reap(vq, &done, 1) == 0)
			pvv_wait(vq, -1);
		check(!r && done.status == VIRTIO_BLK_S_OK, "8-segment write", NULL);
		r = pvv_sync(vq, VIRTIO_BLK_T_IN, 4096, rd, 8 * 4096);
		for (i = 0; !r && i < 8; i++)
			if (memcmp(rd + i * 4096, buf + (7 - i) * 4096, 4096))
				r = -1;
		check(r == 0, "8-segment write lands in segment order", NULL);
	}

	/* last sector, then one past the end */
	r = pvv_sync(vq, VIRTIO_BLK_T_IN, cfg->capacity - 1, rd, 512);
	check(r == VIRTIO_BLK_S_OK, "read of the last sector", NULL);
	r = pvv_sync(vq, VIRTIO_BLK_T_IN, cfg->capacity, rd, 512);
	check(r == VIRTIO_BLK_S_IOERR, "read past capacity fails with IOERR", NULL);

	if (f & (1ULL << VIRTIO_BLK_F_FLUSH)) {
		r = pvv_sync(vq, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
		check(r == VIRTIO_BLK_S_OK, "flush", NULL);
	}

	memset(rd, 0xaa, 64);
	r = pvv_sync(vq, VIRTIO_BLK_T_GET_ID, 0, rd, VIRTIO_BLK_ID_BYTES);
	check(r == VIRTIO_BLK_S_OK, "GET_ID", NULL);
	if (serial) {
		size_t n = strlen(serial);

		if (n > VIRTIO_BLK_ID_BYTES)
			n = VIRTIO_BLK_ID_BYTES;
		check(r == VIRTIO_BLK_S_OK && !memcmp(rd, serial, n) &&
		      (n == VIRTIO_BLK_ID_BYTES || rd[n] == 0),
		      "GET_ID returns the serial", NULL);
	}

	r = pvv_sync(vq, 0x55, 0, rd, 512);
	check(r == VIRTIO_BLK_S_UNSUPP, "unknown request type is UNSUPP", NULL);

	if (!ro && (f & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES))) {
		fill(buf, 65536, 5);
		r = pvv_sync(vq, VIRTIO_BLK_T_OUT, 1024, buf, 65536);
		r = r ? r : dwz(vq, VIRTIO_BLK_T_WRITE_ZEROES, 1032, 64, 0, seg);
		check(r == VIRTIO_BLK_S_OK, "write-zeroes", NULL);
		r = pvv_sync(vq, VIRTIO_BLK_T_IN, 1024, rd, 65536);
		check(!r && !memcmp(rd, buf, 4096) &&
		      all_zero(rd + 4096, 32768) &&
		      !memcmp(rd + 36864, buf + 36864, 65536 - 36864),
		      "write-zeroes range reads back as zeroes, neighbours kept",
		      NULL);
		r = dwz(vq, VIRTIO_BLK_T_WRITE_ZEROES, 1024, 8,
			VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP, seg);
		check(r == VIRTIO_BLK_S_OK, "write-zeroes with UNMAP", NULL);
		r = pvv_sync(vq, VIRTIO_BLK_T_IN, 1024, rd, 4096);
		check(!r && all_zero(rd, 4096),
		      "write-zeroes with UNMAP reads back as zeroes", NULL);
	}
	if (!ro && (f & (1ULL << VIRTIO_BLK_F_DISCARD))) {
		uint32_t al = cfg->discard_sector_alignment ?
			      cfg->discard_sector_alignment : 8;
		uint64_t s = 4096 / al * al + al;
		uint32_t n = (8 + al - 1) / al * al;	/* >= 4 KiB, aligned */

		fill(buf, 1048576, 6);
		r = pvv_sync(vq, VIRTIO_BLK_T_OUT, s, buf, n * 512 > 1048576 ?
			     1048576 : n * 512);
		r = r ? r : dwz(vq, VIRTIO_BLK_T_DISCARD, s, n, 0, seg);
		check(r == VIRTIO_BLK_S_OK, "discard", NULL);
		if (dz) {
			r = pvv_sync(vq, VIRTIO_BLK_T_IN, s, rd, 4096);
			check(!r && all_zero(rd, 4096),
			      "discarded range reads back as zeroes", NULL);
		}
	}
out:
	pvv_close(d);
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
