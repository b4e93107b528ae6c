/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pvblk-vhost-user: vhost-user backend protocol that forwards a QEMU
 * vhost-user-blk frontend's rings and memory to /dev/vhost-blk.
 *
 * The protocol engine (vu.c) is independent of the socket and of the
 * kernel device: the kernel is reached through struct vu_kops so the unit
 * test can replace it.
 */
#ifndef PVBLK_VU_H
#define PVBLK_VU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vhost.h>
#include <linux/vhost_blk.h>
#include <linux/virtio_blk.h>

/* Requests (docs/interop/vhost-user.rst numbering). */
enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SET_BACKEND_REQ_FD = 21,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_RESET_DEVICE = 34,
};

#define VU_VERSION		0x1u
#define VU_FLAG_VERSION_MASK	0x3u
#define VU_FLAG_REPLY		(1u << 2)
#define VU_FLAG_NEED_REPLY	(1u << 3)

#define VU_F_PROTOCOL_FEATURES	30

/* Protocol feature bits. */
#define VU_PF_MQ		0
#define VU_PF_LOG_SHMFD		1
#define VU_PF_REPLY_ACK		3
#define VU_PF_BACKEND_REQ	5
#define VU_PF_CONFIG		9
#define VU_PF_RESET_DEVICE	13

#define VU_PROTOCOL_FEATURES	((1ull << VU_PF_MQ) | (1ull << VU_PF_LOG_SHMFD) | \
				 (1ull << VU_PF_REPLY_ACK) | \
				 (1ull << VU_PF_BACKEND_REQ) | \
				 (1ull << VU_PF_CONFIG) | \
				 (1ull << VU_PF_RESET_DEVICE))

/* Requests the backend sends on the backend channel (SET_BACKEND_REQ_FD). */
#define VU_BACKEND_CONFIG_CHANGE_MSG	2

#define VU_MAX_REGIONS		8
#define VU_MAX_FDS		8
#define VU_VRING_IDX_MASK	0xffull
#define VU_VRING_NOFD		(1ull << 8)
#define VU_CONFIG_HDR_SIZE	12u
#define VU_CONFIG_MAX		256u
/* Largest payload this backend accepts (a full memory table). */
#define VU_PAYLOAD_MAX		(8u + VU_MAX_REGIONS * 32u)

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vu_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uaddr;		/* the frontend's address */
	uint64_t mmap_offset;
};

struct vu_mem {
	uint32_t nregions;
	uint32_t padding;
	struct vu_region regions[VU_MAX_REGIONS];
};

/* SET_LOG_BASE: the dirty bitmap, an fd to map at this offset and size. */
struct vu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VU_CONFIG_MAX];
};

union vu_payload {
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem mem;
	struct vu_config config;
	struct vu_log log;
	uint8_t raw[VU_PAYLOAD_MAX];
};

struct vu_msg {
	struct vu_hdr hdr;
	union vu_payload p;
	int fds[VU_MAX_FDS];
	unsigned int nfds;
};

/* The kernel device (/dev/vhost-blk) as the engine sees it. */
struct vu_kops {
	/* Open a fresh device; returns an fd or -errno. */
	int (*open)(void *ctx);
	void (*close)(void *ctx, int fd);
	/* ioctl(fd, req, arg); returns 0 or -errno. */
	int (*ioctl)(void *ctx, int fd, unsigned long req, void *arg);
};

/* One region of the frontend's memory, mapped into this process. */
struct vu_map {
	uint64_t gpa;
	uint64_t size;
	uint64_t quaddr;	/* frontend (QEMU) userspace address */
	uint8_t *addr;		/* our address of the region's start */
	void *map_base;		/* what mmap returned */
	size_t map_len;
};

struct vu_vring {
	uint32_t num;		/* 0: not set */
	bool kick;		/* a kick eventfd is installed */
	bool enabled;
};

struct vu_dev {
	const struct vu_kops *kops;
	void *kctx;
	int kfd;		/* /dev/vhost-blk, -1 when closed */
	int disk_fd;		/* backend handed to VHOST_BLK_SET_BACKEND */
	bool attached;		/* backend attached to kfd */
	bool read_only;
	unsigned int num_queues;
	const uint8_t *serial;
	uint32_t serial_len;
	/* Limits every kernel device gets after SET_OWNER (has_qos). */
	struct vhost_blk_qos qos;
	bool has_qos;
	/* VHOST_SET_VRING_BUSYLOOP_TIMEOUT of every ring (1024 ns units). */
	unsigned int busyloop;

	/* Probed at start-up with the backend attached. */
	uint64_t kfeatures;
	struct virtio_blk_config cfg;

	uint64_t features;		/* acked by SET_FEATURES */
	bool features_set;
	uint64_t protocol_features;	/* acked by SET_PROTOCOL_FEATURES */
	int backend_fd;			/* SET_BACKEND_REQ_FD's channel, or -1 */
	void *log;			/* SET_LOG_BASE's bitmap, mapped */
	uint64_t log_size;
	struct vu_map maps[VU_MAX_REGIONS];
	unsigned int nmaps;
	struct vu_vring vrings[16];

	/* Last error text, for logs. */
	char err[160];
};

/* Device features we offer (kernel's, adjusted, plus PROTOCOL_FEATURES). */
uint64_t vu_offered_features(const struct vu_dev *d);

/*
 * Set up @d; probes the kernel (open, SET_OWNER, SET_SERIAL, SET_QOS,
 * SET_BACKEND, GET_FEATURES, VHOST_BLK_GET_CONFIG, close).  @qos (NULL:
 * none) is copied: every kernel device of a session gets these limits
 * right after SET_OWNER, so limits the kernel refuses fail here.  Returns
 * 0 or -errno (text in d->err).
 */
int vu_dev_init(struct vu_dev *d, const struct vu_kops *kops, void *kctx,
		int disk_fd, bool read_only, unsigned int num_queues,
		const uint8_t *serial, uint32_t serial_len,
		const struct vhost_blk_qos *qos);

/*
 * New limits (VHOST_BLK_SET_QOS): applied at once to the session's kernel
 * device when one is open (also while the guest runs I/O), and given to
 * every later one.  0 or -errno from the kernel (then the limits kept for
 * later sessions are the new ones all the same; text in d->err).
 */
int vu_dev_set_qos(struct vu_dev *d, const struct vhost_blk_qos *qos);
/*
 * Busy polling of the kernel's worker (VHOST_SET_VRING_BUSYLOOP_TIMEOUT on
 * each of the num_queues rings, in units of 1024 ns; 0: off): kept for
 * every session's kernel device, and applied at once to the open one.
 * 0 or -errno (text in d->err).
 */
int vu_dev_set_busyloop(struct vu_dev *d, unsigned int units);

/* A frontend connected: open the kernel device.  0 or -errno. */
int vu_session_start(struct vu_dev *d);
/* The frontend went away (or reset): release everything of the session. */
void vu_session_end(struct vu_dev *d);
/*
 * Tell the frontend the config space changed (the disk was resized):
 * VHOST_USER_BACKEND_CONFIG_CHANGE_MSG on the backend channel; the
 * frontend then asks GET_CONFIG, which reads the kernel's (new) capacity.
 * 0, or -ENOTCONN when the frontend set up no backend channel.
 */
int vu_notify_config_change(struct vu_dev *d);

/*
 * Check a message's header, payload size and fd count for its request.
 * Returns 0 or -EINVAL/-EPROTO with d->err set.  Only the header and
 * nfds are read: call before reading the payload is safe.
 */
int vu_check_hdr(struct vu_dev *d, const struct vu_hdr *h);
int vu_check_msg(struct vu_dev *d, const struct vu_msg *m);

/*
 * Handle one validated message.  Fds in @m stay owned by the caller (the
 * kernel and mmap take their own references).  If *has_reply is set on
 * return, @reply must be sent.  Returns 0 to go on, or a negative errno
 * when the connection must be dropped.
 */
int vu_handle(struct vu_dev *d, const struct vu_msg *m, struct vu_msg *reply,
	      bool *has_reply);

/*
 * Translate a frontend userspace address range to ours; NULL when the
 * range is not inside one mapped region.
 */
void *vu_qva_to_va(const struct vu_dev *d, uint64_t qva, uint64_t len);

/*
 * Socket I/O (vu_sock.c).  vu_read_msg() reads one message: the header with
 * any SCM_RIGHTS fds (more than VU_MAX_FDS is an error), checks it with
 * vu_check_hdr() and reads the payload.  Returns 1 on a message (its fds
 * are the caller's to close with vu_close_fds()), 0 on EOF before a
 * header, -errno otherwise (no fd left open).
 */
int vu_read_msg(struct vu_dev *d, int sock, struct vu_msg *m);
/* Send a reply (header and hdr.size payload bytes, no fds).  0 or -errno. */
int vu_send_msg(int sock, const struct vu_msg *m);
void vu_close_fds(struct vu_msg *m);

/* Name of a request, for logs. */
const char *vu_request_name(uint32_t req);

#endif
