// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "lib/log.h"
#include "lib/private_dir.h"

int sl_private_dir(const char *dir)
{
	char tmp[PATH_MAX], *p;
	struct stat st;

	if (snprintf(tmp, sizeof(tmp), "%s", dir) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	/*
	 * Someone else's directory (a hostPath the kubelet made 0755, a
	 * leftover of an older version) may be there already. lstat: a
	 * symlink planted in its place is not followed.
	 */
	if (lstat(tmp, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid != geteuid())
		return -EPERM;
	/* sticky (/tmp, the root of a bpffs): shared on purpose, not ours to narrow */
	if (!(st.st_mode & 077) || (st.st_mode & S_ISVTX))
		return 0;
	if (chmod(tmp, 0700))
		return -errno;
	pr_info("%s was mode %04o: now 0700\n", tmp, st.st_mode & 07777);
	return 0;
}
