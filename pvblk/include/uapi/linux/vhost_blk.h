/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * /dev/vhost-blk: virtio-blk virtqueues served by the host kernel (pvblk).
 *
 * The device speaks the standard vhost ioctls of <linux/vhost.h>
 * (VHOST_SET_OWNER, VHOST_GET/SET_FEATURES, VHOST_SET_MEM_TABLE,
 * VHOST_SET_VRING_*, VHOST_SET_LOG_BASE/FD, VHOST_NEW_WORKER,
 * VHOST_ATTACH_VRING_WORKER, VHOST_RESET_OWNER) plus the ioctls below.
 *
 * Virtqueue i is request queue i of the virtio-blk device; up to
 * VHOST_BLK_MAX_QUEUES queues.  Features offered by VHOST_GET_FEATURES:
 * VIRTIO_F_VERSION_1, VIRTIO_F_ANY_LAYOUT, VIRTIO_RING_F_INDIRECT_DESC,
 * VIRTIO_RING_F_EVENT_IDX, VHOST_F_LOG_ALL (VIRTIO_F_ACCESS_PLATFORM and
 * VIRTIO_F_RING_PACKED are NOT offered), and the
 * VIRTIO_BLK_F_* bits SIZE_MAX, SEG_MAX, BLK_SIZE, TOPOLOGY, MQ, FLUSH,
 * RO (read-only backend only), DISCARD, WRITE_ZEROES, the last two only
 * when the backend supports them.  Ask for the features after
 * VHOST_BLK_SET_BACKEND: the backend-dependent bits are only offered then.
 *
 * Limits served (and enforced when the bits are acked): seg_max 128 data
 * descriptors, size_max 4096 bytes per descriptor, one discard or
 * write-zeroes segment per request.  Any descriptor layout is accepted:
 * the header is the first 16 device-readable bytes, the status the last
 * device-writable byte.
 *
 * A virtqueue is served once a backend is attached and its ring is set up
 * (addresses and kick fd), in either order; from then on VHOST_SET_VRING_NUM
 * and VHOST_SET_VRING_BASE answer -EBUSY for it until the backend is
 * detached or the owner reset.  A malformed descriptor table stops that
 * virtqueue only (its error eventfd is signalled) until the next
 * VHOST_BLK_SET_BACKEND.
 *
 * Busy polling: VHOST_SET_VRING_BUSYLOOP_TIMEOUT / VHOST_GET_VRING_BUSYLOOP_TIMEOUT
 * (struct vhost_vring_state: @index the virtqueue, @num the timeout in units
 * of 1024 ns, as vhost-net counts it; 0, the default, switches it off; an
 * index past VHOST_BLK_MAX_QUEUES gets -ENOBUFS).  With a timeout set, the
 * virtqueue's worker keeps watching the avail ring and the completions of
 * that virtqueue for up to that long when the ring runs empty after a kick
 * and after it answered a batch, before it asks for a kick again and
 * sleeps: a guest that submits right after a completion, and a disk that
 * answers quickly, then cost no kick and no wake-up, at the price of a
 * worker that spins.  Polling stops early as soon as another task is
 * runnable on the worker's CPU (it only spins where the CPU would idle);
 * other virtqueues sharing the worker wait at most the timeout.
 * VHOST_RESET_OWNER sets it back to 0.
 *
 * close() waits 5 seconds at most for the requests in flight.  If the
 * backend has not answered them by then (a hung disk), close returns and
 * the instance finishes in the background: it keeps the disk open and the
 * pages of those requests pinned (they stay valid whatever the VMM does
 * with its memory) until the last one completes, then closes the disk and
 * frees itself; the answers to those requests are dropped.  Module unload
 * waits for such instances.
 */
#ifndef _UAPI_LINUX_VHOST_BLK_H
#define _UAPI_LINUX_VHOST_BLK_H

#include <linux/types.h>
#include <linux/vhost.h>
#include <linux/virtio_blk.h>

/* Request queues a device serves at most. */
#define VHOST_BLK_MAX_QUEUES	16

/* Serial returned for VIRTIO_BLK_T_GET_ID (VIRTIO_BLK_ID_BYTES). */
#define VHOST_BLK_SERIAL_BYTES	20

/*
 * VHOST_BLK_SET_BACKEND - attach or detach the disk.
 * @index: must be 0 (one backend serves every queue).
 * @fd: an open block device or regular file; -1 detaches.  Opened for
 *	writing unless the fd was opened O_RDONLY, in which case the device
 *	is read-only (VIRTIO_BLK_F_RO, writes fail with VIRTIO_BLK_S_IOERR).
 * Requests in flight on the old backend are drained first.  The disk is
 * written with bios (block device) or direct I/O (regular file), past the
 * host's page cache of it: while the guest runs, look at the disk from the
 * host with O_DIRECT, or drop that cache first.
 *
 * A block device is re-opened by its dev_t and must still be the disk the
 * fd was opened on: the fd of a disk that was removed (even if a new disk
 * now has its dev_t) gets -ENXIO.  Read-only devices share a disk (any
 * number of /dev/vhost-blk instances may serve it read-only at once); a
 * writable one holds it alone: a writer while readers hold the disk, a
 * reader while a writer holds it, and either while it is mounted get
 * -EBUSY.  A device may attach again the disk it already serves, with the
 * same mode (to change the mode, detach first).
 *
 * Returns 0, -EBADF, -EINVAL (index), -ENOTBLK/-EOPNOTSUPP (unusable fd),
 * -ENXIO (the fd's disk is gone), -EBUSY (held by another opener),
 * -EFAULT.
 */
#define VHOST_BLK_SET_BACKEND	_IOW(VHOST_VIRTIO, 0x50, struct vhost_vring_file)

/**
 * struct vhost_blk_serial - serial for GET_ID.
 * @len: bytes used in @id, at most VHOST_BLK_SERIAL_BYTES.
 * @reserved: must be zero.
 * @id: the serial, not NUL-terminated when @len is 20.
 */
struct vhost_blk_serial {
	__u32 len;
	__u32 reserved;
	__u8 id[VHOST_BLK_SERIAL_BYTES];
};

/* VHOST_BLK_SET_SERIAL - set the GET_ID serial (default: empty). */
#define VHOST_BLK_SET_SERIAL	_IOW(VHOST_VIRTIO, 0x51, struct vhost_blk_serial)

/*
 * Bytes VHOST_BLK_GET_CONFIG copies out: struct virtio_blk_config as of
 * Linux 6.12.  The size is fixed here rather than taken from
 * sizeof(struct virtio_blk_config), which grows with the headers a program
 * is built against (72 bytes in Linux 6.1's) and would change the ioctl
 * number with it.
 */
#define VHOST_BLK_CONFIG_SIZE	96

/*
 * VHOST_BLK_GET_CONFIG - the virtio-blk config space the device serves for
 * its current backend (little-endian, as a guest reads it): capacity,
 * size_max, seg_max, blk_size, physical_block_exp, num_queues, the discard
 * and write-zeroes limits.  The argument points at VHOST_BLK_CONFIG_SIZE
 * bytes laid out as struct virtio_blk_config.  -ENODEV without a backend.
 * The capacity is the backend's size at the call: after the disk was
 * resized (lvextend, losetup -c, a file truncated larger), the VMM asks
 * again, serves the new config to the guest (a config-change interrupt),
 * and requests up to the new end are served from then on.
 */
#define VHOST_BLK_GET_CONFIG	_IOC(_IOC_READ, VHOST_VIRTIO, 0x52, \
				     VHOST_BLK_CONFIG_SIZE)

/**
 * struct vhost_blk_qos - I/O limits of the device (per-disk QoS).
 * @read_iops: READ requests per second; 0: unlimited; at most 2^28.
 * @write_iops: WRITE, DISCARD and WRITE_ZEROES requests per second;
 *	0: unlimited; at most 2^28.
 * @read_bps: bytes per second read, counted in 512-byte units (a limit
 *	that is not a multiple of 512 is rounded up); 0: unlimited; at most
 *	2^37.
 * @write_bps: the same for WRITE data (DISCARD and WRITE_ZEROES move
 *	none: only @write_iops counts them).
 * @burst_ms: what an idle device may do at once: @burst_ms worth of each
 *	limit (token buckets that hold that much); 0: 1000; at most 10000.
 * @flags: must be zero.
 * @reserved: must be zero.
 *
 * FLUSH and GET_ID are never limited.  A request over a limit waits in
 * the kernel, in the order the guest made them (no request of the device
 * overtakes an older waiting one), never failed; a reset, a backend
 * change or close do not wait for the limit: what waits then runs at once.
 */
struct vhost_blk_qos {
	__u64 read_iops;
	__u64 write_iops;
	__u64 read_bps;
	__u64 write_bps;
	__u32 burst_ms;
	__u32 flags;
	__u64 reserved[2];
};

/*
 * VHOST_BLK_SET_QOS - set the device's limits (all zero: none).  Any time,
 * with or without a backend, also while I/O runs: the requests waiting are
 * judged against the new limits at once.  The limits stay across backend
 * changes and VHOST_RESET_OWNER.  Returns 0, -EFAULT, or -EINVAL (a value
 * over its maximum, @flags or @reserved not zero).
 * VHOST_BLK_GET_QOS - the limits in force (@burst_ms 1000 when it was
 * set as 0).
 */
#define VHOST_BLK_SET_QOS	_IOW(VHOST_VIRTIO, 0x56, struct vhost_blk_qos)
#define VHOST_BLK_GET_QOS	_IOR(VHOST_VIRTIO, 0x57, struct vhost_blk_qos)

#endif /* _UAPI_LINUX_VHOST_BLK_H */
