// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite pvblk_epoch: flush epochs of core/epoch.c.  Bios are captured
 * by the submit stub, so each test decides the completion order; a barrier
 * is "running" exactly when its bio has been submitted.  A plain FLUSH is
 * not a barrier: it runs at once (a PREFLUSH bio) whatever is in flight.
 */
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include "core_test.h"

static struct pt_ctx *ep_setup(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 1);

	pt_set_fake(c, 1 << 20, 512, 128, 65536, 256);
	return c;
}

static struct pt_req *ep_write(struct pt_ctx *c, struct page *page,
			       sector_t sector)
{
	struct pt_req *r = pt_new_req(c, PVBLK_OP_WRITE, sector);

	pt_add_pages(c, r, page, 1, 1, PAGE_SIZE);
	pt_submit(c, r);
	return r;
}

/* A flush that is also a barrier (Xen's WRITE_BARRIER without data). */
static struct pt_req *ep_flush(struct pt_ctx *c)
{
	struct pt_req *r = pt_new_req(c, PVBLK_OP_FLUSH, 0);

	r->req.flags = PVBLK_REQ_BARRIER;
	pt_submit(c, r);
	return r;
}

/* A plain FLUSH does not wait for a write still in flight. */
static void pvblk_epoch_flush_no_drain(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pt_req *w, *f;

	w = ep_write(c, pg, 0);
	f = pt_new_req(c, PVBLK_OP_FLUSH, 0);
	pt_submit(c, f);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 2);	/* not parked */
	KUNIT_EXPECT_TRUE(test, pt_has(c->bios[1], REQ_PREFLUSH));
	KUNIT_EXPECT_EQ(test, atomic64_read(&c->dev->parked), 0);
	pt_end_bio(c, 1, BLK_STS_OK);
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, f->done);
	KUNIT_EXPECT_FALSE(test, w->done);	/* completed before the write */
	pt_end_bio(c, 0, BLK_STS_OK);
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, w->done);
	KUNIT_EXPECT_EQ(test, c->order[0], f->id);
	KUNIT_EXPECT_EQ(test, c->order[1], w->id);
}

/* A barrier waits for every older request, in any completion order. */
static void pvblk_epoch_barrier_waits_older(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pt_req *w1, *w2, *f;

	w1 = ep_write(c, pg, 0);
	w2 = ep_write(c, pg, 8);
	f = ep_flush(c);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);	/* flush parked */

	pt_end_bio(c, 1, BLK_STS_OK);		/* w2 first */
	pt_drain(c);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);
	KUNIT_EXPECT_TRUE(test, w2->done);

	pt_end_bio(c, 0, BLK_STS_OK);		/* w1: epoch drained */
	pt_drain(c);				/* submits the flush */
	KUNIT_ASSERT_EQ(test, c->nr_bios, 3);
	KUNIT_EXPECT_TRUE(test, pt_has(c->bios[2], REQ_PREFLUSH));
	KUNIT_EXPECT_FALSE(test, f->done);
	pt_end_bio(c, 2, BLK_STS_OK);
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, f->done);
	KUNIT_EXPECT_EQ(test, pt_sts(f->status), pt_sts(BLK_STS_OK));
	KUNIT_EXPECT_TRUE(test, w1->done);
}

/* Requests after a barrier run at once and do not hold the barrier. */
static void pvblk_epoch_barrier_ignores_newer(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pt_req *w3;

	ep_write(c, pg, 0);
	ep_flush(c);
	w3 = ep_write(c, pg, 16);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 2);	/* w1, w3; flush parked */

	pt_end_bio(c, 1, BLK_STS_OK);		/* w3 done */
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, w3->done);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);

	pt_end_bio(c, 0, BLK_STS_OK);		/* w1 done: flush runs */
	pt_drain(c);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 3);

	/* w4 after the flush started: still not blocked by it. */
	ep_write(c, pg, 24);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 4);
}

/* A barrier with nothing older in flight is not parked. */
static void pvblk_epoch_barrier_idle_runs_now(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct pt_req *f;

	f = ep_flush(c);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&c->dev->parked), 0);
	pt_end_bio(c, 0, BLK_STS_OK);
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, f->done);
	KUNIT_EXPECT_EQ(test, pvblk_epoch_count(c->dev, NULL), 1);
}

/* W1 B1 W2 B2: B1 waits for W1; B2 waits for W1, B1 and W2. */
static void pvblk_epoch_nested_barriers(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pt_req *b1, *b2;
	u64 counted;

	ep_write(c, pg, 0);
	b1 = ep_flush(c);
	ep_write(c, pg, 8);
	b2 = ep_flush(c);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 2);	/* W1, W2 */
	KUNIT_EXPECT_EQ(test, pvblk_epoch_count(c->dev, &counted), 3);
	KUNIT_EXPECT_EQ(test, counted, 4);

	pt_end_bio(c, 1, BLK_STS_OK);		/* W2: nothing released */
	pt_drain(c);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);

	pt_end_bio(c, 0, BLK_STS_OK);		/* W1: B1 released */
	pt_drain(c);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 3);
	KUNIT_EXPECT_FALSE(test, b2->done);

	pt_end_bio(c, 2, BLK_STS_OK);		/* B1 done: B2 released */
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, b1->done);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 4);
	pt_end_bio(c, 3, BLK_STS_OK);
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, b2->done);
	KUNIT_EXPECT_EQ(test, pvblk_epoch_count(c->dev, &counted), 1);
	KUNIT_EXPECT_EQ(test, counted, 0);
}

/* PVBLK_REQ_BARRIER on a write parks the write itself. */
static void pvblk_epoch_barrier_flag_on_write(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pt_req *w;

	ep_write(c, pg, 0);
	w = pt_new_req(c, PVBLK_OP_WRITE, 8);
	w->req.flags = PVBLK_REQ_BARRIER | PVBLK_REQ_FUA;
	pt_add_pages(c, w, pg, 1, 1, PAGE_SIZE);
	pt_submit(c, w);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	pt_end_bio(c, 0, BLK_STS_OK);
	pt_drain(c);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 2);
	KUNIT_EXPECT_TRUE(test, pt_has(c->bios[1], REQ_FUA));
	KUNIT_EXPECT_EQ(test, c->bios[1]->bi_iter.bi_sector, 8);
}

/* A parked barrier refused when released (beyond capacity) completes. */
static void pvblk_epoch_barrier_error_releases(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pt_req *w, *f;

	w = ep_write(c, pg, 0);
	f = pt_new_req(c, PVBLK_OP_WRITE, 1 << 20);	/* beyond capacity */
	f->req.flags = PVBLK_REQ_BARRIER;
	pt_add_pages(c, f, pg, 1, 1, PAGE_SIZE);
	pt_submit(c, f);
	pt_end_bio(c, 0, BLK_STS_IOERR);
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, w->done);
	KUNIT_EXPECT_EQ(test, pt_sts(w->status), pt_sts(BLK_STS_IOERR));
	KUNIT_EXPECT_TRUE(test, f->done);
	KUNIT_EXPECT_EQ(test, pt_sts(f->status), pt_sts(BLK_STS_IOERR));
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	KUNIT_EXPECT_EQ(test, pvblk_epoch_count(c->dev, NULL), 1);
}

/* A barrier waits for every queue: a barrier on queue 1 waits for queue 0. */
static void pvblk_epoch_across_queues(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 2);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pt_req *f;

	pt_set_fake(c, 1 << 20, 512, 128, 65536, 256);
	ep_write(c, pg, 0);			/* queue 0 */
	f = pt_new_req(c, PVBLK_OP_FLUSH, 0);
	f->req.flags = PVBLK_REQ_BARRIER;
	f->req.q = pvblk_dev_queue(c->dev, 1);
	pvblk_batch_start(&c->batch, f->req.q);
	pvblk_batch_add(&c->batch, &f->req);
	pvblk_batch_finish(&c->batch);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
	pt_end_bio(c, 0, BLK_STS_OK);
	/* Queue 1's worker submits the released flush. */
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(pvblk_dev_queue(c->dev, 1), 0),
			0);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 2);
	pt_end_bio(c, 1, BLK_STS_OK);
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(pvblk_dev_queue(c->dev, 1), 0),
			1);
	KUNIT_EXPECT_TRUE(test, f->done);
	KUNIT_EXPECT_EQ(test, pvblk_queue_drain(pvblk_dev_queue(c->dev, 0), 0),
			1);
}

/* Queue 1's write does not wait for queue 0's barrier, nor holds it. */
static void pvblk_epoch_queues_independent(struct kunit *test)
{
	struct pt_ctx *c = pt_setup(test, 2);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pt_req *w;

	pt_set_fake(c, 1 << 20, 512, 128, 65536, 256);
	ep_write(c, pg, 0);			/* queue 0, in flight */
	ep_flush(c);				/* queue 0 barrier: parked */
	w = pt_new_req(c, PVBLK_OP_WRITE, 8);
	w->req.q = pvblk_dev_queue(c->dev, 1);
	pt_add_pages(c, w, pg, 1, 1, PAGE_SIZE);
	pvblk_batch_start(&c->batch, w->req.q);
	pvblk_batch_add(&c->batch, &w->req);
	pvblk_batch_finish(&c->batch);
	KUNIT_ASSERT_EQ(test, c->nr_bios, 2);	/* the write ran */
	pt_end_bio(c, 1, BLK_STS_OK);
	pvblk_queue_drain(pvblk_dev_queue(c->dev, 1), 0);
	KUNIT_EXPECT_TRUE(test, w->done);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);	/* barrier still parked */
	pt_end_bio(c, 0, BLK_STS_OK);
	pt_drain(c);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 3);
}

struct ep_drainer {
	struct pvblk_dev *dev;
	struct completion done;
	bool returned;
};

static int ep_drain_fn(void *data)
{
	struct ep_drainer *d = data;

	pvblk_dev_drain(d->dev);
	WRITE_ONCE(d->returned, true);
	complete(&d->done);
	return 0;
}

/* pvblk_dev_drain() returns only after every older request completed. */
static void pvblk_epoch_drain_waits(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct page *pg = pt_alloc_pages(test, 0);
	struct ep_drainer *d = kunit_kzalloc(test, sizeof(*d), GFP_KERNEL);
	struct task_struct *t;

	KUNIT_ASSERT_NOT_NULL(test, d);
	d->dev = c->dev;
	init_completion(&d->done);
	ep_write(c, pg, 0);
	t = kthread_run(ep_drain_fn, d, "pvblk-drain-test");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	/* The write has not completed, so the drain cannot have returned. */
	KUNIT_EXPECT_FALSE(test, READ_ONCE(d->returned));
	pt_end_bio(c, 0, BLK_STS_OK);
	wait_for_completion(&d->done);
	KUNIT_EXPECT_TRUE(test, READ_ONCE(d->returned));
	KUNIT_EXPECT_EQ(test, pt_drain(c), 1);
}

/* Drain of an idle device returns at once and leaves one epoch. */
static void pvblk_epoch_drain_idle(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);

	pvblk_dev_drain(c->dev);
	pvblk_dev_drain(c->dev);
	KUNIT_EXPECT_EQ(test, pvblk_epoch_count(c->dev, NULL), 1);
}

/* A backend change drains, then requests see the new backend. */
static void pvblk_epoch_backend_change(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pvblk_backend_info info;
	struct pt_req *w;

	pvblk_dev_set_backend(c->dev, NULL);
	KUNIT_EXPECT_EQ(test, pvblk_dev_info(c->dev, &info), -ENODEV);
	w = ep_write(c, pg, 0);
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, w->done);
	KUNIT_EXPECT_EQ(test, pt_sts(w->status), pt_sts(BLK_STS_IOERR));
	KUNIT_EXPECT_EQ(test, c->nr_bios, 0);

	pt_set_fake(c, 2048, 512, 128, 65536, 256);
	KUNIT_ASSERT_EQ(test, pvblk_dev_info(c->dev, &info), 0);
	KUNIT_EXPECT_EQ(test, info.capacity, 2048);
	w = ep_write(c, pg, 0);
	KUNIT_EXPECT_EQ(test, c->nr_bios, 1);
}

/* Ends bios 0 and 1 of @c from another thread, in submission order. */
static int ep_ender_fn(void *data)
{
	struct pt_ctx *c = data;
	struct bio *bio;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		while (READ_ONCE(c->nr_bios) <= i)
			usleep_range(5000, 10000);
		msleep(20);
		bio = c->bios[i];
		c->bios[i] = NULL;
		bio->bi_status = BLK_STS_OK;
		bio->bi_end_io(bio);
	}
	return 0;
}

/* Which backend pvblk_backend_flush() saw, and what was installed then. */
static int ep_flush_stub(struct pvblk_backend *be)
{
	struct pt_ctx *c = kunit_get_current_test()->priv;

	/* Still the device's backend while it is flushed. */
	KUNIT_EXPECT_PTR_EQ(c->test, c->dev->be, be);
	c->extra = be;
	return 0;
}

/*
 * Backend change: a barrier parked behind a write on the old backend runs
 * on the old backend (the change's drain submits it), the old one is
 * flushed before the new one is installed, and requests after the change
 * run on the new one.
 */
static void pvblk_epoch_backend_change_order(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct page *pg = pt_alloc_pages(test, 0);
	struct pvblk_backend *old = c->dev->be, *be;
	struct task_struct *t;
	struct pt_req *w, *b;

	kunit_activate_static_stub(test, pvblk_backend_flush, ep_flush_stub);
	w = ep_write(c, pg, 0);
	b = ep_flush(c);			/* parked behind w */
	KUNIT_ASSERT_EQ(test, c->nr_bios, 1);
	be = pt_fake_backend(test, 4096, 512, 128, 65536, 256);
	t = kthread_run(ep_ender_fn, c, "pvblk-end-test");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	pvblk_dev_set_backend(c->dev, be);	/* waits for w, then b */
	KUNIT_EXPECT_EQ(test, c->nr_bios, 2);
	KUNIT_EXPECT_PTR_EQ(test, b->req.be, old);
	KUNIT_EXPECT_PTR_EQ(test, c->extra, (void *)old);
	pt_drain(c);
	KUNIT_EXPECT_TRUE(test, w->done);
	KUNIT_EXPECT_TRUE(test, b->done);
	w = ep_write(c, pg, 8);
	KUNIT_EXPECT_PTR_EQ(test, w->req.be, be);
}

/*
 * Completion racing teardown.  Two threads stand for the drainer of a
 * transport going away: the first drains, waits for the second drain and
 * destroys the device; the test thread completes the requests and stalls
 * (the pvblk_stall() stub) at one point of the completion path.
 */
struct ep_race {
	struct pvblk_dev *dev;
	enum pvblk_stall where;
	struct completion drained;	/* the first drain returned */
	struct completion drained2;	/* the second drain returned */
	struct completion destroyed;
	bool two_drains;
	int stage;			/* of the destroying thread */
	bool stalled;
	bool drained_while_stalled;
	bool destroyed_while_stalled;
};

static int ep_race_destroy_fn(void *data)
{
	struct ep_race *r = data;

	pvblk_dev_drain(r->dev);
	WRITE_ONCE(r->stage, 1);
	complete_all(&r->drained);	/* the stall and the end both wait */
	if (r->two_drains)
		wait_for_completion(&r->drained2);
	WRITE_ONCE(r->stage, 2);
	pvblk_dev_destroy(r->dev);
	WRITE_ONCE(r->stage, 3);
	complete_all(&r->destroyed);
	return 0;
}

static int ep_race_drain_fn(void *data)
{
	struct ep_race *r = data;

	pvblk_dev_drain(r->dev);
	complete(&r->drained2);
	return 0;
}

/* Wait until the device has @n live epochs (a drain closed one). */
static bool ep_wait_epochs(struct pvblk_dev *dev, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < 5000; i++) {
		if (pvblk_epoch_count(dev, NULL) == n)
			return true;
		usleep_range(1000, 2000);
	}
	return false;
}

static void ep_race_stall(struct pvblk_queue *q, enum pvblk_stall where)
{
	struct pt_ctx *c = kunit_get_current_test()->priv;
	struct ep_race *r = c->extra;

	if (where != r->where || r->stalled)
		return;
	r->stalled = true;
	if (r->two_drains) {
		/* A newer epoch retires: the retirer also frees ours. */
		pt_end_bio(c, 1, BLK_STS_OK);
	}
	r->drained_while_stalled =
		wait_for_completion_timeout(&r->drained, HZ / 2) != 0;
	if (r->drained_while_stalled)
		r->destroyed_while_stalled =
			wait_for_completion_timeout(&r->destroyed, 2 * HZ) != 0;
}

static struct ep_race *ep_race_start(struct pt_ctx *c, enum pvblk_stall where,
				     bool two_drains)
{
	struct kunit *test = c->test;
	struct page *pg = pt_alloc_pages(test, 0);
	/* Not kunit_kzalloc: a thread that hangs keeps using it. */
	struct ep_race *r = kzalloc(sizeof(*r), GFP_KERNEL);
	struct task_struct *t;
	bool ok;

	KUNIT_ASSERT_NOT_NULL(test, r);
	r->dev = c->dev;
	r->where = where;
	r->two_drains = two_drains;
	init_completion(&r->drained);
	init_completion(&r->drained2);
	init_completion(&r->destroyed);
	c->extra = r;

	ep_write(c, pg, 0);			/* epoch 0 */
	t = kthread_run(ep_race_destroy_fn, r, "pvblk-race-destroy");
	KUNIT_ASSERT_FALSE(test, IS_ERR(t));
	/* From here on a failure leaves the device to the thread. */
	ok = ep_wait_epochs(c->dev, 2);
	if (ok && two_drains) {
		ep_write(c, pg, 8);		/* epoch 1 */
		t = kthread_run(ep_race_drain_fn, r, "pvblk-race-drain");
		ok = !IS_ERR(t) && ep_wait_epochs(c->dev, 3);
	}
	if (!ok)
		c->dev = NULL;
	KUNIT_ASSERT_TRUE(test, ok);
	kunit_activate_static_stub(test, pvblk_stall, ep_race_stall);
	return r;
}

/*
 * The device is gone: the test thread must not have touched it since.  A
 * destroying thread that never finishes fails the test (its device and
 * @r are left to it) instead of hanging the suite.
 */
static void ep_race_end(struct pt_ctx *c, struct ep_race *r)
{
	if (!wait_for_completion_timeout(&r->destroyed, 20 * HZ)) {
		c->dev = NULL;
		KUNIT_FAIL(c->test,
			   "not destroyed: stage %d, stalled %d, drained %d",
			   READ_ONCE(r->stage), r->stalled,
			   r->drained_while_stalled);
		return;
	}
	c->dev = NULL;
	KUNIT_EXPECT_TRUE(c->test, r->stalled);
	KUNIT_EXPECT_EQ(c->test, c->completed, r->two_drains ? 2 : 1);
	kfree(r);
}

/*
 * The last epoch reference dropped, then a stall: another completion
 * retires the epoch meanwhile and the drains return, the device is
 * destroyed.  The stalled completion must not touch the queue again
 * (KASAN reports the use after free: the test fails).
 */
static void pvblk_epoch_put_races_destroy(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct ep_race *r = ep_race_start(c, PVBLK_STALL_EPOCH_PUT, true);

	pt_end_bio(c, 0, BLK_STS_OK);
	ep_race_end(c, r);
}

/*
 * A completed request is on the completion list, ops->queue_work() not
 * called yet: no drain may return before that call did (the transport
 * cancels its work and frees its rings after the drain).
 */
static void pvblk_epoch_queue_work_before_drain(struct kunit *test)
{
	struct pt_ctx *c = ep_setup(test);
	struct ep_race *r = ep_race_start(c, PVBLK_STALL_QUEUE_WORK, false);

	pt_end_bio(c, 0, BLK_STS_OK);
	KUNIT_EXPECT_FALSE(test, r->drained_while_stalled);
	KUNIT_EXPECT_FALSE(test, r->destroyed_while_stalled);
	ep_race_end(c, r);
}

static struct kunit_case pvblk_epoch_cases[] = {
	KUNIT_CASE(pvblk_epoch_flush_no_drain),
	KUNIT_CASE(pvblk_epoch_barrier_waits_older),
	KUNIT_CASE(pvblk_epoch_barrier_ignores_newer),
	KUNIT_CASE(pvblk_epoch_barrier_idle_runs_now),
	KUNIT_CASE(pvblk_epoch_nested_barriers),
	KUNIT_CASE(pvblk_epoch_barrier_flag_on_write),
	KUNIT_CASE(pvblk_epoch_barrier_error_releases),
	KUNIT_CASE(pvblk_epoch_across_queues),
	KUNIT_CASE(pvblk_epoch_queues_independent),
	KUNIT_CASE(pvblk_epoch_drain_waits),
	KUNIT_CASE(pvblk_epoch_drain_idle),
	KUNIT_CASE(pvblk_epoch_backend_change),
	KUNIT_CASE(pvblk_epoch_backend_change_order),
	KUNIT_CASE(pvblk_epoch_put_races_destroy),
	KUNIT_CASE(pvblk_epoch_queue_work_before_drain),
	{}
};

static struct kunit_suite pvblk_epoch_suite = {
	.name = "pvblk_epoch",
	.test_cases = pvblk_epoch_cases,
};

kunit_test_suite(pvblk_epoch_suite);
