// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Marking a subset's connections for reset (ct_reset.h). The flag is
 * written with the whole entry: a packet that stamps last_seen or closes
 * the connection on another CPU between our read and write loses that
 * stamp; the connection is about to be reset, and a lost CLOSED is set
 * again by the reset itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <bpf/bpf.h>

#include "datapath/ct_reset.h"

static int find_name(const struct sl_subset_name *rows, __u32 n, const __u32 *keys,
		     const char *service, const char *subset, uint32_t *id)
{
	__u32 i;

	for (i = 0; i < n; i++) {
		if (rows[i].in_use == SL_ID_IN_USE &&
		    !strncmp(rows[i].service, service, sizeof(rows[i].service)) &&
		    !strncmp(rows[i].subset, subset, sizeof(rows[i].subset))) {
			*id = keys ? keys[i] : i;
			return 0;
		}
	}
	return -ENOENT;
}

/* Name rows per read of a map that cannot be mapped: 104 KiB, 64 reads for the largest. */
#define NAMES_PER_READ 1024

/* A map pinned by an older sluice is not mmapable: batch reads then. */
static int subset_id_read(int fd, const char *service, const char *subset, uint32_t *id)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 keys[NAMES_PER_READ], pos, next, count;
	struct sl_subset_name *rows;
	void *start = NULL;
	int err = -ENOENT, ret;

	rows = calloc(NAMES_PER_READ, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	/* ENOENT ends the walk, with the last rows */
	do {
		count = NAMES_PER_READ;
		ret = bpf_map_lookup_batch(fd, start, &next, keys, rows, &count, &opts);
		if (ret && errno != ENOENT) {
			err = -errno;
			break;
		}
		err = find_name(rows, count, keys, service, subset, id);
		pos = next;
		start = &pos;
	} while (!ret && err == -ENOENT);
	free(rows);
	return err;
}

/*
 * The rows are read where they lie (the map is mmapable, as ids.c reads
 * it), not one syscall each: an abort with reset at 65,536 rows took 72 ms
 * of lookups.
 */
int sl_subset_id_of(const struct sl_maps *m, const char *service, const char *subset, uint32_t *id)
{
	__u32 max = sl_map_max_entries(m->subset_names);
	long pg = sysconf(_SC_PAGESIZE);
	struct sl_subset_name *rows;
	size_t len;
	int err;

	if (!max)
		return -errno;
	len = ((size_t)max * sizeof(*rows) + pg - 1) / pg * pg;
	rows = mmap(NULL, len, PROT_READ, MAP_SHARED, m->subset_names, 0);
	if (rows == MAP_FAILED)
		return subset_id_read(m->subset_names, service, subset, id);
	err = find_name(rows, max, NULL, service, subset, id);
	munmap(rows, len);
	return err;
}

static int mark_map(int fd, uint32_t id, uint64_t *n)
{
	__u32 max = sl_map_max_entries(fd);
	struct sl_ct_key k, next;
	struct sl_ct_entry e;
	uint64_t steps = 0;
	void *prev = NULL;

	if (!max)
		return -errno;
	/*
	 * A key deleted under us (the reclaimer, LRU eviction) restarts the
	 * walk from the first key: bounded, and marking twice is harmless.
	 */
	while (steps++ < 4ULL * max + 16 && !bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.proto != 6 /* TCP */ || bpf_map_lookup_elem(fd, &k, &e))
			continue;
		if (e.subset_id != id || (e.flags & (SL_CT_CLOSED | SL_CT_ABORT_RESET)))
			continue;
		e.flags |= SL_CT_ABORT_RESET;
		if (!bpf_map_update_elem(fd, &k, &e, BPF_EXIST))
			(*n)++;
	}
	return 0;
}

int sl_ct_mark_reset(const struct sl_maps *m, uint32_t id, uint64_t *n)
{
	int err;

	*n = 0;
	err = mark_map(m->conntrack, id, n);
	return err ?: mark_map(m->ct_new, id, n);
}
