/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few functions of librados' stable C API that pvblk-mon-cmd calls,
 * declared here so the tool builds against librados2 alone (a dependency
 * of Debian's fio), without librados-dev.  A cluster handle is librados'
 * rados_t, an opaque pointer.
 */
#ifndef PVBLK_TOOLS_RADOS_H
#define PVBLK_TOOLS_RADOS_H

#include <stddef.h>

int rados_create(void **cluster, const char *const id);
int rados_conf_read_file(void *cluster, const char *path);
int rados_conf_set(void *cluster, const char *option, const char *value);
int rados_connect(void *cluster);
void rados_shutdown(void *cluster);
int rados_mon_command(void *cluster, const char **cmd, size_t cmdlen,
		      const char *inbuf, size_t inbuflen, char **outbuf,
		      size_t *outbuflen, char **outs, size_t *outslen);
void rados_buffer_free(char *buf);

#endif
