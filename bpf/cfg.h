/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Load-time settings (struct sl_dp_cfg in sluice_abi.h): .rodata, set by the
 * loader from `sluice run`'s flags before the programs load, so the JIT
 * sees constants. The defaults below are what a plain load gets.
 */
#ifndef SLUICE_BPF_CFG_H
#define SLUICE_BPF_CFG_H

#include <stdbool.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>

#include "sluice_abi.h"

const volatile struct sl_dp_cfg sl_cfg = {
    .l7_mark = SL_L7_FWMARK,
    .l7_mark_mask = SL_L7_FWMARK_MASK,
    /* the *_DEFAULT strings of sluice_abi.h */
    .l7_local4 = {bpf_htonl(0xa9fe5c01)},
    .l7_local6 = {bpf_htonl(0xfd5c5c5c), 0, 0, bpf_htonl(1)},
    .hairpin4 = {bpf_htonl(0xa9fe5c02)},
    .hairpin6 = {bpf_htonl(0xfd5c5c5c), 0, 0, bpf_htonl(2)},
    .flags = SL_DP_SRC_CHECK,
};

static __always_inline const volatile __be32 *sl_l7_local(__u8 family)
{
	return family == SL_AF_INET6 ? sl_cfg.l7_local6 : sl_cfg.l7_local4;
}

static __always_inline const volatile __be32 *sl_hairpin_addr(__u8 family)
{
	return family == SL_AF_INET6 ? sl_cfg.hairpin6 : sl_cfg.hairpin4;
}

/* Copy one of the addresses above out of .rodata. */
static __always_inline void sl_addr_from_cfg(__be32 dst[4], const volatile __be32 *src)
{
	dst[0] = src[0];
	dst[1] = src[1];
	dst[2] = src[2];
	dst[3] = src[3];
}

static __always_inline bool sl_addr_is(const __be32 a[4], const volatile __be32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

#endif /* SLUICE_BPF_CFG_H */
