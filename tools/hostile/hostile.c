// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-hostile: a hostile guest for /dev/vhost-blk.
 *
 *   pvblk-hostile -b BACKING [-k /dev/vhost-blk] [-c CASE-SUBSTRING] [-v]
 *   (-u SOCKET runs the cases against a vhost-user-blk server instead:
 *   for debugging the chains only, it has no error eventfd; -g MS sets the
 *   hang guard)
 *
 * Every case opens a fresh device (2 queues, INDIRECT_DESC and EVENT_IDX
 * when offered, an error eventfd per queue) on BACKING, crafts one bad
 * chain on queue 0 by hand and checks what the driver sees:
 *
 *   IOERR / UNSUPP  the status byte holds exactly that;
 *   REJECT          IOERR or UNSUPP (either is defensible);
 *   BROKEN          the device signals the queue's error eventfd
 *                   (VHOST_SET_VRING_ERR) and completes nothing;
 *   REJECT|BROKEN   either of the above (the chain has a usable status
 *                   byte but the device may treat it as ring corruption);
 *   NOSTATUS|BROKEN no writable status byte exists: BROKEN, or the chain
 *                   is returned with used.len 0;
 *   OK              a legal but unusual chain must work.
 *
 * After every case a good read must complete on queue 1, and - unless the
 * queue is BROKEN - on queue 0 too.  A guard of 30 s per wait only
 * detects a hung device; it is never an expected outcome.
 *
 * Then the layouts the virtio spec allows ("layout: ..."), on one device:
 * header, data and status sharing or splitting descriptors at odd byte
 * boundaries, data pieces of odd lengths at odd guest addresses whose
 * total is 4096 or 8192.  Each odd chain writes data that a plain aligned
 * read (queue 1) must return, or reads what a plain aligned write put
 * there (and nothing outside its pieces changes).  The device's debugfs
 * stats must count a bounce for an odd chain exactly when its data is off
 * the backend's alignment, and none for the aligned requests.
 * Prints "ok - ..." / "not ok - ..." per check and "N passed, N failed".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "pvv.h"

static int guard_ms = 30000;
#define GUARD_MS	guard_ms
#define NEXT		PVV_DESC_F_NEXT
#define W		PVV_DESC_F_WRITE
#define IND		PVV_DESC_F_INDIRECT

enum expect {
	E_OK = 1 << 0,
	E_IOERR = 1 << 1,
	E_UNSUPP = 1 << 2,
	E_BROKEN = 1 << 3,
	E_NOSTATUS = 1 << 4,	/* completed with used.len 0 */
};
#define E_REJECT	(E_IOERR | E_UNSUPP)

struct ctx {
	struct pvv_dev *d;
	struct pvv_vq *vq;	/* queue 0: raw chains */
	struct pvv_vq *vq2;	/* queue 1: library requests */
	const struct pvv_config *cfg;
	uint64_t f;
	uint16_t next;		/* next unused descriptor of queue 0 */
	uint8_t *hdr;		/* header slots, 32 bytes apart */
	unsigned int nhdr;
	uint8_t *st;		/* status slots, 8 bytes apart */
	unsigned int nst;
	uint8_t *status;	/* the status byte the case checks */
	uint32_t status_len;	/* its descriptor's length */
	uint8_t *data;		/* 4 MiB of data */
	struct pvv_desc *itab;	/* indirect tables */
	unsigned int nitab;
	char why[256];
};

static const char *backing = "/dev/nullb0", *vhost = "/dev/vhost-blk";
static const char *filter, *vu_sock;
static int verbose, npass, nfail;

/* ---- chain building ---- */

struct seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

static struct seg hdr(struct ctx *c, uint32_t type, uint64_t sector,
		      uint32_t len)
{
	struct virtio_blk_outhdr *h = (void *)(c->hdr + 32 * c->nhdr++);

	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
	return (struct seg){ (uintptr_t)h, len, 0 };
}

static struct seg sts(struct ctx *c, uint32_t len, uint16_t flags)
{
	uint8_t *p = c->st + 8 * c->nst++;

	memset(p, 0xee, len);
	c->status = p;
	c->status_len = len;
	return (struct seg){ (uintptr_t)p, len, flags };
}

static struct seg st(struct ctx *c)
{
	return sts(c, 1, W);
}

static struct seg dat(struct ctx *c, uint64_t off, uint32_t len,
		      uint16_t flags)
{
	return (struct seg){ (uintptr_t)(c->data + off), len, flags };
}

/* Put n descriptors in the ring's table, linked with NEXT. */
static uint16_t chain(struct ctx *c, const struct seg *s, unsigned int n)
{
	uint16_t head = c->next;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct pvv_desc *d = &c->vq->desc[head + i];

		d->addr = s[i].addr;
		d->len = s[i].len;
		d->flags = s[i].flags | (i + 1 < n ? NEXT : 0);
		d->next = head + i + 1;
	}
	c->next += n;
	return head;
}

/* An indirect table of n entries linked with NEXT; returns it. */
static struct pvv_desc *table(struct ctx *c, const struct seg *s,
			      unsigned int n)
{
	struct pvv_desc *t = c->itab + c->nitab;
	unsigned int i;

	for (i = 0; i < n; i++) {
		t[i].addr = s[i].addr;
		t[i].len = s[i].len;
		t[i].flags = s[i].flags | (i + 1 < n ? NEXT : 0);
		t[i].next = i + 1;
	}
	c->nitab += n;
	return t;
}

static uint16_t ind(struct ctx *c, struct pvv_desc *t, uint32_t len)
{
	struct seg s = { (uintptr_t)t, len, IND };

	return chain(c, &s, 1);
}

#define CHAIN(c, ...) ({						\
	struct seg __s[] = { __VA_ARGS__ };				\
	chain(c, __s, sizeof(__s) / sizeof(__s[0]));			\
})
#define TABLE(c, ...) ({						\
	struct seg __s[] = { __VA_ARGS__ };				\
	table(c, __s, sizeof(__s) / sizeof(__s[0]));			\
})
#define TLEN(n) ((n) * 16)

/* ---- running and judging ---- */

static void why(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

static int any_status(struct ctx *c, uint8_t s)
{
	uint32_t i;

	for (i = 0; i < c->status_len && i < 8; i++)
		if (c->status[i] == s)
			return 1;
	return 0;
}

/* Publish head on queue 0 and judge the outcome against mask. */
static int run(struct ctx *c, uint16_t head, unsigned int mask, int *broken)
{
	struct pvv_used_elem e;
	int r;

	*broken = 0;
	pvv_raw_publish(c->vq, head);
	r = pvv_raw_next_used(c->vq, &e, GUARD_MS);
	if (r == -ETIMEDOUT) {
		why(c, "no completion and no vq error within %d s (hung?)",
		    GUARD_MS / 1000);
		return 0;
	}
	if (r < 0) {
		why(c, "wait: %s", strerror(-r));
		return 0;
	}
	if (r == 1) {
		*broken = 1;
		if (mask & E_BROKEN)
			return 1;
		why(c, "queue reported broken, expected a status");
		return 0;
	}
	if (e.id != head) {
		why(c, "used id %u, expected %u", e.id, head);
		return 0;
	}
	if ((mask & E_NOSTATUS) && e.len == 0)
		return 1;
	if (!c->status) {
		why(c, "completed (len %u), expected broken", e.len);
		return 0;
	}
	if ((mask & E_OK) && c->status[c->status_len - 1] == VIRTIO_BLK_S_OK &&
	    c->status_len == 1)
		return 1;
	if ((mask & E_IOERR) && any_status(c, VIRTIO_BLK_S_IOERR))
		return 1;
	if ((mask & E_UNSUPP) && any_status(c, VIRTIO_BLK_S_UNSUPP))
		return 1;
	why(c, "completed with status 0x%02x (len %u), expected%s%s%s%s%s",
	    c->status[c->status_len - 1], e.len,
	    mask & E_OK ? " OK" : "", mask & E_IOERR ? " IOERR" : "",
	    mask & E_UNSUPP ? " UNSUPP" : "",
	    mask & E_BROKEN ? " BROKEN" : "",
	    mask & E_NOSTATUS ? " used.len=0" : "");
	return 0;
}

/* A good 4 KiB read must still work on queue 0 (raw) and queue 1. */
static int still_good(struct ctx *c, int q0)
{
	int r, broken;

	if (q0) {
		uint16_t h = CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16),
				   dat(c, 0, 4096, W), st(c));

		if (!run(c, h, E_OK, &broken)) {
			why(c, "good read on the same queue afterwards: %s",
			    c->why);
			return 0;
		}
	}
	r = pvv_sync(c->vq2, VIRTIO_BLK_T_IN, 8, c->data + 65536, 4096);
	if (r != VIRTIO_BLK_S_OK) {
		why(c, "good read on the other queue afterwards: %d", r);
		return 0;
	}
	return 1;
}

static struct ctx *ctx_open(int ro)
{
	struct pvv_opts o = {
		.kind = PVV_VHOST_KERNEL, .path = vhost, .backing = backing,
		.read_only = ro, .backing_fd = -1, .nqueues = 2, .qsize = 256,
		.mem_size = 16 << 20, .err_fd = 1, .max_segs = 4,
	};
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (vu_sock) {
		o.kind = PVV_VHOST_USER;
		o.path = vu_sock;
	}
	c->d = pvv_open(&o);
	if (!c->d) {
		free(c);
		return NULL;
	}
	c->vq = pvv_vq(c->d, 0);
	c->vq2 = pvv_vq(c->d, 1);
	c->cfg = pvv_config(c->d);
	c->f = pvv_features(c->d);
	c->hdr = pvv_alloc(c->d, 32 * 256, 64);
	c->st = pvv_alloc(c->d, 8 * 256, 64);
	c->itab = pvv_alloc(c->d, 16 * 8192, 4096);
	c->data = pvv_alloc(c->d, 4 << 20, 4096);
	if (!c->hdr || !c->st || !c->itab || !c->data) {
		pvv_close(c->d);
		free(c);
		return NULL;
	}
	return c;
}

static void ctx_close(struct ctx *c)
{
	pvv_close(c->d);
	free(c);
}

static void result(const char *name, int ok, const char *detail)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", name);
	if (!ok && detail && *detail)
		printf("# %s\n", detail);
	if (ok)
		npass++;
	else
		nfail++;
}

/* ---- cases ---- */

#define CASE(fn) static int fn(struct ctx *c, unsigned int *mask)
#define HAS(bit) (c->f & (1ULL << (bit)))

/* header */
CASE(c_no_header)
{
	*mask = E_REJECT | E_BROKEN;
	return CHAIN(c, st(c));
}
CASE(c_short_header)
{
	*mask = E_REJECT | E_BROKEN;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 8), dat(c, 0, 512, W), st(c));
}
CASE(c_header_15)
{
	*mask = E_REJECT | E_BROKEN;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_OUT, 0, 15), dat(c, 0, 512, 0),
		     st(c));
}
CASE(c_header_split_ok)
{
	struct seg h = hdr(c, VIRTIO_BLK_T_IN, 0, 16), h2 = h;

	h.len = 8;
	h2.addr += 8;
	h2.len = 8;
	*mask = E_OK;
	return CHAIN(c, h, h2, dat(c, 0, 512, W), st(c));
}
CASE(c_header_writable)
{
	struct seg h = hdr(c, VIRTIO_BLK_T_IN, 0, 16);

	h.flags = W;
	*mask = E_REJECT | E_BROKEN;
	return CHAIN(c, h, dat(c, 0, 512, W), st(c));
}
/* status */
CASE(c_status_missing_in)
{
	*mask = E_NOSTATUS | E_BROKEN;
	c->status = NULL;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_FLUSH, 0, 16));
}
CASE(c_status_missing_out)
{
	*mask = E_NOSTATUS | E_BROKEN;
	c->status = NULL;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_OUT, 0, 16), dat(c, 0, 512, 0));
}
CASE(c_status_readonly)
{
	uint16_t h = CHAIN(c, hdr(c, VIRTIO_BLK_T_OUT, 0, 16),
			   dat(c, 0, 512, 0), sts(c, 1, 0));

	*mask = E_NOSTATUS | E_BROKEN;
	c->status = NULL;
	return h;
}
CASE(c_status_2_bytes)
{
	*mask = E_REJECT | E_BROKEN;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), dat(c, 0, 512, W),
		     sts(c, 2, W));
}
CASE(c_status_zero_len)
{
	uint16_t h = CHAIN(c, hdr(c, VIRTIO_BLK_T_OUT, 0, 16),
			   dat(c, 0, 512, 0), sts(c, 0, W));

	*mask = E_NOSTATUS | E_BROKEN;
	c->status = NULL;
	return h;
}
/* data direction and size */
CASE(c_in_data_readable)
{
	*mask = E_REJECT | E_BROKEN;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), dat(c, 0, 4096, 0),
		     st(c));
}
CASE(c_out_data_writable)
{
	*mask = E_REJECT | E_BROKEN;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_OUT, 0, 16), dat(c, 0, 4096, W),
		     st(c));
}
CASE(c_in_zero_len)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), st(c));
}
CASE(c_out_zero_len)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_OUT, 0, 16), st(c));
}
CASE(c_in_zero_len_desc)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), dat(c, 0, 0, W), st(c));
}
CASE(c_in_100)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), dat(c, 0, 100, W),
		     st(c));
}
CASE(c_out_1000)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_OUT, 0, 16), dat(c, 0, 1000, 0),
		     st(c));
}
CASE(c_in_two_odd_segs)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), dat(c, 0, 300, W),
		     dat(c, 4096, 300, W), st(c));
}
CASE(c_in_odd_total)
{
	/* odd pieces, 100 + 3996 + 412 = 4508: not whole sectors */
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), dat(c, 3996, 100, W),
		     dat(c, 8192, 3996, W), dat(c, 16384 + 100, 412, W), st(c));
}
CASE(c_out_hdr_data_odd_total)
{
	/* header and 1000 data bytes in one descriptor, then 3 more */
	struct seg h = hdr(c, VIRTIO_BLK_T_OUT, 0, 16);

	h.len += 1000;
	*mask = E_IOERR;
	return CHAIN(c, h, dat(c, 4096 + 5, 3, 0), st(c));
}
/* ranges */
CASE(c_in_at_capacity)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, c->cfg->capacity, 16),
		     dat(c, 0, 512, W), st(c));
}
CASE(c_in_straddles_end)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, c->cfg->capacity - 1, 16),
		     dat(c, 0, 1024, W), st(c));
}
CASE(c_out_past_end)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_OUT, c->cfg->capacity + 8, 16),
		     dat(c, 0, 4096, 0), st(c));
}
CASE(c_in_sector_wraps)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, ~0ULL, 16),
		     dat(c, 0, 1024, W), st(c));
}
CASE(c_in_bytes_wrap)
{
	/* sector * 512 wraps u64 to a small offset */
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 1ULL << 55, 16),
		     dat(c, 0, 512, W), st(c));
}
CASE(c_out_sector_wraps)
{
	*mask = E_IOERR;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_OUT, ~0ULL - 3, 16),
		     dat(c, 0, 4096, 0), st(c));
}
CASE(c_too_many_segs)
{
	unsigned int n, i, segmax = c->cfg->seg_max;
	struct seg s[4100];
	struct pvv_desc *t;

	if (!HAS(VIRTIO_BLK_F_SEG_MAX) || !HAS(VIRTIO_RING_F_INDIRECT_DESC) ||
	    !segmax || segmax > 4000)
		return -1;
	n = segmax + 1;
	s[0] = hdr(c, VIRTIO_BLK_T_IN, 0, 16);
	for (i = 0; i < n; i++)
		s[1 + i] = dat(c, 512 * i, 512, W);
	s[n + 1] = st(c);
	t = table(c, s, n + 2);
	*mask = E_REJECT | E_BROKEN;
	return ind(c, t, TLEN(n + 2));
}
/* types */
#define TYPE_CASE(fn, type)						\
CASE(fn)								\
{									\
	*mask = E_UNSUPP;						\
	return CHAIN(c, hdr(c, type, 0, 16), dat(c, 0, 512, W), st(c));	\
}
TYPE_CASE(c_type_scsi, 2)
TYPE_CASE(c_type_3, 3)
TYPE_CASE(c_type_5, 5)
TYPE_CASE(c_type_barrier_in, 0x80000000u)
TYPE_CASE(c_type_all_ones, 0xffffffffu)
TYPE_CASE(c_type_zone_report, 16)
TYPE_CASE(c_type_zone_reset_all, 26)
CASE(c_type_secure_erase)
{
	struct virtio_blk_discard_write_zeroes *r = (void *)c->data;

	r->sector = 0;
	r->num_sectors = 8;
	r->flags = 0;
	*mask = E_UNSUPP;
	return CHAIN(c, hdr(c, 14, 0, 16), dat(c, 0, 16, 0), st(c));
}
/* GET_ID */
CASE(c_get_id_small)
{
	*mask = E_REJECT;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_GET_ID, 0, 16), dat(c, 0, 8, W),
		     st(c));
}
CASE(c_get_id_readable)
{
	*mask = E_REJECT | E_BROKEN;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_GET_ID, 0, 16), dat(c, 0, 20, 0),
		     st(c));
}
CASE(c_get_id_ok)
{
	*mask = E_OK;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_GET_ID, 0, 16), dat(c, 0, 20, W),
		     st(c));
}
/* discard / write-zeroes */
static uint16_t dwz(struct ctx *c, uint32_t type, unsigned int nseg,
		    uint64_t sector, uint32_t num, uint32_t flags,
		    uint32_t datalen, uint16_t dflags)
{
	struct virtio_blk_discard_write_zeroes *r = (void *)c->data;
	unsigned int i;

	for (i = 0; i < nseg; i++) {
		r[i].sector = sector + (uint64_t)i * num;
		r[i].num_sectors = num;
		r[i].flags = flags;
	}
	if (!datalen)
		return CHAIN(c, hdr(c, type, 0, 16), st(c));
	return CHAIN(c, hdr(c, type, 0, 16), dat(c, 0, datalen, dflags),
		     st(c));
}
/* What a discard/write-zeroes that is bad for range reasons returns. */
static unsigned int dz_mask(struct ctx *c, int wz, unsigned int bad)
{
	int has = wz ? HAS(VIRTIO_BLK_F_WRITE_ZEROES) : HAS(VIRTIO_BLK_F_DISCARD);

	return has ? bad : E_UNSUPP;
}
CASE(c_discard_past_end)
{
	*mask = dz_mask(c, 0, E_IOERR);
	return dwz(c, VIRTIO_BLK_T_DISCARD, 1, c->cfg->capacity, 8, 0, 16, 0);
}
CASE(c_discard_sector_wraps)
{
	*mask = dz_mask(c, 0, E_IOERR);
	return dwz(c, VIRTIO_BLK_T_DISCARD, 1, ~0ULL - 7, 16, 0, 16, 0);
}
CASE(c_discard_unmap_flag)
{
	*mask = dz_mask(c, 0, E_UNSUPP);
	return dwz(c, VIRTIO_BLK_T_DISCARD, 1, 0, 8, 1, 16, 0);
}
CASE(c_discard_reserved_flags)
{
	*mask = dz_mask(c, 0, E_UNSUPP);
	return dwz(c, VIRTIO_BLK_T_DISCARD, 1, 0, 8, 0x80000000u, 16, 0);
}
CASE(c_discard_too_many_segs)
{
	unsigned int n = c->cfg->max_discard_seg + 1;

	if (HAS(VIRTIO_BLK_F_DISCARD) && (n < 2 || n > 1000))
		return -1;
	*mask = dz_mask(c, 0, E_REJECT);
	return dwz(c, VIRTIO_BLK_T_DISCARD, n, 0, 8, 0, 16 * n, 0);
}
CASE(c_discard_too_many_sectors)
{
	uint32_t m = c->cfg->max_discard_sectors;

	if (HAS(VIRTIO_BLK_F_DISCARD) && (!m || m == ~0u ||
					  m >= c->cfg->capacity))
		return -1;
	*mask = dz_mask(c, 0, E_REJECT);
	return dwz(c, VIRTIO_BLK_T_DISCARD, 1, 0, m + 8, 0, 16, 0);
}
CASE(c_discard_zero_sectors)
{
	*mask = dz_mask(c, 0, E_IOERR);
	return dwz(c, VIRTIO_BLK_T_DISCARD, 1, 0, 0, 0, 16, 0);
}
CASE(c_discard_len_15)
{
	*mask = dz_mask(c, 0, E_REJECT);
	return dwz(c, VIRTIO_BLK_T_DISCARD, 1, 0, 8, 0, 15, 0);
}
CASE(c_discard_no_segment)
{
	*mask = dz_mask(c, 0, E_REJECT);
	return dwz(c, VIRTIO_BLK_T_DISCARD, 0, 0, 8, 0, 0, 0);
}
CASE(c_discard_writable_segment)
{
	*mask = dz_mask(c, 0, E_REJECT) | E_BROKEN;
	return dwz(c, VIRTIO_BLK_T_DISCARD, 1, 0, 8, 0, 16, W);
}
CASE(c_wz_past_end)
{
	*mask = dz_mask(c, 1, E_IOERR);
	return dwz(c, VIRTIO_BLK_T_WRITE_ZEROES, 1, c->cfg->capacity - 4, 8,
		   0, 16, 0);
}
CASE(c_wz_sector_wraps)
{
	*mask = dz_mask(c, 1, E_IOERR);
	return dwz(c, VIRTIO_BLK_T_WRITE_ZEROES, 1, ~0ULL, 8, 0, 16, 0);
}
CASE(c_wz_reserved_flags)
{
	*mask = dz_mask(c, 1, E_UNSUPP);
	return dwz(c, VIRTIO_BLK_T_WRITE_ZEROES, 1, 0, 8, 2, 16, 0);
}
CASE(c_wz_too_many_segs)
{
	unsigned int n = c->cfg->max_write_zeroes_seg + 1;

	if (HAS(VIRTIO_BLK_F_WRITE_ZEROES) && (n < 2 || n > 1000))
		return -1;
	*mask = dz_mask(c, 1, E_REJECT);
	return dwz(c, VIRTIO_BLK_T_WRITE_ZEROES, n, 0, 8, 0, 16 * n, 0);
}
CASE(c_wz_zero_sectors)
{
	*mask = dz_mask(c, 1, E_IOERR);
	return dwz(c, VIRTIO_BLK_T_WRITE_ZEROES, 1, 0, 0, 0, 16, 0);
}
CASE(c_wz_len_24)
{
	*mask = dz_mask(c, 1, E_REJECT);
	return dwz(c, VIRTIO_BLK_T_WRITE_ZEROES, 1, 0, 8, 0, 24, 0);
}
/* indirect tables */
#define NEED_INDIRECT() do {						\
	if (!HAS(VIRTIO_RING_F_INDIRECT_DESC))				\
		return -1;						\
} while (0)
static struct pvv_desc *good_table(struct ctx *c)
{
	return TABLE(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), dat(c, 0, 4096, W),
		     st(c));
}
CASE(c_ind_ok)
{
	NEED_INDIRECT();
	*mask = E_OK;
	return ind(c, good_table(c), TLEN(3));
}
CASE(c_ind_zero_len)
{
	NEED_INDIRECT();
	good_table(c);
	c->status = NULL;
	*mask = E_BROKEN;
	return ind(c, c->itab, 0);
}
CASE(c_ind_len_not_16n)
{
	NEED_INDIRECT();
	c->status = NULL;
	*mask = E_BROKEN;
	return ind(c, good_table(c), 40);
}
CASE(c_ind_nested)
{
	struct pvv_desc *inner, *outer;
	struct seg s;

	NEED_INDIRECT();
	inner = good_table(c);
	s = (struct seg){ (uintptr_t)inner, TLEN(3), IND };
	outer = table(c, &s, 1);
	c->status = NULL;
	*mask = E_BROKEN;
	return ind(c, outer, TLEN(1));
}
CASE(c_ind_loop)
{
	struct pvv_desc *t;

	NEED_INDIRECT();
	t = good_table(c);
	t[2].flags |= NEXT;
	t[2].next = 0;
	c->status = NULL;
	*mask = E_BROKEN;
	return ind(c, t, TLEN(3));
}
CASE(c_ind_next_out_of_range)
{
	struct pvv_desc *t;

	NEED_INDIRECT();
	t = good_table(c);
	t[1].next = 7;
	/*
	 * vhost walks an indirect table in order and never follows ->next,
	 * so this chain reads as the good one; it must only be survived.
	 */
	*mask = E_OK | E_REJECT | E_BROKEN;
	return ind(c, t, TLEN(3));
}
CASE(c_ind_table_outside_memory)
{
	struct seg s = { 0x1000, TLEN(3), IND };

	NEED_INDIRECT();
	c->status = NULL;
	*mask = E_BROKEN;
	return chain(c, &s, 1);
}
CASE(c_ind_huge_len)
{
	NEED_INDIRECT();
	c->status = NULL;
	*mask = E_BROKEN;
	return ind(c, good_table(c), 0xfffffff0u);
}
CASE(c_ind_with_next)
{
	/* an INDIRECT descriptor chained to a direct status descriptor */
	struct pvv_desc *t;
	uint16_t h;

	NEED_INDIRECT();
	t = TABLE(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), dat(c, 0, 4096, W));
	h = CHAIN(c, ((struct seg){ (uintptr_t)t, TLEN(2), IND }), st(c));
	/* forbidden for drivers, undefined for devices: just survive it */
	*mask = E_OK | E_BROKEN | E_NOSTATUS | E_REJECT;
	return h;
}
/* ring corruption */
CASE(c_desc_outside_memory)
{
	struct seg d = { 0x10000, 4096, W };

	*mask = E_BROKEN | E_REJECT;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), d, st(c));
}
CASE(c_desc_addr_wraps)
{
	struct seg d = { ~0ULL - 1023, 4096, W };

	*mask = E_BROKEN | E_REJECT;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), d, st(c));
}
CASE(c_desc_runs_off_memory)
{
	/* starts in guest memory, ends 4 KiB past its end */
	uint8_t *end = (uint8_t *)c->data + (4 << 20);
	struct seg d;

	while (pvv_in_mem(c->d, end, 4096))
		end += 4096;
	d = (struct seg){ (uintptr_t)end - 4096, 8192, W };
	*mask = E_BROKEN | E_REJECT;
	return CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), d, st(c));
}
CASE(c_header_outside_memory)
{
	struct seg h = { 0x20000, 16, 0 };

	*mask = E_BROKEN | E_REJECT;
	return CHAIN(c, h, dat(c, 0, 512, W), st(c));
}
CASE(c_head_out_of_range)
{
	CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), dat(c, 0, 512, W), st(c));
	c->status = NULL;
	*mask = E_BROKEN;
	return c->vq->num + 3;
}
CASE(c_next_out_of_range)
{
	uint16_t h = CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16),
			   dat(c, 0, 512, W), st(c));

	c->vq->desc[h + 1].next = 0xfff0;
	c->status = NULL;
	*mask = E_BROKEN;
	return h;
}
CASE(c_chain_loop)
{
	uint16_t h = CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16),
			   dat(c, 0, 512, W), st(c));

	c->vq->desc[h + 1].next = h;
	c->status = NULL;
	*mask = E_BROKEN;
	return h;
}
CASE(c_chain_self_loop)
{
	uint16_t h = CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16),
			   dat(c, 0, 512, W), st(c));

	c->vq->desc[h].next = h;
	c->status = NULL;
	*mask = E_BROKEN;
	return h;
}

/* avail index moved by more than the ring size: run by hand */
static int avail_jump(struct ctx *c)
{
	struct pvv_used_elem e;
	int r;

	CHAIN(c, hdr(c, VIRTIO_BLK_T_IN, 0, 16), dat(c, 0, 512, W), st(c));
	c->vq->avail_idx += c->vq->num + 5;
	__atomic_store_n(&c->vq->avail->idx, c->vq->avail_idx,
			 __ATOMIC_RELEASE);
	pvv_kick(c->vq);
	r = pvv_raw_next_used(c->vq, &e, GUARD_MS);
	if (r == 1)
		return still_good(c, 0);
	why(c, r ? "no completion and no vq error within the guard" :
	    "device completed a request from a bogus avail index");
	return 0;
}

/* read-only backend */
static int ro_case(int which, char *whybuf, size_t n)
{
	struct ctx *c = ctx_open(1);
	int ok = 0, broken;
	uint16_t h;

	if (!c) {
		snprintf(whybuf, n, "cannot open a device on a read-only backend");
		return 0;
	}
	if (!(c->f & (1ULL << VIRTIO_BLK_F_RO))) {
		snprintf(whybuf, n, "VIRTIO_BLK_F_RO not offered");
		goto out;
	}
	switch (which) {
	case 0:
		h = CHAIN(c, hdr(c, VIRTIO_BLK_T_OUT, 0, 16),
			  dat(c, 0, 4096, 0), st(c));
		ok = run(c, h, E_IOERR, &broken);
		break;
	case 1:
		h = dwz(c, VIRTIO_BLK_T_WRITE_ZEROES, 1, 0, 8, 0, 16, 0);
		ok = run(c, h, E_REJECT, &broken);
		break;
	case 2:
		h = dwz(c, VIRTIO_BLK_T_DISCARD, 1, 0, 8, 0, 16, 0);
		ok = run(c, h, E_REJECT, &broken);
		break;
	}
	ok = ok && still_good(c, 1);
	snprintf(whybuf, n, "%s", c->why);
out:
	ctx_close(c);
	return ok;
}

struct hcase {
	const char *name;
	int (*fn)(struct ctx *c, unsigned int *mask);
};

static const struct hcase cases[] = {
	{ "no header, only a status byte", c_no_header },
	{ "short header (8 bytes)", c_short_header },
	{ "short header (15 bytes)", c_header_15 },
	{ "header split over two descriptors is accepted", c_header_split_ok },
	{ "header in a device-writable descriptor", c_header_writable },
	{ "status missing (flush header only)", c_status_missing_in },
	{ "status missing (write without writable descriptor)", c_status_missing_out },
	{ "status descriptor not writable", c_status_readonly },
	{ "status descriptor 2 bytes long", c_status_2_bytes },
	{ "status descriptor 0 bytes long", c_status_zero_len },
	{ "read into device-readable data", c_in_data_readable },
	{ "write from device-writable data", c_out_data_writable },
	{ "read with no data", c_in_zero_len },
	{ "write with no data", c_out_zero_len },
	{ "read with a zero-length data descriptor", c_in_zero_len_desc },
	{ "read of 100 bytes", c_in_100 },
	{ "write of 1000 bytes", c_out_1000 },
	{ "read of 2 x 300 bytes", c_in_two_odd_segs },
	{ "read of odd pieces 100 + 3996 + 412 (not whole sectors)", c_in_odd_total },
	{ "write, header + 1000 data bytes in one descriptor, + 3 (not whole sectors)",
	  c_out_hdr_data_odd_total },
	{ "read at sector == capacity", c_in_at_capacity },
	{ "read straddling the end", c_in_straddles_end },
	{ "write past the end", c_out_past_end },
	{ "read at sector 2^64-1 (sector + len wraps)", c_in_sector_wraps },
	{ "read at sector 2^55 (byte offset wraps)", c_in_bytes_wrap },
	{ "write at sector 2^64-4 (wraps)", c_out_sector_wraps },
	{ "more data segments than SEG_MAX", c_too_many_segs },
	{ "type 2 (SCSI_CMD) is UNSUPP", c_type_scsi },
	{ "type 3 is UNSUPP", c_type_3 },
	{ "type 5 is UNSUPP", c_type_5 },
	{ "type IN|BARRIER is UNSUPP", c_type_barrier_in },
	{ "type 0xffffffff is UNSUPP", c_type_all_ones },
	{ "type ZONE_REPORT is UNSUPP", c_type_zone_report },
	{ "type ZONE_RESET_ALL is UNSUPP", c_type_zone_reset_all },
	{ "type SECURE_ERASE (not offered) is UNSUPP", c_type_secure_erase },
	{ "GET_ID with an 8-byte buffer", c_get_id_small },
	{ "GET_ID into a device-readable buffer", c_get_id_readable },
	{ "GET_ID with 20 bytes works", c_get_id_ok },
	{ "discard past the end", c_discard_past_end },
	{ "discard range wraps u64", c_discard_sector_wraps },
	{ "discard with the UNMAP flag is UNSUPP", c_discard_unmap_flag },
	{ "discard with reserved flag bits is UNSUPP", c_discard_reserved_flags },
	{ "discard with more segments than max_discard_seg", c_discard_too_many_segs },
	{ "discard longer than max_discard_sectors", c_discard_too_many_sectors },
	{ "discard of 0 sectors", c_discard_zero_sectors },
	{ "discard payload of 15 bytes", c_discard_len_15 },
	{ "discard without a segment", c_discard_no_segment },
	{ "discard segment in a writable descriptor", c_discard_writable_segment },
	{ "write-zeroes past the end", c_wz_past_end },
	{ "write-zeroes range wraps u64", c_wz_sector_wraps },
	{ "write-zeroes with reserved flag bits is UNSUPP", c_wz_reserved_flags },
	{ "write-zeroes with more segments than max_write_zeroes_seg", c_wz_too_many_segs },
	{ "write-zeroes of 0 sectors", c_wz_zero_sectors },
	{ "write-zeroes payload of 24 bytes", c_wz_len_24 },
	{ "indirect table works", c_ind_ok },
	{ "indirect table of length 0 breaks the queue", c_ind_zero_len },
	{ "indirect table length not a multiple of 16 breaks the queue", c_ind_len_not_16n },
	{ "nested indirect table breaks the queue", c_ind_nested },
	{ "looping indirect table breaks the queue", c_ind_loop },
	{ "indirect next out of range is survived", c_ind_next_out_of_range },
	{ "indirect table outside guest memory breaks the queue", c_ind_table_outside_memory },
	{ "indirect table of 4 GiB breaks the queue", c_ind_huge_len },
	{ "indirect descriptor with NEXT set is survived", c_ind_with_next },
	{ "data descriptor outside guest memory", c_desc_outside_memory },
	{ "data descriptor address wraps u64", c_desc_addr_wraps },
	{ "data descriptor runs off the end of guest memory", c_desc_runs_off_memory },
	{ "header outside guest memory", c_header_outside_memory },
	{ "avail head index >= ring size breaks the queue", c_head_out_of_range },
	{ "descriptor next out of range breaks the queue", c_next_out_of_range },
	{ "descriptor chain loop breaks the queue", c_chain_loop },
	{ "descriptor chain self-loop breaks the queue", c_chain_self_loop },
};

static int match(const char *name)
{
	return !filter || strstr(name, filter);
}

/* ---- layouts the virtio spec allows ---- */

struct lpiece {
	uint32_t off, len;	/* in the layout's area of guest memory */
};

struct layout {
	const char *name;
	int write;		/* the odd chain writes; else it reads */
	uint8_t hdr[4];		/* header pieces, 16 in all (0 ends) */
	int hdr_shares;		/* the last header piece carries data[0] */
	struct lpiece data[6];	/* data pieces (len 0 ends) */
	int st_shares;		/* read: status byte ends the last data piece */
	int bounce;		/* bounces the odd request must count */
};

/*
 * Areas are 32 KiB of guest memory each, page aligned; a shared header
 * sits right before data[0] (so data[0].off >= 16), a shared status byte
 * right after the last piece.  Every descriptor's data stays within
 * SIZE_MAX (4096).  Aligned means 512-aligned offsets and lengths: what
 * null_blk and ext4 on brd take directly.
 */
static const struct layout layouts[] = {
	{ "write, header and data in one descriptor", 1, { 16 }, 1,
	  { { 16, 4096 } }, 0, 1 },
	{ "write, header split over two descriptors, aligned data", 1,
	  { 8, 8 }, 0, { { 0, 4096 } }, 0, 0 },
	{ "write, header split 3 + 13, the 13 sharing odd data 100 + 3996 + 412 + 3684",
	  1, { 3, 13 }, 1,
	  { { 16, 100 }, { 8192 + 5, 3996 }, { 16384 + 1000, 412 },
	    { 20480 + 7, 3684 } }, 0, 1 },
	{ "write, pieces 512 + 1024 + 2560 at 512-aligned addresses", 1, { 16 },
	  0, { { 512, 512 }, { 4096 + 1024, 1024 }, { 12288, 2560 } }, 0, 0 },
	{ "write, 4 x 2048 at odd addresses", 1, { 16 }, 0,
	  { { 1, 2048 }, { 4096 + 3, 2048 }, { 8192 + 5, 2048 },
	    { 12288 + 7, 2048 } }, 0, 1 },
	{ "read, data and status in one descriptor", 0, { 16 }, 0,
	  { { 0, 4096 } }, 1, 0 },
	{ "read, header split 8 + 8, odd data 100 + 3996", 0, { 8, 8 }, 0,
	  { { 3, 100 }, { 4096 + 9, 3996 } }, 0, 1 },
	{ "read, odd data 100 + 3996 + 412 + 3684, status in the last descriptor",
	  0, { 16 }, 0,
	  { { 4000, 100 }, { 8192 + 5, 3996 }, { 16384 + 1000, 412 },
	    { 20480 + 7, 3684 } }, 1, 1 },
	{ "read, header in three (1 + 7 + 8), data 2 x 4096 aligned", 0,
	  { 1, 7, 8 }, 0, { { 0, 4096 }, { 8192, 4096 } }, 0, 0 },
	{ "read, 1536 + 2560 at odd addresses, status in the last descriptor", 0,
	  { 16 }, 0, { { 1, 1536 }, { 8192 + 2049, 2560 } }, 1, 1 },
};

#define LAYOUT_AREA	32768

static uint8_t lbyte(unsigned int i, uint32_t k)
{
	return (uint8_t)(0x11 * (i + 1) + k * 13 + (k >> 9) * 7);
}

/* The stats file of the device opened after the names in @before. */
static char stats_path[300];

static int list_devices(char (*names)[64], int max)
{
	DIR *d = opendir("/sys/kernel/debug/pvblk");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(names[n++], 64, "%.63s", e->d_name);
	}
	closedir(d);
	return n;
}

static int find_stats(char (*before)[64], int nbefore)
{
	char now[64][64];
	int n = list_devices(now, 64), i, j, found = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < nbefore; j++)
			if (!strcmp(now[i], before[j]))
				break;
		if (j < nbefore)
			continue;
		snprintf(stats_path, sizeof(stats_path),
			 "/sys/kernel/debug/pvblk/%s/stats", now[i]);
		found++;
	}
	return found == 1;
}

/* A device-wide counter of the stats file, -1 if unreadable. */
static long long stat_of(const char *key)
{
	char line[256], k[128];
	long long v, r = -1;
	FILE *f;

	if (!stats_path[0])
		return -1;
	f = fopen(stats_path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %lld", k, &v) == 2 && !strcmp(k, key)) {
			r = v;
			break;
		}
	fclose(f);
	return r;
}

static void lresult(const char *name, const char *what, int ok,
		    const char *detail)
{
	char full[400];

	snprintf(full, sizeof(full), "layout: %s: %s", name, what);
	result(full, ok, detail);
}

/* One bounce check: the counter moved by @want between @a and @b. */
static void lbounce(const char *name, const char *what, long long a,
		    long long b, int want)
{
	char full[400], d[400];

	if (vu_sock) {
		snprintf(full, sizeof(full), "layout: %s: %s", name, what);
		printf("ok - %s # SKIP no kernel stats over vhost-user\n", full);
		npass++;
		return;
	}
	snprintf(d, sizeof(d), "bounce_reqs %lld -> %lld, expected +%d (%s)",
		 a, b, want, stats_path[0] ? stats_path : "no stats file");
	lresult(name, what, a >= 0 && b >= 0 && b - a == want, d);
}

/* Build the odd chain of @l in @area; returns its head. */
static uint16_t lchain(struct ctx *c, const struct layout *l, uint8_t *area,
		       uint64_t sector)
{
	struct seg s[16];
	unsigned int n = 0, i, nd = 0;
	uint8_t *h;
	uint32_t hoff = 0;

	while (nd < 6 && l->data[nd].len)
		nd++;
	if (l->hdr_shares) {
		struct virtio_blk_outhdr *oh;

		h = area + l->data[0].off - 16;
		oh = (void *)h;
		oh->type = l->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
		oh->ioprio = 0;
		oh->sector = sector;
	} else {
		struct seg hs = hdr(c, l->write ? VIRTIO_BLK_T_OUT :
				    VIRTIO_BLK_T_IN, sector, 16);

		h = (uint8_t *)(uintptr_t)hs.addr;
	}
	for (i = 0; i < 4 && l->hdr[i]; i++) {
		s[n++] = (struct seg){ (uintptr_t)(h + hoff), l->hdr[i], 0 };
		hoff += l->hdr[i];
	}
	i = 0;
	if (l->hdr_shares) {
		s[n - 1].len += l->data[0].len;
		i = 1;
	}
	for (; i < nd; i++)
		s[n++] = (struct seg){ (uintptr_t)(area + l->data[i].off),
				       l->data[i].len, l->write ? 0 : W };
	if (l->st_shares) {
		uint8_t *p = area + l->data[nd - 1].off + l->data[nd - 1].len;

		*p = 0xee;
		s[n - 1].len++;
		c->status = p;
		c->status_len = 1;
	} else {
		s[n++] = st(c);
	}
	return chain(c, s, n);
}

/* Stream byte k of the pieces: put it there, or compare it. */
static int lstream(const struct layout *l, unsigned int idx, uint8_t *area,
		   int put)
{
	uint32_t k = 0, j;
	unsigned int i;

	for (i = 0; i < 6 && l->data[i].len; i++)
		for (j = 0; j < l->data[i].len; j++, k++) {
			uint8_t *p = area + l->data[i].off + j;

			if (put)
				*p = lbyte(idx, k);
			else if (*p != lbyte(idx, k))
				return 0;
		}
	return 1;
}

static uint32_t ltotal(const struct layout *l)
{
	uint32_t t = 0;
	unsigned int i;

	for (i = 0; i < 6 && l->data[i].len; i++)
		t += l->data[i].len;
	return t;
}

/* Bytes of @area outside the pieces (and the shared status) kept @g. */
static int lguard_intact(const struct layout *l, uint8_t *area, uint8_t g)
{
	uint32_t b, end;
	unsigned int i;
	int in;

	for (b = 0; b < LAYOUT_AREA; b++) {
		in = 0;
		for (i = 0; i < 6 && l->data[i].len; i++) {
			end = l->data[i].off + l->data[i].len;
			if (b >= l->data[i].off && (b < end ||
			    (l->st_shares && b == end &&
			     (i == 5 || !l->data[i + 1].len))))
				in = 1;
		}
		if (!in && area[b] != g)
			return 0;
	}
	return 1;
}

static void run_layout(struct ctx *c, const struct layout *l, unsigned int idx)
{
	uint8_t *area = c->data + (1 << 20) + idx * LAYOUT_AREA;
	uint8_t *al = c->data + (3 << 20);
	uint64_t sector = 4096 + idx * 32;
	uint32_t total = ltotal(l), k;
	long long b0, b1, b2;
	int ok, broken, r;
	uint16_t head;

	if (l->write) {
		lstream(l, idx, area, 1);
		b0 = stat_of("bounce_reqs");
		head = lchain(c, l, area, sector);
		ok = run(c, head, E_OK, &broken);
		lresult(l->name, "odd write completes OK", ok, c->why);
		b1 = stat_of("bounce_reqs");
		lbounce(l->name, l->bounce ? "the odd write is bounced" :
			"the write is not bounced", b0, b1, l->bounce);
		memset(al, 0, total);
		r = pvv_sync(c->vq2, VIRTIO_BLK_T_IN, sector, al, total);
		b2 = stat_of("bounce_reqs");
		for (ok = r == VIRTIO_BLK_S_OK, k = 0; ok && k < total; k++)
			ok = al[k] == lbyte(idx, k);
		why(c, "aligned read: status %d, first difference at byte %u",
		    r, k);
		lresult(l->name, "an aligned read returns what it wrote", ok,
			c->why);
		lbounce(l->name, "the aligned read is not bounced", b1, b2, 0);
		return;
	}
	for (k = 0; k < total; k++)
		al[k] = lbyte(idx, k);
	b0 = stat_of("bounce_reqs");
	r = pvv_sync(c->vq2, VIRTIO_BLK_T_OUT, sector, al, total);
	b1 = stat_of("bounce_reqs");
	why(c, "aligned write: status %d", r);
	lresult(l->name, "an aligned write completes OK", r == VIRTIO_BLK_S_OK,
		c->why);
	lbounce(l->name, "the aligned write is not bounced", b0, b1, 0);
	memset(area, 0xc5, LAYOUT_AREA);
	head = lchain(c, l, area, sector);
	ok = run(c, head, E_OK, &broken);
	lresult(l->name, "odd read completes OK", ok, c->why);
	b2 = stat_of("bounce_reqs");
	lbounce(l->name, l->bounce ? "the odd read is bounced" :
		"the read is not bounced", b1, b2, l->bounce);
	lresult(l->name, "the odd read returns what was written",
		lstream(l, idx, area, 0), "data differs");
	lresult(l->name, "nothing outside its data pieces changed",
		lguard_intact(l, area, 0xc5), "a byte outside the pieces changed");
}

static void run_layouts(void)
{
	char before[64][64];
	int nbefore = list_devices(before, 64), any = 0;
	unsigned int i;
	struct ctx *c;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		any |= match(layouts[i].name) || match("layout");
	if (!any)
		return;
	stats_path[0] = 0;
	c = ctx_open(0);
	if (!c) {
		result("layout: open a device", 0, "cannot open the device");
		return;
	}
	if (!vu_sock)
		result("layout: the device's debugfs stats file is found",
		       find_stats(before, nbefore), stats_path);
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (match(layouts[i].name) || match("layout"))
			run_layout(c, &layouts[i], i);
	ctx_close(c);
}


int main(int argc, char **argv)
{
	static const char *ro_names[] = {
		"write to a read-only backend is IOERR",
		"write-zeroes to a read-only backend is rejected",
		"discard on a read-only backend is rejected",
	};
	char whybuf[256];
	unsigned int i;
	int opt;

	while ((opt = getopt(argc, argv, "b:k:c:vu:g:")) != -1) {
		switch (opt) {
		case 'u': vu_sock = optarg; break;	/* debugging only */
		case 'g': guard_ms = atoi(optarg); break;
		case 'b': backing = optarg; break;
		case 'k': vhost = optarg; break;
		case 'c': filter = optarg; break;
		case 'v': verbose = 1; break;
		default:
			fprintf(stderr, "usage: %s -b BACKING [-k DEV] [-c FILTER] [-v]\n",
				argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hcase *hc = &cases[i];
		unsigned int mask = 0;
		struct ctx *c;
		int head, ok, broken;

		if (!match(hc->name))
			continue;
		c = ctx_open(0);
		if (!c) {
			result(hc->name, 0, "cannot open the device");
			continue;
		}
		head = hc->fn(c, &mask);
		if (head < 0) {
			printf("ok - %s # SKIP not applicable to this device\n",
			       hc->name);
			npass++;
			ctx_close(c);
			continue;
		}
		ok = run(c, head, mask, &broken);
		if (ok)
			ok = still_good(c, !broken);
		if (verbose)
			printf("# %s: mask 0x%x broken %d\n", hc->name, mask,
			       broken);
		result(hc->name, ok, c->why);
		ctx_close(c);
	}
	if (match("avail index jumps by more than the ring size")) {
		struct ctx *c = ctx_open(0);
		int ok = c && avail_jump(c);

		result("avail index jumps by more than the ring size breaks the queue",
		       ok, c ? c->why : "cannot open the device");
		if (c)
			ctx_close(c);
	}
	for (i = 0; i < 3; i++) {
		if (!match(ro_names[i]))
			continue;
		whybuf[0] = 0;
		result(ro_names[i], ro_case(i, whybuf, sizeof(whybuf)), whybuf);
	}
	run_layouts();
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}
