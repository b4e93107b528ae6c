/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mapping cache of the Xen backend: persistent grants (mcache.c).
 * Keyed by grant reference, mapped and unmapped in batches through the
 * ring's grant operations.
 */
#ifndef _PVBLK_XEN_MCACHE_H
#define _PVBLK_XEN_MCACHE_H

#include <linux/kconfig.h>
#include <linux/list.h>
#include <linux/rbtree.h>
#include <linux/types.h>

struct page;
struct pvblk_mcache;

/**
 * struct pvblk_mentry - one cached mapping.
 * @key: the grant reference.
 * @page: filled by ops->map.
 * @handle: the grant handle, opaque to the cache.
 * @err: set by ops->map for this entry (0 on success).
 * The rest is the cache's.
 */
struct pvblk_mentry {
	u64 key;
	struct page *page;
	u64 handle;
	int err;

	/* cache-private */
	struct rb_node node;
	struct list_head lru;
	unsigned int users;
	unsigned long last_used;	/* jiffies */
	bool transient;			/* not cached: unmapped on put */
};

/**
 * struct pvblk_mcache_ops - batch mapping callbacks of the ring.
 * @map: map @n entries (each has @key set); set ->page and ->handle, or
 *	->err on failure, for each.  Return 0 or a global error.  Sleeps.
 * @unmap: unmap @n entries that were mapped.  Sleeps.
 */
struct pvblk_mcache_ops {
	int (*map)(void *priv, struct pvblk_mentry **ents, unsigned int n);
	void (*unmap)(void *priv, struct pvblk_mentry **ents, unsigned int n);
};

struct pvblk_mcache_stats {
	u64 hits;
	u64 misses;
	u64 evictions;
	u64 transient;		/* mapped but not cached (over a cap) */
	u64 map_errors;
	unsigned int entries;
	unsigned int in_use;
};

/*
 * A cache of at most @max_entries (0: the module default) mappings; a global
 * cap across all caches is a module parameter.  Over a cap the least recently
 * used idle entries are purged; if none is idle the new mapping is transient.
 */
struct pvblk_mcache *pvblk_mcache_create(const char *name,
					 const struct pvblk_mcache_ops *ops,
					 void *priv, unsigned int max_entries);
/* Unmap everything.  Entries still in use are a caller bug: WARN, unmap. */
void pvblk_mcache_destroy(struct pvblk_mcache *c);
/*
 * Look up @n keys, map every miss in one ops->map batch, take an in-use
 * reference on each and store them in @out.  On error nothing is held.
 */
int pvblk_mcache_get(struct pvblk_mcache *c, const u64 *keys, unsigned int n,
		     struct pvblk_mentry **out);
/* Drop in-use references; transient entries are unmapped in one batch. */
void pvblk_mcache_put(struct pvblk_mcache *c, struct pvblk_mentry **ents,
		      unsigned int n);
/* Unmap idle entries unused for @idle_ms (0: all idle); returns count. */
unsigned int pvblk_mcache_purge(struct pvblk_mcache *c, unsigned int idle_ms);
void pvblk_mcache_get_stats(struct pvblk_mcache *c,
			    struct pvblk_mcache_stats *out);

/* Internals that only the KUnit suite pvblk_mcache uses. */
#if IS_ENABLED(CONFIG_KUNIT)
/* Allocates one zeroed entry; a static stub lets tests make it fail. */
struct pvblk_mentry *pvblk_mcache_alloc_entry(struct pvblk_mcache *c,
					      u64 key);
/* Cached entries across all caches (the count the global cap limits). */
unsigned int pvblk_mcache_global_entries(void);
/* Set the global cap (module parameter mcache_max_global); returns the old. */
unsigned int pvblk_mcache_set_max_global(unsigned int max);
#endif

#endif /* _PVBLK_XEN_MCACHE_H */
