// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim for test-qemu.sh: makes a regular file stand in for
 * /dev/vhost-blk so the daemon can negotiate with a real QEMU on a host
 * without pvblk.ko.  ioctl()s on that file (named by $FAKE_VHOST_BLK) are
 * answered here: no data path, only what the control path needs.
 * Every request is logged to stderr as "fake-vhost-blk: NAME".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <linux/vhost_blk.h>

static int is_fake(int fd)
{
	const char *path = getenv("FAKE_VHOST_BLK");
	struct stat a, b;

	return path && fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int fake(unsigned long req, void *arg)
{
	const char *s = getenv("FAKE_VHOST_BLK_SECTORS");
	uint64_t f = (1ull << VIRTIO_F_VERSION_1) |
		     (1ull << VIRTIO_RING_F_INDIRECT_DESC) |
		     (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VHOST_F_LOG_ALL) |
		     (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ull << VIRTIO_BLK_F_MQ) | (1ull << VIRTIO_BLK_F_FLUSH);
	struct virtio_blk_config cfg;
	const char *name = "other";
	struct stat st;
	int r = 0;

	switch (req) {
	case VHOST_SET_OWNER: name = "SET_OWNER"; break;
	case VHOST_GET_FEATURES:
		name = "GET_FEATURES";
		memcpy(arg, &f, sizeof(f));
		break;
	case VHOST_SET_FEATURES:
		name = (*(uint64_t *)arg >> VHOST_F_LOG_ALL) & 1 ?
			"SET_FEATURES(LOG_ALL)" : "SET_FEATURES";
		break;
	case VHOST_SET_LOG_BASE: name = "SET_LOG_BASE"; break;
	case VHOST_BLK_SET_BACKEND:
		name = ((struct vhost_vring_file *)arg)->fd < 0 ? "SET_BACKEND(-1)" :
								   "SET_BACKEND";
		break;
	case VHOST_BLK_SET_SERIAL: name = "SET_SERIAL"; break;
	case VHOST_BLK_SET_QOS: {
		const struct vhost_blk_qos *q = arg;

		fprintf(stderr, "fake-vhost-blk: SET_QOS riops %llu wiops %llu rbps %llu wbps %llu burst %u\n",
			(unsigned long long)q->read_iops,
			(unsigned long long)q->write_iops,
			(unsigned long long)q->read_bps,
			(unsigned long long)q->write_bps, q->burst_ms);
		return 0;
	}
	case VHOST_BLK_GET_CONFIG:
		name = "GET_CONFIG";
		memset(&cfg, 0, sizeof(cfg));
		/* FAKE_VHOST_BLK_DISK: the size of that file (a resize test). */
		if (getenv("FAKE_VHOST_BLK_DISK") &&
		    stat(getenv("FAKE_VHOST_BLK_DISK"), &st) == 0)
			cfg.capacity = htole64((uint64_t)st.st_size >> 9);
		else
			cfg.capacity = htole64(s ? strtoull(s, NULL, 0) : 2048);
		cfg.seg_max = htole32(128);
		cfg.blk_size = htole32(512);
		cfg.num_queues = htole16(VHOST_BLK_MAX_QUEUES);
		memcpy(arg, &cfg, sizeof(cfg));
		break;
	case VHOST_SET_MEM_TABLE: name = "SET_MEM_TABLE"; break;
	case VHOST_SET_VRING_NUM: name = "SET_VRING_NUM"; break;
	case VHOST_SET_VRING_ADDR:
		name = ((struct vhost_vring_addr *)arg)->flags & (1u << VHOST_VRING_F_LOG) ?
			"SET_VRING_ADDR(LOG)" : "SET_VRING_ADDR";
		break;
	case VHOST_SET_VRING_BASE: name = "SET_VRING_BASE"; break;
	case VHOST_GET_VRING_BASE:
		name = "GET_VRING_BASE";
		((struct vhost_vring_state *)arg)->num = 0;
		break;
	case VHOST_SET_VRING_KICK: name = "SET_VRING_KICK"; break;
	case VHOST_SET_VRING_CALL: name = "SET_VRING_CALL"; break;
	case VHOST_SET_VRING_ERR: name = "SET_VRING_ERR"; break;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT: {
		const struct vhost_vring_state *st = arg;

		fprintf(stderr, "fake-vhost-blk: SET_VRING_BUSYLOOP_TIMEOUT %u %u\n",
			st->index, st->num);
		return 0;
	}
	default:
		r = -1;
		errno = ENOTTY;
		break;
	}
	if (req == VHOST_BLK_GET_CONFIG)
		fprintf(stderr, "fake-vhost-blk: GET_CONFIG capacity %llu\n",
			(unsigned long long)le64toh(cfg.capacity));
	else
		fprintf(stderr, "fake-vhost-blk: %s\n", name);
	return r;
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, void *);
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (is_fake(fd))
		return fake(req, arg);
	if (!real)
		real = (int (*)(int, unsigned long, void *))dlsym(RTLD_NEXT, "ioctl");
	return real(fd, req, arg);
}
