/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Module init/exit hooks of the parts of pvblk.ko.  core/main.c calls them
 * in this order on load (core, vhost, xen) and in reverse on unload.
 */
#ifndef _PVBLK_MODINIT_H
#define _PVBLK_MODINIT_H

#include <linux/kconfig.h>

int pvblk_core_init(void);
void pvblk_core_exit(void);

#if IS_ENABLED(CONFIG_PVBLK_VHOST)
int pvblk_vhost_init(void);
void pvblk_vhost_exit(void);
#else
static inline int pvblk_vhost_init(void) { return 0; }
static inline void pvblk_vhost_exit(void) { }
#endif

#if IS_ENABLED(CONFIG_PVBLK_XEN)
int pvblk_xen_init(void);
void pvblk_xen_exit(void);
#else
static inline int pvblk_xen_init(void) { return 0; }
static inline void pvblk_xen_exit(void) { }
#endif

#endif /* _PVBLK_MODINIT_H */
