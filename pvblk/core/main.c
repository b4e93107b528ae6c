// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk module entry: the core first, then the frontends.
 */
#include <linux/module.h>
#include <pvblk/modinit.h>

static int __init pvblk_init(void)
{
	int ret;

	ret = pvblk_core_init();
	if (ret)
		return ret;
	ret = pvblk_vhost_init();
	if (ret)
		goto err_core;
	ret = pvblk_xen_init();
	if (ret)
		goto err_vhost;
	return 0;

err_vhost:
	pvblk_vhost_exit();
err_core:
	pvblk_core_exit();
	return ret;
}

static void __exit pvblk_exit(void)
{
	pvblk_xen_exit();
	pvblk_vhost_exit();
	pvblk_core_exit();
}

module_init(pvblk_init);
module_exit(pvblk_exit);

MODULE_DESCRIPTION("pvblk: paravirtual block backend for vhost and Xen guests");
MODULE_LICENSE("GPL");
