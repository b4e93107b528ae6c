// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-stress: close, reset and backend changes of /dev/vhost-blk under
 * full load.
 *
 *   pvblk-stress -b BACKING [-B OTHER-BACKING] [-k /dev/vhost-blk]
 *                [-n ROUNDS] [-q QUEUES] [-d DEPTH]
 *
 * Each round opens a device with QUEUES queues, runs one thread per queue
 * keeping DEPTH 4 KiB reads and writes in flight, waits for progress
 * (a number of completions, never a time), then does one of:
 *   close    stop submitting and close the device with requests in flight;
 *   reset    VHOST_RESET_OWNER while the threads keep submitting;
 *   switch   VHOST_BLK_SET_BACKEND to OTHER while loaded, wait for
 *            progress on it, detach (-1), re-attach BACKING, wait for
 *            progress again, then close.
 * Every completion seen before a reset/close must carry status OK.
 * Prints "ok - ..." per round and "N passed, N failed".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>

#include "pvv.h"

struct worker {
	pthread_t th;
	struct pvv_vq *vq;
	uint8_t *buf;		/* depth * 4 KiB in guest memory */
	unsigned int depth;
	uint64_t sectors;	/* range used */
	uint64_t done, bad;
	uint8_t last_bad;
	volatile int *stop;
	volatile int *quiet;	/* after a reset: statuses no longer judged */
};

static const char *vhost = "/dev/vhost-blk";

static void *work(void *arg)
{
	struct worker *w = arg;
	struct pvv_done dn[64];
	uint64_t seq = 0;
	unsigned int i;

	while (!*w->stop) {
		while (pvv_inflight(w->vq) < w->depth && !*w->stop) {
			unsigned int slot = seq % w->depth;
			struct iovec iov = { w->buf + 4096 * slot, 4096 };
			uint64_t sec = (seq * 2654435761u) % (w->sectors / 8) * 8;
			uint32_t type = seq & 1 ? VIRTIO_BLK_T_OUT :
					VIRTIO_BLK_T_IN;

			if (pvv_submit(w->vq, type, sec, &iov, 1, NULL, 0))
				break;
			seq++;
		}
		for (;;) {
			int n = pvv_reap(w->vq, dn, 64);

			for (i = 0; i < (unsigned int)n; i++) {
				if (dn[i].status != VIRTIO_BLK_S_OK &&
				    !*w->quiet) {
					w->bad++;
					w->last_bad = dn[i].status;
				}
			}
			__atomic_add_fetch(&w->done, n, __ATOMIC_RELAXED);
			if (n || *w->stop)
				break;
			/* poll in slices so a stop is noticed */
			pvv_wait(w->vq, 100);
		}
	}
	return NULL;
}

static uint64_t total(struct worker *w, unsigned int n)
{
	uint64_t t = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		t += __atomic_load_n(&w[i].done, __ATOMIC_RELAXED);
	return t;
}

/* Wait until `more` further completions happened; 0 when stuck 60 s. */
static int progress(struct worker *w, unsigned int n, uint64_t more)
{
	uint64_t start = total(w, n), last = start;
	int idle = 0;

	while (total(w, n) < start + more) {
		usleep(10000);
		if (total(w, n) == last) {
			if (++idle > 6000)
				return 0;	/* hang guard, not a timing check */
		} else {
			idle = 0;
			last = total(w, n);
		}
	}
	return 1;
}

static int npass, nfail;

static void result(int ok, const char *fmt, int round, const char *detail)
{
	printf("%s - ", ok ? "ok" : "not ok");
	printf(fmt, round);
	printf("\n");
	if (!ok && detail)
		printf("# %s\n", detail);
	if (ok)
		npass++;
	else
		nfail++;
}

int main(int argc, char **argv)
{
	const char *backing = NULL, *other = NULL;
	unsigned int rounds = 20, nq = 4, depth = 32, i;
	int opt, round;

	while ((opt = getopt(argc, argv, "b:B:k:n:q:d:")) != -1) {
		switch (opt) {
		case 'b': backing = optarg; break;
		case 'B': other = optarg; break;
		case 'k': vhost = optarg; break;
		case 'n': rounds = atoi(optarg); break;
		case 'q': nq = atoi(optarg); break;
		case 'd': depth = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: see the source\n");
			return 2;
		}
	}
	if (!backing || !nq || nq > 16 || !depth || depth > 128) {
		fprintf(stderr, "pvblk-stress: -b BACKING required; q <= 16, d <= 128\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (round = 1; round <= (int)rounds; round++) {
		struct pvv_opts o = {
			.kind = PVV_VHOST_KERNEL, .path = vhost,
			.backing = backing, .backing_fd = -1, .nqueues = nq,
			.qsize = 128, .mem_size = 32 << 20, .max_segs = 2,
		};
		const char *what = round % 3 == 1 ? "close" :
				   round % 3 == 2 ? "reset" : "switch";
		struct worker w[16];
		volatile int stop = 0, quiet = 0;
		char detail[200] = "";
		int ok = 1, other_fd = -1, r;
		struct pvv_dev *d;
		uint64_t bad = 0;

		if (!strcmp(what, "switch") && !other)
			what = "close";
		d = pvv_open(&o);
		if (!d) {
			result(0, "round %d: open the device", round, NULL);
			continue;
		}
		memset(w, 0, sizeof(w));
		for (i = 0; i < nq; i++) {
			w[i].vq = pvv_vq(d, i);
			w[i].depth = depth;
			w[i].buf = pvv_alloc(d, 4096 * depth, 4096);
			w[i].sectors = pvv_config(d)->capacity < 65536 ?
				       pvv_config(d)->capacity : 65536;
			w[i].stop = &stop;
			w[i].quiet = &quiet;
			if (!w[i].buf || pthread_create(&w[i].th, NULL, work,
							&w[i])) {
				fprintf(stderr, "pvblk-stress: setup failed\n");
				return 1;
			}
		}
		if (!progress(w, nq, 2000)) {
			ok = 0;
			snprintf(detail, sizeof(detail), "no progress under load");
		}
		if (ok && !strcmp(what, "reset")) {
			quiet = 1;
			r = ioctl(pvv_ctl_fd(d), VHOST_RESET_OWNER, NULL);
			if (r) {
				ok = 0;
				snprintf(detail, sizeof(detail),
					 "VHOST_RESET_OWNER: %s", strerror(errno));
			}
		} else if (ok && !strcmp(what, "switch")) {
			other_fd = open(other, O_RDWR);
			r = other_fd < 0 ? -errno : pvv_set_backend(d, other_fd);
			if (r) {
				ok = 0;
				snprintf(detail, sizeof(detail),
					 "SET_BACKEND(other): %s", strerror(-r));
			} else if (!progress(w, nq, 1000)) {
				ok = 0;
				snprintf(detail, sizeof(detail),
					 "no progress on the new backend");
			}
			if (ok) {
				r = pvv_set_backend(d, -1);
				if (!r) {
					int fd = open(backing, O_RDWR);

					r = fd < 0 ? -errno :
					    pvv_set_backend(d, fd);
					if (fd >= 0)
						close(fd);
				}
				if (r) {
					ok = 0;
					snprintf(detail, sizeof(detail),
						 "detach/re-attach: %s",
						 strerror(-r));
				} else if (!progress(w, nq, 1000)) {
					ok = 0;
					snprintf(detail, sizeof(detail),
						 "no progress after re-attach");
				}
			}
		}
		quiet = 1;
		stop = 1;
		for (i = 0; i < nq; i++) {
			pthread_join(w[i].th, NULL);
			bad += w[i].bad;
		}
		if (bad && ok) {
			ok = 0;
			snprintf(detail, sizeof(detail),
				 "%llu completions with a bad status (last 0x%02x)",
				 (unsigned long long)bad, w[0].last_bad);
		}
		/* closes with whatever is still in flight */
		pvv_close(d);
		if (other_fd >= 0)
			close(other_fd);
		{
			char name[80];

			snprintf(name, sizeof(name),
				 "round %%d: %s under load (%u queues x %u)",
				 what, nq, depth);
			result(ok, name, round, detail);
		}
	}
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
