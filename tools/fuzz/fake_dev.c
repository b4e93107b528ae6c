// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD stand-in for /dev/vhost-blk, to test pvblk-fuzz itself on a
 * host without pvblk.ko (make -C tools test-fuzz).  open("/dev/vhost-blk")
 * gives a placeholder fd whose ioctls are answered here with the errnos
 * vhost and pvblk use; a write to a kick eventfd serves that virtqueue at
 * once, in the writer's thread: descriptors translated through the memory
 * table, chains checked as pvblk checks them, data read and written with
 * preadv/pwritev on the backend fd.  A malformed ring stops the queue and
 * signals its error eventfd.  One device at a time; nothing is shared with
 * a forked child (its copy of the state is its own).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/fs.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "linux/vhost_blk.h"

#define NVQ		VHOST_BLK_MAX_QUEUES
#define USER_TOP	0x800000000000ULL
#define FEATURES	((1ULL << 32) | (1ULL << 27) | (1ULL << 28) | \
			 (1ULL << 29) | (1ULL << 26) | (1ULL << 1) | \
			 (1ULL << 2) | (1ULL << 6) | (1ULL << 10) | \
			 (1ULL << 12) | (1ULL << 9) | (1ULL << 5) | \
			 (1ULL << 13) | (1ULL << 14))

struct fvq {
	uint32_t num;
	uint16_t last_avail, last_used;
	uint64_t desc, avail, used;
	int kick, call, err;
	int started, broken;
	unsigned int worker;
};

static struct {
	int fd;
	pid_t owner;
	uint64_t acked;
	struct vhost_memory_region reg[64];
	unsigned int nreg;
	int be;			/* dup of the backend fd, or -1 */
	int be_ro;
	dev_t be_dev;
	ino_t be_ino;
	uint64_t cap;
	struct fvq vq[NVQ];
	char serial[20];
	unsigned int serial_len;
	unsigned int next_worker, workers[64], nworkers;
} D = { .fd = -1, .be = -1 };

static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_open)(const char *, int, ...);
static int (*real_close)(int);

static void init(void)
{
	if (!real_ioctl) {
		real_ioctl = dlsym(RTLD_NEXT, "ioctl");
		real_open = dlsym(RTLD_NEXT, "open");
		real_close = dlsym(RTLD_NEXT, "close");
	}
}

static void sig(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && syscall(SYS_write, fd, &one, 8) < 0)
		one = 0;
}

static void reset_vqs(void)
{
	int i;

	for (i = 0; i < NVQ; i++) {
		memset(&D.vq[i], 0, sizeof(D.vq[i]));
		D.vq[i].kick = D.vq[i].call = D.vq[i].err = -1;
	}
}

static void reset(void)
{
	if (D.be >= 0)
		real_close(D.be);
	D.be = -1;
	D.owner = 0;
	D.acked = 0;
	D.nreg = 0;
	D.nworkers = 0;
	reset_vqs();
}

/* GPA -> HVA and the bytes contiguous from there in its region. */
static void *xlate1(uint64_t a, uint64_t *room)
{
	unsigned int i;

	for (i = 0; i < D.nreg; i++) {
		struct vhost_memory_region *r = &D.reg[i];

		if (a >= r->guest_phys_addr &&
		    a - r->guest_phys_addr < r->memory_size) {
			*room = r->memory_size - (a - r->guest_phys_addr);
			return (void *)(uintptr_t)(r->userspace_addr + a -
						   r->guest_phys_addr);
		}
	}
	return NULL;
}

/* A table must be in one region here. */
static void *xlate(uint64_t a, uint64_t len)
{
	uint64_t room;
	void *p = xlate1(a, &room);

	return p && room >= len ? p : NULL;
}

struct chain {
	struct iovec iov[1100];
	int nout, nin;
};

static int add(struct chain *c, const struct vring_desc *d)
{
	uint64_t a = d->addr, len = d->len, room;
	void *p;

	if (d->flags & VRING_DESC_F_WRITE) {
		;
	} else if (c->nin) {
		return -EINVAL;
	}
	do {
		if (c->nout + c->nin >= 1024)
			return -ENOBUFS;
		p = xlate1(a, &room);
		if (!p)
			return len ? -EFAULT : 0;
		if (room > len)
			room = len;
		if (d->flags & VRING_DESC_F_WRITE)
			c->iov[c->nout + c->nin++] = (struct iovec){ p, room };
		else
			c->iov[c->nout++] = (struct iovec){ p, room };
		a += room;
		len -= room;
	} while (len);
	return 0;
}

static int get_chain(struct fvq *v, uint16_t head, struct chain *c)
{
	struct vring_desc *tab = (void *)(uintptr_t)v->desc, d;
	unsigned int i = head, count = 0;
	int r;

	c->nout = c->nin = 0;
	for (;;) {
		if (i >= v->num || ++count > v->num)
			return -EINVAL;
		d = tab[i];
		if (d.flags & VRING_DESC_F_INDIRECT) {
			struct vring_desc *t;
			unsigned int j, n = d.len / 16;

			if (!d.len || d.len % 16)
				return -EINVAL;
			t = xlate(d.addr, d.len);
			if (!t)
				return -EFAULT;
			for (j = 0; j < n; j++) {
				if (t[j].flags & VRING_DESC_F_INDIRECT)
					return -EINVAL;
				r = add(c, &t[j]);
				if (r)
					return r;
				if (!(t[j].flags & VRING_DESC_F_NEXT))
					break;
				if (j + 1 > n)
					return -EINVAL;
			}
		} else {
			r = add(c, &d);
			if (r)
				return r;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

static uint8_t serve(struct chain *c, uint32_t *len)
{
	struct virtio_blk_outhdr h;
	size_t out = 0, in = 0, k;
	struct iovec data[1100];
	unsigned int nd = 0, i;
	uint8_t *st = NULL;
	ssize_t r;

	for (i = 0; i < (unsigned int)c->nout; i++)
		out += c->iov[i].iov_len;
	for (i = 0; i < (unsigned int)c->nin; i++) {
		in += c->iov[c->nout + i].iov_len;
		if (c->iov[c->nout + i].iov_len)
			st = (uint8_t *)c->iov[c->nout + i].iov_base +
			     c->iov[c->nout + i].iov_len - 1;
	}
	*len = 0;
	if (!in)
		return 0xff;
	*len = 1;
	if (out < 16)
		goto ioerr;
	/* the header: the first 16 readable bytes */
	for (k = 0, i = 0; k < 16; i++) {
		size_t l = c->iov[i].iov_len < 16 - k ? c->iov[i].iov_len : 16 - k;

		memcpy((uint8_t *)&h + k, c->iov[i].iov_base, l);
		k += l;
	}
	if (h.type == VIRTIO_BLK_T_IN || h.type == VIRTIO_BLK_T_OUT) {
		size_t want = h.type == VIRTIO_BLK_T_IN ? in - 1 : out - 16;
		size_t skip = h.type == VIRTIO_BLK_T_IN ? 0 : 16, left = want;
		unsigned int s0 = h.type == VIRTIO_BLK_T_IN ? c->nout : 0;
		unsigned int s1 = h.type == VIRTIO_BLK_T_IN ? c->nout + c->nin :
				  c->nout;

		if ((h.type == VIRTIO_BLK_T_IN && out != 16) ||
		    (h.type == VIRTIO_BLK_T_OUT && in != 1) || !want ||
		    want % 512 || h.sector >= D.cap ||
		    want / 512 > D.cap - h.sector)
			goto ioerr;
		for (i = s0; i < s1 && left; i++) {
			size_t l = c->iov[i].iov_len;

			if (skip >= l) {
				skip -= l;
				continue;
			}
			data[nd].iov_base = (uint8_t *)c->iov[i].iov_base + skip;
			l -= skip;
			skip = 0;
			if (l > left)
				l = left;
			if (l % 512)
				goto ioerr;
			data[nd++].iov_len = l;
			left -= l;
		}
		if (nd > 128)
			goto ioerr;
		if (h.type == VIRTIO_BLK_T_OUT && D.be_ro)
			goto ioerr;
		r = h.type == VIRTIO_BLK_T_IN ?
		    preadv(D.be, data, nd, h.sector * 512) :
		    pwritev(D.be, data, nd, h.sector * 512);
		if (r != (ssize_t)want)
			goto ioerr;
		*st = VIRTIO_BLK_S_OK;
		*len = h.type == VIRTIO_BLK_T_IN ? in : 1;
		return 0;
	}
	if (h.type == VIRTIO_BLK_T_FLUSH) {
		if (out != 16 || in != 1)
			goto ioerr;
		*st = VIRTIO_BLK_S_OK;
		return 0;
	}
	if (h.type == VIRTIO_BLK_T_GET_ID) {
		uint8_t id[20] = { 0 };

		if (out != 16 || in - 1 < 20)
			goto ioerr;
		memcpy(id, D.serial, D.serial_len);
		for (k = 0, i = c->nout; k < 20; i++) {
			size_t l = c->iov[i].iov_len < 20 - k ?
				   c->iov[i].iov_len : 20 - k;

			memcpy(c->iov[i].iov_base, id + k, l);
			k += l;
		}
		*st = VIRTIO_BLK_S_OK;
		*len = 21;
		return 0;
	}
	if (h.type == VIRTIO_BLK_T_WRITE_ZEROES) {
		struct virtio_blk_discard_write_zeroes z;
		static uint8_t zero[65536];
		uint64_t left;

		if (out != 16 + sizeof(z) || in != 1 || c->nout < 2 ||
		    c->iov[c->nout - 1].iov_len < sizeof(z))
			goto ioerr;
		memcpy(&z, (uint8_t *)c->iov[c->nout - 1].iov_base +
		       c->iov[c->nout - 1].iov_len - sizeof(z), sizeof(z));
		if (D.be_ro || !z.num_sectors || z.num_sectors > 128 ||
		    z.sector >= D.cap || z.num_sectors > D.cap - z.sector)
			goto ioerr;
		for (left = z.num_sectors * 512ULL; left; ) {
			size_t l = left < sizeof(zero) ? left : sizeof(zero);

			if (pwrite(D.be, zero, l, z.sector * 512 +
				   z.num_sectors * 512ULL - left) != (ssize_t)l)
				goto ioerr;
			left -= l;
		}
		*st = VIRTIO_BLK_S_OK;
		return 0;
	}
	*st = VIRTIO_BLK_S_UNSUPP;
	return 0;
ioerr:
	*st = VIRTIO_BLK_S_IOERR;
	*len = 1;
	return 0;
}

static void process(struct fvq *v)
{
	struct vring_avail *av;
	struct vring_used *u;
	struct chain c;
	uint16_t aidx;
	int r;

	if (!v->started || v->broken || D.be < 0 || v->kick < 0)
		return;
	av = (void *)(uintptr_t)v->avail;
	u = (void *)(uintptr_t)v->used;
	aidx = __atomic_load_n(&av->idx, __ATOMIC_ACQUIRE);
	if ((uint16_t)(aidx - v->last_avail) > v->num)
		goto broken;
	while (v->last_avail != aidx) {
		uint16_t head = av->ring[v->last_avail % v->num];
		uint32_t len;

		if (head >= v->num)
			goto broken;
		r = get_chain(v, head, &c);
		if (r) {
			if (getenv("FAKE_DEBUG"))
				fprintf(stderr, "fake: head %u: %d\n", head, r);
			goto broken;
		}
		v->last_avail++;
		serve(&c, &len);
		u->ring[v->last_used % v->num].id = head;
		u->ring[v->last_used % v->num].len = len;
		v->last_used++;
		__atomic_store_n(&u->idx, v->last_used, __ATOMIC_RELEASE);
	}
	sig(v->call);
	return;
broken:
	if (getenv("FAKE_DEBUG"))
		fprintf(stderr, "fake: vq %ld broken: avail %u last %u num %u\n",
			(long)(v - D.vq), aidx, v->last_avail, v->num);
	v->broken = 1;
	sig(v->call);
	sig(v->err);
}

static void start_vqs(void)
{
	int i;

	for (i = 0; i < NVQ; i++) {
		struct fvq *v = &D.vq[i];

		if (D.be >= 0 && !v->started && v->kick >= 0 && v->desc &&
		    v->avail && v->used) {
			v->started = 1;
			v->broken = 0;
			v->last_used = ((struct vring_used *)(uintptr_t)v->used)->idx;
			process(v);
		}
	}
}

static int is_eventfd(int fd)
{
	char p[64], l[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, l, sizeof(l) - 1);
	if (n < 0)
		return -EBADF;
	l[n] = 0;
	return strcmp(l, "anon_inode:[eventfd]") ? -EINVAL : 0;
}

static int owner_ok(void)
{
	return D.owner == getpid() ? 0 : -EPERM;
}

static int worker_known(unsigned int id)
{
	unsigned int i;

	if (!id)
		return 1;
	for (i = 0; i < D.nworkers; i++)
		if (D.workers[i] == id)
			return 1;
	return 0;
}

static int fake_ioctl(unsigned long req, void *arg)
{
	struct vhost_vring_state *s = arg;
	struct vhost_vring_file *f = arg;
	struct vhost_vring_addr *a = arg;
	struct vhost_vring_worker *vw = arg;
	struct vhost_worker_state *ws = arg;
	struct fvq *v = NULL;
	unsigned int i;
	int r;

	switch (req) {
	case VHOST_SET_OWNER:
		if (D.owner)
			return -EBUSY;
		D.owner = getpid();
		return 0;
	case VHOST_GET_FEATURES: {
		uint64_t o = FEATURES & ~((1ULL << 5) | (1ULL << 13) | (1ULL << 14));

		if (D.be >= 0)
			o |= D.be_ro ? (1ULL << 5) : (1ULL << 14);
		*(uint64_t *)arg = o;
		return 0;
	}
	case VHOST_SET_FEATURES:
		if (*(uint64_t *)arg & ~FEATURES)
			return -EOPNOTSUPP;
		D.acked = *(uint64_t *)arg;
		return 0;
	case VHOST_BLK_SET_SERIAL: {
		struct vhost_blk_serial *sr = arg;

		if (sr->len > 20 || sr->reserved)
			return -EINVAL;
		memcpy(D.serial, sr->id, sr->len);
		D.serial_len = sr->len;
		return 0;
	}
	case VHOST_BLK_GET_CONFIG: {
		struct virtio_blk_config *c = arg;

		if (D.be < 0)
			return -ENODEV;
		memset(arg, 0, VHOST_BLK_CONFIG_SIZE);
		c->capacity = D.cap;
		c->size_max = 4096;
		c->seg_max = 128;
		c->blk_size = 512;
		c->num_queues = NVQ;
		c->max_write_zeroes_sectors = 128;
		c->max_write_zeroes_seg = 1;
		return 0;
	}
	case VHOST_NEW_WORKER:
	case VHOST_FREE_WORKER:
	case VHOST_ATTACH_VRING_WORKER:
	case VHOST_GET_VRING_WORKER:
		if (!D.owner)
			return -EINVAL;
		if (owner_ok())
			return -EPERM;
		break;
	default:
		r = owner_ok();
		if (r)
			return r;
	}
	switch (req) {
	case VHOST_RESET_OWNER: {
		char ser[20];
		unsigned int sl = D.serial_len;

		memcpy(ser, D.serial, 20);
		reset();
		memcpy(D.serial, ser, 20);
		D.serial_len = sl;
		return 0;
	}
	case VHOST_BLK_SET_BACKEND: {
		struct stat sb;
		int fl;

		if (f->index)
			return -EINVAL;
		if (f->fd == -1) {
			if (D.be >= 0)
				real_close(D.be);
			D.be = -1;
			for (i = 0; i < NVQ; i++)
				D.vq[i].started = 0;
			return 0;
		}
		if (fstat(f->fd, &sb))
			return -EBADF;
		if (!S_ISBLK(sb.st_mode) && !S_ISREG(sb.st_mode))
			return -ENOTBLK;
		fl = fcntl(f->fd, F_GETFL);
		if (D.be >= 0 && sb.st_rdev == D.be_dev && sb.st_ino == D.be_ino &&
		    ((fl & O_ACCMODE) == O_RDONLY) != D.be_ro)
			return -EBUSY;
		if (D.be >= 0)
			real_close(D.be);
		D.be = fcntl(f->fd, F_DUPFD_CLOEXEC, 100);
		D.be_ro = (fl & O_ACCMODE) == O_RDONLY;
		D.be_dev = sb.st_rdev;
		D.be_ino = sb.st_ino;
		if (S_ISBLK(sb.st_mode)) {
			uint64_t b = 0;

			real_ioctl(D.be, BLKGETSIZE64, &b);
			D.cap = b >> 9;
		} else {
			D.cap = sb.st_size >> 9;
		}
		for (i = 0; i < NVQ; i++)
			D.vq[i].started = 0;
		start_vqs();
		return 0;
	}
	case VHOST_SET_MEM_TABLE: {
		struct vhost_memory *m = arg;

		if (m->nregions > 64)
			return -E2BIG;
		for (i = 0; i < m->nregions; i++) {
			struct vhost_memory_region *rg = &m->regions[i];

			if (!rg->memory_size ||
			    rg->guest_phys_addr + rg->memory_size - 1 < rg->guest_phys_addr ||
			    rg->userspace_addr >= USER_TOP ||
			    rg->userspace_addr + rg->memory_size > USER_TOP)
				return -EFAULT;
		}
		memcpy(D.reg, m->regions, m->nregions * sizeof(D.reg[0]));
		D.nreg = m->nregions;
		return 0;
	}
	case VHOST_SET_LOG_BASE:
	case VHOST_SET_LOG_FD:
		return 0;
	case VHOST_NEW_WORKER:
		if (D.nworkers == 64)
			return -ENOMEM;
		ws->worker_id = ++D.next_worker;
		D.workers[D.nworkers++] = ws->worker_id;
		return 0;
	case VHOST_FREE_WORKER:
		if (!ws->worker_id || !worker_known(ws->worker_id))
			return -ENODEV;
		for (i = 0; i < NVQ; i++)
			if (D.vq[i].worker == ws->worker_id)
				return -EBUSY;
		for (i = 0; i < D.nworkers; i++)
			if (D.workers[i] == ws->worker_id)
				D.workers[i] = D.workers[--D.nworkers];
		return 0;
	case VHOST_ATTACH_VRING_WORKER:
	case VHOST_GET_VRING_WORKER:
		if (vw->index >= NVQ)
			return -ENOBUFS;
		if (req == VHOST_GET_VRING_WORKER) {
			vw->worker_id = D.vq[vw->index].worker;
			return 0;
		}
		if (!worker_known(vw->worker_id))
			return -ENODEV;
		D.vq[vw->index].worker = vw->worker_id;
		return 0;
	}
	/* vring ioctls */
	if (s->index >= NVQ)
		return -ENOBUFS;
	v = &D.vq[s->index];
	switch (req) {
	case VHOST_SET_VRING_NUM:
		if (v->started)
			return -EBUSY;
		if (!s->num || s->num > 0xffff || (s->num & (s->num - 1)))
			return -EINVAL;
		v->num = s->num;
		break;
	case VHOST_SET_VRING_BASE:
		if (v->started)
			return -EBUSY;
		if (s->num > 0xffff)
			return -EINVAL;
		v->last_avail = s->num;
		break;
	case VHOST_GET_VRING_BASE:
		s->num = v->last_avail;
		return 0;
	case VHOST_SET_VRING_BUSYLOOP_TIMEOUT:
	case VHOST_GET_VRING_BUSYLOOP_TIMEOUT:
		return 0;
	case VHOST_SET_VRING_ADDR:
		if (a->flags & ~1u)
			return -EOPNOTSUPP;
		if ((a->avail_user_addr & 1) || (a->used_user_addr & 3))
			return -EINVAL;
		if (v->started && (a->desc_user_addr >= USER_TOP ||
				   a->avail_user_addr >= USER_TOP ||
				   a->used_user_addr >= USER_TOP))
			return -EINVAL;
		v->desc = a->desc_user_addr;
		v->avail = a->avail_user_addr;
		v->used = a->used_user_addr;
		break;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
		if (f->fd != -1) {
			r = is_eventfd(f->fd);
			if (r)
				return r;
		}
		if (req == VHOST_SET_VRING_KICK)
			v->kick = f->fd;
		else if (req == VHOST_SET_VRING_CALL)
			v->call = f->fd;
		else
			v->err = f->fd;
		if (req == VHOST_SET_VRING_KICK)
			process(v);
		break;
	default:
		return -ENOTTY;
	}
	start_vqs();
	return 0;
}

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	int r;

	init();
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != D.fd || fd < 0)
		return real_ioctl(fd, req, arg);
	r = fake_ioctl(req, arg);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	init();
	va_start(ap, flags);
	mode = va_arg(ap, mode_t);
	va_end(ap);
	if (!strcmp(path, "/dev/vhost-blk")) {
		int fd = real_open("/dev/null", O_RDWR | O_CLOEXEC);

		if (fd >= 0) {
			reset();
			D.fd = fd;
		}
		return fd;
	}
	return real_open(path, flags, mode);
}

int close(int fd)
{
	init();
	if (fd >= 0 && fd == D.fd) {
		reset();
		D.fd = -1;
	}
	return real_close(fd);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	ssize_t r = syscall(SYS_write, fd, buf, n);
	int i;

	if (D.fd >= 0 && r == 8)
		for (i = 0; i < NVQ; i++)
			if (D.vq[i].kick == fd)
				process(&D.vq[i]);
	return r;
}
