// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-stat: an iostat-like view of pvblk's devices, from the stats files
 * /sys/kernel/debug/pvblk/<device>/stats (format version 1, see README
 * "Tracing and stats").
 *
 *   pvblk-stat [-i SECONDS] [-c COUNT] [-Q] [-d DIR] [DEVICE...]
 *
 * Without -i: one report of the counters since each device was created.
 * With -i: a report every SECONDS (fractions allowed) of what happened
 * during that interval, COUNT times (default: until interrupted); the
 * first report comes after the first interval.  One row per device (queue
 * "-"), and with -Q one more per queue that has served a request since it
 * was created (a vhost device has 16 queues; a guest may use fewer).
 * Columns:
 *   r/s w/s o/s   READs, WRITEs, other requests (FLUSH, DISCARD,
 *                 WRITE_ZEROES, GET_ID) completed per second (totals
 *                 without -i: counts, and the header says so)
 *   rMB/s wMB/s   data read and written, MB (10^6 bytes) per second
 *   lat_us        mean latency of the completed requests, microseconds
 *   p99_us        99th percentile, the upper bound of its log2 bucket
 *   inflight      requests in the core now
 *   errors        requests completed with an error
 *   hit%          persistent-grant cache hits / lookups (Xen), else "-"
 * DEVICE names restrict the view.  Exit status 0, 1 when no device could
 * be read, 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STATS_VERSION	1
#define NOPS		6	/* read write flush discard write_zeroes get_id */
#define NHIST		32
#define MAXQ		256
#define MAXDEV		256

static const char * const op_names[NOPS] = {
	"read", "write", "flush", "discard", "write_zeroes", "get_id",
};

struct qs {
	uint64_t reqs[NOPS], bytes[NOPS];
	uint64_t errors, done, lat_ns, hist[NHIST];
	uint64_t hits, misses;
	long long inflight;
	int cache;
};

struct dev {
	char name[256];
	unsigned int nq;
	struct qs all, q[MAXQ];
};

struct snap {
	double t;
	int n;
	struct dev *d[MAXDEV];
};

static const char *dir = "/sys/kernel/debug/pvblk";
static char **want;
static int nwant;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* One "name value..." line into @s (a queue's or the device's counters). */
static void set_field(struct qs *s, const char *key, char *rest)
{
	uint64_t v = strtoull(rest, NULL, 10);
	char *p = rest, *end;
	int i;

	for (i = 0; i < NOPS; i++) {
		size_t l = strlen(op_names[i]);

		if (strncmp(key, op_names[i], l) || key[l] != '_')
			continue;
		if (!strcmp(key + l + 1, "reqs"))
			s->reqs[i] = v;
		else if (!strcmp(key + l + 1, "bytes"))
			s->bytes[i] = v;
	}
	if (!strcmp(key, "errors"))
		s->errors = v;
	else if (!strcmp(key, "drained_reqs"))
		s->done = v;
	else if (!strcmp(key, "lat_ns"))
		s->lat_ns = v;
	else if (!strcmp(key, "inflight"))
		s->inflight = strtoll(rest, NULL, 10);
	else if (!strcmp(key, "lat_hist"))
		for (i = 0; i < NHIST; i++, p = end) {
			s->hist[i] = strtoull(p, &end, 10);
			if (end == p)
				break;
		}
}

/* Parse one stats file; NULL (and a message) if it cannot be used. */
static struct dev *read_dev(const char *name)
{
	char path[512], line[1024], key[128];
	unsigned int qi;
	struct dev *d;
	int version = -1, off;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/stats", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;	/* gone meanwhile */
	d = calloc(1, sizeof(*d));
	if (!d) {
		fclose(f);
		return NULL;
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %n", key, &off) != 1)
			continue;
		if (!strcmp(key, "version")) {
			version = atoi(line + off);
		} else if (!strcmp(key, "queues")) {
			d->nq = strtoul(line + off, NULL, 10);
			if (d->nq > MAXQ)
				d->nq = MAXQ;
		} else if (sscanf(key, "q%u_", &qi) == 1 && strchr(key, '_')) {
			if (qi < MAXQ)
				set_field(&d->q[qi], strchr(key, '_') + 1,
					  line + off);
		} else if (sscanf(key, "mcache%u_", &qi) == 1) {
			const char *k = strchr(key, '_') + 1;
			uint64_t v = strtoull(line + off, NULL, 10);

			if (qi >= MAXQ)
				continue;
			d->q[qi].cache = d->all.cache = 1;
			if (!strcmp(k, "hits")) {
				d->q[qi].hits = v;
				d->all.hits += v;
			} else if (!strcmp(k, "misses")) {
				d->q[qi].misses = v;
				d->all.misses += v;
			}
		} else {
			set_field(&d->all, key, line + off);
		}
	}
	fclose(f);
	if (version != STATS_VERSION) {
		fprintf(stderr, "pvblk-stat: %s: format version %d, this tool reads %d\n",
			path, version, STATS_VERSION);
		free(d);
		return NULL;
	}
	return d;
}

static int wanted(const char *name)
{
	int i;

	if (!nwant)
		return 1;
	for (i = 0; i < nwant; i++)
		if (!strcmp(want[i], name))
			return 1;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct dev *x = *(struct dev * const *)a;
	const struct dev *y = *(struct dev * const *)b;

	return strcmp(x->name, y->name);
}

static void snap_free(struct snap *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		free(s->d[i]);
	s->n = 0;
}

static int take(struct snap *s)
{
	struct dirent *e;
	DIR *dd;

	s->n = 0;
	s->t = now_s();
	dd = opendir(dir);
	if (!dd)
		return -errno;
	while ((e = readdir(dd)) && s->n < MAXDEV) {
		struct dev *d;

		if (e->d_name[0] == '.' || !wanted(e->d_name))
			continue;
		d = read_dev(e->d_name);
		if (d)
			s->d[s->n++] = d;
	}
	closedir(dd);
	qsort(s->d, s->n, sizeof(s->d[0]), by_name);
	return 0;
}

static struct dev *find(struct snap *s, const char *name)
{
	int i;

	for (i = 0; s && i < s->n; i++)
		if (!strcmp(s->d[i]->name, name))
			return s->d[i];
	return NULL;
}

/* Upper bound, in µs, of the bucket holding the 99th percentile. */
static double p99_us(const uint64_t *h)
{
	uint64_t sum = 0, need, total = 0;
	int k;

	for (k = 0; k < NHIST; k++)
		total += h[k];
	if (!total)
		return 0;
	need = total - total / 100;
	for (k = 0; k < NHIST; k++) {
		sum += h[k];
		if (sum >= need)
			break;
	}
	if (k >= NHIST - 1)
		return INFINITY;
	return ldexp(1.0, k + 10) / 1000.0;
}

/* Print @cur minus @old (zero when NULL) over @dt seconds (0: totals). */
static void row(const char *name, const char *q, const struct qs *cur,
		const struct qs *old, double dt)
{
	static const struct qs zero;
	uint64_t d[NOPS], b[NOPS], h[NHIST], done, lat, err, hits, lookups;
	double div = dt > 0 ? dt : 1;
	char hit[16];
	int i;

	if (!old)
		old = &zero;
	for (i = 0; i < NOPS; i++) {
		d[i] = cur->reqs[i] - old->reqs[i];
		b[i] = cur->bytes[i] - old->bytes[i];
	}
	for (i = 0; i < NHIST; i++)
		h[i] = cur->hist[i] - old->hist[i];
	done = cur->done - old->done;
	lat = cur->lat_ns - old->lat_ns;
	err = cur->errors - old->errors;
	hits = cur->hits - old->hits;
	lookups = hits + cur->misses - old->misses;
	if (cur->cache && lookups)
		snprintf(hit, sizeof(hit), "%.1f", 100.0 * hits / lookups);
	else
		snprintf(hit, sizeof(hit), "-");
	printf(dt > 0 ?
	       "%-20s %3s %9.1f %9.1f %7.1f %8.2f %8.2f %9.1f %9.1f %8lld %7llu %6s\n" :
	       "%-20s %3s %9.0f %9.0f %7.0f %8.2f %8.2f %9.1f %9.1f %8lld %7llu %6s\n",
	       name, q, d[0] / div, d[1] / div,
	       (d[2] + d[3] + d[4] + d[5]) / div,
	       b[0] / div / 1e6, b[1] / div / 1e6,
	       done ? lat / 1e3 / done : 0.0, p99_us(h),
	       cur->inflight, (unsigned long long)err, hit);
}

static void report(struct snap *cur, struct snap *old, int per_queue)
{
	double dt = old ? cur->t - old->t : 0;
	char qn[16];
	unsigned int j;
	int i;

	printf("%-20s %3s %9s %9s %7s %8s %8s %9s %9s %8s %7s %6s\n",
	       "device", "q", dt ? "r/s" : "reads", dt ? "w/s" : "writes",
	       dt ? "o/s" : "other", dt ? "rMB/s" : "rMB", dt ? "wMB/s" : "wMB",
	       "lat_us", "p99_us", "inflight", "errors", "hit%");
	for (i = 0; i < cur->n; i++) {
		struct dev *d = cur->d[i], *o = find(old, d->name);

		if (old && !o)
			continue;	/* new: rates from the next report on */
		row(d->name, "-", &d->all, o ? &o->all : NULL, dt);
		for (j = 0; per_queue && j < d->nq; j++) {
			if (!d->q[j].done && !d->q[j].inflight)
				continue;	/* never used */
			snprintf(qn, sizeof(qn), "%u", j);
			row(d->name, qn, &d->q[j], o && j < o->nq ? &o->q[j] : NULL,
			    dt);
		}
	}
	printf("\n");
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: pvblk-stat [-i SECONDS] [-c COUNT] [-Q] [-d DIR] [DEVICE...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct snap a, b;
	struct snap *cur = &a, *old = &b, *t;
	double interval = 0;
	long count = -1, n;
	int c, per_queue = 0;
	char *end;

	while ((c = getopt(argc, argv, "i:c:Qd:h")) != -1) {
		switch (c) {
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || interval <= 0)
				usage();
			break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || count <= 0)
				usage();
			break;
		case 'Q': per_queue = 1; break;
		case 'd': dir = optarg; break;
		default: usage();
		}
	}
	want = argv + optind;
	nwant = argc - optind;

	if (take(cur)) {
		fprintf(stderr, "pvblk-stat: %s: %s (debugfs mounted? pvblk loaded?)\n",
			dir, strerror(errno));
		return 1;
	}
	if (!interval) {
		report(cur, NULL, per_queue);
		return cur->n ? 0 : 1;
	}
	for (n = 0; count < 0 || n < count; n++) {
		t = old;
		old = cur;
		cur = t;
		sleep_s(interval);
		snap_free(cur);
		if (take(cur)) {
			fprintf(stderr, "pvblk-stat: %s: %s\n", dir, strerror(errno));
			return 1;
		}
		report(cur, old, per_queue);
	}
	return 0;
}
