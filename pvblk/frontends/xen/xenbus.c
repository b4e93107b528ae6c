// SPDX-License-Identifier: GPL-2.0
/* Placeholder until the real code lands. */
#include <pvblk/modinit.h>

int pvblk_xen_init(void)
{
	return 0;
}

void pvblk_xen_exit(void)
{
}
