// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-vhost-user: reading and writing vhost-user messages on the unix
 * socket (header, payload, SCM_RIGHTS fds).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "vu.h"

static int fail_io(struct vu_dev *d, int err, const char *fmt, int n)
{
	snprintf(d->err, sizeof(d->err), fmt, n);
	return err;
}

void vu_close_fds(struct vu_msg *m)
{
	unsigned int i;

	for (i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

/*
 * Read one message: header (with any fds), then the payload.
 * Returns 1 on a message, 0 on EOF, -errno on error.
 */
int vu_read_msg(struct vu_dev *d, int sock, struct vu_msg *m)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &m->hdr, .iov_len = sizeof(m->hdr) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	size_t got = 0;
	ssize_t n;
	int r;

	m->nfds = 0;
	/* EINTR before a message: let the caller look at its stop flag. */
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k, cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < cnt; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
			if (m->nfds < VU_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		vu_close_fds(m);
		return fail_io(d, -EPROTO, "more than %d fds in a message", VU_MAX_FDS);
	}
	got = (size_t)n;
	while (got < sizeof(m->hdr)) {
		n = read(sock, (char *)&m->hdr + got, sizeof(m->hdr) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			vu_close_fds(m);
			return n < 0 ? -errno : -EPIPE;
		}
		got += (size_t)n;
	}
	r = vu_check_hdr(d, &m->hdr);
	if (r) {
		vu_close_fds(m);
		return r;
	}
	memset(&m->p, 0, sizeof(m->p));
	got = 0;
	while (got < m->hdr.size) {
		n = read(sock, m->p.raw + got, m->hdr.size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			vu_close_fds(m);
			return n < 0 ? -errno : -EPIPE;
		}
		got += (size_t)n;
	}
	return 1;
}

int vu_send_msg(int sock, const struct vu_msg *m)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)&m->hdr, .iov_len = sizeof(m->hdr) },
		{ .iov_base = (void *)&m->p, .iov_len = m->hdr.size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t want = sizeof(m->hdr) + m->hdr.size;
	ssize_t n;

	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == want ? 0 : -EPIPE;
}

