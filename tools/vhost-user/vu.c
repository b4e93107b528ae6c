// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-vhost-user protocol engine: validates vhost-user messages from a
 * QEMU vhost-user-blk frontend and forwards rings, memory and eventfds to
 * /dev/vhost-blk.  The data path stays in the kernel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <linux/vhost_blk.h>

#include "vu.h"

_Static_assert(sizeof(struct virtio_blk_config) == 96,
	       "build against Linux 6.12 uapi headers (see tools/Makefile)");
_Static_assert(sizeof(struct vu_hdr) == 12, "vhost-user header");
_Static_assert(sizeof(struct vu_vring_addr) == 40, "vring addr");
_Static_assert(sizeof(struct vu_region) == 32, "memory region");
_Static_assert(VHOST_BLK_MAX_QUEUES <= 16, "vrings[] size");

static int fail(struct vu_dev *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct vu_dev *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *vu_request_name(uint32_t req)
{
	switch (req) {
	case VU_GET_FEATURES: return "GET_FEATURES";
	case VU_SET_FEATURES: return "SET_FEATURES";
	case VU_SET_OWNER: return "SET_OWNER";
	case VU_RESET_OWNER: return "RESET_OWNER";
	case VU_SET_MEM_TABLE: return "SET_MEM_TABLE";
	case VU_SET_LOG_BASE: return "SET_LOG_BASE";
	case VU_SET_LOG_FD: return "SET_LOG_FD";
	case VU_SET_VRING_NUM: return "SET_VRING_NUM";
	case VU_SET_VRING_ADDR: return "SET_VRING_ADDR";
	case VU_SET_VRING_BASE: return "SET_VRING_BASE";
	case VU_GET_VRING_BASE: return "GET_VRING_BASE";
	case VU_SET_VRING_KICK: return "SET_VRING_KICK";
	case VU_SET_VRING_CALL: return "SET_VRING_CALL";
	case VU_SET_VRING_ERR: return "SET_VRING_ERR";
	case VU_GET_PROTOCOL_FEATURES: return "GET_PROTOCOL_FEATURES";
	case VU_SET_PROTOCOL_FEATURES: return "SET_PROTOCOL_FEATURES";
	case VU_GET_QUEUE_NUM: return "GET_QUEUE_NUM";
	case VU_SET_VRING_ENABLE: return "SET_VRING_ENABLE";
	case VU_GET_CONFIG: return "GET_CONFIG";
	case VU_SET_CONFIG: return "SET_CONFIG";
	case VU_RESET_DEVICE: return "RESET_DEVICE";
	case VU_SET_BACKEND_REQ_FD: return "SET_BACKEND_REQ_FD";
	default: return "UNKNOWN";
	}
}

uint64_t vu_offered_features(const struct vu_dev *d)
{
	uint64_t f = d->kfeatures;

	/*
	 * Dirty logging (live migration) is the kernel's: VHOST_F_LOG_ALL as
	 * it offers it, the bitmap QEMU shares (LOG_SHMFD) handed to it.
	 */
	if (d->read_only)
		f |= 1ull << VIRTIO_BLK_F_RO;
	if (d->num_queues <= 1)
		f &= ~(1ull << VIRTIO_BLK_F_MQ);
	return f | (1ull << VU_F_PROTOCOL_FEATURES);
}

static int kio(struct vu_dev *d, unsigned long req, void *arg)
{
	if (d->kfd < 0)
		return -EBADF;
	return d->kops->ioctl(d->kctx, d->kfd, req, arg);
}

static int attach(struct vu_dev *d)
{
	struct vhost_vring_file b = { .index = 0, .fd = d->disk_fd };
	int r;

	if (d->attached)
		return 0;
	r = kio(d, VHOST_BLK_SET_BACKEND, &b);
	if (r)
		return fail(d, r, "VHOST_BLK_SET_BACKEND: %s", strerror(-r));
	d->attached = true;
	return 0;
}

/* Detach the backend; the kernel drains requests in flight first. */
static int detach(struct vu_dev *d)
{
	struct vhost_vring_file b = { .index = 0, .fd = -1 };
	int r;

	if (!d->attached)
		return 0;
	r = kio(d, VHOST_BLK_SET_BACKEND, &b);
	if (r)
		return fail(d, r, "VHOST_BLK_SET_BACKEND(-1): %s", strerror(-r));
	d->attached = false;
	return 0;
}

/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT on every ring of the open device. */
static int set_busyloop(struct vu_dev *d)
{
	struct vhost_vring_state st;
	unsigned int i;
	int r;

	for (i = 0; i < d->num_queues; i++) {
		st.index = i;
		st.num = d->busyloop;
		r = kio(d, VHOST_SET_VRING_BUSYLOOP_TIMEOUT, &st);
		if (r)
			return fail(d, r, "VHOST_SET_VRING_BUSYLOOP_TIMEOUT: %s",
				    strerror(-r));
	}
	return 0;
}

static int kopen(struct vu_dev *d)
{
	struct vhost_blk_serial s;
	int fd, r;

	fd = d->kops->open(d->kctx);
	if (fd < 0)
		return fail(d, fd, "open /dev/vhost-blk: %s", strerror(-fd));
	d->kfd = fd;
	d->attached = false;
	r = kio(d, VHOST_SET_OWNER, NULL);
	if (r) {
		fail(d, r, "VHOST_SET_OWNER: %s", strerror(-r));
		goto err;
	}
	if (d->serial_len) {
		memset(&s, 0, sizeof(s));
		s.len = d->serial_len;
		memcpy(s.id, d->serial, d->serial_len);
		r = kio(d, VHOST_BLK_SET_SERIAL, &s);
		if (r) {
			fail(d, r, "VHOST_BLK_SET_SERIAL: %s", strerror(-r));
			goto err;
		}
	}
	if (d->has_qos) {
		r = kio(d, VHOST_BLK_SET_QOS, &d->qos);
		if (r) {
			fail(d, r, "VHOST_BLK_SET_QOS: %s", strerror(-r));
			goto err;
		}
	}
	if (d->busyloop) {
		r = set_busyloop(d);
		if (r)
			goto err;
	}
	return 0;
err:
	d->kops->close(d->kctx, d->kfd);
	d->kfd = -1;
	return r;
}

static void kclose(struct vu_dev *d)
{
	if (d->kfd < 0)
		return;
	/* Drain explicitly; release would do it too. */
	detach(d);
	d->kops->close(d->kctx, d->kfd);
	d->kfd = -1;
	d->attached = false;
}

static void unmap_all(struct vu_map *maps, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		munmap(maps[i].map_base, maps[i].map_len);
}

int vu_dev_init(struct vu_dev *d, const struct vu_kops *kops, void *kctx,
		int disk_fd, bool read_only, unsigned int num_queues,
		const uint8_t *serial, uint32_t serial_len,
		const struct vhost_blk_qos *qos)
{
	int r;

	memset(d, 0, sizeof(*d));
	if (qos) {
		d->qos = *qos;
		d->has_qos = true;
	}
	d->kops = kops;
	d->kctx = kctx;
	d->kfd = -1;
	d->backend_fd = -1;
	d->disk_fd = disk_fd;
	d->read_only = read_only;
	d->num_queues = num_queues;
	d->serial = serial;
	d->serial_len = serial_len;
	if (!num_queues || num_queues > VHOST_BLK_MAX_QUEUES)
		return fail(d, -EINVAL, "num-queues must be 1..%d",
			    VHOST_BLK_MAX_QUEUES);
	if (serial_len > VHOST_BLK_SERIAL_BYTES)
		return fail(d, -EINVAL, "serial longer than %d bytes",
			    VHOST_BLK_SERIAL_BYTES);

	/* Probe: features and config as served with this backend. */
	r = kopen(d);
	if (r)
		return r;
	r = attach(d);
	if (r)
		goto out;
	r = kio(d, VHOST_GET_FEATURES, &d->kfeatures);
	if (r) {
		fail(d, r, "VHOST_GET_FEATURES: %s", strerror(-r));
		goto out;
	}
	r = kio(d, VHOST_BLK_GET_CONFIG, &d->cfg);
	if (r) {
		fail(d, r, "VHOST_BLK_GET_CONFIG: %s", strerror(-r));
		goto out;
	}
	if (!(d->kfeatures & (1ull << VIRTIO_F_VERSION_1))) {
		r = fail(d, -EPROTO, "kernel does not offer VIRTIO_F_VERSION_1");
		goto out;
	}
out:
	kclose(d);
	return r;
}

int vu_dev_set_qos(struct vu_dev *d, const struct vhost_blk_qos *qos)
{
	int r;

	d->qos = *qos;
	d->has_qos = true;
	if (d->kfd < 0)
		return 0;
	r = kio(d, VHOST_BLK_SET_QOS, &d->qos);
	if (r)
		return fail(d, r, "VHOST_BLK_SET_QOS: %s", strerror(-r));
	return 0;
}

int vu_dev_set_busyloop(struct vu_dev *d, unsigned int units)
{
	d->busyloop = units;
	return d->kfd < 0 ? 0 : set_busyloop(d);
}

int vu_session_start(struct vu_dev *d)
{
	d->backend_fd = -1;
	d->features = 0;
	d->features_set = false;
	d->protocol_features = 0;
	memset(d->vrings, 0, sizeof(d->vrings));
	return kopen(d);
}

static void unmap_log(struct vu_dev *d)
{
	if (d->log)
		munmap(d->log, d->log_size);
	d->log = NULL;
	d->log_size = 0;
}

void vu_session_end(struct vu_dev *d)
{
	unmap_log(d);
	if (d->backend_fd >= 0)
		close(d->backend_fd);
	d->backend_fd = -1;
	kclose(d);
	unmap_all(d->maps, d->nmaps);
	d->nmaps = 0;
	memset(d->vrings, 0, sizeof(d->vrings));
	d->features_set = false;
}

int vu_notify_config_change(struct vu_dev *d)
{
	struct vu_msg m;

	if (d->backend_fd < 0 ||
	    !(d->protocol_features & (1ull << VU_PF_BACKEND_REQ)))
		return -ENOTCONN;
	memset(&m.hdr, 0, sizeof(m.hdr));
	m.hdr.request = VU_BACKEND_CONFIG_CHANGE_MSG;
	m.hdr.flags = VU_VERSION;
	m.nfds = 0;
	return vu_send_msg(d->backend_fd, &m);
}

void *vu_qva_to_va(const struct vu_dev *d, uint64_t qva, uint64_t len)
{
	unsigned int i;

	if (!len)
		return NULL;
	for (i = 0; i < d->nmaps; i++) {
		const struct vu_map *m = &d->maps[i];

		if (qva >= m->quaddr && qva - m->quaddr < m->size &&
		    len <= m->size - (qva - m->quaddr))
			return m->addr + (qva - m->quaddr);
	}
	return NULL;
}

/* [a, a+alen) and [b, b+blen) intersect; lengths are non-zero and do not wrap. */
static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

struct req_shape {
	uint32_t min, max;	/* payload size */
	unsigned int fds_min, fds_max;
};

static bool shape_of(uint32_t req, struct req_shape *s)
{
	switch (req) {
	case VU_GET_FEATURES:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM:
		/* QEMU sends no payload; tolerate an unused u64. */
		*s = (struct req_shape){ 0, 8, 0, 0 };
		return true;
	case VU_SET_OWNER:
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE:
		*s = (struct req_shape){ 0, 8, 0, 0 };
		return true;
	case VU_SET_FEATURES:
	case VU_SET_PROTOCOL_FEATURES:
		*s = (struct req_shape){ 8, 8, 0, 0 };
		return true;
	case VU_SET_MEM_TABLE:
		*s = (struct req_shape){ 8 + 32, VU_PAYLOAD_MAX, 1, VU_MAX_REGIONS };
		return true;
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		*s = (struct req_shape){ 8, 8, 0, 0 };
		return true;
	case VU_SET_VRING_ADDR:
		*s = (struct req_shape){ 40, 40, 0, 0 };
		return true;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		*s = (struct req_shape){ 8, 8, 0, 1 };
		return true;
	case VU_SET_BACKEND_REQ_FD:
		*s = (struct req_shape){ 0, 8, 1, 1 };
		return true;
	case VU_SET_LOG_BASE:
		*s = (struct req_shape){ 16, 16, 1, 1 };
		return true;
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		*s = (struct req_shape){ VU_CONFIG_HDR_SIZE,
					 VU_CONFIG_HDR_SIZE + VU_CONFIG_MAX, 0, 0 };
		return true;
	default:
		return false;
	}
}

int vu_check_hdr(struct vu_dev *d, const struct vu_hdr *h)
{
	struct req_shape s;

	if ((h->flags & VU_FLAG_VERSION_MASK) != VU_VERSION)
		return fail(d, -EPROTO, "bad version in flags 0x%x", h->flags);
	if (h->flags & VU_FLAG_REPLY)
		return fail(d, -EPROTO, "%s: reply flag set in a request",
			    vu_request_name(h->request));
	if (!shape_of(h->request, &s))
		return fail(d, -EPROTO, "unsupported request %u", h->request);
	if (h->size < s.min || h->size > s.max)
		return fail(d, -EPROTO, "%s: payload size %u not in [%u, %u]",
			    vu_request_name(h->request), h->size, s.min, s.max);
	return 0;
}

int vu_check_msg(struct vu_dev *d, const struct vu_msg *m)
{
	const char *name = vu_request_name(m->hdr.request);
	struct req_shape s;
	uint64_t v;
	int r;

	r = vu_check_hdr(d, &m->hdr);
	if (r)
		return r;
	shape_of(m->hdr.request, &s);
	if (m->nfds < s.fds_min || m->nfds > s.fds_max)
		return fail(d, -EPROTO, "%s: %u fds, want %u..%u", name,
			    m->nfds, s.fds_min, s.fds_max);

	switch (m->hdr.request) {
	case VU_SET_MEM_TABLE: {
		uint32_t n = m->p.mem.nregions;

		if (n < 1 || n > VU_MAX_REGIONS)
			return fail(d, -EPROTO, "%s: %u regions", name, n);
		if (m->hdr.size < 8 + 32 * n)
			return fail(d, -EPROTO, "%s: size %u too small for %u regions",
				    name, m->hdr.size, n);
		if (m->nfds != n)
			return fail(d, -EPROTO, "%s: %u fds for %u regions", name,
				    m->nfds, n);
		break;
	}
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		v = m->p.u64;
		if (v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD))
			return fail(d, -EPROTO, "%s: bad value 0x%llx", name,
				    (unsigned long long)v);
		if (!!(v & VU_VRING_NOFD) == (m->nfds == 1))
			return fail(d, -EPROTO, "%s: %u fds with%s NOFD flag", name,
				    m->nfds, v & VU_VRING_NOFD ? "" : "out");
		break;
	case VU_GET_CONFIG:
	case VU_SET_CONFIG:
		if (m->p.config.size > VU_CONFIG_MAX ||
		    m->hdr.size != VU_CONFIG_HDR_SIZE + m->p.config.size)
			return fail(d, -EPROTO, "%s: config size %u in a %u-byte payload",
				    name, m->p.config.size, m->hdr.size);
		break;
	default:
		break;
	}
	return 0;
}

static int check_ring(struct vu_dev *d, uint32_t idx, const char *name)
{
	if (idx >= d->num_queues)
		return fail(d, -EINVAL, "%s: ring %u, only %u queues", name, idx,
			    d->num_queues);
	return 0;
}

/* Ring layout changes need the backend off the vq (the kernel says EBUSY). */
static int stop_for_ring_change(struct vu_dev *d)
{
	return detach(d);
}

/* Stop the rings, then hand one vring state (num or base) to the kernel. */
static int set_vring_state(struct vu_dev *d, unsigned long req,
			   const char *name, const struct vu_vring_state *st)
{
	struct vhost_vring_state s = { .index = st->index, .num = st->num };
	int r = stop_for_ring_change(d);

	if (r)
		return r;
	r = kio(d, req, &s);
	if (r)
		fail(d, r, "%s: %s", name, strerror(-r));
	return r;
}

static int set_mem_table(struct vu_dev *d, const struct vu_msg *m)
{
	const struct vu_mem *mem = &m->p.mem;
	struct vu_map maps[VU_MAX_REGIONS];
	struct vhost_memory *km;
	long page = sysconf(_SC_PAGESIZE);
	unsigned int i, j, n = mem->nregions;
	int r = 0;

	for (i = 0; i < n; i++) {
		const struct vu_region *g = &mem->regions[i];

		if (!g->size)
			return fail(d, -EINVAL, "region %u: empty", i);
		if (g->gpa + g->size < g->gpa || g->uaddr + g->size < g->uaddr ||
		    g->mmap_offset + g->size < g->mmap_offset ||
		    g->gpa + g->size == 0 || g->uaddr + g->size == 0)
			return fail(d, -EINVAL, "region %u: wraps", i);
		if (g->size > SIZE_MAX / 2 || g->mmap_offset > (uint64_t)INT64_MAX)
			return fail(d, -EINVAL, "region %u: too large", i);
		for (j = 0; j < i; j++) {
			const struct vu_region *h = &mem->regions[j];

			if (overlap(g->gpa, g->size, h->gpa, h->size))
				return fail(d, -EINVAL,
					    "regions %u and %u overlap in guest memory", j, i);
			if (overlap(g->uaddr, g->size, h->uaddr, h->size))
				return fail(d, -EINVAL,
					    "regions %u and %u overlap in frontend memory", j, i);
		}
	}

	for (i = 0; i < n; i++) {
		const struct vu_region *g = &mem->regions[i];
		uint64_t off = g->mmap_offset & ~((uint64_t)page - 1);
		uint64_t lead = g->mmap_offset - off;
		struct stat st;
		void *p;

		if (fstat(m->fds[i], &st) < 0) {
			r = fail(d, -errno, "region %u: fstat: %s", i, strerror(errno));
			goto unmap;
		}
		if (S_ISREG(st.st_mode) &&
		    (uint64_t)st.st_size < g->mmap_offset + g->size) {
			r = fail(d, -EINVAL, "region %u: file of %lld bytes too small",
				 i, (long long)st.st_size);
			goto unmap;
		}
		p = mmap(NULL, lead + g->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 m->fds[i], (off_t)off);
		if (p == MAP_FAILED) {
			r = fail(d, -errno, "region %u: mmap: %s", i, strerror(errno));
			goto unmap;
		}
		maps[i] = (struct vu_map){
			.gpa = g->gpa, .size = g->size, .quaddr = g->uaddr,
			.addr = (uint8_t *)p + lead, .map_base = p,
			.map_len = lead + g->size,
		};
	}

	km = calloc(1, sizeof(*km) + n * sizeof(km->regions[0]));
	if (!km) {
		r = fail(d, -ENOMEM, "out of memory");
		goto unmap;
	}
	km->nregions = n;
	for (i = 0; i < n; i++) {
		km->regions[i].guest_phys_addr = maps[i].gpa;
		km->regions[i].memory_size = maps[i].size;
		km->regions[i].userspace_addr = (uintptr_t)maps[i].addr;
	}
	r = kio(d, VHOST_SET_MEM_TABLE, km);
	free(km);
	if (r) {
		fail(d, r, "VHOST_SET_MEM_TABLE: %s", strerror(-r));
		goto unmap;
	}
	/* The kernel switched tables: the old mappings are unused now. */
	unmap_all(d->maps, d->nmaps);
	memcpy(d->maps, maps, n * sizeof(maps[0]));
	d->nmaps = n;
	return 0;
unmap:
	unmap_all(maps, i);
	return r;
}

static int set_vring_addr(struct vu_dev *d, const struct vu_vring_addr *a)
{
	struct vhost_vring_addr k;
	bool was_attached;
	uint64_t num;
	void *desc, *avail, *used;
	int r;

	r = check_ring(d, a->index, "SET_VRING_ADDR");
	if (r)
		return r;
	if (a->flags & ~(uint32_t)(1u << VHOST_VRING_F_LOG))
		return fail(d, -EINVAL, "SET_VRING_ADDR: flags 0x%x", a->flags);
	/* Whole rings must lie in one region once the size is known. */
	num = d->vrings[a->index].num;
	desc = vu_qva_to_va(d, a->desc, num ? 16 * num : 1);
	avail = vu_qva_to_va(d, a->avail, num ? 6 + 2 * num : 1);
	used = vu_qva_to_va(d, a->used, num ? 6 + 8 * num : 1);
	if (!desc || !avail || !used)
		return fail(d, -EFAULT,
			    "SET_VRING_ADDR %u: ring outside the memory table",
			    a->index);
	k = (struct vhost_vring_addr){
		.index = a->index,
		/* Logging of the used ring: its guest address, as QEMU gives it. */
		.flags = a->flags,
		.desc_user_addr = (uintptr_t)desc,
		.used_user_addr = (uintptr_t)used,
		.avail_user_addr = (uintptr_t)avail,
		.log_guest_addr = a->log,
	};
	/*
	 * vhost takes new addresses on a running ring: QEMU sends the same
	 * ones with VHOST_VRING_F_LOG flipped when a migration starts or
	 * ends, and the guest's I/O must go on meanwhile.  A kernel that says
	 * EBUSY gets the ring stopped around the change.
	 */
	was_attached = d->attached;
	r = kio(d, VHOST_SET_VRING_ADDR, &k);
	if (r == -EBUSY && was_attached) {
		r = stop_for_ring_change(d);
		if (r)
			return r;
		r = kio(d, VHOST_SET_VRING_ADDR, &k);
		if (!r)
			return attach(d);
	}
	if (r)
		return fail(d, r, "VHOST_SET_VRING_ADDR: %s", strerror(-r));
	return 0;
}

static int set_vring_fd(struct vu_dev *d, const struct vu_msg *m)
{
	uint32_t idx = (uint32_t)(m->p.u64 & VU_VRING_IDX_MASK);
	const char *name = vu_request_name(m->hdr.request);
	struct vhost_vring_file f;
	unsigned long req;
	int r;

	r = check_ring(d, idx, name);
	if (r)
		return r;
	f.index = idx;
	f.fd = (m->p.u64 & VU_VRING_NOFD) ? -1 : m->fds[0];
	switch (m->hdr.request) {
	case VU_SET_VRING_KICK:
		req = VHOST_SET_VRING_KICK;
		break;
	case VU_SET_VRING_CALL:
		req = VHOST_SET_VRING_CALL;
		break;
	default:
		req = VHOST_SET_VRING_ERR;
		break;
	}
	r = kio(d, req, &f);
	if (r)
		return fail(d, r, "VHOST_%s: %s", name + 4, strerror(-r));
	if (m->hdr.request == VU_SET_VRING_KICK) {
		d->vrings[idx].kick = f.fd >= 0;
		/* A kicked ring is running: the backend must be on. */
		if (f.fd >= 0)
			return attach(d);
	}
	return 0;
}

/* GET_VRING_BASE stops the ring: drain, stop polling, read the index. */
static int get_vring_base(struct vu_dev *d, uint32_t idx, uint32_t *num)
{
	struct vhost_vring_file f = { .index = idx, .fd = -1 };
	struct vhost_vring_state s = { .index = idx };
	int r;

	r = check_ring(d, idx, "GET_VRING_BASE");
	if (r)
		return r;
	r = detach(d);
	if (r)
		return r;
	if (d->vrings[idx].kick) {
		r = kio(d, VHOST_SET_VRING_KICK, &f);
		if (r)
			return fail(d, r, "VHOST_SET_VRING_KICK(-1): %s", strerror(-r));
		d->vrings[idx].kick = false;
	}
	r = kio(d, VHOST_GET_VRING_BASE, &s);
	if (r)
		return fail(d, r, "VHOST_GET_VRING_BASE: %s", strerror(-r));
	*num = s.num;
	return 0;
}

static int set_features(struct vu_dev *d, uint64_t f)
{
	uint64_t offered = vu_offered_features(d), kf;
	int r;

	if (f & ~offered)
		return fail(d, -EINVAL, "SET_FEATURES: 0x%llx not offered",
			    (unsigned long long)(f & ~offered));
	/* Bits we add ourselves (PROTOCOL_FEATURES, RO) are not the kernel's. */
	kf = f & d->kfeatures;
	r = kio(d, VHOST_SET_FEATURES, &kf);
	if (r == -EBUSY && d->attached) {
		r = detach(d);
		if (!r)
			r = kio(d, VHOST_SET_FEATURES, &kf);
	}
	if (r)
		return fail(d, r, "VHOST_SET_FEATURES: %s", strerror(-r));
	d->features = f;
	d->features_set = true;
	return 0;
}

static int get_config(struct vu_dev *d, const struct vu_config *in,
		      struct vu_config *out)
{
	struct virtio_blk_config cfg;
	int r = -ENODEV;

	if (in->offset > sizeof(cfg) || in->size > sizeof(cfg) - in->offset)
		return fail(d, -EINVAL, "GET_CONFIG: [%u, +%u) beyond %zu bytes",
			    in->offset, in->size, sizeof(cfg));
	if (d->attached)
		r = kio(d, VHOST_BLK_GET_CONFIG, &cfg);
	if (r)
		cfg = d->cfg;	/* probed at start-up */
	else
		d->cfg = cfg;
	/* The queue count is ours (QEMU overrides it too). */
	cfg.num_queues = (__virtio16)htole16((uint16_t)d->num_queues);
	*out = *in;
	memcpy(out->data, (uint8_t *)&cfg + in->offset, in->size);
	return 0;
}

static int set_config(struct vu_dev *d, const struct vu_config *c)
{
	const size_t wce = offsetof(struct virtio_blk_config, wce);
	struct virtio_blk_config cur;

	/*
	 * Only the writeback byte is guest-writable in virtio-blk, and the
	 * kernel serves the request cache mode itself: accept a write that
	 * leaves everything else as it is.
	 */
	if (c->offset > sizeof(cur) || c->size > sizeof(cur) - c->offset)
		return fail(d, -EINVAL, "SET_CONFIG: [%u, +%u) beyond %zu bytes",
			    c->offset, c->size, sizeof(cur));
	if (c->size != 1 || c->offset != wce)
		return fail(d, -EINVAL, "SET_CONFIG: only wce is writable");
	return 0;
}

/*
 * The dirty bitmap of a migration: map QEMU's shared memory and hand its
 * address to the kernel, which sets a bit per 4 KiB guest page it writes.
 */
static int set_log_base(struct vu_dev *d, const struct vu_msg *m)
{
	const struct vu_log *l = &m->p.log;
	uint64_t addr;
	void *p;
	int r;

	if (!l->mmap_size || l->mmap_size > (1ull << 40) ||
	    (l->mmap_offset & 4095))
		return fail(d, -EINVAL, "SET_LOG_BASE: size %llu offset %llu",
			    (unsigned long long)l->mmap_size,
			    (unsigned long long)l->mmap_offset);
	p = mmap(NULL, l->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 m->fds[0], (off_t)l->mmap_offset);
	if (p == MAP_FAILED)
		return fail(d, -errno, "SET_LOG_BASE: mmap: %s", strerror(errno));
	addr = (uintptr_t)p;
	r = kio(d, VHOST_SET_LOG_BASE, &addr);
	if (r) {
		munmap(p, l->mmap_size);
		return fail(d, r, "VHOST_SET_LOG_BASE: %s", strerror(-r));
	}
	unmap_log(d);
	d->log = p;
	d->log_size = l->mmap_size;
	return 0;
}

/* The backend channel; @fd is closed after the message: keep a copy. */
static int set_backend_fd(struct vu_dev *d, int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (copy < 0)
		return fail(d, -errno, "SET_BACKEND_REQ_FD: %s", strerror(errno));
	if (d->backend_fd >= 0)
		close(d->backend_fd);
	d->backend_fd = copy;
	return 0;
}

static void reply_u64(struct vu_msg *reply, uint32_t req, uint64_t v)
{
	reply->hdr.request = req;
	reply->hdr.size = 8;
	reply->p.u64 = v;
}

int vu_handle(struct vu_dev *d, const struct vu_msg *m, struct vu_msg *reply,
	      bool *has_reply)
{
	uint32_t req = m->hdr.request, num = 0;
	bool ack = (m->hdr.flags & VU_FLAG_NEED_REPLY) &&
		   (d->protocol_features & (1ull << VU_PF_REPLY_ACK));
	int r = 0;

	*has_reply = false;
	memset(&reply->hdr, 0, sizeof(reply->hdr));
	reply->hdr.flags = VU_VERSION | VU_FLAG_REPLY;
	reply->nfds = 0;

	switch (req) {
	case VU_GET_FEATURES:
		reply_u64(reply, req, vu_offered_features(d));
		*has_reply = true;
		return 0;
	case VU_GET_PROTOCOL_FEATURES:
		reply_u64(reply, req, VU_PROTOCOL_FEATURES);
		*has_reply = true;
		return 0;
	case VU_GET_QUEUE_NUM:
		reply_u64(reply, req, d->num_queues);
		*has_reply = true;
		return 0;
	case VU_SET_PROTOCOL_FEATURES:
		if (m->p.u64 & ~VU_PROTOCOL_FEATURES)
			r = fail(d, -EINVAL, "protocol features 0x%llx not offered",
				 (unsigned long long)(m->p.u64 & ~VU_PROTOCOL_FEATURES));
		else
			d->protocol_features = m->p.u64;
		break;
	case VU_SET_FEATURES:
		r = set_features(d, m->p.u64);
		break;
	case VU_SET_OWNER:
		/* The kernel device was owned when the session started. */
		break;
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE:
		/* Back to a fresh device: drop the kernel one and its rings. */
		kclose(d);
		memset(d->vrings, 0, sizeof(d->vrings));
		d->features = 0;
		d->features_set = false;
		r = kopen(d);
		if (r)
			return r;	/* no device: nothing left to serve */
		if (d->nmaps) {
			/* Keep the memory table valid for the new device. */
			struct vhost_memory *km;
			unsigned int i;

			km = calloc(1, sizeof(*km) + d->nmaps * sizeof(km->regions[0]));
			if (!km)
				return fail(d, -ENOMEM, "out of memory");
			km->nregions = d->nmaps;
			for (i = 0; i < d->nmaps; i++) {
				km->regions[i].guest_phys_addr = d->maps[i].gpa;
				km->regions[i].memory_size = d->maps[i].size;
				km->regions[i].userspace_addr =
					(uintptr_t)d->maps[i].addr;
			}
			r = kio(d, VHOST_SET_MEM_TABLE, km);
			free(km);
			if (r)
				r = fail(d, r, "VHOST_SET_MEM_TABLE: %s", strerror(-r));
		}
		break;
	case VU_SET_MEM_TABLE:
		r = set_mem_table(d, m);
		break;
	case VU_SET_VRING_NUM:
		r = check_ring(d, m->p.state.index, "SET_VRING_NUM");
		if (!r && (!m->p.state.num || m->p.state.num > 32768 ||
			   (m->p.state.num & (m->p.state.num - 1))))
			r = fail(d, -EINVAL, "SET_VRING_NUM: bad size %u",
				 m->p.state.num);
		if (!r)
			r = set_vring_state(d, VHOST_SET_VRING_NUM,
					    "VHOST_SET_VRING_NUM", &m->p.state);
		if (!r)
			d->vrings[m->p.state.index].num = m->p.state.num;
		break;
	case VU_SET_VRING_ADDR:
		r = set_vring_addr(d, &m->p.addr);
		break;
	case VU_SET_VRING_BASE:
		r = check_ring(d, m->p.state.index, "SET_VRING_BASE");
		if (!r && m->p.state.num > 0xffff)
			r = fail(d, -EINVAL, "SET_VRING_BASE: bad index %u",
				 m->p.state.num);
		if (!r)
			r = set_vring_state(d, VHOST_SET_VRING_BASE,
					    "VHOST_SET_VRING_BASE", &m->p.state);
		break;
	case VU_GET_VRING_BASE:
		r = get_vring_base(d, m->p.state.index, &num);
		if (r)
			return r;	/* a wrong index would corrupt the ring */
		reply->hdr.request = req;
		reply->hdr.size = sizeof(reply->p.state);
		reply->p.state.index = m->p.state.index;
		reply->p.state.num = num;
		*has_reply = true;
		return 0;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		r = set_vring_fd(d, m);
		break;
	case VU_SET_VRING_ENABLE:
		r = check_ring(d, m->p.state.index, "SET_VRING_ENABLE");
		if (!r && m->p.state.num > 1)
			r = fail(d, -EINVAL, "SET_VRING_ENABLE: %u", m->p.state.num);
		if (!r) {
			struct vu_vring *v = &d->vrings[m->p.state.index];

			v->enabled = m->p.state.num;
			if (v->enabled && v->kick)
				r = attach(d);
		}
		break;
	case VU_GET_CONFIG:
		r = get_config(d, &m->p.config, &reply->p.config);
		reply->hdr.request = req;
		if (r) {
			/* An empty reply tells the frontend it failed. */
			reply->p.config = m->p.config;
			reply->p.config.size = 0;
		}
		reply->hdr.size = VU_CONFIG_HDR_SIZE + reply->p.config.size;
		*has_reply = true;
		return 0;
	case VU_SET_CONFIG:
		r = set_config(d, &m->p.config);
		break;
	case VU_SET_BACKEND_REQ_FD:
		r = set_backend_fd(d, m->fds[0]);
		break;
	case VU_SET_LOG_BASE:
		/* With LOG_SHMFD the frontend waits for this reply. */
		r = set_log_base(d, m);
		reply_u64(reply, req, r ? 1 : 0);
		*has_reply = true;
		return 0;
	default:
		return fail(d, -EPROTO, "unsupported request %u", req);
	}

	if (ack) {
		reply_u64(reply, req, r ? 1 : 0);
		*has_reply = true;
	}
	/* A failed request is reported (ack or log), the session goes on. */
	return 0;
}
