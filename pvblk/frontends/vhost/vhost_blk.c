// SPDX-License-Identifier: GPL-2.0
/* Placeholder until the real code lands. */
#include <pvblk/modinit.h>

int pvblk_vhost_init(void)
{
	return 0;
}

void pvblk_vhost_exit(void)
{
}
