// SPDX-License-Identifier: GPL-2.0
/*
 * pvv-qos: per-disk QoS of /dev/vhost-blk from the VMM's side, through
 * libpvv: set, change and read back the limits (VHOST_BLK_SET_QOS /
 * VHOST_BLK_GET_QOS) of a device that runs a random 4 KiB load.
 *
 *   pvv-qos -b PATH [-k DEV] [-q SPEC] [-t SEC] [-d DEPTH] [-w]
 *           [-c SEC:SPEC] [-x MS [-D]] [-g] [-r]
 *   pvv-qos -b PATH -E
 *   pvv-qos -u SOCKET [-t SEC] [-d DEPTH] [-w]
 *
 * -b: the backing (block device or file), attached read-write
 * -u: a vhost-user-blk socket instead (pvblk-vhost-user: the limits are
 *     the export's; -q, -c, -x, -g, -E need the kernel device)
 * -q: limits before the load, "riops=N,wiops=N,rbps=N[KMGT],wbps=N[KMGT],
 *     burst=MS" (missing keys: unlimited)
 * -t: run the load for SEC seconds (default 10) and print one line per
 *     second ("sec N iops M") and the total ("iops N" over the run,
 *     "iops_before N" / "iops_after N" before and after -c's change)
 * -d: requests kept in flight (default 32, at most 128)
 * -w: random writes instead of random reads
 * -c: at SEC seconds into the run, set the limits to SPEC
 * -x: instead of -t: run the load for MS ms, print the requests in flight,
 *     then with -D detach the backend (VHOST_BLK_SET_BACKEND -1) and print
 *     "detach_ms N", and close the device and print "close_ms N"
 * -g: print the limits read back with VHOST_BLK_GET_QOS after setting them
 * -r: attach the backing read-only (devices that share one disk must)
 * -E: the ioctl's refusals: -EINVAL for flags or reserved not zero and
 *     for values over their maxima, 0 for the maxima; one "ok -"/"not ok -"
 *     line each
 * Exit status: 0 ok, 1 an I/O failed, 2 usage, 3 device or ioctl refused.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <linux/vhost_blk.h>
#include <linux/virtio_blk.h>

#include "pvv.h"

#define BS		4096
#define MAX_DEPTH	128

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(void)
{
	static uint64_t x = 88172645463325252ULL;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static int set_qos(struct pvv_dev *d, const char *spec, int show)
{
	struct pvv_qos q;
	int r;

	if (pvv_parse_qos(spec, &q)) {
		fprintf(stderr, "pvv-qos: bad limits \"%s\"\n", spec);
		return 2;
	}
	r = pvv_set_qos(d, &q);
	if (r) {
		fprintf(stderr, "pvv-qos: VHOST_BLK_SET_QOS: %s\n", strerror(-r));
		return 3;
	}
	if (show) {
		r = pvv_get_qos(d, &q);
		if (r) {
			fprintf(stderr, "pvv-qos: VHOST_BLK_GET_QOS: %s\n",
				strerror(-r));
			return 3;
		}
		printf("qos riops=%llu wiops=%llu rbps=%llu wbps=%llu burst=%u\n",
		       (unsigned long long)q.read_iops,
		       (unsigned long long)q.write_iops,
		       (unsigned long long)q.read_bps,
		       (unsigned long long)q.write_bps, q.burst_ms);
	}
	fflush(stdout);
	return 0;
}

/* -E: raw VHOST_BLK_SET_QOS calls and what each must answer. */
static int refusals(struct pvv_dev *d)
{
	static const struct {
		const char *what;
		struct vhost_blk_qos q;
		int err;
	} t[] = {
		{ "flags not zero", { .read_iops = 10, .flags = 1 }, EINVAL },
		{ "reserved[0] not zero", { .reserved = { 1, 0 } }, EINVAL },
		{ "reserved[1] not zero", { .reserved = { 0, 1 } }, EINVAL },
		{ "read_iops over 2^28", { .read_iops = (1ULL << 28) + 1 }, EINVAL },
		{ "write_bps over 2^37", { .write_bps = (1ULL << 37) + 1 }, EINVAL },
		{ "burst_ms over 10000", { .burst_ms = 10001 }, EINVAL },
		{ "every maximum", { 1ULL << 28, 1ULL << 28, 1ULL << 37,
				     1ULL << 37, 10000, 0, { 0, 0 } }, 0 },
		{ "all zero (no limit)", { 0 }, 0 },
	};
	unsigned int i, bad = 0;
	int r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r = ioctl(pvv_ctl_fd(d), VHOST_BLK_SET_QOS, &t[i].q) ? errno : 0;
		printf("%s - VHOST_BLK_SET_QOS %s: %s\n",
		       r == t[i].err ? "ok" : "not ok", t[i].what,
		       r ? strerror(r) : "0");
		bad += r != t[i].err;
	}
	return bad ? 1 : 0;
}

static int submit_one(struct pvv_vq *vq, void *buf, uint64_t blocks, int wr)
{
	struct iovec iov = { .iov_base = buf, .iov_len = BS };

	return pvv_submit(vq, wr ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
			  (rnd() % blocks) * (BS / 512), &iov, 1, buf, 0);
}

int main(int argc, char **argv)
{
	struct pvv_opts o = { .kind = PVV_VHOST_KERNEL, .path = "/dev/vhost-blk",
			      .backing_fd = -1, .nqueues = 1 };
	const char *qos = NULL, *change = NULL;
	double secs = 10, change_at = -1, t0, t, tc = 0, last;
	unsigned long long done = 0, after = 0, sec_done = 0, before = 0;
	unsigned int depth = 32, i, sec = 0;
	int wr = 0, show = 0, detach = 0, exit_ms = -1, c, r, ret = 0, e = 0;
	struct pvv_done dn[MAX_DEPTH];
	uint64_t blocks;
	struct pvv_dev *d;
	struct pvv_vq *vq;

	while ((c = getopt(argc, argv, "b:k:u:q:t:d:wc:x:DgrE")) != -1) {
		switch (c) {
		case 'b': o.backing = optarg; break;
		case 'k': o.path = optarg; break;
		case 'u': o.kind = PVV_VHOST_USER; o.path = optarg; break;
		case 'q': qos = optarg; break;
		case 't': secs = atof(optarg); break;
		case 'd': depth = (unsigned int)atoi(optarg); break;
		case 'w': wr = 1; break;
		case 'c':
			change_at = atof(optarg);
			change = strchr(optarg, ':');
			if (!change)
				return 2;
			change++;
			break;
		case 'x': exit_ms = atoi(optarg); break;
		case 'D': detach = 1; break;
		case 'g': show = 1; break;
		case 'r': o.read_only = 1; break;
		case 'E': e = 1; break;
		default: return 2;
		}
	}
	if ((o.kind == PVV_VHOST_USER) == !!o.backing || !depth ||
	    depth > MAX_DEPTH) {
		fprintf(stderr, "usage: see the top of pvv-qos.c\n");
		return 2;
	}
	o.qsize = 256;
	d = pvv_open(&o);
	if (!d)
		return 3;
	if (e) {
		r = refusals(d);
		pvv_close(d);
		return r;
	}
	if (qos) {
		r = set_qos(d, qos, show);
		if (r) {
			pvv_close(d);
			return r;
		}
	}
	vq = pvv_vq(d, 0);
	blocks = pvv_config(d)->capacity / (BS / 512);
	if (!blocks) {
		pvv_close(d);
		return 3;
	}
	for (i = 0; i < depth; i++) {
		void *buf = pvv_alloc(d, BS, BS);

		if (!buf || submit_one(vq, buf, blocks, wr)) {
			fprintf(stderr, "pvv-qos: submit failed\n");
			pvv_close(d);
			return 1;
		}
	}
	if (exit_ms >= 0)
		secs = exit_ms / 1000.0;
	t0 = now_s();
	last = t0;
	for (;;) {
		t = now_s();
		if (t - t0 >= secs)
			break;
		if (change && t - t0 >= change_at) {
			r = set_qos(d, change, show);
			if (r) {
				ret = r;
				break;
			}
			printf("changed at %.2f s\n", t - t0);
			change = NULL;
			tc = t;
			before = done;
		}
		if (exit_ms < 0 && t - last >= 1.0) {
			printf("sec %u iops %llu\n", ++sec, sec_done);
			fflush(stdout);
			sec_done = 0;
			last += 1.0;
		}
		pvv_wait(vq, 20);
		r = pvv_reap(vq, dn, MAX_DEPTH);
		for (i = 0; i < (unsigned int)r; i++) {
			if (dn[i].status != VIRTIO_BLK_S_OK) {
				fprintf(stderr, "pvv-qos: status %u\n",
					dn[i].status);
				ret = 1;
			}
			done++;
			sec_done++;
			if (tc)
				after++;
			if (submit_one(vq, dn[i].cookie, blocks, wr))
				ret = 1;
		}
		if (ret)
			break;
	}
	t = now_s();
	if (exit_ms >= 0) {
		printf("completed %llu inflight %u\n", done, pvv_inflight(vq));
		fflush(stdout);
		if (detach) {
			t0 = now_s();
			r = pvv_set_backend(d, -1);
			printf("detach_ms %.0f (%d)\n", (now_s() - t0) * 1000, r);
			if (r)
				ret = 3;
		}
		t0 = now_s();
		pvv_close(d);
		printf("close_ms %.0f\n", (now_s() - t0) * 1000);
		return ret;
	}
	printf("iops %.0f\n", done / (t - t0));
	if (tc)
		printf("iops_before %.0f\niops_after %.0f\n",
		       before / (tc - t0), after / (t - tc));
	pvv_close(d);
	return ret;
}
