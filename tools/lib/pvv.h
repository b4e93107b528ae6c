/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvv: a userspace virtio-blk driver for testing pvblk.
 *
 * A plain process plays the guest: guest memory is one memfd region mapped
 * MAP_SHARED, with guest physical address == process virtual address, so a
 * descriptor address is simply a pointer.  Split virtqueues (EVENT_IDX and
 * INDIRECT_DESC when offered) live in that region.  Two control channels
 * drive the device: /dev/vhost-blk ioctls, or a vhost-user-blk unix socket.
 *
 * Threading: a struct pvv_dev may be shared by threads as long as each
 * virtqueue is used by one thread at a time; pvv_alloc() is thread safe.
 */
#ifndef PVV_H
#define PVV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum pvv_kind {
	PVV_VHOST_KERNEL,	/* /dev/vhost-blk */
	PVV_VHOST_USER,		/* vhost-user-blk unix socket */
};

struct pvv_opts {
	enum pvv_kind kind;
	const char *path;	/* /dev/vhost-blk, or the socket path */
	const char *backing;	/* kernel: block device or file to attach */
	int read_only;		/* kernel: open backing O_RDONLY */
	int backing_fd;		/* kernel: use this fd instead (>= 0) */
	unsigned int nqueues;	/* default 1 */
	int clamp_queues;	/* use fewer queues if the device has fewer */
	unsigned int qsize;	/* ring size, power of two; default 128 */
	size_t mem_size;	/* guest memory bytes; default 64 MiB */
	int no_indirect;	/* do not negotiate INDIRECT_DESC */
	int no_event_idx;	/* do not negotiate EVENT_IDX */
	int err_fd;		/* kernel: also set VHOST_SET_VRING_ERR eventfds */
	unsigned int max_segs;	/* per-request data segments; default 128 */
	uint32_t size_max;	/* cap on bytes per data descriptor (0: none) */
	const char *serial;	/* kernel: VHOST_BLK_SET_SERIAL */
	/*
	 * Poll the used ring: the device is asked not to signal completions
	 * (no used_event updates with EVENT_IDX, VRING_AVAIL_F_NO_INTERRUPT
	 * without), and pvv_wait() spins on the used ring instead of
	 * sleeping on the call eventfd.
	 */
	int poll;
	/*
	 * kernel: VHOST_SET_VRING_BUSYLOOP_TIMEOUT on every virtqueue (units
	 * of 1024 ns; 0, the default, leaves the device's setting alone).
	 */
	unsigned int busyloop;
	const char *qos;	/* kernel: VHOST_BLK_SET_QOS, pvv_parse_qos() syntax */
};

/* The virtio-blk config space fields a driver uses, in host byte order. */
struct pvv_config {
	uint64_t capacity;		/* 512-byte sectors */
	uint32_t size_max, seg_max, blk_size;
	uint8_t physical_block_exp;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
};

/* Split ring layout (virtio 1.x, little-endian == host on x86). */
struct pvv_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define PVV_DESC_F_NEXT		1
#define PVV_DESC_F_WRITE	2
#define PVV_DESC_F_INDIRECT	4

struct pvv_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* then used_event */
};

struct pvv_used_elem {
	uint32_t id;
	uint32_t len;
};

struct pvv_used {
	uint16_t flags;
	uint16_t idx;
	struct pvv_used_elem ring[];	/* then avail_event */
};

struct pvv_dev;

/*
 * Per-virtqueue state; the fields are public for the raw API (tests that
 * craft their own chains).  A virtqueue is used either through
 * pvv_submit()/pvv_reap() or raw, not both.
 */
struct pvv_vq {
	struct pvv_dev *dev;
	unsigned int index, num;
	struct pvv_desc *desc;
	struct pvv_avail *avail;
	struct pvv_used *used;
	int kick_fd, call_fd, err_fd;
	uint16_t avail_idx;		/* next avail->idx we publish */
	uint16_t last_used;		/* next used entry to consume */
	uint16_t free_head, nfree;
	int event_idx, indirect;
	/* per head: request header + status, indirect table, cookie */
	struct pvv_slot *slots;
	void **cookies;
	uint16_t *chain_len;
	struct iovec *scratch;		/* max_segs + 1 entries */
};

/* A finished request. */
struct pvv_done {
	void *cookie;
	uint8_t status;
	uint32_t len;		/* used length reported by the device */
};

/* Open and start a device; NULL on failure (message on stderr). */
struct pvv_dev *pvv_open(const struct pvv_opts *o);
void pvv_close(struct pvv_dev *d);

const struct pvv_config *pvv_config(struct pvv_dev *d);
uint64_t pvv_features(struct pvv_dev *d);	/* negotiated */
unsigned int pvv_nqueues(struct pvv_dev *d);
struct pvv_vq *pvv_vq(struct pvv_dev *d, unsigned int i);
int pvv_ctl_fd(struct pvv_dev *d);		/* vhost fd or socket */

/* Guest memory: thread-safe bump allocator, zeroed, never freed. */
void *pvv_alloc(struct pvv_dev *d, size_t size, size_t align);
int pvv_in_mem(struct pvv_dev *d, const void *p, size_t len);

/* Data descriptors per request: min(max_segs option, config seg_max). */
unsigned int pvv_max_segs(struct pvv_dev *d);
/* Bytes per data descriptor (config size_max, else 2 GiB). */
uint32_t pvv_size_max(struct pvv_dev *d);

/*
 * Submit one request: type (VIRTIO_BLK_T_*), sector, data segments (which
 * must lie in guest memory; cut into size_max pieces here, -E2BIG when
 * that makes more than pvv_max_segs()).  Data is device-writable for T_IN and
 * T_GET_ID, device-readable otherwise.  Returns 0, -EAGAIN if the ring is
 * full, -EINVAL.  Kicks unless the device suppressed notifications; pass
 * nokick to batch and call pvv_kick() later.
 */
int pvv_submit(struct pvv_vq *vq, uint32_t type, uint64_t sector,
	       const struct iovec *iov, unsigned int niov, void *cookie,
	       int nokick);
void pvv_kick(struct pvv_vq *vq);
/* Reap up to max completions without blocking; returns how many. */
int pvv_reap(struct pvv_vq *vq, struct pvv_done *out, int max);
/*
 * Block until the used ring may have new entries (call eventfd), the
 * vq's error eventfd fires (returns 1), or timeout_ms passes (returns
 * -ETIMEDOUT; < 0 waits forever).  Returns 0 on a call.  With the poll
 * option it spins until the used ring has a new entry (0) instead.
 */
int pvv_wait(struct pvv_vq *vq, int timeout_ms);
/* Synchronous helper: submit, wait, return status (or -errno). */
int pvv_sync(struct pvv_vq *vq, uint32_t type, uint64_t sector,
	     void *buf, size_t len);
/* In-flight requests on a vq. */
unsigned int pvv_inflight(struct pvv_vq *vq);

/* Raw API: publish head, kick; wait for the next used element. */
void pvv_raw_publish(struct pvv_vq *vq, uint16_t head);
/* 0 with *e filled, 1 if the error eventfd fired, -ETIMEDOUT. */
int pvv_raw_next_used(struct pvv_vq *vq, struct pvv_used_elem *e,
		      int timeout_ms);

/* Kernel backend control (PVV_VHOST_KERNEL only); return 0 or -errno. */
int pvv_set_backend(struct pvv_dev *d, int fd);
/* VHOST_SET/GET_VRING_BUSYLOOP_TIMEOUT of virtqueue @index (kernel only). */
int pvv_set_busyloop(struct pvv_dev *d, unsigned int index, unsigned int num);
int pvv_get_busyloop(struct pvv_dev *d, unsigned int index, unsigned int *num);
int pvv_get_config_raw(struct pvv_dev *d, struct pvv_config *c);

/*
 * Per-disk QoS (VHOST_BLK_SET_QOS / VHOST_BLK_GET_QOS, PVV_VHOST_KERNEL
 * only): requests and bytes per second, reads and writes apart, 0 is
 * unlimited; burst_ms of each rate may go at once (0: 1000).  Settable any
 * time, also while I/O runs.  pvv_parse_qos() reads the admin syntax the
 * Xen backend node pvblk-qos uses too: "riops=N,wiops=N,rbps=N[KMGT],
 * wbps=N[KMGT],burst=MS" (any order, missing keys 0); -EINVAL otherwise.
 */
struct pvv_qos {
	uint64_t read_iops, write_iops;
	uint64_t read_bps, write_bps;
	uint32_t burst_ms;
};
int pvv_set_qos(struct pvv_dev *d, const struct pvv_qos *q);
int pvv_get_qos(struct pvv_dev *d, struct pvv_qos *q);
int pvv_parse_qos(const char *s, struct pvv_qos *q);

/*
 * Guest memory region (base and size in bytes) and its memfd, for tools
 * that build their own memory tables or map the memory a second time.
 */
void *pvv_mem(struct pvv_dev *d, size_t *size);
int pvv_mem_fd(struct pvv_dev *d);

#endif /* PVV_H */
