// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-mon-cmd: send JSON commands to a Ceph monitor through librados, the
 * few "ceph ..." commands tests/vm/vhost-ceph.test needs ("osd pool create",
 * "osd pool application enable", "osd dump") without shipping Python and
 * the ceph CLI into the test VM.
 *
 * Usage: pvblk-mon-cmd [-c CONF] [-t SECONDS] JSON...
 *   Each JSON argument is one monitor command, e.g.
 *   '{"prefix": "osd pool create", "pool": "rbd", "pg_num": 8}'.
 *   Prints the command's output buffer and status string; exits 0 when
 *   every command returned 0, else 1 (2: could not connect).
 *
 * rados.h declares the librados functions it calls (no librados-dev).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rados.h"

static void usage(void)
{
	fprintf(stderr, "usage: pvblk-mon-cmd [-c CONF] [-t SECONDS] JSON...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *conf = NULL, *tmo = "30";
	void *cl;
	int opt, i, ret, failed = 0;

	while ((opt = getopt(argc, argv, "c:t:")) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 't':
			tmo = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();

	ret = rados_create(&cl, NULL);
	if (ret < 0) {
		fprintf(stderr, "pvblk-mon-cmd: rados_create: %s\n", strerror(-ret));
		return 2;
	}
	ret = rados_conf_read_file(cl, conf);
	if (ret < 0) {
		fprintf(stderr, "pvblk-mon-cmd: reading %s: %s\n",
			conf ? conf : "the default ceph.conf", strerror(-ret));
		rados_shutdown(cl);
		return 2;
	}
	/* Bound every wait: a monitor that is gone fails the command. */
	rados_conf_set(cl, "client_mount_timeout", tmo);
	rados_conf_set(cl, "rados_mon_op_timeout", tmo);
	ret = rados_connect(cl);
	if (ret < 0) {
		fprintf(stderr, "pvblk-mon-cmd: connect: %s\n", strerror(-ret));
		rados_shutdown(cl);
		return 2;
	}

	for (i = optind; i < argc; i++) {
		const char *cmd[1] = { argv[i] };
		char *out = NULL, *outs = NULL;
		size_t outlen = 0, outslen = 0;

		ret = rados_mon_command(cl, cmd, 1, "", 0, &out, &outlen,
					&outs, &outslen);
		if (outlen)
			printf("%.*s\n", (int)outlen, out);
		if (outslen)
			printf("%.*s\n", (int)outslen, outs);
		if (ret < 0) {
			fprintf(stderr, "pvblk-mon-cmd: %s: %s\n", argv[i],
				strerror(-ret));
			failed = 1;
		}
		if (out)
			rados_buffer_free(out);
		if (outs)
			rados_buffer_free(outs);
	}
	rados_shutdown(cl);
	return failed;
}
