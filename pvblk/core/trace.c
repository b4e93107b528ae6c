// SPDX-License-Identifier: GPL-2.0
/*
 * The one place the tracepoints of <trace/events/pvblk.h> are created.
 * Their TP_fast_assign() bodies read the core's private structures, so
 * internal.h comes first.
 */
#include "internal.h"

#define CREATE_TRACE_POINTS
#include <trace/events/pvblk.h>
