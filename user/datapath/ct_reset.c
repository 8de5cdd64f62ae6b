// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Marking a subset's connections for reset (ct_reset.h). The flag is
 * written with the whole entry: a packet that stamps last_seen or closes
 * the connection on another CPU between our read and write loses that
 * stamp; the connection is about to be reset, and a lost CLOSED is set
 * again by the reset itself.
 */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "datapath/ct_reset.h"

int sl_subset_id_of(const struct sl_maps *m, const char *service, const char *subset, uint32_t *id)
{
	__u32 max = sl_map_max_entries(m->subset_names), i;
	struct sl_subset_name sn;

	if (!max)
		return -errno;
	for (i = 0; i < max; i++) {
		if (bpf_map_lookup_elem(m->subset_names, &i, &sn) || sn.in_use != SL_ID_IN_USE)
			continue;
		if (!strncmp(sn.service, service, sizeof(sn.service)) &&
		    !strncmp(sn.subset, subset, sizeof(sn.subset))) {
			*id = i;
			return 0;
		}
	}
	return -ENOENT;
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
