// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-stamp: a writer / verifier for fault windows.
 *
 *   pvblk-stamp -d BLOCKDEV [options]                 (O_DIRECT + Linux AIO)
 *   pvblk-stamp -b BACKING [-k /dev/vhost-blk] [options]   (libpvv)
 *   options: [-n BLOCKS] [-q DEPTH] [-s SEED] [-W WATCHDOG_S] [-m MAX_BLOCKS]
 *
 * Every 4 KiB block written carries a stamp: magic, seed, block number,
 * generation (one per write of that block) and a CRC32C over the rest of
 * the block, whose payload is derived from (seed, block, generation).  The
 * tool first writes every block of the region (BLOCKS, default 1024) and
 * reads them all back, prints "stamp: ready", then keeps DEPTH requests in
 * flight: writes and reads of 1..MAX_BLOCKS (default 8) adjacent blocks,
 * never two requests on one block at a time.  Every read that succeeds is
 * checked against what the block may hold.
 *
 * The caller drives fault windows with signals:
 *   SIGUSR1   a window opens (the caller then injects its fault);
 *   SIGUSR2   the window closes (the caller removed the fault first): the
 *             tool drains what is in flight, reads back the whole region
 *             (no error allowed), prints one "stamp-window" line, resumes;
 *   SIGTERM / SIGINT   stop: drain, read back the whole region, print the
 *             "stamp-total" line and exit (0 clean, 1 a rule broken).
 *
 * The rules (a break of any one is a failure):
 *   - a request may fail only if a window was open at some time between
 *     its submission and its completion;
 *   - a block whose last write succeeded holds exactly that write;
 *     a block written since then only by failed writes holds either the
 *     last good write or one of the failed ones (never a torn or foreign
 *     block);
 *   - a request that does not complete within WATCHDOG_S (default 60) is a
 *     hang: the tool says so and exits 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/aio_abi.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/fs.h>

#include "pvv.h"

#define BS		4096u
#define SECTORS_PER_BS	(BS / 512)
#define MAGIC		0x706d7473u	/* "stmp" */
#define MAXN		8u

#define T_IN	0	/* VIRTIO_BLK_T_IN */
#define T_OUT	1	/* VIRTIO_BLK_T_OUT */

struct stamp_hdr {
	uint32_t magic;
	uint32_t crc;		/* CRC32C of the block from offset 8 on */
	uint64_t seed;
	uint64_t blk;
	uint64_t gen;
};

/* What a block may hold: good, or a failed write's gen in [flo, fhi]. */
struct blk {
	uint64_t next;		/* generation of the next write */
	uint64_t good;		/* last write that succeeded (0: none) */
	uint64_t flo, fhi;	/* failed writes since then (0: none) */
	int busy;
};

struct req {
	int used, write;
	uint64_t blk;
	unsigned int n;
	uint64_t gen[MAXN];
	uint8_t *buf;
	int sub_in_window;
	unsigned long opens_at_sub;
	struct iocb cb;
};

struct counts {
	uint64_t wok, wfail, rok, rfail, outside, bad;
};

static struct blk *blks;
static uint64_t nblk = 1024;
static unsigned int depth = 16, maxn = MAXN;
static uint64_t seed = 1;
static int watchdog_s = 60;
static struct req *reqs;
static unsigned int inflight;
static struct counts tot, win;
static int in_window;
static unsigned long opens;
static volatile sig_atomic_t sig_open, sig_close, sig_stop;

/* --- I/O engines: a block device with AIO, or libpvv --- */
static int bfd = -1;
static aio_context_t actx;
static struct pvv_dev *pdev;
static struct pvv_vq *pvq;

static uint32_t crc_tab[256];

static void crc_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_tab[i] = c;
	}
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = ~0u;

	while (n--)
		c = crc_tab[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill(uint8_t *p, uint64_t blk, uint64_t gen)
{
	struct stamp_hdr *h = (struct stamp_hdr *)p;
	uint64_t x = mix(seed ^ mix(blk * 0x9e3779b97f4a7c15ull + gen));
	unsigned int i;

	for (i = sizeof(*h); i + 8 <= BS; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	h->magic = MAGIC;
	h->seed = seed;
	h->blk = blk;
	h->gen = gen;
	h->crc = crc32c(p + 8, BS - 8);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int aio_sys_setup(unsigned int nr, aio_context_t *c)
{
	return syscall(SYS_io_setup, nr, c);
}

static int aio_sys_submit(struct iocb *cb)
{
	struct iocb *cbs[1] = { cb };

	return syscall(SYS_io_submit, actx, 1, cbs);
}

static int aio_sys_getevents(struct io_event *ev, int max, int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	return syscall(SYS_io_getevents, actx, 1, max, ev, &ts);
}

static int eng_submit(struct req *r)
{
	if (pvq) {
		struct iovec iov = { r->buf, r->n * BS };

		return pvv_submit(pvq, r->write ? T_OUT : T_IN,
				  r->blk * SECTORS_PER_BS, &iov, 1, r, 0);
	}
	memset(&r->cb, 0, sizeof(r->cb));
	r->cb.aio_fildes = bfd;
	r->cb.aio_lio_opcode = r->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	r->cb.aio_buf = (uintptr_t)r->buf;
	r->cb.aio_nbytes = r->n * BS;
	r->cb.aio_offset = r->blk * BS;
	r->cb.aio_data = (uintptr_t)r;
	return aio_sys_submit(&r->cb) == 1 ? 0 : -errno;
}

/* Completions: up to max (req, ok) pairs; waits up to ms for the first. */
static int eng_reap(struct req **out, int *okv, int max, int ms)
{
	int n, i;

	if (pvq) {
		struct pvv_done dn[64];

		if (max > 64)
			max = 64;
		n = pvv_reap(pvq, dn, max);
		if (n == 0) {
			pvv_wait(pvq, ms);
			n = pvv_reap(pvq, dn, max);
		}
		for (i = 0; i < n; i++) {
			out[i] = dn[i].cookie;
			okv[i] = dn[i].status == 0;
		}
		return n;
	}
	{
		struct io_event ev[64];

		if (max > 64)
			max = 64;
		n = aio_sys_getevents(ev, max, ms);
		if (n < 0)
			return errno == EINTR ? 0 : -errno;
		for (i = 0; i < n; i++) {
			out[i] = (struct req *)(uintptr_t)ev[i].data;
			okv[i] = ev[i].res == (__s64)out[i]->n * BS;
		}
		return n;
	}
}

/* --- checking --- */
static const char *judge(const uint8_t *p, uint64_t b)
{
	const struct stamp_hdr *h = (const struct stamp_hdr *)p;
	const struct blk *s = &blks[b];

	if (h->magic != MAGIC || h->seed != seed)
		return "not a stamp of this run";
	if (h->crc != crc32c(p + 8, BS - 8))
		return "torn or corrupt (crc)";
	if (h->blk != b)
		return "another block's stamp";
	if (h->gen == s->good)
		return NULL;
	if (s->flo && h->gen >= s->flo && h->gen <= s->fhi)
		return NULL;
	return "stale or lost write";
}

static void report_bad(const uint8_t *p, uint64_t b, const char *why)
{
	const struct stamp_hdr *h = (const struct stamp_hdr *)p;
	const struct blk *s = &blks[b];

	if (tot.bad + win.bad < 20)
		printf("stamp: MISMATCH block %" PRIu64 ": %s (holds gen %" PRIu64
		       ", want %" PRIu64 " or failed %" PRIu64 "-%" PRIu64 ")\n",
		       b, why, h->gen, s->good, s->flo, s->fhi);
}

static void complete(struct req *r, int ok)
{
	int allowed = r->sub_in_window || in_window || opens != r->opens_at_sub;
	unsigned int i;

	inflight--;
	r->used = 0;
	if (!ok && !allowed) {
		win.outside++;
		if (win.outside + tot.outside < 20)
			printf("stamp: ERROR outside a window: %s of blocks %" PRIu64
			       "+%u\n", r->write ? "write" : "read", r->blk, r->n);
	}
	for (i = 0; i < r->n; i++) {
		struct blk *s = &blks[r->blk + i];

		s->busy = 0;
		if (r->write && ok) {
			s->good = r->gen[i];
			s->flo = 0;
			s->fhi = 0;
		} else if (r->write) {
			if (!s->flo)
				s->flo = r->gen[i];
			s->fhi = r->gen[i];
		} else if (ok) {
			const char *why = judge(r->buf + i * BS, r->blk + i);

			if (why) {
				report_bad(r->buf + i * BS, r->blk + i, why);
				win.bad++;
			}
		}
	}
	if (r->write)
		ok ? win.wok++ : win.wfail++;
	else
		ok ? win.rok++ : win.rfail++;
}

static struct req *free_req(void)
{
	unsigned int i;

	for (i = 0; i < depth; i++)
		if (!reqs[i].used)
			return &reqs[i];
	return NULL;
}

static int submit(struct req *r, int write, uint64_t b, unsigned int n)
{
	unsigned int i;
	int rc;

	r->used = 1;
	r->write = write;
	r->blk = b;
	r->n = n;
	r->sub_in_window = in_window;
	r->opens_at_sub = opens;
	for (i = 0; i < n; i++) {
		blks[b + i].busy = 1;
		if (write) {
			r->gen[i] = ++blks[b + i].next;
			fill(r->buf + i * BS, b + i, r->gen[i]);
		}
	}
	rc = eng_submit(r);
	if (rc) {
		fprintf(stderr, "stamp: submit failed: %s\n", strerror(-rc));
		for (i = 0; i < n; i++)
			blks[b + i].busy = 0;
		r->used = 0;
		return rc;
	}
	inflight++;
	return 0;
}

/* Reap what completes within ms; returns -1 on a hang or engine error. */
static int reap(int ms)
{
	static double last = -1;
	struct req *out[64];
	int okv[64], n, i;

	if (last < 0)
		last = now();
	n = eng_reap(out, okv, 64, ms);
	if (n < 0) {
		fprintf(stderr, "stamp: reap failed: %s\n", strerror(-n));
		return -1;
	}
	for (i = 0; i < n; i++)
		complete(out[i], okv[i]);
	if (n > 0 || !inflight) {
		last = now();
	} else if (now() - last > watchdog_s) {
		printf("stamp: HANG: %u requests in flight, none completed for %d s\n",
		       inflight, watchdog_s);
		return -1;
	}
	return 0;
}

static int drain(void)
{
	while (inflight)
		if (reap(200))
			return -1;
	return 0;
}

/* Write (prefill) or read back the whole region, MAXN blocks a request. */
static int sweep(int write)
{
	uint64_t b = 0;
	struct req *r;

	while (b < nblk) {
		unsigned int n = nblk - b < MAXN ? nblk - b : MAXN;

		while (!(r = free_req()))
			if (reap(200))
				return -1;
		if (submit(r, write, b, n))
			return -1;
		b += n;
	}
	return drain();
}

/* One step of load: fill the queue with random requests, reap. */
static int load_step(void)
{
	struct req *r;
	int tries = 0;

	while ((r = free_req()) && tries++ < 4 * (int)depth) {
		uint64_t b = rnd() % nblk;
		unsigned int n = 1 + rnd() % maxn, k;

		for (k = 0; k < n && b + k < nblk && !blks[b + k].busy; k++)
			;
		if (!k)
			continue;
		if (submit(r, rnd() & 1, b, k))
			return -1;
	}
	return reap(100);
}

static void print_counts(const char *tag, unsigned long k, const struct counts *c,
			 const struct counts *v)
{
	printf("%s %lu wok=%" PRIu64 " wfail=%" PRIu64 " rok=%" PRIu64
	       " rfail=%" PRIu64 " outside=%" PRIu64 " bad=%" PRIu64
	       " verify_rok=%" PRIu64 " verify_rfail=%" PRIu64
	       " verify_bad=%" PRIu64 "\n", tag, k, c->wok, c->wfail, c->rok,
	       c->rfail, c->outside, c->bad, v->rok, v->rfail, v->bad);
	fflush(stdout);
}

static void add(struct counts *a, const struct counts *b)
{
	a->wok += b->wok;
	a->wfail += b->wfail;
	a->rok += b->rok;
	a->rfail += b->rfail;
	a->outside += b->outside;
	a->bad += b->bad;
}

/*
 * Read the whole region back outside any window: every read must succeed
 * and match.  Returns the sweep's counts in *v (added to the totals).
 */
static int verify_all(struct counts *v)
{
	struct counts keep = win;
	int rc;

	memset(&win, 0, sizeof(win));
	rc = sweep(0);
	*v = win;
	win = keep;
	add(&tot, v);
	/* A read error here is outside any window: sweep counted it. */
	return rc;
}

static void on_sig(int s)
{
	if (s == SIGUSR1)
		sig_open = 1;
	else if (s == SIGUSR2)
		sig_close = 1;
	else
		sig_stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: pvblk-stamp -d BLOCKDEV | -b BACKING [-k VHOST]\n"
		"       [-n BLOCKS] [-q DEPTH] [-s SEED] [-W WATCHDOG_S] [-m MAX_BLOCKS]\n");
	exit(2);
}

static int open_engine(const char *dev, const char *backing, const char *vhost)
{
	uint64_t cap;
	unsigned int i;
	uint8_t *mem;

	if (dev) {
		struct stat st;

		bfd = open(dev, O_RDWR | O_DIRECT);
		if (bfd < 0 || fstat(bfd, &st)) {
			perror(dev);
			return -1;
		}
		/* A regular file too (a host test of the tool itself). */
		cap = st.st_size;
		if (S_ISBLK(st.st_mode) && ioctl(bfd, BLKGETSIZE64, &cap)) {
			perror(dev);
			return -1;
		}
		cap /= BS;
		if (aio_sys_setup(depth, &actx)) {
			perror("io_setup");
			return -1;
		}
		if (posix_memalign((void **)&mem, BS, (size_t)depth * MAXN * BS))
			return -1;
	} else {
		struct pvv_opts o = {
			.kind = PVV_VHOST_KERNEL, .path = vhost, .backing = backing,
			.backing_fd = -1, .nqueues = 1, .qsize = 128,
		};

		pdev = pvv_open(&o);
		if (!pdev)
			return -1;
		pvq = pvv_vq(pdev, 0);
		cap = pvv_config(pdev)->capacity / SECTORS_PER_BS;
		mem = pvv_alloc(pdev, (size_t)depth * MAXN * BS, BS);
		if (!mem)
			return -1;
	}
	if (cap < nblk)
		nblk = cap;
	for (i = 0; i < depth; i++)
		reqs[i].buf = mem + (size_t)i * MAXN * BS;
	return nblk ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *dev = NULL, *backing = NULL, *vhost = "/dev/vhost-blk";
	struct sigaction sa = { .sa_handler = on_sig };
	struct counts v;
	unsigned long k = 0;
	int c, rc = 0;

	while ((c = getopt(argc, argv, "d:b:k:n:q:s:W:m:")) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'b': backing = optarg; break;
		case 'k': vhost = optarg; break;
		case 'n': nblk = strtoull(optarg, NULL, 0); break;
		case 'q': depth = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'W': watchdog_s = atoi(optarg); break;
		case 'm': maxn = strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (!dev == !backing || !nblk || !depth || depth > 64 || !maxn || maxn > MAXN)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	crc_init();
	rng_state ^= mix(seed);
	blks = calloc(nblk, sizeof(*blks));
	reqs = calloc(depth, sizeof(*reqs));
	if (!blks || !reqs || open_engine(dev, backing, vhost))
		return 2;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (sweep(1) || verify_all(&v))
		return 3;
	add(&tot, &win);
	if (tot.wfail || v.rfail || v.bad) {
		printf("stamp: prefill failed: %" PRIu64 " write errors, %" PRIu64
		       " read errors, %" PRIu64 " bad blocks\n", tot.wfail, v.rfail, v.bad);
		return 1;
	}
	memset(&win, 0, sizeof(win));
	printf("stamp: ready: %" PRIu64 " blocks of %u, depth %u, seed %" PRIu64 "\n",
	       nblk, BS, depth, seed);
	while (!sig_stop) {
		if (sig_open) {
			sig_open = 0;
			if (!in_window) {
				in_window = 1;
				opens++;
				printf("stamp: window %lu open\n", k + 1);
			}
		}
		if (sig_close) {
			sig_close = 0;
			if (in_window) {
				in_window = 0;
				if (drain() || verify_all(&v))
					return 3;
				k++;
				print_counts("stamp-window", k, &win, &v);
				add(&tot, &win);
				memset(&win, 0, sizeof(win));
			}
		}
		if (load_step())
			return 3;
	}
	in_window = 0;
	if (drain() || verify_all(&v))
		return 3;
	add(&tot, &win);
	print_counts("stamp-total", k, &tot, &v);
	rc = tot.outside || tot.bad ? 1 : 0;
	printf("stamp: %s\n", rc ? "FAIL" : "PASS");
	if (pdev)
		pvv_close(pdev);
	return rc;
}
