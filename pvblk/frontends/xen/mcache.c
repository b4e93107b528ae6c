// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk-xen mapping cache: persistent grants.
 *
 * Grants are mapped through batch callbacks (gnttab_map_refs()) that are
 * too expensive to repeat for every request (each unmap is a TLB
 * shootdown).  The cache keeps mappings around, keyed by grant reference,
 * and hands out in-use references to them.  The idea is the
 * one of xen-blkback's persistent grants: a bounded cache, the least
 * recently used idle mappings purged when it is full, and new mappings
 * that do not fit made transient (unmapped as soon as the last user drops
 * them) rather than failing the request.
 *
 * Entry states:
 *  - cached, in use:	in @root, users > 0, not on @lru
 *  - cached, idle:	in @root, users == 0, on @lru (tail = most recent)
 *  - transient:	in @root while users > 0 (so a second get() of the same
 *			key shares it), never on @lru, unmapped by the put()
 *			that drops the last user.
 *
 * Mapping errors follow the XSA-365 lesson: when ops->map fails for any
 * element of a batch, every other element that it did map is unmapped again
 * and every reference the failed get() took on existing entries is dropped;
 * the caller holds nothing afterwards.
 *
 * ops->map contract as the cache reads it: with a 0 return an entry is mapped
 * iff its ->err is 0.  With a global (non-zero) return an entry counts as
 * mapped only if ->err is 0 and ->page was set; those are unmapped again.
 */
#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#include <trace/events/pvblk.h>

#include "mcache.h"

static unsigned int mcache_max_per_dev = 1056;
module_param(mcache_max_per_dev, uint, 0644);
MODULE_PARM_DESC(mcache_max_per_dev,
		 "Default cap of cached mappings per cache (0: cache nothing)");

static unsigned int mcache_max_global = 32768;
module_param(mcache_max_global, uint, 0644);
MODULE_PARM_DESC(mcache_max_global,
		 "Cap of cached mappings across all caches");

/* Cached (not transient) entries of all caches; limited by mcache_max_global. */
static atomic_t mcache_global_nr = ATOMIC_INIT(0);

/* Entries batched on the stack before falling back to an allocation. */
#define MCACHE_STACK_BATCH	16

/**
 * struct pvblk_mcache - a bounded cache of mappings.
 * @lock: protects every field below except the constant ones, and the
 *	cache-private fields (node, lru, users, last_used, transient) of every
 *	entry in @root.  A mutex: ops->map and ops->unmap sleep.
 * @root: all mapped entries with a user or cached, keyed by ->key.
 * @lru: idle cached entries, least recently used first.
 * @nr_entries: cached entries (idle + in use); at most @max_entries.
 * @nr_in_use: entries with users, transient ones included.
 * @max_entries: per-cache cap (constant).
 * @ops: transport callbacks (constant).
 * @priv: passed to @ops (constant).
 * @hits: counter, see pvblk_mcache_get_stats().
 * @misses: counter.
 * @evictions: counter.
 * @transient: counter.
 * @map_errors: counter.
 * @name: for messages (constant).
 *
 * Locking: ops->map is called with @lock held (so a map callback must not
 * call back into the same cache); ops->unmap is called without it, for
 * entries already taken out of @root that nobody else can reach.  The
 * global count mcache_global_nr is atomic and shared by all caches.
 *
 * References: get() gives its caller one user per returned slot; put()
 * gives it back.  Only idle entries are ever evicted.
 */
struct pvblk_mcache {
	struct mutex lock;		/* see above */
	struct rb_root root;
	struct list_head lru;
	unsigned int nr_entries;
	unsigned int nr_in_use;
	unsigned int max_entries;
	const struct pvblk_mcache_ops *ops;
	void *priv;
	u64 hits;
	u64 misses;
	u64 evictions;
	u64 transient;
	u64 map_errors;
	char name[32];
};

/**
 * pvblk_mcache_alloc_entry() - allocate one zeroed entry.
 * @c: the cache the entry is for.
 * @key: the key it will carry (the caller stores it).
 *
 * A separate function so that KUnit tests can make it fail.
 *
 * Return: the entry (freed with kfree()), or NULL.
 */
VISIBLE_IF_KUNIT struct pvblk_mentry *
pvblk_mcache_alloc_entry(struct pvblk_mcache *c, u64 key)
{
	KUNIT_STATIC_STUB_REDIRECT(pvblk_mcache_alloc_entry, c, key);

	return kzalloc(sizeof(struct pvblk_mentry), GFP_KERNEL);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_mcache_alloc_entry);

#if IS_ENABLED(CONFIG_KUNIT)
/* Test-only helpers: the global count and cap are shared by all caches. */
unsigned int pvblk_mcache_global_entries(void)
{
	return atomic_read(&mcache_global_nr);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_mcache_global_entries);

unsigned int pvblk_mcache_set_max_global(unsigned int max)
{
	return xchg(&mcache_max_global, max);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_mcache_set_max_global);
#endif

static int mcache_key_cmp(const void *key, const struct rb_node *node)
{
	const struct pvblk_mentry *e = rb_entry(node, struct pvblk_mentry, node);
	u64 k = *(const u64 *)key;

	if (k < e->key)
		return -1;
	if (k > e->key)
		return 1;
	return 0;
}

static bool mcache_less(struct rb_node *a, const struct rb_node *b)
{
	return rb_entry(a, struct pvblk_mentry, node)->key <
	       rb_entry(b, struct pvblk_mentry, node)->key;
}

static struct pvblk_mentry *mcache_lookup(struct pvblk_mcache *c, u64 key)
{
	struct rb_node *node = rb_find(&key, &c->root, mcache_key_cmp);

	return node ? rb_entry(node, struct pvblk_mentry, node) : NULL;
}

/* Take one slot of the global cap, unless it is full. */
static bool mcache_global_reserve(void)
{
	unsigned int max = READ_ONCE(mcache_max_global);
	int old = atomic_read(&mcache_global_nr);

	do {
		if ((unsigned int)old >= max)
			return false;
	} while (!atomic_try_cmpxchg(&mcache_global_nr, &old, old + 1));
	return true;
}

/* Take @e out of the tree; a cached entry gives back its slots. */
static void mcache_unlink(struct pvblk_mcache *c, struct pvblk_mentry *e)
{
	lockdep_assert_held(&c->lock);
	rb_erase(&e->node, &c->root);
	RB_CLEAR_NODE(&e->node);
	if (!e->transient) {
		c->nr_entries--;
		atomic_dec(&mcache_global_nr);
	}
}

/* Move the least recently used idle entry to @dead; false if none. */
static bool mcache_evict_one(struct pvblk_mcache *c, struct list_head *dead)
{
	struct pvblk_mentry *e;

	e = list_first_entry_or_null(&c->lru, struct pvblk_mentry, lru);
	if (!e)
		return false;
	list_move_tail(&e->lru, dead);
	mcache_unlink(c, e);
	c->evictions++;
	return true;
}

/*
 * Make room for one more cached entry under both caps, evicting idle
 * entries of this cache (to @dead) as needed.  On success the entry's global
 * slot is taken and the caller counts it in nr_entries; false means every
 * entry is in use (or the caps are 0): the new mapping must be transient.
 */
static bool mcache_make_room(struct pvblk_mcache *c, struct list_head *dead)
{
	while (c->nr_entries >= c->max_entries)
		if (!mcache_evict_one(c, dead))
			return false;
	while (!mcache_global_reserve())
		if (!mcache_evict_one(c, dead))
			return false;
	return true;
}

/* The last user of @e is gone. */
static void mcache_idle(struct pvblk_mcache *c, struct pvblk_mentry *e,
			struct list_head *dead)
{
	lockdep_assert_held(&c->lock);
	c->nr_in_use--;
	if (e->transient) {
		mcache_unlink(c, e);
		list_add_tail(&e->lru, dead);
		return;
	}
	e->last_used = jiffies;
	list_add_tail(&e->lru, &c->lru);
}

/*
 * Unmap the entries on @list (linked through ->lru, out of the tree) in as
 * few ops->unmap calls as possible, then free them.  Called without the
 * lock; cannot fail: without memory for one array it unmaps in chunks.
 */
static void mcache_unmap_free(struct pvblk_mcache *c, struct list_head *list)
{
	struct pvblk_mentry *stack[MCACHE_STACK_BATCH];
	struct pvblk_mentry **batch = stack;
	struct pvblk_mentry *e, *tmp;
	unsigned int nr = list_count_nodes(list);
	unsigned int cap = ARRAY_SIZE(stack);
	unsigned int i = 0;

	if (!nr)
		return;
	if (nr > cap) {
		batch = kmalloc_array(nr, sizeof(*batch),
				      GFP_KERNEL | __GFP_NOWARN);
		if (batch)
			cap = nr;
		else
			batch = stack;
	}
	list_for_each_entry(e, list, lru) {
		batch[i++] = e;
		if (i == cap) {
			c->ops->unmap(c->priv, batch, i);
			i = 0;
		}
	}
	if (i)
		c->ops->unmap(c->priv, batch, i);
	list_for_each_entry_safe(e, tmp, list, lru)
		kfree(e);
	INIT_LIST_HEAD(list);
	if (batch != stack)
		kfree(batch);
}

/* Did ops->map (returning @ret) map @e?  See the contract at the top. */
static bool mcache_mapped(const struct pvblk_mentry *e, int ret)
{
	return !e->err && (!ret || e->page);
}

/**
 * pvblk_mcache_create() - create a mapping cache.
 * @name: for messages (copied, truncated to 31 characters).
 * @ops: map/unmap callbacks, both required; must outlive the cache.
 * @priv: passed to @ops.
 * @max_entries: cap of cached mappings; 0 takes the module parameter
 *	mcache_max_per_dev (which may itself be 0: nothing is cached then).
 *
 * Return: the cache, or ERR_PTR(-EINVAL / -ENOMEM).
 */
struct pvblk_mcache *pvblk_mcache_create(const char *name,
					 const struct pvblk_mcache_ops *ops,
					 void *priv, unsigned int max_entries)
{
	struct pvblk_mcache *c;

	if (!ops || !ops->map || !ops->unmap)
		return ERR_PTR(-EINVAL);
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return ERR_PTR(-ENOMEM);
	mutex_init(&c->lock);
	c->root = RB_ROOT;
	INIT_LIST_HEAD(&c->lru);
	c->max_entries = max_entries ?: READ_ONCE(mcache_max_per_dev);
	c->ops = ops;
	c->priv = priv;
	strscpy(c->name, name ?: "", sizeof(c->name));
	return c;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_mcache_create);

/**
 * pvblk_mcache_destroy() - unmap every entry and free the cache.
 * @c: the cache (NULL or an ERR_PTR is ignored).
 *
 * Entries still in use are a caller bug: they are reported once and
 * unmapped anyway.
 */
void pvblk_mcache_destroy(struct pvblk_mcache *c)
{
	struct pvblk_mentry *e;
	struct rb_node *node;
	LIST_HEAD(dead);

	if (IS_ERR_OR_NULL(c))
		return;
	mutex_lock(&c->lock);
	WARN_ONCE(c->nr_in_use,
		  "pvblk: mapping cache %s destroyed with %u entries in use\n",
		  c->name, c->nr_in_use);
	while ((node = rb_first(&c->root))) {
		e = rb_entry(node, struct pvblk_mentry, node);
		/* idle: off the LRU; in use: ->lru is empty already */
		list_del_init(&e->lru);
		mcache_unlink(c, e);
		list_add_tail(&e->lru, &dead);
	}
	mutex_unlock(&c->lock);
	mcache_unmap_free(c, &dead);
	mutex_destroy(&c->lock);
	kfree(c);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_mcache_destroy);

/*
 * Undo a get() that failed after taking @done references into @out.  Fresh
 * entries (created by this get(), on @fresh) leave the tree: those ops->map
 * mapped go to @dead, the rest are freed.  References on entries that
 * existed before are dropped as put() would.
 */
static void mcache_get_unwind(struct pvblk_mcache *c, struct pvblk_mentry **out,
			      unsigned int done, struct list_head *fresh,
			      bool map_called, int map_ret,
			      struct list_head *dead)
{
	struct pvblk_mentry *e, *tmp;
	unsigned int i;

	/* Fresh entries have no user but this get(): mark them with 0. */
	list_for_each_entry(e, fresh, lru)
		e->users = 0;
	for (i = 0; i < done; i++) {
		e = out[i];
		if (!e->users || --e->users)
			continue;
		mcache_idle(c, e, dead);
	}
	list_for_each_entry_safe(e, tmp, fresh, lru) {
		c->nr_in_use--;
		mcache_unlink(c, e);
		if (map_called && mcache_mapped(e, map_ret)) {
			list_move_tail(&e->lru, dead);
		} else {
			list_del(&e->lru);
			kfree(e);
		}
	}
}

/**
 * pvblk_mcache_get() - map @n keys and take a reference on each.
 * @c: the cache.
 * @keys: the keys; the same key may appear more than once (one entry, one
 *	reference per occurrence).
 * @n: number of keys (0 does nothing).
 * @out: filled with the entry of each key, in order.
 *
 * Every key not in the cache is mapped in a single ops->map call.  New
 * mappings are cached if both caps allow, after evicting least recently
 * used idle entries if needed; otherwise they are transient.  Sleeps.
 *
 * Return: 0, -ENOMEM, ops->map's global error, or the first failed entry's
 * ->err (-EIO if that is not a negative errno).  On error nothing is held
 * and @out is cleared.
 */
int pvblk_mcache_get(struct pvblk_mcache *c, const u64 *keys, unsigned int n,
		     struct pvblk_mentry **out)
{
	struct pvblk_mentry *stack[MCACHE_STACK_BATCH];
	struct pvblk_mentry **batch = stack;
	struct pvblk_mentry *e, *tmp;
	unsigned int i, done = 0, nr_fresh = 0, nr_transient = 0, bad = 0;
	u64 evictions;
	bool map_called = false;
	LIST_HEAD(fresh);
	LIST_HEAD(dead);
	int ret = 0;

	if (!n)
		return 0;

	mutex_lock(&c->lock);
	evictions = c->evictions;
	for (i = 0; i < n; i++, done++) {
		e = mcache_lookup(c, keys[i]);
		if (e) {
			/* idle (on the LRU) or in use (fresh, transient) */
			if (!e->users++) {
				list_del_init(&e->lru);
				c->nr_in_use++;
			}
			out[i] = e;
			continue;
		}
		e = pvblk_mcache_alloc_entry(c, keys[i]);
		if (!e) {
			ret = -ENOMEM;
			goto unwind;
		}
		e->key = keys[i];
		e->transient = !mcache_make_room(c, &dead);
		if (e->transient)
			nr_transient++;
		else
			c->nr_entries++;
		e->users = 1;
		c->nr_in_use++;
		rb_add(&e->node, &c->root, mcache_less);
		list_add_tail(&e->lru, &fresh);
		nr_fresh++;
		out[i] = e;
	}

	if (nr_fresh) {
		if (nr_fresh > ARRAY_SIZE(stack)) {
			batch = kmalloc_array(nr_fresh, sizeof(*batch),
					      GFP_KERNEL);
			if (!batch) {
				batch = stack;
				ret = -ENOMEM;
				goto unwind;
			}
		}
		i = 0;
		list_for_each_entry(e, &fresh, lru)
			batch[i++] = e;
		ret = c->ops->map(c->priv, batch, nr_fresh);
		map_called = true;
		list_for_each_entry(e, &fresh, lru) {
			if (mcache_mapped(e, ret))
				continue;
			if (!bad++ && !ret)
				ret = e->err < 0 && e->err >= -MAX_ERRNO ?
				      e->err : -EIO;
		}
		if (ret) {
			c->map_errors += bad ?: 1;
			goto unwind;
		}
	}

	/* Success: the fresh entries are plain in-use entries now. */
	list_for_each_entry_safe(e, tmp, &fresh, lru)
		list_del_init(&e->lru);
	c->hits += n - nr_fresh;
	c->misses += nr_fresh;
	c->transient += nr_transient;
	goto out_unlock;

unwind:
	mcache_get_unwind(c, out, done, &fresh, map_called, ret, &dead);
	memset(out, 0, n * sizeof(*out));
out_unlock:
	evictions = c->evictions - evictions;
	mutex_unlock(&c->lock);
	if (batch != stack)
		kfree(batch);
	if (evictions)
		trace_pvblk_xen_pgrant_evict(c->name, evictions, false);
	mcache_unmap_free(c, &dead);
	return ret;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_mcache_get);

/**
 * pvblk_mcache_put() - drop the references get() gave.
 * @c: the cache.
 * @ents: entries (NULL slots are skipped); an entry may appear repeatedly.
 * @n: number of slots.
 *
 * Idle cached entries go to the LRU tail, stamped with jiffies; transient
 * entries whose last user left are unmapped in one batch.  Sleeps.
 */
void pvblk_mcache_put(struct pvblk_mcache *c, struct pvblk_mentry **ents,
		      unsigned int n)
{
	struct pvblk_mentry *e;
	LIST_HEAD(dead);
	unsigned int i;

	mutex_lock(&c->lock);
	for (i = 0; i < n; i++) {
		e = ents[i];
		if (!e)
			continue;
		if (WARN_ON_ONCE(!e->users))
			continue;
		if (!--e->users)
			mcache_idle(c, e, &dead);
	}
	mutex_unlock(&c->lock);
	mcache_unmap_free(c, &dead);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_mcache_put);

/**
 * pvblk_mcache_purge() - unmap entries idle for a while.
 * @c: the cache.
 * @idle_ms: unmap idle entries last used at least this long ago (0: every
 *	idle entry).
 *
 * For a transport's periodic work.  Entries in use are never touched.
 * Sleeps.
 *
 * Return: the number of entries unmapped.
 */
unsigned int pvblk_mcache_purge(struct pvblk_mcache *c, unsigned int idle_ms)
{
	unsigned long idle = msecs_to_jiffies(idle_ms);
	struct pvblk_mentry *e, *tmp;
	unsigned int nr = 0;
	unsigned long now;
	LIST_HEAD(dead);

	mutex_lock(&c->lock);
	now = jiffies;
	/* Not assuming LRU order is time order: the whole list is scanned. */
	list_for_each_entry_safe(e, tmp, &c->lru, lru) {
		if (now - e->last_used < idle)
			continue;
		list_move_tail(&e->lru, &dead);
		mcache_unlink(c, e);
		nr++;
	}
	mutex_unlock(&c->lock);
	if (nr)
		trace_pvblk_xen_pgrant_evict(c->name, nr, true);
	mcache_unmap_free(c, &dead);
	return nr;
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_mcache_purge);

/**
 * pvblk_mcache_get_stats() - a consistent snapshot of the counters.
 * @c: the cache.
 * @out: filled in.
 *
 * hits: keys found mapped (a repeated key within one get() included);
 * misses: keys that had to be mapped (successful get() calls only);
 * evictions: idle entries unmapped to respect a cap (not purge());
 * transient: new mappings that could not be cached;
 * map_errors: entries ops->map failed to map (1 for a global error that
 * left no entry marked).  Sleeps.
 */
void pvblk_mcache_get_stats(struct pvblk_mcache *c,
			    struct pvblk_mcache_stats *out)
{
	mutex_lock(&c->lock);
	out->hits = c->hits;
	out->misses = c->misses;
	out->evictions = c->evictions;
	out->transient = c->transient;
	out->map_errors = c->map_errors;
	out->entries = c->nr_entries;
	out->in_use = c->nr_in_use;
	mutex_unlock(&c->lock);
}
EXPORT_SYMBOL_IF_KUNIT(pvblk_mcache_get_stats);
