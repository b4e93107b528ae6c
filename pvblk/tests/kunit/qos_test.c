// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite pvblk_qos: per-device QoS of core/qos.c.  The clock of the
 * buckets is a fake one the test moves (pvblk_qos_now() stubbed), the
 * release timer is never armed (pvblk_qos_arm() stubbed: the test sees
 * the delay asked for and calls pvblk_qos_release() itself), and bios are
 * captured as in the other core suites, so a request "runs" exactly when
 * its bio has been submitted.
 */
#include <kunit/test.h>
#include <linux/jiffies.h>
#include <linux/string.h>
#include "core_test.h"

struct qos_fake {
	u64 now;		/* ns */
	unsigned int arms;
	unsigned long delay;	/* of the last arm, jiffies */
	bool end_bios;		/* end each bio at submission */
};

static struct qos_fake *qos_fake(void)
{
	struct pt_ctx *c = kunit_get_current_test()->priv;

	return c->extra;
}

static u64 qos_now(void)
{
	return qos_fake()->now;
}

static void qos_arm(struct pvblk_dev *dev, unsigned long delay)
{
	struct qos_fake *f = qos_fake();

	f->arms++;
	f->delay = delay;
}

static void qos_submit_bio(struct bio *bio)
{
	struct pt_ctx *c = kunit_get_current_test()->priv;
	struct qos_fake *f = c->extra;

	if (!f->end_bios) {
		KUNIT_ASSERT_LT(c->test, c->nr_bios, PT_MAX_BIOS);
		c->bios[c->nr_bios++] = bio;
		return;
	}
	c->nr_bios++;
	bio->bi_status = BLK_STS_OK;
	bio_endio(bio);
}

/* Before pt_teardown: nothing may still wait on a stopped clock. */
static void qos_teardown(void *data)
{
	struct pt_ctx *c = data;
	struct qos_fake *f = c->extra;

	f->end_bios = true;
	pvblk_qos_release(c->dev, true);
}

static struct pt_ctx *qos_setup(struct kunit *test, const char *limits)
{
	struct qos_fake *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);
	struct pvblk_qos q;
	struct pt_ctx *c;

	KUNIT_ASSERT_NOT_NULL(test, f);
	f->now = 5 * NSEC_PER_SEC;
	/* Before pt_setup(): undone after its teardown, which uses them. */
	kunit_activate_static_stub(test, pvblk_qos_now, qos_now);
	kunit_activate_static_stub(test, pvblk_qos_arm, qos_arm);
	c = pt_setup(test, 2);
	c->extra = f;
	/* Replaces pt_setup()'s capture in place (same undo order). */
	kunit_activate_static_stub(test, pvblk_submit_bio, qos_submit_bio);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, qos_teardown, c),
			0);
	pt_set_fake(c, 1 << 20, 512, 128, 65536, 256);
	KUNIT_ASSERT_EQ(test, pvblk_qos_parse(limits, &q), 0);
	KUNIT_ASSERT_EQ(test, pvblk_dev_set_qos(c->dev, &q), 0);
	return c;
}

static struct pt_req *qos_rw(struct pt_ctx *c, enum pvblk_op op,
			     sector_t sector, unsigned int pages)
{
	struct page *pg = pt_alloc_pages(c->test, 0);
	struct pt_req *r = pt_new_req(c, op, sector);

	pt_add_pages(c, r, pg, 1, 0, PAGE_SIZE);
	if (pages > 1)
		pt_add_pages(c, r, pg, pages - 1, 0, PAGE_SIZE);
	pt_submit(c, r);
	return r;
}

static struct pt_req *qos_op(struct pt_ctx *c, enum pvblk_op op,
			     sector_t sector, u64 nr_sectors)
{
	struct pt_req *r = pt_new_req(c, op, sector);

	r->req.nr_sectors = nr_sectors;
	if (op == PVBLK_OP_GET_ID)
		pt_add_pages(c, r, pt_alloc_pages(c->test, 0), 1, 0, 512);
	pt_submit(c, r);
	return r;
}

static void qos_advance(struct pt_ctx *c, u64 ns)
{
	struct qos_fake *f = c->extra;

	f->now += ns;
	pvblk_qos_release(c->dev, false);
}

static unsigned int qos_waiting(struct pt_ctx *c)
{
	return c->dev->thr.nr_waiting;
}

/* No limit: the data path sees thr.on false and nothing waits. */
static void pvblk_qos_off_costs_nothing(struct kunit *test)
{
	struct pt_ctx *c = qos_setup(test, "");
	unsigned int i;

	KUNIT_EXPECT_FALSE(test, READ_ONCE(c->dev->thr.on));
	for (i = 0; i < 20; i++)
		qos_rw(c, PVBLK_OP_READ, i * 8, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 20);
	KUNIT_EXPECT_EQ(test, ((struct qos_fake *)c->extra)->arms, 0);
	KUNIT_EXPECT_EQ(test, qos_waiting(c), 0);
}

/*
 * riops=10, burst 1 s: ten READs go at once, the eleventh waits 100 ms
 * (the timer is armed for it), then one each 100 ms; WRITEs are not
 * limited by a read limit.
 */
static void pvblk_qos_iops_bucket(struct kunit *test)
{
	struct pt_ctx *c = qos_setup(test, "riops=10");
	struct qos_fake *f = c->extra;
	unsigned int i;

	KUNIT_EXPECT_TRUE(test, READ_ONCE(c->dev->thr.on));
	for (i = 0; i < 13; i++)
		qos_rw(c, PVBLK_OP_READ, i * 8, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 10);
	KUNIT_EXPECT_EQ(test, qos_waiting(c), 3);
	KUNIT_EXPECT_EQ(test, f->arms, 1);
	KUNIT_EXPECT_EQ(test, f->delay,
			nsecs_to_jiffies(100 * NSEC_PER_MSEC) + 1);

	qos_advance(c, 99 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 10);
	KUNIT_EXPECT_EQ(test, f->delay, nsecs_to_jiffies(NSEC_PER_MSEC) + 1);
	qos_advance(c, NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 11);
	KUNIT_EXPECT_EQ(test, qos_waiting(c), 2);
	qos_advance(c, 200 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 13);
	KUNIT_EXPECT_EQ(test, qos_waiting(c), 0);
	/* The released bios went out in submission order. */
	for (i = 0; i < 13; i++)
		KUNIT_EXPECT_EQ(test, c->bios[i]->bi_iter.bi_sector, i * 8);

	/* Writes: not limited by riops. */
	for (i = 0; i < 5; i++)
		qos_rw(c, PVBLK_OP_WRITE, 200 + i * 8, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 18);
}

/*
 * An idle bucket fills up to its burst and no further: after 10 s idle,
 * riops=10 burst=500 lets 5 go at once, not 100.
 */
static void pvblk_qos_burst_caps(struct kunit *test)
{
	struct pt_ctx *c = qos_setup(test, "riops=10,burst=500");
	struct qos_fake *f = c->extra;
	unsigned int i;

	f->now += 10 * NSEC_PER_SEC;
	for (i = 0; i < 8; i++)
		qos_rw(c, PVBLK_OP_READ, i * 8, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 5);
	KUNIT_EXPECT_EQ(test, qos_waiting(c), 3);
	qos_advance(c, 300 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 8);
}

/*
 * Bandwidth: wbps=64K, burst 125 ms (8 KiB, 16 sectors).  Two 4 KiB writes
 * empty the bucket; a 16 KiB write (more than the bucket holds) goes once
 * the bucket is full again, and its debt holds the next one for the time
 * 16 KiB take at 64 KiB/s.
 */
static void pvblk_qos_bps_bucket(struct kunit *test)
{
	struct pt_ctx *c = qos_setup(test, "wbps=64K,burst=125");
	struct qos_fake *f = c->extra;

	qos_rw(c, PVBLK_OP_WRITE, 0, 1);
	qos_rw(c, PVBLK_OP_WRITE, 8, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);
	qos_rw(c, PVBLK_OP_WRITE, 16, 4);	/* 32 sectors > 16 */
	qos_rw(c, PVBLK_OP_WRITE, 64, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);
	/* Full again after 125 ms: the big one goes, 32 sectors in debt. */
	KUNIT_EXPECT_EQ(test, f->delay,
			nsecs_to_jiffies(125 * NSEC_PER_MSEC) + 1);
	qos_advance(c, 125 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 3);
	/* 16 tokens short of 0, 8 needed: 24 sectors at 128/s = 187.5 ms. */
	KUNIT_EXPECT_EQ(test, f->delay,
			nsecs_to_jiffies(187500 * NSEC_PER_USEC) + 1);
	qos_advance(c, 187 * NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 3);
	qos_advance(c, NSEC_PER_MSEC);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 4);
	/* Reads are not limited by wbps. */
	qos_rw(c, PVBLK_OP_READ, 0, 4);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 5);
}

/*
 * FIFO: once a request waits, nothing of the device that is limited
 * overtakes it, not even a READ with no read limit, on another queue;
 * FLUSH and GET_ID are never limited and go at once.  DISCARD and
 * WRITE_ZEROES count as writes.
 */
static void pvblk_qos_fifo(struct kunit *test)
{
	struct pt_ctx *c = qos_setup(test, "wiops=1,burst=1000");
	struct pt_req *r, *g;
	unsigned int i;

	qos_rw(c, PVBLK_OP_WRITE, 0, 1);		/* the one token */
	qos_op(c, PVBLK_OP_DISCARD, 8, 8);		/* waits */
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	/* A READ on the other queue. */
	r = container_of(pvblk_req_get(pvblk_dev_queue(c->dev, 1)),
			 struct pt_req, req);
	r->done = false;
	r->req.op = PVBLK_OP_READ;
	r->req.sector = 16;
	pt_add_pages(c, r, pt_alloc_pages(test, 0), 1, 0, PAGE_SIZE);
	pvblk_batch_start(&c->batch, r->req.q);
	pvblk_batch_add(&c->batch, &r->req);
	pvblk_batch_finish(&c->batch);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);		/* behind the discard */
	qos_op(c, PVBLK_OP_FLUSH, 0, 0);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);		/* flush: at once */
	KUNIT_EXPECT_TRUE(test, pt_has(c->bios[1], REQ_PREFLUSH));
	g = qos_op(c, PVBLK_OP_GET_ID, 0, 0);
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, g->done);
	qos_op(c, PVBLK_OP_WRITE_ZEROES, 32, 8);	/* behind the read */
	KUNIT_EXPECT_EQ(test, qos_waiting(c), 3);

	qos_advance(c, NSEC_PER_SEC);	/* discard, then the read */
	KUNIT_ASSERT_EQ(test, c->nr_bios, 4);
	KUNIT_EXPECT_EQ(test, pt_op(c->bios[2]), (__force u32)REQ_OP_DISCARD);
	KUNIT_EXPECT_EQ(test, c->bios[3]->bi_iter.bi_sector, 16);
	KUNIT_EXPECT_EQ(test, qos_waiting(c), 1);
	qos_advance(c, NSEC_PER_SEC);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 5);
	KUNIT_EXPECT_EQ(test, pt_op(c->bios[4]), (__force u32)REQ_OP_WRITE_ZEROES);
	for (i = 0; i < c->nr_bios; i++)
		KUNIT_EXPECT_NOT_NULL(test, c->bios[i]);
}

/*
 * A waiting request keeps its flush-epoch reference: a barrier after it
 * is parked until it was released and completed.
 */
static void pvblk_qos_barrier_waits_throttled(struct kunit *test)
{
	struct pt_ctx *c = qos_setup(test, "wiops=1");
	struct pt_req *w, *b;
	u64 counted;

	qos_rw(c, PVBLK_OP_WRITE, 0, 1);
	pt_end_bio(c, 0, BLK_STS_OK);
	pt_drain(c);
	w = qos_rw(c, PVBLK_OP_WRITE, 8, 1);		/* waits */
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	pvblk_epoch_count(c->dev, &counted);
	KUNIT_EXPECT_EQ(test, counted, 1);		/* counted while waiting */

	b = pt_new_req(c, PVBLK_OP_FLUSH, 0);
	b->req.flags = PVBLK_REQ_BARRIER;
	pt_submit(c, b);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);		/* parked */
	KUNIT_EXPECT_EQ(test, atomic64_read(&c->dev->parked), 1);

	qos_advance(c, NSEC_PER_SEC);			/* w runs */
	KUNIT_ASSERT_EQ(test, c->nr_bios, 2);
	KUNIT_EXPECT_EQ(test, c->bios[1]->bi_iter.bi_sector, 8);
	pt_drain(c);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);		/* barrier still parked */
	pt_end_bio(c, 1, BLK_STS_OK);
	pt_drain(c);					/* w done: barrier runs */
	KUNIT_EXPECT_TRUE(test, w->done);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 3);
	KUNIT_EXPECT_TRUE(test, pt_has(c->bios[2], REQ_PREFLUSH));
	pt_end_bio(c, 2, BLK_STS_OK);
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, b->done);
}

/*
 * A drain (here a backend change) does not wait at the throttle's rate:
 * with the clock stopped, everything waiting runs and completes; while the
 * drain runs nothing waits.  Stats count them.
 */
static void pvblk_qos_drain_releases(struct kunit *test)
{
	struct pt_ctx *c = qos_setup(test, "riops=1");
	struct qos_fake *f = c->extra;
	struct pvblk_stats s;
	struct pt_req *r[6];
	unsigned int i;

	f->end_bios = true;
	for (i = 0; i < 6; i++)
		r[i] = qos_rw(c, PVBLK_OP_READ, i * 8, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_EQ(test, qos_waiting(c), 5);
	f->now += 3 * NSEC_PER_MSEC;	/* not enough for one token */
	pt_set_fake(c, 1 << 20, 512, 128, 65536, 256);	/* drains */
	KUNIT_EXPECT_EQ(test, c->nr_bios, 6);
	KUNIT_EXPECT_EQ(test, qos_waiting(c), 0);
	pt_drain(c);
	for (i = 0; i < 6; i++)
		KUNIT_EXPECT_TRUE(test, r[i]->done);
	pvblk_dev_stats(c->dev, &s);
	KUNIT_EXPECT_EQ(test, s.throttled, 5);
	KUNIT_EXPECT_EQ(test, s.throttle_ns, 5 * 3 * NSEC_PER_MSEC);

	/* While a drain runs, nothing waits. */
	pvblk_qos_drain_begin(c->dev);
	qos_rw(c, PVBLK_OP_READ, 100, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 7);
	pvblk_qos_drain_end(c->dev);
	qos_rw(c, PVBLK_OP_READ, 108, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 7);
	KUNIT_EXPECT_EQ(test, qos_waiting(c), 1);
}

/*
 * Limits changed while requests wait: the release is armed at once and
 * judges them by the new limits; removing every limit lets them all go
 * and takes the QoS off the data path again.
 */
static void pvblk_qos_change_while_waiting(struct kunit *test)
{
	struct pt_ctx *c = qos_setup(test, "riops=2");
	struct qos_fake *f = c->extra;
	struct pvblk_qos q;
	unsigned int i;

	for (i = 0; i < 10; i++)
		qos_rw(c, PVBLK_OP_READ, i * 8, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);
	/* A higher limit keeps the empty bucket but refills faster. */
	KUNIT_ASSERT_EQ(test, pvblk_qos_parse("riops=100", &q), 0);
	KUNIT_ASSERT_EQ(test, pvblk_dev_set_qos(c->dev, &q), 0);
	KUNIT_EXPECT_EQ(test, f->delay, 0);
	qos_advance(c, 30 * NSEC_PER_MSEC);		/* 3 tokens */
	KUNIT_EXPECT_EQ(test, c->nr_bios, 5);
	memset(&q, 0, sizeof(q));
	KUNIT_ASSERT_EQ(test, pvblk_dev_set_qos(c->dev, &q), 0);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(c->dev->thr.on));	/* 5 wait */
	qos_advance(c, 0);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 10);
	KUNIT_EXPECT_FALSE(test, READ_ONCE(c->dev->thr.on));
	pvblk_dev_get_qos(c->dev, &q);
	KUNIT_EXPECT_EQ(test, q.iops[0], 0);
	KUNIT_EXPECT_EQ(test, q.burst_ms, 1000);
}

struct qos_parse_case {
	const char *s;
	int ret;
	u64 riops, wiops, rbps, wbps;
	u32 burst;
};

static const struct qos_parse_case qos_parse_cases[] = {
	{ "", 0 },
	{ " , ", 0 },
	{ "riops=500", 0, 500 },
	{ "riops=500,wiops=0,rbps=0,wbps=0,burst=100", 0, 500, 0, 0, 0, 100 },
	{ "wbps=10M rbps=4k", 0, 0, 0, 4096, 10 << 20 },
	{ "wiops=7\n", 0, 0, 7 },
	{ "rbps=128G", 0, 0, 0, 128ULL << 30 },
	{ "rbps=129G", -EINVAL },		/* over PVBLK_QOS_MAX_BPS */
	{ "riops=268435457", -EINVAL },		/* over PVBLK_QOS_MAX_IOPS */
	{ "burst=10001", -EINVAL },
	{ "riops=1,riops=2", -EINVAL },
	{ "riops", -EINVAL },
	{ "riops=", -EINVAL },
	{ "riops=-1", -EINVAL },
	{ "riops=1k", -EINVAL },		/* suffixes on bps only */
	{ "rbps=K", -EINVAL },
	{ "rbps=99999999999999999999", -EINVAL },
	{ "rbps=17179869184T", -EINVAL },	/* shift overflows */
	{ "iops=5", -EINVAL },
	{ "riopsx=5", -EINVAL },
	{ "riops=5;wiops=5", -EINVAL },
};

static void qos_parse_desc(const struct qos_parse_case *t, char *desc)
{
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "\"%s\"", t->s);
	strreplace(desc, '\n', ' ');
}

KUNIT_ARRAY_PARAM(qos_parse, qos_parse_cases, qos_parse_desc);

static void pvblk_qos_parse_strings(struct kunit *test)
{
	const struct qos_parse_case *t = test->param_value;
	struct pvblk_qos q;

	KUNIT_ASSERT_EQ(test, pvblk_qos_parse(t->s, &q), t->ret);
	if (t->ret)
		return;
	KUNIT_EXPECT_EQ(test, q.iops[0], t->riops);
	KUNIT_EXPECT_EQ(test, q.iops[1], t->wiops);
	KUNIT_EXPECT_EQ(test, q.bps[0], t->rbps);
	KUNIT_EXPECT_EQ(test, q.bps[1], t->wbps);
	KUNIT_EXPECT_EQ(test, q.burst_ms, t->burst);
}

/* pvblk_dev_set_qos() refuses values over their maxima. */
static void pvblk_qos_set_limits(struct kunit *test)
{
	struct pt_ctx *c = qos_setup(test, "");
	struct pvblk_qos q = { .iops = { PVBLK_QOS_MAX_IOPS + 1 } };

	KUNIT_EXPECT_EQ(test, pvblk_dev_set_qos(c->dev, &q), -EINVAL);
	q.iops[0] = PVBLK_QOS_MAX_IOPS;
	q.bps[1] = PVBLK_QOS_MAX_BPS;
	q.burst_ms = PVBLK_QOS_MAX_BURST_MS;
	KUNIT_EXPECT_EQ(test, pvblk_dev_set_qos(c->dev, &q), 0);
	/* The largest bucket holds its burst without overflow. */
	KUNIT_EXPECT_GT(test, c->dev->thr.buckets[PVBLK_QOS_WBPS].cap, 0);
	KUNIT_EXPECT_EQ(test, c->dev->thr.buckets[PVBLK_QOS_WBPS].tokens,
			c->dev->thr.buckets[PVBLK_QOS_WBPS].cap);
	q.burst_ms = PVBLK_QOS_MAX_BURST_MS + 1;
	KUNIT_EXPECT_EQ(test, pvblk_dev_set_qos(c->dev, &q), -EINVAL);
	/* An hour idle at the maximum rates: the bucket is full, no more. */
	qos_advance(c, 3600ULL * NSEC_PER_SEC);
	qos_rw(c, PVBLK_OP_READ, 0, 1);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_LE(test, c->dev->thr.buckets[PVBLK_QOS_WBPS].tokens,
			c->dev->thr.buckets[PVBLK_QOS_WBPS].cap);
}

static struct kunit_case pvblk_qos_cases[] = {
	KUNIT_CASE(pvblk_qos_off_costs_nothing),
	KUNIT_CASE(pvblk_qos_iops_bucket),
	KUNIT_CASE(pvblk_qos_burst_caps),
	KUNIT_CASE(pvblk_qos_bps_bucket),
	KUNIT_CASE(pvblk_qos_fifo),
	KUNIT_CASE(pvblk_qos_barrier_waits_throttled),
	KUNIT_CASE(pvblk_qos_drain_releases),
	KUNIT_CASE(pvblk_qos_change_while_waiting),
	KUNIT_CASE_PARAM(pvblk_qos_parse_strings, qos_parse_gen_params),
	KUNIT_CASE(pvblk_qos_set_limits),
	{}
};

static struct kunit_suite pvblk_qos_suite = {
	.name = "pvblk_qos",
	.test_cases = pvblk_qos_cases,
};

kunit_test_suite(pvblk_qos_suite);
