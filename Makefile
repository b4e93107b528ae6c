# SPDX-License-Identifier: GPL-2.0
#
# pvblk out-of-tree build and the project's entry points.
#   make            build pvblk.ko against Debian's headers (rig/versions.sh)
#   make tools      userspace: virtio-blk library, fio engine, vhost-user bridge
#   make lint       checkpatch --strict, sparse (C=2), W=1 -Werror
#   make check      every test (installs what is missing with apt-get)
#   make bench      the comparative benchmark
#   make fuzz       a long pvblk-fuzz run on the debug kernel:
#                   FUZZ_SECONDS (default 3600), FUZZ_SEED (default: random,
#                   printed), FUZZ_KMEMLEAK (seconds between scans, 600)
#   make fuzz-xen   a long run of the Xen fuzzer (tools/xen-hostile, scenario
#                   tests/xen/fuzz.sh): FUZZ_SECONDS, FUZZ_SEED as above,
#                   FUZZ_FROM / FUZZ_ROUNDS (replay rounds FROM.. only),
#                   FUZZ_XEN_KERNEL (dom0 kernel: stock, the default, or debug)
# The kernel build itself is Kbuild (also used in-tree as drivers/block/pvblk).

KVER ?= $(shell bash -c '. $(CURDIR)/rig/versions.sh; pvblk_kver')
KSRC ?= $(shell bash -c '. $(CURDIR)/rig/versions.sh; pvblk_ksrc_dir')
KDIR ?= /lib/modules/$(KVER)/build

PVBLK_CONFIG := CONFIG_PVBLK=m CONFIG_PVBLK_VHOST=y CONFIG_PVBLK_XEN=y
PVBLK_DEFS := -DCONFIG_PVBLK_MODULE=1 -DCONFIG_PVBLK_VHOST=1 -DCONFIG_PVBLK_XEN=1
KBUILD_ARGS = -C $(KDIR) M=$(CURDIR) $(PVBLK_CONFIG) \
	PVBLK_VHOST_INC=$(KSRC)/drivers/vhost

all: modules

versions-check:
	@test -d "$(KDIR)" || { echo "pvblk: no kernel headers at $(KDIR)." >&2; \
	  echo "pvblk: run 'make setup' (or apt-get install linux-headers-$(KVER))." >&2; exit 1; }
	@test -f "$(KSRC)/drivers/vhost/vhost.h" || { \
	  echo "pvblk: no linux-source tree at $(KSRC) (drivers/vhost/vhost.h is needed)." >&2; \
	  echo "pvblk: run 'make setup' (it unpacks linux-source-6.12 matching $(KVER))." >&2; exit 1; }
	@v=$$(sed -n 's/^VERSION = //p; s/^PATCHLEVEL = //p; s/^SUBLEVEL = //p' \
	  "$(KSRC)/Makefile" | paste -sd.); k=$(KVER); \
	  test "$${k%%+*}" = "$$v" || { \
	  echo "pvblk: linux-source is $$v but the headers are $(KVER): they must match." >&2; \
	  echo "pvblk: apt-get install linux-source-6.12 linux-headers-$${v}+deb12-amd64, then make setup." >&2; exit 1; }

modules: versions-check
	$(MAKE) $(KBUILD_ARGS) KCFLAGS="$(PVBLK_DEFS) $(KCFLAGS)" modules

tools:
	@if [ -f tools/Makefile ]; then $(MAKE) -C tools; else echo "no tools yet"; fi

setup:
	bash rig/setup.sh

lint: versions-check
	bash rig/lint.sh

check:
	bash rig/check.sh

bench:
	bash rig/setup.sh
	bash rig/bench.sh

FUZZ_SECONDS ?= 3600
ifndef FUZZ_SEED
FUZZ_SEED := $(shell od -An -N8 -tu8 /dev/urandom | tr -d ' ')
endif
FUZZ_KMEMLEAK ?= 600
fuzz:
	@echo "make fuzz: seed $(FUZZ_SEED), $(FUZZ_SECONDS) s (replay: make fuzz FUZZ_SEED=$(FUZZ_SEED))"
	$(MAKE) -C tools lib fuzz
	PVBLK_APPEND="pvblk_fuzz.seconds=$(FUZZ_SECONDS) pvblk_fuzz.seed=$(FUZZ_SEED) pvblk_fuzz.kmemleak=$(FUZZ_KMEMLEAK)" \
	  bash rig/vm-run.sh --kernel debug --timeout $$(( $(FUZZ_SECONDS) + 900 )) tests/vm/vhost-fuzz.test

# The Xen fuzzer: the seed and duration reach the guest through the rig.
FUZZ_FROM ?= 0
FUZZ_ROUNDS ?= 0
FUZZ_XEN_KERNEL ?= stock
fuzz-xen:
	@echo "make fuzz-xen: seed $(FUZZ_SEED), $(FUZZ_SECONDS) s, dom0 $(FUZZ_XEN_KERNEL) (replay: make fuzz-xen FUZZ_SEED=$(FUZZ_SEED) FUZZ_SECONDS=$(FUZZ_SECONDS))"
	$(if $(filter stock,$(FUZZ_XEN_KERNEL)),$(MAKE) modules)
	$(MAKE) -C tools/xen-hostile
	PVBLK_XEN_TIMEOUT=$$(( $(FUZZ_SECONDS) + 600 )) \
	PVBLK_XEN_ENV="DOMU_FUZZ_SEED=$(FUZZ_SEED) DOMU_FUZZ_SECONDS=$(FUZZ_SECONDS) DOMU_FUZZ_FROM=$(FUZZ_FROM) DOMU_FUZZ_ROUNDS=$(FUZZ_ROUNDS) $(PVBLK_XEN_ENV)" \
	  bash rig/xen-run.sh --kernel $(FUZZ_XEN_KERNEL) fuzz

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	@if [ -f tools/Makefile ]; then $(MAKE) -C tools clean; fi

.PHONY: all modules tools setup lint check bench fuzz fuzz-xen clean versions-check
