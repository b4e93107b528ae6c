// SPDX-License-Identifier: GPL-2.0
/*
 * Unit test of the pvblk-vhost-user protocol engine with a mock kernel:
 * message validation, address translation, what reaches the kernel and in
 * which order.  Prints "N passed, N failed".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <linux/vhost_blk.h>

#include "vu.h"

static int passed, failed;

#define CHECK(cond) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	}								\
} while (0)

/* ---- mock /dev/vhost-blk ---- */

#define MAX_CALLS 64

struct call {
	unsigned long req;
	int fd;			/* device fd */
	int index, arg_fd;	/* vring file / backend */
	uint64_t u64;
	struct vhost_vring_addr addr;
	struct vhost_vring_state state;
	unsigned int nregions;
	struct vhost_memory_region regions[VU_MAX_REGIONS];
	struct vhost_blk_qos qos;
};

struct mock {
	int next_fd;
	int open_err;
	int open_fds;		/* currently open */
	bool attached;
	uint64_t features;
	struct virtio_blk_config cfg;
	uint32_t vring_base;
	bool addr_busy;		/* SET_VRING_ADDR: EBUSY while attached */
	int fail_req_err;
	unsigned long fail_req;	/* this ioctl fails with fail_req_err */
	struct call calls[MAX_CALLS];
	int ncalls;
	int closes;
};

static int m_open(void *ctx)
{
	struct mock *m = ctx;

	if (m->open_err)
		return m->open_err;
	m->open_fds++;
	m->attached = false;
	return m->next_fd++;
}

static void m_close(void *ctx, int fd)
{
	struct mock *m = ctx;

	(void)fd;
	m->open_fds--;
	m->closes++;
	m->attached = false;
}

static int m_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct mock *m = ctx;
	struct call *c = &m->calls[m->ncalls < MAX_CALLS ? m->ncalls++ : MAX_CALLS - 1];

	memset(c, 0, sizeof(*c));
	c->req = req;
	c->fd = fd;
	if (req == m->fail_req)
		return m->fail_req_err;
	switch (req) {
	case VHOST_SET_OWNER:
		return 0;
	case VHOST_GET_FEATURES:
		*(uint64_t *)arg = m->features;
		return 0;
	case VHOST_SET_FEATURES:
		c->u64 = *(uint64_t *)arg;
		return 0;
	case VHOST_BLK_SET_BACKEND: {
		struct vhost_vring_file *f = arg;

		c->index = (int)f->index;
		c->arg_fd = f->fd;
		m->attached = f->fd >= 0;
		return 0;
	}
	case VHOST_BLK_GET_CONFIG:
		if (!m->attached)
			return -ENODEV;
		memcpy(arg, &m->cfg, sizeof(m->cfg));
		return 0;
	case VHOST_BLK_SET_SERIAL:
		c->u64 = ((struct vhost_blk_serial *)arg)->len;
		return 0;
	case VHOST_BLK_SET_QOS:
		c->qos = *(struct vhost_blk_qos *)arg;
		return 0;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
		memcpy(&c->state, arg, sizeof(c->state));
		return 0;
	case VHOST_SET_MEM_TABLE: {
		struct vhost_memory *km = arg;

		c->nregions = km->nregions;
		memcpy(c->regions, km->regions, km->nregions * sizeof(km->regions[0]));
		return 0;
	}
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
		if (m->attached)
			return -EBUSY;	/* as vhost.c does */
		memcpy(&c->state, arg, sizeof(c->state));
		return 0;
	case VHOST_GET_VRING_BASE:
		((struct vhost_vring_state *)arg)->num = m->vring_base;
		c->state = *(struct vhost_vring_state *)arg;
		return 0;
	case VHOST_SET_VRING_ADDR:
		/* vhost.c takes it on a running ring; older kernels may not. */
		if (m->attached && m->addr_busy)
			return -EBUSY;
		memcpy(&c->addr, arg, sizeof(c->addr));
		return 0;
	case VHOST_SET_LOG_BASE:
		c->u64 = *(uint64_t *)arg;
		return 0;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR: {
		struct vhost_vring_file *f = arg;

		c->index = (int)f->index;
		c->arg_fd = f->fd;
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

static const struct vu_kops mock_ops = {
	.open = m_open, .close = m_close, .ioctl = m_ioctl,
};

#define FEAT_KERNEL ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_BLK_F_SEG_MAX) | \
		     (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) | \
		     (1ull << VIRTIO_BLK_F_MQ) | (1ull << VHOST_F_LOG_ALL) | \
		     (1ull << VIRTIO_RING_F_EVENT_IDX))
#define DISK_FD 77

static void mock_init(struct mock *m)
{
	memset(m, 0, sizeof(*m));
	m->next_fd = 100;
	m->features = FEAT_KERNEL;
	m->cfg.capacity = htole64(2048);
	m->cfg.seg_max = htole32(128);
	m->cfg.blk_size = htole32(512);
	m->cfg.num_queues = htole16(16);
	m->vring_base = 42;
}

static int count_req(const struct mock *m, unsigned long req)
{
	int i, n = 0;

	for (i = 0; i < m->ncalls; i++)
		n += m->calls[i].req == req;
	return n;
}

static const struct call *last_req(const struct mock *m, unsigned long req)
{
	int i;

	for (i = m->ncalls - 1; i >= 0; i--)
		if (m->calls[i].req == req)
			return &m->calls[i];
	return NULL;
}

/* ---- message helpers ---- */

static void msg(struct vu_msg *m, uint32_t req, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->hdr.request = req;
	m->hdr.flags = VU_VERSION;
	m->hdr.size = size;
}

static void msg_u64(struct vu_msg *m, uint32_t req, uint64_t v)
{
	msg(m, req, 8);
	m->p.u64 = v;
}

static void msg_state(struct vu_msg *m, uint32_t req, uint32_t idx, uint32_t num)
{
	msg(m, req, 8);
	m->p.state.index = idx;
	m->p.state.num = num;
}

/* Validate then handle, as the daemon does; -1000 - r for a check failure. */
static int run(struct vu_dev *d, struct vu_msg *m, struct vu_msg *reply, bool *has)
{
	int r;

	d->err[0] = 0;
	*has = false;
	r = vu_check_msg(d, m);
	if (r)
		return -1000 + r;
	return vu_handle(d, m, reply, has);
}

static struct vu_dev *new_dev(struct mock *mk, bool ro, unsigned int nq)
{
	struct vu_dev *d = calloc(1, sizeof(*d));
	int r;

	mock_init(mk);
	r = vu_dev_init(d, &mock_ops, mk, DISK_FD, ro, nq, (const uint8_t *)"ser1", 4, NULL);
	CHECK(r == 0);
	r = vu_session_start(d);
	CHECK(r == 0);
	return d;
}

static void free_dev(struct vu_dev *d)
{
	vu_session_end(d);
	free(d);
}

/* A memfd of @size bytes. */
static int memfd(size_t size)
{
	int fd = memfd_create("vu-test", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		perror("memfd");
		exit(2);
	}
	return fd;
}

/* ---- tests ---- */

static void test_init(void)
{
	struct mock mk;
	struct vu_dev d;
	int r;

	mock_init(&mk);
	r = vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, 2, (const uint8_t *)"abc", 3, NULL);
	CHECK(r == 0);
	/* Probe: owner, serial, backend, features, config, detach; then closed. */
	CHECK(mk.ncalls == 6);
	CHECK(mk.calls[0].req == VHOST_SET_OWNER);
	CHECK(mk.calls[1].req == VHOST_BLK_SET_SERIAL && mk.calls[1].u64 == 3);
	CHECK(mk.calls[2].req == VHOST_BLK_SET_BACKEND && mk.calls[2].arg_fd == DISK_FD);
	CHECK(mk.calls[3].req == VHOST_GET_FEATURES);
	CHECK(mk.calls[4].req == VHOST_BLK_GET_CONFIG);
	CHECK(mk.calls[5].req == VHOST_BLK_SET_BACKEND && mk.calls[5].arg_fd == -1);
	CHECK(mk.open_fds == 0 && d.kfd == -1);
	CHECK(le64toh(d.cfg.capacity) == 2048);

	mock_init(&mk);
	mk.open_err = -ENOENT;
	r = vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, 1, NULL, 0, NULL);
	CHECK(r == -ENOENT);
	CHECK(strstr(d.err, "/dev/vhost-blk") != NULL);

	mock_init(&mk);
	mk.fail_req = VHOST_BLK_SET_BACKEND;
	mk.fail_req_err = -ENOTBLK;
	r = vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, 1, NULL, 0, NULL);
	CHECK(r == -ENOTBLK);
	CHECK(mk.open_fds == 0);

	mock_init(&mk);
	r = vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, 0, NULL, 0, NULL);
	CHECK(r == -EINVAL);
	r = vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, VHOST_BLK_MAX_QUEUES + 1, NULL, 0, NULL);
	CHECK(r == -EINVAL);
	r = vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, 1,
			(const uint8_t *)"123456789012345678901", 21, NULL);
	CHECK(r == -EINVAL);
}

static void test_features(void)
{
	struct mock mk;
	struct vu_msg m, reply;
	struct vu_dev *d;
	bool has;
	uint64_t f;

	d = new_dev(&mk, false, 1);
	msg(&m, VU_GET_FEATURES, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && has);
	f = reply.p.u64;
	CHECK(reply.hdr.request == VU_GET_FEATURES && reply.hdr.size == 8);
	CHECK(reply.hdr.flags == (VU_VERSION | VU_FLAG_REPLY));
	CHECK(f & (1ull << VU_F_PROTOCOL_FEATURES));
	CHECK(f & (1ull << VHOST_F_LOG_ALL));	/* as the kernel offers it */
	CHECK(!(f & (1ull << VIRTIO_BLK_F_MQ)));	/* one queue */
	CHECK(!(f & (1ull << VIRTIO_BLK_F_RO)));
	CHECK(f & (1ull << VIRTIO_F_VERSION_1));

	/* SET_FEATURES: the kernel gets no vhost-user bit. */
	msg_u64(&m, VU_SET_FEATURES, f);
	CHECK(run(d, &m, &reply, &has) == 0 && !has && !d->err[0]);
	CHECK(last_req(&mk, VHOST_SET_FEATURES) &&
	      last_req(&mk, VHOST_SET_FEATURES)->u64 ==
	      (f & ~(1ull << VU_F_PROTOCOL_FEATURES)));
	/* A bit never offered is refused and does not reach the kernel. */
	msg_u64(&m, VU_SET_FEATURES, f | (1ull << 40));
	mk.ncalls = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && !has && d->err[0]);
	CHECK(count_req(&mk, VHOST_SET_FEATURES) == 0);
	free_dev(d);

	d = new_dev(&mk, true, 4);
	msg(&m, VU_GET_FEATURES, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && has);
	CHECK(reply.p.u64 & (1ull << VIRTIO_BLK_F_RO));
	CHECK(reply.p.u64 & (1ull << VIRTIO_BLK_F_MQ));
	/* RO is ours: acking it does not send it to a kernel that lacks it. */
	msg_u64(&m, VU_SET_FEATURES, reply.p.u64);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	CHECK(!(last_req(&mk, VHOST_SET_FEATURES)->u64 & (1ull << VIRTIO_BLK_F_RO)));

	msg(&m, VU_GET_QUEUE_NUM, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.u64 == 4);
	free_dev(d);
}

static void test_protocol_and_ack(void)
{
	struct mock mk;
	struct vu_msg m, reply;
	struct vu_dev *d = new_dev(&mk, false, 1);
	bool has;

	msg(&m, VU_GET_PROTOCOL_FEATURES, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && has);
	CHECK(reply.p.u64 & (1ull << VU_PF_MQ));
	CHECK(reply.p.u64 & (1ull << VU_PF_REPLY_ACK));
	CHECK(reply.p.u64 & (1ull << VU_PF_CONFIG));
	CHECK(reply.p.u64 & (1ull << VU_PF_LOG_SHMFD));
	CHECK(reply.p.u64 & (1ull << VU_PF_BACKEND_REQ));
	CHECK(!(reply.p.u64 & (1ull << 2)));	/* no RARP */

	/* Unknown protocol bit: refused (no ack negotiated yet: no reply). */
	msg_u64(&m, VU_SET_PROTOCOL_FEATURES, 1ull << 2);
	CHECK(run(d, &m, &reply, &has) == 0 && !has && d->err[0]);
	CHECK(d->protocol_features == 0);

	/* NEED_REPLY before REPLY_ACK is negotiated: no reply. */
	msg(&m, VU_SET_OWNER, 0);
	m.hdr.flags |= VU_FLAG_NEED_REPLY;
	CHECK(run(d, &m, &reply, &has) == 0 && !has);

	msg_u64(&m, VU_SET_PROTOCOL_FEATURES,
		(1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIG) | (1ull << VU_PF_MQ));
	CHECK(run(d, &m, &reply, &has) == 0 && !has && !d->err[0]);

	msg(&m, VU_SET_OWNER, 0);
	m.hdr.flags |= VU_FLAG_NEED_REPLY;
	CHECK(run(d, &m, &reply, &has) == 0 && has);
	CHECK(reply.hdr.request == VU_SET_OWNER && reply.hdr.size == 8 && reply.p.u64 == 0);

	/* A failing request acks non-zero and the session goes on. */
	msg_u64(&m, VU_SET_FEATURES, 1ull << 63);
	m.hdr.flags |= VU_FLAG_NEED_REPLY;
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.u64 != 0);

	/* GET_* requests never get an extra ack. */
	msg(&m, VU_GET_QUEUE_NUM, 0);
	m.hdr.flags |= VU_FLAG_NEED_REPLY;
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.u64 == 1);
	free_dev(d);
}

static void test_header_checks(void)
{
	struct mock mk;
	struct vu_dev *d = new_dev(&mk, false, 2);
	struct vu_hdr h = { .request = VU_GET_FEATURES, .flags = VU_VERSION, .size = 0 };
	struct vu_msg m;

	CHECK(vu_check_hdr(d, &h) == 0);
	h.flags = 2;
	CHECK(vu_check_hdr(d, &h) == -EPROTO);
	h.flags = VU_VERSION | VU_FLAG_REPLY;
	CHECK(vu_check_hdr(d, &h) == -EPROTO);
	h.flags = VU_VERSION;
	h.request = 99;
	CHECK(vu_check_hdr(d, &h) == -EPROTO);
	h.request = 0;
	CHECK(vu_check_hdr(d, &h) == -EPROTO);
	h.request = VU_SET_LOG_BASE;	/* size, offset: 16 bytes */
	h.size = 16;
	CHECK(vu_check_hdr(d, &h) == 0);
	h.size = 8;
	CHECK(vu_check_hdr(d, &h) == -EPROTO);
	h.request = VU_SET_FEATURES;
	h.size = 4;
	CHECK(vu_check_hdr(d, &h) == -EPROTO);
	h.size = 16;
	CHECK(vu_check_hdr(d, &h) == -EPROTO);
	h.size = 8;
	CHECK(vu_check_hdr(d, &h) == 0);
	h.request = VU_SET_VRING_ADDR;
	CHECK(vu_check_hdr(d, &h) == -EPROTO);
	h.size = 40;
	CHECK(vu_check_hdr(d, &h) == 0);
	h.request = VU_SET_MEM_TABLE;
	h.size = 0xffffffffu;
	CHECK(vu_check_hdr(d, &h) == -EPROTO);
	h.request = VU_GET_CONFIG;
	h.size = VU_CONFIG_HDR_SIZE + VU_CONFIG_MAX + 1;
	CHECK(vu_check_hdr(d, &h) == -EPROTO);

	/* fds where none belong. */
	msg_u64(&m, VU_SET_FEATURES, 0);
	m.nfds = 1;
	m.fds[0] = 5;
	CHECK(vu_check_msg(d, &m) == -EPROTO);

	/* Ring index beyond the queues. */
	msg_state(&m, VU_SET_VRING_NUM, 2, 128);
	{
		struct vu_msg reply;
		bool has;

		mk.ncalls = 0;
		CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
		CHECK(count_req(&mk, VHOST_SET_VRING_NUM) == 0);
		msg_state(&m, VU_SET_VRING_NUM, 1, 100);	/* not a power of 2 */
		CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
		msg_state(&m, VU_SET_VRING_NUM, 1, 65536);
		CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
		CHECK(count_req(&mk, VHOST_SET_VRING_NUM) == 0);
		msg_state(&m, VU_SET_VRING_NUM, 1, 256);
		CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
		CHECK(count_req(&mk, VHOST_SET_VRING_NUM) == 1);
		msg_state(&m, VU_SET_VRING_BASE, 0, 0x10000);
		CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
		msg_state(&m, VU_SET_VRING_ENABLE, 0, 2);
		CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
		msg_state(&m, VU_GET_VRING_BASE, 5, 0);
		CHECK(run(d, &m, &reply, &has) < 0 && !has);
	}
	free_dev(d);
}

#define R0_GPA	0x0ull
#define R0_QVA	0x7f0000000000ull
#define R0_SIZE	(1u << 20)
#define R1_GPA	0x100000000ull
#define R1_QVA	0x7f0010000000ull
#define R1_SIZE	(2u << 20)
#define R1_OFF	0x3000ull

static void mem_msg(struct vu_msg *m, int fd0, int fd1)
{
	msg(m, VU_SET_MEM_TABLE, 8 + 2 * 32);
	m->p.mem.nregions = 2;
	m->p.mem.regions[0] = (struct vu_region){ R0_GPA, R0_SIZE, R0_QVA, 0 };
	m->p.mem.regions[1] = (struct vu_region){ R1_GPA, R1_SIZE, R1_QVA, R1_OFF };
	m->nfds = 2;
	m->fds[0] = fd0;
	m->fds[1] = fd1;
}

static void test_mem_table(void)
{
	struct mock mk;
	struct vu_dev *d = new_dev(&mk, false, 1);
	struct vu_msg m, reply;
	int fd0 = memfd(R0_SIZE), fd1 = memfd(R1_OFF + R1_SIZE), small = memfd(4096);
	const struct call *c;
	uint8_t *p, buf[4];
	bool has;

	mem_msg(&m, fd0, fd1);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	CHECK(d->nmaps == 2);
	c = last_req(&mk, VHOST_SET_MEM_TABLE);
	CHECK(c && c->nregions == 2);
	if (c && c->nregions == 2) {
		CHECK(c->regions[0].guest_phys_addr == R0_GPA);
		CHECK(c->regions[0].memory_size == R0_SIZE);
		CHECK(c->regions[0].userspace_addr == (uintptr_t)d->maps[0].addr);
		CHECK(c->regions[1].guest_phys_addr == R1_GPA);
		CHECK(c->regions[1].userspace_addr == (uintptr_t)d->maps[1].addr);
	}

	/* Translation: inside, ends, straddling, outside. */
	CHECK(vu_qva_to_va(d, R0_QVA, 1) == d->maps[0].addr);
	CHECK(vu_qva_to_va(d, R0_QVA + R0_SIZE - 16, 16) ==
	      d->maps[0].addr + R0_SIZE - 16);
	CHECK(vu_qva_to_va(d, R0_QVA + R0_SIZE - 16, 17) == NULL);
	CHECK(vu_qva_to_va(d, R0_QVA + R0_SIZE, 1) == NULL);
	CHECK(vu_qva_to_va(d, R0_QVA - 1, 2) == NULL);
	CHECK(vu_qva_to_va(d, R0_QVA, 0) == NULL);
	CHECK(vu_qva_to_va(d, R1_QVA + 0x1234, 8) == d->maps[1].addr + 0x1234);
	CHECK(vu_qva_to_va(d, ~0ull, 2) == NULL);
	CHECK(vu_qva_to_va(d, R1_QVA + 8, ~0ull) == NULL);

	/* The mapping is the memfd's, at mmap_offset. */
	p = vu_qva_to_va(d, R1_QVA + 16, 4);
	if (p) {
		memcpy(p, "pvbk", 4);
		CHECK(pread(fd1, buf, 4, (off_t)(R1_OFF + 16)) == 4 &&
		      !memcmp(buf, "pvbk", 4));
	}
	CHECK(pwrite(fd0, "abcd", 4, 100) == 4);
	p = vu_qva_to_va(d, R0_QVA + 100, 4);
	CHECK(p && !memcmp(p, "abcd", 4));

	/* Rejected tables leave the current one in place. */
	mem_msg(&m, fd0, fd1);
	m.p.mem.regions[1].gpa = R0_GPA + R0_SIZE - 4096;	/* gpa overlap */
	mk.ncalls = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0] && strstr(d->err, "overlap"));
	mem_msg(&m, fd0, fd1);
	m.p.mem.regions[1].uaddr = R0_QVA + 4096;		/* qva overlap */
	CHECK(run(d, &m, &reply, &has) == 0 && strstr(d->err, "overlap"));
	mem_msg(&m, fd0, fd1);
	m.p.mem.regions[0].size = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	mem_msg(&m, fd0, fd1);
	m.p.mem.regions[1].gpa = ~0ull - 4096;			/* wraps */
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	mem_msg(&m, fd0, fd1);
	m.p.mem.regions[1].mmap_offset = ~0ull - 100;
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	mem_msg(&m, fd0, small);				/* file too small */
	CHECK(run(d, &m, &reply, &has) == 0 && strstr(d->err, "too small"));
	mem_msg(&m, fd0, -1);					/* bad fd */
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	CHECK(count_req(&mk, VHOST_SET_MEM_TABLE) == 0);
	CHECK(d->nmaps == 2 && vu_qva_to_va(d, R0_QVA + 100, 4) != NULL);

	/* Counts: fds vs regions, 0 and 9 regions, short payload. */
	mem_msg(&m, fd0, fd1);
	m.nfds = 1;
	CHECK(run(d, &m, &reply, &has) == -1000 - EPROTO);
	mem_msg(&m, fd0, fd1);
	m.p.mem.nregions = 0;
	CHECK(run(d, &m, &reply, &has) == -1000 - EPROTO);
	mem_msg(&m, fd0, fd1);
	m.p.mem.nregions = 9;
	CHECK(run(d, &m, &reply, &has) == -1000 - EPROTO);
	mem_msg(&m, fd0, fd1);
	m.hdr.size = 8 + 32;
	CHECK(run(d, &m, &reply, &has) == -1000 - EPROTO);

	/* Kernel refusal: new maps dropped, old kept. */
	mem_msg(&m, fd0, fd1);
	m.p.mem.nregions = 1;
	m.nfds = 1;
	m.hdr.size = 8 + 32;
	mk.fail_req = VHOST_SET_MEM_TABLE;
	mk.fail_req_err = -ENOMEM;
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	CHECK(d->nmaps == 2);
	mk.fail_req = 0;

	/* A replacement table replaces the mappings. */
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	CHECK(d->nmaps == 1 && vu_qva_to_va(d, R1_QVA, 1) == NULL);

	free_dev(d);
	CHECK(mk.open_fds == 0);
	close(fd0);
	close(fd1);
	close(small);
}

/* A session with memory and one ring ready to start. */
static struct vu_dev *ring_dev(struct mock *mk, int *fd0, int *fd1)
{
	struct vu_dev *d = new_dev(mk, false, 2);
	struct vu_msg m, reply;
	bool has;

	*fd0 = memfd(R0_SIZE);
	*fd1 = memfd(R1_OFF + R1_SIZE);
	mem_msg(&m, *fd0, *fd1);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	return d;
}

static void addr_msg(struct vu_msg *m, uint32_t idx, uint64_t desc, uint64_t avail,
		     uint64_t used)
{
	msg(m, VU_SET_VRING_ADDR, 40);
	m->p.addr.index = idx;
	m->p.addr.desc = desc;
	m->p.addr.avail = avail;
	m->p.addr.used = used;
}

static void test_vrings(void)
{
	struct mock mk;
	int fd0, fd1, kick = memfd(8);
	struct vu_dev *d = ring_dev(&mk, &fd0, &fd1);
	struct vu_msg m, reply;
	const struct call *c;
	bool has;

	msg_state(&m, VU_SET_VRING_NUM, 0, 256);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	msg_state(&m, VU_SET_VRING_BASE, 0, 7);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	c = last_req(&mk, VHOST_SET_VRING_BASE);
	CHECK(c && c->state.index == 0 && c->state.num == 7);

	/* Addresses are translated to our mapping. */
	addr_msg(&m, 0, R0_QVA + 0x1000, R0_QVA + 0x2000, R1_QVA + 0x3000);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	c = last_req(&mk, VHOST_SET_VRING_ADDR);
	CHECK(c && c->addr.index == 0);
	if (c) {
		CHECK(c->addr.desc_user_addr == (uintptr_t)d->maps[0].addr + 0x1000);
		CHECK(c->addr.avail_user_addr == (uintptr_t)d->maps[0].addr + 0x2000);
		CHECK(c->addr.used_user_addr == (uintptr_t)d->maps[1].addr + 0x3000);
		CHECK(c->addr.flags == 0 && c->addr.log_guest_addr == 0);
	}
	/* Rings outside memory, straddling its end, or asking for logging. */
	mk.ncalls = 0;
	addr_msg(&m, 0, 0x1000, R0_QVA, R0_QVA);
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	addr_msg(&m, 0, R0_QVA + R0_SIZE - 16 * 128, R0_QVA, R0_QVA + 0x8000);
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);	/* 256 descs */
	addr_msg(&m, 0, R0_QVA, R0_QVA + 0x2000, R0_QVA + R0_SIZE - 100);
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	addr_msg(&m, 0, R0_QVA + 0x1000, R0_QVA + 0x2000, R1_QVA + 0x3000);
	m.p.addr.flags = 2;	/* not VHOST_VRING_F_LOG */
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	addr_msg(&m, 2, R0_QVA + 0x1000, R0_QVA + 0x2000, R1_QVA + 0x3000);
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	CHECK(count_req(&mk, VHOST_SET_VRING_ADDR) == 0);

	/* Kick: fd forwarded and the backend attached. */
	msg_u64(&m, VU_SET_VRING_KICK, 0);
	m.nfds = 1;
	m.fds[0] = kick;
	mk.ncalls = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	c = last_req(&mk, VHOST_SET_VRING_KICK);
	CHECK(c && c->index == 0 && c->arg_fd == kick);
	c = last_req(&mk, VHOST_BLK_SET_BACKEND);
	CHECK(c && c->arg_fd == DISK_FD && mk.attached && d->attached);
	/* A second kick does not attach twice. */
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	CHECK(count_req(&mk, VHOST_BLK_SET_BACKEND) == 1);

	/* Call with NOFD: -1 to the kernel. */
	msg_u64(&m, VU_SET_VRING_CALL, 1 | VU_VRING_NOFD);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	c = last_req(&mk, VHOST_SET_VRING_CALL);
	CHECK(c && c->index == 1 && c->arg_fd == -1);
	msg_u64(&m, VU_SET_VRING_ERR, 0);
	m.nfds = 1;
	m.fds[0] = kick;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	CHECK(last_req(&mk, VHOST_SET_VRING_ERR)->arg_fd == kick);
	/* fd/NOFD mismatches, stray bits, ring beyond the queues. */
	msg_u64(&m, VU_SET_VRING_CALL, 0);
	CHECK(run(d, &m, &reply, &has) == -1000 - EPROTO);
	msg_u64(&m, VU_SET_VRING_CALL, VU_VRING_NOFD);
	m.nfds = 1;
	m.fds[0] = kick;
	CHECK(run(d, &m, &reply, &has) == -1000 - EPROTO);
	msg_u64(&m, VU_SET_VRING_CALL, (1ull << 9) | VU_VRING_NOFD);
	CHECK(run(d, &m, &reply, &has) == -1000 - EPROTO);
	msg_u64(&m, VU_SET_VRING_KICK, 5 | VU_VRING_NOFD);
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);

	/* Ring 1 set up while ring 0 runs: backend off first (kernel EBUSY). */
	msg_state(&m, VU_SET_VRING_NUM, 1, 128);
	mk.ncalls = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	CHECK(mk.ncalls == 2 && mk.calls[0].req == VHOST_BLK_SET_BACKEND &&
	      mk.calls[0].arg_fd == -1 && mk.calls[1].req == VHOST_SET_VRING_NUM);
	CHECK(!d->attached);
	/* ENABLE on a kicked ring re-attaches; on an unkicked one it does not. */
	msg_state(&m, VU_SET_VRING_ENABLE, 1, 1);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0] && !d->attached);
	msg_state(&m, VU_SET_VRING_ENABLE, 0, 1);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0] && d->attached);

	/* GET_VRING_BASE: drain (detach), stop the kick, read the index. */
	msg_state(&m, VU_GET_VRING_BASE, 0, 0);
	mk.ncalls = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && has);
	CHECK(reply.hdr.request == VU_GET_VRING_BASE && reply.hdr.size == 8);
	CHECK(reply.p.state.index == 0 && reply.p.state.num == 42);
	CHECK(mk.ncalls == 3);
	CHECK(mk.calls[0].req == VHOST_BLK_SET_BACKEND && mk.calls[0].arg_fd == -1);
	CHECK(mk.calls[1].req == VHOST_SET_VRING_KICK && mk.calls[1].arg_fd == -1);
	CHECK(mk.calls[2].req == VHOST_GET_VRING_BASE);
	CHECK(!d->attached && !d->vrings[0].kick);
	/* The kernel cannot tell the base: the connection is dropped. */
	mk.fail_req = VHOST_GET_VRING_BASE;
	mk.fail_req_err = -EIO;
	msg_state(&m, VU_GET_VRING_BASE, 1, 0);
	CHECK(run(d, &m, &reply, &has) < 0 && !has);
	mk.fail_req = 0;

	free_dev(d);
	CHECK(mk.open_fds == 0 && !mk.attached);
	close(fd0);
	close(fd1);
	close(kick);
}

/* Live migration: QEMU's dirty bitmap and logged rings reach the kernel. */
static void test_log(void)
{
	struct mock mk;
	int fd0, fd1, lfd = memfd(8192);
	struct vu_dev *d = ring_dev(&mk, &fd0, &fd1);
	struct vu_msg m, reply;
	const struct call *c;
	uint8_t b = 0;
	bool has;

	/* The bitmap mapped, its address to the kernel, a zero u64 reply. */
	msg(&m, VU_SET_LOG_BASE, 16);
	m.p.log.mmap_size = 8192;
	m.nfds = 1;
	m.fds[0] = lfd;
	mk.ncalls = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && has && !d->err[0]);
	CHECK(reply.hdr.request == VU_SET_LOG_BASE && reply.hdr.size == 8 &&
	      reply.p.u64 == 0);
	c = last_req(&mk, VHOST_SET_LOG_BASE);
	CHECK(c && d->log && c->u64 == (uintptr_t)d->log && d->log_size == 8192);
	/* A bit the kernel sets is QEMU's to see through its fd. */
	if (d->log)
		((volatile uint8_t *)d->log)[4096] = 0x5a;
	CHECK(pread(lfd, &b, 1, 4096) == 1 && b == 0x5a);
	/* An offset that is not page aligned, or no size: a reply of 1. */
	m.p.log.mmap_offset = 100;
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.u64 == 1 && d->err[0]);
	m.p.log.mmap_offset = 0;
	m.p.log.mmap_size = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.u64 == 1 && d->err[0]);

	/* A logged ring: the flag and the used ring's guest address pass. */
	msg_state(&m, VU_SET_VRING_NUM, 0, 256);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	addr_msg(&m, 0, R0_QVA + 0x1000, R0_QVA + 0x2000, R1_QVA + 0x3000);
	m.p.addr.flags = 1u << VHOST_VRING_F_LOG;
	m.p.addr.log = 0x123000;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	c = last_req(&mk, VHOST_SET_VRING_ADDR);
	CHECK(c && c->addr.flags == (1u << VHOST_VRING_F_LOG) &&
	      c->addr.log_guest_addr == 0x123000);

	/*
	 * Logging switched on a running ring (QEMU at the start of a
	 * migration): the ring keeps running, the backend is not detached.
	 */
	msg_u64(&m, VU_SET_VRING_KICK, 0);
	m.nfds = 1;
	m.fds[0] = lfd;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0] && d->attached);
	addr_msg(&m, 0, R0_QVA + 0x1000, R0_QVA + 0x2000, R1_QVA + 0x3000);
	m.p.addr.flags = 1u << VHOST_VRING_F_LOG;
	m.p.addr.log = 0x123000;
	mk.ncalls = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	CHECK(mk.ncalls == 1 && mk.calls[0].req == VHOST_SET_VRING_ADDR);
	CHECK(d->attached && mk.attached);
	/* A kernel that refuses it running: stopped, changed, restarted. */
	mk.addr_busy = true;
	m.p.addr.flags = 0;
	mk.ncalls = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	CHECK(mk.ncalls == 4 && mk.calls[1].req == VHOST_BLK_SET_BACKEND &&
	      mk.calls[1].arg_fd == -1 &&
	      mk.calls[2].req == VHOST_SET_VRING_ADDR &&
	      mk.calls[3].req == VHOST_BLK_SET_BACKEND &&
	      mk.calls[3].arg_fd == DISK_FD);
	CHECK(d->attached && mk.attached);
	c = last_req(&mk, VHOST_SET_VRING_ADDR);
	CHECK(c && c->addr.flags == 0);

	free_dev(d);
	close(fd0);
	close(fd1);
	close(lfd);
}

static void cfg_msg(struct vu_msg *m, uint32_t req, uint32_t off, uint32_t size)
{
	msg(m, req, VU_CONFIG_HDR_SIZE + size);
	m->p.config.offset = off;
	m->p.config.size = size;
}

static void test_config(void)
{
	struct mock mk;
	struct vu_dev *d = new_dev(&mk, false, 2);
	struct vu_msg m, reply;
	struct virtio_blk_config cfg;
	bool has;

	cfg_msg(&m, VU_GET_CONFIG, 0, 60);
	CHECK(run(d, &m, &reply, &has) == 0 && has);
	CHECK(reply.hdr.request == VU_GET_CONFIG);
	CHECK(reply.hdr.size == VU_CONFIG_HDR_SIZE + 60 && reply.p.config.size == 60);
	memset(&cfg, 0, sizeof(cfg));
	memcpy(&cfg, reply.p.config.data, 60);
	CHECK(le64toh(cfg.capacity) == 2048);
	CHECK(le32toh(cfg.seg_max) == 128);
	CHECK(le16toh(cfg.num_queues) == 2);	/* ours, not the kernel's 16 */

	/* Offset honoured. */
	cfg_msg(&m, VU_GET_CONFIG, offsetof(struct virtio_blk_config, blk_size), 4);
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.config.size == 4);
	CHECK(reply.p.config.offset == offsetof(struct virtio_blk_config, blk_size));
	{
		uint32_t v;

		memcpy(&v, reply.p.config.data, 4);
		CHECK(le32toh(v) == 512);
	}

	/* Beyond the config space: empty reply. */
	cfg_msg(&m, VU_GET_CONFIG, 90, 16);
	CHECK(run(d, &m, &reply, &has) == 0 && has);
	CHECK(reply.p.config.size == 0 && reply.hdr.size == VU_CONFIG_HDR_SIZE);
	cfg_msg(&m, VU_GET_CONFIG, 0xfffffff0u, 32);
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.config.size == 0);
	/* Size field disagreeing with the payload. */
	cfg_msg(&m, VU_GET_CONFIG, 0, 8);
	m.hdr.size = VU_CONFIG_HDR_SIZE + 4;
	CHECK(run(d, &m, &reply, &has) == -1000 - EPROTO);

	/* Live config when attached (capacity changed). */
	mk.cfg.capacity = htole64(4096);
	d->attached = true;
	mk.attached = true;
	cfg_msg(&m, VU_GET_CONFIG, 0, 8);
	CHECK(run(d, &m, &reply, &has) == 0 && has);
	{
		uint64_t v;

		memcpy(&v, reply.p.config.data, 8);
		CHECK(le64toh(v) == 4096);
	}

	/* SET_CONFIG: wce accepted, anything else refused. */
	CHECK(run(d, (cfg_msg(&m, VU_SET_CONFIG, offsetof(struct virtio_blk_config, wce), 1), &m),
		  &reply, &has) == 0 && !d->err[0]);
	cfg_msg(&m, VU_SET_CONFIG, 0, 8);
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	cfg_msg(&m, VU_SET_CONFIG, 200, 8);
	CHECK(run(d, &m, &reply, &has) == 0 && d->err[0]);
	free_dev(d);
}

static void test_reset_and_reconnect(void)
{
	struct mock mk;
	int fd0, fd1, kick = memfd(8);
	struct vu_dev *d = ring_dev(&mk, &fd0, &fd1);
	struct vu_msg m, reply;
	const struct call *c;
	int first_fd = d->kfd;
	bool has;

	msg_u64(&m, VU_SET_VRING_KICK, 0);
	m.nfds = 1;
	m.fds[0] = kick;
	CHECK(run(d, &m, &reply, &has) == 0 && d->attached);

	msg(&m, VU_RESET_OWNER, 0);
	mk.ncalls = 0;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	CHECK(mk.closes >= 1 && mk.open_fds == 1 && d->kfd != first_fd);
	CHECK(!d->attached && !d->vrings[0].kick);
	CHECK(mk.calls[0].req == VHOST_BLK_SET_BACKEND && mk.calls[0].arg_fd == -1);
	CHECK(count_req(&mk, VHOST_SET_OWNER) == 1);
	c = last_req(&mk, VHOST_SET_MEM_TABLE);
	CHECK(c && c->nregions == 2 && c->fd == d->kfd);

	msg(&m, VU_RESET_DEVICE, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0] && mk.open_fds == 1);

	/* Disconnect, then a new frontend: a fresh device and no old maps. */
	vu_session_end(d);
	CHECK(mk.open_fds == 0 && d->nmaps == 0 && d->kfd == -1);
	CHECK(vu_session_start(d) == 0 && mk.open_fds == 1);
	CHECK(vu_qva_to_va(d, R0_QVA, 1) == NULL);
	CHECK(d->protocol_features == 0);

	/* The device is gone (module unloaded): reset ends the session. */
	mk.open_err = -ENOENT;
	msg(&m, VU_RESET_OWNER, 0);
	CHECK(run(d, &m, &reply, &has) == -ENOENT);
	mk.open_err = 0;

	free_dev(d);
	CHECK(mk.open_fds == 0);
	close(fd0);
	close(fd1);
	close(kick);
}

/* The message order QEMU 7.2's vhost-user-blk uses, start to stop. */
static void test_qemu_sequence(void)
{
	struct mock mk;
	int fd0, fd1, kick0 = memfd(8), call0 = memfd(8);
	struct vu_dev *d = new_dev(&mk, false, 1);
	struct vu_msg m, reply;
	uint64_t f;
	bool has;

	fd0 = memfd(R0_SIZE);
	fd1 = memfd(R1_OFF + R1_SIZE);
	msg(&m, VU_GET_FEATURES, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && has);
	f = reply.p.u64;
	msg(&m, VU_GET_PROTOCOL_FEATURES, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && has);
	msg_u64(&m, VU_SET_PROTOCOL_FEATURES, reply.p.u64);
	CHECK(run(d, &m, &reply, &has) == 0 && !has);
	msg(&m, VU_GET_QUEUE_NUM, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.u64 == 1);
	msg(&m, VU_SET_OWNER, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && !has);
	cfg_msg(&m, VU_GET_CONFIG, 0, 60);
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.config.size == 60);
	/* start */
	msg_u64(&m, VU_SET_FEATURES, f);
	CHECK(run(d, &m, &reply, &has) == 0 && !has && !d->err[0]);
	mem_msg(&m, fd0, fd1);
	m.hdr.flags |= VU_FLAG_NEED_REPLY;
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.u64 == 0);
	msg_state(&m, VU_SET_VRING_NUM, 0, 256);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	msg_state(&m, VU_SET_VRING_BASE, 0, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	addr_msg(&m, 0, R0_QVA + 0x1000, R0_QVA + 0x2000, R0_QVA + 0x3000);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	msg_u64(&m, VU_SET_VRING_KICK, 0);
	m.nfds = 1;
	m.fds[0] = kick0;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	msg_u64(&m, VU_SET_VRING_CALL, 0);
	m.nfds = 1;
	m.fds[0] = call0;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	msg_state(&m, VU_SET_VRING_ENABLE, 0, 1);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	CHECK(d->attached && mk.attached);
	/* stop */
	msg_state(&m, VU_SET_VRING_ENABLE, 0, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	msg_state(&m, VU_GET_VRING_BASE, 0, 0);
	CHECK(run(d, &m, &reply, &has) == 0 && has && reply.p.state.num == 42);
	CHECK(!mk.attached);
	/* restart after a guest reboot */
	msg_state(&m, VU_SET_VRING_NUM, 0, 256);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	msg_state(&m, VU_SET_VRING_BASE, 0, 42);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	addr_msg(&m, 0, R0_QVA + 0x1000, R0_QVA + 0x2000, R0_QVA + 0x3000);
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0]);
	msg_u64(&m, VU_SET_VRING_KICK, 0);
	m.nfds = 1;
	m.fds[0] = kick0;
	CHECK(run(d, &m, &reply, &has) == 0 && !d->err[0] && mk.attached);

	free_dev(d);
	CHECK(mk.open_fds == 0);
	close(fd0);
	close(fd1);
	close(kick0);
	close(call0);
}

/* ---- socket framing (vu_sock.c) ---- */

static int open_fd_count(void)
{
	int n = 0, fd;

	for (fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* Send @len bytes of @buf with @nfds fds in one sendmsg. */
static void send_raw(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nfds) {
		mh.msg_control = u.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	if (sendmsg(sock, &mh, 0) != (ssize_t)len) {
		perror("sendmsg");
		exit(2);
	}
}

static void test_socket(void)
{
	struct mock mk;
	struct vu_dev *d = new_dev(&mk, false, 1);
	uint8_t buf[512];
	struct vu_hdr h;
	struct vu_msg *m = calloc(1, sizeof(*m)), reply;
	int sv[2], fds[9], i, before;
	bool has;

	for (i = 0; i < 9; i++)
		fds[i] = memfd(4096);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	before = open_fd_count();

	/* A memory table with two fds, as QEMU sends it. */
	h = (struct vu_hdr){ VU_SET_MEM_TABLE, VU_VERSION | VU_FLAG_NEED_REPLY, 8 + 64 };
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &h, 12);
	buf[12] = 2;
	memcpy(buf + 20 + 8, "\x00\x10\x00\x00", 4);	/* region 0 size 4096 */
	send_raw(sv[1], buf, 12 + 72, fds, 2);
	CHECK(vu_read_msg(d, sv[0], m) == 1);
	CHECK(m->hdr.request == VU_SET_MEM_TABLE && m->hdr.size == 72);
	CHECK(m->nfds == 2 && m->p.mem.nregions == 2 && m->p.mem.regions[0].size == 4096);
	CHECK(open_fd_count() == before + 2);
	vu_close_fds(m);
	CHECK(open_fd_count() == before && m->nfds == 0);

	/* Header in pieces, payload after. */
	h = (struct vu_hdr){ VU_SET_FEATURES, VU_VERSION, 8 };
	memcpy(buf, &h, 12);
	memcpy(buf + 12, "\x01\x00\x00\x40\x00\x00\x00\x00", 8);
	send_raw(sv[1], buf, 5, NULL, 0);
	send_raw(sv[1], buf + 5, 7, NULL, 0);
	send_raw(sv[1], buf + 12, 8, NULL, 0);
	CHECK(vu_read_msg(d, sv[0], m) == 1);
	CHECK(m->hdr.request == VU_SET_FEATURES && m->p.u64 == 0x40000001ull && !m->nfds);

	/* Oversized payload: refused before reading it, fds closed. */
	h = (struct vu_hdr){ VU_SET_MEM_TABLE, VU_VERSION, 100000 };
	memcpy(buf, &h, 12);
	send_raw(sv[1], buf, 12, fds, 3);
	CHECK(vu_read_msg(d, sv[0], m) == -EPROTO);
	CHECK(open_fd_count() == before);

	/* More fds than a message may carry. */
	{
		int sv2[2];

		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == 0);
		h = (struct vu_hdr){ VU_SET_MEM_TABLE, VU_VERSION, 8 + 32 };
		memset(buf, 0, sizeof(buf));
		memcpy(buf, &h, 12);
		send_raw(sv2[1], buf, 12 + 40, fds, 9);
		before = open_fd_count();
		CHECK(vu_read_msg(d, sv2[0], m) == -EPROTO);
		CHECK(open_fd_count() == before);
		close(sv2[0]);
		close(sv2[1]);
	}

	/* A reply goes out as header + payload. */
	msg(m, VU_GET_QUEUE_NUM, 0);
	CHECK(vu_handle(d, m, &reply, &has) == 0 && has);
	CHECK(vu_send_msg(sv[0], &reply) == 0);
	CHECK(read(sv[1], buf, sizeof(buf)) == 20);
	memcpy(&h, buf, 12);
	CHECK(h.request == VU_GET_QUEUE_NUM && h.flags == (VU_VERSION | VU_FLAG_REPLY) &&
	      h.size == 8 && buf[12] == 1);

	/* Truncated payload then EOF; then EOF before a header. */
	{
		int sv2[2];

		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2) == 0);
		h = (struct vu_hdr){ VU_SET_FEATURES, VU_VERSION, 8 };
		memcpy(buf, &h, 12);
		send_raw(sv2[1], buf, 12 + 3, NULL, 0);
		close(sv2[1]);
		CHECK(vu_read_msg(d, sv2[0], m) == -EPIPE);
		CHECK(vu_read_msg(d, sv2[0], m) == 0);
		close(sv2[0]);
	}
	close(sv[1]);
	CHECK(vu_read_msg(d, sv[0], m) == 0);
	close(sv[0]);
	for (i = 0; i < 9; i++)
		close(fds[i]);
	free(m);
	free_dev(d);
}

/* An export's limits: on every kernel device, right after SET_OWNER. */
static void test_qos(void)
{
	struct vhost_blk_qos q = { .read_iops = 300, .write_bps = 20 << 20,
				   .burst_ms = 50 };
	const struct call *c;
	struct mock mk;
	struct vu_dev d;
	int r;

	/* The probe applies them: a limit the kernel refuses fails here. */
	mock_init(&mk);
	r = vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, 1, NULL, 0, &q);
	CHECK(r == 0);
	CHECK(mk.ncalls == 6);
	CHECK(mk.calls[0].req == VHOST_SET_OWNER);
	CHECK(mk.calls[1].req == VHOST_BLK_SET_QOS);
	CHECK(mk.calls[1].qos.read_iops == 300 && mk.calls[1].qos.write_iops == 0 &&
	      mk.calls[1].qos.read_bps == 0 && mk.calls[1].qos.write_bps == 20 << 20 &&
	      mk.calls[1].qos.burst_ms == 50 && mk.calls[1].qos.flags == 0);
	CHECK(mk.calls[2].req == VHOST_BLK_SET_BACKEND);

	mock_init(&mk);
	mk.fail_req = VHOST_BLK_SET_QOS;
	mk.fail_req_err = -EINVAL;
	r = vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, 1, NULL, 0, &q);
	CHECK(r == -EINVAL);
	CHECK(strstr(d.err, "VHOST_BLK_SET_QOS") != NULL);
	CHECK(mk.open_fds == 0);

	/* Each session's device gets them too, before its backend. */
	mock_init(&mk);
	r = vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, 1, NULL, 0, &q);
	CHECK(r == 0);
	mk.ncalls = 0;
	CHECK(vu_session_start(&d) == 0);
	CHECK(mk.ncalls == 2 && mk.calls[1].req == VHOST_BLK_SET_QOS &&
	      mk.calls[1].qos.read_iops == 300);

	/* New limits during the session: at once, on the session's device. */
	mk.ncalls = 0;
	q.read_iops = 600;
	CHECK(vu_dev_set_qos(&d, &q) == 0);
	CHECK(mk.ncalls == 1 && mk.calls[0].req == VHOST_BLK_SET_QOS &&
	      mk.calls[0].fd == d.kfd && mk.calls[0].qos.read_iops == 600);
	mk.fail_req = VHOST_BLK_SET_QOS;
	mk.fail_req_err = -EINVAL;
	CHECK(vu_dev_set_qos(&d, &q) == -EINVAL);
	CHECK(strstr(d.err, "VHOST_BLK_SET_QOS") != NULL);
	mk.fail_req = 0;
	vu_session_end(&d);

	/* Without a session: kept for the next one, no ioctl now. */
	mk.ncalls = 0;
	memset(&q, 0, sizeof(q));
	CHECK(vu_dev_set_qos(&d, &q) == 0);
	CHECK(mk.ncalls == 0);
	CHECK(vu_session_start(&d) == 0);
	c = last_req(&mk, VHOST_BLK_SET_QOS);
	CHECK(c && c->qos.read_iops == 0 && c->qos.write_bps == 0);
	vu_session_end(&d);
	CHECK(mk.open_fds == 0);

	/* No limits given: no VHOST_BLK_SET_QOS at all. */
	mock_init(&mk);
	r = vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, 1, NULL, 0, NULL);
	CHECK(r == 0 && count_req(&mk, VHOST_BLK_SET_QOS) == 0);
	CHECK(vu_session_start(&d) == 0);
	CHECK(count_req(&mk, VHOST_BLK_SET_QOS) == 0);
	vu_session_end(&d);
}

/* Busy polling: every ring of every session's device, and at once. */
static void test_busyloop(void)
{
	struct mock mk;
	struct vu_dev d;
	unsigned int n;
	int i;

	mock_init(&mk);
	CHECK(vu_dev_init(&d, &mock_ops, &mk, DISK_FD, false, 3, NULL, 0,
			  NULL) == 0);
	CHECK(count_req(&mk, VHOST_SET_VRING_BUSYLOOP_TIMEOUT) == 0);
	mk.ncalls = 0;
	CHECK(vu_dev_set_busyloop(&d, 49) == 0);	/* no session: kept */
	CHECK(mk.ncalls == 0);
	CHECK(vu_session_start(&d) == 0);
	CHECK(count_req(&mk, VHOST_SET_VRING_BUSYLOOP_TIMEOUT) == 3);
	for (i = 0, n = 0; i < mk.ncalls; i++) {
		if (mk.calls[i].req != VHOST_SET_VRING_BUSYLOOP_TIMEOUT)
			continue;
		CHECK(mk.calls[i].state.index == n &&
		      mk.calls[i].state.num == 49);
		n++;
	}
	/* Changed during the session: the open device, every ring. */
	mk.ncalls = 0;
	CHECK(vu_dev_set_busyloop(&d, 0) == 0);
	CHECK(mk.ncalls == 3 && mk.calls[2].state.index == 2 &&
	      mk.calls[2].state.num == 0);
	mk.fail_req = VHOST_SET_VRING_BUSYLOOP_TIMEOUT;
	mk.fail_req_err = -ENOTTY;
	CHECK(vu_dev_set_busyloop(&d, 10) == -ENOTTY);
	CHECK(strstr(d.err, "BUSYLOOP") != NULL);
	mk.fail_req = 0;
	vu_session_end(&d);
	/* Off (0): the next session's device gets no ioctl for it. */
	mk.ncalls = 0;
	CHECK(vu_dev_set_busyloop(&d, 0) == 0);
	CHECK(vu_session_start(&d) == 0);
	CHECK(count_req(&mk, VHOST_SET_VRING_BUSYLOOP_TIMEOUT) == 0);
	vu_session_end(&d);
	CHECK(mk.open_fds == 0);
}

int main(void)
{
	test_init();
	test_features();
	test_protocol_and_ack();
	test_header_checks();
	test_mem_table();
	test_vrings();
	test_log();
	test_config();
	test_reset_and_reconnect();
	test_qemu_sequence();
	test_socket();
	test_qos();
	test_busyloop();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
