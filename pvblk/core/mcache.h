/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals of the mapping cache (core/mcache.c) that only the KUnit suite
 * pvblk_mcache uses.  They are static without CONFIG_KUNIT.
 */
#ifndef _PVBLK_CORE_MCACHE_H
#define _PVBLK_CORE_MCACHE_H

#include <linux/kconfig.h>
#include <linux/types.h>

struct pvblk_mcache;
struct pvblk_mentry;

#if IS_ENABLED(CONFIG_KUNIT)
/* Allocates one zeroed entry; a static stub lets tests make it fail. */
struct pvblk_mentry *pvblk_mcache_alloc_entry(struct pvblk_mcache *c,
					      u64 key);
/* Cached entries across all caches (the count the global cap limits). */
unsigned int pvblk_mcache_global_entries(void);
/* Set the global cap (module parameter mcache_max_global); returns the old. */
unsigned int pvblk_mcache_set_max_global(unsigned int max);
#endif

#endif /* _PVBLK_CORE_MCACHE_H */
