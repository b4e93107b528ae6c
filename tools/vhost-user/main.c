// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-vhost-user - serve disks to unmodified QEMUs (vhost-user-blk-pci)
 * through the kernel's /dev/vhost-blk.
 *
 *   pvblk-vhost-user --export socket=PATH,disk=DEV|FILE[,queues=N]
 *                    [,serial=S][,read-only=on|off][,riops=N][,wiops=N]
 *                    [,rbps=N[KMGT]][,wbps=N[KMGT]][,burst=MS][,poll-us=N] ...
 *                    [--config FILE] [--poll-us N] [--device /dev/vhost-blk]
 *                    [--verbose]
 *   pvblk-vhost-user --socket PATH --disk DEV|FILE [--read-only]
 *                    [--serial S] [--num-queues N]     (one export)
 *
 * Every export has its own socket, disk and /dev/vhost-blk instance, and a
 * thread of its own that serves one frontend at a time: when it
 * disconnects (QEMU quit, or rebooted with reconnect=1) its session is
 * released and the next one accepted.  One export's trouble (a malformed
 * message, a QEMU killed, a disk gone) ends only that export's session.
 *
 * The exports of --config FILE (one export a line, the --export syntax,
 * '#' comments) are re-read on SIGHUP: new sockets start, removed ones
 * stop (their frontend is disconnected), changed ones restart; the
 * exports given on the command line stay.  Every disk is opened and every
 * option checked before the first socket is created: a bad one exits
 * non-zero with a message.  SIGTERM/SIGINT stop everything.  A disk that
 * grows or shrinks while a frontend is connected is noticed within a
 * second and the frontend told (VHOST_USER_BACKEND_CONFIG_CHANGE_MSG).
 *
 * riops, wiops, rbps, wbps and burst are the export's I/O limits
 * (VHOST_BLK_SET_QOS on every kernel device it opens, the keys of Xen's
 * pvblk-qos node); a SIGHUP that changes only those applies them to the
 * running session within a second, without a restart.
 *
 * poll-us (or --poll-us for every export that does not set it) lets the
 * kernel's worker busy-poll each ring for up to that many microseconds
 * after a kick and after a batch of completions
 * (VHOST_SET_VRING_BUSYLOOP_TIMEOUT, vhost-net's semantics; 0, the
 * default, is off).  QEMU does not send it over vhost-user.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <linux/vhost_blk.h>

#include "vu.h"

static const char *vhost_dev_path = "/dev/vhost-blk";
static int verbose;
static unsigned int default_poll_us;	/* --poll-us */

#define POLL_US_MAX 10000

/* One export: what the user asked for, and its running state. */
struct export {
	/* The request. */
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char disk[4096];
	char serial[VHOST_BLK_SERIAL_BYTES + 1];
	unsigned int queues;
	bool ro;
	bool has_qos;		/* a limit key was given */
	struct vhost_blk_qos qos;
	bool has_poll;		/* poll-us was given */
	unsigned int poll_us;
	bool from_config;	/* re-read on SIGHUP */
	/* Running state. */
	int disk_fd;
	uint64_t disk_bytes;	/* size last seen (resize watch) */
	int lfd;		/* listening socket, -1 before start */
	int cfd;		/* connected frontend, -1 when none */
	bool stop;		/* under @lock */
	bool qos_dirty;		/* under @lock: @qos changed by a SIGHUP */
	bool started;		/* @thread exists */
	pthread_mutex_t lock;	/* @stop, @cfd, @qos_dirty, @qos after start */
	pthread_t thread;
	struct vu_dev dev;
	struct export *next;
};

static void say(const struct export *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const struct export *e, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (e)
		fprintf(stderr, "pvblk-vhost-user: [%s] %s\n", e->sock_path, buf);
	else
		fprintf(stderr, "pvblk-vhost-user: %s\n", buf);
}

/*
 * The kernel device gets a higher fd number than the frontend's socket.
 * When the daemon dies (SIGKILL, a crash) the kernel closes its files in
 * fd order and releases them in the reverse order, so /dev/vhost-blk's
 * release, which answers every request in flight into the used rings,
 * finishes before QEMU sees the socket close and restarts the rings from
 * their used index (reconnect=1).  Otherwise QEMU could read a used index
 * that the release then moves on, and a request would run twice.
 */
static int k_open(void *ctx)
{
	const struct export *e = ctx;
	int fd, high;

	fd = open(vhost_dev_path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (e && e->cfd >= 0 && fd < e->cfd) {
		high = fcntl(fd, F_DUPFD_CLOEXEC, e->cfd + 1);
		if (high < 0) {
			high = -errno;
			close(fd);
			return high;
		}
		close(fd);
		fd = high;
	}
	return fd;
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

/* ---- options ---- */

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };
	unsigned int i;

	for (i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* poll-us: 0..POLL_US_MAX microseconds. */
static int parse_poll_us(const char *v, unsigned int *out)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n > POLL_US_MAX)
		return -1;
	*out = (unsigned int)n;
	return 0;
}

/* Microseconds to vhost's busyloop units (1024 ns), rounded up. */
static unsigned int poll_units(unsigned int us)
{
	return (us * 1000 + 1023) / 1024;
}

static int parse_queues(const char *v, unsigned int *out)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || !n || n > VHOST_BLK_MAX_QUEUES)
		return -1;
	*out = (unsigned int)n;
	return 0;
}

/*
 * One limit: decimal; a byte rate (@bytes) may end in K, M, G or T
 * (powers of 1024).  At most @max (the kernel's bound).  0 or -1.
 */
static int parse_limit(const char *v, bool bytes, __u64 max, __u64 *out)
{
	unsigned int shift = 0;
	unsigned long long n;
	size_t len = strlen(v);
	char *end;

	if (!len || v[0] < '0' || v[0] > '9')
		return -1;
	if (bytes) {
		const char *u = strchr("KMGT", v[len - 1] & ~0x20);

		if (u && *u)
			shift = 10 * (unsigned int)(u - "KMGT" + 1);
	}
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end != v + len - (shift ? 1 : 0) ||
	    n > (max >> shift))
		return -1;
	*out = (__u64)n << shift;
	return 0;
}

/* The limit keys (VHOST_BLK_SET_QOS); 1 if @key is one, -1 on a bad value. */
static int parse_qos_key(const char *key, const char *v, struct export *e)
{
	__u64 x;
	int r;

	if (!strcmp(key, "riops"))
		r = parse_limit(v, false, 1ull << 28, &e->qos.read_iops);
	else if (!strcmp(key, "wiops"))
		r = parse_limit(v, false, 1ull << 28, &e->qos.write_iops);
	else if (!strcmp(key, "rbps"))
		r = parse_limit(v, true, 1ull << 37, &e->qos.read_bps);
	else if (!strcmp(key, "wbps"))
		r = parse_limit(v, true, 1ull << 37, &e->qos.write_bps);
	else if (!strcmp(key, "burst")) {
		r = parse_limit(v, false, 10000, &x);
		e->qos.burst_ms = (uint32_t)x;
	} else {
		return 0;
	}
	if (r)
		return -1;
	e->has_qos = true;
	return 1;
}

/* Copy @v into @dst of @size bytes; -1 if it does not fit or is empty. */
static int set_str(char *dst, size_t size, const char *v, bool empty_ok)
{
	if ((!*v && !empty_ok) || strlen(v) >= size)
		return -1;
	strcpy(dst, v);
	return 0;
}

static struct export *export_new(void)
{
	struct export *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->queues = 1;
	e->disk_fd = -1;
	e->lfd = -1;
	e->cfd = -1;
	pthread_mutex_init(&e->lock, NULL);
	return e;
}

/*
 * Parse "socket=P,disk=D,queues=N,serial=S,read-only=on" into @e; a
 * message in @err on failure.  Values cannot hold commas.
 */
static int parse_export(const char *spec, struct export *e, char *err,
			size_t errlen)
{
	char *s = strdup(spec), *tok, *save = NULL;
	int r = 0;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (tok = strtok_r(s, ",", &save); tok && !r;
	     tok = strtok_r(NULL, ",", &save)) {
		char *v = strchr(tok, '=');

		if (!v) {
			snprintf(err, errlen, "'%s': not key=value", tok);
			r = -1;
			break;
		}
		*v++ = '\0';
		if (!strcmp(tok, "socket"))
			r = set_str(e->sock_path, sizeof(e->sock_path), v, false);
		else if (!strcmp(tok, "disk"))
			r = set_str(e->disk, sizeof(e->disk), v, false);
		else if (!strcmp(tok, "serial"))
			r = set_str(e->serial, sizeof(e->serial), v, true);
		else if (!strcmp(tok, "queues") || !strcmp(tok, "num-queues"))
			r = parse_queues(v, &e->queues);
		else if (!strcmp(tok, "read-only") || !strcmp(tok, "readonly"))
			r = parse_bool(v, &e->ro);
		else if (!strcmp(tok, "poll-us")) {
			if (parse_poll_us(v, &e->poll_us)) {
				snprintf(err, errlen, "bad poll-us '%s' (0..%d microseconds)",
					 v, POLL_US_MAX);
				r = -1;
				break;
			}
			e->has_poll = true;
		} else if ((r = parse_qos_key(tok, v, e))) {
			if (r < 0) {
				snprintf(err, errlen, "bad %s '%s' (riops, wiops: 0..%llu a second; rbps, wbps: bytes a second, 0..%llu, K/M/G/T suffixes; burst: 0..10000 ms)",
					 tok, v, 1ull << 28, 1ull << 37);
				break;
			}
			r = 0;
		} else {
			snprintf(err, errlen, "unknown key '%s' (socket, disk, queues, serial, read-only, riops, wiops, rbps, wbps, burst, poll-us)",
				 tok);
			r = -1;
			break;
		}
		if (r)
			snprintf(err, errlen, "bad %s '%s' (socket: a path of at most %zu bytes; disk: a path; queues: 1..%d; serial: at most %d bytes; read-only: on|off)",
				 tok, v, sizeof(e->sock_path) - 1,
				 VHOST_BLK_MAX_QUEUES, VHOST_BLK_SERIAL_BYTES);
	}
	if (!r && (!e->sock_path[0] || !e->disk[0])) {
		snprintf(err, errlen, "an export needs socket= and disk=");
		r = -1;
	}
	free(s);
	return r;
}

/* Parse the config file into a list (appended to *@tail); -1 on error. */
static int read_config(const char *path, struct export **head)
{
	struct export **tail = head;
	char line[8192], err[256];
	unsigned int lineno = 0;
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f) {
		say(NULL, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (!r && fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		struct export *e;

		lineno++;
		p[strcspn(p, "#\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strlen(p);
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*p)
			continue;
		e = export_new();
		if (!e) {
			r = -1;
			break;
		}
		e->from_config = true;
		if (parse_export(p, e, err, sizeof(err))) {
			say(NULL, "%s:%u: %s", path, lineno, err);
			free(e);
			r = -1;
			break;
		}
		*tail = e;
		tail = &e->next;
	}
	fclose(f);
	return r;
}

static void export_free(struct export *e)
{
	if (e->disk_fd >= 0)
		close(e->disk_fd);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

static void list_free(struct export *e)
{
	while (e) {
		struct export *next = e->next;

		export_free(e);
		e = next;
	}
}

/* Two exports of one list with the same socket: an error. */
static int check_unique(const struct export *list)
{
	const struct export *a, *b;

	for (a = list; a; a = a->next)
		for (b = a->next; b; b = b->next)
			if (!strcmp(a->sock_path, b->sock_path)) {
				say(NULL, "socket %s is given to two exports",
				    a->sock_path);
				return -1;
			}
	return 0;
}

/* The size of the disk now, in bytes; 0 if it cannot be read. */
static uint64_t disk_size(int fd)
{
	uint64_t bytes = 0;
	struct stat st;

	if (fstat(fd, &st))
		return 0;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, &bytes) ? 0 : bytes;
	return (uint64_t)st.st_size;
}

/* Open the disk and probe the kernel device for @e (no socket yet). */
static int export_open(struct export *e)
{
	int r;

	e->disk_fd = open(e->disk, (e->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (e->disk_fd < 0) {
		say(e, "%s: %s", e->disk, strerror(errno));
		return -1;
	}
	e->disk_bytes = disk_size(e->disk_fd);
	r = vu_dev_init(&e->dev, &kernel_ops, e, e->disk_fd, e->ro,
			e->queues, (const uint8_t *)e->serial,
			(uint32_t)strlen(e->serial), e->has_qos ? &e->qos : NULL);
	if (!r)
		r = vu_dev_set_busyloop(&e->dev, poll_units(e->has_poll ?
							    e->poll_us :
							    default_poll_us));
	if (r) {
		say(e, "%s: %s", e->disk, e->dev.err);
		close(e->disk_fd);
		e->disk_fd = -1;
		return -1;
	}
	return 0;
}

/* ---- serving ---- */

/*
 * The disk grew or shrank (lvextend, losetup -c, truncate): the frontend
 * is told, and its GET_CONFIG then reads the kernel's new capacity.
 */
static void check_resize(struct export *e)
{
	uint64_t now = disk_size(e->disk_fd);
	int r;

	if (!now || now == e->disk_bytes)
		return;
	say(e, "%s resized: %llu -> %llu bytes", e->disk,
	    (unsigned long long)e->disk_bytes, (unsigned long long)now);
	e->disk_bytes = now;
	r = vu_notify_config_change(&e->dev);
	if (r)
		say(e, "cannot tell the frontend about the new size: %s",
		    r == -ENOTCONN ? "no backend channel (SET_BACKEND_REQ_FD)" :
				     strerror(-r));
}

static bool export_stopping(struct export *e)
{
	bool s;

	pthread_mutex_lock(&e->lock);
	s = e->stop;
	pthread_mutex_unlock(&e->lock);
	return s;
}

/* Limits changed by a SIGHUP: into the kernel device, if one is open. */
static void apply_qos(struct export *e)
{
	struct vhost_blk_qos q;
	bool dirty;
	int r;

	pthread_mutex_lock(&e->lock);
	dirty = e->qos_dirty;
	q = e->qos;
	e->qos_dirty = false;
	pthread_mutex_unlock(&e->lock);
	if (!dirty)
		return;
	r = vu_dev_set_qos(&e->dev, &q);
	if (r)
		say(e, "new limits not applied: %s", e->dev.err);
	else if (e->dev.kfd >= 0)
		say(e, "new limits applied to the running session");
}

static void serve(struct export *e, int sock)
{
	struct vu_msg *m = calloc(1, sizeof(*m)), *reply = calloc(1, sizeof(*reply));
	struct vu_dev *d = &e->dev;
	bool has_reply;
	int r;

	if (!m || !reply) {
		say(e, "out of memory");
		goto out;
	}
	apply_qos(e);
	r = vu_session_start(d);
	if (r) {
		say(e, "%s", d->err);
		goto out;
	}
	while (!export_stopping(e)) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };

		apply_qos(e);
		/* Between messages, once a second: has the disk been resized? */
		r = poll(&pfd, 1, 1000);
		if (r < 0 && errno != EINTR) {
			say(e, "poll: %s", strerror(errno));
			break;
		}
		if (r <= 0) {
			check_resize(e);
			continue;
		}
		d->err[0] = 0;
		r = vu_read_msg(d, sock, m);
		if (r == 0) {
			if (verbose)
				say(e, "frontend disconnected");
			break;
		}
		if (r < 0) {
			if (r == -EINTR)
				continue;
			say(e, "%s", d->err[0] ? d->err : strerror(-r));
			break;
		}
		r = vu_check_msg(d, m);
		if (!r) {
			if (verbose)
				say(e, "%s size %u fds %u",
				    vu_request_name(m->hdr.request),
				    m->hdr.size, m->nfds);
			r = vu_handle(d, m, reply, &has_reply);
		}
		vu_close_fds(m);
		if (d->err[0])
			say(e, "%s%s", d->err,
			    r ? " (dropping the connection)" : "");
		if (r)
			break;
		if (has_reply) {
			r = vu_send_msg(sock, reply);
			if (r) {
				say(e, "send: %s", strerror(-r));
				break;
			}
		}
	}
	vu_session_end(d);
out:
	free(m);
	free(reply);
}

static void *export_thread(void *arg)
{
	struct export *e = arg;

	for (;;) {
		int cfd = accept4(e->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (!export_stopping(e))
				say(e, "accept: %s", strerror(errno));
			break;
		}
		pthread_mutex_lock(&e->lock);
		if (e->stop) {
			pthread_mutex_unlock(&e->lock);
			close(cfd);
			break;
		}
		e->cfd = cfd;
		pthread_mutex_unlock(&e->lock);
		if (verbose)
			say(e, "frontend connected");
		serve(e, cfd);
		pthread_mutex_lock(&e->lock);
		e->cfd = -1;
		pthread_mutex_unlock(&e->lock);
		close(cfd);
	}
	return NULL;
}

static void say_qos(const struct export *e, const char *what)
{
	say(e, "%s: riops %llu wiops %llu rbps %llu wbps %llu burst %u ms (0: unlimited)",
	    what, (unsigned long long)e->qos.read_iops,
	    (unsigned long long)e->qos.write_iops,
	    (unsigned long long)e->qos.read_bps,
	    (unsigned long long)e->qos.write_bps,
	    e->qos.burst_ms ? e->qos.burst_ms : 1000);
}

/* Create @e's socket and start serving it. */
static int export_start(struct export *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	sigset_t all, old;
	int r;

	e->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (e->lfd < 0) {
		say(e, "socket: %s", strerror(errno));
		return -1;
	}
	strcpy(sa.sun_path, e->sock_path);
	unlink(e->sock_path);
	if (bind(e->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(e->lfd, 1) < 0) {
		say(e, "%s", strerror(errno));
		close(e->lfd);
		e->lfd = -1;
		return -1;
	}
	/* Signals are the main thread's (sigwaitinfo()). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&e->thread, NULL, export_thread, e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		say(e, "pthread_create: %s", strerror(r));
		close(e->lfd);
		e->lfd = -1;
		unlink(e->sock_path);
		return -1;
	}
	e->started = true;
	say(e, "serving %s (%llu sectors, %u queue%s%s%s%s)", e->disk,
	    (unsigned long long)le64toh(e->dev.cfg.capacity), e->queues,
	    e->queues > 1 ? "s" : "", e->ro ? ", read-only" : "",
	    e->serial[0] ? ", serial " : "", e->serial);
	if (e->has_qos)
		say_qos(e, "limits");
	if (e->dev.busyloop)
		say(e, "busy polling: %u us (%u units of 1024 ns)",
		    e->has_poll ? e->poll_us : default_poll_us, e->dev.busyloop);
	return 0;
}

/* Stop serving @e: its frontend is disconnected, its socket removed. */
static void export_stop(struct export *e)
{
	if (!e->started)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	shutdown(e->lfd, SHUT_RDWR);
	if (e->cfd >= 0)
		shutdown(e->cfd, SHUT_RDWR);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->thread, NULL);
	e->started = false;
	close(e->lfd);
	e->lfd = -1;
	unlink(e->sock_path);
	say(e, "stopped");
}

static bool same_export(const struct export *a, const struct export *b)
{
	return !strcmp(a->disk, b->disk) && !strcmp(a->serial, b->serial) &&
	       a->queues == b->queues && a->ro == b->ro &&
	       a->has_poll == b->has_poll && a->poll_us == b->poll_us;
}

static bool same_qos(const struct export *a, const struct export *b)
{
	return a->has_qos == b->has_qos &&
	       !memcmp(&a->qos, &b->qos, sizeof(a->qos));
}

/* Only the limits of running @e changed to @n's: its thread applies them. */
static void update_qos(struct export *e, const struct export *n)
{
	pthread_mutex_lock(&e->lock);
	e->qos = n->qos;
	e->has_qos = true;
	e->qos_dirty = true;
	pthread_mutex_unlock(&e->lock);
	say_qos(e, "new limits");
}

/*
 * SIGHUP: re-read @config.  Exports of the old file that are gone or
 * changed stop; new or changed ones start.  A file that does not parse
 * changes nothing; a new export whose disk cannot be opened is left out
 * (the others are served).
 */
static void reload(const char *config, struct export **running)
{
	struct export *fresh = NULL, **pp, *e, *n, *next;

	say(NULL, "SIGHUP: re-reading %s", config);
	if (read_config(config, &fresh) || check_unique(fresh)) {
		say(NULL, "%s: not applied (the exports served are unchanged)",
		    config);
		list_free(fresh);
		return;
	}
	/* Stop what went away or changed. */
	for (pp = running; (e = *pp);) {
		for (n = fresh; n; n = n->next)
			if (!strcmp(n->sock_path, e->sock_path))
				break;
		if (!e->from_config || (n && same_export(n, e))) {
			if (e->from_config && !same_qos(n, e))
				update_qos(e, n);
			pp = &e->next;
			continue;
		}
		export_stop(e);
		*pp = e->next;
		export_free(e);
	}
	/* Start what is new. */
	for (n = fresh; n; n = next) {
		next = n->next;
		n->next = NULL;
		for (e = *running; e; e = e->next)
			if (!strcmp(n->sock_path, e->sock_path))
				break;
		if (e) {
			if (!e->from_config)
				say(e, "%s: socket taken by a command-line export: ignored",
				    config);
			export_free(n);
			continue;
		}
		if (export_open(n) || export_start(n)) {
			export_free(n);
			continue;
		}
		n->next = *running;
		*running = n;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvblk-vhost-user [--export socket=PATH,disk=DEV|FILE[,queues=N]\n"
		"                                 [,serial=S][,read-only=on|off][,riops=N]\n"
		"                                 [,wiops=N][,rbps=N[KMGT]][,wbps=N[KMGT]]\n"
		"                                 [,burst=MS][,poll-us=N]]...\n"
		"                        [--config FILE] [--poll-us N] [--device PATH]\n"
		"                        [--verbose]\n"
		"       pvblk-vhost-user --socket PATH --disk DEV|FILE [--read-only]\n"
		"                        [--serial S] [--num-queues N] [--device PATH]\n"
		"--config FILE: one export a line (the --export syntax, '#' comments),\n"
		"re-read on SIGHUP.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "export", required_argument, NULL, 'e' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "disk", required_argument, NULL, 'd' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "serial", required_argument, NULL, 'S' },
		{ "num-queues", required_argument, NULL, 'q' },
		{ "device", required_argument, NULL, 'D' },
		{ "poll-us", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct export *list = NULL, **tail = &list, *single = NULL, *e;
	const char *config = NULL;
	sigset_t sigs;
	char err[256];
	int c, rc = 1;

	single = export_new();
	if (!single)
		return 1;
	while ((c = getopt_long(argc, argv, "e:c:s:d:rS:q:D:P:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			e = export_new();
			if (!e)
				goto out;
			*tail = e;
			tail = &e->next;
			if (parse_export(optarg, e, err, sizeof(err))) {
				say(NULL, "--export %s: %s", optarg, err);
				rc = 2;
				goto out;
			}
			break;
		case 'c': config = optarg; break;
		case 's':
			if (set_str(single->sock_path, sizeof(single->sock_path),
				    optarg, false)) {
				say(NULL, "--socket: a path of at most %zu bytes",
				    sizeof(single->sock_path) - 1);
				rc = 2;
				goto out;
			}
			break;
		case 'd':
			if (set_str(single->disk, sizeof(single->disk), optarg,
				    false)) {
				say(NULL, "--disk: a path");
				rc = 2;
				goto out;
			}
			break;
		case 'r': single->ro = true; break;
		case 'S':
			if (set_str(single->serial, sizeof(single->serial),
				    optarg, true)) {
				say(NULL, "--serial: at most %d bytes",
				    VHOST_BLK_SERIAL_BYTES);
				rc = 2;
				goto out;
			}
			break;
		case 'q':
			if (parse_queues(optarg, &single->queues)) {
				say(NULL, "--num-queues 1..%d", VHOST_BLK_MAX_QUEUES);
				rc = 2;
				goto out;
			}
			break;
		case 'D': vhost_dev_path = optarg; break;
		case 'P':
			if (parse_poll_us(optarg, &default_poll_us)) {
				say(NULL, "--poll-us 0..%d (microseconds)",
				    POLL_US_MAX);
				rc = 2;
				goto out;
			}
			break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); rc = 0; goto out;
		default: usage(stderr); rc = 2; goto out;
		}
	}
	if (optind != argc) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	if (single->sock_path[0] || single->disk[0]) {
		if (!single->sock_path[0] || !single->disk[0]) {
			say(NULL, "--socket and --disk go together");
			usage(stderr);
			rc = 2;
			goto out;
		}
		*tail = single;
		tail = &single->next;
		single = NULL;
	}
	if (config && read_config(config, tail)) {
		rc = 2;
		goto out;
	}
	if (!list) {
		say(NULL, "nothing to serve: give --export, --config or --socket + --disk");
		usage(stderr);
		rc = 2;
		goto out;
	}
	if (check_unique(list)) {
		rc = 2;
		goto out;
	}
	/* Every disk, before any socket. */
	for (e = list; e; e = e->next)
		if (export_open(e))
			goto out;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (e = list; e; e = e->next)
		if (export_start(e))
			goto stop;
	for (;;) {
		int sig = sigwaitinfo(&sigs, NULL);

		if (sig < 0)
			continue;
		if (sig != SIGHUP)
			break;
		if (config)
			reload(config, &list);
		else
			say(NULL, "SIGHUP: no --config to re-read");
	}
	rc = 0;
stop:
	for (e = list; e; e = e->next)
		export_stop(e);
out:
	list_free(list);
	if (single)
		export_free(single);
	return rc;
}
