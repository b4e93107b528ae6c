// SPDX-License-Identifier: GPL-2.0
/*
 * Per-device QoS: IOPS and bandwidth limits, READs and WRITEs apart, as
 * token buckets with a burst.
 *
 * pvblk_req_dispatch() asks pvblk_qos_throttle() about each valid request
 * while a limit is set (dev->thr.on; otherwise one branch and nothing
 * else).  A request that finds nobody waiting and enough tokens in its
 * buckets takes them and runs; any other waits on the device's FIFO,
 * still counted in its flush epoch, so a barrier or a drain waits for it
 * as for a request in flight.  A delayed work (a timer that hands off to
 * process context, where submission may sleep) releases the oldest ones
 * as their tokens come in and submits them under one blk_plug.  A drain
 * releases everything at once and lets every request through while it
 * runs: a reset or teardown never waits at the throttle's rate.
 *
 * A request released from the work item is submitted by a kworker: it
 * carries the io cgroup of the task that queued it (the VMM's vhost
 * worker) and the release submits it as that cgroup's
 * (kthread_associate_blkcg()), so that io.max and io.stat of the VMM's
 * cgroup see its bios as they see those that did not wait.
 *
 * A bucket holds at most its burst (burst_ms worth of its rate).  A
 * request needs its cost in tokens, or the full bucket when it costs more
 * than the bucket holds (a 1 MiB write under a 256 KiB burst), and takes
 * its whole cost: the bucket goes negative and the debt is paid by the
 * time that follows, so the long-run rate holds for any request size.
 */
#include <linux/cgroup.h>
#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/overflow.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include "internal.h"

#define PVBLK_QOS_DEFAULT_BURST_MS	1000

/* The clock of the buckets; KUnit stubs it with a fake one. */
u64 pvblk_qos_now(void)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_qos_now);
	return ktime_get_ns();
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_qos_now);

/* Run the release @delay jiffies from now (sooner if already due). */
void pvblk_qos_arm(struct pvblk_dev *dev, unsigned long delay)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_qos_arm, dev, delay);
	mod_delayed_work(pvblk_wq, &dev->thr.work, delay);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_qos_arm);

#ifdef CONFIG_BLK_CGROUP
/* The io cgroup of the task queueing @req, for its later submission. */
static void pvblk_qos_css_get(struct pvblk_req *req)
{
	req->qos_css = task_get_css(current, io_cgrp_id);
}

/* Submit as @css's from here on (a kworker; NULL: as itself again). */
static void pvblk_qos_css_use(struct cgroup_subsys_state *css)
{
	kthread_associate_blkcg(css);
}

static void pvblk_qos_css_put(struct cgroup_subsys_state *css)
{
	if (css)
		css_put(css);
}
#else
static void pvblk_qos_css_get(struct pvblk_req *req)
{
	req->qos_css = NULL;
}

static void pvblk_qos_css_use(struct cgroup_subsys_state *css) { }
static void pvblk_qos_css_put(struct cgroup_subsys_state *css) { }
#endif

/* 0 for READ, 1 for what writes, -1 for what is never limited. */
static int pvblk_qos_dir(const struct pvblk_req *req)
{
	switch (req->op) {
	case PVBLK_OP_READ:
		return 0;
	case PVBLK_OP_WRITE:
	case PVBLK_OP_DISCARD:
	case PVBLK_OP_WRITE_ZEROES:
		return 1;
	default:
		return -1;
	}
}

/* Fill every bucket for the time since the last refill. */
static void pvblk_qos_refill(struct pvblk_throttle *t, u64 now)
{
	u64 elapsed = now > t->last ? now - t->last : 0;
	unsigned int i;
	u64 add;

	lockdep_assert_held(&t->lock);
	t->last = max(now, t->last);
	for (i = 0; i < PVBLK_QOS_NR; i++) {
		struct pvblk_qos_bucket *b = &t->buckets[i];

		if (!b->rate)
			continue;
		/* b->tokens <= b->cap always: the room is never negative. */
		if (check_mul_overflow(elapsed, b->rate, &add) ||
		    add >= (u64)(b->cap - b->tokens))
			b->tokens = b->cap;
		else
			b->tokens += add;
	}
}

/* The buckets @req draws from and what it costs in each. */
static unsigned int pvblk_qos_costs(const struct pvblk_req *req, int dir,
				    unsigned int idx[2], s64 cost[2])
{
	idx[0] = dir ? PVBLK_QOS_WIOPS : PVBLK_QOS_RIOPS;
	cost[0] = NSEC_PER_SEC;
	if (req->op == PVBLK_OP_DISCARD || req->op == PVBLK_OP_WRITE_ZEROES)
		return 1;
	idx[1] = dir ? PVBLK_QOS_WBPS : PVBLK_QOS_RBPS;
	/* At most 4096 pages: no overflow. */
	cost[1] = (s64)DIV_ROUND_UP_ULL(req->bytes, SECTOR_SIZE) *
		  NSEC_PER_SEC;
	return 2;
}

/*
 * Take @req's tokens if every bucket it draws from has them (its cost, or
 * a full bucket when it costs more); otherwise take none and return the ns
 * until it will, in @wait_ns.
 */
static bool pvblk_qos_take(struct pvblk_throttle *t,
			   const struct pvblk_req *req, int dir, u64 *wait_ns)
{
	unsigned int idx[2], i, n;
	s64 cost[2];
	u64 wait = 0;

	n = pvblk_qos_costs(req, dir, idx, cost);
	for (i = 0; i < n; i++) {
		struct pvblk_qos_bucket *b = &t->buckets[idx[i]];
		s64 need = min(cost[i], b->cap);

		if (!b->rate || b->tokens >= need)
			continue;
		wait = max(wait, div64_u64(need - b->tokens + b->rate - 1,
					   b->rate));
	}
	if (wait) {
		*wait_ns = wait;
		return false;
	}
	for (i = 0; i < n; i++)
		if (t->buckets[idx[i]].rate)
			t->buckets[idx[i]].tokens -= cost[i];
	return true;
}

static unsigned long pvblk_qos_jiffies(u64 ns)
{
	/* Rounded up, and at least one tick: the tokens are due by then. */
	return nsecs_to_jiffies(ns) + 1;
}

/**
 * pvblk_qos_throttle() - let @req run now or make it wait.
 * @req: a valid request, counted in its epoch, from pvblk_req_dispatch().
 *
 * Return: true when @req waits (pvblk_qos_release() runs it later).
 */
bool pvblk_qos_throttle(struct pvblk_req *req)
{
	struct pvblk_dev *dev = req->q->dev;
	struct pvblk_throttle *t = &dev->thr;
	int dir = pvblk_qos_dir(req);
	u64 now, wait_ns = 0;
	bool first;

	if (dir < 0)
		return false;
	spin_lock(&t->lock);
	first = list_empty(&t->waiting);
	/* The drain's release empties @waiting, which then stays empty. */
	if (t->draining && first) {
		spin_unlock(&t->lock);
		return false;
	}
	now = pvblk_qos_now();
	if (first) {
		pvblk_qos_refill(t, now);
		if (pvblk_qos_take(t, req, dir, &wait_ns)) {
			spin_unlock(&t->lock);
			return false;
		}
	}
	req->qos_start = now;
	pvblk_qos_css_get(req);
	list_add_tail(&req->qos_node, &t->waiting);
	t->nr_waiting++;
	if (first)	/* the first waiter: time the release for it */
		pvblk_qos_arm(dev, pvblk_qos_jiffies(wait_ns));
	spin_unlock(&t->lock);
	return true;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_qos_throttle);

/* Nothing limited and nobody waiting: the data path may skip us. */
static void pvblk_qos_update_on(struct pvblk_throttle *t)
{
	const struct pvblk_qos *l = &t->limits;
	bool any = l->iops[0] || l->iops[1] || l->bps[0] || l->bps[1];

	lockdep_assert_held(&t->lock);
	WRITE_ONCE(t->on, any || !list_empty(&t->waiting));
}

/**
 * pvblk_qos_release() - run the waiting requests whose tokens are in.
 * @dev: the device.
 * @all: run every waiting request, whatever the buckets hold (a drain).
 *
 * In order, stopping at the first that must still wait (then the release
 * is armed for it).  Submits under one blk_plug.  Process context.
 */
void pvblk_qos_release(struct pvblk_dev *dev, bool all)
{
	struct pvblk_throttle *t = &dev->thr;
	struct cgroup_subsys_state *css, *cur = NULL;
	struct pvblk_req *req, *tmp;
	struct blk_plug plug;
	u64 now, wait_ns = 0;
	LIST_HEAD(run);

	spin_lock(&t->lock);
	now = pvblk_qos_now();
	pvblk_qos_refill(t, now);
	list_for_each_entry_safe(req, tmp, &t->waiting, qos_node) {
		if (!pvblk_qos_take(t, req, pvblk_qos_dir(req), &wait_ns) &&
		    !all)
			break;
		list_move_tail(&req->qos_node, &run);
		t->nr_waiting--;
		PVBLK_STAT_ADD(req->q, throttled, 1);
		PVBLK_STAT_ADD(req->q, throttle_ns,
			       now > req->qos_start ? now - req->qos_start : 0);
	}
	if (!list_empty(&t->waiting))
		pvblk_qos_arm(dev, pvblk_qos_jiffies(wait_ns));
	pvblk_qos_update_on(t);
	spin_unlock(&t->lock);

	if (list_empty(&run))
		return;
	blk_start_plug(&plug);
	/*
	 * A request run may complete at once: its node and its css are gone
	 * then.  Its bios are charged to the cgroup that queued it.
	 */
	list_for_each_entry_safe(req, tmp, &run, qos_node) {
		css = req->qos_css;
		if (css != cur) {
			pvblk_qos_css_use(css);
			cur = css;
		}
		/* A file backend takes its own reference (core/file.c). */
		req->core_flags |= PVBLK_RF_QOS_CSS;
		pvblk_req_run(req);
		pvblk_qos_css_put(css);
	}
	if (cur)
		pvblk_qos_css_use(NULL);
	blk_finish_plug(&plug);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_qos_release);

static void pvblk_qos_work(struct work_struct *work)
{
	struct pvblk_throttle *t = container_of(to_delayed_work(work),
						struct pvblk_throttle, work);

	pvblk_qos_release(container_of(t, struct pvblk_dev, thr), false);
}

/*
 * A drain starts: every waiting request runs now and none waits until
 * pvblk_qos_drain_end().  Drains may nest (a reset during a backend
 * change).  Process context.
 */
void pvblk_qos_drain_begin(struct pvblk_dev *dev)
{
	struct pvblk_throttle *t = &dev->thr;

	spin_lock(&t->lock);
	t->draining++;
	spin_unlock(&t->lock);
	pvblk_qos_release(dev, true);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_qos_drain_begin);

void pvblk_qos_drain_end(struct pvblk_dev *dev)
{
	struct pvblk_throttle *t = &dev->thr;

	spin_lock(&t->lock);
	WARN_ON_ONCE(!t->draining);
	t->draining--;
	spin_unlock(&t->lock);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_qos_drain_end);

void pvblk_qos_init(struct pvblk_dev *dev)
{
	struct pvblk_throttle *t = &dev->thr;

	spin_lock_init(&t->lock);
	INIT_LIST_HEAD(&t->waiting);
	INIT_DELAYED_WORK(&t->work, pvblk_qos_work);
	t->limits.burst_ms = PVBLK_QOS_DEFAULT_BURST_MS;
}

/* The device is drained: nothing waits; stop the release for good. */
void pvblk_qos_exit(struct pvblk_dev *dev)
{
	cancel_delayed_work_sync(&dev->thr.work);
	WARN_ON_ONCE(!list_empty(&dev->thr.waiting));
}

static bool pvblk_qos_valid(const struct pvblk_qos *qos)
{
	return qos->iops[0] <= PVBLK_QOS_MAX_IOPS &&
		qos->iops[1] <= PVBLK_QOS_MAX_IOPS &&
		qos->bps[0] <= PVBLK_QOS_MAX_BPS &&
		qos->bps[1] <= PVBLK_QOS_MAX_BPS &&
		qos->burst_ms <= PVBLK_QOS_MAX_BURST_MS;
}

int pvblk_dev_set_qos(struct pvblk_dev *dev, const struct pvblk_qos *qos)
{
	struct pvblk_throttle *t = &dev->thr;
	u32 burst_ms = qos->burst_ms ?: PVBLK_QOS_DEFAULT_BURST_MS;
	u64 rates[PVBLK_QOS_NR];
	unsigned int i;

	if (!pvblk_qos_valid(qos))
		return -EINVAL;
	rates[PVBLK_QOS_RIOPS] = qos->iops[0];
	rates[PVBLK_QOS_WIOPS] = qos->iops[1];
	rates[PVBLK_QOS_RBPS] = DIV_ROUND_UP_ULL(qos->bps[0], SECTOR_SIZE);
	rates[PVBLK_QOS_WBPS] = DIV_ROUND_UP_ULL(qos->bps[1], SECTOR_SIZE);

	spin_lock(&t->lock);
	/* What came in under the old limits stays; then the new ones. */
	pvblk_qos_refill(t, pvblk_qos_now());
	t->limits = *qos;
	t->limits.burst_ms = burst_ms;
	for (i = 0; i < PVBLK_QOS_NR; i++) {
		struct pvblk_qos_bucket *b = &t->buckets[i];
		bool was = b->rate;

		/* <= 2^28 units/s times <= 10^10 ns: fits in s64. */
		b->rate = rates[i];
		b->cap = (s64)(rates[i] * burst_ms * NSEC_PER_MSEC);
		/* A new limit starts with a full burst, a changed one keeps. */
		b->tokens = was ? min(b->tokens, b->cap) : b->cap;
	}
	pvblk_qos_update_on(t);
	/* The waiting ones are judged against the new limits now. */
	if (!list_empty(&t->waiting))
		pvblk_qos_arm(dev, 0);
	spin_unlock(&t->lock);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_set_qos);

void pvblk_dev_get_qos(struct pvblk_dev *dev, struct pvblk_qos *qos)
{
	spin_lock(&dev->thr.lock);
	*qos = dev->thr.limits;
	spin_unlock(&dev->thr.lock);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_dev_get_qos);

/* Lines of the device's debugfs stats file. */
void pvblk_qos_show(struct seq_file *m, struct pvblk_dev *dev)
{
	struct pvblk_throttle *t = &dev->thr;
	struct pvblk_qos l;
	unsigned int waiting;

	spin_lock(&t->lock);
	l = t->limits;
	waiting = t->nr_waiting;
	spin_unlock(&t->lock);
	seq_printf(m, "qos_riops %llu\nqos_wiops %llu\n", l.iops[0], l.iops[1]);
	seq_printf(m, "qos_rbps %llu\nqos_wbps %llu\n", l.bps[0], l.bps[1]);
	seq_printf(m, "qos_burst_ms %u\nqos_waiting %u\n", l.burst_ms, waiting);
}

/* Decimal digits, for a size an optional K, M, G or T (powers of 1024). */
static int pvblk_qos_number(char *buf, bool size, u64 *v)
{
	static const char units[] = "KMGT";
	size_t n = strlen(buf);
	unsigned int shift = 0;
	const char *p;

	p = size && n > 1 ? strchr(units, toupper(buf[n - 1])) : NULL;
	if (p) {
		shift = 10 * (p - units + 1);
		buf[n - 1] = '\0';
	}
	if (!isdigit(buf[0]) || kstrtou64(buf, 10, v))
		return -EINVAL;
	if (check_shl_overflow(*v, shift, v))
		return -EINVAL;
	return 0;
}

static const char * const pvblk_qos_keys[] = {
	"riops", "wiops", "rbps", "wbps", "burst",
};

int pvblk_qos_parse(const char *s, struct pvblk_qos *qos)
{
	unsigned int seen = 0, k;
	char buf[24];
	u64 v;
	size_t n;

	memset(qos, 0, sizeof(*qos));
	for (;;) {
		s += strspn(s, ", \t\n");
		if (!*s)
			return pvblk_qos_valid(qos) ? 0 : -EINVAL;
		for (k = 0; k < ARRAY_SIZE(pvblk_qos_keys); k++) {
			n = strlen(pvblk_qos_keys[k]);
			if (!strncmp(s, pvblk_qos_keys[k], n) && s[n] == '=')
				break;
		}
		if (k == ARRAY_SIZE(pvblk_qos_keys) || (seen & BIT(k)))
			return -EINVAL;
		seen |= BIT(k);
		s += n + 1;
		n = strcspn(s, ", \t\n");
		if (!n || n >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, s, n);
		buf[n] = '\0';
		s += n;
		if (pvblk_qos_number(buf, k == 2 || k == 3, &v))
			return -EINVAL;
		switch (k) {
		case 0:
		case 1:
			qos->iops[k] = v;
			break;
		case 2:
		case 3:
			qos->bps[k - 2] = v;
			break;
		default:
			if (v > U32_MAX)
				return -EINVAL;
			qos->burst_ms = v;
			break;
		}
	}
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_qos_parse);
