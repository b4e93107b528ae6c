// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite pvblk_mcache: the mapping cache of the Xen frontend
 * (frontends/xen/mcache.c, persistent grants) driven by fake map/unmap
 * callbacks that allocate one page per mapping and free it on unmap,
 * counting the mappings alive, the calls and their batch sizes.
 */
#include <kunit/resource.h>
#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "../../frontends/xen/mcache.h"

#define MC_HANDLE_MAGIC		0x9e3779b97f4a7c15ULL
#define MC_MAX_LOG		128
#define MC_NO_KEY		U64_MAX

/* The fake transport: one per test case, in test->priv. */
struct mc_fake {
	struct kunit *test;
	unsigned int live;		/* pages mapped and not unmapped */
	unsigned int map_calls;
	unsigned int unmap_calls;
	unsigned int last_map_n;
	unsigned int last_unmap_n;
	u64 fail_key;			/* ops->map sets ->err for this key */
	int global_err;			/* ops->map maps half, returns this */
	u64 unmapped[MC_MAX_LOG];	/* keys in unmap order */
	unsigned int nr_unmapped;
	u64 fail_alloc_key;		/* stubbed entry allocation fails */
};

static int mc_fake_map(void *priv, struct pvblk_mentry **ents, unsigned int n)
{
	struct mc_fake *f = priv;
	unsigned int i, todo = n;

	f->map_calls++;
	f->last_map_n = n;
	if (f->global_err)
		todo = n / 2;
	for (i = 0; i < todo; i++) {
		struct pvblk_mentry *e = ents[i];

		KUNIT_EXPECT_NULL(f->test, e->page);
		if (e->key == f->fail_key) {
			e->err = -EFAULT;
			continue;
		}
		e->page = alloc_page(GFP_KERNEL);
		if (!e->page) {
			e->err = -ENOMEM;
			continue;
		}
		e->handle = e->key ^ MC_HANDLE_MAGIC;
		f->live++;
	}
	return f->global_err;
}

static void mc_fake_unmap(void *priv, struct pvblk_mentry **ents,
			  unsigned int n)
{
	struct mc_fake *f = priv;
	unsigned int i;

	f->unmap_calls++;
	f->last_unmap_n = n;
	for (i = 0; i < n; i++) {
		struct pvblk_mentry *e = ents[i];

		KUNIT_EXPECT_EQ(f->test, e->err, 0);
		KUNIT_EXPECT_EQ(f->test, e->handle, e->key ^ MC_HANDLE_MAGIC);
		if (!e->page) {
			KUNIT_FAIL(f->test, "unmap of unmapped key %llu", e->key);
			continue;
		}
		__free_page(e->page);
		e->page = NULL;
		f->live--;
		if (f->nr_unmapped < MC_MAX_LOG)
			f->unmapped[f->nr_unmapped++] = e->key;
	}
}

static const struct pvblk_mcache_ops mc_fake_ops = {
	.map = mc_fake_map,
	.unmap = mc_fake_unmap,
};

static int mc_test_init(struct kunit *test)
{
	struct mc_fake *f = kunit_kzalloc(test, sizeof(*f), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, f);
	f->test = test;
	f->fail_key = MC_NO_KEY;
	f->fail_alloc_key = MC_NO_KEY;
	test->priv = f;
	return 0;
}

KUNIT_DEFINE_ACTION_WRAPPER(mc_destroy_action, pvblk_mcache_destroy,
			    struct pvblk_mcache *);

/* A cache that is destroyed when the test ends, unless mc_destroy() ran. */
static struct pvblk_mcache *mc_create(struct kunit *test, unsigned int max)
{
	struct pvblk_mcache *c;

	c = pvblk_mcache_create("kunit", &mc_fake_ops, test->priv, max);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, c);
	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, mc_destroy_action, c));
	return c;
}

static void mc_destroy(struct kunit *test, struct pvblk_mcache *c)
{
	kunit_release_action(test, mc_destroy_action, c);
}

static struct pvblk_mcache_stats mc_stats(struct pvblk_mcache *c)
{
	struct pvblk_mcache_stats s;

	pvblk_mcache_get_stats(c, &s);
	return s;
}

/* get() then put() each key on its own: they become idle in this order. */
static void mc_touch(struct kunit *test, struct pvblk_mcache *c,
		     const u64 *keys, unsigned int n)
{
	struct pvblk_mentry *e;
	unsigned int i;

	for (i = 0; i < n; i++) {
		KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, &keys[i], 1, &e));
		pvblk_mcache_put(c, &e, 1);
	}
}

static bool mc_was_unmapped(struct mc_fake *f, u64 key)
{
	unsigned int i;

	for (i = 0; i < f->nr_unmapped; i++)
		if (f->unmapped[i] == key)
			return true;
	return false;
}

static void mcache_hit_miss(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 16);
	struct mc_fake *f = test->priv;
	const u64 k1[] = { 1, 2, 3 }, k2[] = { 1, 2, 4 };
	struct pvblk_mentry *e1[3], *e2[3];
	struct pvblk_mcache_stats s;

	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, k1, 3, e1));
	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.hits, 0);
	KUNIT_EXPECT_EQ(test, s.misses, 3);
	KUNIT_EXPECT_EQ(test, e1[0]->key, 1);
	KUNIT_EXPECT_NOT_NULL(test, e1[2]->page);
	pvblk_mcache_put(c, e1, 3);

	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, k2, 3, e2));
	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.hits, 2);
	KUNIT_EXPECT_EQ(test, s.misses, 4);
	KUNIT_EXPECT_PTR_EQ(test, e2[0], e1[0]);
	KUNIT_EXPECT_PTR_EQ(test, e2[1], e1[1]);
	KUNIT_EXPECT_EQ(test, e2[2]->key, 4);
	KUNIT_EXPECT_EQ(test, f->live, 4);
	pvblk_mcache_put(c, e2, 3);
	KUNIT_EXPECT_EQ(test, f->unmap_calls, 0);
}

static void mcache_one_map_call_per_get(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 64);
	struct mc_fake *f = test->priv;
	const u64 k1[] = { 1, 2, 3, 4, 5 }, k2[] = { 1, 6, 2, 7, 8 };
	struct pvblk_mentry *e[40];
	u64 big[40];
	unsigned int i;

	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, k1, 5, e));
	KUNIT_EXPECT_EQ(test, f->map_calls, 1);
	KUNIT_EXPECT_EQ(test, f->last_map_n, 5);
	pvblk_mcache_put(c, e, 5);

	/* all hits: no map call */
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, k1, 5, e));
	KUNIT_EXPECT_EQ(test, f->map_calls, 1);
	pvblk_mcache_put(c, e, 5);

	/* two hits, three misses: one call for the three */
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, k2, 5, e));
	KUNIT_EXPECT_EQ(test, f->map_calls, 2);
	KUNIT_EXPECT_EQ(test, f->last_map_n, 3);
	pvblk_mcache_put(c, e, 5);

	/* more misses than the on-stack batch still go in one call */
	for (i = 0; i < ARRAY_SIZE(big); i++)
		big[i] = 100 + i;
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, big, 40, e));
	KUNIT_EXPECT_EQ(test, f->map_calls, 3);
	KUNIT_EXPECT_EQ(test, f->last_map_n, 40);
	pvblk_mcache_put(c, e, 40);
	KUNIT_EXPECT_EQ(test, f->live, 48);
}

static void mcache_lru_eviction_order(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 3);
	struct mc_fake *f = test->priv;
	const u64 first[] = { 1, 2, 3 }, again = 1, k4 = 4, k5 = 5;
	const u64 two[] = { 6, 7 };
	struct pvblk_mentry *e[2];

	mc_touch(test, c, first, 3);
	mc_touch(test, c, &again, 1);		/* LRU order now 2, 3, 1 */
	mc_touch(test, c, &k4, 1);
	KUNIT_ASSERT_EQ(test, f->nr_unmapped, 1);
	KUNIT_EXPECT_EQ(test, f->unmapped[0], 2);
	mc_touch(test, c, &k5, 1);
	KUNIT_ASSERT_EQ(test, f->nr_unmapped, 2);
	KUNIT_EXPECT_EQ(test, f->unmapped[1], 3);	/* order: 1, 4, 5 */

	/* two evictions needed by one get(): one unmap batch of two */
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, two, 2, e));
	KUNIT_EXPECT_EQ(test, f->unmap_calls, 3);
	KUNIT_EXPECT_EQ(test, f->last_unmap_n, 2);
	KUNIT_ASSERT_EQ(test, f->nr_unmapped, 4);
	KUNIT_EXPECT_EQ(test, f->unmapped[2], 1);
	KUNIT_EXPECT_EQ(test, f->unmapped[3], 4);
	pvblk_mcache_put(c, e, 2);

	KUNIT_EXPECT_EQ(test, mc_stats(c).evictions, 4);
	KUNIT_EXPECT_EQ(test, mc_stats(c).entries, 3);
	KUNIT_EXPECT_EQ(test, f->live, 3);
}

static void mcache_in_use_never_evicted(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 2);
	struct mc_fake *f = test->priv;
	const u64 held[] = { 1, 2 }, k3 = 3;
	struct pvblk_mentry *e[2], *t;
	struct pvblk_mcache_stats s;

	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, held, 2, e));
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, &k3, 1, &t));
	KUNIT_EXPECT_TRUE(test, t->transient);
	KUNIT_EXPECT_FALSE(test, e[0]->transient);
	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.evictions, 0);
	KUNIT_EXPECT_EQ(test, s.transient, 1);
	KUNIT_EXPECT_EQ(test, s.entries, 2);
	KUNIT_EXPECT_EQ(test, s.in_use, 3);
	KUNIT_EXPECT_EQ(test, f->live, 3);
	KUNIT_EXPECT_EQ(test, f->unmap_calls, 0);

	pvblk_mcache_put(c, &t, 1);
	pvblk_mcache_put(c, e, 2);
	KUNIT_EXPECT_EQ(test, f->live, 2);
	KUNIT_EXPECT_EQ(test, mc_stats(c).entries, 2);
	KUNIT_EXPECT_EQ(test, mc_stats(c).in_use, 0);
}

static void mcache_transient_unmapped_on_put(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 1);
	struct mc_fake *f = test->priv;
	const u64 k1 = 1, tk[] = { 2, 3 }, k2 = 2;
	struct pvblk_mentry *h, *t[2], *again;

	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, &k1, 1, &h));
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, tk, 2, t));
	KUNIT_EXPECT_TRUE(test, t[0]->transient);
	KUNIT_EXPECT_TRUE(test, t[1]->transient);

	/* a transient entry in use is shared, not mapped twice */
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, &k2, 1, &again));
	KUNIT_EXPECT_PTR_EQ(test, again, t[0]);
	KUNIT_EXPECT_EQ(test, f->map_calls, 2);
	pvblk_mcache_put(c, &again, 1);
	KUNIT_EXPECT_EQ(test, f->unmap_calls, 0);

	pvblk_mcache_put(c, t, 2);
	KUNIT_EXPECT_EQ(test, f->unmap_calls, 1);
	KUNIT_EXPECT_EQ(test, f->last_unmap_n, 2);
	KUNIT_EXPECT_EQ(test, f->live, 1);
	KUNIT_EXPECT_EQ(test, mc_stats(c).transient, 2);

	/* gone: the next get() maps it again */
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, &k2, 1, &again));
	KUNIT_EXPECT_EQ(test, f->map_calls, 3);
	pvblk_mcache_put(c, &again, 1);
	pvblk_mcache_put(c, &h, 1);
	KUNIT_EXPECT_EQ(test, f->live, 1);
}

static void mcache_map_error_releases_all(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 8);
	struct mc_fake *f = test->priv;
	const u64 idle[] = { 1, 2 }, k3 = 3;
	const u64 keys[] = { 1, 4, 5, 3, 6, 4 };
	struct pvblk_mentry *h, *e[6];
	struct pvblk_mcache_stats s;
	unsigned int i;

	mc_touch(test, c, idle, 2);
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, &k3, 1, &h));
	f->fail_key = 5;

	KUNIT_EXPECT_EQ(test, -EFAULT, pvblk_mcache_get(c, keys, 6, e));
	for (i = 0; i < ARRAY_SIZE(e); i++)
		KUNIT_EXPECT_NULL(test, e[i]);
	KUNIT_EXPECT_EQ(test, f->last_map_n, 3);	/* 4, 5, 6 */
	KUNIT_EXPECT_EQ(test, f->unmap_calls, 1);
	KUNIT_EXPECT_EQ(test, f->last_unmap_n, 2);	/* 4 and 6 */
	KUNIT_EXPECT_TRUE(test, mc_was_unmapped(f, 4));
	KUNIT_EXPECT_TRUE(test, mc_was_unmapped(f, 6));
	KUNIT_EXPECT_EQ(test, f->live, 3);		/* 1, 2 idle; 3 held */
	KUNIT_EXPECT_EQ(test, h->users, 1);
	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.map_errors, 1);
	KUNIT_EXPECT_EQ(test, s.in_use, 1);
	KUNIT_EXPECT_EQ(test, s.entries, 3);

	/* the cache still works, and the failed key maps once fixed */
	f->fail_key = MC_NO_KEY;
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, keys, 6, e));
	KUNIT_EXPECT_PTR_EQ(test, e[3], h);
	KUNIT_EXPECT_EQ(test, h->users, 2);
	pvblk_mcache_put(c, e, 6);
	pvblk_mcache_put(c, &h, 1);
	KUNIT_EXPECT_EQ(test, mc_stats(c).in_use, 0);

	mc_destroy(test, c);
	KUNIT_EXPECT_EQ(test, f->live, 0);
}

static void mcache_global_map_error(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 8);
	struct mc_fake *f = test->priv;
	const u64 keys[] = { 1, 2, 3, 4 };
	struct pvblk_mentry *e[4];

	f->global_err = -EIO;	/* maps 1 and 2, then fails the call */
	KUNIT_EXPECT_EQ(test, -EIO, pvblk_mcache_get(c, keys, 4, e));
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, f->last_unmap_n, 2);
	KUNIT_EXPECT_EQ(test, mc_stats(c).map_errors, 2);
	KUNIT_EXPECT_EQ(test, mc_stats(c).entries, 0);
	KUNIT_EXPECT_EQ(test, mc_stats(c).in_use, 0);
}

static void mcache_duplicate_keys(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 8);
	struct mc_fake *f = test->priv;
	const u64 keys[] = { 7, 7, 8, 7 };
	struct pvblk_mentry *e[4];
	struct pvblk_mcache_stats s;

	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, keys, 4, e));
	KUNIT_EXPECT_PTR_EQ(test, e[0], e[1]);
	KUNIT_EXPECT_PTR_EQ(test, e[0], e[3]);
	KUNIT_EXPECT_PTR_NE(test, e[0], e[2]);
	KUNIT_EXPECT_EQ(test, e[0]->users, 3);
	KUNIT_EXPECT_EQ(test, f->last_map_n, 2);
	KUNIT_EXPECT_EQ(test, f->live, 2);
	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.misses, 2);
	KUNIT_EXPECT_EQ(test, s.hits, 2);
	KUNIT_EXPECT_EQ(test, s.in_use, 2);

	/* an idle entry requested twice */
	pvblk_mcache_put(c, e, 4);
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, keys, 2, e));
	KUNIT_EXPECT_PTR_EQ(test, e[0], e[1]);
	KUNIT_EXPECT_EQ(test, e[0]->users, 2);
	KUNIT_EXPECT_EQ(test, mc_stats(c).in_use, 1);
	pvblk_mcache_put(c, e, 2);
	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.in_use, 0);
	KUNIT_EXPECT_EQ(test, s.entries, 2);
	KUNIT_EXPECT_EQ(test, f->map_calls, 1);

	/* a failure unwinds duplicates of fresh and old entries alike */
	f->fail_key = 9;
	{
		const u64 bad[] = { 7, 10, 7, 10, 9 };
		struct pvblk_mentry *b[5];

		KUNIT_EXPECT_EQ(test, -EFAULT, pvblk_mcache_get(c, bad, 5, b));
	}
	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.in_use, 0);
	KUNIT_EXPECT_EQ(test, s.entries, 2);
	KUNIT_EXPECT_EQ(test, f->live, 2);
	KUNIT_EXPECT_EQ(test, e[0]->users, 0);
}

static void mcache_purge_idle(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 8);
	struct mc_fake *f = test->priv;
	const u64 keys[] = { 1, 2, 3 }, k4 = 4;
	unsigned long long_ago = jiffies - msecs_to_jiffies(2 * 3600 * 1000);
	struct pvblk_mentry *e[3], *h;

	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, keys, 3, e));
	pvblk_mcache_put(c, e, 3);
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, &k4, 1, &h));
	h->last_used = long_ago;	/* in use: age must not matter */
	e[0]->last_used = long_ago;
	e[2]->last_used = long_ago;

	/* idle for an hour: 1 and 3 only */
	KUNIT_EXPECT_EQ(test, 2, pvblk_mcache_purge(c, 3600 * 1000));
	KUNIT_EXPECT_EQ(test, f->unmap_calls, 1);
	KUNIT_EXPECT_TRUE(test, mc_was_unmapped(f, 1));
	KUNIT_EXPECT_TRUE(test, mc_was_unmapped(f, 3));
	KUNIT_EXPECT_EQ(test, f->live, 2);
	KUNIT_EXPECT_EQ(test, mc_stats(c).entries, 2);

	/* 0: every idle entry, never one in use */
	KUNIT_EXPECT_EQ(test, 1, pvblk_mcache_purge(c, 0));
	KUNIT_EXPECT_TRUE(test, mc_was_unmapped(f, 2));
	KUNIT_EXPECT_EQ(test, f->live, 1);
	KUNIT_EXPECT_EQ(test, 0, pvblk_mcache_purge(c, 0));
	pvblk_mcache_put(c, &h, 1);
	KUNIT_EXPECT_EQ(test, 1, pvblk_mcache_purge(c, 0));
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, mc_stats(c).entries, 0);
	KUNIT_EXPECT_EQ(test, mc_stats(c).evictions, 0);
}

static void mcache_destroy_unmaps_all(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 64);
	struct mc_fake *f = test->priv;
	struct pvblk_mentry *e[20];
	u64 keys[20];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(keys); i++)
		keys[i] = 1000 - i;
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, keys, 20, e));
	pvblk_mcache_put(c, e, 20);
	KUNIT_EXPECT_EQ(test, f->live, 20);
	mc_destroy(test, c);
	KUNIT_EXPECT_EQ(test, f->live, 0);
	KUNIT_EXPECT_EQ(test, f->unmap_calls, 1);
	KUNIT_EXPECT_EQ(test, f->last_unmap_n, 20);
}

static void mcache_stats(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 2);
	struct mc_fake *f = test->priv;
	const u64 a[] = { 1, 2 }, b[] = { 1, 3 }, d[] = { 4, 5 }, k6 = 6;
	struct pvblk_mentry *e[2], *g[2];
	struct pvblk_mcache_stats s;

	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.hits + s.misses + s.evictions, 0);
	KUNIT_EXPECT_EQ(test, s.transient + s.map_errors, 0);
	KUNIT_EXPECT_EQ(test, s.entries + s.in_use, 0);

	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, a, 2, e));
	pvblk_mcache_put(c, e, 2);
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, b, 2, e));	/* evicts 2 */
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, d, 2, g));	/* transient */
	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.hits, 1);
	KUNIT_EXPECT_EQ(test, s.misses, 5);
	KUNIT_EXPECT_EQ(test, s.evictions, 1);
	KUNIT_EXPECT_EQ(test, s.transient, 2);
	KUNIT_EXPECT_EQ(test, s.entries, 2);
	KUNIT_EXPECT_EQ(test, s.in_use, 4);
	pvblk_mcache_put(c, g, 2);
	pvblk_mcache_put(c, e, 2);

	/* a failed get(): only map_errors moves (and the eviction it made) */
	f->fail_key = 6;
	KUNIT_EXPECT_EQ(test, -EFAULT, pvblk_mcache_get(c, &k6, 1, g));
	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.map_errors, 1);
	KUNIT_EXPECT_EQ(test, s.hits, 1);
	KUNIT_EXPECT_EQ(test, s.misses, 5);
	KUNIT_EXPECT_EQ(test, s.evictions, 2);
	KUNIT_EXPECT_EQ(test, s.entries, 1);
	KUNIT_EXPECT_EQ(test, s.in_use, 0);
	KUNIT_EXPECT_EQ(test, f->live, 1);
}

#if IS_ENABLED(CONFIG_KUNIT)
/*
 * The rest needs the cache's internals and static stubs, which exist only
 * in a kernel with KUnit (the stock-headers compile check has neither).
 */
static void mc_restore_max_global(void *old)
{
	pvblk_mcache_set_max_global((unsigned long)old);
}

static void mcache_global_cap(struct kunit *test)
{
	struct pvblk_mcache *a = mc_create(test, 100);
	struct pvblk_mcache *b = mc_create(test, 100);
	struct mc_fake *f = test->priv;
	unsigned int base = pvblk_mcache_global_entries();
	unsigned int old = pvblk_mcache_set_max_global(base + 3);
	const u64 ka[] = { 1, 2, 3 }, k4 = 4, kb = 10;
	void *ctx = (void *)(unsigned long)old;
	struct pvblk_mentry *e;

	KUNIT_ASSERT_EQ(test, 0,
			kunit_add_action_or_reset(test, mc_restore_max_global,
						  ctx));
	mc_touch(test, a, ka, 3);
	KUNIT_EXPECT_EQ(test, pvblk_mcache_global_entries(), base + 3);

	/* b has nothing idle to give back: transient, a keeps its entries */
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(b, &kb, 1, &e));
	KUNIT_EXPECT_TRUE(test, e->transient);
	pvblk_mcache_put(b, &e, 1);
	KUNIT_EXPECT_EQ(test, mc_stats(b).transient, 1);
	KUNIT_EXPECT_EQ(test, mc_stats(b).entries, 0);
	KUNIT_EXPECT_EQ(test, mc_stats(a).entries, 3);

	/* a over the global cap evicts its own least recently used */
	mc_touch(test, a, &k4, 1);
	KUNIT_EXPECT_EQ(test, mc_stats(a).evictions, 1);
	KUNIT_EXPECT_EQ(test, mc_stats(a).entries, 3);
	KUNIT_EXPECT_TRUE(test, mc_was_unmapped(f, 1));

	/* room again once a gives entries back */
	KUNIT_EXPECT_EQ(test, 3, pvblk_mcache_purge(a, 0));
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(b, &kb, 1, &e));
	KUNIT_EXPECT_FALSE(test, e->transient);
	pvblk_mcache_put(b, &e, 1);
	KUNIT_EXPECT_EQ(test, pvblk_mcache_global_entries(), base + 1);

	kunit_release_action(test, mc_restore_max_global, ctx);
	mc_destroy(test, b);
	mc_destroy(test, a);
	KUNIT_EXPECT_EQ(test, pvblk_mcache_global_entries(), base);
	KUNIT_EXPECT_EQ(test, f->live, 0);
}

static struct pvblk_mentry *mc_alloc_stub(struct pvblk_mcache *c, u64 key)
{
	struct kunit *test = kunit_get_current_test();
	struct mc_fake *f = test->priv;

	if (key == f->fail_alloc_key)
		return NULL;
	return kzalloc(sizeof(struct pvblk_mentry), GFP_KERNEL);
}

static void mcache_alloc_failure(struct kunit *test)
{
	struct pvblk_mcache *c = mc_create(test, 8);
	struct mc_fake *f = test->priv;
	const u64 k1 = 1, keys[] = { 1, 2, 3, 2, 4 };
	unsigned int base = pvblk_mcache_global_entries();
	struct pvblk_mentry *e[5];
	struct pvblk_mcache_stats s;

	mc_touch(test, c, &k1, 1);
	kunit_activate_static_stub(test, pvblk_mcache_alloc_entry,
				   mc_alloc_stub);
	f->fail_alloc_key = 3;

	KUNIT_EXPECT_EQ(test, -ENOMEM, pvblk_mcache_get(c, keys, 5, e));
	KUNIT_EXPECT_NULL(test, e[0]);
	KUNIT_EXPECT_EQ(test, f->map_calls, 1);		/* only mc_touch's */
	KUNIT_EXPECT_EQ(test, f->live, 1);
	s = mc_stats(c);
	KUNIT_EXPECT_EQ(test, s.in_use, 0);
	KUNIT_EXPECT_EQ(test, s.entries, 1);
	KUNIT_EXPECT_EQ(test, pvblk_mcache_global_entries(), base + 1);

	/* the failed key is not cached half-way: it works once memory does */
	f->fail_alloc_key = MC_NO_KEY;
	KUNIT_ASSERT_EQ(test, 0, pvblk_mcache_get(c, keys, 5, e));
	KUNIT_EXPECT_EQ(test, f->last_map_n, 3);
	pvblk_mcache_put(c, e, 5);
	kunit_deactivate_static_stub(test, pvblk_mcache_alloc_entry);
	mc_destroy(test, c);
	KUNIT_EXPECT_EQ(test, f->live, 0);
}
#endif

static struct kunit_case mcache_cases[] = {
	KUNIT_CASE(mcache_hit_miss),
	KUNIT_CASE(mcache_one_map_call_per_get),
	KUNIT_CASE(mcache_lru_eviction_order),
	KUNIT_CASE(mcache_in_use_never_evicted),
	KUNIT_CASE(mcache_transient_unmapped_on_put),
	KUNIT_CASE(mcache_map_error_releases_all),
	KUNIT_CASE(mcache_global_map_error),
	KUNIT_CASE(mcache_duplicate_keys),
	KUNIT_CASE(mcache_purge_idle),
	KUNIT_CASE(mcache_destroy_unmaps_all),
	KUNIT_CASE(mcache_stats),
#if IS_ENABLED(CONFIG_KUNIT)
	KUNIT_CASE(mcache_global_cap),
	KUNIT_CASE(mcache_alloc_failure),
#endif
	{}
};

static struct kunit_suite mcache_suite = {
	.name = "pvblk_mcache",
	.init = mc_test_init,
	.test_cases = mcache_cases,
};

kunit_test_suite(mcache_suite);
