// SPDX-License-Identifier: GPL-2.0
/*
 * pvv-attach: attach one backing to a fresh /dev/vhost-blk through libpvv,
 * do a little I/O, optionally stay attached until a signal.  A small
 * driver for VM tests that need several devices or a kept fd.
 *
 *   pvv-attach [-k DEV] (-b PATH | -f FD) [-r] [-w] [-R] [-H] [-n] [-T N]
 *              [-Q SPEC]
 *   pvv-attach [-k DEV] -b PATH -S
 *
 * -b: open PATH (O_RDWR, or O_RDONLY with -r) and attach it
 * -f: attach the inherited file descriptor FD as it is
 * -r: read-only: writes are not tried
 * -w: write sectors 0-7 and read them back (default: read sector 0 only)
 * -R: then attach PATH again, opened afresh (VHOST_BLK_SET_BACKEND with
 *     the disk already attached), and read once more
 * -H: then print "attached" and wait for SIGTERM, SIGINT or SIGHUP
 * -n: instead of waiting for it, leave one read in flight (0.5 s after
 *     the kick) and close the device; print how long the close took
 *     ("close_ms N")
 * -T: then N times: close the device and at once attach PATH to a fresh
 *     one in the other mode (a writer after a reader, a reader after a
 *     writer) and read; the closed device's claim on the disk must be
 *     gone when its close returned (exit 3 if an attach is refused)
 * -Q: set the QoS limits (VHOST_BLK_SET_QOS) after attaching, SPEC as
 *     "riops=N,wiops=N,rbps=N[KMGT],wbps=N[KMGT],burst=MS"
 * -S: a start that fails midway: two rings set up, queue 1's used ring on
 *     a PROT_NONE page, a read queued on queue 0, then SET_BACKEND must
 *     fail (EFAULT) and leave queue 0's used ring alone once it returned;
 *     with queue 1 fixed a second SET_BACKEND serves both queues
 * Exit status: 0 ok, 3 the device or VHOST_BLK_SET_BACKEND refused
 * (libpvv prints the reason on stderr), 1 an I/O failed, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>

#include "pvv.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int hold(void)
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -1;
	printf("attached\n");
	fflush(stdout);
	return sigwait(&set, &sig) ? -1 : 0;
}

static int set_used(struct pvv_dev *d, struct pvv_vq *vq, void *used)
{
	struct vhost_vring_addr a = {
		.index = vq->index,
		.desc_user_addr = (uintptr_t)vq->desc,
		.used_user_addr = (uintptr_t)used,
		.avail_user_addr = (uintptr_t)vq->avail,
	};

	return ioctl(pvv_ctl_fd(d), VHOST_SET_VRING_ADDR, &a) ? -errno : 0;
}

/* -S: see the top of the file. */
static int start_failure(struct pvv_opts *o)
{
	const char *path = o->backing;
	struct pvv_done done;
	uint16_t u1, u2;
	struct iovec iov;
	struct pvv_dev *d;
	void *bad;
	int fd, r, ret = 0;

	o->backing = NULL;
	o->nqueues = 2;
	d = pvv_open(o);
	if (!d)
		return 3;
	bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	iov.iov_base = pvv_alloc(d, 4096, 4096);
	iov.iov_len = 4096;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (bad == MAP_FAILED || !iov.iov_base || fd < 0 ||
	    set_used(d, pvv_vq(d, 1), bad) ||
	    pvv_submit(pvv_vq(d, 0), VIRTIO_BLK_T_IN, 0, &iov, 1, NULL, 0)) {
		fprintf(stderr, "pvv-attach: -S setup failed\n");
		pvv_close(d);
		return 1;
	}
	r = pvv_set_backend(d, fd);
	u1 = __atomic_load_n(&pvv_vq(d, 0)->used->idx, __ATOMIC_ACQUIRE);
	printf("attach with a bad queue 1: %d (%s)\n", r, strerror(-r));
	usleep(500000);
	u2 = __atomic_load_n(&pvv_vq(d, 0)->used->idx, __ATOMIC_ACQUIRE);
	printf("queue 0 used idx at return %u, 0.5 s later %u\n", u1, u2);
	if (r != -EFAULT || u1 != u2)
		ret = 1;

	r = set_used(d, pvv_vq(d, 1), pvv_vq(d, 1)->used);
	if (!r)
		r = pvv_set_backend(d, fd);
	printf("attach with queue 1 fixed: %d (%s)\n", r, strerror(-r));
	if (r)
		ret = 1;
	/* The read queued before is answered now, if it was not before. */
	if (!r && !u1) {
		while (!(r = pvv_reap(pvv_vq(d, 0), &done, 1)))
			if (pvv_wait(pvv_vq(d, 0), 10000) == -ETIMEDOUT)
				break;
		printf("queued read: %s, status %d\n",
		       r == 1 ? "answered" : "lost", r == 1 ? done.status : -1);
		if (r != 1 || done.status)
			ret = 1;
	}
	r = pvv_sync(pvv_vq(d, 1), VIRTIO_BLK_T_IN, 0, iov.iov_base, 4096);
	printf("read on queue 1: %d\n", r);
	if (r)
		ret = 1;
	close(fd);
	pvv_close(d);
	return ret;
}

int main(int argc, char **argv)
{
	struct pvv_opts o = {
		.kind = PVV_VHOST_KERNEL,
		.path = "/dev/vhost-blk",
		.backing_fd = -1,
		.mem_size = 8 << 20,
		.qsize = 16,
	};
	int do_write = 0, hold_on = 0, no_wait = 0, again = 0, c, r, ret = 0;
	int fail_start = 0, turns = 0;
	struct pvv_dev *d;
	struct pvv_vq *vq;
	uint8_t *buf;
	long long t;
	int i;

	while ((c = getopt(argc, argv, "k:b:f:rwRHnST:Q:")) != -1) {
		switch (c) {
		case 'k': o.path = optarg; break;
		case 'b': o.backing = optarg; break;
		case 'f': o.backing_fd = atoi(optarg); break;
		case 'r': o.read_only = 1; break;
		case 'w': do_write = 1; break;
		case 'R': again = 1; break;
		case 'H': hold_on = 1; break;
		case 'n': no_wait = 1; break;
		case 'Q': o.qos = optarg; break;
		case 'S': fail_start = 1; break;
		case 'T': turns = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: see the source\n");
			return 2;
		}
	}
	if (!o.backing && o.backing_fd < 0) {
		fprintf(stderr, "pvv-attach: -b PATH or -f FD\n");
		return 2;
	}
	if (fail_start)
		return o.backing ? start_failure(&o) : 2;
	d = pvv_open(&o);
	if (!d)
		return 3;
	vq = pvv_vq(d, 0);
	buf = pvv_alloc(d, 4096, 4096);
	if (!buf) {
		pvv_close(d);
		return 1;
	}

	if (no_wait) {
		struct iovec iov = { .iov_base = buf, .iov_len = 4096 };

		r = pvv_submit(vq, VIRTIO_BLK_T_IN, 0, &iov, 1, NULL, 0);
		printf("submitted %d\n", r);
		fflush(stdout);
		usleep(500000);		/* let the device pick it up */
		t = now_ms();
		pvv_close(d);
		printf("close_ms %lld\n", now_ms() - t);
		return r ? 1 : 0;
	}

	if (do_write && !o.read_only) {
		for (i = 0; i < 4096; i++)
			buf[i] = (uint8_t)(i * 7 + 1);
		r = pvv_sync(vq, VIRTIO_BLK_T_OUT, 0, buf, 4096);
		printf("write %d\n", r);
		if (r)
			ret = 1;
	}
	r = pvv_sync(vq, VIRTIO_BLK_T_IN, 0, buf, 4096);
	printf("read %d\n", r);
	if (r)
		ret = 1;
	if (!ret && do_write && !o.read_only) {
		for (i = 0; i < 4096; i++)
			if (buf[i] != (uint8_t)(i * 7 + 1))
				ret = 1;
		printf("readback %s\n", ret ? "differs" : "matches");
	}
	if (!ret && again && o.backing) {
		int fd = open(o.backing, (o.read_only ? O_RDONLY : O_RDWR) |
			      O_CLOEXEC);

		r = fd < 0 ? -errno : pvv_set_backend(d, fd);
		printf("attach again %d (%s)\n", r, strerror(-r));
		if (fd >= 0)
			close(fd);
		if (r) {
			ret = 3;
		} else {
			r = pvv_sync(vq, VIRTIO_BLK_T_IN, 0, buf, 4096);
			printf("read after attach again %d\n", r);
			if (r)
				ret = 1;
		}
	}
	fflush(stdout);
	if (!ret && hold_on) {
		if (hold())
			ret = 1;
		r = pvv_sync(vq, VIRTIO_BLK_T_IN, 0, buf, 4096);
		printf("read after hold %d\n", r);
		if (r)
			ret = 1;
	}
	for (i = 0; !ret && o.backing && i < turns; i++) {
		pvv_close(d);
		o.read_only = !o.read_only;
		d = pvv_open(&o);
		if (!d) {
			printf("turnover %d: attach %s refused\n", i,
			       o.read_only ? "read-only" : "read-write");
			return 3;
		}
		buf = pvv_alloc(d, 4096, 4096);
		r = buf ? pvv_sync(pvv_vq(d, 0), VIRTIO_BLK_T_IN, 0, buf, 4096) :
			  -ENOMEM;
		if (r) {
			printf("turnover %d: read %d\n", i, r);
			ret = 1;
		}
	}
	if (turns)
		printf("turnovers %d\n", i);
	pvv_close(d);
	return ret;
}
