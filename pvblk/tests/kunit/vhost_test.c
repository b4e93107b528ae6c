// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite pvblk_vhost: the guest-facing validation of the vhost-blk
 * frontend (frontends/vhost/check.c).  Chains are described by the lengths
 * of their device-readable and device-writable iovecs; the functions under
 * test never dereference the addresses, so fake ones do.  Every hostile
 * layout must map to the status the frontend writes back.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/virtio_blk.h>
#include <pvblk/pvblk.h>

#include "../../frontends/vhost/vhost_blk.h"

#define VB_MAX_IOV	(VHOST_BLK_SEG_MAX + 8)
#define VB_LENS		4

#define VB_ALL_FEATURES	(BIT_ULL(VIRTIO_BLK_F_SEG_MAX) |		\
			 BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) |		\
			 BIT_ULL(VIRTIO_BLK_F_DISCARD) |		\
			 BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES))

/**
 * struct vb_case - one chain and the answer it must get.
 * @name: description.
 * @type: header type.
 * @out: lengths of the device-readable iovecs (0 ends the list).
 * @in: lengths of the device-writable iovecs (0 ends the list).
 * @in_rep: this many 512-byte iovecs come before @in (long chains).
 * @no_features: clear the SEG_MAX/SIZE_MAX/DISCARD/WRITE_ZEROES acks.
 * @want: expected status.
 * @op: expected operation when @want is VIRTIO_BLK_S_OK.
 *
 * The header's sector is not an input: range and read-only are judged by
 * the core (pvblk_req_check(), suite pvblk_backend), so the cases that
 * used to be refused for them here now expect the chain to be passed on.
 */
struct vb_case {
	const char *name;
	u32 type;
	size_t out[VB_LENS];
	size_t in[VB_LENS];
	unsigned int in_rep;
	bool no_features;
	u8 want;
	enum pvblk_op op;
};

#define S_OK	VIRTIO_BLK_S_OK
#define S_IOERR	VIRTIO_BLK_S_IOERR
#define S_UNSUP	VIRTIO_BLK_S_UNSUPP

static const struct vb_case vb_cases[] = {
	{ "read 4k", VIRTIO_BLK_T_IN, { 16 }, { 4096, 1 },
	  .want = S_OK, .op = PVBLK_OP_READ },
	{ "read, status in the data iovec", VIRTIO_BLK_T_IN, { 16 },
	  { 4097 }, .want = S_OK, .op = PVBLK_OP_READ },
	{ "read, header split in two", VIRTIO_BLK_T_IN, { 8, 8 },
	  { 512, 1 }, .want = S_OK, .op = PVBLK_OP_READ },
	/* The next four: the range is the core's, the chain is passed on. */
	{ "read up to the last sector (core judges)", VIRTIO_BLK_T_IN,
	  { 16 }, { 4096, 1 }, .want = S_OK, .op = PVBLK_OP_READ },
	{ "read one sector past the end (core judges)", VIRTIO_BLK_T_IN,
	  { 16 }, { 4096, 1 }, .want = S_OK, .op = PVBLK_OP_READ },
	{ "read at capacity (core judges)", VIRTIO_BLK_T_IN, { 16 },
	  { 512, 1 }, .want = S_OK, .op = PVBLK_OP_READ },
	{ "read, sector wraps (core judges)", VIRTIO_BLK_T_IN, { 16 },
	  { 512, 1 }, .want = S_OK, .op = PVBLK_OP_READ },
	{ "read, no status byte", VIRTIO_BLK_T_IN, { 16, 512 }, { 0 },
	  .want = VHOST_BLK_S_NONE },
	{ "nothing device-readable", VIRTIO_BLK_T_IN, { 0 },
	  { 16, 512, 1 }, .want = S_IOERR },
	{ "header short", VIRTIO_BLK_T_IN, { 8 }, { 512, 1 },
	  .want = S_IOERR },
	{ "read with data device-readable", VIRTIO_BLK_T_IN, { 16, 512 },
	  { 1 }, .want = S_IOERR },
	{ "read with data on both sides", VIRTIO_BLK_T_IN, { 16, 512 },
	  { 512, 1 }, .want = S_IOERR },
	/* The data's size and alignment are the core's (pvblk_backend). */
	{ "read of zero bytes (core judges)", VIRTIO_BLK_T_IN, { 16 }, { 1 },
	  .want = S_OK, .op = PVBLK_OP_READ },
	{ "read not a sector multiple (core judges)", VIRTIO_BLK_T_IN, { 16 },
	  { 100, 1 }, .want = S_OK, .op = PVBLK_OP_READ },
	{ "read, odd pieces, status in the last", VIRTIO_BLK_T_IN, { 16 },
	  { 100, 3996 + 1 }, .want = S_OK, .op = PVBLK_OP_READ },
	{ "read, header in three, odd pieces", VIRTIO_BLK_T_IN, { 1, 7, 8 },
	  { 100, 412, 3584, 1 }, .want = S_OK, .op = PVBLK_OP_READ },
	{ "read of SEG_MAX segments", VIRTIO_BLK_T_IN, { 16 }, { 1 },
	  .in_rep = VHOST_BLK_SEG_MAX, .want = S_OK, .op = PVBLK_OP_READ },
	{ "read of SEG_MAX + 1 segments", VIRTIO_BLK_T_IN, { 16 }, { 1 },
	  .in_rep = VHOST_BLK_SEG_MAX + 1, .want = S_IOERR },
	{ "segment over SIZE_MAX", VIRTIO_BLK_T_IN, { 16 },
	  { 2 * VHOST_BLK_SIZE_MAX, 1 }, .want = S_IOERR },
	{ "SIZE_MAX not acked", VIRTIO_BLK_T_IN, { 16 },
	  { 2 * VHOST_BLK_SIZE_MAX, 1 }, .no_features = true,
	  .want = S_OK, .op = PVBLK_OP_READ },
	{ "read on a read-only disk (core judges)", VIRTIO_BLK_T_IN, { 16 },
	  { 512, 1 }, .want = S_OK, .op = PVBLK_OP_READ },

	{ "write 4k", VIRTIO_BLK_T_OUT, { 16, 4096 }, { 1 },
	  .want = S_OK, .op = PVBLK_OP_WRITE },
	{ "write, header and data in one iovec", VIRTIO_BLK_T_OUT,
	  { 16 + 4096 }, { 1 }, .want = S_OK, .op = PVBLK_OP_WRITE },
	{ "write with a long status area", VIRTIO_BLK_T_OUT, { 16, 512 },
	  { 2 }, .want = S_IOERR },
	{ "write with data device-writable", VIRTIO_BLK_T_OUT, { 16 },
	  { 512, 1 }, .want = S_IOERR },
	/* Range and read-only are the core's: the write is passed on. */
	{ "write past the end (core judges)", VIRTIO_BLK_T_OUT, { 16, 512 },
	  { 1 }, .want = S_OK, .op = PVBLK_OP_WRITE },
	{ "write to a read-only disk (core judges)", VIRTIO_BLK_T_OUT,
	  { 16, 512 }, { 1 }, .want = S_OK, .op = PVBLK_OP_WRITE },
	{ "write not a sector multiple (core judges)", VIRTIO_BLK_T_OUT,
	  { 16, 513 }, { 1 }, .want = S_OK, .op = PVBLK_OP_WRITE },
	{ "write, header split, its second half sharing odd data",
	  VIRTIO_BLK_T_OUT, { 3, 13 + 100, 3996 }, { 1 }, .want = S_OK,
	  .op = PVBLK_OP_WRITE },
	{ "write, odd pieces of 8 KiB", VIRTIO_BLK_T_OUT,
	  { 16, 100, 3996, 4096 }, { 1 }, .want = S_OK,
	  .op = PVBLK_OP_WRITE },

	{ "flush", VIRTIO_BLK_T_FLUSH, { 16 }, { 1 },
	  .want = S_OK, .op = PVBLK_OP_FLUSH },
	/* No check here sees the sector; FLUSH ignores it in the core. */
	{ "flush, sector ignored", VIRTIO_BLK_T_FLUSH, { 16 },
	  { 1 }, .want = S_OK, .op = PVBLK_OP_FLUSH },
	{ "flush with data", VIRTIO_BLK_T_FLUSH, { 16, 512 }, { 1 },
	  .want = S_IOERR },

	{ "get id, 20 bytes", VIRTIO_BLK_T_GET_ID, { 16 },
	  { VIRTIO_BLK_ID_BYTES, 1 }, .want = S_OK, .op = PVBLK_OP_GET_ID },
	{ "get id, 512 bytes", VIRTIO_BLK_T_GET_ID, { 16 }, { 512, 1 },
	  .want = S_OK, .op = PVBLK_OP_GET_ID },
	{ "get id, 19 bytes", VIRTIO_BLK_T_GET_ID, { 16 },
	  { VIRTIO_BLK_ID_BYTES - 1, 1 }, .want = S_IOERR },
	{ "get id, buffer device-readable", VIRTIO_BLK_T_GET_ID,
	  { 16, 20 }, { 1 }, .want = S_IOERR },

	{ "discard", VIRTIO_BLK_T_DISCARD, { 16, 16 }, { 1 },
	  .want = S_OK, .op = PVBLK_OP_DISCARD },
	{ "discard not acked", VIRTIO_BLK_T_DISCARD, { 16, 16 }, { 1 },
	  .no_features = true, .want = S_UNSUP },
	{ "discard, two segments", VIRTIO_BLK_T_DISCARD, { 16, 32 },
	  { 1 }, .want = S_IOERR },
	{ "discard, half a segment", VIRTIO_BLK_T_DISCARD, { 16, 8 },
	  { 1 }, .want = S_IOERR },
	{ "discard, no segment", VIRTIO_BLK_T_DISCARD, { 16 }, { 1 },
	  .want = S_IOERR },
	/* Read-only is the core's: the discard is passed on. */
	{ "discard on a read-only disk (core judges)", VIRTIO_BLK_T_DISCARD,
	  { 16, 16 }, { 1 }, .want = S_OK, .op = PVBLK_OP_DISCARD },
	{ "write zeroes", VIRTIO_BLK_T_WRITE_ZEROES, { 16, 16 }, { 1 },
	  .want = S_OK, .op = PVBLK_OP_WRITE_ZEROES },
	{ "write zeroes, segment device-writable", VIRTIO_BLK_T_WRITE_ZEROES,
	  { 16 }, { 16, 1 }, .want = S_IOERR },

	{ "scsi command", VIRTIO_BLK_T_SCSI_CMD, { 16 }, { 512, 1 },
	  .want = S_UNSUP },
	{ "get lifetime (type 10)", 10, { 16 }, { 16, 1 },
	  .want = S_UNSUP },
	{ "secure erase", VIRTIO_BLK_T_SECURE_ERASE, { 16, 16 }, { 1 },
	  .want = S_UNSUP },
	{ "legacy barrier bit", VIRTIO_BLK_T_OUT | VIRTIO_BLK_T_BARRIER,
	  { 16, 512 }, { 1 }, .want = S_UNSUP },
	{ "type all ones", U32_MAX, { 16 }, { 1 }, .want = S_UNSUP },
};

static void vb_case_desc(const struct vb_case *t, char *desc)
{
	strscpy(desc, t->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vb_check, vb_cases, vb_case_desc);

/* Lay @t out as iovecs at fake addresses; returns out and in counts. */
static void vb_build(struct kunit *test, const struct vb_case *t,
		     struct iovec *iov, unsigned int *out, unsigned int *in)
{
	unsigned long addr = 0x10000;
	unsigned int n = 0, i;

	for (i = 0; i < VB_LENS && t->out[i]; i++) {
		iov[n].iov_base = (void __user *)addr;
		iov[n++].iov_len = t->out[i];
		addr += 0x10000;
	}
	*out = n;
	for (i = 0; i < t->in_rep; i++) {
		KUNIT_ASSERT_LT(test, n, VB_MAX_IOV);
		iov[n].iov_base = (void __user *)addr;
		iov[n++].iov_len = 512;
		addr += 0x1000;
	}
	for (i = 0; i < VB_LENS && t->in[i]; i++) {
		KUNIT_ASSERT_LT(test, n, VB_MAX_IOV);
		iov[n].iov_base = (void __user *)addr;
		iov[n++].iov_len = t->in[i];
		addr += 0x10000;
	}
	*in = n - *out;
}

static void vhost_check_chain(struct kunit *test)
{
	const struct vb_case *t = test->param_value;
	u64 features = t->no_features ? 0 : VB_ALL_FEATURES;
	struct vhost_blk_chain c;
	enum pvblk_op op = PVBLK_OP_MAX;
	unsigned int out, in;
	struct iovec *iov;
	u8 status;

	iov = kunit_kcalloc(test, VB_MAX_IOV, sizeof(*iov), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, iov);
	vb_build(test, t, iov, &out, &in);

	vhost_blk_measure(iov, out, in, &c);
	status = vhost_blk_check(t->type, &c, features, &op);
	KUNIT_EXPECT_EQ(test, status, t->want);
	if (t->want == VIRTIO_BLK_S_OK)
		KUNIT_EXPECT_EQ(test, op, t->op);
	else
		KUNIT_EXPECT_EQ(test, op, PVBLK_OP_MAX);
}

/* The layout sums the check relies on. */
static void vhost_measure_layout(struct kunit *test)
{
	struct vhost_blk_chain c;
	struct iovec iov[4] = {};

	/* Header split 8 + 8, then one data iovec. */
	iov[0].iov_len = 8;
	iov[1].iov_len = 8;
	iov[2].iov_len = 512;
	vhost_blk_measure(iov, 3, 0, &c);
	KUNIT_EXPECT_EQ(test, c.out_bytes, 528);
	KUNIT_EXPECT_EQ(test, c.out_segs, 1);
	KUNIT_EXPECT_EQ(test, c.out_max, 512);
	KUNIT_EXPECT_EQ(test, c.in_bytes, 0);
	KUNIT_EXPECT_EQ(test, c.in_segs, 0);

	/* Header sharing its iovec with data: the data piece counts. */
	iov[0].iov_len = 20;
	iov[1].iov_len = 500;
	vhost_blk_measure(iov, 2, 0, &c);
	KUNIT_EXPECT_EQ(test, c.out_segs, 2);
	KUNIT_EXPECT_EQ(test, c.out_max, 500);

	/* Status merged into the last data iovec. */
	iov[0].iov_len = 16;
	iov[1].iov_len = 512;
	iov[2].iov_len = 513;
	vhost_blk_measure(iov, 1, 2, &c);
	KUNIT_EXPECT_EQ(test, c.in_bytes, 1025);
	KUNIT_EXPECT_EQ(test, c.in_segs, 2);
	KUNIT_EXPECT_EQ(test, c.in_max, 512);

	/* Empty iovecs do not count as segments. */
	iov[1].iov_len = 0;
	iov[2].iov_len = 1;
	vhost_blk_measure(iov, 1, 2, &c);
	KUNIT_EXPECT_EQ(test, c.in_bytes, 1);
	KUNIT_EXPECT_EQ(test, c.in_segs, 0);
}

/**
 * struct vb_dwz_case - one copied discard/write-zeroes segment.
 * @name: description.
 * @type: VIRTIO_BLK_T_DISCARD or VIRTIO_BLK_T_WRITE_ZEROES.
 * @flags: segment flags.
 * @want: expected status.
 * @req_flags: expected PVBLK_REQ_* flags when @want is VIRTIO_BLK_S_OK.
 *
 * Only the flags are the frontend's.  The segment's sector and length are
 * the core's to judge: every segment passed on carries PVBLK_REQ_NOSPLIT,
 * so the core refuses a range over the limit advertised in the config
 * space instead of splitting it.  The cases named "(core judges)" were
 * refused here for their range before and are now passed on.
 */
struct vb_dwz_case {
	const char *name;
	u32 type;
	u32 flags;
	u8 want;
	unsigned int req_flags;
};

#define VB_UNMAP	VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP
#define VB_NOSPLIT	PVBLK_REQ_NOSPLIT

static const struct vb_dwz_case vb_dwz_cases[] = {
	{ "discard", VIRTIO_BLK_T_DISCARD, 0, S_OK, VB_NOSPLIT },
	{ "discard with unmap", VIRTIO_BLK_T_DISCARD, VB_UNMAP, S_UNSUP },
	{ "discard, reserved flag", VIRTIO_BLK_T_DISCARD, BIT(1), S_UNSUP },
	{ "discard of zero sectors (core judges)", VIRTIO_BLK_T_DISCARD, 0,
	  S_OK, VB_NOSPLIT },
	{ "discard over the maximum (core judges)", VIRTIO_BLK_T_DISCARD, 0,
	  S_OK, VB_NOSPLIT },
	{ "discard past the end (core judges)", VIRTIO_BLK_T_DISCARD, 0,
	  S_OK, VB_NOSPLIT },
	{ "discard, sector wraps (core judges)", VIRTIO_BLK_T_DISCARD, 0,
	  S_OK, VB_NOSPLIT },
	{ "write zeroes", VIRTIO_BLK_T_WRITE_ZEROES, 0, S_OK, VB_NOSPLIT },
	{ "write zeroes with unmap", VIRTIO_BLK_T_WRITE_ZEROES, VB_UNMAP,
	  S_OK, VB_NOSPLIT | PVBLK_REQ_UNMAP },
	{ "write zeroes, all flags", VIRTIO_BLK_T_WRITE_ZEROES, U32_MAX,
	  S_UNSUP },
	{ "write zeroes to the last sector (core judges)",
	  VIRTIO_BLK_T_WRITE_ZEROES, 0, S_OK, VB_NOSPLIT },
};

static void vb_dwz_desc(const struct vb_dwz_case *t, char *desc)
{
	strscpy(desc, t->name, KUNIT_PARAM_DESC_SIZE);
}

KUNIT_ARRAY_PARAM(vb_dwz, vb_dwz_cases, vb_dwz_desc);

static void vhost_check_dwz_segment(struct kunit *test)
{
	const struct vb_dwz_case *t = test->param_value;
	unsigned int flags = ~0U;
	u8 status;

	status = vhost_blk_check_dwz(t->type, t->flags, &flags);
	KUNIT_EXPECT_EQ(test, status, t->want);
	if (t->want == VIRTIO_BLK_S_OK)
		KUNIT_EXPECT_EQ(test, flags, t->req_flags);
	else
		KUNIT_EXPECT_EQ(test, flags, ~0U);
}

static void vhost_status_map(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, vhost_blk_status(BLK_STS_OK), VIRTIO_BLK_S_OK);
	KUNIT_EXPECT_EQ(test, vhost_blk_status(BLK_STS_NOTSUPP),
			VIRTIO_BLK_S_UNSUPP);
	KUNIT_EXPECT_EQ(test, vhost_blk_status(BLK_STS_IOERR),
			VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, vhost_blk_status(BLK_STS_MEDIUM),
			VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, vhost_blk_status(BLK_STS_RESOURCE),
			VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, vhost_blk_status(BLK_STS_TIMEOUT),
			VIRTIO_BLK_S_IOERR);
	KUNIT_EXPECT_EQ(test, vhost_blk_status(BLK_STS_NOSPC),
			VIRTIO_BLK_S_IOERR);
}

static struct kunit_case vhost_cases[] = {
	KUNIT_CASE_PARAM(vhost_check_chain, vb_check_gen_params),
	KUNIT_CASE(vhost_measure_layout),
	KUNIT_CASE_PARAM(vhost_check_dwz_segment, vb_dwz_gen_params),
	KUNIT_CASE(vhost_status_map),
	{}
};

static struct kunit_suite vhost_suite = {
	.name = "pvblk_vhost",
	.test_cases = vhost_cases,
};

kunit_test_suite(vhost_suite);
