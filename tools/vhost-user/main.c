// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-vhost-user - serve a disk to an unmodified QEMU (vhost-user-blk-pci)
 * through the kernel's /dev/vhost-blk.
 *
 *   pvblk-vhost-user --socket PATH --disk /dev/XXX|FILE [--read-only]
 *                    [--serial S] [--num-queues N] [--device /dev/vhost-blk]
 *
 * One frontend at a time; when it disconnects (QEMU quit or rebooted with
 * reconnect) everything of its session is released and the next one is
 * accepted.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <linux/vhost_blk.h>

#include "vu.h"

static const char *vhost_dev_path = "/dev/vhost-blk";
static int verbose;
static volatile sig_atomic_t stop;

static int k_open(void *ctx)
{
	int fd;

	(void)ctx;
	fd = open(vhost_dev_path, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void k_close(void *ctx, int fd)
{
	(void)ctx;
	close(fd);
}

static int k_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static const struct vu_kops kernel_ops = {
	.open = k_open, .close = k_close, .ioctl = k_ioctl,
};

static void serve(struct vu_dev *d, int sock)
{
	struct vu_msg *m = calloc(1, sizeof(*m)), *reply = calloc(1, sizeof(*reply));
	bool has_reply;
	int r;

	if (!m || !reply) {
		fprintf(stderr, "pvblk-vhost-user: out of memory\n");
		goto out;
	}
	r = vu_session_start(d);
	if (r) {
		fprintf(stderr, "pvblk-vhost-user: %s\n", d->err);
		goto out;
	}
	while (!stop) {
		d->err[0] = 0;
		r = vu_read_msg(d, sock, m);
		if (r == 0) {
			if (verbose)
				fprintf(stderr, "pvblk-vhost-user: frontend disconnected\n");
			break;
		}
		if (r < 0) {
			if (r == -EINTR)
				continue;
			fprintf(stderr, "pvblk-vhost-user: %s\n",
				d->err[0] ? d->err : strerror(-r));
			break;
		}
		r = vu_check_msg(d, m);
		if (!r) {
			if (verbose)
				fprintf(stderr, "pvblk-vhost-user: %s size %u fds %u\n",
					vu_request_name(m->hdr.request),
					m->hdr.size, m->nfds);
			r = vu_handle(d, m, reply, &has_reply);
		}
		vu_close_fds(m);
		if (d->err[0])
			fprintf(stderr, "pvblk-vhost-user: %s%s\n", d->err,
				r ? " (dropping the connection)" : "");
		if (r)
			break;
		if (has_reply) {
			r = vu_send_msg(sock, reply);
			if (r) {
				fprintf(stderr, "pvblk-vhost-user: send: %s\n",
					strerror(-r));
				break;
			}
		}
	}
	vu_session_end(d);
out:
	free(m);
	free(reply);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvblk-vhost-user --socket PATH --disk DEV|FILE [--read-only]\n"
		"                        [--serial S] [--num-queues N] [--device PATH]\n"
		"                        [--verbose]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "disk", required_argument, NULL, 'd' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 'S' },
		{ "num-queues", required_argument, NULL, 'q' },
		{ "device", required_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock_path = NULL, *disk = NULL, *serial = "";
	unsigned long nq = 1;
	bool ro = false;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sigaction sact;
	struct vu_dev *d;
	int c, disk_fd, lfd, r;
	char *end;

	while ((c = getopt_long(argc, argv, "s:d:rS:q:D:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock_path = optarg; break;
		case 'd': disk = optarg; break;
		case 'r': ro = true; break;
		case 'S': serial = optarg; break;
		case 'q':
			errno = 0;
			nq = strtoul(optarg, &end, 10);
			if (errno || *end || !nq || nq > VHOST_BLK_MAX_QUEUES) {
				fprintf(stderr, "pvblk-vhost-user: --num-queues 1..%d\n",
					VHOST_BLK_MAX_QUEUES);
				return 2;
			}
			break;
		case 'D': vhost_dev_path = optarg; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!sock_path || !disk || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "pvblk-vhost-user: socket path too long\n");
		return 2;
	}
	if (strlen(serial) > VHOST_BLK_SERIAL_BYTES) {
		fprintf(stderr, "pvblk-vhost-user: --serial: at most %d bytes\n",
			VHOST_BLK_SERIAL_BYTES);
		return 2;
	}

	disk_fd = open(disk, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (disk_fd < 0) {
		fprintf(stderr, "pvblk-vhost-user: %s: %s\n", disk, strerror(errno));
		return 1;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		close(disk_fd);
		return 1;
	}
	r = vu_dev_init(d, &kernel_ops, NULL, disk_fd, ro, (unsigned int)nq,
			(const uint8_t *)serial, (uint32_t)strlen(serial));
	if (r) {
		fprintf(stderr, "pvblk-vhost-user: %s\n", d->err);
		goto err_dev;
	}

	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		perror("pvblk-vhost-user: socket");
		goto err_dev;
	}
	strcpy(sa.sun_path, sock_path);
	unlink(sock_path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0) {
		fprintf(stderr, "pvblk-vhost-user: %s: %s\n", sock_path, strerror(errno));
		close(lfd);
		goto err_dev;
	}

	memset(&sact, 0, sizeof(sact));
	sact.sa_handler = on_signal;
	sigaction(SIGINT, &sact, NULL);
	sigaction(SIGTERM, &sact, NULL);
	signal(SIGPIPE, SIG_IGN);

	fprintf(stderr, "pvblk-vhost-user: serving %s on %s (%llu sectors, %lu queue%s%s)\n",
		disk, sock_path, (unsigned long long)le64toh(d->cfg.capacity), nq,
		nq > 1 ? "s" : "", ro ? ", read-only" : "");
	while (!stop) {
		int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EINTR)
				continue;
			perror("pvblk-vhost-user: accept");
			break;
		}
		if (verbose)
			fprintf(stderr, "pvblk-vhost-user: frontend connected\n");
		serve(d, cfd);
		close(cfd);
	}
	close(lfd);
	unlink(sock_path);
	close(disk_fd);
	free(d);
	return 0;

err_dev:
	close(disk_fd);
	free(d);
	return 1;
}
