// SPDX-License-Identifier: GPL-2.0
/* Placeholder until the real code lands. */
#include <pvblk/modinit.h>

int pvblk_core_init(void)
{
	return 0;
}

void pvblk_core_exit(void)
{
}
