/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-blk frontend internals shared by its objects and its KUnit suite.
 *
 * Everything the guest controls is judged by pure functions over copies:
 * vhost_blk_measure() sums up the iovec layout of one descriptor chain,
 * vhost_blk_check() validates a copied virtio_blk_outhdr against that
 * layout, vhost_blk_check_dwz() the flags of a copied discard/write-zeroes
 * segment.  Only what the wire format tells is judged here; the backend's
 * limits, and the size and alignment of the data, are the core's.
 */
#ifndef _PVBLK_VHOST_BLK_H
#define _PVBLK_VHOST_BLK_H

#include <linux/types.h>
#include <linux/uio.h>
#include <linux/blk_types.h>
#include <pvblk/pvblk.h>

/* Limits advertised in the config space and enforced on every chain. */
#define VHOST_BLK_SEG_MAX	128	/* data descriptors per request */
#define VHOST_BLK_SIZE_MAX	4096	/* bytes per data descriptor */
/* Pages one request may pin: every piece may straddle a page boundary. */
#define VHOST_BLK_MAX_PAGES	(2 * VHOST_BLK_SEG_MAX + 2)
/* Discard / write-zeroes segments per request (max_*_seg). */
#define VHOST_BLK_DWZ_SEGS	1

/* vhost_blk_check(): no device-writable byte, no status can be written. */
#define VHOST_BLK_S_NONE	0xff

/**
 * struct vhost_blk_chain - the layout of one descriptor chain.
 * @out_bytes: device-readable bytes, header included.
 * @in_bytes: device-writable bytes, status byte included.
 * @out_segs: non-empty iovec pieces after the 16-byte header.
 * @out_max: longest of them in bytes.
 * @in_segs: non-empty iovec pieces before the status byte.
 * @in_max: longest of them in bytes.
 * @status: the status byte (the last device-writable byte), or NULL.
 */
struct vhost_blk_chain {
	size_t out_bytes;
	size_t in_bytes;
	unsigned int out_segs;
	size_t out_max;
	unsigned int in_segs;
	size_t in_max;
	u8 __user *status;
};

void vhost_blk_measure(const struct iovec *iov, unsigned int out,
		       unsigned int in, struct vhost_blk_chain *c);
u8 vhost_blk_check(u32 type, const struct vhost_blk_chain *c, u64 features,
		   enum pvblk_op *op);
u8 vhost_blk_check_dwz(u32 type, u32 flags, unsigned int *req_flags);
u8 vhost_blk_status(blk_status_t status);

#endif /* _PVBLK_VHOST_BLK_H */
