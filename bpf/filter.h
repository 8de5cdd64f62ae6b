/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * "Is this possibly service traffic?" in one array read: most packets on a
 * client's interface are not, and should not pay for hash-map lookups.
 */
#ifndef SLUICE_BPF_FILTER_H
#define SLUICE_BPF_FILTER_H

#include "hash.h"
#include "maps.h"

static __always_inline bool sl_filter_maybe(void *filter, const __be32 addr[4], __be16 port,
					    __u8 proto)
{
	__u32 bit = sl_filter_bit(addr, port, proto), word = bit >> 6;
	__u64 *w = bpf_map_lookup_elem(filter, &word);

	return w && (*w & (1ULL << (bit & 63)));
}

#endif /* SLUICE_BPF_FILTER_H */
