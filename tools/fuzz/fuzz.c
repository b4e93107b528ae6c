// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-fuzz: a seeded, reproducible fuzzer for /dev/vhost-blk.
 *
 *   pvblk-fuzz -b BLOCKDEV -B FILE [-k /dev/vhost-blk] [--seed S]
 *              [--from N] [--iterations N] [--seconds T] [--watchdog S]
 *              [--kmemleak SECS] [--tap-every N] [--keep-going] [-v]
 *
 * One 64-bit seed drives everything.  Iteration N draws from its own
 * generator, seeded from (seed, N), and starts from a fresh device, so
 * `--seed S --from N --iterations 1` replays iteration N exactly (the disk
 * contents aside, which nothing judged depends on).  An iteration opens a
 * device (1-4 queues of 4-256 entries, INDIRECT/EVENT_IDX on or off, the
 * block device or the file, backend attached before or after the rings),
 * runs 1-12 steps and closes it.  A step is one of:
 *
 *   chains   1-8 random or mutated chains on one queue: header type,
 *            sector and length (split over descriptors, short, writable),
 *            data segments of any length, address (in, astride or out of
 *            the memory table), direction, status placement (own byte,
 *            last byte of data, missing, read-only, longer), direct or
 *            indirect tables (bad lengths, nested, outside memory), loops
 *            and next pointers out of range, bogus heads, rewrites of the
 *            descriptors after the kick;
 *   ring     avail index jumps (forwards, backwards, onto stale entries),
 *            used flags/index, avail flags, used_event/avail_event;
 *   ioctl    VHOST_SET_MEM_TABLE (split, alias mapping, shrunk, holes,
 *            empty, too many regions, bogus), VHOST_SET_VRING_ADDR (the
 *            ring moved while served, bogus addresses), VHOST_SET_FEATURES,
 *            VHOST_BLK_SET_BACKEND (block device <-> file, detach, the same
 *            again, read-only, bad fds), VHOST_RESET_OWNER and a new setup
 *            in random order, workers (new, attach, free, get), kick /
 *            call / error eventfds swapped or unbound, VHOST_SET_VRING_NUM
 *            and BASE while served, SET_SERIAL, GET_CONFIG, a child that
 *            is not the owner trying the owner's ioctls;
 *   verify   the queues quiesced (a served queue that is not corrupted
 *            must answer every chain or report itself broken), anything
 *            corrupted rebuilt, then a write of a pattern, maybe a flush,
 *            a read back (on another queue), GET_ID against the serial.
 *
 * An iteration ends with a verify (or a close with chains in flight, or a
 * handoff of the device to a child that becomes its owner and exits).
 *
 * A failure: a kernel report in /dev/kmsg (KASAN, lockdep, WARN, BUG,
 * UBSAN, ...; and kmemleak when --kmemleak scans), a hang (a step that
 * does not return within --watchdog seconds, or a valid request or a chain
 * on a sound queue not answered in that time), a data mismatch or a bad
 * status on the valid requests, an ioctl whose answer is fixed by the
 * interface answering otherwise, or the device unusable when it should
 * work.  A failure prints "not ok", the steps of the iteration and the
 * command that replays it.
 *
 * Output: "ok - iterations A-B: ..." every --tap-every iterations, "not ok
 * - ..." per failure, a summary (chains, iterations, seed, chains/s) and
 * "N passed, N failed".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "pvv.h"
#include "linux/vhost_blk.h"

#define NEXT		PVV_DESC_F_NEXT
#define W		PVV_DESC_F_WRITE
#define IND		PVV_DESC_F_INDIRECT
#define MAXQ		4
#define MAXNUM		256
#define MAXSEG		164	/* logical segments of one fuzz chain */
#define ITAB_ENTRIES	160	/* indirect table slots per head */
#define MEM_SIZE	(12u << 20)
#define FDATA_SIZE	(4u << 20)
#define VDATA_SIZE	(256u << 10)
#define VMAX		(64u << 10)	/* longest valid request */
#define NWORKERS	6
#define LOG_CHUNK	(4096 * 8)

/* ---------- options, statistics ---------- */

static const char *vhost = "/dev/vhost-blk";
static const char *be_path[2];		/* block device, file */
static uint64_t seed;
static uint64_t from, iterations = ~0ULL;
static unsigned int seconds, watchdog_s = 60, kmemleak_s, tap_every = 50;
static int verbose, keep_going;

static uint64_t st_chains, st_fuzz, st_valid, st_verified, st_steps;
static uint64_t st_ioctls, st_revives;
static uint64_t blk_chains, blk_valid, blk_first;
static unsigned int npass, nfail;
static uint64_t cur_iter;
static unsigned int cur_step;
static int in_child;
static jmp_buf iter_jmp;

static int be_fd[2] = { -1, -1 };	/* read-write fds of both backends */
static uint64_t be_cap[2];		/* their capacity in sectors */
static int kmsg_fd = -1;

/* ---------- random numbers: xoshiro256** seeded by splitmix64 ---------- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_init(struct rng *r, uint64_t s, uint64_t iter)
{
	uint64_t x = s ^ (iter * 0xd1342543de82ef95ULL) ^ 0x70766b66757a7aULL;
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static uint64_t below(struct rng *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static int chance(struct rng *r, unsigned int pct)
{
	return below(r, 100) < pct;
}

/* ---------- the iteration's log, failures, watchdog ---------- */

static char ilog[1 << 16];
static size_t ilog_len;
static char alarm_msg[1024];
static size_t alarm_len;

static void replay_cmd(char *buf, size_t n, uint64_t iter)
{
	snprintf(buf, n, "pvblk-fuzz -k %s -b %s -B %s --seed %llu --from %llu --iterations 1 -v",
		 vhost, be_path[0], be_path[1], (unsigned long long)seed,
		 (unsigned long long)iter);
}

static void note(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (verbose)
		printf("#   [%llu.%u] %s\n", (unsigned long long)cur_iter,
		       cur_step, line);
	if (ilog_len + n + 16 < sizeof(ilog))
		ilog_len += snprintf(ilog + ilog_len, sizeof(ilog) - ilog_len,
				     "%u: %s\n", cur_step, line);
}

/* Arm the hang watchdog for what comes next (re-armed by every step). */
static void watch(const char *what)
{
	char cmd[512];

	replay_cmd(cmd, sizeof(cmd), cur_iter);
	alarm_len = snprintf(alarm_msg, sizeof(alarm_msg),
			     "not ok - hang: iteration %llu (seed %llu) step %u: %s did not return within %u s\n# replay: %s\n",
			     (unsigned long long)cur_iter,
			     (unsigned long long)seed, cur_step, what,
			     watchdog_s * 2, cmd);
	if (alarm_len >= sizeof(alarm_msg))
		alarm_len = sizeof(alarm_msg) - 1;
	alarm(watchdog_s * 2);
}

static void on_alarm(int sig)
{
	(void)sig;
	if (write(1, alarm_msg, alarm_len) < 0)
		_exit(3);
	if (!in_child && write(1, ilog, ilog_len) < 0)
		_exit(3);
	_exit(in_child ? 3 : 1);
}

static void print_ilog(void)
{
	char *p = ilog, *e;

	while (p < ilog + ilog_len && (e = memchr(p, '\n', ilog + ilog_len - p))) {
		printf("#   step %.*s\n", (int)(e - p), p);
		p = e + 1;
	}
}

/* A failure of the current iteration: report it and leave the iteration. */
static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	char msg[512], cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (in_child) {
		printf("# child of iteration %llu: %s\n",
		       (unsigned long long)cur_iter, msg);
		fflush(stdout);
		_exit(1);
	}
	replay_cmd(cmd, sizeof(cmd), cur_iter);
	printf("not ok - iteration %llu (seed %llu) step %u: %s\n",
	       (unsigned long long)cur_iter, (unsigned long long)seed,
	       cur_step, msg);
	print_ilog();
	printf("# replay: %s\n", cmd);
	nfail++;
	longjmp(iter_jmp, 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------- kernel reports ---------- */

static const char *const report_pat[] = {
	"BUG:", "WARNING:", "KASAN", "UBSAN", "possible circular locking",
	"possible recursive locking", "INFO:", "general protection",
	"Call Trace", "Kernel panic", "kernel BUG", "RIP: ",
	"DEBUG_LOCKS_WARN_ON", "unreferenced object", "Oops",
	"list_add corruption", "list_del corruption", "refcount_t:",
};

/* New /dev/kmsg records matching a report pattern; 1 if any. */
static int kmsg_reports(char *out, size_t n)
{
	char rec[2048];
	size_t used = 0;
	int found = 0;

	if (kmsg_fd < 0)
		return 0;
	for (;;) {
		ssize_t r = read(kmsg_fd, rec, sizeof(rec) - 1);
		unsigned int i;
		char *msg;

		if (r < 0 && errno == EPIPE)
			continue;	/* overrun: records were lost */
		if (r <= 0)
			break;
		rec[r] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		for (i = 0; i < sizeof(report_pat) / sizeof(report_pat[0]); i++)
			if (strstr(msg, report_pat[i]))
				break;
		if (i == sizeof(report_pat) / sizeof(report_pat[0]) && !found)
			continue;
		/* the report and what follows it */
		found = 1;
		if (used + strlen(msg) + 4 < n)
			used += snprintf(out + used, n - used, "#   %s", msg);
	}
	return found;
}

static int kmemleak_scan(char *out, size_t n)
{
	int fd = open("/sys/kernel/debug/kmemleak", O_RDWR);
	ssize_t r;

	if (fd < 0)
		return 0;
	if (write(fd, "scan", 4) != 4) {
		close(fd);
		return 0;
	}
	lseek(fd, 0, SEEK_SET);
	r = read(fd, out, n - 1);
	close(fd);
	if (r <= 0)
		return 0;
	out[r] = 0;
	return 1;
}

/* ---------- the device under fuzz ---------- */

struct fq {
	struct pvv_vq *vq;
	unsigned int idx, num;
	struct pvv_desc *desc;		/* current ring location */
	struct pvv_avail *avail;
	struct pvv_used *used;
	struct pvv_desc *rdesc[2];	/* pvv's ring, the alternate one */
	struct pvv_avail *ravail[2];
	struct pvv_used *rused[2];
	int loc;			/* which of the two is current */
	uint16_t avail_idx;		/* next avail idx to publish */
	uint16_t last_used;
	uint16_t next;			/* bump allocator of descriptors */
	unsigned int outstanding;	/* published, not answered */
	uint8_t live[MAXNUM];		/* per head: in flight */
	uint32_t ulen[MAXNUM];		/* per head: last used.len */
	int broken;			/* the error eventfd fired */
	int chaos;			/* ring state corrupted: not judged */
	int setup;			/* NUM/BASE/ADDR/KICK/CALL done */
	int started;			/* vhost serves it (private_data) */
	int kick_bound;
	uint8_t *hdr;			/* per head: 64 bytes of header */
	uint8_t *dwz;			/* per head: 64 bytes of segments */
	uint8_t *st;			/* per head: 16 bytes of status */
	struct pvv_desc *itab;		/* per head: ITAB_ENTRIES + 8 */
	uint8_t *vhdr, *vst;		/* the valid requests' */
	struct pvv_desc *vitab;
};

struct fz {
	struct pvv_dev *d;
	int ctl;
	uint8_t *mem, *alias;
	size_t mem_size;
	unsigned int nq;
	struct fq q[MAXQ];
	uint64_t acked, offered;
	int be;				/* attached backend: -1, 0, 1 */
	int last_be;			/* the last one attached */
	unsigned int lbs_sectors;	/* its logical block, in sectors */
	uint32_t max_wz;		/* its max_write_zeroes_sectors */
	int be_ro;
	int owned;
	int memfull;
	uint8_t *fdata, *vdata;
	uint8_t *logbuf;
	uint64_t logbase;
	char serial[VHOST_BLK_SERIAL_BYTES];
	unsigned int serial_len;
	int wmap_valid;
	unsigned int wmap[VHOST_BLK_MAX_QUEUES];	/* worker per vq */
	unsigned int workers[NWORKERS], nworkers;
};

static struct fz Z;

static int xioctl(unsigned long req, void *arg)
{
	st_ioctls++;
	return ioctl(Z.ctl, req, arg) ? -errno : 0;
}

static void expect_rc(int rc, int want, const char *what)
{
	if (rc != want)
		fail("%s answered %d (%s), expected %d (%s)", what, rc,
		     rc ? strerror(-rc) : "ok", want,
		     want ? strerror(-want) : "ok");
}

static void drain_fd(int fd)
{
	uint64_t v;

	if (fd >= 0 && read(fd, &v, 8) < 0)
		v = 0;
}

static int fd_fired(int fd)
{
	uint64_t v;

	return fd >= 0 && read(fd, &v, 8) == 8 && v;
}

static void kick(struct fq *q)
{
	pvv_kick(q->vq);
}

/* Collect used elements; judge their ids on a sound queue. */
static void reap(struct fq *q)
{
	uint16_t uidx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);

	while (q->last_used != uidx) {
		struct pvv_used_elem e = q->used->ring[q->last_used & (q->num - 1)];

		q->last_used++;
		if (q->chaos) {
			if (q->outstanding)
				q->outstanding--;
			continue;
		}
		if (e.id >= q->num || !q->live[e.id])
			fail("queue %u: the device answered head %u, which is not in flight",
			     q->idx, e.id);
		q->live[e.id] = 0;
		q->ulen[e.id] = e.len;
		q->outstanding--;
	}
	/* EVENT_IDX may be acked or not: keep used_event current anyway */
	__atomic_store_n(&q->avail->ring[q->num], q->last_used,
			 __ATOMIC_RELEASE);
}

static void check_err(struct fq *q)
{
	if (fd_fired(q->vq->err_fd)) {
		if (!q->broken)
			note("queue %u: error eventfd fired", q->idx);
		q->broken = 1;
	}
}

/*
 * Wait for q's chains: 0 when all answered, 1 when the queue reported
 * itself broken, -ETIMEDOUT.
 */
static int wait_q(struct fq *q, int ms)
{
	double end = now() + ms / 1000.0;
	struct pollfd p[2];

	for (;;) {
		reap(q);
		if (!q->outstanding)
			return 0;
		check_err(q);
		if (q->broken)
			return 1;
		if (now() >= end)
			return -ETIMEDOUT;
		p[0] = (struct pollfd){ .fd = q->vq->call_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = q->vq->err_fd, .events = POLLIN };
		if (poll(p, 2, 20) > 0 && (p[0].revents & POLLIN))
			drain_fd(q->vq->call_fd);
	}
}

static int served(const struct fq *q)
{
	return Z.be >= 0 && q->started && q->kick_bound;
}

/* A served, sound queue must answer everything or say it is broken. */
static void quiesce(struct fq *q)
{
	int r;

	if (!served(q) || q->chaos || q->broken)
		return;
	watch("waiting for the chains of a queue");
	kick(q);	/* the chains may not have been kicked yet */
	r = wait_q(q, watchdog_s * 1000);
	if (r == -ETIMEDOUT)
		fail("queue %u: %u chains neither answered nor the queue reported broken within %u s",
		     q->idx, q->outstanding, watchdog_s);
}

static void publish(struct fq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx & (q->num - 1)] = head;
	q->avail_idx++;
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
	q->outstanding++;
	if (head < q->num)
		q->live[head] = 1;
	st_chains++;
}

/* ---------- setup pieces ---------- */

static void set_ring_pointers(struct fq *q, int loc)
{
	q->loc = loc;
	q->desc = q->rdesc[loc];
	q->avail = q->ravail[loc];
	q->used = q->rused[loc];
	q->vq->desc = q->desc;
	q->vq->avail = q->avail;
	q->vq->used = q->used;
}

static int set_addr(struct fq *q, uint64_t d, uint64_t a, uint64_t u,
		    unsigned int flags)
{
	struct vhost_vring_addr va = {
		.index = q->idx, .flags = flags, .desc_user_addr = d,
		.avail_user_addr = a, .used_user_addr = u,
		/* logged used ring: its guest address is its address */
		.log_guest_addr = u,
	};

	return xioctl(VHOST_SET_VRING_ADDR, &va);
}

static int vring_state(unsigned long req, unsigned int idx, unsigned int num)
{
	struct vhost_vring_state s = { .index = idx, .num = num };

	return xioctl(req, &s);
}

static int vring_file(unsigned long req, unsigned int idx, int fd)
{
	struct vhost_vring_file f = { .index = idx, .fd = fd };

	return xioctl(req, &f);
}

/* Fresh ring at pvv's location; the queue must not be served. */
static void rebuild_ring(struct fq *q)
{
	int r;

	set_ring_pointers(q, 0);
	memset(q->desc, 0, 16 * q->num);
	memset(q->avail, 0, 6 + 2 * q->num);
	memset(q->used, 0, 6 + 8 * q->num);
	q->avail_idx = q->last_used = q->next = 0;
	q->vq->avail_idx = q->vq->last_used = 0;
	q->outstanding = 0;
	memset(q->live, 0, sizeof(q->live));
	q->broken = q->chaos = 0;
	drain_fd(q->vq->err_fd);
	drain_fd(q->vq->call_fd);
	r = vring_state(VHOST_SET_VRING_NUM, q->idx, q->num);
	expect_rc(r, 0, "VHOST_SET_VRING_NUM (ring not served)");
	r = vring_state(VHOST_SET_VRING_BASE, q->idx, 0);
	expect_rc(r, 0, "VHOST_SET_VRING_BASE (ring not served)");
	r = set_addr(q, (uintptr_t)q->desc, (uintptr_t)q->avail,
		     (uintptr_t)q->used, 0);
	expect_rc(r, 0, "VHOST_SET_VRING_ADDR (ring not served)");
	r = vring_file(VHOST_SET_VRING_KICK, q->idx, q->vq->kick_fd);
	expect_rc(r, 0, "VHOST_SET_VRING_KICK");
	r = vring_file(VHOST_SET_VRING_CALL, q->idx, q->vq->call_fd);
	expect_rc(r, 0, "VHOST_SET_VRING_CALL");
	r = vring_file(VHOST_SET_VRING_ERR, q->idx, q->vq->err_fd);
	expect_rc(r, 0, "VHOST_SET_VRING_ERR");
	q->setup = 1;
	q->kick_bound = 1;
	if (Z.be >= 0)
		q->started = 1;
}

static int mem_table(const struct vhost_memory_region *r, unsigned int n)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r[80];
	} mt;

	memset(&mt, 0, sizeof(mt));
	mt.m.nregions = n;
	if (n > 80)
		n = 80;
	memcpy(mt.r, r, n * sizeof(*r));
	return xioctl(VHOST_SET_MEM_TABLE, &mt);
}

static void mem_full(void)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = (uintptr_t)Z.mem,
		.memory_size = Z.mem_size,
		.userspace_addr = (uintptr_t)Z.mem,
	};

	expect_rc(mem_table(&r, 1), 0, "VHOST_SET_MEM_TABLE (the whole memory)");
	Z.memfull = 1;
}

static void set_log_base(void)
{
	int r = xioctl(VHOST_SET_LOG_BASE, &Z.logbase);

	expect_rc(r, 0, "VHOST_SET_LOG_BASE");
}

/* Features offered and logical block of the backend just attached. */
static void backend_info(void)
{
	struct pvv_config c;
	int r = xioctl(VHOST_GET_FEATURES, &Z.offered);

	expect_rc(r, 0, "VHOST_GET_FEATURES");
	r = pvv_get_config_raw(Z.d, &c);
	expect_rc(r, 0, "VHOST_BLK_GET_CONFIG");
	Z.lbs_sectors = c.blk_size >= 512 ? c.blk_size / 512 : 1;
	Z.max_wz = c.max_write_zeroes_sectors;
}

/* Attach backend b (-1 detaches); retries while an old instance holds it. */
static int attach(int b, int ro)
{
	double end = now() + watchdog_s;
	int fd = b < 0 ? -1 : be_fd[b], own = -1, r;
	struct vhost_vring_file f = { .index = 0 };
	unsigned int i;

	if (b >= 0 && ro) {
		own = fd = open(be_path[b], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail("open %s read-only: %s", be_path[b], strerror(errno));
	}
	f.fd = fd;
	/* record reports of broken queues before the restart clears them */
	for (i = 0; i < Z.nq; i++)
		check_err(&Z.q[i]);
	watch("VHOST_BLK_SET_BACKEND");
	for (;;) {
		r = xioctl(VHOST_BLK_SET_BACKEND, &f);
		/* a closed instance may still be finishing in the background */
		if (r != -EBUSY || now() > end || b < 0 || Z.be == b)
			break;
		usleep(100000);
	}
	if (own >= 0)
		close(own);
	if (!r) {
		Z.be = b;
		Z.be_ro = b >= 0 && ro;
		if (b >= 0)
			Z.last_be = b;
		for (i = 0; i < Z.nq; i++) {
			Z.q[i].started = b >= 0 && Z.q[i].setup &&
					 Z.q[i].kick_bound;
			if (b >= 0)
				Z.q[i].broken = 0;
		}
		if (b >= 0)
			backend_info();
	}
	return r;
}

/*
 * Make every queue sound, quiescent and served: detach (drains), restore
 * the memory table and eventfds, rebuild the corrupted rings, re-attach.
 */
static void revive(const char *why)
{
	unsigned int i;
	int r;

	st_revives++;
	note("revive (%s)", why);
	if (!Z.owned)
		fail("revive of a device without owner");
	if (Z.be >= 0) {
		r = attach(-1, 0);
		expect_rc(r, 0, "VHOST_BLK_SET_BACKEND(-1) (detach)");
	}
	if (!Z.memfull)
		mem_full();
	for (i = 0; i < Z.nq; i++) {
		struct fq *q = &Z.q[i];

		reap(q);
		check_err(q);
		if (!q->setup || !q->kick_bound || q->broken || q->chaos ||
		    q->outstanding)
			rebuild_ring(q);
	}
	r = attach(Z.last_be, 0);
	expect_rc(r, 0, "VHOST_BLK_SET_BACKEND (re-attach)");
}

/* ---------- valid requests ---------- */

static int acked(int bit)
{
	return !!(Z.acked & (1ULL << bit));
}

/*
 * One valid request on a sound served queue; returns its status, fills
 * *ulen.  Data segments: 512-byte multiples up to 4096, 512-aligned.
 */
static uint8_t valid_req(struct rng *r, struct fq *q, uint32_t type,
			 uint64_t sector, uint8_t *buf, uint32_t len,
			 uint32_t *ulen)
{
	struct pvv_desc t[ITAB_ENTRIES + 4];
	uint16_t dflags = (type == VIRTIO_BLK_T_IN ||
			   type == VIRTIO_BLK_T_GET_ID) ? W : 0;
	struct virtio_blk_outhdr *h = (void *)q->vhdr;
	unsigned int n = 0, i, off = 0, pmin = 512;
	uint16_t head;
	int use_ind, wr;

	if (!acked(VIRTIO_RING_F_INDIRECT_DESC) && q->num > 2)
		pmin = (len / (q->num - 2) + 511) & ~511u;

	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	*q->vst = 0xee;
	t[n++] = (struct pvv_desc){ (uintptr_t)h, 16, 0, 0 };
	while (off < len) {
		uint32_t l = (type == VIRTIO_BLK_T_GET_ID ||
			      type == VIRTIO_BLK_T_WRITE_ZEROES) ? len :
			     512 * (1 + below(r, 8));

		if (l < pmin)
			l = pmin;
		if (l > 4096 && type != VIRTIO_BLK_T_GET_ID &&
		    type != VIRTIO_BLK_T_WRITE_ZEROES)
			l = 4096;
		if (l > len - off)
			l = len - off;
		t[n++] = (struct pvv_desc){ (uintptr_t)buf + off, l, dflags, 0 };
		off += l;
	}
	t[n++] = (struct pvv_desc){ (uintptr_t)q->vst, 1, W, 0 };
	for (i = 0; i + 1 < n; i++) {
		t[i].flags |= NEXT;
		t[i].next = i + 1;
	}
	use_ind = acked(VIRTIO_RING_F_INDIRECT_DESC) &&
		  (n > q->num || chance(r, 50));
	if (!use_ind && n > q->num)
		fail("internal: valid request of %u descriptors on a ring of %u",
		     n, q->num);
	if (q->next + (use_ind ? 1 : n) > q->num)
		q->next = 0;	/* the queue is quiescent */
	head = q->next;
	if (use_ind) {
		memcpy(q->vitab, t, n * sizeof(t[0]));
		q->desc[head] = (struct pvv_desc){ (uintptr_t)q->vitab,
						   16 * n, IND, 0 };
		q->next++;
	} else {
		for (i = 0; i < n; i++) {
			q->desc[head + i] = t[i];
			if (t[i].flags & NEXT)
				q->desc[head + i].next = head + i + 1;
		}
		q->next += n;
	}
	publish(q, head);
	kick(q);
	st_valid++;
	watch("a valid request");
	wr = wait_q(q, watchdog_s * 1000);
	if (wr == 1)
		fail("queue %u: a valid %s request (sector %llu, %u bytes) broke the queue",
		     q->idx, type == VIRTIO_BLK_T_IN ? "read" :
		     type == VIRTIO_BLK_T_OUT ? "write" : "other",
		     (unsigned long long)sector, len);
	if (wr)
		fail("queue %u: a valid request (type %u, sector %llu, %u bytes) not answered within %u s",
		     q->idx, type, (unsigned long long)sector, len, watchdog_s);
	*ulen = q->ulen[head];
	return *q->vst;
}

static void fill_pattern(uint8_t *p, size_t len, uint64_t tag)
{
	uint64_t x = tag;
	size_t i;

	for (i = 0; i < len; i += 8) {
		uint64_t v = splitmix(&x);

		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* Quiesce, revive what is not sound, then write, read back, compare. */
static void verify(struct rng *r, const char *why)
{
	uint8_t *wbuf = Z.vdata, *rbuf = Z.vdata + VMAX;
	uint64_t cap = be_cap[Z.be < 0 ? 0 : Z.be], sector;
	struct fq *qa, *qb;
	unsigned int i, need_revive = 0, maxlen;
	uint32_t len, ulen;
	uint8_t s;

	note("verify (%s)", why);
	for (i = 0; i < Z.nq; i++)
		quiesce(&Z.q[i]);
	for (i = 0; i < Z.nq; i++) {
		struct fq *q = &Z.q[i];

		check_err(q);
		if (!served(q) || q->broken || q->chaos || q->outstanding)
			need_revive = 1;
	}
	if (Z.be < 0 || !Z.memfull || need_revive)
		revive(why);
	cap = be_cap[Z.be];
	qa = &Z.q[below(r, Z.nq)];
	qb = &Z.q[below(r, Z.nq)];
	maxlen = VMAX;
	if (!acked(VIRTIO_RING_F_INDIRECT_DESC)) {
		/* direct chains: at most num - 2 data descriptors */
		unsigned int m = (qa->num < qb->num ? qa->num : qb->num) - 2;

		if (m * 4096 < maxlen)
			maxlen = m * 4096;
	}
	len = 512 * Z.lbs_sectors *
	      (1 + below(r, maxlen / 512 / Z.lbs_sectors));
	sector = below(r, (cap < 65536 ? cap : 65536) - len / 512);
	sector -= sector % Z.lbs_sectors;
	fill_pattern(wbuf, len, rnd(r));
	s = valid_req(r, qa, VIRTIO_BLK_T_OUT, sector, wbuf, len, &ulen);
	if (Z.be_ro) {
		if (s != VIRTIO_BLK_S_IOERR)
			fail("a write on a read-only backend completed with status %u", s);
	} else if (s != VIRTIO_BLK_S_OK || ulen != 1) {
		fail("queue %u: valid write (sector %llu, %u bytes) status %u used.len %u",
		     qa->idx, (unsigned long long)sector, len, s, ulen);
	}
	if (chance(r, 30) && acked(VIRTIO_BLK_F_FLUSH)) {
		s = valid_req(r, qb, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &ulen);
		if (s != VIRTIO_BLK_S_OK)
			fail("queue %u: valid flush status %u", qb->idx, s);
	}
	memset(rbuf, 0x5a, len);
	s = valid_req(r, qb, VIRTIO_BLK_T_IN, sector, rbuf, len, &ulen);
	if (s != VIRTIO_BLK_S_OK || ulen != len + 1)
		fail("queue %u: valid read (sector %llu, %u bytes) status %u used.len %u",
		     qb->idx, (unsigned long long)sector, len, s, ulen);
	if (!Z.be_ro && memcmp(rbuf, wbuf, len)) {
		for (i = 0; i < len && rbuf[i] == wbuf[i]; i++)
			;
		fail("data mismatch: sector %llu, %u bytes written on queue %u, read on queue %u: first difference at byte %u",
		     (unsigned long long)sector, len, qa->idx, qb->idx, i);
	}
	if (!Z.be_ro && Z.max_wz && acked(VIRTIO_BLK_F_WRITE_ZEROES) &&
	    (Z.offered & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES)) && chance(r, 25)) {
		/* write-zeroes over part of the window, then read it all */
		struct virtio_blk_discard_write_zeroes *dz = (void *)(rbuf + VMAX - 64);
		uint32_t n = len / 512 / Z.lbs_sectors, a, k;

		a = below(r, n) * Z.lbs_sectors;
		k = (1 + below(r, n - a / Z.lbs_sectors)) * Z.lbs_sectors;
		if (k > Z.max_wz)
			k = Z.max_wz - Z.max_wz % Z.lbs_sectors;
		if (k) {
			dz->sector = sector + a;
			dz->num_sectors = k;
			dz->flags = chance(r, 50) ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
			s = valid_req(r, qb, VIRTIO_BLK_T_WRITE_ZEROES, 0,
				      (uint8_t *)dz, sizeof(*dz), &ulen);
			if (s != VIRTIO_BLK_S_OK)
				fail("queue %u: valid write-zeroes (sector %llu, %u sectors) status %u",
				     qb->idx, (unsigned long long)(sector + a), k, s);
			memset(wbuf + a * 512, 0, k * 512);
			memset(rbuf, 0x5a, len);
			s = valid_req(r, qa, VIRTIO_BLK_T_IN, sector, rbuf, len, &ulen);
			if (s != VIRTIO_BLK_S_OK || memcmp(rbuf, wbuf, len))
				fail("queue %u: after write-zeroes of sectors %llu+%u: read status %u, %s",
				     qa->idx, (unsigned long long)(sector + a), k, s,
				     s ? "no data" : "data differs");
			note("write-zeroes of %u sectors at %llu verified", k,
			     (unsigned long long)(sector + a));
		}
	}
	if (chance(r, 20)) {
		memset(rbuf, 0x5a, 32);
		s = valid_req(r, qa, VIRTIO_BLK_T_GET_ID, 0, rbuf,
			      VIRTIO_BLK_ID_BYTES, &ulen);
		if (s != VIRTIO_BLK_S_OK ||
		    memcmp(rbuf, Z.serial, Z.serial_len))
			fail("queue %u: GET_ID status %u, serial %s",
			     qa->idx, s, memcmp(rbuf, Z.serial, Z.serial_len) ?
			     "differs" : "matches");
	}
	st_verified++;
	note("verified %u bytes at sector %llu (queues %u/%u, backend %d%s)",
	     len, (unsigned long long)sector, qa->idx, qb->idx, Z.be,
	     Z.be_ro ? " ro" : "");
}

/* ---------- fuzz chains ---------- */

struct seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

/* An address nobody maps, or one astride the end of guest memory. */
static uint64_t bad_addr(struct rng *r, uint32_t len)
{
	uint64_t end = (uintptr_t)Z.mem + Z.mem_size;

	switch (below(r, 7)) {
	case 0: return 0;
	case 1: return 0x1000;
	case 2: return end - (len > 1 ? len / 2 : 0);
	case 3: return end;
	case 4: return ~0ULL - below(r, 8192);
	case 5: return 0x8000000000000000ULL + below(r, 1 << 20);
	default: return (uintptr_t)Z.mem - 4096;
	}
}

/* A data address: fuzz data area, mostly 512-aligned; sometimes bad. */
static uint64_t data_addr(struct rng *r, uint32_t len, int bad_pct)
{
	uint64_t off;

	if (chance(r, bad_pct))
		return bad_addr(r, len);
	if (len > FDATA_SIZE)
		len = FDATA_SIZE;
	off = below(r, FDATA_SIZE - len + 1);
	if (chance(r, 85))
		off &= ~511ULL;
	return (uintptr_t)Z.fdata + off;
}

static uint32_t pick_type(struct rng *r)
{
	static const uint32_t odd[] = { 2, 3, 5, 6, 7, 9, 10, 12, 14, 16, 17,
					18, 19, 20, 26, 0x80000000u,
					0x80000001u, 0xffffffffu };
	unsigned int x = below(r, 100);

	if (x < 28) return VIRTIO_BLK_T_IN;
	if (x < 52) return VIRTIO_BLK_T_OUT;
	if (x < 60) return VIRTIO_BLK_T_FLUSH;
	if (x < 66) return VIRTIO_BLK_T_GET_ID;
	if (x < 74) return VIRTIO_BLK_T_DISCARD;
	if (x < 82) return VIRTIO_BLK_T_WRITE_ZEROES;
	if (x < 94) return odd[below(r, sizeof(odd) / sizeof(odd[0]))];
	return (uint32_t)rnd(r);
}

static uint64_t pick_sector(struct rng *r, uint64_t cap)
{
	switch (below(r, 10)) {
	case 0: return 0;
	case 1: return cap - below(r, 16);
	case 2: return cap + below(r, 16);
	case 3: return ~0ULL - below(r, 16);
	case 4: return 1ULL << (50 + below(r, 14));
	case 5: return rnd(r);
	default: return below(r, cap ? cap : 1);
	}
}

static uint32_t pick_total(struct rng *r, uint32_t type)
{
	switch (below(r, 12)) {
	case 0: return 0;
	case 1: return 1 + below(r, 1023);
	case 2: return 512 * (1 + below(r, 1024));	/* up to 512 KiB */
	case 3: return type == VIRTIO_BLK_T_GET_ID ? 20 : 4096;
	default: return 512 * (1 + below(r, 32));
	}
}

/* Cut total bytes of direction flags into segments appended to s. */
static unsigned int cut_data(struct rng *r, struct seg *s, unsigned int n,
			     uint32_t total, uint16_t flags, int bad_pct)
{
	int mode = below(r, 10);

	while (total && n < MAXSEG - 4) {
		uint32_t l;

		if (mode < 6)
			l = 512 * (1 + below(r, 8));
		else if (mode < 8)
			l = 1 + below(r, 8192);
		else
			l = 4096 * (1 + below(r, 16));
		if (l > total)
			l = total;
		if (chance(r, 2)) {		/* a zero-length piece */
			s[n++] = (struct seg){ data_addr(r, 0, 0), 0, flags };
			continue;
		}
		s[n].addr = data_addr(r, l, bad_pct);
		s[n].len = l;
		s[n].flags = flags;
		if (chance(r, 3))
			s[n].flags ^= W;
		n++;
		total -= l;
	}
	return n;
}

/*
 * Build a random chain's logical segments for queue q, head slot h:
 * header, payload, status.  Writable segments only ever point into the
 * fuzz data area, the status slots or outside guest memory, never at the
 * rings.
 */
static unsigned int gen_segs(struct rng *r, struct fq *q, unsigned int h,
			     struct seg *s, char *desc, size_t dn)
{
	uint64_t cap = be_cap[Z.be < 0 ? 0 : Z.be];
	uint32_t type = pick_type(r), total = 0;
	uint64_t sector = pick_sector(r, cap);
	uint8_t *hp = q->hdr + 64 * h, *stp = q->st + 16 * h;
	struct virtio_blk_outhdr *hdr = (void *)hp;
	unsigned int n = 0, hl, bad_pct = chance(r, 10) ? 30 : 1;
	uint16_t dflags;

	hdr->type = type;
	hdr->ioprio = chance(r, 5) ? (uint32_t)rnd(r) : 0;
	hdr->sector = sector;
	memset(hp + 16, 0xa5, 48);
	/* header */
	switch (below(r, 20)) {
	case 0:
		break;				/* no header at all */
	case 1:
		hl = below(r, 16);
		s[n++] = (struct seg){ (uintptr_t)hp, hl, 0 };
		break;
	case 2:
		s[n++] = (struct seg){ (uintptr_t)hp, 16 + below(r, 48), 0 };
		break;
	case 3:
	case 4:
		hl = 1 + below(r, 15);
		s[n++] = (struct seg){ (uintptr_t)hp, hl, 0 };
		s[n++] = (struct seg){ (uintptr_t)hp + hl, 16 - hl, 0 };
		break;
	case 5:
		s[n++] = (struct seg){ (uintptr_t)hp, 16, W };
		break;
	case 6:
		s[n++] = (struct seg){ bad_addr(r, 16), 16, 0 };
		break;
	default:
		s[n++] = (struct seg){ (uintptr_t)hp, 16, 0 };
	}
	/* payload */
	dflags = (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID) ? W : 0;
	if (type > VIRTIO_BLK_T_WRITE_ZEROES && chance(r, 50))
		dflags = W;
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		struct virtio_blk_discard_write_zeroes *dz = (void *)(q->dwz + 64 * h);
		unsigned int k, nseg = chance(r, 80) ? 1 : below(r, 4);

		for (k = 0; k < 4; k++) {
			dz[k].sector = pick_sector(r, cap);
			dz[k].num_sectors = chance(r, 70) ? 1 + below(r, 64) :
					    (uint32_t)rnd(r);
			dz[k].flags = chance(r, 70) ? 0 : chance(r, 50) ?
				      VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP :
				      (uint32_t)rnd(r);
		}
		total = 16 * nseg;
		if (chance(r, 10))
			total = below(r, 64);
		if (total)
			s[n++] = (struct seg){ (uintptr_t)dz, total,
					       chance(r, 5) ? W : 0 };
	} else if (type != VIRTIO_BLK_T_FLUSH || chance(r, 10)) {
		total = pick_total(r, type);
		n = cut_data(r, s, n, total, dflags, bad_pct);
	}
	/* status */
	memset(stp, 0xee, 16);
	switch (below(r, 25)) {
	case 0:
		break;				/* none */
	case 1:
		s[n++] = (struct seg){ (uintptr_t)stp, 1, 0 };
		break;
	case 2:
		s[n++] = (struct seg){ (uintptr_t)stp, below(r, 17), W };
		break;
	case 3:
		s[n++] = (struct seg){ bad_addr(r, 1), 1, W };
		break;
	case 4:
		/* the status as the last byte of the last data segment */
		if (n && (s[n - 1].flags & W) && s[n - 1].len &&
		    s[n - 1].addr >= (uintptr_t)Z.fdata &&
		    s[n - 1].addr + s[n - 1].len < (uintptr_t)Z.fdata + FDATA_SIZE) {
			s[n - 1].len++;
			break;
		}
		/* fall through */
	default:
		s[n++] = (struct seg){ (uintptr_t)stp, 1, W };
	}
	snprintf(desc, dn, "type %#x sector %#llx %u bytes, %u segs",
		 type, (unsigned long long)sector, total, n);
	return n;
}

/* Room for n descriptors at q->next; 0 if the queue cannot give it. */
static int room(struct fq *q, unsigned int n)
{
	if (q->next + n <= q->num)
		return 1;
	if (n > q->num)
		return 0;
	/* heads in flight could be reused: wait for the queue first */
	if (q->outstanding) {
		quiesce(q);
		reap(q);
	}
	if (q->outstanding) {
		if (!served(q) && !q->broken && !q->chaos)
			return 0;
		/* a head may be in flight twice from now on */
		q->chaos = 1;
	}
	q->next = 0;
	return 1;
}

/* Place one chain on q (direct or indirect); returns the head or -1. */
static int place(struct rng *r, struct fq *q, struct seg *s, unsigned int n,
		 char *desc, size_t dn)
{
	int ind = n && chance(r, acked(VIRTIO_RING_F_INDIRECT_DESC) ? 45 : 8);
	unsigned int i, slot, m;
	uint16_t head;
	size_t l = strlen(desc);

	if (ind && n <= ITAB_ENTRIES) {
		struct pvv_desc *t;
		uint32_t tlen = 16 * n;
		uint16_t dfl = IND;
		int extra = 0;

		if (!room(q, 2))
			return -1;
		head = q->next;
		t = q->itab + (size_t)head * (ITAB_ENTRIES + 8);
		for (i = 0; i < n; i++) {
			t[i].addr = s[i].addr;
			t[i].len = s[i].len;
			t[i].flags = s[i].flags | (i + 1 < n ? NEXT : 0);
			t[i].next = i + 1;
		}
		switch (below(r, 30)) {
		case 0: tlen = 0; break;
		case 1: tlen = 16 * n + 1 + below(r, 15); break;
		case 2: tlen = 16 * (n + 1 + below(r, 7)); break;
		case 3: tlen = 0xfffffff0u; break;
		case 4:
			t[n - 1].flags |= NEXT;
			t[n - 1].next = below(r, n + 2);
			break;
		case 5:
			/* nested: one entry is itself an indirect table */
			t[below(r, n)].flags |= IND;
			break;
		case 6: dfl |= W; break;
		case 7: dfl |= NEXT; extra = 1; break;
		default: break;
		}
		memset(t + n, 0, 8 * sizeof(*t));
		q->desc[head] = (struct pvv_desc){
			chance(r, 3) ? bad_addr(r, tlen) : (uintptr_t)t,
			tlen, dfl, (uint16_t)(head + 1) };
		q->next++;
		if (extra) {
			/* a direct status descriptor after the table */
			q->desc[head + 1] = (struct pvv_desc){
				(uintptr_t)(q->st + 16 * head), 1, W, 0 };
			q->next++;
		}
		snprintf(desc + l, dn - l, ", indirect len %u flags %#x", tlen, dfl);
		return head;
	}
	m = n ? n : 1;
	if (!room(q, m))
		return -1;
	head = q->next;
	if (!n) {
		/* an empty descriptor */
		q->desc[head] = (struct pvv_desc){ 0, 0, 0, 0 };
		q->next++;
		return head;
	}
	/* positions: in order or shuffled within the block */
	{
		uint16_t pos[MAXSEG];

		for (i = 0; i < n; i++)
			pos[i] = head + i;
		if (chance(r, 30)) {
			for (i = n - 1; i > 0; i--) {
				unsigned int j = below(r, i + 1);
				uint16_t t = pos[i];

				pos[i] = pos[j];
				pos[j] = t;
			}
		}
		for (i = 0; i < n; i++) {
			struct pvv_desc *d = &q->desc[pos[i]];

			d->addr = s[i].addr;
			d->len = s[i].len;
			d->flags = s[i].flags | (i + 1 < n ? NEXT : 0);
			d->next = i + 1 < n ? pos[i + 1] : 0;
		}
		slot = pos[n - 1];
		switch (below(r, 40)) {
		case 0:
			q->desc[slot].flags |= NEXT;
			q->desc[slot].next = pos[below(r, n)];	/* loop */
			strncat(desc, ", loop", dn - strlen(desc) - 1);
			break;
		case 1:
			q->desc[slot].flags |= NEXT;
			q->desc[slot].next = q->num + below(r, 0x10000 - q->num);
			strncat(desc, ", next out of range", dn - strlen(desc) - 1);
			break;
		case 2:
			q->desc[slot].flags |= NEXT;
			q->desc[slot].next = below(r, q->num);
			strncat(desc, ", next into another chain", dn - strlen(desc) - 1);
			break;
		case 3:
			q->desc[pos[below(r, n)]].flags |= IND;
			strncat(desc, ", stray INDIRECT flag", dn - strlen(desc) - 1);
			break;
		default:
			break;
		}
		head = pos[0];
	}
	q->next += n;
	return head;
}

/* After the kick: rewrite what the device may or may not have read. */
static void toctou(struct rng *r, struct fq *q, uint16_t head)
{
	uint8_t *hp = q->hdr + 64 * head;

	switch (below(r, 3)) {
	case 0:
		((struct virtio_blk_outhdr *)hp)->type = pick_type(r);
		((struct virtio_blk_outhdr *)hp)->sector =
			pick_sector(r, be_cap[Z.be < 0 ? 0 : Z.be]);
		break;
	case 1:
		q->desc[head].len = below(r, 70000);
		break;
	default:
		/* readable or out of memory only: never a writable ring */
		q->desc[head].flags &= ~W;
		q->desc[head].addr = chance(r, 50) ? bad_addr(r, 16) :
				     (uintptr_t)hp;
		break;
	}
}

static void step_chains(struct rng *r)
{
	struct fq *q = &Z.q[below(r, Z.nq)];
	unsigned int k = 1 + below(r, 8), i, nk = 0;
	struct seg s[MAXSEG];
	char desc[200];
	int heads[8];

	for (i = 0; i < k; i++) {
		unsigned int n = gen_segs(r, q, q->next % q->num, s, desc,
					  sizeof(desc));
		int h;

		/* the header and status slots follow the head: regenerate */
		h = place(r, q, s, n, desc, sizeof(desc));
		if (h < 0) {
			note("queue %u: no room for a chain of %u (outstanding %u, %s)",
			     q->idx, n, q->outstanding,
			     served(q) ? "served" : "not served");
			break;
		}
		if (chance(r, 1)) {
			h = q->num + below(r, 0x10000 - q->num);
			strncat(desc, ", bogus head", sizeof(desc) - strlen(desc) - 1);
		}
		publish(q, h);
		heads[nk++] = h;
		st_fuzz++;
		note("queue %u head %d: %s", q->idx, h, desc);
		if (chance(r, 20))
			kick(q);
	}
	if (!nk)
		return;
	if (chance(r, 95))
		kick(q);
	if (chance(r, 5) && heads[0] < (int)q->num)
		toctou(r, q, heads[0]);
	if (chance(r, 2))
		kick(q);
	if (chance(r, 40) && served(q)) {
		quiesce(q);
		note("queue %u: %s", q->idx, q->broken ? "broken" : "all answered");
	}
}

/* ---------- ring states ---------- */

static void step_ring(struct rng *r)
{
	struct fq *q = &Z.q[below(r, Z.nq)];
	uint16_t v;

	switch (below(r, 9)) {
	case 0:
		v = q->avail_idx + q->num + 1 + below(r, 1000);
		note("queue %u: avail idx jumps %u -> %u", q->idx, q->avail_idx, v);
		__atomic_store_n(&q->avail->idx, v, __ATOMIC_RELEASE);
		q->chaos = 1;
		kick(q);
		break;
	case 1:
		v = q->avail_idx - 1 - below(r, 8);
		note("queue %u: avail idx moves back %u -> %u", q->idx, q->avail_idx, v);
		__atomic_store_n(&q->avail->idx, v, __ATOMIC_RELEASE);
		q->chaos = 1;
		kick(q);
		break;
	case 2:
		v = 1 + below(r, 4);
		note("queue %u: avail idx onto %u stale entries", q->idx, v);
		q->avail_idx += v;
		__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
		q->chaos = 1;
		kick(q);
		break;
	case 3:
		note("queue %u: used flags scribbled", q->idx);
		q->used->flags = rnd(r);
		kick(q);
		break;
	case 4:
		note("queue %u: avail flags %s", q->idx, "toggled");
		q->avail->flags ^= VRING_AVAIL_F_NO_INTERRUPT;
		break;
	case 5:
		note("queue %u: used_event scribbled", q->idx);
		q->avail->ring[q->num] = rnd(r);
		break;
	case 6:
		note("queue %u: avail_event scribbled", q->idx);
		{
			uint16_t v16 = rnd(r);

			memcpy(&q->used->ring[q->num], &v16, 2);
		}
		break;
	case 7:
		note("queue %u: used idx scribbled", q->idx);
		q->used->idx = rnd(r);
		q->chaos = 1;
		kick(q);
		break;
	default: {
		/* random bytes over descriptors (never addresses in memory) */
		unsigned int i = below(r, q->num);

		note("queue %u: descriptor %u scribbled", q->idx, i);
		q->desc[i].addr = rnd(r) | 0x8000000000000000ULL;
		q->desc[i].len = rnd(r);
		q->desc[i].flags = rnd(r);
		q->desc[i].next = rnd(r);
		kick(q);
		break;
	}
	}
}

/* ---------- ioctl steps ---------- */

static void step_mem(struct rng *r)
{
	struct vhost_memory_region rg[80];
	uint64_t base = (uintptr_t)Z.mem, size = Z.mem_size, pages = size / 4096;
	unsigned int n = 0, i, k;
	int rc, full = 0;
	const char *what;

	switch (below(r, 9)) {
	case 0:
		what = "whole";
		rg[n++] = (struct vhost_memory_region){ base, size, base, 0 };
		full = 1;
		break;
	case 1: {
		uint64_t at = base;

		what = "split";
		k = 2 + below(r, 3);
		for (i = 0; i < k; i++) {
			uint64_t left = base + size - at;
			uint64_t l = i + 1 == k ? left :
				     4096 * (1 + below(r, left / 4096 - (k - i - 1)));

			rg[n++] = (struct vhost_memory_region){ at, l, at, 0 };
			at += l;
			if (at >= base + size)
				break;
		}
		full = at == base + size;
		break;
	}
	case 2:
		what = "alias mapping";
		rg[n++] = (struct vhost_memory_region){ base, size,
							(uintptr_t)Z.alias, 0 };
		full = 1;
		break;
	case 3:
		what = "shrunk";
		rg[n++] = (struct vhost_memory_region){ base,
			4096 * (1 + below(r, pages - 1)), base, 0 };
		break;
	case 4: {
		uint64_t a = 4096 * (1 + below(r, pages - 2));

		what = "hole";
		rg[n++] = (struct vhost_memory_region){ base, a, base, 0 };
		rg[n++] = (struct vhost_memory_region){ base + a + 4096,
			size - a - 4096, base + a + 4096, 0 };
		break;
	}
	case 5:
		what = "empty";
		break;
	case 6:
		what = "too many regions";
		for (i = 0; i < 70; i++)
			rg[n++] = (struct vhost_memory_region){ base + 4096 * i,
				4096, base + 4096 * i, 0 };
		break;
	case 7:
		what = "overlapping";
		rg[n++] = (struct vhost_memory_region){ base, size, base, 0 };
		rg[n++] = (struct vhost_memory_region){ base, size / 2,
							(uintptr_t)Z.alias, 0 };
		full = 1;
		break;
	default:
		what = "bogus region";
		rg[n++] = (struct vhost_memory_region){ base, size, base, 0 };
		switch (below(r, 4)) {
		case 0: rg[0].memory_size = 0; break;
		case 1: rg[0].userspace_addr = 0xffff800000000000ULL; break;
		case 2: rg[0].guest_phys_addr = ~0ULL - 4095; break;
		default: rg[0].userspace_addr += 1 + below(r, 4095); break;
		}
		break;
	}
	rc = mem_table(rg, n);
	note("VHOST_SET_MEM_TABLE %s (%u regions): %d", what, n, rc);
	if (n > 64 && !rc)
		fail("VHOST_SET_MEM_TABLE with %u regions accepted", n);
	if (!rc)
		Z.memfull = full;
}

static void step_addr(struct rng *r)
{
	struct fq *q = &Z.q[below(r, Z.nq)];
	int rc, loc = !q->loc, bogus = chance(r, 30);
	unsigned int flags;

	if (!q->setup)
		return;
	if (bogus) {
		uint64_t d = (uintptr_t)q->desc, a = (uintptr_t)q->avail,
			 u = (uintptr_t)q->used;
		unsigned int flags = 0, which = below(r, 5);

		switch (which) {
		case 0: u += 2; break;			/* misaligned used */
		case 1: a += 1; break;			/* misaligned avail */
		case 2: flags = 0x80; break;		/* unknown flag */
		case 3: d = 0xffff880000000000ULL; break;	/* kernel */
		default: u = ~0ULL - 64; break;
		}
		rc = set_addr(q, d, a, u, flags);
		note("queue %u: VHOST_SET_VRING_ADDR bogus #%u: %d", q->idx, which, rc);
		if (which <= 2 && !rc)
			fail("queue %u: VHOST_SET_VRING_ADDR bogus #%u accepted", q->idx, which);
		if (!rc) {
			/* accepted for a ring not served: put it back */
			rc = set_addr(q, (uintptr_t)q->desc, (uintptr_t)q->avail,
				      (uintptr_t)q->used, 0);
			expect_rc(rc, 0, "VHOST_SET_VRING_ADDR (restored)");
		}
		return;
	}
	/* move the ring (a copy) to the other location */
	memcpy(q->rdesc[loc], q->desc, 16 * q->num);
	memcpy(q->ravail[loc], q->avail, 6 + 2 * q->num);
	memcpy(q->rused[loc], q->used, 6 + 8 * q->num);
	flags = chance(r, 30) ? 1u << VHOST_VRING_F_LOG : 0;
	rc = set_addr(q, (uintptr_t)q->rdesc[loc], (uintptr_t)q->ravail[loc],
		      (uintptr_t)q->rused[loc], flags);
	note("queue %u: ring moved to location %d (%u in flight, used ring %slogged): %d",
	     q->idx, loc, q->outstanding, flags ? "" : "not ", rc);
	expect_rc(rc, 0, "VHOST_SET_VRING_ADDR (ring moved)");
	if (q->outstanding && served(q))
		q->chaos = 1;	/* answers may have gone to the old ring */
	set_ring_pointers(q, loc);
}

static void step_features(struct rng *r)
{
	uint64_t f;
	int rc;

	if (chance(r, 15)) {
		static const int junk[] = { VIRTIO_F_RING_PACKED,
					    VIRTIO_F_ACCESS_PLATFORM, 40, 63,
					    VIRTIO_BLK_F_SCSI, VIRTIO_BLK_F_ZONED };

		f = Z.acked | (1ULL << junk[below(r, 6)]);
		rc = xioctl(VHOST_SET_FEATURES, &f);
		note("VHOST_SET_FEATURES %#llx (unknown bit): %d",
		     (unsigned long long)f, rc);
		expect_rc(rc, -EOPNOTSUPP, "VHOST_SET_FEATURES with a bit never offered");
		return;
	}
	f = Z.offered & (rnd(r) | rnd(r));
	if (chance(r, 90))
		f |= 1ULL << VIRTIO_F_VERSION_1;
	if (chance(r, 70))
		f |= Z.offered & (1ULL << VIRTIO_BLK_F_FLUSH);
	rc = xioctl(VHOST_SET_FEATURES, &f);
	note("VHOST_SET_FEATURES %#llx: %d", (unsigned long long)f, rc);
	expect_rc(rc, 0, "VHOST_SET_FEATURES (offered bits)");
	Z.acked = f;
}

static void step_backend(struct rng *r)
{
	int rc, fd;
	struct vhost_vring_file f;

	switch (below(r, 8)) {
	case 0:
	case 1: {
		int b = Z.be < 0 ? (int)below(r, 2) : !Z.be;

		rc = attach(b, 0);
		note("SET_BACKEND %s: %d", b ? "file" : "block device", rc);
		expect_rc(rc, 0, "VHOST_BLK_SET_BACKEND (the other backend)");
		break;
	}
	case 2:
		if (Z.be < 0)
			return;
		rc = attach(Z.be, Z.be_ro);
		note("SET_BACKEND the same again: %d", rc);
		expect_rc(rc, 0, "VHOST_BLK_SET_BACKEND (the same backend again)");
		break;
	case 3:
		rc = attach(-1, 0);
		note("SET_BACKEND -1 (detach): %d", rc);
		expect_rc(rc, 0, "VHOST_BLK_SET_BACKEND(-1)");
		break;
	case 4: {
		int b = below(r, 2), held = Z.be == b && !Z.be_ro;

		rc = attach(b, 1);
		note("SET_BACKEND %s read-only (%s): %d", b ? "file" : "block device",
		     held ? "held writable" : "not held", rc);
		if (b == 0 && held)
			expect_rc(rc, -EBUSY, "read-only SET_BACKEND of the disk served writable");
		else if (b == 0)
			expect_rc(rc, 0, "read-only VHOST_BLK_SET_BACKEND");
		break;
	}
	default:
		switch (below(r, 4)) {
		case 0: fd = eventfd(0, EFD_CLOEXEC); break;
		case 1: fd = open("/dev/null", O_RDWR | O_CLOEXEC); break;
		case 2: fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC); break;
		default: fd = -1; break;
		}
		f.index = 0;
		f.fd = fd >= 0 ? fd : 1000 + (int)below(r, 1000);
		rc = xioctl(VHOST_BLK_SET_BACKEND, &f);
		note("SET_BACKEND with a bad fd: %d", rc);
		if (!rc)
			fail("VHOST_BLK_SET_BACKEND accepted an unusable fd");
		f.index = 1 + below(r, 100);
		f.fd = be_fd[0];
		rc = xioctl(VHOST_BLK_SET_BACKEND, &f);
		expect_rc(rc, -EINVAL, "VHOST_BLK_SET_BACKEND with index != 0");
		if (fd >= 0)
			close(fd);
	}
}

/* RESET_OWNER, then a fresh setup in a random order. */
static void setup_after_reset(struct rng *r)
{
	unsigned int i;
	int rc, rings_first = chance(r, 50), b = Z.be;
	uint64_t f;

	rc = xioctl(VHOST_SET_OWNER, NULL);
	expect_rc(rc, 0, "VHOST_SET_OWNER after VHOST_RESET_OWNER");
	Z.owned = 1;
	Z.be = -1;
	Z.wmap_valid = 0;
	Z.nworkers = 0;
	if (b < 0)
		b = below(r, 2);
	if (!rings_first) {
		rc = attach(b, 0);
		expect_rc(rc, 0, "VHOST_BLK_SET_BACKEND after a reset");
	}
	set_log_base();
	rc = xioctl(VHOST_GET_FEATURES, &Z.offered);
	expect_rc(rc, 0, "VHOST_GET_FEATURES");
	f = Z.acked & (Z.offered | (1ULL << VIRTIO_BLK_F_DISCARD) |
		       (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |
		       (1ULL << VIRTIO_BLK_F_RO));
	rc = xioctl(VHOST_SET_FEATURES, &f);
	expect_rc(rc, 0, "VHOST_SET_FEATURES after a reset");
	Z.acked = f;
	mem_full();
	for (i = 0; i < Z.nq; i++)
		rebuild_ring(&Z.q[i]);
	if (rings_first) {
		rc = attach(b, 0);
		expect_rc(rc, 0, "VHOST_BLK_SET_BACKEND after the rings");
	}
}

static void step_reset(struct rng *r)
{
	unsigned int i;
	int rc;

	note("VHOST_RESET_OWNER (%u %u %u %u in flight)", Z.q[0].outstanding,
	     Z.nq > 1 ? Z.q[1].outstanding : 0,
	     Z.nq > 2 ? Z.q[2].outstanding : 0,
	     Z.nq > 3 ? Z.q[3].outstanding : 0);
	watch("VHOST_RESET_OWNER");
	rc = xioctl(VHOST_RESET_OWNER, NULL);
	expect_rc(rc, 0, "VHOST_RESET_OWNER");
	Z.owned = 0;
	for (i = 0; i < Z.nq; i++) {
		Z.q[i].setup = Z.q[i].started = 0;
		Z.q[i].chaos = 1;
	}
	if (chance(r, 50)) {
		/* not the owner any more: the owner's ioctls are refused */
		struct vhost_vring_file bf = { .index = 0, .fd = be_fd[0] };
		struct vhost_worker_state ws = { 0 };

		struct vhost_memory_region none[1];

		memset(none, 0, sizeof(none));
		rc = mem_table(none, 0);
		expect_rc(rc, -EPERM, "VHOST_SET_MEM_TABLE without an owner");
		rc = xioctl(VHOST_BLK_SET_BACKEND, &bf);
		expect_rc(rc, -EPERM, "VHOST_BLK_SET_BACKEND without an owner");
		rc = vring_state(VHOST_SET_VRING_NUM, 0, 64);
		expect_rc(rc, -EPERM, "VHOST_SET_VRING_NUM without an owner");
		rc = xioctl(VHOST_NEW_WORKER, &ws);
		expect_rc(rc, -EINVAL, "VHOST_NEW_WORKER without an owner");
		rc = xioctl(VHOST_RESET_OWNER, NULL);
		expect_rc(rc, -EPERM, "VHOST_RESET_OWNER without an owner");
	}
	setup_after_reset(r);
}

static void worker_map(void)
{
	unsigned int i;

	if (Z.wmap_valid)
		return;
	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++) {
		struct vhost_vring_worker vw = { .index = i };
		int rc = xioctl(VHOST_GET_VRING_WORKER, &vw);

		expect_rc(rc, 0, "VHOST_GET_VRING_WORKER");
		Z.wmap[i] = vw.worker_id;
	}
	Z.wmap_valid = 1;
}

static int worker_attached(unsigned int id)
{
	unsigned int i;

	for (i = 0; i < VHOST_BLK_MAX_QUEUES; i++)
		if (Z.wmap[i] == id)
			return 1;
	return 0;
}

static void step_worker(struct rng *r)
{
	struct vhost_worker_state ws = { 0 };
	struct vhost_vring_worker vw;
	unsigned int k;
	int rc;

	worker_map();
	switch (below(r, 6)) {
	case 0:
	case 1:
		if (Z.nworkers == NWORKERS)
			goto free_one;
		rc = xioctl(VHOST_NEW_WORKER, &ws);
		expect_rc(rc, 0, "VHOST_NEW_WORKER");
		Z.workers[Z.nworkers++] = ws.worker_id;
		note("VHOST_NEW_WORKER: %u", ws.worker_id);
		/* then attach it somewhere */
		/* fall through */
	case 2:
		if (!Z.nworkers)
			return;
		vw.index = chance(r, 80) ? below(r, Z.nq) :
			   below(r, VHOST_BLK_MAX_QUEUES);
		vw.worker_id = chance(r, 20) ? Z.wmap[below(r, VHOST_BLK_MAX_QUEUES)] :
			       Z.workers[below(r, Z.nworkers)];
		rc = xioctl(VHOST_ATTACH_VRING_WORKER, &vw);
		note("VHOST_ATTACH_VRING_WORKER vq %u worker %u: %d", vw.index,
		     vw.worker_id, rc);
		expect_rc(rc, 0, "VHOST_ATTACH_VRING_WORKER");
		Z.wmap[vw.index] = vw.worker_id;
		break;
	case 3:
free_one:
		if (!Z.nworkers)
			return;
		k = below(r, Z.nworkers);
		ws.worker_id = Z.workers[k];
		rc = xioctl(VHOST_FREE_WORKER, &ws);
		note("VHOST_FREE_WORKER %u (%s): %d", ws.worker_id,
		     worker_attached(ws.worker_id) ? "attached" : "idle", rc);
		expect_rc(rc, worker_attached(ws.worker_id) ? -EBUSY : 0,
			  "VHOST_FREE_WORKER");
		if (!rc)
			Z.workers[k] = Z.workers[--Z.nworkers];
		break;
	case 4:
		vw.index = below(r, VHOST_BLK_MAX_QUEUES);
		rc = xioctl(VHOST_GET_VRING_WORKER, &vw);
		expect_rc(rc, 0, "VHOST_GET_VRING_WORKER");
		if (vw.worker_id != Z.wmap[vw.index])
			fail("VHOST_GET_VRING_WORKER vq %u: worker %u, attached %u",
			     vw.index, vw.worker_id, Z.wmap[vw.index]);
		break;
	default:
		ws.worker_id = 100000 + below(r, 1000);
		rc = xioctl(VHOST_FREE_WORKER, &ws);
		expect_rc(rc, -ENODEV, "VHOST_FREE_WORKER of no worker");
		vw.index = below(r, Z.nq);
		vw.worker_id = ws.worker_id;
		rc = xioctl(VHOST_ATTACH_VRING_WORKER, &vw);
		expect_rc(rc, -ENODEV, "VHOST_ATTACH_VRING_WORKER of no worker");
		vw.index = VHOST_BLK_MAX_QUEUES + below(r, 100);
		vw.worker_id = Z.wmap[0];
		rc = xioctl(VHOST_ATTACH_VRING_WORKER, &vw);
		if (!rc)
			fail("VHOST_ATTACH_VRING_WORKER to vq %u accepted", vw.index);
		break;
	}
}

static void step_fds(struct rng *r)
{
	struct fq *q = &Z.q[below(r, Z.nq)];
	int rc, fd;

	if (!q->setup)
		return;
	switch (below(r, 6)) {
	case 0:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		rc = vring_file(VHOST_SET_VRING_KICK, q->idx, fd);
		note("queue %u: new kick eventfd: %d", q->idx, rc);
		expect_rc(rc, 0, "VHOST_SET_VRING_KICK (new eventfd)");
		close(q->vq->kick_fd);
		q->vq->kick_fd = fd;
		if (!q->kick_bound && Z.be >= 0)
			q->started = 1;
		q->kick_bound = 1;
		kick(q);
		break;
	case 1:
		if (!q->started)
			return;		/* stays served while unbound */
		rc = vring_file(VHOST_SET_VRING_KICK, q->idx, -1);
		note("queue %u: kick unbound: %d", q->idx, rc);
		expect_rc(rc, 0, "VHOST_SET_VRING_KICK(-1)");
		q->kick_bound = 0;
		break;
	case 2:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		rc = vring_file(VHOST_SET_VRING_CALL, q->idx,
				chance(r, 30) ? -1 : fd);
		note("queue %u: call eventfd swapped: %d", q->idx, rc);
		expect_rc(rc, 0, "VHOST_SET_VRING_CALL");
		rc = vring_file(VHOST_SET_VRING_CALL, q->idx, fd);
		expect_rc(rc, 0, "VHOST_SET_VRING_CALL");
		close(q->vq->call_fd);
		q->vq->call_fd = fd;
		break;
	case 3:
		fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		rc = vring_file(VHOST_SET_VRING_ERR, q->idx, fd);
		note("queue %u: error eventfd swapped: %d", q->idx, rc);
		expect_rc(rc, 0, "VHOST_SET_VRING_ERR");
		/* a report on the old one would be lost: look once more */
		check_err(q);
		close(q->vq->err_fd);
		q->vq->err_fd = fd;
		break;
	case 4:
		fd = memfd_create("not-an-eventfd", MFD_CLOEXEC);
		rc = vring_file(VHOST_SET_VRING_KICK, q->idx, fd);
		note("queue %u: kick fd not an eventfd: %d", q->idx, rc);
		if (!rc)
			fail("VHOST_SET_VRING_KICK accepted a memfd");
		close(fd);
		break;
	default:
		rc = vring_file(VHOST_SET_VRING_CALL, VHOST_BLK_MAX_QUEUES +
				below(r, 1000), q->vq->call_fd);
		expect_rc(rc, -ENOBUFS, "VHOST_SET_VRING_CALL of a vq out of range");
		break;
	}
}

static void step_numbase(struct rng *r)
{
	struct fq *q = &Z.q[below(r, Z.nq)];
	struct vhost_vring_state s = { .index = q->idx };
	int rc;

	if (!q->setup)
		return;
	if (q->started) {
		rc = vring_state(VHOST_SET_VRING_NUM, q->idx, q->num / 2 ? q->num / 2 : 2);
		note("queue %u: SET_VRING_NUM while served: %d", q->idx, rc);
		expect_rc(rc, -EBUSY, "VHOST_SET_VRING_NUM on a served ring");
		rc = vring_state(VHOST_SET_VRING_BASE, q->idx, below(r, 65536));
		expect_rc(rc, -EBUSY, "VHOST_SET_VRING_BASE on a served ring");
		rc = xioctl(VHOST_GET_VRING_BASE, &s);
		expect_rc(rc, 0, "VHOST_GET_VRING_BASE");
		return;
	}
	switch (below(r, 3)) {
	case 0:
		rc = vring_state(VHOST_SET_VRING_NUM, q->idx,
				 chance(r, 50) ? 0 : 3 + 2 * below(r, 100));
		expect_rc(rc, -EINVAL, "VHOST_SET_VRING_NUM (not a power of 2)");
		break;
	case 1:
		rc = vring_state(VHOST_SET_VRING_BASE, q->idx, below(r, 65536));
		note("queue %u: SET_VRING_BASE while not served: %d", q->idx, rc);
		expect_rc(rc, 0, "VHOST_SET_VRING_BASE (ring not served)");
		q->chaos = 1;
		break;
	default:
		/* smaller only: the device must stay inside our allocation */
		rc = vring_state(VHOST_SET_VRING_NUM, q->idx,
				 q->num > 2 ? q->num / 2 : 2);
		note("queue %u: SET_VRING_NUM resized while not served: %d", q->idx, rc);
		expect_rc(rc, 0, "VHOST_SET_VRING_NUM (ring not served)");
		q->chaos = 1;
		break;
	}
}

static void step_misc(struct rng *r)
{
	struct vhost_blk_serial s = { 0 };
	struct pvv_config c;
	unsigned int i;
	int rc;

	switch (below(r, 5)) {
	case 4: {
		/* numbers pvblk does not serve, and vring knobs it ignores */
		uint8_t buf[256];
		unsigned long nr = 0x53 + below(r, 0x2d);
		unsigned long req = _IOC(below(r, 4), VHOST_VIRTIO, nr,
					 below(r, sizeof(buf)));
		struct vhost_vring_state vs = { .index = below(r, Z.nq),
						.num = below(r, 1000) };

		memset(buf, 0, sizeof(buf));
		rc = xioctl(req, buf);
		note("ioctl %#lx (not a vhost-blk one): %d", req, rc);
		if (!rc)
			fail("ioctl %#lx, which /dev/vhost-blk does not define, succeeded", req);
		rc = xioctl(VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &vs);
		expect_rc(rc, 0, "VHOST_SET_VRING_BUSYLOOP_TIMEOUT");
		rc = xioctl(VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &vs);
		expect_rc(rc, 0, "VHOST_GET_VRING_BUSYLOOP_TIMEOUT");
		rc = xioctl(VHOST_GET_VRING_ENDIAN, &vs);
		note("VHOST_GET_VRING_ENDIAN: %d", rc);
		break;
	}
	case 3: {
		int fd = chance(r, 70) ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;

		rc = xioctl(VHOST_SET_LOG_FD, &fd);
		note("VHOST_SET_LOG_FD %s: %d", fd >= 0 ? "eventfd" : "-1", rc);
		expect_rc(rc, 0, "VHOST_SET_LOG_FD");
		if (fd >= 0)
			close(fd);
		break;
	}
	case 0:
		s.len = chance(r, 85) ? below(r, 21) : 21 + below(r, 1000);
		s.reserved = chance(r, 90) ? 0 : (uint32_t)rnd(r) | 1;
		for (i = 0; i < VHOST_BLK_SERIAL_BYTES; i++)
			s.id[i] = 'a' + below(r, 26);
		rc = xioctl(VHOST_BLK_SET_SERIAL, &s);
		note("SET_SERIAL len %u reserved %#x: %d", s.len, s.reserved, rc);
		expect_rc(rc, s.len > 20 || s.reserved ? -EINVAL : 0,
			  "VHOST_BLK_SET_SERIAL");
		if (!rc) {
			memcpy(Z.serial, s.id, s.len);
			Z.serial_len = s.len;
		}
		break;
	case 1:
		rc = pvv_get_config_raw(Z.d, &c);
		note("GET_CONFIG: %d", rc);
		expect_rc(rc, Z.be < 0 ? -ENODEV : 0, "VHOST_BLK_GET_CONFIG");
		if (!rc && c.capacity != be_cap[Z.be])
			fail("GET_CONFIG capacity %llu, the backend has %llu sectors",
			     (unsigned long long)c.capacity,
			     (unsigned long long)be_cap[Z.be]);
		break;
	default: {
		/* a process sharing the fd is not the owner */
		pid_t pid;
		int status;

		if (!Z.owned)
			return;
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			fail("fork: %s", strerror(errno));
		if (!pid) {
			struct vhost_vring_file bf = { .index = 0, .fd = be_fd[0] };
			struct vhost_worker_state ws = { 0 };
			struct vhost_memory_region none[1];
			int bad = 0;
			uint64_t f;

			memset(none, 0, sizeof(none));
			in_child = 1;
			alarm(watchdog_s);
			bad |= (xioctl(VHOST_SET_OWNER, NULL) != -EBUSY) << 0;
			bad |= (mem_table(none, 0) != -EPERM) << 1;
			bad |= (xioctl(VHOST_BLK_SET_BACKEND, &bf) != -EPERM) << 2;
			bad |= (xioctl(VHOST_RESET_OWNER, NULL) != -EPERM) << 3;
			bad |= (xioctl(VHOST_NEW_WORKER, &ws) != -EPERM) << 4;
			bad |= (vring_state(VHOST_SET_VRING_NUM, 0, 8) != -EPERM) << 5;
			bad |= (xioctl(VHOST_GET_FEATURES, &f) != 0) << 6;
			_exit(bad);
		}
		if (waitpid(pid, &status, 0) != pid)
			fail("waitpid: %s", strerror(errno));
		note("non-owner child: status %#x", status);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail("ioctls of a process that is not the owner: wrong answers (mask %#x, status %#x)",
			     WIFEXITED(status) ? WEXITSTATUS(status) : 0, status);
		break;
	}
	}
}

static void step_ioctl(struct rng *r)
{
	unsigned int x = below(r, 100);

	if (x < 16) step_mem(r);
	else if (x < 26) step_addr(r);
	else if (x < 38) step_features(r);
	else if (x < 56) step_backend(r);
	else if (x < 64) step_reset(r);
	else if (x < 76) step_worker(r);
	else if (x < 86) step_fds(r);
	else if (x < 93) step_numbase(r);
	else step_misc(r);
}

/* ---------- an iteration ---------- */

static void fz_close(void)
{
	if (Z.d) {
		watch("close of /dev/vhost-blk");
		pvv_close(Z.d);
	}
	if (Z.alias && Z.alias != MAP_FAILED)
		munmap(Z.alias, Z.mem_size);
	free(Z.logbuf);
	memset(&Z, 0, sizeof(Z));
	Z.be = -1;
}

static void fz_open(struct rng *r)
{
	struct pvv_opts o = {
		.kind = PVV_VHOST_KERNEL, .path = vhost, .backing_fd = -1,
		.nqueues = 1 + below(r, MAXQ), .qsize = 4u << below(r, 7),
		.mem_size = MEM_SIZE, .no_indirect = chance(r, 20),
		.no_event_idx = chance(r, 30), .err_fd = 1, .max_segs = 2,
	};
	int be_first = chance(r, 50), b = chance(r, 70) ? 0 : 1, rc;
	unsigned int i;
	uint64_t lo;
	size_t len;

	memset(&Z, 0, sizeof(Z));
	Z.be = -1;
	if (be_first)
		o.backing_fd = be_fd[b];
	watch("opening /dev/vhost-blk");
	Z.d = pvv_open(&o);
	if (!Z.d && be_first) {
		/* an old instance may still hold the disk: rings first */
		be_first = 0;
		o.backing_fd = -1;
		Z.d = pvv_open(&o);
	}
	if (!Z.d)
		fail("cannot open a device on %s", vhost);
	Z.ctl = pvv_ctl_fd(Z.d);
	Z.mem = pvv_mem(Z.d, &Z.mem_size);
	Z.owned = 1;
	Z.memfull = 1;
	Z.nq = pvv_nqueues(Z.d);
	Z.acked = pvv_features(Z.d);
	Z.alias = mmap(NULL, Z.mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       pvv_mem_fd(Z.d), 0);
	if (Z.alias == MAP_FAILED)
		fail("mmap alias: %s", strerror(errno));
	for (i = 0; i < Z.nq; i++) {
		struct fq *q = &Z.q[i];

		q->vq = pvv_vq(Z.d, i);
		q->idx = i;
		q->num = q->vq->num;
		q->rdesc[0] = q->vq->desc;
		q->ravail[0] = q->vq->avail;
		q->rused[0] = q->vq->used;
		q->rdesc[1] = pvv_alloc(Z.d, 16 * q->num, 4096);
		q->ravail[1] = pvv_alloc(Z.d, 6 + 2 * q->num, 4096);
		q->rused[1] = pvv_alloc(Z.d, 8 + 8 * q->num, 4096);
		q->hdr = pvv_alloc(Z.d, 64 * q->num, 64);
		q->dwz = pvv_alloc(Z.d, 64 * q->num, 64);
		q->st = pvv_alloc(Z.d, 16 * q->num, 64);
		q->itab = pvv_alloc(Z.d, 16 * (ITAB_ENTRIES + 8) * q->num, 4096);
		q->vhdr = pvv_alloc(Z.d, 64, 64);
		q->vst = pvv_alloc(Z.d, 16, 16);
		q->vitab = pvv_alloc(Z.d, 16 * (VMAX / 512 + 8), 4096);
		if (!q->rdesc[1] || !q->ravail[1] || !q->rused[1] || !q->hdr ||
		    !q->dwz || !q->st || !q->itab || !q->vhdr || !q->vst ||
		    !q->vitab)
			fail("guest memory too small");
		set_ring_pointers(q, 0);
		q->setup = q->kick_bound = 1;
		q->started = be_first;
	}
	Z.vdata = pvv_alloc(Z.d, 2 * VMAX, 4096);
	Z.fdata = pvv_alloc(Z.d, FDATA_SIZE, 4096);
	if (!Z.vdata || !Z.fdata)
		fail("guest memory too small for the data areas");
	/* the dirty log bitmap, in process memory, for VHOST_F_LOG_ALL */
	lo = (uintptr_t)Z.mem & ~(uint64_t)(LOG_CHUNK - 1);
	len = ((uintptr_t)Z.mem + Z.mem_size - lo) / LOG_CHUNK + 64;
	Z.logbuf = calloc(1, len);
	if (!Z.logbuf)
		fail("no memory");
	Z.logbase = (uintptr_t)Z.logbuf - lo / LOG_CHUNK;
	set_log_base();
	if (be_first) {
		Z.be = Z.last_be = b;
		backend_info();
	} else {
		rc = attach(b, 0);
		expect_rc(rc, 0, "VHOST_BLK_SET_BACKEND after the rings");
	}
	note("device: %u queues of %u, features %#llx, %s attached %s",
	     Z.nq, Z.q[0].num, (unsigned long long)Z.acked,
	     b ? "file" : "block device", be_first ? "first" : "after the rings");
}

/* End of an iteration: the device becomes a child's, which exits. */
static void handoff(struct rng *r)
{
	pid_t pid;
	int status, rc;

	for (unsigned int i = 0; i < Z.nq; i++)
		quiesce(&Z.q[i]);
	watch("VHOST_RESET_OWNER before a handoff");
	rc = xioctl(VHOST_RESET_OWNER, NULL);
	expect_rc(rc, 0, "VHOST_RESET_OWNER");
	Z.owned = 0;
	note("handoff to a child");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (!pid) {
		in_child = 1;
		alarm(watchdog_s * 2);
		setup_after_reset(r);
		verify(r, "in the child");
		if (chance(r, 50))
			step_chains(r);	/* and exit with them in flight */
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		fail("the child that took the device over failed (status %#x)", status);
	rc = xioctl(VHOST_RESET_OWNER, NULL);
	expect_rc(rc, -EPERM, "VHOST_RESET_OWNER of a device a dead child owns");
}

static void run_iteration(uint64_t iter)
{
	struct rng r;
	unsigned int nsteps, i, x;
	char rep[8192];

	cur_iter = iter;
	cur_step = 0;
	ilog_len = 0;
	rng_init(&r, seed, iter);
	if (setjmp(iter_jmp)) {
		alarm(0);
		fz_close();
		if (!keep_going) {
			printf("# stopping at the first failure (--keep-going continues)\n");
			printf("%u passed, %u failed\n", npass, nfail);
			exit(1);
		}
		return;
	}
	fz_open(&r);
	nsteps = 1 + below(&r, 12);
	for (i = 0; i < nsteps; i++) {
		cur_step = i + 1;
		watch("a step");
		st_steps++;
		x = below(&r, 100);
		if (x < 45) step_chains(&r);
		else if (x < 53) step_ring(&r);
		else if (x < 83) step_ioctl(&r);
		else if (x < 98) verify(&r, "step");
		else {
			note("sleep");
			usleep(below(&r, 20000));
		}
	}
	cur_step = nsteps + 1;
	watch("the end of the iteration");
	x = below(&r, 100);
	if (x < 20) {
		note("close with chains in flight");
	} else if (x < 25 && Z.owned) {
		handoff(&r);
	} else {
		if (!Z.owned)
			setup_after_reset(&r);
		verify(&r, "end");
	}
	fz_close();
	alarm(0);
	if (kmsg_reports(rep, sizeof(rep))) {
		printf("not ok - iteration %llu (seed %llu): kernel report (it may belong to the iteration before)\n%s",
		       (unsigned long long)iter, (unsigned long long)seed, rep);
		print_ilog();
		replay_cmd(rep, sizeof(rep), iter);
		printf("# replay: %s\n", rep);
		nfail++;
		if (!keep_going) {
			printf("%u passed, %u failed\n", npass, nfail);
			exit(1);
		}
	}
}

static uint64_t capacity_of(int fd)
{
	struct stat sb;
	uint64_t b = 0;

	if (fstat(fd, &sb))
		return 0;
	if (S_ISBLK(sb.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &b))
			return 0;
		return b >> 9;
	}
	return (uint64_t)sb.st_size >> 9;
}

static void usage(const char *p)
{
	fprintf(stderr,
		"usage: %s -b BLOCKDEV -B FILE [-k /dev/vhost-blk] [--seed S] [--from N]\n"
		"       [--iterations N] [--seconds T] [--watchdog S] [--kmemleak SECS]\n"
		"       [--tap-every N] [--keep-going] [-v]\n", p);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 't' },
		{ "watchdog", required_argument, NULL, 'w' },
		{ "kmemleak", required_argument, NULL, 'm' },
		{ "tap-every", required_argument, NULL, 'e' },
		{ "keep-going", no_argument, NULL, 'g' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	double start, last_leak, t;
	uint64_t it, end;
	int opt, i, have_seed = 0;
	char buf[16384];

	while ((opt = getopt_long(argc, argv, "b:B:k:s:f:n:t:w:m:e:gv", lo,
				  NULL)) != -1) {
		switch (opt) {
		case 'b': be_path[0] = optarg; break;
		case 'B': be_path[1] = optarg; break;
		case 'k': vhost = optarg; break;
		case 's': seed = strtoull(optarg, NULL, 0); have_seed = 1; break;
		case 'f': from = strtoull(optarg, NULL, 0); break;
		case 'n': iterations = strtoull(optarg, NULL, 0); break;
		case 't': seconds = atoi(optarg); break;
		case 'w': watchdog_s = atoi(optarg); break;
		case 'm': kmemleak_s = atoi(optarg); break;
		case 'e': tap_every = atoi(optarg); break;
		case 'g': keep_going = 1; break;
		case 'v': verbose = 1; break;
		default: usage(argv[0]);
		}
	}
	if (!be_path[0] || !be_path[1] || !watchdog_s || !tap_every)
		usage(argv[0]);
	if (!have_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = ts.tv_sec * 1000000007ULL ^ ts.tv_nsec ^ getpid();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < 2; i++) {
		be_fd[i] = open(be_path[i], O_RDWR | O_CLOEXEC);
		if (be_fd[i] < 0) {
			fprintf(stderr, "pvblk-fuzz: %s: %s\n", be_path[i],
				strerror(errno));
			return 2;
		}
		be_cap[i] = capacity_of(be_fd[i]);
		if (be_cap[i] < 65536 + 1024) {
			fprintf(stderr, "pvblk-fuzz: %s: at least 33 MiB needed\n",
				be_path[i]);
			return 2;
		}
	}
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
	printf("# pvblk-fuzz: seed %llu, iterations from %llu%s, %s%u s, watchdog %u s\n",
	       (unsigned long long)seed, (unsigned long long)from,
	       kmsg_fd < 0 ? " (no /dev/kmsg: kernel reports not watched)" : "",
	       seconds ? "for " : "no time limit ", seconds, watchdog_s);
	start = last_leak = now();
	end = iterations == ~0ULL ? ~0ULL : from + iterations;
	blk_first = from;
	for (it = from; it < end; it++) {
		run_iteration(it);
		t = now();
		if ((it + 1 - from) % tap_every == 0 || it + 1 == end ||
		    (seconds && t - start >= seconds)) {
			printf("ok - iterations %llu-%llu: %llu chains (%llu valid), no failure\n",
			       (unsigned long long)blk_first,
			       (unsigned long long)it,
			       (unsigned long long)(st_chains - blk_chains),
			       (unsigned long long)(st_valid - blk_valid));
			npass++;
			blk_first = it + 1;
			blk_chains = st_chains;
			blk_valid = st_valid;
			printf("# %.0f s: %llu iterations, %llu chains, %.1f chains/s\n",
			       t - start, (unsigned long long)(it + 1 - from),
			       (unsigned long long)st_chains,
			       st_chains / (t - start));
		}
		if (kmemleak_s && t - last_leak >= kmemleak_s) {
			last_leak = t;
			if (kmemleak_scan(buf, sizeof(buf))) {
				printf("not ok - kmemleak after iteration %llu (seed %llu)\n%s\n",
				       (unsigned long long)it,
				       (unsigned long long)seed, buf);
				nfail++;
				if (!keep_going)
					break;
			} else {
				printf("ok - kmemleak scan after iteration %llu: no leak\n",
				       (unsigned long long)it);
				npass++;
			}
		}
		if (seconds && t - start >= seconds) {
			it++;
			break;
		}
	}
	t = now() - start;
	printf("# summary: seed %llu, iterations %llu-%llu (%llu), %llu chains (%llu fuzz, %llu valid, %llu verified), %llu steps, %llu ioctls, %llu revives, %.0f s, %.1f chains/s\n",
	       (unsigned long long)seed, (unsigned long long)from,
	       (unsigned long long)(it ? it - 1 : 0),
	       (unsigned long long)(it - from), (unsigned long long)st_chains,
	       (unsigned long long)st_fuzz, (unsigned long long)st_valid,
	       (unsigned long long)st_verified, (unsigned long long)st_steps,
	       (unsigned long long)st_ioctls, (unsigned long long)st_revives,
	       t, t > 0 ? st_chains / t : 0.0);
	printf("%u passed, %u failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
