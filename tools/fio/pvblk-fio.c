// SPDX-License-Identifier: GPL-2.0
/*
 * fio external ioengine: I/O through a virtio-blk device driven from
 * userspace by libpvv, over /dev/vhost-blk or a vhost-user-blk socket.
 *
 *   fio --ioengine=external:tools/build/pvblk-fio.so --thread \
 *       --pvblk_backend=/dev/nullb0 [--pvblk_vhost=/dev/vhost-blk] ...
 *   fio --ioengine=external:tools/build/pvblk-fio.so --thread \
 *       --pvblk_socket=/tmp/vhost-user-blk.sock ...
 *
 * All jobs (threads) of one fio process share one device; each job takes a
 * virtqueue of its own.  pvblk_queues (default: numjobs) sets how many
 * queues the device is opened with (default: fio's thread count, capped
 * at what the device offers).  I/O buffers are allocated in guest
 * memory (iomem_alloc), so data moves without copies.  Use --thread when
 * numjobs > 1: forked jobs would each open a device of their own (and a
 * vhost-user server serves one client at a time).  --filename is optional;
 * the file size is the device capacity.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/virtio_blk.h>

#include "fio.h"
#include "optgroup.h"

#include "pvv.h"

#define VHOST_BLK_MAX_QUEUES_FIO	16	/* VHOST_BLK_MAX_QUEUES */

struct pvblk_fio_opts {
	void *pad;			/* an option may not sit at offset 0 */
	char *vhost;
	char *backend;
	char *socket;
	char *serial;
	char *qos;
	unsigned int queues;
	unsigned int qsize;
	unsigned int mem_mb;
	unsigned int ro;
	unsigned int no_indirect;
	unsigned int no_event_idx;
	unsigned int poll;
	unsigned int busyloop;
	unsigned int max_segs;
	unsigned int size_max;
};

static struct fio_option options[] = {
	{
		.name = "pvblk_vhost",
		.lname = "vhost-blk device node",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct pvblk_fio_opts, vhost),
		.def = "/dev/vhost-blk",
		.help = "vhost-blk character device",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_backend",
		.lname = "backing block device or file",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct pvblk_fio_opts, backend),
		.help = "block device or file attached with VHOST_BLK_SET_BACKEND",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_socket",
		.lname = "vhost-user-blk socket",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct pvblk_fio_opts, socket),
		.help = "use this vhost-user-blk unix socket instead of /dev/vhost-blk",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_serial",
		.lname = "serial",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct pvblk_fio_opts, serial),
		.help = "GET_ID serial to set (vhost-blk)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_qos",
		.lname = "QoS limits",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct pvblk_fio_opts, qos),
		.help = "per-disk limits (vhost-blk): riops=N,wiops=N,rbps=N,wbps=N,burst=MS",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_queues",
		.lname = "virtqueues",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvblk_fio_opts, queues),
		.def = "0",
		.help = "number of virtqueues (0: one per fio thread); each job uses one",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_qsize",
		.lname = "ring size",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvblk_fio_opts, qsize),
		.def = "0",
		.help = "virtqueue size, power of two (0: from iodepth, >= 128)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_mem_mb",
		.lname = "guest memory",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvblk_fio_opts, mem_mb),
		.def = "1024",
		.help = "guest memory region in MiB (sparse memfd)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_ro",
		.lname = "read-only backend",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct pvblk_fio_opts, ro),
		.def = "0",
		.help = "open the backend read-only",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_no_indirect",
		.lname = "no indirect descriptors",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct pvblk_fio_opts, no_indirect),
		.def = "0",
		.help = "do not negotiate VIRTIO_RING_F_INDIRECT_DESC",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_no_event_idx",
		.lname = "no event index",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct pvblk_fio_opts, no_event_idx),
		.def = "0",
		.help = "do not negotiate VIRTIO_RING_F_EVENT_IDX",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_poll",
		.lname = "poll completions",
		.type = FIO_OPT_BOOL,
		.off1 = offsetof(struct pvblk_fio_opts, poll),
		.def = "0",
		.help = "busy-poll the used ring instead of sleeping on the call eventfd (and ask the device not to signal)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_busyloop",
		.lname = "vhost busy-poll timeout",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvblk_fio_opts, busyloop),
		.def = "0",
		.help = "/dev/vhost-blk only: VHOST_SET_VRING_BUSYLOOP_TIMEOUT of every virtqueue (units of 1024 ns; 0: off)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_max_segs",
		.lname = "data descriptors per request",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvblk_fio_opts, max_segs),
		.def = "128",
		.help = "at most this many data descriptors per request (bigger I/Os are split)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "pvblk_size_max",
		.lname = "bytes per data descriptor",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct pvblk_fio_opts, size_max),
		.def = "0",
		.help = "cap on bytes per data descriptor (0: the device's size_max)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = NULL,
	},
};

/* The device all jobs of this process share. */
static struct {
	pthread_mutex_t lock;
	struct pvv_dev *dev;	/* open while refs > 0 */
	unsigned int refs;
	uint8_t busy[VHOST_BLK_MAX_QUEUES_FIO];
	uint64_t size;		/* bytes, cached capacity (0: unknown) */
} shared = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct pvblk_td {
	struct pvv_vq *vq;
	unsigned int q;
	struct io_u **events;
	struct pvv_done *done;
	unsigned int depth;
};

static void fill_opts(struct thread_data *td, struct pvv_opts *po,
		      unsigned int nq, unsigned int qsize, size_t mem)
{
	struct pvblk_fio_opts *o = td->eo;

	memset(po, 0, sizeof(*po));
	po->backing_fd = -1;
	if (o->socket) {
		po->kind = PVV_VHOST_USER;
		po->path = o->socket;
	} else {
		po->kind = PVV_VHOST_KERNEL;
		po->path = o->vhost ? o->vhost : "/dev/vhost-blk";
		po->backing = o->backend;
		po->read_only = o->ro;
		po->serial = o->serial;
		po->qos = o->qos;
	}
	po->nqueues = nq;
	po->qsize = qsize;
	po->mem_size = mem;
	po->no_indirect = o->no_indirect;
	po->no_event_idx = o->no_event_idx;
	po->poll = o->poll;
	po->busyloop = o->busyloop;
	po->max_segs = o->max_segs;
	po->size_max = o->size_max;
}

static int check_opts(struct thread_data *td)
{
	struct pvblk_fio_opts *o = td->eo;

	if (!o->socket && !o->backend) {
		log_err("pvblk: set pvblk_backend=<dev|file> or pvblk_socket=<path>\n");
		return 1;
	}
	if (o->socket && o->busyloop) {
		log_err("pvblk: pvblk_busyloop is for /dev/vhost-blk, not pvblk_socket\n");
		return 1;
	}
	return 0;
}

/* Capacity in bytes: from the open device, or a short-lived probe. */
static uint64_t probe_size(struct thread_data *td)
{
	struct pvv_opts po;
	struct pvv_dev *d;
	uint64_t sz;

	pthread_mutex_lock(&shared.lock);
	if (shared.dev)
		shared.size = pvv_config(shared.dev)->capacity * 512;
	if (!shared.size) {
		fill_opts(td, &po, 1, 16, 1 << 20);
		po.max_segs = 1;
		d = pvv_open(&po);
		if (d) {
			shared.size = pvv_config(d)->capacity * 512;
			pvv_close(d);
		}
	}
	sz = shared.size;
	pthread_mutex_unlock(&shared.lock);
	return sz;
}

static int pvblk_setup(struct thread_data *td)
{
	uint64_t sz;
	unsigned int i;

	if (check_opts(td))
		return 1;
	if (!td->files_index) {
		add_file(td, "pvblk", 0, 0);
		td->o.nr_files = td->o.nr_files ? : 1;
		td->o.open_files++;
	}
	sz = probe_size(td);
	if (!sz) {
		log_err("pvblk: cannot read the device capacity\n");
		return 1;
	}
	for (i = 0; i < td->files_index; i++)
		td->files[i]->real_file_size = sz;
	return 0;
}

static unsigned int pow2_at_least(unsigned int v)
{
	unsigned int p = 1;

	while (p < v && p < 32768)
		p <<= 1;
	return p;
}

static int pvblk_init(struct thread_data *td)
{
	struct pvblk_fio_opts *o = td->eo;
	struct pvblk_td *pd;
	unsigned int nq, q;

	if (check_opts(td))
		return 1;
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return 1;
	pd->depth = td->o.iodepth ? td->o.iodepth : 1;
	pd->events = calloc(pd->depth, sizeof(*pd->events));
	pd->done = calloc(pd->depth, sizeof(*pd->done));
	if (!pd->events || !pd->done)
		goto fail;

	pthread_mutex_lock(&shared.lock);
	if (!shared.dev) {
		struct pvv_opts po;
		/* without indirect a 1 MiB I/O takes 256 + 12 descriptors */
		unsigned int qmin = o->no_indirect ? 512 : 256;
		unsigned int qs = o->qsize ? o->qsize :
				  pow2_at_least(pd->depth < qmin ? qmin :
						pd->depth);

		/* default: one queue per thread, as many as the device has */
		nq = o->queues ? o->queues : thread_number;
		if (!nq)
			nq = 1;
		if (!o->queues && nq > VHOST_BLK_MAX_QUEUES_FIO)
			nq = VHOST_BLK_MAX_QUEUES_FIO;
		if (nq > VHOST_BLK_MAX_QUEUES_FIO) {
			pthread_mutex_unlock(&shared.lock);
			log_err("pvblk: at most %d queues\n",
				VHOST_BLK_MAX_QUEUES_FIO);
			goto fail;
		}
		fill_opts(td, &po, nq, qs, (size_t)o->mem_mb << 20);
		po.clamp_queues = !o->queues;
		shared.dev = pvv_open(&po);
		if (!shared.dev) {
			pthread_mutex_unlock(&shared.lock);
			log_err("pvblk: cannot open the device\n");
			goto fail;
		}
		memset(shared.busy, 0, sizeof(shared.busy));
	}
	nq = pvv_nqueues(shared.dev);
	for (q = 0; q < nq && shared.busy[q]; q++)
		;
	if (q == nq) {
		pthread_mutex_unlock(&shared.lock);
		log_err("pvblk: all %u queues taken; raise pvblk_queues\n", nq);
		goto fail;
	}
	shared.busy[q] = 1;
	shared.refs++;
	pd->q = q;
	pd->vq = pvv_vq(shared.dev, q);
	pthread_mutex_unlock(&shared.lock);
	if (pd->vq->num < pd->depth)
		log_info("pvblk: ring size %u < iodepth %u\n", pd->vq->num,
			 pd->depth);
	td->io_ops_data = pd;
	return 0;
fail:
	free(pd->events);
	free(pd->done);
	free(pd);
	return 1;
}

static void pvblk_cleanup(struct thread_data *td)
{
	struct pvblk_td *pd = td->io_ops_data;

	if (!pd)
		return;
	pthread_mutex_lock(&shared.lock);
	shared.busy[pd->q] = 0;
	if (!--shared.refs) {
		pvv_close(shared.dev);
		shared.dev = NULL;
	}
	pthread_mutex_unlock(&shared.lock);
	free(pd->events);
	free(pd->done);
	free(pd);
	td->io_ops_data = NULL;
}

static int pvblk_iomem_alloc(struct thread_data *td, size_t total)
{
	void *p = NULL;

	pthread_mutex_lock(&shared.lock);
	if (shared.dev)
		p = pvv_alloc(shared.dev, total, 4096);
	pthread_mutex_unlock(&shared.lock);
	if (!p) {
		log_err("pvblk: %zu bytes of buffers do not fit in guest memory; raise pvblk_mem_mb\n",
			total);
		return 1;
	}
	td->orig_buffer = p;
	return 0;
}

static void pvblk_iomem_free(struct thread_data *td)
{
	/* Guest memory goes away with the device. */
	td->orig_buffer = NULL;
}

/*
 * An I/O larger than one request can carry (seg_max * size_max) goes out as
 * several requests; it completes when the last one does.
 */
struct pvblk_iou {
	struct virtio_blk_discard_write_zeroes *seg;	/* in guest memory */
	unsigned int pending;
	int error;
};

static int pvblk_io_u_init(struct thread_data *td, struct io_u *io_u)
{
	struct pvblk_iou *iu = calloc(1, sizeof(*iu));

	(void)td;
	if (!iu)
		return 1;
	pthread_mutex_lock(&shared.lock);
	if (shared.dev)
		iu->seg = pvv_alloc(shared.dev, sizeof(*iu->seg), 16);
	pthread_mutex_unlock(&shared.lock);
	if (!iu->seg) {
		free(iu);
		return 1;
	}
	io_u->engine_data = iu;
	return 0;
}

static void pvblk_io_u_free(struct thread_data *td, struct io_u *io_u)
{
	(void)td;
	free(io_u->engine_data);
	io_u->engine_data = NULL;
}

static enum fio_q_status pvblk_queue(struct thread_data *td,
				     struct io_u *io_u)
{
	struct pvblk_td *pd = td->io_ops_data;
	struct pvblk_iou *iu = io_u->engine_data;
	struct iovec iov = { io_u->xfer_buf, io_u->xfer_buflen };
	uint64_t sector = io_u->offset >> 9;
	unsigned int niov = 1, parts, i, need;
	struct pvv_vq *vq = pd->vq;
	uint32_t type;
	size_t maxreq;
	int r;

	fio_ro_check(td, io_u);
	switch (io_u->ddir) {
	case DDIR_READ:
		type = VIRTIO_BLK_T_IN;
		break;
	case DDIR_WRITE:
		type = VIRTIO_BLK_T_OUT;
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
		type = VIRTIO_BLK_T_FLUSH;
		niov = 0;
		sector = 0;
		break;
	case DDIR_TRIM: {
		struct virtio_blk_discard_write_zeroes *seg = iu->seg;

		seg->sector = sector;
		seg->num_sectors = io_u->xfer_buflen >> 9;
		seg->flags = 0;
		iov.iov_base = seg;
		iov.iov_len = sizeof(*seg);
		type = VIRTIO_BLK_T_DISCARD;
		sector = 0;
		break;
	}
	default:
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	if ((io_u->offset | io_u->xfer_buflen) & 511) {
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	/* Whole requests only: check the ring has room for every part. */
	maxreq = (size_t)pvv_max_segs(shared.dev) * pvv_size_max(shared.dev);
	if (maxreq > (1u << 30))
		maxreq = 1u << 30;
	maxreq &= ~(size_t)511;
	parts = niov && type != VIRTIO_BLK_T_DISCARD ?
		(iov.iov_len + maxreq - 1) / maxreq : 1;
	if (!parts)
		parts = 1;
	need = vq->indirect ? parts :
	       3 * parts + iov.iov_len / pvv_size_max(shared.dev);
	if (need > vq->nfree) {
		if (pvv_inflight(vq))
			return FIO_Q_BUSY;
		log_err("pvblk: an I/O of %llu bytes needs %u descriptors, the ring has %u; raise pvblk_qsize\n",
			io_u->xfer_buflen, need, vq->num);
		io_u->error = ENOSPC;
		return FIO_Q_COMPLETED;
	}
	iu->pending = parts;
	iu->error = 0;
	for (i = 0; i < parts; i++) {
		struct iovec part = iov;

		if (parts > 1) {
			size_t off = (size_t)i * maxreq;

			part.iov_base = (uint8_t *)iov.iov_base + off;
			part.iov_len = iov.iov_len - off < maxreq ?
				       iov.iov_len - off : maxreq;
		}
		r = pvv_submit(vq, type, sector + (i * (maxreq >> 9)) *
			       (type != VIRTIO_BLK_T_DISCARD &&
				type != VIRTIO_BLK_T_FLUSH),
			       &part, niov, io_u, 0);
		if (r) {
			/* cannot happen after the room check; fail loudly */
			log_err("pvblk: submit: %s\n", strerror(-r));
			iu->error = -r;
			iu->pending -= parts - i;
			if (!i) {
				io_u->error = -r;
				return FIO_Q_COMPLETED;
			}
			break;
		}
	}
	return FIO_Q_QUEUED;
}

static int pvblk_getevents(struct thread_data *td, unsigned int min,
			   unsigned int max, const struct timespec *t)
{
	struct pvblk_td *pd = td->io_ops_data;
	struct pvblk_fio_opts *o = td->eo;
	unsigned int nev = 0;
	int tmo = -1, i;

	if (t)
		tmo = t->tv_sec * 1000 + t->tv_nsec / 1000000;
	if (max > pd->depth)
		max = pd->depth;
	for (;;) {
		/* each reaped request finishes at most one io_u */
		int got = pvv_reap(pd->vq, pd->done, max - nev);

		for (i = 0; i < got; i++) {
			struct io_u *io_u = pd->done[i].cookie;
			struct pvblk_iou *iu = io_u->engine_data;
			uint8_t st = pd->done[i].status;

			if (st != VIRTIO_BLK_S_OK && !iu->error)
				iu->error = st == VIRTIO_BLK_S_UNSUPP ?
					    EOPNOTSUPP : EIO;
			if (--iu->pending)
				continue;
			io_u->error = iu->error;
			io_u->resid = io_u->error ? io_u->xfer_buflen : 0;
			pd->events[nev++] = io_u;
		}
		if (nev >= min || nev >= max)
			break;
		if (o->poll)
			continue;
		if (pvv_wait(pd->vq, tmo) == -ETIMEDOUT)
			break;
	}
	return nev;
}

static struct io_u *pvblk_event(struct thread_data *td, int event)
{
	struct pvblk_td *pd = td->io_ops_data;

	return pd->events[event];
}

static int pvblk_open_file(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	(void)f;
	return 0;
}

static int pvblk_get_file_size(struct thread_data *td, struct fio_file *f)
{
	if (!f->real_file_size)
		f->real_file_size = probe_size(td);
	fio_file_set_size_known(f);
	return f->real_file_size ? 0 : 1;
}

struct ioengine_ops ioengine = {
	.name = "pvblk",
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_DISKLESSIO | FIO_NOEXTEND | FIO_NODISKUTIL,
	.setup = pvblk_setup,
	.init = pvblk_init,
	.cleanup = pvblk_cleanup,
	.queue = pvblk_queue,
	.getevents = pvblk_getevents,
	.event = pvblk_event,
	.open_file = pvblk_open_file,
	.close_file = pvblk_open_file,
	.get_file_size = pvblk_get_file_size,
	.iomem_alloc = pvblk_iomem_alloc,
	.iomem_free = pvblk_iomem_free,
	.io_u_init = pvblk_io_u_init,
	.io_u_free = pvblk_io_u_free,
	.options = options,
	.option_struct_size = sizeof(struct pvblk_fio_opts),
};
