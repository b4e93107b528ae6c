// SPDX-License-Identifier: GPL-2.0
/*
 * Regular file backend.  READ/WRITE go out as direct-I/O kiocbs over a
 * bvec iterator with an asynchronous ki_complete (like loop's lo_rw_aio);
 * req->pending holds one reference for the submitter and one for the
 * kiocb, so a completion racing with the submission is harmless.  Files
 * that cannot do direct I/O, FLUSH (vfs_fsync), DISCARD and WRITE_ZEROES
 * (fallocate) run synchronously from pvblk_wq in req->work, and so does a
 * direct-I/O request the file system refused with -EINVAL (misaligned for
 * it): it is retried once, buffered.  Direct kiocbs are issued with
 * IOCB_NOWAIT when the file supports it (as nvmet does); -EAGAIN issues
 * them again, blocking, from pvblk_wq.  Segments off the file system's
 * direct-I/O alignment (pvblk_file_dio_align()) never get here: the core
 * bounces them first (bounce.c), so the -EINVAL retry stays a fallback.
 */
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/log2.h>
#include <linux/ioprio.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include "internal.h"

struct bio_vec *pvblk_alloc_bvecs(unsigned int nr)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_alloc_bvecs, nr);
	return kmalloc_array(nr, sizeof(struct bio_vec), GFP_NOIO | __GFP_ACCOUNT);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_alloc_bvecs);

/* ->read_iter / ->write_iter of the backing file (a KUnit stub point). */
ssize_t pvblk_file_rw_iter(struct kiocb *iocb, struct iov_iter *iter,
			   bool write)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_file_rw_iter, iocb, iter, write);
	if (write)
		return iocb->ki_filp->f_op->write_iter(iocb, iter);
	return iocb->ki_filp->f_op->read_iter(iocb, iter);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_file_rw_iter);

static blk_status_t pvblk_errno_status(long ret)
{
	if (ret == -EOPNOTSUPP)
		return BLK_STS_NOTSUPP;
	return errno_to_blk_status(ret);
}

/* Build the bvec iterator over @req's segments; false: no memory. */
static bool pvblk_file_iter(struct pvblk_req *req, struct iov_iter *iter)
{
	struct bio_vec *bv = req->inline_bvecs;
	unsigned int i;

	if (req->core_flags & PVBLK_RF_BVECS_ALLOC) {
		bv = req->file_bvecs;	/* a buffered retry */
	} else if (req->nr_segs > PVBLK_INLINE_BVECS) {
		bv = pvblk_alloc_bvecs(req->nr_segs);
		if (!bv)
			return false;
		req->file_bvecs = bv;
		req->core_flags |= PVBLK_RF_BVECS_ALLOC;
	}
	for (i = 0; i < req->nr_segs; i++)
		bvec_set_page(&bv[i], req->segs[i].page, req->segs[i].len,
			      req->segs[i].offset);
	iov_iter_bvec(iter, req->op == PVBLK_OP_WRITE ? ITER_SOURCE : ITER_DEST,
		      bv, req->nr_segs, req->bytes);
	return true;
}

static blk_status_t pvblk_file_sync_rw(struct pvblk_req *req,
				       struct file *file);

#ifdef CONFIG_BLK_CGROUP
/*
 * The io cgroup a file request is charged to: the submitter's (a vhost
 * worker is a thread of the VMM's process), or, when the throttle released
 * it, the one that queued it.  What pvblk_wq does for the request later
 * (a blocking reissue, a buffered retry, fsync, fallocate, a backend
 * without direct I/O) runs as that cgroup, so io.max applies to it too.
 * Called before the file part of the request's union is written (it
 * shares the throttle's qos_css).
 */
static void pvblk_file_css_get(struct pvblk_req *req)
{
	struct cgroup_subsys_state *css;

	if (req->core_flags & PVBLK_RF_QOS_CSS) {
		css = req->qos_css;
		if (css)
			css_get(css);
	} else {
		css = task_get_css(current, io_cgrp_id);
	}
	req->file_css = css;
	if (css)
		req->core_flags |= PVBLK_RF_FILE_CSS;
}

/* pvblk_wq: submit as @req's cgroup until pvblk_file_css_end(). */
static void pvblk_file_css_begin(struct pvblk_req *req)
{
	if (req->core_flags & PVBLK_RF_FILE_CSS)
		kthread_associate_blkcg(req->file_css);
}

/* pvblk_wq: submit as the worker's own cgroup again. */
static void pvblk_file_css_end(void)
{
	kthread_associate_blkcg(NULL);
}

/* From pvblk_req_release(), when PVBLK_RF_FILE_CSS is set. */
void pvblk_file_css_put(struct pvblk_req *req)
{
	css_put(req->file_css);
}
#else
static void pvblk_file_css_get(struct pvblk_req *req) { }
static void pvblk_file_css_begin(struct pvblk_req *req) { }
static void pvblk_file_css_end(void) { }
void pvblk_file_css_put(struct pvblk_req *req) { }
#endif

/* Direct I/O refused (alignment the file system cannot do): buffered. */
static void pvblk_file_retry_work(struct work_struct *work)
{
	struct pvblk_req *req = container_of(work, struct pvblk_req, work);
	blk_status_t status;

	pvblk_file_css_begin(req);
	status = pvblk_file_sync_rw(req, req->iocb.ki_filp);
	pvblk_file_css_end();
	pvblk_req_put(req, status);
}

static void pvblk_file_aio_issue(struct pvblk_req *req);

/* IOCB_NOWAIT would have blocked: issue again, blocking, from pvblk_wq. */
static void pvblk_file_reissue_work(struct work_struct *work)
{
	struct pvblk_req *req = container_of(work, struct pvblk_req, work);

	/* The request may be gone when the issue returns: no req after it. */
	pvblk_file_css_begin(req);
	pvblk_file_aio_issue(req);
	pvblk_file_css_end();
}

static void pvblk_file_aio_complete(struct kiocb *iocb, long ret)
{
	struct pvblk_req *req = container_of(iocb, struct pvblk_req, iocb);
	blk_status_t status = BLK_STS_OK;

	if (req->op == PVBLK_OP_WRITE)
		kiocb_end_write(iocb);
	/* Both retries keep the kiocb's reference on the request. */
	if (ret == -EAGAIN && (iocb->ki_flags & IOCB_NOWAIT)) {
		iocb->ki_flags &= ~IOCB_NOWAIT;
		INIT_WORK(&req->work, pvblk_file_reissue_work);
		queue_work(pvblk_wq, &req->work);
		return;
	}
	if (ret == -EINVAL && !(req->core_flags & PVBLK_RF_RETRIED)) {
		req->core_flags |= PVBLK_RF_RETRIED;
		INIT_WORK(&req->work, pvblk_file_retry_work);
		queue_work(pvblk_wq, &req->work);
		return;
	}
	if (ret < 0)
		status = pvblk_errno_status(ret);
	else if ((u64)ret != req->bytes)
		status = BLK_STS_IOERR;
	pvblk_req_put(req, status);
}

/* Issue the prepared kiocb; its reference is dropped by the completion. */
static void pvblk_file_aio_issue(struct pvblk_req *req)
{
	struct iov_iter iter;
	ssize_t ret;

	/* The bvecs exist already (inline or file_bvecs): cannot fail. */
	if (!pvblk_file_iter(req, &iter)) {
		pvblk_req_put(req, BLK_STS_RESOURCE);
		return;
	}
	req->iocb.ki_pos = (loff_t)req->sector << SECTOR_SHIFT;
	if (req->op == PVBLK_OP_WRITE)
		kiocb_start_write(&req->iocb);
	ret = pvblk_file_rw_iter(&req->iocb, &iter,
				 req->op == PVBLK_OP_WRITE);
	if (ret != -EIOCBQUEUED)
		pvblk_file_aio_complete(&req->iocb, ret);
}

static void pvblk_file_aio(struct pvblk_req *req, struct file *file)
{
	struct iov_iter iter;

	if (!pvblk_file_iter(req, &iter)) {
		pvblk_req_complete(req, BLK_STS_RESOURCE);
		return;
	}
	atomic_set(&req->pending, 2);
	memset(&req->iocb, 0, sizeof(req->iocb));
	req->iocb.ki_filp = file;
	req->iocb.ki_flags = IOCB_DIRECT;
	/* Never block the transport's worker: blocking work goes to pvblk_wq. */
	if (file->f_mode & FMODE_NOWAIT)
		req->iocb.ki_flags |= IOCB_NOWAIT;
	if (req->op == PVBLK_OP_WRITE) {
		req->iocb.ki_flags |= IOCB_WRITE;
		if (req->flags & PVBLK_REQ_FUA)
			req->iocb.ki_flags |= IOCB_DSYNC;
	}
	req->iocb.ki_ioprio = IOPRIO_DEFAULT;
	req->iocb.ki_complete = pvblk_file_aio_complete;
	pvblk_file_aio_issue(req);
	pvblk_req_put(req, BLK_STS_OK);
}

static blk_status_t pvblk_file_sync_rw(struct pvblk_req *req,
				       struct file *file)
{
	loff_t pos = (loff_t)req->sector << SECTOR_SHIFT;
	struct iov_iter iter;
	ssize_t ret;
	int err;

	if (req->op == PVBLK_OP_WRITE && (req->flags & PVBLK_REQ_PREFLUSH)) {
		err = vfs_fsync(file, 0);
		if (err)
			return pvblk_errno_status(err);
	}
	if (!pvblk_file_iter(req, &iter))
		return BLK_STS_RESOURCE;
	if (req->op == PVBLK_OP_WRITE)
		ret = vfs_iter_write(file, &iter, &pos,
				     req->flags & PVBLK_REQ_FUA ? RWF_DSYNC : 0);
	else
		ret = vfs_iter_read(file, &iter, &pos, 0);
	if (ret < 0)
		return pvblk_errno_status(ret);
	return (u64)ret == req->bytes ? BLK_STS_OK : BLK_STS_IOERR;
}

static void pvblk_file_work(struct work_struct *work)
{
	struct pvblk_req *req = container_of(work, struct pvblk_req, work);
	struct file *file = req->iocb.ki_filp;
	loff_t pos = (loff_t)req->sector << SECTOR_SHIFT;
	loff_t len = (loff_t)req->nr_sectors << SECTOR_SHIFT;
	blk_status_t status;
	int mode, err = 0;

	pvblk_file_css_begin(req);
	switch (req->op) {
	case PVBLK_OP_READ:
	case PVBLK_OP_WRITE:
		status = pvblk_file_sync_rw(req, file);
		pvblk_file_css_end();
		pvblk_req_complete(req, status);
		return;
	case PVBLK_OP_FLUSH:
		err = vfs_fsync(file, 0);
		break;
	case PVBLK_OP_DISCARD:
		err = vfs_fallocate(file, FALLOC_FL_PUNCH_HOLE |
				    FALLOC_FL_KEEP_SIZE, pos, len);
		break;
	case PVBLK_OP_WRITE_ZEROES:
		mode = req->flags & PVBLK_REQ_UNMAP ? FALLOC_FL_PUNCH_HOLE :
			FALLOC_FL_ZERO_RANGE;
		err = vfs_fallocate(file, mode | FALLOC_FL_KEEP_SIZE, pos, len);
		break;
	default:
		err = -EOPNOTSUPP;
		break;
	}
	pvblk_file_css_end();
	pvblk_req_complete(req, err ? pvblk_errno_status(err) : BLK_STS_OK);
}

void pvblk_file_submit_req(struct pvblk_req *req, struct pvblk_backend *be)
{
	bool async = be->direct &&
		(req->op == PVBLK_OP_READ || req->op == PVBLK_OP_WRITE) &&
		!(req->flags & PVBLK_REQ_PREFLUSH);

	pvblk_file_css_get(req);
	if (async) {
		pvblk_file_aio(req, be->file);
		return;
	}
	req->iocb.ki_filp = be->file;
	INIT_WORK(&req->work, pvblk_file_work);
	queue_work(pvblk_wq, &req->work);
}

/*
 * What direct I/O on @file takes without bouncing: the file system's
 * memory and offset/length alignment (statx DIOALIGN; iomap refuses a
 * bvec off them with -EINVAL), else its block device's DMA alignment and
 * logical block size; 512 at least.  Buffered I/O takes any layout.
 */
static void pvblk_file_dio_align(struct pvblk_backend *be, struct file *file)
{
	struct block_device *sb_bdev = file_inode(file)->i_sb->s_bdev;
	u32 mem = SECTOR_SIZE, len = SECTOR_SIZE;
	struct kstat st = {};

	be->mem_mask = 0;
	be->len_mask = 0;
	if (!be->direct)
		return;
	if (!vfs_getattr_nosec(&file->f_path, &st, STATX_DIOALIGN,
			       AT_STATX_SYNC_AS_STAT) &&
	    (st.result_mask & STATX_DIOALIGN)) {
		mem = max(mem, st.dio_mem_align);
		len = max(len, st.dio_offset_align);
	} else if (sb_bdev) {
		mem = max(mem, bdev_dma_alignment(sb_bdev) + 1);
		len = max_t(u32, len, bdev_logical_block_size(sb_bdev));
	}
	be->mem_mask = roundup_pow_of_two(mem) - 1;
	be->len_mask = roundup_pow_of_two(len) - 1;
}

int pvblk_file_backend_init(struct pvblk_backend *be, struct file *file,
			    bool read_only)
{
	struct inode *inode = file_inode(file);
	struct pvblk_backend_info *info = &be->info;
	struct super_block *sb = inode->i_sb;

	/* O_APPEND would move every write to the end of the file. */
	if (!S_ISREG(inode->i_mode) || (file->f_flags & O_APPEND))
		return -EINVAL;
	if (!(file->f_mode & FMODE_READ) || !file->f_op->read_iter)
		return -EBADF;
	if (!read_only && (!(file->f_mode & FMODE_WRITE) ||
			   !file->f_op->write_iter))
		return -EBADF;

	be->file = get_file(file);
	be->direct = !!(file->f_mode & FMODE_CAN_ODIRECT);
	pvblk_file_dio_align(be, file);
	info->is_file = true;
	info->read_only = read_only;
	info->capacity = i_size_read(inode) >> SECTOR_SHIFT;
	info->logical_block_size = SECTOR_SIZE;
	/* Direct I/O must honour the logical block size under the file. */
	if (be->direct && sb->s_bdev)
		info->logical_block_size = bdev_logical_block_size(sb->s_bdev);
	info->physical_block_size = max_t(u32, info->logical_block_size,
					  sb->s_blocksize);
	info->max_segments = BIO_MAX_VECS;
	info->max_segment_size = PAGE_SIZE;
	info->max_sectors = BIO_MAX_VECS << (PAGE_SHIFT - SECTOR_SHIFT);
	info->flush = true;
	info->fua = true;
	if (file->f_op->fallocate && !read_only) {
		info->max_discard_sectors = UINT_MAX >> SECTOR_SHIFT;
		info->max_write_zeroes_sectors = UINT_MAX >> SECTOR_SHIFT;
		info->discard_granularity = sb->s_blocksize;
	}
	return 0;
}
