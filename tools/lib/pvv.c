// SPDX-License-Identifier: GPL-2.0
/*
 * pvv: userspace virtio-blk driver over /dev/vhost-blk or vhost-user-blk.
 * See pvv.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/vhost_blk.h>

#include "pvv.h"

/*
 * struct virtio_blk_config is 96 bytes in Linux >= 6.3 (zoned fields) but
 * 72 in older userspace headers, and VHOST_BLK_GET_CONFIG encodes the size.
 * Use our own fixed buffers and try the 6.12 size first.
 */
#define PVV_CFG_BYTES_612	96
#define PVV_CFG_BYTES_61	72
struct pvv_cfg612 { uint8_t b[PVV_CFG_BYTES_612]; };
struct pvv_cfg61 { uint8_t b[PVV_CFG_BYTES_61]; };
#define PVV_BLK_GET_CONFIG_612	_IOR(VHOST_VIRTIO, 0x52, struct pvv_cfg612)
#define PVV_BLK_GET_CONFIG_61	_IOR(VHOST_VIRTIO, 0x52, struct pvv_cfg61)
#define PVV_BLK_SET_BACKEND	_IOW(VHOST_VIRTIO, 0x50, struct vhost_vring_file)
struct pvv_serial { uint32_t len, reserved; uint8_t id[20]; };
#define PVV_BLK_SET_SERIAL	_IOW(VHOST_VIRTIO, 0x51, struct pvv_serial)

/* vhost-user protocol */
enum {
	VU_GET_FEATURES = 1, VU_SET_FEATURES = 2, VU_SET_OWNER = 3,
	VU_SET_MEM_TABLE = 5, VU_SET_VRING_NUM = 8, VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10, VU_GET_VRING_BASE = 11, VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13, VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16, VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18, VU_GET_CONFIG = 24,
};
#define VU_VERSION		0x1
#define VU_FLAG_REPLY		0x4
#define VU_FLAG_NEED_REPLY	0x8
#define VU_F_PROTOCOL_FEATURES	30
#define VU_PF_MQ		0
#define VU_PF_REPLY_ACK		3
#define VU_PF_CONFIG		9
#define VU_CFG_SIZE		60	/* up to write_zeroes_may_unmap + pad */

struct vu_hdr {
	uint32_t request, flags, size;
} __attribute__((packed));

struct vu_region {
	uint64_t gpa, size, uaddr, mmap_offset;
};

struct vu_msg {
	struct vu_hdr h;
	union {
		uint64_t u64;
		struct { uint32_t index, num; } state;
		struct {
			uint32_t index, flags;
			uint64_t desc, used, avail, log;
		} addr;
		struct {
			uint32_t nregions, pad;
			struct vu_region r[8];
		} mem;
		struct {
			uint32_t offset, size, flags;
			uint8_t data[256];
		} cfg;
	} u;
} __attribute__((packed));

struct pvv_slot {
	struct virtio_blk_outhdr hdr;
	uint8_t status;
	uint8_t pad[15];
};

struct pvv_dev {
	struct pvv_opts o;
	int ctl;		/* vhost fd or socket */
	int mem_fd;
	uint8_t *mem;
	size_t mem_size, mem_used;
	pthread_mutex_t lock;	/* protects mem_used */
	uint64_t features, proto;
	int backing_fd;		/* ours to close, or -1 */
	struct pvv_config cfg;
	unsigned int nq;
	struct pvv_vq *vqs;
	struct pvv_desc *itables;	/* vq * num * (max_segs + 2) */
};

#define ERR(...) fprintf(stderr, "pvv: " __VA_ARGS__)

static inline void mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

void *pvv_alloc(struct pvv_dev *d, size_t size, size_t align)
{
	size_t off;
	void *p = NULL;

	if (!align)
		align = 8;
	pthread_mutex_lock(&d->lock);
	off = (d->mem_used + align - 1) & ~(align - 1);
	if (off <= d->mem_size && size <= d->mem_size - off) {
		p = d->mem + off;
		d->mem_used = off + size;
	}
	pthread_mutex_unlock(&d->lock);
	return p;
}

int pvv_in_mem(struct pvv_dev *d, const void *p, size_t len)
{
	const uint8_t *b = p;

	return b >= d->mem && b <= d->mem + d->mem_size &&
	       len <= (size_t)(d->mem + d->mem_size - b);
}

const struct pvv_config *pvv_config(struct pvv_dev *d) { return &d->cfg; }
uint64_t pvv_features(struct pvv_dev *d) { return d->features; }
unsigned int pvv_nqueues(struct pvv_dev *d) { return d->nq; }
int pvv_ctl_fd(struct pvv_dev *d) { return d->ctl; }

struct pvv_vq *pvv_vq(struct pvv_dev *d, unsigned int i)
{
	return i < d->nq ? &d->vqs[i] : NULL;
}

static void parse_cfg(const uint8_t *b, size_t n, struct pvv_config *c)
{
	uint8_t raw[PVV_CFG_BYTES_612] = { 0 };

	memcpy(raw, b, n < sizeof(raw) ? n : sizeof(raw));
	memset(c, 0, sizeof(*c));
	memcpy(&c->capacity, raw + 0, 8);
	memcpy(&c->size_max, raw + 8, 4);
	memcpy(&c->seg_max, raw + 12, 4);
	memcpy(&c->blk_size, raw + 20, 4);
	c->physical_block_exp = raw[24];
	memcpy(&c->num_queues, raw + 34, 2);
	memcpy(&c->max_discard_sectors, raw + 36, 4);
	memcpy(&c->max_discard_seg, raw + 40, 4);
	memcpy(&c->discard_sector_alignment, raw + 44, 4);
	memcpy(&c->max_write_zeroes_sectors, raw + 48, 4);
	memcpy(&c->max_write_zeroes_seg, raw + 52, 4);
	c->write_zeroes_may_unmap = raw[56];
}

/* ---------- vhost-user transport ---------- */

static int vu_send(struct pvv_dev *d, struct vu_msg *m, const int *fds,
		   int nfds)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = { m, sizeof(m->h) + m->h.size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	m->h.flags |= VU_VERSION;
	if (nfds) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(d->ctl, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)iov.iov_len)
		return n < 0 ? -errno : -EIO;
	return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= n;
	}
	return 0;
}

static int vu_recv(struct pvv_dev *d, uint32_t req, struct vu_msg *m)
{
	int r = read_full(d->ctl, &m->h, sizeof(m->h));

	if (r)
		return r;
	if (m->h.size > sizeof(m->u) || m->h.request != req ||
	    !(m->h.flags & VU_FLAG_REPLY))
		return -EPROTO;
	return read_full(d->ctl, &m->u, m->h.size);
}

/* Send a message; wait for the reply (get) or the ack (REPLY_ACK). */
static int vu_call(struct pvv_dev *d, uint32_t req, const void *payload,
		   uint32_t size, const int *fds, int nfds, void *reply,
		   uint32_t rsize)
{
	struct vu_msg m;
	int ack = !reply && (d->proto & (1ULL << VU_PF_REPLY_ACK));
	int r;

	memset(&m, 0, sizeof(m));
	m.h.request = req;
	m.h.size = size;
	if (ack)
		m.h.flags = VU_FLAG_NEED_REPLY;
	if (size)
		memcpy(&m.u, payload, size);
	r = vu_send(d, &m, fds, nfds);
	if (r)
		return r;
	if (!reply && !ack)
		return 0;
	r = vu_recv(d, req, &m);
	if (r)
		return r;
	if (ack)
		return m.u.u64 ? -EIO : 0;
	if (m.h.size < rsize)
		return -EPROTO;
	memcpy(reply, &m.u, rsize);
	return 0;
}

static int vu_u64(struct pvv_dev *d, uint32_t req, uint64_t v)
{
	return vu_call(d, req, &v, 8, NULL, 0, NULL, 0);
}

static int vu_connect(struct pvv_dev *d)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	if (strlen(d->o.path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, d->o.path);
	d->ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->ctl < 0)
		return -errno;
	if (connect(d->ctl, (struct sockaddr *)&a, sizeof(a)))
		return -errno;
	return 0;
}

static int vu_negotiate(struct pvv_dev *d, uint64_t want)
{
	uint64_t f, devf, pf;
	uint32_t qn;
	struct vu_msg m;
	int r;

	r = vu_call(d, VU_GET_FEATURES, NULL, 0, NULL, 0, &devf, 8);
	if (r)
		return r;
	if (!(devf & (1ULL << VU_F_PROTOCOL_FEATURES))) {
		ERR("vhost-user backend lacks PROTOCOL_FEATURES\n");
		return -EPROTO;
	}
	r = vu_call(d, VU_GET_PROTOCOL_FEATURES, NULL, 0, NULL, 0, &pf, 8);
	if (r)
		return r;
	pf &= (1ULL << VU_PF_MQ) | (1ULL << VU_PF_REPLY_ACK) |
	      (1ULL << VU_PF_CONFIG);
	if (!(pf & (1ULL << VU_PF_CONFIG))) {
		ERR("vhost-user backend lacks the CONFIG protocol feature\n");
		return -EPROTO;
	}
	r = vu_u64(d, VU_SET_PROTOCOL_FEATURES, pf);
	if (r)
		return r;
	d->proto = pf;
	if (pf & (1ULL << VU_PF_MQ)) {
		r = vu_call(d, VU_GET_QUEUE_NUM, NULL, 0, NULL, 0, &f, 8);
		if (r)
			return r;
		qn = f;
	} else {
		qn = 1;
	}
	if (d->nq > qn && d->o.clamp_queues)
		d->nq = qn;
	if (d->nq > qn) {
		ERR("backend serves %u queues, %u wanted\n", qn, d->nq);
		return -EINVAL;
	}
	r = vu_call(d, VU_SET_OWNER, NULL, 0, NULL, 0, NULL, 0);
	if (r)
		return r;
	memset(&m, 0, sizeof(m));
	m.u.cfg.size = VU_CFG_SIZE;
	r = vu_call(d, VU_GET_CONFIG, &m.u.cfg, 12 + VU_CFG_SIZE, NULL, 0,
		    &m.u.cfg, 12 + VU_CFG_SIZE);
	if (r)
		return r;
	parse_cfg(m.u.cfg.data, VU_CFG_SIZE, &d->cfg);
	d->features = (devf & want) | (1ULL << VU_F_PROTOCOL_FEATURES);
	return vu_u64(d, VU_SET_FEATURES, d->features);
}

static int vu_setup(struct pvv_dev *d)
{
	struct vu_msg m;
	unsigned int i;
	int r;

	memset(&m, 0, sizeof(m));
	m.u.mem.nregions = 1;
	m.u.mem.r[0].gpa = (uintptr_t)d->mem;
	m.u.mem.r[0].size = d->mem_size;
	m.u.mem.r[0].uaddr = (uintptr_t)d->mem;
	r = vu_call(d, VU_SET_MEM_TABLE, &m.u.mem,
		    8 + sizeof(struct vu_region), &d->mem_fd, 1, NULL, 0);
	if (r)
		return r;
	for (i = 0; i < d->nq; i++) {
		struct pvv_vq *vq = &d->vqs[i];

		m.u.state.index = i;
		m.u.state.num = vq->num;
		r = vu_call(d, VU_SET_VRING_NUM, &m.u.state, 8, NULL, 0,
			    NULL, 0);
		if (r)
			return r;
		m.u.state.num = 0;
		r = vu_call(d, VU_SET_VRING_BASE, &m.u.state, 8, NULL, 0,
			    NULL, 0);
		if (r)
			return r;
		memset(&m.u.addr, 0, sizeof(m.u.addr));
		m.u.addr.index = i;
		m.u.addr.desc = (uintptr_t)vq->desc;
		m.u.addr.used = (uintptr_t)vq->used;
		m.u.addr.avail = (uintptr_t)vq->avail;
		r = vu_call(d, VU_SET_VRING_ADDR, &m.u.addr,
			    sizeof(m.u.addr), NULL, 0, NULL, 0);
		if (r)
			return r;
		m.u.u64 = i;
		r = vu_call(d, VU_SET_VRING_CALL, &m.u.u64, 8, &vq->call_fd,
			    1, NULL, 0);
		if (r)
			return r;
		r = vu_call(d, VU_SET_VRING_KICK, &m.u.u64, 8, &vq->kick_fd,
			    1, NULL, 0);
		if (r)
			return r;
	}
	for (i = 0; i < d->nq; i++) {
		m.u.state.index = i;
		m.u.state.num = 1;
		r = vu_call(d, VU_SET_VRING_ENABLE, &m.u.state, 8, NULL, 0,
			    NULL, 0);
		if (r)
			return r;
	}
	return 0;
}

/* ---------- /dev/vhost-blk transport ---------- */

static int kioctl(struct pvv_dev *d, unsigned long req, void *arg)
{
	return ioctl(d->ctl, req, arg) ? -errno : 0;
}

int pvv_set_backend(struct pvv_dev *d, int fd)
{
	struct vhost_vring_file f = { .index = 0, .fd = fd };

	if (d->o.kind != PVV_VHOST_KERNEL)
		return -EOPNOTSUPP;
	return kioctl(d, PVV_BLK_SET_BACKEND, &f);
}

int pvv_set_busyloop(struct pvv_dev *d, unsigned int index, unsigned int num)
{
	struct vhost_vring_state st = { .index = index, .num = num };

	if (d->o.kind != PVV_VHOST_KERNEL)
		return -EOPNOTSUPP;
	return kioctl(d, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st);
}

int pvv_get_busyloop(struct pvv_dev *d, unsigned int index, unsigned int *num)
{
	struct vhost_vring_state st = { .index = index };
	int r;

	if (d->o.kind != PVV_VHOST_KERNEL)
		return -EOPNOTSUPP;
	r = kioctl(d, VHOST_GET_VRING_BUSYLOOP_TIMEOUT, &st);
	if (!r)
		*num = st.num;
	return r;
}

int pvv_set_qos(struct pvv_dev *d, const struct pvv_qos *q)
{
	struct vhost_blk_qos k;

	if (d->o.kind != PVV_VHOST_KERNEL)
		return -EOPNOTSUPP;
	memset(&k, 0, sizeof(k));
	k.read_iops = q->read_iops;
	k.write_iops = q->write_iops;
	k.read_bps = q->read_bps;
	k.write_bps = q->write_bps;
	k.burst_ms = q->burst_ms;
	return kioctl(d, VHOST_BLK_SET_QOS, &k);
}

int pvv_get_qos(struct pvv_dev *d, struct pvv_qos *q)
{
	struct vhost_blk_qos k;
	int r;

	if (d->o.kind != PVV_VHOST_KERNEL)
		return -EOPNOTSUPP;
	memset(&k, 0, sizeof(k));
	r = kioctl(d, VHOST_BLK_GET_QOS, &k);
	if (r)
		return r;
	q->read_iops = k.read_iops;
	q->write_iops = k.write_iops;
	q->read_bps = k.read_bps;
	q->write_bps = k.write_bps;
	q->burst_ms = k.burst_ms;
	return 0;
}

/* One value: decimal, for a byte rate with an optional K/M/G/T suffix. */
static int qos_number(const char *v, size_t n, int size, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned int shift = 0;
	const char *u;
	uint64_t x = 0;
	size_t i;

	if (size && n > 1 && (u = memchr(units, v[n - 1] & ~0x20, 4))) {
		shift = 10 * (unsigned int)(u - units + 1);
		n--;
	}
	if (!n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || x > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (shift && x > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = x << shift;
	return 0;
}

int pvv_parse_qos(const char *s, struct pvv_qos *q)
{
	static const char *const keys[] = {
		"riops", "wiops", "rbps", "wbps", "burst",
	};
	unsigned int seen = 0, k;
	uint64_t v;
	size_t n;

	memset(q, 0, sizeof(*q));
	for (;;) {
		s += strspn(s, ", \t\n");
		if (!*s)
			return 0;
		for (k = 0; k < 5; k++) {
			n = strlen(keys[k]);
			if (!strncmp(s, keys[k], n) && s[n] == '=')
				break;
		}
		if (k == 5 || (seen & (1u << k)))
			return -EINVAL;
		seen |= 1u << k;
		s += n + 1;
		n = strcspn(s, ", \t\n");
		if (qos_number(s, n, k == 2 || k == 3, &v))
			return -EINVAL;
		s += n;
		switch (k) {
		case 0: q->read_iops = v; break;
		case 1: q->write_iops = v; break;
		case 2: q->read_bps = v; break;
		case 3: q->write_bps = v; break;
		default:
			if (v > UINT32_MAX)
				return -EINVAL;
			q->burst_ms = (uint32_t)v;
		}
	}
}

int pvv_get_config_raw(struct pvv_dev *d, struct pvv_config *c)
{
	struct pvv_cfg612 b;
	int r;

	if (d->o.kind != PVV_VHOST_KERNEL)
		return -EOPNOTSUPP;
	memset(&b, 0, sizeof(b));
	r = kioctl(d, PVV_BLK_GET_CONFIG_612, &b);
	if (r == -ENOTTY)
		r = kioctl(d, PVV_BLK_GET_CONFIG_61, &b);
	if (!r)
		parse_cfg(b.b, sizeof(b.b), c);
	return r;
}

static int vk_negotiate(struct pvv_dev *d, uint64_t want)
{
	uint64_t f;
	int r;

	d->ctl = open(d->o.path, O_RDWR | O_CLOEXEC);
	if (d->ctl < 0)
		return -errno;
	r = kioctl(d, VHOST_SET_OWNER, NULL);
	if (r)
		return r;
	if (d->o.backing_fd >= 0) {
		r = pvv_set_backend(d, d->o.backing_fd);
	} else if (d->o.backing) {
		d->backing_fd = open(d->o.backing, (d->o.read_only ? O_RDONLY :
				     O_RDWR) | O_CLOEXEC);
		if (d->backing_fd < 0) {
			r = -errno;
			ERR("%s: %s\n", d->o.backing, strerror(errno));
			return r;
		}
		r = pvv_set_backend(d, d->backing_fd);
	}
	if (r) {
		ERR("VHOST_BLK_SET_BACKEND: %s\n", strerror(-r));
		return r;
	}
	if (d->o.serial) {
		struct pvv_serial s = { 0 };

		s.len = strlen(d->o.serial);
		if (s.len > sizeof(s.id))
			s.len = sizeof(s.id);
		memcpy(s.id, d->o.serial, s.len);
		r = kioctl(d, PVV_BLK_SET_SERIAL, &s);
		if (r) {
			ERR("VHOST_BLK_SET_SERIAL: %s\n", strerror(-r));
			return r;
		}
	}
	if (d->o.qos) {
		struct pvv_qos q;

		r = pvv_parse_qos(d->o.qos, &q);
		if (r) {
			ERR("QoS limits \"%s\": not riops=N,wiops=N,rbps=N,wbps=N,burst=MS\n",
			    d->o.qos);
			return r;
		}
		r = pvv_set_qos(d, &q);
		if (r) {
			ERR("VHOST_BLK_SET_QOS: %s\n", strerror(-r));
			return r;
		}
	}
	if (d->o.backing_fd >= 0 || d->o.backing) {
		r = pvv_get_config_raw(d, &d->cfg);
		if (r) {
			ERR("VHOST_BLK_GET_CONFIG: %s\n", strerror(-r));
			return r;
		}
	}
	if (d->o.clamp_queues && d->cfg.num_queues &&
	    d->nq > d->cfg.num_queues)
		d->nq = d->cfg.num_queues;
	r = kioctl(d, VHOST_GET_FEATURES, &f);
	if (r)
		return r;
	d->features = f & want;
	return kioctl(d, VHOST_SET_FEATURES, &d->features);
}

static int vk_setup(struct pvv_dev *d)
{
	struct {
		struct vhost_memory m;
		struct vhost_memory_region r;
	} mt;
	unsigned int i;
	int r;

	memset(&mt, 0, sizeof(mt));
	mt.m.nregions = 1;
	mt.r.guest_phys_addr = (uintptr_t)d->mem;
	mt.r.memory_size = d->mem_size;
	mt.r.userspace_addr = (uintptr_t)d->mem;
	r = kioctl(d, VHOST_SET_MEM_TABLE, &mt);
	if (r)
		return r;
	for (i = 0; i < d->nq; i++) {
		struct pvv_vq *vq = &d->vqs[i];
		struct vhost_vring_state st = { .index = i, .num = vq->num };
		struct vhost_vring_addr a = {
			.index = i,
			.desc_user_addr = (uintptr_t)vq->desc,
			.used_user_addr = (uintptr_t)vq->used,
			.avail_user_addr = (uintptr_t)vq->avail,
		};
		struct vhost_vring_file f = { .index = i };

		r = kioctl(d, VHOST_SET_VRING_NUM, &st);
		if (r)
			return r;
		st.num = 0;
		r = kioctl(d, VHOST_SET_VRING_BASE, &st);
		if (r)
			return r;
		r = kioctl(d, VHOST_SET_VRING_ADDR, &a);
		if (r)
			return r;
		f.fd = vq->kick_fd;
		r = kioctl(d, VHOST_SET_VRING_KICK, &f);
		if (r)
			return r;
		f.fd = vq->call_fd;
		r = kioctl(d, VHOST_SET_VRING_CALL, &f);
		if (r)
			return r;
		if (vq->err_fd >= 0) {
			f.fd = vq->err_fd;
			r = kioctl(d, VHOST_SET_VRING_ERR, &f);
			if (r)
				return r;
		}
		if (d->o.busyloop) {
			r = pvv_set_busyloop(d, i, d->o.busyloop);
			if (r)
				return r;
		}
	}
	return 0;
}

/* ---------- device setup ---------- */

static int vq_init(struct pvv_dev *d, struct pvv_vq *vq, unsigned int i)
{
	unsigned int n = d->o.qsize, j;

	vq->dev = d;
	vq->index = i;
	vq->num = n;
	vq->kick_fd = vq->call_fd = vq->err_fd = -1;
	vq->desc = pvv_alloc(d, 16 * n, 4096);
	vq->avail = pvv_alloc(d, 6 + 2 * n, 4096);
	vq->used = pvv_alloc(d, 6 + 8 * n, 4096);
	vq->slots = pvv_alloc(d, sizeof(struct pvv_slot) * n, 64);
	vq->cookies = calloc(n, sizeof(void *));
	vq->chain_len = calloc(n, sizeof(uint16_t));
	vq->scratch = calloc(d->o.max_segs + 1, sizeof(struct iovec));
	if (!vq->scratch || !vq->desc || !vq->avail || !vq->used || !vq->slots ||
	    !vq->cookies || !vq->chain_len)
		return -ENOMEM;
	for (j = 0; j < n; j++)
		vq->desc[j].next = j + 1;
	vq->free_head = 0;
	vq->nfree = n;
	vq->event_idx = !!(d->features & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	/*
	 * Polling the used ring: no calls wanted.  With EVENT_IDX used_event
	 * is simply never moved (it stays 0, so the device signals once per
	 * 65536 completions at most); without it the flag says so.
	 */
	if (d->o.poll && !vq->event_idx)
		vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	vq->indirect = !!(d->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	vq->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->kick_fd < 0 || vq->call_fd < 0)
		return -errno;
	if (d->o.err_fd) {
		vq->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vq->err_fd < 0)
			return -errno;
	}
	return 0;
}

struct pvv_dev *pvv_open(const struct pvv_opts *o)
{
	uint64_t want = (1ULL << VIRTIO_F_VERSION_1) |
		(1ULL << VIRTIO_BLK_F_SIZE_MAX) | (1ULL << VIRTIO_BLK_F_SEG_MAX) |
		(1ULL << VIRTIO_BLK_F_BLK_SIZE) | (1ULL << VIRTIO_BLK_F_TOPOLOGY) |
		(1ULL << VIRTIO_BLK_F_MQ) | (1ULL << VIRTIO_BLK_F_FLUSH) |
		(1ULL << VIRTIO_BLK_F_RO) | (1ULL << VIRTIO_BLK_F_DISCARD) |
		(1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
	struct pvv_dev *d;
	unsigned int i;
	int r;

	if (!o->no_indirect)
		want |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (!o->no_event_idx)
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->o = *o;
	d->ctl = d->mem_fd = d->backing_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	if (!d->o.qsize)
		d->o.qsize = 128;
	if (!d->o.nqueues)
		d->o.nqueues = 1;
	if (!d->o.mem_size)
		d->o.mem_size = 64 << 20;
	if (!d->o.max_segs)
		d->o.max_segs = 128;
	if (d->o.qsize & (d->o.qsize - 1) || d->o.qsize > 32768 ||
	    !d->o.path) {
		ERR("bad options\n");
		goto fail;
	}
	d->nq = d->o.nqueues;
	d->mem_size = (d->o.mem_size + 4095) & ~(size_t)4095;
	d->mem_fd = memfd_create("pvv-guest", MFD_CLOEXEC);
	if (d->mem_fd < 0 || ftruncate(d->mem_fd, d->mem_size)) {
		ERR("memfd: %s\n", strerror(errno));
		goto fail;
	}
	d->mem = mmap(NULL, d->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      d->mem_fd, 0);
	if (d->mem == MAP_FAILED) {
		d->mem = NULL;
		ERR("mmap: %s\n", strerror(errno));
		goto fail;
	}
	if (o->kind == PVV_VHOST_USER) {
		r = vu_connect(d);
		if (r) {
			ERR("connect %s: %s\n", o->path, strerror(-r));
			goto fail;
		}
		r = vu_negotiate(d, want);
	} else {
		r = vk_negotiate(d, want);
	}
	if (r) {
		ERR("%s: negotiation failed: %s\n", o->path, strerror(-r));
		goto fail;
	}
	if (!(d->features & (1ULL << VIRTIO_F_VERSION_1))) {
		ERR("device does not offer VERSION_1\n");
		goto fail;
	}
	d->vqs = calloc(d->nq, sizeof(*d->vqs));
	if (!d->vqs)
		goto fail;
	for (i = 0; i < d->nq; i++) {
		r = vq_init(d, &d->vqs[i], i);
		if (r) {
			ERR("vq %u: %s\n", i, strerror(-r));
			goto fail;
		}
	}
	if (d->features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC)) {
		d->itables = pvv_alloc(d, (size_t)d->nq * d->o.qsize *
				       (d->o.max_segs + 2) * 16, 4096);
		if (!d->itables) {
			ERR("guest memory too small for indirect tables\n");
			goto fail;
		}
	}
	r = o->kind == PVV_VHOST_USER ? vu_setup(d) : vk_setup(d);
	if (r) {
		ERR("%s: ring setup failed: %s\n", o->path, strerror(-r));
		goto fail;
	}
	return d;
fail:
	pvv_close(d);
	return NULL;
}

void pvv_close(struct pvv_dev *d)
{
	unsigned int i;

	if (!d)
		return;
	if (d->ctl >= 0)
		close(d->ctl);
	for (i = 0; d->vqs && i < d->nq; i++) {
		struct pvv_vq *vq = &d->vqs[i];

		if (vq->kick_fd >= 0)
			close(vq->kick_fd);
		if (vq->call_fd >= 0)
			close(vq->call_fd);
		if (vq->err_fd >= 0)
			close(vq->err_fd);
		free(vq->cookies);
		free(vq->chain_len);
		free(vq->scratch);
	}
	free(d->vqs);
	if (d->backing_fd >= 0)
		close(d->backing_fd);
	if (d->mem)
		munmap(d->mem, d->mem_size);
	if (d->mem_fd >= 0)
		close(d->mem_fd);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* ---------- data path ---------- */

static inline uint16_t *used_event(struct pvv_vq *vq)
{
	return &vq->avail->ring[vq->num];
}

static inline uint16_t *avail_event(struct pvv_vq *vq)
{
	return (uint16_t *)&vq->used->ring[vq->num];
}

void pvv_kick(struct pvv_vq *vq)
{
	uint64_t one = 1;

	if (write(vq->kick_fd, &one, 8) != 8)
		ERR("kick: %s\n", strerror(errno));
}

static void publish(struct pvv_vq *vq, uint16_t head, int nokick)
{
	uint16_t old = vq->avail_idx, nw = old + 1, ev;
	int kick;

	vq->avail->ring[old & (vq->num - 1)] = head;
	vq->avail_idx = nw;
	__atomic_store_n(&vq->avail->idx, nw, __ATOMIC_RELEASE);
	mb();
	if (vq->event_idx) {
		ev = __atomic_load_n(avail_event(vq), __ATOMIC_ACQUIRE);
		kick = (uint16_t)(nw - ev - 1) < (uint16_t)(nw - old);
	} else {
		kick = !(__atomic_load_n(&vq->used->flags, __ATOMIC_ACQUIRE) &
			 VRING_USED_F_NO_NOTIFY);
	}
	if (kick && !nokick)
		pvv_kick(vq);
}

void pvv_raw_publish(struct pvv_vq *vq, uint16_t head)
{
	publish(vq, head, 1);
	pvv_kick(vq);
}

unsigned int pvv_max_segs(struct pvv_dev *d)
{
	unsigned int m = d->o.max_segs;

	if ((d->features & (1ULL << VIRTIO_BLK_F_SEG_MAX)) && d->cfg.seg_max &&
	    d->cfg.seg_max < m)
		m = d->cfg.seg_max;
	return m;
}

uint32_t pvv_size_max(struct pvv_dev *d)
{
	uint32_t sm = 1u << 31;

	if ((d->features & (1ULL << VIRTIO_BLK_F_SIZE_MAX)) && d->cfg.size_max)
		sm = d->cfg.size_max;
	if (d->o.size_max && d->o.size_max < sm)
		sm = d->o.size_max;
	return sm;
}

/*
 * Copy iov into out (room for max_segs + 1 entries), cutting pieces longer
 * than size_max.  Returns the number of pieces; stops counting past the
 * room (the caller refuses those).
 */
static unsigned int split_iov(struct pvv_dev *d, const struct iovec *iov,
			      unsigned int niov, struct iovec *out)
{
	uint32_t sm = pvv_size_max(d);
	unsigned int i, n = 0;

	for (i = 0; i < niov; i++) {
		uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		do {
			size_t l = len < sm ? len : sm;

			if (n > d->o.max_segs)
				return n;
			out[n].iov_base = p;
			out[n].iov_len = l;
			n++;
			p += l;
			len -= l;
		} while (len);
	}
	return n;
}

unsigned int pvv_inflight(struct pvv_vq *vq)
{
	return vq->num - vq->nfree;
}

int pvv_submit(struct pvv_vq *vq, uint32_t type, uint64_t sector,
	       const struct iovec *iov, unsigned int niov, void *cookie,
	       int nokick)
{
	struct pvv_dev *d = vq->dev;
	uint16_t dflags = (type == VIRTIO_BLK_T_IN ||
			   type == VIRTIO_BLK_T_GET_ID) ? PVV_DESC_F_WRITE : 0;
	unsigned int need, i, n;
	struct pvv_slot *s;
	uint16_t head;

	/* Split at size_max; the pieces must fit seg_max and max_segs. */
	n = split_iov(d, iov, niov, vq->scratch);
	if (n > pvv_max_segs(d))
		return -E2BIG;
	iov = vq->scratch;
	niov = n;
	need = niov + 2;
	for (i = 0; i < niov; i++)
		if (!pvv_in_mem(d, iov[i].iov_base, iov[i].iov_len))
			return -EINVAL;
	if (vq->indirect && need > 1) {
		struct pvv_desc *t;

		if (!vq->nfree)
			return -EAGAIN;
		head = vq->free_head;
		vq->free_head = vq->desc[head].next;
		vq->nfree--;
		s = &vq->slots[head];
		t = d->itables + ((size_t)vq->index * vq->num + head) *
			(d->o.max_segs + 2);
		t[0].addr = (uintptr_t)&s->hdr;
		t[0].len = sizeof(s->hdr);
		t[0].flags = PVV_DESC_F_NEXT;
		t[0].next = 1;
		for (i = 0; i < niov; i++) {
			t[i + 1].addr = (uintptr_t)iov[i].iov_base;
			t[i + 1].len = iov[i].iov_len;
			t[i + 1].flags = dflags | PVV_DESC_F_NEXT;
			t[i + 1].next = i + 2;
		}
		t[niov + 1].addr = (uintptr_t)&s->status;
		t[niov + 1].len = 1;
		t[niov + 1].flags = PVV_DESC_F_WRITE;
		t[niov + 1].next = 0;
		vq->desc[head].addr = (uintptr_t)t;
		vq->desc[head].len = need * 16;
		vq->desc[head].flags = PVV_DESC_F_INDIRECT;
		vq->chain_len[head] = 1;
	} else {
		uint16_t cur, prev = 0;

		if (vq->nfree < need)
			return -EAGAIN;
		head = cur = vq->free_head;
		s = &vq->slots[head];
		for (i = 0; i < need; i++) {
			struct pvv_desc *dd = &vq->desc[cur];

			if (i == 0) {
				dd->addr = (uintptr_t)&s->hdr;
				dd->len = sizeof(s->hdr);
				dd->flags = PVV_DESC_F_NEXT;
			} else if (i == need - 1) {
				dd->addr = (uintptr_t)&s->status;
				dd->len = 1;
				dd->flags = PVV_DESC_F_WRITE;
			} else {
				dd->addr = (uintptr_t)iov[i - 1].iov_base;
				dd->len = iov[i - 1].iov_len;
				dd->flags = dflags | PVV_DESC_F_NEXT;
			}
			prev = cur;
			cur = dd->next;
		}
		vq->free_head = cur;
		vq->nfree -= need;
		(void)prev;
		vq->chain_len[head] = need;
	}
	s->hdr.type = type;
	s->hdr.ioprio = 0;
	s->hdr.sector = sector;
	s->status = 0xff;
	vq->cookies[head] = cookie;
	publish(vq, head, nokick);
	return 0;
}

/*
 * Return a chain to the free list.  The chain was linked through ->next
 * when it was built; the device does not write descriptors.
 */
static void free_chain(struct pvv_vq *vq, uint16_t head)
{
	uint16_t n = vq->chain_len[head], last = head, i;

	for (i = 1; i < n; i++)
		last = vq->desc[last].next;
	vq->desc[last].next = vq->free_head;
	vq->free_head = head;
	vq->nfree += n;
	vq->chain_len[head] = 0;
}

int pvv_reap(struct pvv_vq *vq, struct pvv_done *out, int max)
{
	uint16_t uidx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	int n = 0;

	while (n < max && vq->last_used != uidx) {
		struct pvv_used_elem *e =
			&vq->used->ring[vq->last_used & (vq->num - 1)];
		uint32_t id = e->id;

		vq->last_used++;
		if (id >= vq->num || !vq->chain_len[id]) {
			ERR("vq %u: device returned bad id %u\n", vq->index,
			    id);
			continue;
		}
		out[n].cookie = vq->cookies[id];
		out[n].status = vq->slots[id].status;
		out[n].len = e->len;
		free_chain(vq, id);
		n++;
	}
	if (vq->event_idx && !vq->dev->o.poll)
		__atomic_store_n(used_event(vq), vq->last_used,
				 __ATOMIC_RELEASE);
	return n;
}

/* pvv_wait() of the poll option: spin on the used ring. */
static int poll_used(struct pvv_vq *vq, int timeout_ms)
{
	struct pollfd p = { .fd = vq->err_fd, .events = POLLIN };
	struct timespec t0, t;
	unsigned long spins = 0;
	uint64_t v;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) !=
		    vq->last_used)
			return 0;
		/* Every so often: the error eventfd, the clock. */
		if (++spins % 4096)
			continue;
		if (vq->err_fd >= 0 && poll(&p, 1, 0) == 1) {
			if (read(vq->err_fd, &v, 8) != 8)
				v = 0;
			return 1;
		}
		if (timeout_ms < 0)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 >= timeout_ms)
			return -ETIMEDOUT;
	}
}

int pvv_wait(struct pvv_vq *vq, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = vq->call_fd, .events = POLLIN },
		{ .fd = vq->err_fd, .events = POLLIN },
	};
	uint64_t v;
	int r;

	if (vq->dev->o.poll)
		return poll_used(vq, timeout_ms);
	/* Ask for a notification, then re-check before sleeping. */
	if (vq->event_idx)
		__atomic_store_n(used_event(vq), vq->last_used,
				 __ATOMIC_RELEASE);
	mb();
	if (__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) != vq->last_used)
		return 0;
	do
		r = poll(p, vq->err_fd >= 0 ? 2 : 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (!r)
		return -ETIMEDOUT;
	if (p[0].revents & POLLIN)
		if (read(vq->call_fd, &v, 8) != 8)
			v = 0;
	if (vq->err_fd >= 0 && (p[1].revents & POLLIN)) {
		if (read(vq->err_fd, &v, 8) != 8)
			v = 0;
		return 1;
	}
	return 0;
}

int pvv_raw_next_used(struct pvv_vq *vq, struct pvv_used_elem *e,
		      int timeout_ms)
{
	for (;;) {
		uint16_t uidx = __atomic_load_n(&vq->used->idx,
						__ATOMIC_ACQUIRE);
		int r;

		if (uidx != vq->last_used) {
			*e = vq->used->ring[vq->last_used & (vq->num - 1)];
			vq->last_used++;
			if (vq->event_idx && !vq->dev->o.poll)
				__atomic_store_n(used_event(vq), vq->last_used,
						 __ATOMIC_RELEASE);
			return 0;
		}
		r = pvv_wait(vq, timeout_ms);
		if (r)
			return r;
	}
}

int pvv_sync(struct pvv_vq *vq, uint32_t type, uint64_t sector,
	     void *buf, size_t len)
{
	struct iovec iov = { buf, len };
	struct pvv_done done;
	int r, cookie;

	r = pvv_submit(vq, type, sector, &iov, len ? 1 : 0, &cookie, 0);
	if (r)
		return r;
	for (;;) {
		if (pvv_reap(vq, &done, 1) == 1)
			return done.status;
		r = pvv_wait(vq, -1);
		if (r < 0)
			return r;
		if (r == 1)
			return -EIO;
	}
}

void *pvv_mem(struct pvv_dev *d, size_t *size)
{
	if (size)
		*size = d->mem_size;
	return d->mem;
}

int pvv_mem_fd(struct pvv_dev *d)
{
	return d->mem_fd;
}
