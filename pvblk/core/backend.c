// SPDX-License-Identifier: GPL-2.0
/*
 * Backends: a block device first, a regular file on -ENOTBLK.
 */
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/slab.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include "internal.h"

static void pvblk_bdev_info(struct pvblk_backend *be)
{
	struct block_device *bdev = be->bdev;
	struct pvblk_backend_info *info = &be->info;

	info->capacity = bdev_nr_sectors(bdev);
	info->logical_block_size = bdev_logical_block_size(bdev);
	info->physical_block_size = bdev_physical_block_size(bdev);
	info->max_segments = bdev_max_segments(bdev);
	info->max_segment_size = queue_max_segment_size(bdev_get_queue(bdev));
	info->max_sectors = queue_max_sectors(bdev_get_queue(bdev));
	info->flush = bdev_write_cache(bdev);
	info->fua = bdev_fua(bdev);
	/*
	 * Segments off the DMA alignment are bounced; sectors at least, as
	 * every bio stays in whole sectors.  The logical block size binds
	 * the request, not each segment: the block layer splits on it, but
	 * cannot realign the chained bios of a long request (chain_mask).
	 */
	be->mem_mask = bdev_dma_alignment(bdev) | (SECTOR_SIZE - 1);
	be->len_mask = be->mem_mask;
	be->chain_mask = info->logical_block_size > SECTOR_SIZE ?
			 info->logical_block_size - 1 : 0;
	if (!info->read_only) {
		info->max_discard_sectors = bdev_max_discard_sectors(bdev);
		info->discard_granularity = bdev_discard_granularity(bdev);
		info->discard_alignment = bdev_discard_alignment(bdev);
		info->max_write_zeroes_sectors = bdev_write_zeroes_sectors(bdev);
		info->secure_discard = bdev_max_secure_erase_sectors(bdev) > 0;
	}
}

/*
 * The holder of every read-only open: readers of a disk share it (two
 * guests may serve one disk read-only, as xen-blkback allows), while a
 * writer claims the disk with a holder of its own, so a writer and any
 * other opener exclude each other.
 */
static u8 pvblk_shared_ro_holder;

static struct pvblk_backend *pvblk_backend_open_bdev(dev_t devt,
						     bool read_only,
						     void *holder)
{
	blk_mode_t mode = BLK_OPEN_READ | (read_only ? 0 : BLK_OPEN_WRITE);
	struct pvblk_backend *be;
	struct file *bf;

	be = kzalloc(sizeof(*be), GFP_KERNEL_ACCOUNT);
	if (!be)
		return ERR_PTR(-ENOMEM);
	if (read_only)
		holder = &pvblk_shared_ro_holder;
	bf = bdev_file_open_by_dev(devt, mode, holder ?: be, NULL);
	if (IS_ERR(bf)) {
		kfree(be);
		return ERR_CAST(bf);
	}
	be->bdev_file = bf;
	be->bdev = file_bdev(bf);
	be->info.read_only = read_only || bdev_read_only(be->bdev);
	pvblk_bdev_info(be);
	return be;
}

/**
 * pvblk_backend_open_dev() - open a block device.
 * @devt: the device.
 * @read_only: open with BLK_OPEN_READ only and refuse writes.
 * @holder: who writes the disk (NULL: the backend itself).
 *
 * Read-only opens share the disk with every other pvblk reader; a writer
 * holds it exclusively with @holder, which may open it again.  Either is
 * refused with -EBUSY while the other kind, or anyone else, holds the disk
 * exclusively (a mount).  Return: the backend or an ERR_PTR().
 */
struct pvblk_backend *pvblk_backend_open_dev(dev_t devt, bool read_only,
					     void *holder)
{
	return pvblk_backend_open_bdev(devt, read_only, holder);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_backend_open_dev);

/**
 * pvblk_backend_open_file() - open the backend behind an open file.
 * @file: a block device node (re-opened by dev_t, see below) or a
 *	regular file (a reference is taken).  Either must be open for
 *	reading, and for writing unless @read_only: -EBADF otherwise.  A
 *	block device whose re-open finds another disk than @file's (the
 *	disk was removed and its dev_t reused) is refused: -ENXIO.
 * @read_only: refuse writes.
 * @holder: who writes a block device (NULL: the backend itself).  The
 *	same holder may open a disk it already holds again, so a transport
 *	that passes its device can re-attach the disk it is serving.  Read-
 *	only opens share the disk as for pvblk_backend_open_dev().
 *
 * Return: the backend or an ERR_PTR(); -ENOTBLK never escapes: a file that
 * is not a block device is used as a regular file, or -EINVAL.
 */
struct pvblk_backend *pvblk_backend_open_file(struct file *file, bool read_only,
					      void *holder)
{
	struct inode *inode = file_inode(file);
	struct pvblk_backend *be;
	int ret;

	if (S_ISBLK(inode->i_mode)) {
		/* The re-open must not grant more than the caller's file. */
		if (!(file->f_mode & FMODE_READ) ||
		    (!read_only && !(file->f_mode & FMODE_WRITE)))
			return ERR_PTR(-EBADF);
		be = pvblk_backend_open_bdev(inode->i_rdev, read_only, holder);
		/*
		 * ... nor another disk: the caller's disk may be gone and its
		 * dev_t reused by a disk it never opened.
		 */
		if (!IS_ERR(be) && be->bdev != file_bdev(file)) {
			pvblk_backend_close(be);
			return ERR_PTR(-ENXIO);
		}
		return be;
	}

	be = kzalloc(sizeof(*be), GFP_KERNEL_ACCOUNT);
	if (!be)
		return ERR_PTR(-ENOMEM);
	ret = pvblk_file_backend_init(be, file, read_only);
	if (ret) {
		kfree(be);
		return ERR_PTR(ret);
	}
	return be;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_backend_open_file);

/**
 * pvblk_backend_file() - the file @be serves, with a reference.
 * @be: a backend.
 *
 * A transport that must serve the same disk again later (a reconnect)
 * keeps it and re-opens with pvblk_backend_open_file(): the disk stays
 * open meanwhile, and a re-open that finds another disk at its dev_t
 * fails instead of serving it.
 */
struct file *pvblk_backend_file(struct pvblk_backend *be)
{
	return get_file(be->bdev_file ?: be->file);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_backend_file);

/**
 * pvblk_backend_put_file() - drop a reference to a backend's file.
 * @file: a file pvblk_backend_file() returned, or a backend's own.
 *
 * The last reference to a block device gives up the claim on the disk at
 * once (bdev_fput()): a close may run in a kworker, whose fput() is
 * deferred, and a VMM or guest that opens the disk again right after must
 * not find it still held.  The references are the backend's own and the
 * ones pvblk_backend_file() gave, dropped one after the other by their
 * owner, so the count seen here is not raced.
 */
void pvblk_backend_put_file(struct file *file)
{
	if (S_ISBLK(file_inode(file)->i_mode) && file_count(file) == 1)
		bdev_fput(file);
	else
		fput(file);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_backend_put_file);

void pvblk_backend_close(struct pvblk_backend *be)
{
	if (!be)
		return;
	if (be->bdev_file)
		pvblk_backend_put_file(be->bdev_file);
	if (be->file)
		fput(be->file);
	kfree(be);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_backend_close);

/* The size of @be now, in 512-byte sectors. */
u64 pvblk_backend_size(struct pvblk_backend *be)
{
	if (be->file)
		return i_size_read(file_inode(be->file)) >> SECTOR_SHIFT;
	return bdev_nr_sectors(be->bdev);
}

/* Make what @be completed durable (synchronous); a backend change. */
int pvblk_backend_flush(struct pvblk_backend *be)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_backend_flush, be);
	if (be->file)
		return vfs_fsync(be->file, 0);
	if (!be->info.flush || !be->bdev_file)
		return 0;
	return blkdev_issue_flush(be->bdev);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_backend_flush);
