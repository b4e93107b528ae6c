// SPDX-License-Identifier: GPL-2.0
/*
 * pvblk_kunit: the KUnit suites of pvblk in one module.  Each *_test.c
 * registers its own suites; this file carries the module metadata.
 */
#include <linux/module.h>
#include <kunit/test.h>

MODULE_DESCRIPTION("KUnit tests for pvblk");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
