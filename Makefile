# SPDX-License-Identifier: GPL-2.0
# Out-of-tree build of pvblk.ko against Debian's headers (see rig/versions.sh).
KVER ?= 6.12.117+deb12-amd64
PVBLK_CACHE ?= $(HOME)/.cache/pvblk
KDIR ?= /lib/modules/$(KVER)/build
KSRC ?= $(PVBLK_CACHE)/linux-source-6.12.117

PVBLK_CONFIG := CONFIG_PVBLK=m CONFIG_PVBLK_VHOST=y CONFIG_PVBLK_XEN=y
PVBLK_DEFS := -DCONFIG_PVBLK_MODULE=1 -DCONFIG_PVBLK_VHOST=1 -DCONFIG_PVBLK_XEN=1

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(PVBLK_CONFIG) \
		PVBLK_VHOST_INC=$(KSRC)/drivers/vhost \
		KCFLAGS="$(PVBLK_DEFS) $(KCFLAGS)" modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean

.PHONY: all modules clean
