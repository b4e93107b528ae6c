// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-blk: validation of guest requests.
 *
 * Pure functions over values the data path copied out of guest memory
 * once: they never touch the rings, so KUnit can feed them every hostile
 * layout directly.  A chain is judged only on what the virtio-blk wire
 * format tells: its layout (device-readable part: header then write data
 * or discard segments; device-writable part: read data then the status
 * byte, as its last byte), the copied header, the features the driver
 * acked and the limits advertised in the config space.  Everything that
 * depends on the backend (range, read-only, support, the data's size and
 * alignment) is the core's to judge.  Header, data and status may share
 * or split descriptors at any byte boundary.  The answer is the virtio-blk status to write.
 */
#include <linux/kernel.h>
#include <linux/minmax.h>
#include <linux/string.h>
#include <linux/virtio_blk.h>
#include <kunit/visibility.h>

#include "vhost_blk.h"

/**
 * vhost_blk_measure() - sum up the iovec layout of one chain.
 * @iov: @out device-readable iovecs followed by @in device-writable ones.
 * @out: number of device-readable iovecs.
 * @in: number of device-writable iovecs.
 * @c: filled in.
 */
void vhost_blk_measure(const struct iovec *iov, unsigned int out,
		       unsigned int in, struct vhost_blk_chain *c)
{
	size_t skip = sizeof(struct virtio_blk_outhdr);
	size_t remain, len;
	unsigned int i;

	memset(c, 0, sizeof(*c));

	for (i = 0; i < out; i++) {
		len = iov[i].iov_len;
		c->out_bytes += len;
		if (len <= skip) {
			skip -= len;
			continue;
		}
		len -= skip;
		skip = 0;
		c->out_segs++;
		c->out_max = max(c->out_max, len);
	}

	for (i = 0; i < in; i++) {
		len = iov[out + i].iov_len;
		c->in_bytes += len;
		if (len)
			c->status = (u8 __user *)iov[out + i].iov_base + len - 1;
	}
	if (!c->in_bytes)
		return;

	/* Everything but the last byte, which is the status. */
	remain = c->in_bytes - 1;
	for (i = 0; i < in && remain; i++) {
		len = min(iov[out + i].iov_len, remain);
		remain -= len;
		if (!len)
			continue;
		c->in_segs++;
		c->in_max = max(c->in_max, len);
	}
}
EXPORT_SYMBOL_IF_KUNIT(vhost_blk_measure);

/*
 * Data of a READ or WRITE: within SEG_MAX and SIZE_MAX.  Its size (whole
 * sectors, not empty) is the core's to judge, and pieces may have any
 * length and alignment: virtio fixes no layout.
 */
static bool vhost_blk_data_ok(unsigned int segs, size_t longest, u64 features)
{
	if ((features & BIT_ULL(VIRTIO_BLK_F_SEG_MAX)) &&
	    segs > VHOST_BLK_SEG_MAX)
		return false;
	return !(features & BIT_ULL(VIRTIO_BLK_F_SIZE_MAX)) ||
	       longest <= VHOST_BLK_SIZE_MAX;
}

/**
 * vhost_blk_check() - validate one request.
 * @type: VIRTIO_BLK_T_* from the copied header (CPU order).
 * @c: layout of the chain (vhost_blk_measure()).
 * @features: features the driver acked.
 * @op: set to the core operation when the answer is VIRTIO_BLK_S_OK.
 *
 * @type is ignored when the chain is too short for a header.
 *
 * Return: VIRTIO_BLK_S_OK to go on, VIRTIO_BLK_S_IOERR or
 * VIRTIO_BLK_S_UNSUPP to answer at once, or VHOST_BLK_S_NONE when the
 * chain has no device-writable byte to answer in.
 */
u8 vhost_blk_check(u32 type, const struct vhost_blk_chain *c, u64 features,
		   enum pvblk_op *op)
{
	const size_t hdr = sizeof(struct virtio_blk_outhdr);
	const size_t dwz = sizeof(struct virtio_blk_discard_write_zeroes);
	size_t data;

	if (!c->in_bytes)
		return VHOST_BLK_S_NONE;
	if (c->out_bytes < hdr)
		return VIRTIO_BLK_S_IOERR;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		if (c->out_bytes != hdr ||
		    !vhost_blk_data_ok(c->in_segs, c->in_max, features))
			return VIRTIO_BLK_S_IOERR;
		*op = PVBLK_OP_READ;
		return VIRTIO_BLK_S_OK;

	case VIRTIO_BLK_T_OUT:
		if (c->in_bytes != 1 ||
		    !vhost_blk_data_ok(c->out_segs, c->out_max, features))
			return VIRTIO_BLK_S_IOERR;
		*op = PVBLK_OP_WRITE;
		return VIRTIO_BLK_S_OK;

	case VIRTIO_BLK_T_FLUSH:
		if (c->out_bytes != hdr || c->in_bytes != 1)
			return VIRTIO_BLK_S_IOERR;
		*op = PVBLK_OP_FLUSH;
		return VIRTIO_BLK_S_OK;

	case VIRTIO_BLK_T_GET_ID:
		if (c->out_bytes != hdr ||
		    c->in_bytes - 1 < VIRTIO_BLK_ID_BYTES)
			return VIRTIO_BLK_S_IOERR;
		*op = PVBLK_OP_GET_ID;
		return VIRTIO_BLK_S_OK;

	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (!(features & BIT_ULL(type == VIRTIO_BLK_T_DISCARD ?
					 VIRTIO_BLK_F_DISCARD :
					 VIRTIO_BLK_F_WRITE_ZEROES)))
			return VIRTIO_BLK_S_UNSUPP;
		data = c->out_bytes - hdr;
		if (c->in_bytes != 1 || !data ||
		    data % dwz || data / dwz > VHOST_BLK_DWZ_SEGS)
			return VIRTIO_BLK_S_IOERR;
		*op = type == VIRTIO_BLK_T_DISCARD ? PVBLK_OP_DISCARD :
						     PVBLK_OP_WRITE_ZEROES;
		return VIRTIO_BLK_S_OK;

	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}
EXPORT_SYMBOL_IF_KUNIT(vhost_blk_check);

/**
 * vhost_blk_check_dwz() - validate the flags of a copied discard or
 * write-zeroes segment (its range is the core's to judge).
 * @type: VIRTIO_BLK_T_DISCARD or VIRTIO_BLK_T_WRITE_ZEROES.
 * @flags: segment flags (CPU order).
 * @req_flags: set to the PVBLK_REQ_* flags on VIRTIO_BLK_S_OK.
 *
 * Return: a VIRTIO_BLK_S_* status.
 */
u8 vhost_blk_check_dwz(u32 type, u32 flags, unsigned int *req_flags)
{
	/* Reserved flag bits, or unmap on a discard: not ours to guess. */
	if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		return VIRTIO_BLK_S_UNSUPP;
	if (type == VIRTIO_BLK_T_DISCARD &&
	    (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
		return VIRTIO_BLK_S_UNSUPP;
	/* The limits advertised in the config space are not split. */
	*req_flags = PVBLK_REQ_NOSPLIT;
	if (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		*req_flags |= PVBLK_REQ_UNMAP;
	return VIRTIO_BLK_S_OK;
}
EXPORT_SYMBOL_IF_KUNIT(vhost_blk_check_dwz);

/**
 * vhost_blk_status() - the one map from block status to virtio-blk status.
 * @status: result of the request.
 *
 * Return: VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP or VIRTIO_BLK_S_IOERR.
 */
u8 vhost_blk_status(blk_status_t status)
{
	if (status == BLK_STS_OK)
		return VIRTIO_BLK_S_OK;
	if (status == BLK_STS_NOTSUPP)
		return VIRTIO_BLK_S_UNSUPP;
	return VIRTIO_BLK_S_IOERR;
}
EXPORT_SYMBOL_IF_KUNIT(vhost_blk_status);
